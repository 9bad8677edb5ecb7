//! Sessions and refresh-token families on SQLite. Every write runs in a `BEGIN IMMEDIATE`
//! transaction, so concurrent rotations of one token take turns and the second one sees the first
//! one's blacklist row.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, FromRow, Row, Sqlite, Transaction};

use super::{SqliteStore, blacklist_in, record_in, revoke_in};
use crate::store::mfa_sql::ACTIVE_FACTORS;
use crate::store::models::{
    IssuedToken, NewSession, PasswordLogin, RefreshOutcome, RefreshRotation, Revocation, RotationState, TokenRecord,
    TokenStatus, User,
};
use crate::store::throttle::CLEAR_TWO;
use crate::store::{StoreError, now, user_columns};

/// What a batch of `rotations` refresh rotations decides on, in one statement: for the rotation
/// `n` of `r` (bound in order: its token's jti, then its user, NULL naming nobody), whether its
/// token is blacklisted, the session the token's row names and whether that session is open (not
/// revoked), and the user. One row per rotation, in order, whatever exists: an unrecorded token
/// reads as one with no session, a missing user as NULL columns.
fn rotation_inputs_sql(rotations: usize) -> String {
    let mut sql = String::from("WITH r (n, jti, user_id) AS (VALUES ");
    for n in 0..rotations {
        let separator = if n == 0 { "" } else { ", " };
        let _ = write!(sql, "{separator}({n}, ?, ?)");
    }
    sql.push_str(concat!(
        "), st AS (SELECT r.n, b.id IS NOT NULL AS blacklisted, o.session_id, \
                          EXISTS (SELECT 1 FROM sessions s WHERE s.id = o.session_id AND s.revoked_at IS NULL) \
                              AS session_open \
                   FROM r JOIN outstanding_tokens o ON o.jti = r.jti \
                   LEFT JOIN blacklisted_tokens b ON b.token_id = o.id), \
         u AS (SELECT r.n AS user_of, ",
        user_columns!(),
        " FROM r JOIN users ON users.id = r.user_id) \
         SELECT st.blacklisted, st.session_id, st.session_open, u.* \
         FROM r LEFT JOIN st ON st.n = r.n LEFT JOIN u ON u.user_of = r.n ORDER BY r.n"
    ));
    sql
}

/// The rotations of `rotations` recorded, unblacklisted tokens in their open sessions, once
/// [`rotation_inputs_sql`] found them so under the write lock: the sessions touched, the tokens
/// blacklisted, the children recorded (as `record` in `store::sql::tokens` records them). Three
/// statements in one call to the connection's thread, whatever the number of rotations. Their
/// parameters are anonymous, taken in order across the statements ([`rotate_recorded`] binds
/// them): sqlx 0.9 counts each number a statement skips as an anonymous parameter, and once those
/// outnumber the arguments it leaves the statement's later parameters unbound (NULL).
fn rotate_recorded_sql(rotations: usize) -> String {
    let list = |each: &str| vec![each; rotations].join(", ");
    format!(
        "UPDATE sessions SET last_used_at = ?, expires_at = CASE id{} END WHERE id IN ({}); \
         INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
             SELECT id, ? FROM outstanding_tokens WHERE jti IN ({}) ON CONFLICT (token_id) DO NOTHING; \
         INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti) \
             VALUES {} ON CONFLICT (jti) DO NOTHING",
        " WHEN ? THEN ?".repeat(rotations),
        list("?"),
        list("?"),
        list("(?, ?, ?, ?, ?, ?)"),
    )
}

/// A row of [`rotation_inputs_sql`].
struct RotationInputs {
    blacklisted: bool,
    session_id: Option<String>,
    session_open: bool,
    user: Option<User>,
}

impl RotationInputs {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        let user_id: Option<i64> = row.try_get("id")?;
        Ok(Self {
            blacklisted: row.try_get::<Option<bool>, _>("blacklisted")?.unwrap_or(false),
            session_id: row.try_get("session_id")?,
            session_open: row.try_get::<Option<bool>, _>("session_open")?.unwrap_or(false),
            user: user_id.map(|_| User::from_row(row)).transpose()?,
        })
    }
}

/// Whether a recorded token is blacklisted, and its session.
const TOKEN_STATUS: &str = "SELECT b.id IS NOT NULL, o.session_id FROM outstanding_tokens o \
                            LEFT JOIN blacklisted_tokens b ON b.token_id = o.id WHERE o.jti = ?";

impl SqliteStore {
    pub async fn rotate(
        &self,
        old: &TokenRecord,
        new: &TokenRecord,
        create: Option<&NewSession>,
    ) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let rotated = rotate_in(&mut tx, old, new, create, now()).await?;
        if rotated {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(rotated)
    }

    pub async fn refresh_rotation(&self, request: RefreshRotation) -> Result<RefreshOutcome, StoreError> {
        self.rotations
            .rotate(request, |batch| self.clone().write_rotations(batch))
            .await
    }

    /// Writes a batch of rotations taken by `rotations.rs`: together, or one by one.
    async fn write_rotations(self, batch: Vec<RefreshRotation>) -> Vec<Result<RefreshOutcome, StoreError>> {
        self.rotations
            .together_or_alone(&batch, |batch| self.refresh_rotations(batch))
            .await
    }

    /// Rotations of distinct tokens in one write transaction, answered in order; committed if any
    /// rotated (one that did not wrote nothing). The batch's reads are one statement and the usual
    /// rotations' writes another, so a batch costs four calls to the connection's thread (with
    /// `BEGIN` and `COMMIT`) whatever its size.
    async fn refresh_rotations(&self, batch: &[RefreshRotation]) -> Result<Vec<RefreshOutcome>, StoreError> {
        let _turn = self.write_turn().await;
        let mut lent = self.kept.lend().await?;
        let mut tx = lent.connection().begin_with("BEGIN IMMEDIATE").await?;
        let found = rotation_inputs(&mut tx, batch).await?;
        let at = now();
        let mut children = Vec::new();
        let mut outcomes = Vec::with_capacity(batch.len());
        for (rotation, inputs) in batch.iter().zip(found) {
            outcomes.push(refresh_rotation_in(&mut tx, rotation, inputs, at, &mut children).await?);
        }
        if !children.is_empty() {
            rotate_recorded(&mut tx, &children, at).await?;
        }
        if outcomes.iter().any(|outcome| outcome.rotated_in.is_some()) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        lent.finished();
        Ok(outcomes)
    }

    pub async fn token_status(&self, jti: &str) -> Result<Option<TokenStatus>, StoreError> {
        let row: Option<(bool, Option<String>)> = sqlx::query_as(TOKEN_STATUS)
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(blacklisted, session_id)| TokenStatus {
            blacklisted,
            session_id,
        }))
    }

    pub async fn start_session(&self, session: &NewSession, token: &TokenRecord) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        insert_session(&mut tx, session).await?;
        record_in(&mut tx, token).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn start_password_session(&self, login: PasswordLogin<'_>) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        if let Some((account, pair)) = login.forget {
            sqlx::query(CLEAR_TWO)
                .bind(account)
                .bind(pair)
                .execute(&mut *tx)
                .await?;
        }
        let factors: i64 = sqlx::query_scalar(ACTIVE_FACTORS)
            .bind(login.session.user_id)
            .fetch_one(&mut *tx)
            .await?;
        let start = factors == 0;
        if start {
            insert_session(&mut tx, login.session).await?;
            record_in(&mut tx, login.token).await?;
        }
        tx.commit().await?;
        Ok(start)
    }

    pub async fn rotation_state(&self, jti: &str) -> Result<Option<RotationState>, StoreError> {
        type Family = (
            Option<DateTime<Utc>>,
            Option<String>,
            Option<String>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            bool,
        );
        let mut conn = self.pool.acquire().await?;
        let family: Option<Family> = sqlx::query_as(
            "SELECT b.blacklisted_at, COALESCE(o.session_id, c.session_id), c.jti, c.created_at, c.expires_at, \
                    cb.id IS NOT NULL \
             FROM outstanding_tokens o \
             LEFT JOIN blacklisted_tokens b ON b.token_id = o.id \
             LEFT JOIN outstanding_tokens c ON c.parent_jti = o.jti \
             LEFT JOIN blacklisted_tokens cb ON cb.token_id = c.id \
             WHERE o.jti = ? ORDER BY c.id LIMIT 1",
        )
        .bind(jti)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((rotated_at, session_id, child_jti, child_created, child_expires, child_used)) = family else {
            return Ok(None);
        };
        let child = issued(child_jti, child_created, child_expires).map(|token| (token, child_used));
        let (session_revoked, live) = match &session_id {
            None => (true, None),
            Some(sid) => {
                let revoked: Option<Option<DateTime<Utc>>> =
                    sqlx::query_scalar("SELECT revoked_at FROM sessions WHERE id = ?")
                        .bind(sid)
                        .fetch_optional(&mut *conn)
                        .await?;
                let live: Option<(String, Option<DateTime<Utc>>, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT o.jti, o.created_at, o.expires_at FROM outstanding_tokens o \
                     WHERE o.session_id = ? \
                       AND NOT EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = o.id) \
                     ORDER BY o.id DESC LIMIT 1",
                )
                .bind(sid)
                .fetch_optional(&mut *conn)
                .await?;
                let live = live.and_then(|(jti, created, expires)| issued(Some(jti), created, Some(expires)));
                (!matches!(revoked, Some(None)), live)
            }
        };
        Ok(Some(RotationState {
            rotated_at,
            session_id,
            session_revoked,
            child,
            live,
        }))
    }

    pub async fn end_session_of(&self, token: &TokenRecord) -> Result<bool, StoreError> {
        let at = now();
        let (_turn, mut tx) = self.begin_write().await?;
        let recorded: Option<Option<String>> =
            sqlx::query_scalar("SELECT session_id FROM outstanding_tokens WHERE jti = ?")
                .bind(&token.jti)
                .fetch_optional(&mut *tx)
                .await?;
        if !blacklist_in(&mut tx, token, at).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(id) = recorded.flatten().or_else(|| token.session_id.clone()) {
            revoke_in(&mut tx, Revocation::Session { id: &id, owner: None }, at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// What [`rotation_inputs_sql`] finds for `batch`, one per rotation, in order.
async fn rotation_inputs(
    tx: &mut Transaction<'_, Sqlite>,
    batch: &[RefreshRotation],
) -> Result<Vec<RotationInputs>, StoreError> {
    let mut query = sqlx::query(AssertSqlSafe(rotation_inputs_sql(batch.len())));
    for rotation in batch {
        query = query.bind(rotation.old.jti.as_str()).bind(rotation.user_id);
    }
    let rows = query.fetch_all(&mut **tx).await?;
    if rows.len() != batch.len() {
        return Err(sqlx::Error::Protocol(format!("{} rows for {} rotations", rows.len(), batch.len())).into());
    }
    Ok(rows.iter().map(RotationInputs::from_row).collect::<Result<_, _>>()?)
}

/// One refresh rotation of a batch, inside its write transaction, from what the batch's read
/// found: its outcome. The usual rotation (a recorded token in its open session) adds its child to
/// `children`, written with the batch's others; a token without a session is rotated here.
async fn refresh_rotation_in(
    tx: &mut Transaction<'_, Sqlite>,
    rotation: &RefreshRotation,
    inputs: RotationInputs,
    at: DateTime<Utc>,
    children: &mut Vec<TokenRecord>,
) -> Result<RefreshOutcome, StoreError> {
    let (old, child) = (&rotation.old, &rotation.child);
    let user = inputs.user;
    let allowed = !inputs.blacklisted
        && (rotation.user_id.is_none()
            || user
                .as_ref()
                .is_some_and(|user| user.may_refresh(rotation.check_user_is_active)));
    let mut rotated_in = None;
    if allowed {
        let new = TokenRecord {
            jti: child.jti.clone(),
            user_id: rotation.user_id,
            created_at: child.created_at,
            expires_at: child.expires_at,
            session_id: Some(inputs.session_id.clone().unwrap_or_else(|| rotation.session.id.clone())),
            parent_jti: Some(old.jti.clone()),
        };
        rotated_in = match (&inputs.session_id, inputs.session_open) {
            // The usual case: the write lock is held, so what was read still holds when the batch
            // writes it.
            (Some(sid), true) => {
                children.push(new);
                Some(sid.clone())
            }
            (Some(_), false) => None,
            // The general path, which may stop half-way: in a savepoint of its own.
            (None, _) => {
                let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                let rotated = rotate_in(&mut savepoint, old, &new, Some(&rotation.session), at).await?;
                if rotated {
                    savepoint.commit().await?;
                } else {
                    savepoint.rollback().await?;
                }
                rotated.then(|| rotation.session.id.clone())
            }
        };
    }
    Ok(RefreshOutcome {
        blacklisted: inputs.blacklisted,
        user,
        rotated_in,
    })
}

/// [`SqliteStore::rotate`] inside the caller's `BEGIN IMMEDIATE` transaction; false when nothing
/// may be written (the caller rolls back what was).
async fn rotate_in(
    tx: &mut Transaction<'_, Sqlite>,
    old: &TokenRecord,
    new: &TokenRecord,
    create: Option<&NewSession>,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    if create.is_none() {
        let kept =
            sqlx::query("UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(at)
                .bind(new.expires_at)
                .bind(new.session_id.as_deref())
                .execute(&mut **tx)
                .await?;
        if kept.rows_affected() == 0 {
            return Ok(false);
        }
    }
    if !blacklist_in(tx, old, at).await? {
        return Ok(false);
    }
    if let Some(session) = create {
        insert_session(tx, session).await?;
    }
    record_in(tx, new).await?;
    Ok(true)
}

/// [`rotate_recorded_sql`] for `children` (each naming its session and parent), inside the
/// caller's transaction.
async fn rotate_recorded(
    tx: &mut Transaction<'_, Sqlite>,
    children: &[TokenRecord],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut query = sqlx::query(AssertSqlSafe(rotate_recorded_sql(children.len()))).bind(at);
    // Of two children in one session, the later one's expiry: the first `WHEN` that matches wins.
    for child in children.iter().rev() {
        query = query.bind(child.session_id.as_deref()).bind(child.expires_at);
    }
    for child in children {
        query = query.bind(child.session_id.as_deref());
    }
    query = query.bind(at);
    for child in children {
        query = query.bind(child.parent_jti.as_deref());
    }
    for child in children {
        query = query
            .bind(child.jti.as_str())
            .bind(child.user_id)
            .bind(child.created_at)
            .bind(child.expires_at)
            .bind(child.session_id.as_deref())
            .bind(child.parent_jti.as_deref());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

async fn insert_session(conn: &mut SqliteConnection, session: &NewSession) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) \
         VALUES (?, (SELECT id FROM users WHERE id = ?), ?, ?, ?, ?, ?)",
    )
    .bind(&session.id)
    .bind(session.user_id)
    .bind(session.created_at)
    .bind(session.created_at)
    .bind(session.expires_at)
    .bind(session.user_agent.as_deref())
    .bind(session.ip.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// A recorded token, if the row had all three values.
fn issued(jti: Option<String>, created: Option<DateTime<Utc>>, expires: Option<DateTime<Utc>>) -> Option<IssuedToken> {
    Some(IssuedToken {
        jti: jti?,
        created_at: created?,
        expires_at: expires?,
    })
}

#[cfg(test)]
mod tests {
    use sqlx::AssertSqlSafe;

    use crate::store::Store;

    /// The statements of a batch of rotations find their rows by index, whatever SQLite's planner
    /// guesses without statistics: they scan only the batch's own rows (`r`, the `VALUES`) and what
    /// they derive from them (`st`). A trial that folded the decisions into the writes' SQL ran
    /// 25 times slower: SQLite 3.51 had turned one of its `LEFT JOIN`s into a scan of every
    /// outstanding token.
    #[tokio::test]
    async fn the_batch_statements_scan_no_table() {
        crate::store::tests::on_sqlite(
            |store| async move {
                let Store::Sqlite(lite) = &store else { unreachable!() };
                let write = super::rotate_recorded_sql(3);
                let statements = [super::rotation_inputs_sql(3)]
                    .into_iter()
                    .chain(write.split("; ").map(str::to_owned));
                let mut checked = 0;
                for statement in statements {
                    let plan: Vec<(i64, i64, i64, String)> =
                        sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {statement}")))
                            .fetch_all(&lite.pool)
                            .await
                            .expect("plan");
                    for (.., detail) in &plan {
                        let Some(scanned) = detail.strip_prefix("SCAN ") else {
                            continue;
                        };
                        let name = scanned.split(' ').next().unwrap_or_default();
                        let bound = scanned.ends_with("CONSTANT ROWS") || scanned.ends_with("VALUES CLAUSE");
                        assert!(["r", "st"].contains(&name) || bound, "{detail} in {statement}");
                    }
                    checked += 1;
                }
                assert_eq!(checked, 4, "the read and the three writes");
            },
            true,
        )
        .await;
    }
}

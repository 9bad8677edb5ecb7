//! Sessions and refresh-token families on PostgreSQL. Every writer that touches a session locks
//! its row (an `UPDATE` of it) before blacklisting any of its tokens, so rotations, logouts and
//! revocations of one session queue up in one order and cannot deadlock. Writers that lock several
//! sessions (a batch of rotations, revoking a user's sessions) lock them in order of their ids.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{FromRow, Postgres, Row};

use super::{PgStore, blacklist_in, revoke_in};
use crate::store::models::{
    IssuedToken, NewSession, PasswordLogin, RefreshOutcome, RefreshRotation, Revocation, RotationState, TokenRecord,
    TokenStatus, User,
};
use crate::store::{StoreError, now, user_columns};

/// One rotation in one round trip. `kept` locks the session first (a loser of a race waits there
/// for the winner's commit); `bl` is the compare-and-set: only one caller's blacklist row for the
/// old token is inserted, and only that caller records the child. `old_id` finds the old row
/// whether this statement recorded it or it was there before.
const ROTATE: &str = "\
WITH kept AS (
    UPDATE sessions SET last_used_at = $5, expires_at = $9
    WHERE id = $6 AND NOT $12 AND revoked_at IS NULL
    RETURNING id
), old AS (
    INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id)
    VALUES ($1, (SELECT id FROM users WHERE id = $2), $3, $4, (SELECT id FROM kept))
    ON CONFLICT (jti) DO NOTHING
    RETURNING id
), old_id AS (
    SELECT id FROM old UNION ALL SELECT id FROM outstanding_tokens WHERE jti = $1
), bl AS (
    INSERT INTO blacklisted_tokens (token_id, blacklisted_at)
    SELECT id, $5 FROM old_id WHERE $12 OR EXISTS (SELECT 1 FROM kept)
    ON CONFLICT (token_id) DO NOTHING
    RETURNING token_id
), created AS (
    INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
    SELECT $6, (SELECT id FROM users WHERE id = $2), $5, $5, $9, $10, $11
    WHERE $12 AND EXISTS (SELECT 1 FROM bl)
    RETURNING id
), child AS (
    INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti)
    SELECT $7, (SELECT id FROM users WHERE id = $2), $8, $9, s.id, $1
    FROM (SELECT id FROM created UNION ALL SELECT id FROM kept) s
    WHERE EXISTS (SELECT 1 FROM bl)
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM child)";

/// A refresh with rotation in one round trip: [`ROTATE`] behind two reads. `st` is the presented
/// token's row and `u` its user; `go` holds one row (the session to rotate in, and whether to
/// start it) only if the token is not blacklisted and the user may refresh (the rule of
/// [`crate::store::models::User::may_refresh`]), and every write depends on `go`. The last
/// `SELECT` reports what the reads found and where the child went; `u`'s columns are NULL when
/// there is no such user.
const REFRESH_ROTATION: &str = concat!(
    "\
WITH st AS (
    SELECT o.session_id, b.id IS NOT NULL AS blacklisted
    FROM outstanding_tokens o LEFT JOIN blacklisted_tokens b ON b.token_id = o.id
    WHERE o.jti = $1
), u AS (
    SELECT ",
    user_columns!(),
    " FROM users WHERE id = $2
), go AS (
    SELECT COALESCE((SELECT session_id FROM st), $6) AS sid, (SELECT session_id FROM st) IS NULL AS fresh
    WHERE NOT COALESCE((SELECT blacklisted FROM st), false)
      AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM u WHERE suspended_at IS NULL AND (is_active OR NOT $12)))
), kept AS (
    UPDATE sessions SET last_used_at = $5, expires_at = $9
    WHERE id = (SELECT sid FROM go WHERE NOT fresh) AND revoked_at IS NULL
    RETURNING id
), old AS (
    INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id)
    SELECT $1, (SELECT id FROM u), $3, $4, (SELECT id FROM kept) FROM go
    ON CONFLICT (jti) DO NOTHING
    RETURNING id
), old_id AS (
    SELECT id FROM old UNION ALL SELECT id FROM outstanding_tokens WHERE jti = $1
), bl AS (
    INSERT INTO blacklisted_tokens (token_id, blacklisted_at)
    SELECT id, $5 FROM old_id WHERE EXISTS (SELECT 1 FROM go WHERE fresh) OR EXISTS (SELECT 1 FROM kept)
    ON CONFLICT (token_id) DO NOTHING
    RETURNING token_id
), created AS (
    INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
    SELECT sid, (SELECT id FROM u), $5, $5, $9, $10, $11 FROM go
    WHERE fresh AND EXISTS (SELECT 1 FROM bl)
    RETURNING id
), child AS (
    INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti)
    SELECT $7, (SELECT id FROM u), $8, $9, s.id, $1
    FROM (SELECT id FROM created UNION ALL SELECT id FROM kept) s
    WHERE EXISTS (SELECT 1 FROM bl)
    RETURNING session_id
)
SELECT COALESCE((SELECT blacklisted FROM st), false) AS blacklisted,
       (SELECT session_id FROM child) AS rotated_in, u.*
FROM (SELECT 1) one LEFT JOIN u ON true"
);

/// [`REFRESH_ROTATION`] for a batch of rotations of distinct tokens (`store/sql/rotations.rs`), each
/// a row of `r` numbered `n` from the arrays `$1`..`$11`, written at `$12`. The same reads, rules
/// and writes, row by row, with more rules for rows that meet in one statement:
/// - the sessions are locked in order of their ids (`locked`), and no insert starts before all of
///   them are locked and updated (the `count(*)` conditions, evaluated once before the first row),
///   so a batch never holds a row another writer waits for while it waits for a session itself;
///   revoking a user's sessions locks them in the same order (`store/sql/sessions.rs`);
/// - token and blacklist rows are inserted in a fixed order, so two batches that meet on them wait
///   for each other in one direction only;
/// - two rows of one session rotate only the first (`DISTINCT ON`; the batcher keeps tokens that
///   name one session apart, so only tokens without a `sid` claim can meet here): the others find
///   nothing rotated, as a loser of a race does, and write nothing.
///
/// The last `SELECT` answers each row as [`REFRESH_ROTATION`] does, plus its `n`.
const REFRESH_ROTATIONS: &str = concat!(
    "\
WITH r AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[],
                         $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::boolean[])
        WITH ORDINALITY AS r(jti, user_id, created_at, expires_at, new_sid, child_jti, child_created,
                             child_expires, user_agent, ip, check_active, n)
), st AS (
    SELECT r.n, o.session_id, b.id IS NOT NULL AS blacklisted
    FROM r JOIN outstanding_tokens o ON o.jti = r.jti LEFT JOIN blacklisted_tokens b ON b.token_id = o.id
), u AS (
    SELECT r.n AS user_of, ",
    user_columns!(),
    " FROM r JOIN users ON users.id = r.user_id
), go AS (
    SELECT r.n, COALESCE(st.session_id, r.new_sid) AS sid, st.session_id IS NULL AS fresh, st.n IS NOT NULL AS recorded
    FROM r LEFT JOIN st ON st.n = r.n
    WHERE NOT COALESCE(st.blacklisted, false)
      AND (r.user_id IS NULL OR EXISTS (SELECT 1 FROM u WHERE u.user_of = r.n AND u.suspended_at IS NULL
                                                           AND (u.is_active OR NOT r.check_active)))
), locked AS (
    SELECT id FROM sessions WHERE id IN (SELECT sid FROM go WHERE NOT fresh) AND revoked_at IS NULL
    ORDER BY id FOR UPDATE
), kept AS (
    UPDATE sessions s SET last_used_at = $12, expires_at = g.child_expires
    FROM (SELECT DISTINCT ON (go.sid) go.sid, go.n, r.child_expires
          FROM go JOIN r ON r.n = go.n WHERE NOT go.fresh ORDER BY go.sid, go.n) g
    WHERE s.id = g.sid AND s.id IN (SELECT id FROM locked)
    RETURNING g.n, s.id
), old AS (
    INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id)
    SELECT r.jti, u.id, r.created_at, r.expires_at, kept.id
    FROM go JOIN r ON r.n = go.n LEFT JOIN u ON u.user_of = go.n LEFT JOIN kept ON kept.n = go.n
    WHERE NOT go.recorded AND (SELECT count(*) FROM locked) + (SELECT count(*) FROM kept) >= 0
    ORDER BY r.jti
    ON CONFLICT (jti) DO NOTHING
    RETURNING id, jti
), old_id AS (
    SELECT r.n, t.id
    FROM r JOIN (SELECT id, jti FROM old UNION ALL SELECT id, jti FROM outstanding_tokens WHERE jti = ANY($1)) t
        ON t.jti = r.jti
), bl AS (
    INSERT INTO blacklisted_tokens (token_id, blacklisted_at)
    SELECT old_id.id, $12 FROM old_id JOIN go ON go.n = old_id.n
    WHERE (go.fresh OR EXISTS (SELECT 1 FROM kept WHERE kept.n = go.n)) AND (SELECT count(*) FROM locked) + (SELECT count(*) FROM kept) >= 0
    ORDER BY old_id.id
    ON CONFLICT (token_id) DO NOTHING
    RETURNING token_id
), won AS (
    SELECT DISTINCT ON (old_id.id) old_id.n FROM old_id JOIN bl ON bl.token_id = old_id.id ORDER BY old_id.id, old_id.n
), created AS (
    INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
    SELECT go.sid, u.id, $12, $12, r.child_expires, r.user_agent, r.ip
    FROM go JOIN r ON r.n = go.n JOIN won ON won.n = go.n LEFT JOIN u ON u.user_of = go.n
    WHERE go.fresh
    ORDER BY go.sid
    RETURNING id
), child AS (
    INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti)
    SELECT r.child_jti, u.id, r.child_created, r.child_expires, s.id, r.jti
    FROM (SELECT go.n, created.id FROM created JOIN go ON go.sid = created.id UNION ALL SELECT n, id FROM kept) s
    JOIN r ON r.n = s.n JOIN won ON won.n = s.n LEFT JOIN u ON u.user_of = s.n
    ORDER BY r.child_jti
    RETURNING session_id, parent_jti
)
SELECT r.n, COALESCE(st.blacklisted, false) AS blacklisted, child.session_id AS rotated_in, u.*
FROM r LEFT JOIN st ON st.n = r.n LEFT JOIN won ON won.n = r.n
    LEFT JOIN child ON child.parent_jti = r.jti AND won.n IS NOT NULL
    LEFT JOIN u ON u.user_of = r.n
ORDER BY r.n"
);

/// A login's session and its first refresh token: `$1`-`$6` the session, `$7`-`$10` the token
/// ([`session_start`]).
const START_SESSION: &str = "\
WITH s AS ( \
    INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) \
    VALUES ($1, (SELECT id FROM users WHERE id = $2), $3, $3, $4, $5, $6) RETURNING id) \
INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti) \
SELECT $7, (SELECT id FROM users WHERE id = $2), $8, $9, s.id, $10 FROM s";

/// A right password's writes (`start_password_session`): `$1`-`$10` as in [`START_SESSION`], and
/// `$11`, `$12` the throttle counters to forget (as `throttle::CLEAR_TWO`), which every run
/// deletes. The session and its token are inserted only when the user has no confirmed second
/// factor (`mfa_sql::ACTIVE_FACTORS`'s rule). One row: whether they were.
const START_PASSWORD_SESSION: &str = "\
WITH forgotten AS (DELETE FROM throttle_counters WHERE key IN ($11, $12)), \
s AS ( \
    INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) \
    SELECT $1, (SELECT id FROM users WHERE id = $2), $3, $3, $4, $5, $6 \
    WHERE NOT EXISTS (SELECT 1 FROM mfa_factors WHERE user_id = $2 AND confirmed_at IS NOT NULL) \
    RETURNING id), \
t AS ( \
    INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti) \
    SELECT $7, (SELECT id FROM users WHERE id = $2), $8, $9, s.id, $10 FROM s RETURNING 1) \
SELECT EXISTS (SELECT 1 FROM t)";

impl PgStore {
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

    /// One rotation by [`REFRESH_ROTATION`].
    async fn refresh_rotation_alone(&self, rotation: &RefreshRotation) -> Result<RefreshOutcome, StoreError> {
        let (old, child, session) = (&rotation.old, &rotation.child, &rotation.session);
        let mut lent = self.kept.lend().await?;
        let row = sqlx::query(REFRESH_ROTATION)
            .bind(&old.jti)
            .bind(rotation.user_id)
            .bind(old.created_at)
            .bind(old.expires_at)
            .bind(now())
            .bind(&session.id)
            .bind(&child.jti)
            .bind(child.created_at)
            .bind(child.expires_at)
            .bind(session.user_agent.as_deref())
            .bind(session.ip.as_deref())
            .bind(rotation.check_user_is_active)
            .fetch_one(lent.connection())
            .await?;
        lent.finished();
        outcome(&row)
    }

    /// Rotations of distinct tokens, answered in order: several by [`REFRESH_ROTATIONS`], one by
    /// [`REFRESH_ROTATION`].
    async fn refresh_rotations(&self, batch: &[RefreshRotation]) -> Result<Vec<RefreshOutcome>, StoreError> {
        if let [rotation] = batch {
            return Ok(vec![self.refresh_rotation_alone(rotation).await?]);
        }
        let each = |part: fn(&RefreshRotation) -> Option<&str>| batch.iter().map(part).collect::<Vec<_>>();
        let times = |part: fn(&RefreshRotation) -> DateTime<Utc>| batch.iter().map(part).collect::<Vec<_>>();
        let mut lent = self.kept.lend().await?;
        let rows = sqlx::query(REFRESH_ROTATIONS)
            .bind(each(|r| Some(r.old.jti.as_str())))
            .bind(batch.iter().map(|r| r.user_id).collect::<Vec<_>>())
            .bind(times(|r| r.old.created_at))
            .bind(times(|r| r.old.expires_at))
            .bind(each(|r| Some(r.session.id.as_str())))
            .bind(each(|r| Some(r.child.jti.as_str())))
            .bind(times(|r| r.child.created_at))
            .bind(times(|r| r.child.expires_at))
            .bind(each(|r| r.session.user_agent.as_deref()))
            .bind(each(|r| r.session.ip.as_deref()))
            .bind(batch.iter().map(|r| r.check_user_is_active).collect::<Vec<_>>())
            .bind(now())
            .fetch_all(lent.connection())
            .await?;
        lent.finished();
        rows.iter().map(outcome).collect()
    }

    pub async fn rotate(
        &self,
        old: &TokenRecord,
        new: &TokenRecord,
        create: Option<&NewSession>,
    ) -> Result<bool, StoreError> {
        let at = now();
        let session_id = create.map(|s| s.id.as_str()).or(new.session_id.as_deref());
        let rotated = sqlx::query_scalar(ROTATE)
            .bind(&old.jti)
            .bind(old.user_id)
            .bind(old.created_at)
            .bind(old.expires_at)
            .bind(at)
            .bind(session_id)
            .bind(&new.jti)
            .bind(new.created_at)
            .bind(new.expires_at)
            .bind(create.and_then(|s| s.user_agent.as_deref()))
            .bind(create.and_then(|s| s.ip.as_deref()))
            .bind(create.is_some())
            .fetch_one(&self.pool)
            .await?;
        Ok(rotated)
    }

    pub async fn token_status(&self, jti: &str) -> Result<Option<TokenStatus>, StoreError> {
        let row: Option<(bool, Option<String>)> = sqlx::query_as(
            "SELECT b.id IS NOT NULL, o.session_id FROM outstanding_tokens o \
             LEFT JOIN blacklisted_tokens b ON b.token_id = o.id WHERE o.jti = $1",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(blacklisted, session_id)| TokenStatus {
            blacklisted,
            session_id,
        }))
    }

    pub async fn start_session(&self, session: &NewSession, token: &TokenRecord) -> Result<(), StoreError> {
        session_start(START_SESSION, session, token).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn start_password_session(&self, login: PasswordLogin<'_>) -> Result<bool, StoreError> {
        let (account, pair) = login.forget.unzip();
        let row = session_start(START_PASSWORD_SESSION, login.session, login.token)
            .bind(account)
            .bind(pair)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
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
             WHERE o.jti = $1 ORDER BY c.id LIMIT 1",
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
                    sqlx::query_scalar("SELECT revoked_at FROM sessions WHERE id = $1")
                        .bind(sid)
                        .fetch_optional(&mut *conn)
                        .await?;
                let live: Option<(String, Option<DateTime<Utc>>, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT o.jti, o.created_at, o.expires_at FROM outstanding_tokens o \
                     WHERE o.session_id = $1 \
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
        let mut tx = self.pool.begin().await?;
        let recorded: Option<Option<String>> =
            sqlx::query_scalar("SELECT session_id FROM outstanding_tokens WHERE jti = $1")
                .bind(&token.jti)
                .fetch_optional(&mut *tx)
                .await?;
        let session = recorded.flatten().or_else(|| token.session_id.clone());
        if let Some(id) = &session {
            // The session row first (see the module header), then the token.
            sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if !blacklist_in(&mut tx, token, at).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(id) = &session {
            revoke_in(&mut tx, Revocation::Session { id, owner: None }, at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// What [`REFRESH_ROTATION`] or a row of [`REFRESH_ROTATIONS`] answered.
fn outcome(row: &PgRow) -> Result<RefreshOutcome, StoreError> {
    let user = match row.try_get::<Option<i64>, _>("id")? {
        Some(_) => Some(User::from_row(row)?),
        None => None,
    };
    Ok(RefreshOutcome {
        blacklisted: row.try_get("blacklisted")?,
        user,
        rotated_in: row.try_get("rotated_in")?,
    })
}

/// A recorded token, if the row had all three values.
fn issued(jti: Option<String>, created: Option<DateTime<Utc>>, expires: Option<DateTime<Utc>>) -> Option<IssuedToken> {
    Some(IssuedToken {
        jti: jti?,
        created_at: created?,
        expires_at: expires?,
    })
}

/// `sql` with a session start's parameters bound, as [`START_SESSION`] numbers them.
fn session_start<'q>(
    sql: &'static str,
    session: &'q NewSession,
    token: &'q TokenRecord,
) -> Query<'q, Postgres, PgArguments> {
    sqlx::query(sql)
        .bind(&session.id)
        .bind(session.user_id)
        .bind(session.created_at)
        .bind(session.expires_at)
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .bind(&token.jti)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.parent_jti.as_deref())
}

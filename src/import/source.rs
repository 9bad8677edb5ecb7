//! The Django database being imported, read in one consistent snapshot (a read-only transaction):
//! which table holds the users, and its rows and SimpleJWT's token tables as imhotep's models.
//!
//! Only names found in the database's own catalogue are ever put into SQL, quoted.

use std::str::FromStr;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::store::models::{ImportedBlacklisting, ImportedToken, User};

/// SimpleJWT's token tables.
const OUTSTANDING_TABLE: &str = "token_blacklist_outstandingtoken";
const BLACKLISTED_TABLE: &str = "token_blacklist_blacklistedtoken";

/// Columns a user table must have: `AbstractBaseUser`'s, plus the e-mail field.
const REQUIRED_COLUMNS: [&str; 3] = ["id", "password", "last_login"];

/// An open, read-only snapshot of the Django database. Reading a whole table is one long statement
/// by design, so sqlx's statement logging (and its slow-statement warnings) is off.
pub enum Source {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the users are: the table, and which optional `AbstractUser` columns it has.
#[derive(Debug, Clone)]
pub struct UserTable {
    pub name: String,
    pub email_field: String,
    columns: Vec<String>,
}

impl UserTable {
    /// `AbstractUser` columns the table lacks (a custom `AbstractBaseUser` model); imported with
    /// Django's defaults.
    pub fn missing_optional(&self) -> Vec<&'static str> {
        OPTIONAL_COLUMNS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !self.columns.iter().any(|c| c == name))
            .collect()
    }
}

/// `AbstractUser`'s other columns and the value used when a custom model has no such column.
const OPTIONAL_COLUMNS: [(&str, Default); 7] = [
    ("username", Default::Text),
    ("first_name", Default::Text),
    ("last_name", Default::Text),
    ("is_active", Default::True),
    ("is_staff", Default::False),
    ("is_superuser", Default::False),
    ("date_joined", Default::Null),
];

#[derive(Debug, Clone, Copy)]
enum Default {
    Text,
    True,
    False,
    Null,
}

impl Source {
    /// Opens `url` (`postgres://...` or `sqlite://path`) and starts a read-only snapshot. A SQLite
    /// file is opened read-only and never created.
    pub async fn open(url: &str) -> anyhow::Result<Source> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .read_only(true)
                .disable_statement_logging();
            let mut conn = SqliteConnection::connect_with(&options).await?;
            sqlx::query("BEGIN").execute(&mut conn).await?;
            Ok(Source::Sqlite(conn))
        } else if crate::store::is_postgres_url(url) {
            let options = PgConnectOptions::from_str(url)?
                .options([("TimeZone", "UTC")])
                .disable_statement_logging();
            let mut conn = PgConnection::connect_with(&options).await?;
            sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut conn)
                .await?;
            Ok(Source::Postgres(conn))
        } else {
            bail!("--from must be a postgres:// or sqlite:// URL")
        }
    }

    /// Finds the user table: `requested` if given, else `auth_user` if it has the columns, else the
    /// only table with Django's user columns and `email_field`.
    pub async fn user_table(&mut self, requested: Option<&str>, email_field: &str) -> anyhow::Result<UserTable> {
        let tables = self.tables().await?;
        let mut candidates = Vec::new();
        for table in &tables {
            let columns = self.columns(table).await?;
            let has = |name: &str| columns.iter().any(|c| c == name);
            if REQUIRED_COLUMNS.iter().all(|c| has(c)) && has(email_field) {
                candidates.push(UserTable {
                    name: table.clone(),
                    email_field: email_field.to_owned(),
                    columns,
                });
            }
        }
        if let Some(requested) = requested {
            if !tables.iter().any(|t| t == requested) {
                bail!("--user-table {requested}: no such table in the Django database");
            }
            return candidates.into_iter().find(|t| t.name == requested).with_context(|| {
                format!(
                    "--user-table {requested} lacks a user column: it needs {} and {email_field} (--email-field)",
                    REQUIRED_COLUMNS.join(", ")
                )
            });
        }
        if let Some(position) = candidates.iter().position(|t| t.name == "auth_user") {
            return Ok(candidates.swap_remove(position));
        }
        match candidates.len() {
            1 => Ok(candidates.remove(0)),
            0 => bail!(
                "no table has Django's user columns ({} and {email_field}): name it with --user-table, and the e-mail column with --email-field",
                REQUIRED_COLUMNS.join(", ")
            ),
            _ => bail!(
                "several tables look like Django's user table ({}): name one with --user-table",
                candidates
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Every user, by id.
    pub async fn users(&mut self, table: &UserTable) -> anyhow::Result<Vec<User>> {
        let boolean = |value: bool| match (self.is_postgres(), value) {
            (true, true) => "TRUE",
            (true, false) => "FALSE",
            (false, true) => "1",
            (false, false) => "0",
        };
        let mut select = vec![
            format!("{}{}", quote("id"), self.cast("bigint")),
            format!("COALESCE({}, ''){}", quote(&table.email_field), self.cast("text")),
            format!("{}{}", quote("password"), self.cast("text")),
            format!("{}{}", quote("last_login"), self.cast("timestamptz")),
        ];
        for (name, default) in OPTIONAL_COLUMNS {
            let present = table.columns.iter().any(|c| c == name);
            select.push(match (present, default) {
                (true, Default::Null) => format!("{}{}", quote(name), self.cast("timestamptz")),
                (true, Default::Text) => format!("COALESCE({}, ''){}", quote(name), self.cast("text")),
                (true, _) => quote(name),
                (false, Default::Text) => "''".to_owned(),
                (false, Default::True) => boolean(true).to_owned(),
                (false, Default::False) => boolean(false).to_owned(),
                (false, Default::Null) => "NULL".to_owned(),
            });
        }
        let sql = format!("SELECT {} FROM {} ORDER BY 1", select.join(", "), quote(&table.name));
        let now = Utc::now();
        match self {
            Source::Postgres(conn) => {
                let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
                rows.iter()
                    .map(|row| {
                        Ok(User {
                            id: row.try_get(0)?,
                            email: row.try_get(1)?,
                            password: row.try_get(2)?,
                            last_login: row.try_get(3)?,
                            username: row.try_get(4)?,
                            first_name: row.try_get(5)?,
                            last_name: row.try_get(6)?,
                            is_active: row.try_get(7)?,
                            is_staff: row.try_get(8)?,
                            is_superuser: row.try_get(9)?,
                            date_joined: row.try_get::<Option<DateTime<Utc>>, _>(10)?.unwrap_or(now),
                            suspended_at: None,
                            pending_email: None,
                        })
                    })
                    .collect()
            }
            Source::Sqlite(conn) => {
                let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
                rows.iter()
                    .map(|row| {
                        let id: i64 = row.try_get(0)?;
                        let time = |index: usize| -> anyhow::Result<Option<DateTime<Utc>>> {
                            let text: Option<String> = row.try_get(index)?;
                            text.map(|text| {
                                parse_sqlite_time(&text).with_context(|| format!("user {id}: unreadable time {text:?}"))
                            })
                            .transpose()
                        };
                        Ok(User {
                            id,
                            email: row.try_get(1)?,
                            password: row.try_get(2)?,
                            last_login: time(3)?,
                            username: row.try_get(4)?,
                            first_name: row.try_get(5)?,
                            last_name: row.try_get(6)?,
                            is_active: row.try_get(7)?,
                            is_staff: row.try_get(8)?,
                            is_superuser: row.try_get(9)?,
                            date_joined: time(10)?.unwrap_or(now),
                            suspended_at: None,
                            pending_email: None,
                        })
                    })
                    .collect()
            }
        }
    }

    /// SimpleJWT's outstanding tokens (jti, user, created, expires; never the token text), or
    /// none when the blacklist app is not installed.
    pub async fn tokens(&mut self) -> anyhow::Result<Vec<ImportedToken>> {
        if !self.tables().await?.iter().any(|t| t == OUTSTANDING_TABLE) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT jti{text}, user_id{bigint}, created_at{time}, expires_at{time} FROM {OUTSTANDING_TABLE} ORDER BY id",
            text = self.cast("text"),
            bigint = self.cast("bigint"),
            time = self.cast("timestamptz"),
        );
        match self {
            Source::Postgres(conn) => {
                let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
                rows.iter()
                    .map(|row| {
                        Ok(ImportedToken {
                            jti: row.try_get(0)?,
                            user_id: row.try_get(1)?,
                            created_at: row.try_get(2)?,
                            expires_at: row.try_get(3)?,
                        })
                    })
                    .collect()
            }
            Source::Sqlite(conn) => {
                let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
                rows.iter()
                    .map(|row| {
                        let created: Option<String> = row.try_get(2)?;
                        let expires: String = row.try_get(3)?;
                        Ok(ImportedToken {
                            jti: row.try_get(0)?,
                            user_id: row.try_get(1)?,
                            created_at: created.as_deref().map(parse_sqlite_time).transpose()?,
                            expires_at: parse_sqlite_time(&expires)?,
                        })
                    })
                    .collect()
            }
        }
    }

    /// SimpleJWT's blacklist, each row named by its token's jti.
    pub async fn blacklist(&mut self) -> anyhow::Result<Vec<ImportedBlacklisting>> {
        let tables = self.tables().await?;
        if ![OUTSTANDING_TABLE, BLACKLISTED_TABLE]
            .iter()
            .all(|name| tables.iter().any(|t| t == name))
        {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT o.jti{text}, b.blacklisted_at{time} FROM {BLACKLISTED_TABLE} b \
             JOIN {OUTSTANDING_TABLE} o ON o.id = b.token_id ORDER BY b.id",
            text = self.cast("text"),
            time = self.cast("timestamptz"),
        );
        match self {
            Source::Postgres(conn) => {
                let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
                rows.iter()
                    .map(|row| {
                        Ok(ImportedBlacklisting {
                            jti: row.try_get(0)?,
                            blacklisted_at: row.try_get(1)?,
                        })
                    })
                    .collect()
            }
            Source::Sqlite(conn) => {
                let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
                rows.iter()
                    .map(|row| {
                        let at: String = row.try_get(1)?;
                        Ok(ImportedBlacklisting {
                            jti: row.try_get(0)?,
                            blacklisted_at: parse_sqlite_time(&at)?,
                        })
                    })
                    .collect()
            }
        }
    }

    fn is_postgres(&self) -> bool {
        matches!(self, Source::Postgres(_))
    }

    /// A PostgreSQL cast suffix (`::type`); nothing on SQLite, where values come back as stored.
    fn cast(&self, to: &str) -> String {
        if self.is_postgres() {
            format!("::{to}")
        } else {
            String::new()
        }
    }

    async fn tables(&mut self) -> anyhow::Result<Vec<String>> {
        Ok(match self {
            Source::Postgres(conn) => {
                sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() ORDER BY 1",
                )
                .fetch_all(&mut *conn)
                .await?
            }
            Source::Sqlite(conn) => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
                    .fetch_all(&mut *conn)
                    .await?
            }
        })
    }

    async fn columns(&mut self, table: &str) -> anyhow::Result<Vec<String>> {
        Ok(match self {
            Source::Postgres(conn) => {
                sqlx::query_scalar(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1",
                )
                .bind(table)
                .fetch_all(&mut *conn)
                .await?
            }
            Source::Sqlite(conn) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                    .bind(table)
                    .fetch_all(&mut *conn)
                    .await?
            }
        })
    }
}

/// A double-quoted SQL identifier.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Django's SQLite backend stores aware datetimes as naive UTC text, `2025-01-02 03:04:05.123456`
/// (no fraction when it is zero); other writers may have left RFC 3339.
fn parse_sqlite_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Ok(naive.and_utc());
    }
    Ok(DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .with_context(|| format!("unreadable time {text:?}"))?
        .with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_sqlite_times_parse_as_utc() {
        let cases = [
            ("2025-01-02 03:04:05.123456", "2025-01-02T03:04:05.123456+00:00"),
            ("2025-01-02 03:04:05", "2025-01-02T03:04:05+00:00"),
            ("2025-01-02T03:04:05.5+00:00", "2025-01-02T03:04:05.500+00:00"),
            ("2025-01-02 05:04:05+02:00", "2025-01-02T03:04:05+00:00"),
        ];
        for (text, expected) in cases {
            let parsed = parse_sqlite_time(text).expect(text);
            assert_eq!(parsed, DateTime::parse_from_rfc3339(expected).unwrap(), "{text}");
        }
        assert!(parse_sqlite_time("yesterday").is_err());
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("users_user"), "\"users_user\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}

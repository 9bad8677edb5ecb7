//! The store's error type, and how sqlx errors map onto it.
//!
//! The HTTP layer only needs to tell three things apart: a conflict it can report as a field
//! error (`EmailTaken`), a database it cannot reach (`Unavailable`, answered with 503), and
//! everything else (a bug or a broken schema, answered with 500).

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a user with this e-mail already exists")]
    EmailTaken,
    /// Pool timeout, closed pool, connection refused or lost, server shutting down.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("unsupported DATABASE_URL scheme (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
}

/// SQLSTATEs a Postgres server sends when it cannot serve us right now rather than because the
/// query is wrong: class 08 (connection exception), too many connections, and the 57P0x
/// shutdown/startup family.
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let unavailable = match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient_sqlstate(&code)),
            _ => false,
        };
        if unavailable {
            StoreError::Unavailable(error)
        } else {
            StoreError::Database(error)
        }
    }
}

impl StoreError {
    /// For writes to `users`, whose only unique key besides the id is the e-mail key: a unique
    /// violation is `EmailTaken`. Recognised by sqlx's error kind (SQLSTATE 23505 on PostgreSQL,
    /// `SQLITE_CONSTRAINT_UNIQUE` on SQLite), never by a message text; where the database names the
    /// constraint (PostgreSQL), it must be the e-mail key's.
    pub(super) fn from_users_write(error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Database(db)
                if db.is_unique_violation() && db.constraint().is_none_or(|name| name == "users_email_key_unique") =>
            {
                StoreError::EmailTaken
            }
            _ => StoreError::from(error),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeout_and_io_errors_mean_unavailable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::Io(refused)),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn other_errors_mean_database() {
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
    }

    #[test]
    fn transient_sqlstates_are_recognised() {
        assert!(is_transient_sqlstate("08006"));
        assert!(is_transient_sqlstate("57P01"));
        assert!(!is_transient_sqlstate("23505"));
    }
}

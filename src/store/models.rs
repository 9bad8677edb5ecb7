//! Rows as the domain sees them: the `users` table and the token tables.

use chrono::{DateTime, Utc};

/// A user row, with Django's column names.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    /// The encoded password hash (`$argon2id$...`, Django's `pbkdf2_sha256$...`, or `!...` for unusable).
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub last_login: Option<DateTime<Utc>>,
    pub date_joined: DateTime<Utc>,
}

/// What registration (or `createsuperuser`) inserts.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// A refresh token as recorded in `outstanding_tokens` (SimpleJWT's OutstandingToken without the encoded JWT).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub jti: String,
    pub user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

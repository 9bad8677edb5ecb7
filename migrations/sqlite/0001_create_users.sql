-- Django's auth_user columns, under the table name `users`. STRICT so that SQLite rejects values
-- of the wrong type instead of storing them, like Postgres does.
CREATE TABLE users (
    -- AUTOINCREMENT, not just INTEGER PRIMARY KEY: ids are never reused after a deletion, so a
    -- token naming a deleted user can never resolve to a newer one.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Stored as given (after the caller's normalisation), so e-mails go out with the user's casing.
    -- SQLite ignores VARCHAR(n); the CHECKs keep the limits identical to the Postgres schema.
    email TEXT NOT NULL CONSTRAINT users_email_length_check CHECK (length(email) <= 254),
    -- Lower-cased e-mail computed in Rust: SQLite's lower() only folds ASCII, so folding in the
    -- application makes both stores agree on what a duplicate is. Uniqueness lives here.
    email_key TEXT NOT NULL CONSTRAINT users_email_key_unique UNIQUE
        CONSTRAINT users_email_key_length_check CHECK (length(email_key) <= 254),
    -- Not unique (unlike Django's): e-mail is the login field and most users leave this empty.
    username TEXT NOT NULL DEFAULT ''
        CONSTRAINT users_username_length_check CHECK (length(username) <= 150),
    first_name TEXT NOT NULL DEFAULT ''
        CONSTRAINT users_first_name_length_check CHECK (length(first_name) <= 150),
    last_name TEXT NOT NULL DEFAULT ''
        CONSTRAINT users_last_name_length_check CHECK (length(last_name) <= 150),
    -- The encoded hash: argon2id PHC string, Django's pbkdf2_sha256$..., or "!..." when unusable.
    password TEXT NOT NULL CONSTRAINT users_password_length_check CHECK (length(password) <= 255),
    -- SQLite has no boolean type: 0/1 integers, which is what sqlx encodes `bool` as. No defaults:
    -- whether a new account starts active depends on SEND_ACTIVATION_EMAIL, so the caller decides.
    is_active INTEGER NOT NULL CONSTRAINT users_is_active_bool_check CHECK (is_active IN (0, 1)),
    is_staff INTEGER NOT NULL CONSTRAINT users_is_staff_bool_check CHECK (is_staff IN (0, 1)),
    is_superuser INTEGER NOT NULL
        CONSTRAINT users_is_superuser_bool_check CHECK (is_superuser IN (0, 1)),
    -- Timestamps are text as sqlx encodes a chrono DateTime<Utc>: RFC 3339 ending in '+00:00'
    -- (e.g. 2025-01-02T03:04:05.123456+00:00). Set by the application, never by SQLite's
    -- CURRENT_TIMESTAMP, whose format ('2025-01-02 03:04:05') would not compare with it.
    last_login TEXT NULL,
    date_joined TEXT NOT NULL
) STRICT;

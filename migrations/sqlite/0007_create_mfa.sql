-- Two-factor login (issue 16): TOTP factors, recovery codes and the tickets of logins waiting for
-- their second factor. Every table belongs to a user and goes with them (ON DELETE CASCADE).
-- Timestamps are text as sqlx encodes DateTime<Utc> (see 0001); they are only ever compared with
-- NULL. Times that SQL compares are Unix milliseconds, as in PostgreSQL.

CREATE TABLE mfa_factors (
    -- 128 random bits as 32 hex digits, made by the application: shown to the user and used in
    -- URLs (`factors/{id}/`), so it must not be guessable or sequential.
    id TEXT NOT NULL CONSTRAINT mfa_factors_pkey PRIMARY KEY
        CONSTRAINT mfa_factors_id_length_check CHECK (length(id) <= 64),
    user_id INTEGER NOT NULL CONSTRAINT mfa_factors_user_id_fkey
        REFERENCES users (id) ON DELETE CASCADE,
    -- Only TOTP today; the column lets other kinds (WebAuthn) join without a new table.
    kind TEXT NOT NULL CONSTRAINT mfa_factors_kind_check CHECK (kind IN ('totp')),
    -- The TOTP seed sealed with XChaCha20-Poly1305 under a key derived from SECRET_KEY (or
    -- mfa.encryption_key): base64 of nonce || ciphertext. A leaked file yields no seeds.
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- NULL while enrolment waits for its first code: a pending factor is never asked for at login.
    confirmed_at TEXT NULL,
    -- The last TOTP time step (Unix time / 30 s) a code was accepted for: a code of that step or an
    -- earlier one is refused, so a code cannot be replayed inside its window. -1 = none yet.
    -- Advanced by one conditional UPDATE, so two requests with one code cannot both pass.
    last_step INTEGER NOT NULL DEFAULT -1
) STRICT;

-- Login asks "does this user have an active factor?" on every password success.
CREATE INDEX mfa_factors_user_id_idx ON mfa_factors (user_id);

CREATE TABLE mfa_recovery_codes (
    user_id INTEGER NOT NULL CONSTRAINT mfa_recovery_codes_user_id_fkey
        REFERENCES users (id) ON DELETE CASCADE,
    -- HMAC-SHA256 (hex) of the normalised code under a key derived like the factors' one. The codes
    -- are 80 random bits, so a fast keyed hash is enough: there is no dictionary to try.
    code_hash TEXT NOT NULL CONSTRAINT mfa_recovery_codes_hash_length_check CHECK (length(code_hash) <= 64),
    -- Set once when the code is used (one conditional UPDATE): a code works once.
    used_at TEXT NULL,
    CONSTRAINT mfa_recovery_codes_pkey PRIMARY KEY (user_id, code_hash)
) STRICT;

CREATE TABLE mfa_tickets (
    -- SHA-256 (hex) of the opaque ticket handed to the client; the ticket itself is never stored.
    ticket_hash TEXT NOT NULL CONSTRAINT mfa_tickets_pkey PRIMARY KEY
        CONSTRAINT mfa_tickets_hash_length_check CHECK (length(ticket_hash) <= 64),
    user_id INTEGER NOT NULL CONSTRAINT mfa_tickets_user_id_fkey
        REFERENCES users (id) ON DELETE CASCADE,
    -- 'login': the password was right, a code is due (`jwt/create/mfa/`); 'enrol': a staff account
    -- without a factor must enrol one before it gets tokens (`djoser.mfa_required_for_staff`).
    purpose TEXT NOT NULL CONSTRAINT mfa_tickets_purpose_check CHECK (purpose IN ('login', 'enrol')),
    -- Past it the ticket is refused; the housekeeping task deletes it.
    expires_ms INTEGER NOT NULL,
    -- Wrong codes sent with this ticket; at mfa's limit (5) it is refused like an unknown one.
    failures INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The housekeeping purge of expired tickets.
CREATE INDEX mfa_tickets_expires_ms_idx ON mfa_tickets (expires_ms);

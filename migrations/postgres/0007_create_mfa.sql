-- Two-factor login (issue 16): TOTP factors, recovery codes and the tickets of logins waiting for
-- their second factor. Every table belongs to a user and goes with them (ON DELETE CASCADE).

CREATE TABLE mfa_factors (
    -- 128 random bits as 32 hex digits, made by the application: shown to the user and used in
    -- URLs (`factors/{id}/`), so it must not be guessable or sequential.
    id VARCHAR(64) CONSTRAINT mfa_factors_pkey PRIMARY KEY,
    user_id BIGINT NOT NULL CONSTRAINT mfa_factors_user_id_fkey
        REFERENCES users (id) ON DELETE CASCADE,
    -- Only TOTP today; the column lets other kinds (WebAuthn) join without a new table.
    kind VARCHAR(16) NOT NULL CONSTRAINT mfa_factors_kind_check CHECK (kind IN ('totp')),
    -- The TOTP seed sealed with XChaCha20-Poly1305 under a key derived from SECRET_KEY (or
    -- mfa.encryption_key): base64 of nonce || ciphertext. A leaked table yields no seeds.
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    -- NULL while enrolment waits for its first code: a pending factor is never asked for at login.
    confirmed_at TIMESTAMPTZ NULL,
    -- The last TOTP time step (Unix time / 30 s) a code was accepted for: a code of that step or an
    -- earlier one is refused, so a code cannot be replayed inside its window. -1 = none yet.
    -- Advanced by one conditional UPDATE, so two requests with one code cannot both pass.
    last_step BIGINT NOT NULL DEFAULT -1
);

-- Login asks "does this user have an active factor?" on every password success.
CREATE INDEX mfa_factors_user_id_idx ON mfa_factors (user_id);

CREATE TABLE mfa_recovery_codes (
    user_id BIGINT NOT NULL CONSTRAINT mfa_recovery_codes_user_id_fkey
        REFERENCES users (id) ON DELETE CASCADE,
    -- HMAC-SHA256 (hex) of the normalised code under a key derived like the factors' one. The codes
    -- are 80 random bits, so a fast keyed hash is enough: there is no dictionary to try.
    code_hash VARCHAR(64) NOT NULL,
    -- Set once when the code is used (one conditional UPDATE): a code works once.
    used_at TIMESTAMPTZ NULL,
    CONSTRAINT mfa_recovery_codes_pkey PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_tickets (
    -- SHA-256 (hex) of the opaque ticket handed to the client; the ticket itself is never stored.
    ticket_hash VARCHAR(64) CONSTRAINT mfa_tickets_pkey PRIMARY KEY,
    user_id BIGINT NOT NULL CONSTRAINT mfa_tickets_user_id_fkey
        REFERENCES users (id) ON DELETE CASCADE,
    -- 'login': the password was right, a code is due (`jwt/create/mfa/`); 'enrol': a staff account
    -- without a factor must enrol one before it gets tokens (`djoser.mfa_required_for_staff`).
    purpose VARCHAR(16) NOT NULL CONSTRAINT mfa_tickets_purpose_check CHECK (purpose IN ('login', 'enrol')),
    -- Unix milliseconds, like throttle_counters: the statements are then the same SQL text on both
    -- databases. Past it the ticket is refused; the housekeeping task deletes it.
    expires_ms BIGINT NOT NULL,
    -- Wrong codes sent with this ticket; at mfa's limit (5) it is refused like an unknown one.
    failures BIGINT NOT NULL DEFAULT 0
);

-- The housekeeping purge of expired tickets.
CREATE INDEX mfa_tickets_expires_ms_idx ON mfa_tickets (expires_ms);

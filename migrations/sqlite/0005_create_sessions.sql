-- Sessions: one per login. Every refresh token of that login and of its rotations belongs to it,
-- so a session can be listed, revoked as a whole, and checked when its access tokens are used.
CREATE TABLE sessions (
    -- 128 random bits as 32 hex digits, made by the application (a uuid4's hex, like jti): shown
    -- to the user and put in tokens as the `sid` claim, so it must not be guessable or sequential.
    id TEXT NOT NULL CONSTRAINT sessions_pkey PRIMARY KEY
        CONSTRAINT sessions_id_length_check CHECK (length(id) <= 64),
    -- SET NULL like outstanding_tokens.user_id: deleting a user without deleting their tokens
    -- keeps the rows; a session without a user is never listed and its tokens name nobody.
    user_id INTEGER NULL CONSTRAINT sessions_user_id_fkey
        REFERENCES users (id) ON DELETE SET NULL,
    -- The login (or, for a token minted elsewhere, its first refresh here). Timestamps are text
    -- as sqlx encodes DateTime<Utc> (see outstanding_tokens.expires_at for why order works).
    created_at TEXT NOT NULL,
    -- The last rotation: what the session list shows as `last_used`.
    last_used_at TEXT NOT NULL,
    -- The expiry of the session's newest refresh token (extended by each rotation); flushing
    -- deletes sessions past it, and their token rows with them. Compared as text: UTC only.
    expires_at TEXT NOT NULL CONSTRAINT sessions_expires_at_utc_check
        CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*+00:00'),
    -- The client's User-Agent at login, cut to 256 characters by the application.
    user_agent TEXT NULL CONSTRAINT sessions_user_agent_length_check CHECK (length(user_agent) <= 256),
    -- The client's address at login (IPv4 or IPv6 text, as the application saw it).
    ip TEXT NULL CONSTRAINT sessions_ip_length_check CHECK (length(ip) <= 64),
    -- Set once by logout, revocation, reuse detection or a password change; never cleared. A
    -- revoked session's refresh tokens are all blacklisted and its access tokens are refused.
    revoked_at TEXT NULL
) STRICT;

-- The session list and "revoke all of a user's sessions" go by user.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- For flush_expired_tokens (expires_at <= now).
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- The session a refresh token belongs to. NULL for rows recorded by tools that know nothing of
-- sessions (SimpleJWT's own tables, benchmark seeding): such a token becomes a session of its own
-- at its first refresh. CASCADE: deleting a session (user deletion, flushing) takes its tokens.
ALTER TABLE outstanding_tokens ADD COLUMN session_id TEXT NULL
    CONSTRAINT outstanding_tokens_session_id_fkey REFERENCES sessions (id) ON DELETE CASCADE;
-- The jti of the token this one was rotated from (NULL for a login's first token). Not a foreign
-- key: the parent's row may be flushed before the child's. Reuse detection finds a token's child by it.
ALTER TABLE outstanding_tokens ADD COLUMN parent_jti TEXT NULL
    CONSTRAINT outstanding_tokens_parent_jti_length_check CHECK (length(parent_jti) <= 255);

-- Revoking a session blacklists its tokens; the live token of a session is found by it.
CREATE INDEX outstanding_tokens_session_id_idx ON outstanding_tokens (session_id);
-- A replayed parent finds its child.
CREATE INDEX outstanding_tokens_parent_jti_idx ON outstanding_tokens (parent_jti);

-- Existing outstanding rows become one session each (revoked if the token was blacklisted), so
-- the session list and logout work for logins made before this migration. The random ids go
-- through a temporary table: the foreign key refuses a session_id before its session exists.
CREATE TEMP TABLE migrated_sessions AS
SELECT id AS token_id, lower(hex(randomblob(16))) AS session_id FROM outstanding_tokens;
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at)
SELECT m.session_id, o.user_id, COALESCE(o.created_at, o.expires_at), COALESCE(o.created_at, o.expires_at),
       o.expires_at, b.blacklisted_at
FROM migrated_sessions m
JOIN outstanding_tokens o ON o.id = m.token_id
LEFT JOIN blacklisted_tokens b ON b.token_id = o.id;
UPDATE outstanding_tokens
SET session_id = (SELECT m.session_id FROM migrated_sessions m WHERE m.token_id = outstanding_tokens.id);
DROP TABLE migrated_sessions;

-- Sessions: one per login. Every refresh token of that login and of its rotations belongs to it,
-- so a session can be listed, revoked as a whole, and checked when its access tokens are used.
CREATE TABLE sessions (
    -- 128 random bits as 32 hex digits, made by the application (a uuid4's hex, like jti): shown
    -- to the user and put in tokens as the `sid` claim, so it must not be guessable or sequential.
    id VARCHAR(64) CONSTRAINT sessions_pkey PRIMARY KEY,
    -- SET NULL like outstanding_tokens.user_id: deleting a user without deleting their tokens
    -- keeps the rows; a session without a user is never listed and its tokens name nobody.
    user_id BIGINT NULL CONSTRAINT sessions_user_id_fkey
        REFERENCES users (id) ON DELETE SET NULL,
    -- The login (or, for a token minted elsewhere, its first refresh here).
    created_at TIMESTAMPTZ NOT NULL,
    -- The last rotation: what the session list shows as `last_used`.
    last_used_at TIMESTAMPTZ NOT NULL,
    -- The expiry of the session's newest refresh token (extended by each rotation); flushing
    -- deletes sessions past it, and their token rows with them.
    expires_at TIMESTAMPTZ NOT NULL,
    -- The client's User-Agent at login, cut to 256 characters by the application.
    user_agent VARCHAR(256) NULL,
    -- The client's address at login (text: IPv4 or IPv6, as the application saw it).
    ip VARCHAR(64) NULL,
    -- Set once by logout, revocation, reuse detection or a password change; never cleared. A
    -- revoked session's refresh tokens are all blacklisted and its access tokens are refused.
    revoked_at TIMESTAMPTZ NULL
);

-- The session list and "revoke all of a user's sessions" go by user.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- For flush_expired_tokens (expires_at <= now).
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- The session a refresh token belongs to. NULL for rows recorded by tools that know nothing of
-- sessions (SimpleJWT's own tables, benchmark seeding): such a token becomes a session of its own
-- at its first refresh. CASCADE: deleting a session (user deletion, flushing) takes its tokens.
-- (The constraint is added below, once the existing rows have their sessions.)
ALTER TABLE outstanding_tokens ADD COLUMN session_id VARCHAR(64) NULL;
-- The jti of the token this one was rotated from (NULL for a login's first token). Not a foreign
-- key: the parent's row may be flushed before the child's. Reuse detection finds a token's child by it.
ALTER TABLE outstanding_tokens ADD COLUMN parent_jti VARCHAR(255) NULL;

-- Revoking a session blacklists its tokens; the live token of a session is found by it.
CREATE INDEX outstanding_tokens_session_id_idx ON outstanding_tokens (session_id);
-- A replayed parent finds its child.
CREATE INDEX outstanding_tokens_parent_jti_idx ON outstanding_tokens (parent_jti);

-- Existing outstanding rows become one session each (revoked if the token was blacklisted), so
-- the session list and logout work for logins made before this migration.
UPDATE outstanding_tokens SET session_id = replace(gen_random_uuid()::text, '-', '');
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at)
SELECT o.session_id, o.user_id, COALESCE(o.created_at, o.expires_at), COALESCE(o.created_at, o.expires_at),
       o.expires_at, b.blacklisted_at
FROM outstanding_tokens o LEFT JOIN blacklisted_tokens b ON b.token_id = o.id;

ALTER TABLE outstanding_tokens ADD CONSTRAINT outstanding_tokens_session_id_fkey
    FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE;

-- SimpleJWT's token_blacklist app: one row per issued refresh token, one per blacklisting.
CREATE TABLE outstanding_tokens (
    -- AUTOINCREMENT: ids are never reused, so a blacklist row can never point at a newer token.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The JWT's jti claim (uuid4 hex). Unlike SimpleJWT there is no `token` column holding the
    -- encoded JWT: a leaked table must not yield live refresh tokens.
    jti TEXT NOT NULL CONSTRAINT outstanding_tokens_jti_unique UNIQUE
        CONSTRAINT outstanding_tokens_jti_length_check CHECK (length(jti) <= 255),
    -- SET NULL (Django does it in the ORM, we do it in the database; the pool turns on
    -- PRAGMA foreign_keys): deleting a user keeps its tokens' rows, and blacklisting a token of
    -- a deleted user still works.
    user_id INTEGER NULL CONSTRAINT outstanding_tokens_user_id_fkey
        REFERENCES users (id) ON DELETE SET NULL,
    -- The token's iat; nullable like SimpleJWT's, for rows imported from Django.
    created_at TEXT NULL,
    -- The token's exp, as RFC 3339 text in UTC (see users.date_joined). The fixed '+00:00' offset
    -- makes text order equal time order ('+' sorts before '.' and the digits, so a value without
    -- a fraction sorts before the same second with one), which is what `expires_at <= ?` relies
    -- on; the CHECK refuses any other shape.
    expires_at TEXT NOT NULL CONSTRAINT outstanding_tokens_expires_at_utc_check
        CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*+00:00')
) STRICT;

-- For ON DELETE SET NULL, which otherwise scans the table on every user deletion.
CREATE INDEX outstanding_tokens_user_id_idx ON outstanding_tokens (user_id);
-- For flush_expired_tokens (expires_at <= now).
CREATE INDEX outstanding_tokens_expires_at_idx ON outstanding_tokens (expires_at);

CREATE TABLE blacklisted_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Unique: a token is blacklisted at most once; concurrent rotations of the same refresh token
    -- race on this constraint and exactly one wins. CASCADE: flushing an expired outstanding row
    -- takes its blacklist row with it (an expired token is rejected anyway).
    token_id INTEGER NOT NULL CONSTRAINT blacklisted_tokens_token_id_unique UNIQUE
        CONSTRAINT blacklisted_tokens_token_id_fkey
        REFERENCES outstanding_tokens (id) ON DELETE CASCADE,
    blacklisted_at TEXT NOT NULL
) STRICT;

-- Abuse-protection counters every instance shares: failed logins per account (and per account +
-- client), e-mails per recipient and kind, per address, and across the whole deployment. Each
-- request changes its counter with one INSERT ... ON CONFLICT DO UPDATE, so concurrent requests on
-- any number of instances never lose a count (no read-modify-write in the application).
CREATE TABLE throttle_counters (
    -- What is counted, by prefix: 'login:<address key>', 'login_client:<address key>|<client>',
    -- 'mail:<kind>:<address key>', 'mail_address:<address key>', 'mail_global'. An address key
    -- longer than 254 characters (only a login attempt can send one) is stored as its SHA-256, so
    -- 400 characters always suffice.
    key VARCHAR(400) CONSTRAINT throttle_counters_pkey PRIMARY KEY,
    -- Hits in the current window (attempts for a login key).
    hits BIGINT NOT NULL,
    -- Times are Unix milliseconds, not TIMESTAMPTZ: the counting statements are then the same SQL
    -- text on PostgreSQL and SQLite (plain integer arithmetic), with no interval syntax.
    -- When the count starts again from zero; the housekeeping task deletes rows past it.
    window_ends_ms BIGINT NOT NULL,
    -- A login key's backoff: no password is checked for the account before this (0 = none).
    -- Never more than throttle.max_lockout after the last attempt, so no lock is permanent.
    blocked_until_ms BIGINT NOT NULL DEFAULT 0
);

-- The housekeeping purge (window over and no backoff running).
CREATE INDEX throttle_counters_window_ends_idx ON throttle_counters (window_ends_ms);

-- Requests for a link e-mail (reset_password, reset_email, resend_activation) as the client sent
-- them, whether or not the address belongs to an account: the request does the same work for
-- known and unknown addresses (one insert), and the outbox worker looks for the account, so the
-- answer's timing says nothing about which addresses exist.
CREATE TABLE mail_requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY CONSTRAINT mail_requests_pkey PRIMARY KEY,
    -- The e-mail kind (password_reset, username_reset, activation).
    kind VARCHAR(64) NOT NULL,
    -- The lower-cased address the client sent (users.email_key's form); never the stored address,
    -- which the worker reads from the account it finds.
    email_key VARCHAR(254) NOT NULL,
    -- Which accounts qualify: active ones for the resets, inactive ones for resend_activation.
    -- Accounts with an unusable password never do (Djoser's rule).
    want_active BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

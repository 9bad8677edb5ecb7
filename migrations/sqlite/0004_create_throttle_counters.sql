-- Abuse-protection counters (see migrations/postgres/0004): failed logins per account (and per
-- account + client), e-mails per recipient and kind, per address, and in total. Each request
-- changes its counter with one INSERT ... ON CONFLICT DO UPDATE; SQLite serialises writers.
CREATE TABLE throttle_counters (
    -- 'login:<address key>', 'login_client:<address key>|<client>', 'mail:<kind>:<address key>',
    -- 'mail_address:<address key>', 'mail_global'; over-long address keys are stored as SHA-256.
    key TEXT NOT NULL CONSTRAINT throttle_counters_pkey PRIMARY KEY
        CONSTRAINT throttle_counters_key_length_check CHECK (length(key) <= 400),
    hits INTEGER NOT NULL,
    -- Unix milliseconds (not RFC 3339 text as elsewhere): the counting SQL is the same text on
    -- both databases. When the count starts again from zero.
    window_ends_ms INTEGER NOT NULL,
    -- A login key's backoff end (0 = none), at most throttle.max_lockout after the last attempt.
    blocked_until_ms INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- The housekeeping purge.
CREATE INDEX throttle_counters_window_ends_idx ON throttle_counters (window_ends_ms);

-- Link e-mail requests as the client sent them, known address or not (see migrations/postgres/0004):
-- the outbox worker finds the account, so known and unknown addresses cost the request the same.
CREATE TABLE mail_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CONSTRAINT mail_requests_kind_length_check CHECK (length(kind) <= 64),
    email_key TEXT NOT NULL CONSTRAINT mail_requests_email_key_length_check CHECK (length(email_key) <= 254),
    -- 1: active accounts qualify (resets); 0: inactive ones (resend_activation).
    want_active INTEGER NOT NULL CONSTRAINT mail_requests_want_active_check CHECK (want_active IN (0, 1)),
    -- RFC 3339 text in UTC, as sqlx writes it.
    created_at TEXT NOT NULL
) STRICT;

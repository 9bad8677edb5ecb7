-- The durable e-mail outbox: every e-mail a request promises is inserted here in the same
-- transaction as the state change that causes it, and a worker delivers it with retries.
CREATE TABLE email_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The template name (activation, password_reset, ...).
    kind TEXT NOT NULL CONSTRAINT email_outbox_kind_length_check CHECK (length(kind) <= 64),
    -- The user the mail is about. Links are minted at delivery time from the user's current
    -- state, so no live token is ever stored here. CASCADE: a deleted user's mail is not sent.
    user_id INTEGER NOT NULL CONSTRAINT email_outbox_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    -- The address as stored when the mail was queued (never the string a client sent).
    recipient TEXT NOT NULL CONSTRAINT email_outbox_recipient_length_check CHECK (length(recipient) <= 254),
    status TEXT NOT NULL CONSTRAINT email_outbox_status_check
        CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When a pending row is due; for a 'sending' row, when its claim lapses. RFC 3339 text in UTC
    -- as sqlx writes it (see outstanding_tokens.expires_at): text order is time order.
    next_attempt_at TEXT NOT NULL CONSTRAINT email_outbox_next_attempt_at_utc_check
        CHECK (next_attempt_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*+00:00'),
    last_error TEXT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT NULL
) STRICT;

-- The worker's claim query: due rows only.
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
-- For ON DELETE CASCADE.
CREATE INDEX email_outbox_user_id_idx ON email_outbox (user_id);

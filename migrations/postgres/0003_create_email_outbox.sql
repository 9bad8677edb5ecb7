-- The durable e-mail outbox: every e-mail a request promises is inserted here in the same
-- transaction as the state change that causes it, and a worker delivers it with retries.
CREATE TABLE email_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY CONSTRAINT email_outbox_pkey PRIMARY KEY,
    -- The template name (activation, password_reset, ...).
    kind VARCHAR(64) NOT NULL,
    -- The user the mail is about. Links are minted at delivery time from the user's current
    -- state, so no live token is ever stored here. CASCADE: a deleted user's mail is not sent.
    user_id BIGINT NOT NULL CONSTRAINT email_outbox_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    -- The address as stored when the mail was queued (never the string a client sent).
    recipient VARCHAR(254) NOT NULL,
    status VARCHAR(16) NOT NULL CONSTRAINT email_outbox_status_check
        CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When a pending row is due; for a 'sending' row, when its claim lapses (a worker that died
    -- mid-delivery leaves it to be claimed again).
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error TEXT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ NULL
);

-- The worker's claim query: due rows only.
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
-- For ON DELETE CASCADE.
CREATE INDEX email_outbox_user_id_idx ON email_outbox (user_id);

-- Suspension and e-mail changes waiting for proof (issue 18).

-- When an operator suspended the account (`imhotep users deactivate`/`suspend`); NULL when not
-- suspended. Separate from is_active, which Djoser also uses for "not activated yet": activation,
-- resend_activation and login never clear this column, only `imhotep users activate` does. A
-- timestamp rather than a flag so that `users show` can say since when; text as sqlx encodes
-- DateTime<Utc> (see 0001).
ALTER TABLE users ADD COLUMN suspended_at TEXT NULL;

-- The address `set_email` asked for and whose confirmation link is out
-- (`djoser.set_email_requires_confirmation`). Not unique: two accounts may wait for one address;
-- the first confirmation takes it through users_email_key_unique and the other is refused then.
-- Same limit as `email`, which it replaces on confirmation.
ALTER TABLE users ADD COLUMN pending_email TEXT NULL
    CONSTRAINT users_pending_email_length_check CHECK (length(pending_email) <= 254);

-- Accounts deactivated before this migration: an inactive account that has logged in was
-- activated once, so an operator (or Django's admin) turned it off; mark it suspended so that a
-- resent activation link cannot turn it back on. Inactive accounts that never logged in cannot
-- be told apart from ones still waiting for activation and stay as they are (README, upgrading).
-- The format is the one sqlx writes (RFC 3339, '+00:00'), so the column decodes like the others.
UPDATE users SET suspended_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
WHERE is_active = 0 AND last_login IS NOT NULL;

//! The statements of two-factor login, written once for both databases (`store::sql::mfa` runs
//! them). Times that SQL compares are Unix milliseconds; timestamps are bound from Rust and only
//! compared with NULL.

/// A user's factors, oldest first: `$1` user.
pub(super) const FACTORS: &str = "SELECT id, kind, secret, created_at, confirmed_at, last_step \
     FROM mfa_factors WHERE user_id = $1 ORDER BY created_at, id";

/// How many confirmed factors a user has: `$1` user.
pub(super) const ACTIVE_FACTORS: &str =
    "SELECT count(*) FROM mfa_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL";

/// Enrolment keeps one pending factor per user: `$1` user.
pub(super) const DELETE_PENDING: &str = "DELETE FROM mfa_factors WHERE user_id = $1 AND confirmed_at IS NULL";

/// A pending factor: `$1` id, `$2` user, `$3` sealed secret, `$4` now.
pub(super) const INSERT_FACTOR: &str =
    "INSERT INTO mfa_factors (id, user_id, kind, secret, created_at) VALUES ($1, $2, 'totp', $3, $4)";

/// Activates a pending factor with the step of its first code: `$1` id, `$2` user, `$3` now, `$4` step.
pub(super) const CONFIRM_FACTOR: &str = "UPDATE mfa_factors SET confirmed_at = $3, last_step = $4 \
     WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL";

/// Spends time step `$3` of an active factor (`$1` id, `$2` user): changes nothing when that step
/// or a later one was already used, so one code passes once.
pub(super) const SPEND_STEP: &str = "UPDATE mfa_factors SET last_step = $3 \
     WHERE id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $3";

/// `$1` id, `$2` user.
pub(super) const DELETE_FACTOR: &str = "DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2";

/// Every factor of user `$1`.
pub(super) const DELETE_FACTORS: &str = "DELETE FROM mfa_factors WHERE user_id = $1";

/// Recovery codes of user `$1` once no confirmed factor is left (they would unlock nothing, and a
/// new enrolment issues new ones).
pub(super) const DELETE_ORPHAN_CODES: &str = "DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND NOT EXISTS \
     (SELECT 1 FROM mfa_factors WHERE mfa_factors.user_id = $1 AND confirmed_at IS NOT NULL)";

/// Every recovery code of user `$1`.
pub(super) const DELETE_CODES: &str = "DELETE FROM mfa_recovery_codes WHERE user_id = $1";

/// `$1` user, `$2` code hash.
pub(super) const INSERT_CODE: &str = "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)";

/// Uses a recovery code once: `$1` user, `$2` code hash, `$3` now.
pub(super) const USE_CODE: &str = "UPDATE mfa_recovery_codes SET used_at = $3 \
     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";

/// Unused recovery codes of user `$1`.
pub(super) const CODES_LEFT: &str = "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL";

/// `$1` ticket hash, `$2` user, `$3` purpose, `$4` expiry (ms).
pub(super) const INSERT_TICKET: &str =
    "INSERT INTO mfa_tickets (ticket_hash, user_id, purpose, expires_ms) VALUES ($1, $2, $3, $4)";

/// The user of a live ticket: `$1` hash, `$2` purpose, `$3` now (ms), `$4` failures that burn it.
pub(super) const TICKET_USER: &str = "SELECT user_id FROM mfa_tickets \
     WHERE ticket_hash = $1 AND purpose = $2 AND expires_ms > $3 AND failures < $4";

/// Counts a wrong code against ticket `$1`.
pub(super) const TICKET_FAILED: &str = "UPDATE mfa_tickets SET failures = failures + 1 WHERE ticket_hash = $1";

/// Spends a live ticket (same parameters as [`TICKET_USER`]): of two requests, one deletes it.
pub(super) const USE_TICKET: &str = "DELETE FROM mfa_tickets \
     WHERE ticket_hash = $1 AND purpose = $2 AND expires_ms > $3 AND failures < $4";

/// Every ticket of user `$1`.
pub(super) const DELETE_TICKETS: &str = "DELETE FROM mfa_tickets WHERE user_id = $1";

/// Tickets expired at `$1` (ms).
pub(super) const PURGE_TICKETS: &str = "DELETE FROM mfa_tickets WHERE expires_ms <= $1";

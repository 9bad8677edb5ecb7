//! Two-factor login's rows (`mfa_factors`, `mfa_recovery_codes`, `mfa_tickets`) and the store
//! functions over them. The SQL is in `mfa_sql`, once for both databases. Secrets arrive sealed
//! and codes and tickets hashed: the store never sees a usable credential.

use chrono::{DateTime, Utc};

use super::models::{QueuedMail, UserId};
use super::{Store, StoreError};

/// A row of `mfa_factors`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MfaFactor {
    pub id: String,
    /// `totp`.
    pub kind: String,
    /// The sealed seed (see `auth::mfa::sealing`).
    pub secret: String,
    pub created_at: DateTime<Utc>,
    /// `None` while the enrolment waits for its first code.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last time step a code was accepted for (-1: none).
    pub last_step: i64,
}

/// What a ticket allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketPurpose {
    /// Finish a login with a code (`jwt/create/mfa/`).
    Login,
    /// Enrol a first factor, for staff who must have one (`djoser.mfa_required_for_staff`).
    Enrol,
}

impl TicketPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketPurpose::Login => "login",
            TicketPurpose::Enrol => "enrol",
        }
    }
}

/// A ticket to record.
#[derive(Debug, Clone, Copy)]
pub struct NewTicket<'a> {
    pub hash: &'a str,
    pub user_id: i64,
    pub purpose: TicketPurpose,
    pub expires_ms: i64,
}

/// A ticket as presented: found only while live (not expired, fewer than `max_failures` wrong codes).
#[derive(Debug, Clone, Copy)]
pub struct TicketLookup<'a> {
    pub hash: &'a str,
    pub purpose: TicketPurpose,
    pub now_ms: i64,
    pub max_failures: i64,
}

impl Store {
    /// A user's factors, pending ones included, oldest first.
    pub async fn mfa_factors(&self, user_id: i64) -> Result<Vec<MfaFactor>, StoreError> {
        delegate!(self, mfa_factors(user_id))
    }

    /// How many confirmed factors the user has (0: login asks for no code).
    pub async fn mfa_active_factors(&self, user_id: i64) -> Result<i64, StoreError> {
        delegate!(self, mfa_active_factors(user_id))
    }

    /// Records a pending factor, replacing the user's other pending one if any.
    pub async fn mfa_start_factor(&self, user_id: i64, id: &str, sealed: &str) -> Result<(), StoreError> {
        delegate!(self, mfa_start_factor(user_id, id, sealed))
    }

    /// Activates a pending factor whose first code was of time `step`, replaces the user's recovery
    /// codes and queues `mails`, in one transaction; `false` when no such pending factor exists.
    pub async fn mfa_confirm_factor(
        &self,
        user_id: UserId,
        id: &str,
        step: i64,
        code_hashes: &[String],
        mails: &[QueuedMail],
    ) -> Result<bool, StoreError> {
        delegate!(self, mfa_confirm_factor(user_id, id, step, code_hashes, mails))
    }

    /// Spends time step `step` of an active factor: `false` when it (or a later one) was spent.
    pub async fn mfa_spend_step(&self, user_id: UserId, id: &str, step: i64) -> Result<bool, StoreError> {
        delegate!(self, mfa_spend_step(user_id, id, step))
    }

    /// Deletes one of the user's factors (and the recovery codes, when no active factor is left)
    /// and queues `mails`; `false` when the user has no such factor.
    pub async fn mfa_delete_factor(&self, user_id: i64, id: &str, mails: &[QueuedMail]) -> Result<bool, StoreError> {
        delegate!(self, mfa_delete_factor(user_id, id, mails))
    }

    /// Deletes all of a user's factors, recovery codes and tickets (`imhotep users mfa-reset`);
    /// queues `mails` when there were factors. Returns how many factors went.
    pub async fn mfa_reset(&self, user_id: i64, mails: &[QueuedMail]) -> Result<u64, StoreError> {
        delegate!(self, mfa_reset(user_id, mails))
    }

    /// Replaces the user's recovery codes and queues `mails`, in one transaction.
    pub async fn mfa_replace_codes(
        &self,
        user_id: i64,
        code_hashes: &[String],
        mails: &[QueuedMail],
    ) -> Result<(), StoreError> {
        delegate!(self, mfa_replace_codes(user_id, code_hashes, mails))
    }

    /// Uses an unused recovery code once and queues `mails`; `false` when there is none such.
    pub async fn mfa_use_code(&self, user_id: i64, hash: &str, mails: &[QueuedMail]) -> Result<bool, StoreError> {
        delegate!(self, mfa_use_code(user_id, hash, mails))
    }

    /// The user's unused recovery codes.
    pub async fn mfa_codes_left(&self, user_id: i64) -> Result<i64, StoreError> {
        delegate!(self, mfa_codes_left(user_id))
    }

    pub async fn mfa_insert_ticket(&self, ticket: &NewTicket<'_>) -> Result<(), StoreError> {
        delegate!(self, mfa_insert_ticket(ticket))
    }

    /// The user of a live ticket.
    pub async fn mfa_ticket_user(&self, lookup: &TicketLookup<'_>) -> Result<Option<i64>, StoreError> {
        delegate!(self, mfa_ticket_user(lookup))
    }

    /// Counts a wrong code against a ticket.
    pub async fn mfa_ticket_failed(&self, hash: &str) -> Result<(), StoreError> {
        delegate!(self, mfa_ticket_failed(hash))
    }

    /// Spends a live ticket: `true` for exactly one of any number of concurrent callers.
    pub async fn mfa_use_ticket(&self, lookup: &TicketLookup<'_>) -> Result<bool, StoreError> {
        delegate!(self, mfa_use_ticket(lookup))
    }

    /// Deletes tickets expired at `now_ms` (housekeeping).
    pub async fn mfa_purge_tickets(&self, now_ms: i64) -> Result<u64, StoreError> {
        delegate!(self, mfa_purge_tickets(now_ms))
    }
}

//! Two-factor login with TOTP and recovery codes: enrolment, the second step of a login (tickets),
//! and the checks every change needs. Users without a confirmed factor never meet any of it.
//!
//! A code is checked under the account's code backoff (`Limits::begin_code_check`), a TOTP code
//! spends its time step (no replay within its window) and a recovery code is used up, each by one
//! conditional write in the store, so concurrent requests and several instances agree. Every
//! change queues an e-mail to the account in the change's own transaction.

pub mod codes;
pub mod sealing;
pub mod totp;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::AuthError;
use super::limits::Limits;
use super::notify::queued;
use crate::mail::EmailKind;
use crate::metrics::{EmailOutcome, Metrics};
use crate::store::Store;
use crate::store::mfa::{MfaFactor, NewTicket, TicketLookup, TicketPurpose};
use crate::store::models::User;
use codes::{new_recovery_codes, new_ticket, normalise_recovery_code, normalise_totp_code, ticket_hash};
use sealing::MfaKeys;

/// Wrong codes that burn a ticket.
pub const TICKET_FAILURES: i64 = 5;

/// The methods a login ticket may be finished with, as `jwt/create/` lists them.
pub const METHODS: [&str; 2] = ["totp", "recovery_code"];

/// A second factor as offered to a check: a TOTP code or a recovery code, as typed.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
}

impl Proof<'_> {
    /// The request field the proof came in, for the error that refuses it.
    pub fn field(&self) -> &'static str {
        match self {
            Proof::Totp(_) => "code",
            Proof::RecoveryCode(_) => "recovery_code",
        }
    }
}

/// What a right password leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// No factor and none required: tokens as usual.
    None,
    /// A code is due: finish with `jwt/create/mfa/` and this ticket.
    Code { ticket: String },
    /// A staff account without a factor under `djoser.mfa_required_for_staff`: enrol one with this ticket.
    Enrol { ticket: String },
}

/// A new pending factor: everything an authenticator app needs, shown once.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub id: String,
    /// The seed in base32, for typing in by hand.
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// A factor as its owner may see it (never its seed).
#[derive(Debug, Clone)]
pub struct FactorView {
    pub id: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// What two-factor login needs from the configuration.
#[derive(Debug, Clone)]
pub struct MfaOptions {
    /// `mfa.encryption_key`, else `SECRET_KEY`.
    pub key_material: Vec<u8>,
    /// The issuer shown by authenticator apps.
    pub issuer: String,
    pub ticket_lifetime: Duration,
    /// `djoser.mfa_required_for_staff`.
    pub required_for_staff: bool,
}

/// The two-factor service (cheap to clone).
#[derive(Clone)]
pub struct Mfa {
    store: Store,
    keys: MfaKeys,
    limits: Limits,
    issuer: Arc<str>,
    ticket_lifetime: Duration,
    required_for_staff: bool,
    outbox_bell: Arc<Notify>,
    metrics: Metrics,
}

impl Mfa {
    pub fn new(store: Store, options: &MfaOptions, limits: Limits, outbox_bell: Arc<Notify>, metrics: Metrics) -> Self {
        Self {
            store,
            keys: MfaKeys::derive(&options.key_material),
            limits,
            issuer: options.issuer.as_str().into(),
            ticket_lifetime: options.ticket_lifetime,
            required_for_staff: options.required_for_staff,
            outbox_bell,
            metrics,
        }
    }

    /// Whether `user` must enrol a second factor before any token is issued (staff, when
    /// `[mfa] required_for_staff` is on), whatever factors they have.
    pub fn enrolment_due(&self, user: &User) -> bool {
        self.required_for_staff && user.is_staff
    }

    /// After a right password: whether tokens may be issued now or a second step is due.
    pub async fn challenge(&self, user: &User) -> Result<Challenge, AuthError> {
        if self.store.mfa_active_factors(user.id).await? > 0 {
            let ticket = self.issue_ticket(user.id, TicketPurpose::Login).await?;
            return Ok(Challenge::Code { ticket });
        }
        if self.enrolment_due(user) {
            let ticket = self.issue_ticket(user.id, TicketPurpose::Enrol).await?;
            return Ok(Challenge::Enrol { ticket });
        }
        Ok(Challenge::None)
    }

    async fn issue_ticket(&self, user_id: i64, purpose: TicketPurpose) -> Result<String, AuthError> {
        let (ticket, hash) = new_ticket().map_err(random_failed)?;
        let lifetime = i64::try_from(self.ticket_lifetime.as_millis()).unwrap_or(i64::MAX / 4);
        let ticket_row = NewTicket {
            hash: &hash,
            user_id,
            purpose,
            expires_ms: now_ms().saturating_add(lifetime),
        };
        self.store.mfa_insert_ticket(&ticket_row).await?;
        Ok(ticket)
    }

    /// `jwt/create/mfa/`: the user of a live login ticket whose code is right. The ticket is spent
    /// by the right code; each wrong one counts against it (five burn it) and against the account.
    pub async fn finish_login(&self, ticket: &str, proof: Proof<'_>, client: IpAddr) -> Result<User, AuthError> {
        let hash = ticket_hash(ticket);
        let lookup = self.lookup(&hash, TicketPurpose::Login);
        let user = self.ticket_user(&lookup).await?;
        if !self.verify(&user, proof, client).await? {
            self.store.mfa_ticket_failed(&hash).await?;
            return Err(AuthError::InvalidCode(proof.field()));
        }
        if !self.store.mfa_use_ticket(&lookup).await? {
            return Err(AuthError::InvalidTicket);
        }
        Ok(user)
    }

    /// The user an enrolment ticket was issued to, while it is live.
    pub async fn enrolment_user(&self, ticket: &str) -> Result<User, AuthError> {
        let hash = ticket_hash(ticket);
        self.ticket_user(&self.lookup(&hash, TicketPurpose::Enrol)).await
    }

    /// Spends an enrolment ticket once its factor is confirmed; `false` if another request did first.
    pub async fn spend_enrolment(&self, ticket: &str) -> Result<bool, AuthError> {
        let hash = ticket_hash(ticket);
        Ok(self
            .store
            .mfa_use_ticket(&self.lookup(&hash, TicketPurpose::Enrol))
            .await?)
    }

    fn lookup<'a>(&self, hash: &'a str, purpose: TicketPurpose) -> TicketLookup<'a> {
        TicketLookup {
            hash,
            purpose,
            now_ms: now_ms(),
            max_failures: TICKET_FAILURES,
        }
    }

    async fn ticket_user(&self, lookup: &TicketLookup<'_>) -> Result<User, AuthError> {
        let id = self
            .store
            .mfa_ticket_user(lookup)
            .await?
            .ok_or(AuthError::InvalidTicket)?;
        let user = self.store.user_by_id(id).await?.ok_or(AuthError::InvalidTicket)?;
        if !user.is_active || user.is_suspended() {
            return Err(AuthError::InvalidTicket);
        }
        Ok(user)
    }

    /// `POST mfa/totp/`: a new pending factor (replacing an unconfirmed one).
    pub async fn enrol(&self, user: &User) -> Result<Enrolment, AuthError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let seed = totp::new_seed().map_err(random_failed)?;
        let sealed = self
            .keys
            .seal(&seed, user.id, &id)
            .map_err(|_| AuthError::Crypto("sealing a TOTP seed failed"))?;
        self.store.mfa_start_factor(user.id, &id, &sealed).await?;
        let otpauth_url = totp::otpauth_url(&seed, &self.issuer, &user.email);
        Ok(Enrolment {
            id,
            secret: totp::base32(&seed),
            qr_svg: totp::qr_svg(&otpauth_url),
            otpauth_url,
        })
    }

    /// `POST mfa/totp/{id}/confirm/`: the first code of a pending factor makes it active and issues
    /// fresh recovery codes (returned once, stored hashed).
    pub async fn confirm(
        &self,
        user: &User,
        factor_id: &str,
        code: &str,
        client: IpAddr,
    ) -> Result<Vec<String>, AuthError> {
        let factor = self
            .store
            .mfa_factors(user.id)
            .await?
            .into_iter()
            .find(|f| f.id == factor_id && f.confirmed_at.is_none())
            .ok_or(AuthError::FactorNotFound)?;
        self.limits.begin_code_check(&user.email, client).await?;
        let step = self.matching_step(user, &factor, code);
        self.limits.end_code_check(&user.email, step.is_some()).await?;
        let step = step.ok_or(AuthError::InvalidCode("code"))?;
        let (codes, hashes) = self.recovery_codes()?;
        let mails = [queued(EmailKind::MfaFactorAdded, &user.email)];
        if !self
            .store
            .mfa_confirm_factor(user.user_id(), factor_id, step, &hashes, &mails)
            .await?
        {
            return Err(AuthError::FactorNotFound);
        }
        self.ring();
        tracing::info!(user_id = user.id, factor = factor_id, "second factor enrolled");
        Ok(codes)
    }

    /// `GET mfa/factors/`.
    pub async fn factors(&self, user: &User) -> Result<Vec<FactorView>, AuthError> {
        Ok(self
            .store
            .mfa_factors(user.id)
            .await?
            .into_iter()
            .map(|f| FactorView {
                id: f.id,
                kind: f.kind,
                created_at: f.created_at,
                confirmed_at: f.confirmed_at,
            })
            .collect())
    }

    /// Whether the user has a confirmed factor (so changes need a code too).
    pub async fn is_enrolled(&self, user: &User) -> Result<bool, AuthError> {
        Ok(self.store.mfa_active_factors(user.id).await? > 0)
    }

    /// `DELETE mfa/factors/{id}/` once the caller's password (and code, see [`Mfa::require`]) passed.
    pub async fn remove(&self, user: &User, factor_id: &str) -> Result<(), AuthError> {
        let mails = [queued(EmailKind::MfaFactorRemoved, &user.email)];
        if !self.store.mfa_delete_factor(user.id, factor_id, &mails).await? {
            return Err(AuthError::FactorNotFound);
        }
        self.ring();
        tracing::info!(user_id = user.id, factor = factor_id, "second factor removed");
        Ok(())
    }

    /// `POST mfa/recovery_codes/` once the caller's password and code passed: ten new codes, the old ones void.
    pub async fn regenerate_codes(&self, user: &User) -> Result<Vec<String>, AuthError> {
        let (codes, hashes) = self.recovery_codes()?;
        let mails = [queued(EmailKind::MfaRecoveryCodesRegenerated, &user.email)];
        self.store.mfa_replace_codes(user.id, &hashes, &mails).await?;
        self.ring();
        Ok(codes)
    }

    /// `imhotep users mfa-reset`: removes every factor, recovery code and ticket; how many factors went.
    pub async fn reset(&self, user: &User) -> Result<u64, AuthError> {
        let mails = [queued(EmailKind::MfaFactorRemoved, &user.email)];
        let removed = self.store.mfa_reset(user.id, &mails).await?;
        if removed > 0 {
            self.ring();
        }
        Ok(removed)
    }

    /// A change of an enrolled account needs a fresh code: `None` is refused as a missing field.
    pub async fn require(&self, user: &User, proof: Option<Proof<'_>>, client: IpAddr) -> Result<(), AuthError> {
        let Some(proof) = proof else {
            return Err(AuthError::CodeRequired);
        };
        if self.verify(user, proof, client).await? {
            Ok(())
        } else {
            Err(AuthError::InvalidCode(proof.field()))
        }
    }

    /// Checks a proof under the account's code backoff; a right TOTP code spends its step, a right
    /// recovery code is used up (and its owner told).
    async fn verify(&self, user: &User, proof: Proof<'_>, client: IpAddr) -> Result<bool, AuthError> {
        self.limits.begin_code_check(&user.email, client).await?;
        let right = match proof {
            Proof::Totp(code) => self.spend_totp(user, code).await?,
            Proof::RecoveryCode(code) => self.use_recovery_code(user, code).await?,
        };
        self.limits.end_code_check(&user.email, right).await?;
        Ok(right)
    }

    async fn spend_totp(&self, user: &User, code: &str) -> Result<bool, AuthError> {
        for factor in self.store.mfa_factors(user.id).await? {
            if factor.confirmed_at.is_none() {
                continue;
            }
            if let Some(step) = self.matching_step(user, &factor, code)
                && self.store.mfa_spend_step(user.user_id(), &factor.id, step).await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The time step `code` is right for, checked against the factor's seed (now ± one step).
    fn matching_step(&self, user: &User, factor: &MfaFactor, code: &str) -> Option<i64> {
        let code = normalise_totp_code(code)?;
        let Some(seed) = self.keys.open(&factor.secret, user.id, &factor.id) else {
            tracing::error!(
                user_id = user.id,
                factor = %factor.id,
                "a TOTP seed does not decrypt: was SECRET_KEY or mfa.encryption_key changed?"
            );
            return None;
        };
        totp::matching_step(&seed, &code, Utc::now().timestamp())
    }

    async fn use_recovery_code(&self, user: &User, code: &str) -> Result<bool, AuthError> {
        let Some(code) = normalise_recovery_code(code) else {
            return Ok(false);
        };
        let hash = self.keys.code_hash(&code);
        let mails = [queued(EmailKind::MfaRecoveryCodeUsed, &user.email)];
        let used = self.store.mfa_use_code(user.id, &hash, &mails).await?;
        if used {
            self.ring();
            tracing::info!(user_id = user.id, "recovery code used");
        }
        Ok(used)
    }

    fn recovery_codes(&self) -> Result<(Vec<String>, Vec<String>), AuthError> {
        let codes = new_recovery_codes().map_err(random_failed)?;
        let hashes = codes
            .iter()
            .filter_map(|code| normalise_recovery_code(code))
            .map(|code| self.keys.code_hash(&code))
            .collect();
        Ok((codes, hashes))
    }

    fn ring(&self) {
        self.metrics.emails(EmailOutcome::Queued, 1);
        self.outbox_bell.notify_one();
    }
}

fn random_failed(_: getrandom::Error) -> AuthError {
    AuthError::Crypto("the system's random source failed")
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

//! Accounts: registration, activation, credentials, and the Djoser account flows (password and
//! e-mail change and reset, deletion). Every e-mail a change promises is queued in the change's
//! own transaction; the outbox worker delivers it.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Notify;

use super::AuthError;
use super::email::{Email, key_for};
use super::limits::{Limits, MailPermit, PasswordCounters};
use super::links::{LinkTokens, Purpose, decode_uid};
use super::notify::queued;
use super::password::{Password, PasswordHasher, PasswordPolicy, UserAttributes, Verification};
use crate::config::{DjoserSettings, SessionSettings};
use crate::mail::EmailKind;
use crate::metrics::{EmailOutcome, Metrics};
use crate::store::models::{EmailChange, NewUser, PasswordChange, ProfileChange, QueuedMail, User};
use crate::store::{Store, StoreError};

/// What a new account may do from the start.
#[derive(Debug, Clone, Copy)]
struct Standing {
    /// Can log in at once (no activation e-mail pending).
    active: bool,
    /// Staff and superuser (`createsuperuser`).
    superuser: bool,
}

/// A right password for an account that may log in ([`Accounts::authenticate`]). Its account's
/// failure counters still stand: the login forgets them as it starts its session
/// (`Sessions::login_after_password`), or with [`Accounts::forget_failures`].
#[derive(Debug)]
pub struct AcceptedPassword {
    pub user: User,
    pub counters: PasswordCounters,
}

/// Registration, activation, login checks and the account flows.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    links: LinkTokens,
    djoser: Arc<DjoserSettings>,
    sessions: SessionSettings,
    outbox_bell: Arc<Notify>,
    limits: Limits,
    metrics: Metrics,
}

impl Accounts {
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        links: LinkTokens,
        settings: (&DjoserSettings, &SessionSettings),
        outbox_bell: Arc<Notify>,
        limits: Limits,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            hasher,
            policy: PasswordPolicy::default(),
            links,
            djoser: Arc::new(settings.0.clone()),
            sessions: settings.1.clone(),
            outbox_bell,
            limits,
            metrics,
        }
    }

    /// Password hashes waiting for a free hashing slot (for `/metrics`).
    pub fn hash_queue_depth(&self) -> usize {
        self.hasher.queue_depth()
    }

    /// Whether password hashing turned requests away within `within` or is full now (for `/readyz`).
    pub fn hashing_saturated(&self, within: std::time::Duration) -> bool {
        self.hasher.saturated(within)
    }

    /// Whether an account with this address exists (case-insensitively).
    pub async fn email_taken(&self, email: &Email) -> Result<bool, AuthError> {
        Ok(self.store.email_exists(email.key()).await?)
    }

    /// Django's password validators against the attributes of a (possibly unsaved) user.
    pub fn password_problems(&self, password: &Password, user: Option<&UserAttributes<'_>>) -> Vec<String> {
        self.policy.validate(password.expose(), user)
    }

    /// The validators against a stored user.
    pub fn password_problems_for(&self, password: &Password, user: &User) -> Vec<String> {
        let attributes = UserAttributes {
            username: &user.username,
            first_name: &user.first_name,
            last_name: &user.last_name,
            email: &user.email,
        };
        self.policy.validate(password.expose(), Some(&attributes))
    }

    /// Creates the account (inactive when activation e-mails are on) with the e-mail Djoser sends.
    /// `profile` holds the `required_fields` values sent at registration.
    pub async fn register(
        &self,
        email: &Email,
        password: &Password,
        profile: &ProfileChange,
    ) -> Result<User, AuthError> {
        let kind = if self.djoser.send_activation_email {
            Some(EmailKind::Activation)
        } else if self.djoser.send_confirmation_email {
            Some(EmailKind::Confirmation)
        } else {
            None
        };
        let mails: Vec<QueuedMail> = kind.map(|k| queued(k, email.as_str())).into_iter().collect();
        let user = self
            .create(
                email,
                password,
                Standing {
                    active: !self.djoser.send_activation_email,
                    superuser: false,
                },
                profile,
                &mails,
            )
            .await?;
        self.ring(mails.len());
        Ok(user)
    }

    /// `djoser.registration_hides_existing`: registers like [`Accounts::register`], but a taken
    /// address gets the answer of a new account (a fresh id no account will ever have, inactive) and
    /// its owner a notice instead; the same password hash was computed either way. The notice is
    /// spaced like any e-mail to that address, silently (a new address is never refused either).
    pub async fn register_hiding_existing(
        &self,
        email: &Email,
        password: &Password,
        profile: &ProfileChange,
        client: IpAddr,
    ) -> Result<User, AuthError> {
        match self.register(email, password, profile).await {
            Err(AuthError::EmailTaken) => {}
            other => return other,
        }
        let id = self.store.reserve_user_id().await?;
        if let Some(owner) = self.store.user_by_email(email.key()).await? {
            let kind = EmailKind::RegistrationAttempt;
            match self.limits.before_mail(kind.name(), email.key(), client).await {
                Ok(MailPermit::Queue) => {
                    self.store.queue_mail(owner.id, &[queued(kind, &owner.email)]).await?;
                    self.ring(1);
                }
                Ok(MailPermit::Capped) | Err(AuthError::Throttled(_)) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(User {
            id,
            email: email.as_str().to_owned(),
            username: profile.username.clone().unwrap_or_default(),
            first_name: profile.first_name.clone().unwrap_or_default(),
            last_name: profile.last_name.clone().unwrap_or_default(),
            password: String::new(),
            is_active: false,
            is_staff: false,
            is_superuser: false,
            last_login: None,
            date_joined: Utc::now(),
            pending_email: None,
            suspended_at: None,
        })
    }

    /// An active staff superuser (the `createsuperuser` command); no e-mail.
    pub async fn create_superuser(&self, email: &Email, password: &Password) -> Result<User, AuthError> {
        let standing = Standing {
            active: true,
            superuser: true,
        };
        self.create(email, password, standing, &ProfileChange::default(), &[])
            .await
    }

    async fn create(
        &self,
        email: &Email,
        password: &Password,
        Standing { active, superuser }: Standing,
        profile: &ProfileChange,
        mails: &[QueuedMail],
    ) -> Result<User, AuthError> {
        let hash = self.hasher.hash(password).await?;
        let new = NewUser {
            email: email.as_str().to_owned(),
            username: profile.username.clone().unwrap_or_default(),
            first_name: profile.first_name.clone().unwrap_or_default(),
            last_name: profile.last_name.clone().unwrap_or_default(),
            password: hash,
            is_active: active,
            is_staff: superuser,
            is_superuser: superuser,
        };
        match self.store.create_user(&new, email.key(), mails).await {
            Ok(user) => Ok(user),
            Err(StoreError::EmailTaken) => Err(AuthError::EmailTaken),
            Err(other) => Err(other.into()),
        }
    }

    /// The user a link's uid names, and the check of its token for `purpose`.
    async fn link_user(&self, uid: &str, token: &str, purpose: Purpose) -> Result<User, AuthError> {
        let id = decode_uid(uid).ok_or(AuthError::InvalidUid)?;
        let user = self.store.user_by_id(id).await?.ok_or(AuthError::InvalidUid)?;
        if !self.links.check(&user, purpose, token, Utc::now()) {
            return Err(AuthError::InvalidToken);
        }
        Ok(user)
    }

    /// Djoser's activation: uid, then token, then "already active" (403 stale token). A suspended
    /// account answers like an active one: activation only applies to accounts never activated.
    pub async fn activate(&self, uid: &str, token: &str) -> Result<(), AuthError> {
        let user = self.link_user(uid, token, Purpose::Activation).await?;
        let mails: Vec<QueuedMail> = self
            .djoser
            .send_confirmation_email
            .then(|| queued(EmailKind::Confirmation, &user.email))
            .into_iter()
            .collect();
        if user.is_active || user.is_suspended() || !self.store.activate_user(user.id, &mails).await? {
            return Err(AuthError::StaleToken);
        }
        self.ring(mails.len());
        Ok(())
    }

    /// Django's `authenticate()`: the user with this e-mail (any case), the right password, active
    /// and not suspended. Unknown users (and inputs that name nobody, see [`key_for`]) cost one
    /// dummy verification, so all failures take the same time and look alike. While the account's
    /// backoff runs (`[throttle]`), no password is checked at all. A failure is counted here; the
    /// counters a success forgets are the caller's to forget ([`AcceptedPassword`]).
    pub async fn authenticate(
        &self,
        email: &str,
        password: &Password,
        client: IpAddr,
    ) -> Result<AcceptedPassword, AuthError> {
        let found = self.count_attempt_reading_user(email, client).await?;
        match self.authenticate_now(found, password).await {
            Ok(user) => {
                self.metrics.login(true);
                let counters = self.limits.password_counters(email, client);
                Ok(AcceptedPassword { user, counters })
            }
            Err(AuthError::InvalidCredentials) => {
                self.metrics.login(false);
                self.limits.end_password_check(email, client, false).await?;
                Err(AuthError::InvalidCredentials)
            }
            Err(other) => Err(other),
        }
    }

    /// Forgets the failures a right password ends, on their own (when no session starts with it).
    pub async fn forget_failures(&self, accepted: &AcceptedPassword) -> Result<(), AuthError> {
        self.limits.forget(&accepted.counters).await
    }

    /// [`Limits::begin_password_check`] of `email`, and the user with that e-mail: in one round
    /// trip where the store can.
    async fn count_attempt_reading_user(&self, email: &str, client: IpAddr) -> Result<Option<User>, AuthError> {
        let key = key_for(email);
        let Some(attempt) = self.limits.password_attempt(email) else {
            return Ok(match key {
                Some(key) => self.store.user_by_email(&key).await?,
                None => None,
            });
        };
        let (hit, user) = self
            .store
            .throttle_attempt_reading_user(&attempt.key, attempt.now_ms, attempt.limits, key.as_deref())
            .await?;
        self.limits.admit_password_check(hit, email, client)?;
        Ok(user)
    }

    async fn authenticate_now(&self, found: Option<User>, password: &Password) -> Result<User, AuthError> {
        let Some(user) = found else {
            self.hasher.verify_dummy(password).await?;
            return Err(AuthError::InvalidCredentials);
        };
        if !self.check_password(&user, password).await? || !user.is_active || user.is_suspended() {
            return Err(AuthError::InvalidCredentials);
        }
        Ok(user)
    }

    /// Djoser's `current_password` check (`set_password`, `set_email`, `DELETE users/me/`), counted
    /// like a login for the account: a stolen access token cannot be used to guess the password.
    pub async fn check_current_password(
        &self,
        user: &User,
        password: &Password,
        client: IpAddr,
    ) -> Result<bool, AuthError> {
        self.limits.begin_password_check(&user.email, client).await?;
        let right = self.check_password(user, password).await?;
        self.limits.end_password_check(&user.email, client, right).await?;
        Ok(right)
    }

    /// Whether `password` is the user's; re-hashes a Django or outdated hash on success.
    pub async fn check_password(&self, user: &User, password: &Password) -> Result<bool, AuthError> {
        let Verification::Match { needs_rehash } = self.hasher.verify(password, &user.password).await? else {
            return Ok(false);
        };
        if needs_rehash {
            self.upgrade_hash(user, password).await;
        }
        Ok(true)
    }

    /// Re-hashes with current parameters; a failure only costs the upgrade.
    async fn upgrade_hash(&self, user: &User, password: &Password) {
        let outcome = match self.hasher.hash(password).await {
            Ok(hash) => self
                .store
                .replace_password_hash(user.id, &user.password, &hash)
                .await
                .map_err(AuthError::from),
            Err(error) => Err(error.into()),
        };
        match outcome {
            Ok(_) => tracing::info!(user_id = user.id, "password hash upgraded to argon2id"),
            Err(error) => tracing::warn!(user_id = user.id, error = %error, "password hash upgrade failed"),
        }
    }

    /// The user a verified access token names.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, AuthError> {
        Ok(self.store.user_by_id(id).await?)
    }

    /// Djoser's lookup for reset and resend: this address, a usable password, active or not as asked.
    /// A suspended account is never found (its owner cannot reset or re-activate their way back).
    pub async fn user_for_reset(&self, email: &Email, active: bool) -> Result<Option<User>, AuthError> {
        let user = self.store.user_by_email(email.key()).await?;
        Ok(user.filter(|u| u.is_active == active && !u.is_suspended() && !u.password.starts_with('!')))
    }

    /// `reset_password`, `reset_email`, `resend_activation`: the same work whether or not an account
    /// has `email` (the spacing counters and one request row); the outbox worker finds the account
    /// (active, or inactive for `want_active = false`) and queues the e-mail. Refused with
    /// `Throttled` when the address had its share; past the global cap nothing is queued, silently.
    pub async fn request_mail(
        &self,
        email: &Email,
        kind: EmailKind,
        want_active: bool,
        client: IpAddr,
    ) -> Result<(), AuthError> {
        let key = email.key();
        if self.limits.before_mail(kind.name(), key, client).await? == MailPermit::Queue {
            // The worker is not woken: it resolves requests on its own schedule (`outbox.poll_interval`),
            // so the work a known address causes does not follow its request at once, where the
            // client's next request could feel it.
            self.store.request_mail(kind, key, want_active).await?;
        }
        Ok(())
    }

    /// Queues one e-mail to the user's stored address.
    pub async fn send(&self, user: &User, kind: EmailKind) -> Result<(), AuthError> {
        self.store.queue_mail(user.id, &[queued(kind, &user.email)]).await?;
        self.ring(1);
        Ok(())
    }

    /// `set_password`: the new hash, the user's refresh tokens revoked (a setting), the notice queued.
    pub async fn set_password(&self, user: &User, new_password: &Password) -> Result<(), AuthError> {
        let hash = self.hasher.hash(new_password).await?;
        let change = PasswordChange {
            new_hash: &hash,
            expected_hash: None,
            touch_last_login: false,
            revoke_tokens: self.sessions.revoke_on_password_change,
        };
        let notice = self.password_notice(&user.email);
        self.store.change_password(user.id, &change, &notice).await?;
        self.ring(notice.len());
        Ok(())
    }

    /// `reset_password_confirm` after its field checks: uid, token, then the change, which only
    /// applies if the hash is still the one the link was made for (so a link works once).
    pub async fn reset_password(&self, uid: &str, token: &str, new_password: &Password) -> Result<(), AuthError> {
        let user = self.link_user(uid, token, Purpose::PasswordReset).await?;
        let hash = self.hasher.hash(new_password).await?;
        let change = PasswordChange {
            new_hash: &hash,
            expected_hash: Some(&user.password),
            touch_last_login: true,
            revoke_tokens: self.sessions.revoke_on_password_change,
        };
        let notice = self.password_notice(&user.email);
        if !self.store.change_password(user.id, &change, &notice).await? {
            return Err(AuthError::InvalidToken);
        }
        self.ring(notice.len());
        Ok(())
    }

    fn password_notice(&self, email: &str) -> Vec<QueuedMail> {
        self.djoser
            .password_changed_email_confirmation
            .then(|| queued(EmailKind::PasswordChangedConfirmation, email))
            .into_iter()
            .collect()
    }

    /// `set_email`. With `djoser.set_email_requires_confirmation`: records the address as pending
    /// and mails it the confirmation link, and the current address a notice; nothing else changes
    /// until [`Accounts::confirm_email_change`]. Without: Djoser's immediate change, with the
    /// notice to the new address (a setting). Does not deactivate (Djoser).
    pub async fn set_email(&self, user: &User, new_email: &Email) -> Result<(), AuthError> {
        if self.djoser.set_email_requires_confirmation {
            let mails = [
                queued(EmailKind::EmailChangeConfirmation, new_email.as_str()),
                queued(EmailKind::EmailChangeNotice, &user.email),
            ];
            self.store
                .request_email_change(user.id, new_email.as_str(), &mails)
                .await?;
            self.ring(mails.len());
            return Ok(());
        }
        let change = EmailChange {
            new_email: new_email.as_str(),
            new_key: new_email.key(),
            expected_email: None,
            touch_last_login: false,
        };
        self.change_email(user.id, &change).await?;
        Ok(())
    }

    /// `set_email_confirm`: uid, token (bound to the pending address), then the change, applied
    /// only if the address is still the one the link was made for (so a link works once).
    /// `EmailTaken` when someone else took the address meanwhile.
    pub async fn confirm_email_change(&self, uid: &str, token: &str) -> Result<(), AuthError> {
        let user = self.link_user(uid, token, Purpose::EmailChange).await?;
        // The pending address was valid when recorded; one that no longer parses (stricter rules
        // since) cannot be confirmed.
        let Some(new_email) = user.pending_email.as_deref().and_then(Email::parse) else {
            return Err(AuthError::InvalidToken);
        };
        let change = EmailChange {
            new_email: new_email.as_str(),
            new_key: new_email.key(),
            expected_email: Some(&user.email),
            touch_last_login: false,
        };
        if !self.change_email(user.id, &change).await? {
            return Err(AuthError::InvalidToken);
        }
        Ok(())
    }

    /// `reset_email_confirm` after its field checks: uid, token, then the change, applied only if
    /// the address is still the one the link was made for.
    pub async fn reset_email(&self, uid: &str, token: &str, new_email: &Email) -> Result<(), AuthError> {
        let user = self.link_user(uid, token, Purpose::EmailReset).await?;
        let change = EmailChange {
            new_email: new_email.as_str(),
            new_key: new_email.key(),
            expected_email: Some(&user.email),
            touch_last_login: true,
        };
        if !self.change_email(user.id, &change).await? {
            return Err(AuthError::InvalidToken);
        }
        Ok(())
    }

    async fn change_email(&self, id: i64, change: &EmailChange<'_>) -> Result<bool, AuthError> {
        let mails: Vec<QueuedMail> = self
            .djoser
            .username_changed_email_confirmation
            .then(|| queued(EmailKind::UsernameChangedConfirmation, change.new_email))
            .into_iter()
            .collect();
        match self.store.change_email(id, change, &mails).await {
            Ok(changed) => {
                self.ring(if changed { mails.len() } else { 0 });
                Ok(changed)
            }
            Err(StoreError::EmailTaken) => Err(AuthError::EmailTaken),
            Err(other) => Err(other.into()),
        }
    }

    /// `PUT`/`PATCH` of a user: the profile fields, then the user as stored. Djoser re-sends the
    /// activation e-mail on every update of an inactive user.
    pub async fn update_profile(&self, user: &User, change: &ProfileChange) -> Result<User, AuthError> {
        if !user.is_active && self.djoser.send_activation_email {
            self.send(user, EmailKind::Activation).await?;
        }
        if *change == ProfileChange::default() {
            return Ok(user.clone());
        }
        self.store.update_profile(user.id, change).await?;
        Ok(self.store.user_by_id(user.id).await?.unwrap_or_else(|| user.clone()))
    }

    /// Every user (staff listing).
    pub async fn list_users(&self) -> Result<Vec<User>, AuthError> {
        Ok(self.store.list_users().await?)
    }

    /// `DELETE users/me/`: the user, their queued e-mail and (a setting) their tokens, in one transaction.
    pub async fn delete(&self, user: &User) -> Result<(), AuthError> {
        self.store
            .delete_user(user.id, self.sessions.delete_tokens_with_user)
            .await?;
        Ok(())
    }

    /// Counts `queued` e-mails committed to the outbox and wakes its worker.
    fn ring(&self, queued: usize) {
        self.metrics.emails(EmailOutcome::Queued, queued as u64);
        if queued > 0 {
            self.outbox_bell.notify_one();
        }
    }
}

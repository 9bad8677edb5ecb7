//! Accounts: registration, activation and credential checks.

use chrono::Utc;

use super::AuthError;
use super::email::{Email, key_for};
use super::links::{LinkTokens, decode_uid};
use super::notify::Notifier;
use super::password::{PasswordHasher, PasswordPolicy, UserAttributes, Verification};
use crate::store::models::{NewUser, User};
use crate::store::{Store, StoreError};

/// What registration does besides creating the row (Djoser's settings).
#[derive(Debug, Clone, Copy)]
pub struct RegistrationMail {
    pub send_activation_email: bool,
    pub send_confirmation_email: bool,
}

/// Registration, activation and login checks.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    links: LinkTokens,
    notifier: Notifier,
    mail: RegistrationMail,
}

impl Accounts {
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        links: LinkTokens,
        notifier: Notifier,
        mail: RegistrationMail,
    ) -> Self {
        Self {
            store,
            hasher,
            policy,
            links,
            notifier,
            mail,
        }
    }

    /// Whether an account with this address exists (case-insensitively).
    pub async fn email_taken(&self, email: &Email) -> Result<bool, AuthError> {
        Ok(self.store.email_exists(&email.key()).await?)
    }

    /// Django's password validators against the attributes of a (possibly unsaved) user.
    pub fn password_problems(&self, password: &str, user: Option<&UserAttributes<'_>>) -> Vec<String> {
        self.policy.validate(password, user)
    }

    /// Creates the account (inactive when activation e-mails are on) and sends the e-mail Djoser sends.
    pub async fn register(&self, email: &Email, password: &str) -> Result<User, AuthError> {
        let user = self
            .create(email, password, !self.mail.send_activation_email, false)
            .await?;
        if self.mail.send_activation_email {
            self.notifier.activation(&user);
        } else if self.mail.send_confirmation_email {
            self.notifier.confirmation(&user);
        }
        Ok(user)
    }

    /// An active staff superuser (the `createsuperuser` command); no e-mail.
    pub async fn create_superuser(&self, email: &Email, password: &str) -> Result<User, AuthError> {
        self.create(email, password, true, true).await
    }

    async fn create(&self, email: &Email, password: &str, active: bool, superuser: bool) -> Result<User, AuthError> {
        let hash = self.hasher.hash(password).await?;
        let new = NewUser {
            email: email.as_str().to_owned(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            password: hash,
            is_active: active,
            is_staff: superuser,
            is_superuser: superuser,
        };
        match self.store.create_user(&new, &email.key()).await {
            Ok(user) => Ok(user),
            Err(StoreError::EmailTaken) => Err(AuthError::EmailTaken),
            Err(other) => Err(other.into()),
        }
    }

    /// Djoser's activation: uid, then token, then "already active" (403 stale token).
    pub async fn activate(&self, uid: &str, token: &str) -> Result<(), AuthError> {
        let id = decode_uid(uid).ok_or(AuthError::InvalidUid)?;
        let user = self.store.user_by_id(id).await?.ok_or(AuthError::InvalidUid)?;
        if !self.links.check(&user, token, Utc::now()) {
            return Err(AuthError::InvalidToken);
        }
        if user.is_active || !self.store.activate_user(user.id).await? {
            return Err(AuthError::StaleToken);
        }
        if self.mail.send_confirmation_email {
            self.notifier.confirmation(&user);
        }
        Ok(())
    }

    /// Django's `authenticate()`: the user with this e-mail (any case), the right password, active.
    /// Unknown users cost one dummy verification, so all failures take the same time and look alike.
    pub async fn authenticate(&self, email: &str, password: &str) -> Result<User, AuthError> {
        let Some(user) = self.store.user_by_email(&key_for(email)).await? else {
            self.hasher.verify_dummy(password).await;
            return Err(AuthError::InvalidCredentials);
        };
        let Verification::Match { needs_rehash } = self.hasher.verify(password, &user.password).await? else {
            return Err(AuthError::InvalidCredentials);
        };
        if needs_rehash {
            self.upgrade_hash(&user, password).await;
        }
        if !user.is_active {
            return Err(AuthError::InvalidCredentials);
        }
        Ok(user)
    }

    /// Re-hashes a Django or outdated hash with current parameters; a failure only costs the upgrade.
    async fn upgrade_hash(&self, user: &User, password: &str) {
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
}

//! What an e-mail is about and what it ends up as: the kinds, the values a template may print, and
//! the rendered message.

/// The six Djoser e-mails, the two of imhotep's confirmed e-mail change, and imhotep's notice to the
/// owner of an address someone tried to register again (`djoser.registration_hides_existing`), and the
/// notices of two-factor changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    Activation,
    Confirmation,
    PasswordReset,
    PasswordChangedConfirmation,
    UsernameChangedConfirmation,
    UsernameReset,
    /// To the new address of a `set_email` request: the link that makes the change.
    EmailChangeConfirmation,
    /// To the old address of a `set_email` request: a change was asked for.
    EmailChangeNotice,
    RegistrationAttempt,
    /// Two-factor login: a factor was confirmed.
    MfaFactorAdded,
    /// Two-factor login: a factor was removed (by its owner or `imhotep users mfa-reset`).
    MfaFactorRemoved,
    /// Two-factor login: new recovery codes replaced the old ones.
    MfaRecoveryCodesRegenerated,
    /// Two-factor login: a recovery code was used.
    MfaRecoveryCodeUsed,
}

impl EmailKind {
    /// Every kind, in declaration order (so `ALL[kind as usize] == kind`).
    pub const ALL: [EmailKind; 13] = [
        EmailKind::Activation,
        EmailKind::Confirmation,
        EmailKind::PasswordReset,
        EmailKind::PasswordChangedConfirmation,
        EmailKind::UsernameChangedConfirmation,
        EmailKind::UsernameReset,
        EmailKind::EmailChangeConfirmation,
        EmailKind::EmailChangeNotice,
        EmailKind::RegistrationAttempt,
        EmailKind::MfaFactorAdded,
        EmailKind::MfaFactorRemoved,
        EmailKind::MfaRecoveryCodesRegenerated,
        EmailKind::MfaRecoveryCodeUsed,
    ];

    /// Djoser's template name, also the stem of this kind's template files (`activation.txt`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EmailKind::Activation => "activation",
            EmailKind::Confirmation => "confirmation",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::PasswordChangedConfirmation => "password_changed_confirmation",
            EmailKind::UsernameChangedConfirmation => "username_changed_confirmation",
            EmailKind::UsernameReset => "username_reset",
            EmailKind::EmailChangeConfirmation => "email_change_confirmation",
            EmailKind::EmailChangeNotice => "email_change_notice",
            EmailKind::RegistrationAttempt => "registration_attempt",
            EmailKind::MfaFactorAdded => "mfa_factor_added",
            EmailKind::MfaFactorRemoved => "mfa_factor_removed",
            EmailKind::MfaRecoveryCodesRegenerated => "mfa_recovery_codes_regenerated",
            EmailKind::MfaRecoveryCodeUsed => "mfa_recovery_code_used",
        }
    }

    /// The kind whose [`EmailKind::name`] this is.
    pub fn from_name(name: &str) -> Option<EmailKind> {
        EmailKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether this mail carries a link (and so `uid`, `token` and `url` in its context).
    pub fn has_link(self) -> bool {
        matches!(
            self,
            EmailKind::Activation
                | EmailKind::PasswordReset
                | EmailKind::UsernameReset
                | EmailKind::EmailChangeConfirmation
        )
    }
}

/// What a template may use (Djoser's context): protocol, domain, site name, the user's e-mail (Djoser prints
/// `user.get_username()`, which is the e-mail here), and for link mails uid, token and url.
#[derive(Debug, Clone)]
pub struct EmailContext {
    pub protocol: String,
    pub domain: String,
    pub site_name: String,
    pub email: String,
    /// Required for the kinds whose [`EmailKind::has_link`] is true; rendered as empty strings if absent.
    pub link: Option<LinkContext>,
}

/// The link part of a context.
#[derive(Debug, Clone)]
pub struct LinkContext {
    pub uid: String,
    pub token: String,
    /// The `*_URL` setting with `{uid}` and `{token}` filled in, e.g. `#/activate/MQ/c2x-...`; the mail prints
    /// `{protocol}://{domain}/{url}`, so it must not start with a slash.
    pub url: String,
}

/// A rendered message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The recipient's bare address; checked when the message is sent.
    pub to: String,
    /// One line.
    pub subject: String,
    pub text: String,
    pub html: String,
}

//! What each queued e-mail says: rendered at delivery time from the user's current state, with
//! links built from configuration only (never from a request's `Host`).

use std::sync::Arc;

use chrono::Utc;

use super::links::{LinkTokens, Purpose, encode_uid};
use crate::config::DjoserSettings;
use crate::mail::{EmailContext, EmailKind, LinkContext, Message, Templates};
use crate::store::models::{QueuedMail, User};

/// Queues the e-mail of `kind` to the user's stored address.
pub fn queued(kind: EmailKind, user_email: &str) -> QueuedMail {
    QueuedMail::new(kind, user_email)
}

/// Renders the Djoser e-mails.
#[derive(Clone)]
pub struct MailRenderer {
    templates: Arc<Templates>,
    links: LinkTokens,
    djoser: Arc<DjoserSettings>,
}

impl MailRenderer {
    pub fn new(templates: Templates, links: LinkTokens, djoser: &DjoserSettings) -> Self {
        Self {
            templates: Arc::new(templates),
            links,
            djoser: Arc::new(djoser.clone()),
        }
    }

    /// The message for an outbox row, or why it must not be sent: an e-mail change confirmation
    /// whose address is no longer the pending one (the link is minted now, for the address pending
    /// now, so it must go to that address only). Link e-mails get a fresh link for the user as
    /// stored now.
    pub fn render(&self, kind: EmailKind, user: &User, recipient: &str) -> Result<Message, &'static str> {
        if kind == EmailKind::EmailChangeConfirmation && user.pending_email.as_deref() != Some(recipient) {
            return Err("the e-mail change was superseded or completed");
        }
        let link = self.link_for(kind).map(|(purpose, template)| {
            let uid = encode_uid(user.id);
            let token = self.links.make(user, purpose, Utc::now());
            let url = template.replace("{uid}", &uid).replace("{token}", &token);
            LinkContext { uid, token, url }
        });
        let context = EmailContext {
            protocol: self.djoser.email_frontend_protocol.clone(),
            domain: self.djoser.email_frontend_domain.clone(),
            site_name: self.djoser.email_frontend_site_name.clone(),
            email: user.email.clone(),
            link,
        };
        let mut message = self.templates.render(kind, &context);
        message.to = recipient.to_owned();
        Ok(message)
    }

    fn link_for(&self, kind: EmailKind) -> Option<(Purpose, &str)> {
        match kind {
            EmailKind::Activation => Some((Purpose::Activation, &self.djoser.activation_url)),
            EmailKind::PasswordReset => Some((Purpose::PasswordReset, &self.djoser.password_reset_confirm_url)),
            EmailKind::UsernameReset => Some((Purpose::EmailReset, &self.djoser.username_reset_confirm_url)),
            EmailKind::EmailChangeConfirmation => Some((Purpose::EmailChange, &self.djoser.set_email_confirm_url)),
            EmailKind::Confirmation
            | EmailKind::PasswordChangedConfirmation
            | EmailKind::UsernameChangedConfirmation
            | EmailKind::EmailChangeNotice
            | EmailKind::RegistrationAttempt
            | EmailKind::MfaFactorAdded
            | EmailKind::MfaFactorRemoved
            | EmailKind::MfaRecoveryCodesRegenerated
            | EmailKind::MfaRecoveryCodeUsed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn alice(pending: Option<&str>) -> User {
        User {
            id: 1,
            email: "alice@example.com".into(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            password: "!unusable".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            last_login: None,
            date_joined: Utc::now(),
            suspended_at: None,
            pending_email: pending.map(str::to_owned),
        }
    }

    #[test]
    fn a_change_confirmation_goes_only_to_the_address_pending_now() {
        let links = LinkTokens::new(&"k".repeat(40), Duration::from_secs(3600), true);
        let renderer = MailRenderer::new(
            Templates::load(None).expect("built-in templates"),
            links.clone(),
            &DjoserSettings::default(),
        );
        let kind = EmailKind::EmailChangeConfirmation;
        let user = alice(Some("new@example.org"));
        let message = renderer.render(kind, &user, "new@example.org").expect("rendered");
        assert_eq!(message.to, "new@example.org");
        let prefix = format!("/set-email/{}/", encode_uid(1));
        let token = message
            .text
            .split(&prefix)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next());
        let token = token.expect("a confirmation link");
        assert!(
            links.check(&user, Purpose::EmailChange, token, Utc::now()),
            "{}",
            message.text
        );
        // A request superseded (or completed) before delivery: its link would confirm another address.
        for (pending, recipient) in [(Some("ceo@bigcorp.test"), "new@example.org"), (None, "new@example.org")] {
            assert!(
                renderer.render(kind, &alice(pending), recipient).is_err(),
                "{pending:?}"
            );
        }
    }
}

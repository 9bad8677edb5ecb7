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
    QueuedMail::new(kind.name(), user_email)
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

    /// The message for an outbox row, or `None` for a kind this version does not know.
    /// Link e-mails get a fresh link for the user as stored now.
    pub fn render(&self, kind: &str, user: &User, recipient: &str) -> Option<Message> {
        let kind = EmailKind::ALL.into_iter().find(|k| k.name() == kind)?;
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
        Some(message)
    }

    fn link_for(&self, kind: EmailKind) -> Option<(Purpose, &str)> {
        match kind {
            EmailKind::Activation => Some((Purpose::Activation, &self.djoser.activation_url)),
            EmailKind::PasswordReset => Some((Purpose::PasswordReset, &self.djoser.password_reset_confirm_url)),
            EmailKind::UsernameReset => Some((Purpose::EmailReset, &self.djoser.username_reset_confirm_url)),
            EmailKind::Confirmation
            | EmailKind::PasswordChangedConfirmation
            | EmailKind::UsernameChangedConfirmation
            | EmailKind::RegistrationAttempt => None,
        }
    }
}

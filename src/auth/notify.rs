//! Which e-mail a domain event sends, and the links inside them, built from configuration only
//! (never from the request's `Host`).

use std::sync::Arc;

use chrono::Utc;

use super::links::{LinkTokens, encode_uid};
use crate::config::DjoserSettings;
use crate::mail::{EmailContext, EmailKind, LinkContext, Mailer, Templates};
use crate::store::models::User;

/// Composes and sends the Djoser e-mails.
#[derive(Clone)]
pub struct Notifier {
    mailer: Mailer,
    templates: Arc<Templates>,
    links: LinkTokens,
    djoser: Arc<DjoserSettings>,
}

impl Notifier {
    pub fn new(mailer: Mailer, templates: Templates, links: LinkTokens, djoser: &DjoserSettings) -> Self {
        Self {
            mailer,
            templates: Arc::new(templates),
            links,
            djoser: Arc::new(djoser.clone()),
        }
    }

    /// The activation e-mail with a fresh link.
    pub fn activation(&self, user: &User) {
        self.send(EmailKind::Activation, user, Some(&self.djoser.activation_url));
    }

    /// "Your account has been successfully created and activated!"
    pub fn confirmation(&self, user: &User) {
        self.send(EmailKind::Confirmation, user, None);
    }

    fn send(&self, kind: EmailKind, user: &User, url_template: Option<&str>) {
        let link = url_template.map(|template| {
            let uid = encode_uid(user.id);
            let token = self.links.make(user, Utc::now());
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
        let message = self.templates.render(kind, &context);
        self.mailer.send_in_background(message);
    }
}

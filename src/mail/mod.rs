//! Outgoing e-mail: the six Djoser messages, rendered from templates and sent through a backend.
//!
//! The domain builds an [`EmailContext`], asks [`Templates::render`] for a [`Message`] (subject, text part,
//! HTML part) and hands it to a [`Mailer`], whose [`Backend`] is SMTP in production, the console in
//! development and memory in tests. Templates are embedded in the binary and may be overridden from a
//! directory; both are checked once, at start-up.

mod console;
mod error;
mod mailer;
mod message;
mod smtp;
mod sources;
mod template;
mod templates;

pub use error::MailError;
pub use mailer::{Backend, Mailer, mask_address};
pub use message::{EmailContext, EmailKind, LinkContext, Message};
pub use smtp::SmtpSettings;
pub use templates::Templates;

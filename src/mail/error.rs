//! The one error type of the mail module.
//!
//! No variant carries credentials, a message body, a token or a link; address errors say which address
//! (From or To) was refused and why, without repeating it.

use std::path::PathBuf;

/// Why a template set could not be loaded or a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The From or To address does not parse (this includes any CR or LF, so no header can be injected).
    #[error("invalid {role} e-mail address: {source}")]
    Address {
        /// `"From"` or `"To"`.
        role: &'static str,
        source: lettre::address::AddressError,
    },
    /// The mail settings cannot work (e.g. both STARTTLS and implicit TLS asked for).
    #[error("invalid mail settings: {0}")]
    Settings(String),
    /// The template override directory cannot be read.
    #[error("cannot read e-mail template directory {}: {source}", path.display())]
    TemplateDir { path: PathBuf, source: std::io::Error },
    /// A template (built-in or override) is not valid.
    #[error("e-mail template {}: {reason}", path.display())]
    Template { path: PathBuf, reason: String },
    /// lettre refused to assemble the message.
    #[error("cannot build the e-mail: {0}")]
    Build(#[from] lettre::error::Error),
    /// The SMTP server could not be reached or refused the message.
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// Writing the message to standard output failed.
    #[error("cannot print the e-mail: {0}")]
    Console(#[from] std::io::Error),
}

impl MailError {
    /// Whether retrying cannot help: the SMTP server refused for good (5xx), or the message itself
    /// is unbuildable. Connection failures and 4xx replies are worth another try.
    pub fn is_permanent(&self) -> bool {
        match self {
            MailError::Smtp(error) => error.is_permanent(),
            MailError::Console(_) => false,
            MailError::Address { .. }
            | MailError::Settings(_)
            | MailError::TemplateDir { .. }
            | MailError::Template { .. }
            | MailError::Build(_) => true,
        }
    }
}

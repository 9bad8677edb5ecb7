//! The [`Mailer`]: one From address and one backend (console or SMTP; in unit tests, memory) behind a
//! cheap-to-clone handle.

use std::fmt;
#[cfg(test)]
use std::sync::{Arc, Mutex, PoisonError};

use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::console::print_to_console;
use super::error::MailError;
use super::message::Message;
use super::smtp::{self, SmtpSettings};

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum Backend {
    /// Print each message on standard output, like Django's console backend (development).
    Console,
    Smtp(SmtpSettings),
}

#[derive(Clone)]
enum Transport {
    Console,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Messages kept for [`Mailer::sent`] (unit tests only: no configuration selects it).
    #[cfg(test)]
    Memory(Arc<Mutex<Vec<Message>>>),
    /// Panics on every send (unit tests only: the outbox's handling of a delivery that panics).
    #[cfg(test)]
    Panicking,
}

/// Sends rendered messages from `DEFAULT_FROM_EMAIL`. Clones share the backend (and the SMTP pool).
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl Mailer {
    /// Checks the From address (`a@b` or `Name <a@b>`) and prepares the backend. The SMTP backend must be
    /// created inside the Tokio runtime; it does not connect until the first send.
    pub fn new(backend: Backend, from: &str) -> Result<Self, MailError> {
        let transport = match backend {
            Backend::Console => Transport::Console,
            Backend::Smtp(settings) => Transport::Smtp(smtp::transport(&settings)?),
        };
        Self::with_transport(transport, from)
    }

    /// A mailer keeping what it sends in memory, for unit tests.
    #[cfg(test)]
    pub(crate) fn memory(from: &str) -> Result<Self, MailError> {
        Self::with_transport(Transport::Memory(Arc::default()), from)
    }

    /// A mailer whose every send panics, for unit tests.
    #[cfg(test)]
    pub(crate) fn panicking(from: &str) -> Result<Self, MailError> {
        Self::with_transport(Transport::Panicking, from)
    }

    fn with_transport(transport: Transport, from: &str) -> Result<Self, MailError> {
        let from = from
            .parse()
            .map_err(|source| MailError::Address { role: "From", source })?;
        Ok(Self { from, transport })
    }

    /// Sends one message as multipart/alternative (text, then HTML), UTF-8. Every backend refuses a
    /// recipient that is not one plain address.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn send(&self, message: &Message) -> Result<(), MailError> {
        let email = self.build(message)?;
        match &self.transport {
            Transport::Console => print_to_console(&self.from, message),
            Transport::Smtp(transport) => transport.send(email).await.map(drop).map_err(MailError::from),
            #[cfg(test)]
            Transport::Memory(sent) => {
                sent.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(message.clone());
                Ok(())
            }
            #[cfg(test)]
            Transport::Panicking => panic!("the test transport panics"),
        }
    }

    /// The messages sent so far; always empty except with the memory backend.
    #[cfg(test)]
    pub fn sent(&self) -> Vec<Message> {
        match &self.transport {
            Transport::Memory(sent) => sent.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            Transport::Console | Transport::Smtp(_) | Transport::Panicking => Vec::new(),
        }
    }

    /// The lettre message, built with typed headers: the recipient must parse as a bare address.
    fn build(&self, message: &Message) -> Result<lettre::Message, MailError> {
        let to: Address = message
            .to
            .parse()
            .map_err(|source| MailError::Address { role: "To", source })?;
        let body = MultiPart::alternative_plain_html(message.text.clone(), message.html.clone());
        Ok(lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(message.subject.as_str())
            .multipart(body)?)
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.transport {
            Transport::Console => "console",
            Transport::Smtp(_) => "smtp",
            #[cfg(test)]
            Transport::Memory(_) => "memory",
            #[cfg(test)]
            Transport::Panicking => "panicking",
        };
        f.debug_struct("Mailer")
            .field("backend", &backend)
            .field("from", &self.from.to_string())
            .finish()
    }
}

/// `ada@example.com` → `a***@example.com`; control characters are escaped so a hostile address cannot
/// forge log lines.
pub fn mask_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).flat_map(char::escape_debug).collect();
            format!("{first}***@{}", domain.escape_debug())
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(to: &str) -> Message {
        Message {
            to: to.into(),
            subject: "Account activation on Imhotep".into(),
            text: "http://localhost:3000/#/activate/MQ/tok".into(),
            html: "<p>http://localhost:3000/#/activate/MQ/tok</p>".into(),
        }
    }

    fn memory_mailer() -> Mailer {
        Mailer::memory("Imhotep <noreply@example.com>").expect("valid From")
    }

    #[tokio::test]
    async fn the_memory_backend_records_sent_messages() {
        let mailer = memory_mailer();
        mailer.send(&message("ada@example.com")).await.expect("sent");
        mailer.clone().send(&message("bob@example.com")).await.expect("sent");
        let sent = mailer.sent();
        assert_eq!(sent, vec![message("ada@example.com"), message("bob@example.com")]);
    }

    #[tokio::test]
    async fn a_recipient_that_is_not_one_plain_address_is_refused() {
        let mailer = memory_mailer();
        for bad in [
            "ada@example.com\r\nBcc: x@y",
            "ada@example.com\nBcc: x@y",
            "Ada <ada@example.com>",
            "",
            "ada",
        ] {
            let result = mailer.send(&message(bad)).await;
            assert!(
                matches!(result, Err(MailError::Address { role: "To", .. })),
                "{bad:?}: {result:?}"
            );
        }
        assert!(mailer.sent().is_empty());
    }

    #[test]
    fn a_bad_from_address_is_refused_at_creation() {
        for bad in ["noreply@example.com\r\nBcc: x@y", "not an address", ""] {
            let result = Mailer::new(Backend::Console, bad);
            assert!(
                matches!(result, Err(MailError::Address { role: "From", .. })),
                "{bad:?}"
            );
        }
        assert!(Mailer::new(Backend::Console, "noreply@example.com").is_ok());
    }

    #[test]
    fn recipients_are_masked_in_logs() {
        assert_eq!(mask_address("ada@example.com"), "a***@example.com");
        assert_eq!(mask_address("no-at-sign"), "***");
        assert_eq!(mask_address("x@evil\nline"), "x***@evil\\nline");
    }
}

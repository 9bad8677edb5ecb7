//! The console backend: each message printed readably on standard output, like Django's console backend.

use std::io::Write;

use lettre::message::Mailbox;

use super::error::MailError;
use super::message::Message;

/// Prints the message readably (not transfer-encoded, so the link can be copied), then a line of dashes.
pub(super) fn print_to_console(from: &Mailbox, message: &Message) -> Result<(), MailError> {
    let printed = console_text(from, message);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(printed.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn console_text(from: &Mailbox, message: &Message) -> String {
    let Message {
        to,
        subject,
        text,
        html,
    } = message;
    let rule = "-".repeat(79);
    format!(
        "From: {from}\nTo: {to}\nSubject: {subject}\nContent-Type: multipart/alternative\n\n\
         [text/plain; charset=utf-8]\n{text}\n\n[text/html; charset=utf-8]\n{html}\n{rule}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            to: "ada@example.com".into(),
            subject: "Account activation on Imhotep".into(),
            text: "Go to:\nhttp://localhost:3000/#/activate/MQ/tok\nThanks".into(),
            html: "<p>http://localhost:3000/#/activate/MQ/tok</p>".into(),
        }
    }

    #[test]
    fn the_console_shows_headers_and_both_parts_unencoded() {
        let from: Mailbox = "Imhotep <noreply@example.com>".parse().expect("valid");
        let printed = console_text(&from, &message());
        assert!(printed.starts_with("From: Imhotep <noreply@example.com>\nTo: ada@example.com\n"));
        assert!(printed.contains("Subject: Account activation on Imhotep\n"));
        assert!(printed.contains("\nhttp://localhost:3000/#/activate/MQ/tok\n"));
        assert!(printed.contains("<p>http://localhost:3000/#/activate/MQ/tok</p>"));
    }
}

//! The SMTP backend: Django's `EMAIL_*` settings turned into a pooled lettre transport.

use std::fmt;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use super::error::MailError;

/// Django's `EMAIL_HOST`, `EMAIL_PORT`, `EMAIL_HOST_USER`, `EMAIL_HOST_PASSWORD`, `EMAIL_USE_TLS`,
/// `EMAIL_USE_SSL` and `EMAIL_TIMEOUT`. `Debug` hides the password.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// Log in with these credentials when set (the password defaults to empty, like Django).
    pub username: Option<String>,
    pub password: Option<String>,
    /// STARTTLS, required: nothing is sent if the server cannot upgrade the connection.
    pub use_tls: bool,
    /// Implicit TLS from the first byte (SMTPS, usually port 465).
    pub use_ssl: bool,
    /// Applies to connecting and to each command.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("use_tls", &self.use_tls)
            .field("use_ssl", &self.use_ssl)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Builds the transport. Must run inside the Tokio runtime, which hosts the connection pool's cleanup task.
pub(super) fn transport(settings: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(MailError::Settings(
            "the SMTP mailer must be created inside the Tokio runtime".into(),
        ));
    }
    let host = settings.host.as_str();
    let builder = match (settings.use_ssl, settings.use_tls) {
        (true, true) => {
            return Err(MailError::Settings(
                "EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive: set only one of them".into(),
            ));
        }
        (true, false) => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        (false, true) => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
        (false, false) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
    };
    let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
    if let Some(username) = &settings.username {
        let password = settings.password.clone().unwrap_or_default();
        builder = builder.credentials(Credentials::new(username.clone(), password));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(port: u16) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            username: Some("mailer".into()),
            password: Some("s3cret-pass".into()),
            use_tls: false,
            use_ssl: false,
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn tls_and_ssl_together_are_refused() {
        let both = SmtpSettings {
            use_tls: true,
            use_ssl: true,
            ..settings(465)
        };
        assert!(matches!(transport(&both), Err(MailError::Settings(_))));
        let ssl = SmtpSettings {
            use_ssl: true,
            ..settings(465)
        };
        assert!(transport(&ssl).is_ok());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let shown = format!("{:?}", settings(25));
        assert!(!shown.contains("s3cret-pass"), "{shown}");
        assert!(shown.contains("mailer"));
    }
}

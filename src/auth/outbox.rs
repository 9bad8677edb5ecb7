//! The outbox worker: delivers e-mail that requests queued in their transactions, with retries
//! and exponential backoff. Runs inside every server instance; the store hands each row to one
//! worker only, so several instances on one PostgreSQL never send a message twice.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::JoinError;

use super::notify::MailRenderer;
use crate::config::OutboxSettings;
use crate::mail::{MailError, Mailer, mask_address};
use crate::metrics::{EmailOutcome, Metrics};
use crate::store::models::{ClaimedMail, StoredMailKind};
use crate::store::{Store, StoreError};

/// The delivery loop and its wake-up bell.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    renderer: MailRenderer,
    mailer: Mailer,
    settings: OutboxSettings,
    bell: Arc<Notify>,
    metrics: Metrics,
}

/// What happened to one claimed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retrying,
    Failed,
}

impl Outbox {
    pub fn new(
        store: Store,
        renderer: MailRenderer,
        mailer: Mailer,
        settings: OutboxSettings,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            renderer,
            mailer,
            settings,
            bell: Arc::new(Notify::new()),
            metrics,
        }
    }

    /// A handle that wakes the worker (call after committing queued mail).
    pub fn bell(&self) -> Arc<Notify> {
        self.bell.clone()
    }

    /// Delivers until `stop` completes, checking at least every poll interval and before each batch.
    /// The batch being sent when `stop` fires is finished first; the caller bounds how long that may
    /// take (`outbox.drain_timeout`), since a message dropped mid-way is sent again after its lease.
    pub async fn run_until(self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            loop {
                tokio::select! {
                    biased;
                    () = &mut stop => return,
                    () = std::future::ready(()) => {}
                }
                match self.deliver_due().await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "outbox: cannot read the queue");
                        break;
                    }
                }
            }
            tokio::select! {
                () = &mut stop => return,
                () = self.bell.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Turns one batch of link e-mail requests into messages for the accounts they name, then
    /// claims one batch of due messages and tries each once, concurrently; returns how many
    /// requests and messages were handled (0: nothing left to do).
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let (requests, queued) = self
            .store
            .resolve_mail_requests(i64::from(self.settings.batch_size))
            .await?;
        self.metrics.emails(EmailOutcome::Queued, queued);
        let lease_until = Utc::now() + self.settings.lease;
        let batch = self
            .store
            .claim_mail(i64::from(self.settings.batch_size), lease_until)
            .await?;
        let claimed = batch.len();
        let mut deliveries = tokio::task::JoinSet::new();
        let mut in_flight = HashMap::new();
        for mail in batch {
            let outbox = self.clone();
            let claimed_mail = mail.clone();
            let task = deliveries.spawn(async move {
                let outcome = outbox.deliver(&mail).await;
                tracing::info!(
                    message_id = mail.id,
                    kind = %mail.kind,
                    recipient = %mask_address(&mail.recipient),
                    attempt = mail.attempts,
                    outcome = ?outcome,
                    "outbox delivery"
                );
                if let Ok(Outcome::Failed) = outcome {
                    outbox.metrics.emails(EmailOutcome::Failed, 1);
                }
                outcome
            });
            in_flight.insert(task.id(), claimed_mail);
        }
        while let Some(joined) = deliveries.join_next_with_id().await {
            match joined {
                Ok((_, Ok(_))) => {}
                // A store error leaves the row claimed; its lease lapses and it is tried again.
                Ok((_, Err(error))) => tracing::warn!(%error, "outbox: cannot record a delivery outcome"),
                Err(failure) => {
                    if let Some(mail) = in_flight.remove(&failure.id()) {
                        self.after_panic(&mail, failure).await;
                    }
                }
            }
        }
        Ok(claimed + usize::try_from(requests).unwrap_or(usize::MAX))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(message_id = mail.id, kind = %mail.kind, attempt = mail.attempts))]
    async fn deliver(&self, mail: &ClaimedMail) -> Result<Outcome, StoreError> {
        let Some(user) = self.store.user_by_id(mail.user_id).await? else {
            self.store.fail_mail(mail.id, "the user no longer exists").await?;
            return Ok(Outcome::Failed);
        };
        let rendered = match &mail.kind {
            StoredMailKind::Known(kind) => self.renderer.render(*kind, &user, &mail.recipient),
            StoredMailKind::Unknown(_) => Err("unknown e-mail kind"),
        };
        let message = match rendered {
            Ok(message) => message,
            Err(reason) => {
                self.store.fail_mail(mail.id, reason).await?;
                return Ok(Outcome::Failed);
            }
        };
        match self.mailer.send(&message).await {
            Ok(()) => {
                self.store.mark_mail_sent(mail.id).await?;
                self.metrics.emails(EmailOutcome::Sent, 1);
                Ok(Outcome::Sent)
            }
            Err(error) => self.after_failure(mail, &error).await,
        }
    }

    /// A delivery task that panicked (or was cancelled) counts as a failed attempt: logged with the
    /// panic's text, then retried after the backoff or, out of attempts, given up.
    async fn after_panic(&self, mail: &ClaimedMail, failure: JoinError) {
        let reason = match failure.try_into_panic() {
            Ok(payload) => format!("the delivery panicked: {}", crate::panics::message(&*payload)),
            Err(_) => "the delivery was cancelled".to_owned(),
        };
        tracing::error!(message_id = mail.id, error = %reason, "outbox: delivery attempt failed");
        let attempts = u32::try_from(mail.attempts).unwrap_or(u32::MAX);
        let recorded = if attempts >= self.settings.max_attempts {
            self.metrics.emails(EmailOutcome::Failed, 1);
            self.store.fail_mail(mail.id, &reason).await
        } else {
            let at = Utc::now() + backoff(&self.settings, attempts);
            self.store.reschedule_mail(mail.id, at, &reason).await
        };
        if let Err(error) = recorded {
            tracing::warn!(%error, "outbox: cannot record a delivery outcome");
        }
    }

    async fn after_failure(&self, mail: &ClaimedMail, error: &MailError) -> Result<Outcome, StoreError> {
        // SMTP replies may quote the address back; the stored error never holds a link (none is in an error).
        let reason = error
            .to_string()
            .replace(&mail.recipient, &mask_address(&mail.recipient));
        let attempts = u32::try_from(mail.attempts).unwrap_or(u32::MAX);
        if error.is_permanent() || attempts >= self.settings.max_attempts {
            tracing::warn!(message_id = mail.id, error = %reason, "outbox: giving up on a message");
            self.store.fail_mail(mail.id, &reason).await?;
            return Ok(Outcome::Failed);
        }
        let wait = backoff(&self.settings, attempts);
        let at = Utc::now() + wait;
        tracing::info!(message_id = mail.id, error = %reason, retry_in = ?wait, "outbox: delivery failed, will retry");
        self.store.reschedule_mail(mail.id, at, &reason).await?;
        Ok(Outcome::Retrying)
    }
}

/// `base × 2^(attempts − 1)`, capped at the ceiling.
fn backoff(settings: &OutboxSettings, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
    settings
        .backoff_base
        .saturating_mul(factor)
        .min(settings.backoff_ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::links::LinkTokens;
    use crate::config::DjoserSettings;
    use crate::mail::{EmailKind, Templates};
    use crate::store::StoreOptions;
    use crate::store::models::{NewUser, OutboxStatus, QueuedMail};

    /// An outbox on a fresh SQLite file whose mailer panics on every send, with one activation
    /// e-mail queued; the directory must outlive the store.
    async fn outbox_whose_deliveries_panic(max_attempts: u32) -> (Outbox, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("outbox.db").display());
        let options = StoreOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(10),
        };
        let store = Store::connect(&url, &options).await.expect("open SQLite");
        store.migrate().await.expect("migrate");
        let user = NewUser {
            email: "alice@example.com".into(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            password: "!unusable".into(),
            is_active: false,
            is_staff: false,
            is_superuser: false,
        };
        let mail = [QueuedMail::new(EmailKind::Activation, "alice@example.com")];
        store
            .create_user(&user, "alice@example.com", &mail)
            .await
            .expect("create the user");
        let renderer = MailRenderer::new(
            Templates::load(None).expect("built-in templates"),
            LinkTokens::new(&"k".repeat(40), Duration::from_secs(3600), true),
            &DjoserSettings::default(),
        );
        let settings = OutboxSettings {
            max_attempts,
            ..OutboxSettings::default()
        };
        let mailer = Mailer::panicking("noreply@example.com").expect("valid From");
        let outbox = Outbox::new(store, renderer, mailer, settings, Metrics::default());
        (outbox, dir)
    }

    #[tokio::test]
    async fn a_delivery_that_panics_is_a_failed_attempt_retried_then_given_up() {
        let (outbox, _dir) = outbox_whose_deliveries_panic(2).await;

        assert_eq!(outbox.deliver_due().await.expect("deliver"), 1);
        let rows = outbox.store.list_mail(None, 10).await.expect("list");
        let row = &rows[0];
        assert_eq!((row.status, row.attempts), (OutboxStatus::Pending, 1), "{row:?}");
        assert_eq!(
            row.last_error.as_deref(),
            Some("the delivery panicked: the test transport panics")
        );
        assert!(row.next_attempt_at > Utc::now(), "retried after the backoff: {row:?}");

        let due = Utc::now() - chrono::Duration::seconds(1);
        outbox
            .store
            .reschedule_mail(row.id, due, "made due by the test")
            .await
            .expect("make due");
        outbox.deliver_due().await.expect("deliver again");
        let row = &outbox.store.list_mail(None, 10).await.expect("list")[0];
        assert_eq!((row.status, row.attempts), (OutboxStatus::Failed, 2), "{row:?}");
        let text = outbox.metrics.render((0, 0), 0).expect("renders");
        assert!(text.contains("imhotep_emails_total{outcome=\"failed\"} 1"), "{text}");
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling() {
        let settings = OutboxSettings {
            backoff_base: Duration::from_secs(5),
            backoff_ceiling: Duration::from_secs(60),
            ..OutboxSettings::default()
        };
        let waits: Vec<u64> = (1..=6).map(|n| backoff(&settings, n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert_eq!(backoff(&settings, 1000).as_secs(), 60);
    }
}

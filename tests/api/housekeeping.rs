//! Token housekeeping: the server itself deletes expired outstanding refresh tokens (and their
//! blacklist rows) every `housekeeping.flush_interval`, and leaves live ones alone.

use std::time::Duration;

use crate::helpers::{Backend, TestApp, spawn_app_with};

const EXPIRED: &str = "SELECT count(*) FROM outstanding_tokens WHERE jti = 'expired-jti'";

/// Inserts an expired blacklisted token and a live one, as `rotate` and `record_outstanding` would.
/// The first token expires only once its blacklist row exists: a flush running between the inserts
/// would otherwise delete it under the second insert's foreign key.
async fn arrange_tokens(app: &TestApp) {
    app.execute(
        "INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at) VALUES \
         ('expired-jti', NULL, '2000-01-01T00:00:00+00:00', '2999-01-01T00:00:00+00:00'), \
         ('live-jti', NULL, '2000-01-01T00:00:00+00:00', '2999-01-01T00:00:00+00:00')",
    )
    .await;
    app.execute(
        "INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
         SELECT id, '2000-01-01T12:00:00+00:00' FROM outstanding_tokens WHERE jti = 'expired-jti'",
    )
    .await;
    app.execute("UPDATE outstanding_tokens SET expires_at = '2000-01-02T00:00:00+00:00' WHERE jti = 'expired-jti'")
        .await;
}

async fn expired_tokens_are_flushed_periodically(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.housekeeping.flush_interval = Duration::from_millis(200)).await else {
        return;
    };
    arrange_tokens(&app).await;
    for _ in 0..100 {
        if app.scalar(EXPIRED).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.scalar(EXPIRED).await,
        0,
        "the expired token was not flushed within 10 s"
    );
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 0);
    assert_eq!(
        app.scalar("SELECT count(*) FROM outstanding_tokens WHERE jti = 'live-jti'")
            .await,
        1
    );
}

async fn a_zero_interval_turns_housekeeping_off(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.housekeeping.flush_interval = Duration::ZERO).await else {
        return;
    };
    arrange_tokens(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.scalar(EXPIRED).await, 1);
    let health = app.send(|c| c.get(format!("{}/healthz", app.address))).await;
    assert_eq!(health.status, 200);
}

crate::on_both_databases!(
    expired_tokens_are_flushed_periodically,
    a_zero_interval_turns_housekeeping_off
);

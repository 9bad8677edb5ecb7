//! Token housekeeping: the server itself deletes expired outstanding refresh tokens (and their
//! blacklist rows) every `housekeeping.flush_interval`, and leaves live ones alone; with
//! `housekeeping.enabled = false` it does not. (A zero interval is refused at start-up: `startup.rs`.)

use std::time::Duration;

use crate::helpers::{Backend, TestApp, eventually, spawn_app_with};

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
    eventually("the expired token's flush", || async { app.scalar(EXPIRED).await == 0 }).await;
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 0);
    assert_eq!(
        app.scalar("SELECT count(*) FROM outstanding_tokens WHERE jti = 'live-jti'")
            .await,
        1
    );
}

async fn housekeeping_can_be_turned_off(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.housekeeping.enabled = false;
        s.housekeeping.flush_interval = Duration::from_millis(100);
    })
    .await
    else {
        return;
    };
    arrange_tokens(&app).await;
    // Nothing is supposed to happen, so there is nothing to poll for: five intervals pass.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.scalar(EXPIRED).await, 1);
    let health = app.send(|c| c.get(format!("{}/healthz", app.address))).await;
    assert_eq!(health.status, 200);
}

crate::on_both_databases!(expired_tokens_are_flushed_periodically, housekeeping_can_be_turned_off);

//! Contract tests for sessions: starting, rotating within, reading a family, revoking, and the
//! bearer query's session check.

use chrono::Utc;

use super::{contract_tests, count, execute, session, token, token_in, user_id};
use crate::store::Store;
use crate::store::models::{
    IssuedToken, NewSession, PasswordChange, PasswordLogin, RefreshRotation, Revocation, TokenRecord, UserId,
};

contract_tests!(
    a_login_starts_a_session_with_its_first_token,
    a_password_login_forgets_its_counters_and_starts_a_session_unless_a_factor_is_confirmed,
    rotating_a_sessionless_token_starts_a_session,
    the_rotation_state_reads_a_family,
    revoking_a_session_blacklists_its_tokens_only,
    revoking_a_user_keeps_only_the_named_session,
    a_revoked_session_cannot_rotate,
    a_refresh_rotates_once_and_only_a_live_token_of_a_user_who_may_refresh,
    a_refresh_of_a_sessionless_token_starts_the_offered_session,
    the_access_check_reads_the_session,
    ending_a_tokens_session_works_once,
    a_password_change_revokes_every_session,
    deleting_a_user_with_tokens_deletes_their_sessions,
);

async fn login(store: &Store, sid: &str, jti: &str, user: i64) {
    store
        .start_session(&session(sid, user), &token_in(jti, user, sid, None))
        .await
        .expect("start session");
}

async fn rotate(store: &Store, old: &str, new: &str, user: i64, sid: &str) -> bool {
    store
        .rotate(
            &token_in(old, user, sid, None),
            &token_in(new, user, sid, Some(old)),
            None,
        )
        .await
        .expect("rotate")
}

async fn blacklisted(store: &Store, jti: &str) -> bool {
    store.is_blacklisted(jti).await.expect("check")
}

async fn a_login_starts_a_session_with_its_first_token(store: Store) {
    let user = user_id(&store, "a@example.com").await;
    login(&store, "s1", "t1", user).await;

    let sessions = store.list_sessions(Some(user), Utc::now()).await.expect("list");
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        (
            sessions[0].id.as_str(),
            sessions[0].user_agent.as_deref(),
            sessions[0].ip.as_deref()
        ),
        ("s1", Some("curl/8"), Some("127.0.0.1"))
    );
    let status = store.token_status("t1").await.expect("status").expect("recorded");
    assert!(!status.blacklisted);
    assert_eq!(status.session_id.as_deref(), Some("s1"));
    assert_eq!(store.token_status("nope").await.expect("status"), None);
}

/// A password login of `user` in session `sid` with first token `jti`, forgetting `forget`.
async fn password_login(store: &Store, forget: Option<(&str, &str)>, sid: &str, jti: &str, user: i64) -> bool {
    let (session, token) = (session(sid, user), token_in(jti, user, sid, None));
    store
        .start_password_session(PasswordLogin {
            forget,
            session: &session,
            token: &token,
        })
        .await
        .expect("password login")
}

/// Counts a hit on each of `keys`.
async fn hit(store: &Store, keys: &[&str]) {
    for key in keys {
        store.throttle_hit(key, 100, 60_000, 1).await.expect("count");
    }
}

/// The keys of the throttle counters left, in order.
async fn counters(store: &Store) -> Vec<String> {
    let rows = store.throttle_active(0).await.expect("counters");
    rows.into_iter().map(|row| row.key).collect()
}

async fn a_password_login_forgets_its_counters_and_starts_a_session_unless_a_factor_is_confirmed(store: Store) {
    let user = user_id(&store, "p@example.com").await;
    let other = user_id(&store, "q@example.com").await;
    let forget = Some(("login:p", "login_client:p|127.0.0.1"));
    hit(&store, &["login:p", "login_client:p|127.0.0.1", "login:q"]).await;

    assert!(password_login(&store, forget, "s1", "t1", user).await);
    assert_eq!(counters(&store).await, ["login:q"], "only its own two are forgotten");
    let status = store.token_status("t1").await.expect("status").expect("recorded");
    assert_eq!(status.session_id.as_deref(), Some("s1"));

    // A pending factor does not hold a login up; a confirmed one does, and the counters go all the same.
    store.mfa_start_factor(user, "f1", "sealed").await.expect("factor");
    hit(&store, &["login:p"]).await;
    assert!(password_login(&store, forget, "s2", "t2", user).await);
    assert_eq!(counters(&store).await, ["login:q"]);
    let codes = vec!["h".to_owned()];
    assert!(
        store
            .mfa_confirm_factor(UserId(user), "f1", 1, &codes, &[])
            .await
            .expect("confirm")
    );
    hit(&store, &["login:p", "login_client:p|127.0.0.1"]).await;
    assert!(!password_login(&store, forget, "s3", "t3", user).await);
    assert_eq!(counters(&store).await, ["login:q"]);
    assert_eq!(store.token_status("t3").await.expect("status"), None);
    let sessions = store.list_sessions(Some(user), Utc::now()).await.expect("list");
    let mut ids: Vec<&str> = sessions.iter().map(|session| session.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["s1", "s2"], "nothing started");

    // Throttling off: nothing to forget.
    assert!(password_login(&store, None, "s4", "t4", other).await);
    assert_eq!(counters(&store).await, ["login:q"]);
    assert!(store.token_status("t4").await.expect("status").is_some());
}

async fn rotating_a_sessionless_token_starts_a_session(store: Store) {
    let user = user_id(&store, "b@example.com").await;
    let old = token("old", Some(user), Utc::now() + chrono::Duration::days(1));
    store.record_outstanding(&old).await.expect("record");

    let new = token_in("new", user, "s2", Some("old"));
    assert!(
        store
            .rotate(&old, &new, Some(&session("s2", user)))
            .await
            .expect("rotate")
    );

    assert!(blacklisted(&store, "old").await);
    let status = store.token_status("new").await.expect("status").expect("recorded");
    assert_eq!(status.session_id.as_deref(), Some("s2"));
    let state = store.rotation_state("old").await.expect("state").expect("recorded");
    assert_eq!(state.session_id.as_deref(), Some("s2"), "found through the child");
    assert_eq!(state.child.map(|(t, used)| (t.jti, used)), Some(("new".into(), false)));
    assert_eq!(
        store.list_sessions(Some(user), Utc::now()).await.expect("list").len(),
        1
    );
}

async fn the_rotation_state_reads_a_family(store: Store) {
    let user = user_id(&store, "c@example.com").await;
    login(&store, "s1", "t1", user).await;
    assert!(rotate(&store, "t1", "t2", user, "s1").await);
    assert!(rotate(&store, "t2", "t3", user, "s1").await);

    let first = store.rotation_state("t1").await.expect("state").expect("recorded");
    assert!(first.rotated_at.is_some());
    assert!(!first.session_revoked);
    assert_eq!(first.child.map(|(t, used)| (t.jti, used)), Some(("t2".into(), true)));
    assert_eq!(first.live.as_ref().map(|t| t.jti.as_str()), Some("t3"));
    let second = store.rotation_state("t2").await.expect("state").expect("recorded");
    let (child, used) = second.child.expect("child");
    assert_eq!((child.jti.as_str(), used), ("t3", false));
    assert_eq!(Some(child), second.live, "the unused child is the live token");
    let live = store.rotation_state("t3").await.expect("state").expect("recorded");
    assert_eq!((live.rotated_at, live.child), (None, None));
}

async fn revoking_a_session_blacklists_its_tokens_only(store: Store) {
    let user = user_id(&store, "d@example.com").await;
    let other = user_id(&store, "e@example.com").await;
    login(&store, "s1", "t1", user).await;
    login(&store, "s2", "t2", user).await;

    let by_other = Revocation::Session {
        id: "s1",
        owner: Some(other),
    };
    assert_eq!(store.revoke_sessions(by_other).await.expect("revoke"), 0);
    let by_owner = Revocation::Session {
        id: "s1",
        owner: Some(user),
    };
    assert_eq!(store.revoke_sessions(by_owner).await.expect("revoke"), 1);
    assert_eq!(store.revoke_sessions(by_owner).await.expect("revoke again"), 0);

    assert!(blacklisted(&store, "t1").await);
    assert!(!blacklisted(&store, "t2").await);
    let left: Vec<String> = store
        .list_sessions(Some(user), Utc::now())
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, ["s2"]);
}

async fn revoking_a_user_keeps_only_the_named_session(store: Store) {
    let user = user_id(&store, "f@example.com").await;
    login(&store, "s1", "t1", user).await;
    login(&store, "s2", "t2", user).await;
    store
        .record_outstanding(&token("loose", Some(user), Utc::now() + chrono::Duration::days(1)))
        .await
        .expect("record");

    let revoked = store
        .revoke_sessions(Revocation::User {
            user_id: user,
            keep: Some("s2"),
        })
        .await
        .expect("revoke");

    assert_eq!(revoked, 1);
    assert!(blacklisted(&store, "t1").await);
    assert!(blacklisted(&store, "loose").await, "tokens of no session go too");
    assert!(!blacklisted(&store, "t2").await);
    let all = Revocation::User {
        user_id: user,
        keep: None,
    };
    assert_eq!(store.revoke_sessions(all).await.expect("revoke all"), 1);
    assert!(blacklisted(&store, "t2").await);
}

async fn a_revoked_session_cannot_rotate(store: Store) {
    let user = user_id(&store, "g@example.com").await;
    login(&store, "s1", "t1", user).await;
    store
        .revoke_sessions(Revocation::Session { id: "s1", owner: None })
        .await
        .expect("revoke");

    assert!(!rotate(&store, "t1", "t2", user, "s1").await);
    assert_eq!(store.token_status("t2").await.expect("status"), None);
    let state = store.rotation_state("t1").await.expect("state").expect("recorded");
    assert!(state.session_revoked);

    // A revoked session whose token is not blacklisted (no path writes that, but a refresh must
    // not take the token's word for its session) refuses the refresh and writes nothing.
    login(&store, "s2", "t3", user).await;
    execute(&store, "UPDATE sessions SET revoked_at = last_used_at WHERE id = 's2'").await;
    let (old, child, offered) = (token_in("t3", user, "s2", None), issued("t4"), session("offered", user));
    let outcome = store
        .refresh_rotation(rotation(&old, &child, Some(user), false, &offered))
        .await
        .expect("refresh");
    assert_eq!((outcome.blacklisted, outcome.rotated_in), (false, None));
    assert!(!blacklisted(&store, "t3").await, "nothing written");
    assert_eq!(store.token_status("t4").await.expect("status"), None);
}

async fn the_access_check_reads_the_session(store: Store) {
    let user = user_id(&store, "h@example.com").await;
    let other = user_id(&store, "i@example.com").await;
    login(&store, "s1", "t1", user).await;
    login(&store, "s9", "t9", other).await;
    let live = |sid: &'static str| {
        let store = store.clone();
        async move {
            store
                .user_for_access(user, sid)
                .await
                .expect("query")
                .map(|row| (row.user.id, row.session_live))
        }
    };

    assert_eq!(live("s1").await, Some((user, true)));
    assert_eq!(live("s9").await, Some((user, false)), "another user's session");
    assert_eq!(live("unknown").await, Some((user, false)));
    store
        .revoke_sessions(Revocation::Session { id: "s1", owner: None })
        .await
        .expect("revoke");
    assert_eq!(live("s1").await, Some((user, false)));
    assert!(store.user_for_access(999, "s1").await.expect("query").is_none());
}

async fn ending_a_tokens_session_works_once(store: Store) {
    let user = user_id(&store, "j@example.com").await;
    login(&store, "s1", "t1", user).await;
    assert!(rotate(&store, "t1", "t2", user, "s1").await);

    let t2 = token_in("t2", user, "s1", Some("t1"));
    assert!(store.end_session_of(&t2).await.expect("end"));
    assert!(!store.end_session_of(&t2).await.expect("end again"));

    assert!(blacklisted(&store, "t2").await);
    assert!(
        store
            .list_sessions(Some(user), Utc::now())
            .await
            .expect("list")
            .is_empty()
    );
}

async fn a_password_change_revokes_every_session(store: Store) {
    let user = user_id(&store, "k@example.com").await;
    login(&store, "s1", "t1", user).await;
    login(&store, "s2", "t2", user).await;
    let change = PasswordChange {
        new_hash: "pbkdf2_sha256$600000$salt$other",
        expected_hash: None,
        touch_last_login: false,
        revoke_tokens: true,
    };

    assert!(store.change_password(user, &change, &[]).await.expect("change"));

    assert!(blacklisted(&store, "t1").await && blacklisted(&store, "t2").await);
    assert!(
        store
            .list_sessions(Some(user), Utc::now())
            .await
            .expect("list")
            .is_empty()
    );
}

async fn deleting_a_user_with_tokens_deletes_their_sessions(store: Store) {
    let user = user_id(&store, "l@example.com").await;
    login(&store, "s1", "t1", user).await;

    assert!(store.delete_user(user, true).await.expect("delete"));

    assert_eq!(count(&store, "SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outstanding_tokens").await, 0);
}

fn rotation(
    old: &TokenRecord,
    child: &IssuedToken,
    user_id: Option<i64>,
    check_user_is_active: bool,
    session: &NewSession,
) -> RefreshRotation {
    RefreshRotation {
        old: old.clone(),
        child: child.clone(),
        user_id,
        check_user_is_active,
        session: session.clone(),
    }
}

fn issued(jti: &str) -> IssuedToken {
    let now = Utc::now();
    IssuedToken {
        jti: jti.to_owned(),
        created_at: now,
        expires_at: now + chrono::Duration::days(1),
    }
}

async fn a_refresh_rotates_once_and_only_a_live_token_of_a_user_who_may_refresh(store: Store) {
    let user = user_id(&store, "r@example.com").await; // not active
    login(&store, "s1", "t1", user).await;
    let old = token_in("t1", user, "s1", None);
    let offered = session("offered", user);
    let request = |child, user_id, check_user_is_active| rotation(&old, child, user_id, check_user_is_active, &offered);
    let children: Vec<IssuedToken> = (0..8).map(|i| issued(&format!("c{i}"))).collect();

    let inactive = store
        .refresh_rotation(request(&children[0], Some(user), true))
        .await
        .expect("refresh");
    assert_eq!((inactive.blacklisted, inactive.rotated_in), (false, None));
    assert_eq!(inactive.user.map(|u| (u.id, u.is_active)), Some((user, false)));
    let unknown = store
        .refresh_rotation(request(&children[0], Some(user + 1), false))
        .await
        .expect("refresh");
    assert_eq!(
        (unknown.blacklisted, unknown.user, unknown.rotated_in),
        (false, None, None)
    );
    assert!(!blacklisted(&store, "t1").await, "nothing written");
    assert_eq!(count(&store, "SELECT count(*) FROM outstanding_tokens").await, 1);

    let (store_ref, request_ref) = (&store, &request);
    let outcomes = futures::future::join_all(
        children
            .iter()
            .map(|child| async move { store_ref.refresh_rotation(request_ref(child, Some(user), false)).await }),
    )
    .await;
    let winners: Vec<_> = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("refresh").rotated_in)
        .filter(Option::is_some)
        .collect();
    assert_eq!(
        winners,
        vec![Some("s1".to_owned())],
        "exactly one rotation, in the token's session"
    );
    assert!(blacklisted(&store, "t1").await);
    assert_eq!(count(&store, "SELECT count(*) FROM outstanding_tokens").await, 2);
    let state = store.rotation_state("t1").await.expect("state").expect("recorded");
    assert_eq!(
        state
            .child
            .map(|(child, used)| (child.created_at > old.created_at, used)),
        Some((true, false))
    );

    let again = store
        .refresh_rotation(request(&children[0], Some(user), false))
        .await
        .expect("refresh");
    assert_eq!((again.blacklisted, again.rotated_in), (true, None));
    assert_eq!(count(&store, "SELECT count(*) FROM outstanding_tokens").await, 2);
}

async fn a_refresh_of_a_sessionless_token_starts_the_offered_session(store: Store) {
    let user = user_id(&store, "f@example.com").await;
    let foreign = token("minted-elsewhere", None, Utc::now() + chrono::Duration::days(1));
    let offered = session("offered", user);
    let child = issued("child");
    let outcome = store
        .refresh_rotation(rotation(&foreign, &child, None, true, &offered))
        .await
        .expect("refresh");
    assert_eq!(
        (outcome.blacklisted, outcome.user, outcome.rotated_in.as_deref()),
        (false, None, Some("offered"))
    );
    assert!(blacklisted(&store, "minted-elsewhere").await);
    let status = store.token_status("child").await.expect("status").expect("recorded");
    assert_eq!(status.session_id.as_deref(), Some("offered"));
    let state = store
        .rotation_state("minted-elsewhere")
        .await
        .expect("state")
        .expect("recorded");
    assert_eq!(state.child.map(|(child, _)| child.jti), Some("child".to_owned()));
}

//! Operations of the session endpoints (documentation only: the handlers are in `http::sessions`).
#![allow(dead_code)]

use super::schemas::{Detail, Session, Unauthorized};

/// Your sessions
///
/// The caller's sessions that are neither revoked nor expired, newest first.
#[utoipa::path(get, path = "/api/auth/sessions/", operation_id = "sessions_list", tag = "sessions",
    security(("jwt" = [])),
    responses(
        (status = 200, description = "The sessions", body = Vec<Session>),
        (status = 401, response = Unauthorized),
    ))]
fn sessions_list() {}

/// Log out your other sessions
///
/// Ends every session of the caller except the one of the access token presented.
#[utoipa::path(delete, path = "/api/auth/sessions/", operation_id = "sessions_revoke_others", tag = "sessions",
    security(("jwt" = [])),
    responses(
        (status = 204, description = "Ended; no body"),
        (status = 401, response = Unauthorized),
    ))]
fn sessions_revoke_others() {}

/// End one of your sessions
///
/// Its refresh tokens are blacklisted and its access tokens refused from now on.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}/", operation_id = "sessions_detail", tag = "sessions",
    security(("jwt" = [])),
    params(("id" = String, Path, description = "The session id")),
    responses(
        (status = 204, description = "Ended; no body"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such live session of the caller", body = Detail),
    ))]
fn sessions_detail() {}

/// A user's sessions (staff)
#[utoipa::path(get, path = "/api/auth/users/{id}/sessions/", operation_id = "users_sessions_list", tag = "sessions",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "The user id")),
    responses(
        (status = 200, description = "The user's live sessions, newest first", body = Vec<Session>),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller is not staff", body = Detail),
        (status = 404, description = "No such user", body = Detail),
    ))]
fn users_sessions_list() {}

/// End a user's session (staff)
#[utoipa::path(delete, path = "/api/auth/users/{id}/sessions/{session}/", operation_id = "users_sessions_delete",
    tag = "sessions",
    security(("jwt" = [])),
    params(
        ("id" = i64, Path, description = "The user id"),
        ("session" = String, Path, description = "The session id"),
    ),
    responses(
        (status = 204, description = "Ended; no body"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller is not staff", body = Detail),
        (status = 404, description = "No such user, or no such live session of theirs", body = Detail),
    ))]
fn users_sessions_delete() {}

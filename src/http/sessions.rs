//! Sessions as an API: the caller's own (`sessions/`), and staff's view of anyone's
//! (`users/{id}/sessions/`). Revoking a session blacklists its refresh tokens and, with
//! `sessions.check_access_token_session`, stops its access tokens at once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::bearer::{CurrentSession, CurrentUser};
use super::error::{ApiError, ApiResult};
use super::state::AppState;
use super::user_detail::django_int;
use crate::store::models::{SessionRow, User};

/// `GET sessions/`: the caller's live sessions, newest first; `current` marks the one of the
/// access token presented.
pub async fn list(State(state): State<AppState>, CurrentSession(caller): CurrentSession) -> ApiResult<Json<Value>> {
    let sessions = state.sessions.list(caller.user.id).await?;
    Ok(Json(render(&sessions, caller.session.as_deref())))
}

/// `DELETE sessions/`: ends every session of the caller but the current one.
pub async fn revoke_others(
    State(state): State<AppState>,
    CurrentSession(caller): CurrentSession,
) -> ApiResult<StatusCode> {
    state
        .sessions
        .revoke_all(caller.user.id, caller.session.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE sessions/{id}/`: ends one of the caller's sessions. Someone else's id answers exactly
/// like one that does not exist.
pub async fn revoke(
    State(state): State<AppState>,
    CurrentSession(caller): CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !state.sessions.revoke(caller.user.id, &id).await? {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET users/{id}/sessions/` (staff): a user's live sessions, newest first.
pub async fn staff_list(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = staff_target(&state, &caller, &user).await?;
    let sessions = state.sessions.list(user.id).await?;
    Ok(Json(render(&sessions, None)))
}

/// `DELETE users/{id}/sessions/{session}/` (staff): ends one of a user's sessions.
pub async fn staff_revoke(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((user, session)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let user = staff_target(&state, &caller, &user).await?;
    if !state.sessions.revoke(user.id, &session).await? {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The user `{id}` names, for a staff caller (DRF's `IsAdminUser`: others get 403).
async fn staff_target(state: &AppState, caller: &User, raw_id: &str) -> ApiResult<User> {
    if !caller.is_staff {
        return Err(ApiError::detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        ));
    }
    let user = match django_int(raw_id) {
        Some(id) => state.accounts.user_by_id(id).await?,
        None => None,
    };
    user.ok_or_else(|| ApiError::detail(StatusCode::NOT_FOUND, "No User matches the given query."))
}

fn not_found() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "Not found.")
}

/// `[{"id", "created", "last_used", "expires", "user_agent", "ip", "current"}]`.
fn render(sessions: &[SessionRow], current: Option<&str>) -> Value {
    Value::Array(
        sessions
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "created": drf_datetime(&s.created_at),
                    "last_used": drf_datetime(&s.last_used_at),
                    "expires": drf_datetime(&s.expires_at),
                    "user_agent": s.user_agent,
                    "ip": s.ip,
                    "current": current == Some(s.id.as_str()),
                })
            })
            .collect(),
    )
}

/// DRF's `DateTimeField` output for UTC: ISO 8601 with `Z`, microseconds only when there are some.
fn drf_datetime(at: &DateTime<Utc>) -> String {
    let precision = if at.timestamp_subsec_micros() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Micros
    };
    at.to_rfc3339_opts(precision, true)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::drf_datetime;

    #[test]
    fn datetimes_render_like_drf() {
        let whole = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(drf_datetime(&whole), "2026-01-02T03:04:05Z");
        let fraction = whole + chrono::Duration::microseconds(120);
        assert_eq!(drf_datetime(&fraction), "2026-01-02T03:04:05.000120Z");
    }
}

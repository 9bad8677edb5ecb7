//! `GET users/` and `users/{id}/` (Djoser's `CurrentUserOrAdmin`): staff see and manage everyone,
//! others only themselves. Authority comes from the database row, never from token claims.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::bearer::CurrentUser;
use super::body::Body;
use super::client_ip::ClientIp;
use super::error::{ApiError, ApiResult};
use super::profile;
use super::state::AppState;
use super::users::{delete, update};
use crate::store::models::User;

const NO_MATCH: &str = "No User matches the given query.";

/// `GET users/`: with `hide_users`, a non-staff caller sees only themselves.
pub async fn list(State(state): State<AppState>, CurrentUser(caller): CurrentUser) -> ApiResult<Json<Value>> {
    let required = &state.settings.djoser.required_fields;
    let users = if caller.is_staff || !state.settings.djoser.hide_users {
        state.accounts.list_users().await?
    } else {
        vec![caller]
    };
    Ok(Json(Value::Array(
        users.iter().map(|u| profile::read(u, required)).collect(),
    )))
}

/// `GET users/{id}/` (and `HEAD`).
pub async fn show(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let target = target(&state, &caller, &id).await?;
    Ok(Json(profile::read(&target, &state.settings.djoser.required_fields)))
}

/// `PUT`/`PATCH users/{id}/`.
pub async fn edit(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let target = target(&state, &caller, &id).await?;
    may_manage(&caller, &target)?;
    update(&state, &target, &body).await
}

/// `DELETE users/{id}/`: the caller's password, whoever the target.
pub async fn remove(
    State(state): State<AppState>,
    client: ClientIp,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let target = target(&state, &caller, &id).await?;
    may_manage(&caller, &target)?;
    delete(&state, (&caller, client), &target, &body).await
}

/// Only a superuser may edit or delete another superuser: staff without the flag could otherwise
/// take over or remove the accounts that grant it. A deliberate difference: Djoser's
/// `CurrentUserOrAdmin` lets any staff user act on anyone.
fn may_manage(caller: &User, target: &User) -> ApiResult<()> {
    if target.is_superuser && !caller.is_superuser && target.id != caller.id {
        return Err(ApiError::detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        ));
    }
    Ok(())
}

/// The user `{id}` names, if the caller may act on them. With `hide_users` (the default) a user the
/// caller may not see answers exactly like one that does not exist, so ids reveal nothing;
/// without it, Djoser's 403.
async fn target(state: &AppState, caller: &User, raw_id: &str) -> ApiResult<User> {
    let Some(id) = django_int(raw_id) else {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, "Not found."));
    };
    let visible = caller.is_staff || id == caller.id;
    if !visible && state.settings.djoser.hide_users {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, NO_MATCH));
    }
    let Some(user) = state.accounts.user_by_id(id).await? else {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, NO_MATCH));
    };
    if !visible {
        return Err(ApiError::detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        ));
    }
    Ok(user)
}

/// Python's `int()` on a path segment: an optional sign, digits, single underscores between digits.
pub(super) fn django_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let valid = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !valid {
        return None;
    }
    text.replace('_', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::django_int;

    #[test]
    fn ids_parse_like_python_int() {
        for (text, id) in [
            ("1", Some(1)),
            ("01", Some(1)),
            ("-1", Some(-1)),
            ("+7", Some(7)),
            ("1_0", Some(10)),
        ] {
            assert_eq!(django_int(text), id, "{text}");
        }
        for text in ["", "abc", "1.5", "_1", "1__0", "99999999999999999999", "-", " 1"] {
            assert_eq!(django_int(text), None, "{text}");
        }
    }
}

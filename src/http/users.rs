//! Djoser's `users/...` endpoints: register, the current user, activation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::bearer::{CurrentUser, MaybeUser};
use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::fields::{Form, checked};
use super::state::AppState;
use crate::auth::password::UserAttributes;
use crate::store::models::User;

/// The read representation (`users/me/`): `{"id", "email"}`.
pub fn representation(user: &User) -> Value {
    json!({ "id": user.id, "email": user.email })
}

/// `POST users/`: Djoser's `UserCreatePasswordRetypeSerializer`.
pub async fn register(State(state): State<AppState>, _caller: MaybeUser, Body(body): Body) -> ApiResult<Response> {
    let retype = state.settings.djoser.user_create_password_retype;
    let mut form = Form::new(&body);
    let email = form.email("email");
    if let Some(email) = &email
        && state.accounts.email_taken(email).await?
    {
        form.add("email", "user with this email address already exists.");
    }
    let password = form.password("password");
    let retyped = if retype { form.password("re_password") } else { None };
    form.finish()?;
    let (email, password) = (checked(email)?, checked(password)?);
    let attributes = UserAttributes {
        username: "",
        first_name: "",
        last_name: "",
        email: email.as_str(),
    };
    let problems = state.accounts.password_problems(&password, Some(&attributes));
    if !problems.is_empty() {
        return Err(ApiError::Fields(vec![("password".into(), problems)]));
    }
    if retype && retyped.as_deref() != Some(password.as_str()) {
        return Err(ApiError::non_field("The two password fields didn't match."));
    }
    let user = state.accounts.register(&email, &password).await?;
    Ok((StatusCode::CREATED, Json(json!({ "email": user.email, "id": user.id }))).into_response())
}

/// `GET users/me/` (and `HEAD`).
pub async fn me(CurrentUser(user): CurrentUser) -> Json<Value> {
    Json(representation(&user))
}

/// `PUT`/`PATCH users/me/`: nothing is writable on the e-mail user model (unknown and read-only
/// fields are ignored), so this answers the representation; an inactive caller gets the
/// activation e-mail again, as in Djoser.
pub async fn update_me(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Body(_body): Body,
) -> ApiResult<Json<Value>> {
    state.accounts.updated(&user).await?;
    Ok(Json(representation(&user)))
}

/// `DELETE users/me/`: needs the caller's `current_password`.
pub async fn delete_me(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let mut form = Form::new(&body);
    if let Some(password) = form.password("current_password")
        && !state.accounts.check_password(&user, &password).await?
    {
        form.add("current_password", "Invalid password.");
    }
    form.finish()?;
    state.accounts.delete(&user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST users/activation/`: uid, then token, then 403 if the account is already active.
pub async fn activation(State(state): State<AppState>, _caller: MaybeUser, Body(body): Body) -> ApiResult<StatusCode> {
    let mut form = Form::new(&body);
    let uid = form.char("uid", None);
    let token = form.char("token", None);
    form.finish()?;
    state.accounts.activate(&checked(uid)?, &checked(token)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

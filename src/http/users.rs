//! Djoser's `users/...` endpoints: register, the current user, activation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::account::{current_password, new_password_checks};
use super::bearer::{CurrentUser, MaybeUser};
use super::body::Body;
use super::client::RequestClient;
use super::client_ip::ClientIp;
use super::error::ApiResult;
use super::fields::{Form, checked};
use super::profile;
use super::state::AppState;
use crate::auth::password::UserAttributes;
use crate::store::models::User;

/// `POST users/`: Djoser's `UserCreatePasswordRetypeSerializer`.
/// With `djoser.registration_hides_existing` a taken address is not reported: it gets the answer of
/// a new account and its owner a notice.
pub async fn register(
    State(state): State<AppState>,
    client: ClientIp,
    _caller: MaybeUser,
    RequestClient(session_client): RequestClient,
    Body(body): Body,
) -> ApiResult<Response> {
    let djoser = &state.settings.djoser;
    let retype = djoser.user_create_password_retype;
    let mut form = Form::new(&body);
    let profile = profile::read_fields(&mut form, &body, &djoser.required_fields);
    let email = form.email("email");
    if let Some(email) = &email
        && !djoser.registration_hides_existing
        && state.accounts.email_taken(email).await?
    {
        form.add("email", "user with this email address already exists.");
    }
    let password = form.password("password");
    let retyped = if retype { form.password("re_password") } else { None };
    form.finish()?;
    let (email, password) = (checked(email)?, checked(password)?);
    let attributes = UserAttributes {
        username: profile.username.as_deref().unwrap_or_default(),
        first_name: profile.first_name.as_deref().unwrap_or_default(),
        last_name: profile.last_name.as_deref().unwrap_or_default(),
        email: email.as_str(),
    };
    let problems = state.accounts.password_problems(&password, Some(&attributes));
    new_password_checks("password", problems, retype.then_some(retyped.as_ref()), &password)?;
    let user = if djoser.registration_hides_existing {
        let client = client.key();
        state
            .accounts
            .register_hiding_existing(&email, &password, &profile, client)
            .await?
    } else {
        state.accounts.register(&email, &password, &profile).await?
    };
    let created = profile::created(&user, &djoser.required_fields);
    if djoser.register_returns_tokens && !djoser.send_activation_email {
        let pair = state.sessions.login(&user, &session_client).await?;
        let body = json!({ "user": created, "refresh": pair.refresh, "access": pair.access });
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET users/me/` (and `HEAD`).
pub async fn me(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Json<Value> {
    Json(profile::read(&user, &state.settings.djoser.required_fields))
}

/// `PUT`/`PATCH users/me/`: only `djoser.required_fields` are writable (unknown and read-only
/// fields are ignored); an inactive caller gets the activation e-mail again, as in Djoser.
pub async fn update_me(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    update(&state, &user, &body).await
}

/// `DELETE users/me/`: needs the caller's `current_password`.
pub async fn delete_me(
    State(state): State<AppState>,
    client: ClientIp,
    CurrentUser(user): CurrentUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    delete(&state, (&user, client), &user, &body).await
}

/// Applies a `PUT`/`PATCH` body to `target` and answers its new representation.
pub async fn update(state: &AppState, target: &User, body: &serde_json::Map<String, Value>) -> ApiResult<Json<Value>> {
    let required = &state.settings.djoser.required_fields;
    let mut form = Form::new(body);
    let change = profile::read_fields(&mut form, body, required);
    form.finish()?;
    let user = state.accounts.update_profile(target, &change).await?;
    Ok(Json(profile::read(&user, required)))
}

/// Deletes `target` once `caller` has confirmed with their own `current_password` (Djoser: an
/// admin deleting someone types the admin's password).
pub async fn delete(
    state: &AppState,
    (caller, client): (&User, ClientIp),
    target: &User,
    body: &serde_json::Map<String, Value>,
) -> ApiResult<StatusCode> {
    let mut form = Form::new(body);
    current_password(state, &mut form, caller, client).await?;
    form.finish()?;
    state.accounts.delete(target).await?;
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

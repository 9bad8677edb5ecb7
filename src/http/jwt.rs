//! SimpleJWT's views (`jwt/create`, `refresh`, `verify`, `blacklist`) and the logout recipe.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::bearer::CurrentUser;
use super::body::Body;
use super::client::RequestClient;
use super::client_ip::ClientIp;
use super::error::{ApiError, ApiResult};
use super::fields::{Form, checked};
use super::state::AppState;
use crate::auth::AuthError;
use crate::auth::sessions::{LogoutScope, TokenPair};

/// `POST jwt/create/`: e-mail and password → `{"refresh", "access"}`, in a new session; for an
/// account with a second factor, the ticket of the second step instead (`http::mfa`).
pub async fn create(
    State(state): State<AppState>,
    client: ClientIp,
    RequestClient(session_client): RequestClient,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut form = Form::new(&body);
    let email = form.char("email", None);
    let password = form.password("password");
    form.finish()?;
    let accepted = state
        .accounts
        .authenticate(&checked(email)?, &checked(password)?, client.key())
        .await?;
    let user = &accepted.user;
    if state.mfa.enrolment_due(user) {
        state.accounts.forget_failures(&accepted).await?;
    } else {
        // Nearly every login: the failures are forgotten and the session started in one write,
        // which starts none for an account with a second factor.
        let forget = accepted.counters.keys();
        if let Some(pair) = state
            .sessions
            .login_after_password(user, &session_client, forget)
            .await?
        {
            return Ok(token_pair(&pair));
        }
    }
    if let Some(second_step) = super::mfa::login_challenge(&state, user).await? {
        return Ok(second_step);
    }
    // The account's last factor was removed since the write above looked.
    let pair = state.sessions.login(user, &session_client).await?;
    Ok(token_pair(&pair))
}

/// A login's answer: `{"refresh", "access"}`.
pub(super) fn token_pair(pair: &TokenPair) -> Json<Value> {
    Json(json!({ "refresh": pair.refresh, "access": pair.access }))
}

/// `POST jwt/refresh/`: `{"access"}`, plus `"refresh"` when rotating.
pub async fn refresh(
    State(state): State<AppState>,
    RequestClient(client): RequestClient,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let token = single_field(&body, "refresh")?;
    let refreshed = state.sessions.refresh(&token, &client).await?;
    let mut answer = Map::new();
    answer.insert("access".into(), json!(refreshed.access));
    if let Some(refresh) = refreshed.refresh {
        answer.insert("refresh".into(), json!(refresh));
    }
    Ok(Json(Value::Object(answer)))
}

/// `POST jwt/verify/`: `{}` for any valid token.
pub async fn verify(State(state): State<AppState>, Body(body): Body) -> ApiResult<Json<Value>> {
    let token = single_field(&body, "token")?;
    state.sessions.verify(&token).await?;
    Ok(Json(json!({})))
}

/// `POST jwt/blacklist/`: possession of the refresh token is the proof; its session ends.
pub async fn blacklist(State(state): State<AppState>, Body(body): Body) -> ApiResult<Json<Value>> {
    let token = single_field(&body, "refresh")?;
    state.sessions.blacklist(&token).await?;
    Ok(Json(json!({})))
}

/// `POST jwt/logout/`: an authenticated caller blacklists a refresh token, ending its session, and
/// with `"scope": "others"` or `"global"` the caller's other sessions too; 205 with no body. The
/// recipe asks for the token with Python's `if not refresh`: any falsy value is "required".
pub async fn logout(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let token = match body.get("refresh") {
        None => None,
        Some(value) if python_falsy(value) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    };
    let Some(token) = token else {
        return Err(ApiError::detail(StatusCode::BAD_REQUEST, "Refresh token required."));
    };
    let scope = logout_scope(&body)?;
    match state.sessions.logout(&token, &caller, scope).await {
        Ok(()) => Ok(StatusCode::RESET_CONTENT),
        Err(AuthError::Token(_)) => Err(ApiError::detail(StatusCode::BAD_REQUEST, "Invalid token.")),
        Err(other) => Err(other.into()),
    }
}

/// Python's truth test on a decoded JSON value: `None`, `False`, `0`, `0.0`, `""`, `[]` and `{}` are false.
fn python_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
    }
}

/// The optional `scope` of a logout, checked like DRF's `ChoiceField`.
fn logout_scope(body: &Map<String, Value>) -> ApiResult<LogoutScope> {
    let scope = match body.get("scope") {
        None => return Ok(LogoutScope::default()),
        Some(Value::Null) => return Err(ApiError::field("scope", "This field may not be null.")),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    match scope.as_str() {
        "local" => Ok(LogoutScope::Local),
        "others" => Ok(LogoutScope::Others),
        "global" => Ok(LogoutScope::Global),
        _ => Err(ApiError::field("scope", format!("\"{scope}\" is not a valid choice."))),
    }
}

fn single_field(body: &Map<String, Value>, name: &str) -> ApiResult<String> {
    let mut form = Form::new(body);
    let value = form.char(name, None);
    form.finish()?;
    checked(value)
}

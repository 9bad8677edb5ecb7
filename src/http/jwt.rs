//! SimpleJWT's views (`jwt/create`, `refresh`, `verify`, `blacklist`) and the logout recipe.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::bearer::CurrentUser;
use super::body::Body;
use super::client_ip::ClientIp;
use super::error::{ApiError, ApiResult};
use super::fields::{Form, checked};
use super::state::AppState;
use crate::auth::AuthError;

/// `POST jwt/create/`: e-mail and password → `{"refresh", "access"}`.
pub async fn create(State(state): State<AppState>, client: ClientIp, Body(body): Body) -> ApiResult<Json<Value>> {
    let mut form = Form::new(&body);
    let email = form.char("email", None);
    let password = form.password("password");
    form.finish()?;
    let user = state
        .accounts
        .authenticate(&checked(email)?, &checked(password)?, client.key())
        .await?;
    let pair = state.sessions.login(&user).await?;
    Ok(Json(json!({ "refresh": pair.refresh, "access": pair.access })))
}

/// `POST jwt/refresh/`: `{"access"}`, plus `"refresh"` when rotating.
pub async fn refresh(State(state): State<AppState>, Body(body): Body) -> ApiResult<Json<Value>> {
    let token = single_field(&body, "refresh")?;
    let refreshed = state.sessions.refresh(&token).await?;
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

/// `POST jwt/blacklist/`: possession of the refresh token is the proof.
pub async fn blacklist(State(state): State<AppState>, Body(body): Body) -> ApiResult<Json<Value>> {
    let token = single_field(&body, "refresh")?;
    state.sessions.blacklist(&token).await?;
    Ok(Json(json!({})))
}

/// `POST jwt/logout/`: an authenticated caller blacklists a refresh token; 205 with no body.
pub async fn logout(State(state): State<AppState>, _caller: CurrentUser, Body(body): Body) -> ApiResult<StatusCode> {
    let token = match body.get("refresh") {
        None | Some(Value::Null | Value::Bool(false)) => None,
        Some(Value::String(text)) if text.is_empty() => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    };
    let Some(token) = token else {
        return Err(ApiError::detail(StatusCode::BAD_REQUEST, "Refresh token required."));
    };
    match state.sessions.blacklist(&token).await {
        Ok(()) => Ok(StatusCode::RESET_CONTENT),
        Err(AuthError::Token(_)) => Err(ApiError::detail(StatusCode::BAD_REQUEST, "Invalid token.")),
        Err(other) => Err(other.into()),
    }
}

fn single_field(body: &Map<String, Value>, name: &str) -> ApiResult<String> {
    let mut form = Form::new(body);
    let value = form.char(name, None);
    form.finish()?;
    checked(value)
}

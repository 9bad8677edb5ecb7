//! Two-factor login over HTTP: enrolment and management under `mfa/` (bearer, or for a staff
//! account that must enrol, the enrolment ticket from `jwt/create/`), and `jwt/create/mfa/`, the
//! second step of a login. Accounts without a factor never reach any of it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::account::current_password;
use super::bearer::{CurrentUser, MaybeUser};
use super::body::Body;
use super::client::RequestClient;
use super::client_ip::ClientIp;
use super::error::{ApiError, ApiResult};
use super::fields::{Form, checked};
use super::state::AppState;
use crate::auth::mfa::{Challenge, METHODS, Proof};
use crate::store::models::User;

/// Longest code or ticket read: far above any real one, far below anything costly.
const MAX_CODE_CHARS: usize = 128;

/// The answer of `jwt/create/` when the password was right but tokens must wait, or `None` when
/// tokens may be issued now (accounts without a factor: the usual answer, unchanged).
pub async fn login_challenge(state: &AppState, user: &User) -> ApiResult<Option<Json<Value>>> {
    Ok(match state.mfa.challenge(user).await? {
        Challenge::None => None,
        Challenge::Code { ticket } => Some(Json(json!({
            "mfa_required": true,
            "ticket": ticket,
            "methods": METHODS,
        }))),
        Challenge::Enrol { ticket } => Some(Json(json!({
            "mfa_enrolment_required": true,
            "ticket": ticket,
        }))),
    })
}

/// `POST jwt/create/mfa/`: `{"ticket", "code"}` or `{"ticket", "recovery_code"}` → `{"refresh", "access"}`.
pub async fn create(
    State(state): State<AppState>,
    client: ClientIp,
    RequestClient(session_client): RequestClient,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut form = Form::new(&body);
    let ticket = form.char("ticket", Some(MAX_CODE_CHARS));
    let proof = read_proof(&mut form, &body, true);
    form.finish()?;
    let (field, code) = checked(proof)?;
    let user = state
        .mfa
        .finish_login(&checked(ticket)?, as_proof(field, &code), client.key())
        .await?;
    let pair = state.sessions.login_second_factor(&user, &session_client).await?;
    Ok(super::jwt::token_pair(&pair))
}

/// `POST mfa/totp/`: a pending TOTP factor, `{"id", "secret", "otpauth_url", "qr_svg"}`; it asks for
/// nothing at login until confirmed. Replaces the caller's previous pending factor, if any.
pub async fn enrol(
    State(state): State<AppState>,
    MaybeUser(caller): MaybeUser,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = enrolling_user(&state, caller, &body).await?;
    let enrolment = state.mfa.enrol(&user).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": enrolment.id,
            "secret": enrolment.secret,
            "otpauth_url": enrolment.otpauth_url,
            "qr_svg": enrolment.qr_svg,
        })),
    ))
}

/// `POST mfa/totp/{id}/confirm/`: `{"code"}` → `{"recovery_codes": [...]}`, shown once; the factor is
/// active from now on. With an enrolment ticket, the login it stood for finishes too (`refresh`, `access`).
pub async fn confirm(
    State(state): State<AppState>,
    MaybeUser(caller): MaybeUser,
    client: ClientIp,
    RequestClient(session_client): RequestClient,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let by_ticket = caller.is_none();
    let user = enrolling_user(&state, caller, &body).await?;
    let mut form = Form::new(&body);
    let code = form.char("code", Some(MAX_CODE_CHARS));
    form.finish()?;
    let codes = state.mfa.confirm(&user, &id, &checked(code)?, client.key()).await?;
    let mut answer = Map::new();
    answer.insert("recovery_codes".into(), json!(codes));
    if by_ticket {
        let ticket = body.get("ticket").and_then(Value::as_str).unwrap_or_default();
        if state.mfa.spend_enrolment(ticket).await? {
            let pair = state.sessions.login_second_factor(&user, &session_client).await?;
            answer.insert("refresh".into(), json!(pair.refresh));
            answer.insert("access".into(), json!(pair.access));
        }
    }
    Ok(Json(Value::Object(answer)))
}

/// `GET mfa/factors/`: the caller's factors, oldest first, never with their secret.
pub async fn factors(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> ApiResult<Json<Value>> {
    let factors = state.mfa.factors(&user).await?;
    let rendered: Vec<Value> = factors
        .into_iter()
        .map(|f| {
            json!({
                "id": f.id,
                "type": f.kind,
                "confirmed": f.confirmed_at.is_some(),
                "created_at": f.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                "confirmed_at": f.confirmed_at.map(|at| at.to_rfc3339_opts(SecondsFormat::Micros, true)),
            })
        })
        .collect();
    Ok(Json(Value::Array(rendered)))
}

/// `DELETE mfa/factors/{id}/`: `{"current_password"}`, plus `"code"` (or `"recovery_code"`) when the
/// caller has an active factor. 204.
pub async fn remove(
    State(state): State<AppState>,
    client: ClientIp,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    // An id that is not the caller's is answered before any code is spent on it.
    if !state.mfa.factors(&user).await?.iter().any(|factor| factor.id == id) {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, "Not found."));
    }
    reauthenticate(&state, &user, client, &body).await?;
    state.mfa.remove(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST mfa/recovery_codes/`: `{"current_password", "code"}` (or `"recovery_code"`) → ten new codes;
/// the old ones stop working.
pub async fn regenerate(
    State(state): State<AppState>,
    client: ClientIp,
    CurrentUser(user): CurrentUser,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    if !state.mfa.is_enrolled(&user).await? {
        return Err(ApiError::non_field(
            "Two-factor authentication is not enabled for this account.",
        ));
    }
    reauthenticate(&state, &user, client, &body).await?;
    let codes = state.mfa.regenerate_codes(&user).await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}

/// The caller's password, then (for an enrolled account) a fresh code: what every change needs.
async fn reauthenticate(state: &AppState, user: &User, client: ClientIp, body: &Map<String, Value>) -> ApiResult<()> {
    let enrolled = state.mfa.is_enrolled(user).await?;
    let mut form = Form::new(body);
    current_password(state, &mut form, user, client).await?;
    let proof = read_proof(&mut form, body, enrolled);
    form.finish()?;
    if enrolled {
        let (field, code) = checked(proof)?;
        state
            .mfa
            .require(user, Some(as_proof(field, &code)), client.key())
            .await?;
    }
    Ok(())
}

/// The bearer caller, or without a bearer token the user of the body's enrolment `ticket`.
async fn enrolling_user(state: &AppState, caller: Option<User>, body: &Map<String, Value>) -> ApiResult<User> {
    if let Some(user) = caller {
        return Ok(user);
    }
    let Some(Value::String(ticket)) = body.get("ticket") else {
        return Err(ApiError::NotAuthenticated);
    };
    Ok(state.mfa.enrolment_user(ticket).await?)
}

/// `recovery_code` when the body has one, else `code` (required when `required`): the field and its value.
fn read_proof(form: &mut Form<'_>, body: &Map<String, Value>, required: bool) -> Option<(&'static str, String)> {
    let field = if body.contains_key("recovery_code") {
        "recovery_code"
    } else {
        "code"
    };
    if !required && !body.contains_key(field) {
        return None;
    }
    form.char(field, Some(MAX_CODE_CHARS)).map(|value| (field, value))
}

fn as_proof<'a>(field: &str, code: &'a str) -> Proof<'a> {
    if field == "recovery_code" {
        Proof::RecoveryCode(code)
    } else {
        Proof::Totp(code)
    }
}

//! Djoser's account flows on the e-mail user model: resend activation, set/reset password,
//! set/reset e-mail (<https://djoser.readthedocs.io/en/latest/base_endpoints.html>), and the confirmation of a `set_email` change. Field
//! checks and their order are Djoser's serializers'; the work is the domain's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::bearer::{CurrentUser, MaybeUser};
use super::body::Body;
use super::client_ip::ClientIp;
use super::error::{ApiError, ApiResult};
use super::fields::{Form, checked};
use super::state::AppState;
use crate::auth::AuthError;
use crate::auth::email::Email;
use crate::auth::password::Password;
use crate::mail::EmailKind;
use crate::store::models::User;

const INVALID_PASSWORD: &str = "Invalid password.";
const EMAIL_TAKEN: &str = "user with this email address already exists.";
const NOT_FOUND: &str = "User with given email does not exist.";

/// `POST users/resend_activation/`: the activation e-mail again, for an inactive account.
pub async fn resend_activation(
    State(state): State<AppState>,
    client: ClientIp,
    _caller: MaybeUser,
    Body(body): Body,
) -> ApiResult<Response> {
    let email = email_field(&body, "email")?;
    let djoser = &state.settings.djoser;
    let storable = can_be_stored(&email);
    if djoser.show_email_not_found() && (!storable || state.accounts.user_for_reset(&email, false).await?.is_none()) {
        return Err(ApiError::BareList(vec![NOT_FOUND.into()]));
    }
    if !djoser.send_activation_email {
        // Djoser answers a bare 400 with no body here.
        return Ok(StatusCode::BAD_REQUEST.into_response());
    }
    if storable {
        state
            .accounts
            .request_mail(&email, EmailKind::Activation, false, client.key())
            .await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST users/reset_password/`: always 204 unless configured to reveal unknown addresses.
pub async fn reset_password(
    State(state): State<AppState>,
    client: ClientIp,
    _caller: MaybeUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    request_link(&state, client, &body, EmailKind::PasswordReset).await
}

/// `POST users/reset_email/`: like `reset_password`, with the e-mail reset link.
pub async fn reset_email(
    State(state): State<AppState>,
    client: ClientIp,
    _caller: MaybeUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    request_link(&state, client, &body, EmailKind::UsernameReset).await
}

/// The same work for every address (the outbox worker finds the account), unless configured to
/// reveal unknown addresses, which needs the lookup first.
async fn request_link(
    state: &AppState,
    client: ClientIp,
    body: &serde_json::Map<String, serde_json::Value>,
    kind: EmailKind,
) -> ApiResult<StatusCode> {
    let email = email_field(body, "email")?;
    let storable = can_be_stored(&email);
    if state.settings.djoser.show_email_not_found()
        && (!storable || state.accounts.user_for_reset(&email, true).await?.is_none())
    {
        return Err(ApiError::BareList(vec![NOT_FOUND.into()]));
    }
    if storable {
        state.accounts.request_mail(&email, kind, true, client.key()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST users/set_password/`: fields (`new_password`, [`re_new_password`], `current_password`),
/// then the validators against the caller, then the retype.
pub async fn set_password(
    State(state): State<AppState>,
    client: ClientIp,
    CurrentUser(user): CurrentUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let retype = state.settings.djoser.set_password_retype;
    let mut form = Form::new(&body);
    let new_password = form.password("new_password");
    let retyped = if retype { form.password("re_new_password") } else { None };
    current_password(&state, &mut form, &user, client).await?;
    form.finish()?;
    let new_password = checked(new_password)?;
    let problems = state.accounts.password_problems_for(&new_password, &user);
    new_password_checks(
        "new_password",
        problems,
        retype.then_some(retyped.as_ref()),
        &new_password,
    )?;
    state.accounts.set_password(&user, &new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST users/reset_password_confirm/`: fields, validators (against nobody: Djoser's validators
/// run before the uid is read), retype, then uid and token.
pub async fn reset_password_confirm(
    State(state): State<AppState>,
    _caller: MaybeUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let retype = state.settings.djoser.password_reset_confirm_retype;
    let mut form = Form::new(&body);
    let uid = form.char("uid", None);
    let token = form.char("token", None);
    let new_password = form.password("new_password");
    let retyped = if retype { form.password("re_new_password") } else { None };
    form.finish()?;
    let new_password = checked(new_password)?;
    let problems = state.accounts.password_problems(&new_password, None);
    new_password_checks(
        "new_password",
        problems,
        retype.then_some(retyped.as_ref()),
        &new_password,
    )?;
    state
        .accounts
        .reset_password(&checked(uid)?, &checked(token)?, &new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST users/set_email/`: fields (`current_password`, `new_email`, [`re_new_email`]) reported
/// together, then the retype.
pub async fn set_email(
    State(state): State<AppState>,
    client: ClientIp,
    CurrentUser(user): CurrentUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let retype = state.settings.djoser.set_username_retype;
    let mut form = Form::new(&body);
    current_password(&state, &mut form, &user, client).await?;
    let new_email = new_email_field(&state, &mut form).await?;
    let retyped = if retype { form.char("re_new_email", None) } else { None };
    form.finish()?;
    let new_email = checked(new_email)?;
    if retype && retyped.and_then(|r| Email::parse(&r)).as_ref() != Some(&new_email) {
        return Err(ApiError::non_field("The two email fields didn't match."));
    }
    state
        .accounts
        .set_email(&user, &new_email)
        .await
        .map_err(taken_as_new_email)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST users/set_email_confirm/`: the `uid` and `token` of the link mailed to the new address
/// (imhotep's own endpoint, `djoser.set_email_requires_confirmation`); checked in activation's order.
pub async fn set_email_confirm(
    State(state): State<AppState>,
    _caller: MaybeUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let mut form = Form::new(&body);
    let uid = form.char("uid", None);
    let token = form.char("token", None);
    form.finish()?;
    state
        .accounts
        .confirm_email_change(&checked(uid)?, &checked(token)?)
        .await
        .map_err(|error| match error {
            // There is no address field here: the link itself names the address.
            AuthError::EmailTaken => ApiError::non_field(EMAIL_TAKEN),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST users/reset_email_confirm/`: `new_email` (and its retype) first, then uid and token,
/// which Djoser reads in `validate()` (so a missing uid is an invalid uid, not a required field).
pub async fn reset_email_confirm(
    State(state): State<AppState>,
    _caller: MaybeUser,
    Body(body): Body,
) -> ApiResult<StatusCode> {
    let retype = state.settings.djoser.username_reset_confirm_retype;
    let mut form = Form::new(&body);
    let new_email = new_email_field(&state, &mut form).await?;
    let retyped = if retype { form.char("re_new_email", None) } else { None };
    form.finish()?;
    let new_email = checked(new_email)?;
    if retype && retyped.and_then(|r| Email::parse(&r)).as_ref() != Some(&new_email) {
        return Err(ApiError::non_field("The two email fields didn't match."));
    }
    let text = |name: &str| body.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    state
        .accounts
        .reset_email(&text("uid"), &text("token"), &new_email)
        .await
        .map_err(taken_as_new_email)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Djoser's `validate()` for a new password: every failing validator on `field`, then (when
/// retyping is on) the comparison with the retyped value.
pub(super) fn new_password_checks(
    field: &str,
    problems: Vec<String>,
    retyped: Option<Option<&Password>>,
    password: &Password,
) -> ApiResult<()> {
    if !problems.is_empty() {
        return Err(ApiError::Fields(vec![(field.to_owned(), problems)]));
    }
    if retyped.is_some_and(|again| again != Some(password)) {
        return Err(ApiError::non_field("The two password fields didn't match."));
    }
    Ok(())
}

/// Djoser's `current_password` field: required, then checked against the caller's password
/// (counted like a login: 429 while the account's backoff runs).
pub(super) async fn current_password(
    state: &AppState,
    form: &mut Form<'_>,
    user: &User,
    client: ClientIp,
) -> ApiResult<()> {
    if let Some(password) = form.password("current_password")
        && !state
            .accounts
            .check_current_password(user, &password, client.key())
            .await?
    {
        form.add("current_password", INVALID_PASSWORD);
    }
    Ok(())
}

/// `new_email`: an e-mail field that must not belong to anyone (the caller included).
async fn new_email_field(state: &AppState, form: &mut Form<'_>) -> ApiResult<Option<Email>> {
    let email = form.email("new_email");
    if let Some(email) = &email
        && state.accounts.email_taken(email).await?
    {
        form.add("new_email", EMAIL_TAKEN);
        return Ok(None);
    }
    Ok(email)
}

/// Whether an account could have this address: a longer one (accepted by the lookups, as in Djoser)
/// belongs to nobody, and is neither looked up nor queued.
fn can_be_stored(email: &Email) -> bool {
    email.as_str().chars().count() <= crate::auth::email::MAX_EMAIL_CHARS
}

/// The address of `resend_activation`, `reset_password` and `reset_email`: Djoser's serializers
/// there declare no maximum length.
fn email_field(body: &serde_json::Map<String, serde_json::Value>, name: &str) -> ApiResult<Email> {
    let mut form = Form::new(body);
    let email = form.email_any_length(name);
    form.finish()?;
    checked(email)
}

/// A race lost on the unique index reports like the field check would have.
fn taken_as_new_email(error: AuthError) -> ApiError {
    match error {
        AuthError::EmailTaken => ApiError::field("new_email", EMAIL_TAKEN),
        other => other.into(),
    }
}

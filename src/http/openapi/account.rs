//! Operations of Djoser's account flows (documentation only: the handlers are in `http::account`).
#![allow(dead_code)]

use super::schemas::{
    BadRequest, EmailChangeConfirmRequest, EmailRequest, ResetEmailConfirmRequest, ResetPasswordConfirmRequest,
    SetEmailRequest, SetPasswordRequest, Unauthorized,
};

/// Resend the activation e-mail
///
/// 204 whether or not the address belongs to an inactive account, unless
/// `djoser.password_reset_show_email_not_found` reveals unknown addresses (400 `["..."]`). With
/// `djoser.send_activation_email` off, a bare 400 with no body.
#[utoipa::path(post, path = "/api/auth/users/resend_activation/", operation_id = "users_resend_activation",
    tag = "account",
    security((), ("jwt" = [])),
    request_body = EmailRequest,
    responses(
        (status = 204, description = "Sent (or nothing to send)"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_resend_activation() {}

/// Change the password
///
/// Other sessions' refresh tokens are revoked (`sessions.revoke_on_password_change`).
#[utoipa::path(post, path = "/api/auth/users/set_password/", operation_id = "users_set_password", tag = "account",
    security(("jwt" = [])),
    request_body = SetPasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_set_password() {}

/// Request a password reset link
///
/// 204 whether or not the address exists, unless configured to reveal unknown addresses.
#[utoipa::path(post, path = "/api/auth/users/reset_password/", operation_id = "users_reset_password",
    tag = "account",
    security((), ("jwt" = [])),
    request_body = EmailRequest,
    responses(
        (status = 204, description = "Sent (or nothing to send)"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_reset_password() {}

/// Reset the password
///
/// The `uid` and `token` come from the reset e-mail's link.
#[utoipa::path(post, path = "/api/auth/users/reset_password_confirm/",
    operation_id = "users_reset_password_confirm", tag = "account",
    security((), ("jwt" = [])),
    request_body = ResetPasswordConfirmRequest,
    responses(
        (status = 204, description = "Reset"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_reset_password_confirm() {}

/// Change the e-mail address
///
/// With `djoser.set_email_requires_confirmation` (the default) the address is only recorded as
/// pending: the new address gets a confirmation link (see `users/set_email_confirm/`), the current
/// one a notice, and `users/me/` shows the current address until the link is followed. Off:
/// Djoser's immediate change.
#[utoipa::path(post, path = "/api/auth/users/set_email/", operation_id = "users_set_email", tag = "account",
    security(("jwt" = [])),
    request_body = SetEmailRequest,
    responses(
        (status = 204, description = "Changed, or pending confirmation"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_set_email() {}

/// Confirm an e-mail address change
///
/// The `uid` and `token` come from the link mailed to the new address by `users/set_email/`;
/// the link confirms only that address and works once. 400 `non_field_errors` if the address
/// was taken by another account meanwhile. imhotep's own endpoint (not in Djoser).
#[utoipa::path(post, path = "/api/auth/users/set_email_confirm/", operation_id = "users_set_email_confirm",
    tag = "account",
    security((), ("jwt" = [])),
    request_body = EmailChangeConfirmRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_set_email_confirm() {}

/// Request an e-mail reset link
#[utoipa::path(post, path = "/api/auth/users/reset_email/", operation_id = "users_reset_email", tag = "account",
    security((), ("jwt" = [])),
    request_body = EmailRequest,
    responses(
        (status = 204, description = "Sent (or nothing to send)"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_reset_email() {}

/// Reset the e-mail address
///
/// The `uid` and `token` come from the e-mail reset link.
#[utoipa::path(post, path = "/api/auth/users/reset_email_confirm/", operation_id = "users_reset_email_confirm",
    tag = "account",
    security((), ("jwt" = [])),
    request_body = ResetEmailConfirmRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_reset_email_confirm() {}

//! Operations of two-factor login (documentation only: the handlers are in `http::mfa`).
#![allow(dead_code)]

use super::schemas::{
    BadRequest, Detail, MfaConfirmRequest, MfaFactor, MfaLoginRequest, MfaProofRequest, MfaTicketRequest,
    RecoveryCodes, TokenPair, TotpEnrolment, Unauthorized,
};

/// Log in, second step
///
/// The `ticket` from `jwt/create/` (answered `{"mfa_required": true, "ticket", "methods"}` for an
/// account with a second factor) and a TOTP `code` or a `recovery_code`. The ticket lives 5 minutes
/// (`mfa.ticket_lifetime`), works once, and 5 wrong codes burn it. The tokens carry `amr`
/// (`["pwd", "otp"]`) and `aal` (`aal2`).
#[utoipa::path(post, path = "/api/auth/jwt/create/mfa/", operation_id = "jwt_create_mfa", tag = "mfa",
    request_body = MfaLoginRequest,
    responses(
        (status = 200, description = "A token pair", body = TokenPair),
        (status = 400, response = BadRequest),
    ))]
fn jwt_create_mfa() {}

/// Start a TOTP enrolment
///
/// A pending factor: its secret (base32), `otpauth://` URL and QR code (inline SVG), shown once. It
/// asks for nothing at login until confirmed. Bearer, or with `djoser.mfa_required_for_staff` the
/// enrolment `ticket` that `jwt/create/` gave a staff account without a factor.
#[utoipa::path(post, path = "/api/auth/mfa/totp/", operation_id = "mfa_totp", tag = "mfa",
    security(("jwt" = []), ()),
    request_body(content = MfaTicketRequest, description = "Only without a bearer token"),
    responses(
        (status = 201, description = "The pending factor", body = TotpEnrolment),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn mfa_totp() {}

/// Confirm a TOTP enrolment
///
/// The first code from the app activates the factor and issues ten recovery codes, shown once.
/// With an enrolment ticket (no bearer token) the answer also has `refresh` and `access`.
#[utoipa::path(post, path = "/api/auth/mfa/totp/{id}/confirm/", operation_id = "mfa_totp_confirm", tag = "mfa",
    security(("jwt" = []), ()),
    params(("id" = String, Path, description = "The pending factor's id")),
    request_body = MfaConfirmRequest,
    responses(
        (status = 200, description = "Active; the recovery codes", body = RecoveryCodes),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such pending factor of the caller", body = Detail),
    ))]
fn mfa_totp_confirm() {}

/// Your factors
///
/// Oldest first; never their secrets.
#[utoipa::path(get, path = "/api/auth/mfa/factors/", operation_id = "mfa_factors", tag = "mfa",
    security(("jwt" = [])),
    responses(
        (status = 200, description = "The factors", body = Vec<MfaFactor>),
        (status = 401, response = Unauthorized),
    ))]
fn mfa_factors() {}

/// Remove a factor
///
/// Needs `current_password`, and a fresh `code` (or `recovery_code`) while the caller has an active
/// factor. Removing the last one turns two-factor login off and voids the recovery codes.
#[utoipa::path(delete, path = "/api/auth/mfa/factors/{id}/", operation_id = "mfa_factor_detail", tag = "mfa",
    security(("jwt" = [])),
    params(("id" = String, Path, description = "The factor's id")),
    request_body = MfaProofRequest,
    responses(
        (status = 204, description = "Removed; no body"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such factor of the caller", body = Detail),
    ))]
fn mfa_factor_detail() {}

/// New recovery codes
///
/// Needs `current_password` and a fresh `code` (or `recovery_code`); the old codes stop working.
#[utoipa::path(post, path = "/api/auth/mfa/recovery_codes/", operation_id = "mfa_recovery_codes", tag = "mfa",
    security(("jwt" = [])),
    request_body = MfaProofRequest,
    responses(
        (status = 200, description = "Ten new codes, shown once", body = RecoveryCodes),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn mfa_recovery_codes() {}

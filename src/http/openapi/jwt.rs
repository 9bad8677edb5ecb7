//! Operations of SimpleJWT's views and the logout recipe (documentation only: the handlers are in
//! `http::jwt`).
#![allow(dead_code)]

use super::schemas::{
    BadRequest, Detail, Empty, LoginAnswer, LogoutRequest, RefreshRequest, RefreshedTokens, TokenError,
    TokenObtainRequest, Unauthorized, VerifyRequest,
};

/// Log in
///
/// E-mail and password for a refresh and an access token. An account with a second factor gets
/// `{"mfa_required": true, "ticket", "methods"}` instead: finish at `jwt/create/mfa/`.
#[utoipa::path(post, path = "/api/auth/jwt/create/", operation_id = "jwt_create", tag = "jwt",
    request_body = TokenObtainRequest,
    responses(
        (status = 200, description = "A token pair, or the ticket of a second step", body = LoginAnswer),
        (status = 400, response = BadRequest),
        (status = 401, description = "No active account found with the given credentials", body = Detail),
    ))]
fn jwt_create() {}

/// Refresh
///
/// A new access token; with rotation (the default) also a new refresh token, the old one blacklisted.
/// With `sessions.reuse_detection` (the default), a rotated token whose successor was never used
/// gets that successor again, and one rotated within `sessions.reuse_interval` gets the session's
/// live token; any other rotated token ends its whole session.
#[utoipa::path(post, path = "/api/auth/jwt/refresh/", operation_id = "jwt_refresh", tag = "jwt",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = RefreshedTokens),
        (status = 400, response = BadRequest),
        (status = 401, description = "The token is invalid, expired or blacklisted", body = TokenError),
        (status = 409, description = "Concurrent refreshes of the token did not settle within 5 s", body = Detail),
    ))]
fn jwt_refresh() {}

/// Verify a token
///
/// `{}` for any valid token, access or refresh; a blacklisted refresh token is a 400.
#[utoipa::path(post, path = "/api/auth/jwt/verify/", operation_id = "jwt_verify", tag = "jwt",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Valid", body = Empty),
        (status = 400, response = BadRequest),
        (status = 401, description = "The token is invalid or expired", body = TokenError),
    ))]
fn jwt_verify() {}

/// Blacklist a refresh token
///
/// Possession of the refresh token is the proof. Ends the token's session.
#[utoipa::path(post, path = "/api/auth/jwt/blacklist/", operation_id = "jwt_blacklist", tag = "jwt",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Blacklisted", body = Empty),
        (status = 400, response = BadRequest),
        (status = 401, description = "The token is invalid or expired", body = TokenError),
    ))]
fn jwt_blacklist() {}

/// Log out
///
/// An authenticated caller blacklists a refresh token, ending its session (and, by `scope`, the
/// caller's other sessions).
#[utoipa::path(post, path = "/api/auth/jwt/logout/", operation_id = "jwt_logout", tag = "jwt",
    security(("jwt" = [])),
    request_body = LogoutRequest,
    responses(
        (status = 205, description = "Blacklisted; no body"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn jwt_logout() {}

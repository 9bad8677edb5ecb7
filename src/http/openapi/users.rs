//! Operations of Djoser's `users/`, `users/me/`, `users/{id}/` and `users/activation/` (documentation
//! only: the handlers are in `http::users` and `http::user_detail`).
#![allow(dead_code)]

use super::schemas::{
    ActivationRequest, BadRequest, CurrentPasswordRequest, Detail, RegisterRequest, Registered, Unauthorized, User,
    UserUpdateRequest,
};

/// List users
///
/// Staff see every user; with `djoser.hide_users` (the default) anyone else sees only themselves.
#[utoipa::path(get, path = "/api/auth/users/", operation_id = "users_list", tag = "users",
    security(("jwt" = [])),
    responses(
        (status = 200, description = "The users", body = Vec<User>),
        (status = 401, response = Unauthorized),
    ))]
fn users_list() {}

/// Register
///
/// Creates an inactive account and sends the activation e-mail (with `djoser.send_activation_email`).
#[utoipa::path(post, path = "/api/auth/users/", operation_id = "users_create", tag = "users",
    security((), ("jwt" = [])),
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created", body = Registered),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_create() {}

/// The current user
#[utoipa::path(get, path = "/api/auth/users/me/", operation_id = "users_me", tag = "users",
    security(("jwt" = [])),
    responses(
        (status = 200, description = "The caller", body = User),
        (status = 401, response = Unauthorized),
    ))]
fn users_me() {}

/// Update the current user
///
/// Only `djoser.required_fields` are writable; other keys are ignored.
#[utoipa::path(put, path = "/api/auth/users/me/", operation_id = "users_me_update", tag = "users",
    security(("jwt" = [])),
    request_body = UserUpdateRequest,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_me_update() {}

/// Partially update the current user
#[utoipa::path(patch, path = "/api/auth/users/me/", operation_id = "users_me_partial_update", tag = "users",
    security(("jwt" = [])),
    request_body = UserUpdateRequest,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_me_partial_update() {}

/// Delete the current user
///
/// Removes the account and its tokens once the caller confirms with `current_password`.
#[utoipa::path(delete, path = "/api/auth/users/me/", operation_id = "users_me_delete", tag = "users",
    security(("jwt" = [])),
    request_body = CurrentPasswordRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ))]
fn users_me_delete() {}

/// Activate an account
///
/// The `uid` and `token` come from the activation e-mail's link.
#[utoipa::path(post, path = "/api/auth/users/activation/", operation_id = "users_activation", tag = "users",
    security((), ("jwt" = [])),
    request_body = ActivationRequest,
    responses(
        (status = 204, description = "Activated; the confirmation e-mail is sent"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The account is already active", body = Detail),
    ))]
fn users_activation() {}

/// A user by id
///
/// Staff may read anyone; others only themselves. With `djoser.hide_users` a user the caller may
/// not see answers 404 exactly like a missing one; without it, 403.
#[utoipa::path(get, path = "/api/auth/users/{id}/", operation_id = "users_read", tag = "users",
    params(("id" = i64, Path, description = "The user's id")),
    security(("jwt" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not allowed", body = Detail),
        (status = 404, description = "No such user (or not visible)", body = Detail),
    ))]
fn users_read() {}

/// Update a user by id
#[utoipa::path(put, path = "/api/auth/users/{id}/", operation_id = "users_update", tag = "users",
    params(("id" = i64, Path, description = "The user's id")),
    security(("jwt" = [])),
    request_body = UserUpdateRequest,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not allowed", body = Detail),
        (status = 404, description = "No such user (or not visible)", body = Detail),
    ))]
fn users_update() {}

/// Partially update a user by id
#[utoipa::path(patch, path = "/api/auth/users/{id}/", operation_id = "users_partial_update", tag = "users",
    params(("id" = i64, Path, description = "The user's id")),
    security(("jwt" = [])),
    request_body = UserUpdateRequest,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not allowed", body = Detail),
        (status = 404, description = "No such user (or not visible)", body = Detail),
    ))]
fn users_partial_update() {}

/// Delete a user by id
///
/// The caller confirms with their own `current_password`, whoever the target.
#[utoipa::path(delete, path = "/api/auth/users/{id}/", operation_id = "users_delete", tag = "users",
    params(("id" = i64, Path, description = "The user's id")),
    security(("jwt" = [])),
    request_body = CurrentPasswordRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not allowed", body = Detail),
        (status = 404, description = "No such user (or not visible)", body = Detail),
    ))]
fn users_delete() {}

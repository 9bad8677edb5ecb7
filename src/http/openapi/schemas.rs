//! Request and response shapes for the OpenAPI document. Handlers read untyped bodies the way DRF
//! does, so these structs exist only to be described: nothing constructs them.
#![allow(dead_code)]

use std::collections::BTreeMap;

use utoipa::{ToResponse, ToSchema};

/// `POST users/`. `re_password` is required while `djoser.user_create_password_retype` is on (the
/// default); `username`, `first_name` and `last_name` are read only when listed in `djoser.required_fields`.
#[derive(ToSchema)]
#[schema(example = json!({"email": "alice@example.com", "password": "Tr1cky-Horse-Battery-9", "re_password": "Tr1cky-Horse-Battery-9"}))]
pub struct RegisterRequest {
    #[schema(format = Email, min_length = 1)]
    email: String,
    password: String,
    #[schema(required = false)]
    re_password: String,
    #[schema(required = false, max_length = 150)]
    username: String,
    #[schema(required = false, max_length = 150)]
    first_name: String,
    #[schema(required = false, max_length = 150)]
    last_name: String,
}

/// `PUT`/`PATCH users/me/` and `users/{id}/`: only the fields in `djoser.required_fields` are written;
/// any other key is ignored.
#[derive(ToSchema)]
pub struct UserUpdateRequest {
    #[schema(required = false, max_length = 150)]
    username: String,
    #[schema(required = false, max_length = 150)]
    first_name: String,
    #[schema(required = false, max_length = 150)]
    last_name: String,
}

/// The caller's password, confirming a deletion.
#[derive(ToSchema)]
pub struct CurrentPasswordRequest {
    current_password: String,
}

/// The `uid` and `token` of an activation link.
#[derive(ToSchema)]
pub struct ActivationRequest {
    uid: String,
    token: String,
}

/// The `uid` and `token` of the link that confirms an e-mail address change.
#[derive(ToSchema)]
pub struct EmailChangeConfirmRequest {
    uid: String,
    token: String,
}

/// An e-mail address to send a link to.
#[derive(ToSchema)]
pub struct EmailRequest {
    #[schema(format = Email, min_length = 1)]
    email: String,
}

/// `POST users/set_password/`; `re_new_password` only with `djoser.set_password_retype`.
#[derive(ToSchema)]
pub struct SetPasswordRequest {
    new_password: String,
    #[schema(required = false)]
    re_new_password: String,
    current_password: String,
}

/// `POST users/reset_password_confirm/`; `re_new_password` only with `djoser.password_reset_confirm_retype`.
#[derive(ToSchema)]
pub struct ResetPasswordConfirmRequest {
    uid: String,
    token: String,
    new_password: String,
    #[schema(required = false)]
    re_new_password: String,
}

/// `POST users/set_email/`; `re_new_email` only with `djoser.set_username_retype`.
#[derive(ToSchema)]
pub struct SetEmailRequest {
    current_password: String,
    #[schema(format = Email, min_length = 1)]
    new_email: String,
    #[schema(required = false)]
    re_new_email: String,
}

/// `POST users/reset_email_confirm/`; `re_new_email` only with `djoser.username_reset_confirm_retype`.
#[derive(ToSchema)]
pub struct ResetEmailConfirmRequest {
    uid: String,
    token: String,
    #[schema(format = Email, min_length = 1)]
    new_email: String,
    #[schema(required = false)]
    re_new_email: String,
}

/// Credentials for a token pair.
#[derive(ToSchema)]
pub struct TokenObtainRequest {
    #[schema(format = Email, min_length = 1)]
    email: String,
    password: String,
}

/// A refresh token.
#[derive(ToSchema)]
pub struct RefreshRequest {
    refresh: String,
}

/// `POST jwt/logout/`: the refresh token whose session ends, and which other sessions end with it.
#[derive(ToSchema)]
pub struct LogoutRequest {
    refresh: String,
    /// `local` (the default): only this token's session; `others`: every other session of the
    /// caller; `global`: all of them.
    #[schema(required = false)]
    scope: LogoutScope,
}

/// Which sessions a logout ends.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum LogoutScope {
    Local,
    Others,
    Global,
}

/// A session: one login and the refresh tokens rotated from it.
#[derive(ToSchema)]
pub struct Session {
    /// Random; also the `sid` claim of the session's tokens.
    id: String,
    created: String,
    /// The last refresh.
    last_used: String,
    expires: String,
    /// The User-Agent at login (at most 256 characters).
    user_agent: Option<String>,
    /// The client address at login.
    ip: Option<String>,
    /// Whether this is the session of the access token presented.
    current: bool,
}

/// Any token, access or refresh.
#[derive(ToSchema)]
pub struct VerifyRequest {
    token: String,
}

/// A user: `djoser.required_fields` first, then `id` and `email` (`POST users/` answers `email`, `id`).
#[derive(ToSchema)]
pub struct User {
    #[schema(required = false)]
    username: String,
    #[schema(required = false)]
    first_name: String,
    #[schema(required = false)]
    last_name: String,
    id: i64,
    email: String,
}

/// `POST users/` with `djoser.register_returns_tokens` (and activation off): the user and a token pair.
#[derive(ToSchema)]
pub struct RegisteredWithTokens {
    user: User,
    refresh: String,
    access: String,
}

/// `POST users/`: the new user, or with auto-login the user and a token pair.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum Registered {
    /// The default answer.
    User(User),
    /// With `djoser.register_returns_tokens`.
    WithTokens(RegisteredWithTokens),
}

/// A refresh token and an access token.
#[derive(ToSchema)]
pub struct TokenPair {
    refresh: String,
    access: String,
}

/// A new access token, and a new refresh token when `simple_jwt.rotate_refresh_tokens` is on.
#[derive(ToSchema)]
pub struct RefreshedTokens {
    access: String,
    #[schema(required = false)]
    refresh: String,
}

/// `jwt/create/` for an account with a second factor: no tokens yet, a ticket for `jwt/create/mfa/`.
#[derive(ToSchema)]
pub struct MfaChallenge {
    mfa_required: bool,
    /// Opaque; 5 minutes, single use.
    ticket: String,
    /// `totp`, `recovery_code`.
    methods: Vec<String>,
}

/// `jwt/create/` for a staff account without a factor under `djoser.mfa_required_for_staff`: a
/// ticket to enrol one with (`mfa/totp/`), and no tokens until it is confirmed.
#[derive(ToSchema)]
pub struct MfaEnrolmentRequired {
    mfa_enrolment_required: bool,
    ticket: String,
}

/// What `jwt/create/` answers with the right password.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    /// The usual answer (accounts without a second factor).
    Tokens(TokenPair),
    /// A second factor is due.
    SecondFactor(MfaChallenge),
    /// A staff account must enrol first.
    Enrol(MfaEnrolmentRequired),
}

/// The second step of a login: the ticket and a TOTP `code` or a `recovery_code` (one of the two).
#[derive(ToSchema)]
pub struct MfaLoginRequest {
    ticket: String,
    #[schema(required = false, example = "123456")]
    code: String,
    #[schema(required = false, example = "abcd-efgh-ijkl-mnop")]
    recovery_code: String,
}

/// An enrolment ticket, for a staff account enrolling before it has tokens.
#[derive(ToSchema)]
pub struct MfaTicketRequest {
    #[schema(required = false)]
    ticket: String,
}

/// The first code of a pending factor (and the enrolment ticket, without a bearer token).
#[derive(ToSchema)]
pub struct MfaConfirmRequest {
    #[schema(example = "123456")]
    code: String,
    #[schema(required = false)]
    ticket: String,
}

/// The password, and a fresh TOTP `code` or a `recovery_code` while a factor is active.
#[derive(ToSchema)]
pub struct MfaProofRequest {
    current_password: String,
    #[schema(required = false, example = "123456")]
    code: String,
    #[schema(required = false)]
    recovery_code: String,
}

/// A pending TOTP factor, shown once.
#[derive(ToSchema)]
pub struct TotpEnrolment {
    id: String,
    /// The seed in base32, for typing into an app by hand.
    secret: String,
    /// `otpauth://totp/...`, what the QR code holds.
    otpauth_url: String,
    /// The QR code of `otpauth_url` as an inline SVG document.
    qr_svg: String,
}

/// A factor (never its secret).
#[derive(ToSchema)]
pub struct MfaFactor {
    id: String,
    /// `totp`.
    #[serde(rename = "type")]
    kind: String,
    /// Whether enrolment finished (only confirmed factors are asked for at login).
    confirmed: bool,
    created_at: String,
    confirmed_at: Option<String>,
}

/// Recovery codes, shown once; with an enrolment ticket also a token pair.
#[derive(ToSchema)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
    #[schema(required = false)]
    refresh: String,
    #[schema(required = false)]
    access: String,
}

/// An empty object: `{}`.
#[derive(ToSchema)]
pub struct Empty {}

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: String,
}

/// `GET /readyz`.
#[derive(ToSchema)]
pub struct Ready {
    /// `ready`, or `degraded` while password hashing turns requests away (503 at once).
    #[schema(example = "ready")]
    status: String,
    /// `sqlite` or `postgres`.
    database: String,
    /// Only when `degraded`: password hashes waiting for a slot.
    hash_queue: Option<u64>,
}

/// One public key of `GET /.well-known/jwks.json` (RFC 7517): RSA keys have `n` and `e`, EC keys
/// `crv`, `x` and `y`, Ed25519 keys (`kty` `OKP`) `crv` and `x`.
#[derive(ToSchema)]
pub struct Jwk {
    #[schema(example = "2026-11")]
    kid: String,
    #[schema(example = "sig")]
    r#use: String,
    #[schema(example = "EdDSA")]
    alg: String,
    /// `RSA`, `EC` or `OKP`.
    #[schema(example = "OKP")]
    kty: String,
    /// `P-256`, `P-384` or `Ed25519`.
    #[schema(example = "Ed25519")]
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// `GET /.well-known/jwks.json`.
#[derive(ToSchema)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// The `format` of `GET /api/schema/`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SchemaFormat {
    Json,
    Yaml,
}

/// DRF's `{"detail": "..."}`.
#[derive(ToSchema)]
pub struct Detail {
    detail: String,
}

/// Field errors: each field (or `non_field_errors`) with its messages, in the order fields were read.
#[derive(ToSchema)]
#[schema(example = json!({"email": ["Enter a valid email address."], "password": ["This field is required."]}))]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

/// A bare list of messages (Djoser's errors raised outside a serializer's `validate()`).
#[derive(ToSchema)]
pub struct ErrorList(Vec<String>);

/// Why an access token was refused, per token class.
#[derive(ToSchema)]
pub struct TokenMessage {
    token_class: String,
    token_type: String,
    message: String,
}

/// SimpleJWT's authentication errors: `detail`, with a `code` (e.g. `token_not_valid`) when a token
/// or header was presented, and `messages` when a bearer token failed every token class.
#[derive(ToSchema)]
pub struct TokenError {
    detail: String,
    #[schema(required = false)]
    code: String,
    #[schema(required = false)]
    messages: Vec<TokenMessage>,
}

/// The body of a 400: field errors, a bare list of messages, or `{"detail"}` for an unreadable body.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum BadRequestBody {
    Fields(FieldErrors),
    List(ErrorList),
    Detail(Detail),
}

/// Invalid input: field errors, a list of messages, or `{"detail"}` when the body cannot be parsed.
#[derive(ToResponse)]
pub struct BadRequest(BadRequestBody);

/// No valid credentials: none were given where they are required, or a token or header was bad.
#[derive(ToResponse)]
pub struct Unauthorized(TokenError);

/// The body is neither JSON nor form-encoded.
#[derive(ToResponse)]
pub struct UnsupportedMediaType(Detail);

/// The body is larger than `server.body_limit`.
#[derive(ToResponse)]
pub struct PayloadTooLarge(Detail);

/// The database is unreachable or the request timed out; retry later (`Retry-After`).
#[derive(ToResponse)]
pub struct Unavailable(Detail);

/// A rate limit of `[throttle]` refused the request: DRF's throttle answer, with `Retry-After` in seconds.
#[derive(ToResponse)]
pub struct TooManyRequests(Detail);

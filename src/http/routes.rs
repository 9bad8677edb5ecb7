//! The endpoints by stable name, Djoser's paths for them, and extra paths (aliases) from
//! `[routes]` for clients written against other URL layouts.

use axum::routing::{MethodRouter, delete, get, post};

use super::state::AppState;
use super::{account, jwks, jwt, methods, mfa, sessions, user_detail, users};
use crate::config::RouteSettings;

/// Every endpoint name an alias may use, with its Djoser path.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("users_list", "/api/auth/users/"),
    ("users_create", "/api/auth/users/"),
    ("users_me", "/api/auth/users/me/"),
    ("users_activation", "/api/auth/users/activation/"),
    ("users_resend_activation", "/api/auth/users/resend_activation/"),
    ("users_set_password", "/api/auth/users/set_password/"),
    ("users_reset_password", "/api/auth/users/reset_password/"),
    (
        "users_reset_password_confirm",
        "/api/auth/users/reset_password_confirm/",
    ),
    ("users_set_email", "/api/auth/users/set_email/"),
    ("users_set_email_confirm", "/api/auth/users/set_email_confirm/"),
    ("users_reset_email", "/api/auth/users/reset_email/"),
    ("users_reset_email_confirm", "/api/auth/users/reset_email_confirm/"),
    ("jwt_create", "/api/auth/jwt/create/"),
    ("jwt_refresh", "/api/auth/jwt/refresh/"),
    ("jwt_verify", "/api/auth/jwt/verify/"),
    ("jwt_blacklist", "/api/auth/jwt/blacklist/"),
    ("jwt_logout", "/api/auth/jwt/logout/"),
    ("sessions_list", "/api/auth/sessions/"),
    ("sessions_revoke_others", "/api/auth/sessions/"),
    ("sessions_detail", "/api/auth/sessions/{id}/"),
];

/// Endpoints outside Djoser's surface that aliases may also name.
pub const SERVICE_ENDPOINTS: &[(&str, &str)] = &[("jwks", "/.well-known/jwks.json")];

/// Two-factor login's endpoints (not aliasable: they are not Djoser's).
pub const MFA_ENDPOINTS: &[(&str, &str)] = &[
    ("jwt_create_mfa", "/api/auth/jwt/create/mfa/"),
    ("mfa_totp", "/api/auth/mfa/totp/"),
    ("mfa_totp_confirm", "/api/auth/mfa/totp/{id}/confirm/"),
    ("mfa_factors", "/api/auth/mfa/factors/"),
    ("mfa_factor_detail", "/api/auth/mfa/factors/{id}/"),
    ("mfa_recovery_codes", "/api/auth/mfa/recovery_codes/"),
];

/// `users/{id}/`, which takes a path parameter and so cannot be aliased.
pub const USER_DETAIL_PATH: &str = "/api/auth/users/{id}/";

/// A user's sessions, for staff (not aliasable either).
pub const USER_SESSIONS_PATH: &str = "/api/auth/users/{id}/sessions/";

/// One of a user's sessions, for staff.
pub const USER_SESSION_PATH: &str = "/api/auth/users/{id}/sessions/{session}/";

/// Paths served outside `/api/auth/` that aliases must not shadow.
const RESERVED: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/schema",
    "/api/docs",
    super::demo::PATH_WITHOUT_SLASH,
];

/// SimpleJWT's documented layout (`routes.simplejwt_paths`).
const SIMPLEJWT_PRESET: &[(&str, &str)] = &[
    ("/api/token/", "jwt_create"),
    ("/api/token/refresh/", "jwt_refresh"),
    ("/api/token/verify/", "jwt_verify"),
    ("/api/token/blacklist/", "jwt_blacklist"),
];

/// The handlers of one endpoint, with the method fallback of its kind of route.
pub fn endpoint(name: &str) -> Option<MethodRouter<AppState>> {
    let users = methods::users_fallback;
    let jwt = methods::jwt_fallback;
    Some(match name {
        "users_list" => get(user_detail::list).fallback(users),
        "users_create" => post(users::register).fallback(users),
        "users_me" => get(users::me)
            .put(users::update_me)
            .patch(users::update_me)
            .delete(users::delete_me)
            .fallback(users),
        "users_activation" => post(users::activation).fallback(users),
        "users_resend_activation" => post(account::resend_activation).fallback(users),
        "users_set_password" => post(account::set_password).fallback(users),
        "users_reset_password" => post(account::reset_password).fallback(users),
        "users_reset_password_confirm" => post(account::reset_password_confirm).fallback(users),
        "users_set_email" => post(account::set_email).fallback(users),
        "users_set_email_confirm" => post(account::set_email_confirm).fallback(users),
        "users_reset_email" => post(account::reset_email).fallback(users),
        "users_reset_email_confirm" => post(account::reset_email_confirm).fallback(users),
        "jwt_create" => post(jwt::create).fallback(jwt),
        "jwt_refresh" => post(jwt::refresh).fallback(jwt),
        "jwt_verify" => post(jwt::verify).fallback(jwt),
        "jwt_blacklist" => post(jwt::blacklist).fallback(jwt),
        "jwt_logout" => post(jwt::logout).fallback(users),
        "sessions_list" => get(sessions::list).fallback(users),
        "sessions_revoke_others" => delete(sessions::revoke_others).fallback(users),
        "sessions_detail" => delete(sessions::revoke).fallback(users),
        "jwks" => get(jwks::jwks).fallback(jwt),
        _ => return None,
    })
}

/// Djoser's own routes: `(path, handlers)`.
pub fn builtin() -> Vec<(&'static str, MethodRouter<AppState>)> {
    let mut routes: Vec<(&'static str, MethodRouter<AppState>)> = vec![(
        "/api/auth/users/",
        get(user_detail::list)
            .post(users::register)
            .fallback(methods::users_fallback),
    )];
    routes.push((
        "/api/auth/sessions/",
        get(sessions::list)
            .delete(sessions::revoke_others)
            .fallback(methods::users_fallback),
    ));
    for (name, path) in ENDPOINTS.iter().chain(SERVICE_ENDPOINTS).filter(|(name, _)| {
        !matches!(
            *name,
            "users_list" | "users_create" | "sessions_list" | "sessions_revoke_others"
        )
    }) {
        routes.extend(endpoint(name).map(|handlers| (*path, handlers)));
    }
    routes.push((
        USER_SESSIONS_PATH,
        get(sessions::staff_list).fallback(methods::users_fallback),
    ));
    routes.push((
        USER_SESSION_PATH,
        delete(sessions::staff_revoke).fallback(methods::users_fallback),
    ));
    for (name, path) in MFA_ENDPOINTS {
        let users = methods::users_fallback;
        let handlers = match *name {
            "jwt_create_mfa" => post(mfa::create).fallback(methods::jwt_fallback),
            "mfa_totp" => post(mfa::enrol).fallback(users),
            "mfa_totp_confirm" => post(mfa::confirm).fallback(users),
            "mfa_factors" => get(mfa::factors).fallback(users),
            "mfa_factor_detail" => delete(mfa::remove).fallback(users),
            _ => post(mfa::regenerate).fallback(users),
        };
        routes.push((*path, handlers));
    }
    routes.push((
        USER_DETAIL_PATH,
        get(user_detail::show)
            .put(user_detail::edit)
            .patch(user_detail::edit)
            .delete(user_detail::remove)
            .fallback(methods::users_fallback),
    ));
    routes
}

/// The configured aliases, checked: `(path with a trailing slash, endpoint name)`. An unknown
/// endpoint, a malformed path or one that collides with a built-in route is an error naming the line.
pub fn aliases(settings: &RouteSettings) -> Result<Vec<(String, String)>, String> {
    let preset: &[(&str, &str)] = if settings.simplejwt_paths {
        SIMPLEJWT_PRESET
    } else {
        &[]
    };
    let configured = settings
        .aliases
        .iter()
        .map(|(path, name)| (path.as_str(), name.as_str()));
    let mut seen: Vec<(String, String)> = Vec::new();
    for (path, name) in preset.iter().copied().chain(configured) {
        let line = format!("routes.aliases {path:?} = {name:?}");
        if endpoint(name).is_none() {
            return Err(format!(
                "{line}: unknown endpoint {name:?}; known: {}",
                names().join(", ")
            ));
        }
        let normalized = normalize(path).map_err(|why| format!("{line}: {why}"))?;
        if is_builtin(&normalized) {
            return Err(format!("{line}: {normalized} is already a built-in route"));
        }
        if seen.iter().any(|(other, _)| *other == normalized) {
            return Err(format!("{line}: {normalized} is given twice"));
        }
        seen.push((normalized, name.to_owned()));
    }
    Ok(seen)
}

/// Where an alias of endpoint `name` is mounted: the alias itself, or for an endpoint with an
/// `{id}` (`sessions_detail`) the alias followed by `{id}/`.
pub fn mounted(alias: &str, name: &str) -> String {
    let takes_id = ENDPOINTS
        .iter()
        .any(|(endpoint, path)| *endpoint == name && path.ends_with("{id}/"));
    if takes_id {
        format!("{alias}{{id}}/")
    } else {
        alias.to_owned()
    }
}

/// The endpoint names, for messages and `imhotep check`.
pub fn names() -> Vec<&'static str> {
    ENDPOINTS
        .iter()
        .chain(SERVICE_ENDPOINTS)
        .map(|(name, _)| *name)
        .collect()
}

/// The endpoint name served at a built-in path (the first listed, for a path that serves two).
pub fn endpoint_at(path: &str) -> Option<&'static str> {
    ENDPOINTS
        .iter()
        .chain(MFA_ENDPOINTS)
        .find(|(_, p)| *p == path)
        .map(|(name, _)| *name)
}

/// The built-in path of an endpoint name.
pub fn path_of(name: &str) -> Option<&'static str> {
    ENDPOINTS
        .iter()
        .chain(SERVICE_ENDPOINTS)
        .find(|(endpoint, _)| *endpoint == name)
        .map(|(_, path)| *path)
}

/// `/a/b` or `/a/b/` → `/a/b/`; refuses anything that is not a plain absolute path.
fn normalize(path: &str) -> Result<String, &'static str> {
    let trimmed = path.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    let plain = |s: &&str| {
        !s.is_empty() && *s != "." && *s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    };
    if !path.starts_with('/') || trimmed.is_empty() || path.ends_with("//") || !segments.iter().all(plain) {
        return Err(
            "a path must start with '/' and contain only letters, digits, '-', '.', '_', '~' between single slashes",
        );
    }
    Ok(format!("{trimmed}/"))
}

fn is_builtin(normalized: &str) -> bool {
    let detail_prefix = "/api/auth/users/";
    let under_users = normalized
        .strip_prefix(detail_prefix)
        .is_some_and(|rest| rest.matches('/').count() == 1 || rest.split('/').nth(1) == Some("sessions"));
    let under_sessions = normalized.starts_with("/api/auth/sessions/") && normalized != "/api/auth/sessions/";
    let two_factor = normalized.starts_with("/api/auth/mfa/") || normalized.starts_with("/api/auth/jwt/create/mfa/");
    under_users
        || under_sessions
        || two_factor
        || ENDPOINTS
            .iter()
            .chain(SERVICE_ENDPOINTS)
            .any(|(_, path)| path.trim_end_matches('/') == normalized.trim_end_matches('/'))
        || RESERVED.iter().any(|reserved| format!("{reserved}/") == normalized)
        || normalized.starts_with("/api/docs/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> RouteSettings {
        RouteSettings {
            simplejwt_paths: false,
            aliases: pairs.iter().map(|(p, n)| (p.to_string(), n.to_string())).collect(),
        }
    }

    #[test]
    fn aliases_are_normalised_and_checked() {
        let ok = aliases(&settings(&[
            ("/api/v1/token", "jwt_create"),
            ("/account/profile", "users_me"),
        ]))
        .unwrap();
        assert_eq!(
            ok,
            [
                ("/account/profile/".into(), "users_me".into()),
                ("/api/v1/token/".into(), "jwt_create".into())
            ]
        );
        for (path, name, problem) in [
            ("/api/login/", "jwt_creat", "unknown endpoint"),
            ("api/login/", "jwt_create", "must start"),
            ("/api//login/", "jwt_create", "must start"),
            ("/api/{x}/", "jwt_create", "must start"),
            ("/api/auth/jwt/create", "jwt_create", "built-in"),
            ("/api/auth/users/7/", "users_me", "built-in"),
            ("/api/auth/users/7/sessions/", "users_me", "built-in"),
            ("/api/auth/sessions/abc/", "users_me", "built-in"),
            ("/api/auth/sessions/", "users_me", "built-in"),
            ("/healthz", "jwt_create", "built-in"),
            ("/api/schema", "jwt_create", "built-in"),
            ("/api/docs/x/", "jwt_create", "built-in"),
        ] {
            let error = aliases(&settings(&[(path, name)])).unwrap_err();
            assert!(error.contains(problem) && error.contains(path), "{path}: {error}");
        }
    }

    #[test]
    fn the_simplejwt_preset_fills_the_table() {
        let preset = aliases(&RouteSettings {
            simplejwt_paths: true,
            aliases: Default::default(),
        })
        .unwrap();
        assert_eq!(preset.len(), 4);
        assert!(preset.contains(&("/api/token/refresh/".into(), "jwt_refresh".into())));
    }
}

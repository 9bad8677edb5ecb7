//! Browser mode in the document (`[cookies]`, when on): the refresh cookie as a parameter of the
//! operations that read it, `Set-Cookie` on the answers that set or clear it, and the CSRF 403.

use serde_json::{Map, Value, json};

use crate::config::Settings;
use crate::http::cookies::prefixed;

/// Operation id → (reads the refresh cookie, the success status whose answer sets or clears it).
const OPERATIONS: [(&str, bool, &str); 4] = [
    ("jwt_create", false, "200"),
    ("jwt_refresh", true, "200"),
    ("jwt_blacklist", true, "200"),
    ("jwt_logout", true, "205"),
];

/// Adds browser mode to the built-in operations (before aliases copy them).
pub fn describe(paths: &mut Map<String, Value>, settings: &Settings) {
    let cookies = &settings.cookies;
    let Some(name) = cookies.jwt_auth_refresh_cookie.as_deref() else {
        return;
    };
    let name = prefixed(cookies, name);
    let operations = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
        let Some((_, reads, status)) = OPERATIONS.iter().find(|(op, _, _)| *op == id) else {
            continue;
        };
        if *reads {
            let parameter = json!({
                "name": name, "in": "cookie", "required": false, "schema": { "type": "string" },
                "description": "The refresh token, used when the body has none (browser mode). Such a \
                    request must come from a trusted `Origin` (or `Referer`) as JSON or with `X-Requested-With`.",
            });
            match operation["parameters"].as_array_mut() {
                Some(parameters) => parameters.push(parameter),
                None => operation["parameters"] = json!([parameter]),
            }
            operation["responses"]["403"] = json!({
                "description": "CSRF: the refresh cookie was sent from an untrusted origin or as a simple request",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Detail" } } },
            });
        }
        let effect = if id == "jwt_create" || id == "jwt_refresh" {
            "sets the refresh cookie (and the access cookie when configured); with HttpOnly the body's `refresh` is `\"\"`"
        } else {
            "clears the refresh and access cookies (also when the token was already invalid)"
        };
        if let Some(response) = operation["responses"].get_mut(*status) {
            response["headers"]["Set-Cookie"] = json!({ "description": format!("Browser mode: {effect}."),
                "schema": { "type": "string" } });
        }
    }
}

//! `GET /api/schema/` and `/api/docs/`: the document lists every route the router serves, with exactly
//! the methods it answers (probed: an undocumented method is a 405, a documented one never is), and
//! each configured alias; the docs page needs nothing from the internet.

use imhotep::http::routes::{ENDPOINTS, USER_DETAIL_PATH};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, spawn_app, spawn_app_with};
use crate::on_both_databases;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The methods of each endpoint name.
fn methods_of(name: &str) -> &'static [&'static str] {
    match name {
        "users_list" => &["get"],
        "users_me" => &["get", "put", "patch", "delete"],
        "sessions_list" => &["get"],
        "sessions_revoke_others" | "sessions_detail" => &["delete"],
        _ => &["post"],
    }
}

fn documented<'a>(spec: &'a Value, path: &str) -> Vec<&'a str> {
    let item = spec["paths"][path]
        .as_object()
        .unwrap_or_else(|| panic!("{path} is not in the document"));
    METHODS.into_iter().filter(|m| item.contains_key(*m)).collect()
}

async fn every_route_is_documented_with_its_methods(db: Backend) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let answer = app.send(|c| c.get(format!("{}/api/schema/", app.address))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let spec = answer.body;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));

    for (name, path) in ENDPOINTS {
        let methods = documented(&spec, path);
        for method in methods_of(name) {
            assert!(methods.contains(method), "{method} {path} ({name}) is not documented");
        }
    }
    assert_eq!(documented(&spec, USER_DETAIL_PATH), ["get", "put", "patch", "delete"]);
    assert_eq!(documented(&spec, "/healthz"), ["get"]);
    assert_eq!(documented(&spec, "/readyz"), ["get"]);
    assert_eq!(documented(&spec, "/api/auth/users/"), ["get", "post"]);
    assert!(spec["components"]["securitySchemes"]["jwt"].is_object());
    assert_eq!(spec["paths"][USER_DETAIL_PATH]["get"]["parameters"][0]["name"], "id");

    // The router agrees: every documented method is routed, every other one is a 405 (empty bodies
    // change nothing: each write needs fields or a password).
    let (access, _) = app.tokens_for("ada@example.com").await;
    let id = app.scalar("SELECT id FROM users").await.to_string();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            let url = format!("{}{}", app.address, path.replace("{id}", &id));
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = app
                .send(|c| c.request(verb, &url).bearer_auth(&access).json(&json!({})))
                .await;
            let routed = answer.status != 405;
            assert_eq!(routed, item.get(method).is_some(), "{method} {path}: {}", answer.status);
        }
    }

    let yaml = app
        .send(|c| c.get(format!("{}/api/schema/?format=yaml", app.address)))
        .await;
    assert_eq!(yaml.status, 200);
    assert!(yaml.text.starts_with("openapi: \"3."), "{}", &yaml.text[..40]);
    assert!(yaml.text.contains("\n  \"/api/auth/jwt/create/\":\n"));
}

async fn aliases_are_documented_like_their_endpoint(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.routes.aliases.insert("/api/v1/token/".into(), "jwt_create".into());
        s.routes.aliases.insert("/account/me".into(), "users_me".into());
    })
    .await
    else {
        return;
    };
    let spec = app.send(|c| c.get(format!("{}/api/schema", app.address))).await.body;
    let alias = &spec["paths"]["/api/v1/token/"]["post"];
    let original = &spec["paths"]["/api/auth/jwt/create/"]["post"];
    assert_eq!(alias["requestBody"], original["requestBody"]);
    assert_eq!(alias["responses"], original["responses"]);
    assert_ne!(alias["operationId"], original["operationId"]);
    assert_eq!(documented(&spec, "/api/v1/token/"), ["post"]);
    assert_eq!(documented(&spec, "/account/me/"), ["get", "put", "patch", "delete"]);
}

async fn the_docs_page_is_self_contained(db: Backend) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let page = app.send(|c| c.get(format!("{}/api/docs/", app.address))).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    for tag in page
        .text
        .split('<')
        .filter(|t| t.starts_with("script") || t.starts_with("link"))
    {
        assert!(
            !tag.contains("https://") && !tag.contains("http://"),
            "external asset: <{tag}"
        );
    }
    let init = app
        .send(|c| c.get(format!("{}/api/docs/swagger-initializer.js", app.address)))
        .await;
    assert!(init.text.contains("/api/schema/"), "{}", init.text);
    assert!(!init.text.contains("petstore"), "{}", init.text);
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-ui-standalone-preset.js",
    ] {
        let answer = app.send(|c| c.get(format!("{}/api/docs/{asset}", app.address))).await;
        assert_eq!(answer.status, 200, "{asset}");
        assert!(answer.text.len() > 10_000, "{asset}");
    }
    let missing = app.send(|c| c.get(format!("{}/api/docs/nope.js", app.address))).await;
    assert_eq!(missing.status, 404);
    let bare = app.send(|c| c.get(format!("{}/api/docs", app.address))).await;
    assert_eq!(bare.header("location"), Some("/api/docs/"));
}

on_both_databases!(
    every_route_is_documented_with_its_methods,
    aliases_are_documented_like_their_endpoint,
    the_docs_page_is_self_contained
);

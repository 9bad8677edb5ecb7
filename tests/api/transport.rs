//! Transport conventions: media types, malformed bodies, methods, unknown paths,
//! trailing slashes, body limits, health probes.

use crate::helpers::{Backend, PASSWORD, spawn_app};

async fn bodies_are_parsed_like_drf(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let json = Some("application/json");
    app.post_raw("users/", Some("text/plain"), "{}")
        .await
        .assert(415, r#"{"detail":"Unsupported media type \"text/plain\" in request."}"#);
    app.post_raw("users/", None, r#"{"email":"x@example.com"}"#)
        .await
        .assert(415, r#"{"detail":"Unsupported media type \"\" in request."}"#);
    let malformed = app.post_raw("users/", json, r#"{"email":"#).await;
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{}",
        malformed.text
    );
    for (body, name) in [
        ("[1,2]", "list"),
        ("\"x\"", "str"),
        ("3", "int"),
        ("3.5", "float"),
        ("true", "bool"),
    ] {
        app.post_raw("users/", json, body).await.assert(
            400,
            &format!(r#"{{"non_field_errors":["Invalid data. Expected a dictionary, but got {name}."]}}"#),
        );
    }
    app.post_raw("users/", json, "null")
        .await
        .assert(400, r#"{"non_field_errors":["No data provided"]}"#);
    let required = r#"{"email":["This field is required."],"password":["This field is required."],"re_password":["This field is required."]}"#;
    app.post_raw("users/", json, "").await.assert(400, required);
    app.post_raw("users/", None, "").await.assert(400, required);
    let form = app
        .send(|c| {
            c.post(app.url("users/")).form(&[
                ("email", "form@example.com"),
                ("password", PASSWORD),
                ("re_password", PASSWORD),
            ])
        })
        .await;
    form.assert(201, r#"{"email":"form@example.com","id":1}"#);
    let charset = app.send(|c| {
        c.post(app.url("jwt/create/"))
            .header("Content-Type", "application/json; charset=utf-8")
            .body(r#"{"email":"a@example.com"}"#)
    });
    charset.await.assert(400, r#"{"password":["This field is required."]}"#);
}

async fn oversized_bodies_get_413(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let big = format!(r#"{{"email":"a@example.com","password":"{}"}}"#, "x".repeat(70 * 1024));
    let answer = app
        .send(|c| {
            c.post(app.url("jwt/create/"))
                .header("Content-Type", "application/json")
                .body(big)
        })
        .await;
    answer.assert(413, r#"{"detail":"Request body is too large."}"#);
}

async fn unknown_paths_and_methods_get_json_errors(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.send(|c| c.get(app.url("nonexistent/")))
        .await
        .assert(404, r#"{"detail":"Not found."}"#);
    app.send(|c| c.get(format!("{}/", app.address)))
        .await
        .assert(404, r#"{"detail":"Not found."}"#);
    for method in ["GET", "PUT", "DELETE"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = app.send(|c| c.request(method.clone(), app.url("jwt/create/"))).await;
        answer.assert(405, &format!(r#"{{"detail":"Method \"{method}\" not allowed."}}"#));
    }
    let no_slash = app.send(|c| {
        c.post(format!("{}/api/auth/jwt/create", app.address))
            .json(&serde_json::json!({}))
    });
    no_slash.await.assert(
        400,
        r#"{"email":["This field is required."],"password":["This field is required."]}"#,
    );
}

async fn health_probes_answer(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let healthz = app.send(|c| c.get(format!("{}/healthz", app.address))).await;
    healthz.assert(200, r#"{"status":"ok"}"#);
    let readyz = app.send(|c| c.get(format!("{}/readyz", app.address))).await;
    assert_eq!(readyz.status, 200);
    assert!(readyz.header("x-request-id").is_some());
    assert_eq!(readyz.header("x-content-type-options"), Some("nosniff"));
}

/// A client's `X-Request-Id` is kept only when it is 1–64 characters of `[A-Za-z0-9._-]`: anything
/// else could forge log fields, so a fresh id replaces it.
async fn only_plain_request_ids_are_kept(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let healthz = async |id: &str| {
        let url = format!("{}/healthz", app.address);
        app.send(|c| c.get(url).header("x-request-id", id)).await
    };
    for kept in ["abc", "req-1.2_3", "0f8fad5b-d9cb-469f-a165-70867728950e"] {
        assert_eq!(healthz(kept).await.header("x-request-id"), Some(kept));
    }
    let too_long = "x".repeat(65);
    for forged in ["a\" user_id=1 status=200", "a b", "{\"json\":1}", &too_long] {
        let answer = healthz(forged).await;
        let id = answer.header("x-request-id").expect("a request id");
        assert_ne!(id, forged);
        assert_eq!(id.len(), 36, "a generated UUID: {id}");
    }
}

crate::on_both_databases!(
    only_plain_request_ids_are_kept,
    bodies_are_parsed_like_drf,
    oversized_bodies_get_413,
    unknown_paths_and_methods_get_json_errors,
    health_probes_answer,
);

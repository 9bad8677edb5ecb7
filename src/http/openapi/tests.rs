//! The document as the configuration completes it.

use super::*;

fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            found.extend(map.get("$ref").and_then(Value::as_str));
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_operation_ids_are_unique() {
    let aliases = vec![
        ("/account/me/".to_owned(), "users_me".to_owned()),
        ("/login/".into(), "jwt_create".into()),
    ];
    let doc = document(&Settings::default(), &aliases);
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for reference in found {
        let pointer = reference.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling {reference}");
    }
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "duplicate operation ids");
    let mut me: Vec<&String> = doc["paths"]["/account/me/"].as_object().unwrap().keys().collect();
    me.sort_unstable();
    assert_eq!(me, ["delete", "get", "patch", "put"]);
    assert_eq!(doc["paths"]["/login/"]["post"]["operationId"], "jwt_create__login");
}

#[test]
fn every_endpoint_name_has_operations() {
    let paths = document(&Settings::default(), &[]);
    for name in routes::names() {
        let item = alias_item(paths["paths"].as_object().unwrap(), name, "/x/");
        assert!(!item.as_object().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn the_configuration_shapes_the_document() {
    let default = document(&Settings::default(), &[]);
    assert!(
        default["paths"].get("/metrics").is_none(),
        "metrics are off the main port by default"
    );
    let mut public = Settings::default();
    public.metrics.public = true;
    assert!(document(&public, &[]).get("paths").unwrap().get("/metrics").is_some());
    assert_eq!(default["components"]["securitySchemes"]["jwt"]["scheme"], "bearer");
    let mut settings = Settings::default();
    settings.djoser.send_activation_email = false;
    settings.simple_jwt.auth_header_types = vec!["JWT".into()];
    let doc = document(&settings, &[]);
    assert!(doc["paths"].get("/metrics").is_none());
    let resend = &doc["paths"]["/api/auth/users/resend_activation/"]["post"]["responses"]["400"];
    assert!(resend.get("content").is_none(), "{resend}");
    assert_eq!(doc["components"]["securitySchemes"]["jwt"]["type"], "apiKey");
}

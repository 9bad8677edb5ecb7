//! JSON → YAML for `GET /api/schema/?format=yaml`, without a YAML library: block style, every string
//! value double-quoted with JSON's escapes (YAML's double-quoted scalars accept all of them), keys
//! plain when they are simple identifiers.

use serde_json::{Map, Value};

/// `value` as a YAML document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar.to_string());
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_key(key));
        out.push(':');
        write_value(out, value, indent);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        write_value(out, item, indent);
    }
}

/// After `key:` or `-`: a nested block on the following lines, or a scalar (or empty `{}`/`[]`, which
/// are valid YAML flow collections) on the same line.
fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar.to_string());
            out.push('\n');
        }
    }
}

/// Identifier-like keys stay plain unless YAML 1.1 would read them as a boolean or null.
fn yaml_key(key: &str) -> String {
    let identifier = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let reserved = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
        .iter()
        .any(|word| key.eq_ignore_ascii_case(word));
    if identifier && !reserved {
        key.to_owned()
    } else {
        Value::String(key.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::to_yaml;
    use serde_json::json;

    #[test]
    fn nested_values_become_block_yaml() {
        let value = json!({
            "openapi": "3.1.0",
            "paths": {"/api/auth/users/{id}/": {"get": {"tags": ["users"], "security": [{}, {"jwt": []}]}}},
            "on": "a \"quoted\"\nline",
            "n": 1,
            "ok": true,
            "none": null,
            "empty": {}
        });
        let expected = r#"openapi: "3.1.0"
paths:
  "/api/auth/users/{id}/":
    get:
      tags:
        - "users"
      security:
        - {}
        -
          jwt: []
"on": "a \"quoted\"\nline"
"n": 1
ok: true
none: null
empty: {}
"#;
        assert_eq!(to_yaml(&value), expected);
    }
}

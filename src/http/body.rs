//! Request bodies as DRF parses them: JSON or form-encoded into one object; anything else 415;
//! an empty body counts as `{}`, as DRF's JSON parser reads it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use super::error::ApiError;

/// The request body as a JSON object.
#[derive(Debug, Default)]
pub struct Body(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            } else {
                ApiError::detail(StatusCode::BAD_REQUEST, "Request body could not be read.")
            }
        })?;
        parse(content_type.as_deref(), &bytes).map(Body)
    }
}

/// Parses `bytes` according to `content_type`.
pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    let full = content_type.unwrap_or("");
    let media_type = full.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => parse_json(bytes),
        "application/x-www-form-urlencoded" => parse_form(bytes),
        _ => Err(ApiError::detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported media type \"{}\" in request.", full.trim()),
        )),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::detail(StatusCode::BAD_REQUEST, format!("JSON parse error - {error}")))?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Err(ApiError::non_field("No data provided")),
        other => Err(ApiError::non_field(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            python_type_name(&other)
        ))),
    }
}

fn parse_form(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|_| ApiError::detail(StatusCode::BAD_REQUEST, "Form data could not be parsed."))?;
    // Django's QueryDict.get returns the last value of a repeated key.
    Ok(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// The Python type name DRF puts in "Expected a dictionary, but got <type>."
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Null => "NoneType",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bodies_are_empty_objects_whatever_the_type() {
        assert!(parse(None, b"").unwrap().is_empty());
        assert!(parse(Some("text/plain"), b"").unwrap().is_empty());
    }

    #[test]
    fn json_and_form_are_parsed() {
        let json = parse(Some("application/json; charset=utf-8"), br#"{"a":"1"}"#).unwrap();
        assert_eq!(json["a"], "1");
        let form = parse(Some("application/x-www-form-urlencoded"), b"a=1&a=2&b=x+y").unwrap();
        assert_eq!(form["a"], "2");
        assert_eq!(form["b"], "x y");
    }

    #[test]
    fn other_media_types_are_415() {
        for content_type in [None, Some("text/plain"), Some("multipart/form-data; boundary=x")] {
            let error = parse(content_type, b"x").unwrap_err();
            assert!(matches!(error, ApiError::Detail(StatusCode::UNSUPPORTED_MEDIA_TYPE, _)));
        }
    }

    #[test]
    fn non_objects_name_their_python_type() {
        for (body, name) in [
            ("[1,2]", "list"),
            ("\"x\"", "str"),
            ("3", "int"),
            ("1.5", "float"),
            ("true", "bool"),
        ] {
            let Err(ApiError::Fields(fields)) = parse(Some("application/json"), body.as_bytes()) else {
                panic!("{body} should fail");
            };
            assert_eq!(
                fields[0].1[0],
                format!("Invalid data. Expected a dictionary, but got {name}.")
            );
        }
    }
}

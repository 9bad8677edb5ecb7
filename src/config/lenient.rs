//! Deserializers for values that arrive from the environment, where `DEBUG=1` or
//! `SECRET_KEY=123...` are parsed as numbers before they reach us.

use serde::{Deserialize, Deserializer, de};

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// A boolean written as `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off` (Django projects use all of them).
pub fn bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match Scalar::deserialize(deserializer)? {
        Scalar::Bool(value) => Ok(value),
        Scalar::Int(1) => Ok(true),
        Scalar::Int(0) => Ok(false),
        Scalar::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            _ => Err(de::Error::custom(format!("expected a boolean, got {text:?}"))),
        },
        _ => Err(de::Error::custom("expected a boolean (true/false, 1/0, yes/no)")),
    }
}

/// An optional boolean, written as [`bool`] accepts it.
pub fn opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    let value: Option<LenientBool> = Option::deserialize(deserializer)?;
    Ok(value.map(|v| v.0))
}

struct LenientBool(bool);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        bool(deserializer).map(LenientBool)
    }
}

/// A string that may have been parsed as a number on its way in.
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Bool(value) => value.to_string(),
        Scalar::Int(value) => value.to_string(),
        Scalar::Float(value) => value.to_string(),
        Scalar::Text(text) => text,
    })
}

/// An optional string; an empty string counts as absent.
pub fn opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value: Option<StringOrNumber> = Option::deserialize(deserializer)?;
    Ok(value.map(|v| v.0).filter(|s| !s.is_empty()))
}

struct StringOrNumber(String);

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string(deserializer).map(StringOrNumber)
    }
}

/// A list of strings: a real list (`["a", "b"]`), or one string of comma-separated items (`a,b`) as an
/// environment variable usually holds it.
pub fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Many(Vec<String>),
        One(String),
    }
    Ok(match List::deserialize(deserializer)? {
        List::Many(items) => items,
        List::One(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

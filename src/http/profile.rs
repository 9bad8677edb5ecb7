//! The user representation and its writable fields, shaped by `djoser.required_fields` (Djoser's
//! `REQUIRED_FIELDS`): read `REQUIRED_FIELDS + [id, email]`, create `REQUIRED_FIELDS + [email, id]`.

use serde_json::{Map, Value, json};

use super::fields::Form;
use crate::config::ProfileField;
use crate::store::models::{ProfileChange, User};

/// Django's `max_length` of `username`, `first_name` and `last_name`.
const MAX_PROFILE_CHARS: usize = 150;

/// Refusal of a name holding control characters (ESC, BEL, CR, DEL...): they would act on the
/// terminal or the mail header of whoever shows the name (null characters get DRF's own message first).
const CONTROL_CHARACTERS: &str = "Control characters are not allowed.";

fn profile_value(user: &User, field: ProfileField) -> &str {
    match field {
        ProfileField::Username => &user.username,
        ProfileField::FirstName => &user.first_name,
        ProfileField::LastName => &user.last_name,
    }
}

fn with_profile(user: &User, required: &[ProfileField]) -> Map<String, Value> {
    required
        .iter()
        .map(|field| (field.name().to_owned(), json!(profile_value(user, *field))))
        .collect()
}

/// `users/me/`, `users/{id}/`, `GET users/`.
pub fn read(user: &User, required: &[ProfileField]) -> Value {
    let mut map = with_profile(user, required);
    map.insert("id".into(), json!(user.id));
    map.insert("email".into(), json!(user.email));
    Value::Object(map)
}

/// `POST users/`'s answer.
pub fn created(user: &User, required: &[ProfileField]) -> Value {
    let mut map = with_profile(user, required);
    map.insert("email".into(), json!(user.email));
    map.insert("id".into(), json!(user.id));
    Value::Object(map)
}

/// Reads the configured profile fields from a body: optional, blank allowed (the model fields are
/// `blank=True`), trimmed, at most 150 characters, no control characters. Errors go into `form` in
/// field order.
pub fn read_fields(form: &mut Form<'_>, body: &Map<String, Value>, required: &[ProfileField]) -> ProfileChange {
    let mut change = ProfileChange::default();
    for field in required {
        let name = field.name();
        if !body.contains_key(name) {
            continue;
        }
        let mut value = form.optional_char(name, MAX_PROFILE_CHARS);
        if value.as_deref().is_some_and(|text| text.chars().any(char::is_control)) {
            form.add(name, CONTROL_CHARACTERS);
            value = None;
        }
        match field {
            ProfileField::Username => change.username = value,
            ProfileField::FirstName => change.first_name = value,
            ProfileField::LastName => change.last_name = value,
        }
    }
    change
}

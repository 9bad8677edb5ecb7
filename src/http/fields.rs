//! DRF serializer fields: `CharField` and `EmailField` checks with DRF's exact messages, errors
//! collected in field order, as DRF's serializers report them.

use serde_json::{Map, Value};

use super::error::{ApiError, FieldErrors};
use crate::auth::email::{Email, MAX_EMAIL_CHARS};
use crate::auth::password::Password;

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";
pub const NULL: &str = "This field may not be null.";
pub const NOT_A_STRING: &str = "Not a valid string.";
pub const INVALID_EMAIL: &str = "Enter a valid email address.";
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// Longest password accepted (in characters): far above any real password, low enough that
/// nobody can make the server hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 4096;

/// Reads the fields of one request body, remembering every error in the order fields were read.
pub struct Form<'a> {
    data: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl<'a> Form<'a> {
    pub fn new(data: &'a Map<String, Value>) -> Self {
        Self {
            data,
            errors: Vec::new(),
        }
    }

    /// A required `CharField` (whitespace trimmed), optionally with a maximum length.
    pub fn char(&mut self, name: &str, max_chars: Option<usize>) -> Option<String> {
        let value = match self.raw_string(name) {
            Ok(value) => value,
            Err(message) => {
                self.add(name, message);
                return None;
            }
        };
        let mut messages = Vec::new();
        if let Some(max) = max_chars.filter(|max| value.chars().count() > *max) {
            messages.push(format!("Ensure this field has no more than {max} characters."));
        }
        if value.contains('\0') {
            messages.push(NULL_CHARACTERS.to_owned());
        }
        if messages.is_empty() {
            Some(value)
        } else {
            for message in messages {
                self.add(name, message);
            }
            None
        }
    }

    /// An optional `CharField(blank=True, max_length=max)`: blank is allowed, `null` and non-strings are not.
    pub fn optional_char(&mut self, name: &str, max_chars: usize) -> Option<String> {
        if matches!(self.data.get(name), Some(Value::String(text)) if text.trim().is_empty()) {
            return Some(String::new());
        }
        self.char(name, Some(max_chars))
    }

    /// A password field: a `CharField` capped at [`MAX_PASSWORD_CHARS`].
    pub fn password(&mut self, name: &str) -> Option<Password> {
        self.char(name, Some(MAX_PASSWORD_CHARS)).map(Password::new)
    }

    /// A required `EmailField` (max 254 characters, Django's `EmailValidator`). A value that is not
    /// a string is reported as an invalid address, as DRF's `EmailField` does.
    pub fn email(&mut self, name: &str) -> Option<Email> {
        self.email_of_length(name, Some(MAX_EMAIL_CHARS))
    }

    /// An `EmailField()` declared without `max_length`, as Djoser's serializers that only look an
    /// address up have it (`resend_activation`, `reset_password`, `reset_email`): only Django's
    /// validator (which stops at 320 characters) judges the length.
    pub fn email_any_length(&mut self, name: &str) -> Option<Email> {
        self.email_of_length(name, None)
    }

    fn email_of_length(&mut self, name: &str, max_chars: Option<usize>) -> Option<Email> {
        let value = match self.raw_string(name) {
            Ok(value) => value,
            Err(message) => {
                let message = if message == NOT_A_STRING {
                    INVALID_EMAIL
                } else {
                    message
                };
                self.add(name, message);
                return None;
            }
        };
        let mut messages = Vec::new();
        if let Some(max) = max_chars.filter(|max| value.chars().count() > *max) {
            messages.push(format!("Ensure this field has no more than {max} characters."));
        }
        if value.contains('\0') {
            messages.push(NULL_CHARACTERS.to_owned());
        }
        let email = Email::parse(&value);
        if email.is_none() {
            messages.push(INVALID_EMAIL.to_owned());
        }
        if messages.is_empty() {
            email
        } else {
            for message in messages {
                self.add(name, message);
            }
            None
        }
    }

    /// Records an error for `name` (appended to that field's list).
    pub fn add(&mut self, name: &str, message: impl Into<String>) {
        match self.errors.iter_mut().find(|(field, _)| field == name) {
            Some((_, messages)) => messages.push(message.into()),
            None => self.errors.push((name.to_owned(), vec![message.into()])),
        }
    }

    /// `Ok` when every field passed, else the 400 field map.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }

    /// DRF's `CharField.run_validation` up to the validators: required, null, type, blank, trim.
    fn raw_string(&self, name: &str) -> Result<String, &'static str> {
        let text = match self.data.get(name) {
            None => return Err(REQUIRED),
            Some(Value::Null) => return Err(NULL),
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            Some(_) => return Err(NOT_A_STRING),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(BLANK);
        }
        Ok(trimmed.to_owned())
    }
}

/// The value of a field read by a [`Form`] whose `finish` succeeded (a field without a value always
/// has an error, so this only fails on a programming mistake).
pub fn checked<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a field passed validation without a value")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(body: Value, read: impl FnOnce(&mut Form)) -> Value {
        let map = body.as_object().cloned().unwrap_or_default();
        let mut form = Form::new(&map);
        read(&mut form);
        match form.finish() {
            Ok(()) => json!({}),
            Err(ApiError::Fields(fields)) => Value::Object(fields.into_iter().map(|(k, v)| (k, json!(v))).collect()),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn char_fields_report_drf_messages_in_field_order() {
        let errors = errors_of(json!({"b": null, "c": "  ", "d": true, "e": [1]}), |form| {
            for name in ["a", "b", "c", "d", "e"] {
                form.char(name, None);
            }
        });
        assert_eq!(
            errors.to_string(),
            json!({"a": [REQUIRED], "b": [NULL], "c": [BLANK], "d": [NOT_A_STRING], "e": [NOT_A_STRING]}).to_string()
        );
    }

    #[test]
    fn numbers_are_coerced_and_strings_trimmed() {
        let map = json!({"n": 123, "s": "  x  "}).as_object().cloned().unwrap();
        let mut form = Form::new(&map);
        assert_eq!(form.char("n", None).as_deref(), Some("123"));
        assert_eq!(form.char("s", None).as_deref(), Some("x"));
        assert!(form.finish().is_ok());
    }

    #[test]
    fn email_checks_length_and_syntax() {
        let long = format!("{}@example.com", "a".repeat(250));
        let errors = errors_of(json!({"email": long}), |form| {
            form.email("email");
        });
        assert_eq!(errors["email"][0], "Ensure this field has no more than 254 characters.");
        let errors = errors_of(json!({"email": "nope"}), |form| {
            form.email("email");
        });
        assert_eq!(errors, json!({"email": [INVALID_EMAIL]}));
    }

    #[test]
    fn a_lookup_email_has_no_length_limit_below_djangos_320() {
        let long = format!("{}@example.com", "a".repeat(300));
        let map = json!({"email": long}).as_object().cloned().unwrap();
        let mut form = Form::new(&map);
        assert!(form.email_any_length("email").is_some());
        assert!(form.finish().is_ok());
        let longer = format!("{}@example.com", "a".repeat(320));
        let errors = errors_of(json!({"email": longer}), |form| {
            form.email_any_length("email");
        });
        assert_eq!(errors, json!({"email": [INVALID_EMAIL]}));
    }
}

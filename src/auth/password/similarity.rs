//! Django's `UserAttributeSimilarityValidator`: is the password too close to the username, first
//! name, last name or e-mail address? A line-by-line port of Django 5.2, down to its float maths.

use std::collections::HashMap;

use super::python_chars::is_word;

/// The user attributes Django's `UserAttributeSimilarityValidator` compares against.
#[derive(Clone, Copy, Debug)]
pub struct UserAttributes<'a> {
    pub username: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
}

impl UserAttributes<'_> {
    /// The attributes in Django's order, each with the verbose name its message uses.
    fn named(&self) -> [(&str, &'static str); 4] {
        [
            (self.username, "username"),
            (self.first_name, "first name"),
            (self.last_name, "last name"),
            (self.email, "email address"),
        ]
    }
}

/// The verbose name of the first attribute `password` is too similar to, if any.
pub(super) fn too_similar_attribute(
    password: &str,
    user: &UserAttributes<'_>,
    max_similarity: f64,
) -> Option<&'static str> {
    let password = password.to_lowercase();
    let password_len = password.chars().count();
    user.named()
        .into_iter()
        .filter(|(value, _)| !value.is_empty())
        .find(|(value, _)| {
            let value = value.to_lowercase();
            split_on_non_word(&value)
                .into_iter()
                .chain([value.as_str()])
                .any(|part| {
                    let part_len = part.chars().count();
                    !exceeds_maximum_length_ratio(password_len, max_similarity, part_len)
                        && quick_ratio(&password, part) >= max_similarity
                })
        })
        .map(|(_, verbose_name)| verbose_name)
}

/// Django's shortcut: a part this much shorter than the password can never reach the threshold.
fn exceeds_maximum_length_ratio(password_len: usize, max_similarity: f64, part_len: usize) -> bool {
    let length_bound_similarity = max_similarity / 2.0 * password_len as f64;
    password_len >= 10 * part_len && (part_len as f64) < length_bound_similarity
}

/// Python's `re.split(r"\W+", value)`: empty parts appear only at the very start or end.
fn split_on_non_word(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut part_start = 0;
    let mut separator_start = None;
    for (index, c) in value.char_indices() {
        match (is_word(c), separator_start) {
            (false, None) => separator_start = Some(index),
            (true, Some(start)) => {
                parts.push(&value[part_start..start]);
                part_start = index;
                separator_start = None;
            }
            _ => {}
        }
    }
    parts.push(&value[part_start..separator_start.unwrap_or(value.len())]);
    if separator_start.is_some() {
        parts.push("");
    }
    parts
}

/// difflib's `SequenceMatcher(a=a, b=b).quick_ratio()`: twice the size of the multiset
/// intersection of the two strings' code points over their total length (1.0 when both are empty).
fn quick_ratio(a: &str, b: &str) -> f64 {
    let mut available: HashMap<char, usize> = HashMap::new();
    for c in b.chars() {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0_usize;
    for c in a.chars() {
        if let Some(count) = available.get_mut(&c).filter(|count| **count > 0) {
            *count -= 1;
            matches += 1;
        }
    }
    let length = a.chars().count() + b.chars().count();
    if length == 0 {
        1.0
    } else {
        2.0 * matches as f64 / length as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_matches_python_re_split() {
        let cases: [(&str, &[&str]); 7] = [
            ("alice.liddell@example.com", &["alice", "liddell", "example", "com"]),
            ("x.", &["x", ""]),
            (".x", &["", "x"]),
            ("a..-b", &["a", "b"]),
            ("...", &["", ""]),
            ("john_doe99", &["john_doe99"]),
            ("राहुल@x", &["र", "ह", "ल", "x"]),
        ];
        for (value, expected) in cases {
            assert_eq!(split_on_non_word(value), expected, "{value:?}");
        }
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        // Values printed by Python 3.11's difflib.
        let cases = [
            ("", "", 1.0),
            ("abc", "", 0.0),
            ("abc", "abc", 1.0),
            ("aab", "abb", 2.0 * 2.0 / 6.0),
            ("liddell2024", "liddell", 0.7777777777777778),
            ("alice.liddell1", "alice.liddell@example.com", 0.6666666666666666),
        ];
        for (a, b, expected) in cases {
            assert_eq!(quick_ratio(a, b), expected, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn long_passwords_skip_short_parts() {
        assert!(exceeds_maximum_length_ratio(20, 0.7, 2));
        assert!(!exceeds_maximum_length_ratio(19, 0.7, 2));
        assert!(!exceeds_maximum_length_ratio(0, 0.7, 0));
        assert!(exceeds_maximum_length_ratio(1, 0.7, 0));
    }
}

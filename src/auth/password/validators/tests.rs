//! Table tests of the policy. Every expected list was printed by Django 5.2.19's
//! `validate_password` with the four `startproject` validators, against an unsaved
//! `django.contrib.auth.models.User` with the same attributes (or `user=None`).

use super::*;

const fn user<'a>(username: &'a str, first: &'a str, last: &'a str, email: &'a str) -> UserAttributes<'a> {
    UserAttributes {
        username,
        first_name: first,
        last_name: last,
        email,
    }
}

const ALICE: Option<&UserAttributes> = Some(&user("alice", "Alice", "Liddell", "alice.liddell@example.com"));
const BOB: Option<&UserAttributes> = Some(&user("bob", "", "", "bob@example.com"));
const AB: Option<&UserAttributes> = Some(&user("ab", "", "", ""));
const MARIA: Option<&UserAttributes> = Some(&user("maria", "Maria", "Garcia", "mg@example.org"));
const RAHUL: Option<&UserAttributes> = Some(&user("rahul", "", "", "राहुल@उदाहरण.com"));
const UNAL: Option<&UserAttributes> = Some(&user("unal", "Ünal", "Öztürk", "unal@example.com"));
const JOHN: Option<&UserAttributes> = Some(&user("john_doe99", "John", "Doe", "jd@example.com"));
const TRAILING: Option<&UserAttributes> = Some(&user("", "", "", "x."));
const NUMERIC: Option<&UserAttributes> = Some(&user("12345678", "", "", ""));

const SIMILAR_USERNAME: &str = "The password is too similar to the username.";
const SIMILAR_LAST_NAME: &str = "The password is too similar to the last name.";
const SIMILAR_EMAIL: &str = "The password is too similar to the email address.";
const SHORT: &str = "This password is too short. It must contain at least 8 characters.";
const COMMON: &str = "This password is too common.";
const NUMERIC_ONLY: &str = "This password is entirely numeric.";

type Case = (
    &'static str,
    Option<&'static UserAttributes<'static>>,
    &'static [&'static str],
);

fn check(policy: &PasswordPolicy, cases: &[Case]) {
    for (password, user, expected) in cases {
        assert_eq!(policy.validate(password, *user), *expected, "{password:?} for {user:?}");
    }
}

#[test]
fn similarity_to_user_attributes_matches_django() {
    check(
        &PasswordPolicy::default(),
        &[
            ("alice.liddell@example.com", ALICE, &[SIMILAR_EMAIL]),
            ("alice.liddell1", ALICE, &[]),
            ("Alice.Liddell@Example.COM", ALICE, &[SIMILAR_EMAIL]),
            ("liddell2024", ALICE, &[SIMILAR_LAST_NAME]),
            ("Wonderland-Rabbit-7", ALICE, &[]),
            ("bobsuperlongpasswordxyz", BOB, &[]),
            ("bob@example.co", BOB, &[SIMILAR_EMAIL]),
            ("abababababababababab", AB, &[]),
            ("ababab", AB, &[SHORT]),
            ("maria123", MARIA, &[SIMILAR_USERNAME, COMMON]),
            ("garcia2000", MARIA, &[SIMILAR_LAST_NAME]),
            ("राहुल123", RAHUL, &[]),
            ("राहुल@उदाहरण", RAHUL, &[SIMILAR_EMAIL]),
            ("ÜNAL1234", UNAL, &[]),
            ("öztürk99", UNAL, &[SIMILAR_LAST_NAME]),
            ("John_Doe99!", JOHN, &[SIMILAR_USERNAME]),
            ("doe-john-99", JOHN, &[SIMILAR_USERNAME]),
            ("", TRAILING, &[SIMILAR_EMAIL, SHORT]),
            ("12345678", NUMERIC, &[SIMILAR_USERNAME, COMMON, NUMERIC_ONLY]),
            ("1234", NUMERIC, &[SHORT, COMMON, NUMERIC_ONLY]),
        ],
    );
}

#[test]
fn length_commonness_and_digits_match_django() {
    check(
        &PasswordPolicy::default(),
        &[
            ("short", None, &[SHORT]),
            ("seven77", None, &[SHORT, COMMON]),
            ("éééééééé", None, &[]),
            ("ééééééé", None, &[SHORT]),
            ("🦀🦀🦀🦀🦀🦀🦀🦀", None, &[]),
            ("password", None, &[COMMON]),
            ("PASSWORD", None, &[COMMON]),
            ("  Password  ", None, &[COMMON]),
            ("\u{1c}password\u{1f}", None, &[COMMON]),
            ("qwertyuiop", None, &[COMMON]),
            ("friend of emily", None, &[COMMON]),
            ("correct horse battery staple", None, &[]),
            ("Tr1cky-Horse-Battery-9", None, &[]),
            ("98765432109876", None, &[NUMERIC_ONLY]),
            ("١٢٣٤٥٦٧٨٩", None, &[NUMERIC_ONLY]),
            ("²³¹⁴⁵⁶⁷⁸", None, &[NUMERIC_ONLY]),
            ("½½½½½½½½", None, &[]),
            ("ⅫⅫⅫⅫⅫⅫⅫⅫ", None, &[]),
            ("1234567a", None, &[COMMON]),
            ("", None, &[SHORT]),
        ],
    );
}

#[test]
fn custom_settings_match_django() {
    let only = |policy: PasswordPolicy| PasswordPolicy {
        check_similarity: false,
        check_common: false,
        check_numeric: false,
        min_length: 0,
        ..policy
    };
    check(
        &only(PasswordPolicy::default()),
        &[("", None, &[]), ("123", ALICE, &[])],
    );
    check(
        &PasswordPolicy {
            min_length: 1,
            ..only(PasswordPolicy::default())
        },
        &[(
            "",
            None,
            &["This password is too short. It must contain at least 1 character."],
        )],
    );
    check(
        &PasswordPolicy {
            min_length: 12,
            ..only(PasswordPolicy::default())
        },
        &[(
            "elevenchars",
            None,
            &["This password is too short. It must contain at least 12 characters."],
        )],
    );
    let similar = |max_similarity| PasswordPolicy {
        check_similarity: true,
        max_similarity,
        ..only(PasswordPolicy::default())
    };
    check(
        &similar(0.5),
        &[
            ("alice.liddell1", ALICE, &[SIMILAR_USERNAME]),
            ("Wonderland-Rabbit-7", ALICE, &[]),
        ],
    );
    check(
        &similar(1.0),
        &[("liddell", ALICE, &[SIMILAR_LAST_NAME]), ("liddell2024", ALICE, &[])],
    );
}

#[test]
fn anonymous_users_skip_only_the_similarity_check() {
    let policy = PasswordPolicy::default();
    assert_eq!(policy.validate("alice.liddell@example.com", None), Vec::<String>::new());
    assert_eq!(policy.validate("12345678", None), [COMMON, NUMERIC_ONLY]);
}

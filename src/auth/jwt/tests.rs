//! [`TokenService::decode`] against `jsonwebtoken::decode`, which it replaced: every payload of a
//! large matrix of claim values (the odd ones included: floats, negatives, `null`, arrays, objects,
//! names given twice), signed and tampered, gets the same answer from both.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};

use super::read::KNOWN;
use super::{Claims, ReadClaims, TokenError, TokenService};
use crate::auth::keys::KeyRing;
use crate::config::{Secret, Settings};

const LEEWAY: u64 = 30;

fn service(audience: Option<&str>, issuer: Option<&str>) -> TokenService {
    let mut settings = Settings {
        secret_key: Secret::new("a test secret for the decoder comparison, long enough for HS256"),
        ..Settings::default()
    };
    settings.simple_jwt.audience = audience.map(str::to_owned);
    settings.simple_jwt.issuer = issuer.map(str::to_owned);
    settings.simple_jwt.leeway = Duration::from_secs(LEEWAY);
    let keys = KeyRing::load(&settings).expect("keys");
    TokenService::new(&settings.simple_jwt, keys).expect("token service")
}

/// What imhotep's decode answered before it parsed once: `jsonwebtoken::decode` with PyJWT's
/// validation, a missing `exp` told apart from an unreadable one, then the `iat` check.
fn jsonwebtoken_decode(service: &TokenService, token: &str) -> Result<Map<String, Value>, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    let ring = service.keys.current();
    let key = ring
        .verifier(header.kid.as_deref(), header.alg)
        .ok_or(TokenError::Invalid)?;
    let checks = &service.checks;
    let mut validation = Validation::new(key.algorithm().into());
    validation.leeway = checks.leeway;
    validation.validate_nbf = true;
    validation.required_spec_claims = HashSet::from(["exp".to_owned()]);
    match &checks.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    if let Some(issuer) = &checks.issuer {
        validation.set_issuer(&[issuer]);
    }
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key.decoding(), &validation)
        .map_err(|error| match error.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::MissingRequiredClaim(claim) if claim == "exp" && !names_exp(token) => TokenError::NoExp,
            _ => TokenError::Invalid,
        })?
        .claims;
    let claims = Claims(claims);
    checks.check_issued_at(&claims, Utc::now().timestamp())?;
    Ok(claims.0)
}

fn names_exp(token: &str) -> bool {
    jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token)
        .is_ok_and(|claims| claims.contains_key("exp"))
}

/// `payload` as it is, signed with the service's key.
fn signed(service: &TokenService, payload: &str) -> String {
    let ring = service.keys.current();
    let (key, _, header) = ring.signer();
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign(message.as_bytes()).expect("sign");
    format!("{message}.{signature}")
}

/// A JSON object from `(name, raw JSON value)` pairs, `None` values left out.
fn object(members: &[(&str, Option<&str>)]) -> String {
    let members: Vec<String> = members
        .iter()
        .filter_map(|(name, value)| value.map(|value| format!("\"{name}\": {value}")))
        .collect();
    format!("{{{}}}", members.join(", "))
}

/// Both of imhotep's decoders against jsonwebtoken's: the same answer, and the claims imhotep
/// reads (every name of a signed payload, and some it lacks) the same in the map and the known claims.
fn assert_same(service: &TokenService, token: &str, what: &str) -> Result<Map<String, Value>, TokenError> {
    let expected = jsonwebtoken_decode(service, token);
    let actual = service.decode(token).map(|claims| claims.0);
    assert_eq!(actual, expected, "{what}");
    let known = service.decode_known(token);
    assert_eq!(known.as_ref().err(), actual.as_ref().err(), "known claims: {what}");
    if let (Ok(known), Ok(claims)) = (&known, &actual) {
        let names = claims
            .keys()
            .map(String::as_str)
            .chain(["jti", "token_type", "user_id", "sid", "x"]);
        for name in names {
            let expected = claims.get(name).filter(|_| KNOWN.contains(&name));
            assert_eq!(known.claim(name), expected, "{name} of {what}");
        }
    }
    actual
}

struct Values {
    exp: Vec<String>,
    nbf: Vec<String>,
    sub: Vec<String>,
    names: Vec<String>,
    iat: Vec<String>,
}

fn values() -> Values {
    let now = Utc::now().timestamp();
    let owned = |values: &[&str]| values.iter().map(|value| (*value).to_owned()).collect::<Vec<_>>();
    let mut exp = vec![
        (now + 3600).to_string(),
        (now - 3600).to_string(),
        (now - 10).to_string(),
        format!("{}.4", now + 3600),
        format!("{}.5", now - 3600),
        format!("{}e0", now + 3600),
    ];
    exp.extend(owned(&[
        "-5",
        "-0",
        "0",
        "null",
        "true",
        "1e20",
        "18446744073709551615",
        "18446744073709551616",
        "[]",
        "[ ]",
        "[1]",
        "{}",
        "{\"a\": 1}",
    ]));
    exp.push(format!("\"{}\"", now + 3600));
    let mut nbf = vec![
        (now - 3600).to_string(),
        (now + 3600).to_string(),
        (now + 10).to_string(),
    ];
    nbf.extend(owned(&["\"x\"", "null", "-1", "1.5", "[]", "[1]", "{}", "{\"a\": 1}"]));
    let sub = owned(&["\"u\"", "1", "null", "[]", "[\"a\"]", "{}", "true"]);
    let names = owned(&[
        "\"imhotep\"",
        "\"other\"",
        "null",
        "[\"imhotep\", \"x\"]",
        "[\"x\"]",
        "[]",
        "[1]",
        "[\"imhotep\", 1]",
        "5",
        "{}",
        "{\"a\": \"imhotep\"}",
    ]);
    let iat = vec![
        now.to_string(),
        (now + 3600).to_string(),
        format!("\"{now}\""),
        "\"x\"".to_owned(),
        "1.5".to_owned(),
        "null".to_owned(),
    ];
    Values {
        exp,
        nbf,
        sub,
        names,
        iat,
    }
}

/// `Some` of each value, and `None` (the claim left out).
fn each(values: &[String]) -> impl Iterator<Item = Option<&str>> {
    std::iter::once(None).chain(values.iter().map(|value| Some(value.as_str())))
}

#[test]
fn same_answer_as_jsonwebtoken_for_every_time_claim_and_subject() {
    let values = values();
    let mut accepted = 0;
    for service in [service(None, None), service(Some("imhotep"), Some("imhotep"))] {
        for exp in each(&values.exp) {
            for nbf in each(&values.nbf) {
                for sub in each(&values.sub) {
                    let payload = object(&[("exp", exp), ("nbf", nbf), ("sub", sub), ("user_id", Some("\"1\""))]);
                    accepted += usize::from(assert_same(&service, &signed(&service, &payload), &payload).is_ok());
                }
            }
        }
    }
    assert!(accepted > 100, "the matrix accepts some tokens ({accepted})");
}

#[test]
fn same_answer_as_jsonwebtoken_for_every_issuer_audience_and_iat() {
    let values = values();
    let future = values.exp[0].clone();
    let mut answers = Vec::new();
    for service in [service(None, None), service(Some("imhotep"), Some("imhotep"))] {
        for exp in [Some(future.as_str()), Some(values.exp[1].as_str()), Some("\"x\""), None] {
            for iss in each(&values.names) {
                for aud in each(&values.names) {
                    let payload = object(&[("exp", exp), ("iss", iss), ("aud", aud)]);
                    answers.push(assert_same(&service, &signed(&service, &payload), &payload).err());
                }
            }
            for iat in each(&values.iat) {
                for nbf in [None, Some(values.nbf[1].as_str())] {
                    let payload = object(&[("iat", iat), ("exp", exp), ("nbf", nbf)]);
                    answers.push(assert_same(&service, &signed(&service, &payload), &payload).err());
                }
            }
        }
    }
    for answer in [
        None,
        Some(TokenError::Invalid),
        Some(TokenError::Expired),
        Some(TokenError::NoExp),
    ] {
        assert!(answers.contains(&answer), "the matrix meets {answer:?}");
    }
}

#[test]
fn same_answer_as_jsonwebtoken_for_names_given_twice_and_odd_payloads() {
    let future = values().exp[0].clone();
    let service = service(Some("imhotep"), None);
    let payloads = [
        format!("{{\"exp\": {future}, \"exp\": 1}}"),
        format!("{{\"exp\": 1, \"exp\": {future}}}"),
        format!("{{\"exp\": {future}, \"nbf\": 1, \"nbf\": 2}}"),
        format!("{{\"exp\": {future}, \"sub\": \"a\", \"sub\": \"a\"}}"),
        format!("{{\"exp\": {future}, \"aud\": \"imhotep\", \"aud\": \"imhotep\"}}"),
        format!("{{\"exp\": {future}, \"iss\": null, \"iss\": null}}"),
        format!("{{\"exp\": {future}, \"jti\": \"a\", \"jti\": \"b\"}}"),
        format!("{{\"exp\": {future}, \"user_id\": \"1\", \"user_id\": \"2\"}}"),
        format!("{{\"e\\u0078p\": {future}}}"),
        format!("{{\"exp\": {future}}} "),
        format!("{{\"exp\": {future}}} x"),
        format!("[{future}]"),
        "{}".to_owned(),
        "\"exp\"".to_owned(),
        "null".to_owned(),
        "not json".to_owned(),
        String::new(),
        format!("{{\"exp\": {future}, \"x\": 1e400}}"),
        format!("{{\"exp\": {future}, \"\\u0073id\": \"a\", \"sid\": \"b\", \"x\": {{\"y\": [1, {{\"z\": null}}]}}}}"),
        format!(
            "{{\"exp\": {future}, \"hash_password\": \"a\", \"token_type\": \"access\", \"token_type\": \"refresh\"}}"
        ),
    ];
    let accepted: Vec<bool> = payloads
        .iter()
        .map(|payload| assert_same(&service, &signed(&service, payload), payload).is_ok())
        .collect();
    let mut expected = [false; 20];
    // Only names jsonwebtoken does not read may come twice; an escaped name is the name; space may
    // follow; any claim's value must be readable JSON, whichever decoder keeps it.
    expected[6..10].fill(true);
    expected[18..].fill(true);
    assert_eq!(accepted, expected);
    let good = signed(&service, &format!("{{\"exp\": {future}, \"aud\": \"imhotep\"}}"));
    assert!(assert_same(&service, &good, "a good token").is_ok());
    let (message, signature) = good.rsplit_once('.').expect("three parts");
    let (header, payload) = message.rsplit_once('.').expect("three parts");
    let tampered = [
        format!(
            "{message}.{}",
            signature.replacen(&signature[..1], if &signature[..1] == "A" { "B" } else { "A" }, 1)
        ),
        format!("{message}."),
        format!("{message}.{signature}="),
        format!("{message}.{signature}.{signature}"),
        message.to_owned(),
        format!("{header}.{payload}x.{signature}"),
        format!("{header}x.{payload}.{signature}"),
        format!(
            "{}.{payload}.{signature}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#)
        ),
        format!(
            "{}.{payload}.{signature}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
        ),
        format!(
            "{}.{payload}.{signature}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k"}"#)
        ),
        format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT"}"#)),
        String::new(),
        "..".to_owned(),
    ];
    for token in &tampered {
        assert_eq!(assert_same(&service, token, token), Err(TokenError::Invalid), "{token}");
    }
}

use super::*;
use crate::auth::keys::KeyRing;
use crate::config::KeyEntry;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

fn settings(algorithm: &str, signing: Option<&str>, verifying: Option<&str>) -> Settings {
    let mut settings = Settings {
        secret_key: Secret::new("a-test-secret-key-of-more-than-32-bytes"),
        ..Settings::default()
    };
    settings.simple_jwt.algorithm = algorithm.parse().expect("a known algorithm");
    settings.simple_jwt.signing_key = signing.map(Secret::new);
    settings.simple_jwt.verifying_key = verifying.map(Secret::new);
    settings
}

fn entry(kid: &str, algorithm: &str, key_use: KeyUse, signing: Option<String>) -> KeyEntry {
    KeyEntry {
        kid: kid.into(),
        algorithm: algorithm.parse().expect("a known algorithm"),
        key_use,
        signing_key: signing.map(Secret::new),
        verifying_key: None,
    }
}

#[track_caller]
fn refused(settings: &Settings, expected: &[&str]) {
    let error = KeyRing::load(settings).err().expect("refused");
    for part in expected {
        assert!(error.contains(part), "{error:?} lacks {part:?}");
    }
    assert!(!error.contains("MII") && !error.contains("MC4C"), "key text in {error}");
}

#[test]
fn wrong_single_key_combinations_name_the_setting() {
    let rsa = fixture("rsa.pem");
    refused(
        &settings("RS256", None, None),
        &["simple_jwt.signing_key is not set", "RS256"],
    );
    refused(
        &settings("ES256", Some(&rsa), None),
        &["simple_jwt.signing_key", "RSA", "ES256"],
    );
    refused(
        &settings("RS256", Some(&fixture("rsa.pub.pem")), None),
        &["simple_jwt.signing_key", "public key"],
    );
    refused(
        &settings("RS256", Some(&rsa), Some(&fixture("p256.pub.pem"))),
        &["simple_jwt.verifying_key is not the public key of simple_jwt.signing_key"],
    );
    refused(
        &settings("RS256", Some(&fixture("rsa1024.pem")), None),
        &["simple_jwt.signing_key", "2048"],
    );
    refused(
        &settings("HS256", None, Some(&fixture("rsa.pub.pem"))),
        &["simple_jwt.verifying_key"],
    );
    refused(
        &settings("EdDSA", Some("file:/nonexistent/key.pem"), None),
        &["simple_jwt.signing_key: cannot read /nonexistent/key.pem"],
    );
}

#[test]
fn simplejwt_key_files_load_from_text_files_and_one_line_values() {
    let rsa = fixture("rsa_traditional.pem");
    let ring = KeyRing::load(&settings("RS256", Some(&rsa), Some(&fixture("rsa_pkcs1.pub.pem"))))
        .unwrap()
        .current();
    let (_, algorithm, header) = ring.signer();
    assert_eq!(algorithm, JwtAlgorithm::RS256);
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    let kid = header["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        header.to_string(),
        format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"JWT"}}"#)
    );
    let from_file = KeyRing::load(&settings("PS256", Some(&format!("file:{FIXTURES}/ed25519.pem")), None));
    assert!(
        from_file
            .err()
            .unwrap()
            .contains("Ed25519 key, which cannot be used for PS256")
    );
    let one_line = fixture("ed25519.pem").replace('\n', "\\n");
    assert!(KeyRing::load(&settings("EdDSA", Some(&one_line), None)).is_ok());
    let hmac = KeyRing::load(&settings("HS256", None, None)).unwrap().current();
    assert_eq!(hmac.signer().2, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
    assert_eq!(hmac.jwks(), serde_json::json!({ "keys": [] }));
}

#[test]
fn a_key_list_needs_exactly_one_signer_and_distinct_kids() {
    let ed = || Some(fixture("ed25519.pem"));
    let mut base = settings("HS256", None, None);
    base.keys.list = vec![entry("a", "EdDSA", KeyUse::Verify, ed())];
    refused(&base, &["keys.list", "no key has use = \"sign\""]);
    base.keys.list = vec![
        entry("a", "EdDSA", KeyUse::Sign, ed()),
        entry("b", "EdDSA", KeyUse::Sign, Some(fixture("ed25519_b.pem"))),
    ];
    refused(&base, &["several keys", "a, b"]);
    base.keys.list = vec![
        entry("a", "EdDSA", KeyUse::Sign, ed()),
        entry("a", "ES256", KeyUse::Verify, Some(fixture("p256.pem"))),
    ];
    refused(&base, &["kid \"a\" is given to two keys"]);
    base.keys.list = vec![entry("bad kid", "EdDSA", KeyUse::Sign, ed())];
    refused(&base, &["keys.list[0].kid \"bad kid\""]);
    base.keys.list = vec![entry("a", "EdDSA", KeyUse::Sign, ed())];
    base.simple_jwt.signing_key = Some(Secret::new("x"));
    refused(&base, &["cannot be combined with keys.list"]);
}

#[test]
fn tokens_find_their_key_by_kid_and_kidless_tokens_the_key_of_their_algorithm() {
    let mut settings = settings("HS256", None, None);
    settings.keys.list = vec![
        entry("new", "EdDSA", KeyUse::Sign, Some(fixture("ed25519.pem"))),
        entry("old", "RS256", KeyUse::Verify, Some(fixture("rsa.pem"))),
        entry("legacy", "HS256", KeyUse::Verify, None),
    ];
    let ring = KeyRing::load(&settings).unwrap().current();
    assert_eq!(
        ring.verifier(Some("old"), JwtAlgorithm::RS256.into())
            .unwrap()
            .algorithm(),
        JwtAlgorithm::RS256
    );
    assert!(ring.verifier(Some("gone"), JwtAlgorithm::EdDSA.into()).is_none());
    assert_eq!(
        ring.verifier(None, JwtAlgorithm::HS256.into()).unwrap().algorithm(),
        JwtAlgorithm::HS256
    );
    assert_eq!(
        ring.verifier(None, JwtAlgorithm::EdDSA.into()).unwrap().algorithm(),
        JwtAlgorithm::EdDSA
    );
    assert!(ring.verifier(None, JwtAlgorithm::ES256.into()).is_none());
    let jwks = ring.jwks();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["new", "old"], "HMAC keys are never published");
}

#[test]
fn a_directory_holds_sign_and_verify_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings("HS256", None, None);
    settings.keys.dir = Some(dir.path().to_owned());
    std::fs::write(dir.path().join("k1.sign.pem"), fixture("ed25519.pem")).unwrap();
    std::fs::write(dir.path().join("k0.verify.pem"), fixture("p256.pub.pem")).unwrap();
    std::fs::write(dir.path().join(".k2.sign.pem.swp"), "editor junk").unwrap();
    let ring = KeyRing::load(&settings).unwrap();
    assert_eq!(ring.current().summary(), "k0:verify:ES256, k1:sign:EdDSA");
    std::fs::write(dir.path().join("k2.sign.pem"), fixture("rsa.pem")).unwrap();
    let error = ring.reload().unwrap_err();
    assert!(error.contains("several keys") && error.contains("k1, k2"), "{error}");
    assert_eq!(
        ring.current().summary(),
        "k0:verify:ES256, k1:sign:EdDSA",
        "a bad directory changes nothing"
    );
    std::fs::rename(dir.path().join("k1.sign.pem"), dir.path().join("k1.verify.pem")).unwrap();
    assert_eq!(
        ring.reload().unwrap().as_deref(),
        Some("k0:verify:ES256, k1:verify:EdDSA, k2:sign:RS256")
    );
    assert_eq!(ring.reload().unwrap(), None, "nothing changed");
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    assert!(ring.reload().unwrap_err().contains("notes.txt: name it <kid>.sign.pem"));
    std::fs::remove_file(dir.path().join("notes.txt")).unwrap();
    std::fs::write(dir.path().join("k3.sign.pem"), fixture("p256.pub.pem")).unwrap();
    assert!(ring.reload().unwrap_err().contains("k3.sign.pem holds a public key"));
}

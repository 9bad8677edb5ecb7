//! Signing keys: every public-key algorithm end to end, `kid` lookup, the JWKS endpoint (public
//! members only), and rotation through `keys.dir` on a running server (and on two instances sharing a
//! database) without logging anyone out.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use imhotep::auth::keys::{PrivateKey, Signer};
use imhotep::config::{JwtAlgorithm, KeyEntry, KeyUse, Secret, Settings};
use serde_json::Value;

use crate::helpers::{Backend, SECRET_KEY, TestApp, eventually, spawn_app_with};
use crate::on_both_databases;
use crate::tokens::{access_claims, header_text};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

/// Signs `claims` with a PEM private key, with the header PyJWT writes (`kid` only when given).
pub fn sign_pem(claims: &Value, pem: &str, algorithm: JwtAlgorithm, kid: Option<&str>) -> String {
    let key = PrivateKey::parse(pem).expect("key");
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), format!("{algorithm:?}").into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    header.insert("typ".into(), "JWT".into());
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = Signer::new(&key, algorithm)
        .expect("a fitting key")
        .sign(message.as_bytes());
    format!("{message}.{}", signature.expect("signed"))
}

fn single_key(algorithm: &'static str, pem: String) -> impl FnOnce(&mut Settings) {
    move |settings| {
        settings.simple_jwt.algorithm = head_alg(algorithm);
        settings.simple_jwt.signing_key = Some(Secret::new(pem));
    }
}

fn header(token: &str) -> Value {
    serde_json::from_str(&header_text(token)).expect("header JSON")
}

async fn jwks(app: &TestApp) -> Value {
    let answer = app
        .send(|c| c.get(format!("{}/.well-known/jwks.json", app.address)))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("public, max-age=600"));
    answer.body
}

async fn every_public_key_algorithm_signs_and_verifies(db: Backend) {
    for (algorithm, file) in [
        ("RS256", "rsa.pem"),
        ("PS384", "rsa_traditional.pem"),
        ("ES256", "p256_sec1.pem"),
        ("ES384", "p384_sec1.pem"),
        ("EdDSA", "ed25519.pem"),
    ] {
        let Some(app) = spawn_app_with(db, single_key(algorithm, fixture(file))).await else {
            return;
        };
        let (access, refresh) = app.tokens_for("ada@example.com").await;
        let head = header(&access);
        assert_eq!(head["alg"], algorithm, "{head}");
        let kid = head["kid"].as_str().expect("kid").to_owned();
        assert_eq!(
            header_text(&access),
            format!(r#"{{"alg":"{algorithm}","kid":"{kid}","typ":"JWT"}}"#)
        );
        assert_eq!(app.me(&access).await.status, 200, "{algorithm}");
        app.verify(&refresh).await.assert(200, "{}");
        let rotated = app.refresh(&refresh).await;
        assert_eq!(rotated.status, 200, "{algorithm}: {}", rotated.text);
        assert_eq!(header(rotated.body["access"].as_str().unwrap())["kid"], kid.as_str());
        let published = jwks(&app).await;
        assert_eq!(published["keys"][0]["kid"], kid.as_str(), "{published}");
        assert_eq!(published["keys"][0]["alg"], algorithm, "{published}");

        // SimpleJWT mints without kid: the single key of the algorithm checks it.
        let kidless = sign_pem(&access_claims(1), &fixture(file), head_alg(algorithm), None);
        assert_eq!(app.me(&kidless).await.status, 200, "{algorithm} without kid");
        // The same claims under another key, an unknown kid, or HS256 with SECRET_KEY are refused.
        let other = match algorithm {
            "EdDSA" => fixture("ed25519_b.pem"),
            "ES256" | "ES384" => PrivateKey::generate(head_alg(algorithm), 0).unwrap().to_pem().unwrap(),
            _ => fixture("rsa2.pem"),
        };
        let forged = sign_pem(&access_claims(1), &other, head_alg(algorithm), Some(&kid));
        app.verify(&forged).await.assert(401, INVALID);
        let unknown = sign_pem(&access_claims(1), &fixture(file), head_alg(algorithm), Some("nope"));
        app.verify(&unknown).await.assert(401, INVALID);
        let hmac = crate::tokens::sign_with(&access_claims(1), SECRET_KEY);
        app.verify(&hmac).await.assert(401, INVALID);
    }
}

const INVALID: &str = r#"{"detail":"Token is invalid","code":"token_not_valid"}"#;

fn head_alg(name: &str) -> JwtAlgorithm {
    name.parse().expect("algorithm")
}

async fn the_jwks_holds_public_members_only(db: Backend) {
    let Some(app) = spawn_app_with(db, |settings| {
        settings.keys.list = vec![
            entry("ed", "EdDSA", KeyUse::Sign, "ed25519.pem"),
            entry("rsa", "RS256", KeyUse::Verify, "rsa.pem"),
            entry("p256", "ES256", KeyUse::Verify, "p256.pem"),
            entry("p384", "ES384", KeyUse::Verify, "p384_sec1.pem"),
            KeyEntry {
                kid: "legacy".into(),
                algorithm: JwtAlgorithm::HS256,
                key_use: KeyUse::Verify,
                signing_key: None,
                verifying_key: None,
            },
        ];
    })
    .await
    else {
        return;
    };
    let set = jwks(&app).await;
    let keys = set["keys"].as_array().expect("keys");
    assert_eq!(set.as_object().unwrap().len(), 1, "{set}");
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["ed", "rsa", "p256", "p384"], "HMAC keys are never published");
    for key in keys {
        let members: Vec<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
        let (expected, sizes): (&[&str], &[(&str, usize)]) = match key["kty"].as_str().unwrap() {
            "RSA" => (&["kid", "use", "alg", "e", "kty", "n"], &[("n", 256), ("e", 3)]),
            "EC" if key["crv"] == "P-256" => (&["kid", "use", "alg", "crv", "kty", "x", "y"], &[("x", 32), ("y", 32)]),
            "EC" => (&["kid", "use", "alg", "crv", "kty", "x", "y"], &[("x", 48), ("y", 48)]),
            "OKP" => (&["kid", "use", "alg", "crv", "kty", "x"], &[("x", 32)]),
            other => panic!("unexpected kty {other}"),
        };
        assert_eq!(members, expected, "{key}");
        assert_eq!(key["use"], "sig");
        for (member, size) in sizes {
            let bytes = URL_SAFE_NO_PAD
                .decode(key[member].as_str().unwrap())
                .expect("base64url");
            assert_eq!(bytes.len(), *size, "{member} of {key}");
        }
    }
    // The published members are exactly the public keys of the configured files.
    for (kid, public) in [
        ("ed", "ed25519.pub.pem"),
        ("rsa", "rsa.pub.pem"),
        ("p256", "p256.pub.pem"),
        ("p384", "p384.pub.pem"),
    ] {
        let members = imhotep::auth::keys::PublicKey::parse(&fixture(public))
            .unwrap()
            .jwk_members();
        let key = keys.iter().find(|k| k["kid"] == kid).unwrap();
        for (name, value) in members {
            assert_eq!(&key[&name], &value, "{kid}.{name}");
        }
    }
    let text = set.to_string();
    assert!(!text.contains(SECRET_KEY) && !text.contains(&URL_SAFE_NO_PAD.encode(SECRET_KEY)));

    // An old HS256 token (no kid, SECRET_KEY) still verifies through the `legacy` key.
    let (access, _) = app.tokens_for("ada@example.com").await;
    assert_eq!(header(&access)["kid"], "ed");
    let legacy = crate::tokens::sign_with(&access_claims(1), SECRET_KEY);
    assert_eq!(app.me(&legacy).await.status, 200);
    let by_rsa = sign_pem(&access_claims(1), &fixture("rsa.pem"), JwtAlgorithm::RS256, Some("rsa"));
    assert_eq!(app.me(&by_rsa).await.status, 200);
    let other = app
        .send(|c| c.post(format!("{}/.well-known/jwks.json", app.address)))
        .await;
    assert_eq!(other.status, 405);
}

fn entry(kid: &str, algorithm: &str, key_use: KeyUse, file: &str) -> KeyEntry {
    KeyEntry {
        kid: kid.into(),
        algorithm: head_alg(algorithm),
        key_use,
        signing_key: Some(Secret::new(format!("file:{FIXTURES}/{file}"))),
        verifying_key: None,
    }
}

async fn kids(app: &TestApp) -> Vec<String> {
    kids_at(app, &app.address).await
}

/// The `kid`s of the JWKS of the server at `address`, asked with `app`'s client.
async fn kids_at(app: &TestApp, address: &str) -> Vec<String> {
    let answer = app.send(|c| c.get(format!("{address}/.well-known/jwks.json"))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn put(dir: &Path, name: &str, fixture_name: &str) {
    // Written aside and renamed in, as an operator's deploy tool would: a reload never sees half a file.
    let staging = dir.join(format!(".{name}.tmp"));
    std::fs::write(&staging, fixture(fixture_name)).unwrap();
    std::fs::rename(staging, dir.join(name)).unwrap();
}

async fn rotating_the_signing_key_logs_nobody_out(db: Backend) {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "old.sign.pem", "ed25519.pem");
    let path = dir.path().to_owned();
    let Some(app) = spawn_app_with(db, move |settings| {
        settings.keys.dir = Some(path);
        settings.keys.reload_interval = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let (access, refresh) = app.tokens_for("ada@example.com").await;
    assert_eq!(header(&access)["kid"], "old");

    // 1. The new key is published as verify-only; the old one still signs.
    put(dir.path(), "new.verify.pem", "rsa.pem");
    eventually("the new key appears in the JWKS", || async {
        kids(&app).await == ["new", "old"]
    })
    .await;
    let login = app.login("ada@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(header(login.body["access"].as_str().unwrap())["kid"], "old");

    // 2. The new key signs; the old one only verifies.
    std::fs::rename(dir.path().join("new.verify.pem"), dir.path().join("new.sign.pem")).unwrap();
    std::fs::rename(dir.path().join("old.sign.pem"), dir.path().join("old.verify.pem")).unwrap();
    eventually("logins are signed by the new key", || async {
        let login = app.login("ada@example.com", crate::helpers::PASSWORD).await;
        header(login.body["access"].as_str().unwrap())["kid"] == "new"
    })
    .await;
    assert_eq!(app.me(&access).await.status, 200, "the old access token still works");
    let refreshed = app.refresh(&refresh).await;
    assert_eq!(
        refreshed.status, 200,
        "the old refresh token still works: {}",
        refreshed.text
    );
    let (access2, refresh2) = (
        refreshed.body["access"].as_str().unwrap().to_owned(),
        refreshed.body["refresh"].as_str().unwrap().to_owned(),
    );
    assert_eq!(header(&access2)["kid"], "new");
    assert_eq!(header(&refresh2)["kid"], "new");

    // 3. After the refresh lifetime the old key goes: its tokens are refused, the new ones live on.
    std::fs::remove_file(dir.path().join("old.verify.pem")).unwrap();
    eventually("the old key leaves the JWKS", || async { kids(&app).await == ["new"] }).await;
    app.verify(&access).await.assert(401, INVALID);
    assert_eq!(app.me(&access2).await.status, 200);
}

async fn a_broken_directory_keeps_the_current_keys(db: Backend) {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "a.sign.pem", "p256.pem");
    let path = dir.path().to_owned();
    let Some(app) = spawn_app_with(db, move |settings| {
        settings.keys.dir = Some(path);
        settings.keys.reload_interval = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let (access, _) = app.tokens_for("ada@example.com").await;
    // Two signing keys (a rotation half done): refused, the current ring stays.
    put(dir.path(), "b.sign.pem", "ed25519.pem");
    put(dir.path(), "c.verify.pem", "rsa.pub.pem");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(kids(&app).await, ["a"]);
    assert_eq!(app.me(&access).await.status, 200);
    std::fs::remove_file(dir.path().join("b.sign.pem")).unwrap();
    eventually("the fixed directory is loaded", || async {
        kids(&app).await == ["a", "c"]
    })
    .await;
}

async fn two_instances_on_one_database_rotate_without_refusing_each_others_tokens(db: Backend) {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "old.sign.pem", "ed25519.pem");
    let with_dir = |settings: &mut Settings, path: &Path| {
        settings.keys.dir = Some(path.to_owned());
        settings.keys.reload_interval = Duration::from_secs(1);
    };
    let path = dir.path().to_owned();
    let Some(a) = spawn_app_with(db, |settings| with_dir(settings, &path)).await else {
        return;
    };
    let mut settings = crate::helpers::test_settings(&a.database_url, a.mail.port);
    with_dir(&mut settings, dir.path());
    let (b_address, _b_stop) = crate::helpers::serve(settings).await;
    let b_me = |token: String| {
        let client = a.client.clone();
        let url = format!("{b_address}/api/auth/users/me/");
        async move { client.get(url).bearer_auth(token).send().await.expect("sent").status() }
    };
    let (access_old, _) = a.tokens_for("ada@example.com").await;
    assert_eq!(b_me(access_old.clone()).await, 200);

    // The new key is added as verify-only, then made the signer; instance A picks each step up first or
    // last, and either way B accepts what A signs.
    put(dir.path(), "new.verify.pem", "p256.pem");
    eventually("both instances publish the new key", || async {
        kids(&a).await == ["new", "old"] && kids_at(&a, &b_address).await == ["new", "old"]
    })
    .await;
    std::fs::rename(dir.path().join("new.verify.pem"), dir.path().join("new.sign.pem")).unwrap();
    std::fs::rename(dir.path().join("old.sign.pem"), dir.path().join("old.verify.pem")).unwrap();
    eventually("A signs with the new key", || async {
        let login = a.login("ada@example.com", crate::helpers::PASSWORD).await;
        header(login.body["access"].as_str().unwrap())["kid"] == "new"
    })
    .await;
    let login = a.login("ada@example.com", crate::helpers::PASSWORD).await;
    let access_new = login.body["access"].as_str().unwrap().to_owned();
    assert_eq!(b_me(access_new).await, 200, "B verifies A's new tokens");
    assert_eq!(b_me(access_old).await, 200, "B still verifies the old key's tokens");
}

on_both_databases!(
    every_public_key_algorithm_signs_and_verifies,
    the_jwks_holds_public_members_only,
    rotating_the_signing_key_logs_nobody_out,
    a_broken_directory_keeps_the_current_keys,
    two_instances_on_one_database_rotate_without_refusing_each_others_tokens,
);

//! The shipped binary and keys: `keys generate`, start-up refusals that name the setting, `check`
//! masking PEM text, and a key directory re-read on SIGHUP.

use std::time::Duration;

use imhotep::auth::keys::{PrivateKey, PublicKey};
use serde_json::Value;

use crate::binary::{self, Server};
use crate::keys::{FIXTURES, fixture};

#[test]
fn keys_generate_prints_keys_imhotep_reads() {
    for algorithm in ["EdDSA", "ES256", "RS256"] {
        let (ok, output) = binary::run(&["keys", "generate", "--algorithm", algorithm, "--public"], &[]);
        assert!(ok, "{output}");
        let end = output.find("-----END PRIVATE KEY-----").expect("a private key") + 26;
        let private = PrivateKey::parse(&output[..end]).expect("the private key reads back");
        let public = PublicKey::parse(&output[end..]).expect("the public key reads back");
        assert_eq!(private.public(), public, "{algorithm}");
    }
    let (ok, output) = binary::run(&["keys", "generate", "--algorithm", "ES256", "--kid", "2026-12"], &[]);
    assert!(ok, "{output}");
    assert!(
        output.starts_with("[[keys.list]]\nkid = \"2026-12\"\nalgorithm = \"ES256\"\nuse = \"verify\"\nsigning_key = '''\n-----BEGIN PRIVATE KEY-----\n"),
        "{output}"
    );
    let (ok, output) = binary::run(&["keys", "generate", "--algorithm", "HS256"], &[]);
    assert!(!ok && output.contains("HMAC"), "{output}");
    let (ok, output) = binary::run(&["keys", "generate", "--algorithm", "RS257"], &[]);
    assert!(
        !ok && output.contains("\"RS257\" is not supported; use HS256"),
        "{output}"
    );
}

/// The environment of `imhotep check`/`serve` with a fresh SQLite database.
fn env_with<'a>(database_url: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = binary::production(database_url, &[("RUST_LOG", "debug")]);
    env.extend_from_slice(extra);
    env
}

#[test]
fn wrong_key_settings_stop_check_and_serve_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = binary::sqlite_url(&dir, "k.db");
    let rsa = fixture("rsa.pem");
    let public = fixture("rsa.pub.pem");
    let p256 = fixture("p256.pem");
    for (extra, expected) in [
        (
            vec![("IMHOTEP_SIMPLE_JWT__ALGORITHM", "RS256")],
            "simple_jwt.signing_key is not set",
        ),
        (
            vec![
                ("IMHOTEP_SIMPLE_JWT__ALGORITHM", "RS256"),
                ("IMHOTEP_SIMPLE_JWT__SIGNING_KEY", p256.as_str()),
            ],
            "simple_jwt.signing_key is an EC P-256 key, which cannot be used for RS256",
        ),
        (
            vec![
                ("IMHOTEP_SIMPLE_JWT__ALGORITHM", "RS256"),
                ("IMHOTEP_SIMPLE_JWT__SIGNING_KEY", public.as_str()),
            ],
            "simple_jwt.signing_key holds a public key",
        ),
        (
            vec![(
                "IMHOTEP_KEYS__LIST",
                r#"[{"kid": "a", "algorithm": "EdDSA", "use": "verify", "signing_key": "file:/nope.pem"}]"#,
            )],
            "keys.list[0].signing_key: cannot read /nope.pem",
        ),
    ] {
        for command in ["check", "serve"] {
            let (ok, output) = binary::run(&[command], &env_with(&url, &extra));
            assert!(!ok, "{command} accepted {extra:?}:\n{output}");
            assert!(output.contains(expected), "{command}: {expected:?} not in:\n{output}");
            assert!(
                !output.contains("MII") && !output.contains("MIG"),
                "key text in:\n{output}"
            );
        }
    }
    // A good key: `check` passes and shows the key masked.
    let extra = [
        ("IMHOTEP_SIMPLE_JWT__ALGORITHM", "RS256"),
        ("IMHOTEP_SIMPLE_JWT__SIGNING_KEY", rsa.as_str()),
    ];
    let (ok, output) = binary::run(&["check"], &env_with(&url, &extra));
    assert!(ok, "{output}");
    for line in rsa.lines().filter(|line| !line.starts_with("-----")) {
        assert!(!output.contains(line), "check shows the private key:\n{output}");
    }
    assert!(output.contains("\"signing_key\": \"********\""), "{output}");
    assert!(
        output.contains("jwks") && output.contains("/.well-known/jwks.json"),
        "{output}"
    );
    let kid = imhotep::auth::keys::PublicKey::parse(&public).unwrap().thumbprint();
    assert!(
        output.contains(&format!("JWT keys (kid:use:algorithm): {kid}:sign:RS256")),
        "{output}"
    );
}

async fn kids(server: &Server) -> Vec<String> {
    let body: Value = reqwest::get(format!("{}/.well-known/jwks.json", server.address))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_key_directory_and_logs_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::write(keys.join("one.sign.pem"), fixture("ed25519.pem")).unwrap();
    let url = binary::sqlite_url(&dir, "k.db");
    let keys_dir = keys.display().to_string();
    let extra = [
        ("IMHOTEP_KEYS__DIR", keys_dir.as_str()),
        ("IMHOTEP_KEYS__RELOAD_INTERVAL", "0s"),
    ];
    let server = Server::start(&env_with(&url, &extra)).await;
    // A SIGHUP as soon as the server says it serves is caught, not the end of the process.
    server.hangup();
    assert_eq!(kids(&server).await, ["one"]);
    std::fs::write(keys.join("two.verify.pem"), fixture("p256.pem")).unwrap();
    server.hangup();
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = kids(&server).await;
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["one", "two"], "SIGHUP did not reload {FIXTURES}");
    // The new key is served as soon as it is swapped in, and the log line follows it: wait for the
    // line, since stopping kills the process.
    for _ in 0..100 {
        if server.lines().iter().any(|line| line.contains("signing keys reloaded")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lines = server.stop();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("signing keys reloaded") && line.contains("two:verify:ES256")),
        "{lines:#?}"
    );
    for pem in [fixture("ed25519.pem"), fixture("p256.pem")] {
        for part in pem.lines().filter(|line| !line.starts_with("-----")) {
            assert!(lines.iter().all(|line| !line.contains(part)), "key text in the log");
        }
    }
}

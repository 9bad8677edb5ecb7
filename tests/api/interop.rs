//! Interop with the Python stack, proven with its own code (tests/interop/simplejwt_keys.py): a
//! SimpleJWT RS256 deployment and imhotep accept each other's tokens with the same key files, and
//! PyJWT's `PyJWKClient` verifies imhotep's tokens from the JWKS for every public-key algorithm, and
//! `cryptography` reads the keys `imhotep keys generate` prints.
//!
//! Python comes from `INTEROP_PYTHON`, else the reference server's venv
//! (`~/.cache/reference-djoser-venv`, see ../shared/reference-djoser/run.sh), else a venv made under
//! the target directory from tests/interop/requirements.txt (needs python3 and PyPI, as CI has).

use std::path::PathBuf;
use std::process::Command;

use imhotep::config::{Secret, Settings};

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app_with};
use crate::keys::{FIXTURES, fixture};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/simplejwt_keys.py");
const REQUIREMENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/requirements.txt");

fn has_the_stack(python: &PathBuf) -> bool {
    Command::new(python)
        .args(["-c", "import rest_framework_simplejwt, jwt, cryptography, django"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// A Python with Django, SimpleJWT, PyJWT and cryptography, made if need be.
fn python() -> PathBuf {
    if let Ok(python) = std::env::var("INTEROP_PYTHON") {
        return python.into();
    }
    let reference = std::env::var("REF_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/reference-djoser-venv")
        })
        .join("bin/python");
    if has_the_stack(&reference) {
        return reference;
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop-venv");
    let python = venv.join("bin/python");
    if !has_the_stack(&python) {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "python3 -m venv {} failed",
            venv.display()
        );
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r", REQUIREMENTS])
            .status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "pip install -r {REQUIREMENTS} failed"
        );
    }
    python
}

/// Runs the script off the runtime (the servers answer it on the runtime's workers).
async fn run_script(args: Vec<String>) -> String {
    let output = tokio::task::spawn_blocking(move || Command::new(python()).arg(SCRIPT).args(&args).output())
        .await
        .expect("join")
        .expect("python runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "simplejwt_keys.py failed:\n{text}");
    text
}

fn single_key(algorithm: &str, file: &str) -> impl FnOnce(&mut Settings) {
    let (algorithm, pem) = (algorithm.parse().expect("a known algorithm"), fixture(file));
    move |settings| {
        settings.simple_jwt.algorithm = algorithm;
        settings.simple_jwt.signing_key = Some(Secret::new(pem));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simplejwt_and_imhotep_accept_each_others_rs256_tokens_and_pyjwt_reads_the_jwks() {
    let Some(app) = spawn_app_with(Backend::Sqlite, single_key("RS256", "rsa.pem")).await else {
        return;
    };
    app.active_user("ada@example.com").await;
    let output = run_script(vec![
        "simplejwt".into(),
        app.address.clone(),
        "ada@example.com".into(),
        PASSWORD.into(),
        "RS256".into(),
        format!("{FIXTURES}/rsa.pem"),
        format!("{FIXTURES}/rsa.pub.pem"),
    ])
    .await;
    assert!(output.contains("ok imhotep accepts SimpleJWT RS256 tokens"), "{output}");

    let mut apps: Vec<TestApp> = Vec::new();
    let mut args = vec!["jwks".to_owned()];
    for (algorithm, file) in [
        ("RS256", "rsa.pem"),
        ("PS256", "rsa.pem"),
        ("ES256", "p256.pem"),
        ("ES384", "p384_sec1.pem"),
        ("EdDSA", "ed25519.pem"),
    ] {
        let Some(app) = spawn_app_with(Backend::Sqlite, single_key(algorithm, file)).await else {
            return;
        };
        let (access, _) = app.tokens_for("ada@example.com").await;
        args.extend([app.address.clone(), access]);
        apps.push(app);
    }
    let output = run_script(args).await;
    for algorithm in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        assert!(
            output.contains(&format!("ok PyJWKClient verifies an imhotep {algorithm} token")),
            "{output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reads_the_keys_imhotep_generates() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["load".to_owned()];
    for algorithm in ["EdDSA", "ES256", "ES384", "RS256"] {
        let (ok, pem) = crate::binary::run(&["keys", "generate", "--algorithm", algorithm], &[]);
        assert!(ok, "{pem}");
        let path = dir.path().join(format!("{algorithm}.pem"));
        std::fs::write(&path, pem).unwrap();
        args.push(path.display().to_string());
    }
    let output = run_script(args).await;
    assert_eq!(output.matches("ok cryptography reads").count(), 4, "{output}");
}

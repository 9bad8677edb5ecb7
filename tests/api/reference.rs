//! The reference Django + Djoser + SimpleJWT server (`../shared/reference-djoser`) for interoperability
//! tests: its `manage.py` commands, and the server itself on a free port, on a database of the test's
//! choosing. The first use builds its virtualenv from PyPI (`run.sh` does it, about 15 s).

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// `../shared/reference-djoser`, beside the repository as in CI and on developers' machines.
pub fn directory() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference-djoser");
    assert!(
        dir.join("run.sh").exists(),
        "the reference server is missing at {}",
        dir.display()
    );
    dir
}

/// `run.sh` with `env` added to the inherited environment.
fn run_sh(args: &[&str], env: &[(&str, &str)]) -> Command {
    let dir = directory();
    let mut command = Command::new("bash");
    command
        .arg(dir.join("run.sh"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(&dir)
        .stdin(Stdio::null());
    command
}

/// Runs `manage.py <args>` in the reference's venv and settings; panics with its output on failure.
pub fn manage(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut full = vec!["manage"];
    full.extend_from_slice(args);
    let output = run_sh(&full, env).output().expect("run.sh manage runs");
    assert!(
        output.status.success(),
        "manage.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs Python `code` with Django set up (`manage.py shell -c`) and returns what it printed.
pub fn python(code: &str, env: &[(&str, &str)]) -> String {
    String::from_utf8(manage(&["shell", "-c", code], env).stdout).expect("utf-8 output")
}

/// A running reference server (gunicorn), killed when dropped.
pub struct ReferenceServer {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub address: String,
}

impl ReferenceServer {
    /// Migrates and serves on a free port with `env` (e.g. `SQLITE_PATH` or `DATABASE_URL`, `SECRET_KEY`,
    /// `EMAIL_HOST`/`EMAIL_PORT`); waits up to 120 s for it to answer.
    pub async fn start(env: &[(&str, &str)]) -> ReferenceServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port()
            .to_string();
        let mut env = env.to_vec();
        env.push(("PORT", &port));
        env.push(("WORKERS", "1"));
        let child = run_sh(&[], &env).stdout(Stdio::null()).spawn().expect("run.sh starts");
        let mut server = ReferenceServer {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..1200 {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the reference server exited with {status}");
            }
            let probe = client
                .get(format!("{}/api/auth/users/me/", server.address))
                .send()
                .await;
            if probe.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = server.child.kill();
        panic!("the reference server did not answer on {} within 120 s", server.address);
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        // run.sh execs gunicorn, so this is the master: SIGTERM makes it stop its workers and exit.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

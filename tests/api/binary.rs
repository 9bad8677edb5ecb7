//! The real `imhotep` binary as a child process, with an environment of the test's choosing and its
//! stdout and stderr captured, for what only the shipped binary shows: its log lines and its start-up
//! checks.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::SECRET_KEY;

/// A production environment (`DEBUG=false`, the test key, any free port) on `database_url`, then
/// `extra` (a later variable of the same name wins).
pub fn production<'a>(database_url: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("DEBUG", "false"),
        ("SECRET_KEY", SECRET_KEY),
        ("DATABASE_URL", database_url),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        // Production refuses the console backend; SMTP does not connect before the first message.
        ("EMAIL_BACKEND", "smtp"),
    ];
    env.extend_from_slice(extra);
    env
}

/// The URL of a SQLite database `name` in `dir`, created on first use.
pub fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join(name).display())
}

/// A running `imhotep serve`, killed when dropped.
pub struct Server {
    child: Child,
    readers: Vec<JoinHandle<()>>,
    output: Arc<Mutex<Vec<String>>>,
    /// `http://127.0.0.1:<port>`, from its "imhotep is serving" log line.
    pub address: String,
}

/// The binary with exactly `env` as its environment, run from the crate root (where `config/` is);
/// unless `env` says otherwise, without the separate metrics port (tests run many servers at once).
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_imhotep"));
    command
        .args(args)
        .env_clear()
        .env("IMHOTEP_METRICS__BIND", "")
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    command
}

impl Server {
    /// Starts `imhotep serve` (JSON logs expected: `DEBUG=false` or `IMHOTEP_LOG__FORMAT=json`) and waits
    /// up to 30 s for it to log the address it serves on.
    pub async fn start(env: &[(&str, &str)]) -> Server {
        let mut child = command(&["serve"], env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the imhotep binary starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().map(|pipe| collect(pipe, output.clone()));
        let stderr = child.stderr.take().map(|pipe| collect(pipe, output.clone()));
        let mut server = Server {
            child,
            readers: stdout.into_iter().chain(stderr).collect(),
            output,
            address: String::new(),
        };
        for _ in 0..300 {
            if let Some(address) = server.lines().iter().find_map(|line| serving_address(line)) {
                server.address = format!("http://{address}");
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("imhotep exited with {status}:\n{}", server.lines().join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("imhotep did not start within 30 s:\n{}", server.lines().join("\n"));
    }

    /// Every line printed so far, stdout and stderr interleaved.
    pub fn lines(&self) -> Vec<String> {
        self.output.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP (the key directory is re-read).
    pub fn hangup(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a valid signal number only sends the signal to our own child.
        unsafe {
            libc::kill(pid, libc::SIGHUP);
        }
    }

    /// Stops the server and returns everything it printed, to the last byte.
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.lines()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion: whether it succeeded, and its stdout and stderr.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = command(args, env).output().expect("the imhotep binary runs");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Runs `imhotep serve`, which must exit within 30 s: whether it succeeded, and its output.
pub fn serve_to_exit(env: &[(&str, &str)]) -> (bool, String) {
    let mut child = command(&["serve"], env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the imhotep binary starts");
    let started = Instant::now();
    while child.try_wait().expect("the child's status").is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let output = child.wait_with_output().expect("its output");
            panic!("serve kept running:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("its output");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn collect(pipe: impl Read + Send + 'static, output: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            output.lock().unwrap_or_else(PoisonError::into_inner).push(line);
        }
    })
}

/// The `address` field of the JSON "imhotep is serving" line.
fn serving_address(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line).ok()?;
    let fields = &event["fields"];
    (fields["message"] == "imhotep is serving").then(|| fields["address"].as_str().map(str::to_owned))?
}

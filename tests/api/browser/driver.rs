//! A headless Chromium driven through `chromedriver` (WebDriver) with `fantoccini`: found on the
//! machine or skipped loudly (failed with `REQUIRE_BROWSER=1`), one browser per test with its
//! own profile in the test's temp dir, and a screenshot there when the test fails.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a page, a script or a condition may take: Chromium on a shared two-core machine is slow.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running browser session and what must outlive it.
pub struct Browser {
    pub client: Client,
    /// The test's temp dir (Chromium's profile; the screenshot on failure), kept when the test fails.
    dir: Option<tempfile::TempDir>,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver ends its Chromium with it.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The executable `name` on `PATH`, or the file the variable `override_var` names.
fn find(override_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(override_var) {
        return Some(PathBuf::from(path)).filter(|path| path.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Starts Chromium under chromedriver, or `None` (after a loud message on the test's real stdout,
/// which the test harness does not swallow) when either is missing and `REQUIRE_BROWSER` is not `1`.
pub async fn start(test: &str) -> Option<Browser> {
    let chromium = find("CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find("CHROMEDRIVER", &["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let message = "chromium or chromedriver not found on PATH (apt-get install chromium chromium-driver); \
                       set REQUIRE_BROWSER=1 to fail instead";
        if std::env::var("REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("REQUIRE_BROWSER=1 but {message}");
        }
        let _ = writeln!(std::io::stdout(), "\n*** SKIPPED browser test {test}: {message} ***\n");
        return None;
    };
    let port = free_port();
    let driver = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let browser = Browser {
        client: connect(port, &chromium, dir.path()).await,
        dir: Some(dir),
        driver,
    };
    Some(browser)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").port()
}

/// A WebDriver session, once chromedriver listens.
async fn connect(port: u16, chromium: &Path, profile: &Path) -> Client {
    let capabilities = json!({
        "browserName": "chrome",
        "timeouts": { "script": PATIENCE.as_millis() as u64, "pageLoad": PATIENCE.as_millis() as u64, "implicit": 0 },
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                "--window-size=1024,900",
                format!("--user-data-dir={}", profile.join("profile").display()),
            ],
            // Third-party cookies allowed (Chromium's setting "Allow third-party cookies"), so that
            // SameSite=None is what decides whether a cross-site page's request carries the cookie.
            "prefs": { "profile.cookie_controls_mode": 0, "profile.block_third_party_cookies": false },
        },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let attempt = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => return client,
            Err(error) if Instant::now() > deadline => panic!("no WebDriver session: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

impl Browser {
    /// Runs `scenario`; if it fails, a screenshot and the page's HTML go to the test's temp dir,
    /// which is kept and named in the failure.
    pub async fn run<F, Fut>(mut self, scenario: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let outcome = tokio::spawn(scenario(self.client.clone())).await;
        let Err(failure) = outcome else {
            let _ = self.client.clone().close().await;
            return;
        };
        let temp = self.dir.take().expect("the temp dir");
        let dir = temp.path().to_owned();
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(dir.join("failure.png"), png);
        }
        if let Ok(html) = self.client.source().await {
            let _ = std::fs::write(dir.join("failure.html"), html);
        }
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let _ = self.client.clone().close().await;
        let kept = temp.keep();
        let _ = writeln!(
            std::io::stdout(),
            "browser test failed on {url}: screenshot and page in {}",
            kept.display()
        );
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// The text of the element `css`, once it exists.
pub async fn text(client: &Client, css: &str) -> String {
    let element = client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"));
    element.text().await.expect("element text")
}

/// Waits until the text of `css` satisfies `condition`, and returns it.
pub async fn wait_for_text(client: &Client, css: &str, condition: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let current = text(client, css).await;
        if condition(&current) {
            return current;
        }
        assert!(Instant::now() < deadline, "{css} still reads {current:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Types into the input `css` (cleared first).
pub async fn fill(client: &Client, css: &str, value: &str) {
    let input = client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .expect(css);
    input.clear().await.expect("clear");
    input.send_keys(value).await.expect("type");
}

/// Clicks the element `css`.
pub async fn click(client: &Client, css: &str) {
    let element = client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .expect(css);
    element.click().await.expect("click");
}

/// The cookies the browser would send to `url` (navigating there first: WebDriver lists the
/// cookies of the current page's URL, path included), as `(name, value, http_only)`.
pub async fn cookies_for(client: &Client, url: &str) -> Vec<(String, String, bool)> {
    client.goto(url).await.expect("navigate");
    client
        .get_all_cookies()
        .await
        .expect("cookies")
        .into_iter()
        .map(|cookie| {
            let http_only = cookie.http_only().unwrap_or(false);
            (cookie.name().to_owned(), cookie.value().to_owned(), http_only)
        })
        .collect()
}

/// Runs `body` in the current page as an async function that reads `args` and must call
/// `done(value)`, and returns that value (or `"error ..."` if it throws).
pub async fn run_script(client: &Client, body: &str, args: Vec<Value>) -> Value {
    let script = format!(
        "const done = arguments[arguments.length - 1];\n\
         const args = Array.prototype.slice.call(arguments, 0, -1);\n\
         (async () => {{\n{body}\n}})().catch((error) => done(`error ${{error}}`));"
    );
    client.execute_async(&script, args).await.expect("script runs")
}

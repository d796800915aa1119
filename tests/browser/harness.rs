//! The browser harness: Debian's chromium driven through chromedriver.
//!
//! `run(|harness| async move { ... })` starts chromedriver on a free port, hands the test a
//! [`Harness`] that opens headless chromium sessions ([`Harness::browser`]), and afterwards
//! closes every session and stops chromedriver. When the test panics (or runs past
//! [`TEST_LIMIT`]), every open session is first saved as a PNG in
//! `<cargo target dir>/browser-screenshots/<test-name>-<n>.png`, with chromedriver's log beside
//! them. Every wait is bounded.
//!
//! The programs: `$CHROMEDRIVER`, else `chromedriver` on the `PATH`; `$CHROMIUM`, else
//! `/usr/bin/chromium`, else `chromium` on the `PATH`. Missing ones fail the test with the
//! command that installs them.

use crate::helpers::TestApp;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{Value, json};
use std::fs::File;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Where Debian's package puts chromium.
pub const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";
/// What to run when chromium or chromedriver is missing.
pub const INSTALL_HINT: &str = "apt-get install chromium chromium-driver";
/// The usual bound for waiting on the page.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// A whole browser test, set-up included, must finish within this.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);
/// How long chromedriver may take to answer `/status`.
const DRIVER_START: Duration = Duration::from_secs(15);
/// Bound for the clean-up commands (screenshots, closing sessions).
const CLEANUP: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);

const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
];

/// Runs a browser test: `body` gets the harness; on failure, screenshots of every session.
pub async fn run<F, Fut>(body: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = test_name();
    let harness = Harness::start().await;
    let outcome = tokio::time::timeout(
        TEST_LIMIT,
        AssertUnwindSafe(body(harness.clone())).catch_unwind(),
    )
    .await;
    match outcome {
        Ok(Ok(())) => harness.close_all().await,
        Ok(Err(panic)) => {
            harness.save_evidence(&name).await;
            harness.close_all().await;
            drop(harness);
            // The panic hook has already printed the message.
            std::panic::resume_unwind(panic);
        }
        Err(_) => {
            harness.save_evidence(&name).await;
            harness.close_all().await;
            drop(harness);
            panic!("browser test {name} did not finish within {TEST_LIMIT:?}");
        }
    }
}

/// The test's name, from the thread the test harness runs it on (`module::test` → `module-test`).
fn test_name() -> String {
    let thread = std::thread::current();
    let name = match thread.name() {
        Some(name) if name != "main" => name,
        _ => "browser-test",
    };
    name.replace("::", "-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `<target>/browser-screenshots`, next to the `debug/` folder this test binary runs from.
pub fn screenshot_dir() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        // <target>/debug/deps/browser-<hash>
        let deps = exe.parent()?;
        (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
    });
    from_exe
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("browser-screenshots")
}

/// A program from an environment variable, the usual places, or the `PATH`.
fn find_program(variable: &str, name: &str, usual: &[&str]) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!(
                "${variable} = {} is not an executable",
                path.display()
            ))
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    usual
        .iter()
        .map(PathBuf::from)
        .chain(on_path.into_iter().map(|dir| dir.join(name)))
        .find(|path| is_executable(path))
        .ok_or_else(|| {
            let places: Vec<&str> = usual.iter().copied().chain(["the PATH"]).collect();
            format!("{name} not found (looked in {})", places.join(", "))
        })
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running chromedriver, killed (with the browsers it started) when dropped.
struct Driver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Driver {
    async fn start(program: &Path, dir: &Path) -> Driver {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let mut last_error = String::new();
        // The free port can be taken between finding and using it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let log = dir.join(format!("chromedriver-{port}.log"));
            let out = File::create(&log).expect("chromedriver log file");
            let err = out.try_clone().expect("chromedriver log file");
            let mut child = Command::new(program)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                // Its own process group, so that the browsers it starts can be killed with it.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
            let url = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + DRIVER_START;
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!("chromedriver exited ({status}): {}", read_log(&log));
                    break;
                }
                if let Ok(response) = http.get(format!("{url}/status")).send().await
                    && let Ok(body) = response.json::<Value>().await
                    && body["value"]["ready"] == json!(true)
                {
                    return Driver { child, url, log };
                }
                if Instant::now() > deadline {
                    let driver = Driver { child, url, log };
                    panic!(
                        "chromedriver did not answer {}/status within {DRIVER_START:?}: {}",
                        driver.url,
                        read_log(&driver.log)
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("chromedriver could not start: {last_error}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any chromium it left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// chromedriver and the browser sessions a test opened.
#[derive(Clone)]
pub struct Harness {
    inner: Arc<Inner>,
}

struct Inner {
    chromium: PathBuf,
    sessions: Mutex<Vec<Client>>,
    // Dropped in this order: chromedriver first, then the browser profiles and its log.
    driver: Driver,
    profiles: Mutex<Vec<TempDir>>,
    dir: TempDir,
}

impl Harness {
    /// Starts chromedriver; panics with the install command when chromium or chromedriver is missing.
    pub async fn start() -> Harness {
        let chromedriver = find_program("CHROMEDRIVER", "chromedriver", &[]);
        let chromium = find_program("CHROMIUM", "chromium", &[DEBIAN_CHROMIUM]);
        let (chromedriver, chromium) = match (chromedriver, chromium) {
            (Ok(driver), Ok(chromium)) => (driver, chromium),
            (driver, chromium) => {
                let missing: Vec<String> = [driver.err(), chromium.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                panic!(
                    "the browser tests need chromium and chromedriver: {}.\n\
                     Install them with `{INSTALL_HINT}` (Debian; run as root or with sudo), \
                     or point $CHROMIUM and $CHROMEDRIVER at them.",
                    missing.join("; ")
                );
            }
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let driver = Driver::start(&chromedriver, dir.path()).await;
        Harness {
            inner: Arc::new(Inner {
                chromium,
                sessions: Mutex::new(Vec::new()),
                driver,
                profiles: Mutex::new(Vec::new()),
                dir,
            }),
        }
    }

    /// A new headless chromium session with a fresh profile, pointed at `app`, set up as a
    /// Korean resident's browser (`Accept-Language: ko-KR,ko`).
    pub async fn browser(&self, app: &TestApp) -> Browser {
        self.browser_speaking(app, "ko-KR,ko").await
    }

    /// A new browser session whose `Accept-Language` lists `languages` (`en-US,en`...).
    pub async fn browser_speaking(&self, app: &TestApp, languages: &str) -> Browser {
        // A fresh profile per session, removed with the harness's directory.
        let profile = tempfile::Builder::new()
            .prefix("profile-")
            .tempdir_in(self.inner.dir.path())
            .expect("profile directory");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        self.inner
            .profiles
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(profile);
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 15_000, "script": 10_000, "implicit": 0},
            "goog:chromeOptions": {
                "binary": self.inner.chromium.display().to_string(),
                "args": args,
                // Headless chromium otherwise asks for the machine's language (often English).
                "prefs": {"intl.accept_languages": languages},
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        let mut builder = ClientBuilder::rustls().expect("TLS roots for the WebDriver client");
        let connecting = builder
            .capabilities(capabilities)
            .connect(&self.inner.driver.url);
        let client = match tokio::time::timeout(Duration::from_secs(30), connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "chromium ({}) did not start through chromedriver: {e}\n{}",
                self.inner.chromium.display(),
                read_log(&self.inner.driver.log)
            ),
            Err(_) => panic!(
                "chromium did not start within 30 s\n{}",
                read_log(&self.inner.driver.log)
            ),
        };
        self.lock_sessions().push(client.clone());
        Browser {
            client,
            base: app.address.clone(),
        }
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, Vec<Client>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After a failure: a PNG of every session, and chromedriver's log.
    async fn save_evidence(&self, name: &str) {
        let dir = screenshot_dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("cannot create {}: {e}", dir.display());
            return;
        }
        let sessions = self.lock_sessions().clone();
        for (n, client) in sessions.iter().enumerate() {
            let path = dir.join(format!("{name}-{}.png", n + 1));
            match tokio::time::timeout(CLEANUP, client.screenshot()).await {
                Ok(Ok(png)) => match std::fs::write(&path, png) {
                    Ok(()) => eprintln!("screenshot of browser {}: {}", n + 1, path.display()),
                    Err(e) => eprintln!("cannot write {}: {e}", path.display()),
                },
                Ok(Err(e)) => eprintln!("no screenshot of browser {}: {e}", n + 1),
                Err(_) => eprintln!("no screenshot of browser {}: timed out", n + 1),
            }
        }
        let log = dir.join(format!("{name}-chromedriver.log"));
        if std::fs::copy(&self.inner.driver.log, &log).is_ok() {
            eprintln!("chromedriver log: {}", log.display());
        }
    }

    /// Ends every session (chromium quits); chromedriver stops when the harness is dropped.
    async fn close_all(&self) {
        let sessions = std::mem::take(&mut *self.lock_sessions());
        for client in sessions {
            let _ = tokio::time::timeout(CLEANUP, client.close()).await;
        }
    }
}

/// One browser session: a headless chromium with its own profile (cookies, storage).
pub struct Browser {
    client: Client,
    base: String,
}

impl Browser {
    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates to a path of the server under test and waits for the page to load.
    pub async fn open(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current URL")
            .to_string()
    }

    pub async fn title(&self) -> String {
        self.client.title().await.expect("page title")
    }

    /// The first element matching `css`, waiting up to [`TIMEOUT`] for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css, TIMEOUT).await
    }

    /// The first element matching `css`, waiting up to `timeout` for it to appear.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            let error = match self.client.find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(e) if e.is_invalid_selector() => panic!("invalid selector `{css}`: {e}"),
                // Not there yet, or the page is being replaced: look again.
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "no element `{css}` on {} within {timeout:?}: {error}",
                    self.where_am_i().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether an element matching `css` is there now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(_) => true,
            Err(e) if e.is_no_such_element() => false,
            Err(e) => panic!("looking for `{css}`: {e}"),
        }
    }

    /// Types `text` into the field `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("cannot clear `{css}`: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
        let value = field.prop("value").await.ok().flatten().unwrap_or_default();
        assert_eq!(value, text, "`{css}` holds what was typed");
    }

    /// Chooses the option with `value` in the select `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("cannot select {value:?} in `{css}`: {e}"));
    }

    /// Clicks the element `css` (waiting for it to appear).
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// The rendered (visible) text of the element `css`.
    pub async fn text_of(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("no text of `{css}`: {e}"))
    }

    /// An attribute of the element `css`.
    pub async fn attr_of(&self, css: &str, attribute: &str) -> Option<String> {
        self.find(css)
            .await
            .attr(attribute)
            .await
            .unwrap_or_else(|e| panic!("no attribute {attribute} of `{css}`: {e}"))
    }

    /// Whether the element `css` is displayed.
    pub async fn is_visible(&self, css: &str) -> bool {
        self.find(css)
            .await
            .is_displayed()
            .await
            .unwrap_or_else(|e| panic!("cannot tell whether `{css}` is displayed: {e}"))
    }

    /// Polls until the element `css` exists and its visible text contains `needle`; returns the text.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            // Errors are expected while a page is being replaced (stale or detached nodes).
            let last = match self.client.find(Locator::Css(css)).await {
                Ok(element) => match element.text().await {
                    Ok(text) if text.contains(needle) => return text,
                    Ok(text) => format!("text {text:?}"),
                    Err(e) => format!("error reading its text: {e}"),
                },
                Err(e) if e.is_invalid_selector() => panic!("invalid selector `{css}`: {e}"),
                Err(e) => format!("error finding it: {e}"),
            };
            if Instant::now() >= deadline {
                panic!(
                    "`{css}` did not show {needle:?} within {timeout:?} on {}; last seen: {last}",
                    self.where_am_i().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        match self.client.execute(script, vec![]).await {
            Ok(value) => value,
            Err(e) => panic!(
                "script failed on {}: {e}\n{script}",
                self.where_am_i().await
            ),
        }
    }

    /// Polls until `script` (a function body) returns `true`; `what` says what was awaited.
    pub async fn wait_until(&self, what: &str, script: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            // Errors are expected while a page is being replaced.
            let last = match self.client.execute(script, vec![]).await {
                Ok(Value::Bool(true)) => return,
                Ok(other) => format!("{other}"),
                Err(e) => format!("error: {e}"),
            };
            if Instant::now() >= deadline {
                panic!(
                    "{what}: not within {timeout:?} on {} (last: {last})",
                    self.where_am_i().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves the window as `<target>/browser-screenshots/<name>.png`, for a person to look at.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Polls until the current path ends with `suffix`; returns the path.
    pub async fn wait_for_path(&self, suffix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.client.current_url().await {
                Ok(url) if url.path().ends_with(suffix) => return url.path().to_owned(),
                Ok(url) => url.to_string(),
                Err(e) => format!("(unknown: {e})"),
            };
            if Instant::now() >= deadline {
                panic!("the browser is on {last}, not on …{suffix}, after {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks `css` (a submit button or a link) and waits until the page it loads is there.
    pub async fn submit(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let state = self
                .client
                .execute(
                    "return window.__browserTestMark === true ? 'old' : document.readyState;",
                    vec![],
                )
                .await;
            match state {
                Ok(Value::String(state)) if state == "interactive" || state == "complete" => {
                    return;
                }
                // The old page, a new one still loading, or no document in between.
                _ if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                other => panic!(
                    "clicking `{css}` did not load a new page within {TIMEOUT:?} (last: {other:?}) on {}",
                    self.where_am_i().await
                ),
            }
        }
    }

    /// Sets a marker on the current document: [`Self::still_same_page`] is true until it is reloaded or left.
    pub async fn mark_page(&self) {
        self.client
            .execute("window.__browserTestMark = true;", vec![])
            .await
            .expect("mark the page");
    }

    /// Whether the document marked by [`Self::mark_page`] is still the one shown.
    pub async fn still_same_page(&self) -> bool {
        self.client
            .execute("return window.__browserTestMark === true;", vec![])
            .await
            .expect("read the page mark")
            == json!(true)
    }

    /// The current URL for messages, never panicking.
    async fn where_am_i(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("(unknown page: {e})"),
        }
    }
}

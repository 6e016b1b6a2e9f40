//! Headless Chromium driven through ChromeDriver (Debian's `chromium` and `chromium-driver`),
//! for the browser tests. `infra/install-browser` installs both on first use, as the DynamoDB
//! harness installs DynamoDB Local; each test starts its own driver on a free port, with a
//! fresh profile, and stops it when dropped.
#![allow(dead_code)] // each test binary uses only part of it

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A ChromeDriver process and one session on it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Installs Chromium and ChromeDriver if they are missing, or fails in one line.
fn install() {
    let font = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
    if [CHROMIUM, CHROMEDRIVER, font]
        .iter()
        .all(|p| Path::new(p).exists())
    {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/install-browser");
    let ok = Command::new(&script).status().is_ok_and(|s| s.success());
    assert!(
        ok,
        "the browser tests need Debian's chromium and chromium-driver: {} failed",
        script.display()
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// A fresh headless browser, with its console kept for [`Browser::console`].
    pub async fn start() -> Browser {
        install();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        // The flags keep Chromium off the network it would otherwise call at start, which this
        // machine refuses; the profile is new for every test.
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if start.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigates");
    }

    /// Waits until the CSS `selector` matches, up to 20 s.
    pub async fn wait_for(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("nothing matches {selector}: {e}"))
    }

    /// The attribute `name` of the first element matching `selector`.
    pub async fn attr(&self, selector: &str, name: &str) -> Option<String> {
        let e = self.wait_for(selector).await;
        e.attr(name).await.expect("reads an attribute")
    }

    pub async fn text(&self, selector: &str) -> String {
        self.wait_for(selector).await.text().await.expect("text")
    }

    /// `attr` of every element matching `selector`, in document order.
    pub async fn attrs(&self, selector: &str, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self
            .client
            .find_all(Locator::Css(selector))
            .await
            .expect("finds")
        {
            out.push(e.attr(name).await.expect("attr").unwrap_or_default());
        }
        out
    }

    /// Runs `body` as an async function in the page (its arguments in `arguments`) and returns
    /// what it resolves to: `return await ...` works.
    pub async fn run(&self, body: &str, args: Vec<Value>) -> Value {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             (async (...a) => {{ {body} }})(...Array.from(arguments).slice(0, -1))
               .then(done, e => done({{thrown: String(e && e.stack || e)}}));"
        );
        let v = self
            .client
            .execute_async(&script, args)
            .await
            .expect("the script runs");
        if let Some(t) = v.get("thrown") {
            panic!("the page's script threw: {t}");
        }
        v
    }

    /// Waits until `selector`'s attribute `name` is one of `values`; returns it.
    pub async fn wait_attr(&self, selector: &str, name: &str, values: &[&str]) -> String {
        let start = Instant::now();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(selector)).await {
                if let Ok(Some(v)) = e.attr(name).await {
                    if values.contains(&v.as_str()) {
                        return v;
                    }
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{selector} [{name}] never became one of {values:?}: {:?}",
                self.attrs(selector, name).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The console's entries since the last call: `(level, message)`.
    pub async fn console(&self) -> Vec<(String, String)> {
        let v = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("ChromeDriver gives the browser log");
        v.as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or("").to_owned(),
                    e["message"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    /// Fails on any JavaScript error, CSP violation or failed request logged since the last
    /// check.
    pub async fn assert_no_errors(&self, phase: &str) {
        let errors: Vec<String> = self
            .console()
            .await
            .into_iter()
            .filter(|(level, _)| level == "SEVERE")
            .map(|(_, m)| m)
            .collect();
        assert!(
            errors.is_empty(),
            "{phase}: the console has errors: {errors:#?}"
        );
    }

    /// Saves a PNG of the whole page (the window stretched to it, up to 3,000 pixels) to
    /// `name` under `$GREENLOOP_SCREENSHOTS` (default `target/screenshots`).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let height = self
            .run(
                "window.scrollTo(0, 0); return document.documentElement.scrollHeight;",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(1000)
            .clamp(600, 3000);
        self.client
            .set_window_size(1280, height as u32)
            .await
            .unwrap();
        let path = self.save_screenshot(name).await;
        self.client.set_window_size(1280, 1000).await.unwrap();
        path
    }

    /// Saves a PNG of the window with `selector` scrolled to its top.
    pub async fn screenshot_at(&self, selector: &str, name: &str) -> PathBuf {
        self.run(
            "document.querySelector(a[0]).scrollIntoView({block: 'start'}); return true;",
            vec![json!(selector)],
        )
        .await;
        self.save_screenshot(name).await
    }

    /// Saves a PNG of the window as it is.
    pub async fn save_screenshot(&self, name: &str) -> PathBuf {
        let dir = std::env::var_os("GREENLOOP_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// ChromeDriver's log of the browser console (not part of W3C WebDriver).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

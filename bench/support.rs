//! What the benchmarks share: the release server in its own process, and logging in.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The password of every account the benchmarks create.
pub const PASSWORD: &str = "bench-password";

/// The release server on a free port with a fresh database, bcrypt at its cheapest and no
/// login rate limit (the benchmarks measure serving, not password hashing).
pub struct BenchServer {
    pub child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// `envs` adds or overrides environment variables.
    pub fn start(log_filter: &str, envs: &[(&str, &str)]) -> BenchServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_maintenance"))
            .env("PORT", "0")
            .env("DATABASE_URL", dir.path().join("bench.db"))
            .env("BCRYPT_COST", "4")
            .env("AUTH_RATE_LIMIT_PER_MINUTE", "0")
            .env("LOGIN_RATE_LIMIT_PER_MINUTE", "0")
            .env("REGISTER_RATE_LIMIT_PER_MINUTE", "0")
            // Every simulated client connects from this one address.
            .env("MAX_CONNECTIONS_PER_ADDRESS", "0")
            .env("REQUEST_RATE_LIMIT_PER_MINUTE", "0")
            .env("SUPER_ADMIN_EMAIL", "root@example.com")
            .env("SUPER_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", log_filter)
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("release binary starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let port = loop {
            let line = lines.next().expect("a listening line").expect("log line");
            if let Some(address) = line.split("listening address=").nth(1) {
                break address
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim().parse().ok())
                    .expect("port");
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        BenchServer {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's resident memory in KiB, from `/proc/<pid>/status` (0 where there is none).
    #[allow(dead_code)] // not every benchmark reports memory
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An access token for `email`, through the original's login form.
pub async fn token(client: &reqwest::Client, base: &str, email: &str) -> String {
    let body: Value = client
        .post(format!("{base}/api/auth/login"))
        .form(&[("username", email), ("password", PASSWORD)])
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Registers a resident with the benchmarks' password; returns the account's id.
pub async fn register(client: &reqwest::Client, base: &str, email: &str) -> i64 {
    let user: Value = client
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("user");
    user["id"].as_i64().expect("id")
}

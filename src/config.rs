//! Configuration from environment variables (optionally a `.env` file).
//!
//! Every variable has a default that works with nothing configured, except the
//! secrets, which have none. All problems are collected and reported together.

use crate::client_address::TrustedProxies;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A secret value whose Debug output is masked.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// A setting that is on or off (`on`/`off`, `true`/`false`, `1`/`0`, `yes`/`no`).
#[derive(Debug, Clone, Copy)]
struct Switch(bool);

impl std::str::FromStr for Switch {
    type Err = ();
    fn from_str(raw: &str) -> Result<Switch, ()> {
        match raw.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => Ok(Switch(true)),
            "off" | "false" | "0" | "no" => Ok(Switch(false)),
            _ => Err(()),
        }
    }
}

/// The super admin account to ensure at start-up.
#[derive(Debug, Clone)]
pub struct SuperAdminSeed {
    pub email: String,
    pub password: Secret,
}

/// The OpenAI-compatible LLM that refines classifications; absent when no key is set.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    pub api_key: Secret,
    pub base_url: String,
    pub model: String,
    pub timeout_secs: u64,
    /// Requests per minute the provider allows.
    pub requests_per_minute: u32,
    /// Requests classified in one call.
    pub batch: usize,
    /// Calls in flight at once.
    pub concurrency: usize,
}

/// The super admin the original system created when `SUPER_ADMIN_EMAIL` was unset.
pub const LEGACY_SUPER_ADMIN_EMAIL: &str = "admin@system.local";

/// The password the original system gave its super admin when `SUPER_ADMIN_PASSWORD` was
/// unset; it is published with its source, so it is refused here.
pub const LEGACY_DEFAULT_PASSWORD: &str = "qwer1234";

/// The `GROQ_API_KEY` line of the original system's `.env.example`, which is not a key.
const PLACEHOLDER_GROQ_API_KEY: &str = "your-groq-api-key-here";

/// SHA-256 digests of every `SECRET_KEY` value published with the original system (its source,
/// example `.env` files and deployment guides): anyone can sign tokens and photo links with
/// them, so an `.env` or a guide's value carried over is refused. Digests, so this file does
/// not spread the keys further.
const PUBLISHED_SECRET_KEY_SHA256: [&str; 8] = [
    "c633e2f5b474c6282fb72e482a4856f22084af1212cf1ce41987c865ba22c428",
    "d403932dc180c9b29574d3f3f02bc73b694fd88acd656d18f1e9c6900b70b1e2",
    "1faca614370143ff5efc56233876ead97b3ab55dd5fb6163c3b1db83b7daebd6",
    "11f4c9da21b106235f26d4ec967aad6b6b384a882c294c4a22c18147e2f4d737",
    "57f8f923ca9bf25bfe975091f1a32d55afc8990b5890b14c1ea31c28b0b9f52a",
    "9c0d89261de741ed87d593f548f996e1df6cb5019e888ec5ea3bf52b751f972f",
    "a18c214a8c9454c502b0ece4a502c33e308a21fbf81a781bdc569cbb7e4272b2",
    "125655a80fe1e5085e828b37590e4c43e24846db5acdbe7833e1535b7b6de724",
];

fn is_published_secret_key(key: &str) -> bool {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.trim().as_bytes());
    PUBLISHED_SECRET_KEY_SHA256.contains(&hex::encode(digest.as_ref()).as_str())
}

/// The name pages give the building when `SITE_NAME` is unset.
pub const DEFAULT_SITE_NAME: &str = "건물 유지보수";
/// The landing page's emergency line when `EMERGENCY_TEXT` is unset.
pub const DEFAULT_EMERGENCY_TEXT: &str =
    "가스 냄새·화재·갇힘 등 위급 상황은 즉시 119 또는 관리사무소로 전화하세요";

/// Groq's OpenAI-compatible endpoint, the original system's provider.
pub const DEFAULT_LLM_BASE_URL: &str = "https://api.groq.com/openai/v1";

/// Everything the server needs to know, read once at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub database_path: PathBuf,
    pub secret_key: Option<Secret>,
    pub access_token_expire_minutes: i64,
    pub super_admin: Option<SuperAdminSeed>,
    pub allowed_origins: Vec<String>,
    /// bcrypt work factor; 12 in production, lowered only by tests.
    pub bcrypt_cost: u32,
    /// Login attempts (successful or not) allowed per client address (IPv6: per /64) per
    /// minute, as the original limited them; 0 turns the limit off.
    pub login_rate_per_minute: u32,
    /// Registrations allowed per client address (IPv6: per /64) per minute; 0 turns it off.
    pub register_rate_per_minute: u32,
    /// Password changes and failed logins allowed per client address (IPv6: per /64) per
    /// minute; 0 turns the limit off.
    pub auth_rate_per_minute: u32,
    /// Failed logins allowed per account per minute, from any address; 0 turns the limit off.
    pub login_failures_per_account: u32,
    /// Reverse proxies whose X-Forwarded-For / Forwarded headers name the real client.
    pub trusted_proxies: TrustedProxies,
    /// Open connections allowed per client address (IPv6: per /64); 0 turns the cap off.
    pub max_connections_per_address: usize,
    /// Longest silence allowed while a request body is arriving, in seconds.
    pub body_read_timeout_secs: u64,
    /// HTTP worker threads; 0 means one per core.
    pub http_workers: usize,
    pub llm: Option<LlmConfig>,
    /// Room in the in-memory job channel (jobs beyond it wait in the database).
    pub queue_capacity: usize,
    /// How often jobs waiting in the database are fed to the workers, in milliseconds.
    pub queue_sweep_ms: u64,
    /// New requests allowed per account per minute; 0 turns the limit off.
    pub submission_rate_per_minute: u32,
    pub live: LiveConfig,
    /// Mark cookies Secure even when the request does not look like HTTPS.
    pub cookie_secure: bool,
    /// How long a page login lasts.
    pub session_hours: i64,
    /// The largest photo accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Rows a list returns when the client sends no `limit`.
    pub list_default_limit: u32,
    /// The scheme, host and any path prefix clients reach the server at (`https://maint.example.com`),
    /// without a trailing slash; absolute links are built on it. None: each request's own scheme and host.
    pub public_url: Option<String>,
    /// How long a signed photo link in `image_url` stays valid, in minutes.
    pub image_url_ttl_minutes: i64,
    /// The building's name, in the title and header of every page.
    pub site_name: String,
    /// The landing page's line for what must not wait for a form (gas, fire, someone trapped).
    pub emergency_text: String,
    /// Requests that take at least this long are logged at INFO (the others at DEBUG);
    /// 0 logs every request at INFO.
    pub slow_request_ms: u64,
    /// The SMTP server mail goes through (`SMTP_URL`, `SMTP_FROM`); None: no mail is sent.
    pub smtp: Option<crate::mail::SmtpSettings>,
    /// Where `/metrics` is served (`METRICS`, `METRICS_ADDR`).
    pub metrics: MetricsEndpoint,
}

/// Where the Prometheus metrics are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsEndpoint {
    /// `METRICS=off`: nowhere.
    Off,
    /// `/metrics` on the main listener, answered only to this machine (see `telemetry::metrics`).
    MainPortLocalOnly,
    /// `METRICS_ADDR`: a listener of its own, and never on the main port.
    Own(std::net::SocketAddr),
}

/// Live updates over WebSocket.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub ping_interval_secs: u64,
    /// A socket that has not answered for this long is closed.
    pub pong_timeout_secs: u64,
    /// Events a socket may fall behind before it is closed (it can resume with `since`).
    pub buffer: usize,
    /// A socket that cannot take a frame for this long is closed.
    pub send_timeout_secs: u64,
    /// Events older than this are pruned; a client resuming from before gets `resync`.
    pub retention_days: u64,
}

/// One variable that could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub variable: &'static str,
    pub message: String,
}

/// Every problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|p| p.variable).collect();
        write!(f, "invalid configuration ({}):", names.join(", "))?;
        for p in &self.0 {
            write!(f, "\n  {}: {}", p.variable, p.message)?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can supply their own variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut reader = Reader {
            lookup: &lookup,
            problems: Vec::new(),
        };
        let host = reader.parsed(
            "HOST",
            "127.0.0.1".parse().ok(),
            "an IP address such as 127.0.0.1 or 0.0.0.0",
        );
        let port = reader.parsed("PORT", Some(8000), "a port number from 0 to 65535");
        let database_path = reader.database_path();
        let secret_key = reader.secret_key();
        let access_token_expire_minutes =
            reader.ranged("ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1, 60 * 24 * 365);
        let super_admin = reader.super_admin();
        let allowed_origins = reader.origins();
        let bcrypt_cost = reader.ranged("BCRYPT_COST", 12, 4, 31) as u32;
        let login_rate_per_minute =
            reader.ranged("LOGIN_RATE_LIMIT_PER_MINUTE", 10, 0, 1_000_000) as u32;
        let register_rate_per_minute =
            reader.ranged("REGISTER_RATE_LIMIT_PER_MINUTE", 5, 0, 1_000_000) as u32;
        let auth_rate_per_minute =
            reader.ranged("AUTH_RATE_LIMIT_PER_MINUTE", 20, 0, 1_000_000) as u32;
        let login_failures_per_account =
            reader.ranged("LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE", 10, 0, 1_000_000) as u32;
        let trusted_proxies = reader.trusted_proxies();
        let max_connections_per_address =
            reader.ranged("MAX_CONNECTIONS_PER_ADDRESS", 256, 0, 1_000_000) as usize;
        let body_read_timeout_secs = reader.ranged("BODY_READ_TIMEOUT_SECS", 10, 1, 3600) as u64;
        let http_workers = reader.ranged("HTTP_WORKERS", 0, 0, 256) as usize;
        let llm = reader.llm();
        let queue_capacity = reader.ranged("QUEUE_CAPACITY", 1024, 1, 1_000_000) as usize;
        let queue_sweep_ms = reader.ranged("QUEUE_SWEEP_MS", 1000, 10, 3_600_000) as u64;
        let submission_rate_per_minute =
            reader.ranged("REQUEST_RATE_LIMIT_PER_MINUTE", 30, 0, 1_000_000) as u32;
        let cookie_secure = reader
            .parsed("COOKIE_SECURE", Some(false), "true or false")
            .unwrap_or(false);
        let session_hours = reader.ranged("SESSION_HOURS", 12, 1, 24 * 365);
        let max_upload_bytes = reader.ranged("MAX_UPLOAD_MB", 10, 1, 100) as usize * 1024 * 1024;
        let list_default_limit = reader.ranged(
            "LIST_DEFAULT_LIMIT",
            i64::from(crate::requests::Page::MAX_LIMIT),
            1,
            i64::from(crate::requests::Page::MAX_DEFAULT_LIMIT),
        ) as u32;
        let public_url = reader.public_url();
        let image_url_ttl_minutes = reader.ranged("IMAGE_URL_TTL_MINUTES", 60, 1, 7 * 24 * 60);
        let site_name = reader.page_text("SITE_NAME", DEFAULT_SITE_NAME, 60);
        let emergency_text = reader.page_text("EMERGENCY_TEXT", DEFAULT_EMERGENCY_TEXT, 300);
        let slow_request_ms = reader.ranged("SLOW_REQUEST_MS", 1000, 0, 3_600_000) as u64;
        let smtp = reader.smtp();
        let metrics = reader.metrics();
        if smtp.is_some() && public_url.is_none() {
            // A mailed link built from the request's Host or X-Forwarded-Host would let anyone
            // have the office mail a real reset token pointing at their own site.
            reader.problem(
                "PUBLIC_URL",
                "SMTP_URL is set, so reset links are mailed: set PUBLIC_URL to the address \
                 residents open (e.g. PUBLIC_URL=https://maint.example.com); mailed links are \
                 never built from a request's Host header",
            );
        }
        let live = LiveConfig {
            ping_interval_secs: reader.ranged("WS_PING_INTERVAL_SECS", 15, 1, 3600) as u64,
            pong_timeout_secs: reader.ranged("WS_PONG_TIMEOUT_SECS", 45, 1, 36_000) as u64,
            buffer: reader.ranged("WS_BUFFER", 1024, 1, 1_000_000) as usize,
            send_timeout_secs: reader.ranged("WS_SEND_TIMEOUT_SECS", 10, 1, 3600) as u64,
            retention_days: reader.ranged("EVENT_RETENTION_DAYS", 7, 1, 3650) as u64,
        };

        if !reader.problems.is_empty() {
            return Err(ConfigError(reader.problems));
        }
        Ok(Config {
            host: host.unwrap_or(IpAddr::from([127, 0, 0, 1])),
            port: port.unwrap_or(8000),
            database_path: database_path.unwrap_or_default(),
            secret_key,
            access_token_expire_minutes,
            super_admin,
            allowed_origins,
            bcrypt_cost,
            login_rate_per_minute,
            register_rate_per_minute,
            auth_rate_per_minute,
            login_failures_per_account,
            trusted_proxies,
            max_connections_per_address,
            body_read_timeout_secs,
            http_workers,
            llm,
            queue_capacity,
            queue_sweep_ms,
            submission_rate_per_minute,
            live,
            cookie_secure,
            session_hours,
            max_upload_bytes,
            list_default_limit,
            public_url,
            image_url_ttl_minutes,
            site_name,
            emergency_text,
            slow_request_ms,
            smtp,
            metrics,
        })
    }

    /// Where the generated signing key is kept when `SECRET_KEY` is unset: beside the database.
    pub fn secret_key_path(&self) -> PathBuf {
        crate::private_files::beside(&self.database_path, crate::private_files::KEY)
    }
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<ConfigProblem>,
}

impl Reader<'_> {
    /// The variable's value, with surrounding blanks removed; unset and empty are the same.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn problem(&mut self, variable: &'static str, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            variable,
            message: message.into(),
        });
    }

    fn parsed<T: std::str::FromStr>(
        &mut self,
        name: &'static str,
        default: Option<T>,
        expected: &str,
    ) -> Option<T> {
        match self.get(name) {
            None => default,
            Some(raw) => match raw.parse() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.problem(name, format!("expected {expected}, got '{raw}'"));
                    None
                }
            },
        }
    }

    fn ranged(&mut self, name: &'static str, default: i64, min: i64, max: i64) -> i64 {
        let expected = format!("a whole number from {min} to {max}");
        match self.parsed::<i64>(name, Some(default), &expected) {
            Some(v) if (min..=max).contains(&v) => v,
            Some(v) => {
                self.problem(name, format!("expected {expected}, got {v}"));
                default
            }
            None => default,
        }
    }

    /// Text shown on the pages: one line of at most `max_chars` characters, no control characters.
    fn page_text(&mut self, name: &'static str, default: &str, max_chars: usize) -> String {
        let Some(text) = self.get(name) else {
            return default.to_owned();
        };
        if text.chars().any(char::is_control) {
            self.problem(name, "must be one line without control characters");
            return default.to_owned();
        }
        let length = text.chars().count();
        if length > max_chars {
            self.problem(
                name,
                format!("must be at most {max_chars} characters, got {length}"),
            );
            return default.to_owned();
        }
        text
    }

    fn database_path(&mut self) -> Option<PathBuf> {
        let raw = self
            .get("DATABASE_URL")
            .unwrap_or_else(|| "sqlite://maintenance.db".into());
        match parse_database_url(&raw) {
            Ok(path) => Some(path),
            Err(message) => {
                self.problem("DATABASE_URL", message);
                None
            }
        }
    }

    fn secret_key(&mut self) -> Option<Secret> {
        let key = self.get("SECRET_KEY")?;
        if key.len() < 16 {
            self.problem("SECRET_KEY", "must be at least 16 characters (32 or more recommended); leave it unset to have one generated");
            return None;
        }
        if is_published_secret_key(&key) {
            self.problem("SECRET_KEY", "is the example value published with the original system, so anyone could sign tokens with it: set a random one (`openssl rand -hex 32`) or leave it unset to have one generated");
            return None;
        }
        Some(Secret(key))
    }

    fn super_admin(&mut self) -> Option<SuperAdminSeed> {
        let email = self.get("SUPER_ADMIN_EMAIL");
        let password = (self.lookup)("SUPER_ADMIN_PASSWORD").filter(|p| !p.is_empty());
        match (email, password) {
            (None, None) => None,
            (Some(_), None) => {
                self.problem(
                    "SUPER_ADMIN_PASSWORD",
                    format!(
                        "SUPER_ADMIN_EMAIL is set but SUPER_ADMIN_PASSWORD is not: add \
                         SUPER_ADMIN_PASSWORD=<a password of {min} to {max} bytes> (the original system \
                         defaulted it to a published password; this one has no default), or unset \
                         SUPER_ADMIN_EMAIL to have {default} created with a random password printed once",
                        min = crate::accounts::PASSWORD_MIN_BYTES,
                        max = crate::accounts::PASSWORD_MAX_BYTES,
                        default = crate::accounts::DEFAULT_SUPER_ADMIN_EMAIL,
                    ),
                );
                None
            }
            (None, Some(_)) => {
                self.problem(
                    "SUPER_ADMIN_EMAIL",
                    format!(
                        "SUPER_ADMIN_PASSWORD is set but SUPER_ADMIN_EMAIL is not: add \
                         SUPER_ADMIN_EMAIL=<the address of the super admin> (the original system \
                         defaulted it to {LEGACY_SUPER_ADMIN_EMAIL}; to keep that account, add \
                         SUPER_ADMIN_EMAIL={LEGACY_SUPER_ADMIN_EMAIL})"
                    ),
                );
                None
            }
            (Some(email), Some(password)) => {
                let email = match crate::accounts::normalize_email(&email) {
                    Ok(e) => Some(e),
                    Err(message) => {
                        self.problem("SUPER_ADMIN_EMAIL", message);
                        None
                    }
                };
                if let Err(message) = crate::accounts::check_password(&password) {
                    self.problem("SUPER_ADMIN_PASSWORD", message);
                    return None;
                }
                if password == LEGACY_DEFAULT_PASSWORD {
                    self.problem(
                        "SUPER_ADMIN_PASSWORD",
                        "is the original system's published default password, which anyone can look up: \
                         choose another (then `maintenance set-password` changes an existing account's)",
                    );
                    return None;
                }
                email.map(|email| SuperAdminSeed {
                    email,
                    password: Secret(password),
                })
            }
        }
    }

    fn llm(&mut self) -> Option<LlmConfig> {
        let api_key = self.get("GROQ_API_KEY").or_else(|| self.get("LLM_API_KEY"));
        if api_key.as_deref().map(str::trim) == Some(PLACEHOLDER_GROQ_API_KEY) {
            self.problem("GROQ_API_KEY", "is the placeholder of the original system's .env.example: set your real key, or remove the line to classify offline");
        }
        let base_url = self
            .get("LLM_BASE_URL")
            .unwrap_or_else(|| DEFAULT_LLM_BASE_URL.into())
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            self.problem(
                "LLM_BASE_URL",
                format!("expected an http:// or https:// URL, got '{base_url}'"),
            );
        } else if url::Url::parse(&base_url).is_ok_and(|u| {
            !u.username().is_empty()
                || u.password().is_some()
                || u.query().is_some()
                || u.fragment().is_some()
        }) {
            // A URL is shown in logs, errors and `check`; a credential in it would be too.
            self.problem(
                "LLM_BASE_URL",
                "holds a user name, password, query or fragment: it is the API root only; give the API key as GROQ_API_KEY or LLM_API_KEY, never in the URL",
            );
        }
        let model = self
            .get("LLM_MODEL")
            .unwrap_or_else(|| crate::classify::llm::DEFAULT_MODEL.into());
        let timeout_secs = self.ranged("LLM_TIMEOUT_SECS", 10, 1, 600) as u64;
        let requests_per_minute = self.ranged("LLM_RPM", 30, 1, 1_000_000) as u32;
        let batch = self.ranged("LLM_BATCH", 10, 1, 100) as usize;
        let concurrency = self.ranged("LLM_CONCURRENCY", 2, 1, 64) as usize;
        api_key.map(|key| LlmConfig {
            api_key: Secret(key),
            base_url,
            model,
            timeout_secs,
            requests_per_minute,
            batch,
            concurrency,
        })
    }

    fn metrics(&mut self) -> MetricsEndpoint {
        let on = self
            .parsed("METRICS", Some(Switch(true)), "on or off")
            .is_none_or(|Switch(on)| on);
        let addr = self.parsed::<std::net::SocketAddr>(
            "METRICS_ADDR",
            None,
            "an address and port such as 127.0.0.1:9100",
        );
        match (on, addr) {
            (false, _) => MetricsEndpoint::Off,
            (true, Some(addr)) => MetricsEndpoint::Own(addr),
            (true, None) => MetricsEndpoint::MainPortLocalOnly,
        }
    }

    fn trusted_proxies(&mut self) -> TrustedProxies {
        let raw = self.get("TRUSTED_PROXIES").unwrap_or_default();
        TrustedProxies::parse(&raw).unwrap_or_else(|message| {
            self.problem("TRUSTED_PROXIES", message);
            TrustedProxies::default()
        })
    }

    fn smtp(&mut self) -> Option<crate::mail::SmtpSettings> {
        let url = self.get("SMTP_URL");
        let from = self.get("SMTP_FROM");
        let Some(url) = url else {
            if from.is_some() {
                self.problem(
                    "SMTP_URL",
                    "SMTP_FROM is set but SMTP_URL is not: add SMTP_URL=smtps://USER:PASSWORD@HOST \
                     (or smtp://... for STARTTLS), or unset SMTP_FROM",
                );
            }
            return None;
        };
        match crate::mail::SmtpSettings::parse(&url, from.as_deref().unwrap_or_default()) {
            Ok(settings) => Some(settings),
            Err(problems) => {
                for (variable, message) in problems {
                    self.problem(variable, message);
                }
                None
            }
        }
    }

    fn public_url(&mut self) -> Option<String> {
        let raw = self.get("PUBLIC_URL")?;
        match parse_public_url(&raw) {
            Ok(url) => Some(url),
            Err(message) => {
                self.problem("PUBLIC_URL", message);
                None
            }
        }
    }

    fn origins(&mut self) -> Vec<String> {
        let Some(raw) = self.get("ALLOWED_ORIGINS") else {
            return Vec::new();
        };
        let mut origins = Vec::new();
        for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let origin = origin.trim_end_matches('/');
            let valid = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin
                        .split_once("://")
                        .is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/')));
            if valid {
                origins.push(origin.to_owned());
            } else {
                self.problem("ALLOWED_ORIGINS", format!("'{origin}' is not an origin like https://example.com or http://localhost:3000"));
            }
        }
        origins
    }
}

/// Accepts an `http://` or `https://` URL with a host and, optionally, a path prefix; no query,
/// fragment, credentials or characters a URL cannot hold. The trailing slash is dropped.
pub fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = raw.trim_end_matches('/');
    let expected = || {
        format!(
            "expected an http:// or https:// URL such as https://maint.example.com, got '{raw}'"
        )
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(expected)?;
    let host = rest.split('/').next().unwrap_or_default();
    let allowed = |c: char| {
        c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\\' | '^' | '`' | '{' | '|' | '}')
    };
    if host.is_empty() || host.contains('@') || !rest.chars().all(allowed) {
        return Err(expected());
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(format!(
            "must not have a query or fragment (links add their own), got '{raw}'"
        ));
    }
    Ok(url.to_owned())
}

/// Accepts `sqlite://PATH`, SQLAlchemy's `sqlite:///relative` and `sqlite:////absolute`, and a plain path.
pub fn parse_database_url(raw: &str) -> Result<PathBuf, String> {
    let path = if let Some(rest) = raw.strip_prefix("sqlite:") {
        let rest = rest.split('?').next().unwrap_or_default();
        // SQLAlchemy: three slashes then a relative path, four for an absolute one.
        rest.strip_prefix("///")
            .or_else(|| rest.strip_prefix("//"))
            .unwrap_or(rest)
    } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        // Only the scheme is repeated: the rest of the URL may hold a password.
        let scheme = raw.split("://").next().unwrap_or("postgresql");
        return Err(format!(
            "names a PostgreSQL server ({scheme}://…), but this program keeps everything in one SQLite \
             file: set DATABASE_URL=sqlite:///path/to/maintenance.db (or a plain path), or unset it for \
             ./maintenance.db. The original system ignored DATABASE_URL and always wrote maintenance.db in \
             its working directory: that file is the one to bring over with `maintenance import-legacy`"
        ));
    } else if let Some((scheme, _)) = raw.split_once("://") {
        return Err(format!(
            "only SQLite is supported: expected sqlite:///path/to/maintenance.db or a file path, got a {scheme}:// URL"
        ));
    } else {
        raw
    };
    if path.is_empty() || path == ":memory:" {
        return Err(format!("expected a database file path, got '{raw}'"));
    }
    Ok(Path::new(path).to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_configured_gives_working_defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.port, 8000);
        assert_eq!(c.database_path, PathBuf::from("maintenance.db"));
        assert_eq!(c.access_token_expire_minutes, 30);
        assert!(c.secret_key.is_none());
        assert!(c.super_admin.is_none());
        assert!(c.allowed_origins.is_empty());
        assert_eq!(c.bcrypt_cost, 12);
        assert_eq!(
            (
                c.login_rate_per_minute,
                c.register_rate_per_minute,
                c.auth_rate_per_minute,
                c.login_failures_per_account
            ),
            (10, 5, 20, 10),
            "the original's 10 logins and 5 registrations a minute per client"
        );
        assert_eq!(c.secret_key_path(), PathBuf::from("maintenance.db.secret"));
        assert!(c.llm.is_none(), "no key, no LLM");
        assert_eq!(c.slow_request_ms, 1000, "slow means a second or more");
        assert_eq!(c.metrics, MetricsEndpoint::MainPortLocalOnly);
    }

    #[test]
    fn metrics_are_served_locally_on_their_own_address_or_not_at_all() {
        let own = config(&[("METRICS_ADDR", "127.0.0.1:9100")]).unwrap();
        assert_eq!(
            own.metrics,
            MetricsEndpoint::Own("127.0.0.1:9100".parse().unwrap())
        );
        for off in ["off", "OFF", "false", "0", "no"] {
            let c = config(&[("METRICS", off), ("METRICS_ADDR", "127.0.0.1:9100")]).unwrap();
            assert_eq!(c.metrics, MetricsEndpoint::Off, "METRICS={off}");
        }
        let bad = config(&[("METRICS", "maybe"), ("METRICS_ADDR", "9100")]).unwrap_err();
        let names: Vec<_> = bad.0.iter().map(|p| p.variable).collect();
        assert_eq!(names, ["METRICS", "METRICS_ADDR"]);
    }

    #[test]
    fn database_urls_of_every_accepted_form() {
        let cases = [
            ("sqlite://maintenance.db", "maintenance.db"),
            ("sqlite:///./maintenance.db", "./maintenance.db"),
            ("sqlite:///data/m.db", "data/m.db"),
            ("sqlite:////var/lib/m.db", "/var/lib/m.db"),
            ("sqlite://m.db?mode=rwc", "m.db"),
            ("/tmp/x.db", "/tmp/x.db"),
            ("x.db", "x.db"),
        ];
        for (url, path) in cases {
            assert_eq!(parse_database_url(url), Ok(PathBuf::from(path)), "{url}");
        }
        assert!(parse_database_url("postgres://localhost/db").is_err());
        assert!(parse_database_url("sqlite://").is_err());
        assert!(parse_database_url("sqlite::memory:").is_err());
    }

    #[test]
    fn every_bad_variable_is_named_in_one_error() {
        let err = config(&[
            ("PORT", "eighty"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
            ("HOST", "nowhere"),
            ("ALLOWED_ORIGINS", "https://ok.example, ftp:/bad"),
            ("SUPER_ADMIN_EMAIL", "root@example.com"),
        ])
        .unwrap_err();
        let names: Vec<&str> = err.0.iter().map(|p| p.variable).collect();
        assert_eq!(
            names,
            [
                "HOST",
                "PORT",
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                "SUPER_ADMIN_PASSWORD",
                "ALLOWED_ORIGINS"
            ]
        );
        let text = err.to_string();
        assert!(text.contains("PORT: expected a port number"), "{text}");
        assert!(text.contains("'eighty'"), "{text}");
    }

    #[test]
    fn super_admin_seed_is_validated() {
        let err = config(&[
            ("SUPER_ADMIN_EMAIL", "not-an-email"),
            ("SUPER_ADMIN_PASSWORD", "short"),
        ])
        .unwrap_err();
        let names: Vec<&str> = err.0.iter().map(|p| p.variable).collect();
        assert_eq!(names, ["SUPER_ADMIN_EMAIL", "SUPER_ADMIN_PASSWORD"]);
        let ok = config(&[
            ("SUPER_ADMIN_EMAIL", " Boss@Example.COM "),
            ("SUPER_ADMIN_PASSWORD", "long enough pw"),
        ])
        .unwrap();
        assert_eq!(ok.super_admin.unwrap().email, "boss@example.com");
    }

    #[test]
    fn half_a_super_admin_says_exactly_what_to_add() {
        let err = config(&[("SUPER_ADMIN_PASSWORD", "a long enough password")]).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].variable, "SUPER_ADMIN_EMAIL");
        let text = err.to_string();
        assert!(
            text.contains("SUPER_ADMIN_PASSWORD is set but SUPER_ADMIN_EMAIL is not"),
            "{text}"
        );
        assert!(
            text.contains("add SUPER_ADMIN_EMAIL=<the address of the super admin>"),
            "{text}"
        );
        assert!(
            text.contains("defaulted it to admin@system.local"),
            "{text}"
        );
        assert!(!text.contains("a long enough password"), "{text}");

        let err = config(&[("SUPER_ADMIN_EMAIL", "boss@example.com")]).unwrap_err();
        assert_eq!(err.0[0].variable, "SUPER_ADMIN_PASSWORD");
        let text = err.to_string();
        assert!(
            text.contains("SUPER_ADMIN_EMAIL is set but SUPER_ADMIN_PASSWORD is not"),
            "{text}"
        );
        assert!(text.contains("add SUPER_ADMIN_PASSWORD=<"), "{text}");
        assert!(text.contains("unset SUPER_ADMIN_EMAIL"), "{text}");
    }

    #[test]
    fn the_original_systems_default_password_is_refused() {
        let err = config(&[
            ("SUPER_ADMIN_EMAIL", LEGACY_SUPER_ADMIN_EMAIL),
            ("SUPER_ADMIN_PASSWORD", LEGACY_DEFAULT_PASSWORD),
        ])
        .unwrap_err();
        assert_eq!(err.0[0].variable, "SUPER_ADMIN_PASSWORD");
        let text = err.to_string();
        assert!(text.contains("published default password"), "{text}");
        assert!(!text.contains(LEGACY_DEFAULT_PASSWORD), "{text}");
    }

    #[test]
    fn a_postgres_url_says_sqlite_is_the_store_and_how_to_name_the_file() {
        for url in [
            "postgresql://user:s3cret@localhost:5432/maintenance",
            "postgres://user:s3cret@db/maintenance",
        ] {
            let err = config(&[("DATABASE_URL", url)]).unwrap_err();
            assert_eq!(err.0[0].variable, "DATABASE_URL");
            let text = err.to_string();
            assert!(text.contains("SQLite"), "{text}");
            assert!(
                text.contains("DATABASE_URL=sqlite:///path/to/maintenance.db"),
                "{text}"
            );
            assert!(text.contains("unset it"), "{text}");
            assert!(text.contains("import-legacy"), "{text}");
            assert!(
                !text.contains("s3cret"),
                "the URL's password was repeated: {text}"
            );
        }
        let err = config(&[("DATABASE_URL", "mysql://root:pw@db/m")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("only SQLite"), "{text}");
        assert!(!text.contains("pw@"), "{text}");
    }

    #[test]
    fn secrets_are_masked_in_debug_output() {
        let c = config(&[("SECRET_KEY", "a-very-secret-signing-key-0123456789")]).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("a-very-secret"), "{debug}");
        assert!(debug.contains("****"));
    }

    #[test]
    fn the_llm_is_on_with_a_key_and_its_settings_are_checked() {
        let c = config(&[("GROQ_API_KEY", "gsk_test")]).unwrap();
        let llm = c.llm.unwrap();
        assert_eq!(llm.base_url, DEFAULT_LLM_BASE_URL);
        assert_eq!(llm.model, "llama-3.3-70b-versatile");
        assert_eq!(
            (
                llm.timeout_secs,
                llm.requests_per_minute,
                llm.batch,
                llm.concurrency
            ),
            (10, 30, 10, 2)
        );
        assert!(!format!("{llm:?}").contains("gsk_test"));
        let other = config(&[
            ("LLM_API_KEY", "k"),
            ("LLM_BASE_URL", "http://127.0.0.1:9/v1/"),
        ])
        .unwrap();
        assert_eq!(other.llm.unwrap().base_url, "http://127.0.0.1:9/v1");
        let err = config(&[
            ("LLM_BASE_URL", "groq"),
            ("LLM_BATCH", "0"),
            ("LLM_RPM", "x"),
        ])
        .unwrap_err();
        let names: Vec<&str> = err.0.iter().map(|p| p.variable).collect();
        assert_eq!(names, ["LLM_BASE_URL", "LLM_RPM", "LLM_BATCH"]);
        let err = config(&[
            ("LLM_API_KEY", "k"),
            ("LLM_BASE_URL", "https://proxy-user:hunter2@llm.example/v1"),
        ])
        .unwrap_err();
        assert_eq!(err.0[0].variable, "LLM_BASE_URL");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        for url in [
            "https://llm.example/v1?key=hunter2",
            "https://llm.example/v1#hunter2",
        ] {
            let err = config(&[("LLM_API_KEY", "k"), ("LLM_BASE_URL", url)]).unwrap_err();
            assert_eq!(err.0[0].variable, "LLM_BASE_URL", "{url}");
            assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        }
    }

    #[test]
    fn the_originals_published_secret_keys_are_refused() {
        for key in [
            "your-secret-key-change-this",
            "your-secret-key-change-this-to-random-string",
            "your-very-secret-key-change-this-in-production",
            "your-super-secret-key-here-change-this",
            " building-maintenance-secret-key-2025-doublesilver\n",
        ] {
            let err = config(&[("SECRET_KEY", key)]).unwrap_err();
            assert_eq!(err.0[0].variable, "SECRET_KEY");
            assert!(!err.to_string().contains(key.trim()), "{err}");
        }
        assert!(config(&[("SECRET_KEY", "building-maintenance-secret-key-2026")]).is_ok());
    }

    #[test]
    fn the_originals_placeholder_llm_key_is_refused() {
        let err = config(&[("GROQ_API_KEY", PLACEHOLDER_GROQ_API_KEY)]).unwrap_err();
        assert_eq!(err.0[0].variable, "GROQ_API_KEY");
    }

    #[test]
    fn a_short_secret_key_is_refused() {
        let err = config(&[("SECRET_KEY", "short")]).unwrap_err();
        assert_eq!(err.0[0].variable, "SECRET_KEY");
    }

    #[test]
    fn list_and_link_settings_are_checked() {
        let c = config(&[]).unwrap();
        assert_eq!(c.list_default_limit, 1000);
        assert_eq!(c.public_url, None);
        assert_eq!(c.image_url_ttl_minutes, 60);
        let c = config(&[
            ("LIST_DEFAULT_LIMIT", "25"),
            ("PUBLIC_URL", "https://maint.example.com/"),
            ("IMAGE_URL_TTL_MINUTES", "5"),
        ])
        .unwrap();
        assert_eq!(c.list_default_limit, 25);
        assert_eq!(c.public_url.as_deref(), Some("https://maint.example.com"));
        assert_eq!(c.image_url_ttl_minutes, 5);
        assert_eq!(
            parse_public_url("http://10.0.0.5:8080/maintenance").as_deref(),
            Ok("http://10.0.0.5:8080/maintenance")
        );
        for (name, value) in [
            ("LIST_DEFAULT_LIMIT", "0"),
            ("LIST_DEFAULT_LIMIT", "100001"),
            ("PUBLIC_URL", "maint.example.com"),
            ("PUBLIC_URL", "ftp://maint.example.com"),
            ("PUBLIC_URL", "https://"),
            ("PUBLIC_URL", "https://maint.example.com/?a=b"),
            ("PUBLIC_URL", "https://maint.example.com/#top"),
            ("PUBLIC_URL", "https://user@maint.example.com"),
            ("PUBLIC_URL", "https://maint.example.com/a b"),
            ("IMAGE_URL_TTL_MINUTES", "0"),
            ("IMAGE_URL_TTL_MINUTES", "soon"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            let names: Vec<&str> = err.0.iter().map(|p| p.variable).collect();
            assert_eq!(names, [name], "{name}={value}");
        }
    }

    #[test]
    fn the_site_name_and_emergency_line_have_defaults_and_are_checked() {
        let c = config(&[]).unwrap();
        assert_eq!(c.site_name, "건물 유지보수");
        assert!(c.emergency_text.contains("119"), "{}", c.emergency_text);
        let c = config(&[
            ("SITE_NAME", "  한빛아파트 관리사무소 "),
            ("EMERGENCY_TEXT", "위급하면 02-123-4567"),
        ])
        .unwrap();
        assert_eq!(c.site_name, "한빛아파트 관리사무소");
        assert_eq!(c.emergency_text, "위급하면 02-123-4567");
        let err = config(&[
            ("SITE_NAME", &"가".repeat(61)),
            ("EMERGENCY_TEXT", "첫 줄\n둘째 줄"),
        ])
        .unwrap_err();
        let names: Vec<&str> = err.0.iter().map(|p| p.variable).collect();
        assert_eq!(names, ["SITE_NAME", "EMERGENCY_TEXT"]);
    }

    #[test]
    fn mail_is_off_unless_both_smtp_variables_are_set() {
        assert!(config(&[]).unwrap().smtp.is_none());
        let c = config(&[
            ("SMTP_URL", "smtps://mailer:s3cret@mail.example.com"),
            ("SMTP_FROM", "office@example.com"),
            ("PUBLIC_URL", "https://maint.example.com"),
        ])
        .unwrap();
        assert_eq!(c.smtp.unwrap().port, 465);
        let err = config(&[
            ("SMTP_URL", "smtps://mailer:s3cret@mail.example.com"),
            ("SMTP_FROM", "office@example.com"),
        ])
        .unwrap_err();
        let names: Vec<&str> = err.0.iter().map(|p| p.variable).collect();
        assert_eq!(
            names,
            ["PUBLIC_URL"],
            "mailed links need a configured address"
        );
        let err = config(&[("SMTP_URL", "smtps://mailer:s3cret@mail.example.com")]).unwrap_err();
        assert_eq!(err.0[0].variable, "SMTP_FROM");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = config(&[("SMTP_FROM", "office@example.com")]).unwrap_err();
        assert_eq!(err.0[0].variable, "SMTP_URL");
        let err = config(&[
            ("SMTP_URL", "https://mailer:s3cret@mail.example.com"),
            ("SMTP_FROM", "nobody"),
        ])
        .unwrap_err();
        let names: Vec<&str> = err.0.iter().map(|p| p.variable).collect();
        assert_eq!(names, ["SMTP_URL", "SMTP_FROM"]);
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn origins_are_split_and_trimmed() {
        let c = config(&[(
            "ALLOWED_ORIGINS",
            "http://localhost:3000, https://app.example.com/ ,",
        )])
        .unwrap();
        assert_eq!(
            c.allowed_origins,
            ["http://localhost:3000", "https://app.example.com"]
        );
    }
}

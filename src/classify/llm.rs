//! An OpenAI-compatible chat-completions client that classifies a batch of descriptions in one call.
//!
//! The provider is a shared, rate-limited, sometimes failing service, so every call goes through
//! three guards: a client-side rate limit (stay under the provider's requests per minute), bounded
//! retries of transient failures, and a circuit breaker that stops calling a provider that keeps
//! failing so the caller falls back to the keyword rules at once instead of waiting on timeouts.
//! Nothing here logs the API key or a description's text: only counts, status codes and durations.

mod breaker;
mod parse;
mod prompt;
mod retry;

use crate::config::Secret;
use crate::taxonomy::{Category, Priority};
use breaker::CircuitBreaker;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The model asked for when none is configured.
pub const DEFAULT_MODEL: &str = "llama-3.3-70b-versatile";

/// The largest answer read from the provider. A batch's answer is a few kilobytes; anything
/// near this is broken or hostile, and is refused before it is held in memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How to reach the provider and how hard to try.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// Sent as a bearer token; never logged.
    pub api_key: Secret,
    /// The API root, e.g. `https://api.groq.com/openai/v1`; requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model name sent with every request.
    pub model: String,
    /// Limit on one HTTP attempt, from connecting until the whole body has arrived.
    pub timeout: Duration,
    /// Client-side limit matching the provider's requests per minute; 0 turns it off.
    pub requests_per_minute: u32,
    /// How many times a transient failure (timeout, connection error, 5xx, 429) is retried.
    pub max_retries: u32,
    /// Consecutive failed calls that open the circuit; 0 turns the breaker off.
    pub breaker_threshold: u32,
    /// How long an open circuit refuses calls before one trial call is let through.
    pub breaker_cooldown: Duration,
    /// A 429 asking to wait longer than this fails at once rather than stalling the caller.
    pub max_retry_after: Duration,
    /// A response body longer than this is refused (announced or as it arrives).
    pub max_response_bytes: usize,
}

impl LlmSettings {
    /// Settings with defaults suited to Groq's free tier (30 requests per minute).
    pub fn new(api_key: Secret, base_url: impl Into<String>) -> LlmSettings {
        LlmSettings {
            api_key,
            base_url: base_url.into(),
            model: DEFAULT_MODEL.to_owned(),
            timeout: Duration::from_secs(20),
            requests_per_minute: 30,
            max_retries: 2,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(30),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl LlmClient {
    /// The client for the configured provider, with its own HTTP client (connect timeout 5 s).
    pub fn from_config(config: &crate::config::LlmConfig) -> Result<LlmClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let mut settings = LlmSettings::new(config.api_key.clone(), config.base_url.clone());
        settings.model = config.model.clone();
        settings.timeout = Duration::from_secs(config.timeout_secs);
        settings.requests_per_minute = config.requests_per_minute;
        Ok(LlmClient::new(settings, http))
    }
}

/// The model's answer for one description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmVerdict {
    /// The category the model chose.
    pub category: Category,
    /// The priority the model chose.
    pub priority: Priority,
    /// The model's short justification (may be empty; shortened when long).
    pub reason: String,
}

/// Why a whole call failed; the caller then falls back for every item of the batch.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// HTTP 429; `retry_after` is the provider's Retry-After when it sent one.
    #[error("rate limited by the provider (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// Any other unsuccessful HTTP status.
    #[error("the provider answered HTTP {0}")]
    Status(u16),
    /// An attempt took longer than the configured timeout.
    #[error("the provider did not answer in time")]
    Timeout,
    /// Connecting, sending or reading the body failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// The answer was not a chat completion holding the expected JSON, or no item in it was valid.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The response body was longer than the limit; reading stopped there.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The circuit breaker is open: the provider failed repeatedly, so it is not called for now.
    #[error("the provider failed repeatedly; not calling it until the cooldown ends")]
    CircuitOpen,
}

impl LlmError {
    /// Failures that another attempt may well not repeat.
    fn is_transient(&self) -> bool {
        match self {
            LlmError::RateLimited { .. } | LlmError::Timeout | LlmError::Transport(_) => true,
            LlmError::Status(code) => (500..600).contains(code),
            LlmError::Malformed(_) | LlmError::TooLarge { .. } | LlmError::CircuitOpen => false,
        }
    }
}

/// A cheap-to-clone handle on one provider; clones share the rate limit and the circuit breaker.
#[derive(Clone)]
pub struct LlmClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: LlmSettings,
    url: String,
    http: reqwest::Client,
    /// None when the configured rate is 0 (no client-side limit).
    limiter: Option<DefaultDirectRateLimiter>,
    breaker: CircuitBreaker,
}

impl LlmClient {
    /// Wraps the shared HTTP client; builds the rate limiter and circuit breaker for this provider.
    pub fn new(settings: LlmSettings, http: reqwest::Client) -> LlmClient {
        // A burst of 1 spaces calls evenly (60 s / rpm apart). Providers count requests over a
        // sliding minute, and a full burst after an idle spell followed by a queue backlog is
        // exactly what trips their limit; an even pace costs a queue worker nothing noticeable.
        let limiter = NonZeroU32::new(settings.requests_per_minute)
            .map(|rpm| RateLimiter::direct(Quota::per_minute(rpm).allow_burst(NonZeroU32::MIN)));
        let url = format!(
            "{}/chat/completions",
            settings.base_url.trim_end_matches('/')
        );
        let breaker = CircuitBreaker::new(settings.breaker_threshold, settings.breaker_cooldown);
        LlmClient {
            inner: Arc::new(Inner {
                settings,
                url,
                http,
                limiter,
                breaker,
            }),
        }
    }

    /// One chat call for up to N descriptions. Ok(v) has v.len() == texts.len(); v[i] is None when
    /// item i is missing from the answer or invalid (unknown category/priority, missing fields):
    /// the caller falls back for that item alone. Err when the whole call failed.
    ///
    /// Keep batches modest (ten or so): the whole batch shares one answer, one timeout and one
    /// failure, and long answers are where models start to drop or renumber items.
    #[tracing::instrument(name = "llm_classify", skip_all, fields(items = texts.len()))]
    pub async fn classify_batch(
        &self,
        texts: &[&str],
    ) -> Result<Vec<Option<LlmVerdict>>, LlmError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let Some(permit) = self.inner.breaker.try_call(Instant::now()) else {
            tracing::debug!("circuit open; not calling the provider");
            crate::telemetry::metrics::llm_call(Err(&LlmError::CircuitOpen));
            return Err(LlmError::CircuitOpen);
        };
        let started = Instant::now();
        let body = prompt::request_body(&self.inner.settings.model, texts);
        let result = self.call_with_retries(&body, texts.len()).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        crate::telemetry::metrics::llm_call(result.as_ref().map(|_| ()));
        match &result {
            Ok(verdicts) => {
                permit.succeeded();
                let valid = verdicts.iter().filter(|v| v.is_some()).count();
                tracing::debug!(valid, elapsed_ms, "classified by the LLM");
            }
            // A malformed answer is the model's doing, not an outage: the provider is up and
            // answering, so it neither counts toward opening the circuit nor keeps it open.
            Err(error @ LlmError::Malformed(_)) => {
                permit.succeeded();
                tracing::debug!(%error, elapsed_ms, "the LLM's answer was malformed");
            }
            // The caller decides how loudly to report the error; here only the timing is added.
            Err(error) => {
                permit.failed(Instant::now());
                tracing::debug!(%error, elapsed_ms, "LLM call failed");
            }
        }
        result
    }

    /// False while the circuit breaker is open.
    pub fn is_available(&self) -> bool {
        self.inner.breaker.is_available(Instant::now())
    }

    async fn call_with_retries(
        &self,
        body: &prompt::ChatRequest<'_>,
        items: usize,
    ) -> Result<Vec<Option<LlmVerdict>>, LlmError> {
        let mut attempt: u32 = 0;
        loop {
            if let Some(limiter) = &self.inner.limiter {
                limiter.until_ready().await;
            }
            let started = Instant::now();
            let error = match self.send(body).await {
                // Malformed answers are not retried: the same prompt tends to get the same answer.
                Ok(text) => return parse::completion(&text, items),
                Err(error) => error,
            };
            let Some(wait) = self.retry_wait(&error, attempt) else {
                return Err(error);
            };
            tracing::warn!(
                attempt,
                %error,
                attempt_ms = started.elapsed().as_millis() as u64,
                wait_ms = wait.as_millis() as u64,
                "LLM attempt failed; retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// How long to wait before the next attempt, or None to give up with this error.
    fn retry_wait(&self, error: &LlmError, attempt: u32) -> Option<Duration> {
        let settings = &self.inner.settings;
        if !error.is_transient() || attempt >= settings.max_retries {
            return None;
        }
        match error {
            LlmError::RateLimited {
                retry_after: Some(wait),
            } => (*wait <= settings.max_retry_after).then_some(*wait),
            _ => Some(retry::backoff(attempt)),
        }
    }

    /// One HTTP attempt; the body text of a successful answer.
    async fn send(&self, body: &prompt::ChatRequest<'_>) -> Result<String, LlmError> {
        let inner = &self.inner;
        let response = inner
            .http
            .post(&inner.url)
            .bearer_auth(inner.settings.api_key.expose())
            .timeout(inner.settings.timeout)
            .json(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| retry::parse_retry_after(value, SystemTime::now()));
            return Err(LlmError::RateLimited { retry_after });
        }
        if !status.is_success() {
            return Err(LlmError::Status(status.as_u16()));
        }
        read_capped(response, inner.settings.max_response_bytes).await
    }
}

/// The body as text, refused as soon as it is known to pass `limit` bytes: from its announced
/// length, or while it streams in, so a huge or endless body is never held whole.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<String, LlmError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(LlmError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > limit {
            return Err(LlmError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| LlmError::Malformed("the body is not UTF-8".into()))
}

fn transport_error(error: reqwest::Error) -> LlmError {
    if error.is_timeout() {
        return LlmError::Timeout;
    }
    // reqwest's own message is generic ("error sending request"); the cause chain says what broke.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    LlmError::Transport(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(LlmError::Timeout.is_transient());
        assert!(LlmError::Transport("reset".into()).is_transient());
        assert!(LlmError::Status(503).is_transient());
        assert!(LlmError::RateLimited { retry_after: None }.is_transient());
        assert!(!LlmError::Status(400).is_transient());
        assert!(!LlmError::Status(401).is_transient());
        assert!(!LlmError::Malformed("x".into()).is_transient());
        assert!(!LlmError::TooLarge { limit: 1 }.is_transient());
        assert!(!LlmError::CircuitOpen.is_transient());
    }

    #[test]
    fn the_batch_future_can_run_on_a_worker_task() {
        fn assert_send<T: Send>(_: &T) {}
        let client = LlmClient::new(
            LlmSettings::new(Secret::new("k"), "http://127.0.0.1:9"),
            reqwest::Client::new(),
        );
        let future = client.classify_batch(&[]);
        assert_send(&future);
    }

    #[test]
    fn settings_debug_output_masks_the_key() {
        let settings = LlmSettings::new(Secret::new("gsk_live_secret"), "http://x");
        assert!(!format!("{settings:?}").contains("gsk_live_secret"));
    }
}

//! A scripted OpenAI-compatible provider: a real HTTP server on 127.0.0.1:0 serving
//! POST /chat/completions, playing one behaviour per request in order, then a default one.
//!
//! Include it from any test crate with
//! `#[path = "../support/mock_llm.rs"] mod mock_llm;` (path relative to that crate's root file).
//! Start it from inside a Tokio runtime (`#[tokio::test]` or `#[actix_web::test]`).
#![allow(dead_code)]

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Labels one description: (category, priority), as the text the provider would send.
pub type Rule = Arc<dyn Fn(&str) -> (String, String) + Send + Sync>;

/// Labels a whole batch at once, one (category, priority) per description: a model whose
/// answer for one item depends on the others (e.g. one that obeys an instruction in one of them).
pub type BatchRule = Arc<dyn Fn(&[String]) -> Vec<(String, String)> + Send + Sync>;

/// What the mock does with one request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A correct answer for every item, labelled by the rule.
    Answer,
    /// A correct answer that leaves out these item ids (1-based).
    AnswerMissing(Vec<usize>),
    /// A chat completion whose message content is exactly this string.
    AnswerRaw(String),
    /// HTTP 200 with exactly this body (not wrapped in a chat completion).
    RawBody(String),
    /// This HTTP status with a small JSON error body.
    Status(u16),
    /// HTTP 429, with a Retry-After header in seconds when given.
    RateLimited { retry_after_secs: Option<u64> },
    /// Waits this long, then answers like `Answer` (meant to outlast the client's timeout).
    Hang(Duration),
    /// A correct answer padded with an extra field of this many bytes.
    AnswerPadded(usize),
    /// HTTP 200 with a body that starts like a chat completion and never ends.
    EndlessBody,
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub at: Instant,
    pub authorization: Option<String>,
    pub body: Value,
    /// The descriptions listed in the user message, in order.
    pub items: Vec<String>,
}

struct State {
    script: VecDeque<Behaviour>,
    default: Behaviour,
    rule: BatchRule,
    received: Vec<ReceivedRequest>,
}

/// A running mock provider; the server lives until the test's runtime ends.
pub struct MockLlm {
    base_url: String,
    state: Arc<Mutex<State>>,
}

/// Options for [`MockLlm`] beyond the script.
pub struct MockLlmBuilder {
    script: Vec<Behaviour>,
    default: Behaviour,
    rule: Rule,
    batch_rule: Option<BatchRule>,
}

impl MockLlmBuilder {
    /// What to do once the script is used up (`Answer` unless set).
    pub fn default_behaviour(mut self, behaviour: Behaviour) -> Self {
        self.default = behaviour;
        self
    }

    /// How `Answer` labels each description (a tiny keyword rule unless set).
    pub fn rule(mut self, rule: impl Fn(&str) -> (String, String) + Send + Sync + 'static) -> Self {
        self.rule = Arc::new(rule);
        self
    }

    /// How `Answer` labels a whole batch; replaces the per-item rule when set.
    pub fn batch_rule(
        mut self,
        rule: impl Fn(&[String]) -> Vec<(String, String)> + Send + Sync + 'static,
    ) -> Self {
        self.batch_rule = Some(Arc::new(rule));
        self
    }

    /// Binds 127.0.0.1:0 and starts serving on the current Tokio runtime.
    pub fn start(self) -> MockLlm {
        let rule = self.rule;
        let rule = self.batch_rule.unwrap_or_else(|| {
            Arc::new(move |items: &[String]| items.iter().map(|text| rule(text)).collect())
        });
        let state = Arc::new(Mutex::new(State {
            script: self.script.into(),
            default: self.default,
            rule,
            received: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the mock LLM");
        let port = listener.local_addr().expect("mock LLM address").port();
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/chat/completions", web::post().to(chat_completions))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("listen on the mock LLM socket")
        .run();
        tokio::spawn(server);
        MockLlm {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }
}

impl MockLlm {
    /// A mock that plays `script`, then answers correctly with the default rule.
    pub fn start(script: Vec<Behaviour>) -> MockLlm {
        MockLlm::builder(script).start()
    }

    /// A mock with a non-default fallback behaviour or labelling rule.
    pub fn builder(script: Vec<Behaviour>) -> MockLlmBuilder {
        MockLlmBuilder {
            script,
            default: Behaviour::Answer,
            rule: Arc::new(default_rule),
            batch_rule: None,
        }
    }

    /// What to put in the client's `base_url`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Appends a behaviour to the script.
    pub fn push(&self, behaviour: Behaviour) {
        self.lock().script.push_back(behaviour);
    }

    /// Replaces the behaviour used once the script is used up.
    pub fn set_default(&self, behaviour: Behaviour) {
        self.lock().default = behaviour;
    }

    /// How many requests arrived so far.
    pub fn calls(&self) -> usize {
        self.lock().received.len()
    }

    /// Every request received, in arrival order.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.lock().received.clone()
    }

    /// The descriptions of each request, in arrival order.
    pub fn received_items(&self) -> Vec<Vec<String>> {
        self.lock()
            .received
            .iter()
            .map(|r| r.items.clone())
            .collect()
    }

    /// The Authorization header of each request.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.lock()
            .received
            .iter()
            .map(|r| r.authorization.clone())
            .collect()
    }

    /// When each request arrived.
    pub fn call_times(&self) -> Vec<Instant> {
        self.lock().received.iter().map(|r| r.at).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("mock LLM state")
    }
}

/// The mock's own labelling: a handful of keywords, enough to tell answers apart in tests.
pub fn default_rule(text: &str) -> (String, String) {
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let category = if has(&["전등", "조명", "콘센트", "차단기"]) {
        "electrical"
    } else if has(&["보일러", "난방", "에어컨", "환풍기"]) {
        "hvac"
    } else if has(&["수도", "변기", "배관", "하수구", "물이"]) {
        "plumbing"
    } else if has(&["벽", "창문", "현관문", "타일", "균열"]) {
        "structural"
    } else {
        "other"
    };
    let priority = if has(&["새", "샙니다", "멈췄", "가스", "안 나와"]) {
        "high"
    } else if has(&["나중에", "천천히", "시간 되실 때"]) {
        "low"
    } else {
        "medium"
    };
    (category.to_owned(), priority.to_owned())
}

/// A chat-completions response body whose message content is `content`.
pub fn chat_completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": "mock",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    })
}

/// The `{"results": [...]}` content for `items`, labelled by `rule`, leaving out `missing` ids.
pub fn answer_content(items: &[String], rule: &BatchRule, missing: &[usize]) -> String {
    let results: Vec<Value> = rule(items)
        .into_iter()
        .enumerate()
        .map(|(i, labels)| (i + 1, labels))
        .filter(|(id, _)| !missing.contains(id))
        .map(|(id, (category, priority))| {
            json!({"id": id, "category": category, "priority": priority, "reason": "mock rule"})
        })
        .collect();
    json!({ "results": results }).to_string()
}

/// The items of a request: lines `N. "json string"` of its last user message.
pub fn parse_items(body: &Value) -> Vec<String> {
    let content = body["messages"]
        .as_array()
        .and_then(|messages| messages.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    content
        .lines()
        .filter_map(|line| {
            let (number, rest) = line.split_once(". ")?;
            number.parse::<usize>().ok()?;
            serde_json::from_str::<String>(rest).ok()
        })
        .collect()
}

async fn chat_completions(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let items = parse_items(&body);
    let (behaviour, rule) = {
        let mut state = state.lock().expect("mock LLM state");
        state.received.push(ReceivedRequest {
            at: Instant::now(),
            authorization: request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body,
            items: items.clone(),
        });
        let behaviour = match state.script.pop_front() {
            Some(behaviour) => behaviour,
            None => state.default.clone(),
        };
        (behaviour, state.rule.clone())
    };
    let content = match behaviour {
        Behaviour::Answer => answer_content(&items, &rule, &[]),
        Behaviour::AnswerMissing(missing) => answer_content(&items, &rule, &missing),
        Behaviour::AnswerRaw(content) => content,
        Behaviour::RawBody(body) => {
            return HttpResponse::Ok()
                .content_type("application/json")
                .body(body);
        }
        Behaviour::Status(code) => {
            let status = actix_web::http::StatusCode::from_u16(code).expect("a valid status code");
            return HttpResponse::build(status)
                .json(json!({"error": {"message": "mock failure", "type": "mock"}}));
        }
        Behaviour::RateLimited { retry_after_secs } => {
            let mut response = HttpResponse::TooManyRequests();
            if let Some(secs) = retry_after_secs {
                response.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            return response.json(json!({"error": {"message": "rate limited", "type": "mock"}}));
        }
        Behaviour::Hang(wait) => {
            tokio::time::sleep(wait).await;
            answer_content(&items, &rule, &[])
        }
        Behaviour::AnswerPadded(bytes) => {
            let mut completion = chat_completion(&answer_content(&items, &rule, &[]));
            completion["padding"] = Value::String("x".repeat(bytes));
            return HttpResponse::Ok().json(completion);
        }
        Behaviour::EndlessBody => {
            let start = r#"{"choices": [{"message": {"role": "assistant", "content": ""#;
            let chunk = web::Bytes::from(vec![b'x'; 64 * 1024]);
            let body = futures_util::stream::once(async move { web::Bytes::from(start) })
                .chain(futures_util::stream::repeat(chunk))
                .map(Ok::<_, actix_web::Error>);
            return HttpResponse::Ok()
                .content_type("application/json")
                .streaming(body);
        }
    };
    HttpResponse::Ok().json(chat_completion(&content))
}

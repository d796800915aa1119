//! The LLM client against a scripted provider on 127.0.0.1:0: answers, retries, limits, breaker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mock_llm.rs"]
mod mock_llm;

use maintenance::classify::llm::{
    DEFAULT_MAX_RESPONSE_BYTES, LlmClient, LlmError, LlmSettings, LlmVerdict,
};
use maintenance::config::Secret;
use maintenance::taxonomy::{Category, Priority};
use mock_llm::{Behaviour, MockLlm};
use serde_json::json;
use std::time::{Duration, Instant};

const KEY: &str = "test-key-123";

/// Settings that keep the guards out of the way unless a test is about them.
fn settings(mock: &MockLlm) -> LlmSettings {
    LlmSettings {
        api_key: Secret::new(KEY),
        base_url: mock.base_url(),
        model: "test-model".into(),
        timeout: Duration::from_secs(5),
        requests_per_minute: 60_000,
        max_retries: 2,
        breaker_threshold: 100,
        breaker_cooldown: Duration::from_millis(300),
        max_retry_after: Duration::from_secs(5),
        max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
    }
}

fn client(settings: LlmSettings) -> LlmClient {
    LlmClient::new(settings, reqwest::Client::new())
}

fn labels(verdicts: &[Option<LlmVerdict>]) -> Vec<Option<(Category, Priority)>> {
    verdicts
        .iter()
        .map(|v| v.as_ref().map(|v| (v.category, v.priority)))
        .collect()
}

fn results_content(results: serde_json::Value) -> String {
    json!({ "results": results }).to_string()
}

#[tokio::test]
async fn a_correct_answer_gives_the_labels_and_the_request_is_well_formed() {
    let mock = MockLlm::start(vec![]);
    let llm = client(settings(&mock));

    let verdicts = llm
        .classify_batch(&["수도꼭지에서 물이 샙니다"])
        .await
        .unwrap();

    assert_eq!(
        labels(&verdicts),
        [Some((Category::Plumbing, Priority::High))]
    );
    assert_eq!(verdicts[0].as_ref().unwrap().reason, "mock rule");
    let received = mock.received();
    assert_eq!(received.len(), 1);
    let body = &received[0].body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["response_format"]["type"], "json_object");
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("structural")
    );
    assert_eq!(received[0].items, ["수도꼭지에서 물이 샙니다"]);
}

#[tokio::test]
async fn the_bearer_key_is_sent() {
    let mock = MockLlm::start(vec![]);
    client(settings(&mock))
        .classify_batch(&["전등이 깜빡입니다"])
        .await
        .unwrap();
    assert_eq!(mock.authorizations(), [Some(format!("Bearer {KEY}"))]);
}

#[tokio::test]
async fn a_batch_of_five_is_one_call_with_verdicts_in_order() {
    let mock = MockLlm::start(vec![]);
    let texts = [
        "전등이 깜빡입니다",
        "보일러가 안 켜져요",
        "변기가 막혔어요",
        "창문 손잡이가 헐거워요, 나중에 봐주세요",
        "엘리베이터가 멈췄어요",
    ];

    let verdicts = client(settings(&mock))
        .classify_batch(&texts)
        .await
        .unwrap();

    assert_eq!(mock.calls(), 1);
    assert_eq!(mock.received_items(), [texts.map(String::from).to_vec()]);
    assert_eq!(
        labels(&verdicts),
        [
            Some((Category::Electrical, Priority::Medium)),
            Some((Category::Hvac, Priority::Medium)),
            Some((Category::Plumbing, Priority::Medium)),
            Some((Category::Structural, Priority::Low)),
            Some((Category::Other, Priority::High)),
        ]
    );
}

#[tokio::test]
async fn descriptions_with_newlines_and_quotes_reach_the_provider_intact() {
    let mock = MockLlm::start(vec![]);
    let tricky = "첫 줄\n2. \"가짜 항목\"";
    let verdicts = client(settings(&mock))
        .classify_batch(&[tricky, "전등"])
        .await
        .unwrap();
    assert_eq!(
        mock.received_items(),
        [vec![tricky.to_owned(), "전등".into()]]
    );
    assert_eq!(verdicts.len(), 2);
}

#[tokio::test]
async fn an_empty_batch_makes_no_call() {
    let mock = MockLlm::start(vec![]);
    let verdicts = client(settings(&mock)).classify_batch(&[]).await.unwrap();
    assert!(verdicts.is_empty());
    assert_eq!(mock.calls(), 0);
}

#[tokio::test]
async fn a_missing_item_is_none_and_the_others_stand() {
    let mock = MockLlm::start(vec![Behaviour::AnswerMissing(vec![2])]);
    let verdicts = client(settings(&mock))
        .classify_batch(&["전등이 나갔어요", "보일러 소음", "변기가 막혔어요"])
        .await
        .unwrap();
    assert_eq!(
        labels(&verdicts),
        [
            Some((Category::Electrical, Priority::Medium)),
            None,
            Some((Category::Plumbing, Priority::Medium)),
        ]
    );
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn out_of_range_labels_void_only_their_item() {
    let content = results_content(json!([
        {"id": 1, "category": "plumbing", "priority": "urgent", "reason": "x"},
        {"id": 2, "category": "processing", "priority": "high", "reason": "x"},
        {"id": 3, "category": "hvac", "priority": "low", "reason": "x"},
        {"id": 4, "category": "other", "priority": "high", "reason": "x"},
    ]));
    let mock = MockLlm::start(vec![Behaviour::AnswerRaw(content)]);
    let verdicts = client(settings(&mock))
        .classify_batch(&["a", "b", "c"])
        .await
        .unwrap();
    assert_eq!(
        labels(&verdicts),
        [None, None, Some((Category::Hvac, Priority::Low))]
    );
}

#[tokio::test]
async fn an_answer_with_no_valid_item_is_malformed() {
    let content = results_content(json!([
        {"id": 1, "category": "plumbing", "priority": "urgent", "reason": "x"},
        {"id": 2, "category": "processing", "priority": "high", "reason": "x"},
    ]));
    let mock = MockLlm::start(vec![Behaviour::AnswerRaw(content)]);
    let result = client(settings(&mock)).classify_batch(&["a", "b"]).await;
    assert!(matches!(result, Err(LlmError::Malformed(_))), "{result:?}");
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn invalid_json_content_is_malformed_and_not_retried() {
    let mock = MockLlm::start(vec![Behaviour::AnswerRaw(
        "Sure! Category: plumbing".into(),
    )]);
    let result = client(settings(&mock)).classify_batch(&["물이 새요"]).await;
    assert!(matches!(result, Err(LlmError::Malformed(_))), "{result:?}");
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn a_body_that_is_not_a_chat_completion_is_malformed() {
    let mock = MockLlm::start(vec![Behaviour::RawBody(r#"{"ok": true}"#.into())]);
    let result = client(settings(&mock)).classify_batch(&["물이 새요"]).await;
    assert!(matches!(result, Err(LlmError::Malformed(_))), "{result:?}");
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn fenced_json_content_is_accepted() {
    let content = format!(
        "```json\n{}\n```",
        results_content(json!([{"id": 1, "category": "hvac", "priority": "high", "reason": "x"}]))
    );
    let mock = MockLlm::start(vec![Behaviour::AnswerRaw(content)]);
    let verdicts = client(settings(&mock))
        .classify_batch(&["난방이 안 돼요"])
        .await
        .unwrap();
    assert_eq!(labels(&verdicts), [Some((Category::Hvac, Priority::High))]);
}

#[tokio::test]
async fn rate_limited_with_retry_after_waits_then_succeeds() {
    let mock = MockLlm::start(vec![Behaviour::RateLimited {
        retry_after_secs: Some(1),
    }]);
    let started = Instant::now();

    let result = client(settings(&mock)).classify_batch(&["전등"]).await;

    assert!(result.is_ok(), "{result:?}");
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(mock.calls(), 2);
    let times = mock.call_times();
    assert!(times[1] - times[0] >= Duration::from_millis(950));
}

#[tokio::test]
async fn rate_limited_without_retry_after_backs_off_and_succeeds() {
    let mock = MockLlm::start(vec![Behaviour::RateLimited {
        retry_after_secs: None,
    }]);
    let result = client(settings(&mock)).classify_batch(&["전등"]).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(mock.calls(), 2);
    let times = mock.call_times();
    // The first backoff is 250 ms ± 50%.
    assert!(times[1] - times[0] >= Duration::from_millis(120));
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_fails_at_once() {
    let mock = MockLlm::start(vec![Behaviour::RateLimited {
        retry_after_secs: Some(60),
    }]);
    let started = Instant::now();

    let result = client(settings(&mock)).classify_batch(&["전등"]).await;

    match result {
        Err(LlmError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(60)));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(mock.calls(), 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let mock = MockLlm::start(vec![Behaviour::Status(500), Behaviour::Status(503)]);
    let verdicts = client(settings(&mock))
        .classify_batch(&["전등이 깜빡입니다"])
        .await
        .unwrap();
    assert_eq!(
        labels(&verdicts),
        [Some((Category::Electrical, Priority::Medium))]
    );
    assert_eq!(mock.calls(), 3);
}

#[tokio::test]
async fn persistent_server_errors_fail_after_the_retries() {
    let mock = MockLlm::builder(vec![])
        .default_behaviour(Behaviour::Status(500))
        .start();
    let result = client(settings(&mock)).classify_batch(&["전등"]).await;
    assert!(matches!(result, Err(LlmError::Status(500))), "{result:?}");
    assert_eq!(mock.calls(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let mock = MockLlm::start(vec![Behaviour::Status(401)]);
    let result = client(settings(&mock)).classify_batch(&["전등"]).await;
    assert!(matches!(result, Err(LlmError::Status(401))), "{result:?}");
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_retried() {
    let mock = MockLlm::start(vec![Behaviour::Hang(Duration::from_secs(5))]);
    let llm = client(LlmSettings {
        timeout: Duration::from_millis(300),
        ..settings(&mock)
    });
    let started = Instant::now();

    let result = llm.classify_batch(&["전등"]).await;

    assert!(result.is_ok(), "{result:?}");
    assert_eq!(mock.calls(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_provider_that_always_hangs_times_out() {
    let mock = MockLlm::builder(vec![])
        .default_behaviour(Behaviour::Hang(Duration::from_secs(5)))
        .start();
    let llm = client(LlmSettings {
        timeout: Duration::from_millis(200),
        max_retries: 1,
        ..settings(&mock)
    });
    let started = Instant::now();

    let result = llm.classify_batch(&["전등"]).await;

    assert!(matches!(result, Err(LlmError::Timeout)), "{result:?}");
    assert_eq!(mock.calls(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_transport_error() {
    // Bind then drop a listener: its port is then (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mock = MockLlm::start(vec![]);
    let llm = client(LlmSettings {
        base_url: format!("http://127.0.0.1:{port}"),
        max_retries: 0,
        ..settings(&mock)
    });
    let result = llm.classify_batch(&["전등"]).await;
    assert!(matches!(result, Err(LlmError::Transport(_))), "{result:?}");
}

#[tokio::test]
async fn the_circuit_opens_fails_fast_and_closes_after_the_cooldown() {
    let mock = MockLlm::start(vec![Behaviour::Status(500), Behaviour::Status(500)]);
    let llm = client(LlmSettings {
        max_retries: 0,
        breaker_threshold: 2,
        breaker_cooldown: Duration::from_millis(300),
        ..settings(&mock)
    });

    for _ in 0..2 {
        let result = llm.classify_batch(&["전등"]).await;
        assert!(matches!(result, Err(LlmError::Status(500))), "{result:?}");
    }
    assert!(!llm.is_available());
    let started = Instant::now();
    let result = llm.classify_batch(&["전등"]).await;
    assert!(matches!(result, Err(LlmError::CircuitOpen)), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(mock.calls(), 2, "an open circuit makes no HTTP call");

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(llm.is_available());
    assert!(llm.classify_batch(&["전등"]).await.is_ok());
    assert!(llm.is_available());
    assert!(llm.classify_batch(&["전등"]).await.is_ok());
    assert_eq!(mock.calls(), 4);
}

#[tokio::test]
async fn an_endless_body_is_refused_once_past_the_size_limit() {
    let mock = MockLlm::builder(vec![])
        .default_behaviour(Behaviour::EndlessBody)
        .start();
    let llm = client(settings(&mock));
    let result = llm.classify_batch(&["전등"]).await;
    assert!(
        matches!(result, Err(LlmError::TooLarge { limit }) if limit == DEFAULT_MAX_RESPONSE_BYTES),
        "{result:?}"
    );
    assert_eq!(mock.calls(), 1, "a body that large is not asked for again");
}

#[tokio::test]
async fn a_valid_answer_larger_than_the_limit_is_refused() {
    let mock = MockLlm::start(vec![Behaviour::AnswerPadded(3 * 1024 * 1024)]);
    let llm = client(settings(&mock));
    let result = llm.classify_batch(&["전등"]).await;
    assert!(
        matches!(result, Err(LlmError::TooLarge { .. })),
        "{result:?}"
    );
    assert!(
        llm.classify_batch(&["전등"]).await.is_ok(),
        "a normal answer still passes"
    );
}

#[tokio::test]
async fn malformed_answers_do_not_open_the_circuit() {
    let mock = MockLlm::builder(vec![Behaviour::Status(500)])
        .default_behaviour(Behaviour::AnswerRaw("this is not json".into()))
        .start();
    let llm = client(LlmSettings {
        max_retries: 0,
        breaker_threshold: 2,
        ..settings(&mock)
    });
    assert!(matches!(
        llm.classify_batch(&["전등"]).await,
        Err(LlmError::Status(500))
    ));
    for _ in 0..3 {
        let result = llm.classify_batch(&["전등"]).await;
        assert!(matches!(result, Err(LlmError::Malformed(_))), "{result:?}");
    }
    assert!(llm.is_available());
    assert_eq!(mock.calls(), 4, "every call reached the provider");
}

#[tokio::test]
async fn a_failed_trial_call_reopens_the_circuit() {
    let mock = MockLlm::builder(vec![])
        .default_behaviour(Behaviour::Status(503))
        .start();
    let llm = client(LlmSettings {
        max_retries: 0,
        breaker_threshold: 2,
        breaker_cooldown: Duration::from_millis(300),
        ..settings(&mock)
    });
    for _ in 0..2 {
        assert!(llm.classify_batch(&["전등"]).await.is_err());
    }
    tokio::time::sleep(Duration::from_millis(350)).await;

    let trial = llm.classify_batch(&["전등"]).await;
    assert!(matches!(trial, Err(LlmError::Status(503))), "{trial:?}");
    assert_eq!(mock.calls(), 3);
    let result = llm.classify_batch(&["전등"]).await;
    assert!(matches!(result, Err(LlmError::CircuitOpen)), "{result:?}");
    assert_eq!(mock.calls(), 3);
    assert!(!llm.is_available());
}

#[tokio::test]
async fn the_rate_limiter_spaces_calls() {
    let mock = MockLlm::start(vec![]);
    let llm = client(LlmSettings {
        requests_per_minute: 120,
        ..settings(&mock)
    });
    let started = Instant::now();
    llm.classify_batch(&["전등"]).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the first call does not wait"
    );
    llm.classify_batch(&["보일러"]).await.unwrap();

    let times = mock.call_times();
    assert_eq!(times.len(), 2);
    let gap = times[1] - times[0];
    assert!(gap >= Duration::from_millis(450), "calls {gap:?} apart");
}

#[tokio::test]
async fn clones_share_one_rate_limit() {
    let mock = MockLlm::start(vec![]);
    let llm = client(LlmSettings {
        requests_per_minute: 120,
        ..settings(&mock)
    });
    let other = llm.clone();
    let (a, b) = tokio::join!(
        llm.classify_batch(&["전등"]),
        other.classify_batch(&["보일러"])
    );
    assert!(a.is_ok() && b.is_ok());
    let times = mock.call_times();
    let gap = times[1] - times[0];
    assert!(gap >= Duration::from_millis(450), "calls {gap:?} apart");
}

//! `Idempotency-Key` on POST /api/requests: a retry gets the first answer, never a duplicate.

use crate::helpers::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

async fn submit_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> Response {
    app.client
        .post(app.url("/api/requests"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn my_request_count(app: &TestApp, token: &str) -> u64 {
    let response = app.get(Some(token), "/api/my-requests").await;
    response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn leak() -> Value {
    json!({"description": "주방 싱크대 아래에서 물이 새요", "location": "101동 1203호"})
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_first_answer_and_creates_nothing() {
    let app = spawn_app().await;
    let (_, token) = app.resident("retry@example.com").await;

    let first = submit_with_key(&app, &token, "key-1", &leak()).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();
    let retry = submit_with_key(&app, &token, "key-1", &leak()).await;

    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.text().await.unwrap(), first_body);
    assert_eq!(my_request_count(&app, &token).await, 1);
    let another = submit_with_key(&app, &token, "key-2", &leak()).await;
    assert_eq!(another.status(), StatusCode::OK);
    assert_eq!(my_request_count(&app, &token).await, 2);
}

#[tokio::test]
async fn the_same_key_from_another_account_is_independent() {
    let app = spawn_app().await;
    let (_, alice) = app.resident("alice@example.com").await;
    let (_, bob) = app.resident("bob@example.com").await;

    let a: Value = submit_with_key(&app, &alice, "shared", &leak())
        .await
        .json()
        .await
        .unwrap();
    let b = submit_with_key(&app, &bob, "shared", &leak()).await;
    let alice_retry = submit_with_key(&app, &alice, "shared", &leak()).await;

    assert_eq!(alice_retry.headers()["idempotent-replayed"], "true");
    assert_eq!(b.status(), StatusCode::OK);
    assert!(b.headers().get("idempotent-replayed").is_none());
    let b: Value = b.json().await.unwrap();
    assert_ne!(a["id"], b["id"]);
    assert_eq!(my_request_count(&app, &bob).await, 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_refused() {
    let app = spawn_app().await;
    let (_, token) = app.resident("reuse@example.com").await;
    submit_with_key(&app, &token, "key", &leak()).await;

    let other = json!({"description": "복도 전등이 나갔어요"});
    let response = submit_with_key(&app, &token, "key", &other).await;

    let detail = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(detail.contains("Idempotency-Key"), "{detail}");
    assert_eq!(my_request_count(&app, &token).await, 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_request() {
    let app = spawn_app().await;
    let (_, token) = app.resident("burst@example.com").await;

    let body = leak();
    let attempts = (0..12).map(|_| submit_with_key(&app, &token, "burst", &body));
    let responses = futures_util::future::join_all(attempts).await;

    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        ids.push(response.json::<Value>().await.unwrap()["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(my_request_count(&app, &token).await, 1);
}

#[tokio::test]
async fn a_key_is_forgotten_after_24_hours() {
    let app = spawn_app().await;
    let (_, token) = app.resident("later@example.com").await;
    let first: Value = submit_with_key(&app, &token, "daily", &leak())
        .await
        .json()
        .await
        .unwrap();
    submit_with_key(&app, &token, "unused", &leak()).await;
    let db = rusqlite::Connection::open(app.db_path()).unwrap();
    let count = |db: &rusqlite::Connection| -> i64 {
        db.query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&db), 2);
    let day_ago = (chrono::Utc::now() - chrono::Duration::hours(25))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    db.execute("UPDATE idempotency_keys SET created_at = ?1", [&day_ago])
        .unwrap();

    let again = submit_with_key(&app, &token, "daily", &leak()).await;

    assert_eq!(again.status(), StatusCode::OK);
    assert!(again.headers().get("idempotent-replayed").is_none());
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["id"], first["id"]);
    assert_eq!(count(&db), 1, "expired keys are pruned");
}

#[tokio::test]
async fn a_malformed_key_is_a_422() {
    let app = spawn_app().await;
    let (_, token) = app.resident("badkey@example.com").await;
    let long = "k".repeat(256);
    for key in ["", "   ", long.as_str()] {
        let response = submit_with_key(&app, &token, key, &leak()).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(my_request_count(&app, &token).await, 0);
}

#[tokio::test]
async fn browsers_on_an_allowed_origin_may_send_the_key_and_read_the_replay_flag() {
    let app = spawn_app_with(&[("ALLOWED_ORIGINS", "http://localhost:3000")]).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/requests"))
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");

    let (_, token) = app.resident("cors@example.com").await;
    let response = app
        .client
        .post(app.url("/api/requests"))
        .bearer_auth(&token)
        .header("Origin", "http://localhost:3000")
        .header("Idempotency-Key", "cors")
        .json(&leak())
        .send()
        .await
        .unwrap();
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("idempotent-replayed"), "{exposed}");
}

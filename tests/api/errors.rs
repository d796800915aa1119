use crate::helpers::*;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

#[tokio::test]
async fn health_answers_after_checking_the_database() {
    let app = spawn_app().await;
    let response = app.get(None, "/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn health_is_503_while_another_process_holds_the_write_lock_and_recovers_after() {
    let app = spawn_app().await;
    let other = rusqlite::Connection::open(app.db_path()).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let blocked = app.get(None, "/health").await;
    assert_eq!(blocked.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["writes"], "failing");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("write lock"), "{detail}");

    other.execute_batch("ROLLBACK").unwrap();
    let recovered = app.get(None, "/health").await;
    assert_eq!(recovered.status(), StatusCode::OK);
    let body: Value = recovered.json().await.unwrap();
    assert_eq!(body["writes"], "ok");
}

/// Another process holding the write lock past the busy timeout fails the writes waiting
/// for it with 503 (and Retry-After), never a 500; once it lets go, the next write commits.
#[tokio::test]
async fn a_write_waiting_past_the_busy_timeout_is_503_and_the_next_one_commits() {
    let app = spawn_app().await;
    let (_, token) = app.resident("r@example.com").await;
    let other = rusqlite::Connection::open(app.db_path()).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let body = json!({"description": "현관문이 안 닫혀요"});
    let blocked = app.post_json(Some(&token), "/api/requests", &body).await;
    assert_eq!(blocked.headers()["retry-after"], "1");
    assert_error(blocked, StatusCode::SERVICE_UNAVAILABLE).await;

    other.execute_batch("ROLLBACK").unwrap();
    let created = app.submit(&token, "현관문이 안 닫혀요").await;
    let mine: Value = app
        .get(Some(&token), "/api/my-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        mine.as_array().unwrap().len(),
        1,
        "only the second one was stored"
    );
    assert_eq!(mine[0]["id"], created["id"]);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_detail_shape() {
    let app = spawn_app().await;
    assert_error(
        app.get(None, "/api/nothing-here").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(app.get(None, "/no/such/page").await, StatusCode::NOT_FOUND).await;
    let put = app
        .client
        .put(app.url("/api/requests"))
        .send()
        .await
        .unwrap();
    assert!(
        put.status() == StatusCode::METHOD_NOT_ALLOWED || put.status() == StatusCode::NOT_FOUND,
        "{}",
        put.status()
    );
    assert_eq!(put.headers()[CONTENT_TYPE], "application/json");
    let body: Value = put.json().await.unwrap();
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = spawn_app().await;
    let (_, token) = app.resident("big@example.com").await;
    let huge = json!({"description": "x".repeat(70 * 1024)});
    let detail = assert_error(
        app.post_json(Some(&token), "/api/requests", &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(detail.contains("64"), "{detail}");
    let form = "username=a&password=".to_owned() + &"p".repeat(70 * 1024);
    let login = app
        .client
        .post(app.url("/api/auth/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_error(login, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn a_wrong_content_type_is_415_and_malformed_json_is_422() {
    let app = spawn_app().await;
    let (_, token) = app.resident("ct@example.com").await;
    let text = app
        .client
        .post(app.url("/api/requests"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "text/plain")
        .body(r#"{"description": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_error(text, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let login = app
        .client
        .post(app.url("/api/auth/login"))
        .header(CONTENT_TYPE, "text/plain")
        .body("username=a&password=b")
        .send()
        .await
        .unwrap();
    assert_error(login, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    for body in [
        r#"{"description": "x""#,
        "not json",
        "",
        r#"{"description": null}"#,
    ] {
        let response = app
            .client
            .post(app.url("/api/requests"))
            .bearer_auth(&token)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let bad_login = app
        .client
        .post(app.url("/api/auth/login"))
        .header(CONTENT_TYPE, "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(bad_login, StatusCode::UNPROCESSABLE_ENTITY).await;
    let missing_field = app.login_form("", "").await;
    assert_eq!(missing_field.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let app = spawn_app_with(&[("ALLOWED_ORIGINS", "http://localhost:3000")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/requests"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let refused = preflight("http://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let listed = app.get(None, "/health").await;
    assert!(
        listed
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "no Origin, no CORS headers"
    );

    let closed = spawn_app().await;
    let response = closed
        .client
        .get(closed.url("/health"))
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

//! What the server does against misbehaving clients and caches: stalled bodies, connection
//! floods, malformed requests, password guessing, cached account data.

use crate::helpers::*;
use crate::pages::{browser, log_in};
use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;

#[tokio::test]
async fn account_pages_and_json_are_never_stored_by_caches() {
    let app = spawn_app().await;
    let (_, token) = app.resident("private@example.com").await;
    for path in ["/api/auth/me", "/api/my-requests", "/api/requests/999"] {
        let response = app.get(Some(&token), path).await;
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store", "{path}");
    }
    let anonymous = app.get(None, "/api/auth/me").await;
    assert_eq!(anonymous.headers()[CACHE_CONTROL], "no-store");

    let client = browser();
    let home = log_in(&app, &client, "private@example.com", PASSWORD).await;
    let page = client.get(app.url(&home)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store", "{home}");
}

/// A login form sent through a proxy that says it forwarded `client`.
async fn login_via(app: &TestApp, client: &str, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("X-Forwarded-For", client)
        .form(&[("username", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_eleventh_wrong_password_for_one_account_is_429_whatever_address_it_comes_from() {
    let app = spawn_app_with(&[
        ("LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE", "10"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    app.resident("victim@example.com").await;
    app.resident("bystander@example.com").await;
    for i in 0..10 {
        let response = login_via(
            &app,
            &format!("203.0.113.{i}"),
            "victim@example.com",
            "guess",
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }

    let eleventh = login_via(&app, "198.51.100.7", "Victim@Example.com", "guess").await;
    assert!(eleventh.headers().contains_key("retry-after"));
    let detail = assert_error(eleventh, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(detail.contains("Too many"), "{detail}");
    let other = login_via(&app, "203.0.113.1", "bystander@example.com", "guess").await;
    assert_eq!(
        other.status(),
        StatusCode::UNAUTHORIZED,
        "another account is not locked"
    );
}

#[tokio::test]
async fn successful_logins_are_never_limited() {
    let app = spawn_app_with(&[
        ("AUTH_RATE_LIMIT_PER_MINUTE", "3"),
        ("LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE", "3"),
    ])
    .await;
    for _ in 0..8 {
        assert_eq!(
            app.login_form(SUPER_EMAIL, SUPER_PASSWORD).await.status(),
            StatusCode::OK
        );
    }
    for _ in 0..3 {
        let wrong = app.login_form(SUPER_EMAIL, "wrong").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    assert_error(
        app.login_form(SUPER_EMAIL, "wrong").await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    for (trusted, limited) in [("10.0.0.0/8", true), ("127.0.0.1", false)] {
        let app = spawn_app_with(&[
            ("AUTH_RATE_LIMIT_PER_MINUTE", "3"),
            ("TRUSTED_PROXIES", trusted),
        ])
        .await;
        let mut statuses = Vec::new();
        for i in 0..4 {
            let email = format!("nobody{i}@example.com");
            let response = login_via(&app, &format!("203.0.113.{i}"), &email, "guess").await;
            statuses.push(response.status());
        }
        let fourth = if limited {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(
            statuses,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                fourth
            ],
            "peer 127.0.0.1 with TRUSTED_PROXIES={trusted}"
        );
    }
}

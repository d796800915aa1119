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

//! The server-rendered pages, over HTTP as a browser sends it.

use crate::helpers::*;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};

/// A browser: keeps cookies, does not follow redirects (so tests can see them), asks for HTML.
pub fn browser() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ACCEPT, "text/html".parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The hidden CSRF token of the form on a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Loads a page and returns the CSRF token of its form.
pub async fn form_token(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    csrf_of(&response.text().await.unwrap())
}

/// Logs a browser in through the login form; returns where it was sent.
pub async fn log_in(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> String {
    let csrf = form_token(client, &app.url("/login")).await;
    let response = client
        .post(app.url("/login"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "login of {email}");
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn pages_carry_the_security_headers() {
    let app = spawn_app().await;
    let response = browser().get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers().contains_key("referrer-policy"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"ko\">"));
    assert!(html.contains("로그인") && html.contains("회원가입"));
    assert!(!html.contains("<script>"), "no inline scripts");
}

#[tokio::test]
async fn static_files_are_embedded_and_cached_by_content_hash() {
    let app = spawn_app().await;
    let html = browser()
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css = html
        .split("href=\"/static/app.")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let url = app.url(&format!("/static/app.{css}"));
    let response = browser().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(response.text().await.unwrap().contains("--brand"));
    let missing = browser()
        .get(app.url("/static/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_pages_get_the_404_page_and_api_clients_json() {
    let app = spawn_app().await;
    let page = browser()
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("페이지를 찾을 수 없습니다")
    );
    assert_error(app.get(None, "/no/such/page").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    app.register("kim@example.com", PASSWORD).await;
    let client = browser();
    form_token(&client, &app.url("/login")).await;
    for token in ["", "forged-token-forged-token-forged-token"] {
        let response = client
            .post(app.url("/login"))
            .form(&[
                ("email", "kim@example.com"),
                ("password", PASSWORD),
                ("csrf_token", token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.text().await.unwrap().contains("보안 토큰"));
    }
    // A token from another browser does not work either.
    let other = form_token(&browser(), &app.url("/login")).await;
    let response = client
        .post(app.url("/login"))
        .form(&[
            ("email", "kim@example.com"),
            ("password", PASSWORD),
            ("csrf_token", other.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logging_in_sets_an_httponly_session_and_sends_each_role_home() {
    let app = spawn_app().await;
    app.resident("resident@example.com").await;
    app.admin("staff@example.com").await;

    let resident = browser();
    let csrf = form_token(&resident, &app.url("/login")).await;
    let response = resident
        .post(app.url("/login"))
        .form(&[
            ("email", "resident@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/my-requests");
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    assert_eq!(
        log_in(&app, &browser(), "staff@example.com", PASSWORD).await,
        "/admin"
    );

    let wrong = browser();
    let csrf = form_token(&wrong, &app.url("/login")).await;
    let refused = wrong
        .post(app.url("/login"))
        .form(&[
            ("email", "resident@example.com"),
            ("password", "wrong password"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let html = refused.text().await.unwrap();
    assert!(html.contains("올바르지 않습니다"));
    assert!(
        html.contains("value=\"resident@example.com\""),
        "the form keeps what was typed"
    );
}

#[tokio::test]
async fn login_returns_to_the_page_asked_for_but_never_to_another_site() {
    let app = spawn_app().await;
    app.resident("r@example.com").await;
    let client = browser();
    let csrf = form_token(&client, &app.url("/login?next=/requests/new")).await;
    for (next, expected) in [
        ("/requests/new", "/requests/new"),
        ("//evil.example/x", "/my-requests"),
    ] {
        let response = client
            .post(app.url("/login"))
            .form(&[
                ("email", "r@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[LOCATION], expected);
    }
}

#[tokio::test]
async fn registering_through_the_form_logs_in_and_shows_a_welcome() {
    let app = spawn_app().await;
    let client = browser();
    let csrf = form_token(&client, &app.url("/register")).await;
    let short = client
        .post(app.url("/register"))
        .form(&[
            ("email", "new@example.com"),
            ("password", "short"),
            ("full_name", "홍길동"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = short.text().await.unwrap();
    assert!(html.contains("8바이트") && html.contains("value=\"홍길동\""));

    let ok = client
        .post(app.url("/register"))
        .form(&[
            ("email", "new@example.com"),
            ("password", PASSWORD),
            ("full_name", "홍길동"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()[LOCATION], "/my-requests");
    let home = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("가입을 환영합니다"),
        "the flash message is shown once"
    );
    assert!(home.contains("로그아웃"));
    let again = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!again.contains("가입을 환영합니다"), "and only once");

    let taken = client
        .post(app.url("/register"))
        .form(&[
            ("email", "new@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let app = spawn_app().await;
    app.resident("r@example.com").await;
    let client = browser();
    log_in(&app, &client, "r@example.com", PASSWORD).await;
    let home = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf_of(&home))])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let after = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(after.contains("로그아웃되었습니다") && after.contains("href=\"/login\""));
}

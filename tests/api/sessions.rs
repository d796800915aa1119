//! Sessions and ids: what keeps one account from ever acting as another, and keeps other
//! sites from acting through a logged-in browser.

use crate::helpers::*;
use crate::live::{Ws, close_frame, connect, next, settle, ws_url};
use crate::pages::csrf_of;
use crate::photos::{JPEG, upload, uploads};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use std::time::Duration;

/// A client that keeps no cookies and follows no redirects: cookies are passed by hand.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a cookie a response sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// A browser's page session, made by hand so tests can copy and replay its parts.
struct PageSession {
    /// `session=...`
    cookie: String,
    /// The CSRF token its pages carry.
    csrf: String,
}

impl PageSession {
    fn value(&self) -> &str {
        self.cookie.trim_start_matches("session=")
    }
}

async fn page_login(app: &TestApp, email: &str, password: &str) -> PageSession {
    let client = plain_client();
    let form = client.get(app.url("/login")).send().await.unwrap();
    let nonce = set_cookie(&form, "csrf").expect("a pre-session cookie");
    let csrf = csrf_of(&form.text().await.unwrap());
    let response = client
        .post(app.url("/login"))
        .header(COOKIE, &nonce)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "login of {email}");
    let cookie = set_cookie(&response, "session").expect("a session cookie");
    let page = client
        .get(app.url("/my-requests"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_of(&page.text().await.unwrap());
    PageSession { cookie, csrf }
}

/// Whether a page request with this cookie is logged in (the page would otherwise redirect).
async fn logged_in(app: &TestApp, cookie: &str) -> bool {
    let response = plain_client()
        .get(app.url("/my-requests"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    response.status() == StatusCode::OK
}

async fn post_form(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = plain_client()
        .post(app.url(path))
        .header(COOKIE, cookie)
        .form(form);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn role_of(app: &TestApp, email: &str) -> String {
    let users: Value = app
        .get(Some(&app.super_token().await), "/api/admin/users")
        .await
        .json()
        .await
        .unwrap();
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .map(|u| u["role"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no account {email}"))
}

#[tokio::test]
async fn ids_of_deleted_accounts_and_requests_are_never_given_again() {
    let app = spawn_app().await;
    let root = app.super_token().await;
    let (_, resident) = app.resident("first@example.com").await;
    let (gone_id, gone_token) = app.resident("leaving@example.com").await;
    app.submit(&gone_token, "연락처 010-1234-5678 욕실 누수")
        .await;
    let page = page_login(&app, "leaving@example.com", PASSWORD).await;
    let deleted = app
        .delete(Some(&root), &format!("/api/admin/users/{gone_id}"))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // The next account gets a new id, and nothing the old one held works for it.
    let (new_id, new_token) = app.resident("newcomer@example.com").await;
    assert!(new_id > gone_id, "id {gone_id} was given again");
    assert_error(
        app.get(Some(&gone_token), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(!logged_in(&app, &page.cookie).await, "the old page cookie");
    // The newcomer's live replay holds nothing of the deleted account's (at most a resync:
    // the deleted request's events are gone from the log).
    let mut ws = connect(&app, &new_token, "since=0").await;
    while let Ok(frame) = tokio::time::timeout(Duration::from_millis(500), next(&mut ws)).await {
        assert_eq!(frame, json!({"type": "resync"}), "replayed to the newcomer");
    }

    // The same for requests: a deleted request's id, history and events stay its own.
    let kept = app.submit(&resident, "전등이 나갔어요").await;
    let newest = app.submit(&resident, "창문이 안 닫혀요").await;
    let withdrawn = app
        .delete(Some(&resident), &format!("/api/requests/{}", newest["id"]))
        .await;
    assert!(withdrawn.status().is_success());
    let next_request = app.submit(&resident, "현관문 고장").await;
    assert!(next_request["id"].as_i64() > newest["id"].as_i64());
    assert!(next_request["id"].as_i64() > kept["id"].as_i64());
    let history: Value = app
        .get(
            Some(&resident),
            &format!("/api/requests/{}/history", next_request["id"]),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
}

#[tokio::test]
async fn logging_out_ends_that_session_and_logging_out_everywhere_ends_them_all() {
    let app = spawn_app().await;
    let (_, laptop) = app.resident("r@example.com").await;
    let phone = app.token("r@example.com", PASSWORD).await;
    let response = app
        .post_json(Some(&laptop), "/api/auth/logout", &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(Some(&laptop), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        app.get(Some(&phone), "/api/auth/me").await.status(),
        StatusCode::OK,
        "only the session that logged out ended"
    );

    // A page session ends on the server: a copy of the cookie kept from before is refused.
    let page = page_login(&app, "r@example.com", PASSWORD).await;
    let response = post_form(
        &app,
        &page.cookie,
        "/logout",
        &[("csrf_token", &page.csrf)],
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!logged_in(&app, &page.cookie).await, "replayed cookie");

    // Log out everywhere, from the pages: the API tokens end too.
    let page = page_login(&app, "r@example.com", PASSWORD).await;
    let other_page = page_login(&app, "r@example.com", PASSWORD).await;
    let response = post_form(
        &app,
        &page.cookie,
        "/logout-everywhere",
        &[("csrf_token", &page.csrf)],
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!logged_in(&app, &page.cookie).await);
    assert!(!logged_in(&app, &other_page.cookie).await);
    assert_error(
        app.get(Some(&phone), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // And from the API.
    let one = app.token("r@example.com", PASSWORD).await;
    let two = app.token("r@example.com", PASSWORD).await;
    let response = app
        .post_json(Some(&one), "/api/auth/logout-everywhere", &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for token in [&one, &two] {
        assert_error(
            app.get(Some(token), "/api/auth/me").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
}

#[tokio::test]
async fn a_page_cookie_is_no_bearer_token_and_an_api_token_no_page_session() {
    let app = spawn_app().await;
    let (_, token) = app.resident("r@example.com").await;
    let page = page_login(&app, "r@example.com", PASSWORD).await;
    assert_error(
        app.get(Some(page.value()), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(!logged_in(&app, &format!("session={token}")).await);
    // Each works where it belongs.
    assert!(logged_in(&app, &page.cookie).await);
    assert_eq!(
        app.get(Some(&token), "/api/auth/me").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_socket_closes_when_its_session_ends_or_expires() {
    let secret = "a-signing-key-for-this-test-0123456789";
    let app = spawn_app_with(&[("SECRET_KEY", secret)]).await;
    let (id, token) = app.resident("r@example.com").await;
    let mut ws = connect(&app, &token, "").await;
    settle().await;
    app.post_json(Some(&token), "/api/auth/logout", &json!({}))
        .await;
    let closed = close_frame(&mut ws).await.expect("a close frame");
    assert!(closed.reason.contains("session ended"), "{closed:?}");

    // A token that expires in two seconds (its session lives on): the socket closes then.
    let live = app.token("r@example.com", PASSWORD).await;
    let sid = crate::accounts::session_of(&live);
    let now = chrono::Utc::now().timestamp();
    let short = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": id.to_string(), "sid": sid, "iat": now, "exp": now + 2}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let mut ws = connect(&app, &short, "").await;
    ws_ping(&mut ws).await;
    let closed = close_frame(&mut ws).await.expect("a close frame");
    assert!(closed.reason.contains("expired"), "{closed:?}");
}

async fn ws_ping(ws: &mut Ws) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text("ping"))
        .await
        .unwrap();
    assert_eq!(next(ws).await, json!("pong"));
}

/// Opens `/ws` with these headers; the HTTP status of the answer (101 when upgraded).
async fn ws_status(app: &TestApp, query: &str, headers: &[(&'static str, String)]) -> u16 {
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url(
            app, query,
        ))
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_cookie_socket_from_another_origin_is_refused() {
    let app = spawn_app_with(&[("ALLOWED_ORIGINS", "https://app.example.com")]).await;
    let (_, token) = app.resident("r@example.com").await;
    let page = page_login(&app, "r@example.com", PASSWORD).await;
    let cookie = ("Cookie", page.cookie.clone());
    let own = app.address.clone();
    let other_port = {
        let port: u16 = own.rsplit(':').next().unwrap().parse().unwrap();
        format!("http://127.0.0.1:{}", port.wrapping_add(1))
    };
    assert_eq!(
        ws_status(&app, "", &[cookie.clone(), ("Origin", own)]).await,
        101
    );
    assert_eq!(
        ws_status(
            &app,
            "",
            &[cookie.clone(), ("Origin", "https://app.example.com".into())]
        )
        .await,
        101,
        "a configured origin"
    );
    for origin in [other_port.as_str(), "https://evil.example", "null"] {
        assert_eq!(
            ws_status(&app, "", &[cookie.clone(), ("Origin", origin.into())]).await,
            403,
            "{origin}"
        );
    }
    // A token is not sent by a browser on its own: any origin may use one it holds.
    assert_eq!(
        ws_status(
            &app,
            &format!("token={token}"),
            &[("Origin", "https://evil.example".into())]
        )
        .await,
        101
    );
}

#[tokio::test]
async fn a_csrf_token_is_bound_to_its_session_and_forms_from_other_origins_are_refused() {
    let app = spawn_app().await;
    let (target, _) = app.resident("victim@example.com").await;
    let (_, _) = app.resident("attacker@example.com").await;
    let root = page_login(&app, SUPER_EMAIL, SUPER_PASSWORD).await;
    let attacker = page_login(&app, "attacker@example.com", PASSWORD).await;
    let path = format!("/admin/users/{target}/role");
    let promote = |csrf: &str| {
        [
            ("role", "super_admin".to_owned()),
            ("csrf_token", csrf.to_owned()),
        ]
    };

    // The attacker's own (valid) token does not work in the super admin's session.
    let form = promote(&attacker.csrf);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = post_form(&app, &root.cookie, &path, &form, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A planted cookie with a matching field (the old double-submit pair) is worth nothing.
    let planted = "0123456789abcdef0123456789abcdef0123456789abcdef";
    let cookie = format!("{}; csrf={planted}", root.cookie);
    let form = promote(planted);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = post_form(&app, &cookie, &path, &form, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // The right token, sent by a page of another origin or another site of the same host.
    let form = promote(&root.csrf);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for headers in [
        [("Origin", "http://127.0.0.1:1")],
        [("Origin", "null")],
        [("Sec-Fetch-Site", "same-site")],
        [("Sec-Fetch-Site", "cross-site")],
    ] {
        let refused = post_form(&app, &root.cookie, &path, &form, &headers).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{headers:?}");
    }
    assert_eq!(role_of(&app, "victim@example.com").await, "user");

    // From our own page it goes through.
    let own = app.address.clone();
    let done = post_form(
        &app,
        &root.cookie,
        &path,
        &form,
        &[("Origin", &own), ("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()[LOCATION], "/admin/users");
    assert_eq!(role_of(&app, "victim@example.com").await, "super_admin");
}

#[tokio::test]
async fn two_super_admins_demoting_each_other_at_once_leave_one() {
    for round in 0..5 {
        let app = spawn_app().await;
        let (second, _) = app.resident("second@example.com").await;
        let root = app.super_token().await;
        assert_eq!(
            app.set_role(&root, second, "super_admin").await.status(),
            StatusCode::OK
        );
        let me: Value = app.me(&root).await;
        let root_id = me["id"].as_i64().unwrap();
        let second_token = app.token("second@example.com", PASSWORD).await;
        let (a, b) = tokio::join!(
            app.set_role(&root, second, "admin"),
            app.set_role(&second_token, root_id, "admin"),
        );
        let succeeded = [a.status(), b.status()]
            .iter()
            .filter(|s| s.is_success())
            .count();
        assert_eq!(
            succeeded,
            1,
            "round {round}: {} and {}",
            a.status(),
            b.status()
        );
        let supers = [SUPER_EMAIL, "second@example.com"];
        let mut left = 0;
        for email in supers {
            let password = if email == SUPER_EMAIL {
                SUPER_PASSWORD
            } else {
                PASSWORD
            };
            let token = app.token(email, password).await;
            let me: Value = app.me(&token).await;
            left += usize::from(me["role"] == "super_admin");
        }
        assert_eq!(left, 1, "round {round}");
    }
}

#[tokio::test]
async fn deleting_an_account_deletes_each_request_with_its_photo_events_and_history() {
    let app = spawn_app().await;
    let root = app.super_token().await;
    let (id, resident) = app.resident("leaving@example.com").await;
    let with_photo = app
        .submit(&resident, "비밀 연락처 010-9999-0000 욕실 누수")
        .await;
    let plain = app.submit(&resident, "전등이 나갔어요 101동").await;
    let uploaded = upload(
        &app,
        Some(&resident),
        with_photo["id"].as_i64().unwrap(),
        "a.jpg",
        JPEG,
    )
    .await;
    assert!(uploaded.status().is_success());
    assert_eq!(uploads(&app).len(), 1);
    let (_, staff) = app.admin("staff@example.com").await;
    let mut watching = connect(&app, &staff, "").await;
    settle().await;

    let response = app
        .delete(Some(&root), &format!("/api/admin/users/{id}"))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(uploads(&app).is_empty(), "the photo stayed on disk");
    let mut deleted_live = Vec::new();
    for _ in 0..2 {
        let event = next(&mut watching).await;
        assert_eq!(event["type"], "request_deleted", "{event}");
        deleted_live.push(event["data"]["id"].clone());
    }
    assert!(deleted_live.contains(&with_photo["id"]) && deleted_live.contains(&plain["id"]));

    // The log keeps only that they were deleted: none of their text.
    let mut replay = connect(&app, &staff, "since=0").await;
    let mut frames = Vec::new();
    while let Ok(frame) = tokio::time::timeout(Duration::from_millis(700), next(&mut replay)).await
    {
        frames.push(frame.to_string());
    }
    assert!(!frames.is_empty());
    for frame in &frames {
        assert!(
            !frame.contains("010-9999-0000") && !frame.contains("101동"),
            "{frame}"
        );
    }

    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let deletions: i64 = conn
        .query_row(
            "SELECT count(*) FROM request_history WHERE action = 'deleted' AND request_id IN (?1, ?2)",
            [with_photo["id"].as_i64(), plain["id"].as_i64()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deletions, 2, "each request's deletion is in its history");
}

#[tokio::test]
async fn passwords_with_control_characters_and_invisible_emails_or_names_are_refused() {
    let app = spawn_app().await;
    for password in [
        "\0\0\0\0\0\0\0\0\0\0",
        "password\0suffix",
        "tab\tin password",
    ] {
        assert_error(
            app.register("nul@example.com", password).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let (_, token) = app.resident("r@example.com").await;
    let response = app
        .post_json(
            Some(&token),
            "/api/auth/change-password",
            &json!({"current_password": PASSWORD, "new_password": "\u{0}".repeat(12)}),
        )
        .await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    for username in ["r@example.com", "r@example.com\0"] {
        assert_error(
            app.login_form(username, "\0").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }

    for email in [
        "r\u{200B}@example.com",
        "\u{202E}r@example.com",
        "r@ex\u{0430}mple.com",
    ] {
        let detail = assert_error(
            app.register(email, PASSWORD).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(detail.contains("email"), "{detail}");
    }
    let response = app
        .post_json(
            None,
            "/api/auth/register",
            &json!({"email": "name@example.com", "password": PASSWORD, "full_name": "관리자\u{202E}"}),
        )
        .await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn a_login_under_way_when_the_sessions_end_gets_no_session() {
    // A slower hash widens the window between reading the password and starting the session.
    let app = spawn_app_with(&[("BCRYPT_COST", "11")]).await;
    let (id, _) = app.resident("r@example.com").await;
    let holder = app.token("r@example.com", PASSWORD).await;
    let racing = app.login_form("r@example.com", PASSWORD);
    let ending = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.post_json(Some(&holder), "/api/auth/logout-everywhere", &json!({}))
            .await
    };
    let (login, ended) = tokio::join!(racing, ending);
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    if login.status() == StatusCode::OK {
        let body: Value = login.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        assert_error(
            app.get(Some(token), "/api/auth/me").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    } else {
        assert_error(login, StatusCode::UNAUTHORIZED).await;
    }

    // A login racing the account's deletion is a 401, never a 500.
    let root = app.super_token().await;
    let racing = app.login_form("r@example.com", PASSWORD);
    let deleting = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.delete(Some(&root), &format!("/api/admin/users/{id}"))
            .await
    };
    let (login, deleted) = tokio::join!(racing, deleting);
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_error(login, StatusCode::UNAUTHORIZED).await;
}

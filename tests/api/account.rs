//! Account self-service: the "내 정보" page (name, password, sessions) and its JSON
//! counterparts, and forgotten passwords: reset links by e-mail through a real SMTP
//! conversation (tests/api/smtp.rs), or issued by a super admin when no mail is configured.

use crate::helpers::*;
use crate::pages::{browser, csrf_of, form_token, log_in};
use crate::smtp::MockSmtp;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The CSRF token of a page the browser loads.
async fn page_csrf(app: &TestApp, client: &Client, path: &str) -> String {
    form_token(client, &app.url(path)).await
}

async fn post_form(app: &TestApp, client: &Client, path: &str, form: &[(&str, &str)]) -> Response {
    client.post(app.url(path)).form(form).send().await.unwrap()
}

async fn account_page(app: &TestApp, client: &Client) -> (StatusCode, String) {
    let response = client.get(app.url("/account")).send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Whether the browser is logged in (the account page shows instead of the login redirect).
async fn logged_in(app: &TestApp, client: &Client) -> bool {
    account_page(app, client).await.0 == StatusCode::OK
}

/// The flash message a response sets, decoded.
fn flash_of(response: &Response) -> Option<String> {
    let value = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("flash="))?
        .split(';')
        .next()?
        .to_owned();
    let mut bytes = Vec::new();
    let mut i = 0;
    let raw = value.as_bytes();
    while i < raw.len() {
        if raw[i] == b'%' {
            bytes.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    Some(String::from_utf8(bytes).unwrap())
}

fn location(response: &Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

/// How many rows of the sessions table, and how many marked as this device.
fn session_rows(html: &str) -> (usize, usize) {
    (
        html.matches("data-session-kind=").count(),
        html.matches("class=\"this-device\"").count(),
    )
}

#[tokio::test]
async fn the_account_page_shows_the_account_and_its_sessions_and_changes_the_name() {
    let app = spawn_app().await;
    let (_, token) = app.resident("kim@example.com").await;
    let client = browser();
    // Logged out, it sends the visitor to log in and back.
    let response = client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=/account");

    log_in(&app, &client, "kim@example.com", PASSWORD).await;
    let (status, html) = account_page(&app, &client).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("kim@example.com"), "{html}");
    assert!(
        html.contains("href=\"/account\""),
        "the nav links to the page"
    );
    // The API login and this browser, this one marked.
    assert_eq!(session_rows(&html), (2, 1), "{html}");
    assert!(html.contains("data-session-kind=\"api\""));
    assert!(html.contains("data-session-kind=\"page\""));
    let main = html.split("<main").nth(1).unwrap();
    assert!(
        main.contains("action=\"/logout-everywhere\""),
        "log out everywhere is on the page"
    );
    for form in ["action=\"/account/name\"", "action=\"/account/password\""] {
        assert!(main.contains(form), "{form}");
    }

    let csrf = csrf_of(&html);
    let renamed = post_form(
        &app,
        &client,
        "/account/name",
        &[("full_name", "  김철수 "), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&renamed), "/account");
    assert!(flash_of(&renamed).unwrap().contains("이름"));
    assert_eq!(app.me(&token).await["full_name"], "김철수");
    let (_, html) = account_page(&app, &client).await;
    assert!(html.contains("value=\"김철수\""), "{html}");

    // Refused names leave the name as it was, with the reason on the page.
    for bad in [
        "김\u{200B}철수",
        &"가".repeat(101),
        "a\u{7}b",
        "a\r\nb",
        "Jane\n\nURGENT",
        "a\tb",
    ] {
        let refused = post_form(
            &app,
            &client,
            "/account/name",
            &[("full_name", bad), ("csrf_token", &csrf)],
        )
        .await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}"
        );
        assert!(refused.text().await.unwrap().contains("class=\"error\""));
    }
    assert_eq!(app.me(&token).await["full_name"], "김철수");
    // Without the form's token nothing changes.
    let forged = post_form(
        &app,
        &client,
        "/account/name",
        &[("full_name", "누군가"), ("csrf_token", "forged")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A blank name clears it.
    post_form(
        &app,
        &client,
        "/account/name",
        &[("full_name", " "), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(app.me(&token).await["full_name"], Value::Null);
}

#[tokio::test]
async fn changing_the_password_on_the_page_ends_every_other_session_and_keeps_this_browser() {
    let app = spawn_app().await;
    let (_, token) = app.resident("kim@example.com").await;
    let here = browser();
    let elsewhere = browser();
    log_in(&app, &here, "kim@example.com", PASSWORD).await;
    log_in(&app, &elsewhere, "kim@example.com", PASSWORD).await;
    let csrf = page_csrf(&app, &here, "/account").await;
    let new_password = "a brand new password";

    let wrong = post_form(
        &app,
        &here,
        "/account/password",
        &[
            ("current_password", "not my password"),
            ("new_password", new_password),
            ("new_password_confirm", new_password),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(wrong.text().await.unwrap().contains("현재 비밀번호"));
    let mismatch = post_form(
        &app,
        &here,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", new_password),
            ("new_password_confirm", "something else"),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let short = post_form(
        &app,
        &here,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "short"),
            ("new_password_confirm", "short"),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text().await.unwrap().contains("8바이트"));
    assert_eq!(
        app.me(&token).await["email"],
        "kim@example.com",
        "nothing changed yet"
    );

    let changed = post_form(
        &app,
        &here,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", new_password),
            ("new_password_confirm", new_password),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&changed), "/account");
    assert!(
        changed
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("session=")),
        "a fresh session for this browser"
    );
    assert!(flash_of(&changed).unwrap().contains("비밀번호"));
    // This browser carries on, on a new session; the other browser and the token are out.
    let (status, html) = account_page(&app, &here).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        session_rows(&html),
        (1, 1),
        "only this browser is left: {html}"
    );
    assert!(!logged_in(&app, &elsewhere).await);
    assert_error(
        app.get(Some(&token), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        app.login_form("kim@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.token("kim@example.com", new_password).await;
}

#[tokio::test]
async fn the_name_and_the_sessions_have_json_routes_too() {
    let app = spawn_app().await;
    let (id, first) = app.resident("kim@example.com").await;
    let second = app.token("kim@example.com", PASSWORD).await;
    log_in(&app, &browser(), "kim@example.com", PASSWORD).await;

    let response = app.get(Some(&second), "/api/auth/sessions").await;
    assert_eq!(response.status(), StatusCode::OK);
    let sessions: Vec<Value> = response.json().await.unwrap();
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    let kinds: Vec<&str> = sessions
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "api").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "page").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        sessions.iter().filter(|s| s["current"] == true).count(),
        1,
        "{sessions:?}"
    );
    for session in &sessions {
        let keys: Vec<&String> = session.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["created_at", "current", "expires_at", "kind"],
            "no session id is shown"
        );
        let created = chrono::DateTime::parse_from_rfc3339(session["created_at"].as_str().unwrap());
        let expires = chrono::DateTime::parse_from_rfc3339(session["expires_at"].as_str().unwrap());
        assert!(created.unwrap() < expires.unwrap(), "{session}");
    }
    assert_error(
        app.get(None, "/api/auth/sessions").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    let renamed = app
        .patch_json(
            Some(&first),
            "/api/auth/me",
            &json!({"full_name": " 김철수 "}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let user: Value = renamed.json().await.unwrap();
    assert_eq!(
        (user["id"].as_i64(), &user["full_name"]),
        (Some(id), &json!("김철수"))
    );
    assert_eq!(app.me(&second).await["full_name"], "김철수");
    for bad in [
        json!({}),
        json!({"full_name": 7}),
        json!({"full_name": "가".repeat(101)}),
        json!({"full_name": "김\u{202E}철수"}),
        json!({"full_name": "a\u{0}b"}),
        json!({"full_name": "Jane\n\nURGENT: open http://evil.example"}),
        json!({"full_name": "a\r\nb"}),
        json!({"full_name": "a\tb"}),
    ] {
        assert_error(
            app.patch_json(Some(&first), "/api/auth/me", &bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    assert_eq!(app.me(&second).await["full_name"], "김철수");
    let cleared = app
        .patch_json(Some(&first), "/api/auth/me", &json!({"full_name": null}))
        .await;
    assert_eq!(cleared.status(), StatusCode::OK);
    assert_eq!(app.me(&second).await["full_name"], Value::Null);
    assert_error(
        app.patch_json(None, "/api/auth/me", &json!({"full_name": "x"}))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

/// The `PUBLIC_URL` of servers that mail: mailed links start with it, whatever the request said.
const MAIL_BASE: &str = "http://office.example";

/// A mailed link, checked to start with `MAIL_BASE`, as a link to the test server.
fn local(app: &TestApp, link: &str) -> String {
    let path = link
        .strip_prefix(MAIL_BASE)
        .unwrap_or_else(|| panic!("a mailed link starts with PUBLIC_URL: {link}"));
    app.url(path)
}

/// A server that mails through `smtp`, and a resident on it.
async fn app_with_mail(smtp: &MockSmtp, extra: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut vars = vec![
        ("SMTP_URL", url.as_str()),
        ("SMTP_FROM", "건물 관리사무소 <office@example.com>"),
        ("PUBLIC_URL", MAIL_BASE),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// Asks for a reset link for `email` through the page, as a fresh browser.
async fn request_reset(app: &TestApp, email: &str) -> Response {
    let client = browser();
    // Any page's token will do for this browser (without SMTP the reset page has no form).
    let csrf = page_csrf(app, &client, "/login").await;
    post_form(
        app,
        &client,
        "/password-reset",
        &[("email", email), ("csrf_token", &csrf)],
    )
    .await
}

/// Opens a reset link and sets `password` through its form, as a fresh browser.
async fn use_link(app: &TestApp, link: &str, password: &str) -> Response {
    let client = browser();
    let token = link.split("token=").nth(1).unwrap();
    let page = client.get(link).send().await.unwrap();
    let csrf = if page.status() == StatusCode::OK {
        csrf_of(&page.text().await.unwrap())
    } else {
        page_csrf(app, &client, "/login").await
    };
    post_form(
        app,
        &client,
        "/password-reset/new",
        &[
            ("token", token),
            ("new_password", password),
            ("new_password_confirm", password),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

/// The `expires_at`, `used_at` of every stored link of an account, and their stored hashes.
fn stored_links(app: &TestApp) -> Vec<(String, i64, Option<String>)> {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT token_hash, expires_at, used_at FROM password_resets ORDER BY created_at")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn a_mailed_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let smtp = MockSmtp::start().await;
    let app = app_with_mail(&smtp, &[]).await;
    let (_, token) = app.resident("kim@example.com").await;
    let logged = browser();
    log_in(&app, &logged, "kim@example.com", PASSWORD).await;

    let login = browser().get(app.url("/login")).send().await.unwrap();
    assert!(
        login
            .text()
            .await
            .unwrap()
            .contains("href=\"/password-reset\""),
        "the login page links to the reset page"
    );
    let page = browser()
        .get(app.url("/password-reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/password-reset\"") && html.contains("id=\"email\""));

    let asked = request_reset(&app, " Kim@Example.com ").await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&asked), "/password-reset");
    assert!(flash_of(&asked).unwrap().contains("메일"));
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.to, ["kim@example.com"]);
    assert_eq!(mail.from, "office@example.com");
    assert!(mail.header("Subject").is_some());
    let link = local(&app, &mail.reset_link());
    let prefix = app.url("/password-reset/new?token=");
    assert!(link.starts_with(&prefix), "an absolute link: {link}");
    let raw = &link[prefix.len()..];
    assert!(
        raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()),
        "{raw}"
    );
    assert!(mail.text().contains("30분"), "{}", mail.text());
    // Only a hash of the token is kept.
    let stored = stored_links(&app);
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, raw);
    assert!(
        !std::fs::read(app.db_path())
            .unwrap()
            .windows(64)
            .any(|w| w == raw.as_bytes())
    );

    // The link opens a form for the new password; it is not used up by looking.
    let form = browser().get(&link).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(
        form.headers()["referrer-policy"],
        "same-origin",
        "the token in the address is never sent to another site"
    );
    let html = form.text().await.unwrap();
    assert!(
        html.contains("action=\"/password-reset/new\"") && html.contains("id=\"new_password\"")
    );
    // A confirmation that differs, or a password too short, changes nothing.
    let client = browser();
    let csrf = csrf_of(
        &client
            .get(&link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    for (password, confirm) in [("a new password 1", "a new password 2"), ("short", "short")] {
        let refused = post_form(
            &app,
            &client,
            "/password-reset/new",
            &[
                ("token", raw),
                ("new_password", password),
                ("new_password_confirm", confirm),
                ("csrf_token", &csrf),
            ],
        )
        .await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}"
        );
    }
    assert_eq!(app.me(&token).await["email"], "kim@example.com");

    let done = use_link(&app, &link, "my new password").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/login");
    assert!(flash_of(&done).unwrap().contains("새 비밀번호"));
    // Every session ended: the token, and the browser that was logged in.
    assert_error(
        app.get(Some(&token), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(!logged_in(&app, &logged).await);
    app.token("kim@example.com", "my new password").await;
    assert_eq!(
        app.login_form("kim@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Used once, the link is refused, by the page and by the form.
    let again = browser().get(&link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let html = again.text().await.unwrap();
    assert!(
        html.contains("링크") && !html.contains("id=\"new_password\""),
        "{html}"
    );
    let again = use_link(&app, &link, "third password!").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    app.token("kim@example.com", "my new password").await;
    // A made-up token is refused the same way.
    let made_up = browser()
        .get(app.url(&format!("/password-reset/new?token={}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), StatusCode::BAD_REQUEST);
    let no_token = browser()
        .get(app.url("/password-reset/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::BAD_REQUEST);
}

/// Anyone may ask for a reset of anyone's address: were the link built from the request's
/// `Host` or `X-Forwarded-Host`, the office would mail the victim a real token on the asker's
/// site. Mailed links come from `PUBLIC_URL` alone.
#[tokio::test]
async fn a_mailed_link_never_takes_its_host_from_the_request() {
    let smtp = MockSmtp::start().await;
    let app = app_with_mail(&smtp, &[]).await;
    let (_, token) = app.resident("kim@example.com").await;
    // The name is the account holder's own text: the mail greets the address instead.
    let renamed = app
        .patch_json(
            Some(&token),
            "/api/auth/me",
            &json!({"full_name": "김철수"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    for (header, value) in [
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "host=evil.example"),
        ("Host", "attacker.example"),
    ] {
        let client = browser();
        let csrf = page_csrf(&app, &client, "/login").await;
        let asked = client
            .post(app.url("/password-reset"))
            .header(header, value)
            .form(&[("email", "kim@example.com"), ("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(asked.status(), StatusCode::SEE_OTHER, "{header}");
    }
    let mails = smtp.wait_for(3).await;
    for mail in mails {
        let text = mail.text();
        assert!(
            text.contains("kim@example.com") && !text.contains("김철수"),
            "{text}"
        );
        let link = mail.reset_link();
        assert!(
            link.starts_with(&format!("{MAIL_BASE}/password-reset/new?token=")),
            "{link}"
        );
    }
}

#[tokio::test]
async fn only_the_newest_link_works_until_it_expires_or_the_account_logs_out_everywhere() {
    let smtp = MockSmtp::start().await;
    let app = app_with_mail(&smtp, &[]).await;
    let (_, token) = app.resident("kim@example.com").await;
    request_reset(&app, "kim@example.com").await;
    let first = local(&app, &smtp.wait_for(1).await[0].reset_link());
    request_reset(&app, "kim@example.com").await;
    let second = local(&app, &smtp.wait_for(2).await[1].reset_link());
    assert_ne!(first, second);
    let stored = stored_links(&app);
    let now = chrono::Utc::now().timestamp();
    for (_, expires_at, _) in &stored {
        assert!(
            (expires_at - now - 30 * 60).abs() <= 5,
            "30 minutes: {expires_at} vs {now}"
        );
    }
    // A second link uses up the first: a button pressed twice leaves one live link.
    assert!(stored[0].2.is_some() && stored[1].2.is_none(), "{stored:?}");
    assert_eq!(
        browser().get(&first).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        use_link(&app, &first, "my new password").await.status(),
        StatusCode::BAD_REQUEST
    );

    // The second link runs out of time.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.execute(
        "UPDATE password_resets SET expires_at = ?1 WHERE token_hash = ?2",
        rusqlite::params![now - 1, stored[1].0],
    )
    .unwrap();
    let expired = browser().get(&second).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        use_link(&app, &second, "my new password").await.status(),
        StatusCode::BAD_REQUEST
    );
    app.token("kim@example.com", PASSWORD).await;

    // "Log out everywhere" uses up a link mailed before it.
    request_reset(&app, "kim@example.com").await;
    let third = local(&app, &smtp.wait_for(3).await[2].reset_link());
    let ended = app
        .post_json(Some(&token), "/api/auth/logout-everywhere", &json!({}))
        .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        use_link(&app, &third, "my new password").await.status(),
        StatusCode::BAD_REQUEST
    );
    app.token("kim@example.com", PASSWORD).await;
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_at_once_and_no_mail() {
    // A slow provider: the answer must not wait for it.
    let smtp = MockSmtp::start_with_delay(Duration::from_secs(2)).await;
    let app = app_with_mail(&smtp, &[]).await;
    app.resident("kim@example.com").await;

    let timed = |email: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let response = request_reset(app, email).await;
            (response, started.elapsed())
        }
    };
    let (known, known_took) = timed("kim@example.com").await;
    let (unknown, unknown_took) = timed("nobody@example.com").await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(location(&known), location(&unknown));
    assert_eq!(flash_of(&known), flash_of(&unknown));
    assert_eq!(known.status(), StatusCode::SEE_OTHER);
    // Both loads of the form and the post, far less than the provider's two seconds.
    for took in [known_took, unknown_took] {
        assert!(took < Duration::from_millis(1500), "{took:?}");
    }
    let mails = smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, ["kim@example.com"]);
    assert_eq!(
        stored_links(&app).len(),
        1,
        "no link for an address without an account"
    );

    // A malformed address is said to be malformed (that tells nothing about accounts).
    let malformed = request_reset(&app, "not an address").await;
    assert_eq!(malformed.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_visitor_preferring_english_gets_the_answer_and_the_mail_in_english() {
    let smtp = MockSmtp::start().await;
    let app = app_with_mail(&smtp, &[]).await;
    app.resident("kim@example.com").await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ACCEPT, "text/html".parse().unwrap());
    headers.insert(reqwest::header::ACCEPT_LANGUAGE, "en".parse().unwrap());
    let client = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    let csrf = page_csrf(&app, &client, "/password-reset").await;
    let asked = post_form(
        &app,
        &client,
        "/password-reset",
        &[("email", "kim@example.com"), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    assert!(flash_of(&asked).unwrap().contains("password reset link"));
    let mail = smtp.wait_for(1).await.remove(0);
    let text = mail.text();
    assert!(
        text.contains("Hello kim@example.com,") && text.contains("for 30 minutes"),
        "{text}"
    );
    assert!(!text.contains("분"), "{text}");
    assert!(local(&app, &mail.reset_link()).starts_with(&app.url("/password-reset/new?token=")));
}

#[tokio::test]
async fn reset_mails_are_limited_per_account_and_requests_per_address() {
    let smtp = MockSmtp::start().await;
    let app = app_with_mail(&smtp, &[]).await;
    app.resident("kim@example.com").await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        let response = request_reset(&app, "kim@example.com").await;
        answers.push((response.status(), flash_of(&response)));
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    smtp.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 3, "three links an hour per account");

    let limited = app_with_mail(&smtp, &[("AUTH_RATE_LIMIT_PER_MINUTE", "2")]).await;
    for _ in 0..2 {
        assert_eq!(
            request_reset(&limited, "someone@example.com")
                .await
                .status(),
            StatusCode::SEE_OTHER
        );
    }
    let refused = request_reset(&limited, "other@example.com").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn without_smtp_the_page_says_to_ask_the_office_and_a_super_admin_issues_a_link() {
    let app = spawn_app().await;
    let (id, token) = app.resident("kim@example.com").await;
    let page = browser()
        .get(app.url("/password-reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("관리사무소"), "{html}");
    assert!(
        !html.contains("id=\"email\""),
        "no form that could not send anything"
    );
    // A form posted anyway is answered, sends nothing and stores nothing.
    let posted = request_reset(&app, "kim@example.com").await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    assert!(flash_of(&posted).unwrap().contains("관리사무소"));
    assert!(stored_links(&app).is_empty());

    // The API: only a super admin, only for an account that exists.
    let path = format!("/api/admin/users/{id}/reset-link");
    assert_error(
        app.post_json(Some(&token), &path, &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let (_, staff) = app.admin("staff@example.com").await;
    assert_error(
        app.post_json(Some(&staff), &path, &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        app.post_json(None, &path, &json!({})).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_error(
        app.post_json(
            Some(&app.super_token().await),
            "/api/admin/users/999999/reset-link",
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Never for oneself (the account page asks for the current password) nor for another
    // super admin (`maintenance set-password` on the server).
    let root_token = app.super_token().await;
    let root_id = app.me(&root_token).await["id"].as_i64().unwrap();
    let (other_id, _) = app.resident("second-root@example.com").await;
    let promoted = app
        .patch_json(
            Some(&root_token),
            &format!("/api/admin/users/{other_id}/role"),
            &json!({"role": "super_admin"}),
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    for target in [root_id, other_id] {
        assert_error(
            app.post_json(
                Some(&root_token),
                &format!("/api/admin/users/{target}/reset-link"),
                &json!({}),
            )
            .await,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    assert!(stored_links(&app).is_empty(), "refused calls store nothing");
    let issued = app
        .post_json(Some(&app.super_token().await), &path, &json!({}))
        .await;
    assert_eq!(issued.status(), StatusCode::OK);
    let body: Value = issued.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["expires_at", "url"]);
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&app.url("/password-reset/new?token=")),
        "{url}"
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((29 * 60..=30 * 60).contains(&left), "{left}");

    // The link works without any mail, once, and ends the account's sessions.
    assert_eq!(
        use_link(&app, url, "my new password").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_error(
        app.get(Some(&token), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    app.token("kim@example.com", "my new password").await;
    assert_eq!(
        use_link(&app, url, "another password").await.status(),
        StatusCode::BAD_REQUEST
    );

    // The users page has a button for it, which shows the link once on a page.
    let root = browser();
    log_in(&app, &root, SUPER_EMAIL, SUPER_PASSWORD).await;
    let users = root.get(app.url("/admin/users")).send().await.unwrap();
    let html = users.text().await.unwrap();
    let action = format!("action=\"/admin/users/{id}/reset-link\"");
    assert!(html.contains(&action), "{html}");
    for target in [root_id, other_id] {
        let action = format!("action=\"/admin/users/{target}/reset-link\"");
        assert!(!html.contains(&action), "no button for {target}");
    }
    let csrf = csrf_of(&html);
    let shown = post_form(
        &app,
        &root,
        &format!("/admin/users/{id}/reset-link"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(shown.headers()["cache-control"], "no-store");
    let html = shown.text().await.unwrap();
    assert!(html.contains("kim@example.com"), "{html}");
    let link = html
        .split("id=\"reset-url\"")
        .nth(1)
        .and_then(|rest| rest.split("value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("the link in #reset-url")
        .replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&#61;", "=");
    assert!(
        link.starts_with(&app.url("/password-reset/new?token=")),
        "{link}"
    );
    assert_eq!(
        use_link(&app, &link, "a third password").await.status(),
        StatusCode::SEE_OTHER
    );
    app.token("kim@example.com", "a third password").await;

    // A resident cannot post that form.
    let resident = browser();
    log_in(&app, &resident, "kim@example.com", "a third password").await;
    let csrf = page_csrf(&app, &resident, "/account").await;
    let refused = post_form(
        &app,
        &resident,
        &format!("/admin/users/{id}/reset-link"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

/// Every line the binary logs while links are mailed, issued and used (at `debug`, which the
/// operator may turn on): no token, no link.
#[tokio::test]
async fn reset_tokens_and_links_never_reach_the_log() {
    use std::io::{BufRead, BufReader};
    let smtp = MockSmtp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = crate::binary::maintenance(dir.path());
    command
        .env("RUST_LOG", "debug")
        .env("PORT", port.to_string())
        .env("SUPER_ADMIN_EMAIL", SUPER_EMAIL)
        .env("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD)
        .env("SMTP_URL", smtp.url())
        .env("SMTP_FROM", "office@example.com")
        .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"));
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let base = format!("http://127.0.0.1:{port}");
    let api = Client::new();
    let mut up = false;
    for _ in 0..300 {
        if api.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server answers");
    let registered = api
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": "kim@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let id = registered.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();

    let client = browser();
    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let csrf = csrf_of(&login.text().await.unwrap());
    let asked = client
        .post(format!("{base}/password-reset"))
        .form(&[("email", "kim@example.com"), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let mailed = smtp.wait_for(1).await[0].reset_link();
    let root = api
        .post(format!("{base}/api/auth/login"))
        .form(&[("username", SUPER_EMAIL), ("password", SUPER_PASSWORD)])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let issued = api
        .post(format!("{base}/api/admin/users/{id}/reset-link"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    // The newer link used the mailed one up; both were opened, so both could have been logged.
    for (link, status) in [
        (&mailed, StatusCode::BAD_REQUEST),
        (&issued, StatusCode::OK),
    ] {
        let page = client.get(link.as_str()).send().await.unwrap();
        assert_eq!(page.status(), status);
    }
    let token = issued.split("token=").nth(1).unwrap().to_owned();
    let form = client
        .get(&issued)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let done = client
        .post(format!("{base}/password-reset/new"))
        .form(&[
            ("token", token.as_str()),
            ("new_password", "my new password"),
            ("csrf_token", &csrf_of(&form)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);

    let _ = child.kill();
    let _ = child.wait();
    let log = reader.join().unwrap();
    assert!(
        log.iter()
            .any(|l| l.contains("mailed a password reset link")),
        "{log:#?}"
    );
    for secret in [&mailed, &issued] {
        let token = secret.split("token=").nth(1).unwrap();
        let leaked: Vec<&String> = log
            .iter()
            .filter(|l| l.contains(token) || l.contains("token="))
            .collect();
        assert!(leaked.is_empty(), "{leaked:#?}");
    }
}

/// A page's form, path or query that cannot be read is answered with the error page, with
/// the visitor's own menu, as every other page error is; the API keeps its JSON.
#[tokio::test]
async fn unreadable_page_forms_and_urls_get_the_error_page_not_json() {
    let app = spawn_app().await;
    app.resident("kim@example.com").await;
    let client = browser();
    log_in(&app, &client, "kim@example.com", PASSWORD).await;
    let long = "a".repeat(70 * 1024);
    let cases: Vec<(reqwest::RequestBuilder, &str)> = vec![
        (
            client.post(app.url("/account/name")).form(&[("x", "y")]),
            "no fields",
        ),
        (
            client
                .post(app.url("/account/password"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(""),
            "empty body",
        ),
        (
            client.post(app.url("/language")).body("lang=en"),
            "no Content-Type",
        ),
        (
            client
                .post(app.url("/account/password"))
                .form(&[("current_password", long.as_str())]),
            "too large",
        ),
        (
            client
                .post(app.url("/account/name"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("full_name=%ff%fe&csrf_token=x"),
            "not UTF-8",
        ),
        (client.get(app.url("/requests/abc")), "path"),
        (client.get(app.url("/my-requests?page=abc")), "query"),
    ];
    for (request, case) in cases {
        let response = request.send().await.unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{case}: {status}");
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("text/html"), "{case}: {kind}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("action=\"/logout\""),
            "{case}: the resident's menu: {html}"
        );
        assert!(!html.contains("\"detail\""), "{case}: {html}");
    }
    let api = app
        .client
        .get(app.url("/api/requests/abc"))
        .send()
        .await
        .unwrap();
    assert!(
        api.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

/// bcrypt reads 72 bytes: a longer current password would match on its first 72 alone.
#[tokio::test]
async fn a_current_password_past_72_bytes_never_matches() {
    let app = spawn_app().await;
    let password = "a".repeat(72);
    let registered = app
        .post_json(
            None,
            "/api/auth/register",
            &json!({"email": "long@example.com", "password": password}),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::OK);
    let token = app.token("long@example.com", &password).await;
    let refused = app
        .post_json(
            Some(&token),
            "/api/auth/change-password",
            &json!({"current_password": format!("{password}b"), "new_password": "a new password"}),
        )
        .await;
    assert_error(refused, StatusCode::FORBIDDEN).await;
    app.token("long@example.com", &password).await;
}

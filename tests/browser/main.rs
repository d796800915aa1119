//! Real-browser tests: the real server, Debian's headless chromium driven through chromedriver.
//!
//! They need `chromium` and `chromedriver` (`apt-get install chromium chromium-driver`) and fail
//! with that hint when they are missing. A failing test leaves a screenshot of every browser
//! it opened in `target/browser-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../support/mock_llm.rs"]
mod mock_llm;

use harness::{Browser, TIMEOUT, run};
use helpers::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// The header's log-out button (a form posting to /logout).
const LOGOUT: &str = "header form[action=\"/logout\"] button[type=submit]";
/// The submit button of the page's own form (not the header's log-out form).
const SUBMIT: &str = "main form button[type=submit]";

/// Registers through the /register form; the browser is then logged in.
async fn register(browser: &Browser, email: &str, full_name: &str) {
    browser.open("/register").await;
    browser.fill("#full_name", full_name).await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.submit(SUBMIT).await;
}

/// Logs in through the /login form.
async fn log_in(browser: &Browser, email: &str, password: &str) {
    browser.open("/login").await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.submit(SUBMIT).await;
}

#[tokio::test]
async fn the_landing_page_renders_in_korean() {
    run(|harness| async move {
        let app = spawn_app().await;
        let browser = harness.browser(&app).await;
        browser.open("/").await;
        assert_eq!(browser.url().await, app.url("/"));

        assert_eq!(browser.attr_of("html", "lang").await.as_deref(), Some("ko"));
        let title = browser.title().await;
        assert!(title.contains("건물 유지보수"), "title: {title:?}");
        for (css, text) in [
            ("header a[href=\"/login\"]", "로그인"),
            ("header a[href=\"/register\"]", "회원가입"),
        ] {
            assert!(browser.is_visible(css).await, "{css} is shown");
            assert_eq!(browser.text_of(css).await.trim(), text);
        }
        let body = browser.text_of("body").await;
        assert!(body.contains("고장 신고"), "{body}");
        // The stylesheet (embedded, hashed, allowed by the CSP) applies.
        let brand = browser
            .client()
            .execute(
                "return getComputedStyle(document.documentElement).getPropertyValue('--brand');",
                vec![],
            )
            .await
            .unwrap();
        assert_ne!(
            brand.as_str().unwrap_or_default().trim(),
            "",
            "--brand is set"
        );
    })
    .await;
}

#[tokio::test]
async fn a_resident_registers_and_logs_out_in_the_browser() {
    run(|harness| async move {
        let app = spawn_app().await;
        let browser = harness.browser(&app).await;

        register(&browser, "resident@example.com", "홍길동").await;
        // /my-requests may not be built yet: only where the form sent us counts here.
        browser.wait_for_path("/my-requests", TIMEOUT).await;

        // The session cookie works: the header offers to log out.
        browser.open("/").await;
        browser.wait_for_text("header", "로그아웃", TIMEOUT).await;
        assert!(!browser.exists("header a[href=\"/login\"]").await);
        // The account exists with the name typed in Korean.
        let token = app.token("resident@example.com", PASSWORD).await;
        let me: Value = app
            .get(Some(&token), "/api/auth/me")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["full_name"], "홍길동");

        browser.submit(LOGOUT).await;
        browser.wait_for_text("header", "로그인", TIMEOUT).await;
        assert!(browser.is_visible("header a[href=\"/login\"]").await);
        assert!(!browser.exists(LOGOUT).await, "logged out");
        browser
            .wait_for_text("main", "로그아웃되었습니다", TIMEOUT)
            .await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The full live scenario, for when the resident and admin pages exist.
//
// The DOM contract it relies on:
// - /requests/new: textarea `#description`, input `#location`, a submit button in `main form`;
//   after submitting, a page showing the request as `[data-request-id="<id>"]` with its
//   category badge `.category` (filled in live once classified);
// - /admin: one row `[data-request-id="<id>"]` per request, added live, with a link to the
//   request's page; that page has a form with select `#status` and a submit button;
// - `[data-request-id="<id>"] .status` on the resident's page follows status changes live.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn resident_and_admin_live_flow() {
    run(|harness| async move {
        let app = spawn_app().await;
        const LIVE: Duration = Duration::from_secs(10);

        // The admin is made through the API, then logs in through the form in a second browser.
        app.admin("staff@example.com").await;
        let admin = harness.browser(&app).await;
        log_in(&admin, "staff@example.com", PASSWORD).await;
        admin.wait_for_path("/admin", TIMEOUT).await;
        admin.open("/admin").await;
        admin.mark_page().await;

        // A resident registers and submits a request.
        let resident = harness.browser(&app).await;
        register(&resident, "resident@example.com", "김주민").await;
        resident.wait_for_path("/my-requests", TIMEOUT).await;
        resident.open("/requests/new").await;
        resident
            .fill("#description", "화장실 세면대 배관에서 물이 새요")
            .await;
        resident.fill("#location", "101동 1203호").await;
        resident.submit(SUBMIT).await;

        // Which request it became, from the API (independent of the page's markup).
        let token = app.token("resident@example.com", PASSWORD).await;
        let response = app.get(Some(&token), "/api/my-requests").await;
        assert_eq!(response.status(), StatusCode::OK);
        let mine: Value = response.json().await.unwrap();
        let id = mine[0]["id"].as_i64().expect("the submitted request");
        let row = format!("[data-request-id=\"{id}\"]");

        // The resident's page shows the category once classified, without a reload.
        resident.wait_for(&row, TIMEOUT).await;
        resident.mark_page().await;
        resident
            .wait_for_text(&format!("{row} .category"), "배관", LIVE)
            .await;
        assert!(resident.still_same_page().await, "no reload for the badge");

        // The admin's list got the row live.
        admin.wait_for(&row, LIVE).await;
        assert!(
            admin.still_same_page().await,
            "the admin list was not reloaded"
        );

        // The admin opens it and sets it in progress through the form.
        admin.submit(&format!("{row} a")).await;
        admin.select("#status", "in_progress").await;
        admin.submit(SUBMIT).await;

        // The resident sees 진행중 without a reload.
        resident
            .wait_for_text(&format!("{row} .status"), "진행중", LIVE)
            .await;
        assert!(resident.still_same_page().await, "no reload for the status");

        let stored: Value = app
            .get(Some(&token), &format!("/api/requests/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored["status"], "in_progress");
    })
    .await;
}

/// Every page fits a 360 px wide phone: nothing wider than the screen, so no sideways scrolling.
#[tokio::test]
async fn pages_fit_a_360_pixel_phone_without_sideways_scrolling() {
    run(|harness| async move {
        let app = spawn_app().await;
        let (_, token) = app.resident("resident@example.com").await;
        app.admin("staff@example.com").await;
        let long = "아주 긴 설명입니다 ".repeat(40) + &"x".repeat(300);
        app.submit(&token, &long).await;
        app.submit(&token, "전등이 깜빡입니다").await;

        let check = |browser: Browser, pages: Vec<&'static str>| async move {
            browser.client().set_window_size(360, 740).await.unwrap();
            for path in pages {
                browser.open(path).await;
                let widths = browser
                    .client()
                    .execute(
                        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
                        vec![],
                    )
                    .await
                    .unwrap();
                let (scroll, client) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
                assert!(client <= 400, "{path}: the window is {client}px wide, not a phone's");
                assert!(scroll <= client, "{path}: content {scroll}px wide in a {client}px window");
            }
        };
        let visitor = harness.browser(&app).await;
        check(visitor, vec!["/", "/login", "/register", "/password-reset"]).await;
        let resident = harness.browser(&app).await;
        log_in(&resident, "resident@example.com", PASSWORD).await;
        check(
            resident,
            vec!["/my-requests", "/requests/new", "/requests/1", "/account"],
        )
        .await;
        let admin = harness.browser(&app).await;
        log_in(&admin, "staff@example.com", PASSWORD).await;
        check(admin, vec!["/admin", "/admin/requests/1"]).await;
    })
    .await;
}

/// The resident sees the offline classification at once, then the AI's refinement arrive
/// without reloading the page.
#[tokio::test]
async fn the_ai_refinement_arrives_live_on_the_residents_page() {
    run(|harness| async move {
        // The provider answers after a moment, with a label the offline rules would not give.
        let llm = mock_llm::MockLlm::builder(vec![mock_llm::Behaviour::Hang(
            Duration::from_millis(1500),
        )])
        .rule(|_| ("structural".to_owned(), "low".to_owned()))
        .start();
        let base = llm.base_url();
        let app = spawn_app_with(&[
            ("GROQ_API_KEY", "test-key"),
            ("LLM_BASE_URL", base.as_str()),
            ("LLM_TIMEOUT_SECS", "10"),
            ("QUEUE_SWEEP_MS", "50"),
        ])
        .await;
        let resident = harness.browser(&app).await;
        register(&resident, "resident@example.com", "김주민").await;
        resident.open("/requests/new").await;
        resident
            .fill("#description", "거실 전등이 깜빡입니다")
            .await;
        resident.submit(SUBMIT).await;

        let article = "article[data-request-id]";
        resident.wait_for(article, TIMEOUT).await;
        resident.mark_page().await;
        assert_eq!(
            resident
                .text_of(&format!("{article} .category"))
                .await
                .trim(),
            "전기",
            "offline, at once"
        );
        assert!(
            resident.exists(&format!("{article} .refining")).await,
            "the AI is still working"
        );
        resident
            .wait_for_text(
                &format!("{article} .category"),
                "구조",
                Duration::from_secs(15),
            )
            .await;
        assert_eq!(
            resident
                .text_of(&format!("{article} .priority"))
                .await
                .trim(),
            "낮음"
        );
        assert!(!resident.exists(&format!("{article} .refining")).await);
        assert!(resident.still_same_page().await, "no reload");
    })
    .await;
}

/// "내 정보" and a forgotten password, as a resident does them in a browser: rename, change
/// the password and stay logged in, see this device, log out everywhere; then, with no mail
/// configured, the login page's "비밀번호를 잊으셨나요?" says to ask the office, and the link
/// a super admin hands over sets a new password.
#[tokio::test]
async fn a_resident_manages_the_account_and_recovers_a_forgotten_password() {
    run(|harness| async move {
        let app = spawn_app().await;
        let browser = harness.browser(&app).await;
        register(&browser, "resident@example.com", "홍길동").await;
        browser.wait_for_path("/my-requests", TIMEOUT).await;

        browser.submit("header a[href=\"/account\"]").await;
        browser.wait_for_path("/account", TIMEOUT).await;
        assert!(
            browser
                .text_of("main")
                .await
                .contains("resident@example.com")
        );
        assert_eq!(browser.text_of(".this-device").await.trim(), "이 기기");

        browser.fill("#full_name", "김철수").await;
        browser
            .submit("form[action=\"/account/name\"] button[type=submit]")
            .await;
        browser
            .wait_for_text("main", "이름을 저장했습니다", TIMEOUT)
            .await;
        let token = app.token("resident@example.com", PASSWORD).await;
        assert_eq!(app.me(&token).await["full_name"], "김철수");

        let new_password = "a brand new password";
        browser.fill("#current_password", PASSWORD).await;
        browser.fill("#new_password", new_password).await;
        browser.fill("#new_password_confirm", new_password).await;
        browser
            .submit("form[action=\"/account/password\"] button[type=submit]")
            .await;
        browser
            .wait_for_text("main", "비밀번호를 바꿨습니다", TIMEOUT)
            .await;
        // Still logged in here, on the only session left; the token is out.
        browser.wait_for_path("/account", TIMEOUT).await;
        assert!(browser.exists(LOGOUT).await, "still logged in");
        assert_eq!(
            browser
                .client()
                .find_all(fantoccini::Locator::Css("[data-session-kind]"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            app.get(Some(&token), "/api/auth/me").await.status(),
            StatusCode::UNAUTHORIZED
        );

        browser
            .submit("main form[action=\"/logout-everywhere\"] button[type=submit]")
            .await;
        browser
            .wait_for_text("main", "모든 기기에서 로그아웃되었습니다", TIMEOUT)
            .await;
        assert!(!browser.exists(LOGOUT).await, "logged out");

        // Forgotten: no mail here, so the page says to ask the office.
        browser.open("/login").await;
        browser.submit("main a[href=\"/password-reset\"]").await;
        browser.wait_for_text("main", "관리사무소", TIMEOUT).await;
        assert!(!browser.exists("#email").await);

        // The office's super admin makes a link and hands it over.
        let id = app
            .me(&app.token("resident@example.com", new_password).await)
            .await["id"]
            .as_i64()
            .unwrap();
        let issued: Value = app
            .post_json(
                Some(&app.super_token().await),
                &format!("/api/admin/users/{id}/reset-link"),
                &serde_json::json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
        let url = issued["url"].as_str().unwrap();
        browser.open(url.strip_prefix(&app.address).unwrap()).await;
        let newest = "the newest password";
        browser.fill("#new_password", newest).await;
        browser.fill("#new_password_confirm", newest).await;
        browser.submit(SUBMIT).await;
        browser.wait_for_path("/login", TIMEOUT).await;
        browser
            .wait_for_text("main", "새 비밀번호를 저장했습니다", TIMEOUT)
            .await;
        log_in(&browser, "resident@example.com", newest).await;
        browser.wait_for_path("/my-requests", TIMEOUT).await;
    })
    .await;
}

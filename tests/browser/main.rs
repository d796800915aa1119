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
        // What must not wait for a form is said before anything else on the page.
        assert!(
            browser.is_visible(".emergency").await,
            "the emergency line is shown"
        );
        assert!(
            browser.text_of(".emergency").await.contains("119"),
            "the default emergency line"
        );
        browser.screenshot("landing").await;
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

/// The footer's button that switches the pages to `lang`.
fn language_button(lang: &str) -> String {
    format!("footer form[action=\"/language\"] button[value=\"{lang}\"]")
}

#[tokio::test]
async fn the_footer_switches_the_pages_to_english_and_back() {
    run(|harness| async move {
        let app = spawn_app().await;
        // A Korean resident's browser: the pages speak Korean.
        let browser = harness.browser(&app).await;
        register(&browser, "alex@example.com", "Alex").await;
        browser.wait_for_path("/my-requests", TIMEOUT).await;
        browser.wait_for_text("main h1", "내 요청", TIMEOUT).await;

        // The switch brings back the same page, in English.
        browser.submit(&language_button("en")).await;
        browser.wait_for_path("/my-requests", TIMEOUT).await;
        browser
            .wait_for_text("main h1", "My requests", TIMEOUT)
            .await;
        assert_eq!(browser.attr_of("html", "lang").await.as_deref(), Some("en"));
        let header = browser.text_of("header").await;
        assert!(
            header.contains("New request") && header.contains("Log out"),
            "{header}"
        );
        assert!(
            browser
                .text_of("main")
                .await
                .contains("You have not submitted any requests yet."),
            "the empty list, in English"
        );

        // The choice stays for the next pages.
        browser.open("/requests/new").await;
        browser
            .wait_for_text("main h1", "Submit a new request", TIMEOUT)
            .await;
        browser
            .fill("#description", "The hallway light is out")
            .await;
        browser.submit(SUBMIT).await;
        browser
            .wait_for_text("main .flash", "Your request has been submitted.", TIMEOUT)
            .await;
        let card = browser.text_of("main article").await;
        assert!(
            card.contains("Request #") && card.contains("Pending"),
            "{card}"
        );
        browser.screenshot("request-in-english").await;

        // And back to Korean.
        browser.submit(&language_button("ko")).await;
        browser.wait_for_text("main h1", "요청 #", TIMEOUT).await;
        assert_eq!(browser.attr_of("html", "lang").await.as_deref(), Some("ko"));
        assert!(browser.text_of("main article").await.contains("대기중"));
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
        check(visitor, vec!["/", "/login", "/register"]).await;
        let resident = harness.browser(&app).await;
        log_in(&resident, "resident@example.com", PASSWORD).await;
        check(
            resident,
            vec!["/my-requests", "/requests/new", "/requests/1", "/requests/1/delete", "/account"],
        )
        .await;
        let admin = harness.browser(&app).await;
        log_in(&admin, "staff@example.com", PASSWORD).await;
        check(admin, vec!["/admin", "/admin/requests/1", "/requests/2/delete"]).await;
        let root = harness.browser(&app).await;
        log_in(&root, SUPER_EMAIL, SUPER_PASSWORD).await;
        check(root, vec!["/admin/users", "/admin/users/2/delete"]).await;
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

/// `[data-request-id="<id>"]`
fn row(id: i64) -> String {
    format!("[data-request-id=\"{id}\"]")
}

/// The ids of the rows in the dashboard's table, in the order shown.
async fn shown_rows(browser: &Browser) -> Vec<i64> {
    let ids = browser
        .eval(
            "return Array.from(document.querySelectorAll('#request-table tbody tr[data-request-id]'))\
             .map(r => Number(r.dataset.requestId));",
        )
        .await;
    serde_json::from_value(ids).unwrap()
}

/// The space between the first two badges of a row, in CSS pixels.
async fn badge_gap(browser: &Browser, id: i64) -> f64 {
    browser
        .eval(&format!(
            "const b = document.querySelectorAll('[data-request-id=\"{id}\"] .badge');\
             return b[1].getBoundingClientRect().left - b[0].getBoundingClientRect().right;"
        ))
        .await
        .as_f64()
        .unwrap()
}

async fn gone(browser: &Browser, css: &str, what: &str) {
    let css = serde_json::to_string(css).unwrap();
    browser
        .wait_until(
            what,
            &format!("return document.querySelector({css}) === null;"),
            Duration::from_secs(10),
        )
        .await;
}

async fn patch(app: &TestApp, token: &str, id: i64, changes: Value) {
    let response = app
        .patch_json(Some(token), &format!("/api/requests/{id}"), &changes)
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{changes}");
}

fn id_of(request: &Value) -> i64 {
    request["id"].as_i64().unwrap()
}

/// The dashboard follows changes live without showing what its filters leave out, keeps its
/// counts with the rows, and puts live rows where a reload would, looking the same.
#[tokio::test]
async fn the_dashboard_follows_live_changes_within_its_filters_and_order() {
    run(|harness| async move {
        const LIVE: Duration = Duration::from_secs(10);
        let app = spawn_app().await;
        let (_, resident) = app.resident("resident@example.com").await;
        let (_, staff) = app.admin("staff@example.com").await;
        let waiting = id_of(&app.submit(&resident, "창문 손잡이가 헐거워요").await);
        patch(
            &app,
            &staff,
            waiting,
            serde_json::json!({"priority": "high"}),
        )
        .await;

        let admin = harness.browser(&app).await;
        log_in(&admin, "staff@example.com", PASSWORD).await;
        admin.open("/admin?category=plumbing").await;
        admin.mark_page().await;
        let caption = "#request-table caption";
        assert!(admin.text_of(caption).await.contains("요청 0건"));

        // Outside the filter, then inside it.
        let lamp = app.submit(&resident, "복도 전등이 나갔어요").await;
        assert_eq!(lamp["category"], "electrical");
        let leak = app.submit(&resident, "세면대 배관에서 물이 새요").await;
        assert_eq!(leak["category"], "plumbing");
        admin.wait_for(&row(id_of(&leak)), LIVE).await;
        admin.wait_for_text(caption, "요청 1건", LIVE).await;
        assert!(
            !admin.exists(&row(id_of(&lamp))).await,
            "an electrical request is not shown among plumbing ones"
        );
        // It stops matching: it leaves, and the caption follows.
        patch(
            &app,
            &staff,
            id_of(&leak),
            serde_json::json!({"category": "electrical"}),
        )
        .await;
        gone(&admin, &row(id_of(&leak)), "the row that left the filter").await;
        admin.wait_for_text(caption, "요청 0건", LIVE).await;
        assert!(admin.still_same_page().await, "no reload");

        // The default view: live rows go where a reload puts them, and look the same.
        admin.open("/admin").await;
        admin.mark_page().await;
        let urgent = "[data-count=\"urgent\"]";
        let waiting_urgent: u64 = admin.text_of(urgent).await.trim().parse().unwrap();
        assert!(waiting_urgent >= 1, "the one set high at the start");
        let minor = app.submit(&resident, "현관 벽지가 조금 찢어졌어요").await;
        assert_ne!(minor["priority"], "high");
        let gas = app.submit(&resident, "주방에서 가스 냄새가 나요").await;
        assert_eq!(gas["priority"], "high");
        admin.wait_for(&row(id_of(&minor)), LIVE).await;
        admin.wait_for(&row(id_of(&gas)), LIVE).await;
        admin
            .wait_for_text(urgent, &(waiting_urgent + 1).to_string(), LIVE)
            .await;
        let live_order = shown_rows(&admin).await;
        assert_eq!(
            live_order[0],
            id_of(&gas),
            "the newest urgent request first"
        );
        let position = |id: i64| live_order.iter().position(|r| *r == id).unwrap();
        assert!(
            position(waiting) < position(id_of(&minor)),
            "open urgent requests before the rest: {live_order:?}"
        );
        let live_gap = badge_gap(&admin, id_of(&minor)).await;
        assert!(admin.still_same_page().await, "no reload");
        admin.screenshot("dashboard-live").await;

        admin.open("/admin").await;
        assert_eq!(
            shown_rows(&admin).await,
            live_order,
            "a reload shows the same order"
        );
        let gap = badge_gap(&admin, id_of(&minor)).await;
        assert!(gap > 1.0, "server-rendered badges are apart: {gap}");
        assert_eq!(
            live_gap, gap,
            "live badges are spaced like server-rendered ones"
        );
        admin.screenshot("dashboard").await;
    })
    .await;
}

/// The resident's list and request page follow the office's work live; deleting asks first
/// (a dialog with JS), and a button left on screen after work started gets a message.
#[tokio::test]
async fn a_residents_pages_follow_live_changes_and_deleting_asks_first() {
    run(|harness| async move {
        const LIVE: Duration = Duration::from_secs(10);
        let app = spawn_app().await;
        let (_, staff) = app.admin("staff@example.com").await;
        let resident = harness.browser(&app).await;
        register(&resident, "resident@example.com", "김주민").await;
        let token = app.token("resident@example.com", PASSWORD).await;
        let first = id_of(&app.submit(&token, "거실 전등이 깜빡입니다").await);

        resident.open("/my-requests").await;
        resident.mark_page().await;
        let pager = "main .pager";
        resident.wait_for_text(pager, "전체 1건", TIMEOUT).await;
        let second = id_of(&app.submit(&token, "세면대 배관에서 물이 새요").await);
        resident.wait_for(&row(second), LIVE).await;
        resident.wait_for_text(pager, "전체 2건", LIVE).await;
        assert!(resident.still_same_page().await, "no reload");

        // The request page: its history and its buttons follow the office's work.
        resident.open(&format!("/requests/{first}")).await;
        resident.mark_page().await;
        let delete = format!("a[href=\"/requests/{first}/delete\"]");
        assert!(
            resident.is_visible(&delete).await,
            "요청 삭제 while pending"
        );
        assert_eq!(
            resident.attr_of("main a.back", "href").await.as_deref(),
            Some("/my-requests"),
            "목록으로"
        );
        let margin = resident
            .eval("return getComputedStyle(document.querySelector('main dd')).marginLeft;")
            .await;
        assert_eq!(
            margin, "0px",
            "label/value pairs are laid out, not indented by default"
        );
        patch(
            &app,
            &staff,
            first,
            serde_json::json!({"status": "in_progress"}),
        )
        .await;
        resident
            .wait_for_text(".timeline", "상태 변경: 대기중 → 진행중", LIVE)
            .await;
        gone(&resident, &delete, "요청 삭제 once work has started").await;
        assert!(resident.still_same_page().await, "no reload");
        resident.screenshot("request-page").await;

        // A confirmation left open while work started: a message on the request's page.
        resident.open(&format!("/requests/{second}/delete")).await;
        resident.screenshot("delete-confirmation").await;
        patch(
            &app,
            &staff,
            second,
            serde_json::json!({"status": "in_progress"}),
        )
        .await;
        resident.submit(SUBMIT).await;
        resident
            .wait_for_path(&format!("/requests/{second}"), TIMEOUT)
            .await;
        resident
            .wait_for_text("main .flash", "이미 처리가 시작되어", TIMEOUT)
            .await;

        // With JS, 요청 삭제 asks in a dialog; 취소 leaves everything as it was.
        let third = id_of(&app.submit(&token, "현관문이 잘 안 닫혀요").await);
        resident.open(&format!("/requests/{third}")).await;
        resident.mark_page().await;
        let delete = format!("a[href=\"/requests/{third}/delete\"]");
        let open = "return document.querySelector('dialog.confirm').open === true;";
        resident.click(&delete).await;
        resident.wait_until("the dialog opens", open, TIMEOUT).await;
        assert!(
            resident.still_same_page().await,
            "the dialog is on the page"
        );
        resident.screenshot("delete-dialog").await;
        resident.click("dialog.confirm button[value=cancel]").await;
        resident
            .wait_until(
                "the dialog closes",
                "return document.querySelector('dialog.confirm').open === false;",
                TIMEOUT,
            )
            .await;
        assert!(resident.still_same_page().await);
        resident.click(&delete).await;
        resident
            .wait_until("the dialog opens again", open, TIMEOUT)
            .await;
        resident.submit("dialog.confirm button[type=submit]").await;
        resident.wait_for_path("/my-requests", TIMEOUT).await;
        resident
            .wait_for_text("main .flash", "요청을 삭제했습니다", TIMEOUT)
            .await;
        assert_eq!(
            app.get(Some(&token), &format!("/api/requests/{third}"))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
    })
    .await;
}

/// A super admin finds accounts by email or name and deletes one after confirming.
#[tokio::test]
async fn the_users_page_searches_and_deletes_after_confirming() {
    run(|harness| async move {
        let app = spawn_app().await;
        for (email, name) in [("kim@example.com", "김철수"), ("lee@example.com", "이영희")] {
            let response = app
                .post_json(
                    None,
                    "/api/auth/register",
                    &serde_json::json!({"email": email, "password": PASSWORD, "full_name": name}),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        let kim = app.me(&app.token("kim@example.com", PASSWORD).await).await["id"]
            .as_i64()
            .unwrap();
        let root = harness.browser(&app).await;
        log_in(&root, SUPER_EMAIL, SUPER_PASSWORD).await;
        root.open("/admin/users").await;
        root.screenshot("users").await;
        root.fill("#user-q", "철수").await;
        root.submit("main form[role=search] button[type=submit]")
            .await;
        root.wait_for_text("main table", "kim@example.com", TIMEOUT)
            .await;
        assert!(!root.text_of("main table").await.contains("lee@example.com"));

        let delete = format!("a[href=\"/admin/users/{kim}/delete\"]");
        root.click(&delete).await;
        root.wait_until(
            "the dialog opens",
            "return document.querySelector('dialog.confirm').open === true;",
            TIMEOUT,
        )
        .await;
        root.screenshot("users-delete-dialog").await;
        root.submit("dialog.confirm button[type=submit]").await;
        root.wait_for_path("/admin/users", TIMEOUT).await;
        root.wait_for_text(
            "main .flash",
            "kim@example.com 계정을 삭제했습니다",
            TIMEOUT,
        )
        .await;
        assert_eq!(
            app.login_form("kim@example.com", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
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

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
    let home = "/my-requests";
    for (next, expected) in [
        ("/requests/new", "/requests/new"),
        ("/my-requests?page=2", "/my-requests?page=2"),
        ("/admin?q=%EC%A0%84%EB%93%B1", "/admin?q=%EC%A0%84%EB%93%B1"),
        ("/", "/"),
        ("//evil.example/x", home),
        ("/\\evil.example", home),
        ("\\/evil.example", home),
        ("/%09/evil.example", home),
        ("/\t/evil.example", home),
        ("/%2F/evil.example", home),
        ("/%5c/evil.example", home),
        ("/%0d%0aSet-Cookie:%20a=b", home),
        ("/x\r\nSet-Cookie: a=b", home),
        ("/x\ny", home),
        ("/x y", home),
        ("/%7f", home),
        (" /x", home),
        ("https://evil.example", home),
        ("evil.example", home),
        ("", home),
    ] {
        let client = browser();
        let csrf = form_token(&client, &app.url("/login?next=/requests/new")).await;
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
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "next={next:?}");
        assert_eq!(response.headers()[LOCATION], expected, "next={next:?}");
        // A refused `next` is not carried into the login form either.
        let form = client
            .get(app.url(&format!(
                "/login?{}",
                serde_urlencoded::to_string([("next", next)]).unwrap()
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), StatusCode::OK, "next={next:?}");
        let html = form.text().await.unwrap();
        if expected == home && !next.is_empty() {
            assert!(!html.contains("evil.example"), "next={next:?}");
        }
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

    // Logged in now: forms carry the token of this session, not the one from before.
    let csrf = form_token(&client, &app.url("/register")).await;
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

mod requests_pages {
    use super::*;
    use crate::mock_llm::{Behaviour, MockLlm};
    use reqwest::multipart::{Form, Part};
    use serde_json::Value;
    use std::time::Duration;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR";

    async fn page(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
        let response = client.get(url).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Submits the new-request form; returns the response.
    async fn submit_form(
        app: &TestApp,
        client: &reqwest::Client,
        description: &str,
        photo: Option<&[u8]>,
    ) -> reqwest::Response {
        let csrf = form_token(client, &app.url("/requests/new")).await;
        let mut form = Form::new()
            .text("csrf_token", csrf)
            .text("description", description.to_owned())
            .text("location", "101동 1203호")
            .text("contact_info", "");
        if let Some(bytes) = photo {
            form = form.part("photo", Part::bytes(bytes.to_vec()).file_name("p.png"));
        }
        client
            .post(app.url("/requests/new"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn anonymous_visitors_are_sent_to_log_in_and_residents_kept_out_of_admin_pages() {
        let app = spawn_app().await;
        for path in [
            "/requests/new",
            "/my-requests",
            "/requests/1",
            "/admin",
            "/admin/requests/1",
            "/admin/users",
        ] {
            let response = browser().get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
            let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
            assert!(location.starts_with("/login?next="), "{path}: {location}");
        }
        app.resident("r@example.com").await;
        let resident = browser();
        log_in(&app, &resident, "r@example.com", PASSWORD).await;
        for path in ["/admin", "/admin/requests/1", "/admin/users"] {
            let (status, html) = page(&resident, &app.url(path)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert!(html.contains("접근 권한이 없습니다"));
        }
        app.admin("a@example.com").await;
        let admin = browser();
        log_in(&app, &admin, "a@example.com", PASSWORD).await;
        assert_eq!(page(&admin, &app.url("/admin")).await.0, StatusCode::OK);
        assert_eq!(
            page(&admin, &app.url("/admin/users")).await.0,
            StatusCode::FORBIDDEN,
            "super admins only"
        );
    }

    #[tokio::test]
    async fn a_resident_submits_a_request_with_a_photo_and_sees_it_classified() {
        let app = spawn_app().await;
        app.resident("r@example.com").await;
        let client = browser();
        log_in(&app, &client, "r@example.com", PASSWORD).await;
        let response = submit_form(&app, &client, "욕실 천장에서 물이 떨어져요", Some(PNG)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with("/requests/"));
        let (status, html) = page(&client, &app.url(&location)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("요청이 접수되었습니다"));
        assert!(
            html.contains("배관") && html.contains("높음") && html.contains("대기중"),
            "badges in Korean"
        );
        let image = html
            .split("<img src=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let photo = client.get(app.url(image)).send().await.unwrap();
        assert_eq!(
            photo.status(),
            StatusCode::OK,
            "the owner's browser sees the photo by its session"
        );
        assert_eq!(photo.bytes().await.unwrap(), PNG);

        let (_, list) = page(&client, &app.url("/my-requests")).await;
        assert!(list.contains("욕실 천장에서 물이 떨어져요") && list.contains("data-request-id="));
    }

    #[tokio::test]
    async fn the_form_refuses_bad_input_and_keeps_what_was_typed() {
        let app = spawn_app().await;
        app.resident("r@example.com").await;
        let client = browser();
        log_in(&app, &client, "r@example.com", PASSWORD).await;
        let empty = submit_form(&app, &client, "   ", None).await;
        assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            empty.text().await.unwrap().contains("101동 1203호"),
            "the location is kept"
        );
        let not_image = submit_form(
            &app,
            &client,
            "문이 안 닫혀요",
            Some(b"MZ\x90\x00 not an image"),
        )
        .await;
        assert_eq!(not_image.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(not_image.text().await.unwrap().contains("문이 안 닫혀요"));
        let forged = client
            .post(app.url("/requests/new"))
            .multipart(
                Form::new()
                    .text("csrf_token", "x".repeat(48))
                    .text("description", "위조"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let (_, list) = page(&client, &app.url("/my-requests")).await;
        assert!(
            list.contains("아직 접수한 요청이 없습니다"),
            "nothing was created"
        );
    }

    #[tokio::test]
    async fn user_text_is_always_escaped() {
        let app = spawn_app().await;
        let (_, token) = app.resident("r@example.com").await;
        app.admin("a@example.com").await;
        let attack = "<script>alert('x')</script><img src=x onerror=alert(1)>";
        let id = app.submit(&token, attack).await["id"].as_i64().unwrap();
        let resident = browser();
        log_in(&app, &resident, "r@example.com", PASSWORD).await;
        let admin = browser();
        log_in(&app, &admin, "a@example.com", PASSWORD).await;
        for (client, path) in [
            (&resident, "/my-requests".to_owned()),
            (&resident, format!("/requests/{id}")),
            (&admin, "/admin".to_owned()),
            (&admin, format!("/admin/requests/{id}")),
        ] {
            let (status, html) = page(client, &app.url(&path)).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(!html.contains("<script>alert"), "{path} shows raw script");
            assert!(!html.contains("<img src=x"), "{path} shows a raw tag");
            assert!(
                html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn residents_see_only_their_own_requests_and_withdraw_pending_ones() {
        let app = spawn_app().await;
        let (_, mine) = app.resident("me@example.com").await;
        let (_, theirs) = app.resident("them@example.com").await;
        let (_, admin) = app.admin("a@example.com").await;
        let my_id = app.submit(&mine, "전등이 깜빡입니다").await["id"]
            .as_i64()
            .unwrap();
        let their_id = app.submit(&theirs, "변기가 막혔어요").await["id"]
            .as_i64()
            .unwrap();
        let client = browser();
        log_in(&app, &client, "me@example.com", PASSWORD).await;
        assert_eq!(
            page(&client, &app.url(&format!("/requests/{their_id}")))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (_, list) = page(&client, &app.url("/my-requests")).await;
        assert!(list.contains("전등이 깜빡입니다") && !list.contains("변기가 막혔어요"));

        let (_, detail) = page(&client, &app.url(&format!("/requests/{my_id}"))).await;
        assert!(
            detail.contains("요청 삭제") && detail.contains("접수되었습니다"),
            "history timeline"
        );
        app.patch_json(
            Some(&admin),
            &format!("/api/requests/{my_id}"),
            &serde_json::json!({"status": "in_progress"}),
        )
        .await;
        let (_, detail) = page(&client, &app.url(&format!("/requests/{my_id}"))).await;
        assert!(
            !detail.contains("요청 삭제"),
            "no withdrawing once work started"
        );
        let refused = client
            .post(app.url(&format!("/requests/{my_id}/delete")))
            .form(&[("csrf_token", csrf_of(&detail))])
            .send()
            .await
            .unwrap();
        // A stale button (the page was open when work started) gets a message, not a 403 page.
        assert_eq!(refused.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            refused.headers()[LOCATION],
            format!("/requests/{my_id}").as_str()
        );
        let (_, explained) = page(&client, &app.url(&format!("/requests/{my_id}"))).await;
        assert!(
            explained.contains("이미 처리가 시작되어 삭제할 수 없습니다"),
            "{explained}"
        );
        assert_eq!(
            app.get(Some(&mine), &format!("/api/requests/{my_id}"))
                .await
                .status(),
            StatusCode::OK,
            "the refused withdrawal left the request in place"
        );
        assert!(detail.contains("상태 변경: 대기중 → 진행중"));
    }

    #[tokio::test]
    async fn admins_filter_update_and_delete_from_the_dashboard() {
        let app = spawn_app().await;
        let (_, resident) = app.resident("r@example.com").await;
        app.admin("a@example.com").await;
        let leak = app.submit(&resident, "수도꼭지에서 물이 샙니다").await["id"]
            .as_i64()
            .unwrap();
        app.submit(&resident, "전등이 깜빡입니다").await;
        let admin = browser();
        log_in(&app, &admin, "a@example.com", PASSWORD).await;

        let (status, html) = page(&admin, &app.url("/admin")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("data-count=\"total\">2<") && html.contains("<svg"),
            "stat cards and charts"
        );
        assert!(html.contains("최근 30일"));
        let (_, filtered) = page(&admin, &app.url("/admin?category=plumbing&status=&q=")).await;
        assert!(
            filtered.contains("수도꼭지에서 물이 샙니다")
                && !filtered.contains("전등이 깜빡입니다")
        );
        let (_, searched) = page(&admin, &app.url("/admin?q=%EC%A0%84%EB%93%B1")).await;
        assert!(searched.contains("전등이 깜빡입니다") && !searched.contains("수도꼭지에서"));

        let detail_url = app.url(&format!("/admin/requests/{leak}"));
        let (_, detail) = page(&admin, &detail_url).await;
        let csrf = csrf_of(&detail);
        let saved = admin
            .post(&detail_url)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("status", "in_progress"),
                ("category", "plumbing"),
                ("priority", "high"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let request: Value = app
            .get(Some(&resident), &format!("/api/requests/{leak}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(request["status"], "in_progress");
        assert_eq!(
            request["classification_method"], "keyword",
            "unchanged category and priority stay automatic"
        );
        let bad = admin
            .post(&detail_url)
            .form(&[("csrf_token", csrf.as_str()), ("status", "done")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let deleted = admin
            .post(app.url(&format!("/requests/{leak}/delete")))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.headers()[LOCATION], "/admin");
        assert_error(
            app.get(Some(&resident), &format!("/api/requests/{leak}"))
                .await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }

    /// What a browser sends for the form posting to `action`: its hidden inputs and the
    /// option selected in each of its selects.
    fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
        let start = html
            .find(&format!("action=\"{action}\""))
            .expect("the form");
        let form = &html[start..start + html[start..].find("</form>").unwrap()];
        let attribute = |tag: &str, name: &str| {
            let marker = format!("{name}=\"");
            tag.find(&marker).map(|i| {
                tag[i + marker.len()..]
                    .split('"')
                    .next()
                    .unwrap()
                    .to_owned()
            })
        };
        let mut fields = Vec::new();
        for tag in form.split('<').skip(1) {
            if tag.starts_with("input") {
                fields.extend(attribute(tag, "name").zip(attribute(tag, "value")));
            }
        }
        for select in form.split("<select").skip(1) {
            let name = attribute(select, "name").unwrap();
            let chosen = select
                .split("<option")
                .find(|o| o.split('>').next().unwrap().contains("selected"))
                .and_then(|o| attribute(o, "value"))
                .unwrap();
            fields.push((name, chosen));
        }
        fields
    }

    #[tokio::test]
    async fn a_status_change_keeps_a_refinement_that_arrived_after_the_form_was_shown() {
        // The LLM answers only after the admin has opened the form.
        let mock = MockLlm::builder(vec![Behaviour::Hang(Duration::from_millis(1500))])
            .rule(|_| ("other".to_owned(), "low".to_owned()))
            .start();
        let app = crate::classification::app_with_llm(&mock, &[("LLM_TIMEOUT_SECS", "10")]).await;
        let (_, resident) = app.resident("r@example.com").await;
        app.admin("a@example.com").await;
        let mut events = app.events.subscribe();
        let id = app.submit(&resident, "전등이 깜빡입니다").await["id"]
            .as_i64()
            .unwrap();
        let admin = browser();
        log_in(&app, &admin, "a@example.com", PASSWORD).await;
        let action = format!("/admin/requests/{id}");
        let (_, html) = page(&admin, &app.url(&action)).await;
        let mut fields = form_fields(&html, &action);
        assert!(
            fields.contains(&("category".into(), "electrical".into())),
            "the form shows the offline answer: {fields:?}"
        );

        let refined = async {
            loop {
                let event = events.recv().await.unwrap();
                let frame: Value = serde_json::from_str(&event.frame).unwrap();
                if frame["type"] == "request_classified" && frame["data"]["id"] == id {
                    break frame["data"].clone();
                }
            }
        };
        let refined = tokio::time::timeout(Duration::from_secs(20), refined)
            .await
            .expect("the refinement arrives");
        assert_eq!(refined["classification_method"], "llm");

        // The admin changes only the status on the form rendered before the refinement.
        for (name, value) in &mut fields {
            if name == "status" {
                *value = "in_progress".into();
            }
        }
        let saved = admin
            .post(app.url(&action))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let request: Value = app
            .get(Some(&resident), &format!("/api/requests/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(request["status"], "in_progress");
        assert_eq!(request["category"], "other", "the refinement is kept");
        assert_eq!(request["priority"], "low");
        assert_eq!(
            request["classification_method"], "llm",
            "and not made manual"
        );
    }

    #[tokio::test]
    async fn super_admins_change_roles_on_the_users_page() {
        let app = spawn_app().await;
        let (id, _) = app.resident("r@example.com").await;
        let root = browser();
        log_in(&app, &root, SUPER_EMAIL, SUPER_PASSWORD).await;
        let (status, html) = page(&root, &app.url("/admin/users")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("r@example.com") && html.contains("(나)"));
        let changed = root
            .post(app.url(&format!("/admin/users/{id}/role")))
            .form(&[("csrf_token", csrf_of(&html).as_str()), ("role", "admin")])
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), StatusCode::SEE_OTHER);
        let (_, html) = page(&root, &app.url("/admin/users")).await;
        assert!(html.contains("역할을 관리자(으)로 바꿨습니다"));
        let token = app.token("r@example.com", PASSWORD).await;
        assert_eq!(
            app.get(Some(&token), "/api/requests").await.status(),
            StatusCode::OK,
            "now staff"
        );
    }
}

/// Behind an HTTPS proxy (or when configured), session cookies are Secure; on plain HTTP they are not.
#[tokio::test]
async fn cookies_are_secure_over_https_or_when_configured() {
    /// Logs in as a browser on `https://` would (cookies passed by hand: the test client
    /// itself speaks plain HTTP and would keep Secure cookies to itself); returns the
    /// session cookie as set.
    async fn session_cookie(app: &TestApp, forwarded_https: bool) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let with_scheme = |request: reqwest::RequestBuilder| {
            if forwarded_https {
                request.header("X-Forwarded-Proto", "https")
            } else {
                request
            }
        };
        let form = with_scheme(client.get(app.url("/login")))
            .send()
            .await
            .unwrap();
        let nonce = form
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.contains("csrf="))
            .expect("a pre-session cookie");
        let csrf = csrf_of(&form.text().await.unwrap());
        let response = with_scheme(client.post(app.url("/login")))
            .header(reqwest::header::COOKIE, nonce)
            .form(&[
                ("email", "r@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.contains("session="))
            .expect("a session cookie")
    }
    let app = spawn_app().await;
    app.resident("r@example.com").await;
    let plain = session_cookie(&app, false).await;
    assert!(
        plain.starts_with("session=") && !plain.contains("Secure"),
        "{plain}"
    );
    // Over HTTPS the cookie is `__Host-` named, so a sibling site cannot plant one.
    let secure = session_cookie(&app, true).await;
    assert!(
        secure.starts_with("__Host-session=") && secure.contains("Secure"),
        "{secure}"
    );
    assert!(!secure.contains("Domain"), "{secure}");
    let configured = spawn_app_with(&[("COOKIE_SECURE", "true")]).await;
    configured.resident("r@example.com").await;
    let forced = session_cookie(&configured, false).await;
    assert!(
        forced.starts_with("__Host-session=") && forced.contains("Secure"),
        "{forced}"
    );
}

/// Issue 10, "Pages": what a resident and a building manager stumbled on.
mod rough_edges {
    use super::*;
    use serde_json::{Value, json};

    async fn page(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
        let response = client.get(url).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The page's `<header>`: the brand and the menu.
    fn header_of(html: &str) -> &str {
        let start = html.find("<header").expect("a header");
        &html[start..start + html[start..].find("</header>").expect("its end")]
    }

    /// The `<main>` part of a page.
    fn main_of(html: &str) -> &str {
        let start = html.find("<main").expect("a main");
        &html[start..start + html[start..].find("</main>").expect("its end")]
    }

    /// The href of the first link whose text is `text`.
    fn link_to<'a>(html: &'a str, text: &str) -> Option<&'a str> {
        html.split("<a ")
            .skip(1)
            .find(|a| {
                a.split_once('>')
                    .is_some_and(|(_, rest)| rest.split("</a>").next().unwrap().trim() == text)
            })
            .and_then(|a| a.split("href=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
    }

    /// The request ids of a list's rows, in the order shown.
    fn row_ids(html: &str) -> Vec<i64> {
        let body = html.split("<tbody").nth(1).unwrap_or(html);
        body.split("<tr data-request-id=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
            .collect()
    }

    /// The value shown in `[data-count="name"]`.
    fn count_of(html: &str, name: &str) -> Option<u64> {
        let marker = format!("data-count=\"{name}\"");
        let rest = &html[html.find(&marker)? + marker.len()..];
        rest.split_once('>')?
            .1
            .split('<')
            .next()?
            .trim()
            .parse()
            .ok()
    }

    async fn set(app: &TestApp, admin: &str, id: i64, changes: Value) {
        let response = app
            .patch_json(Some(admin), &format!("/api/requests/{id}"), &changes)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{changes}");
    }

    #[tokio::test]
    async fn error_pages_show_the_visitors_own_menu() {
        let app = spawn_app().await;
        let (_, token) = app.resident("r@example.com").await;
        let id = app.submit(&token, "전등이 깜빡입니다").await["id"]
            .as_i64()
            .unwrap();
        let resident = browser();
        log_in(&app, &resident, "r@example.com", PASSWORD).await;
        let logged_in_menu = |path: &str, html: &str| {
            let header = header_of(html);
            assert!(
                header.contains("href=\"/my-requests\"") && header.contains("로그아웃"),
                "{path}: {header}"
            );
            assert!(
                !header.contains("href=\"/login\"") && !header.contains("href=\"/register\""),
                "{path}: {header}"
            );
        };
        for (path, status) in [
            ("/admin", StatusCode::FORBIDDEN),
            ("/admin/users", StatusCode::FORBIDDEN),
            ("/requests/999999", StatusCode::NOT_FOUND),
            ("/no/such/page", StatusCode::NOT_FOUND),
        ] {
            let (got, html) = page(&resident, &app.url(path)).await;
            assert_eq!(got, status, "{path}");
            logged_in_menu(path, &html);
        }
        // An admin's 403 (the users page is for super admins) shows the admin's menu.
        app.admin("a@example.com").await;
        let admin = browser();
        log_in(&app, &admin, "a@example.com", PASSWORD).await;
        let (got, html) = page(&admin, &app.url("/admin/users")).await;
        assert_eq!(got, StatusCode::FORBIDDEN);
        assert!(header_of(&html).contains("href=\"/admin\""), "{html}");

        // A page that fails inside (its history table is gone) is a 500 with the same menu.
        let conn = rusqlite::Connection::open(app.db_path()).unwrap();
        conn.execute_batch("DROP TABLE request_history").unwrap();
        let path = format!("/requests/{id}");
        let (got, html) = page(&resident, &app.url(&path)).await;
        assert_eq!(got, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(html.contains("일시적인 문제"), "{html}");
        logged_in_menu(&path, &html);

        // Visitors who are not logged in still get 로그인 and 회원가입.
        let (got, html) = page(&browser(), &app.url("/no/such/page")).await;
        assert_eq!(got, StatusCode::NOT_FOUND);
        assert!(header_of(&html).contains("href=\"/login\""), "{html}");
    }

    #[tokio::test]
    async fn every_page_names_the_building_and_the_landing_page_gives_the_emergency_line() {
        let app = spawn_app_with(&[
            ("SITE_NAME", "한빛아파트 <관리>"),
            ("EMERGENCY_TEXT", "가스 냄새가 나면 즉시 02-000-0000"),
        ])
        .await;
        app.resident("r@example.com").await;
        let resident = browser();
        log_in(&app, &resident, "r@example.com", PASSWORD).await;
        for (client, path) in [
            (browser(), "/"),
            (browser(), "/login"),
            (browser(), "/register"),
            (browser(), "/no/such/page"),
            (resident.clone(), "/my-requests"),
            (resident.clone(), "/admin"),
        ] {
            let (_, html) = page(&client, &app.url(path)).await;
            let title = html
                .split("<title>")
                .nth(1)
                .unwrap()
                .split("</title>")
                .next();
            assert!(
                title.is_some_and(|t| t.ends_with("한빛아파트 &#60;관리&#62;")
                    || t.ends_with("한빛아파트 &lt;관리&gt;")),
                "{path}: {title:?}"
            );
            let header = header_of(&html);
            assert!(header.contains("한빛아파트"), "{path}: {header}");
            assert!(!html.contains("건물 유지보수"), "{path}");
        }
        let (_, landing) = page(&browser(), &app.url("/")).await;
        assert!(
            main_of(&landing).contains("가스 냄새가 나면 즉시 02-000-0000"),
            "{landing}"
        );

        let default = spawn_app().await;
        let (_, landing) = page(&browser(), &default.url("/")).await;
        assert!(landing.contains("<title>환영합니다 · 건물 유지보수</title>"));
        assert!(
            main_of(&landing).contains(
                "가스 냄새·화재·갇힘 등 위급 상황은 즉시 119 또는 관리사무소로 전화하세요"
            ),
            "{landing}"
        );
    }

    #[tokio::test]
    async fn the_dashboard_puts_open_urgent_requests_first_and_counts_those_waiting() {
        let app = spawn_app().await;
        let (_, resident) = app.resident("r@example.com").await;
        let (_, admin) = app.admin("a@example.com").await;
        // Oldest first: (priority, status) of each.
        let plan = [
            ("high", "pending"),
            ("low", "pending"),
            ("high", "in_progress"),
            ("high", "completed"),
            ("medium", "in_progress"),
            ("high", "pending"),
            ("low", "pending"),
        ];
        let mut ids = Vec::new();
        for (n, (priority, status)) in plan.iter().enumerate() {
            let id = app.submit(&resident, &format!("요청 {n}")).await["id"]
                .as_i64()
                .unwrap();
            set(
                &app,
                &admin,
                id,
                json!({"priority": priority, "status": status}),
            )
            .await;
            ids.push(id);
        }
        let client = browser();
        log_in(&app, &client, "a@example.com", PASSWORD).await;
        let (_, html) = page(&client, &app.url("/admin")).await;
        // Open high ones first (waiting before in progress), then the rest newest first.
        let expected = [ids[5], ids[0], ids[2], ids[6], ids[4], ids[3], ids[1]];
        assert_eq!(row_ids(&html), expected);
        assert_eq!(count_of(&html, "urgent"), Some(2), "긴급 대기 2건");
        assert!(html.contains("긴급 대기"));
        // Filters keep that order among what they show.
        let (_, pending) = page(&client, &app.url("/admin?status=pending")).await;
        assert_eq!(row_ids(&pending), [ids[5], ids[0], ids[6], ids[1]]);
        let (_, high) = page(&client, &app.url("/admin?priority=high")).await;
        assert_eq!(row_ids(&high), [ids[5], ids[0], ids[2], ids[3]]);
        assert_eq!(
            count_of(&high, "urgent"),
            Some(2),
            "the count is never filtered"
        );
        // The residents' list stays newest first.
        let mine = browser();
        log_in(&app, &mine, "r@example.com", PASSWORD).await;
        let (_, list) = page(&mine, &app.url("/my-requests")).await;
        let shown: Vec<i64> = list
            .split("<li data-request-id=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
            .collect();
        let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
        assert_eq!(shown, newest_first);
    }

    #[tokio::test]
    async fn the_table_header_names_the_badges_in_their_order() {
        let app = spawn_app().await;
        let (_, resident) = app.resident("r@example.com").await;
        app.admin("a@example.com").await;
        app.submit(&resident, "수도꼭지에서 물이 샙니다").await;
        let client = browser();
        log_in(&app, &client, "a@example.com", PASSWORD).await;
        let (_, html) = page(&client, &app.url("/admin")).await;
        let header = html
            .split("<th")
            .skip(1)
            .filter(|th| th.starts_with(' ') || th.starts_with('>'))
            .map(|th| th.split_once('>').unwrap().1.split("</th>").next().unwrap())
            .find(|text| text.contains('·'))
            .expect("the badges' column");
        let named: Vec<&str> = header
            .split('·')
            .map(|name| match name.trim() {
                "상태" => "status",
                "분류" => "category",
                "긴급도" => "priority",
                other => panic!("unknown column part {other:?}"),
            })
            .collect();
        let row = html.split("<tbody").nth(1).unwrap();
        let mut shown: Vec<(usize, &str)> = ["status", "category", "priority"]
            .into_iter()
            .map(|kind| (row.find(&format!("class=\"badge {kind}")).unwrap(), kind))
            .collect();
        shown.sort();
        let shown: Vec<&str> = shown.into_iter().map(|(_, kind)| kind).collect();
        assert_eq!(named, shown, "{header}");
    }

    #[tokio::test]
    async fn deleting_a_request_asks_for_confirmation_first() {
        let app = spawn_app().await;
        let (_, resident) = app.resident("r@example.com").await;
        let (_, admin_token) = app.admin("a@example.com").await;
        let mine = app.submit(&resident, "전등이 깜빡입니다").await["id"]
            .as_i64()
            .unwrap();
        let client = browser();
        log_in(&app, &client, "r@example.com", PASSWORD).await;
        let confirm = format!("/requests/{mine}/delete");
        let (_, detail) = page(&client, &app.url(&format!("/requests/{mine}"))).await;
        assert_eq!(
            link_to(&detail, "요청 삭제"),
            Some(confirm.as_str()),
            "the button leads to the confirmation, it does not delete"
        );
        let (status, html) = page(&client, &app.url(&confirm)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("정말 이 요청을 삭제하시겠습니까?"), "{html}");
        assert!(html.contains("전등이 깜빡입니다"), "it names the request");
        assert_eq!(
            link_to(&html, "취소"),
            Some(format!("/requests/{mine}").as_str())
        );
        assert!(
            html.contains(&format!("method=\"post\" action=\"{confirm}\"")),
            "{html}"
        );
        assert_eq!(
            app.get(Some(&resident), &format!("/api/requests/{mine}"))
                .await
                .status(),
            StatusCode::OK,
            "looking at the confirmation deletes nothing"
        );
        let deleted = client
            .post(app.url(&confirm))
            .form(&[("csrf_token", csrf_of(&html))])
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
        assert_eq!(deleted.headers()[LOCATION], "/my-requests");
        let (_, list) = page(&client, &app.url("/my-requests")).await;
        assert!(list.contains("요청을 삭제했습니다"));

        // Staff confirm too, and cancel back to their own page of the request.
        let other = app.submit(&resident, "변기가 막혔어요").await["id"]
            .as_i64()
            .unwrap();
        let staff = browser();
        log_in(&app, &staff, "a@example.com", PASSWORD).await;
        let (_, detail) = page(&staff, &app.url(&format!("/admin/requests/{other}"))).await;
        let confirm = format!("/requests/{other}/delete");
        assert_eq!(link_to(&detail, "요청 삭제"), Some(confirm.as_str()));
        let (status, html) = page(&staff, &app.url(&confirm)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            link_to(&html, "취소"),
            Some(format!("/admin/requests/{other}").as_str())
        );

        // Once work has started, the resident's confirmation page says why it cannot be done.
        set(&app, &admin_token, other, json!({"status": "in_progress"})).await;
        let response = client.get(app.url(&confirm)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[LOCATION],
            format!("/requests/{other}").as_str()
        );
        let (_, detail) = page(&client, &app.url(&format!("/requests/{other}"))).await;
        assert!(detail.contains("이미 처리가 시작되어"), "{detail}");
    }

    #[tokio::test]
    async fn the_request_page_links_back_to_its_list() {
        let app = spawn_app().await;
        let (_, resident) = app.resident("r@example.com").await;
        app.admin("a@example.com").await;
        let id = app.submit(&resident, "전등이 깜빡입니다").await["id"]
            .as_i64()
            .unwrap();
        let client = browser();
        log_in(&app, &client, "r@example.com", PASSWORD).await;
        let (_, html) = page(&client, &app.url(&format!("/requests/{id}"))).await;
        assert_eq!(link_to(main_of(&html), "목록으로"), Some("/my-requests"));
        let staff = browser();
        log_in(&app, &staff, "a@example.com", PASSWORD).await;
        let (_, html) = page(&staff, &app.url(&format!("/admin/requests/{id}"))).await;
        assert_eq!(link_to(main_of(&html), "목록으로"), Some("/admin"));
    }

    /// The page script fetches the page it shows to stay current: a message waiting for the
    /// next page the visitor opens is left for that page.
    #[tokio::test]
    async fn a_copy_fetched_by_the_page_script_leaves_the_flash_message_alone() {
        let app = spawn_app().await;
        app.resident("r@example.com").await;
        let client = browser();
        // Logging in leaves no message; withdrawing a request does.
        log_in(&app, &client, "r@example.com", PASSWORD).await;
        let token = app.token("r@example.com", PASSWORD).await;
        let id = app.submit(&token, "전등이 깜빡입니다").await["id"]
            .as_i64()
            .unwrap();
        let (_, detail) = page(&client, &app.url(&format!("/requests/{id}"))).await;
        let deleted = client
            .post(app.url(&format!("/requests/{id}/delete")))
            .form(&[("csrf_token", csrf_of(&detail))])
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
        let fetched = client
            .get(app.url("/my-requests"))
            .header("Sec-Fetch-Mode", "cors")
            .send()
            .await
            .unwrap();
        assert!(
            !fetched
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("flash=")),
            "the message is not cleared"
        );
        assert!(
            !fetched
                .text()
                .await
                .unwrap()
                .contains("요청을 삭제했습니다")
        );
        let opened = client
            .get(app.url("/my-requests"))
            .header("Sec-Fetch-Mode", "navigate")
            .send()
            .await
            .unwrap();
        assert!(opened.text().await.unwrap().contains("요청을 삭제했습니다"));
    }

    #[tokio::test]
    async fn the_users_page_is_a_clean_table_with_search_and_deletion() {
        let app = spawn_app().await;
        for (email, name) in [("kim@example.com", "김철수"), ("lee@example.com", "이영희")] {
            let response = app
                .post_json(
                    None,
                    "/api/auth/register",
                    &json!({"email": email, "password": PASSWORD, "full_name": name}),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        let kim_token = app.token("kim@example.com", PASSWORD).await;
        let kim = app.me(&kim_token).await["id"].as_i64().unwrap();
        let request = app.submit(&kim_token, "전등이 깜빡입니다").await["id"]
            .as_i64()
            .unwrap();
        let root = browser();
        log_in(&app, &root, SUPER_EMAIL, SUPER_PASSWORD).await;

        let (status, html) = page(&root, &app.url("/admin/users")).await;
        assert_eq!(status, StatusCode::OK);
        let table = &html[html.find("<table").unwrap()..html.find("</table>").unwrap()];
        assert!(
            table.contains("<th scope=\"col\">역할</th>") && !table.contains("<label"),
            "the column header says 역할, no row repeats a label: {table}"
        );
        for (query, shown, hidden) in [
            ("kim", "kim@example.com", "lee@example.com"),
            ("영희", "lee@example.com", "kim@example.com"),
            ("LEE@EXAMPLE", "lee@example.com", "kim@example.com"),
        ] {
            let url = app.url(&format!(
                "/admin/users?{}",
                serde_urlencoded::to_string([("q", query)]).unwrap()
            ));
            let (status, html) = page(&root, &url).await;
            assert_eq!(status, StatusCode::OK, "{query}");
            let table = &html[html.find("<table").unwrap()..html.find("</table>").unwrap()];
            assert!(
                table.contains(shown) && !table.contains(hidden),
                "{query}: {table}"
            );
            assert!(
                html.contains(&format!("value=\"{query}\"")),
                "the box keeps it"
            );
        }

        // Deleting asks first, saying what goes with the account.
        let confirm = format!("/admin/users/{kim}/delete");
        let (_, html) = page(&root, &app.url("/admin/users")).await;
        assert!(
            html.contains(&format!("href=\"{confirm}\"")),
            "kim's row links to its confirmation"
        );
        let (status, html) = page(&root, &app.url(&confirm)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("kim@example.com") && html.contains("요청 1건"),
            "{html}"
        );
        assert!(
            html.contains(&format!("method=\"post\" action=\"{confirm}\"")),
            "{html}"
        );
        let deleted = root
            .post(app.url(&confirm))
            .form(&[("csrf_token", csrf_of(&html))])
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
        assert_eq!(deleted.headers()[LOCATION], "/admin/users");
        let (_, html) = page(&root, &app.url("/admin/users")).await;
        assert!(
            html.contains("kim@example.com 계정을 삭제했습니다"),
            "{html}"
        );
        assert_eq!(
            app.login_form("kim@example.com", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_error(
            app.get(
                Some(&app.super_token().await),
                &format!("/api/requests/{request}"),
            )
            .await,
            StatusCode::NOT_FOUND,
        )
        .await;

        // One's own account has no delete link; posting anyway explains why.
        let me = app.me(&app.super_token().await).await["id"]
            .as_i64()
            .unwrap();
        assert!(!html.contains(&format!("/admin/users/{me}/delete")));
        let refused = root
            .post(app.url(&format!("/admin/users/{me}/delete")))
            .form(&[("csrf_token", csrf_of(&html))])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SEE_OTHER);
        let (_, html) = page(&root, &app.url("/admin/users")).await;
        assert!(
            html.contains("자기 자신의 계정은 삭제할 수 없습니다"),
            "{html}"
        );

        // Admins who are not super admins cannot.
        let lee = app.me(&app.token("lee@example.com", PASSWORD).await).await["id"]
            .as_i64()
            .unwrap();
        app.admin("a@example.com").await;
        let admin = browser();
        log_in(&app, &admin, "a@example.com", PASSWORD).await;
        let (status, _) = page(&admin, &app.url(&format!("/admin/users/{lee}/delete"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

//! The pages in Korean (the default) and English: the browser's preference, the footer's
//! switch and its cookie. The API's JSON is the same in every language.

use crate::helpers::*;
use crate::pages::{csrf_of, form_token, log_in};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_LANGUAGE, LOCATION, ORIGIN, REFERER, SET_COOKIE};
use serde_json::Value;

const ENGLISH: &str = "en-US,en;q=0.9,ko;q=0.8";

/// A browser (cookies kept, redirects not followed, HTML asked for) that prefers `languages`.
fn browser_speaking(languages: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ACCEPT, "text/html".parse().unwrap());
    if let Some(languages) = languages {
        headers.insert(ACCEPT_LANGUAGE, languages.parse().unwrap());
    }
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn page(client: &reqwest::Client, url: &str, status: StatusCode) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), status, "{url}");
    response.text().await.unwrap()
}

/// The Korean left on a page, besides the language switch (which names 한국어 in Korean).
fn korean_on(html: &str) -> Vec<String> {
    let mut text = html.to_owned();
    if let Some(start) = text.find("<form method=\"post\" action=\"/language\"") {
        let end = text[start..]
            .find("</form>")
            .map_or(text.len(), |e| start + e);
        text.replace_range(start..end, "");
    }
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if ('\u{AC00}'..='\u{D7A3}').contains(&chars[i]) {
            let from = i.saturating_sub(30);
            let to = (i + 30).min(chars.len());
            found.push(chars[from..to].iter().collect());
            i = to;
        } else {
            i += 1;
        }
    }
    found
}

fn assert_english(html: &str, what: &str) {
    assert!(html.contains("<html lang=\"en\">"), "{what}: {html}");
    let korean = korean_on(html);
    assert!(korean.is_empty(), "{what} still has Korean: {korean:#?}");
}

#[tokio::test]
async fn browsers_preferring_english_get_english_pages() {
    let app = spawn_app().await;
    let client = browser_speaking(Some(ENGLISH));

    let landing = page(&client, &app.url("/"), StatusCode::OK).await;
    assert_english(&landing, "the landing page");
    for text in [
        "Log in",
        "Sign up",
        "Report a problem in one go",
        "Building maintenance",
        "call 119",
        "<button type=\"submit\" name=\"lang\" value=\"ko\" lang=\"ko\" class=\"link\">한국어</button>",
    ] {
        assert!(landing.contains(text), "{text}: {landing}");
    }

    let login = page(&client, &app.url("/login"), StatusCode::OK).await;
    assert_english(&login, "the login page");
    assert!(login.contains(">Email</label>") && login.contains(">Password</label>"));
    let failed = client
        .post(app.url("/login"))
        .form(&[
            ("email", "nobody@example.com"),
            ("password", "wrong password"),
            ("csrf_token", &csrf_of(&login)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let failed = failed.text().await.unwrap();
    assert_english(&failed, "a failed login");
    assert!(failed.contains("The email or password is not correct."));

    // A resident's list, a request's page and its history.
    let (_, token) = app.resident("resident@example.com").await;
    let request = app.submit(&token, "The kitchen light flickers").await;
    let id = request["id"].as_i64().unwrap();
    log_in(&app, &client, "resident@example.com", PASSWORD).await;
    let list = page(&client, &app.url("/my-requests"), StatusCode::OK).await;
    assert_english(&list, "a resident's list");
    for text in [
        "<h1>My requests</h1>",
        ">Pending</span>",
        "1 request in all",
        "Submit a new request",
    ] {
        assert!(list.contains(text), "{text}: {list}");
    }
    let detail = page(
        &client,
        &app.url(&format!("/requests/{id}")),
        StatusCode::OK,
    )
    .await;
    assert_english(&detail, "a request's page");
    assert!(
        detail.contains(&format!("<h1>Request #{id}</h1>")),
        "{detail}"
    );
    assert!(detail.contains("<h2>History</h2>") && detail.contains("· Submitted</li>"));
    assert!(detail.contains(">Delete request</a>"));
    // Dates as English writes them ("Nov 3, 2026, 14:07"), not 2026-11-03 14:07.
    let month = [
        "Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ", "Oct ",
    ];
    let month_nov_dec = ["Nov ", "Dec "];
    assert!(
        month
            .iter()
            .chain(month_nov_dec.iter())
            .any(|m| detail.contains(&format!("<time>{m}"))),
        "{detail}"
    );

    // The account page, with its sessions.
    let account = page(&client, &app.url("/account"), StatusCode::OK).await;
    assert_english(&account, "the account page");
    for text in [
        "<h1>My account</h1>",
        "<h2 id=\"password\">Change password</h2>",
        "<td>Web browser</td>",
        ">This device</strong>",
    ] {
        assert!(account.contains(text), "{text}: {account}");
    }

    // An error page, with the resident's own menu.
    let forbidden = page(&client, &app.url("/admin"), StatusCode::FORBIDDEN).await;
    assert_english(&forbidden, "the 403 page");
    assert!(forbidden.contains("Access denied") && forbidden.contains(">My requests</a>"));
    let missing = page(&client, &app.url("/no/such/page"), StatusCode::NOT_FOUND).await;
    assert_english(&missing, "the 404 page");
    assert!(missing.contains("Page not found"));

    // A flash message: logging out.
    let csrf = csrf_of(&list);
    let out = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = page(&client, &app.url("/"), StatusCode::OK).await;
    assert_english(&after, "the page after logging out");
    assert!(after.contains("You are logged out."), "{after}");

    // The dashboard, for an admin.
    app.admin("admin@example.com").await;
    let staff = browser_speaking(Some("en"));
    log_in(&app, &staff, "admin@example.com", PASSWORD).await;
    let dashboard = page(&staff, &app.url("/admin"), StatusCode::OK).await;
    assert_english(&dashboard, "the dashboard");
    for text in [
        "<h1>Requests</h1>",
        "urgent, waiting",
        "1 request</caption>",
        "<option value=\"electrical\" >Electrical</option>",
        "<option value=\"in_progress\" >In progress</option>",
        "<option value=\"high\" >High</option>",
        "Submitted in the last 30 days",
    ] {
        assert!(dashboard.contains(text), "{text}: {dashboard}");
    }
    // A flash message after saving a change.
    let staff_page = page(
        &staff,
        &app.url(&format!("/admin/requests/{id}")),
        StatusCode::OK,
    )
    .await;
    assert_english(&staff_page, "a request's staff page");
    let saved = staff
        .post(app.url(&format!("/admin/requests/{id}")))
        .form(&[
            ("csrf_token", csrf_of(&staff_page).as_str()),
            ("status", "in_progress"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let staff_page = page(
        &staff,
        &app.url(&format!("/admin/requests/{id}")),
        StatusCode::OK,
    )
    .await;
    assert!(staff_page.contains("<p class=\"flash\" role=\"status\">Saved.</p>"));
    assert!(
        staff_page.contains("Status changed: Pending → In progress"),
        "{staff_page}"
    );

    // The API speaks as it always did.
    let json: Value = reqwest::Client::new()
        .get(app.url(&format!("/api/requests/{id}")))
        .bearer_auth(&token)
        .header(ACCEPT_LANGUAGE, ENGLISH)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["status"], "in_progress");
}

#[tokio::test]
async fn without_an_english_preference_the_pages_are_korean() {
    let app = spawn_app().await;
    for languages in [
        None,
        Some("ko"),
        Some("ko-KR,ko;q=0.9,en;q=0.8"),
        Some("fr-FR,fr"),
    ] {
        let client = browser_speaking(languages);
        let landing = page(&client, &app.url("/"), StatusCode::OK).await;
        assert!(landing.contains("<html lang=\"ko\">"), "{languages:?}");
        assert!(landing.contains("고장 신고") && landing.contains(">로그인</a>"));
        assert!(
            landing.contains("value=\"en\" lang=\"en\" class=\"link\">English</button>"),
            "the switch offers English: {landing}"
        );
        let missing = page(&client, &app.url("/nowhere"), StatusCode::NOT_FOUND).await;
        assert!(
            missing.contains("페이지를 찾을 수 없습니다"),
            "{languages:?}"
        );
    }
}

/// Presses the footer's switch on `from` (sent as the browser sends it, with a Referer).
async fn switch(
    app: &TestApp,
    client: &reqwest::Client,
    from: &str,
    lang: &str,
) -> reqwest::Response {
    let csrf = form_token(client, &app.url(from)).await;
    client
        .post(app.url("/language"))
        .header(REFERER, app.url(from))
        .header(ORIGIN, app.address.clone())
        .form(&[("csrf_token", csrf.as_str()), ("lang", lang)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_footer_switch_is_remembered_and_wins_over_the_browser() {
    let app = spawn_app().await;
    let client = browser_speaking(Some(ENGLISH));
    let response = switch(&app, &client, "/login?next=/my-requests", "ko").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login?next=/my-requests");
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("lang="))
        .expect("the lang cookie");
    assert!(cookie.starts_with("lang=ko;"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(cookie.contains("Max-Age=31536000"), "a year: {cookie}");
    // The cookie wins over the browser's English.
    let login = page(
        &client,
        &app.url("/login?next=/my-requests"),
        StatusCode::OK,
    )
    .await;
    assert!(login.contains("<html lang=\"ko\">") && login.contains("<h1>로그인</h1>"));

    // And the other way round: a Korean browser switched to English.
    let client = browser_speaking(Some("ko"));
    let response = switch(&app, &client, "/register", "en").await;
    assert_eq!(response.headers()[LOCATION], "/register");
    let register = page(&client, &app.url("/register"), StatusCode::OK).await;
    assert_english(&register, "the registration page after switching");
    assert!(register.contains("<h1>Sign up</h1>"));
}

#[tokio::test]
async fn the_switch_refuses_other_sites() {
    let app = spawn_app().await;
    let client = browser_speaking(None);
    let csrf = form_token(&client, &app.url("/")).await;
    let lang_cookie = |response: &reqwest::Response| {
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("lang="))
    };

    // A form on another site.
    let response = client
        .post(app.url("/language"))
        .header(ORIGIN, "https://evil.example")
        .form(&[("csrf_token", csrf.as_str()), ("lang", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!lang_cookie(&response));
    // Without the form's token.
    let response = client
        .post(app.url("/language"))
        .form(&[("csrf_token", "forged"), ("lang", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!lang_cookie(&response));
    // A language the pages do not speak.
    let response = client
        .post(app.url("/language"))
        .form(&[("csrf_token", csrf.as_str()), ("lang", "fr")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!lang_cookie(&response));

    // It goes back only to a page of this site.
    let own = app.address.clone();
    for referer in [
        "https://evil.example/".to_owned(),
        "https://evil.example/login".to_owned(),
        format!("{own}//evil.example/"),
        format!("{own}/\\evil.example"),
        format!("{own}/%09/evil.example"),
        format!("{own}.evil.example/x"),
        format!("{own}@evil.example/x"),
        "/relative".to_owned(),
        String::new(),
    ] {
        let response = client
            .post(app.url("/language"))
            .header(REFERER, referer.as_str())
            .form(&[("csrf_token", csrf.as_str()), ("lang", "en")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{referer}");
        assert_eq!(response.headers()[LOCATION], "/", "{referer}");
        assert!(lang_cookie(&response), "{referer}");
    }
    // Without a Referer at all, home.
    let response = client
        .post(app.url("/language"))
        .form(&[("csrf_token", csrf.as_str()), ("lang", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[LOCATION], "/");
}

//! Lists without a silent cut-off: every row up to `LIST_DEFAULT_LIMIT` without a `limit`,
//! the total in `X-Total-Count`, and a `Link: <…>; rel="next"` while rows remain.

use crate::helpers::*;
use reqwest::{Response, StatusCode};
use serde_json::Value;

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

fn total(response: &Response) -> u64 {
    response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The URLs in the response's `Link` header by their `rel`: `<URL>; rel="next", <URL>; rel="prev"`.
fn links(response: &Response) -> Vec<(String, String)> {
    let Some(link) = response.headers().get("link") else {
        return Vec::new();
    };
    let link = link.to_str().unwrap().to_owned();
    link.split(", <")
        .map(|entry| {
            let (target, params) = entry.split_once(';').expect("<URL>; rel=...");
            let rel = params
                .trim()
                .strip_prefix("rel=\"")
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or_else(|| panic!("not rel=\"...\": {link}"));
            let url = target
                .trim()
                .trim_start_matches('<')
                .strip_suffix('>')
                .unwrap_or_else(|| panic!("not <URL>: {link}"));
            (rel.to_owned(), url.to_owned())
        })
        .collect()
}

/// The URL of `rel="next"` in the response's `Link` header, if there is one.
fn next_link(response: &Response) -> Option<String> {
    link_to(response, "next")
}

fn link_to(response: &Response, rel: &str) -> Option<String> {
    let found = links(response);
    for (name, _) in &found {
        assert!(name == "next" || name == "prev", "{found:?}");
    }
    found
        .into_iter()
        .find(|(name, _)| name == rel)
        .map(|(_, url)| url)
}

/// The cursor of the page after the one that ends with `id`, as a `Link` names it.
fn before(url: &str) -> &str {
    url.rsplit_once("before=").map_or("", |(_, cursor)| cursor)
}

/// Stores `count` requests of `owner` straight in the database (one transaction), the
/// newest last; quicker than a thousand submissions and the same rows to the lists.
fn seed_requests(app: &TestApp, owner: i64, count: usize) {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         INSERT INTO requests (user_id, description, status, created_at, updated_at)
         SELECT ?1, '오래된 요청 ' || i, 'pending',
                strftime('%Y-%m-%dT%H:%M:%f000Z', '2025-01-01', '+' || i || ' seconds'),
                strftime('%Y-%m-%dT%H:%M:%f000Z', '2025-01-01', '+' || i || ' seconds')
         FROM n",
        rusqlite::params![owner, count as i64],
    )
    .unwrap();
}

#[tokio::test]
async fn without_a_limit_a_resident_and_an_admin_get_all_sixty_requests() {
    let app = spawn_app().await;
    let (_, resident) = app.resident("sixty@example.com").await;
    let (_, admin) = app.admin("staff@example.com").await;
    let mut created = Vec::new();
    for n in 0..60 {
        let request = app
            .submit(&resident, &format!("{n}호 전등이 나갔어요"))
            .await;
        created.push(request["id"].as_i64().unwrap());
    }
    created.reverse();
    for (token, path) in [(&resident, "/api/my-requests"), (&admin, "/api/requests")] {
        let response = app.get(Some(token), path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(total(&response), 60, "{path}");
        assert_eq!(
            next_link(&response),
            None,
            "{path}: everything is on this page"
        );
        assert_eq!(ids(&response.json().await.unwrap()), created, "{path}");
    }
}

#[tokio::test]
async fn past_a_thousand_rows_the_link_header_leads_to_the_rest() {
    let app = spawn_app().await;
    let (owner, resident) = app.resident("many@example.com").await;
    let (_, admin) = app.admin("staff@example.com").await;
    seed_requests(&app, owner, 1003);
    for (token, path) in [(&resident, "/api/my-requests"), (&admin, "/api/requests")] {
        let first = app.get(Some(token), path).await;
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        assert_eq!(total(&first), 1003);
        let next = next_link(&first).unwrap_or_else(|| panic!("{path}: no Link"));
        assert_eq!(link_to(&first, "prev"), None, "{path}: the first page");
        assert!(
            next.starts_with(&format!("{}{path}?before=", app.address)),
            "{next}"
        );
        let first: Vec<i64> = ids(&first.json().await.unwrap());
        assert_eq!(first.len(), 1000);
        // The cursor names the page's last row.
        assert!(
            before(&next).ends_with(&format!(".{}", first[999])),
            "{next}"
        );

        let rest = app
            .client
            .get(&next)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(rest.status(), StatusCode::OK);
        assert_eq!(total(&rest), 1003);
        assert_eq!(next_link(&rest), None, "{path}: the last page has no next");
        let prev = link_to(&rest, "prev").unwrap_or_else(|| panic!("{path}: no way back"));
        let rest = ids(&rest.json().await.unwrap());
        assert!(
            prev.ends_with(&format!(".{}", rest[0])) && prev.contains("?after="),
            "{prev}"
        );
        let back = app
            .client
            .get(&prev)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            ids(&back.json().await.unwrap()),
            first,
            "{path}: back to the first page"
        );
        assert_eq!(rest.len(), 3);
        let mut all = first.clone();
        all.extend(&rest);
        let mut sorted = all.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.dedup();
        assert_eq!(all, sorted, "{path}: newest first, nothing twice");
    }
    for path in [
        "/api/requests?limit=1001",
        "/api/my-requests?limit=1001",
        "/api/admin/users?limit=1001",
    ] {
        let token = if path.starts_with("/api/admin") {
            app.super_token().await
        } else {
            admin.clone()
        };
        assert_error(
            app.get(Some(&token), path).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let most = app.get(Some(&admin), "/api/requests?limit=1000").await;
    assert_eq!(most.status(), StatusCode::OK);
    assert_eq!(ids(&most.json().await.unwrap()).len(), 1000);
}

#[tokio::test]
async fn an_installation_keeping_a_client_that_never_pages_may_raise_the_default() {
    let app = spawn_app_with(&[("LIST_DEFAULT_LIMIT", "1500")]).await;
    let (owner, resident) = app.resident("many@example.com").await;
    let (_, admin) = app.admin("staff@example.com").await;
    seed_requests(&app, owner, 1005);
    for (token, path) in [(&resident, "/api/my-requests"), (&admin, "/api/requests")] {
        let all = app.get(Some(token), path).await;
        assert_eq!(all.status(), StatusCode::OK, "{path}");
        assert_eq!(total(&all), 1005);
        assert_eq!(next_link(&all), None, "{path}: everything is on this page");
        assert_eq!(ids(&all.json().await.unwrap()).len(), 1005, "{path}");
    }
    // A client that pages still asks for at most 1000 at a time.
    assert_error(
        app.get(Some(&admin), "/api/requests?limit=1001").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn the_next_link_keeps_the_callers_filters_percent_encoded() {
    let app = spawn_app_with(&[("LIST_DEFAULT_LIMIT", "2")]).await;
    let (_, resident) = app.resident("filters@example.com").await;
    let (_, admin) = app.admin("staff@example.com").await;
    let mut matching = Vec::new();
    for n in 0..5 {
        let request = app
            .submit(&resident, &format!("복도 전등 a&b=c+d {n}번이 깜빡여요"))
            .await;
        matching.push(request["id"].as_i64().unwrap());
    }
    app.submit(&resident, "싱크대 배수구가 막혔어요").await;
    matching.reverse();

    // "전등 a&b=c+d" (with a space, & = and +, which must not split or change the value).
    let query = "q=%EC%A0%84%EB%93%B1%20a%26b%3Dc%2Bd&status=pending";
    let mut url = app.url(&format!("/api/requests?{query}"));
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let response = app
            .client
            .get(&url)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert_eq!(total(&response), 5, "{url}");
        let next = next_link(&response);
        let page = ids(&response.json().await.unwrap());
        assert!(page.len() <= 2, "LIST_DEFAULT_LIMIT applies: {url}");
        seen.extend(page);
        pages += 1;
        match next {
            Some(next) => {
                assert!(
                    next.starts_with(&format!("{}/api/requests?", app.address)),
                    "{next}"
                );
                assert!(next.contains("status=pending"), "{next}");
                assert!(
                    next.contains("q=%EC%A0%84%EB%93%B1%20a%26b%3Dc%2Bd"),
                    "{next}"
                );
                url = next;
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, matching);

    // An explicit limit is kept too, and the last page (exactly full) has no Link.
    let page = app
        .get(
            Some(&admin),
            &format!("/api/requests?{query}&limit=4&offset=1"),
        )
        .await;
    assert_eq!(next_link(&page), None);
    assert_eq!(ids(&page.json().await.unwrap()), matching[1..5]);
    let page = app
        .get(Some(&admin), &format!("/api/requests?{query}&limit=3"))
        .await;
    let next = next_link(&page).unwrap();
    assert!(next.contains("limit=3"), "{next}");
    assert!(next.ends_with(&format!(".{}", matching[2])), "{next}");
    // Past the end: an empty page, no Link.
    let beyond = app.get(Some(&admin), "/api/requests?offset=50").await;
    assert_eq!(next_link(&beyond), None);
    assert_eq!(ids(&beyond.json().await.unwrap()), Vec::<i64>::new());
}

#[tokio::test]
async fn the_account_list_pages_with_a_link_too() {
    let app = spawn_app_with(&[("LIST_DEFAULT_LIMIT", "3")]).await;
    let root = app.super_token().await;
    for n in 0..4 {
        app.resident(&format!("u{n}@example.com")).await;
    }
    let first = app.get(Some(&root), "/api/admin/users").await;
    assert_eq!(total(&first), 5);
    let next = next_link(&first).expect("a Link to the rest");
    assert_eq!(next, format!("{}/api/admin/users?offset=3", app.address));
    assert_eq!(
        first
            .json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let rest = app
        .client
        .get(&next)
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(next_link(&rest), None);
    let emails: Vec<String> = rest
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    // Newest first, as the original listed them: the super admin came first, so last.
    assert_eq!(emails, ["u0@example.com", "root@example.com"]);

    let page = app.get(Some(&root), "/api/admin/users?limit=2").await;
    assert_eq!(
        next_link(&page).unwrap(),
        format!("{}/api/admin/users?limit=2&offset=2", app.address)
    );
}

#[tokio::test]
async fn links_use_public_url_when_set_and_browsers_may_read_the_paging_headers() {
    let app = spawn_app_with(&[
        ("LIST_DEFAULT_LIMIT", "1"),
        ("PUBLIC_URL", "https://maint.example.com/"),
        ("ALLOWED_ORIGINS", "http://localhost:3000"),
    ])
    .await;
    let (_, resident) = app.resident("cors@example.com").await;
    app.submit(&resident, "현관문이 안 닫혀요").await;
    app.submit(&resident, "현관 센서등이 안 켜져요").await;
    let response = app
        .client
        .get(app.url("/api/my-requests"))
        .bearer_auth(&resident)
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    let next = next_link(&response).unwrap();
    assert!(
        next.starts_with("https://maint.example.com/api/my-requests?before="),
        "{next}"
    );
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in ["x-total-count", "x-total-count-exact", "link"] {
        assert!(exposed.contains(header), "{header} not in {exposed}");
    }
}

/// `X-Forwarded-Host` is a client's own claim unless a trusted proxy sent it: links follow
/// it only from `TRUSTED_PROXIES`.
#[tokio::test]
async fn links_follow_forwarded_headers_only_from_trusted_proxies() {
    for (trusted, expected) in [
        (None, "http://127.0.0.1:"),
        (Some("127.0.0.1"), "https://maint.example.com/"),
    ] {
        let mut vars = vec![("LIST_DEFAULT_LIMIT", "1")];
        vars.extend(trusted.map(|t| ("TRUSTED_PROXIES", t)));
        let app = spawn_app_with(&vars).await;
        let (_, resident) = app.resident("proxy@example.com").await;
        app.submit(&resident, "현관문이 안 닫혀요").await;
        app.submit(&resident, "현관 센서등이 안 켜져요").await;
        let response = app
            .client
            .get(app.url("/api/my-requests"))
            .bearer_auth(&resident)
            .header("X-Forwarded-Host", "maint.example.com")
            .header("X-Forwarded-Proto", "https")
            .send()
            .await
            .unwrap();
        let next = next_link(&response).unwrap();
        assert!(next.starts_with(expected), "{trusted:?}: {next}");
    }
}

#[tokio::test]
async fn forwarded_headers_cannot_write_into_the_link() {
    let app = spawn_app_with(&[("LIST_DEFAULT_LIMIT", "1")]).await;
    let (_, resident) = app.resident("spoof@example.com").await;
    app.submit(&resident, "현관문이 안 닫혀요").await;
    app.submit(&resident, "현관 센서등이 안 켜져요").await;
    for (name, value) in [
        (
            "X-Forwarded-Host",
            "a>; rel=\"prev\", <https://evil.example/x",
        ),
        ("Forwarded", "host=\"a>, <https://evil.example/x\""),
        ("X-Forwarded-Proto", "javascript"),
    ] {
        let response = app
            .client
            .get(app.url("/api/my-requests"))
            .bearer_auth(&resident)
            .header(name, value)
            .send()
            .await
            .unwrap();
        let link = response.headers()["link"].to_str().unwrap().to_owned();
        assert_eq!(link.matches("rel=").count(), 1, "{name}: {link}");
        assert!(!link.contains("evil"), "{name}: {link}");
        let next = next_link(&response).unwrap();
        assert!(
            next.starts_with("http://") && next.contains("/api/my-requests?before="),
            "{name}: {next}"
        );
    }
}

/// Following the `next` cursors while others keep submitting gives every request that was
/// there when the walk began exactly once (new ones are newer: they start the list, not a
/// later page), where offsets would repeat rows as the list grows under them.
#[tokio::test]
async fn cursor_pages_neither_skip_nor_repeat_rows_under_concurrent_inserts() {
    let app = spawn_app_with(&[("REQUEST_RATE_LIMIT_PER_MINUTE", "100000")]).await;
    let (owner, resident) = app.resident("busy@example.com").await;
    let (_, admin) = app.admin("staff@example.com").await;
    seed_requests(&app, owner, 300);
    let first = app.get(Some(&admin), "/api/requests?limit=7").await;
    let total_at_start = total(&first);
    let mut next = next_link(&first);
    let mut seen = ids(&first.json().await.unwrap());

    let writer = {
        let client = app.client.clone();
        let url = app.url("/api/requests");
        let resident = resident.clone();
        tokio::spawn(async move {
            for n in 0..60 {
                let response = client
                    .post(&url)
                    .bearer_auth(&resident)
                    .json(&serde_json::json!({ "description": format!("새 요청 {n}: 복도 전등") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        })
    };
    while let Some(url) = next {
        let page = app
            .client
            .get(&url)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{url}");
        next = next_link(&page);
        seen.extend(ids(&page.json().await.unwrap()));
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let mut unique = seen.clone();
    unique.sort_unstable_by(|a, b| b.cmp(a));
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a row came twice");
    assert_eq!(seen, unique, "newest first");
    assert_eq!(seen.len() as u64, total_at_start, "a row was skipped");
    let now = app.get(Some(&admin), "/api/requests?limit=1").await;
    assert_eq!(total(&now), total_at_start + 60);
}

/// Past 10,000 matches a search stops counting: `X-Total-Count: 10000` with
/// `X-Total-Count-Exact: false`, and the dashboard says "10,000건 이상". Under the cap, and
/// without a search, the count is exact.
#[tokio::test]
async fn a_search_past_ten_thousand_matches_says_so_instead_of_counting_them_all() {
    let app = spawn_app().await;
    let (owner, resident) = app.resident("old@example.com").await;
    seed_requests(&app, owner, 10_050);
    let admin = app.super_token().await;
    for (path, count, exact) in [
        (
            "/api/requests?limit=5&q=%EC%98%A4%EB%9E%98%EB%90%9C",
            10_000,
            "false",
        ),
        (
            "/api/requests?limit=5&q=%EC%9A%94%EC%B2%AD%2010049",
            1,
            "true",
        ),
        ("/api/requests?limit=5", 10_050, "true"),
        ("/api/my-requests?limit=5&status=pending", 10_050, "true"),
    ] {
        let token = if path.starts_with("/api/my") {
            &resident
        } else {
            &admin
        };
        let response = app.get(Some(token), path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(total(&response), count, "{path}");
        assert_eq!(response.headers()["x-total-count-exact"], exact, "{path}");
    }

    let client = crate::pages::browser();
    crate::pages::log_in(&app, &client, "root@example.com", SUPER_PASSWORD).await;
    let page = client
        .get(app.url("/admin?q=%EC%98%A4%EB%9E%98%EB%90%9C"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("요청 10,000건 이상"), "{html}");
    // Its next page is a cursor link, and it works.
    let marker = "before=";
    let start = html.find(marker).expect("a next link") + marker.len();
    let cursor: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let second = client
        .get(app.url(&format!(
            "/admin?q=%EC%98%A4%EB%9E%98%EB%90%9C&before={cursor}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let second = second.text().await.unwrap();
    assert!(second.contains("rel=\"prev\""), "{second}");
}

/// A cursor is read strictly: anything else, or two ways of starting a page at once, is a
/// 422 naming the field, on the API and on the pages.
#[tokio::test]
async fn bad_cursors_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let (_, resident) = app.resident("cursor@example.com").await;
    app.submit(&resident, "현관문이 안 닫혀요").await;
    for (query, field) in [
        ("before=abc", "before"),
        ("after=1.2", "after"),
        ("before=0.1.2&after=0.1.2", "before"),
        ("before=0.1.2&offset=3", "offset"),
        ("before=9.1.2", "before"),
        ("after=0.99999999999999999999.1", "after"),
    ] {
        let response = app
            .get(Some(&resident), &format!("/api/my-requests?{query}"))
            .await;
        let detail = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(detail.contains(field), "{query}: {detail}");
    }
    let client = crate::pages::browser();
    crate::pages::log_in(&app, &client, "cursor@example.com", PASSWORD).await;
    let page = client
        .get(app.url("/my-requests?before=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

/// Control characters in a search (a NUL among them) are no part of any stored text: they
/// are left out of the search instead of breaking it.
#[tokio::test]
async fn a_search_with_control_characters_is_answered() {
    let app = spawn_app().await;
    let (_, resident) = app.resident("nul@example.com").await;
    let request = app.submit(&resident, "욕실 천장 abcd").await;
    let admin = app.super_token().await;
    for q in ["a%00bcd", "%00ab%00", "abc%00", "%00", "%01%1F"] {
        let response = app.get(Some(&admin), &format!("/api/requests?q={q}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{q}");
        let found = ids(&response.json().await.unwrap());
        if q.contains("bc") {
            assert_eq!(found, [request["id"].as_i64().unwrap()], "{q}");
        }
    }
}

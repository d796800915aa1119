//! Photos an API client can show: `image_url` is an absolute link, signed for a while, that
//! an `<img>` fetches without a token.

use crate::helpers::*;
use crate::live::{connect, next, settle};
use crate::photos::{JPEG, upload};
use maintenance::config::Secret;
use maintenance::ids::RequestId;
use maintenance::links::PhotoLinks;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "photo-link-test-secret-0123456789";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The `exp` of a signed link.
fn exp_of(url: &str) -> i64 {
    let query = url.split_once('?').expect("a query").1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("exp="))
        .expect("exp")
        .parse()
        .unwrap()
}

/// Asserts `url` is this server's signed link to request `id`'s photo; returns it.
fn assert_signed(app: &TestApp, url: &Value, id: i64) -> String {
    let url = url
        .as_str()
        .unwrap_or_else(|| panic!("no image_url: {url}"));
    let prefix = format!("{}/api/requests/{id}/image?exp=", app.address);
    assert!(url.starts_with(&prefix), "{url}");
    let sig = url.split_once("&sig=").expect("sig").1;
    assert_eq!(sig.len(), 64, "{url}");
    assert!(sig.bytes().all(|b| b.is_ascii_hexdigit()), "{url}");
    url.to_owned()
}

/// Fetches a link with no token at all.
async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(url).send().await.unwrap()
}

async fn assert_photo(app: &TestApp, url: &str) {
    let response = fetch(app, url).await;
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    let max_age: i64 = cache
        .strip_prefix("private, max-age=")
        .unwrap_or_else(|| panic!("{cache}"))
        .parse()
        .unwrap();
    assert!(
        max_age <= exp_of(url) - now() + 1,
        "a cache may keep it only while the link is valid: {cache}, exp {}",
        exp_of(url)
    );
    assert_eq!(response.bytes().await.unwrap(), JPEG);
}

/// A resident's request with a photo: (request id, owner token, upload answer).
async fn request_with_photo(app: &TestApp, email: &str) -> (i64, String, Value) {
    let (_, owner) = app.resident(email).await;
    let id = app.submit(&owner, "욕실 천장에서 물이 떨어져요").await["id"]
        .as_i64()
        .unwrap();
    let response = upload(app, Some(&owner), id, "leak.jpg", JPEG).await;
    assert_eq!(response.status(), StatusCode::OK);
    (id, owner, response.json().await.unwrap())
}

#[tokio::test]
async fn every_answer_carries_an_absolute_link_that_works_without_a_token() {
    let app = spawn_app().await;
    let (_, admin) = app.admin("staff@example.com").await;
    let (id, owner, uploaded) = request_with_photo(&app, "owner@example.com").await;

    let mut links = vec![assert_signed(&app, &uploaded["image_url"], id)];
    let shown: Value = app
        .get(Some(&owner), &format!("/api/requests/{id}"))
        .await
        .json()
        .await
        .unwrap();
    links.push(assert_signed(&app, &shown["image_url"], id));
    for (token, path) in [(&owner, "/api/my-requests"), (&admin, "/api/requests")] {
        let list: Value = app.get(Some(token), path).await.json().await.unwrap();
        links.push(assert_signed(&app, &list[0]["image_url"], id));
    }
    let changed = app
        .patch_json(
            Some(&admin),
            &format!("/api/requests/{id}"),
            &json!({"status": "in_progress"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    links.push(assert_signed(
        &app,
        &changed.json::<Value>().await.unwrap()["image_url"],
        id,
    ));
    for link in &links {
        assert_photo(&app, link).await;
    }
    let exp = exp_of(&links[0]);
    assert!(
        exp > now() + 45 * 60 && exp <= now() + 60 * 60 + 1,
        "valid for most of IMAGE_URL_TTL_MINUTES (60), never longer: {exp}"
    );

    // What is stored is the unsigned path; the token and the page session still work on it.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let stored: String = conn
        .query_row("SELECT image_url FROM requests WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, format!("/api/requests/{id}/image"));
    let with_token = app.get(Some(&owner), &stored).await;
    assert_eq!(with_token.status(), StatusCode::OK);
    assert_eq!(
        with_token.headers()["cache-control"],
        "private, max-age=3600"
    );
    assert_error(app.get(None, &stored).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn altered_and_expired_links_are_refused() {
    let app = spawn_app_with(&[("SECRET_KEY", SECRET)]).await;
    let (id, _, uploaded) = request_with_photo(&app, "owner@example.com").await;
    let (other, _, _) = request_with_photo(&app, "other@example.com").await;
    let link = assert_signed(&app, &uploaded["image_url"], id);
    assert_photo(&app, &link).await;
    let (path, query) = link.split_once('?').unwrap();
    let exp = exp_of(&link);
    let sig = query.split_once("&sig=").unwrap().1.to_owned();
    let flipped: String = sig
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 10 {
                if c == '0' { '1' } else { '0' }
            } else {
                c
            }
        })
        .collect();
    let base = app.url("/api/requests");
    let refused = [
        // Another request's photo with this request's signature.
        format!("{base}/{other}/image?{query}"),
        format!("{path}?exp={}&sig={sig}", exp + 1),
        format!("{path}?exp={}&sig={sig}", exp - 1),
        format!("{path}?exp={exp}&sig={flipped}"),
        format!("{path}?exp={exp}&sig={}", &sig[..32]),
        format!("{path}?exp={exp}&sig=not-hex"),
        format!("{path}?exp={exp}"),
        format!("{path}?sig={sig}"),
        format!("{path}?exp=tomorrow&sig={sig}"),
    ];
    for url in &refused {
        let response = fetch(&app, url).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{url}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains("photo link"),
            "{url}: {body}"
        );
    }

    // Signed with the server's key but expired: refused, though the same signer's link
    // for a later time is accepted.
    let keys = PhotoLinks::new(&Secret::new(SECRET), 60);
    let expired = keys.url(&app.address, RequestId(id), now() - 5);
    let detail = assert_error(fetch(&app, &expired).await, StatusCode::FORBIDDEN).await;
    assert!(detail.contains("expired"), "{detail}");
    let later = keys.url(&app.address, RequestId(id), now() + 120);
    assert_photo(&app, &later).await;
    // Even rightly signed, no link may outlive the lifetime links are issued for: a key that
    // leaked cannot mint links that never expire.
    let forever = keys.url(&app.address, RequestId(id), 1 << 62);
    assert_error(fetch(&app, &forever).await, StatusCode::FORBIDDEN).await;
    let tomorrow = keys.url(&app.address, RequestId(id), now() + 24 * 3600);
    assert_error(fetch(&app, &tomorrow).await, StatusCode::FORBIDDEN).await;
    for odd in [format!("+{exp}"), format!("0{exp}")] {
        let url = format!("{path}?exp={odd}&sig={sig}");
        assert_error(fetch(&app, &url).await, StatusCode::FORBIDDEN).await;
    }
    // A link for a request without a photo opens nothing.
    let (_, resident) = app.resident("nophoto@example.com").await;
    let bare = app.submit(&resident, "현관문이 잘 안 닫혀요").await["id"]
        .as_i64()
        .unwrap();
    let link = keys.url(&app.address, RequestId(bare), now() + 120);
    assert_error(fetch(&app, &link).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_short_lifetime_and_public_url_shape_the_link() {
    let app = spawn_app_with(&[
        ("IMAGE_URL_TTL_MINUTES", "1"),
        ("PUBLIC_URL", "https://maint.example.com/"),
    ])
    .await;
    let (id, _, uploaded) = request_with_photo(&app, "owner@example.com").await;
    let link = uploaded["image_url"].as_str().unwrap();
    let prefix = format!("https://maint.example.com/api/requests/{id}/image?exp=");
    assert!(link.starts_with(&prefix), "{link}");
    let exp = exp_of(link);
    assert!(
        exp > now() + 40 && exp <= now() + 61,
        "about a minute: {exp}"
    );
    // The proxy at PUBLIC_URL forwards to this server; the path and query are what count.
    let here = link.replacen("https://maint.example.com", &app.address, 1);
    assert_photo(&app, &here).await;
}

#[tokio::test]
async fn a_photo_imported_from_the_original_keeps_its_external_url() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("legacy@example.com").await;
    let id = app.submit(&owner, "베란다 창틀이 깨졌어요").await["id"]
        .as_i64()
        .unwrap();
    let s3 = "https://maintenance-files.s3.ap-northeast-2.amazonaws.com/requests/1/a.jpg";
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.execute(
        "UPDATE requests SET image_url = ?2 WHERE id = ?1",
        rusqlite::params![id, s3],
    )
    .unwrap();
    let shown: Value = app
        .get(Some(&owner), &format!("/api/requests/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["image_url"], s3);
    let list: Value = app
        .get(Some(&owner), "/api/my-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["image_url"], s3);
}

#[tokio::test]
async fn live_events_carry_a_link_signed_when_sent_and_the_log_keeps_none() {
    let app = spawn_app().await;
    let (_, admin) = app.admin("staff@example.com").await;
    let (_, owner) = app.resident("owner@example.com").await;
    let id = app.submit(&owner, "복도 천장 누수").await["id"]
        .as_i64()
        .unwrap();
    let mut live = connect(&app, &owner, "").await;
    settle().await;
    assert_eq!(
        upload(&app, Some(&owner), id, "leak.jpg", JPEG)
            .await
            .status(),
        StatusCode::OK
    );
    let event = next(&mut live).await;
    assert_eq!(event["type"], "request_updated");
    let link = assert_signed(&app, &event["data"]["image_url"], id);
    assert_photo(&app, &link).await;

    // The log stores the unsigned path, and a replay signs it afresh for its own socket.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let stored: String = conn
        .query_row(
            "SELECT data FROM events WHERE id = ?1",
            [event["id"].as_i64().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["image_url"], format!("/api/requests/{id}/image"));
    let mut replay = connect(&app, &admin, "since=0").await;
    let mut found = None;
    for _ in 0..10 {
        let event = next(&mut replay).await;
        if event["type"] == "request_updated" {
            found = Some(event);
            break;
        }
    }
    let replayed = found.expect("the upload's event is replayed");
    let link = assert_signed(&app, &replayed["data"]["image_url"], id);
    assert_photo(&app, &link).await;
}

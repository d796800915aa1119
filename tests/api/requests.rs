use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_submitted_request_is_returned_classified_and_pending() {
    let app = spawn_app().await;
    let (user_id, token) = app.resident("kim@example.com").await;
    let response = app
        .post_json(
            Some(&token),
            "/api/requests",
            &json!({"description": "  수도꼭지에서 물이 샙니다 ", "location": "101동 1203호", "contact_info": "010-1234-5678", "use_async": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let request: Value = response.json().await.unwrap();
    assert_eq!(request["user_id"], user_id);
    assert_eq!(request["description"], "수도꼭지에서 물이 샙니다");
    assert_eq!(request["location"], "101동 1203호");
    assert_eq!(request["contact_info"], "010-1234-5678");
    assert_eq!(request["category"], "plumbing");
    assert_eq!(request["priority"], "high");
    assert_eq!(request["status"], "pending");
    assert_eq!(request["image_url"], Value::Null);
    for field in ["created_at", "updated_at"] {
        assert!(chrono::DateTime::parse_from_rfc3339(request[field].as_str().unwrap()).is_ok());
    }
    let mut keys: Vec<&str> = request
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    for expected in [
        "category",
        "contact_info",
        "created_at",
        "description",
        "id",
        "image_url",
        "location",
        "priority",
        "status",
        "updated_at",
        "user_id",
    ] {
        assert!(keys.contains(&expected), "{expected} missing from {keys:?}");
    }
}

#[tokio::test]
async fn submissions_are_validated() {
    let app = spawn_app().await;
    let (_, token) = app.resident("v@example.com").await;
    let refused = [
        (json!({"description": "   "}), Some("description")),
        (
            json!({"description": "x".repeat(5001)}),
            Some("description"),
        ),
        (
            json!({"description": "ok", "location": "동".repeat(201)}),
            Some("location"),
        ),
        (
            json!({"description": "ok", "contact_info": "1".repeat(201)}),
            Some("contact_info"),
        ),
        (json!({"location": "lobby"}), None),
        (json!({"description": 42}), None),
        (json!({"description": "\u{0}"}), Some("description")),
        (
            json!({"description": "물이 새요\u{0}"}),
            Some("description"),
        ),
    ];
    for (body, field) in refused {
        let response = app.post_json(Some(&token), "/api/requests", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = response.json().await.unwrap();
        assert!(error["detail"].is_string());
        if let Some(field) = field {
            assert_eq!(error["fields"], json!([field]));
        }
    }
    let longest = app
        .post_json(
            Some(&token),
            "/api/requests",
            &json!({"description": "가".repeat(5000), "location": ""}),
        )
        .await;
    assert_eq!(longest.status(), StatusCode::OK);
    assert_eq!(
        longest.json::<Value>().await.unwrap()["location"],
        Value::Null
    );
    let mine = app.get(Some(&token), "/api/my-requests").await;
    assert_eq!(
        mine.headers()["x-total-count"],
        "1",
        "no refused submission was stored"
    );
    assert_error(
        app.post_json(None, "/api/requests", &json!({"description": "x"}))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn my_requests_lists_only_mine_newest_first_with_a_total() {
    let app = spawn_app().await;
    let (_, mine) = app.resident("me@example.com").await;
    let (_, theirs) = app.resident("them@example.com").await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(
            app.submit(&mine, &format!("전등 {n}번이 깜빡입니다")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    app.submit(&theirs, "변기가 막혔어요").await;
    created.reverse();

    let response = app.get(Some(&mine), "/api/my-requests").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-total-count"], "5");
    assert_eq!(ids(&response.json().await.unwrap()), created);

    let page = app
        .get(Some(&mine), "/api/my-requests?limit=2&offset=1")
        .await;
    assert_eq!(page.headers()["x-total-count"], "5");
    assert_eq!(ids(&page.json().await.unwrap()), created[1..3]);

    for bad in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "offset=-1",
        "offset=x",
        "status=done",
    ] {
        let response = app
            .get(Some(&mine), &format!("/api/my-requests?{bad}"))
            .await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_error(
        app.get(None, "/api/my-requests").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn the_admin_list_filters_and_pages() {
    let app = spawn_app().await;
    let (_, resident) = app.resident("r@example.com").await;
    let (_, admin) = app.admin("a@example.com").await;
    let leak = app.submit(&resident, "수도꼭지에서 물이 샙니다").await;
    let light = app.submit(&resident, "복도 전등이 깜빡입니다").await;
    let percent = app.submit(&resident, "할인율 100% 표시등이 꺼졌어요").await;
    let wall = app
        .submit(&resident, "벽지에 얼룩이 있어요 시간 되실 때 봐주세요")
        .await;
    app.patch_json(
        Some(&admin),
        &format!("/api/requests/{}", light["id"]),
        &json!({"status": "in_progress"}),
    )
    .await;

    let all = app.get(Some(&admin), "/api/requests").await;
    assert_eq!(all.headers()["x-total-count"], "4");
    let all_ids = ids(&all.json().await.unwrap());
    assert_eq!(all_ids.len(), 4);
    assert_eq!(all_ids[0], wall["id"].as_i64().unwrap());

    let cases = [
        ("status=in_progress", vec![&light]),
        ("category=plumbing", vec![&leak]),
        ("priority=low", vec![&wall]),
        ("q=%EC%A0%84%EB%93%B1", vec![&light]), // "전등"
        ("q=100%25", vec![&percent]),
        ("q=_", vec![]),
        (
            "status=pending&category=plumbing&priority=high",
            vec![&leak],
        ),
    ];
    for (query, expected) in cases {
        let response = app
            .get(Some(&admin), &format!("/api/requests?{query}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let total: usize = response.headers()["x-total-count"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let expected_ids: Vec<i64> = expected.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(total, expected_ids.len(), "{query}");
        assert_eq!(
            ids(&response.json().await.unwrap()),
            expected_ids,
            "{query}"
        );
    }
    for bad in [
        "status=processing",
        "category=urgent",
        "priority=urgent",
        "limit=1001",
    ] {
        assert_error(
            app.get(Some(&admin), &format!("/api/requests?{bad}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    assert_error(
        app.get(Some(&resident), "/api/requests").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        app.get(None, "/api/requests").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        app.get(Some(&app.super_token().await), "/api/requests")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_request_is_visible_to_its_owner_and_admins_only() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, other) = app.resident("other@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let root = app.super_token().await;
    let request = app.submit(&owner, "현관문 도어락이 고장났어요").await;
    let path = format!("/api/requests/{}", request["id"]);

    for token in [&owner, &admin, &root] {
        let response = app.get(Some(token), &path).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap(), request);
    }
    let hidden = assert_error(app.get(Some(&other), &path).await, StatusCode::NOT_FOUND).await;
    let absent = assert_error(
        app.get(Some(&admin), "/api/requests/999999").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        hidden, absent,
        "another resident cannot tell the request exists"
    );
    assert_error(app.get(None, &path).await, StatusCode::UNAUTHORIZED).await;
    assert_error(
        app.get(Some(&owner), "/api/requests/abc").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn admins_update_status_category_and_priority_with_history() {
    let app = spawn_app().await;
    let (owner_id, owner) = app.resident("owner@example.com").await;
    let (admin_id, admin) = app.admin("admin@example.com").await;
    let request = app.submit(&owner, "전등이 깜빡입니다").await;
    let path = format!("/api/requests/{}", request["id"]);

    let response = app
        .patch_json(
            Some(&admin),
            &path,
            &json!({"status": "in_progress", "priority": "high"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["status"], "in_progress");
    assert_eq!(updated["priority"], "high");
    assert_eq!(updated["category"], "electrical");
    assert!(updated["updated_at"].as_str() > request["updated_at"].as_str());

    let again = app
        .patch_json(
            Some(&admin),
            &path,
            &json!({"category": "other", "status": "in_progress"}),
        )
        .await;
    assert_eq!(again.json::<Value>().await.unwrap()["category"], "other");

    let history: Value = app
        .get(Some(&owner), &format!("{path}/history"))
        .await
        .json()
        .await
        .unwrap();
    let entries: Vec<(String, Value, Value, Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["field"].clone(),
                e["old_value"].clone(),
                e["new_value"].clone(),
                e["actor_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                "created".into(),
                Value::Null,
                Value::Null,
                Value::Null,
                json!(owner_id)
            ),
            (
                "status_changed".into(),
                json!("status"),
                json!("pending"),
                json!("in_progress"),
                json!(admin_id)
            ),
            (
                "reclassified".into(),
                json!("priority"),
                json!("medium"),
                json!("high"),
                json!(admin_id)
            ),
            (
                "reclassified".into(),
                json!("category"),
                json!("electrical"),
                json!("other"),
                json!(admin_id)
            ),
        ]
    );
}

#[tokio::test]
async fn updates_are_admin_only_and_validated() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let request = app.submit(&owner, "전등이 깜빡입니다").await;
    let path = format!("/api/requests/{}", request["id"]);

    assert_error(
        app.patch_json(Some(&owner), &path, &json!({"status": "completed"}))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        app.patch_json(None, &path, &json!({"status": "completed"}))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    for body in [
        json!({"priority": "urgent"}),
        json!({"category": "processing"}),
        json!({"status": "done"}),
        json!({"status": "completed", "priority": "urgent"}),
        json!({}),
        json!({"status": 3}),
    ] {
        assert_error(
            app.patch_json(Some(&admin), &path, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let unchanged: Value = app.get(Some(&admin), &path).await.json().await.unwrap();
    assert_eq!(unchanged, request, "refused updates changed nothing");
    assert_error(
        app.patch_json(
            Some(&admin),
            "/api/requests/424242",
            &json!({"status": "completed"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn owners_and_admins_delete_requests() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, other) = app.resident("other@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let first = app.submit(&owner, "변기가 막혔어요").await;
    let second = app.submit(&owner, "창문이 안 닫혀요").await;
    let first_path = format!("/api/requests/{}", first["id"]);
    let second_path = format!("/api/requests/{}", second["id"]);

    assert_error(
        app.delete(Some(&other), &first_path).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        app.delete(None, &first_path).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        app.get(Some(&owner), &first_path).await.status(),
        StatusCode::OK
    );

    let deleted = app.delete(Some(&owner), &first_path).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(
        deleted.json::<Value>().await.unwrap(),
        json!({"message": "Request deleted successfully"})
    );
    assert_error(
        app.get(Some(&owner), &first_path).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        app.delete(Some(&owner), &first_path).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        app.get(Some(&owner), &format!("{first_path}/history"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    assert_eq!(
        app.delete(Some(&admin), &second_path).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(Some(&owner), "/api/my-requests").await.headers()["x-total-count"],
        "0"
    );
}

#[tokio::test]
async fn residents_withdraw_only_pending_requests_and_staff_delete_any() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let mut started = Vec::new();
    for status in ["in_progress", "completed"] {
        let request = app.submit(&owner, "변기가 막혔어요").await;
        let path = format!("/api/requests/{}", request["id"]);
        let patched = app
            .patch_json(Some(&admin), &path, &json!({"status": status}))
            .await;
        assert_eq!(patched.status(), StatusCode::OK);
        started.push((path, status));
    }
    for (path, status) in &started {
        let refused = app.delete(Some(&owner), path).await;
        let detail = assert_error(refused, StatusCode::FORBIDDEN).await;
        assert!(detail.contains("pending"), "{detail}");
        let kept: Value = app.get(Some(&owner), path).await.json().await.unwrap();
        assert_eq!(kept["status"], *status, "the refused delete left it intact");
        let history: Value = app
            .get(Some(&owner), &format!("{path}/history"))
            .await
            .json()
            .await
            .unwrap();
        assert!(
            history
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["action"] != "deleted"),
            "{history}"
        );
    }
    for (path, status) in &started {
        assert_eq!(
            app.delete(Some(&admin), path).await.status(),
            StatusCode::OK,
            "staff may delete a request in {status}"
        );
    }
}

#[tokio::test]
async fn history_is_for_the_owner_and_admins() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, other) = app.resident("other@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let request = app.submit(&owner, "보일러가 안 돌아가요").await;
    let path = format!("/api/requests/{}/history", request["id"]);
    for token in [&owner, &admin] {
        let history: Value = app.get(Some(token), &path).await.json().await.unwrap();
        assert_eq!(history.as_array().unwrap().len(), 1);
        assert_eq!(history[0]["action"], "created");
        assert_eq!(history[0]["request_id"], request["id"]);
    }
    assert_error(app.get(Some(&other), &path).await, StatusCode::NOT_FOUND).await;
    assert_error(app.get(None, &path).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn stats_count_every_known_value() {
    let app = spawn_app().await;
    let (_, admin) = app.admin("admin@example.com").await;
    let empty: Value = app
        .get(Some(&admin), "/api/stats")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        empty,
        json!({
            "total": 0,
            "by_status": {"pending": 0, "in_progress": 0, "completed": 0},
            "by_category": {"electrical": 0, "plumbing": 0, "hvac": 0, "structural": 0, "other": 0},
            "by_priority": {"high": 0, "medium": 0, "low": 0},
        })
    );
    let (_, resident) = app.resident("r@example.com").await;
    app.submit(&resident, "수도꼭지에서 물이 샙니다").await;
    app.submit(&resident, "전등이 깜빡입니다").await;
    let done = app.submit(&resident, "엘리베이터가 멈췄어요").await;
    app.patch_json(
        Some(&admin),
        &format!("/api/requests/{}", done["id"]),
        &json!({"status": "completed"}),
    )
    .await;
    let stats: Value = app
        .get(Some(&admin), "/api/stats")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 3);
    assert_eq!(
        stats["by_status"],
        json!({"pending": 2, "in_progress": 0, "completed": 1})
    );
    assert_eq!(stats["by_category"]["plumbing"], 1);
    assert_eq!(stats["by_category"]["electrical"], 1);
    assert_eq!(stats["by_category"]["other"], 1);
    assert_eq!(
        stats["by_priority"],
        json!({"high": 2, "medium": 1, "low": 0})
    );
    assert_error(
        app.get(Some(&resident), "/api/stats").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(app.get(None, "/api/stats").await, StatusCode::UNAUTHORIZED).await;
}

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn super_admins_list_accounts_page_by_page() {
    let app = spawn_app().await;
    let root = app.super_token().await;
    for n in 0..4 {
        app.resident(&format!("u{n}@example.com")).await;
    }
    let response = app
        .get(Some(&root), "/api/admin/users?limit=2&offset=1")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-total-count"], "5");
    let text = response.text().await.unwrap();
    assert!(!text.contains("password"), "{text}");
    let users: Value = serde_json::from_str(&text).unwrap();
    let emails: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    // Newest first, as the original listed them.
    assert_eq!(emails, ["u2@example.com", "u1@example.com"]);
    for key in ["id", "email", "full_name", "role", "created_at"] {
        assert!(users[0].get(key).is_some(), "{key}");
    }
    assert_error(
        app.get(Some(&root), "/api/admin/users?limit=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_error(
        app.get(Some(&root), "/api/admin/users?offset=-3").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn only_super_admins_reach_account_administration() {
    let app = spawn_app().await;
    let (resident_id, resident) = app.resident("r@example.com").await;
    let (_, admin) = app.admin("a@example.com").await;
    for token in [&resident, &admin] {
        assert_error(
            app.get(Some(token), "/api/admin/users").await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_error(
            app.set_role(token, resident_id, "admin").await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_error(
            app.delete(Some(token), &format!("/api/admin/users/{resident_id}"))
                .await,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    assert_error(
        app.get(None, "/api/admin/users").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn roles_change_by_query_parameter_or_json_body() {
    let app = spawn_app().await;
    let root = app.super_token().await;
    let (id, _) = app.resident("r@example.com").await;

    let by_query = app.set_role(&root, id, "admin").await;
    assert_eq!(by_query.status(), StatusCode::OK);
    assert_eq!(by_query.json::<Value>().await.unwrap()["role"], "admin");

    let by_body = app
        .patch_json(
            Some(&root),
            &format!("/api/admin/users/{id}/role"),
            &json!({"role": "user"}),
        )
        .await;
    assert_eq!(by_body.status(), StatusCode::OK);
    assert_eq!(by_body.json::<Value>().await.unwrap()["role"], "user");

    // A role outside the three is a 400, as the original answered.
    assert_error(
        app.set_role(&root, id, "root").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_error(
        app.patch_json(
            Some(&root),
            &format!("/api/admin/users/{id}/role"),
            &json!({"role": "owner"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let no_role = app
        .client
        .patch(app.url(&format!("/api/admin/users/{id}/role")))
        .bearer_auth(&root)
        .send()
        .await;
    assert_error(no_role.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_error(
        app.set_role(&root, 987654, "admin").await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let me: Value = app
        .get(Some(&root), "/api/auth/me")
        .await
        .json()
        .await
        .unwrap();
    let own = me["id"].as_i64().unwrap();
    assert_error(
        app.set_role(&root, own, "user").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        app.delete(Some(&root), &format!("/api/admin/users/{own}"))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        app.delete(Some(&root), "/api/admin/users/987654").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

//! Who may call what: every protected endpoint against every kind of caller.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ANONYMOUS: usize = 0;

#[tokio::test]
async fn every_endpoint_admits_exactly_the_right_callers() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, other) = app.resident("other@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let root = app.super_token().await;
    let (target, _) = app.resident("target@example.com").await;
    let request = app.submit(&owner, "싱크대 배수구가 막혔어요").await;
    let id = request["id"].as_i64().unwrap();

    // Callers: anonymous, the owner, another resident, an admin, a super admin.
    let callers: [Option<&str>; 5] = [None, Some(&owner), Some(&other), Some(&admin), Some(&root)];
    let patch = json!({"status": "in_progress"});
    let role = json!({"role": "user"});
    let matrix: Vec<(Method, String, Option<&Value>, [u16; 5])> = vec![
        (
            Method::GET,
            "/api/auth/me".into(),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/my-requests".into(),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/requests".into(),
            None,
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/requests/{id}"),
            None,
            [401, 200, 404, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/requests/{id}/history"),
            None,
            [401, 200, 404, 200, 200],
        ),
        (
            Method::PATCH,
            format!("/api/requests/{id}"),
            Some(&patch),
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/stats".into(),
            None,
            [401, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            "/api/admin/users".into(),
            None,
            [401, 403, 403, 403, 200],
        ),
        (
            Method::PATCH,
            format!("/api/admin/users/{target}/role"),
            Some(&role),
            [401, 403, 403, 403, 200],
        ),
    ];
    for (method, path, body, expected) in &matrix {
        for (who, token) in callers.iter().enumerate() {
            let mut call = app.client.request(method.clone(), app.url(path));
            if let Some(token) = token {
                call = call.bearer_auth(token);
            }
            if let Some(body) = body {
                call = call.json(body);
            }
            let response = call.send().await.unwrap();
            assert_eq!(
                response.status().as_u16(),
                expected[who],
                "{method} {path} by caller {who}"
            );
            if expected[who] >= 400 {
                assert_error(response, StatusCode::from_u16(expected[who]).unwrap()).await;
            }
        }
    }

    // Submitting and deleting, each caller on a request of the owner's.
    for (who, token) in callers.iter().enumerate() {
        let fresh = app.submit(&owner, "전등이 깜빡입니다").await;
        let path = format!("/api/requests/{}", fresh["id"]);
        let expected = [401, 204, 404, 204, 204][who];
        let response = app.delete(*token, &path).await;
        assert_eq!(
            response.status().as_u16(),
            expected,
            "DELETE by caller {who}"
        );
        let submit = app
            .post_json(
                *token,
                "/api/requests",
                &json!({"description": "창문이 안 닫혀요"}),
            )
            .await;
        let expected = if who == ANONYMOUS { 401 } else { 201 };
        assert_eq!(submit.status().as_u16(), expected, "POST by caller {who}");
    }
    for (who, token) in callers.iter().enumerate() {
        let (victim, _) = app.resident(&format!("victim{who}@example.com")).await;
        let expected = [401, 403, 403, 403, 204][who];
        let response = app
            .delete(*token, &format!("/api/admin/users/{victim}"))
            .await;
        assert_eq!(
            response.status().as_u16(),
            expected,
            "DELETE user by caller {who}"
        );
    }
}

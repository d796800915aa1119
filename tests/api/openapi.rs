//! The API contract at /openapi.json and its reference at /docs.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn contract(app: &TestApp) -> Value {
    let response = app.get(None, "/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    response.json().await.unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no properties in {schema}"))
        .keys()
        .cloned()
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_contract_is_openapi_3_1_and_lists_every_json_route() {
    let app = spawn_app().await;
    let doc = contract(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let operations: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "GET /health",
        "GET /ws",
        "POST /api/auth/register",
        "POST /api/auth/login",
        "GET /api/auth/me",
        "PATCH /api/auth/me",
        "GET /api/auth/sessions",
        "POST /api/auth/change-password",
        "POST /api/auth/logout",
        "POST /api/auth/logout-everywhere",
        "POST /api/requests",
        "GET /api/requests",
        "GET /api/my-requests",
        "GET /api/requests/{id}",
        "PATCH /api/requests/{id}",
        "DELETE /api/requests/{id}",
        "GET /api/requests/{id}/history",
        "GET /api/requests/{id}/task-status",
        "POST /api/requests/{id}/upload",
        "GET /api/requests/{id}/image",
        "GET /api/stats",
        "GET /api/admin/users",
        "PATCH /api/admin/users/{id}/role",
        "DELETE /api/admin/users/{id}",
        "POST /api/admin/users/{id}/reset-link",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(operations, expected);
}

#[tokio::test]
async fn protected_operations_name_the_bearer_scheme_and_answer_401() {
    let app = spawn_app().await;
    let doc = contract(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let public = ["/health", "/api/auth/register", "/api/auth/login"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let uses_bearer = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            assert_eq!(
                uses_bearer,
                !public.contains(&path.as_str()),
                "{method} {path}"
            );
            if uses_bearer && path != "/ws" {
                assert!(
                    operation["responses"].get("401").is_some(),
                    "{method} {path} has no 401"
                );
            }
        }
    }
    let login = &doc["paths"]["/api/auth/login"]["post"]["requestBody"]["content"];
    let form = &login["application/x-www-form-urlencoded"]["schema"]["$ref"];
    assert_eq!(form, "#/components/schemas/LoginBody");
    assert_eq!(
        property_names(schema(&doc, "LoginBody")),
        ["password", "username"].map(str::to_owned).into()
    );
}

#[tokio::test]
async fn the_enums_are_the_values_the_server_accepts_and_sends() {
    let app = spawn_app().await;
    let doc = contract(&app).await;
    let values = |name: &str| schema(&doc, name)["enum"].clone();
    assert_eq!(
        values("Category"),
        json!(["electrical", "plumbing", "hvac", "structural", "other"])
    );
    assert_eq!(values("Priority"), json!(["high", "medium", "low"]));
    assert_eq!(
        values("Status"),
        json!(["pending", "in_progress", "completed"])
    );
    assert_eq!(values("Role"), json!(["user", "admin", "super_admin"]));
}

#[tokio::test]
async fn response_schemas_list_exactly_the_fields_the_server_sends() {
    let app = spawn_app().await;
    let doc = contract(&app).await;
    let (_, token) = app.resident("fields@example.com").await;
    let request = app.submit(&token, "화장실 천장에서 물이 샙니다").await;
    let request_schema = schema(&doc, "MaintenanceRequest");
    assert_eq!(keys(&request), property_names(request_schema));
    let required: BTreeSet<String> =
        serde_json::from_value(request_schema["required"].clone()).unwrap();
    assert_eq!(required, keys(&request), "every field is always sent");
    // Fields the server sends as null are nullable in the contract.
    for (field, value) in request.as_object().unwrap() {
        if value.is_null() {
            let text = request_schema["properties"][field].to_string();
            assert!(text.contains("null"), "{field} is sent as null: {text}");
        }
    }
    let me: Value = app
        .get(Some(&token), "/api/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&me), property_names(schema(&doc, "User")));
    let path = format!("/api/requests/{}/history", request["id"]);
    let history: Value = app.get(Some(&token), &path).await.json().await.unwrap();
    assert_eq!(
        keys(&history[0]),
        property_names(schema(&doc, "HistoryEntry"))
    );
    let path = format!("/api/requests/{}/task-status", request["id"]);
    let task: Value = app.get(Some(&token), &path).await.json().await.unwrap();
    assert_eq!(keys(&task), property_names(schema(&doc, "TaskStatus")));
    let stats: Value = app
        .get(Some(&app.super_token().await), "/api/stats")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&stats), property_names(schema(&doc, "Stats")));
    let error = app.get(None, "/api/auth/me").await.json::<Value>().await;
    assert!(keys(&error.unwrap()).is_subset(&property_names(schema(&doc, "ErrorBody"))));
    let root = app.super_token().await;
    let resident = me["id"].as_i64().unwrap();
    let changed: Value = app
        .set_role(&root, resident, "admin")
        .await
        .json()
        .await
        .unwrap();
    let role_schema = schema(&doc, "RoleChanged");
    assert_eq!(keys(&changed), property_names(role_schema));
    let required: BTreeSet<String> =
        serde_json::from_value(role_schema["required"].clone()).unwrap();
    assert_eq!(required, keys(&changed));
    let path = format!("/api/requests/{}", request["id"]);
    let deleted: Value = app.delete(Some(&root), &path).await.json().await.unwrap();
    assert_eq!(keys(&deleted), property_names(schema(&doc, "Deleted")));
}

#[tokio::test]
async fn the_status_codes_are_the_originals() {
    let app = spawn_app().await;
    let doc = contract(&app).await;
    let codes = |path: &str, method: &str| -> BTreeSet<String> {
        keys(&doc["paths"][path][method]["responses"])
    };
    for (path, method, present, absent) in [
        ("/api/auth/register", "post", ["200", "400"], ["201", "409"]),
        ("/api/requests", "post", ["200", "429"], ["201", "204"]),
        (
            "/api/requests/{id}",
            "delete",
            ["200", "403"],
            ["204", "201"],
        ),
        (
            "/api/admin/users/{id}/role",
            "patch",
            ["200", "400"],
            ["201", "204"],
        ),
    ] {
        let codes = codes(path, method);
        for code in present {
            assert!(codes.contains(code), "{method} {path}: {codes:?}");
        }
        for code in absent {
            assert!(!codes.contains(code), "{method} {path}: {codes:?}");
        }
    }
    let login = &doc["paths"]["/api/auth/login"]["post"]["requestBody"]["content"];
    assert_eq!(
        keys(login),
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data"
        ]
        .map(str::to_owned)
        .into()
    );
}

#[tokio::test]
async fn the_docs_page_loads_its_script_from_our_own_origin() {
    let app = spawn_app().await;
    let response = app.get(None, "/docs").await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains("spec-url=\"/openapi.json\""));
    let src = html
        .split("<script src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a script element with src");
    assert!(src.starts_with("/static/rapidoc-min."), "{src}");
    assert!(!html.contains("<script>"), "no inline script");
    let script = app.get(None, src).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let body = script.text().await.unwrap();
    assert!(body.starts_with("/*! RapiDoc 9.3.8"), "licence header kept");
}

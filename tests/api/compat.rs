//! The original system's clients, unchanged: its Next.js pages (a browser `FormData` login,
//! JSON registration), its test suite (backend/test_main.py: urlencoded `data=` logins, JSON
//! bodies, its status codes and bodies), its Celery task polling and its rate limits.

use crate::classification::{app_with_llm, mock};
use crate::helpers::*;
use crate::mock_llm::Behaviour;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use std::time::Duration;

/// The boundary Chromium picks for a `FormData` body looks like this one.
const BOUNDARY: &str = "----WebKitFormBoundaryq7Xb2LmTz9AwRk4e";

/// A multipart body exactly as Chromium serialises `FormData` with these text fields.
fn form_data(fields: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

/// `axios.post('/api/auth/login', formData)` from the original's login page: the browser
/// replaces the page's `Content-Type` with multipart and its boundary.
async fn login_with_form_data(app: &TestApp, body: String) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The original frontend's register page: JSON registration, then a `FormData` login.
#[tokio::test]
async fn the_original_register_and_login_pages_work_unchanged() {
    let app = spawn_app().await;
    let registered = app
        .post_json(
            None,
            "/api/auth/register",
            &json!({"email": "page@example.com", "password": PASSWORD, "full_name": "김민수"}),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::OK);

    let login = login_with_form_data(
        &app,
        form_data(&[("username", "page@example.com"), ("password", PASSWORD)]),
    )
    .await;
    assert_eq!(login.status(), StatusCode::OK);
    let token: Value = login.json().await.unwrap();
    assert_eq!(token["token_type"], "bearer");
    let me = app.me(token["access_token"].as_str().unwrap()).await;
    assert_eq!(me["email"], "page@example.com");
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn a_form_data_login_ignores_the_other_oauth2_fields_and_a_wrong_password_is_401() {
    let app = spawn_app().await;
    app.resident("kim@example.com").await;
    let with_extras = form_data(&[
        ("grant_type", "password"),
        ("username", "kim@example.com"),
        ("scope", ""),
        ("password", PASSWORD),
        ("client_id", "web"),
    ]);
    assert_eq!(
        login_with_form_data(&app, with_extras).await.status(),
        StatusCode::OK
    );

    let wrong = login_with_form_data(
        &app,
        form_data(&[("username", "kim@example.com"), ("password", "not it")]),
    )
    .await;
    assert_eq!(wrong.headers()[WWW_AUTHENTICATE], "Bearer");
    assert_error(wrong, StatusCode::UNAUTHORIZED).await;
    let nobody = login_with_form_data(
        &app,
        form_data(&[("username", "nobody@example.com"), ("password", PASSWORD)]),
    )
    .await;
    assert_error(nobody, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_malformed_or_oversized_form_data_login_is_a_clear_4xx() {
    let app = spawn_app().await;
    app.resident("kim@example.com").await;
    let missing_password = form_data(&[("username", "kim@example.com")]);
    let detail = assert_error(
        login_with_form_data(&app, missing_password).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(detail.contains("password"), "{detail}");
    let twice = form_data(&[
        ("username", "kim@example.com"),
        ("password", PASSWORD),
        ("password", "other password"),
    ]);
    assert_error(
        login_with_form_data(&app, twice).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let cut_short =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nkim@exa");
    assert_error(
        login_with_form_data(&app, cut_short).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let not_utf8 = app
        .client
        .post(app.url("/api/auth/login"))
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(
            [
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n"
                )
                .into_bytes(),
                vec![0xff, 0xfe],
                format!("\r\n--{BOUNDARY}--\r\n").into_bytes(),
            ]
            .concat(),
        )
        .send()
        .await
        .unwrap();
    assert_error(not_utf8, StatusCode::UNPROCESSABLE_ENTITY).await;
    let no_boundary = app
        .client
        .post(app.url("/api/auth/login"))
        .header(CONTENT_TYPE, "multipart/form-data")
        .body(form_data(&[
            ("username", "kim@example.com"),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_error(no_boundary, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Tiny boundaries once panicked the multipart parser (a dropped connection, no answer).
    let (_, resident) = app.resident("lee@example.com").await;
    let id = app.submit(&resident, "창문이 안 닫혀요").await["id"]
        .as_i64()
        .unwrap();
    for (boundary, body) in [("x", "\n"), ("ab", "--\n"), ("abc", "--\r\n")] {
        for (path, token) in [
            ("/api/auth/login".to_owned(), None),
            (format!("/api/requests/{id}/upload"), Some(&resident)),
        ] {
            let mut request = app
                .client
                .post(app.url(&path))
                .header(
                    CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request
                .send()
                .await
                .expect("an answer, not a dropped connection");
            assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    }

    let huge = "x".repeat(100 * 1024);
    let too_large = form_data(&[("username", "kim@example.com"), ("password", &huge)]);
    assert_error(
        login_with_form_data(&app, too_large).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(
        login_with_form_data(
            &app,
            form_data(&[("username", "kim@example.com"), ("password", PASSWORD)])
        )
        .await
        .status(),
        StatusCode::OK,
        "the server is fine afterwards"
    );
}

/// backend/test_main.py, ported: the original's calls, with a token where its server wanted one.
mod test_main {
    use super::*;

    /// A resident as the original's tests make one: JSON registration, `data=` login.
    async fn user(app: &TestApp, email: &str, password: &str, full_name: &str) -> String {
        let response = app
            .post_json(
                None,
                "/api/auth/register",
                &json!({"email": email, "password": password, "full_name": full_name}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        app.token(email, password).await
    }

    async fn create(app: &TestApp, token: &str, body: Value) -> Value {
        let response = app.post_json(Some(token), "/api/requests", &body).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    #[tokio::test]
    async fn test_create_request() {
        let app = spawn_app().await;
        let token = user(&app, "create@example.com", "password123", "Create").await;
        let data = create(
            &app,
            &token,
            json!({
                "description": "The water heater is not working",
                "location": "Building A, Floor 2",
                "contact_info": "010-1234-5678"
            }),
        )
        .await;
        assert_eq!(data["description"], "The water heater is not working");
        assert_eq!(data["location"], "Building A, Floor 2");
        assert_eq!(data["contact_info"], "010-1234-5678");
        assert!(data.get("category").is_some() && data.get("priority").is_some());
        assert_eq!(data["status"], "pending");
        assert!(data.get("task_id").is_some(), "{data}");
    }

    #[tokio::test]
    async fn test_get_all_requests_and_filter_by_status() {
        let app = spawn_app().await;
        let token = user(&app, "list@example.com", "password123", "List").await;
        let (_, admin) = app.admin("staff@example.com").await;
        for n in 1..=3 {
            create(
                &app,
                &token,
                json!({"description": format!("Request {n}"), "location": format!("Location {n}")}),
            )
            .await;
        }
        let filtered = create(&app, &token, json!({"description": "Filter test"})).await;
        let path = format!("/api/requests/{}", filtered["id"]);
        let patched = app
            .patch_json(Some(&admin), &path, &json!({"status": "completed"}))
            .await;
        assert_eq!(patched.status(), StatusCode::OK);

        let all = app.get(Some(&admin), "/api/requests").await;
        assert_eq!(all.status(), StatusCode::OK);
        assert_eq!(
            all.json::<Value>().await.unwrap().as_array().unwrap().len(),
            4
        );
        let completed = app
            .get(Some(&admin), "/api/requests?status=completed")
            .await;
        assert_eq!(completed.status(), StatusCode::OK);
        let completed: Value = completed.json().await.unwrap();
        assert_eq!(completed.as_array().unwrap().len(), 1);
        assert!(
            completed
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["status"] == "completed")
        );
    }

    #[tokio::test]
    async fn test_get_request_by_id_and_a_nonexistent_one() {
        let app = spawn_app().await;
        let token = user(&app, "get@example.com", "password123", "Get").await;
        let created = create(
            &app,
            &token,
            json!({"description": "Air conditioner is too cold", "location": "Meeting Room"}),
        )
        .await;
        let response = app
            .get(Some(&token), &format!("/api/requests/{}", created["id"]))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let data: Value = response.json().await.unwrap();
        assert_eq!(data["id"], created["id"]);
        assert_eq!(data["description"], "Air conditioner is too cold");
        assert_error(
            app.get(Some(&token), "/api/requests/99999").await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }

    #[tokio::test]
    async fn test_update_request_status_and_priority() {
        let app = spawn_app().await;
        let token = user(&app, "update@example.com", "password123", "Update").await;
        let (_, admin) = app.admin("staff@example.com").await;
        let created = create(
            &app,
            &token,
            json!({"description": "Light bulb replacement needed"}),
        )
        .await;
        let path = format!("/api/requests/{}", created["id"]);
        let response = app
            .patch_json(Some(&admin), &path, &json!({"status": "in_progress"}))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.unwrap()["status"],
            "in_progress"
        );
        let response = app
            .patch_json(Some(&admin), &path, &json!({"priority": "high"}))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap()["priority"], "high");
        // The original stored any text; "urgent" is none of the priorities and is refused.
        assert_error(
            app.patch_json(Some(&admin), &path, &json!({"priority": "urgent"}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }

    #[tokio::test]
    async fn test_delete_request_and_a_nonexistent_one() {
        let app = spawn_app().await;
        let token = user(&app, "delete@example.com", "password123", "Delete").await;
        let created = create(
            &app,
            &token,
            json!({"description": "Test request to delete"}),
        )
        .await;
        let path = format!("/api/requests/{}", created["id"]);
        let response = app.delete(Some(&token), &path).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"message": "Request deleted successfully"})
        );
        assert_error(app.get(Some(&token), &path).await, StatusCode::NOT_FOUND).await;
        assert_error(
            app.delete(Some(&token), "/api/requests/99999").await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }

    #[tokio::test]
    async fn test_get_stats() {
        let app = spawn_app().await;
        let token = user(&app, "stats@example.com", "password123", "Stats").await;
        for description in ["Electrical issue", "Plumbing problem", "HVAC maintenance"] {
            create(&app, &token, json!({"description": description})).await;
        }
        let response = app.get(Some(&app.super_token().await), "/api/stats").await;
        assert_eq!(response.status(), StatusCode::OK);
        let data: Value = response.json().await.unwrap();
        for key in ["total", "by_status", "by_category", "by_priority"] {
            assert!(data.get(key).is_some(), "{key} missing from {data}");
        }
        assert!(data["total"].as_u64().unwrap() >= 3);
    }

    #[tokio::test]
    async fn test_request_validation() {
        let app = spawn_app().await;
        let token = user(&app, "valid@example.com", "password123", "Valid").await;
        assert_error(
            app.post_json(Some(&token), "/api/requests", &json!({}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }

    #[tokio::test]
    async fn test_user_registration_and_a_duplicate_email() {
        let app = spawn_app().await;
        let user_data = json!({"email": "test@example.com", "password": "testpassword123", "full_name": "Test User"});
        let response = app.post_json(None, "/api/auth/register", &user_data).await;
        assert_eq!(response.status(), StatusCode::OK);
        let data: Value = response.json().await.unwrap();
        assert_eq!(data["email"], "test@example.com");
        assert_eq!(data["full_name"], "Test User");
        assert_eq!(data["role"], "user");
        assert!(data.get("password").is_none());

        let again = app.post_json(None, "/api/auth/register", &user_data).await;
        let detail = assert_error(again, StatusCode::BAD_REQUEST).await;
        assert_eq!(detail, "Email already registered");
    }

    #[tokio::test]
    async fn test_user_login_wrong_password_and_nonexistent_user() {
        let app = spawn_app().await;
        user(&app, "login@example.com", "loginpassword123", "Login User").await;
        let response = app
            .login_form("login@example.com", "loginpassword123")
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let data: Value = response.json().await.unwrap();
        assert!(data["access_token"].is_string());
        assert_eq!(data["token_type"], "bearer");
        let detail = assert_error(
            app.login_form("login@example.com", "wrongpassword").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_eq!(
            detail, "Incorrect email or password",
            "the original's words"
        );
        assert_error(
            app.login_form("nonexistent@example.com", "anypassword")
                .await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }

    #[tokio::test]
    async fn test_get_current_user_with_without_and_with_an_invalid_token() {
        let app = spawn_app().await;
        let token = user(
            &app,
            "currentuser@example.com",
            "password123",
            "Current User",
        )
        .await;
        let data = app.me(&token).await;
        assert_eq!(data["email"], "currentuser@example.com");
        assert_eq!(data["full_name"], "Current User");
        assert_error(
            app.get(None, "/api/auth/me").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_error(
            app.get(Some("invalid_token_here"), "/api/auth/me").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }

    /// The original's admin users page: `PATCH ...?new_role=`, answered with its fields.
    #[tokio::test]
    async fn a_role_change_answers_the_original_fields_and_an_unknown_role_is_400() {
        let app = spawn_app().await;
        let root = app.super_token().await;
        let (id, _) = app.resident("promote@example.com").await;
        let response = app.set_role(&root, id, "admin").await;
        assert_eq!(response.status(), StatusCode::OK);
        let data: Value = response.json().await.unwrap();
        assert_eq!(data["message"], "User role updated successfully");
        assert_eq!(data["user_id"], id);
        assert_eq!(data["previous_role"], "user");
        assert_eq!(data["new_role"], "admin");
        assert_eq!(
            (data["id"].as_i64(), data["role"].as_str()),
            (Some(id), Some("admin"))
        );
        let detail = assert_error(
            app.set_role(&root, id, "owner").await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(detail.contains("owner"), "{detail}");
        let own = app.me(&root).await["id"].as_i64().unwrap();
        assert_error(
            app.set_role(&root, own, "user").await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_error(
            app.set_role(&root, 987654, "admin").await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }

    /// A retried create with an `Idempotency-Key` is answered as the first one was: 200.
    #[tokio::test]
    async fn health_and_upload_answer_every_field_the_original_sent() {
        let app = spawn_app().await;
        let health: Value = app.get(None, "/health").await.json().await.unwrap();
        assert_eq!(health["status"], "healthy");
        assert!(health["timestamp"].is_string(), "{health}");
        let token = user(&app, "photo@example.com", "photopassword1", "Photo").await;
        let id = create(
            &app,
            &token,
            json!({"description": "천장에 얼룩이 생겼어요"}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let uploaded =
            crate::photos::upload(&app, Some(&token), id, "a.jpg", crate::photos::JPEG).await;
        assert_eq!(uploaded.status(), StatusCode::OK);
        let body: Value = uploaded.json().await.unwrap();
        assert_eq!(body["message"], "Image uploaded successfully");
        assert!(
            body["image_url"].as_str().unwrap().starts_with("http"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn an_idempotent_replay_answers_200_too() {
        let app = spawn_app().await;
        let token = user(&app, "retry@example.com", "password123", "Retry").await;
        let send = || {
            app.client
                .post(app.url("/api/requests"))
                .bearer_auth(&token)
                .header("Idempotency-Key", "compat-1")
                .json(&json!({"description": "Broken window in office"}))
                .send()
        };
        let first = send().await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let replay = send().await.unwrap();
        assert_eq!(replay.status(), StatusCode::OK);
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
    }
}

/// The original answered a queued classification with a Celery `task_id`, polled at task-status.
mod task_id {
    use super::*;

    async fn poll_until_done(app: &TestApp, token: &str, id: i64) -> (Vec<String>, Value) {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let task = app.task(token, id).await;
            let status = task["status"].as_str().unwrap().to_owned();
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            if status == "SUCCESS" || status == "FAILURE" {
                return (seen, task);
            }
            assert!(tokio::time::Instant::now() < deadline, "still {seen:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_queued_refinement_has_a_task_id_that_task_status_follows_to_success() {
        let llm = mock(vec![Behaviour::Hang(Duration::from_millis(600))]);
        let app = app_with_llm(&llm, &[("LLM_TIMEOUT_SECS", "5")]).await;
        let mut events = app.events.subscribe();
        let (_, token) = app.resident("poll@example.com").await;
        let request = app.submit(&token, "전등이 깜빡입니다").await;
        let id = request["id"].as_i64().unwrap();
        let task_id = request["task_id"].as_str().expect("a task id").to_owned();

        // The request carries it wherever the API shows it while the job waits or runs.
        let shown: Value = app
            .get(Some(&token), &format!("/api/requests/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(shown["task_id"], task_id.as_str());
        let mine: Value = app
            .get(Some(&token), "/api/my-requests")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(mine[0]["task_id"], task_id.as_str());
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        let frame: Value = serde_json::from_str(&event.frame).unwrap();
        assert_eq!(frame["type"], "new_request");
        assert_eq!(frame["data"]["task_id"], task_id.as_str());

        let (seen, task) = poll_until_done(&app, &token, id).await;
        assert!(
            seen.len() >= 2
                && seen[..seen.len() - 1]
                    .iter()
                    .all(|s| s == "PENDING" || s == "STARTED"),
            "{seen:?}"
        );
        assert_eq!(seen.last().map(String::as_str), Some("SUCCESS"));
        assert_eq!(task["task_id"], task_id.as_str());
        assert_eq!(task["result"]["request_id"], id);
        assert_eq!(task["result"]["category"], "other");
        assert_eq!(task["result"]["priority"], "low");

        let after: Value = app
            .get(Some(&token), &format!("/api/requests/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(after["task_id"], Value::Null, "nothing is queued any more");
        assert_eq!(after["category"], "other");
    }

    #[tokio::test]
    async fn without_an_llm_there_is_no_task_and_task_status_says_success() {
        let app = spawn_app().await;
        let (_, token) = app.resident("offline@example.com").await;
        let request = app.submit(&token, "전등이 깜빡입니다").await;
        assert!(
            request.as_object().unwrap().contains_key("task_id"),
            "sent as null"
        );
        assert_eq!(request["task_id"], Value::Null);
        let task = app.task(&token, request["id"].as_i64().unwrap()).await;
        assert_eq!(task["task_id"], Value::Null);
        assert_eq!(task["status"], "SUCCESS");
        assert_eq!(task["result"]["category"], "electrical");
    }
}

/// slowapi's limits of the original: 5 registrations and 10 logins a minute per client.
mod rate_limits {
    use super::*;

    async fn app_behind_proxy() -> TestApp {
        spawn_app_with(&[
            ("TRUSTED_PROXIES", "127.0.0.1"),
            ("REGISTER_RATE_LIMIT_PER_MINUTE", "5"),
            ("LOGIN_RATE_LIMIT_PER_MINUTE", "10"),
        ])
        .await
    }

    async fn register_from(app: &TestApp, client: &str, email: &str) -> reqwest::Response {
        app.client
            .post(app.url("/api/auth/register"))
            .header("X-Forwarded-For", client)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
    }

    async fn login_from(
        app: &TestApp,
        client: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        app.client
            .post(app.url("/api/auth/login"))
            .header("X-Forwarded-For", client)
            .form(&[("username", email), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    async fn assert_limited(response: reqwest::Response) {
        let retry_after: u64 = response.headers()[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        let detail = assert_error(response, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(detail.contains("Too many"), "{detail}");
    }

    #[tokio::test]
    async fn the_sixth_registration_of_a_client_in_a_minute_is_429_and_another_client_gets_in() {
        let app = app_behind_proxy().await;
        for n in 0..5 {
            let response = register_from(&app, "203.0.113.10", &format!("a{n}@example.com")).await;
            assert_eq!(response.status(), StatusCode::OK, "registration {n}");
        }
        assert_limited(register_from(&app, "203.0.113.10", "a5@example.com").await).await;
        let other = register_from(&app, "198.51.100.20", "b@example.com").await;
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_eleventh_login_of_a_client_in_a_minute_is_429_even_when_all_succeeded() {
        let app = app_behind_proxy().await;
        for n in 0..10 {
            let password = if n % 3 == 0 {
                "wrong password"
            } else {
                SUPER_PASSWORD
            };
            let response = login_from(&app, "203.0.113.10", SUPER_EMAIL, password).await;
            assert_ne!(
                response.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "login {n}"
            );
        }
        assert_limited(login_from(&app, "203.0.113.10", SUPER_EMAIL, SUPER_PASSWORD).await).await;
        let other = login_from(&app, "198.51.100.20", SUPER_EMAIL, SUPER_PASSWORD).await;
        assert_eq!(other.status(), StatusCode::OK);
        // A form-data login from the limited client is the same attempt by another encoding.
        let form = app
            .client
            .post(app.url("/api/auth/login"))
            .header("X-Forwarded-For", "203.0.113.10")
            .header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(form_data(&[
                ("username", SUPER_EMAIL),
                ("password", SUPER_PASSWORD),
            ]))
            .send()
            .await
            .unwrap();
        assert_limited(form).await;
    }
}

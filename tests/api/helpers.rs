//! spawn_app(): the real server on 127.0.0.1:0 with a fresh temporary database.

use maintenance::config::Config;
use maintenance::startup::Application;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use tempfile::TempDir;

pub const SUPER_EMAIL: &str = "root@example.com";
pub const SUPER_PASSWORD: &str = "root-password-1";
pub const PASSWORD: &str = "correct horse";

pub struct TestApp {
    pub address: String,
    pub events: maintenance::events::Events,
    pub client: Client,
    pub dir: TempDir,
    pub handle: maintenance::startup::StopHandle,
    /// The server's task: done once the database is closed and its lock let go.
    pub running: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The variables every test server gets; `overrides` replace or add to them.
fn test_vars(dir: &TempDir, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("BCRYPT_COST", "4"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
        ("LOGIN_RATE_LIMIT_PER_MINUTE", "0"),
        ("REGISTER_RATE_LIMIT_PER_MINUTE", "0"),
        ("LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE", "0"),
        ("REQUEST_RATE_LIMIT_PER_MINUTE", "0"),
        ("HTTP_WORKERS", "2"),
        ("SUPER_ADMIN_EMAIL", SUPER_EMAIL),
        ("SUPER_ADMIN_PASSWORD", SUPER_PASSWORD),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.insert("DATABASE_URL".into(), db_path(dir).display().to_string());
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    vars
}

pub fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("maintenance.db")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), overrides).await
}

/// Starts a server on the database in `dir` (which may already hold one).
pub async fn spawn_app_in(dir: TempDir, overrides: &[(&str, &str)]) -> TestApp {
    match try_spawn_app_in(dir, overrides).await {
        Ok(app) => app,
        Err((error, _)) => panic!("application starts: {error}"),
    }
}

/// Like [`spawn_app_in`], but a start-up failure is returned (with the folder) instead of a panic.
pub async fn try_spawn_app_in(
    dir: TempDir,
    overrides: &[(&str, &str)],
) -> Result<TestApp, (maintenance::startup::StartupError, TempDir)> {
    if std::env::var("TEST_LOG").is_ok() {
        maintenance::telemetry::init("debug", maintenance::telemetry::LogFormat::Text);
    }
    let vars = test_vars(&dir, overrides);
    let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration");
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) => return Err((error, dir)),
    };
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let events = app.events();
    let running = tokio::spawn(app.run_until_stopped());
    Ok(TestApp {
        address,
        events,
        client: Client::new(),
        dir,
        handle,
        running,
    })
}

impl TestApp {
    pub fn db_path(&self) -> PathBuf {
        db_path(&self.dir)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Stops the server and hands back its directory, to start another on the same data.
    pub async fn stop(self) -> TempDir {
        self.handle.stop().await;
        let _ = self.running.await;
        self.dir
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/auth/register"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Logs in with the original's form fields.
    pub async fn login_form(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/auth/login"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let response = self.login_form(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {email}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Registers a resident and returns (user id, token).
    pub async fn resident(&self, email: &str) -> (i64, String) {
        let response = self.register(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "register {email}");
        let user: Value = response.json().await.unwrap();
        (
            user["id"].as_i64().unwrap(),
            self.token(email, PASSWORD).await,
        )
    }

    pub async fn super_token(&self) -> String {
        self.token(SUPER_EMAIL, SUPER_PASSWORD).await
    }

    /// Registers an account and promotes it to admin; returns (user id, token). The token is
    /// taken after the promotion, which ends the sessions the account had.
    pub async fn admin(&self, email: &str) -> (i64, String) {
        let (id, _) = self.resident(email).await;
        let response = self.set_role(&self.super_token().await, id, "admin").await;
        assert_eq!(response.status(), StatusCode::OK);
        (id, self.token(email, PASSWORD).await)
    }

    pub async fn set_role(&self, token: &str, user_id: i64, role: &str) -> Response {
        self.client
            .patch(self.url(&format!("/api/admin/users/{user_id}/role?new_role={role}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// The account a token belongs to, as `GET /api/auth/me` shows it.
    pub async fn me(&self, token: &str) -> Value {
        let response = self.get(Some(token), "/api/auth/me").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn delete(&self, token: Option<&str>, path: &str) -> Response {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn patch_json(&self, token: Option<&str>, path: &str, body: &Value) -> Response {
        let mut request = self.client.patch(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn post_json(&self, token: Option<&str>, path: &str, body: &Value) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// The task-status of a request.
    pub async fn task(&self, token: &str, request_id: i64) -> Value {
        let response = self
            .get(
                Some(token),
                &format!("/api/requests/{request_id}/task-status"),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Submits a request and returns its JSON.
    pub async fn submit(&self, token: &str, description: &str) -> Value {
        let response = self
            .post_json(
                Some(token),
                "/api/requests",
                &json!({"description": description}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

/// Asserts the status and the `{"detail": ...}` shape; returns the detail.
pub async fn assert_error(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let body: Value = response.json().await.expect("error body is JSON");
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail in {body}"))
        .to_owned()
}

//! Who may call what: every route, API and pages, against every kind of caller.
//!
//! The routes come from the routers themselves (`api::route_table`, `web::route_table`), so a
//! route added without a rule below fails `every_route_has_an_access_rule`, and one mounted
//! around the tables fails `routes_are_registered_only_through_the_route_tables`. To add a
//! rule, copy one with the same shape: the method and path exactly as registered, what the
//! path's `{id}` names, the body, and the status each caller gets.

use crate::helpers::*;
use crate::pages::{browser, csrf_of, form_token, log_in};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The callers, in the order of each rule's expected statuses.
const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::OtherResident,
    Caller::Admin,
    Caller::SuperAdmin,
];

#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    /// The resident who owns the requests the rules name.
    Owner,
    OtherResident,
    Admin,
    SuperAdmin,
}

/// What `{id}` (or `{file}`) in a rule's path stands for. "Fresh" targets are made anew for
/// every caller, so a call that changes or deletes one leaves the next caller's intact.
#[derive(Debug, Clone, Copy)]
enum Target {
    Nothing,
    /// One pending request of the owner's, shared by all callers.
    Request,
    /// The owner's request with a photo, shared by all callers.
    RequestWithPhoto,
    FreshRequest,
    /// A fresh request of the owner's that an admin has already set in progress.
    StartedRequest,
    FreshResident,
    /// A static file's content-hashed name.
    Asset,
}

#[derive(Debug, Clone)]
enum Body {
    Empty,
    Json(Value),
    /// A JSON registration with an email never used before.
    FreshRegistration,
    /// The original's login form for the owner.
    LoginForm,
    /// The caller's password changed to itself (so the next login still works).
    OwnPasswordChange,
    /// A multipart photo upload.
    Photo,
    /// A page form; the caller's CSRF token is added.
    Form(&'static [(&'static str, &'static str)]),
    /// The page registration form with an email never used before.
    FreshRegistrationForm,
    /// The account page's password form, the caller's password changed to itself.
    OwnPasswordChangeForm,
    /// The page's new-request form (multipart).
    NewRequestForm,
    /// A WebSocket handshake: 101 when admitted.
    Upgrade,
}

struct Rule {
    method: Method,
    path: &'static str,
    target: Target,
    body: Body,
    /// Status per caller, in `CALLERS` order. For page rules, 401 means "sent to the login
    /// page" (303 to `/login?next=...`), as the pages answer where the API says 401.
    expect: [u16; 5],
}

fn rule(method: Method, path: &'static str, target: Target, body: Body, expect: [u16; 5]) -> Rule {
    Rule {
        method,
        path,
        target,
        body,
        expect,
    }
}

/// The API, called with a bearer token from a fresh login per call.
fn api_rules() -> Vec<Rule> {
    use Body::*;
    use Method as M;
    use Target::*;
    let open = [200; 5];
    let logged_in = [401, 200, 200, 200, 200];
    let owner_or_staff = [401, 200, 404, 200, 200];
    let staff = [401, 403, 403, 200, 200];
    let super_admin = [401, 403, 403, 403, 200];
    vec![
        rule(M::GET, "/health", Nothing, Empty, open),
        // From this machine, with no proxy in between: what Prometheus beside it sees.
        rule(M::GET, "/metrics", Nothing, Empty, open),
        rule(M::GET, "/ws", Nothing, Upgrade, [401, 101, 101, 101, 101]),
        rule(
            M::POST,
            "/api/auth/register",
            Nothing,
            FreshRegistration,
            open,
        ),
        rule(M::POST, "/api/auth/login", Nothing, LoginForm, open),
        rule(M::GET, "/openapi.json", Nothing, Empty, open),
        rule(M::GET, "/docs", Nothing, Empty, open),
        rule(M::GET, "/api/auth/me", Nothing, Empty, logged_in),
        rule(
            M::PATCH,
            "/api/auth/me",
            Nothing,
            Json(json!({"full_name": "김철수"})),
            logged_in,
        ),
        rule(M::GET, "/api/auth/sessions", Nothing, Empty, logged_in),
        rule(
            M::POST,
            "/api/auth/logout",
            Nothing,
            Empty,
            [401, 204, 204, 204, 204],
        ),
        rule(
            M::POST,
            "/api/auth/logout-everywhere",
            Nothing,
            Empty,
            [401, 204, 204, 204, 204],
        ),
        rule(
            M::POST,
            "/api/auth/change-password",
            Nothing,
            OwnPasswordChange,
            logged_in,
        ),
        rule(
            M::POST,
            "/api/requests",
            Nothing,
            Json(json!({"description": "창문이 안 닫혀요"})),
            logged_in,
        ),
        rule(M::GET, "/api/requests", Nothing, Empty, staff),
        rule(M::GET, "/api/my-requests", Nothing, Empty, logged_in),
        rule(M::GET, "/api/requests/{id}", Request, Empty, owner_or_staff),
        rule(
            M::PATCH,
            "/api/requests/{id}",
            FreshRequest,
            Json(json!({"status": "in_progress"})),
            staff,
        ),
        rule(
            M::DELETE,
            "/api/requests/{id}",
            FreshRequest,
            Empty,
            owner_or_staff,
        ),
        // Residents withdraw only pending requests.
        rule(
            M::DELETE,
            "/api/requests/{id}",
            StartedRequest,
            Empty,
            [401, 403, 404, 200, 200],
        ),
        rule(
            M::GET,
            "/api/requests/{id}/history",
            Request,
            Empty,
            owner_or_staff,
        ),
        rule(
            M::GET,
            "/api/requests/{id}/task-status",
            Request,
            Empty,
            owner_or_staff,
        ),
        rule(
            M::POST,
            "/api/requests/{id}/upload",
            FreshRequest,
            Photo,
            owner_or_staff,
        ),
        rule(
            M::GET,
            "/api/requests/{id}/image",
            RequestWithPhoto,
            Empty,
            owner_or_staff,
        ),
        rule(M::GET, "/api/stats", Nothing, Empty, staff),
        rule(M::GET, "/api/admin/users", Nothing, Empty, super_admin),
        rule(
            M::DELETE,
            "/api/admin/users/{id}",
            FreshResident,
            Empty,
            [401, 403, 403, 403, 204],
        ),
        rule(
            M::PATCH,
            "/api/admin/users/{id}/role",
            FreshResident,
            Json(json!({"role": "admin"})),
            super_admin,
        ),
        rule(
            M::POST,
            "/api/admin/users/{id}/reset-link",
            FreshResident,
            Empty,
            super_admin,
        ),
    ]
}

/// The pages, called from a browser logged in through the login form per call.
fn page_rules() -> Vec<Rule> {
    use Body::*;
    use Method as M;
    use Target::*;
    let open = [200; 5];
    let redirect = [303; 5];
    let logged_in = [401, 200, 200, 200, 200];
    let staff = [401, 403, 403, 200, 200];
    vec![
        rule(M::GET, "/", Nothing, Empty, open),
        rule(M::GET, "/login", Nothing, Empty, open),
        rule(
            M::POST,
            "/login",
            Nothing,
            Form(&[("email", "login@example.com"), ("password", PASSWORD)]),
            redirect,
        ),
        rule(M::GET, "/register", Nothing, Empty, open),
        rule(
            M::POST,
            "/register",
            Nothing,
            FreshRegistrationForm,
            redirect,
        ),
        rule(M::POST, "/logout", Nothing, Form(&[]), redirect),
        rule(
            M::POST,
            "/logout-everywhere",
            Nothing,
            Form(&[]),
            [401, 303, 303, 303, 303],
        ),
        rule(M::GET, "/account", Nothing, Empty, logged_in),
        rule(
            M::POST,
            "/account/name",
            Nothing,
            Form(&[("full_name", "김철수")]),
            [401, 303, 303, 303, 303],
        ),
        rule(
            M::POST,
            "/account/password",
            Nothing,
            OwnPasswordChangeForm,
            [401, 303, 303, 303, 303],
        ),
        // Open to anyone: without SMTP (as here) a request is answered "ask the office";
        // a link's page and form refuse an unknown token.
        rule(M::GET, "/password-reset", Nothing, Empty, open),
        rule(
            M::POST,
            "/password-reset",
            Nothing,
            Form(&[("email", "owner@example.com")]),
            redirect,
        ),
        rule(M::GET, "/password-reset/new", Nothing, Empty, [400; 5]),
        rule(
            M::POST,
            "/password-reset/new",
            Nothing,
            Form(&[
                (
                    "token",
                    "00000000000000000000000000000000000000000000000000000000000000ff",
                ),
                ("new_password", "a new password"),
            ]),
            [400; 5],
        ),
        rule(M::GET, "/requests/new", Nothing, Empty, logged_in),
        rule(
            M::POST,
            "/requests/new",
            Nothing,
            NewRequestForm,
            [401, 303, 303, 303, 303],
        ),
        rule(M::GET, "/my-requests", Nothing, Empty, logged_in),
        rule(
            M::GET,
            "/requests/{id}",
            Request,
            Empty,
            [401, 200, 404, 200, 200],
        ),
        rule(
            M::GET,
            "/requests/{id}/delete",
            Request,
            Empty,
            [401, 200, 404, 200, 200],
        ),
        // A resident asking to withdraw a started request is sent back to it with a message.
        rule(
            M::GET,
            "/requests/{id}/delete",
            StartedRequest,
            Empty,
            [401, 303, 404, 200, 200],
        ),
        rule(
            M::POST,
            "/requests/{id}/delete",
            FreshRequest,
            Form(&[]),
            [401, 303, 404, 303, 303],
        ),
        // Refused with a message on the request's page, not a 403 page (the request stays).
        rule(
            M::POST,
            "/requests/{id}/delete",
            StartedRequest,
            Form(&[]),
            [401, 303, 404, 303, 303],
        ),
        rule(M::GET, "/admin", Nothing, Empty, staff),
        rule(M::GET, "/admin/requests/{id}", Request, Empty, staff),
        rule(
            M::POST,
            "/admin/requests/{id}",
            FreshRequest,
            Form(&[("status", "in_progress")]),
            [401, 403, 403, 303, 303],
        ),
        rule(
            M::GET,
            "/admin/users",
            Nothing,
            Empty,
            [401, 403, 403, 403, 200],
        ),
        rule(
            M::POST,
            "/admin/users/{id}/role",
            FreshResident,
            Form(&[("role", "admin")]),
            [401, 403, 403, 403, 303],
        ),
        rule(
            M::GET,
            "/admin/users/{id}/delete",
            FreshResident,
            Empty,
            [401, 403, 403, 403, 200],
        ),
        rule(
            M::POST,
            "/admin/users/{id}/delete",
            FreshResident,
            Form(&[]),
            [401, 403, 403, 403, 303],
        ),
        // The footer's language switch: anyone, logged in or not.
        rule(
            M::POST,
            "/language",
            Nothing,
            Form(&[("lang", "en")]),
            redirect,
        ),
        rule(
            M::POST,
            "/admin/users/{id}/reset-link",
            FreshResident,
            Form(&[]),
            [401, 403, 403, 403, 200],
        ),
        rule(M::GET, "/static/{file}", Asset, Empty, open),
    ]
}

/// The routes a router registers that no rule covers, and rules naming no registered route.
fn uncovered<M: std::fmt::Display>(
    table: Vec<(M, &'static str)>,
    rules: &[Rule],
) -> (Vec<String>, Vec<String>) {
    let routes: BTreeSet<String> = table.iter().map(|(m, p)| format!("{m} {p}")).collect();
    let ruled: BTreeSet<String> = rules
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    (
        routes.difference(&ruled).cloned().collect(),
        ruled.difference(&routes).cloned().collect(),
    )
}

#[test]
fn every_route_has_an_access_rule() {
    for (router, table, rules) in [
        ("api_rules", maintenance::api::route_table(), api_rules()),
        ("page_rules", maintenance::web::route_table(), page_rules()),
    ] {
        let (missing, stale) = uncovered(table, &rules);
        assert!(
            missing.is_empty(),
            "routes without an access rule: add one to {router}() in tests/api/access.rs: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "{router}() in tests/api/access.rs has rules for routes that do not exist: {stale:?}"
        );
    }
}

/// The route tables see only what is registered through them: a route mounted any other way
/// (`cfg.route`, `.service`, a scope) would escape the rules above.
#[test]
fn routes_are_registered_only_through_the_route_tables() {
    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut elsewhere = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("routing.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if [".route(", ".service(", "web::resource(", "web::scope("]
                .iter()
                .any(|call| line.contains(call))
            {
                elsewhere.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        elsewhere.is_empty(),
        "register routes with `at(...)` in api::endpoints() or web::endpoints():\n{}",
        elsewhere.join("\n")
    );
}

/// The accounts and shared requests the rules run against.
struct World {
    app: TestApp,
    emails: [Option<String>; 5],
    request: i64,
    request_with_photo: i64,
    fresh: AtomicUsize,
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR";

impl World {
    async fn new() -> World {
        let app = spawn_app().await;
        let (_, owner_token) = app.resident("owner@example.com").await;
        app.resident("other@example.com").await;
        app.admin("admin@example.com").await;
        app.resident("login@example.com").await;
        let request = app.submit(&owner_token, "싱크대 배수구가 막혔어요").await["id"]
            .as_i64()
            .unwrap();
        let request_with_photo = app.submit(&owner_token, "벽에 금이 갔어요").await["id"]
            .as_i64()
            .unwrap();
        let uploaded = upload(&app, &owner_token, request_with_photo).await;
        assert_eq!(uploaded.status(), StatusCode::OK);
        let emails = [
            None,
            Some("owner@example.com".to_owned()),
            Some("other@example.com".to_owned()),
            Some("admin@example.com".to_owned()),
            Some(SUPER_EMAIL.to_owned()),
        ];
        World {
            app,
            emails,
            request,
            request_with_photo,
            fresh: AtomicUsize::new(0),
        }
    }

    // Fresh logins each time: rules log out and change passwords, which end earlier sessions.
    async fn owner_token(&self) -> String {
        self.app.token("owner@example.com", PASSWORD).await
    }

    async fn admin_token(&self) -> String {
        self.app.token("admin@example.com", PASSWORD).await
    }

    fn password(&self, who: usize) -> &'static str {
        if matches!(CALLERS[who], Caller::SuperAdmin) {
            SUPER_PASSWORD
        } else {
            PASSWORD
        }
    }

    fn fresh_email(&self) -> String {
        format!(
            "fresh{}@example.com",
            self.fresh.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The concrete path for `rule`, creating its target when it is a fresh one.
    async fn path(&self, rule: &Rule) -> String {
        let id = match rule.target {
            Target::Nothing => return rule.path.to_owned(),
            Target::Asset => {
                let file = maintenance::web::assets::url("app.css");
                return rule.path.replace("/static/{file}", &file);
            }
            Target::Request => self.request,
            Target::RequestWithPhoto => self.request_with_photo,
            Target::FreshRequest | Target::StartedRequest => {
                let fresh = self
                    .app
                    .submit(&self.owner_token().await, "전등이 깜빡입니다")
                    .await;
                let id = fresh["id"].as_i64().unwrap();
                if matches!(rule.target, Target::StartedRequest) {
                    let started = self
                        .app
                        .patch_json(
                            Some(&self.admin_token().await),
                            &format!("/api/requests/{id}"),
                            &json!({"status": "in_progress"}),
                        )
                        .await;
                    assert_eq!(started.status(), StatusCode::OK);
                }
                id
            }
            Target::FreshResident => self.app.resident(&self.fresh_email()).await.0,
        };
        rule.path.replace("{id}", &id.to_string())
    }

    async fn call_api(&self, rule: &Rule, who: usize, path: &str) -> (u16, Option<Response>) {
        let token = match &self.emails[who] {
            Some(email) => Some(self.app.token(email, self.password(who)).await),
            None => None,
        };
        if matches!(rule.body, Body::Upgrade) {
            return (handshake(&self.app, path, token.as_deref()).await, None);
        }
        let mut call = self
            .app
            .client
            .request(rule.method.clone(), self.app.url(path));
        if let Some(token) = &token {
            call = call.bearer_auth(token);
        }
        call = match &rule.body {
            Body::Empty => call,
            Body::Json(body) => call.json(body),
            Body::FreshRegistration => {
                call.json(&json!({"email": self.fresh_email(), "password": PASSWORD}))
            }
            Body::LoginForm => {
                call.form(&[("username", "owner@example.com"), ("password", PASSWORD)])
            }
            Body::OwnPasswordChange => {
                let password = self.password(who);
                call.json(&json!({"current_password": password, "new_password": password}))
            }
            Body::Photo => call.multipart(photo_form()),
            other => panic!("{other:?} is a page body; API rules send JSON, forms or photos"),
        };
        let response = call.send().await.unwrap();
        (response.status().as_u16(), Some(response))
    }

    /// A browser for caller `who`: logged in through the form unless anonymous; with the
    /// CSRF token its forms carry.
    async fn browser_of(&self, who: usize) -> (Client, String) {
        let client = browser();
        let Some(email) = &self.emails[who] else {
            let csrf = form_token(&client, &self.app.url("/login")).await;
            return (client, csrf);
        };
        log_in(&self.app, &client, email, self.password(who)).await;
        let landing = client.get(self.app.url("/")).send().await.unwrap();
        let csrf = csrf_of(&landing.text().await.unwrap());
        (client, csrf)
    }

    async fn call_page(&self, rule: &Rule, who: usize, path: &str) -> (u16, Option<Response>) {
        let (client, csrf) = self.browser_of(who).await;
        let call = client.request(rule.method.clone(), self.app.url(path));
        let call = match &rule.body {
            Body::Empty => call,
            Body::Form(fields) => {
                let mut fields: Vec<(&str, &str)> = fields.to_vec();
                fields.push(("csrf_token", &csrf));
                call.form(&fields)
            }
            Body::FreshRegistrationForm => {
                let email = self.fresh_email();
                call.form(&[
                    ("email", email.as_str()),
                    ("password", PASSWORD),
                    ("csrf_token", &csrf),
                ])
            }
            Body::OwnPasswordChangeForm => {
                let password = self.password(who);
                call.form(&[
                    ("current_password", password),
                    ("new_password", password),
                    ("new_password_confirm", password),
                    ("csrf_token", &csrf),
                ])
            }
            Body::NewRequestForm => call.multipart(
                Form::new()
                    .text("csrf_token", csrf.clone())
                    .text("description", "복도 전등이 나갔어요")
                    .text("location", "")
                    .text("contact_info", ""),
            ),
            other => panic!("{other:?} is an API body; page rules send forms"),
        };
        let response = call.send().await.unwrap();
        let status = response.status().as_u16();
        let to_login = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/login?next="));
        // The pages' "log in first" is the API's 401.
        let status = if status == 303 && to_login {
            401
        } else {
            status
        };
        (status, Some(response))
    }
}

fn photo_form() -> Form {
    Form::new().part(
        "file",
        Part::bytes(PNG.to_vec())
            .file_name("p.png")
            .mime_str("image/png")
            .unwrap(),
    )
}

async fn upload(app: &TestApp, token: &str, id: i64) -> Response {
    app.client
        .post(app.url(&format!("/api/requests/{id}/upload")))
        .bearer_auth(token)
        .multipart(photo_form())
        .send()
        .await
        .unwrap()
}

/// The status of a WebSocket handshake on `path` (101 when it upgrades).
async fn handshake(app: &TestApp, path: &str, token: Option<&str>) -> u16 {
    let url = app.url(path).replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("handshake on {path}: {e}"),
    }
}

#[tokio::test]
async fn every_route_admits_exactly_the_right_callers() {
    let world = World::new().await;
    let mut wrong = Vec::new();
    for (is_page, rules) in [(false, api_rules()), (true, page_rules())] {
        for rule in &rules {
            for (who, caller) in CALLERS.iter().enumerate() {
                let path = world.path(rule).await;
                let (status, response) = if is_page {
                    world.call_page(rule, who, &path).await
                } else {
                    world.call_api(rule, who, &path).await
                };
                let expected = rule.expect[who];
                if status != expected {
                    wrong.push(format!(
                        "{} {path} ({:?}) by {caller:?}: {status}, expected {expected}",
                        rule.method, rule.target
                    ));
                } else if let Some(response) = response.filter(|_| !is_page && expected >= 400) {
                    // API refusals keep the original's error shape.
                    assert_error(response, StatusCode::from_u16(expected).unwrap()).await;
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

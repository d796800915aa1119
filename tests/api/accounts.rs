use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn registering_returns_200_with_the_account_and_never_a_password() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            None,
            "/api/auth/register",
            &json!({"email": "  Kim@Example.COM ", "password": PASSWORD, "full_name": "김철수"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains("password") && !text.contains("$2"), "{text}");
    let user: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(user["email"], "kim@example.com");
    assert_eq!(user["full_name"], "김철수");
    assert_eq!(user["role"], "user");
    assert!(user["id"].as_i64().unwrap() > 0);
    assert!(chrono::DateTime::parse_from_rfc3339(user["created_at"].as_str().unwrap()).is_ok());
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["created_at", "email", "full_name", "id", "role"]);
}

#[tokio::test]
async fn registration_validates_every_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "a@localhost", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(73)}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "가".repeat(25)}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "full_name": "x".repeat(101)}),
            "full_name",
        ),
        // A name is one line: it must not carry a message into the office's mail.
        (
            json!({"email": "a@example.com", "password": PASSWORD, "full_name": "Jane\n\nURGENT: http://evil.example"}),
            "full_name",
        ),
    ];
    for (body, field) in cases {
        let response = app.post_json(None, "/api/auth/register", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: Value = response.json().await.unwrap();
        assert!(error["detail"].is_string(), "{error}");
        assert_eq!(error["fields"], json!([field]), "{body}");
    }
    for body in [
        json!({"email": "a@example.com"}),
        json!({"password": PASSWORD}),
        json!([1, 2]),
    ] {
        let response = app.post_json(None, "/api/auth/register", &body).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // Nothing was created by any of the refused attempts.
    let users = app
        .get(Some(&app.super_token().await), "/api/admin/users")
        .await;
    assert_eq!(users.headers()["x-total-count"], "1");
}

#[tokio::test]
async fn a_72_byte_password_works_and_73_bytes_is_refused_not_truncated() {
    let app = spawn_app().await;
    let exact = "p".repeat(72);
    assert_eq!(
        app.register("max@example.com", &exact).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login_form("max@example.com", &exact).await.status(),
        StatusCode::OK
    );
    // A longer password sharing the first 72 bytes must not log in.
    let longer = format!("{exact}extra");
    assert_error(
        app.login_form("max@example.com", &longer).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn a_taken_email_is_400_whatever_its_case() {
    let app = spawn_app().await;
    assert_eq!(
        app.register("dup@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    let detail = assert_error(
        app.register("DUP@example.com ", PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(detail.contains("already registered"), "{detail}");
}

#[tokio::test]
async fn login_accepts_the_original_form_and_json() {
    let app = spawn_app().await;
    app.register("lee@example.com", PASSWORD).await;
    let form = app.login_form("LEE@example.com", PASSWORD).await;
    assert_eq!(form.status(), StatusCode::OK);
    let body: Value = form.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 30 * 60);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);

    let json_login = app
        .post_json(
            None,
            "/api/auth/login",
            &json!({"email": "lee@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(json_login.status(), StatusCode::OK);
    let token = json_login.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = app.me(&token).await;
    assert_eq!(me["email"], "lee@example.com");
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let app = spawn_app().await;
    app.register("park@example.com", PASSWORD).await;
    let wrong_password = app.login_form("park@example.com", "wrong password").await;
    let unknown_email = app.login_form("nobody@example.com", PASSWORD).await;
    for response in [&wrong_password, &unknown_email] {
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
    }
    let a = assert_error(wrong_password, StatusCode::UNAUTHORIZED).await;
    let b = assert_error(unknown_email, StatusCode::UNAUTHORIZED).await;
    assert_eq!(a, b);
}

/// The median time of a failed login for each of `emails`, measured in turns so that a
/// change of load on the machine weighs on all of them alike.
async fn median_login_times(app: &TestApp, emails: &[&str]) -> Vec<Duration> {
    let mut times = vec![Vec::new(); emails.len()];
    for _ in 0..7 {
        for (email, times) in emails.iter().zip(&mut times) {
            let started = Instant::now();
            let response = app.login_form(email, "wrong password").await;
            times.push(started.elapsed());
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

/// Without the dummy-hash verify an unknown email answers in well under a millisecond
/// while a known one pays for bcrypt at cost 10 (tens of ms); so did an account whose
/// password is disabled (as the import leaves the original's default staff password).
#[tokio::test]
async fn unknown_emails_and_disabled_passwords_take_as_long_as_wrong_passwords() {
    let app = spawn_app_with(&[("BCRYPT_COST", "10")]).await;
    app.register("timing@example.com", PASSWORD).await;
    app.register("disabled@example.com", PASSWORD).await;
    rusqlite::Connection::open(app.db_path())
        .unwrap()
        .execute(
            "UPDATE users SET hashed_password = '!' || hashed_password WHERE email = ?1",
            ["disabled@example.com"],
        )
        .unwrap();
    let times = median_login_times(
        &app,
        &[
            "timing@example.com",
            "ghost@example.com",
            "disabled@example.com",
        ],
    )
    .await;
    let known = times[0];
    for other in &times[1..] {
        assert!(
            *other * 2 > known && known * 2 > *other,
            "known {known:?} vs {times:?}"
        );
    }
}

#[tokio::test]
async fn protected_routes_need_a_valid_bearer_token() {
    let app = spawn_app().await;
    let anonymous = app.get(None, "/api/auth/me").await;
    assert_eq!(anonymous.headers()[WWW_AUTHENTICATE], "Bearer");
    assert_error(anonymous, StatusCode::UNAUTHORIZED).await;
    let garbage = app.get(Some("not.a.token"), "/api/auth/me").await;
    assert_error(garbage, StatusCode::UNAUTHORIZED).await;
    let basic = app
        .client
        .get(app.url("/api/auth/me"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_error(basic, StatusCode::UNAUTHORIZED).await;
}

/// The session id a token the server issued names.
pub fn session_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

fn unsigned_token(user_id: i64, sid: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"sub": user_id.to_string(), "sid": sid, "iat": now, "exp": now + 3600}).to_string(),
    );
    format!("{header}.{claims}.")
}

fn token_signed_with(
    key: &[u8],
    algorithm: jsonwebtoken::Algorithm,
    user_id: i64,
    sid: &str,
    exp_offset: i64,
) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims =
        json!({"sub": user_id.to_string(), "sid": sid, "iat": now, "exp": now + exp_offset});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_and_expired_tokens_are_refused() {
    let secret = "this-installation-signing-key-0123456789";
    let app = spawn_app_with(&[("SECRET_KEY", secret)]).await;
    let (id, token) = app.resident("victim@example.com").await;
    assert_eq!(
        app.get(Some(&token), "/api/auth/me").await.status(),
        StatusCode::OK
    );
    // The same claims with our own key do work, so the refusals below are about the forgery alone.
    let sid = session_of(&token);
    let ours = token_signed_with(
        secret.as_bytes(),
        jsonwebtoken::Algorithm::HS256,
        id,
        &sid,
        600,
    );
    assert_eq!(
        app.get(Some(&ours), "/api/auth/me").await.status(),
        StatusCode::OK
    );

    let forgeries = [
        unsigned_token(id, &sid),
        token_signed_with(
            b"some-other-installation-key-000000",
            jsonwebtoken::Algorithm::HS256,
            id,
            &sid,
            600,
        ),
        token_signed_with(
            secret.as_bytes(),
            jsonwebtoken::Algorithm::HS512,
            id,
            &sid,
            600,
        ),
        token_signed_with(
            secret.as_bytes(),
            jsonwebtoken::Algorithm::HS256,
            id,
            &sid,
            -600,
        ),
        // Signed with the real key, but naming no session the server started.
        token_signed_with(
            secret.as_bytes(),
            jsonwebtoken::Algorithm::HS256,
            id,
            "made-up",
            600,
        ),
        // A real session, but another account's id in the subject.
        token_signed_with(
            secret.as_bytes(),
            jsonwebtoken::Algorithm::HS256,
            1,
            &sid,
            600,
        ),
    ];
    for forged in forgeries {
        let response = app.get(Some(&forged), "/api/auth/me").await;
        assert_error(response, StatusCode::UNAUTHORIZED).await;
    }
}

#[tokio::test]
async fn a_role_change_ends_the_accounts_sessions_and_the_next_login_has_the_new_role() {
    let app = spawn_app().await;
    let root = app.super_token().await;
    let (id, token) = app.resident("staff@example.com").await;
    assert_error(
        app.get(Some(&token), "/api/requests").await,
        StatusCode::FORBIDDEN,
    )
    .await;

    for (role, requests, users) in [
        ("admin", StatusCode::OK, StatusCode::FORBIDDEN),
        ("super_admin", StatusCode::OK, StatusCode::OK),
        ("user", StatusCode::FORBIDDEN, StatusCode::FORBIDDEN),
    ] {
        let before = app.token("staff@example.com", PASSWORD).await;
        assert_eq!(app.set_role(&root, id, role).await.status(), StatusCode::OK);
        for old in [&token, &before] {
            assert_error(
                app.get(Some(old), "/api/auth/me").await,
                StatusCode::UNAUTHORIZED,
            )
            .await;
        }
        let fresh = app.token("staff@example.com", PASSWORD).await;
        assert_eq!(
            app.get(Some(&fresh), "/api/requests").await.status(),
            requests,
            "{role}"
        );
        assert_eq!(
            app.get(Some(&fresh), "/api/admin/users").await.status(),
            users,
            "{role}"
        );
    }
}

#[tokio::test]
async fn a_deleted_accounts_token_stops_working() {
    let app = spawn_app().await;
    let (id, token) = app.resident("leaving@example.com").await;
    app.submit(&token, "전등이 깜빡입니다").await;
    let response = app
        .delete(
            Some(&app.super_token().await),
            &format!("/api/admin/users/{id}"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(Some(&token), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_error(
        app.get(Some(&token), "/api/my-requests").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let stats: Value = app
        .get(Some(&app.super_token().await), "/api/stats")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 0, "the account's requests went with it");
}

#[tokio::test]
async fn a_user_changes_their_password() {
    let app = spawn_app().await;
    let (_, token) = app.resident("pw@example.com").await;
    let other_device = app.token("pw@example.com", PASSWORD).await;
    let wrong = app
        .post_json(
            Some(&token),
            "/api/auth/change-password",
            &json!({"current_password": "not it at all", "new_password": "brand new secret"}),
        )
        .await;
    assert_error(wrong, StatusCode::FORBIDDEN).await;
    let too_short = app
        .post_json(
            Some(&token),
            "/api/auth/change-password",
            &json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_error(too_short, StatusCode::UNPROCESSABLE_ENTITY).await;
    let ok = app
        .post_json(
            Some(&token),
            "/api/auth/change-password",
            &json!({"current_password": PASSWORD, "new_password": "brand new secret"}),
        )
        .await;
    // Every session made with the old password ends, the one that changed it too; the answer
    // carries a new token.
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    let fresh = body["access_token"].as_str().unwrap();
    for old in [&token, &other_device] {
        assert_error(
            app.get(Some(old), "/api/auth/me").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    assert_eq!(
        app.get(Some(fresh), "/api/auth/me").await.status(),
        StatusCode::OK
    );
    assert_error(
        app.login_form("pw@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        app.login_form("pw@example.com", "brand new secret")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_address() {
    let app = spawn_app_with(&[("AUTH_RATE_LIMIT_PER_MINUTE", "3")]).await;
    for _ in 0..3 {
        assert_eq!(
            app.login_form("x@example.com", "whatever1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = app.login_form("x@example.com", "whatever1").await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS).await;
    // Registrations have a limit of their own (REGISTER_RATE_LIMIT_PER_MINUTE).
    assert_eq!(
        app.register("y@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_changes_stay_under_the_auth_limit_per_address() {
    let app = spawn_app_with(&[("AUTH_RATE_LIMIT_PER_MINUTE", "2")]).await;
    let (_, token) = app.resident("guesser@example.com").await;
    let guess = json!({"current_password": "not it at all", "new_password": "brand new secret"});
    for _ in 0..2 {
        let wrong = app
            .post_json(Some(&token), "/api/auth/change-password", &guess)
            .await;
        assert_error(wrong, StatusCode::FORBIDDEN).await;
    }
    let limited = app
        .post_json(Some(&token), "/api/auth/change-password", &guess)
        .await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn the_generated_key_survives_a_restart_but_not_another_installation() {
    let app = spawn_app().await;
    let (_, token) = app.resident("stay@example.com").await;
    let key_file = app.dir.path().join("maintenance.db.secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let dir = app.stop().await;
    let restarted = spawn_app_in(dir, &[]).await;
    let me = restarted.get(Some(&token), "/api/auth/me").await;
    assert_eq!(me.status(), StatusCode::OK);

    let elsewhere = spawn_app().await;
    elsewhere.resident("stay@example.com").await;
    assert_error(
        elsewhere.get(Some(&token), "/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn the_configured_super_admin_address_taken_by_someone_else_is_never_promoted() {
    let app = spawn_app().await;
    let root: Value = app.me(&app.super_token().await).await;
    assert_eq!(root["role"], "super_admin");
    assert_eq!(root["email"], SUPER_EMAIL);
    // Someone registers the address the operator is about to configure, with their own password.
    app.resident("boss@example.com").await;
    let dir = app.stop().await;

    let seed = [
        ("SUPER_ADMIN_EMAIL", "Boss@Example.com"),
        ("SUPER_ADMIN_PASSWORD", "the operator's password"),
    ];
    let (error, dir) = match try_spawn_app_in(dir, &seed).await {
        Ok(_) => panic!("started and promoted an account whose password it does not know"),
        Err(refused) => refused,
    };
    let message = error.to_string();
    for needed in [
        "maintenance set-password",
        "SUPER_ADMIN_EMAIL",
        "boss@example.com",
    ] {
        assert!(message.contains(needed), "{needed} missing from: {message}");
    }
    // Nothing changed: the account is still a resident's.
    let unchanged = spawn_app_in(dir, &[]).await;
    let token = unchanged.token("boss@example.com", PASSWORD).await;
    let me: Value = unchanged.me(&token).await;
    assert_eq!(me["role"], "user");

    // With the password the operator configured, the account is theirs: it is promoted.
    let dir = unchanged.stop().await;
    let owned = spawn_app_in(
        dir,
        &[
            ("SUPER_ADMIN_EMAIL", "boss@example.com"),
            ("SUPER_ADMIN_PASSWORD", PASSWORD),
        ],
    )
    .await;
    let token = owned.token("boss@example.com", PASSWORD).await;
    let me: Value = owned.me(&token).await;
    assert_eq!(me["role"], "super_admin");
}

/// The import disables a staff password that was the original's published default; naming
/// that account in SUPER_ADMIN_EMAIL with a new SUPER_ADMIN_PASSWORD brings it back.
#[tokio::test]
async fn a_super_admin_whose_password_the_import_disabled_is_revived_by_the_seed() {
    let app = spawn_app().await;
    rusqlite::Connection::open(app.db_path())
        .unwrap()
        .execute(
            "UPDATE users SET hashed_password = '!' || hashed_password WHERE email = ?1",
            [SUPER_EMAIL],
        )
        .unwrap();
    assert_error(
        app.login_form(SUPER_EMAIL, SUPER_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let dir = app.stop().await;
    let seed = [
        ("SUPER_ADMIN_EMAIL", SUPER_EMAIL),
        ("SUPER_ADMIN_PASSWORD", "the operator's new password"),
    ];
    let revived = spawn_app_in(dir, &seed).await;
    let token = revived
        .token(SUPER_EMAIL, "the operator's new password")
        .await;
    assert_eq!(revived.me(&token).await["role"], "super_admin");
    assert_error(
        revived.login_form(SUPER_EMAIL, SUPER_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

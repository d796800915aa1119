//! Photos: checked by their bytes, limited in size, visible to the owner and staff only.

use crate::helpers::*;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// The smallest files each type is recognised by.
pub const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
];
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR";

pub async fn upload(
    app: &TestApp,
    token: Option<&str>,
    id: i64,
    name: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let form = Form::new().part(
        "file",
        Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    );
    let mut request = app
        .client
        .post(app.url(&format!("/api/requests/{id}/upload")))
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

pub fn uploads(app: &TestApp) -> Vec<String> {
    let folder = app.dir.path().join("maintenance.db.uploads");
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_owner_uploads_a_photo_that_only_the_owner_and_staff_can_see() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let (_, other) = app.resident("other@example.com").await;
    let (_, admin) = app.admin("admin@example.com").await;
    let id = app.submit(&owner, "욕실 천장에서 물이 떨어져요").await["id"]
        .as_i64()
        .unwrap();

    let response = upload(&app, Some(&owner), id, "ceiling.png", PNG).await;
    assert_eq!(response.status(), StatusCode::OK);
    let request: Value = response.json().await.unwrap();
    assert!(
        request["image_url"]
            .as_str()
            .unwrap()
            .starts_with(&app.url(&format!("/api/requests/{id}/image?exp="))),
        "{request}"
    );
    let image_url = format!("/api/requests/{id}/image");

    for token in [&owner, &admin] {
        let image = app.get(Some(token), &image_url).await;
        assert_eq!(image.status(), StatusCode::OK);
        assert_eq!(image.headers()["content-type"], "image/png");
        assert_eq!(image.headers()["x-content-type-options"], "nosniff");
        assert_eq!(image.bytes().await.unwrap(), PNG);
    }
    assert_error(
        app.get(Some(&other), &image_url).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(app.get(None, &image_url).await, StatusCode::UNAUTHORIZED).await;
    assert_error(
        upload(&app, Some(&other), id, "x.png", PNG).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        upload(&app, None, id, "x.png", PNG).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let stored = uploads(&app);
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].contains("ceiling"),
        "stored under a random name, not the client's"
    );
}

#[tokio::test]
async fn files_are_judged_by_their_bytes_and_their_size() {
    let app = spawn_app_with(&[("MAX_UPLOAD_MB", "1")]).await;
    let (_, owner) = app.resident("owner@example.com").await;
    let id = app.submit(&owner, "벽에 금이 갔어요").await["id"]
        .as_i64()
        .unwrap();

    let script = upload(
        &app,
        Some(&owner),
        id,
        "photo.jpg",
        b"<script>alert(1)</script>",
    )
    .await;
    assert_error(script, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let svg = upload(
        &app,
        Some(&owner),
        id,
        "photo.png",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
    .await;
    assert_error(svg, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let mut big = JPEG.to_vec();
    big.resize(1024 * 1024 + 1, 0);
    assert_error(
        upload(&app, Some(&owner), id, "big.jpg", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let not_multipart = app
        .client
        .post(app.url(&format!("/api/requests/{id}/upload")))
        .bearer_auth(&owner)
        .header("Content-Type", "image/jpeg")
        .body(JPEG.to_vec())
        .send()
        .await
        .unwrap();
    assert_error(not_multipart, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let wrong_field = app
        .client
        .post(app.url(&format!("/api/requests/{id}/upload")))
        .bearer_auth(&owner)
        .multipart(Form::new().part("photo", Part::bytes(JPEG.to_vec())))
        .send()
        .await
        .unwrap();
    assert_error(wrong_field, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(uploads(&app).iter().all(|f| !f.ends_with(".partial")));
    assert!(uploads(&app).is_empty(), "nothing refused was kept");
    let request: Value = app
        .get(Some(&owner), &format!("/api/requests/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(request["image_url"].is_null());
}

#[tokio::test]
async fn a_replaced_photo_and_a_deleted_request_leave_no_file_behind() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let id = app.submit(&owner, "창문이 깨졌어요").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        upload(&app, Some(&owner), id, "a.png", PNG).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        upload(&app, Some(&owner), id, "b.jpg", JPEG).await.status(),
        StatusCode::OK
    );
    let stored = uploads(&app);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].ends_with(".jpg"));
    let image = app
        .get(Some(&owner), &format!("/api/requests/{id}/image"))
        .await;
    assert_eq!(image.headers()["content-type"], "image/jpeg");

    assert_eq!(
        app.delete(Some(&owner), &format!("/api/requests/{id}"))
            .await
            .status(),
        StatusCode::OK
    );
    assert!(uploads(&app).is_empty());
}

#[tokio::test]
async fn a_large_photo_is_sent_from_disk_byte_for_byte_with_its_headers() {
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let id = app.submit(&owner, "복도 벽에 곰팡이가 넓게 폈어요").await["id"]
        .as_i64()
        .unwrap();
    let mut photo = JPEG.to_vec();
    photo.extend((0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    assert_eq!(
        upload(&app, Some(&owner), id, "mould.jpg", &photo)
            .await
            .status(),
        StatusCode::OK
    );

    let image = app
        .get(Some(&owner), &format!("/api/requests/{id}/image"))
        .await;
    assert_eq!(image.status(), StatusCode::OK);
    let headers = image.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["content-length"], photo.len().to_string().as_str());
    assert_eq!(headers["cache-control"], "private, max-age=3600");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let body = image.bytes().await.unwrap();
    assert!(
        body[..] == photo[..],
        "the download differs from the upload"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_its_wal_and_the_photos_are_readable_by_the_server_account_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let (_, owner) = app.resident("owner@example.com").await;
    let id = app.submit(&owner, "현관 조명이 나갔어요").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        upload(&app, Some(&owner), id, "light.png", PNG)
            .await
            .status(),
        StatusCode::OK
    );

    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    // Compared as octal text so a failure reads like `ls -l`.
    let mode = |path: &std::path::Path| format!("{:o}", mode(path));
    let db = app.db_path();
    let folder = app.dir.path().join("maintenance.db.uploads");
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        assert_eq!(mode(&path), "600", "{}", path.display());
    }
    assert_eq!(mode(&folder), "700", "the photo folder");
    let photos = uploads(&app);
    assert_eq!(photos.len(), 1);
    assert_eq!(mode(&folder.join(&photos[0])), "600", "the photo");
}

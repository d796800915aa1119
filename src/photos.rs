//! Request photos: checked by their bytes (not their names), stored under random names in a
//! folder beside the database, served only to the request's owner and to staff, or through
//! a signed link made for one of them ([`crate::links`]).

use crate::accounts::User;
use crate::db::{self, requests::Photo};
use crate::errors::AppError;
use crate::events::Event;
use crate::ids::RequestId;
use crate::private_files;
use crate::requests::{MaintenanceRequest, Scope};
use crate::state::AppState;
use crate::taxonomy::Category;
use actix_multipart::{Multipart, MultipartError};
use futures_util::StreamExt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The image types accepted, recognised by their first bytes.
pub fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(("image/png", "png"))
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// The demo database's photos (`seed-demo`): drawn pictures compiled into the binary, one per
/// category, so that a demo is one file that `cp` copies whole. Their stored names start with
/// `demo/`, which no upload's random name does; they are served like any other photo, under
/// the same access rules, and never deleted from disk.
const DEMO_PHOTOS: [(Category, &str, &[u8]); 5] = [
    (
        Category::Electrical,
        "demo/electrical.png",
        include_bytes!("seed/photos/electrical.png"),
    ),
    (
        Category::Plumbing,
        "demo/plumbing.png",
        include_bytes!("seed/photos/plumbing.png"),
    ),
    (
        Category::Hvac,
        "demo/hvac.png",
        include_bytes!("seed/photos/hvac.png"),
    ),
    (
        Category::Structural,
        "demo/structural.png",
        include_bytes!("seed/photos/structural.png"),
    ),
    (
        Category::Other,
        "demo/other.png",
        include_bytes!("seed/photos/other.png"),
    ),
];

/// The demo photo that shows a problem of `category`.
pub fn demo_photo(category: Category) -> Photo {
    let file = DEMO_PHOTOS
        .iter()
        .find(|(c, _, _)| *c == category)
        .map_or(DEMO_PHOTOS[0].1, |(_, file, _)| file);
    Photo {
        file: file.to_owned(),
        content_type: "image/png".to_owned(),
    }
}

/// The bytes of a demo photo stored as `file`, if it is one.
fn demo_bytes(file: &str) -> Option<&'static [u8]> {
    DEMO_PHOTOS
        .iter()
        .find(|(_, name, _)| *name == file)
        .map(|(_, _, bytes)| *bytes)
}

/// Where photos live: `<database file>.uploads/`.
pub fn folder_for(database: &Path) -> PathBuf {
    crate::private_files::beside(database, crate::private_files::PHOTOS)
}

fn too_large(max_bytes: usize) -> AppError {
    AppError::PayloadTooLarge(format!(
        "the photo is larger than {} MB",
        max_bytes / (1024 * 1024)
    ))
}

fn unsupported() -> AppError {
    AppError::UnsupportedMediaType("the photo must be a JPEG, PNG, WebP or GIF image".into())
}

/// Reads one multipart field to its end, refusing more than `max_bytes`.
pub async fn read_field(
    field: &mut actix_multipart::Field,
    max_bytes: usize,
) -> Result<Vec<u8>, AppError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(multipart_error)?;
        if bytes.len() + chunk.len() > max_bytes {
            return Err(too_large(max_bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A malformed multipart body is the client's fault: a 415 for a wrong type, else 422.
pub fn multipart_error(e: MultipartError) -> AppError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => AppError::UnsupportedMediaType(
            "send the photo as multipart/form-data with a field named file".into(),
        ),
        other => AppError::unprocessable(format!("unreadable upload: {other}")),
    }
}

/// The bytes of the multipart field `name`, if present.
pub async fn field_bytes(
    mut form: Multipart,
    name: &str,
    max_bytes: usize,
) -> Result<Option<Vec<u8>>, AppError> {
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        if field.name() == Some(name) {
            return read_field(&mut field, max_bytes).await.map(Some);
        }
        // Drain other fields so the stream moves on.
        while let Some(chunk) = field.next().await {
            chunk.map_err(multipart_error)?;
        }
    }
    Ok(None)
}

/// Checks and stores photo bytes under a new random name; returns what to record.
pub async fn store(state: &AppState, bytes: Vec<u8>) -> Result<Photo, AppError> {
    let (content_type, extension) = sniff(&bytes).ok_or_else(unsupported)?;
    let mut random = [0u8; 16];
    rand::fill(&mut random);
    let file = format!("{}.{extension}", hex::encode(random));
    let folder = folder_for(&state.config.database_path);
    let target = folder.join(&file);
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        private_files::create_dir(&folder)?;
        // Written aside, then renamed: a half-written photo never appears under its name.
        let partial = target.with_extension("partial");
        private_files::owner_only(OpenOptions::new().write(true).create(true).truncate(true))
            .open(&partial)?
            .write_all(&bytes)?;
        std::fs::rename(&partial, &target)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    Ok(Photo {
        file,
        content_type: content_type.to_owned(),
    })
}

/// Removes a stored photo; a file already gone is fine, a demo photo stays in the binary.
pub async fn remove(state: &AppState, file: String) {
    if demo_bytes(&file).is_some() {
        return;
    }
    let path = folder_for(&state.config.database_path).join(file);
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
}

/// Stores `bytes` as the photo of request `id`, for its owner or staff.
pub async fn attach(
    state: &AppState,
    user: &User,
    id: RequestId,
    bytes: Vec<u8>,
) -> Result<MaintenanceRequest, AppError> {
    let photo = store(state, bytes).await?;
    let scope = Scope::of(user);
    let stored = photo.clone();
    let saved = state
        .db
        .write(&state.events, move |tx| {
            let saved = db::requests::set_photo(tx, id, scope, &stored)?;
            let events = saved
                .iter()
                .map(|(r, _)| Event::RequestUpdated(r.clone()))
                .collect();
            Ok((saved, events))
        })
        .await;
    match saved {
        Ok(Some((request, previous))) => {
            if let Some(previous) = previous {
                remove(state, previous.file).await;
            }
            Ok(request)
        }
        Ok(None) => {
            remove(state, photo.file).await;
            Err(AppError::not_found("Request"))
        }
        Err(e) => {
            remove(state, photo.file).await;
            Err(e)
        }
    }
}

/// A stored photo opened for sending.
pub struct PhotoFile {
    pub body: PhotoBody,
    pub len: u64,
    pub content_type: String,
}

/// Where a photo's bytes come from.
pub enum PhotoBody {
    /// An upload, read from disk as it is sent, never whole into memory.
    Stored(tokio::fs::File),
    /// A demo photo, compiled in.
    Demo(&'static [u8]),
}

/// The photo of a request within `scope` (the viewer's, or all for a signed link), opened
/// for streaming.
pub async fn open(state: &AppState, scope: Scope, id: RequestId) -> Result<PhotoFile, AppError> {
    let photo = state
        .db
        .run(move |conn| db::requests::photo(conn, id, scope))
        .await?
        .flatten()
        .ok_or_else(|| AppError::not_found("Photo"))?;
    if let Some(bytes) = demo_bytes(&photo.file) {
        return Ok(PhotoFile {
            body: PhotoBody::Demo(bytes),
            len: bytes.len() as u64,
            content_type: photo.content_type,
        });
    }
    let path = folder_for(&state.config.database_path).join(&photo.file);
    let missing = |_| AppError::not_found("Photo");
    let file = tokio::fs::File::open(path).await.map_err(missing)?;
    let len = file.metadata().await.map_err(missing)?.len();
    Ok(PhotoFile {
        body: PhotoBody::Stored(file),
        len,
        content_type: photo.content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).map(|t| t.0),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\nrest").map(|t| t.0),
            Some("image/png")
        );
        assert_eq!(sniff(b"GIF89a....").map(|t| t.0), Some("image/gif"));
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 ").map(|t| t.0),
            Some("image/webp")
        );
        assert_eq!(sniff(b"<svg xmlns=...>"), None);
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn every_category_has_a_demo_photo_that_passes_the_uploads_check() {
        for category in Category::ALL {
            let photo = demo_photo(*category);
            assert!(photo.file.contains(category.as_str()), "{}", photo.file);
            let bytes = demo_bytes(&photo.file).expect("compiled in");
            assert_eq!(sniff(bytes).map(|t| t.0), Some(photo.content_type.as_str()));
        }
        assert_eq!(demo_bytes("0123456789abcdef0123456789abcdef.png"), None);
    }

    #[test]
    fn the_uploads_folder_sits_beside_the_database() {
        assert_eq!(
            folder_for(Path::new("/data/m.db")),
            PathBuf::from("/data/m.db.uploads")
        );
        assert_eq!(folder_for(Path::new("m.db")), PathBuf::from("m.db.uploads"));
    }
}

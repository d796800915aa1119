//! Static files compiled into the binary, served under content-hashed URLs so they can be
//! cached for a year: a changed file gets a new URL.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/app.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../static/favicon.svg"),
    },
    // RapiDoc, vendored from npm (see README); draws /docs from /openapi.json.
    Asset {
        name: "rapidoc-min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/rapidoc/rapidoc-min.js"),
    },
];

/// `app.css` → `app.3f2a9c1d.css`, computed once.
fn hashed_names() -> &'static Vec<String> {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let mut hasher = DefaultHasher::new();
                asset.bytes.hash(&mut hasher);
                let hash = format!("{:08x}", hasher.finish() as u32);
                match asset.name.rsplit_once('.') {
                    Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
                    None => format!("{}.{hash}", asset.name),
                }
            })
            .collect()
    })
}

/// The URL of a static file by its plain name, e.g. `url("app.css")`.
pub fn url(name: &str) -> String {
    let index = ASSETS.iter().position(|a| a.name == name).unwrap_or(0);
    format!("/static/{}", hashed_names()[index])
}

/// GET /static/{file}: hashed names are cached for a year; plain names revalidate.
pub async fn serve(file: web::Path<String>) -> HttpResponse {
    let names = hashed_names();
    let found = ASSETS
        .iter()
        .zip(names)
        .find(|(asset, hashed)| **hashed == *file || asset.name == file.as_str());
    match found {
        Some((asset, hashed)) => {
            let cache = if *hashed == *file {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            HttpResponse::Ok()
                .content_type(asset.content_type)
                .insert_header((header::CACHE_CONTROL, cache))
                .body(asset.bytes)
        }
        None => HttpResponse::NotFound().finish(),
    }
}

//! Whether a browser request comes from another site: checked before a cookie-authenticated
//! request may change anything or open a live socket.
//!
//! Browsers say where a request comes from (`Origin`, and `Sec-Fetch-Site` in current ones);
//! a page on another port or a sibling subdomain is "same-site" but not same-origin, and is
//! refused like any other site. Non-browser clients send neither header and are judged by
//! their credentials alone (a Bearer token is never sent by a browser on its own).

use crate::config::Config;
use actix_web::HttpRequest;
use actix_web::http::header;

/// The origin this server is reached at, as a browser writes it: `scheme://host[:port]`.
pub fn own_origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host()).to_ascii_lowercase()
}

/// True when the request's `Origin` or `Sec-Fetch-Site` shows it was made by a page of
/// another origin that `ALLOWED_ORIGINS` does not name (`*` does not count here: it opens
/// CORS for token clients, never cookies).
pub fn is_cross_origin(req: &HttpRequest, config: &Config) -> bool {
    let headers = req.headers();
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null").trim().to_ascii_lowercase());
    let allowed = |origin: &str| {
        origin == own_origin(req)
            || config
                .allowed_origins
                .iter()
                .any(|o| o != "*" && o.eq_ignore_ascii_case(origin))
    };
    if let Some(origin) = &origin {
        return !allowed(origin);
    }
    // No Origin: a same-origin GET, or an old browser. Sec-Fetch-Site, when present, decides.
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    matches!(fetch_site.as_deref(), Some(site) if site != "same-origin" && site != "none")
}

//! Absolute links the API hands out: the base URL clients reach the server at.

use crate::config::Config;
use actix_web::HttpRequest;

/// The scheme, host and any path prefix of links to this server: `PUBLIC_URL`, or else the
/// scheme and host the request was sent to (`X-Forwarded-Proto`/`-Host` as actix reads them,
/// the same view the origin check and Secure cookies take).
pub fn public_base(req: &HttpRequest, config: &Config) -> String {
    match &config.public_url {
        Some(url) => url.clone(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

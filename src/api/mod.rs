//! The JSON API, compatible with the original system's paths, fields and error shape.

mod admin;
mod auth;
mod health;
pub mod openapi;
mod requests;

use crate::config::Config;
use crate::errors::AppError;
use crate::requests::Page;
use crate::routing::{self, Endpoint, at};
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{Method, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, error, web};
use serde::Serialize;

/// The largest request body accepted.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Every API route, in matching order. Add a route here and give it a rule in the access test
/// (tests/api/access.rs), which fails for any route listed here without one.
fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        at(M::GET, "/health", health::health),
        // Answered only to this machine; see telemetry::metrics.
        at(M::GET, "/metrics", crate::telemetry::metrics::main_port),
        at(M::GET, "/ws", crate::realtime::socket::connect),
        at(M::POST, "/api/auth/register", auth::register),
        at(M::POST, "/api/auth/login", auth::login),
        at(M::GET, "/openapi.json", openapi::serve_document),
        at(M::GET, "/docs", openapi::serve_docs),
        at(M::GET, "/api/auth/me", auth::me),
        at(M::PATCH, "/api/auth/me", auth::update_me),
        at(M::GET, "/api/auth/sessions", auth::list_sessions),
        at(M::POST, "/api/auth/logout", auth::logout),
        at(
            M::POST,
            "/api/auth/logout-everywhere",
            auth::logout_everywhere,
        ),
        at(M::POST, "/api/auth/change-password", auth::change_password),
        at(M::POST, "/api/requests", requests::submit_request),
        at(M::GET, "/api/requests", requests::list_all_requests),
        at(M::GET, "/api/my-requests", requests::list_my_requests),
        at(M::GET, "/api/requests/{id}", requests::show_request),
        at(M::PATCH, "/api/requests/{id}", requests::update_request),
        at(M::DELETE, "/api/requests/{id}", requests::delete_request),
        at(M::GET, "/api/requests/{id}/history", requests::show_history),
        at(
            M::GET,
            "/api/requests/{id}/task-status",
            requests::show_task_status,
        ),
        at(M::POST, "/api/requests/{id}/upload", requests::upload_photo),
        at(M::GET, "/api/requests/{id}/image", requests::show_photo),
        at(M::GET, "/api/stats", requests::show_stats),
        at(M::GET, "/api/admin/users", admin::list_users),
        at(M::DELETE, "/api/admin/users/{id}", admin::delete_user),
        at(M::PATCH, "/api/admin/users/{id}/role", admin::change_role),
        at(
            M::POST,
            "/api/admin/users/{id}/reset-link",
            admin::issue_reset_link,
        ),
    ]
}

/// Mounts every API route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    routing::register(cfg, endpoints());
}

/// The (method, path pattern) of every API route.
pub fn route_table() -> Vec<(Method, &'static str)> {
    routing::table(endpoints())
}

/// Extractor settings so malformed input becomes a clear 4xx in the `{"detail"}` shape.
pub fn extractor_config(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(BODY_LIMIT_BYTES))
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT_BYTES)
                .error_handler(|e, _| json_error(e).into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            AppError::unprocessable(format!("invalid query string: {e}")).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|e, _| {
            AppError::unprocessable(format!("invalid path parameter: {e}")).into()
        }));
}

fn json_error(e: error::JsonPayloadError) -> AppError {
    use error::JsonPayloadError as E;
    match e {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => too_large(),
        E::ContentType => {
            AppError::UnsupportedMediaType("Content-Type must be application/json".into())
        }
        E::Deserialize(e) => AppError::unprocessable(format!("invalid JSON body: {e}")),
        E::Payload(error::PayloadError::Overflow) => too_large(),
        other => AppError::unprocessable(format!("unreadable body: {other}")),
    }
}

fn too_large() -> AppError {
    AppError::PayloadTooLarge(format!(
        "Request body is larger than {} KiB",
        BODY_LIMIT_BYTES / 1024
    ))
}

/// Whether `path` belongs to the JSON API (errors answer `{"detail"}` there), not to a page.
pub fn is_api_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || matches!(path, "/ws" | "/health" | "/openapi.json")
        || path == "/docs"
        || path.starts_with("/docs/")
}

/// Unknown routes answer 404 in the API's error shape.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound("Not Found".into()))
}

#[derive(Serialize)]
struct Detail<'a> {
    detail: &'a str,
}

/// Gives every error response that is not JSON yet (405s, payload errors raised
/// inside actix) the `{"detail"}` body, keeping its status and headers.
pub fn json_error_body<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    // JSON is already in shape; an HTML page is a page's own error page.
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let (req, res) = res.into_parts();
    let status = res.status();
    let mut replacement = HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement.append_header((name.clone(), value.clone()));
        }
    }
    let detail = status.canonical_reason().unwrap_or("Error");
    let res: HttpResponse<BoxBody> = replacement.json(Detail { detail });
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, res).map_into_right_body(),
    ))
}

/// The URL of this list: the same path, `query` (the caller's parameters other than where
/// the page starts), then `start` (`offset=40`, `before=…`).
fn list_url(
    req: &HttpRequest,
    config: &Config,
    query: &[(&str, &str)],
    start: (&str, &str),
) -> String {
    let mut url = crate::links::public_base(req, config);
    url.push_str(req.path());
    url.push('?');
    for (name, value) in query.iter().chain(std::iter::once(&start)) {
        url.push_str(name);
        url.push('=');
        percent_encode_into(&mut url, value);
        url.push('&');
    }
    url.pop();
    url
}

/// One page of a list as a JSON array, with the number of matching rows in `X-Total-Count`
/// and, while rows remain after it, an RFC 8288 `Link: <…>; rel="next"` to the next page:
/// the same path and `query` (the caller's parameters other than `offset`), the next offset.
fn paged_json<T: Serialize>(
    req: &HttpRequest,
    config: &Config,
    items: &[T],
    total: u64,
    page: Page,
    query: &[(&str, &str)],
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.insert_header(("X-Total-Count", total.to_string()));
    let next = u64::from(page.offset) + items.len() as u64;
    if !items.is_empty() && next < total {
        let url = list_url(req, config, query, ("offset", &next.to_string()));
        response.insert_header((header::LINK, format!("<{url}>; rel=\"next\"")));
    }
    response.json(items)
}

/// `value` as the JSON body of `response`, written into a buffer of `capacity` bytes from
/// the start: a page of requests is tens of kilobytes, which a buffer grown from empty copies
/// over a dozen times on the way.
fn json_sized<T: Serialize + ?Sized>(
    mut response: actix_web::HttpResponseBuilder,
    value: &T,
    capacity: usize,
) -> HttpResponse {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => response
            .content_type(actix_web::http::header::ContentType::json())
            .body(body),
        Err(error) => {
            actix_web::ResponseError::error_response(&crate::errors::AppError::internal(error))
        }
    }
}

/// Appends `value` percent-encoded as a query component (RFC 3986: everything but the
/// unreserved characters, so a space is `%20` and `&`, `=`, `+`, `#` cannot end the value).
fn percent_encode_into(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        let mut out = String::new();
        super::percent_encode_into(&mut out, "전등 a&b=c+d#e/100%~_.-");
        assert_eq!(out, "%EC%A0%84%EB%93%B1%20a%26b%3Dc%2Bd%23e%2F100%25~_.-");
    }
}

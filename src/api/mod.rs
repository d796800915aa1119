//! The JSON API, compatible with the original system's paths, fields and error shape.

mod admin;
mod auth;
mod health;
pub mod openapi;
mod requests;

use crate::errors::AppError;
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, error, web};
use serde::Serialize;

/// The largest request body accepted.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Mounts every API route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(openapi::routes)
        .route("/health", web::get().to(health::health))
        .route("/ws", web::get().to(crate::realtime::socket::connect))
        .service(
            web::scope("/api")
                .route("/auth/register", web::post().to(auth::register))
                .route("/auth/login", web::post().to(auth::login))
                .route("/auth/me", web::get().to(auth::me))
                .route("/auth/logout", web::post().to(auth::logout))
                .route(
                    "/auth/logout-everywhere",
                    web::post().to(auth::logout_everywhere),
                )
                .route(
                    "/auth/change-password",
                    web::post().to(auth::change_password),
                )
                .route("/requests", web::post().to(requests::submit_request))
                .route("/requests", web::get().to(requests::list_all_requests))
                .route("/my-requests", web::get().to(requests::list_my_requests))
                .route("/requests/{id}", web::get().to(requests::show_request))
                .route("/requests/{id}", web::patch().to(requests::update_request))
                .route("/requests/{id}", web::delete().to(requests::delete_request))
                .route(
                    "/requests/{id}/history",
                    web::get().to(requests::show_history),
                )
                .route(
                    "/requests/{id}/task-status",
                    web::get().to(requests::show_task_status),
                )
                .route(
                    "/requests/{id}/upload",
                    web::post().to(requests::upload_photo),
                )
                .route("/requests/{id}/image", web::get().to(requests::show_photo))
                .route("/stats", web::get().to(requests::show_stats))
                .route("/admin/users", web::get().to(admin::list_users))
                .route("/admin/users/{id}", web::delete().to(admin::delete_user))
                .route(
                    "/admin/users/{id}/role",
                    web::patch().to(admin::change_role),
                ),
        );
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

/// A JSON array with the total count of matching rows in `X-Total-Count`.
fn paged_json<T: Serialize>(items: &[T], total: u64) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(items)
}

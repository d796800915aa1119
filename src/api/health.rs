//! GET /health: answers only after the database does, and says whether it can be written.

use crate::errors::AppError;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;
use std::time::Duration;

/// How long the check waits for the write lock; a writer held up longer counts as blocked.
const WRITE_WAIT: Duration = Duration::from_secs(1);

/// The contract of a health answer: `status` always, other fields (checks, version) as they come.
/// Only documented: the handler builds the JSON itself.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Health {
    #[schema(pattern = "^(healthy|unhealthy)$")]
    status: String,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    operation_id = "health",
    summary = "Whether the server can serve",
    security(()),
    responses(
        (status = 200, description = "Healthy", body = inline(Health)),
        (status = 503, description = "Unhealthy", body = inline(Health)),
    )
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let database = state
        .db
        .run(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await;
    if let Err(e) = database {
        tracing::warn!(error = %e, "health check failed");
        return HttpResponse::ServiceUnavailable().json(json!({
            "status": "unhealthy",
            "database": "unavailable",
            "detail": "database unavailable",
        }));
    }
    match state.db.can_write(WRITE_WAIT).await {
        Ok(()) => HttpResponse::Ok().json(json!({
            "status": "healthy",
            "database": "ok",
            "writes": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "timestamp": crate::ids::Timestamp::now(),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the database cannot be written");
            let detail = match e {
                AppError::Unavailable(_) => {
                    "database writes are blocked: another process or connection holds the write lock"
                }
                _ => "database writes fail",
            };
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "unhealthy",
                "database": "ok",
                "writes": "failing",
                "detail": detail,
            }))
        }
    }
}

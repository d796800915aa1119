//! GET /health: answers only after the database does.

use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

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
    match database {
        Ok(_) => HttpResponse::Ok().json(json!({
            "status": "healthy",
            "database": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "unhealthy",
                "detail": "database unavailable",
            }))
        }
    }
}

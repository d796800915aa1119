//! /api/admin: accounts, for super admins.

use super::paged_json;
use crate::accounts;
use crate::auth::SuperAdminUser;
use crate::errors::AppError;
use crate::ids::UserId;
use crate::requests::Page;
use crate::state::AppState;
use crate::taxonomy::Role;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct PageQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list_users(
    state: web::Data<AppState>,
    _admin: SuperAdminUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let page = Page::parse(query.limit, query.offset)?;
    let (users, total) = accounts::list(&state.db, page).await?;
    Ok(paged_json(&users, total))
}

#[derive(Deserialize)]
pub struct RoleQuery {
    new_role: Option<String>,
}

#[derive(Deserialize)]
struct RoleBody {
    role: String,
}

/// The new role from `?new_role=` (as the original) or a JSON body `{role}`.
fn requested_role(query: &RoleQuery, body: &[u8]) -> Result<Role, AppError> {
    let text = match &query.new_role {
        Some(role) => role.clone(),
        None if !body.is_empty() => {
            serde_json::from_slice::<RoleBody>(body)
                .map_err(|e| AppError::unprocessable(format!("invalid JSON body: {e}")))?
                .role
        }
        None => {
            return Err(AppError::invalid(
                "new_role",
                "give the new role as ?new_role= or a JSON body {\"role\": ...}",
            ));
        }
    };
    text.parse()
        .map_err(|e| AppError::invalid("new_role", format!("role: {e}")))
}

pub async fn change_role(
    state: web::Data<AppState>,
    admin: SuperAdminUser,
    id: web::Path<i64>,
    query: web::Query<RoleQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let role = requested_role(&query, &body)?;
    let user = accounts::change_role(&state, &admin, UserId(*id), role).await?;
    tracing::info!(actor = %admin.id, target = %user.id, role = %role, "changed a role");
    Ok(HttpResponse::Ok().json(user))
}

pub async fn delete_user(
    state: web::Data<AppState>,
    admin: SuperAdminUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    accounts::delete(&state, &admin, UserId(*id)).await?;
    tracing::info!(actor = %admin.id, target = %*id, "deleted an account");
    Ok(HttpResponse::NoContent().finish())
}

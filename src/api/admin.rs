//! /api/admin: accounts, for super admins.

use super::paged_json;
use crate::accounts::{self, RoleChange};
use crate::auth::SuperAdminUser;
use crate::errors::AppError;
use crate::ids::{Timestamp, UserId};
use crate::requests::Page;
use crate::state::AppState;
use crate::taxonomy::Role;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1 to 1000 (default `LIST_DEFAULT_LIMIT`, 1000 unless configured).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0, maximum = 4294967295_i64)]
    offset: Option<i64>,
}

/// The id in `/api/admin/users/{id}/...`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// The account's id.
    id: i64,
}

impl UserPath {
    fn id(&self) -> UserId {
        UserId(self.id)
    }
}

#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "admin",
    operation_id = "list_users",
    summary = "Every account (super admin)",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of accounts", body = Vec<crate::accounts::User>,
            headers(
                ("X-Total-Count" = u64, description = "How many accounts there are"),
                ("Link" = String, description = "While rows remain after this page: `<URL>; rel=\"next\"`, the URL of the next page (same `limit`, the next `offset`)"),
            )),
        (status = 403, description = "Not a super admin", body = crate::errors::ErrorBody),
    )
)]
pub async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: SuperAdminUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let page = Page::parse(query.limit, query.offset, state.config.list_default_limit)?;
    let (users, total) = accounts::list(&state.db, page).await?;
    let limit = query.limit.map(|limit| limit.to_string());
    let kept: Vec<(&str, &str)> = limit.as_deref().map(|l| ("limit", l)).into_iter().collect();
    Ok(paged_json(&req, &state.config, &users, total, page, &kept))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleQuery {
    /// The new role (or send a JSON body `{role}`).
    #[param(value_type = Option<Role>)]
    new_role: Option<String>,
}

#[derive(Deserialize, ToSchema)]
struct RoleBody {
    #[schema(value_type = Role)]
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
    // 400, as the original answered a role outside the three.
    text.parse()
        .map_err(|e| AppError::BadRequest(format!("role: {e}")))
}

/// The account with its new role, and the original's fields about the change.
#[derive(Serialize, ToSchema)]
pub struct RoleChanged {
    id: UserId,
    email: String,
    full_name: Option<String>,
    role: Role,
    created_at: Timestamp,
    /// `User role updated successfully`.
    #[schema(pattern = "^User role updated successfully$")]
    message: &'static str,
    /// The account's id again, as the original named it.
    user_id: UserId,
    previous_role: Role,
    new_role: Role,
}

impl From<RoleChange> for RoleChanged {
    fn from(change: RoleChange) -> Self {
        let RoleChange { user, previous } = change;
        RoleChanged {
            id: user.id,
            user_id: user.id,
            email: user.email,
            full_name: user.full_name,
            role: user.role,
            new_role: user.role,
            previous_role: previous,
            created_at: user.created_at,
            message: "User role updated successfully",
        }
    }
}

#[utoipa::path(
    patch,
    path = "/api/admin/users/{id}/role",
    tag = "admin",
    operation_id = "change_role",
    summary = "Give an account a role (super admin)",
    security(("bearer" = [])),
    params(UserPath, RoleQuery),
    request_body(content = Option<RoleBody>, description = "Unless `?new_role=` is given"),
    responses(
        (status = 200, description = "The account with its new role", body = RoleChanged),
        (status = 400, description = "Not one of the roles, or the last super admin would be demoted", body = crate::errors::ErrorBody),
        (status = 403, description = "Not a super admin, or the caller's own account", body = crate::errors::ErrorBody),
        (status = 404, description = "No such account", body = crate::errors::ErrorBody),
    )
)]
pub async fn change_role(
    state: web::Data<AppState>,
    admin: SuperAdminUser,
    path: web::Path<UserPath>,
    query: web::Query<RoleQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let role = requested_role(&query, &body)?;
    let change = accounts::change_role(&state, &admin, path.id(), role).await?;
    tracing::info!(actor = %admin.id, target = %change.user.id, role = %role, "changed a role");
    Ok(HttpResponse::Ok().json(RoleChanged::from(change)))
}

#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}",
    tag = "admin",
    operation_id = "delete_user",
    summary = "Delete an account and its requests (super admin)",
    security(("bearer" = [])),
    params(UserPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not a super admin, or the caller's own account", body = crate::errors::ErrorBody),
        (status = 404, description = "No such account", body = crate::errors::ErrorBody),
    )
)]
pub async fn delete_user(
    state: web::Data<AppState>,
    admin: SuperAdminUser,
    path: web::Path<UserPath>,
) -> Result<HttpResponse, AppError> {
    accounts::delete(&state, &admin, path.id()).await?;
    tracing::info!(actor = %admin.id, target = %path.id, "deleted an account");
    Ok(HttpResponse::NoContent().finish())
}

/// A one-time password reset link for an account.
#[derive(Serialize, ToSchema)]
pub struct ResetLink {
    /// Opens the page that sets a new password: `{PUBLIC_URL or this host}/password-reset/new?token=...`.
    url: String,
    /// The link stops working then (30 minutes after it was issued), or once used.
    expires_at: Timestamp,
}

#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/reset-link",
    tag = "admin",
    operation_id = "issue_reset_link",
    summary = "A one-time password reset link for an account (super admin)",
    description = "For an owner who forgot the password when no mail is configured: hand the link to them. It \
        works once, for 30 minutes; setting the password ends every session of the account.",
    security(("bearer" = [])),
    params(UserPath),
    responses(
        (status = 200, description = "The link", body = ResetLink),
        (status = 403, description = "Not a super admin", body = crate::errors::ErrorBody),
        (status = 404, description = "No such account", body = crate::errors::ErrorBody),
    )
)]
pub async fn issue_reset_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: SuperAdminUser,
    path: web::Path<UserPath>,
) -> Result<HttpResponse, AppError> {
    let base = crate::links::public_base(&req, &state.config);
    let issued = crate::auth::reset::issue(&state, &admin, path.id(), &base).await?;
    Ok(HttpResponse::Ok().json(ResetLink {
        url: issued.url,
        expires_at: issued.expires_at,
    }))
}

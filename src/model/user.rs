//! An account, as everything above the database sees it.

use crate::ids::{Timestamp, UserId};
use crate::taxonomy::Role;
use serde::Serialize;

/// An account as the API shows it; the password hash never leaves the db layer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub full_name: Option<String>,
    pub role: Role,
    pub created_at: Timestamp,
}

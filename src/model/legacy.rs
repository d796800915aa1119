//! The original system's rows as read, and as they are stored here (`maintenance
//! import-legacy`).

use crate::ids::Timestamp;
use crate::model::Classification;
use crate::taxonomy::{Category, Priority, Role, Status};

/// A timestamp as the original stored it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawTime {
    /// `YYYY-MM-DD HH:MM:SS` from CURRENT_TIMESTAMP (naive UTC), or another text form.
    Text(String),
    /// Seconds since 1970.
    Number(f64),
    Missing,
}

/// A value the original meant as text, as it was stored.
#[derive(Debug, Clone, PartialEq)]
pub enum RawText {
    Missing,
    Text(String),
    /// Stored as a number or a blob (`class`), shown as text.
    Other {
        class: &'static str,
        text: String,
    },
}

/// An account as the original stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyUser {
    pub id: i64,
    pub email: Option<String>,
    pub hashed_password: Option<String>,
    pub full_name: Option<String>,
    pub role: RawText,
    pub created_at: RawTime,
}

/// A request as the original stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyRequest {
    pub id: i64,
    pub user_id: Option<i64>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub status: Option<String>,
    pub location: Option<String>,
    pub contact_info: Option<String>,
    pub image_url: Option<String>,
    pub created_at: RawTime,
    pub updated_at: RawTime,
}

/// A label that was not already ours: which field, what it said, what it became.
pub type LabelChange = (&'static str, String, String);

/// An account ready to be stored here.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportUser {
    pub legacy_id: i64,
    pub email: String,
    pub full_name: Option<String>,
    /// passlib's bcrypt hash, kept as it is (`$2b$…` verifies with the bcrypt crate), or
    /// disabled with a leading `!`.
    pub hashed_password: String,
    pub role: Role,
    pub created_at: Timestamp,
    pub(crate) labels: Vec<LabelChange>,
    pub(crate) notes: Vec<String>,
}

/// A request ready to be stored here.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRequest {
    pub legacy_id: i64,
    /// The owner's id in the original.
    pub legacy_owner: i64,
    pub description: String,
    pub location: Option<String>,
    pub contact_info: Option<String>,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    /// An external (S3) address, kept as it was; no local photo file.
    pub image_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set when the original's labels were placeholders or unknown and the offline
    /// classifier decided; None when both labels came over.
    pub classification: Option<Classification>,
    pub(crate) labels: Vec<LabelChange>,
    pub(crate) notes: Vec<String>,
}

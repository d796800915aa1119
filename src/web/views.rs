//! What the templates show: requests, history and pages, formatted for Korean readers.

use crate::ids::Timestamp;
use crate::requests::{HistoryEntry, MaintenanceRequest};
use crate::taxonomy::{Category, ClassificationStatus, HistoryAction, Priority, Status};
use chrono::FixedOffset;

/// Korea Standard Time, the residents' clock.
pub fn kst(at: Timestamp) -> String {
    const FORMAT: &str = "%Y-%m-%d %H:%M";
    match FixedOffset::east_opt(9 * 3600) {
        Some(offset) => at.0.with_timezone(&offset).format(FORMAT).to_string(),
        None => at.0.format(FORMAT).to_string(),
    }
}

/// A request as pages show it.
pub struct RequestView {
    pub id: i64,
    pub user_id: i64,
    pub description: String,
    pub location: Option<String>,
    pub contact_info: Option<String>,
    pub status: Status,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub image_url: Option<String>,
    created_at: Timestamp,
    classification_status: ClassificationStatus,
}

impl From<MaintenanceRequest> for RequestView {
    fn from(r: MaintenanceRequest) -> RequestView {
        RequestView {
            id: r.id.0,
            user_id: r.user_id.0,
            description: r.description,
            location: r.location,
            contact_info: r.contact_info,
            status: r.status,
            category: r.category,
            priority: r.priority,
            image_url: r.image_url,
            created_at: r.created_at,
            classification_status: r.classification_status,
        }
    }
}

impl RequestView {
    /// Whether the AI refinement is still on its way.
    pub fn refining(&self) -> bool {
        self.classification_status == ClassificationStatus::Pending
    }

    /// The first line of the description, shortened for lists.
    pub fn summary(&self) -> String {
        let line = self.description.lines().next().unwrap_or_default();
        let mut summary: String = line.chars().take(80).collect();
        if line.chars().count() > 80 {
            summary.push('…');
        }
        summary
    }

    pub fn created_kst(&self) -> String {
        kst(self.created_at)
    }

    /// Whether the photo is served here (`/api/requests/{id}/image`); a request imported from
    /// the original may name one still kept on S3, which pages link to instead of embedding
    /// (the content security policy loads images from this site only).
    pub fn photo_is_local(&self) -> bool {
        self.image_url
            .as_deref()
            .is_some_and(|url| url.starts_with('/'))
    }
}

/// One line of a request's history.
pub struct HistoryLine {
    pub when: String,
    pub what: String,
}

fn label(field: Option<&str>, value: Option<&str>) -> String {
    let Some(value) = value else {
        return "없음".into();
    };
    let korean = match field {
        Some("status") => value.parse::<Status>().map(Status::korean).ok(),
        Some("category") => value.parse::<Category>().map(Category::korean).ok(),
        Some("priority") => value.parse::<Priority>().map(Priority::korean).ok(),
        _ => None,
    };
    korean.unwrap_or(value).to_owned()
}

impl From<&HistoryEntry> for HistoryLine {
    fn from(entry: &HistoryEntry) -> HistoryLine {
        let field = entry.field.as_deref();
        let change = format!(
            "{} → {}",
            label(field, entry.old_value.as_deref()),
            label(field, entry.new_value.as_deref())
        );
        let who = if entry.actor_id.is_some() {
            "관리자"
        } else {
            "AI"
        };
        let what = match (entry.action, field) {
            (HistoryAction::Created, _) => "접수되었습니다".to_owned(),
            (HistoryAction::StatusChanged, _) => format!("상태 변경: {change}"),
            (HistoryAction::Reclassified, Some("category")) => {
                format!("분류 변경({who}): {change}")
            }
            (HistoryAction::Reclassified, _) => format!("긴급도 변경({who}): {change}"),
            (HistoryAction::Deleted, _) => "삭제되었습니다".to_owned(),
        };
        HistoryLine {
            when: kst(entry.created_at),
            what,
        }
    }
}

/// Page links for a list.
pub struct Pager {
    pub page: u32,
    pub pages: u32,
    pub total: u64,
    pub prev: Option<u32>,
    pub next: Option<u32>,
}

/// Lists show this many rows a page.
pub const PAGE_SIZE: u32 = 20;

impl Pager {
    pub fn new(page: u32, total: u64) -> Pager {
        let pages = (total.div_ceil(u64::from(PAGE_SIZE)) as u32).max(1);
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| page - 1),
            next: (page < pages).then(|| page + 1),
        }
    }

    /// The list window for page `page` (1-based, clamped to at least 1).
    pub fn window(page: u32) -> crate::requests::Page {
        crate::requests::Page {
            limit: PAGE_SIZE,
            offset: (page.max(1) - 1).saturating_mul(PAGE_SIZE),
        }
    }
}

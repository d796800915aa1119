//! What the templates show: requests, history and pages, in the visitor's language.

use super::i18n::Lang;
use crate::ids::Timestamp;
use crate::requests::{HistoryEntry, MaintenanceRequest};
use crate::taxonomy::{Category, ClassificationStatus, HistoryAction, Priority, Status};

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

    /// When it was submitted, on the residents' clock (Korea Standard Time).
    pub fn created(&self, lang: &Lang) -> String {
        lang.datetime(self.created_at)
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

/// A value a history entry records, as the page's language names it.
fn label(lang: Lang, field: Option<&str>, value: Option<&str>) -> String {
    let Some(value) = value else {
        return lang.t("history-none");
    };
    let label = match field {
        Some("status") => value.parse::<Status>().map(|v| lang.label(v)).ok(),
        Some("category") => value.parse::<Category>().map(|v| lang.label(v)).ok(),
        Some("priority") => value.parse::<Priority>().map(|v| lang.label(v)).ok(),
        _ => None,
    };
    label.unwrap_or_else(|| value.to_owned())
}

impl HistoryLine {
    pub fn new(entry: &HistoryEntry, lang: Lang) -> HistoryLine {
        let field = entry.field.as_deref();
        let old = label(lang, field, entry.old_value.as_deref());
        let new = label(lang, field, entry.new_value.as_deref());
        let by_staff = entry.actor_id.is_some();
        let what = match (entry.action, field) {
            (HistoryAction::Created, _) => lang.t("history-created"),
            (HistoryAction::StatusChanged, _) => {
                lang.t2("history-status-changed", "old", old, "new", new)
            }
            (HistoryAction::Reclassified, Some("category")) if by_staff => {
                lang.t2("history-category-by-staff", "old", old, "new", new)
            }
            (HistoryAction::Reclassified, Some("category")) => {
                lang.t2("history-category-by-ai", "old", old, "new", new)
            }
            (HistoryAction::Reclassified, _) if by_staff => {
                lang.t2("history-priority-by-staff", "old", old, "new", new)
            }
            (HistoryAction::Reclassified, _) => {
                lang.t2("history-priority-by-ai", "old", old, "new", new)
            }
            (HistoryAction::Deleted, _) => lang.t("history-deleted"),
        };
        HistoryLine {
            when: lang.datetime(entry.created_at),
            what,
        }
    }
}

/// Links to the pages on either side of a page of requests, by cursor, and how many match.
pub struct ListPager {
    pub total: crate::requests::Total,
    /// The previous page's `after` cursor and the next page's `before` cursor.
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl ListPager {
    pub fn new(page: &crate::requests::RequestPage) -> ListPager {
        ListPager {
            total: page.total,
            prev: page.prev.map(|c| c.to_string()),
            next: page.next.map(|c| c.to_string()),
        }
    }

    /// The lower bound of an inexact total, grouped by thousands: "10,000".
    pub fn at_least(&self) -> String {
        let digits = self.total.count.to_string();
        let mut grouped = String::new();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        grouped
    }

    /// Where a page of a request list begins: at a cursor (`before`, `after`), or at an
    /// older `page=N` link's offset.
    pub fn window(
        page: Option<u32>,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<crate::requests::Window, crate::errors::AppError> {
        use crate::requests::{Cursor, Seek, Window};
        let seek = match (
            before.filter(|c| !c.is_empty()),
            after.filter(|c| !c.is_empty()),
        ) {
            (Some(cursor), _) => Seek::Before(Cursor::parse("before", cursor)?),
            (None, Some(cursor)) => Seek::After(Cursor::parse("after", cursor)?),
            (None, None) => return Ok(Pager::window(page.unwrap_or(1)).into()),
        };
        Ok(Window {
            limit: PAGE_SIZE,
            seek,
        })
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

//! What a list shows: whose requests, which ones, which page; and the dashboard's counts.

use crate::errors::AppError;
use crate::ids::{RequestId, Timestamp, UserId};
use crate::model::{MaintenanceRequest, User};
use crate::taxonomy::{Category, Priority, Status};
use serde::Serialize;
use std::collections::BTreeMap;

/// Which requests a user may see: staff see all, residents their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    OwnedBy(UserId),
}

impl Scope {
    pub fn of(user: &User) -> Scope {
        if user.role.is_staff() {
            Scope::All
        } else {
            Scope::OwnedBy(user.id)
        }
    }

    /// The owner to restrict a query to, if any.
    pub fn owner(self) -> Option<UserId> {
        match self {
            Scope::All => None,
            Scope::OwnedBy(id) => Some(id),
        }
    }
}

/// A window into a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

impl Page {
    /// The most rows a client may ask one page for, and the default `LIST_DEFAULT_LIMIT`.
    pub const MAX_LIMIT: u32 = 1000;

    /// The highest `LIST_DEFAULT_LIMIT`: an installation still serving a client that never
    /// pages (the original system's frontend) may raise the default page past `MAX_LIMIT`.
    pub const MAX_DEFAULT_LIMIT: u32 = 100_000;

    /// The page a client asked for; `default_limit` rows when it sent no `limit`.
    pub fn parse(
        limit: Option<i64>,
        offset: Option<i64>,
        default_limit: u32,
    ) -> Result<Page, AppError> {
        let Some(limit) = limit else {
            return Ok(Page {
                limit: default_limit,
                offset: Page::parse_offset(offset)?,
            });
        };
        if !(1..=i64::from(Page::MAX_LIMIT)).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("limit must be between 1 and {}", Page::MAX_LIMIT),
            ));
        }
        Ok(Page {
            limit: limit as u32,
            offset: Page::parse_offset(offset)?,
        })
    }

    fn parse_offset(offset: Option<i64>) -> Result<u32, AppError> {
        u32::try_from(offset.unwrap_or(0))
            .map_err(|_| AppError::invalid("offset", "offset must be between 0 and 4294967295"))
    }
}

/// A place in a list of requests: just after (or before) this row. The row need not exist
/// any more: the list goes on from where it was. `part` is the row's part of the list's order
/// (the dashboard lists urgent work first, in parts; a plain list has the one part, 0).
///
/// Written `{part}.{created_at in Unix microseconds}.{id}`, e.g. `0.1764547200000000.42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub part: u8,
    pub created_at: Timestamp,
    pub id: RequestId,
}

impl Cursor {
    /// The cursor just at `request`, in part `part` of its list.
    pub fn at(part: u8, request: &MaintenanceRequest) -> Cursor {
        Cursor {
            part,
            created_at: request.created_at,
            id: request.id,
        }
    }

    /// The cursor a client sent in `field` (`before` or `after`).
    pub fn parse(field: &'static str, text: &str) -> Result<Cursor, AppError> {
        let invalid = || {
            AppError::invalid(
                field,
                format!("{field} must be a cursor from a list's Link header"),
            )
        };
        let mut parts = text.splitn(3, '.');
        let (Some(part), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !(digits(part) && digits(micros) && digits(id)) {
            return Err(invalid());
        }
        let part: u8 = part.parse().map_err(|_| invalid())?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let id: i64 = id.parse().map_err(|_| invalid())?;
        let created_at = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        Ok(Cursor {
            part,
            created_at: Timestamp(created_at),
            id: RequestId(id),
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.part,
            self.created_at.0.timestamp_micros(),
            self.id.0
        )
    }
}

/// Where a page of a request list begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seek {
    /// After skipping this many rows (each page costs more the deeper it is).
    Offset(u32),
    /// The rows after this cursor in the list's order (older ones): the "next" page.
    Before(Cursor),
    /// The rows just before this cursor in the list's order (newer ones): the "previous" page.
    After(Cursor),
}

/// A page of a request list: how many rows, from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u32,
    pub seek: Seek,
}

impl Window {
    /// The first `limit` rows.
    pub fn first(limit: u32) -> Window {
        Window {
            limit,
            seek: Seek::Offset(0),
        }
    }
}

impl From<Page> for Window {
    fn from(page: Page) -> Window {
        Window {
            limit: page.limit,
            seek: Seek::Offset(page.offset),
        }
    }
}

/// How many rows match a list: exact, or (for a text search past [`Total::SEARCH_CAP`]
/// matches) at least `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub count: u64,
    pub exact: bool,
}

impl Total {
    /// A text search counts this many matches at most.
    pub const SEARCH_CAP: u64 = 10_000;

    pub fn exact(count: u64) -> Total {
        Total { count, exact: true }
    }
}

/// One page of a request list, with the cursors of the pages on either side of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPage {
    pub rows: Vec<MaintenanceRequest>,
    pub total: Total,
    /// Where the next page (older rows) begins, when there are more rows.
    pub next: Option<Cursor>,
    /// Where the previous page (newer rows) ends, when this is not the first page.
    pub prev: Option<Cursor>,
}

/// Which requests a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub owner: Option<UserId>,
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    /// Text that the description or the location must contain.
    pub text: Option<String>,
}

/// Counts for the dashboard; every known value is present.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Stats {
    pub total: u64,
    pub by_status: BTreeMap<Status, u64>,
    pub by_category: BTreeMap<Category, u64>,
    pub by_priority: BTreeMap<Priority, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_what_they_write_and_refuse_anything_else() {
        let cursor = Cursor {
            part: 2,
            created_at: Timestamp(
                chrono::DateTime::from_timestamp_micros(1_764_547_200_123_456).unwrap(),
            ),
            id: RequestId(42),
        };
        assert_eq!(cursor.to_string(), "2.1764547200123456.42");
        assert_eq!(
            Cursor::parse("before", &cursor.to_string()).unwrap(),
            cursor
        );
        for bad in [
            "",
            "1",
            "1.2",
            "a.1.2",
            "1.2.x",
            "256.1.2",
            "1.-2.3",
            "1.2.3.4",
            "1. 2.3",
            "0.99999999999999999999.1",
            "0.1.99999999999999999999",
        ] {
            assert!(
                Cursor::parse("before", bad).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(
            Page::parse(None, None, 1000).unwrap(),
            Page {
                limit: 1000,
                offset: 0
            }
        );
        assert_eq!(Page::parse(None, None, 20).unwrap().limit, 20);
        assert!(Page::parse(Some(0), None, 1000).is_err());
        assert!(Page::parse(Some(1001), None, 1000).is_err());
        assert_eq!(Page::parse(None, None, 50_000).unwrap().limit, 50_000);
        assert!(Page::parse(Some(50_000), None, 50_000).is_err());
        assert!(Page::parse(Some(200), Some(-1), 1000).is_err());
        assert_eq!(
            Page::parse(Some(1000), Some(7), 20).unwrap(),
            Page {
                limit: 1000,
                offset: 7
            }
        );
    }
}

//! What a list shows: whose requests, which ones, which page; and the dashboard's counts.

use crate::errors::AppError;
use crate::ids::UserId;
use crate::model::User;
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

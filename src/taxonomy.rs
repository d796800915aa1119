//! The fixed vocabularies of the product: category, priority, status and role.
//!
//! Each enum has exactly one text form (lower snake case). It is used by serde
//! (JSON), by SQL (TEXT columns with CHECK constraints), by query parameters and
//! by Display, so no raw string stands in for one of these values elsewhere.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A value outside an enum's allowed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not one of: {allowed}")]
pub struct UnknownValue {
    pub value: String,
    pub allowed: &'static str,
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal / $korean:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The API and database text form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The label shown on Korean pages.
            pub fn korean(self) -> &'static str {
                match self { $($name::$variant => $korean),+ }
            }

            fn allowed() -> &'static str {
                concat!($($text, " "),+).trim_end()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { value: s.to_owned(), allowed: $name::allowed() }),
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

text_enum!(
    /// What kind of building system failed (see the classification contract).
    Category {
        Electrical => "electrical" / "전기",
        Plumbing => "plumbing" / "배관",
        Hvac => "hvac" / "냉난방",
        Structural => "structural" / "구조",
        Other => "other" / "기타",
    }
);

text_enum!(
    /// How soon a request needs attention.
    Priority {
        High => "high" / "높음",
        Medium => "medium" / "보통",
        Low => "low" / "낮음",
    }
);

text_enum!(
    /// Where a request is in its life.
    Status {
        Pending => "pending" / "대기중",
        InProgress => "in_progress" / "진행중",
        Completed => "completed" / "완료",
    }
);

text_enum!(
    /// What an account may do.
    Role {
        User => "user" / "입주민",
        Admin => "admin" / "관리자",
        SuperAdmin => "super_admin" / "최고 관리자",
    }
);

text_enum!(
    /// What a history entry records.
    HistoryAction {
        Created => "created" / "접수",
        StatusChanged => "status_changed" / "상태 변경",
        Reclassified => "reclassified" / "분류 변경",
        Deleted => "deleted" / "삭제",
    }
);

text_enum!(
    /// Which engine decided a request's category and priority.
    ClassificationMethod {
        Keyword => "keyword" / "자동 분류",
        Llm => "llm" / "AI 분류",
        Manual => "manual" / "관리자 지정",
    }
);

text_enum!(
    /// Whether a request's classification is final.
    ClassificationStatus {
        Pending => "pending" / "분류 중",
        Done => "done" / "분류 완료",
        Failed => "failed" / "분류 실패",
    }
);

text_enum!(
    /// Where a classification job is.
    JobState {
        Queued => "queued" / "대기",
        Running => "running" / "진행",
        Done => "done" / "완료",
        Failed => "failed" / "실패",
    }
);

impl Role {
    /// Admins and super admins see and manage every request.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::SuperAdmin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_text_form() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>(), Ok(*c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>(), Ok(*p));
        }
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    #[test]
    fn unknown_text_is_refused_with_the_allowed_values() {
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert_eq!(err.to_string(), "'urgent' is not one of: high medium low");
        assert!("processing".parse::<Category>().is_err());
        assert!("Pending".parse::<Status>().is_err());
    }

    #[test]
    fn only_admins_are_staff() {
        assert!(!Role::User.is_staff());
        assert!(Role::Admin.is_staff());
        assert!(Role::SuperAdmin.is_staff());
    }
}

//! Typed identifiers and timestamps, so two kinds of id cannot be swapped.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }
        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }
    };
}

id_type!(
    /// The id of an account.
    UserId
);
id_type!(
    /// The id of a maintenance request.
    RequestId
);

/// A moment in UTC, written as RFC 3339 with microseconds (`2026-11-27T07:35:35.123456Z`).
///
/// The fixed-width text form sorts in time order, so SQLite indexes on it order correctly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

/// The length of the form every timestamp is stored and sent in.
const CANONICAL_LEN: usize = "2026-11-27T07:35:35.123456Z".len();

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now())
    }

    pub fn to_rfc3339(self) -> String {
        match self.canonical() {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => self.0.to_rfc3339_opts(SecondsFormat::Micros, true),
        }
    }

    /// The text form, written digit by digit: every list row carries three timestamps, and
    /// chrono's general formatter was a visible part of a list's cost. `None` outside years
    /// 0 to 9999, which chrono writes with a sign.
    fn canonical(self) -> Option<[u8; CANONICAL_LEN]> {
        use chrono::{Datelike, Timelike};
        let year = u32::try_from(self.0.year()).ok().filter(|y| *y <= 9999)?;
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, self.0.month());
        put(8, 2, self.0.day());
        put(11, 2, self.0.hour());
        put(14, 2, self.0.minute());
        // A leap second is kept in the fraction by chrono; the general form writes it as 60.
        let nanos = self.0.nanosecond();
        put(17, 2, self.0.second() + nanos / 1_000_000_000);
        put(20, 6, (nanos % 1_000_000_000) / 1_000);
        Some(out)
    }

    /// Reads the form [`Timestamp::canonical`] writes, without chrono's general parser;
    /// `None` for any other text.
    fn parse_canonical(text: &[u8]) -> Option<Timestamp> {
        use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
        if text.len() != CANONICAL_LEN || text[CANONICAL_LEN - 1] != b'Z' {
            return None;
        }
        for (at, separator) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
        ] {
            if text[at] != separator {
                return None;
            }
        }
        let number = |at: usize, width: usize| -> Option<u32> {
            text[at..at + width].iter().try_fold(0u32, |n, &b| {
                b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
            })
        };
        let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 2)?, number(8, 2)?)?;
        let time = NaiveTime::from_hms_micro_opt(
            number(11, 2)?,
            number(14, 2)?,
            number(17, 2)?,
            number(20, 6)?,
        )?;
        Some(Timestamp(NaiveDateTime::new(date, time).and_utc()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.canonical() {
            // Digits and ASCII punctuation only.
            Some(bytes) => {
                serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default())
            }
            None => serializer.serialize_str(&self.to_rfc3339()),
        }
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples(["2026-11-27T07:35:35.123456Z"])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_rfc3339()))
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        if let Some(at) = Timestamp::parse_canonical(text.as_bytes()) {
            return Ok(at);
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_text_in_time_order() {
        let a = Timestamp(
            DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .unwrap()
                .to_utc(),
        );
        let b = Timestamp(
            DateTime::parse_from_rfc3339("2026-01-02T03:04:05.5Z")
                .unwrap()
                .to_utc(),
        );
        assert_eq!(a.to_rfc3339(), "2026-01-02T03:04:05.000000Z");
        assert!(a.to_rfc3339() < b.to_rfc3339());
    }

    /// The quick reader and writer agree with chrono's general ones wherever they apply,
    /// and leave the rest to them.
    #[test]
    fn the_stored_form_reads_and_writes_as_chrono_does() {
        let general = |t: Timestamp| t.0.to_rfc3339_opts(SecondsFormat::Micros, true);
        let read = |text: &str| Timestamp::column_result(ValueRef::Text(text.as_bytes()));
        for text in [
            "2026-11-27T07:35:35.123456Z",
            "0001-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
            "2024-02-29T12:00:00.000001Z",
        ] {
            let at = read(text).unwrap();
            assert_eq!(at.to_rfc3339(), text);
            assert_eq!(general(at), text);
            assert_eq!(serde_json::to_string(&at).unwrap(), format!("\"{text}\""));
            assert_eq!(Some(at), Timestamp::parse_canonical(text.as_bytes()));
            assert_eq!(
                at.0,
                DateTime::parse_from_rfc3339(text).unwrap().to_utc(),
                "{text}"
            );
        }
        // Not the stored form: chrono's parser decides.
        for text in [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.5+09:00",
            "2026-01-02 03:04:05.000000Z",
        ] {
            assert!(Timestamp::parse_canonical(text.as_bytes()).is_none());
            assert_eq!(
                read(text).unwrap().0,
                DateTime::parse_from_rfc3339(text).unwrap().to_utc()
            );
        }
        for bad in [
            "2026-02-30T00:00:00.000000Z",
            "2026-01-02T24:00:00.000000Z",
            "2026-01-02T03:04:05.00000aZ",
            "+2026-01-02T03:04:05.00000Z",
        ] {
            assert!(
                Timestamp::parse_canonical(bad.as_bytes()).is_none(),
                "{bad}"
            );
            assert!(read(bad).is_err(), "{bad}");
        }
        // A leap second, and years chrono writes with a sign.
        let leap = Timestamp(
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_micro_opt(23, 59, 59, 1_500_000)
                .unwrap()
                .and_utc(),
        );
        assert_eq!(leap.to_rfc3339(), general(leap));
        let far = Timestamp(
            chrono::NaiveDate::from_ymd_opt(12026, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc(),
        );
        assert_eq!(far.to_rfc3339(), general(far));
        assert_eq!(
            serde_json::to_string(&far).unwrap(),
            format!("\"{}\"", general(far))
        );
    }
}

//! Reading `multipart/form-data` bodies (the login form, photo uploads) safely.
//!
//! actix-multipart 0.7 indexes past the end of a line when the boundary is shorter than four
//! bytes and a line of the body is shorter than the boundary's markers, which panics the
//! worker on a 143-byte unauthenticated request. No client uses such a boundary (browsers,
//! curl and reqwest send 16 or more characters), so one is refused before the parser runs.

use crate::errors::AppError;
use actix_multipart::Multipart;
use actix_web::http::header::{self, HeaderMap};
use actix_web::mime;
use actix_web::web::Bytes;
use futures_util::Stream;

/// RFC 2046 allows boundaries up to 70 characters; below 4 the parser is unsafe (see above).
const BOUNDARY_LEN: std::ops::RangeInclusive<usize> = 4..=70;

/// The multipart parser over `stream`, once the `Content-Type` names a usable boundary.
pub fn parser<S>(headers: &HeaderMap, stream: S) -> Result<Multipart, AppError>
where
    S: Stream<Item = Result<Bytes, actix_web::error::PayloadError>> + 'static,
{
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .and_then(|m| m.get_param(mime::BOUNDARY).map(|b| b.as_str().len()));
    match boundary {
        Some(len) if BOUNDARY_LEN.contains(&len) => Ok(Multipart::new(headers, stream)),
        Some(_) => Err(AppError::unprocessable(
            "the multipart boundary must be 4 to 70 characters long",
        )),
        // Without a boundary the parser itself answers with its own clear error.
        None => Ok(Multipart::new(headers, stream)),
    }
}

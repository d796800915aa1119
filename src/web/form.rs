//! Page forms: `application/x-www-form-urlencoded` bodies read strictly.
//!
//! actix's `Form` decodes percent-escapes lossily, so `%FF` would be stored as U+FFFD; a page
//! refuses such a form as the JSON API refuses the same bytes.

use crate::errors::AppError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use std::ops::Deref;

/// A page form's fields, each valid UTF-8 once decoded.
pub struct PageForm<T>(pub T);

impl<T> PageForm<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for PageForm<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for PageForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        // The body limit and its 413 are the Bytes extractor's (`PayloadConfig`).
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_form {
                return Err(AppError::UnsupportedMediaType(
                    "a form must be sent as application/x-www-form-urlencoded".into(),
                )
                .into());
            }
            let body = body.await?;
            parse(&body).map(PageForm).map_err(Into::into)
        })
    }
}

/// The fields of an urlencoded `body`, refused when any name or value is not UTF-8 text.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let text_only = body.split(|b| *b == b'&').all(|pair| {
        let spaced: Vec<u8> = pair
            .iter()
            .map(|b| if *b == b'+' { b' ' } else { *b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .is_ok()
    });
    if !text_only {
        return Err(AppError::unprocessable("form fields must be UTF-8 text"));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|e| AppError::unprocessable(format!("invalid form: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Name {
        full_name: String,
    }

    #[test]
    fn fields_must_decode_to_utf8() {
        let name: Name = parse(b"full_name=%EA%B9%80+%EC%B2%A0%EC%88%98").unwrap();
        assert_eq!(name.full_name, "김 철수");
        for bad in [
            &b"full_name=%ff%fe"[..],
            b"full_name=\xff\xfe",
            b"%ff=x&full_name=a",
        ] {
            assert!(parse::<Name>(bad).is_err(), "{bad:?}");
        }
        assert!(parse::<Name>(b"other=1").is_err(), "a missing field");
    }
}

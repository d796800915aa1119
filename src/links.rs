//! Absolute links the API hands out: the base URL clients reach the server at, and photo
//! links an `<img>` can show.
//!
//! A photo stored here is served at `/api/requests/{id}/image` to its owner and staff (token
//! or page session), which an `<img>` in another application cannot present. So `image_url`
//! in API answers and live events is that route as an absolute URL with a short-lived
//! signature: `…/api/requests/{id}/image?exp=<Unix seconds>&sig=<hex HMAC-SHA256 of
//! "{id}:{exp}">`, keyed by a key derived from the server secret for this purpose only. The
//! database and the event log keep the unsigned path; links are signed as they are sent, so
//! an event replayed days later carries a link that works.

use crate::config::{Config, Secret};
use crate::errors::AppError;
use crate::ids::RequestId;
use crate::model::{MaintenanceRequest, StoredEvent};
use actix_web::HttpRequest;
use aws_lc_rs::hmac;
use bytestring::ByteString;

/// The scheme, host and any path prefix of links to this server: `PUBLIC_URL`, or else the
/// scheme and host the request was sent to. `X-Forwarded-Proto`/`-Host` and `Forwarded`
/// count only when a proxy in `TRUSTED_PROXIES` sent the request; from anyone else they are
/// the client's own claims, and only its `Host` header is read.
/// Only a scheme of ours and a well-formed host get in: what these headers say ends up inside
/// `Link` and `image_url`. Mailed links never come from here: they need `PUBLIC_URL`.
pub fn public_base(req: &HttpRequest, config: &Config) -> String {
    if let Some(url) = &config.public_url {
        return url.clone();
    }
    let proxied = req.peer_addr().is_some_and(|peer| {
        config
            .trusted_proxies
            .contains(crate::client_address::canonical(peer.ip()))
    });
    let info = req.connection_info();
    let scheme = if proxied && info.scheme().eq_ignore_ascii_case("https") {
        "https"
    } else {
        "http"
    };
    let host_header = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let forwarded = proxied.then(|| info.host());
    let host = [forwarded, host_header]
        .into_iter()
        .flatten()
        .find(|host| is_host(host))
        .map_or_else(|| req.app_config().host().to_owned(), str::to_owned);
    format!("{scheme}://{host}")
}

/// A host name or address with an optional port: letters, digits, `.-_:` and the brackets
/// of an IPv6 literal; nothing that could end a URL or a `Link` value.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
}

pub use crate::model::photo_path;

/// Makes and checks signed photo links.
#[derive(Clone)]
pub struct PhotoLinks {
    key: hmac::Key,
    lifetime_secs: i64,
}

impl PhotoLinks {
    pub fn new(secret: &Secret, lifetime_minutes: i64) -> PhotoLinks {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
        let derived = hmac::sign(&root, b"maintenance photo link key v1");
        PhotoLinks {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            lifetime_secs: lifetime_minutes.max(1) * 60,
        }
    }

    /// When links issued at `now` expire: the lifetime from now, rounded down to a quarter of
    /// it. Links issued close together are then the same URL (a browser keeps the photo in
    /// its cache), and each is valid for more than three quarters of the lifetime, never more.
    pub fn expiry(&self, now: i64) -> i64 {
        let step = (self.lifetime_secs / 4).max(1);
        (now + self.lifetime_secs).div_euclid(step) * step
    }

    fn message(id: RequestId, exp: i64) -> String {
        format!("{id}:{exp}")
    }

    /// The signed absolute URL of request `id`'s photo, valid until `exp`.
    pub fn url(&self, base: &str, id: RequestId, exp: i64) -> String {
        let tag = hmac::sign(&self.key, Self::message(id, exp).as_bytes());
        format!(
            "{base}{}?exp={exp}&sig={}",
            photo_path(id),
            hex::encode(tag)
        )
    }

    /// Signs the links of one answer (or one socket frame) at `now`, on `base`.
    pub fn signer<'a>(&'a self, base: &'a str, now: i64) -> Signer<'a> {
        Signer {
            links: self,
            base,
            exp: self.expiry(now),
        }
    }

    /// Checks a link's `exp` and `sig` for request `id` at `now` (constant-time); returns
    /// its expiry. A tampered or malformed link and an expired one are 403s.
    pub fn verify(
        &self,
        id: RequestId,
        exp: Option<&str>,
        sig: Option<&str>,
        now: i64,
    ) -> Result<i64, AppError> {
        let invalid = || {
            AppError::Forbidden(
                "invalid photo link: fetch the request again for a new image_url".into(),
            )
        };
        // Only the form `url` writes: plain digits, no sign or leading zero.
        let exp: i64 = exp
            .filter(|e| e.bytes().all(|b| b.is_ascii_digit()) && !e.starts_with('0'))
            .and_then(|e| e.parse().ok())
            .ok_or_else(invalid)?;
        let sig = sig.and_then(|s| hex::decode(s).ok()).ok_or_else(invalid)?;
        hmac::verify(&self.key, Self::message(id, exp).as_bytes(), &sig).map_err(|_| invalid())?;
        // No link this server issues outlives its lifetime, whatever key signed it: a key
        // that leaked cannot mint links that never expire.
        if exp > now + self.lifetime_secs {
            return Err(invalid());
        }
        if exp <= now {
            return Err(AppError::Forbidden(
                "the photo link has expired: fetch the request again for a new image_url".into(),
            ));
        }
        Ok(exp)
    }
}

/// Signed photo links sharing one base and one expiry.
pub struct Signer<'a> {
    links: &'a PhotoLinks,
    base: &'a str,
    exp: i64,
}

impl Signer<'_> {
    /// The signed URL of request `id`'s photo.
    pub fn url(&self, id: RequestId) -> String {
        self.links.url(self.base, id, self.exp)
    }

    /// Gives a request whose photo is stored here its signed URL; an external URL (a photo
    /// imported from the original system) stays as stored.
    pub fn sign(&self, request: &mut MaintenanceRequest) {
        if request.local_photo {
            request.image_url = Some(self.url(request.id));
        }
    }

    /// A live event's frame with its photo link, if any, signed.
    pub fn frame(&self, event: &StoredEvent) -> ByteString {
        event.frame_with(|id| self.url(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(secret: &str, minutes: i64) -> PhotoLinks {
        PhotoLinks::new(&Secret::new(secret), minutes)
    }

    fn parts(url: &str) -> (String, String) {
        let query = url.split_once('?').unwrap().1;
        let (exp, sig) = query.split_once('&').unwrap();
        (
            exp.strip_prefix("exp=").unwrap().to_owned(),
            sig.strip_prefix("sig=").unwrap().to_owned(),
        )
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_link_is_valid_for_its_request_until_it_expires() {
        let k = links("0123456789abcdef0123456789abcdef", 60);
        let url = k.signer("https://m.example", NOW).url(RequestId(7));
        assert!(
            url.starts_with("https://m.example/api/requests/7/image?exp="),
            "{url}"
        );
        let (exp, sig) = parts(&url);
        let exp_at: i64 = exp.parse().unwrap();
        assert!(
            exp_at > NOW + 45 * 60 && exp_at <= NOW + 60 * 60,
            "{exp_at}"
        );
        let check =
            |id, exp: &str, sig: &str, now| k.verify(RequestId(id), Some(exp), Some(sig), now);
        assert_eq!(check(7, &exp, &sig, NOW).unwrap(), exp_at);
        assert_eq!(
            check(7, &exp, &sig.to_uppercase(), exp_at - 1).unwrap(),
            exp_at
        );
        assert!(check(7, &exp, &sig, exp_at).is_err(), "expired");
        assert!(check(8, &exp, &sig, NOW).is_err(), "another request");
        assert!(
            check(7, &(exp_at + 60).to_string(), &sig, NOW).is_err(),
            "a later exp"
        );
        assert!(
            check(7, &exp, &sig[..62], NOW).is_err(),
            "a shortened signature"
        );
        assert!(check(7, &exp, "zz", NOW).is_err());
        assert!(check(7, &format!("+{exp}"), &sig, NOW).is_err(), "a sign");
        assert!(
            check(7, &format!("0{exp}"), &sig, NOW).is_err(),
            "a leading zero"
        );
        let far = NOW + 61 * 60;
        let far_url = k.url("https://m.example", RequestId(7), far);
        let (far_exp, far_sig) = parts(&far_url);
        assert!(
            check(7, &far_exp, &far_sig, NOW).is_err(),
            "validly signed, but longer than any link is issued for"
        );
        assert!(check(7, &far_exp, &far_sig, far - 3600).is_ok());
        assert!(check(7, "soon", &sig, NOW).is_err());
        assert!(k.verify(RequestId(7), Some(&exp), None, NOW).is_err());
        assert!(k.verify(RequestId(7), None, Some(&sig), NOW).is_err());
        let other = links("another-key-another-key-another!", 60);
        assert!(
            other
                .verify(RequestId(7), Some(&exp), Some(&sig), NOW)
                .is_err()
        );
    }

    #[test]
    fn only_well_formed_hosts_make_a_base() {
        assert!(is_host("maint.example.com:8443"));
        assert!(is_host("[::1]:8000"));
        assert!(!is_host("a>; rel=\"prev\", <https://evil.example/x"));
        assert!(!is_host("evil.example/x"));
        assert!(!is_host(""));
    }

    #[test]
    fn links_issued_close_together_are_the_same_url() {
        let k = links("0123456789abcdef0123456789abcdef", 60);
        let start = k.expiry(0);
        let same = (0..15 * 60).filter(|t| k.expiry(*t) == start).count();
        assert_eq!(same, 15 * 60, "one URL per quarter of the lifetime");
        assert_eq!(k.expiry(15 * 60), start + 15 * 60);
        let tiny = links("0123456789abcdef0123456789abcdef", 1);
        for now in NOW..NOW + 120 {
            let left = tiny.expiry(now) - now;
            assert!(left > 45 && left <= 60, "{left}");
        }
    }
}

//! Access tokens: HS256 JWTs whose subject is the user id and whose `sid` names the
//! server-side session they belong to (see [`crate::auth::sessions`]).

use crate::config::Secret;
use crate::ids::UserId;
use aws_lc_rs::hmac;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    iat: i64,
    exp: i64,
}

/// What a valid token says: whose it is, which session, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub user: UserId,
    pub session: String,
    pub expires_at: i64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(String);

/// Issues and verifies tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Signs CSRF tokens; derived from the secret so it differs from the token key.
    csrf: aws_lc_rs::hmac::Key,
    lifetime_secs: i64,
}

impl TokenKeys {
    pub fn new(secret: &Secret, lifetime_minutes: i64) -> TokenKeys {
        let bytes = secret.expose().as_bytes();
        let root = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        let csrf_key = hmac::sign(&root, b"maintenance csrf key v1");
        TokenKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            csrf: hmac::Key::new(hmac::HMAC_SHA256, csrf_key.as_ref()),
            lifetime_secs: lifetime_minutes * 60,
        }
    }

    /// The CSRF token for forms of the session (or pre-session nonce) `binding`: only this
    /// server can make it, so a cookie planted by another site is worth nothing without it.
    pub fn csrf_token(&self, binding: &str) -> String {
        hex::encode(hmac::sign(&self.csrf, binding.as_bytes()))
    }

    /// How long a new token is valid, in seconds.
    pub fn lifetime_secs(&self) -> i64 {
        self.lifetime_secs
    }

    /// A signed token for `user`'s session `session`, valid until `expires_at` (Unix seconds).
    pub fn issue(
        &self,
        user: UserId,
        session: &str,
        expires_at: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_owned(),
            iat: chrono::Utc::now().timestamp(),
            exp: expires_at,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// What a token says, if it is signed by our key with HS256 and not expired.
    /// Whether its session still exists is for the caller to check.
    pub fn verify(&self, token: &str) -> Result<TokenClaims, InvalidToken> {
        // Only HS256: tokens with alg "none" or any other algorithm are refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        validation.leeway = 5;
        let data = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| InvalidToken(e.to_string()))?;
        let user = data
            .claims
            .sub
            .parse()
            .map(UserId)
            .map_err(|_| InvalidToken("subject is not a user id".into()))?;
        Ok(TokenClaims {
            user,
            session: data.claims.sid,
            expires_at: data.claims.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&Secret::new(secret), 30)
    }

    fn in_an_hour() -> i64 {
        chrono::Utc::now().timestamp() + 3600
    }

    #[test]
    fn a_token_names_the_user_and_session_it_was_issued_for() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let token = k.issue(UserId(42), "s1", in_an_hour()).unwrap();
        let claims = k.verify(&token).unwrap();
        assert_eq!(claims.user, UserId(42));
        assert_eq!(claims.session, "s1");
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let token = keys("another-key-another-key-another!")
            .issue(UserId(1), "s1", in_an_hour())
            .unwrap();
        assert!(
            keys("0123456789abcdef0123456789abcdef")
                .verify(&token)
                .is_err()
        );
    }

    #[test]
    fn csrf_tokens_are_bound_to_what_they_were_made_for() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let token = k.csrf_token("session:a");
        assert_eq!(token, k.csrf_token("session:a"));
        assert_ne!(token, k.csrf_token("session:b"));
        let other = keys("another-key-another-key-another!");
        assert_ne!(token, other.csrf_token("session:a"));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let token = k
            .issue(UserId(1), "s1", chrono::Utc::now().timestamp() - 600)
            .unwrap();
        assert!(k.verify(&token).is_err());
    }
}

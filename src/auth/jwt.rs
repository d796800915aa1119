//! Access tokens: HS256 JWTs whose subject is the user id.

use crate::config::Secret;
use crate::ids::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
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
    lifetime_secs: i64,
}

impl TokenKeys {
    pub fn new(secret: &Secret, lifetime_minutes: i64) -> TokenKeys {
        let bytes = secret.expose().as_bytes();
        TokenKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            lifetime_secs: lifetime_minutes * 60,
        }
    }

    /// How long a new token is valid, in seconds.
    pub fn lifetime_secs(&self) -> i64 {
        self.lifetime_secs
    }

    /// A signed token for `user`, valid for the configured API lifetime.
    pub fn issue(&self, user: UserId) -> Result<String, jsonwebtoken::errors::Error> {
        self.issue_for(user, self.lifetime_secs)
    }

    /// A signed token for `user`, valid for `lifetime_secs` (page sessions last longer).
    pub fn issue_for(
        &self,
        user: UserId,
        lifetime_secs: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.to_string(),
            iat: now,
            exp: now + lifetime_secs,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The user a token names, if it is signed by our key with HS256 and not expired.
    pub fn verify(&self, token: &str) -> Result<UserId, InvalidToken> {
        // Only HS256: tokens with alg "none" or any other algorithm are refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        validation.leeway = 5;
        let data = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| InvalidToken(e.to_string()))?;
        data.claims
            .sub
            .parse()
            .map(UserId)
            .map_err(|_| InvalidToken("subject is not a user id".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&Secret::new(secret), 30)
    }

    #[test]
    fn a_token_names_the_user_it_was_issued_for() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let token = k.issue(UserId(42)).unwrap();
        assert_eq!(k.verify(&token).unwrap(), UserId(42));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let token = keys("another-key-another-key-another!")
            .issue(UserId(1))
            .unwrap();
        assert!(
            keys("0123456789abcdef0123456789abcdef")
                .verify(&token)
                .is_err()
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        let k = TokenKeys::new(&Secret::new("0123456789abcdef0123456789abcdef"), -10);
        let token = k.issue(UserId(1)).unwrap();
        assert!(k.verify(&token).is_err());
    }
}

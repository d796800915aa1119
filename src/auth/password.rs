//! bcrypt hashing, always on the blocking pool so the async threads never stall.

use crate::errors::AppError;

/// Hashes and verifies passwords at the configured cost.
#[derive(Clone)]
pub struct Passwords {
    cost: u32,
    /// Verified against when the account does not exist, so a wrong email
    /// takes as long as a wrong password and does not reveal who has an account.
    dummy_hash: String,
}

impl Passwords {
    /// Prepares the hasher; computes the dummy hash once (call at start-up).
    pub fn new(cost: u32) -> Result<Passwords, AppError> {
        let mut random = [0u8; 18];
        rand::fill(&mut random);
        let dummy_hash = bcrypt::hash(hex::encode(random), cost).map_err(AppError::internal)?;
        Ok(Passwords { cost, dummy_hash })
    }

    /// A bcrypt hash of `password` (already checked to be at most 72 bytes).
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let cost = self.cost;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and says no.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let exists = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let matched = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .map_err(AppError::internal)?
            // A corrupt stored hash is a failed login, not a server error.
            .unwrap_or(false);
        Ok(exists && matched)
    }
}

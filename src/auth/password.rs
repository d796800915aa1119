//! bcrypt hashing, always on the blocking pool so the async threads never stall.

use crate::errors::AppError;

/// The highest bcrypt cost verified for a hash not made at our own cost (about 5 s a check).
const MAX_FOREIGN_COST: u32 = 16;

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

    /// Whether `hash` is a bcrypt hash worth checking: well-formed, and of a cost no higher
    /// than 16 or our own (an imported `$2b$22$` hash would hold a thread for minutes).
    fn usable(&self, hash: &str) -> bool {
        hash.parse::<bcrypt::HashParts>()
            .is_ok_and(|parts| parts.get_cost() <= self.cost.max(MAX_FOREIGN_COST))
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
    /// So does a hash that can never match (a disabled password, an imported value that is
    /// not bcrypt) or would take minutes to check (a cost far above ours): answering those
    /// at once would tell a stranger which accounts are disabled.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let hash = hash.filter(|h| self.usable(h));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_hashes_of_a_sane_cost_are_checked() {
        let passwords = Passwords::new(4).unwrap();
        let ours = bcrypt::hash("pw", 4).unwrap();
        assert!(passwords.usable(&ours));
        assert!(passwords.usable(&ours.replacen("$04$", "$16$", 1)));
        assert!(!passwords.usable(&ours.replacen("$04$", "$22$", 1)));
        assert!(
            !passwords.usable(&format!("!{ours}")),
            "a disabled password"
        );
        assert!(!passwords.usable("plain text"));
    }
}

//! Classification of a request's description into a category and a priority.
//!
//! The offline classifier ([`keyword`]) answers at once and always; the LLM
//! refines its answer later through the job queue when one is configured.

pub mod eval;
pub mod keyword;
pub mod llm;

use crate::taxonomy::{Category, ClassificationMethod, Priority};
use serde::Serialize;

/// What a classifier decided, with how sure it is and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub category: Category,
    pub priority: Priority,
    /// From 0 to 1.
    pub confidence: f64,
    /// The evidence, in a few words.
    pub reason: String,
    pub method: ClassificationMethod,
}

/// The offline classification: pure, deterministic, instant.
pub fn offline(description: &str) -> Classification {
    let verdict = keyword::OfflineClassifier::standard().classify(description);
    Classification {
        category: verdict.category,
        priority: verdict.priority,
        confidence: verdict.confidence,
        reason: verdict.reason,
        method: ClassificationMethod::Keyword,
    }
}

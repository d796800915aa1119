//! Classification of a request's description into a category and a priority.
//!
//! The offline classifier ([`keyword`]) answers at once and always; the LLM
//! refines its answer later through the job queue when one is configured.

pub mod eval;
pub mod keyword;
pub mod llm;

use crate::taxonomy::ClassificationMethod;

pub use crate::model::Classification;

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

/// The offline safety rule that holds for each description, if any (see
/// [`keyword::OfflineVerdict::safety_rule`]). CPU work: call it off the async threads.
pub fn safety_rules(descriptions: &[String]) -> Vec<Option<&'static str>> {
    let classifier = keyword::OfflineClassifier::standard();
    descriptions
        .iter()
        .map(|text| classifier.classify(text).safety_rule)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::{Category, Priority};

    fn answer(priority: Priority) -> Classification {
        Classification {
            category: Category::Other,
            priority,
            confidence: 0.9,
            reason: "model".into(),
            method: ClassificationMethod::Llm,
        }
    }

    #[test]
    fn a_safety_rule_keeps_a_request_high() {
        let rules = safety_rules(&[
            "엘리베이터에 사람이 갇혔어요".into(),
            "전등이 깜빡입니다".into(),
        ]);
        assert!(rules[0].is_some());
        assert_eq!(rules[1], None);
        let held = answer(Priority::Low).held_to(rules[0]);
        assert_eq!(held.priority, Priority::High);
        assert_eq!(held.category, Category::Other);
        assert!(
            held.reason.starts_with("model · high kept"),
            "{}",
            held.reason
        );
        assert_eq!(answer(Priority::Low).held_to(None), answer(Priority::Low));
        assert_eq!(
            answer(Priority::High).held_to(rules[0]),
            answer(Priority::High)
        );
    }
}

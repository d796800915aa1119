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

/// The offline safety rule that holds for each description, if any (see
/// [`keyword::OfflineVerdict::safety_rule`]). CPU work: call it off the async threads.
pub fn safety_rules(descriptions: &[String]) -> Vec<Option<&'static str>> {
    let classifier = keyword::OfflineClassifier::standard();
    descriptions
        .iter()
        .map(|text| classifier.classify(text).safety_rule)
        .collect()
}

impl Classification {
    /// This answer held to the offline safety rule that holds for its text: a request such a
    /// rule makes high (flooding, gas, someone trapped) stays high, whatever the text led
    /// another classifier to say. The category is left as it is.
    pub fn held_to(mut self, safety_rule: Option<&str>) -> Classification {
        if let Some(rule) = safety_rule {
            if self.priority != Priority::High {
                self.priority = Priority::High;
                self.reason = format!("{} · high kept by the safety rule ({rule})", self.reason);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

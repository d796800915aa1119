//! What a classifier decided about a request.

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

impl Classification {
    /// This answer held to the offline safety rule that holds for its text: a request such a
    /// rule makes high (flooding, gas, someone trapped) stays high, whatever the text led
    /// another classifier to say. The category is left as it is.
    pub fn held_to(mut self, safety_rule: Option<&str>) -> Classification {
        if let Some(rule) = safety_rule
            && self.priority != Priority::High
        {
            self.priority = Priority::High;
            self.reason = format!("{} · high kept by the safety rule ({rule})", self.reason);
        }
        self
    }
}

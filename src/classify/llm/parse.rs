//! Strict reading of the provider's answer: the envelope must be right or the whole call failed;
//! inside it, each item stands or falls alone.

use super::{LlmError, LlmVerdict};
use serde::Deserialize;
use serde_json::Value;

/// Longer reasons are cut: they are shown next to a request, not read as essays.
const MAX_REASON_CHARS: usize = 200;

/// A parse error may quote the offending value (serde does, whole); only this much of it is
/// kept, since the message is logged and stored with the job.
const MAX_ERROR_CHARS: usize = 200;

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: AssistantMessage,
}

#[derive(Deserialize)]
struct AssistantMessage {
    content: Option<String>,
}

/// The verdicts in a chat-completions `body` for a batch of `items` descriptions.
pub(super) fn completion(body: &str, items: usize) -> Result<Vec<Option<LlmVerdict>>, LlmError> {
    let completion: Completion =
        serde_json::from_str(body).map_err(|e| malformed("not a chat completion", &e))?;
    let content = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::Malformed("no choices".into()))?
        .message
        .content
        .ok_or_else(|| LlmError::Malformed("no message content".into()))?;
    let answer: Value = serde_json::from_str(strip_fence(&content))
        .map_err(|e| malformed("content is not JSON", &e))?;
    let results = answer
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::Malformed("no \"results\" array".into()))?;
    let verdicts = verdicts(results, items);
    if !verdicts.iter().any(Option::is_some) {
        return Err(LlmError::Malformed(format!(
            "none of the {} results is a valid answer for one of the {items} items",
            results.len()
        )));
    }
    Ok(verdicts)
}

/// A Malformed error whose text is bounded whatever the answer held.
fn malformed(what: &str, error: &serde_json::Error) -> LlmError {
    let message = error.to_string();
    let mut excerpt: String = message.chars().take(MAX_ERROR_CHARS).collect();
    if excerpt.len() < message.len() {
        excerpt.push('…');
    }
    LlmError::Malformed(format!("{what}: {excerpt}"))
}

/// One slot per item; an item answered twice is ambiguous and left empty.
fn verdicts(results: &[Value], items: usize) -> Vec<Option<LlmVerdict>> {
    let mut slots: Vec<Option<LlmVerdict>> = vec![None; items];
    let mut answered = vec![0u32; items];
    for result in results {
        let Some(index) = item_index(result, items) else {
            continue;
        };
        answered[index] += 1;
        slots[index] = verdict(result);
    }
    for (slot, count) in slots.iter_mut().zip(answered) {
        if count > 1 {
            *slot = None;
        }
    }
    slots
}

/// The zero-based index for a result whose `id` is an integer in 1..=items.
fn item_index(result: &Value, items: usize) -> Option<usize> {
    let id = usize::try_from(result.get("id")?.as_u64()?).ok()?;
    (1..=items).contains(&id).then(|| id - 1)
}

/// The verdict when both labels are present and exactly one of the known values.
fn verdict(result: &Value) -> Option<LlmVerdict> {
    let category = result.get("category")?.as_str()?.parse().ok()?;
    let priority = result.get("priority")?.as_str()?.parse().ok()?;
    // The reason is a courtesy: without one the labels still stand.
    let reason = result
        .get("reason")
        .and_then(Value::as_str)
        .map(|r| r.trim().chars().take(MAX_REASON_CHARS).collect())
        .unwrap_or_default();
    Some(LlmVerdict {
        category,
        priority,
        reason,
    })
}

/// Some models wrap JSON in a Markdown fence even in JSON mode; take what is inside it.
fn strip_fence(content: &str) -> &str {
    let content = content.trim();
    let Some(rest) = content.strip_prefix("```") else {
        return content;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").map_or(content, str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::{Category, Priority};
    use serde_json::json;

    fn body(content: &str) -> String {
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
        })
        .to_string()
    }

    fn result(id: Value, category: &str, priority: &str) -> Value {
        json!({"id": id, "category": category, "priority": priority, "reason": "r"})
    }

    fn parse(results: Vec<Value>, items: usize) -> Result<Vec<Option<LlmVerdict>>, LlmError> {
        completion(&body(&json!({ "results": results }).to_string()), items)
    }

    fn labels(v: &[Option<LlmVerdict>]) -> Vec<Option<(Category, Priority)>> {
        v.iter()
            .map(|v| v.as_ref().map(|v| (v.category, v.priority)))
            .collect()
    }

    #[test]
    fn a_complete_answer_fills_every_slot_in_id_order() {
        let v = parse(
            vec![
                result(json!(2), "hvac", "low"),
                result(json!(1), "plumbing", "high"),
            ],
            2,
        )
        .unwrap();
        assert_eq!(
            labels(&v),
            [
                Some((Category::Plumbing, Priority::High)),
                Some((Category::Hvac, Priority::Low))
            ]
        );
        assert_eq!(v[0].as_ref().unwrap().reason, "r");
    }

    #[test]
    fn bad_items_are_empty_and_the_rest_stand() {
        let v = parse(
            vec![
                result(json!(1), "plumbing", "urgent"),
                result(json!(2), "processing", "high"),
                json!({"id": 3, "category": "hvac"}),
                result(json!(4), "Electrical", "high"),
                result(json!(5), "electrical", "high"),
                result(json!(5), "electrical", "high"),
                result(json!("6"), "electrical", "high"),
                result(json!(0), "electrical", "high"),
                result(json!(9), "electrical", "high"),
                result(json!(7), "other", "medium"),
                json!("not an object"),
            ],
            7,
        )
        .unwrap();
        assert_eq!(
            labels(&v),
            [
                None,
                None,
                None,
                None,
                None,
                None,
                Some((Category::Other, Priority::Medium))
            ]
        );
    }

    #[test]
    fn a_missing_reason_is_empty_and_a_long_one_is_cut() {
        let long = "가".repeat(500);
        let v = parse(
            vec![
                json!({"id": 1, "category": "other", "priority": "low"}),
                json!({"id": 2, "category": "other", "priority": "low", "reason": long}),
            ],
            2,
        )
        .unwrap();
        assert_eq!(v[0].as_ref().unwrap().reason, "");
        assert_eq!(
            v[1].as_ref().unwrap().reason.chars().count(),
            MAX_REASON_CHARS
        );
    }

    #[test]
    fn no_valid_item_fails_the_call() {
        let err = parse(vec![result(json!(1), "urgent", "processing")], 1).unwrap_err();
        assert!(matches!(err, LlmError::Malformed(_)), "{err:?}");
        assert!(matches!(parse(vec![], 2), Err(LlmError::Malformed(_))));
    }

    #[test]
    fn an_error_quotes_only_an_excerpt_of_the_answer() {
        let huge = "x".repeat(100_000);
        for bad in [
            json!({ "choices": huge }).to_string(),
            body(&json!({ "results": huge }).to_string()),
            body(&json!({ "results": [{"id": 1, "category": "other", "priority": "low"}], "x": huge }).to_string()[..50_000]),
        ] {
            let error = completion(&bad, 1).unwrap_err().to_string();
            assert!(error.chars().count() < 300, "{} characters", error.len());
        }
    }

    #[test]
    fn fenced_and_padded_content_is_accepted() {
        let answer = r#"{"results": [{"id": 1, "category": "other", "priority": "low"}]}"#;
        for content in [
            format!("  {answer}\n"),
            format!("```json\n{answer}\n```"),
            format!("```\n{answer}\n```\n"),
        ] {
            assert!(completion(&body(&content), 1).is_ok(), "{content}");
        }
    }

    #[test]
    fn a_wrong_envelope_fails_the_call() {
        let bad_bodies = [
            "not json".to_owned(),
            json!({"results": []}).to_string(),
            json!({"choices": []}).to_string(),
            json!({"choices": [{"message": {"role": "assistant", "content": null}}]}).to_string(),
            body("Sure! Here are the results: {}"),
            body("```json\n{\"results\": []"),
            body("[1, 2]"),
            body(r#"{"answers": []}"#),
        ];
        for bad in bad_bodies {
            assert!(
                matches!(completion(&bad, 1), Err(LlmError::Malformed(_))),
                "{bad}"
            );
        }
    }
}

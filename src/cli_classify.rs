//! `maintenance classify`: JSON lines in, JSON lines out; `--eval` measures accuracy.
//!
//! Each input line is a JSON object with a `"text"` string (other fields are ignored) or, if it
//! is not a JSON object, the description itself. Blank lines are skipped. Every other line
//! gives exactly one output line, in order: the classification, or `{"line": N, "error": ...}`
//! (N counts every input line from 1, blank ones included) for an object without a `"text"`
//! string, with an empty `"text"`, or a line that is not UTF-8.

use crate::classify::eval::{Report, read_labelled};
use crate::classify::llm::LlmClient;
use crate::classify::{self, Classification};
use serde_json::{Value, json};
use std::io::{BufRead, Write};

/// The description in one input line: a JSON object's "text", or the line itself.
fn text_of(line: &str) -> Result<String, &'static str> {
    if line.trim_start().starts_with('{')
        && let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line)
    {
        return match object.get("text") {
            Some(Value::String(text)) if text.trim().is_empty() => {
                Err("the \"text\" string is empty")
            }
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err("the JSON object has no \"text\" string"),
        };
    }
    Ok(line.to_owned())
}

/// One output line for `text` as classified.
pub fn output_line(text: &str, c: &Classification) -> Value {
    json!({
        "text": text,
        "category": c.category,
        "priority": c.priority,
        "confidence": c.confidence,
        "reason": c.reason,
        "method": c.method,
    })
}

/// Classifies every non-empty input line with `classify`, writing one JSON line per line, in order.
pub fn run_lines(
    input: impl BufRead,
    mut output: impl Write,
    mut classify: impl FnMut(&[String]) -> Vec<Classification>,
    batch: usize,
) -> std::io::Result<()> {
    let mut pending: Vec<Result<String, (usize, &'static str)>> = Vec::new();
    let mut flush = |pending: &mut Vec<Result<String, (usize, &'static str)>>,
                     output: &mut dyn Write| {
        let texts: Vec<String> = pending
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let mut results = classify(&texts).into_iter();
        for item in pending.drain(..) {
            let line = match item {
                Ok(text) => match results.next() {
                    Some(c) => output_line(&text, &c),
                    None => json!({"text": text, "error": "not classified"}),
                },
                Err((number, error)) => json!({"line": number, "error": error}),
            };
            writeln!(output, "{line}")?;
        }
        output.flush()
    };
    let mut input = input;
    let mut bytes = Vec::new();
    for index in 0.. {
        bytes.clear();
        if input.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        let line = std::str::from_utf8(&bytes)
            .map(|l| l.trim_end_matches('\n').trim_end_matches('\r'))
            .map_err(|_| (index + 1, "the line is not UTF-8 text"));
        let item = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => text_of(line).map_err(|e| (index + 1, e)),
            Err(e) => Err(e),
        };
        pending.push(item);
        if pending.len() >= batch.max(1) {
            flush(&mut pending, &mut output)?;
        }
    }
    flush(&mut pending, &mut output)
}

/// The offline classifier over a batch.
pub fn offline_batch(texts: &[String]) -> Vec<Classification> {
    texts.iter().map(|t| classify::offline(t)).collect()
}

/// Asks the LLM about a batch; any item it does not answer keeps the offline classification.
pub async fn llm_batch(client: &LlmClient, texts: &[String]) -> Vec<Classification> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let answers = match client.classify_batch(&refs).await {
        Ok(answers) => answers,
        Err(e) => {
            tracing::warn!(error = %e, "LLM unavailable; using the offline classifier");
            vec![None; texts.len()]
        }
    };
    texts
        .iter()
        .zip(answers.into_iter().chain(std::iter::repeat(None)))
        .map(|(text, answer)| match answer {
            Some(verdict) => crate::queue::from_llm(verdict),
            None => classify::offline(text),
        })
        .collect()
}

/// Accuracy of the offline classifier on labelled JSONL files, taken together.
pub fn evaluate(paths: &[std::path::PathBuf]) -> Result<Report, String> {
    let mut samples = Vec::new();
    for path in paths {
        let data = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        samples.extend(read_labelled(&data).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(Report::measure(&samples, |text| {
        let c = classify::offline(text);
        (c.category, c.priority)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_plain_lines_come_out_in_order() {
        let input = "{\"text\": \"전등이 깜빡입니다\", \"id\": 7}\n\n엘리베이터가 멈췄어요\n{\"nope\": 1}\n";
        let mut out = Vec::new();
        run_lines(input.as_bytes(), &mut out, offline_batch, 2).unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["text"], "전등이 깜빡입니다");
        assert_eq!(lines[0]["category"], "electrical");
        assert_eq!(lines[0]["method"], "keyword");
        assert_eq!(lines[1]["priority"], "high");
        assert_eq!(lines[2]["line"], 4);
        assert!(lines[2]["error"].is_string());
    }

    /// What the README promises about blank lines and lines without `text`.
    #[test]
    fn blank_lines_are_skipped_and_unclassifiable_lines_say_which_line() {
        let input: &[u8] = b"  \n{\"id\": 1}\n\t\n{\"text\": \" \"}\n\xff\xfe\n[\"a list\"]\n{\"text\": 5}\n{not json\r\n\xec\x97\x98\xeb\xa6\xac\xeb\xb2\xa0\xec\x9d\xb4\xed\x84\xb0";
        let mut out = Vec::new();
        run_lines(input, &mut out, offline_batch, 3).unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let summary: Vec<(Value, Value)> = lines
            .iter()
            .map(|l| (l["line"].clone(), l["text"].clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (json!(2), Value::Null),
                (json!(4), Value::Null),
                (json!(5), Value::Null),
                (Value::Null, json!("[\"a list\"]")),
                (json!(7), Value::Null),
                (Value::Null, json!("{not json")),
                (Value::Null, json!("엘리베이터")),
            ],
            "{lines:?}"
        );
        assert_eq!(lines[0]["error"], "the JSON object has no \"text\" string");
        assert_eq!(lines[1]["error"], "the \"text\" string is empty");
        assert_eq!(lines[2]["error"], "the line is not UTF-8 text");
        assert_eq!(lines[4]["error"], "the JSON object has no \"text\" string");
        assert!(lines[6]["category"].is_string());
    }
}

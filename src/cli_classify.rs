//! `maintenance classify`: JSON lines in, JSON lines out; `--eval` measures accuracy.

use crate::classify::eval::{Report, read_labelled};
use crate::classify::llm::LlmClient;
use crate::classify::{self, Classification};
use serde_json::{Value, json};
use std::io::{BufRead, Write};

/// The description in one input line: a JSON object's "text", or the line itself.
fn text_of(line: &str) -> Result<String, &'static str> {
    if line.trim_start().starts_with('{') {
        if let Ok(value) = serde_json::from_str::<Value>(line) {
            return match value.get("text") {
                Some(Value::String(text)) => Ok(text.clone()),
                _ => Err("the JSON object has no \"text\" string"),
            };
        }
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
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        pending.push(text_of(&line).map_err(|e| (index + 1, e)));
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

/// Accuracy of the offline classifier on a labelled JSONL file.
pub fn evaluate(path: &std::path::Path) -> Result<Report, String> {
    let data = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let samples = read_labelled(&data).map_err(|e| format!("{}: {e}", path.display()))?;
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
}

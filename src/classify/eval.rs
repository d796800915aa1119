//! Measuring a classifier against labelled requests: accuracy and confusion matrices.

use crate::taxonomy::{Category, Priority};
use serde::Deserialize;
use std::fmt::Write;

/// One labelled request, as in `data/*.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    pub text: String,
    pub category: Category,
    pub priority: Priority,
}

/// Reads JSON lines of labelled requests; blank lines are skipped.
pub fn read_labelled(jsonl: &str) -> Result<Vec<Labelled>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

/// Accuracy and confusion matrices of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub total: usize,
    pub category_correct: usize,
    pub priority_correct: usize,
    pub both_correct: usize,
    /// [expected][predicted], in `Category::ALL` order.
    pub category_confusion: [[usize; 5]; 5],
    /// [expected][predicted], in `Priority::ALL` order.
    pub priority_confusion: [[usize; 3]; 3],
}

fn position<T: PartialEq>(all: &[T], value: &T) -> usize {
    all.iter().position(|v| v == value).unwrap_or(0)
}

impl Report {
    /// Runs `classify` over `samples`.
    pub fn measure(
        samples: &[Labelled],
        classify: impl Fn(&str) -> (Category, Priority),
    ) -> Report {
        let mut report = Report {
            total: samples.len(),
            category_correct: 0,
            priority_correct: 0,
            both_correct: 0,
            category_confusion: [[0; 5]; 5],
            priority_confusion: [[0; 3]; 3],
        };
        for sample in samples {
            let (category, priority) = classify(&sample.text);
            let category_ok = category == sample.category;
            let priority_ok = priority == sample.priority;
            report.category_correct += usize::from(category_ok);
            report.priority_correct += usize::from(priority_ok);
            report.both_correct += usize::from(category_ok && priority_ok);
            report.category_confusion[position(Category::ALL, &sample.category)]
                [position(Category::ALL, &category)] += 1;
            report.priority_confusion[position(Priority::ALL, &sample.priority)]
                [position(Priority::ALL, &priority)] += 1;
        }
        report
    }

    fn percent(&self, correct: usize) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * correct as f64 / self.total as f64
        }
    }

    pub fn category_accuracy(&self) -> f64 {
        self.percent(self.category_correct)
    }
    pub fn priority_accuracy(&self) -> f64 {
        self.percent(self.priority_correct)
    }
    pub fn both_accuracy(&self) -> f64 {
        self.percent(self.both_correct)
    }

    /// A plain-text summary with both confusion matrices (rows: expected, columns: predicted).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "samples:  {}", self.total);
        let _ = writeln!(
            out,
            "category: {:.1}% ({}/{})",
            self.category_accuracy(),
            self.category_correct,
            self.total
        );
        let _ = writeln!(
            out,
            "priority: {:.1}% ({}/{})",
            self.priority_accuracy(),
            self.priority_correct,
            self.total
        );
        let _ = writeln!(
            out,
            "both:     {:.1}% ({}/{})",
            self.both_accuracy(),
            self.both_correct,
            self.total
        );
        let _ = writeln!(
            out,
            "\ncategory confusion (rows expected, columns predicted)"
        );
        let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        render_matrix(
            &mut out,
            &names,
            self.category_confusion.iter().map(|r| r.as_slice()),
        );
        let _ = writeln!(
            out,
            "\npriority confusion (rows expected, columns predicted)"
        );
        let names: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
        render_matrix(
            &mut out,
            &names,
            self.priority_confusion.iter().map(|r| r.as_slice()),
        );
        out
    }
}

fn render_matrix<'a>(out: &mut String, names: &[&str], rows: impl Iterator<Item = &'a [usize]>) {
    let _ = write!(out, "{:>12}", "");
    for name in names {
        let _ = write!(out, "{name:>12}");
    }
    let _ = writeln!(out);
    for (name, row) in names.iter().zip(rows) {
        let _ = write!(out, "{name:>12}");
        for count in row {
            let _ = write!(out, "{count:>12}");
        }
        let _ = writeln!(out);
    }
}

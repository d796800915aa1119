//! Offline classifier throughput on one core, over every labelled request in the repository.
//!
//! Run: `cargo bench --bench classify`

use maintenance::classify::eval::read_labelled;
use maintenance::classify::keyword::OfflineClassifier;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let sources = [
        include_str!("../data/requests-dev.jsonl"),
        include_str!("../data/corpus/residents-a.jsonl"),
        include_str!("../data/corpus/offices-b.jsonl"),
        include_str!("../data/corpus/mixed-d.jsonl"),
        include_str!("../data/holdout/holdout-c.jsonl"),
    ];
    let texts: Vec<String> = sources
        .iter()
        .flat_map(|s| read_labelled(s).expect("labelled data parses"))
        .map(|l| l.text)
        .collect();
    let mean_chars = texts.iter().map(|t| t.chars().count()).sum::<usize>() / texts.len();
    let classifier = OfflineClassifier::standard();

    // Warm up caches and the lazily built automata.
    for text in &texts {
        black_box(classifier.classify(text));
    }
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut done = 0usize;
        while started.elapsed() < Duration::from_secs(1) {
            for text in &texts {
                black_box(classifier.classify(black_box(text)));
            }
            done += texts.len();
        }
        runs.push(done as f64 / started.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    let median = runs[runs.len() / 2];
    println!("texts: {} (mean {} characters)", texts.len(), mean_chars);
    println!(
        "offline classifications per second, one thread: median {median:.0} (min {:.0}, max {:.0}) over 5 one-second runs",
        runs[0],
        runs[runs.len() - 1]
    );
    println!("mean time per classification: {:.2} µs", 1e6 / median);
}

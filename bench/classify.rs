//! Offline classifier throughput on one core, over every labelled request in the repository,
//! and its cost on crafted long descriptions (1,000 against 5,000 characters: linear or not).
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
    crafted(classifier);
}

/// Descriptions written to make a rule engine work hard: the words of the proximity rules over
/// and over with no rule completed, negations after every noun, and a mixed stream of terms.
fn crafted(classifier: &OfflineClassifier) {
    let patterns = [
        ("pair words, Korean", "엘리베이터 보일러 전기 가스 난방 물 "),
        (
            "pair words, English",
            "elevator boiler power gas heating water ",
        ),
        ("negated cues", "물은 안 새요 가스 냄새는 아니에요 "),
        (
            "mixed terms",
            "전등 콘센트 변기 배관 에어컨 창문 균열 현관문 tile leak outlet ",
        ),
    ];
    println!("crafted descriptions, median time per classification:");
    for (name, pattern) in patterns {
        let times: Vec<Duration> = [1_000, 5_000]
            .into_iter()
            .map(|chars| {
                let text: String = pattern.chars().cycle().take(chars).collect();
                time_one(classifier, &text)
            })
            .collect();
        println!(
            "  {name:<20} 1,000 chars {:>9.1} µs   5,000 chars {:>9.1} µs   ratio {:.1}",
            times[0].as_secs_f64() * 1e6,
            times[1].as_secs_f64() * 1e6,
            times[1].as_secs_f64() / times[0].as_secs_f64()
        );
    }
}

/// The median of 21 timed classifications of `text` (enough for a stable figure, short enough
/// to finish even when the cost is quadratic).
fn time_one(classifier: &OfflineClassifier, text: &str) -> Duration {
    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let started = Instant::now();
            black_box(classifier.classify(black_box(text)));
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

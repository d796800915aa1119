//! The offline classifier: a pure, deterministic rule engine over a lexicon.
//!
//! Korean is matched on the text with spaces removed (residents space words
//! freely: "안나와요", "안 나와요"), English on whole words. Matching is
//! leftmost-longest, so a longer term shadows the terms inside it: "건물"
//! (building) keeps "물" (water) from counting, "냄새" (smell) keeps "새"
//! (leak) from counting, and negated phrases ("물은 안 새요") are terms of
//! their own that carry no cue.
//!
//! The category is the one whose terms weigh most; the thing named as the
//! source ("에어컨에서") or the subject ("보일러가") weighs more than a place
//! that only shows the symptom. The priority follows the safety rules of the
//! classification contract: any danger cue makes it high whatever the tone;
//! otherwise "can wait", cosmetic or wish wording makes it low.

use crate::taxonomy::{Category, Priority};
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashSet;
use std::sync::OnceLock;

const LEXICON: &str = include_str!("lexicon.txt");

/// What the offline classifier decided, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineVerdict {
    pub category: Category,
    pub priority: Priority,
    /// From 0 to 1, to two decimals.
    pub confidence: f64,
    pub reason: String,
    /// The safety rule that made it high (flooding, gas smell, someone trapped...), if one did:
    /// no other classifier may lower such a request.
    pub safety_rule: Option<&'static str>,
}

/// Cue bits: evidence about priority, independent of the category.
mod cue {
    pub const LEAK: u64 = 1 << 0;
    pub const FLOOD: u64 = 1 << 1;
    pub const WATER: u64 = 1 << 2;
    pub const SEWAGE: u64 = 1 << 3;
    pub const NO_WATER: u64 = 1 << 4;
    pub const NO_POWER: u64 = 1 << 5;
    pub const FIRE: u64 = 1 << 6;
    pub const SHOCK: u64 = 1 << 7;
    pub const GAS: u64 = 1 << 8;
    pub const FIRE_SAFETY: u64 = 1 << 9;
    pub const TRAPPED: u64 = 1 << 10;
    pub const STOPPED: u64 = 1 << 11;
    pub const LIFT: u64 = 1 << 12;
    pub const NO_HEAT: u64 = 1 << 13;
    pub const NO_HOT_WATER: u64 = 1 << 14;
    pub const COLD: u64 = 1 << 15;
    pub const PARTIAL: u64 = 1 << 16;
    pub const SECURITY: u64 = 1 << 17;
    pub const LOCKOUT: u64 = 1 << 18;
    pub const ENTRANCE: u64 = 1 << 19;
    pub const HAZARD: u64 = 1 << 20;
    pub const RAILING: u64 = 1 << 21;
    pub const LOOSE: u64 = 1 << 22;
    pub const FLUE: u64 = 1 << 23;
    pub const SMELL: u64 = 1 << 24;
    pub const CCTV: u64 = 1 << 25;
    pub const STINGER: u64 = 1 << 26;
    pub const RAIN: u64 = 1 << 27;
    pub const VULNERABLE: u64 = 1 << 28;
    pub const CAN_WAIT: u64 = 1 << 29;
    pub const COSMETIC: u64 = 1 << 30;
    pub const WISH: u64 = 1 << 31;
    pub const SQUEAK: u64 = 1 << 32;
    pub const RESOLVED: u64 = 1 << 33;
    pub const OUTLET: u64 = 1 << 34;
    pub const WHOLE: u64 = 1 << 35;
    pub const HEAT: u64 = 1 << 36;
    pub const DURATION: u64 = 1 << 37;

    pub fn by_name(name: &str) -> Option<u64> {
        Some(match name {
            "leak" => LEAK,
            "flood" => FLOOD,
            "water" => WATER,
            "sewage" => SEWAGE,
            "nowater" => NO_WATER,
            "nopower" => NO_POWER,
            "fire" => FIRE,
            "shock" => SHOCK,
            "gas" => GAS,
            "firesafety" => FIRE_SAFETY,
            "trapped" => TRAPPED,
            "stopped" => STOPPED,
            "lift" => LIFT,
            "noheat" => NO_HEAT,
            "nohotwater" => NO_HOT_WATER,
            "cold" => COLD,
            "partial" => PARTIAL,
            "security" => SECURITY,
            "lockout" => LOCKOUT,
            "entrance" => ENTRANCE,
            "hazard" => HAZARD,
            "railing" => RAILING,
            "loose" => LOOSE,
            "flue" => FLUE,
            "smell" => SMELL,
            "cctv" => CCTV,
            "stinger" => STINGER,
            "rain" => RAIN,
            "vulnerable" => VULNERABLE,
            "canwait" => CAN_WAIT,
            "cosmetic" => COSMETIC,
            "wish" => WISH,
            "squeak" => SQUEAK,
            "resolved" => RESOLVED,
            "outlet" => OUTLET,
            "whole" => WHOLE,
            "heat" => HEAT,
            "duration" => DURATION,
            _ => return None,
        })
    }
}

/// One lexicon entry: how much it says for each category, and its cues.
#[derive(Debug, Clone, Default)]
struct Term {
    text: String,
    weights: [f32; 5],
    cues: u64,
}

/// A lexicon line that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("lexicon line {line}: {message}")]
pub struct LexiconError {
    line: usize,
    message: String,
}

fn category_index(category: Category) -> usize {
    match category {
        Category::Electrical => 0,
        Category::Plumbing => 1,
        Category::Hvac => 2,
        Category::Structural => 3,
        Category::Other => 4,
    }
}

/// The compiled lexicon.
pub struct OfflineClassifier {
    korean_things: Matcher,
    english_things: Matcher,
    korean_cues: Matcher,
    english_cues: Matcher,
    korean_pairs: PairIndex,
    english_pairs: PairIndex,
}

/// Terms and the automaton that finds them, leftmost-longest.
struct Matcher {
    automaton: AhoCorasick,
    terms: Vec<Term>,
}

impl Matcher {
    fn new(terms: Vec<Term>) -> Result<Matcher, LexiconError> {
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(terms.iter().map(|t| t.text.trim_end_matches('*')))
            .map_err(|e| LexiconError {
                line: 0,
                message: e.to_string(),
            })?;
        Ok(Matcher { automaton, terms })
    }
}

/// A cue that holds when a left word is followed, within a few characters, by a right word
/// ("가스 … 냄새", "난방이 … 안 돼요"), however the resident spaced or worded the middle.
struct Pair {
    cue: u64,
    left: Vec<String>,
    right: Vec<String>,
    english: bool,
}

/// Every pair of one language, with one automaton over all their words, so a text is
/// scanned once however many pairs there are.
struct PairIndex {
    automaton: AhoCorasick,
    words: Vec<String>,
    /// For each pair: its cue, and the word ids of its left and right sides.
    pairs: Vec<(u64, Vec<usize>, Vec<usize>)>,
    window: usize,
    english: bool,
}

impl PairIndex {
    fn new(pairs: &[Pair], english: bool, window: usize) -> Result<PairIndex, LexiconError> {
        let mut words: Vec<String> = Vec::new();
        let id = |word: &String, words: &mut Vec<String>| match words.iter().position(|w| w == word)
        {
            Some(i) => i,
            None => {
                words.push(word.clone());
                words.len() - 1
            }
        };
        let mut indexed = Vec::new();
        for pair in pairs.iter().filter(|p| p.english == english) {
            let left = pair.left.iter().map(|w| id(w, &mut words)).collect();
            let right = pair.right.iter().map(|w| id(w, &mut words)).collect();
            indexed.push((pair.cue, left, right));
        }
        let automaton = AhoCorasick::new(&words).map_err(|e| LexiconError {
            line: 0,
            message: e.to_string(),
        })?;
        Ok(PairIndex {
            automaton,
            words,
            pairs: indexed,
            window,
            english,
        })
    }

    /// The cues of every pair that holds in `text`.
    fn cues(&self, text: &str) -> u64 {
        self.cues_counting(text).0
    }

    /// The cues, and how many word occurrences were looked at to find them: a few passes per
    /// pair over the occurrences, so the work grows linearly with the text however it is crafted.
    fn cues_counting(&self, text: &str) -> (u64, usize) {
        // Every occurrence of every word, overlapping: (word id, start, end).
        let found: Vec<(usize, usize, usize)> = self
            .automaton
            .find_overlapping_iter(text)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect();
        if found.len() < 2 {
            return (0, found.len());
        }
        // Whether each occurrence would stand as a right word: checked once, not once per pair.
        let stands: Vec<bool> = found
            .iter()
            .map(|(id, start, end)| self.right_word_stands(text, &self.words[*id], *start, *end))
            .collect();
        let mut steps = found.len();
        let mut cues = 0;
        let mut left_ends = Vec::new();
        for (cue, left, right) in &self.pairs {
            if cues & cue != 0 {
                continue;
            }
            left_ends.clear();
            left_ends.extend(
                found
                    .iter()
                    .filter(|(id, _, _)| left.contains(id))
                    .map(|(_, _, end)| *end),
            );
            // Already in order (matches are reported by their end); sorting sorted data is linear.
            left_ends.sort_unstable();
            // A right word holds when the nearest left word ending at or before its start
            // ends within the window: any farther left word is farther still.
            let holds = found.iter().zip(&stands).any(|((id, start, _), stands)| {
                *stands && right.contains(id) && {
                    let before = left_ends.partition_point(|end| end <= start);
                    before > 0 && start - left_ends[before - 1] <= self.window
                }
            });
            steps += 2 * found.len();
            if holds {
                cues |= cue;
            }
        }
        (cues, steps)
    }

    /// Whether the right word at `start..end` is not negated or taken back.
    fn right_word_stands(&self, text: &str, word: &str, start: usize, end: usize) -> bool {
        // "안 꺼져요" is the opposite of "꺼져요".
        if !is_negative_form(word) && text[..start].ends_with('안') {
            return false;
        }
        if self.english {
            !english_denied(text[..start].trim_end())
        } else {
            let after = &text[end..];
            korean_role(after) != Role::Denied && (is_negative_form(word) || !clause_denies(after))
        }
    }
}

/// How far (in bytes of the spaceless text, about 16 Hangul syllables) a pair may stretch.
const KOREAN_PAIR_WINDOW: usize = 48;
/// The same for English words.
const ENGLISH_PAIR_WINDOW: usize = 40;

/// How a mention of a term reads in its sentence.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// Named as the source ("에어컨에서") or the subject ("보일러가"): the failing thing.
    Source,
    Subject,
    /// Plainly mentioned.
    Mention,
    /// Only where something else is ("싱크대 위 조명"): counts little and carries no cues.
    Place,
    /// Said to be fine ("보일러는 정상"): counts for nothing.
    Denied,
}

/// Evidence gathered from one text.
#[derive(Default)]
struct Evidence<'a> {
    scores: [f32; 5],
    strongest: [f32; 5],
    first_at: [Option<usize>; 5],
    terms: [Vec<&'a str>; 5],
    seen: HashSet<&'a str>,
    /// Categories named as the source of something ("에어컨에서 물이").
    source: [bool; 5],
    cues: u64,
}

impl<'a> Evidence<'a> {
    fn add(&mut self, term: &'a Term, at: usize, role: Role) {
        // Each term counts once: repeating a word is not more evidence.
        if !self.seen.insert(&term.text) {
            return;
        }
        if matches!(role, Role::Denied) {
            return;
        }
        if role != Role::Place {
            self.cues |= term.cues;
        }
        for (i, weight) in term.weights.iter().enumerate() {
            if *weight <= 0.0 {
                continue;
            }
            let strong = *weight >= 2.0;
            let contribution = match role {
                Role::Source if strong => weight + 1.5,
                Role::Subject if strong => weight + 0.5,
                Role::Place => weight * 0.2,
                _ => *weight,
            };
            if role == Role::Source && strong {
                self.source[i] = true;
            }
            if contribution >= 2.0 && self.first_at[i].is_none() {
                self.first_at[i] = Some(at);
            }
            self.scores[i] += contribution;
            self.strongest[i] = self.strongest[i].max(contribution);
            if self.terms[i].len() < 3 {
                self.terms[i].push(&term.text);
            }
        }
    }

    fn has(&self, bits: u64) -> bool {
        self.cues & bits != 0
    }

    /// Takes back a term counted as a thing once it turns out to name a place.
    fn unscore(&mut self, term: &Term) {
        for (i, weight) in term.weights.iter().enumerate() {
            if *weight > 0.0 {
                self.scores[i] = (self.scores[i] - weight * 0.8).max(0.0);
                self.terms[i].retain(|t| *t != term.text);
            }
        }
    }
}

/// Particles that may stand between a noun and what is said of it.
const PARTICLES: &[char] = &[
    '은', '는', '도', '이', '가', '을', '를', '나', '랑', '과', '와', '만',
];
/// What a resident says of a thing that works: it is not the failing thing.
const DENIALS: &[&str] = &[
    "문제없",
    "문제가없",
    "아무문제",
    "문제아님",
    "문제는아님",
    "문제는아니",
    "이상없",
    "이상이없",
    "정상",
    "멀쩡",
    "괜찮",
    "잘돼",
    "잘되",
    "잘나와",
    "잘나오",
    "잘들어",
    "잘돌아",
    "말고",
    "아님",
    "아니고",
    "아니라",
    "아니에요",
    "아닌",
    "열어뒀",
    "열어놨",
    "잠갔",
    "잠가놨",
    "껐",
    "꺼놨",
    "뽑아놨",
    "뽑아뒀",
];
/// Words after a noun that make it a place ("싱크대 위 조명": the light fails, not the sink).
fn is_place_marker(after: &str) -> bool {
    (after.starts_with(['옆', '앞', '뒤']) && !after.starts_with("앞으로"))
        || (after.starts_with('위') && !after.starts_with("위험"))
        || (after.starts_with('밑') && !after.starts_with("밑으로"))
        || (after.starts_with("아래") && !after.starts_with("아래로"))
        || after.starts_with("근처")
}

/// How the Korean text after a match casts the matched noun.
fn korean_role(after: &str) -> Role {
    if after.starts_with("에서") {
        return Role::Source;
    }
    if is_place_marker(after) {
        return Role::Place;
    }
    let rest = after.strip_prefix(PARTICLES).unwrap_or(after);
    if DENIALS.iter().any(|d| rest.starts_with(d)) {
        return Role::Denied;
    }
    if after.starts_with(['이', '가']) {
        Role::Subject
    } else {
        Role::Mention
    }
}

/// English prepositions that make the following noun a place ("under the window").
const ENGLISH_PLACES: &[&str] = &[
    " under", " near", " next to", " above", " behind", " below", " beside", " onto", " around",
    " over", " by",
];

fn english_role(before: &str) -> Role {
    let before = before
        .strip_suffix(" the")
        .or_else(|| before.strip_suffix(" a"))
        .unwrap_or(before);
    if ENGLISH_PLACES.iter().any(|p| before.ends_with(p)) {
        Role::Place
    } else {
        Role::Mention
    }
}

impl OfflineClassifier {
    /// The classifier built from the lexicon compiled into the binary.
    pub fn standard() -> &'static OfflineClassifier {
        static STANDARD: OnceLock<OfflineClassifier> = OnceLock::new();
        STANDARD.get_or_init(|| {
            OfflineClassifier::from_lexicon(LEXICON)
                .expect("the built-in lexicon is valid (checked by a unit test)")
        })
    }

    /// Compiles a lexicon in the format of `lexicon.txt`.
    pub fn from_lexicon(lexicon: &str) -> Result<OfflineClassifier, LexiconError> {
        let mut things: [Vec<Term>; 2] = [Vec::new(), Vec::new()];
        let mut cues: [Vec<Term>; 2] = [Vec::new(), Vec::new()];
        let mut pairs = Vec::new();
        for (index, raw) in lexicon.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |message: &str| LexiconError {
                line: index + 1,
                message: message.to_owned(),
            };
            let rest = line
                .strip_prefix('[')
                .ok_or_else(|| error("expected [tags]"))?;
            let (tags, words) = rest.split_once(']').ok_or_else(|| error("unclosed ["))?;
            if let Some(name) = tags.trim().strip_prefix("pair:") {
                let cue =
                    cue::by_name(name).ok_or_else(|| error(&format!("unknown cue '{name}'")))?;
                let (left, right) = words
                    .split_once('~')
                    .ok_or_else(|| error("a pair needs 'left ~ right'"))?;
                pairs.extend(parse_pairs(cue, left, right));
                continue;
            }
            let template = parse_tags(tags).map_err(|m| error(&m))?;
            let neutral = template.cues == 0 && template.weights.iter().all(|w| *w <= 0.0);
            for word in words.split_whitespace() {
                let word = word.to_lowercase();
                let (language, text) = if word.is_ascii() {
                    (1, word.replace('_', " "))
                } else {
                    (0, word)
                };
                let term = Term {
                    text,
                    ..template.clone()
                };
                if neutral || template.weights.iter().any(|w| *w > 0.0) {
                    merge(&mut things[language], &term);
                }
                if neutral || template.cues != 0 {
                    merge(&mut cues[language], &term);
                }
            }
        }
        let [korean_things, english_things] = things;
        let [korean_cues, english_cues] = cues;
        Ok(OfflineClassifier {
            korean_things: Matcher::new(korean_things)?,
            english_things: Matcher::new(english_things)?,
            korean_cues: Matcher::new(korean_cues)?,
            english_cues: Matcher::new(english_cues)?,
            korean_pairs: PairIndex::new(&pairs, false, KOREAN_PAIR_WINDOW)?,
            english_pairs: PairIndex::new(&pairs, true, ENGLISH_PAIR_WINDOW)?,
        })
    }

    /// Classifies one description.
    pub fn classify(&self, text: &str) -> OfflineVerdict {
        let mut evidence = Evidence::default();
        let korean_text: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        let english_text = english_words(text);
        self.weigh_korean(&korean_text, &mut evidence);
        self.weigh_english(&english_text, &mut evidence);
        evidence.cues |= self.korean_cues_in(&korean_text) | self.english_cues_in(&english_text);
        evidence.cues |= self.pair_cues(&korean_text, &english_text);
        if evidence.has(cue::WATER) && evidence.has(cue::LEAK) && !evidence.has(cue::RAIN) {
            // Water coming from somewhere: from the named source, else from a pipe.
            let plumbing = category_index(Category::Plumbing);
            match evidence.source.iter().position(|s| *s) {
                Some(source) => evidence.scores[source] += 1.5,
                None => evidence.scores[plumbing] += 1.5,
            }
        }
        let (category, category_confidence) = decide_category(&evidence);
        let safety = safety_rule(&evidence, category);
        let (priority, priority_confidence, rule) = match safety {
            Some((confidence, rule)) => (Priority::High, confidence, rule),
            None => calm_priority(&evidence, category),
        };
        let category_terms = &evidence.terms[category_index(category)];
        let reason = if category_terms.is_empty() {
            format!("{category} (no specific terms) · {priority} ({rule})")
        } else {
            format!(
                "{category} ({}) · {priority} ({rule})",
                category_terms.join(", ")
            )
        };
        OfflineVerdict {
            category,
            priority,
            confidence: (f64::from(category_confidence.min(priority_confidence)) * 100.0).round()
                / 100.0,
            reason,
            safety_rule: safety.map(|(_, rule)| rule),
        }
    }
}

impl OfflineClassifier {
    fn weigh_korean<'a>(&'a self, text: &str, evidence: &mut Evidence<'a>) {
        let mut previous: Option<(usize, usize)> = None;
        for found in self.korean_things.automaton.find_iter(text) {
            let index = found.pattern().as_usize();
            let role = korean_role(&text[found.end()..]);
            // A place marker covers the whole noun phrase: "에어컨 실외기 옆" makes both places.
            if role == Role::Place
                && let Some((previous_index, previous_end)) = previous
                && previous_end == found.start()
            {
                evidence.unscore(&self.korean_things.terms[previous_index]);
            }
            evidence.add(&self.korean_things.terms[index], found.start(), role);
            previous = Some((index, found.end()));
        }
    }

    fn weigh_english<'a>(&'a self, text: &str, evidence: &mut Evidence<'a>) {
        let mut first = true;
        for found in self.english_things.automaton.find_iter(text) {
            let term = &self.english_things.terms[found.pattern().as_usize()];
            if !whole_words(text, found.start(), found.end(), term) {
                continue;
            }
            let before = text[..found.start()].trim_end();
            let mut role = if english_denied(before) {
                Role::Denied
            } else {
                english_role(before)
            };
            // English puts the failing thing first: "The AC unit ... makes a noise, the neighbours complained".
            if role == Role::Mention && first && term.weights.iter().any(|w| *w >= 2.0) {
                role = Role::Subject;
                first = false;
            }
            evidence.add(term, found.start(), role);
        }
    }

    fn korean_cues_in(&self, text: &str) -> u64 {
        let mut cues = 0;
        for found in self.korean_cues.automaton.find_iter(text) {
            let term = &self.korean_cues.terms[found.pattern().as_usize()];
            let after = &text[found.end()..];
            if korean_role(after) == Role::Denied
                || (!is_negative_form(&term.text) && clause_denies(after))
            {
                continue;
            }
            cues |= term.cues;
        }
        cues
    }

    fn english_cues_in(&self, text: &str) -> u64 {
        let mut cues = 0;
        for found in self.english_cues.automaton.find_iter(text) {
            let term = &self.english_cues.terms[found.pattern().as_usize()];
            if whole_words(text, found.start(), found.end(), term)
                && !english_denied(text[..found.start()].trim_end())
            {
                cues |= term.cues;
            }
        }
        cues
    }

    fn pair_cues(&self, korean: &str, english: &str) -> u64 {
        self.korean_pairs.cues(korean) | self.english_pairs.cues(english)
    }
}

fn merge(list: &mut Vec<Term>, term: &Term) {
    match list.iter_mut().find(|t| t.text == term.text) {
        Some(existing) => {
            existing.cues |= term.cues;
            for (w, add) in existing.weights.iter_mut().zip(term.weights) {
                *w = w.max(add);
            }
        }
        None => list.push(term.clone()),
    }
}

fn parse_pairs(cue: u64, left: &str, right: &str) -> Vec<Pair> {
    let words = |side: &str, english: bool| -> Vec<String> {
        side.split_whitespace()
            .filter(|w| w.is_ascii() == english)
            .map(|w| {
                if english {
                    format!(" {}", w.to_lowercase().replace('_', " "))
                } else {
                    w.to_owned()
                }
            })
            .collect()
    };
    [false, true]
        .into_iter()
        .map(|english| Pair {
            cue,
            left: words(left, english),
            right: words(right, english),
            english,
        })
        .filter(|p| !p.left.is_empty() && !p.right.is_empty())
        .collect()
}

/// Terms that already say something is missing ("안 나와요", "못 열어요") cannot be denied again.
fn is_negative_form(term: &str) -> bool {
    term.contains(['안', '못', '없'])
        || term.starts_with(" no")
        || term.contains(" not")
        || term.contains(" t ")
}

/// Whether the rest of the clause takes the statement back: "역류하거나 넘치지는 않아요".
fn clause_denies(after: &str) -> bool {
    let clause: String = after
        .chars()
        .take_while(|c| !matches!(c, '.' | ',' | '!' | '?' | '~' | ';' | '\n'))
        .take(10)
        .collect();
    ["않", "없", "아니", "아님"]
        .iter()
        .any(|d| clause.contains(d))
}

/// Whether the English words just before a term negate it ("not overflowing", "nothing is backing up").
fn english_denied(before: &str) -> bool {
    const NEGATIONS: &[&str] = &[
        " not",
        " no",
        " never",
        " without",
        " isn t",
        " nothing is",
        " hasn t",
        " doesn t",
        " didn t",
        " aren t",
        " wasn t",
        " not yet",
    ];
    let before = before.strip_suffix(" yet").unwrap_or(before);
    NEGATIONS.iter().any(|n| before.ends_with(n))
}

fn whole_words(text: &str, start: usize, end: usize, term: &Term) -> bool {
    text[..start].ends_with(' ') && (term.text.ends_with('*') || text[end..].starts_with(' '))
}

fn parse_tags(tags: &str) -> Result<Term, String> {
    let mut term = Term::default();
    let mut parts = tags.split_whitespace().peekable();
    while let Some(tag) = parts.next() {
        if tag == "neutral" {
            continue;
        }
        if let Some(name) = tag.strip_prefix("cue:") {
            term.cues |= cue::by_name(name).ok_or_else(|| format!("unknown cue '{name}'"))?;
            continue;
        }
        let category: Category = tag.parse().map_err(|e| format!("{e}"))?;
        let weight: f32 = parts
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| format!("'{tag}' needs a weight"))?;
        term.weights[category_index(category)] = weight;
    }
    Ok(term)
}

/// Lower-case ASCII words separated by single spaces, with a space at each end.
fn english_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

fn first(at: Option<usize>) -> usize {
    at.unwrap_or(usize::MAX)
}

fn decide_category(evidence: &Evidence<'_>) -> (Category, f32) {
    let mut ranked: Vec<usize> = (0..5).collect();
    // Highest score; then the strongest single term; then the one named first.
    ranked.sort_by(|&a, &b| {
        evidence.scores[b]
            .total_cmp(&evidence.scores[a])
            .then(evidence.strongest[b].total_cmp(&evidence.strongest[a]))
            .then(first(evidence.first_at[a]).cmp(&first(evidence.first_at[b])))
    });
    let (top, second) = (evidence.scores[ranked[0]], evidence.scores[ranked[1]]);
    if top <= 0.0 {
        return (Category::Other, 0.3);
    }
    let margin = (top - second) / top;
    (Category::ALL[ranked[0]], 0.55 + 0.4 * margin)
}

/// The safety rule that makes a request high, if one holds: a danger cue, or a cue that is
/// dangerous in its setting. Its confidence and its name.
fn safety_rule(evidence: &Evidence<'_>, category: Category) -> Option<(f32, &'static str)> {
    let has = |bits: u64| evidence.has(bits);
    let danger = [
        (cue::GAS, "gas smell"),
        (cue::FIRE, "burning smell, sparks or smoke"),
        (cue::SHOCK, "electric shock or exposed wiring"),
        (cue::TRAPPED, "someone trapped"),
        (cue::FIRE_SAFETY, "fire-safety fault"),
        (cue::SEWAGE, "sewage backup"),
        (cue::FLOOD, "flooding"),
        (cue::NO_WATER, "no water"),
        (cue::SECURITY, "security risk"),
        (cue::HAZARD, "risk of injury or damage"),
        (cue::STINGER, "stinging insects"),
    ];
    if let Some((_, rule)) = danger.iter().find(|(bits, _)| has(*bits)) {
        return Some((0.9, rule));
    }
    let wet = has(cue::WATER | cue::RAIN) || category == Category::Plumbing;
    // One dead outlet is an ordinary fault; a unit or an area without power is not.
    let single_outlet = has(cue::OUTLET) && !has(cue::WHOLE);
    let conditional = [
        (has(cue::NO_POWER) && !single_outlet, "power out"),
        (has(cue::LEAK) && wet && !has(cue::RESOLVED), "active leak"),
        (has(cue::STOPPED) && has(cue::LIFT), "elevator stopped"),
        (
            has(cue::NO_HEAT) && (has(cue::COLD) || !has(cue::PARTIAL)),
            "no heating",
        ),
        (
            has(cue::NO_HOT_WATER)
                && category == Category::Hvac
                && has(cue::VULNERABLE | cue::COLD | cue::DURATION),
            "no hot water for days",
        ),
        (
            has(cue::HEAT) && category == Category::Hvac && !has(cue::WISH),
            "no cooling in a heatwave",
        ),
        (has(cue::LOCKOUT) && has(cue::ENTRANCE), "locked out"),
        (
            has(cue::RAILING) && has(cue::LOOSE) && !has(cue::LIFT),
            "loose railing",
        ),
        (
            has(cue::FLUE) && (has(cue::LOOSE) || has(cue::SMELL)),
            "boiler flue fault",
        ),
        (has(cue::CCTV), "security camera down"),
    ];
    conditional
        .iter()
        .find(|(holds, _)| *holds)
        .map(|(_, rule)| (0.85, *rule))
}

/// The priority when no safety rule holds: low for what can wait, else medium.
fn calm_priority(evidence: &Evidence<'_>, category: Category) -> (Priority, f32, &'static str) {
    let has = |bits: u64| evidence.has(bits);
    if has(cue::CAN_WAIT) {
        return (Priority::Low, 0.85, "can wait");
    }
    if has(cue::COSMETIC) {
        return (Priority::Low, 0.7, "cosmetic");
    }
    if has(cue::WISH) {
        return (Priority::Low, 0.7, "request or question");
    }
    if has(cue::SQUEAK) && category == Category::Structural {
        return (Priority::Low, 0.65, "minor noise");
    }
    (Priority::Medium, 0.6, "ordinary malfunction")
}

#[cfg(test)]
mod tests;

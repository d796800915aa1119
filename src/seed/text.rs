//! What demo requests say: descriptions put together from parts (a greeting, since when, the
//! failing thing and what it does, a detail, a closing line), for every category, in the words
//! residents use, and where the problem is (`101동 1203호`, `지하 2층 주차장`, `3층 화장실`).
//! The parts are in `phrases.txt`.

use super::rng::Rng;
use crate::taxonomy::Category;
use std::collections::HashMap;
use std::sync::OnceLock;

const PHRASES: &str = include_str!("phrases.txt");

/// Where a problem happens: in the resident's home, or in one of these shared places
/// (`{dong}` a building, `{floor}` a floor, `{car}` an elevator's number).
#[derive(Debug, Clone)]
enum Place {
    Home,
    Shared(Vec<String>),
}

/// When a problem comes up: all year, or in the cold or the hot months only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Season {
    Any,
    Cold,
    Hot,
}

/// One kind of problem: the failing things (each with its particle) and what they do.
#[derive(Debug)]
struct Problem {
    season: Season,
    place: Place,
    subjects: Vec<String>,
    symptoms: Vec<String>,
    /// Whether it reads after "since yesterday" and the like (a wish does not).
    ongoing: bool,
}

/// Everything descriptions are made of.
#[derive(Debug, Default)]
struct Phrases {
    /// By category, in the order of [`Category::ALL`].
    problems: Vec<Vec<Problem>>,
    english: Vec<(String, Place)>,
    greeting: Vec<String>,
    since: Vec<String>,
    detail: Vec<String>,
    closing: Vec<String>,
    /// Closings that say it can wait: they make an ordinary problem `low`.
    unhurried: Vec<String>,
    surname: Vec<String>,
    /// Of a given name.
    syllable: Vec<String>,
}

impl Phrases {
    /// The phrases compiled into the binary.
    fn standard() -> &'static Phrases {
        static STANDARD: OnceLock<Phrases> = OnceLock::new();
        STANDARD.get_or_init(|| {
            Phrases::parse(PHRASES)
                .expect("the built-in phrases are valid (checked by a unit test)")
        })
    }

    fn parse(text: &str) -> Result<Phrases, String> {
        let mut phrases = Phrases {
            problems: Category::ALL.iter().map(|_| Vec::new()).collect(),
            ..Phrases::default()
        };
        let mut places: HashMap<&str, Vec<String>> = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(" | ").map(str::trim).collect();
            phrases
                .record(&fields, &mut places)
                .map_err(|e| format!("phrases.txt line {}: {e}", number + 1))?;
        }
        for (name, list) in phrases.lists() {
            if list.is_empty() {
                return Err(format!("phrases.txt has no {name} list"));
            }
        }
        if let Some(category) = Category::ALL
            .iter()
            .zip(&phrases.problems)
            .find_map(|(c, p)| p.is_empty().then_some(c))
        {
            return Err(format!("phrases.txt has no problem of category {category}"));
        }
        Ok(phrases)
    }

    fn record<'t>(
        &mut self,
        fields: &[&'t str],
        places: &mut HashMap<&'t str, Vec<String>>,
    ) -> Result<(), String> {
        let place = |name: &str| match name {
            "home" => Ok(Place::Home),
            name => places
                .get(name)
                .map(|list| Place::Shared(list.clone()))
                .ok_or_else(|| format!("no place named {name} (define it above)")),
        };
        match fields {
            ["place", name, list] => {
                places.insert(*name, items(list)?);
            }
            [
                kind @ ("fault" | "wish"),
                category,
                season,
                at,
                subjects,
                symptoms,
            ] => {
                let category: Category = category.parse().map_err(|e| format!("{e}"))?;
                let season = match *season {
                    "any" => Season::Any,
                    "cold" => Season::Cold,
                    "hot" => Season::Hot,
                    other => return Err(format!("'{other}' is not one of: any cold hot")),
                };
                let index = Category::ALL.iter().position(|c| *c == category);
                self.problems[index.unwrap_or_default()].push(Problem {
                    season,
                    place: place(at)?,
                    subjects: items(subjects)?,
                    symptoms: items(symptoms)?,
                    ongoing: *kind == "fault",
                });
            }
            ["english", at, text] => self.english.push(((*text).to_owned(), place(at)?)),
            [name, list] => {
                let Some((_, words)) = self.lists_mut().into_iter().find(|(n, _)| n == name) else {
                    return Err(format!("not a record: {}", fields.join(" | ")));
                };
                *words = items(list)?;
            }
            _ => return Err(format!("not a record: {}", fields.join(" | "))),
        }
        Ok(())
    }

    /// The lists of words, by the name `phrases.txt` gives them.
    fn lists(&self) -> [(&'static str, &Vec<String>); 7] {
        [
            ("greeting", &self.greeting),
            ("since", &self.since),
            ("detail", &self.detail),
            ("closing", &self.closing),
            ("unhurried", &self.unhurried),
            ("surname", &self.surname),
            ("syllable", &self.syllable),
        ]
    }

    fn lists_mut(&mut self) -> [(&'static str, &mut Vec<String>); 7] {
        [
            ("greeting", &mut self.greeting),
            ("since", &mut self.since),
            ("detail", &mut self.detail),
            ("closing", &mut self.closing),
            ("unhurried", &mut self.unhurried),
            ("surname", &mut self.surname),
            ("syllable", &mut self.syllable),
        ]
    }
}

/// The items of a "; "-separated list; none may be empty.
fn items(list: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = list.split(';').map(|i| i.trim().to_owned()).collect();
    if items.iter().any(String::is_empty) {
        return Err(format!("an empty item in '{list}'"));
    }
    Ok(items)
}

/// One of `items`, as text.
fn word<'a>(rng: &mut Rng, items: &'a [String]) -> &'a str {
    rng.pick::<String>(items)
}

/// A description and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub description: String,
    pub location: Option<String>,
}

/// What a resident living at `home` writes in `month` (1 to 12).
pub fn write(rng: &mut Rng, home: &str, month: u32) -> Written {
    let phrases = Phrases::standard();
    if rng.chance(0.04) {
        let (text, place) = rng.pick(&phrases.english);
        return Written {
            description: text.clone(),
            location: locate(rng, place, home),
        };
    }
    let category = pick_category(rng, month);
    let index = Category::ALL.iter().position(|c| *c == category);
    let problems = &phrases.problems[index.unwrap_or_default()];
    let season = season(month);
    // Every category has problems of every season (checked by a unit test).
    let problem = loop {
        let candidate = rng.pick(problems);
        if candidate.season == Season::Any || candidate.season == season {
            break candidate;
        }
    };
    let mut text = String::with_capacity(160);
    if rng.chance(0.3) {
        text.push_str(&rng.pick(&phrases.greeting).replace("{home}", home));
        text.push(' ');
    }
    if problem.ongoing && rng.chance(0.45) {
        text.push_str(word(rng, &phrases.since));
        text.push(' ');
    }
    text.push_str(word(rng, &problem.subjects));
    text.push(' ');
    text.push_str(word(rng, &problem.symptoms));
    if rng.chance(0.35) {
        text.push(' ');
        text.push_str(word(rng, &phrases.detail));
    }
    if rng.chance(0.6) {
        text.push(' ');
        let closings = if rng.chance(0.15) {
            &phrases.unhurried
        } else {
            &phrases.closing
        };
        text.push_str(word(rng, closings));
    }
    Written {
        description: text,
        location: locate(rng, &problem.place, home),
    }
}

/// Which kind of problem a request is about: heating in the cold months, cooling in the hot.
fn pick_category(rng: &mut Rng, month: u32) -> Category {
    let hvac = match season(month) {
        Season::Cold => 0.26,
        Season::Hot => 0.22,
        Season::Any => 0.08,
    };
    let weights = [
        (Category::Plumbing, 0.25),
        (Category::Electrical, 0.19),
        (Category::Hvac, hvac),
        (Category::Structural, 0.17),
        (Category::Other, 0.21),
    ];
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    let mut draw = rng.unit() * total;
    for (category, weight) in weights {
        if draw < weight {
            return category;
        }
        draw -= weight;
    }
    Category::Other
}

fn season(month: u32) -> Season {
    match month {
        11 | 12 | 1 | 2 | 3 => Season::Cold,
        6..=9 => Season::Hot,
        _ => Season::Any,
    }
}

/// The location a resident gives: their home (now and then left out), or the shared place.
fn locate(rng: &mut Rng, place: &Place, home: &str) -> Option<String> {
    match place {
        Place::Home => (!rng.chance(0.08)).then(|| home.to_owned()),
        Place::Shared(places) => {
            let template = rng.pick(places);
            Some(fill(rng, template, home))
        }
    }
}

/// `template` with its building, floor and elevator filled in; the building is mostly the
/// resident's own.
fn fill(rng: &mut Rng, template: &str, home: &str) -> String {
    if !template.contains('{') {
        return template.to_owned();
    }
    let own = home.split_once('동').map(|(dong, _)| dong.to_owned());
    let dong = match own {
        Some(dong) if !rng.chance(0.2) => dong,
        _ => (101 + rng.below(12)).to_string(),
    };
    template
        .replace("{dong}", &dong)
        .replace("{floor}", &(1 + rng.below(25)).to_string())
        .replace("{car}", &(1 + rng.below(2)).to_string())
}

/// A home in the complex: twelve buildings of 25 floors, four units a floor.
pub fn home_of(rng: &mut Rng) -> String {
    format!(
        "{}동 {}{:02}호",
        101 + rng.below(12),
        1 + rng.below(25),
        1 + rng.below(4)
    )
}

/// A Korean name: a surname and two syllables.
pub fn name_of(rng: &mut Rng) -> String {
    let phrases = Phrases::standard();
    format!(
        "{}{}{}",
        rng.pick(&phrases.surname),
        rng.pick(&phrases.syllable),
        rng.pick(&phrases.syllable)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet};

    #[test]
    fn the_built_in_phrases_parse_and_every_category_has_problems_all_year() {
        let phrases = Phrases::parse(PHRASES).unwrap();
        for (category, problems) in Category::ALL.iter().zip(&phrases.problems) {
            for season in [Season::Cold, Season::Hot, Season::Any] {
                assert!(
                    problems
                        .iter()
                        .any(|p| p.season == Season::Any || p.season == season),
                    "{category} has nothing for {season:?}"
                );
            }
        }
        assert!(Phrases::parse("fault | plumbing | any | nowhere | a | b").is_err());
        assert!(Phrases::parse("fault | plumbing | spring | home | a | b").is_err());
        assert!(Phrases::parse("greeting | ; hello").is_err());
    }

    #[test]
    fn descriptions_vary_and_every_category_and_priority_comes_up() {
        let mut texts = HashSet::new();
        let mut categories = BTreeMap::new();
        let mut priorities = BTreeMap::new();
        for index in 0..5_000u64 {
            let mut rng = Rng::for_item(9, index);
            let written = write(&mut rng, "101동 1203호", 1 + (index % 12) as u32);
            let verdict = crate::classify::offline(&written.description);
            *categories.entry(verdict.category).or_insert(0) += 1;
            *priorities.entry(verdict.priority).or_insert(0) += 1;
            texts.insert(written.description);
        }
        assert!(
            texts.len() > 3_500,
            "only {} different descriptions",
            texts.len()
        );
        assert_eq!(categories.len(), Category::ALL.len(), "{categories:?}");
        assert_eq!(priorities.len(), 3, "{priorities:?}");
    }

    /// The phrases say what their category is about: the offline classifier agrees with the
    /// category they are filed under for most of them.
    #[test]
    fn every_problem_reads_as_its_category_most_of_the_time() {
        let phrases = Phrases::standard();
        for (category, problems) in Category::ALL.iter().zip(&phrases.problems) {
            let (mut right, mut total) = (0, 0);
            for problem in problems {
                for subject in &problem.subjects {
                    for symptom in &problem.symptoms {
                        let text = format!("{subject} {symptom}");
                        total += 1;
                        right += usize::from(crate::classify::offline(&text).category == *category);
                    }
                }
            }
            assert!(right * 10 >= total * 8, "{category}: {right} of {total}");
        }
    }

    #[test]
    fn locations_name_a_home_or_a_shared_place_with_nothing_left_to_fill() {
        for index in 0..2_000u64 {
            let mut rng = Rng::for_item(3, index);
            let home = home_of(&mut rng);
            assert!(home.ends_with('호') && home.contains("동 "), "{home}");
            let written = write(&mut rng, &home, 7);
            if let Some(location) = written.location {
                assert!(!location.contains('{'), "{location}");
            }
            assert!(
                !written.description.contains('{'),
                "{}",
                written.description
            );
        }
    }
}

use super::*;
use crate::classify::eval::{Report, read_labelled};
use Category::*;
use Priority::*;

fn check(cases: &[(&str, Category, Priority)]) {
    let classifier = OfflineClassifier::standard();
    let mut failures = Vec::new();
    for (text, category, priority) in cases {
        let verdict = classifier.classify(text);
        if (verdict.category, verdict.priority) != (*category, *priority) {
            failures.push(format!(
                "{text}\n    expected {category}/{priority}, got {}/{} [{}]",
                verdict.category, verdict.priority, verdict.reason
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_contract_examples() {
    check(&[
        ("수도꼭지에서 물이 샙니다", Plumbing, High),
        ("전등이 깜빡입니다", Electrical, Medium),
        ("엘리베이터가 멈췄어요", Other, High),
    ]);
}

#[test]
fn words_that_merely_contain_a_keyword_do_not_count() {
    check(&[
        ("건물 로비 전등이 깜빡여요", Electrical, Medium),
        ("문의드립니다. 관리비 고지서가 안 왔어요", Other, Low),
        (
            "물건을 옮기다가 벽지가 찢어졌어요. 나중에 도배해 주세요",
            Structural,
            Low,
        ),
        ("건물 외벽 도색 일정 문의드려요", Structural, Low),
        ("택배 문자가 왔는데 택배함 문이 안 열려요", Other, Medium),
        (
            "새벽마다 윗집에서 쿵쿵거려요. 층간소음 때문에 잠을 못 자요",
            Other,
            Medium,
        ),
        ("욕실 하수구에서 냄새가 올라와요", Plumbing, Medium),
    ]);
}

#[test]
fn the_failing_thing_decides_not_where_the_symptom_shows() {
    check(&[
        ("바닥 난방이 안 돼요. 거실 바닥이 차가워요", Hvac, High),
        ("욕실 타일이 깨졌어요", Structural, Medium),
        ("천장에서 물이 떨어져요 (윗집 배관)", Plumbing, High),
        ("비 올 때마다 창틀로 물이 새요", Structural, High),
        (
            "벽걸이 에어컨에서 물이 뚝뚝 떨어져서 마루가 젖고 있어요",
            Hvac,
            High,
        ),
        ("거실 마루가 들떠서 밟으면 꺼져요", Structural, Medium),
        (
            "옥상 방수층이 벗겨져서 비만 오면 천장으로 물이 새요",
            Structural,
            High,
        ),
    ]);
}

#[test]
fn the_boiler_is_hvac_even_for_hot_water_and_a_water_heater_is_plumbing() {
    check(&[
        (
            "보일러 온수가 안 나와요. 난방은 되는데 사흘째 찬물로 씻고 있어요",
            Hvac,
            High,
        ),
        ("보일러 온수 온도가 들쭉날쭉해요", Hvac, Medium),
        ("보일러가 안 켜져요. 집이 너무 추워요", Hvac, High),
        ("싱크대 밑 전기 온수기가 물을 안 데워요", Plumbing, Medium),
        ("온수기 아래로 물이 계속 새고 있어요", Plumbing, High),
    ]);
}

#[test]
fn calm_words_on_a_dangerous_matter_are_still_high() {
    check(&[
        ("콘센트에서 타는 냄새가 좀 나요", Electrical, High),
        (
            "별일 아니겠지만 현관 쪽에서 가스 냄새가 살짝 나는 것 같아요",
            Other,
            High,
        ),
        ("거실 콘센트에서 불꽃이 튀었어요", Electrical, High),
        ("화장실 콘센트에 플러그 꽂다가 찌릿했어요", Electrical, High),
        (
            "The outlet next to my desk smells like burning plastic",
            Electrical,
            High,
        ),
        (
            "Smells like gas near the stairwell, not sure if it's serious",
            Other,
            High,
        ),
    ]);
}

#[test]
fn urgent_words_on_a_cosmetic_matter_are_not_high() {
    check(&[
        ("긴급!! 현관문 페인트가 조금 벗겨졌어요", Structural, Low),
        (
            "긴급!!! 엘리베이터 거울에 낙서 있어요 빨리 지워주세요",
            Other,
            Low,
        ),
        ("급해요!!! 에어컨 커버에 누런 얼룩이 생겼어요", Hvac, Low),
        (
            "긴급!!! 베란다 전구 하나 나갔어요 빨리 와주세요",
            Electrical,
            Medium,
        ),
    ]);
}

#[test]
fn safety_rules_always_raise_priority() {
    check(&[
        (
            "주방 싱크대 배관에서 물이 새요. 급한 건 아니에요",
            Plumbing,
            High,
        ),
        (
            "주방 배수구로 하수가 역류해서 바닥이 흥건해요",
            Plumbing,
            High,
        ),
        ("엘리베이터에 사람이 갇혔어요", Other, High),
        ("난방이 안 돼요. 밖은 영하예요", Hvac, High),
        ("화재경보기가 이유 없이 계속 울려요", Other, High),
        ("소화기가 없어졌어요", Other, High),
        ("아침부터 물이 아예 안 나와요", Plumbing, High),
        ("집 전체 전기가 나갔어요", Electrical, High),
        (
            "공동현관 자동문이 열린 채로 안 닫혀요. 외부인이 들어올 수 있어요",
            Structural,
            High,
        ),
        (
            "No water in the 6th floor restrooms since this morning",
            Plumbing,
            High,
        ),
        (
            "Heating has been off for two days and it is below zero outside",
            Hvac,
            High,
        ),
        (
            "The elevator is stuck on the 4th floor with someone inside",
            Other,
            High,
        ),
    ]);
}

#[test]
fn ordinary_and_can_wait_requests() {
    check(&[
        ("세면대 물이 천천히 빠져요", Plumbing, Medium),
        ("방문 경첩에서 끼익 소리가 나요", Structural, Low),
        (
            "거실 벽에 가는 금이 있어요. 시간 되실 때 봐주세요",
            Structural,
            Low,
        ),
        ("환풍기가 멈춰 있어요", Hvac, Medium),
        ("Bathroom exhaust fan doesn't turn on at all", Hvac, Medium),
        (
            "Could we get an extra outlet in the meeting room? No rush",
            Electrical,
            Low,
        ),
        ("냉장고 냉장실이 시원하지 않아요", Other, Medium),
        ("윗집 층간소음이 너무 심해요", Other, Medium),
    ]);
}

#[test]
fn negations_do_not_raise_priority() {
    check(&[
        (
            "지난 장마 때 생긴 천장 얼룩이 있어요. 지금은 물도 안 새요. 도배만 나중에 해주세요",
            Structural,
            Low,
        ),
        (
            "창틀 실리콘에 곰팡이가 폈어요. 물은 안 새요",
            Structural,
            Medium,
        ),
    ]);
}

#[test]
fn the_lexicon_compiles_and_english_needs_whole_words() {
    let classifier = OfflineClassifier::standard();
    // "ants" inside "pants" or "heat" inside "theater" must not count.
    let verdict = classifier.classify("pants theater");
    assert_eq!(verdict.confidence, 0.3, "{verdict:?}");
    assert!(OfflineClassifier::from_lexicon("[bogus 3] x").is_err());
    assert!(OfflineClassifier::from_lexicon("[cue:nothing] x").is_err());
}

#[test]
fn it_is_deterministic_and_explains_itself() {
    let a = OfflineClassifier::standard().classify("보일러가 고장났어요");
    let b = OfflineClassifier::standard().classify("보일러가 고장났어요");
    assert_eq!(a, b);
    assert!(a.reason.contains("보일러"), "{}", a.reason);
    assert!((0.0..=1.0).contains(&a.confidence));
}

fn accuracy_on(jsonl: &str) -> Report {
    let samples = read_labelled(jsonl).expect("labelled data parses");
    let classifier = OfflineClassifier::standard();
    Report::measure(&samples, |text| {
        let v = classifier.classify(text);
        (v.category, v.priority)
    })
}

/// The blind hold-out set was written by someone who never saw the lexicon.
#[test]
fn accuracy_on_the_blind_hold_out_meets_the_target() {
    let report = accuracy_on(include_str!("../../../data/holdout/holdout-c.jsonl"));
    assert!(report.category_accuracy() >= 93.0, "{}", report.render());
    assert!(report.priority_accuracy() >= 85.0, "{}", report.render());
}

/// Pair words over and over with no pair completed: every occurrence is a candidate, none holds.
fn crafted(chars: usize) -> (String, String) {
    let korean = "엘리베이터보일러전기가스난방물"
        .chars()
        .cycle()
        .take(chars)
        .collect();
    let english: String = " elevator boiler power gas heating water"
        .chars()
        .cycle()
        .take(chars)
        .collect();
    (korean, english_words(&english))
}

#[test]
fn the_pair_rules_take_work_linear_in_the_text() {
    let classifier = OfflineClassifier::standard();
    let steps = |chars: usize| {
        let (korean, english) = crafted(chars);
        classifier.korean_pairs.cues_counting(&korean).1
            + classifier.english_pairs.cues_counting(&english).1
    };
    let (short, long) = (steps(1_000), steps(5_000));
    assert!(
        short > 1_000,
        "the crafted text exercises the pairs: {short} steps"
    );
    assert!(
        long <= short * 6,
        "5 times the text took {long} steps against {short}: more than linear"
    );
}

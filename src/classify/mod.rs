//! Classification of a request's description into a category and a priority.
//!
//! For now a small offline keyword rule decides at submission; the dedicated
//! classifier and the LLM refinement queue replace [`provisional`] later.

pub mod llm;
use crate::taxonomy::{Category, Priority};

/// What a classifier decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub category: Category,
    pub priority: Priority,
}

const CATEGORY_TERMS: &[(Category, &[&str])] = &[
    (
        Category::Electrical,
        &[
            "전기",
            "전등",
            "조명",
            "형광등",
            "콘센트",
            "차단기",
            "누전",
            "정전",
            "스위치",
            "light",
            "outlet",
            "power",
        ],
    ),
    (
        Category::Hvac,
        &[
            "보일러",
            "난방",
            "에어컨",
            "냉방",
            "환풍기",
            "환기",
            "온도",
            "heating",
            "boiler",
            "air con",
        ],
    ),
    (
        Category::Plumbing,
        &[
            "수도",
            "배관",
            "변기",
            "싱크대",
            "세면대",
            "하수구",
            "배수구",
            "누수",
            "온수기",
            "물이",
            "leak",
            "toilet",
            "pipe",
            "drain",
        ],
    ),
    (
        Category::Structural,
        &[
            "벽",
            "천장",
            "균열",
            "현관문",
            "도어락",
            "창문",
            "방충망",
            "계단",
            "타일",
            "window",
            "door",
            "crack",
        ],
    ),
];

const URGENT_TERMS: &[&str] = &[
    "가스",
    "불꽃",
    "타는",
    "연기",
    "갇혔",
    "멈췄",
    "새요",
    "샙니다",
    "넘쳐",
    "역류",
    "안 나와",
    "정전",
    "gas",
    "spark",
    "flood",
    "trapped",
];
const CAN_WAIT_TERMS: &[&str] = &[
    "시간 되실 때",
    "천천히",
    "나중에",
    "급하지",
    "when you have time",
];

/// The immediate offline classification given at submission.
pub fn provisional(description: &str) -> Classification {
    let text = description.to_lowercase();
    let category = CATEGORY_TERMS
        .iter()
        .find(|(_, terms)| terms.iter().any(|t| text.contains(t)))
        .map_or(Category::Other, |(category, _)| *category);
    let priority = if URGENT_TERMS.iter().any(|t| text.contains(t)) {
        Priority::High
    } else if CAN_WAIT_TERMS.iter().any(|t| text.contains(t)) {
        Priority::Low
    } else {
        Priority::Medium
    };
    Classification { category, priority }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_examples_are_classified() {
        let cases = [
            (
                "수도꼭지에서 물이 샙니다",
                Category::Plumbing,
                Priority::High,
            ),
            ("전등이 깜빡입니다", Category::Electrical, Priority::Medium),
            ("엘리베이터가 멈췄어요", Category::Other, Priority::High),
        ];
        for (text, category, priority) in cases {
            assert_eq!(
                provisional(text),
                Classification { category, priority },
                "{text}"
            );
        }
    }
}

//! Small SVG charts drawn on the server: no script, no library, readable without colour alone
//! (every bar carries its number).

use std::fmt::Write;

/// Text for SVG markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// About how wide `text` is at 13px: Hangul and other wide letters take a full em, the rest
/// a little over half of one.
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| if c.len_utf8() >= 3 { 13.0 } else { 7.5 })
        .sum()
}

/// A horizontal bar chart of labelled counts. The bars start after the longest label (at 70
/// at least) and the longest bar is at most 180 wide.
pub fn bars(title: &str, id: &str, rows: &[(&str, String, u64)]) -> String {
    let max = rows.iter().map(|(_, _, n)| *n).max().unwrap_or(0).max(1);
    let start = rows
        .iter()
        .map(|(_, label, _)| (text_width(label) + 8.0).ceil())
        .fold(70.0, f64::max);
    let longest = (320.0 - start - 44.0).clamp(60.0, 180.0);
    let row_height = 28;
    let height = rows.len() * row_height + 36;
    let title = escape(title);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 320 {height}" role="img" aria-labelledby="{id}-title" id="{id}"><title id="{id}-title">{title}</title>"#
    );
    let _ = write!(
        svg,
        r##"<text x="0" y="16" font-size="14" font-weight="600" fill="#1f2937">{title}</text>"##
    );
    for (i, (key, label, count)) in rows.iter().enumerate() {
        let y = 30 + i * row_height;
        let width = (*count as f64 / max as f64 * longest).round();
        let label = escape(label);
        let _ = write!(
            svg,
            r##"<text x="0" y="{}" font-size="13" fill="#374151">{label}</text><rect data-key="{key}" x="{start}" y="{}" width="{width}" height="18" rx="3" fill="#2563eb"/><text x="{}" y="{}" font-size="13" fill="#111827" data-count-for="{key}">{count}</text>"##,
            y + 14,
            y,
            start + 6.0 + width,
            y + 14
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Requests per day as columns, oldest on the left; `count` words a day's number for its
/// tooltip ("3건", "3 requests").
pub fn per_day(title: &str, days: &[(String, u64)], count: impl Fn(u64) -> String) -> String {
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (width, height, base) = (320.0, 150.0, 120.0);
    let column = width / days.len().max(1) as f64;
    let mut svg = String::new();
    let title = escape(title);
    let _ = write!(
        svg,
        r##"<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="per-day-title" id="chart-per-day"><title id="per-day-title">{title}</title><text x="0" y="16" font-size="14" font-weight="600" fill="#1f2937">{title}</text>"##
    );
    for (i, (day, n)) in days.iter().enumerate() {
        let bar = (*n as f64 / max as f64 * 90.0).round();
        let words = escape(&count(*n));
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bar}" fill="#2563eb"><title>{day}: {words}</title></rect>"##,
            i as f64 * column + 1.0,
            base - bar,
            (column - 2.0).max(1.0)
        );
    }
    if let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) {
        let _ = write!(
            svg,
            r##"<text x="0" y="140" font-size="12" fill="#374151">{first}</text><text x="{width}" y="140" font-size="12" fill="#374151" text-anchor="end">{last}</text>"##
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_and_labelled() {
        let svg = bars(
            "분류별",
            "chart-category",
            &[
                ("electrical", "전기".to_owned(), 2),
                ("plumbing", "배관".to_owned(), 4),
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(
            svg.contains(r#"data-key="electrical" x="70" y="30" width="90""#),
            "{svg}"
        );
        assert!(svg.contains(r#"width="180""#));
        assert!(svg.contains(">전기<") && svg.contains(r#"data-count-for="plumbing">4<"#));
    }

    #[test]
    fn long_labels_push_the_bars_right_and_are_escaped() {
        let svg = bars(
            "By category",
            "chart-category",
            &[
                ("hvac", "Heating & cooling".to_owned(), 3),
                ("other", "Other".to_owned(), 1),
            ],
        );
        assert!(svg.contains(">Heating &amp; cooling<"), "{svg}");
        // 17 letters: the bars start past the label, and still fit the 320-wide chart.
        assert!(
            svg.contains(r#"data-key="hvac" x="136" y="30" width="140""#),
            "{svg}"
        );
    }

    #[test]
    fn an_empty_period_draws_without_dividing_by_zero() {
        let days: Vec<(String, u64)> = (1..=30).map(|d| (format!("2026-11-{d:02}"), 0)).collect();
        let svg = per_day("최근 30일", &days, |n| format!("{n}건"));
        assert_eq!(svg.matches("<rect").count(), 30);
        assert!(!svg.contains("NaN"));
    }
}

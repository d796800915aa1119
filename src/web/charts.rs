//! Small SVG charts drawn on the server: no script, no library, readable without colour alone
//! (every bar carries its number).

use std::fmt::Write;

/// A horizontal bar chart of labelled counts.
pub fn bars(title: &str, id: &str, rows: &[(&str, &str, u64)]) -> String {
    let max = rows.iter().map(|(_, _, n)| *n).max().unwrap_or(0).max(1);
    let row_height = 28;
    let height = rows.len() * row_height + 36;
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
        let width = (*count as f64 / max as f64 * 180.0).round();
        let _ = write!(
            svg,
            r##"<text x="0" y="{}" font-size="13" fill="#374151">{label}</text><rect data-key="{key}" x="70" y="{}" width="{width}" height="18" rx="3" fill="#2563eb"/><text x="{}" y="{}" font-size="13" fill="#111827" data-count-for="{key}">{count}</text>"##,
            y + 14,
            y,
            76.0 + width,
            y + 14
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Requests per day as columns, oldest on the left.
pub fn per_day(title: &str, days: &[(String, u64)]) -> String {
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (width, height, base) = (320.0, 150.0, 120.0);
    let column = width / days.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="per-day-title" id="chart-per-day"><title id="per-day-title">{title}</title><text x="0" y="16" font-size="14" font-weight="600" fill="#1f2937">{title}</text>"##
    );
    for (i, (day, count)) in days.iter().enumerate() {
        let bar = (*count as f64 / max as f64 * 90.0).round();
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bar}" fill="#2563eb"><title>{day}: {count}건</title></rect>"##,
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
            &[("electrical", "전기", 2), ("plumbing", "배관", 4)],
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
    fn an_empty_period_draws_without_dividing_by_zero() {
        let days: Vec<(String, u64)> = (1..=30).map(|d| (format!("2026-11-{d:02}"), 0)).collect();
        let svg = per_day("최근 30일", &days);
        assert_eq!(svg.matches("<rect").count(), 30);
        assert!(!svg.contains("NaN"));
    }
}

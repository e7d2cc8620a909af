//! How runtime records are shown to people: instants, durations, run and step
//! statuses, indented JSON and aligned tables.
//!
//! `flowc runs`, `flowc run` and `flowc secrets` print the same things (a run's
//! status, when something happened, how long it took), so they print them through
//! one set of helpers. Nothing here decides about colour: styles are written through
//! anstream, which drops them when colour is off (`--color`, `NO_COLOR`, a pipe).

use anstyle::{AnsiColor, Style};
use flowc_compiler::value::format_time_rfc3339;
use std::fmt::Write as _;

/// Green: a run or step that succeeded.
pub const GOOD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
/// Red: a run or step that failed.
pub const BAD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
/// Yellow: a run or step still under way.
pub const BUSY: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
/// Dim: cancelled runs and secondary text.
pub const DIM: Style = Style::new().dimmed();

/// The style of a run or step status word (`succeeded`, `failed`, `running`, …).
pub fn status_style(status: &str) -> Style {
    match status {
        "succeeded" => GOOD,
        "failed" => BAD,
        "cancelled" => DIM,
        "pending" | "running" | "waiting" | "started" => BUSY,
        _ => Style::new(),
    }
}

/// An instant (milliseconds since the epoch) as RFC 3339 in UTC.
pub fn instant(millis: i64) -> String {
    format_time_rfc3339(millis)
}

/// How long ago `then` was, seen from `now`: `just now`, `42s ago`, `5m ago`,
/// `3h ago`, `2d ago`. A time in the future (clocks of two machines) reads `just
/// now` rather than something negative.
pub fn ago(then: i64, now: i64) -> String {
    let seconds = now.saturating_sub(then) / 1000;
    match seconds {
        ..=1 => "just now".to_owned(),
        2..=59 => format!("{seconds}s ago"),
        60..=3599 => format!("{}m ago", seconds / 60),
        3600..=86_399 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

/// A duration for people, rounded to what matters at its size: `830ms`, `1.25s`,
/// `42s`, `3m 05s`, `2h 10m`, `3d 4h`.
pub fn duration(millis: i64) -> String {
    let millis = millis.max(0);
    if millis < 1000 {
        return format!("{millis}ms");
    }
    if millis < 10_000 {
        return format!("{}.{:02}s", millis / 1000, (millis % 1000) / 10);
    }
    let seconds = millis / 1000;
    if seconds < 60 {
        return format!("{seconds}s");
    }
    if seconds < 3600 {
        return format!("{}m {:02}s", seconds / 60, seconds % 60);
    }
    if seconds < 86_400 {
        return format!("{}h {:02}m", seconds / 3600, (seconds % 3600) / 60);
    }
    format!("{}d {}h", seconds / 86_400, (seconds % 86_400) / 3600)
}

/// `value` as indented JSON with every line shifted right by `indent` spaces, so
/// it sits under a label.
pub fn json_block(value: &serde_json::Value, indent: usize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for (index, line) in text.lines().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line);
    }
    out
}

/// A table with a header row: columns are padded to their widest cell, measured
/// on the text without styles, and the last column is not padded.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<(String, Style)>>,
}

impl Table {
    pub fn new(header: Vec<&'static str>) -> Table {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row of styled cells, one per column.
    pub fn row(&mut self, cells: Vec<(String, Style)>) {
        self.rows.push(cells);
    }

    /// The table as lines, header first (bold), each ending in a newline.
    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self
            .header
            .iter()
            .map(|name| name.chars().count())
            .collect();
        for row in &self.rows {
            for (column, (text, _)) in row.iter().enumerate().take(columns) {
                widths[column] = widths[column].max(text.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<(String, Style)> = self
            .header
            .iter()
            .map(|name| ((*name).to_owned(), super::BOLD))
            .collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (column, (text, style)) in row.iter().enumerate().take(columns) {
                let last = column + 1 == columns;
                let pad = if last {
                    0
                } else {
                    widths[column] - text.chars().count() + 2
                };
                let _ = write!(line, "{style}{text}{style:#}{}", " ".repeat(pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_to_what_matters() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(830), "830ms");
        assert_eq!(duration(1250), "1.25s");
        assert_eq!(duration(42_400), "42s");
        assert_eq!(duration(185_000), "3m 05s");
        assert_eq!(duration(7_800_000), "2h 10m");
        assert_eq!(duration(-5), "0ms");
    }

    #[test]
    fn ages_are_relative_to_now() {
        assert_eq!(ago(10_000, 10_500), "just now");
        assert_eq!(ago(0, 42_000), "42s ago");
        assert_eq!(ago(0, 300_000), "5m ago");
        assert_eq!(ago(0, 2 * 86_400_000), "2d ago");
        assert_eq!(ago(5_000, 0), "just now");
    }

    #[test]
    fn tables_pad_every_column_but_the_last() {
        let mut table = Table::new(vec!["ID", "STATUS"]);
        table.row(vec![
            ("abc".into(), Style::new()),
            ("ok".into(), Style::new()),
        ]);
        let plain: String = table
            .render()
            .replace("\u{1b}[1m", "")
            .replace("\u{1b}[0m", "");
        assert_eq!(plain, "ID   STATUS\nabc  ok\n");
    }

    #[test]
    fn json_blocks_are_indented_on_every_line() {
        let block = json_block(&serde_json::json!({"a": 1}), 4);
        assert_eq!(block, "    {\n      \"a\": 1\n    }");
    }
}

//! The four ways `flowc check` prints diagnostics: for people, for scripts (JSON),
//! for GitHub Actions (workflow commands) and for code-scanning tools (SARIF).
//!
//! The compiler reports byte spans only; this is the edge where they become lines
//! and columns (1-based, columns in Unicode code points, as editors and GitHub show
//! them). Each machine format is a set of `Serialize` structs, so its field order is
//! the declaration order and cannot drift. The JSON report lives in the compiler
//! ([`flowc_compiler::report`]), because the admin API answers a deploy with
//! compile errors with the same object; its schema is documented in `flowc check
//! --help` and versioned by its `version` field.

use clap::ValueEnum;
use flowc_compiler::diagnostic::Renderer;
use flowc_compiler::report;
use flowc_compiler::{Diagnostic, Label, Severity, Span, codes};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Diagnostics with source snippets, for people.
    Human,
    /// One versioned JSON object, for scripts (schema below).
    Json,
    /// GitHub Actions workflow commands, shown as annotations on a pull request.
    Github,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

/// One file that was checked, with what the compiler said about it.
pub use report::File as Checked;
/// A workflow of the checked program, for `--verbose` and the JSON `workflows`,
/// and an `on schedule` trigger with its next fire times.
pub use report::Workflow;

/// Everything one `flowc check` run prints on standard output.
pub struct Report<'a> {
    /// Every file of the program, in analysis order: a label's `file` indexes it.
    pub files: &'a [Checked],
    /// True exactly when the run exits with status 0.
    pub valid: bool,
    pub error_count: usize,
    pub warning_count: usize,
    /// Whether the human format may colour its snippets.
    pub color: bool,
    /// Written by the JSON format always, by the human one when `show_workflows`.
    pub workflows: &'a [Workflow],
    pub show_workflows: bool,
}

impl<'a> Report<'a> {
    /// The compiler's report of the same facts.
    fn shared(&self) -> report::Report<'a> {
        report::Report {
            files: self.files,
            valid: self.valid,
            error_count: self.error_count,
            warning_count: self.warning_count,
            workflows: self.workflows,
        }
    }

    /// The file a label of a diagnostic of `file` points into.
    fn label_file(&self, file: &'a Checked, label: &Label) -> &'a Checked {
        self.shared().label_file(file, label)
    }
}

pub fn write(format: Format, report: &Report, out: &mut impl Write) -> io::Result<()> {
    match format {
        Format::Human => human(report, out),
        Format::Json => json(report, out),
        Format::Github => github(report, out),
        Format::Sarif => sarif(report, out),
    }
}

// ------------------------------------------------------------------ human

fn human(report: &Report, out: &mut impl Write) -> io::Result<()> {
    for file in report.files {
        let renderer = Renderer::new(&file.path, &file.source, report.color);
        for diagnostic in &file.diagnostics {
            let text = renderer.render(diagnostic);
            out.write_all(text.as_bytes())?;
            // A blank line between diagnostics, as rustc prints them.
            writeln!(out)?;
        }
    }
    if report.show_workflows {
        workflows(report.workflows, out)?;
    }
    Ok(())
}

/// `--verbose`: each workflow's worst-case duration and its schedules' next fires.
///
/// ```text
/// workflow nightly (jobs.flow:3): at most 5m 30s
///   on schedule "30 2 * * *" tz "America/New_York", next 5 fire times:
///     2025-01-02T02:30:00-05:00
///     …
/// workflow each (jobs.flow:9): unbounded, because of the await `x` without a timeout
/// ```
fn workflows(workflows: &[Workflow], out: &mut impl Write) -> io::Result<()> {
    for workflow in workflows {
        let bound = match (workflow.bound_ms, &workflow.unbounded) {
            (Some(ms), _) => format!("at most {}", duration(ms)),
            (None, Some(why)) => format!("unbounded, because of {why}"),
            (None, None) => "unbounded".to_owned(),
        };
        writeln!(
            out,
            "workflow {} ({}:{}): {bound}",
            workflow.name, workflow.file, workflow.line
        )?;
        for schedule in &workflow.schedules {
            let times = match schedule.next.len() {
                0 => "never fires (see the diagnostics above)".to_owned(),
                1 => "next fire time:".to_owned(),
                n => format!("next {n} fire times:"),
            };
            writeln!(
                out,
                "  on schedule {:?} tz {:?}, {times}",
                schedule.cron, schedule.tz
            )?;
            for next in &schedule.next {
                writeln!(out, "    {next}")?;
            }
        }
    }
    Ok(())
}

/// `1d 2h`, `5m 30s`, `250ms`: a duration as Flow writes it.
fn duration(ms: i64) -> String {
    flowc_compiler::check::format_duration(ms.max(0))
}

// ------------------------------------------------------------------ json

/// `--format json`: the compiler's report, pretty-printed, and a newline.
fn json(report: &Report, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &report.shared().json())?;
    writeln!(out)
}

// ------------------------------------------------------------------ github

/// `::error file=…,line=…::message`, one line per diagnostic; see GitHub's
/// "Workflow commands for GitHub Actions".
fn github(report: &Report, out: &mut impl Write) -> io::Result<()> {
    for (file, diagnostic) in each_diagnostic(report) {
        let (start, end) = positions(file, diagnostic.span());
        writeln!(
            out,
            "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            diagnostic.severity.as_str(),
            escape_property(&file.path),
            start.line,
            start.column,
            end.line,
            end.column,
            escape_property(diagnostic.code.as_str()),
            escape_data(&full_message(diagnostic)),
        )?;
    }
    Ok(())
}

/// Escapes the message of a workflow command.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command, which also ends at `,` and `::`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

// ------------------------------------------------------------------ sarif

const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

#[derive(Serialize)]
struct Sarif<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    /// Our columns count code points, not UTF-16 units (SARIF's other choice).
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    short_description: Text,
    full_description: Text,
    help: Help,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: &'static str,
    markdown: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<Location<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message<'a>>,
}

#[derive(Serialize)]
struct Message<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
    byte_offset: u32,
    byte_length: u32,
}

fn sarif(report: &Report, out: &mut impl Write) -> io::Result<()> {
    // One rule per code that occurs, sorted by code; results point at them by index.
    let mut rule_index: BTreeMap<&'static str, usize> = each_diagnostic(report)
        .map(|(_, diagnostic)| (diagnostic.code.as_str(), 0))
        .collect();
    for (index, slot) in rule_index.values_mut().enumerate() {
        *slot = index;
    }
    let rules = rule_index.keys().map(|code| rule(code)).collect();

    let results = each_diagnostic(report)
        .map(|(file, diagnostic)| SarifResult {
            rule_id: diagnostic.code.as_str(),
            rule_index: rule_index
                .get(diagnostic.code.as_str())
                .copied()
                .unwrap_or_default(),
            level: match diagnostic.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            message: Text {
                text: full_message(diagnostic),
            },
            locations: vec![location(file, diagnostic.span(), None)],
            related_locations: diagnostic
                .labels
                .iter()
                .filter(|label| !label.primary)
                .map(|label| {
                    let in_file = report.label_file(file, label);
                    location(in_file, label.span, Some(label.message.as_str()))
                })
                .collect(),
        })
        .collect();

    let sarif = Sarif {
        schema: SARIF_SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "flowc",
                    version: env!("CARGO_PKG_VERSION"),
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &sarif)?;
    writeln!(out)
}

/// Where a span of a file is, in SARIF's terms.
fn location<'a>(file: &Checked, span: Span, message: Option<&'a str>) -> Location<'a> {
    let (start, end) = positions(file, span);
    Location {
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation {
                uri: uri(&file.path),
            },
            region: Region {
                start_line: start.line,
                start_column: start.column,
                end_line: end.line,
                end_column: end.column,
                byte_offset: start.byte,
                byte_length: end.byte.saturating_sub(start.byte),
            },
        },
        message: message.map(|text| Message { text }),
    }
}

/// The SARIF rule of a code, described by its `flowc explain` page.
fn rule(code: &'static str) -> Rule {
    match codes::explain(code) {
        Some(page) => Rule {
            id: code,
            short_description: Text {
                text: page.title.to_owned(),
            },
            full_description: Text {
                text: first_paragraph(page.text).unwrap_or_else(|| page.title.to_owned()),
            },
            help: Help {
                text: page.text,
                markdown: page.text,
            },
        },
        // Every code has a page (the compiler tests that); stay valid SARIF anyway.
        None => Rule {
            id: code,
            short_description: Text {
                text: code.to_owned(),
            },
            full_description: Text {
                text: code.to_owned(),
            },
            help: Help {
                text: "",
                markdown: "",
            },
        },
    }
}

/// The first paragraph of prose in a Markdown page, on one line.
fn first_paragraph(markdown: &str) -> Option<String> {
    markdown
        .split("\n\n")
        .map(str::trim)
        .find(|block| !block.is_empty() && !block.starts_with('#') && !block.starts_with("```"))
        .map(|block| block.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A relative URI reference for a path: `/` separators, and everything outside the
/// unreserved characters percent-encoded.
fn uri(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    for byte in path.replace('\\', "/").bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(char::from(byte));
            }
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

// ------------------------------------------------------------------ shared

fn each_diagnostic<'a>(
    report: &'a Report<'a>,
) -> impl Iterator<Item = (&'a Checked, &'a Diagnostic)> + 'a {
    report.shared().each_diagnostic()
}

fn positions(file: &Checked, span: Span) -> (report::Position, report::Position) {
    file.positions(span)
}

/// The message with its notes and help on lines of their own, for formats that
/// carry one text per diagnostic.
fn full_message(diagnostic: &Diagnostic) -> String {
    let mut text = diagnostic.message.clone();
    for note in &diagnostic.notes {
        text.push_str("\nnote: ");
        text.push_str(note);
    }
    if let Some(help) = &diagnostic.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escapes_data_and_properties() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%d\n"), "a%3Ab%2Cc%25d%0A");
    }

    #[test]
    fn uris_percent_encode_all_but_unreserved() {
        assert_eq!(uri("dir/my file.flow"), "dir/my%20file.flow");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
        assert_eq!(uri("a\\b.flow"), "a/b.flow");
        assert_eq!(uri("é.flow"), "%C3%A9.flow");
    }

    #[test]
    fn first_paragraph_skips_headings_and_code() {
        let page = "# E0001: title\n\n## What happened\n\nThe lexer met\na character.\n\nMore.";
        assert_eq!(
            first_paragraph(page).as_deref(),
            Some("The lexer met a character.")
        );
    }
}

//! The diagnostics report as data: what `flowc check --format json` prints and
//! what the admin API answers a deploy with compile errors.
//!
//! Both must give the same object for the same program, so the report is built and
//! serialised here, once, rather than in each front end. The compiler reports byte
//! spans only; this is where they become lines and columns (1-based, columns in
//! Unicode code points, as editors and GitHub show them). The JSON is a set of
//! `Serialize` structs, so its field order is the declaration order and cannot
//! drift; it is versioned by its `version` field and documented in `flowc check
//! --help`. The module is pure like the rest of the crate: fire times of schedules
//! are counted from a `now` the caller passes.

use crate::check::Bound;
use crate::eval::{Error as EvalError, Limits};
use crate::stdlib::{self, Host};
use crate::value::Value;
use crate::{Analysis, Diagnostic, FileId, Label, LineIndex, Severity, Span, cron};
use serde::Serialize;

/// The version of the JSON report. Adding a field keeps it; changing or removing
/// one bumps it.
pub const VERSION: u32 = 1;

/// How many next fire times are listed per schedule.
pub const NEXT_FIRES: usize = 5;

/// One file that was checked, with what the compiler said about it.
#[derive(Clone, Debug)]
pub struct File {
    /// The name to report it under: the path as found, or `<stdin>`.
    pub path: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
    lines: LineIndex,
}

impl File {
    pub fn new(path: String, source: String, diagnostics: Vec<Diagnostic>) -> File {
        let lines = LineIndex::new(&source);
        File {
            path,
            source,
            diagnostics,
            lines,
        }
    }

    /// The line, column and byte of a byte offset, clamped to the file.
    pub fn position(&self, byte: u32) -> Position {
        let byte = byte.min(u32::try_from(self.source.len()).unwrap_or(u32::MAX));
        let line_col = self.lines.line_col(&self.source, byte);
        Position {
            line: line_col.line,
            column: line_col.column,
            byte,
        }
    }

    /// Where a span starts and ends (an inverted span ends where it starts).
    pub fn positions(&self, span: Span) -> (Position, Position) {
        (
            self.position(span.start),
            self.position(span.end.max(span.start)),
        )
    }
}

/// A place in a file: 1-based line and column (code points), 0-based byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
    pub byte: u32,
}

/// A workflow of the checked program: its worst-case duration and schedules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workflow {
    pub name: String,
    /// The file it is declared in, as in [`File::path`].
    pub file: String,
    /// The line of its declaration.
    pub line: u32,
    /// Its worst-case duration, when it has one.
    pub bound_ms: Option<i64>,
    /// What makes it unbounded, when it is: "the await `x` without a timeout".
    pub unbounded: Option<String>,
    pub schedules: Vec<ScheduleTimes>,
}

/// An `on schedule` trigger and its next fire times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScheduleTimes {
    pub cron: String,
    pub tz: String,
    /// RFC 3339 with the zone's offset at that instant, earliest first.
    pub next: Vec<String>,
}

/// Everything the report says.
#[derive(Clone, Copy, Debug)]
pub struct Report<'a> {
    /// Every file of the program, in analysis order: a label's `file` indexes it.
    pub files: &'a [File],
    /// True exactly when the check passed (for `flowc check`, its exit status is 0).
    pub valid: bool,
    pub error_count: usize,
    pub warning_count: usize,
    pub workflows: &'a [Workflow],
}

impl<'a> Report<'a> {
    /// A report whose counts are those of the files' diagnostics and which is
    /// valid when none of them is an error.
    pub fn of(files: &'a [File], workflows: &'a [Workflow]) -> Report<'a> {
        let diagnostics = || files.iter().flat_map(|file| &file.diagnostics);
        let error_count = diagnostics().filter(|d| d.is_error()).count();
        let warning_count = diagnostics()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        Report {
            files,
            valid: error_count == 0,
            error_count,
            warning_count,
            workflows,
        }
    }

    /// The file a label of a diagnostic of `file` points into.
    pub fn label_file(&self, file: &'a File, label: &Label) -> &'a File {
        label
            .file
            .and_then(|id| self.files.get(id.0 as usize))
            .unwrap_or(file)
    }

    /// Every diagnostic with its file, in file order.
    pub fn each_diagnostic(self) -> impl Iterator<Item = (&'a File, &'a Diagnostic)> + 'a {
        self.files.iter().flat_map(|file| {
            file.diagnostics
                .iter()
                .map(move |diagnostic| (file, diagnostic))
        })
    }

    /// The JSON object, as a value that serialises in the documented field order.
    pub fn json(&self) -> Json<'a> {
        let diagnostics = self
            .each_diagnostic()
            .map(|(file, diagnostic)| {
                let (start, end) = file.positions(diagnostic.span());
                JsonDiagnostic {
                    file: &file.path,
                    code: diagnostic.code.as_str(),
                    severity: diagnostic.severity,
                    message: &diagnostic.message,
                    start,
                    end,
                    labels: diagnostic
                        .labels
                        .iter()
                        .map(|label| {
                            let in_file = self.label_file(file, label);
                            let (start, end) = in_file.positions(label.span);
                            JsonLabel {
                                message: &label.message,
                                primary: label.primary,
                                start,
                                end,
                                file: &in_file.path,
                            }
                        })
                        .collect(),
                    notes: &diagnostic.notes,
                    help: diagnostic.help.as_deref(),
                }
            })
            .collect();
        Json {
            version: VERSION,
            valid: self.valid,
            error_count: self.error_count,
            warning_count: self.warning_count,
            files: self.files.iter().map(|file| file.path.as_str()).collect(),
            diagnostics,
            workflows: self.workflows,
        }
    }

    /// The JSON text, pretty-printed, without a final newline.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&self.json()).unwrap_or_default()
    }
}

/// Version 1 of the JSON report.
#[derive(Debug, Serialize)]
pub struct Json<'a> {
    version: u32,
    valid: bool,
    error_count: usize,
    warning_count: usize,
    files: Vec<&'a str>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
    workflows: &'a [Workflow],
}

#[derive(Debug, Serialize)]
struct JsonDiagnostic<'a> {
    file: &'a str,
    code: &'static str,
    severity: Severity,
    message: &'a str,
    start: Position,
    end: Position,
    labels: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct JsonLabel<'a> {
    message: &'a str,
    primary: bool,
    start: Position,
    end: Position,
    /// The file the label is in: usually the diagnostic's, not always.
    file: &'a str,
}

/// The files of an analysis with their diagnostics, in the analysis's order.
pub fn files(analysis: &Analysis) -> Vec<File> {
    analysis
        .files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let id = FileId(u32::try_from(index).unwrap_or(u32::MAX));
            let diagnostics = analysis.diagnostics_of(id).cloned().collect();
            File::new(file.path.clone(), file.text.clone(), diagnostics)
        })
        .collect()
}

/// Each workflow's worst-case duration and the next fire times of its schedules,
/// counted from `now` (milliseconds since the Unix epoch).
pub fn workflows(analysis: &Analysis, now: i64) -> Vec<Workflow> {
    analysis
        .info
        .bounds
        .iter()
        .map(|bound| {
            let file = analysis.file(bound.file);
            let path = file.map(|file| file.path.clone()).unwrap_or_default();
            let line = file.map_or(1, |file| {
                file.lines.line_col(&file.text, bound.span.start).line
            });
            let schedules = analysis
                .info
                .schedules
                .iter()
                .filter(|schedule| schedule.workflow == bound.workflow)
                .map(|schedule| ScheduleTimes {
                    cron: schedule.cron.clone(),
                    tz: schedule.tz.clone(),
                    next: next_fires(&schedule.cron, &schedule.tz, now),
                })
                .collect();
            let (bound_ms, unbounded) = match &bound.bound {
                Bound::Millis(ms) => (Some(*ms), None),
                Bound::Unbounded(why) => (None, Some(why.clone())),
            };
            Workflow {
                name: bound.workflow.clone(),
                file: path,
                line,
                bound_ms,
                unbounded,
                schedules,
            }
        })
        .collect()
}

/// The next [`NEXT_FIRES`] fire times of a schedule after `now`, as RFC 3339 text
/// with the offset of the zone at that instant; fewer when the expression or the
/// zone is invalid (the checker has said why) or the schedule runs out.
pub fn next_fires(cron: &str, tz: &str, now: i64) -> Vec<String> {
    let Ok(schedule) = cron::parse(cron) else {
        return Vec::new();
    };
    let mut fires = Vec::with_capacity(NEXT_FIRES);
    let mut after = now;
    while fires.len() < NEXT_FIRES {
        let Some(next) = schedule.next_after(after, tz) else {
            break;
        };
        match local_time(next, tz) {
            Some(text) => fires.push(text),
            None => break,
        }
        after = next;
    }
    fires
}

/// An instant as `2025-03-30T01:00:00+00:00` in the zone `tz`, formatted by the
/// standard library's `format_time`, so that reports show times exactly as a
/// workflow would print them.
fn local_time(ms: i64, tz: &str) -> Option<String> {
    let format_time = stdlib::lookup("format_time")?;
    let mut host = PureHost {
        limits: Limits::default(),
    };
    let args = [
        Value::Time(ms),
        Value::string("%Y-%m-%dT%H:%M:%S%:z"),
        Value::string(tz),
    ];
    match (format_time.run)(&mut host, &args) {
        Ok(Value::String(text)) => Some(text.to_string()),
        _ => None,
    }
}

/// The host of a call to a pure built-in function: no lambdas, no clock.
struct PureHost {
    limits: Limits,
}

impl Host for PureHost {
    fn apply(&mut self, _arg: usize, _values: &[Value]) -> Result<Value, EvalError> {
        Ok(Value::Null)
    }

    fn now(&mut self) -> i64 {
        0
    }

    fn uuid(&mut self) -> String {
        String::new()
    }

    fn charge(&mut self, _steps: u64) -> Result<(), EvalError> {
        Ok(())
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoImports, SourceFile};

    fn analysis(text: &str) -> Analysis {
        crate::analyze(
            vec![SourceFile {
                path: "a.flow".into(),
                text: text.into(),
            }],
            &NoImports,
        )
    }

    #[test]
    fn a_program_with_an_error_is_invalid_and_positions_are_one_based() {
        let analysis = analysis("workflow w() {\n  let x: int = \"no\"\n}\n");
        let files = files(&analysis);
        let workflows = workflows(&analysis, 0);
        let report = Report::of(&files, &workflows);
        assert!(!report.valid);
        assert_eq!(report.error_count, 1);
        let json = serde_json::to_value(report.json()).expect("json");
        assert_eq!(json["version"], 1);
        assert_eq!(json["files"], serde_json::json!(["a.flow"]));
        assert_eq!(json["diagnostics"][0]["start"]["line"], 2);
        assert_eq!(json["workflows"][0]["name"], "w");
    }

    #[test]
    fn fields_keep_their_documented_order() {
        let analysis = analysis("workflow w() {}\n");
        let files = files(&analysis);
        let report = Report::of(&files, &[]);
        let text = report.to_json_string();
        let order = [
            "\"version\"",
            "\"valid\"",
            "\"error_count\"",
            "\"warning_count\"",
            "\"files\"",
            "\"diagnostics\"",
            "\"workflows\"",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|key| text.find(key).expect("key"))
            .collect();
        assert!(at.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    }
}

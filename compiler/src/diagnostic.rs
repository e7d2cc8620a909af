//! The one neutral diagnostic type every compiler stage reports with.
//!
//! Stages never print and never fail on user input: each returns its output plus a
//! `Vec<Diagnostic>`. A diagnostic holds byte spans only; lines, columns and UTF-16
//! positions are computed at the edges (the CLI's renderers, later the language
//! server) from a [`LineIndex`]. The human rendering with source snippets lives here
//! too, through ariadne, so that `check`, `eval` and the REPL show identical text.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;

/// A half-open byte range `start..end` into one source file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// The empty span at `offset`.
    pub fn at(offset: usize) -> Span {
        Span::new(offset, offset)
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start >= self.end
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl From<Range<usize>> for Span {
    fn from(range: Range<usize>) -> Span {
        Span::new(range.start, range.end)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A stable diagnostic code such as `E0201`: a letter and four digits. Every code has
/// a page under `compiler/diagnostics/`, shown by `flowc explain`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Code(pub &'static str);

impl Code {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A source file of a project, by its index in the analysis (`Analysis::files`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct FileId(pub u32);

/// A span with a message of its own. The primary label marks where the problem is;
/// secondary labels point at related places (the opening brace of an unclosed block).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
    /// The file the span is in, when it is not the diagnostic's own file (a webhook
    /// path claimed in two files). `None` means the diagnostic's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// Lower case, no trailing period: "expected `}`, found `step`".
    pub message: String,
    /// The primary label comes first.
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    /// What to write instead, when we can say.
    pub help: Option<String>,
    /// Edits that fix the problem, for editors' quick fixes. Not part of the JSON
    /// output: `help` already says the same to people.
    #[serde(skip)]
    pub suggestions: Vec<Suggestion>,
}

/// A machine-applicable fix: replace `span` (in the diagnostic's file) with
/// `replacement`. `message` titles the fix ("replace with `amount`").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub span: Span,
    pub replacement: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: vec![Label {
                span,
                message: String::new(),
                primary: true,
                file: None,
            }],
            notes: Vec::new(),
            help: None,
            suggestions: Vec::new(),
        }
    }

    pub fn warning(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    /// Sets the message of the primary label.
    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        if let Some(label) = self.labels.first_mut() {
            label.message = message.into();
        }
        self
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
            file: None,
        });
        self
    }

    /// A secondary label in another file of the project.
    pub fn with_secondary_in(
        mut self,
        file: FileId,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
            file: Some(file),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a fix that replaces `span` with `replacement`.
    pub fn with_suggestion(
        mut self,
        span: Span,
        replacement: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.suggestions.push(Suggestion {
            span,
            replacement: replacement.into(),
            message: message.into(),
        });
        self
    }

    /// The span of the primary label.
    pub fn span(&self) -> Span {
        self.labels
            .first()
            .map(|label| label.span)
            .unwrap_or_default()
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Line starts of one source text, to turn byte offsets into lines and columns.
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<u32>,
    len: u32,
}

/// A position for people: 1-based line, 1-based column counted in Unicode scalar
/// values (what editors and GitHub annotations show).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

impl LineIndex {
    pub fn new(source: &str) -> LineIndex {
        let mut line_starts = vec![0];
        for (offset, byte) in source.bytes().enumerate() {
            if byte == b'\n' {
                line_starts.push(u32::try_from(offset + 1).unwrap_or(u32::MAX));
            }
        }
        LineIndex {
            line_starts,
            len: u32::try_from(source.len()).unwrap_or(u32::MAX),
        }
    }

    /// The line and column of a byte offset; offsets past the end clamp to the end,
    /// offsets inside a multi-byte character count as that character.
    pub fn line_col(&self, source: &str, offset: u32) -> LineCol {
        let offset = offset.min(self.len);
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line] as usize;
        let mut end = offset as usize;
        while end > start && !source.is_char_boundary(end) {
            end -= 1;
        }
        let mut column = source
            .get(start..end)
            .map_or(0, |text| text.chars().count());
        // A byte-order mark is not a column anyone sees.
        if start == 0 && source.starts_with('\u{feff}') {
            column = column.saturating_sub(1);
        }
        LineCol {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

/// Renders one diagnostic as rustc-style text with source snippets. To render many
/// diagnostics of one file, make a [`Renderer`] once instead.
pub fn render(diagnostic: &Diagnostic, path: &str, source: &str, color: bool) -> String {
    Renderer::new(path, source, color).render(diagnostic)
}

/// Renders the diagnostics of one file; the file's line index is built once.
pub struct Renderer<'a> {
    path: &'a str,
    source: &'a str,
    lines: ariadne::Source<&'a str>,
    color: bool,
}

impl<'a> Renderer<'a> {
    pub fn new(path: &'a str, source: &'a str, color: bool) -> Renderer<'a> {
        Renderer {
            path,
            source,
            lines: ariadne::Source::from(source),
            color,
        }
    }

    /// Rustc-style text with source snippets, ending in a newline.
    pub fn render(&self, diagnostic: &Diagnostic) -> String {
        render_with(diagnostic, self.path, self.source, &self.lines, self.color)
    }
}

fn render_with(
    diagnostic: &Diagnostic,
    path: &str,
    source: &str,
    lines: &ariadne::Source<&str>,
    color: bool,
) -> String {
    use ariadne::{Config, IndexType, Label as AriadneLabel, Report, ReportKind};

    let kind = match diagnostic.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let clamp = |span: Span| {
        let len = source.len();
        let start = (span.start as usize).min(len);
        let end = (span.end as usize).clamp(start, len);
        start..end
    };
    let mut report = Report::build(kind, (path, clamp(diagnostic.span())))
        .with_config(
            Config::default()
                .with_index_type(IndexType::Byte)
                .with_color(color),
        )
        .with_code(diagnostic.code.as_str())
        .with_message(&diagnostic.message);
    // Labels in other files cannot be drawn on this file's snippet; the analysis
    // repeats their position in a note.
    for label in diagnostic
        .labels
        .iter()
        .filter(|label| label.file.is_none())
    {
        let mut built = AriadneLabel::new((path, clamp(label.span))).with_order(if label.primary {
            0
        } else {
            1
        });
        if !label.message.is_empty() {
            built = built.with_message(&label.message);
        }
        if color {
            let colour = if label.primary {
                match diagnostic.severity {
                    Severity::Error => ariadne::Color::Red,
                    Severity::Warning => ariadne::Color::Yellow,
                }
            } else {
                ariadne::Color::Blue
            };
            built = built.with_color(colour);
        }
        report = report.with_label(built);
    }
    for note in &diagnostic.notes {
        report = report.with_note(note);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    let mut out = Vec::new();
    let written = report.finish().write((path, lines), &mut out);
    match written {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        // Writing to a Vec cannot fail; fall back to one line rather than panic.
        Err(_) => format!(
            "{}[{}]: {}\n",
            diagnostic.severity.as_str(),
            diagnostic.code,
            diagnostic.message
        ),
    }
}

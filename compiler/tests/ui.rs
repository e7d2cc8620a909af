//! The UI tests: every `.flow` file under `tests/ui/` is one case of the language
//! reference, checked two ways.
//!
//! 1. **Inline expectations**, checked without snapshots. A comment line
//!    `// error[E0201]` says that a diagnostic with that code and severity starts on
//!    the next line that is neither blank nor a comment; `// error[E0201] 3:5` pins
//!    it to line 3, column 5 instead (for a diagnostic on a comment line or at the
//!    end of the file). The diagnostics a fixture produces must be exactly the ones
//!    it expects, one expectation each, so a fixture without expectations must
//!    produce none: that is how the programs under `good/` are checked.
//! 2. **A snapshot** per fixture, stored in `snapshots/` beside it: the source, each
//!    diagnostic as `flowc check` renders it, and for `good/` the tree as
//!    `syntax::pretty` prints it. Review changes with `cargo insta review`, or run
//!    with `INSTA_UPDATE=always` and read the diff.
//!
//! The directories are phases: `lex/` (E01xx), `parse/` (E02xx) and `good/`. One
//! test walks them all and reports every failing fixture at the end, rather than
//! stopping at the first. The models are Gleam's `test-package-compiler`, Typst's
//! `// Error:` annotations and ty's mdtest.

use flowc_compiler::diagnostic::{Diagnostic, LineIndex, Severity, render};
use flowc_compiler::syntax::{self, pretty};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The directory whose fixtures are valid programs: no expectations, no diagnostics,
/// and their tree in the snapshot.
const GOOD: &str = "good";

/// Code prefixes whose every documented code must be expected by some fixture.
const COVERED_PHASES: &[&str] = &["E01", "E02"];

#[test]
fn ui() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("ui");
    let mut fixtures = Vec::new();
    walk(&root, &mut fixtures);
    fixtures.sort();
    assert!(!fixtures.is_empty(), "no fixtures under {}", root.display());

    let mut failures = Vec::new();
    let mut expected_codes = BTreeSet::new();
    for path in &fixtures {
        let relative = relative(&root, path);
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(error) => {
                failures.push(format!("{relative}: cannot read: {error}"));
                continue;
            }
        };
        match check(&relative, &source) {
            Ok(codes) => expected_codes.extend(codes),
            Err(failure) => failures.push(failure),
        }
        let snapshot = catch_unwind(AssertUnwindSafe(|| assert_snapshot(&relative, &source)));
        if let Err(panic) = snapshot {
            failures.push(format!("{relative}: {}", panic_message(&panic)));
        }
    }

    for page in flowc_compiler::codes::all() {
        let covered = COVERED_PHASES
            .iter()
            .any(|phase| page.code.starts_with(phase));
        if covered && !expected_codes.contains(page.code) {
            failures.push(format!(
                "{}: no fixture expects this code; add one under tests/ui/",
                page.code
            ));
        }
    }
    failures.extend(orphan_snapshots(&root, &fixtures));

    assert!(
        failures.is_empty(),
        "{} of {} UI fixtures failed:\n\n{}\n",
        failures.len(),
        fixtures.len(),
        failures.join("\n\n")
    );
}

/// Checks a fixture's diagnostics against its expectations; returns the codes it
/// expects, or what went wrong.
fn check(relative: &str, source: &str) -> Result<Vec<&'static str>, String> {
    let good = is_good(relative);
    let expected = expectations(source).map_err(|error| format!("{relative}: {error}"))?;
    if good && !expected.is_empty() {
        return Err(format!(
            "{relative}: a fixture under {GOOD}/ must not expect diagnostics; move it"
        ));
    }
    if !good && expected.is_empty() {
        return Err(format!(
            "{relative}: a fixture outside {GOOD}/ must expect at least one diagnostic, \
             with a `// error[CODE]` line above it"
        ));
    }
    let actual: Vec<Actual> = syntax::parse(source)
        .diagnostics
        .iter()
        .map(|diagnostic| Actual::of(diagnostic, source))
        .collect();
    compare(relative, &expected, &actual)?;
    Ok(expected
        .iter()
        .filter_map(|expectation| code_of(&expectation.code))
        .collect())
}

/// Compares the fixture's snapshot: source, rendered diagnostics and, for `good/`,
/// the tree. Panics, as insta does, when it differs.
fn assert_snapshot(relative: &str, source: &str) {
    let parsed = syntax::parse(source);
    let mut snapshot = format!("--- source\n{}", with_newline(source));
    snapshot.push_str("--- diagnostics\n");
    for diagnostic in &parsed.diagnostics {
        snapshot.push_str(&with_newline(&render(diagnostic, relative, source, false)));
    }
    if is_good(relative) {
        snapshot.push_str("--- ast\n");
        snapshot.push_str(&pretty::module(&parsed.module));
    }
    let (directory, name) = match relative.rsplit_once('/') {
        Some((directory, file)) => (format!("ui/{directory}/snapshots"), file),
        None => ("ui/snapshots".to_string(), relative),
    };
    let name = name.trim_end_matches(".flow");
    insta::with_settings!({
        snapshot_path => directory,
        prepend_module_to_snapshot => false,
        description => relative,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, snapshot);
    });
}

fn is_good(relative: &str) -> bool {
    relative.starts_with(&format!("{GOOD}/"))
}

/// The registered code with this text, as the `'static` the coverage check keeps.
fn code_of(code: &str) -> Option<&'static str> {
    flowc_compiler::codes::explain(code).map(|page| page.code)
}

// ------------------------------------------------------------------ expectations

#[derive(Debug)]
struct Expected {
    severity: Severity,
    code: String,
    line: u32,
    /// Only when the expectation pins a column: `// error[E0201] 3:5`.
    column: Option<u32>,
}

#[derive(Debug)]
struct Actual {
    severity: Severity,
    code: String,
    line: u32,
    column: u32,
    message: String,
}

impl Actual {
    fn of(diagnostic: &Diagnostic, source: &str) -> Actual {
        let position = LineIndex::new(source).line_col(source, diagnostic.span().start);
        Actual {
            severity: diagnostic.severity,
            code: diagnostic.code.as_str().to_string(),
            line: position.line,
            column: position.column,
            message: diagnostic.message.clone(),
        }
    }

    fn matches(&self, expected: &Expected) -> bool {
        self.severity == expected.severity
            && self.code == expected.code
            && self.line == expected.line
            && expected.column.is_none_or(|column| column == self.column)
    }
}

/// Reads the `// error[CODE]` and `// warning[CODE]` lines of a fixture.
fn expectations(source: &str) -> Result<Vec<Expected>, String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(comment) = line.trim_start().strip_prefix("//") else {
            continue;
        };
        let comment = comment.trim();
        let (severity, rest) = if let Some(rest) = comment.strip_prefix("error[") {
            (Severity::Error, rest)
        } else if let Some(rest) = comment.strip_prefix("warning[") {
            (Severity::Warning, rest)
        } else {
            continue;
        };
        let number = index + 1;
        let malformed = || {
            format!(
                "line {number}: malformed expectation `{comment}`; write `// error[E0201]` or \
                 `// error[E0201] LINE:COLUMN`"
            )
        };
        let (code, position) = rest.split_once(']').ok_or_else(malformed)?;
        let position = position.trim();
        let (line, column) = if position.is_empty() {
            let target = lines
                .iter()
                .enumerate()
                .skip(index + 1)
                .find(|(_, line)| {
                    let line = line.trim();
                    !line.is_empty() && !line.starts_with("//")
                })
                .map(|(target, _)| target + 1)
                .ok_or_else(|| format!("line {number}: no line of code follows `{comment}`"))?;
            (target, None)
        } else {
            let (line, column) = position.split_once(':').ok_or_else(malformed)?;
            let line = line.parse().map_err(|_| malformed())?;
            let column = column.parse().map_err(|_| malformed())?;
            (line, Some(column))
        };
        found.push(Expected {
            severity,
            code: code.to_string(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column,
        });
    }
    Ok(found)
}

/// Pairs each diagnostic with one expectation, pinned columns first; whatever is
/// left over on either side is the failure.
fn compare(relative: &str, expected: &[Expected], actual: &[Actual]) -> Result<(), String> {
    let mut unmatched: Vec<&Actual> = actual.iter().collect();
    let mut missing = Vec::new();
    let mut ordered: Vec<&Expected> = expected.iter().collect();
    ordered.sort_by_key(|expectation| expectation.column.is_none());
    for expectation in ordered {
        match unmatched
            .iter()
            .position(|actual| actual.matches(expectation))
        {
            Some(index) => {
                unmatched.remove(index);
            }
            None => missing.push(expectation),
        }
    }
    if missing.is_empty() && unmatched.is_empty() {
        return Ok(());
    }
    let mut report = format!("{relative}: diagnostics differ from the expectations");
    for expectation in missing {
        let at = match expectation.column {
            Some(column) => format!("{}:{column}", expectation.line),
            None => format!("line {}", expectation.line),
        };
        let _ = write!(
            report,
            "\n  expected, not reported: {}[{}] at {at}",
            expectation.severity.as_str(),
            expectation.code
        );
    }
    for actual in unmatched {
        let _ = write!(
            report,
            "\n  reported, not expected: {}[{}] at {}:{}: {}",
            actual.severity.as_str(),
            actual.code,
            actual.line,
            actual.column,
            actual.message
        );
    }
    report.push_str("\n  all reported:");
    for actual in actual {
        let _ = write!(
            report,
            "\n    {}[{}] at {}:{}: {}",
            actual.severity.as_str(),
            actual.code,
            actual.line,
            actual.column,
            actual.message
        );
    }
    Err(report)
}

// ------------------------------------------------------------------ files

/// Collects the `.flow` files under `directory`, skipping snapshot folders.
fn walk(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "snapshots") {
                walk(&path, found);
            }
        } else if path
            .extension()
            .is_some_and(|extension| extension == "flow")
        {
            found.push(path);
        }
    }
}

/// Snapshots whose fixture is gone: each `snapshots/NAME.snap` needs a `NAME.flow`
/// in the folder above it.
fn orphan_snapshots(root: &Path, fixtures: &[PathBuf]) -> Vec<String> {
    let mut snapshots = Vec::new();
    collect_snapshots(root, &mut snapshots);
    snapshots
        .into_iter()
        .filter(|snapshot| {
            let fixture = snapshot
                .parent()
                .and_then(Path::parent)
                .zip(snapshot.file_stem())
                .map(|(folder, stem)| folder.join(stem).with_extension("flow"));
            !fixture.is_some_and(|fixture| fixtures.contains(&fixture))
        })
        .map(|snapshot| {
            format!(
                "{}: snapshot without a fixture; delete it",
                relative(root, &snapshot)
            )
        })
        .collect()
}

fn collect_snapshots(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_snapshots(&path, found);
        } else if path
            .extension()
            .is_some_and(|extension| extension == "snap")
        {
            found.push(path);
        }
    }
}

/// `parse/unclosed_paren.flow`: the path below `tests/ui`, with `/` separators.
fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn with_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_string()
    } else {
        "panicked".to_string()
    }
}

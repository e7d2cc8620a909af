//! The UI tests: every `.flow` file under `tests/ui/` is one case of the language
//! reference, checked two ways.
//!
//! 1. **Inline expectations**, checked without snapshots. A comment line
//!    `// error[E0201]` says that a diagnostic with that code and severity starts on
//!    the next line that is neither blank nor a comment; `// error[E0201] 3:5` pins
//!    it to line 3, column 5 instead (for a diagnostic on a comment line or at the
//!    end of the file). The diagnostics a fixture produces must be exactly the ones
//!    it expects, one expectation each, so a fixture without expectations must
//!    produce none: that is how the programs under `good/` and `typed/` are checked.
//! 2. **A snapshot** per fixture, stored in `snapshots/` beside it: the source, each
//!    diagnostic as `flowc check` renders it, for `good/` the tree as
//!    `syntax::pretty` prints it, and for `typed/` the types the checker gave each
//!    workflow, declaration and binding. Review changes with `cargo insta review`,
//!    or run with `INSTA_UPDATE=always` and read the diff.
//!
//! The directories are phases. `lex/` (E01xx), `parse/` (E02xx) and `good/` run the
//! parser alone (`good/` programs may name things that do not exist). `resolve/`
//! (E03xx), `check/` (E04xx, E05xx, W04xx) and `typed/` (well-typed programs) run
//! the whole of [`analyze`] on one file with no imports; a *directory* under one of
//! them holding `main.flow` is one fixture of several files: `main.flow` is the
//! root, and its imports are read from the directory.
//!
//! A fixture that records a checker bug says so with a `// FIXME(checker): …` line
//! and locks in today's behaviour: such a fixture under `typed/` may expect the
//! diagnostics it should not get, and one under `resolve/` or `check/` may expect
//! none. One test walks every phase and reports every failing fixture at the end,
//! rather than stopping at the first. The models are Gleam's
//! `test-package-compiler`, Typst's `// Error:` annotations and ty's mdtest.

use flowc_compiler::check::Bound;
use flowc_compiler::diagnostic::{Diagnostic, LineIndex, Severity, render};
use flowc_compiler::syntax::{self, pretty};
use flowc_compiler::{Analysis, Loader, NoImports, SourceFile, analyze};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The directory whose fixtures are syntactically valid programs: no expectations,
/// no diagnostics, and their tree in the snapshot.
const GOOD: &str = "good";

/// The directory whose fixtures are well-typed programs: no expectations, no
/// diagnostics from [`analyze`], and their types in the snapshot.
const TYPED: &str = "typed";

/// The directories whose fixtures go through [`analyze`] rather than the parser.
const ANALYZED: &[&str] = &["resolve", "check", TYPED];

/// The root file of a fixture made of several files.
const MAIN: &str = "main.flow";

/// Marks a fixture that records a checker bug (see the module documentation).
const FIXME: &str = "FIXME(checker)";

/// Code prefixes whose every documented code must be expected by some fixture.
const COVERED_PHASES: &[&str] = &["E01", "E02"];

/// One case: a `.flow` file, or a directory with a `main.flow` and its imports.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Fixture {
    /// `check/unknown_field.flow`, or `resolve/import_cycle` for a directory.
    relative: String,
    /// The `.flow` file, or the directory.
    path: PathBuf,
    directory: bool,
}

/// One file of a fixture, named by its path inside the fixture (`main.flow`).
struct File {
    name: String,
    text: String,
}

#[test]
fn ui() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("ui");
    let mut fixtures = Vec::new();
    walk(&root, &root, &mut fixtures);
    fixtures.sort();
    assert!(!fixtures.is_empty(), "no fixtures under {}", root.display());

    let mut failures = Vec::new();
    let mut expected_codes: BTreeSet<String> = BTreeSet::new();
    for fixture in &fixtures {
        let relative = fixture.relative.as_str();
        let files = match read_fixture(fixture) {
            Ok(files) => files,
            Err(error) => {
                failures.push(format!("{relative}: {error}"));
                continue;
            }
        };
        // A panic in the compiler fails this fixture, reported with the others.
        let analysis = if is_analyzed(relative) {
            match catch_unwind(AssertUnwindSafe(|| run_analysis(fixture, &files))) {
                Ok(analysis) => Some(analysis),
                Err(panic) => {
                    failures.push(format!(
                        "{relative}: analyze panicked: {}",
                        panic_message(&panic)
                    ));
                    continue;
                }
            }
        } else {
            None
        };
        match check(relative, &files, analysis.as_ref()) {
            Ok(codes) => expected_codes.extend(codes),
            Err(failure) => failures.push(failure),
        }
        let snapshot = catch_unwind(AssertUnwindSafe(|| {
            assert_snapshot(relative, &files, analysis.as_ref());
        }));
        if let Err(panic) = snapshot {
            failures.push(format!("{relative}: {}", panic_message(&panic)));
        }
    }

    for code in covered_codes() {
        if !expected_codes.contains(code) {
            failures.push(format!(
                "{code}: no fixture expects this code; add one under tests/ui/"
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

/// Every code some fixture must expect: the documented lexical and syntax codes,
/// and every code name resolution and the checker can report.
fn covered_codes() -> Vec<&'static str> {
    let documented = flowc_compiler::codes::all()
        .iter()
        .map(|page| page.code)
        .filter(|code| COVERED_PHASES.iter().any(|phase| code.starts_with(phase)));
    let analyzed = flowc_compiler::resolve::diagnostics::ALL
        .iter()
        .chain(flowc_compiler::check::diagnostics::ALL)
        .map(|code| code.as_str());
    documented.chain(analyzed).collect()
}

/// Checks a fixture's diagnostics against its expectations, file by file; returns
/// the codes it expects, or what went wrong.
fn check(
    relative: &str,
    files: &[File],
    analysis: Option<&Analysis>,
) -> Result<Vec<String>, String> {
    let mut codes = Vec::new();
    let mut fixme = false;
    for file in files {
        let name = display_path(relative, files, file);
        let expected = expectations(&file.text).map_err(|error| format!("{name}: {error}"))?;
        fixme |= file.text.contains(FIXME);
        let actual: Vec<Actual> = match analysis {
            Some(analysis) => diagnostics_of(analysis, &file.name)
                .map(|diagnostic| Actual::of(diagnostic, &file.text))
                .collect(),
            None => syntax::parse(&file.text)
                .diagnostics
                .iter()
                .map(|diagnostic| Actual::of(diagnostic, &file.text))
                .collect(),
        };
        compare(&name, &expected, &actual)?;
        codes.extend(expected.into_iter().map(|expectation| expectation.code));
    }
    let clean = is_good(relative) || is_typed(relative);
    if clean && !codes.is_empty() && !fixme {
        return Err(format!(
            "{relative}: a fixture under {GOOD}/ or {TYPED}/ must not expect diagnostics \
             unless it records a `{FIXME}`; move it"
        ));
    }
    if !clean && codes.is_empty() && !fixme {
        return Err(format!(
            "{relative}: a fixture outside {GOOD}/ and {TYPED}/ must expect at least one \
             diagnostic, with a `// error[CODE]` line above it"
        ));
    }
    Ok(codes)
}

/// Compares the fixture's snapshot: sources, rendered diagnostics and, for `good/`,
/// the tree, for `typed/` the types. Panics, as insta does, when it differs.
fn assert_snapshot(relative: &str, files: &[File], analysis: Option<&Analysis>) {
    let mut snapshot = String::new();
    for file in files {
        if files.len() == 1 {
            snapshot.push_str("--- source\n");
        } else {
            let _ = writeln!(snapshot, "--- source {}", file.name);
        }
        snapshot.push_str(&with_newline(&file.text));
    }
    snapshot.push_str("--- diagnostics\n");
    for file in files {
        let path = display_path(relative, files, file);
        let rendered: Vec<String> = match analysis {
            Some(analysis) => diagnostics_of(analysis, &file.name)
                .map(|diagnostic| render(diagnostic, &path, &file.text, false))
                .collect(),
            None => syntax::parse(&file.text)
                .diagnostics
                .iter()
                .map(|diagnostic| render(diagnostic, &path, &file.text, false))
                .collect(),
        };
        for diagnostic in rendered {
            snapshot.push_str(&with_newline(&diagnostic));
        }
    }
    if is_good(relative) {
        snapshot.push_str("--- ast\n");
        snapshot.push_str(&pretty::module(&syntax::parse(&files[0].text).module));
    }
    if let Some(analysis) = analysis.filter(|_| is_typed(relative)) {
        snapshot.push_str("--- types\n");
        snapshot.push_str(&types(analysis));
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

/// How diagnostics name a file: the fixture's path, or for a fixture of several
/// files the directory and the file.
fn display_path(relative: &str, files: &[File], file: &File) -> String {
    if files.len() == 1 {
        relative.to_string()
    } else {
        format!("{relative}/{}", file.name)
    }
}

fn is_good(relative: &str) -> bool {
    relative.starts_with(&format!("{GOOD}/"))
}

fn is_typed(relative: &str) -> bool {
    relative.starts_with(&format!("{TYPED}/"))
}

fn is_analyzed(relative: &str) -> bool {
    ANALYZED
        .iter()
        .any(|phase| relative.starts_with(&format!("{phase}/")))
}

// ------------------------------------------------------------------ analysis

/// Reads a fixture's files: the one file, or `main.flow` first and then every other
/// `.flow` file of the directory, by path.
fn read_fixture(fixture: &Fixture) -> Result<Vec<File>, String> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))
    };
    if !fixture.directory {
        return Ok(vec![File {
            name: MAIN.to_string(),
            text: read(&fixture.path)?,
        }]);
    }
    let mut names = Vec::new();
    collect_flow_files(&fixture.path, &fixture.path, &mut names);
    names.sort_by_key(|name| (name != MAIN, name.clone()));
    names
        .into_iter()
        .map(|name| {
            Ok(File {
                text: read(&fixture.path.join(&name))?,
                name,
            })
        })
        .collect()
}

/// The `.flow` files under a fixture directory, as `/`-separated paths inside it.
fn collect_flow_files(base: &Path, directory: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "snapshots") {
                collect_flow_files(base, &path, found);
            }
        } else if path
            .extension()
            .is_some_and(|extension| extension == "flow")
        {
            found.push(relative(base, &path));
        }
    }
}

/// Reads the imports of a fixture of several files from its directory. Paths
/// arrive joined to `main.flow`'s directory, which is the fixture's, and normalised.
struct DirectoryLoader<'a> {
    directory: &'a Path,
}

impl Loader for DirectoryLoader<'_> {
    fn load(&self, path: &str) -> Result<String, String> {
        // A path that leaves the fixture is not part of it.
        let outside = path.starts_with('/') || path.split('/').any(|part| part == "..");
        if outside {
            return Err("no such file in this project".to_string());
        }
        std::fs::read_to_string(self.directory.join(path))
            .map_err(|_| "no such file in this project".to_string())
    }
}

fn run_analysis(fixture: &Fixture, files: &[File]) -> Analysis {
    let root = vec![SourceFile {
        path: MAIN.to_string(),
        text: files[0].text.clone(),
    }];
    if fixture.directory {
        let loader = DirectoryLoader {
            directory: &fixture.path,
        };
        analyze(root, &loader)
    } else {
        analyze(root, &NoImports)
    }
}

/// The diagnostics the analysis reports in the file named `name`.
fn diagnostics_of<'a>(
    analysis: &'a Analysis,
    name: &'a str,
) -> impl Iterator<Item = &'a Diagnostic> {
    analysis
        .diagnostics
        .iter()
        .filter(move |entry| {
            analysis
                .file(entry.file)
                .is_some_and(|file| file.path == name)
        })
        .map(|entry| &entry.diagnostic)
}

/// The `--- types` section: each workflow's signature and static bound, then each
/// declaration and binding of the root file, by position, with its kind and type.
fn types(analysis: &Analysis) -> String {
    let mut out = String::new();
    for workflow in &analysis.program.workflows {
        let params: Vec<String> = workflow
            .params
            .iter()
            .map(|param| format!("{}: {}", param.name, param.ty))
            .collect();
        let bound = analysis
            .info
            .bounds
            .iter()
            .find(|bound| bound.workflow == workflow.name)
            .map_or_else(|| "unknown".to_string(), |bound| describe(&bound.bound));
        let _ = writeln!(
            out,
            "workflow {}({}) -> {}, bound {bound}",
            workflow.name,
            params.join(", "),
            workflow.result,
        );
    }
    let Some(file) = analysis.files.first() else {
        return out;
    };
    let mut definitions: Vec<_> = analysis
        .info
        .definitions
        .iter()
        .filter(|definition| definition.file.0 == 0)
        .collect();
    definitions.sort_by_key(|definition| (definition.span.start, definition.span.end));
    let mut seen = BTreeSet::new();
    for definition in definitions {
        let position = file.lines.line_col(&file.text, definition.span.start);
        let line = format!(
            "{}:{} {} {}: {}",
            position.line, position.column, definition.kind, definition.name, definition.ty
        );
        if seen.insert(line.clone()) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// A bound for people: `1h 30m`, or what leaves the run unbounded.
fn describe(bound: &Bound) -> String {
    let ms = match bound {
        Bound::Unbounded(why) => return format!("unbounded ({why})"),
        Bound::Millis(ms) => *ms,
    };
    flowc_compiler::check::format_duration(ms)
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

/// Collects the fixtures under `directory`, skipping snapshot folders: each `.flow`
/// file, except that a directory holding `main.flow` in an analyzed phase is one
/// fixture.
fn walk(root: &Path, directory: &Path, found: &mut Vec<Fixture>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "snapshots") {
                continue;
            }
            let name = relative(root, &path);
            if is_analyzed(&name) && path.join(MAIN).is_file() {
                found.push(Fixture {
                    relative: name,
                    path,
                    directory: true,
                });
            } else {
                walk(root, &path, found);
            }
        } else if path
            .extension()
            .is_some_and(|extension| extension == "flow")
        {
            found.push(Fixture {
                relative: relative(root, &path),
                path,
                directory: false,
            });
        }
    }
}

/// Snapshots whose fixture is gone: each `snapshots/NAME.snap` needs a `NAME.flow`,
/// or a fixture directory `NAME/`, in the folder above it.
fn orphan_snapshots(root: &Path, fixtures: &[Fixture]) -> Vec<String> {
    let mut snapshots = Vec::new();
    collect_snapshots(root, &mut snapshots);
    snapshots
        .into_iter()
        .filter(|snapshot| {
            let owner = snapshot
                .parent()
                .and_then(Path::parent)
                .zip(snapshot.file_stem())
                .map(|(folder, stem)| folder.join(stem));
            !owner.is_some_and(|owner| {
                let file = owner.with_extension("flow");
                fixtures.iter().any(|fixture| {
                    fixture.path == file || (fixture.directory && fixture.path == owner)
                })
            })
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

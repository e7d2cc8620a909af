//! Reading a project from disk for the compiler: which files a path names, and the
//! [`DiskLoader`] that answers the compiler's requests for imported files.
//!
//! The compiler never does IO: it analyses a program through a loader that hands it
//! source text by path. This is the loader the command line uses (`build`, and the
//! `--load` of `eval` and the REPL); tests and the language server have their own.

use super::eval::render_diagnostics;
use super::{Exit, error, io_message};
use flowc_compiler::{Analysis, Diagnostic, FileId, Loader, SourceFile};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// The `.flow` files a path names: the file itself, or every `*.flow` file under a
/// directory in sorted order, skipping hidden entries and `target` directories (as
/// `flowc check` does). Errors read `cannot read PATH: REASON`.
pub fn flow_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let metadata = std::fs::metadata(path)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {}", path.display(), io_message(&err)))?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let entries = WalkDir::new(path)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !is_skipped(entry));
    for entry in entries {
        let entry = entry.map_err(|err| {
            let at = err.path().unwrap_or(path).display().to_string();
            let reason = err.io_error().map_or_else(|| err.to_string(), io_message);
            anyhow::anyhow!("cannot read {at}: {reason}")
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|ext| ext == "flow")
        {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

fn is_skipped(entry: &walkdir::DirEntry) -> bool {
    let name = entry.file_name().to_string_lossy();
    name.starts_with('.') || (entry.file_type().is_dir() && name == "target")
}

/// Reads the files the compiler asks for (imports) from disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskLoader;

impl Loader for DiskLoader {
    fn load(&self, path: &str) -> Result<String, String> {
        read(Path::new(path))
    }
}

/// The text of a file, or why it cannot be had, in words for `cannot read PATH:
/// REASON`.
fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::InvalidData => "not valid UTF-8".to_owned(),
        _ => io_message(&err),
    })
}

/// Reads the root files and analyses the program they make, imports included.
/// Fails, with `cannot read PATH: REASON`, only when a root cannot be read; a
/// missing import is a diagnostic of the file that imports it.
pub fn analyze(roots: &[PathBuf]) -> anyhow::Result<Analysis> {
    let mut sources = Vec::with_capacity(roots.len());
    for root in roots {
        let path = tidy(root);
        let text = read(root).map_err(|reason| anyhow::anyhow!("cannot read {path}: {reason}"))?;
        sources.push(SourceFile { path, text });
    }
    Ok(flowc_compiler::analyze(sources, &DiskLoader))
}

/// `./a/b.flow` → `a/b.flow`, as people type paths.
fn tidy(path: &Path) -> String {
    let path = match path.strip_prefix(".") {
        Ok(rest) if !rest.as_os_str().is_empty() => rest,
        _ => path,
    };
    path.to_string_lossy().into_owned()
}

/// Prints the diagnostics of every file on standard error, as `flowc check`
/// renders them.
pub fn render(analysis: &Analysis) {
    for (index, file) in analysis.files.iter().enumerate() {
        let id = FileId(u32::try_from(index).unwrap_or(u32::MAX));
        let diagnostics: Vec<Diagnostic> = analysis.diagnostics_of(id).cloned().collect();
        render_diagnostics(&file.path, &file.text, &diagnostics);
    }
}

/// The number of errors (not warnings) in an analysis.
pub fn error_count(analysis: &Analysis) -> usize {
    analysis
        .diagnostics
        .iter()
        .filter(|entry| entry.diagnostic.is_error())
        .count()
}

/// The `.flow` files under `paths`, compiled as `flowc check` compiles them, with
/// every diagnostic printed the same way. `Err` is the exit status when there is
/// nothing to use: a path that cannot be read or holds no `.flow` file (printed,
/// [`Exit::Failure`]), or errors in the sources ([`Exit::Diagnostics`], after
/// `N errors; nothing {what}`, as in "nothing deployed").
pub fn compile(paths: &[PathBuf], what: &str) -> Result<Analysis, Exit> {
    let mut roots = Vec::new();
    for path in paths {
        match flow_files(path) {
            Ok(found) if found.is_empty() => {
                error(format_args!("no .flow files in {}", path.display()));
                return Err(Exit::Failure);
            }
            Ok(found) => roots.extend(found),
            Err(err) => {
                error(format_args!("{err:#}"));
                return Err(Exit::Failure);
            }
        }
    }
    let analysis = analyze(&roots).map_err(|err| {
        error(format_args!("{err:#}"));
        Exit::Failure
    })?;
    render(&analysis);
    let errors = error_count(&analysis);
    if errors > 0 {
        let noun = if errors == 1 { "error" } else { "errors" };
        error(format_args!("{errors} {noun}; nothing {what}"));
        return Err(Exit::Diagnostics);
    }
    Ok(analysis)
}

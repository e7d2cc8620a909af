//! The flowc compiler: `.flow` source in, diagnostics and IR out.
//!
//! The crate is pure: no IO, no threads, no terminal. Each stage is a function from
//! one data type to the next, returning its output plus diagnostics:
//! `syntax::lex` → `syntax::parse` → `resolve` → `check` (which also lowers to `ir`).
//! [`analyze`] runs them all over a project whose imports are read through a
//! [`Loader`] the caller passes; [`check_expression`] checks one expression for
//! `flowc eval` and the REPL.
//! See `ARCHITECTURE.md` at the repository root for the map.

pub mod check;
pub mod codes;
pub mod correlate;
pub mod cron;
pub mod diagnostic;
pub mod eval;
pub mod fmt;
pub mod ide;
pub mod ir;
pub mod jit;
pub mod report;
pub mod resolve;
pub mod stdlib;
pub mod syntax;
pub mod ty;
pub mod value;

pub use diagnostic::{Code, Diagnostic, FileId, Label, LineCol, LineIndex, Severity, Span};

/// One source file given to [`analyze`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// Reads imported files for [`analyze`]; the compiler itself does no IO. `path`
/// is already joined to the importing file's directory and normalised.
pub trait Loader {
    fn load(&self, path: &str) -> Result<String, String>;
}

/// A loader for callers without files: every import is missing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoImports;

impl Loader for NoImports {
    fn load(&self, _path: &str) -> Result<String, String> {
        Err("imports are not available here".to_string())
    }
}

/// A parsed file of the project.
#[derive(Clone, Debug)]
pub struct AnalyzedFile {
    pub path: String,
    pub text: String,
    pub module: syntax::ast::Module,
    pub lines: LineIndex,
    /// Given by the caller rather than reached through an import.
    pub root: bool,
}

/// A diagnostic and the file it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiagnostic {
    pub file: FileId,
    pub diagnostic: Diagnostic,
}

/// Everything the compiler knows about a project.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub files: Vec<AnalyzedFile>,
    pub program: ir::Program,
    /// Sorted by file, then position.
    pub diagnostics: Vec<FileDiagnostic>,
    /// Types of expressions, definitions, references, bounds and schedules.
    pub info: check::Info,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.diagnostic.is_error())
    }

    pub fn file(&self, id: FileId) -> Option<&AnalyzedFile> {
        self.files.get(id.0 as usize)
    }

    /// The diagnostics of one file.
    pub fn diagnostics_of(&self, id: FileId) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(move |d| d.file == id)
            .map(|d| &d.diagnostic)
    }

    /// The declarations of the program, as an environment for [`check_expression`].
    pub fn expr_env(&self) -> ExprEnv {
        let functions = self
            .program
            .functions
            .iter()
            .map(|function| function.name.clone())
            .zip(&self.program.functions)
            .map(|(name, function)| (name, function.params.clone(), function.ret.clone()))
            .collect();
        ExprEnv {
            types: self.program.types.clone(),
            functions,
            connections: self
                .program
                .connections
                .iter()
                .map(|connection| connection.name.clone())
                .collect(),
            events: self
                .program
                .events
                .iter()
                .map(|event| (event.name.clone(), event.ty.clone()))
                .collect(),
            variables: Vec::new(),
        }
    }
}

/// Analyzes a project: loads imports, parses, resolves names, type-checks and
/// lowers to IR. Never fails and never panics on user input.
pub fn analyze(roots: Vec<SourceFile>, loader: &dyn Loader) -> Analysis {
    let (files, mut diagnostics) = resolve::load(roots, loader);
    let declarations = resolve::declarations(&files, &mut diagnostics);
    let (program, info) = check::program(&files, declarations, &mut diagnostics);
    // Labels in other files are also written as notes, for renderers of one file.
    for entry in &mut diagnostics {
        let notes: Vec<String> = entry
            .diagnostic
            .labels
            .iter()
            .filter_map(|label| {
                let file = files.get(label.file?.0 as usize)?;
                let position = file.lines.line_col(&file.text, label.span.start);
                Some(format!(
                    "{}: {}:{}:{}",
                    label.message, file.path, position.line, position.column
                ))
            })
            .collect();
        entry.diagnostic.notes.extend(notes);
    }
    diagnostics.sort_by_key(|d| (d.file, d.diagnostic.span().start, d.diagnostic.span().end));
    diagnostics.dedup();
    Analysis {
        files,
        program,
        diagnostics,
        info,
    }
}

/// What an expression may refer to in `flowc eval` and the REPL: the declarations
/// of a loaded program and named variables (`input`, `:let`s) with their types.
#[derive(Clone, Debug, Default)]
pub struct ExprEnv {
    pub types: ty::TypeTable,
    /// `fn`s by name with parameter and result types, in the order of
    /// `Program::functions` (calls refer to them by that index).
    pub functions: Vec<(String, Vec<ty::Ty>, ty::Ty)>,
    pub connections: Vec<String>,
    pub events: std::collections::BTreeMap<String, ty::Ty>,
    /// Variables in slots `0..n`, in this order.
    pub variables: Vec<(String, ty::Ty)>,
}

/// One checked expression.
#[derive(Clone, Debug)]
pub struct CheckedExpr {
    pub expr: Option<ir::Expr>,
    pub ty: ty::Ty,
    /// Slots the evaluator must allocate: the variables, then lambda parameters
    /// and pattern bindings.
    pub frame_size: u32,
    /// Spans are byte offsets into `source`.
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks one expression against an environment; `expr` is `None` when it has
/// errors.
pub fn check_expression(source: &str, env: &ExprEnv) -> CheckedExpr {
    check::expression(source, env)
}

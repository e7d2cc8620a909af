//! The flowc compiler: `.flow` source in, diagnostics and (later) IR out.
//!
//! The crate is pure: no IO, no threads, no terminal. Each stage is a function from
//! one data type to the next, returning its output plus diagnostics:
//! `syntax::lex` → `syntax::parse` → (to come) `resolve` → `check` → `lower`.
//! See `ARCHITECTURE.md` at the repository root for the map.

pub mod codes;
pub mod diagnostic;
pub mod eval;
pub mod ir;
pub mod stdlib;
pub mod syntax;
pub mod ty;
pub mod value;

pub use diagnostic::{Code, Diagnostic, Label, LineCol, LineIndex, Severity, Span};

/// Everything `flowc check` reports for one file today: its lexical and syntax
/// diagnostics. Name resolution and type checking will add theirs here.
pub fn check_source(source: &str) -> Vec<Diagnostic> {
    syntax::parse(source).diagnostics
}

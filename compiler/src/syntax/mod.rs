//! The syntax of Flow: source text → tokens (`lexer`) → tree (`parser`).
//!
//! Parsing never fails: [`parse`] always returns a [`ast::Module`], with `Error`
//! nodes where the input was broken, plus every diagnostic found on the way. A
//! file with three unrelated mistakes reports three diagnostics.

pub mod ast;
mod balance;
pub(crate) mod diagnostics;
pub mod lexer;
mod parser;
pub mod pretty;
pub mod token;

pub use lexer::{Lexed, lex};
pub use token::Token;

use crate::diagnostic::Diagnostic;

/// The result of parsing one file.
#[derive(Clone, Debug)]
pub struct Parse {
    pub module: ast::Module,
    /// Lexical and syntax diagnostics, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one source file. Never panics, whatever the input.
pub fn parse(source: &str) -> Parse {
    let lexed = lex(source);
    let mut diagnostics = lexed.diagnostics.clone();
    let module = parser::parse_tokens(source, &lexed, &mut diagnostics);
    // Inside a region the lexer already reported (an unterminated string and the
    // rest of its line), bracket and syntax errors are echoes of that mistake.
    diagnostics.retain(|diagnostic| {
        let start = diagnostic.span().start;
        diagnostic.code.as_str().starts_with("E01")
            || !lexed
                .quiet
                .iter()
                .any(|quiet| quiet.start < start && start <= quiet.end)
    });
    diagnostics.sort_by_key(|diagnostic| (diagnostic.span().start, diagnostic.span().end));
    // Two recovery paths can meet at one mistake; say it once.
    diagnostics.dedup_by(|a, b| a.code == b.code && a.span() == b.span());
    Parse {
        module,
        diagnostics,
    }
}

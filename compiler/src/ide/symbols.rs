//! The outline of a file (workflow → triggers → steps) and symbols across the project.

use super::Symbol;
use crate::{Analysis, FileId};

pub fn document_symbols(_analysis: &Analysis, _file: FileId) -> Vec<Symbol> {
    Vec::new()
}

/// Declarations of every file whose name contains `query` (case-insensitive).
pub fn workspace_symbols(_analysis: &Analysis, _query: &str) -> Vec<(FileId, Symbol)> {
    Vec::new()
}

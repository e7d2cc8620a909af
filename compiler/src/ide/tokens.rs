//! Semantic tokens: what each name is, beyond what a grammar can tell.

use super::SemanticToken;
use crate::{Analysis, FileId};

pub fn semantic_tokens(_analysis: &Analysis, _file: FileId) -> Vec<SemanticToken> {
    Vec::new()
}

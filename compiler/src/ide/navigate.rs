//! Go to definition, find references and rename, over the checker's record of every
//! definition and use.

use super::{Edit, Location, RenameError};
use crate::{Analysis, FileId, Span};

pub fn definition(_analysis: &Analysis, _file: FileId, _offset: u32) -> Option<Location> {
    None
}

/// Every use of the thing under the cursor, and its declaration when asked.
pub fn references(
    _analysis: &Analysis,
    _file: FileId,
    _offset: u32,
    _include_declaration: bool,
) -> Vec<Location> {
    Vec::new()
}

/// The span of the name that would be renamed, or why it cannot be.
pub fn prepare_rename(
    _analysis: &Analysis,
    _file: FileId,
    _offset: u32,
) -> Option<Result<Span, RenameError>> {
    None
}

/// The edits that rename the thing under the cursor everywhere in the project.
pub fn rename(
    _analysis: &Analysis,
    _file: FileId,
    _offset: u32,
    _new_name: &str,
) -> Result<Vec<Edit>, RenameError> {
    Err(RenameError("nothing to rename here".to_string()))
}

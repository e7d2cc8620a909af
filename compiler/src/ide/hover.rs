//! Hover: the type of the expression, path or step result under the cursor, the docs
//! of a stdlib function, the doc comment of a declaration.

use super::Hover;
use crate::{Analysis, FileId};

pub fn hover(_analysis: &Analysis, _file: FileId, _offset: u32) -> Option<Hover> {
    None
}

//! Signature help inside the parentheses of a call.

use super::SignatureHelp;
use crate::{Analysis, FileId};

pub fn signature_help(_analysis: &Analysis, _file: FileId, _offset: u32) -> Option<SignatureHelp> {
    None
}

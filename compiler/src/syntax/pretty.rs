//! Prints the tree (stub).
use super::ast::Module;

pub fn module(module: &Module) -> String {
    format!("{module:?}")
}

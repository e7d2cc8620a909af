//! Inlay hints: the result types of steps and lets.
//!
//! A hint `: T` follows the name of each step and of each `let` without a written
//! type, with `T` as the checker prints it, so the editor shows what the checker
//! inferred where the source does not say it.

use super::{InlayHint, InlayKind};
use crate::syntax::ast;
use crate::ty::Ty;
use crate::{Analysis, FileId, Span};
use std::collections::HashMap;

pub fn inlay_hints(analysis: &Analysis, file: FileId, range: Span) -> Vec<InlayHint> {
    let Some(source) = analysis.file(file) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for item in &source.module.items {
        if item.span.end < range.start || range.end < item.span.start {
            continue;
        }
        match &item.kind {
            ast::ItemKind::Workflow(workflow) => unwritten(&workflow.body, &mut names),
            ast::ItemKind::Test(test) => unwritten(&test.body.stmts, &mut names),
            _ => {}
        }
    }
    let types: HashMap<(u32, u32), &Ty> = analysis
        .info
        .definitions
        .iter()
        .filter(|definition| definition.file == file)
        .map(|definition| ((definition.span.start, definition.span.end), &definition.ty))
        .collect();
    names
        .into_iter()
        .filter(|name| range.start <= name.end && name.end <= range.end)
        .filter_map(|name| {
            let ty = types.get(&(name.start, name.end))?;
            (**ty != Ty::Error).then(|| InlayHint {
                offset: name.end,
                label: format!(": {ty}"),
                kind: InlayKind::Type,
            })
        })
        .collect()
}

/// The name spans of the steps, and of the lets without a written type, of a body
/// and its nested blocks, in order.
fn unwritten(stmts: &[ast::Stmt], out: &mut Vec<Span>) {
    for stmt in stmts {
        stmt_names(stmt, out);
    }
}

fn stmt_names(stmt: &ast::Stmt, out: &mut Vec<Span>) {
    match &stmt.kind {
        ast::StmtKind::Step { name, .. } => out.push(name.span),
        ast::StmtKind::Let { name, ty, value } => {
            if ty.is_none() {
                out.push(name.span);
            }
            if let ast::LetValue::For(each, _) = value {
                unwritten(&each.body.stmts, out);
            }
        }
        ast::StmtKind::If {
            then, otherwise, ..
        } => {
            unwritten(&then.stmts, out);
            if let Some(otherwise) = otherwise {
                stmt_names(otherwise, out);
            }
        }
        ast::StmtKind::Block(block) => unwritten(&block.stmts, out),
        ast::StmtKind::Match { arms, .. } => {
            for arm in arms {
                stmt_names(&arm.body, out);
            }
        }
        ast::StmtKind::For(each) => unwritten(&each.body.stmts, out),
        ast::StmtKind::Parallel { branches } => unwritten(branches, out),
        ast::StmtKind::Try { body, handler, .. } => {
            unwritten(&body.stmts, out);
            unwritten(&handler.stmts, out);
        }
        _ => {}
    }
}

//! The outline of a file (workflow → triggers → steps) and symbols across the project.
//!
//! Both read the syntax tree, so a file with errors still has an outline of what
//! parsed; types in `detail` come from the checker's definitions when it has them.

use super::{Symbol, SymbolKind};
use crate::syntax::ast;
use crate::ty::Ty;
use crate::{Analysis, FileId, Span};
use std::collections::HashMap;

pub fn document_symbols(analysis: &Analysis, file: FileId) -> Vec<Symbol> {
    let Some(source) = analysis.file(file) else {
        return Vec::new();
    };
    let types = analysis
        .info
        .definitions
        .iter()
        .filter(|definition| definition.file == file)
        .map(|definition| ((definition.span.start, definition.span.end), &definition.ty))
        .collect();
    let outline = Outline { types };
    source
        .module
        .items
        .iter()
        .filter_map(|item| outline.item(item))
        .collect()
}

/// Declarations of every file whose name contains `query` (case-insensitive).
pub fn workspace_symbols(analysis: &Analysis, query: &str) -> Vec<(FileId, Symbol)> {
    let query = query.to_lowercase();
    let mut found = Vec::new();
    for index in 0..analysis.files.len() {
        let Ok(index) = u32::try_from(index) else {
            break;
        };
        let file = FileId(index);
        for mut symbol in document_symbols(analysis, file) {
            if symbol.kind == SymbolKind::Import {
                continue;
            }
            if symbol.name.to_lowercase().contains(&query) {
                symbol.children.clear();
                found.push((file, symbol));
            }
        }
    }
    found
}

struct Outline<'a> {
    /// The type of each definition of the file, by the span of its name.
    types: HashMap<(u32, u32), &'a Ty>,
}

impl Outline<'_> {
    /// The type the checker recorded for the binding or declaration named at `span`.
    fn ty(&self, span: Span) -> Option<String> {
        self.types
            .get(&(span.start, span.end))
            .map(|ty| ty.to_string())
    }

    fn symbol(
        &self,
        name: &ast::Ident,
        kind: SymbolKind,
        detail: Option<String>,
        span: Span,
    ) -> Symbol {
        Symbol {
            name: name.name.clone(),
            kind,
            detail,
            span,
            selection: name.span,
            children: Vec::new(),
        }
    }

    fn item(&self, item: &ast::Item) -> Option<Symbol> {
        let span = item.span;
        Some(match &item.kind {
            ast::ItemKind::Import(import) => Symbol {
                name: import.path.value.clone(),
                kind: SymbolKind::Import,
                detail: None,
                span,
                selection: import.path.span,
                children: Vec::new(),
            },
            ast::ItemKind::Type(decl) => self.symbol(&decl.name, SymbolKind::Type, None, span),
            ast::ItemKind::Event(decl) => {
                let detail = self.ty(decl.name.span);
                self.symbol(&decl.name, SymbolKind::Event, detail, span)
            }
            ast::ItemKind::Connection(decl) => {
                self.symbol(&decl.name, SymbolKind::Connection, None, span)
            }
            ast::ItemKind::Fn(decl) => {
                let detail = self.ty(decl.name.span);
                self.symbol(&decl.name, SymbolKind::Function, detail, span)
            }
            ast::ItemKind::Workflow(workflow) => {
                let mut symbol = self.symbol(&workflow.name, SymbolKind::Workflow, None, span);
                symbol
                    .children
                    .extend(workflow.triggers.iter().map(trigger));
                self.stmts(&workflow.body, &mut symbol.children);
                symbol
            }
            ast::ItemKind::Test(test) => {
                let mut children = Vec::new();
                self.stmts(&test.body.stmts, &mut children);
                Symbol {
                    name: test.name.value.clone(),
                    kind: SymbolKind::Test,
                    detail: None,
                    span,
                    selection: test.name.span,
                    children,
                }
            }
            ast::ItemKind::Error => return None,
        })
    }

    /// The steps and lets of a body, in order, including those inside `if`, `for`,
    /// `match`, `parallel` and `try` blocks.
    fn stmts(&self, stmts: &[ast::Stmt], out: &mut Vec<Symbol>) {
        for stmt in stmts {
            self.stmt(stmt, out);
        }
    }

    fn stmt(&self, stmt: &ast::Stmt, out: &mut Vec<Symbol>) {
        match &stmt.kind {
            ast::StmtKind::Step { name, .. } => {
                let detail = self.ty(name.span);
                out.push(self.symbol(name, SymbolKind::Step, detail, stmt.span));
            }
            ast::StmtKind::Let { name, value, .. } => {
                let detail = self.ty(name.span);
                out.push(self.symbol(name, SymbolKind::Let, detail, stmt.span));
                if let ast::LetValue::For(each, _) = value {
                    self.stmts(&each.body.stmts, out);
                }
            }
            ast::StmtKind::If {
                then, otherwise, ..
            } => {
                self.stmts(&then.stmts, out);
                if let Some(otherwise) = otherwise {
                    self.stmt(otherwise, out);
                }
            }
            ast::StmtKind::Block(block) => self.stmts(&block.stmts, out),
            ast::StmtKind::Match { arms, .. } => {
                for arm in arms {
                    self.stmt(&arm.body, out);
                }
            }
            ast::StmtKind::For(each) => self.stmts(&each.body.stmts, out),
            ast::StmtKind::Parallel { branches } => self.stmts(branches, out),
            ast::StmtKind::Try { body, handler, .. } => {
                self.stmts(&body.stmts, out);
                self.stmts(&handler.stmts, out);
            }
            _ => {}
        }
    }
}

/// A trigger, named as written: `on webhook POST /orders`.
fn trigger(trigger: &ast::Trigger) -> Symbol {
    let (name, selection) = match &trigger.kind {
        ast::TriggerKind::Webhook { method, path, .. } => (
            format!("on webhook {} {}", method.name, path.value),
            method.span.to(path.span),
        ),
        ast::TriggerKind::Schedule { cron, tz } => {
            let name = match tz {
                Some(tz) => format!("on schedule \"{}\" tz \"{}\"", cron.value, tz.value),
                None => format!("on schedule \"{}\"", cron.value),
            };
            (name, cron.span)
        }
        ast::TriggerKind::Event { name } => (format!("on event {}", name.name), name.span),
        ast::TriggerKind::Manual => ("on manual".to_string(), trigger.span),
    };
    Symbol {
        name,
        kind: SymbolKind::Trigger,
        detail: None,
        span: trigger.span,
        selection,
        children: Vec::new(),
    }
}

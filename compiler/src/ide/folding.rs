//! Folding ranges: declarations, blocks, comment runs and the imports.
//!
//! Ranges come from the tree (every declaration and block that spans more than one
//! line) and from the text (runs of `//` lines, block comments); the language
//! server turns their byte spans into lines.

use super::context::comment_ranges;
use super::{Fold, FoldKind};
use crate::syntax::ast;
use crate::syntax::lex;
use crate::{Analysis, FileId, Span};

/// The ranges an editor may fold in `file`, sorted by start.
pub fn folding_ranges(analysis: &Analysis, file: FileId) -> Vec<Fold> {
    let Some(source) = analysis.file(file) else {
        return Vec::new();
    };
    let text = source.text.as_str();
    let mut folds = Folds {
        text,
        out: Vec::new(),
    };
    let mut imports: Vec<Span> = Vec::new();
    for item in &source.module.items {
        if matches!(item.kind, ast::ItemKind::Import(_)) {
            imports.push(item.span);
            continue;
        }
        folds.imports(&mut imports);
        folds.region(item.span);
        match &item.kind {
            ast::ItemKind::Workflow(workflow) => {
                for trigger in &workflow.triggers {
                    folds.region(trigger.span);
                }
                for settings in &workflow.settings {
                    folds.region(settings.span);
                }
                folds.stmts(&workflow.body);
            }
            ast::ItemKind::Test(test) => folds.stmts(&test.body.stmts),
            ast::ItemKind::Fn(function) => folds.expr(&function.body),
            ast::ItemKind::Type(decl) => folds.ty(&decl.ty),
            ast::ItemKind::Event(decl) => folds.ty(&decl.ty),
            _ => {}
        }
    }
    folds.imports(&mut imports);
    folds.comments();
    let mut out = folds.out;
    out.sort_by_key(|fold| (fold.span.start, std::cmp::Reverse(fold.span.end)));
    out.dedup();
    out
}

struct Folds<'a> {
    text: &'a str,
    out: Vec<Fold>,
}

impl Folds<'_> {
    fn multi_line(&self, span: Span) -> bool {
        self.text
            .get(span.range())
            .is_some_and(|slice| slice.trim_end().contains('\n'))
    }

    fn push(&mut self, span: Span, kind: FoldKind) {
        if self.multi_line(span) {
            self.out.push(Fold { span, kind });
        }
    }

    fn region(&mut self, span: Span) {
        self.push(span, FoldKind::Region);
    }

    /// The run of imports collected so far, folded when it has more than one.
    fn imports(&mut self, imports: &mut Vec<Span>) {
        if let (Some(first), Some(last)) = (imports.first(), imports.last())
            && imports.len() > 1
        {
            self.push(first.to(*last), FoldKind::Imports);
        }
        imports.clear();
    }

    fn stmts(&mut self, stmts: &[ast::Stmt]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn block(&mut self, block: &ast::Block) {
        self.region(block.span);
        self.stmts(&block.stmts);
    }

    fn stmt(&mut self, stmt: &ast::Stmt) {
        match &stmt.kind {
            ast::StmtKind::Step { action, .. } => {
                self.region(stmt.span);
                if let ast::StepAction::Http(call) = action {
                    for option in &call.options {
                        self.expr(&option.value);
                    }
                }
            }
            ast::StmtKind::Let { value, .. } => match value {
                ast::LetValue::Expr(expr) => self.expr(expr),
                ast::LetValue::For(each, _) => self.block(&each.body),
                _ => {}
            },
            ast::StmtKind::If {
                then, otherwise, ..
            } => {
                self.block(then);
                if let Some(otherwise) = otherwise {
                    self.stmt(otherwise);
                }
            }
            ast::StmtKind::Block(block) => self.block(block),
            ast::StmtKind::Match { arms, .. } => {
                self.region(stmt.span);
                for arm in arms {
                    self.stmt(&arm.body);
                }
            }
            ast::StmtKind::For(each) => self.block(&each.body),
            ast::StmtKind::Parallel { branches } => {
                self.region(stmt.span);
                self.stmts(branches);
            }
            ast::StmtKind::Try { body, handler, .. } => {
                self.block(body);
                self.block(handler);
            }
            ast::StmtKind::Emit { payload, .. } => self.expr(payload),
            ast::StmtKind::Return(Some(value)) => self.expr(value),
            _ => {}
        }
    }

    fn expr(&mut self, expr: &ast::Expr) {
        match &expr.kind {
            ast::ExprKind::Record(fields) | ast::ExprKind::Tagged { fields, .. } => {
                self.region(expr.span);
                for field in fields {
                    self.expr(&field.value);
                }
            }
            ast::ExprKind::List(items) => {
                self.region(expr.span);
                for item in items {
                    self.expr(item);
                }
            }
            ast::ExprKind::Match { arms, .. } => {
                self.region(expr.span);
                for (_, body) in arms {
                    self.expr(body);
                }
            }
            _ => {}
        }
    }

    fn ty(&mut self, ty: &ast::Type) {
        if let ast::TypeKind::Record(fields) = &ty.kind {
            self.region(ty.span);
            for field in fields {
                self.ty(&field.ty);
            }
        }
    }

    /// Block comments over several lines, and runs of two or more lines that
    /// hold only a `//` comment.
    fn comments(&mut self) {
        let lexed = lex(self.text);
        let mut from = 0usize;
        let mut gaps: Vec<(usize, usize)> = Vec::new();
        for span in &lexed.spans {
            gaps.push((from, span.start as usize));
            from = from.max(span.end as usize);
        }
        gaps.push((from, self.text.len()));
        let mut run: Option<(usize, usize, usize)> = None;
        for (gap_start, gap_end) in gaps {
            let Some(gap) = self.text.get(gap_start..gap_end) else {
                continue;
            };
            for (start, end, _) in comment_ranges(gap) {
                let (start, end) = (gap_start + start, gap_start + end);
                let block = self.text.get(start..start + 2) == Some("/*");
                if block {
                    self.flush(&mut run);
                    self.push(Span::new(start, end), FoldKind::Comment);
                    continue;
                }
                let own_line = self.text[..start]
                    .rsplit('\n')
                    .next()
                    .is_some_and(|head| head.trim().is_empty());
                let follows = run.is_some_and(|(_, last_end, _)| {
                    self.text.get(last_end..start).is_some_and(|between| {
                        between.trim().is_empty() && between.matches('\n').count() == 1
                    })
                });
                match (own_line, follows, run.as_mut()) {
                    (true, true, Some(current)) => {
                        current.1 = end;
                        current.2 += 1;
                    }
                    (true, _, _) => {
                        self.flush(&mut run);
                        run = Some((start, end, 1));
                    }
                    _ => self.flush(&mut run),
                }
            }
        }
        self.flush(&mut run);
    }

    fn flush(&mut self, run: &mut Option<(usize, usize, usize)>) {
        if let Some((start, end, lines)) = run.take()
            && lines > 1
        {
            self.out.push(Fold {
                span: Span::new(start, end),
                kind: FoldKind::Comment,
            });
        }
    }
}

//! The type checker and elaborator: resolved, typed IR out of the project's trees.
//!
//! One pass per body does three jobs at once, because each needs the others'
//! results: it resolves local names (lets, steps, loop variables, handles — their
//! diagnostics are the E03xx of `resolve::diagnostics`), computes the type of every
//! expression (E04xx), and lowers what it checked into [`ir`] with frame slots.
//! Expressions are checked bidirectionally: where the expected type is known
//! (a field of a declared record, an argument, a `return`) it is pushed into
//! literals, so `"BRL"` checks against `"BRL" | "USD"` and a record literal reports
//! each missing or extra field at its own span.
//!
//! `decl.rs` checks declarations and the typed schemas of connections, triggers,
//! settings and step options; `stmt.rs` the statements of workflows and tests;
//! `expr.rs` expressions; `builtins.rs` adapts the standard library's signatures;
//! `rules.rs` the project rules (webhook claims, cron, exhaustiveness, recursion);
//! `bound.rs` the static worst-case duration of each workflow.

mod bound;

pub use bound::format_millis as format_duration;
mod builtins;
pub(crate) mod decl;
pub mod diagnostics;
mod expr;
mod rules;
mod stmt;
mod types;

pub use bound::Bound;

use crate::diagnostic::{Diagnostic, FileId, Span};
use crate::ir::{self, Slot};
use crate::resolve::{self, Declarations};
use crate::ty::{Ty, TypeTable};
use crate::{AnalyzedFile, FileDiagnostic};
use std::collections::BTreeMap;

/// What editors and the CLI want to know beyond diagnostics.
#[derive(Clone, Debug, Default)]
pub struct Info {
    /// The type of each checked expression, by file and span.
    pub types: Vec<TypedSpan>,
    /// Each use of a declared or bound name, with where it was defined.
    pub references: Vec<Reference>,
    /// Each declaration and binding: name, kind, type.
    pub definitions: Vec<Definition>,
    /// Each field of a declared record type (`type T = { amount: int }`), kind
    /// `field`; kept apart from `definitions` so their listing stays one per name
    /// in scope.
    pub fields: Vec<Definition>,
    /// The worst-case duration of each workflow.
    pub bounds: Vec<WorkflowBound>,
    /// Each `on schedule` trigger, for printing next fire times.
    pub schedules: Vec<Schedule>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypedSpan {
    pub file: FileId,
    pub span: Span,
    pub ty: Ty,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub file: FileId,
    pub span: Span,
    pub target_file: FileId,
    pub target: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pub file: FileId,
    pub span: Span,
    pub name: String,
    /// `type`, `event`, `connection`, `fn`, `workflow`, `param`, `let`, `step`, …
    pub kind: &'static str,
    pub ty: Ty,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowBound {
    pub workflow: String,
    pub file: FileId,
    pub span: Span,
    pub bound: Bound,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub workflow: String,
    pub cron: String,
    pub tz: String,
    pub file: FileId,
    pub span: Span,
}

/// The signature of a `fn`.
#[derive(Clone, Debug)]
pub(crate) struct FnSig {
    pub index: u32,
    pub params: Vec<(String, Ty)>,
    pub ret: Ty,
}

/// The signature of a workflow.
#[derive(Clone, Debug)]
pub(crate) struct WorkflowSig {
    pub params: Vec<(String, Ty)>,
    pub result: Ty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BindingKind {
    Param,
    Let,
    Step { typed: bool },
    Loop,
    Handle(ir::HandleKind),
    Pattern,
    Lambda,
    Catch,
    Variable,
}

#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub name: String,
    pub slot: Slot,
    pub ty: Ty,
    pub kind: BindingKind,
    pub span: Span,
    pub used: bool,
    pub awaited: Option<Span>,
    /// How many loops enclose the binding, to tell an `await` repeated by a loop.
    pub loops: u32,
}

/// The frame of one body: nested scopes of bindings and the next free slot.
#[derive(Clone, Debug, Default)]
pub(crate) struct Body {
    pub scopes: Vec<Vec<Binding>>,
    pub next_slot: Slot,
}

/// What the statements of a workflow (or test) need to know about it.
#[derive(Clone, Debug, Default)]
pub(crate) struct WorkflowCtx {
    /// `None`: no `-> T`, so `return` takes no value.
    pub result: Option<Ty>,
    /// The type of `webhook`, when the workflow has a webhook trigger.
    pub webhook: Option<Ty>,
    /// Every step and handle name of the workflow, with its first span.
    pub steps: BTreeMap<String, Span>,
    /// One list of yielded types per enclosing `let … = for`.
    pub yields: Vec<Vec<(Ty, Span)>>,
    /// For each enclosing `let … = for`, the element type its annotation wants.
    pub yield_into: Vec<Option<Ty>>,
    /// Loops entered since the innermost collecting `for`.
    pub plain_loops: u32,
    /// Loops (of any kind) around the statement being checked.
    pub loops: u32,
    pub in_test: bool,
    /// Numbers `emit` and `set` journal keys.
    pub counter: u32,
}

pub(crate) struct Checker<'a> {
    pub files: &'a [AnalyzedFile],
    pub decls: Declarations,
    pub types: TypeTable,
    pub events: BTreeMap<String, Ty>,
    pub functions: BTreeMap<String, FnSig>,
    pub workflows: BTreeMap<String, WorkflowSig>,
    pub connections: BTreeMap<String, ir::Connection>,
    pub file: FileId,
    pub diagnostics: Vec<FileDiagnostic>,
    pub body: Body,
    pub wf: Option<WorkflowCtx>,
    pub info: Info,
    /// Calls between functions: (caller, callee, file, span).
    pub fn_calls: Vec<(u32, u32, FileId, Span)>,
    pub current_fn: Option<u32>,
    /// Whether expression types are recorded in `info` (not while probing).
    pub record: bool,
}

/// Checks a loaded project and lowers it to IR.
pub fn program(
    files: &[AnalyzedFile],
    declarations: Declarations,
    diagnostics: &mut Vec<FileDiagnostic>,
) -> (ir::Program, Info) {
    let mut checker = Checker::new(files, declarations);
    let program = checker.run();
    diagnostics.append(&mut checker.diagnostics);
    (program, checker.info)
}

impl<'a> Checker<'a> {
    pub(crate) fn new(files: &'a [AnalyzedFile], decls: Declarations) -> Checker<'a> {
        Checker {
            files,
            decls,
            types: TypeTable::new(),
            events: BTreeMap::new(),
            functions: BTreeMap::new(),
            workflows: BTreeMap::new(),
            connections: BTreeMap::new(),
            file: FileId(0),
            diagnostics: Vec::new(),
            body: Body::default(),
            wf: None,
            info: Info::default(),
            fn_calls: Vec::new(),
            current_fn: None,
            record: true,
        }
    }

    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(FileDiagnostic {
            file: self.file,
            diagnostic,
        });
    }

    /// The source text at `span` in the current file, when it is short enough to
    /// quote in a message.
    pub(crate) fn quote(&self, span: Span) -> Option<String> {
        let file = self.files.get(self.file.0 as usize)?;
        let text = file.text.get(span.start as usize..span.end as usize)?;
        (text.len() <= 40 && !text.contains('\n')).then(|| text.to_string())
    }

    /// Records a use of a declared name at `span`.
    pub(crate) fn reference(&mut self, span: Span, name: &str) {
        let target = self
            .decls
            .types
            .get(name)
            .or_else(|| self.decls.workflows.get(name))
            .or_else(|| self.decls.functions.get(name))
            .or_else(|| self.decls.connections.get(name))
            .or_else(|| self.decls.events.get(name))
            .copied();
        if let Some(target) = target
            && self.record
        {
            self.info.references.push(Reference {
                file: self.file,
                span,
                target_file: target.file,
                target: target.name,
            });
        }
    }

    /// Records a use of field `name` of a value of type `ty`, with the field's
    /// declaration as its target, when `ty` is a declared record type (possibly
    /// optional). Editors use it to go to and rename fields.
    pub(crate) fn field_reference(&mut self, ty: &Ty, name: &crate::syntax::ast::Ident) {
        if !self.record {
            return;
        }
        if let Some((target_file, target)) = self.field_declaration(ty, &name.name) {
            self.info.references.push(Reference {
                file: self.file,
                span: name.span,
                target_file,
                target,
            });
        }
    }

    /// Where field `field` of declared type `ty` is declared: the file and the span
    /// of its name. Follows aliases (`type A = B`) a few steps and strips `?`.
    fn field_declaration(&self, ty: &Ty, field: &str) -> Option<(FileId, Span)> {
        use crate::syntax::ast::TypeKind;
        let mut name = match ty {
            Ty::Named { name } => name.clone(),
            Ty::Union { members } => {
                let mut named = members.iter().filter(|member| **member != Ty::Null);
                match (named.next(), named.next()) {
                    (Some(Ty::Named { name }), None) => name.clone(),
                    _ => return None,
                }
            }
            _ => return None,
        };
        for _ in 0..8 {
            let decl = self.decls.types.get(&name)?;
            let item = self
                .files
                .get(decl.file.0 as usize)?
                .module
                .items
                .get(decl.item)?;
            let crate::syntax::ast::ItemKind::Type(type_decl) = &item.kind else {
                return None;
            };
            let mut declared = &type_decl.ty;
            while let TypeKind::Optional(inner) = &declared.kind {
                declared = inner;
            }
            match &declared.kind {
                TypeKind::Record(fields) => {
                    let found = fields.iter().find(|each| each.name.name == field)?;
                    return Some((decl.file, found.name.span));
                }
                TypeKind::Name(alias) => name = alias.name.clone(),
                _ => return None,
            }
        }
        None
    }

    /// Records each field of a declared record type in `Info::fields`, with the
    /// type the checker gave it.
    fn define_fields(&mut self, declared: &crate::syntax::ast::Type, ty: &Ty) {
        let (crate::syntax::ast::TypeKind::Record(fields), Ty::Record { fields: tys }) =
            (&declared.kind, ty)
        else {
            return;
        };
        if !self.record {
            return;
        }
        for field in fields {
            if let Some(field_ty) = tys.iter().find(|each| each.name == field.name.name) {
                self.info.fields.push(Definition {
                    file: self.file,
                    span: field.name.span,
                    name: field.name.name.clone(),
                    kind: "field",
                    ty: field_ty.ty.clone(),
                });
            }
        }
    }

    fn define(&mut self, span: Span, name: &str, kind: &'static str, ty: &Ty) {
        if self.record {
            self.info.definitions.push(Definition {
                file: self.file,
                span,
                name: name.to_string(),
                kind,
                ty: ty.clone(),
            });
        }
    }

    // -------------------------------------------------------------- scopes

    pub(crate) fn push_scope(&mut self) {
        self.body.scopes.push(Vec::new());
    }

    /// Leaves a scope, warning about names never read.
    pub(crate) fn pop_scope(&mut self) {
        let Some(scope) = self.body.scopes.pop() else {
            return;
        };
        self.warn_unused(&scope);
    }

    pub(crate) fn warn_unused(&mut self, bindings: &[Binding]) {
        for binding in bindings {
            if binding.used || binding.name.starts_with('_') {
                continue;
            }
            let what = match binding.kind {
                BindingKind::Let => "let",
                BindingKind::Step { typed: true } => "step result",
                _ => continue,
            };
            self.error(diagnostics::unused(what, &binding.name, binding.span));
        }
    }

    /// Binds a name in the innermost scope; a name already visible is reported.
    pub(crate) fn bind(&mut self, name: &str, span: Span, ty: Ty, kind: BindingKind) -> Slot {
        let journaled =
            |kind: BindingKind| matches!(kind, BindingKind::Step { .. } | BindingKind::Handle(_));
        // Two steps or handles of one name are E0307, reported with the workflow's
        // step names (`collect_step_names`); E0308 would repeat it.
        if name != "_"
            && let Some(existing) = self.lookup_quiet(name)
            && !(journaled(kind) && journaled(existing.kind))
        {
            self.error(resolve::diagnostics::name_already_bound(
                name,
                span,
                existing.span,
            ));
        }
        let slot = self.body.next_slot;
        self.body.next_slot += 1;
        let label = match kind {
            BindingKind::Param => "param",
            BindingKind::Let => "let",
            BindingKind::Step { .. } => "step",
            BindingKind::Loop => "loop variable",
            BindingKind::Handle(_) => "handle",
            BindingKind::Pattern => "pattern binding",
            BindingKind::Lambda => "lambda parameter",
            BindingKind::Catch => "error",
            BindingKind::Variable => "variable",
        };
        self.define(span, name, label, &ty);
        let binding = Binding {
            name: name.to_string(),
            slot,
            ty,
            kind,
            span,
            used: false,
            awaited: None,
            loops: self.wf.as_ref().map_or(0, |wf| wf.loops),
        };
        match self.body.scopes.last_mut() {
            Some(scope) => scope.push(binding),
            None => self.body.scopes.push(vec![binding]),
        }
        slot
    }

    fn lookup_quiet(&self, name: &str) -> Option<&Binding> {
        self.body
            .scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|binding| binding.name == name)
    }

    /// Finds a visible binding and marks it used.
    pub(crate) fn lookup(&mut self, name: &str, span: Span) -> Option<Binding> {
        let file = self.file;
        let record = self.record;
        let found = self
            .body
            .scopes
            .iter_mut()
            .rev()
            .flat_map(|scope| scope.iter_mut().rev())
            .find(|binding| binding.name == name)?;
        found.used = true;
        let found = found.clone();
        if record {
            self.info.references.push(Reference {
                file,
                span,
                target_file: file,
                target: found.span,
            });
        }
        Some(found)
    }

    pub(crate) fn lookup_mut(&mut self, name: &str) -> Option<&mut Binding> {
        self.body
            .scopes
            .iter_mut()
            .rev()
            .flat_map(|scope| scope.iter_mut().rev())
            .find(|binding| binding.name == name)
    }

    /// Every visible name, for "did you mean".
    pub(crate) fn visible_names(&self) -> Vec<String> {
        self.body
            .scopes
            .iter()
            .flat_map(|scope| scope.iter().map(|binding| binding.name.clone()))
            .collect()
    }

    /// Starts a new frame; returns the old one to restore.
    pub(crate) fn enter_body(&mut self) -> Body {
        std::mem::take(&mut self.body)
    }

    pub(crate) fn leave_body(&mut self, saved: Body) -> u32 {
        while !self.body.scopes.is_empty() {
            self.pop_scope();
        }
        let size = self.body.next_slot;
        self.body = saved;
        size
    }

    // -------------------------------------------------------------- driver

    fn run(&mut self) -> ir::Program {
        let files = self.files;
        self.collect_signatures(files);
        let connections = self.check_connections(files);
        for connection in &connections {
            self.connections
                .insert(connection.name.clone(), connection.clone());
        }
        let functions = self.check_functions(files);
        let mut workflows = self.check_workflows(files);
        self.check_tests(files);
        self.check_recursion();
        self.check_webhook_claims(&workflows);
        self.check_bounds(&mut workflows);
        ir::Program {
            ir_version: ir::IR_VERSION,
            types: self.types.clone(),
            functions,
            connections,
            events: self
                .events
                .iter()
                .map(|(name, ty)| ir::Event {
                    name: name.clone(),
                    ty: ty.clone(),
                })
                .collect(),
            workflows: workflows
                .into_iter()
                .map(|(workflow, _)| workflow)
                .collect(),
        }
    }
}

/// Checks one standalone expression (for `flowc eval` and the REPL).
pub(crate) fn expression(source: &str, env: &crate::ExprEnv) -> crate::CheckedExpr {
    // The expression is parsed as the body of a function, so the parser's
    // expression grammar and recovery apply unchanged; spans are shifted back.
    const PREFIX: &str = "fn __expression() -> json =\n";
    let wrapped = format!("{PREFIX}{source}");
    let parsed = crate::syntax::parse(&wrapped);
    let shift = u32::try_from(PREFIX.len()).unwrap_or(0);
    let unshift = |mut diagnostic: Diagnostic| {
        for label in &mut diagnostic.labels {
            label.span.start = label.span.start.saturating_sub(shift);
            label.span.end = label.span.end.saturating_sub(shift);
        }
        diagnostic
    };
    let mut diagnostics: Vec<Diagnostic> = parsed.diagnostics.into_iter().map(unshift).collect();
    let body = parsed
        .module
        .items
        .iter()
        .find_map(|item| match &item.kind {
            crate::syntax::ast::ItemKind::Fn(decl) if parsed.module.items.len() == 1 => {
                Some(decl.body.clone())
            }
            _ => None,
        });
    let files: Vec<AnalyzedFile> = Vec::new();
    let mut checker = Checker::new(&files, Declarations::default());
    checker.types = env.types.clone();
    checker.events = env.events.clone();
    for (index, (name, params, ret)) in env.functions.iter().enumerate() {
        checker.functions.insert(
            name.clone(),
            FnSig {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                params: params
                    .iter()
                    .enumerate()
                    .map(|(i, ty)| (format!("arg{i}"), ty.clone()))
                    .collect(),
                ret: ret.clone(),
            },
        );
    }
    for name in &env.connections {
        checker.decls.connections.insert(
            name.clone(),
            resolve::DeclRef {
                file: FileId(0),
                item: 0,
                name: Span::default(),
            },
        );
    }
    checker.push_scope();
    for (name, ty) in &env.variables {
        checker.bind(name, Span::default(), ty.clone(), BindingKind::Variable);
        if let Some(binding) = checker.lookup_mut(name) {
            binding.used = true;
        }
    }
    let lowered = body.map(|body| checker.infer(&body));
    checker.body.scopes.clear();
    let frame_size = checker.body.next_slot;
    diagnostics.extend(
        checker
            .diagnostics
            .into_iter()
            .map(|d| unshift(d.diagnostic)),
    );
    let mut lowered = lowered;
    if let Some(expr) = &mut lowered {
        expr.for_each_span_mut(&mut |span| {
            span.start = span.start.saturating_sub(shift);
            span.end = span.end.saturating_sub(shift);
        });
    }
    let ty = lowered.as_ref().map_or(Ty::Error, |expr| expr.ty.clone());
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    crate::CheckedExpr {
        expr: if failed { None } else { lowered },
        ty,
        frame_size,
        diagnostics,
    }
}

//! The IR: the lowered, typed program the runtime stores, runs and hashes.
//!
//! It is what a deployment is. Everything in it is serde-serialisable (JSON for
//! people and the admin API, a compact binary form for the store) and versioned by
//! [`IR_VERSION`]; its content hash identifies a deployment. Names are resolved:
//! variables are frame slots, functions are indices or stdlib names, types are
//! [`Ty`]s with a table of named ones. Every expression keeps its type (for the
//! JIT) and its span (so run-time errors point into the source).
//!
//! The expression part below is shared by the checker (which produces it) and the
//! evaluator (which runs it); the program part (workflows, statements, triggers,
//! connections) follows it.

use crate::diagnostic::Span;
use crate::ty::Ty;
use serde::{Deserialize, Serialize};

/// Bumped on every change to the shape of the IR; the runtime refuses programs
/// of another version.
pub const IR_VERSION: u32 = 1;

/// A variable's place in its frame. Each workflow, `fn` and standalone expression
/// has one frame; `let`s, step results, loop variables and lambda parameters get
/// slots in it, numbered from 0 in order of declaration (a workflow's input and a
/// standalone expression's `input` are slot 0).
pub type Slot = u32;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "expr", rename_all = "snake_case")]
pub enum ExprKind {
    Literal {
        value: Literal,
    },
    /// `"a ${b} c"`: the parts concatenated, each expression part turned into text
    /// as `to_string` does.
    Template {
        parts: Vec<TemplatePart>,
    },
    Local {
        slot: Slot,
    },
    /// `secrets.NAME`: resolved by the runtime at send time, never a value in the
    /// journal.
    Secret {
        name: String,
    },
    /// `context.key`: the workflow's cross-run store, read at run time.
    Context {
        key: String,
    },
    /// `webhook`: the metadata of the delivery that started the run.
    Webhook,
    List {
        items: Vec<Expr>,
    },
    /// Fields in source order.
    Record {
        fields: Vec<(String, Expr)>,
    },
    /// `bearer { token: … }`, `exponential(attempts: 5, …)`: a built-in
    /// configuration form with named fields (auth, retry, verification).
    Tagged {
        tag: String,
        fields: Vec<(String, Expr)>,
    },
    /// `a.b`; with `optional`, `a?.b` (null when `a` is null).
    Field {
        base: Box<Expr>,
        name: String,
        optional: bool,
    },
    /// `a[i]` on a list (int index) or a map or json (string key).
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// A call of a stdlib function or a `fn`. Method syntax `s.trim()` is lowered
    /// to a call with the receiver as the first argument.
    Call {
        callee: Callee,
        args: Vec<Expr>,
    },
    /// `x => body`: parameters are slots of the enclosing frame.
    Lambda {
        params: Vec<Slot>,
        body: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<MatchArm>,
    },
    /// `value as T`: a checked conversion, usually from `json`; fails at run time
    /// with the path of the first mismatch.
    As {
        value: Box<Expr>,
        target: Ty,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Literal {
    Null,
    Bool {
        value: bool,
    },
    Int {
        value: i64,
    },
    Float {
        value: f64,
    },
    String {
        value: String,
    },
    /// Milliseconds.
    Duration {
        millis: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplatePart {
    Text { text: String },
    Expr { expr: Expr },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Callee {
    /// A stdlib function by name (see `stdlib`).
    Builtin { name: String },
    /// A `fn` of the program, by index into [`Program::functions`].
    Function { index: u32 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchArm {
    pub pattern: Pattern,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pattern {
    Wildcard,
    /// Binds the scrutinee to a slot.
    Binding {
        slot: Slot,
    },
    Literal {
        value: Literal,
    },
    Or {
        alternatives: Vec<Pattern>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// `??`: the right side is evaluated only when the left is null.
    Coalesce,
    /// `||` and `&&` short-circuit.
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `x in list`, `key in map`, `sub in string`.
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// A pure function of the program (`fn name(params) -> T = body`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub params: Vec<Ty>,
    pub ret: Ty,
    /// Slots used by the body's frame; parameters are slots `0..params.len()`.
    pub frame_size: u32,
    pub body: Expr,
}

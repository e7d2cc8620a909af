//! The abstract syntax tree: what the parser makes of one `.flow` file.
//!
//! Every node carries the byte span it was parsed from. The tree is faithful to the
//! source (no desugaring; names are not resolved yet) and tolerant: where the parser
//! recovered from an error it leaves an `Error` node, so later stages can skip the
//! broken part and still look at the rest. `pretty.rs` prints it in a stable
//! S-expression form for snapshot tests.

use crate::diagnostic::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `///` lines directly above a declaration, without the slashes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Docs(pub Vec<String>);

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub docs: Docs,
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    Import(Import),
    Type(TypeDecl),
    Event(EventDecl),
    Connection(Connection),
    Fn(FnDecl),
    Workflow(Workflow),
    Test(TestDecl),
    /// Tokens the parser skipped to recover.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub path: StrLit,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeDecl {
    pub name: Ident,
    pub ty: Type,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventDecl {
    pub name: Ident,
    pub ty: Type,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub name: Ident,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FnDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Type,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: Type,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Option<Type>,
    pub triggers: Vec<Trigger>,
    /// `settings { … }` blocks; more than one is the checker's to report.
    pub settings: Vec<Settings>,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub fields: Vec<Field>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestDecl {
    pub name: StrLit,
    pub body: Block,
}

/// `name: value` in a field block (connection, settings, options, record literal).
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

// ---------------------------------------------------------------- triggers

#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TriggerKind {
    /// `on webhook POST "/path" { verify: …, idempotency_key: …, respond: … }`
    Webhook {
        method: Ident,
        path: StrLit,
        options: Vec<Field>,
    },
    /// `on schedule "0 * * * *" tz "Europe/Lisbon"`
    Schedule { cron: StrLit, tz: Option<StrLit> },
    /// `on event sku_reorder`
    Event { name: Ident },
    /// `on manual`: started through the API or the CLI.
    Manual,
}

// ---------------------------------------------------------------- types

#[derive(Clone, Debug, PartialEq)]
pub struct Type {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// A named or built-in type: `Payment`, `string`, `secret`.
    Name(Ident),
    /// A literal type: `"BRL"`, `3`, `true`, `null`.
    Literal(Literal),
    List(Box<Type>),
    Record(Vec<TypeField>),
    /// `T?`
    Optional(Box<Type>),
    /// `A | B | C`
    Union(Vec<Type>),
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeField {
    pub name: Ident,
    /// `name?: T`: the field may be absent.
    pub optional: bool,
    pub ty: Type,
    pub span: Span,
}

// ---------------------------------------------------------------- statements

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `step name = …`: a checkpoint with a stable id.
    Step {
        name: Ident,
        action: StepAction,
    },
    /// `let name [: T] = …`
    Let {
        name: Ident,
        ty: Option<Type>,
        value: LetValue,
    },
    /// `set context.key = value`
    Set {
        target: Expr,
        value: Expr,
    },
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Box<Stmt>>,
    },
    /// An `else { … }` block hanging off an `if` (an `else if` is a nested `If`).
    Block(Block),
    Match {
        scrutinee: Expr,
        arms: Vec<MatchArm>,
    },
    For(ForLoop),
    /// Each entry is one branch: a block or a single statement.
    Parallel {
        branches: Vec<Stmt>,
    },
    Try {
        body: Block,
        error: Ident,
        handler: Block,
    },
    Fail(Expr),
    Return(Option<Expr>),
    Emit {
        event: Ident,
        payload: Expr,
    },
    Yield(Expr),
    /// `mock http POST conn "/p" => response`, in tests.
    Mock {
        request: HttpCall,
        response: Expr,
    },
    /// `assert cond [, message]`, in tests.
    Assert {
        cond: Expr,
        message: Option<Expr>,
    },
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForLoop {
    pub var: Ident,
    pub iter: Expr,
    /// `(concurrency: 5)`
    pub options: Vec<Arg>,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatchArm {
    pub pattern: Pattern,
    pub body: Box<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LetValue {
    Expr(Expr),
    /// `callback(timeout: 1h) -> T`
    Callback {
        args: Vec<Arg>,
        ty: Option<Type>,
        span: Span,
    },
    /// `approval(timeout: 24h, message: "…")`
    Approval {
        args: Vec<Arg>,
        span: Span,
    },
    /// `let results = for x in xs { … yield v }`
    For(Box<ForLoop>, Span),
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepAction {
    Http(HttpCall),
    /// `call workflow(args)`
    Call {
        workflow: Ident,
        args: Vec<Arg>,
        span: Span,
    },
    /// `wait 10m`
    Wait(Expr),
    /// `wait until t`
    WaitUntil(Expr),
    /// `await handle` for a callback or approval made by `let`.
    Await(Ident),
    /// `await event name as e where pred (timeout: 1h)`
    AwaitEvent {
        event: Ident,
        binding: Ident,
        filter: Expr,
        options: Vec<Arg>,
    },
    /// `await webhook POST "/path" as d: T where pred (timeout: 1h)`
    AwaitWebhook {
        method: Ident,
        path: StrLit,
        binding: Ident,
        /// The type of the delivery body; `json` when absent.
        ty: Option<Type>,
        filter: Expr,
        options: Vec<Arg>,
    },
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HttpCall {
    pub method: Ident,
    pub target: HttpTarget,
    pub options: Vec<Field>,
    /// `-> T`: the type of the response body.
    pub response: Option<Type>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum HttpTarget {
    /// A whole URL: `"https://…/${x}"` or `(expr)`.
    Url(Expr),
    /// A connection and a path: `fraud "/score"`.
    Connection { connection: Ident, path: Expr },
}

// ---------------------------------------------------------------- patterns

#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub kind: PatternKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PatternKind {
    Wildcard,
    Binding(Ident),
    Literal(Literal),
    Or(Vec<Pattern>),
    Error,
}

// ---------------------------------------------------------------- expressions

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A string with `${…}` parts.
    Template(Vec<TemplatePart>),
    Name(Ident),
    List(Vec<Expr>),
    Record(Vec<Field>),
    /// `bearer { token: … }`: a record tagged with a constructor name.
    Tagged {
        tag: Ident,
        fields: Vec<Field>,
    },
    /// `a.b` (`optional: false`) or `a?.b` (`optional: true`).
    Field {
        base: Box<Expr>,
        name: Ident,
        optional: bool,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `f(x)`, `s.trim()`, `exponential(attempts: 5)`.
    Call {
        callee: Box<Expr>,
        args: Vec<Arg>,
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
        arms: Vec<(Pattern, Expr)>,
    },
    Lambda {
        params: Vec<Ident>,
        body: Box<Expr>,
    },
    /// `value as T`: an explicit, run-time checked conversion (usually from `json`).
    As {
        value: Box<Expr>,
        ty: Type,
    },
    /// `(e)`, kept so spans and the formatter see the parentheses.
    Paren(Box<Expr>),
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    /// Text with escapes already decoded.
    Text(String, Span),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(f64),
    /// A duration in milliseconds.
    Duration(i64),
    String(String),
    Bool(bool),
    Null,
}

/// A string literal where the grammar wants a plain one (paths, cron, imports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Coalesce,
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Coalesce => "??",
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::In => "in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Not => "!",
            UnaryOp::Neg => "-",
        }
    }
}

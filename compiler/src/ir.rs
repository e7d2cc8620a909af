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
/// of another version. One change does not bump it: a new optional field that
/// reads as absent when missing (`#[serde(default)]`) and is not written when
/// absent (`skip_serializing_if`). Programs stored before it read back unchanged,
/// and programs that do not use it keep their bytes and their hash.
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

impl Expr {
    /// Calls `f` on the span of this expression and of every expression inside it.
    pub fn for_each_span_mut(&mut self, f: &mut impl FnMut(&mut Span)) {
        f(&mut self.span);
        match &mut self.kind {
            ExprKind::Literal { .. }
            | ExprKind::Local { .. }
            | ExprKind::Secret { .. }
            | ExprKind::Context { .. }
            | ExprKind::Webhook
            | ExprKind::Const { .. } => {}
            ExprKind::Template { parts } => {
                for part in parts {
                    if let TemplatePart::Expr { expr } = part {
                        expr.for_each_span_mut(f);
                    }
                }
            }
            ExprKind::List { items } => items.iter_mut().for_each(|item| item.for_each_span_mut(f)),
            ExprKind::Record { fields } | ExprKind::Tagged { fields, .. } => fields
                .iter_mut()
                .for_each(|(_, value)| value.for_each_span_mut(f)),
            ExprKind::Field { base, .. } => base.for_each_span_mut(f),
            ExprKind::Index { base, index } => {
                base.for_each_span_mut(f);
                index.for_each_span_mut(f);
            }
            ExprKind::Call { args, .. } => args.iter_mut().for_each(|arg| arg.for_each_span_mut(f)),
            ExprKind::Lambda { body, .. } => body.for_each_span_mut(f),
            ExprKind::Unary { operand, .. } => operand.for_each_span_mut(f),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.for_each_span_mut(f);
                rhs.for_each_span_mut(f);
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                cond.for_each_span_mut(f);
                then.for_each_span_mut(f);
                otherwise.for_each_span_mut(f);
            }
            ExprKind::Match { scrutinee, arms } => {
                scrutinee.for_each_span_mut(f);
                arms.iter_mut()
                    .for_each(|arm| arm.body.for_each_span_mut(f));
            }
            ExprKind::As { value, .. } => value.for_each_span_mut(f),
        }
    }
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
    /// A value computed ahead of time, read back with
    /// [`Value::from_json_typed`](crate::value::Value::from_json_typed) and the
    /// expression's `ty`. The checker never produces it: it stands for the parts of
    /// an `await` predicate the runtime computes when the run starts waiting (see
    /// [`eval::residual`](crate::eval::residual)).
    Const {
        value: serde_json::Value,
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

impl BinaryOp {
    /// The operator as written in Flow, for messages.
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

// ---------------------------------------------------------------- the program

/// A whole compiled project: what a deployment stores and the runtime runs.
///
/// Step paths: every step, handle, `emit` and `set` has a `name` unique within its
/// workflow. At run time its journal key is that name prefixed by one segment per
/// enclosing `for`, `segment[index].` (see [`ForLoop::segment`]), so a step `price`
/// in a loop over `items` at index 3 is `items[3].price`. `parallel` branches, `if`,
/// `match` and `try` add nothing: names are unique in the workflow, so paths are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub ir_version: u32,
    /// The definitions of every named type, for validating payloads at run time.
    pub types: crate::ty::TypeTable,
    pub functions: Vec<Function>,
    pub connections: Vec<Connection>,
    pub events: Vec<Event>,
    pub workflows: Vec<Workflow>,
}

impl Default for Program {
    fn default() -> Program {
        Program {
            ir_version: IR_VERSION,
            types: crate::ty::TypeTable::new(),
            functions: Vec::new(),
            connections: Vec::new(),
            events: Vec::new(),
            workflows: Vec::new(),
        }
    }
}

/// Why a stored program cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid IR JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid binary IR: {0}")]
    Binary(String),
    #[error("IR version {found} is not supported (this build reads version {IR_VERSION})")]
    Version { found: u32 },
    #[error("invalid IR JSON: nested more than {IR_NESTING} levels deep")]
    TooDeep,
}

/// How deep the IR's readers let a document nest. The front end bounds a
/// program's nesting (E0204: 256 levels of brackets, blocks and operators), and
/// one level of source is a few levels of IR, so every program the compiler
/// accepts fits with room to spare; a deeper document is not one it wrote.
/// serde_json's and ciborium's own limits (128 and 256) are lower than a valid
/// program can need.
pub const IR_NESTING: usize = 4096;

/// The stack the IR is read and written on: recursion of up to [`IR_NESTING`]
/// levels through serde, whatever stack the caller has (a runtime worker's is
/// 2 MiB). Reserved, not committed: only the pages used are touched.
const IR_STACK: usize = 256 * 1024 * 1024;

/// Runs `f`, which recurses once per level of IR, on a stack deep enough.
fn on_ir_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::grow(IR_STACK, f)
}

/// Whether JSON `text` nests arrays and objects deeper than `limit`: a scan
/// outside strings, so the reader never recurses past the limit.
fn json_deeper_than(text: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

impl Program {
    /// The content hash of the program: SHA-256, in lower-case hex, of its canonical
    /// JSON with every `span` removed. Spans are left out on purpose: reformatting a
    /// file or moving a declaration does not change what a deployment does, so it
    /// does not change its hash either.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = on_ir_stack(|| {
            let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
            strip_spans(&mut value);
            value.to_string()
        });
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    pub fn to_json(&self) -> String {
        on_ir_stack(|| serde_json::to_string_pretty(self).unwrap_or_default())
    }

    pub fn from_json(text: &str) -> Result<Program, Error> {
        if json_deeper_than(text, IR_NESTING) {
            return Err(Error::TooDeep);
        }
        let program: Program = on_ir_stack(|| {
            let mut reader = serde_json::Deserializer::from_str(text);
            reader.disable_recursion_limit();
            let program = serde::Deserialize::deserialize(&mut reader)?;
            reader.end().map(|()| program)
        })?;
        program.checked_version()
    }

    /// The compact binary form: CBOR (RFC 8949). A self-describing format is
    /// needed because the IR's enums are internally tagged (`{"expr": "call", …}`)
    /// for readable JSON, which non-self-describing formats such as postcard cannot
    /// read back.
    pub fn to_binary(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        match on_ir_stack(|| ciborium::ser::into_writer(self, &mut bytes)) {
            Ok(()) => bytes,
            Err(_) => Vec::new(),
        }
    }

    pub fn from_binary(bytes: &[u8]) -> Result<Program, Error> {
        let program: Program = on_ir_stack(|| {
            ciborium::de::from_reader_with_recursion_limit(bytes, IR_NESTING)
                .map_err(|error| Error::Binary(error.to_string()))
        })?;
        program.checked_version()
    }

    fn checked_version(self) -> Result<Program, Error> {
        if self.ir_version == IR_VERSION {
            Ok(self)
        } else {
            Err(Error::Version {
                found: self.ir_version,
            })
        }
    }

    pub fn workflow(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|workflow| workflow.name == name)
    }
}

fn strip_spans(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("span");
            for child in map.values_mut() {
                strip_spans(child);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub name: String,
    pub ty: Ty,
}

/// A provider connection. Its values are evaluated once per deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub name: String,
    pub base_url: Expr,
    /// An auth form (a `Tagged` expression, or a `Literal` string `"none"`).
    pub auth: Option<Expr>,
    pub headers: Vec<(String, Expr)>,
    pub timeout_ms: Option<i64>,
    pub retry: Option<RetryPolicy>,
    pub circuit_breaker: Option<CircuitBreaker>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub initial_ms: i64,
    pub max_ms: i64,
}

impl RetryPolicy {
    /// The sum of the waits between attempts, before jitter.
    pub fn total_backoff_ms(&self) -> i64 {
        let mut total: i64 = 0;
        let mut wait = self.initial_ms;
        for _ in 1..self.attempts {
            total = total.saturating_add(wait.min(self.max_ms));
            wait = wait.saturating_mul(2);
        }
        total
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreaker {
    pub failures: u32,
    pub reset_after_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub name: String,
    /// The input: at most one parameter in slot 0 (a workflow with several
    /// parameters receives them as one record, in slots `0..n`).
    pub params: Vec<Param>,
    /// The type of the value a run returns (`null` without `-> T`).
    pub result: Ty,
    pub triggers: Vec<Trigger>,
    pub settings: Settings,
    pub frame_size: u32,
    pub body: Vec<Stmt>,
    /// The worst-case duration of a run, in milliseconds, when it is bounded.
    pub bound_ms: Option<i64>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub ty: Ty,
    pub slot: Slot,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "trigger", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // Stored data: boxing would only add noise.
pub enum Trigger {
    Webhook {
        method: String,
        path: String,
        /// A verification form (`Tagged`).
        verify: Option<Expr>,
        /// Evaluated with the input in slot 0.
        idempotency_key: Option<Expr>,
        respond: Respond,
        /// The largest body this webhook accepts, in bytes (`body_limit:`); the
        /// server's default without it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body_limit: Option<u64>,
        /// How many requests this webhook accepts per period (`rate_limit:`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate_limit: Option<RateLimit>,
    },
    Schedule {
        cron: String,
        /// IANA zone; `UTC` when not written.
        tz: String,
    },
    Event {
        event: String,
    },
    Manual,
}

/// `rate_limit: { requests: 100, per: 1s }`: a token bucket of `requests` tokens,
/// refilled at `requests` per `per_ms`. A quiet webhook takes a burst of
/// `requests` at once; a busy one, `requests` per `per_ms` on average.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// At least 1.
    pub requests: u32,
    /// At least 1.
    pub per_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Respond {
    Accepted,
    Wait,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub max_concurrency: Option<u32>,
    pub timeout_ms: Option<i64>,
    pub on_success: Option<Hook>,
    pub on_failure: Option<Hook>,
}

/// What `on_success` / `on_failure` start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hook {
    Workflow { name: String },
    Url { url: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stmt", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // Stored data: boxing would only add noise.
pub enum StmtKind {
    /// A journaled step: its result goes to `slot`.
    Step {
        name: String,
        slot: Slot,
        action: StepAction,
        ty: Ty,
    },
    Let {
        slot: Slot,
        value: Expr,
    },
    /// `let h = callback(timeout: d) -> T`: a journaled handle `{ url }`.
    Callback {
        name: String,
        slot: Slot,
        timeout: Option<Expr>,
        ty: Ty,
    },
    /// `let h = approval(timeout: d, message: m)`: `{ approve_url, reject_url }`.
    Approval {
        name: String,
        slot: Slot,
        timeout: Option<Expr>,
        message: Option<Expr>,
    },
    /// `let xs = for …`: the yielded values, collected in input order.
    Collect {
        slot: Slot,
        each: ForLoop,
    },
    For(ForLoop),
    /// `set context[key] = value`; `name` is its journal key.
    Set {
        name: String,
        key: Expr,
        value: Expr,
    },
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    Match {
        scrutinee: Expr,
        arms: Vec<StmtArm>,
    },
    Parallel {
        branches: Vec<Vec<Stmt>>,
    },
    Try {
        body: Vec<Stmt>,
        /// The error record `{ kind, message, step?, status? }`.
        error_slot: Slot,
        handler: Vec<Stmt>,
    },
    Fail {
        message: Expr,
    },
    Return {
        value: Option<Expr>,
    },
    Emit {
        name: String,
        event: String,
        payload: Expr,
    },
    Yield {
        value: Expr,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StmtArm {
    pub pattern: Pattern,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForLoop {
    /// The step-path segment: the last name of the iterated path, or the loop
    /// variable's name.
    pub segment: String,
    pub var_slot: Slot,
    pub iter: Expr,
    pub concurrency: u32,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepAction {
    Http(HttpRequest),
    /// A child run of `workflow` with `input` (`null` for a workflow without
    /// parameters; a record of them when it has several).
    Call {
        workflow: String,
        input: Expr,
    },
    Wait {
        duration: Expr,
    },
    WaitUntil {
        time: Expr,
    },
    Await {
        handle: Slot,
        kind: HandleKind,
    },
    /// `await event E as x where filter`: the payload of the first emit of `E`
    /// whose `filter` holds with the payload in slot `binding`.
    AwaitEvent {
        event: String,
        binding: Slot,
        filter: Expr,
        timeout: Option<Expr>,
        /// The equality of `filter` that indexes the wait, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<CorrelationKey>,
        /// `lookback: d`: an event emitted up to `d` before the run starts
        /// waiting still counts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lookback: Option<Expr>,
    },
    /// `await webhook METHOD "path" as x: body where filter`: the body of the
    /// first request to the path whose `filter` holds with the body in `binding`.
    AwaitWebhook {
        method: String,
        path: String,
        binding: Slot,
        body: Ty,
        filter: Expr,
        timeout: Option<Expr>,
        verify: Option<Expr>,
        /// The equality of `filter` that indexes the wait, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<CorrelationKey>,
        /// `lookback: d`: a request received up to `d` before the run starts
        /// waiting still counts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lookback: Option<Expr>,
    },
}

/// The equality `x.path == value` among the top-level `&&` conjuncts of an
/// `await` predicate whose message is `x` (see [`crate::correlate`]). A message can
/// satisfy the predicate only if its field at `path` equals `value`, so the runtime
/// computes `value` in the run's frame when the run starts waiting and finds the
/// waiting runs for a message by the message's field at `path`, without testing
/// every one. `value` never mentions the message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrelationKey {
    /// Field names from the message down, `["data", "object", "id"]` for
    /// `d.data.object.id`; empty when the predicate compares the message itself.
    pub path: Vec<String>,
    /// The other side of the equality, evaluated in the run's frame.
    pub value: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandleKind {
    Callback,
    Approval,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    /// With a connection, `url` is the path appended to its base URL.
    pub connection: Option<String>,
    pub url: Expr,
    pub headers: Vec<(String, Expr)>,
    pub query: Vec<(String, Expr)>,
    pub body: Option<Body>,
    pub auth: Option<Expr>,
    pub timeout_ms: Option<i64>,
    pub retry: Option<RetryPolicy>,
    /// Statuses that count as success; empty means any 2xx.
    pub expect: Vec<i64>,
    /// The type the response body is validated against.
    pub response: Ty,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Body {
    Json(Expr),
    Text(Expr),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoImports, SourceFile, analyze};

    /// Documents far deeper than any program are refused with an error, in
    /// both forms, without exhausting the stack.
    #[test]
    fn over_deep_ir_is_an_error() {
        let depth = IR_NESTING * 4;
        let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(matches!(Program::from_json(&json), Err(Error::TooDeep)));
        // A map whose one field, `x`, holds arrays of one element, nested
        // (0xa1: a map of one entry; 0x61 0x78: the text "x"; 0x81: an array
        // of one element).
        let mut cbor = vec![0xa1, 0x61, b'x'];
        cbor.extend(std::iter::repeat_n(0x81, depth));
        cbor.push(0x00);
        let error = Program::from_binary(&cbor).expect_err("too deep");
        assert!(
            error.to_string().contains("RecursionLimitExceeded"),
            "{error}"
        );
        // Brackets inside strings do not count; escaped quotes do not end them.
        assert!(!json_deeper_than(r#"{"a": "[[[[\"[[[[", "b": [1]}"#, 2));
        assert!(json_deeper_than(r#"{"a": [[1]]}"#, 2));
    }

    fn program(text: &str) -> Program {
        let analysis = analyze(
            vec![SourceFile {
                path: "main.flow".into(),
                text: text.into(),
            }],
            &NoImports,
        );
        assert!(
            analysis.diagnostics.is_empty(),
            "{:?}",
            analysis.diagnostics
        );
        analysis.program
    }

    fn webhook(program: &Program) -> (Option<u64>, Option<RateLimit>) {
        match program.workflows.first().and_then(|w| w.triggers.first()) {
            Some(Trigger::Webhook {
                body_limit,
                rate_limit,
                ..
            }) => (*body_limit, *rate_limit),
            other => panic!("not a webhook: {other:?}"),
        }
    }

    #[test]
    fn webhook_limits_reach_the_ir_and_round_trip() {
        let program = program(
            r#"
workflow w(body: json) {
  on webhook POST "/big" { body_limit: 5_000_000  rate_limit: { requests: 100, per: 2s } }
}
"#,
        );
        let expected = (
            Some(5_000_000),
            Some(RateLimit {
                requests: 100,
                per_ms: 2_000,
            }),
        );
        assert_eq!(webhook(&program), expected);
        let from_json = Program::from_json(&program.to_json()).expect("json");
        assert_eq!(webhook(&from_json), expected);
        let from_binary = Program::from_binary(&program.to_binary()).expect("cbor");
        assert_eq!(webhook(&from_binary), expected);
        assert_eq!(from_binary.hash(), program.hash());
    }

    /// A webhook without the limits is written as before they existed, so its
    /// hash is unchanged; IR written before them reads back without them.
    #[test]
    fn webhook_without_limits_keeps_its_old_form() {
        let program = program("workflow w(body: json) {\n  on webhook POST \"/hook\"\n}\n");
        let json = program.to_json();
        assert!(!json.contains("body_limit"), "{json}");
        assert!(!json.contains("rate_limit"), "{json}");
        assert_eq!(
            webhook(&Program::from_json(&json).expect("json")),
            (None, None)
        );
    }
    fn await_keys(program: &Program) -> Vec<Option<CorrelationKey>> {
        let mut keys = Vec::new();
        for stmt in program.workflows.iter().flat_map(|w| &w.body) {
            if let StmtKind::Step {
                action: StepAction::AwaitEvent { key, .. } | StepAction::AwaitWebhook { key, .. },
                ..
            } = &stmt.kind
            {
                keys.push(key.clone());
            }
        }
        keys
    }

    /// The correlation key reaches the IR and survives both forms; an `await`
    /// without one is written as before keys existed.
    #[test]
    fn correlation_keys_round_trip_and_are_left_out_when_absent() {
        let analysis = analyze(
            vec![SourceFile {
                path: "main.flow".into(),
                text: r#"
event paid = { id: string, n: int }
workflow w(order: { id: string }) {
  on manual
  step a = await event paid as e where e.n > 1 && e.id == order.id (timeout: 1h)
  step b = await webhook POST "/b" as d: { n: int } where d.n > 1 (timeout: 1h)
  let _ = [a, b]
}
"#
                .into(),
            }],
            &NoImports,
        );
        let codes: Vec<&str> = analysis
            .diagnostics
            .iter()
            .map(|entry| entry.diagnostic.code.as_str())
            .collect();
        assert_eq!(codes, ["W0404"]);
        let program = analysis.program;
        let keys = await_keys(&program);
        assert_eq!(keys.len(), 2);
        assert_eq!(
            keys[0].as_ref().map(|key| key.path.clone()),
            Some(vec!["id".to_string()])
        );
        assert_eq!(keys[1], None);
        let json = program.to_json();
        assert_eq!(json.matches("\"key\"").count(), 1, "{json}");
        let from_json = Program::from_json(&json).expect("json");
        assert_eq!(from_json, program);
        let from_binary = Program::from_binary(&program.to_binary()).expect("cbor");
        assert_eq!(from_binary, program);
        assert_eq!(from_binary.hash(), program.hash());
    }

    /// A constant, as the runtime stores a residual predicate, reads back equal
    /// from JSON and CBOR, and evaluates to the value it was made from.
    #[test]
    fn constants_round_trip() {
        use crate::eval::{Fixed, Frame, Limits, eval};
        use crate::value::Value;
        let ty = Ty::record(vec![
            crate::ty::FieldTy {
                name: "every".into(),
                ty: Ty::Duration,
                optional: false,
            },
            crate::ty::FieldTy {
                name: "ids".into(),
                ty: Ty::list(Ty::Int),
                optional: false,
            },
            crate::ty::FieldTy {
                name: "ratio".into(),
                ty: Ty::Float,
                optional: false,
            },
        ]);
        let value = Value::record([
            ("every", Value::Duration(5_400_000)),
            (
                "ids",
                Value::list(vec![Value::Int(-3), Value::Int(i64::MAX)]),
            ),
            ("ratio", Value::Float(0.1 + 0.2)),
        ]);
        let expr = Expr {
            kind: ExprKind::Const {
                value: value.to_json(),
            },
            ty,
            span: Span::new(3, 9),
        };
        let text = serde_json::to_string(&expr).expect("json");
        assert!(text.contains("\"expr\":\"const\""), "{text}");
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&expr, &mut bytes).expect("cbor");
        let from_binary: Expr = ciborium::de::from_reader(&bytes[..]).expect("cbor back");
        assert_eq!(from_binary, expr);
        let evaluate = |expr: &Expr| {
            eval(expr, &mut Frame::new(0), &Fixed::new(0), &Limits::default()).expect("evaluates")
        };
        let found = evaluate(&from_binary);
        assert_eq!(found, value);
        assert!(
            matches!(found.field("ratio"), Some(Value::Float(x)) if x.to_bits() == (0.1f64 + 0.2).to_bits())
        );
        // Through JSON text, every kind but the float is exact whatever
        // `serde_json`'s features (see `eval::residual`).
        let from_json: Expr = serde_json::from_str(&text).expect("json back");
        let found = evaluate(&from_json);
        assert_eq!(found.field("every"), Some(&Value::Duration(5_400_000)));
        assert_eq!(found.field("ids"), value.field("ids"));
    }
}

//! The expression interpreter: a tree-walker over [`ir::Expr`].
//!
//! It is the reference meaning of every expression: the JIT (issue 8) must give the
//! same values and the same errors, so the rules live here in one place and are
//! written down (SPEC §8.8, §11): integer arithmetic is checked (overflow is
//! `R0001`, never a wrap), `int / int` truncates toward zero and `/ 0` is `R0002`;
//! floats are IEEE 754 doubles (`1.0 / 0.0` is `inf`, NaN compares false with
//! everything, `NaN != NaN`); an `int` meeting a `float` is converted, and `int`
//! and `float` compare exactly; strings compare by code point; `==` is structural.
//!
//! Nothing here can run away: every node visited costs a step, stdlib functions
//! charge for the elements they touch, recursion is bounded by depth, and strings
//! and lists are bounded in size ([`Limits`]). Nothing here is nondeterministic:
//! `now()`, `uuid()`, `context.*` and `webhook` come from the caller's [`Context`],
//! which the runtime journals. Secrets are never read: `secrets.x` evaluates to an
//! opaque [`Value::Secret`] that only the runtime resolves, at send time.

pub mod error;
pub mod residual;

pub use error::Error;
pub use residual::residual;

use crate::diagnostic::Span;
use crate::ir::{
    BinaryOp, Callee, Expr, ExprKind, Function, Literal, MatchArm, Pattern, Slot, TemplatePart,
    UnaryOp,
};
use crate::stdlib::{self, Host};
use crate::ty::{Ty, TypeTable};
use crate::value::{SecretPart, Value};
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Hard bounds on one evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Nodes visited plus elements touched by stdlib functions (`R0007`).
    pub max_steps: u64,
    /// Nesting of expressions, lambda calls and `fn` calls (`R0008`).
    pub max_depth: u32,
    /// Bytes of any one string or list built (`R0009`).
    pub max_bytes: usize,
}

impl Default for Limits {
    /// Generous for a mapping over a large webhook body: ten million steps, 256
    /// levels, 16 MiB.
    fn default() -> Limits {
        Limits {
            max_steps: 10_000_000,
            max_depth: 256,
            max_bytes: 16 << 20,
        }
    }
}

/// What an expression may ask of the world. The runtime implements it over the
/// journal (so a replayed run sees the same `now()` and `uuid()`); tests and
/// `flowc eval` use [`Fixed`]. Methods take `&self`: an implementation that
/// records or counts uses interior mutability.
pub trait Context {
    /// The current time, milliseconds since the epoch.
    fn now(&self) -> i64;
    /// A version-4 UUID in lower-case hyphenated form.
    fn uuid(&self) -> String;
    /// `context.key`: `null` when unset.
    fn context(&self, _key: &str) -> Value {
        Value::Null
    }
    /// `webhook`: `null` when the run was not started by a webhook.
    fn webhook(&self) -> Value {
        Value::Null
    }
    /// The program's `fn` number `index`.
    fn function(&self, _index: u32) -> Option<&Function> {
        None
    }
    /// The definitions of named types, for `as`.
    fn types(&self) -> &TypeTable {
        &EMPTY_TYPES
    }
}

static EMPTY_TYPES: TypeTable = BTreeMap::new();

/// A deterministic context: a fixed `now`, UUIDs from a seeded generator, and
/// given functions, types, context entries and webhook.
#[derive(Debug, Default)]
pub struct Fixed {
    pub now: i64,
    pub seed: u64,
    pub functions: Vec<Function>,
    pub types: TypeTable,
    pub context: BTreeMap<String, Value>,
    pub webhook: Value,
    counter: Cell<u64>,
}

impl Fixed {
    pub fn new(now: i64) -> Fixed {
        Fixed {
            now,
            ..Fixed::default()
        }
    }
}

impl Context for Fixed {
    fn now(&self) -> i64 {
        self.now
    }

    fn uuid(&self) -> String {
        let n = self.counter.get();
        self.counter.set(n.wrapping_add(1));
        let high = splitmix(self.seed ^ n.wrapping_mul(2));
        let low = splitmix(self.seed ^ n.wrapping_mul(2).wrapping_add(1));
        uuid_v4(high, low)
    }

    fn context(&self, key: &str) -> Value {
        self.context.get(key).cloned().unwrap_or(Value::Null)
    }

    fn webhook(&self) -> Value {
        self.webhook.clone()
    }

    fn function(&self, index: u32) -> Option<&Function> {
        self.functions.get(usize::try_from(index).ok()?)
    }

    fn types(&self) -> &TypeTable {
        &self.types
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Formats 128 random bits as a version-4, variant-1 UUID.
pub fn uuid_v4(high: u64, low: u64) -> String {
    let high = (high & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let low = (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// The variables of one workflow, `fn` or standalone expression, by slot.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    slots: Vec<Value>,
}

impl Frame {
    /// A frame of `size` slots, all `null`.
    pub fn new(size: usize) -> Frame {
        Frame {
            slots: vec![Value::Null; size],
        }
    }

    /// A frame whose slot 0 is `input` (a workflow's input, a standalone
    /// expression's `input`).
    pub fn with_input(size: usize, input: Value) -> Frame {
        let mut frame = Frame::new(size.max(1));
        frame.set(0, input);
        frame
    }

    /// How many slots the frame has.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the frame has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn get(&self, slot: Slot) -> Option<&Value> {
        self.slots.get(usize::try_from(slot).ok()?)
    }

    /// Sets a slot, growing the frame if needed.
    pub fn set(&mut self, slot: Slot, value: Value) {
        let Ok(index) = usize::try_from(slot) else {
            return;
        };
        if index >= self.slots.len() {
            self.slots.resize(index + 1, Value::Null);
        }
        self.slots[index] = value;
    }
}

/// Evaluates `expr` in `frame`.
pub fn eval(
    expr: &Expr,
    frame: &mut Frame,
    ctx: &dyn Context,
    limits: &Limits,
) -> Result<Value, Error> {
    let mut machine = Machine {
        ctx,
        limits,
        steps: 0,
        depth: 0,
    };
    machine.expr(expr, frame)
}

/// Evaluates `expr` as a condition: its value must be a `bool`.
pub fn eval_bool(
    expr: &Expr,
    frame: &mut Frame,
    ctx: &dyn Context,
    limits: &Limits,
) -> Result<bool, Error> {
    match eval(expr, frame, ctx, limits)? {
        Value::Bool(b) => Ok(b),
        other => Err(error::wrong_kind("a condition", "a bool", other.kind()).place(expr.span)),
    }
}

struct Machine<'c> {
    ctx: &'c dyn Context,
    limits: &'c Limits,
    steps: u64,
    depth: u32,
}

static NULL: Value = Value::Null;

/// How often (in levels of nesting) the evaluator checks the stack, and the room
/// it wants: a level takes a few KiB in a debug build.
const STACK_CHECK_EVERY: u32 = 8;
const STACK_RED_ZONE: usize = 256 * 1024;
const STACK_SEGMENT: usize = 2 * 1024 * 1024;

impl Machine<'_> {
    fn tick(&mut self, span: Span) -> Result<(), Error> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(error::step_limit(self.limits.max_steps).place(span));
        }
        Ok(())
    }

    fn expr(&mut self, expr: &Expr, frame: &mut Frame) -> Result<Value, Error> {
        self.tick(expr.span)?;
        self.depth += 1;
        let result = if self.depth > self.limits.max_depth {
            Err(error::depth_limit(self.limits.max_depth))
        } else if self.depth.is_multiple_of(STACK_CHECK_EVERY) {
            // Deep nesting must end in R0008, never in a stack overflow, whatever
            // the thread's stack size: every few levels, make sure there is room
            // for the next few, moving to a fresh segment on the heap if not.
            stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || self.kind(expr, frame))
        } else {
            self.kind(expr, frame)
        };
        self.depth -= 1;
        result.map_err(|e| e.place(expr.span))
    }

    fn kind(&mut self, expr: &Expr, frame: &mut Frame) -> Result<Value, Error> {
        match &expr.kind {
            ExprKind::Literal { value } => Ok(literal(value)),
            ExprKind::Local { .. } | ExprKind::Field { .. } => match self.place(expr, frame)? {
                Some(value) => Ok(value.clone()),
                None => self.field_slow(expr, frame),
            },
            ExprKind::Template { parts } => self.template(parts, frame),
            ExprKind::Secret { name } => Ok(Value::Secret(Arc::new(vec![SecretPart::Secret(
                Arc::from(name.as_str()),
            )]))),
            ExprKind::Context { key } => Ok(self.ctx.context(key)),
            ExprKind::Webhook => Ok(self.ctx.webhook()),
            ExprKind::List { items } => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.expr(item, frame)?);
                }
                Ok(Value::list(values))
            }
            ExprKind::Record { fields } => {
                let mut values = crate::value::Fields::new();
                for (name, item) in fields {
                    let value = self.expr(item, frame)?;
                    values.insert(Arc::from(name.as_str()), value);
                }
                Ok(Value::Record(Arc::new(values)))
            }
            ExprKind::Tagged { tag, fields } => {
                let mut values = crate::value::Fields::new();
                values.insert(Arc::from("$tag"), Value::string(tag.as_str()));
                for (name, item) in fields {
                    let value = self.expr(item, frame)?;
                    values.insert(Arc::from(name.as_str()), value);
                }
                Ok(Value::Record(Arc::new(values)))
            }
            ExprKind::Index { base, index } => {
                let base = self.expr(base, frame)?;
                let index = self.expr(index, frame)?;
                self.index(&base, &index)
            }
            ExprKind::Call { callee, args } => self.call(callee, args, frame),
            ExprKind::Lambda { .. } => Err(error::malformed("a lambda outside a call")),
            ExprKind::Unary { op, operand } => {
                let value = self.expr(operand, frame)?;
                unary(*op, value)
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, frame),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                if self.condition(cond, frame, "the condition of `if`")? {
                    self.expr(then, frame)
                } else {
                    self.expr(otherwise, frame)
                }
            }
            ExprKind::Match { scrutinee, arms } => self.matching(scrutinee, arms, frame),
            ExprKind::As { value, target } => {
                let value = self.expr(value, frame)?;
                if matches!(target, Ty::Json) {
                    return Ok(value);
                }
                value
                    .conform(target, self.ctx.types())
                    .map_err(|mismatch| error::conversion(&mismatch))
            }
            ExprKind::Const { value } => Value::from_json_typed(value, &expr.ty, self.ctx.types())
                .map_err(|mismatch| error::conversion(&mismatch)),
        }
    }

    /// Reads a local or a chain of fields on one without cloning the values on
    /// the way: `input.customer.address.city` clones only the city. `None` when
    /// the chain has another shape.
    fn place<'f>(&mut self, expr: &Expr, frame: &'f Frame) -> Result<Option<&'f Value>, Error> {
        match &expr.kind {
            ExprKind::Local { slot } => match frame.get(*slot) {
                Some(value) => Ok(Some(value)),
                None => Err(error::malformed(format!(
                    "slot {slot} is outside the frame"
                ))),
            },
            ExprKind::Field {
                base,
                name,
                optional,
            } => {
                let Some(base) = self.place(base, frame)? else {
                    return Ok(None);
                };
                self.tick(expr.span)?;
                field(base, name, *optional)
                    .map(Some)
                    .map_err(|e| e.place(expr.span))
            }
            _ => Ok(None),
        }
    }

    /// A field of a computed value (`f(x).a`).
    fn field_slow(&mut self, expr: &Expr, frame: &mut Frame) -> Result<Value, Error> {
        let ExprKind::Field {
            base,
            name,
            optional,
        } = &expr.kind
        else {
            return Err(error::malformed("expected a field access"));
        };
        let base = self.expr(base, frame)?;
        field(&base, name, *optional).cloned()
    }

    fn condition(&mut self, expr: &Expr, frame: &mut Frame, what: &str) -> Result<bool, Error> {
        match self.expr(expr, frame)? {
            Value::Bool(b) => Ok(b),
            Value::Null => Err(error::null_value(what).place(expr.span)),
            other => Err(error::wrong_kind(what, "a bool", other.kind()).place(expr.span)),
        }
    }

    fn template(&mut self, parts: &[TemplatePart], frame: &mut Frame) -> Result<Value, Error> {
        let mut text = String::new();
        let mut secret: Option<Vec<SecretPart>> = None;
        for part in parts {
            match part {
                TemplatePart::Text { text: piece } => text.push_str(piece),
                TemplatePart::Expr { expr } => match self.expr(expr, frame)? {
                    Value::String(piece) => text.push_str(&piece),
                    Value::Secret(pieces) => {
                        let held = secret.get_or_insert_with(Vec::new);
                        if !text.is_empty() {
                            held.push(SecretPart::Text(Arc::from(std::mem::take(&mut text))));
                        }
                        held.extend(pieces.iter().cloned());
                    }
                    other => {
                        text.push_str(&stdlib::to_text(&other).map_err(|e| e.place(expr.span))?);
                    }
                },
            }
            if text.len() > self.limits.max_bytes {
                return Err(error::size_limit(self.limits.max_bytes));
            }
        }
        match secret {
            None => Ok(Value::string(text)),
            Some(mut held) => {
                if !text.is_empty() {
                    held.push(SecretPart::Text(Arc::from(text)));
                }
                Ok(Value::Secret(Arc::new(held)))
            }
        }
    }

    fn index(&mut self, base: &Value, index: &Value) -> Result<Value, Error> {
        match (base, index) {
            (Value::List(items), Value::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|at| items.get(at))
                .cloned()
                .ok_or_else(|| error::index_out_of_range(*i, items.len())),
            (Value::Record(fields), Value::String(key)) => {
                Ok(fields.get(&**key).cloned().unwrap_or(Value::Null))
            }
            (Value::Null, _) => Err(error::null_value("the value indexed")),
            (_, Value::Null) => Err(error::null_value("the index")),
            (Value::List(_), other) => {
                Err(error::wrong_kind("a list index", "an int", other.kind()))
            }
            (Value::Record(_), other) => Err(error::wrong_kind("a key", "a string", other.kind())),
            (other, _) => Err(error::wrong_kind(
                "indexing",
                "a list or an object",
                other.kind(),
            )),
        }
    }

    fn call(&mut self, callee: &Callee, args: &[Expr], frame: &mut Frame) -> Result<Value, Error> {
        match callee {
            Callee::Builtin { name } => {
                let Some(builtin) = stdlib::lookup(name) else {
                    return Err(error::malformed(format!("no stdlib function `{name}`")));
                };
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(match arg.kind {
                        ExprKind::Lambda { .. } => Value::Null,
                        _ => self.expr(arg, frame)?,
                    });
                }
                let mut host = Call {
                    machine: self,
                    frame,
                    args,
                };
                (builtin.run)(&mut host, &values)
            }
            Callee::Function { index } => {
                let ctx = self.ctx;
                let Some(function) = ctx.function(*index) else {
                    return Err(error::malformed(format!("no function number {index}")));
                };
                let size = usize::try_from(function.frame_size).unwrap_or(0);
                let mut inner = Frame::new(size.max(args.len()));
                for (slot, arg) in (0..).zip(args) {
                    let value = self.expr(arg, frame)?;
                    inner.set(slot, value);
                }
                self.depth += 1;
                let result = if self.depth > self.limits.max_depth {
                    Err(error::depth_limit(self.limits.max_depth))
                } else {
                    self.expr(&function.body, &mut inner)
                };
                self.depth -= 1;
                result
            }
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        frame: &mut Frame,
    ) -> Result<Value, Error> {
        match op {
            BinaryOp::And => Ok(Value::Bool(
                self.condition(lhs, frame, "the left side of `&&`")?
                    && self.condition(rhs, frame, "the right side of `&&`")?,
            )),
            BinaryOp::Or => Ok(Value::Bool(
                self.condition(lhs, frame, "the left side of `||`")?
                    || self.condition(rhs, frame, "the right side of `||`")?,
            )),
            BinaryOp::Coalesce => match self.expr(lhs, frame)? {
                Value::Null => self.expr(rhs, frame),
                value => Ok(value),
            },
            BinaryOp::Eq | BinaryOp::NotEq => {
                let equal = self.equal_operands(lhs, rhs, frame)?;
                Ok(Value::Bool(equal == (op == BinaryOp::Eq)))
            }
            _ => {
                let a = self.expr(lhs, frame)?;
                let b = self.expr(rhs, frame)?;
                arithmetic(op, &a, &b, self.limits)
            }
        }
    }

    /// `==` without building a value for a literal side, the common case
    /// (`currency == "BRL"`).
    fn equal_operands(&mut self, lhs: &Expr, rhs: &Expr, frame: &mut Frame) -> Result<bool, Error> {
        if let ExprKind::Literal { value } = &rhs.kind {
            if let Some(place) = self.place(lhs, frame)? {
                return Ok(equals_literal(place, value));
            }
            let a = self.expr(lhs, frame)?;
            self.tick(rhs.span)?;
            return Ok(equals_literal(&a, value));
        }
        let a = self.expr(lhs, frame)?;
        let b = self.expr(rhs, frame)?;
        Ok(a == b)
    }

    fn matching(
        &mut self,
        scrutinee: &Expr,
        arms: &[MatchArm],
        frame: &mut Frame,
    ) -> Result<Value, Error> {
        let value = self.expr(scrutinee, frame)?;
        for arm in arms {
            if bind(&arm.pattern, &value, frame) {
                return self.expr(&arm.body, frame);
            }
        }
        Err(error::malformed("no arm of the match fits the value"))
    }
}

/// The host a stdlib function sees during one call.
struct Call<'m, 'c, 'f, 'a> {
    machine: &'m mut Machine<'c>,
    frame: &'f mut Frame,
    args: &'a [Expr],
}

impl Host for Call<'_, '_, '_, '_> {
    fn apply(&mut self, arg: usize, values: &[Value]) -> Result<Value, Error> {
        let Some(ExprKind::Lambda { params, body }) = self.args.get(arg).map(|a| &a.kind) else {
            return Err(error::malformed(format!("argument {arg} is not a lambda")));
        };
        for (slot, value) in params.iter().zip(values) {
            self.frame.set(*slot, value.clone());
        }
        self.machine.expr(body, self.frame)
    }

    fn now(&mut self) -> i64 {
        self.machine.ctx.now()
    }

    fn uuid(&mut self) -> String {
        self.machine.ctx.uuid()
    }

    fn charge(&mut self, steps: u64) -> Result<(), Error> {
        self.machine.steps = self.machine.steps.saturating_add(steps);
        if self.machine.steps > self.machine.limits.max_steps {
            return Err(error::step_limit(self.machine.limits.max_steps));
        }
        Ok(())
    }

    fn limits(&self) -> &Limits {
        self.machine.limits
    }
}

fn literal(value: &Literal) -> Value {
    match value {
        Literal::Null => Value::Null,
        Literal::Bool { value } => Value::Bool(*value),
        Literal::Int { value } => Value::Int(*value),
        Literal::Float { value } => Value::Float(*value),
        Literal::String { value } => Value::string(value.as_str()),
        Literal::Duration { millis } => Value::Duration(*millis),
    }
}

fn equals_literal(value: &Value, literal: &Literal) -> bool {
    match (value, literal) {
        (Value::String(a), Literal::String { value: b }) => **a == **b,
        (Value::Int(a), Literal::Int { value: b }) => a == b,
        (Value::Bool(a), Literal::Bool { value: b }) => a == b,
        (Value::Null, Literal::Null) => true,
        (Value::Duration(a), Literal::Duration { millis: b }) => a == b,
        (value, literal) => *value == self::literal(literal),
    }
}

fn field<'v>(base: &'v Value, name: &str, optional: bool) -> Result<&'v Value, Error> {
    match base {
        // A field the record lacks is an absent optional field (or a missing JSON
        // key): it reads as null.
        Value::Record(fields) => Ok(fields.get(name).unwrap_or(&NULL)),
        Value::Null if optional => Ok(&NULL),
        Value::Null => Err(error::null_field(name)),
        other => Err(error::wrong_kind(
            &format!("reading field `{name}`"),
            "a record",
            other.kind(),
        )),
    }
}

fn bind(pattern: &Pattern, value: &Value, frame: &mut Frame) -> bool {
    match pattern {
        Pattern::Wildcard => true,
        Pattern::Binding { slot } => {
            frame.set(*slot, value.clone());
            true
        }
        Pattern::Literal { value: literal } => equals_literal(value, literal),
        Pattern::Or { alternatives } => alternatives
            .iter()
            .any(|alternative| bind(alternative, value, frame)),
    }
}

fn unary(op: UnaryOp, value: Value) -> Result<Value, Error> {
    match (op, value) {
        (UnaryOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (UnaryOp::Neg, Value::Int(i)) => i
            .checked_neg()
            .map(Value::Int)
            .ok_or_else(|| error::overflow("-")),
        (UnaryOp::Neg, Value::Float(x)) => Ok(Value::Float(-x)),
        (UnaryOp::Neg, Value::Duration(d)) => d
            .checked_neg()
            .map(Value::Duration)
            .ok_or_else(|| error::overflow("-")),
        (_, Value::Null) => Err(error::null_value("the operand")),
        (UnaryOp::Not, other) => Err(error::wrong_kind("`!`", "a bool", other.kind())),
        (UnaryOp::Neg, other) => Err(error::wrong_kind(
            "`-`",
            "a number or duration",
            other.kind(),
        )),
    }
}

#[allow(clippy::cast_precision_loss)]
fn to_f64(i: i64) -> f64 {
    i as f64
}

/// The strict operators: arithmetic, ordering and `in`.
pub fn arithmetic(op: BinaryOp, a: &Value, b: &Value, limits: &Limits) -> Result<Value, Error> {
    use Value::{Duration as D, Float as F, Int as I, Time as T};
    let checked = |result: Option<i64>| result.ok_or_else(|| error::overflow(op.symbol()));
    Ok(match (op, a, b) {
        (BinaryOp::Add, I(x), I(y)) => I(checked(x.checked_add(*y))?),
        (BinaryOp::Sub, I(x), I(y)) => I(checked(x.checked_sub(*y))?),
        (BinaryOp::Mul, I(x), I(y)) => I(checked(x.checked_mul(*y))?),
        (BinaryOp::Div | BinaryOp::Rem, I(_), I(0)) => {
            return Err(error::division_by_zero(op.symbol()));
        }
        (BinaryOp::Div, I(x), I(y)) => I(checked(x.checked_div(*y))?),
        (BinaryOp::Rem, I(x), I(y)) => I(checked(x.checked_rem(*y))?),
        (
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem,
            F(_) | I(_),
            F(_) | I(_),
        ) => {
            let x = match a {
                I(x) => to_f64(*x),
                F(x) => *x,
                _ => 0.0,
            };
            let y = match b {
                I(y) => to_f64(*y),
                F(y) => *y,
                _ => 0.0,
            };
            F(match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div => x / y,
                _ => x % y,
            })
        }
        (BinaryOp::Add, Value::String(x), Value::String(y)) => {
            let len = x.len().saturating_add(y.len());
            if len > limits.max_bytes {
                return Err(error::size_limit(limits.max_bytes));
            }
            let mut text = String::with_capacity(len);
            text.push_str(x);
            text.push_str(y);
            Value::string(text)
        }
        (BinaryOp::Add, Value::List(x), Value::List(y)) => {
            let len = x.len().saturating_add(y.len());
            if len.saturating_mul(8) > limits.max_bytes {
                return Err(error::size_limit(limits.max_bytes));
            }
            let mut items = Vec::with_capacity(len);
            items.extend(x.iter().cloned());
            items.extend(y.iter().cloned());
            Value::list(items)
        }
        (BinaryOp::Add, D(x), D(y)) => D(checked(x.checked_add(*y))?),
        (BinaryOp::Sub, D(x), D(y)) => D(checked(x.checked_sub(*y))?),
        (BinaryOp::Add, T(x), D(y)) | (BinaryOp::Add, D(y), T(x)) => T(checked(x.checked_add(*y))?),
        (BinaryOp::Sub, T(x), D(y)) => T(checked(x.checked_sub(*y))?),
        (BinaryOp::Sub, T(x), T(y)) => D(checked(x.checked_sub(*y))?),
        (BinaryOp::Mul, D(x), I(y)) | (BinaryOp::Mul, I(y), D(x)) => D(checked(x.checked_mul(*y))?),
        (BinaryOp::Div, D(_), I(0)) => return Err(error::division_by_zero("/")),
        (BinaryOp::Div, D(x), I(y)) => D(checked(x.checked_div(*y))?),
        (BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq, _, _) => {
            let ordering = match a.compare(b) {
                Some(ordering) => ordering,
                // NaN is unordered: every comparison with it is false.
                None if is_nan(a) || is_nan(b) => return Ok(Value::Bool(false)),
                None => return Err(operand_error(op, a, b)),
            };
            Value::Bool(match op {
                BinaryOp::Lt => ordering == Ordering::Less,
                BinaryOp::LtEq => ordering != Ordering::Greater,
                BinaryOp::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            })
        }
        (BinaryOp::In, item, Value::List(items)) => Value::Bool(items.iter().any(|x| x == item)),
        (BinaryOp::In, Value::String(part), Value::String(text)) => {
            Value::Bool(text.contains(&**part))
        }
        (BinaryOp::In, Value::String(key), Value::Record(fields)) => {
            Value::Bool(fields.contains_key(&**key))
        }
        _ => return Err(operand_error(op, a, b)),
    })
}

fn is_nan(value: &Value) -> bool {
    matches!(value, Value::Float(x) if x.is_nan())
}

fn operand_error(op: BinaryOp, a: &Value, b: &Value) -> Error {
    if a.is_null() || b.is_null() {
        return error::null_value(&format!("an operand of `{}`", op.symbol()));
    }
    error::wrong_kind(
        &format!("`{}`", op.symbol()),
        &format!("operands it accepts (left is `{}`)", a.kind()),
        b.kind(),
    )
}

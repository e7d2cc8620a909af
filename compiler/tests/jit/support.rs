//! What every JIT test needs: the checked environment of `input`, the two
//! answers (the interpreter's and the tiered one), and the comparison of
//! answers that the property is stated in.
//!
//! The *tiered* answer is what the runtime computes: the native answer when the
//! expression compiled and its code did not bail, otherwise the interpreter's.
//! Two answers are the same when their values are equal structurally, floats by
//! their bits (so `-0.0` is not `0.0`) except that any NaN equals any NaN, or
//! when both are errors with the same code, message, span and notes.

use super::generate::INPUT_TYPE;
use flowc_compiler::eval::{self, Fixed, Frame, Limits};
use flowc_compiler::ir::Expr;
use flowc_compiler::jit::{self, Compiled, Slots};
use flowc_compiler::ty::{Ty, TypeTable};
use flowc_compiler::value::Value;
use flowc_compiler::{Diagnostic, ExprEnv, NoImports, SourceFile, analyze, check_expression};

pub type Answer = Result<Value, eval::Error>;

/// The environment expressions are checked in: `input` of the declared
/// [`INPUT_TYPE`], by name.
pub struct Env {
    pub env: ExprEnv,
    pub types: TypeTable,
}

impl Env {
    pub fn new() -> Env {
        let analysis = analyze(
            vec![SourceFile {
                path: "input.flow".into(),
                text: INPUT_TYPE.into(),
            }],
            &NoImports,
        );
        assert!(
            !analysis.has_errors(),
            "the input type does not check: {:#?}",
            analysis.diagnostics
        );
        let mut env = analysis.expr_env();
        env.variables.push(("input".to_owned(), Ty::named("Input")));
        Env {
            types: analysis.program.types.clone(),
            env,
        }
    }

    /// The checked expression, or the checker's errors.
    pub fn check(&self, source: &str) -> Result<Checked, Vec<Diagnostic>> {
        let checked = check_expression(source, &self.env);
        match checked.expr {
            Some(expr) if !checked.diagnostics.iter().any(Diagnostic::is_error) => Ok(Checked {
                expr,
                frame_size: usize::try_from(checked.frame_size).unwrap_or(0),
            }),
            _ => Err(checked.diagnostics),
        }
    }

    /// `check`, for expressions a test writes by hand.
    pub fn expect(&self, source: &str) -> Checked {
        match self.check(source) {
            Ok(checked) => checked,
            Err(diagnostics) => panic!("`{source}` does not check: {diagnostics:#?}"),
        }
    }

    pub fn compile(&self, checked: &Checked) -> Result<Compiled, jit::Unsupported> {
        jit::compile(&checked.expr, &self.types)
    }
}

pub struct Checked {
    pub expr: Expr,
    pub frame_size: usize,
}

impl Checked {
    pub fn frame(&self, input: &Value) -> Frame {
        Frame::with_input(self.frame_size, input.clone())
    }

    /// The interpreter's answer.
    pub fn interpret(&self, input: &Value, limits: &Limits) -> Answer {
        eval::eval(&self.expr, &mut self.frame(input), &Fixed::new(0), limits)
    }
}

/// Which tier gave an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Native code answered.
    Native,
    /// Native code bailed out; the interpreter answered.
    Bailed,
    /// There was no native code.
    Interpreted,
}

/// The answer the runtime gives: native when it can, else the interpreter's.
pub fn tiered(
    compiled: Option<&Compiled>,
    checked: &Checked,
    input: &Value,
    limits: &Limits,
) -> (Answer, Tier) {
    let mut frame = checked.frame(input);
    let tier = match compiled {
        Some(code) => match code.eval(&frame, limits) {
            Some(value) => return (Ok(value), Tier::Native),
            None => Tier::Bailed,
        },
        None => Tier::Interpreted,
    };
    let answer = eval::eval(&checked.expr, &mut frame, &Fixed::new(0), limits);
    (answer, tier)
}

/// The native answer over slots filled from `input` by [`jit::Layout::fill`]
/// (the path of an input that arrives as a value rather than a frame).
pub fn filled(code: &Compiled, input: &Value, limits: &Limits, slots: &mut Slots) -> Option<Value> {
    code.layout().fill(input, slots);
    code.eval_slots(slots, limits)
}

/// The native answer over slots filled from `input`, written as JSON text
/// straight from the output slots.
pub fn filled_json(
    code: &Compiled,
    input: &Value,
    limits: &Limits,
    slots: &mut Slots,
) -> Option<Vec<u8>> {
    code.layout().fill(input, slots);
    let mut text = Vec::new();
    code.eval_answer(slots, limits, |answer| answer.write_json(&mut text))?
        .then_some(text)
}

/// The native `bool` answer over slots filled from `input`.
pub fn filled_bool(
    code: &Compiled,
    input: &Value,
    limits: &Limits,
    slots: &mut Slots,
) -> Option<bool> {
    code.layout().fill(input, slots);
    code.eval_bool_slots(slots, limits)
}

/// The native answer over slots decoded from `json` (the end-to-end path:
/// webhook body text straight into the layout).
pub fn decoded(code: &Compiled, json: &str, limits: &Limits, slots: &mut Slots) -> Option<Value> {
    jit::decode::decode(code.layout(), json, slots).ok()?;
    code.eval_slots(slots, limits)
}

/// Structural equality, floats by bits except NaN == NaN.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Duration(x), Value::Duration(y)) => x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| same_value(x, y))
        }
        (Value::Record(x), Value::Record(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((kx, x), (ky, y))| kx == ky && same_value(x, y))
        }
        (Value::Secret(x), Value::Secret(y)) => x == y,
        _ => false,
    }
}

/// Same value, or the same error (code, message, span, notes).
pub fn same_answer(a: &Answer, b: &Answer) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => same_value(x, y),
        (Err(x), Err(y)) => {
            x.code == y.code && x.message == y.message && x.span == y.span && x.notes == y.notes
        }
        _ => false,
    }
}

/// An answer in one line, for failure messages.
pub fn show(answer: &Answer) -> String {
    match answer {
        Ok(value) => format!("Ok({value:?})"),
        Err(error) => format!(
            "Err({} {:?} at {:?}, notes {:?})",
            error.code, error.message, error.span, error.notes
        ),
    }
}

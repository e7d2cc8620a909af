//! The JIT: hot expressions compiled to native code with cranelift.
//!
//! The interpreter ([`crate::eval`]) is the meaning of every expression; this
//! module is only ever a faster way to reach the same answer. [`compile`] turns a
//! typed [`Expr`] into a native function, or says why it will not
//! ([`Unsupported`]): the caller then keeps interpreting that expression, so an
//! expression the JIT does not know is slower, never wrong and never an error.
//!
//! **Same meaning by construction.** Native code computes only the successful
//! answer. Wherever the interpreter could raise an error (an integer overflow, a
//! division by zero, `null` where a value is needed, a value of another kind than
//! the checker's type, a step, depth or size limit) the native code stops and
//! reports *bail*, and [`Compiled::eval`] returns `None`: the caller evaluates the
//! expression again with the interpreter, which gives the error with its exact
//! code, message and span. Expressions are pure (the JIT refuses `now()`,
//! `uuid()`, `context.*`, `webhook`, `fn` calls and secrets), so evaluating twice
//! is invisible. A bail costs one interpreted evaluation; errors are rare.
//!
//! **Data layout** ([`Layout`]). Native code never looks a field up by name. At
//! compile time every chain of fields from a local (`input.customer.address.city`)
//! the expression reads becomes one *input slot* with the kind the checker gave it
//! (`bool`, `int`, `float`, `string`, `duration`, `time`, each possibly `null`).
//! Before a call the slots are filled once — from the frame's [`Value`]s
//! ([`Layout::load`]), or straight from JSON text by [`decode`], driven by the same
//! layout — and native code reads them at fixed offsets. A slot is 16 bytes: a
//! tag (null, value, or *bail* when the value is not of the slot's kind or the
//! chain could not be read), a length and a payload word (the number, or the
//! address of the string's bytes). Results are written to output slots, read in
//! place as an [`Answer`] (a field, a number, a string, or JSON text) or turned
//! into a [`Value`] by the plan of the result's shape.
//!
//! **Tiering** ([`Tiered`]): the evaluator the runtime uses counts each
//! expression's evaluations and compiles it off the hot path once it is hot.
//!
//! All `unsafe` code — building executable memory, calling into it, freeing it,
//! and reading text that native code passes back by address — is in [`native`],
//! with the reason for each block.

mod answer;
mod codegen;
pub mod decode;
mod helpers;
mod layout;
mod native;
mod tier;

pub use answer::Answer;
pub use layout::{Kind, Layout, Path, Slots};
pub use tier::{Metrics, Options, Tiered};

use crate::eval::Limits;
use crate::ir::Expr;
use crate::ty::TypeTable;
use crate::value::Value;
use std::fmt;
use std::time::Duration;

/// When expressions are compiled (`--jit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Never: every expression is interpreted.
    Off,
    /// Once an expression has been evaluated [`Options::threshold`] times, on a
    /// background thread; the interpreter goes on until the code is ready.
    #[default]
    Auto,
    /// On first use, before evaluating it (tests and benchmarks).
    Always,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Auto, Mode::Always, Mode::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Auto => "auto",
            Mode::Always => "always",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Mode, String> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| format!("`{text}` is not a JIT mode (expected auto, always or off)"))
    }
}

/// Why an expression was not compiled. The expression is interpreted instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not compiled: {reason}")]
pub struct Unsupported {
    pub reason: String,
}

impl Unsupported {
    pub(crate) fn new(reason: impl Into<String>) -> Unsupported {
        Unsupported {
            reason: reason.into(),
        }
    }
}

/// An expression compiled to native code, with its layout. Dropping it frees the
/// code.
pub struct Compiled {
    layout: Layout,
    code: native::Code,
    plan: codegen::Plan,
    compile_time: Duration,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled")
            .field("inputs", &self.layout.paths().len())
            .field("compile_time", &self.compile_time)
            .finish_non_exhaustive()
    }
}

/// Compiles `expr`; `types` resolves the named types of the values it reads.
pub fn compile(expr: &Expr, types: &TypeTable) -> Result<Compiled, Unsupported> {
    #[allow(clippy::disallowed_methods)] // Compile time is a measurement, not logic.
    let started = std::time::Instant::now();
    // A bug in the code generator must cost the speed of one expression, never
    // the evaluation (or the thread) that asked for it.
    let generated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        codegen::compile(expr, types)
    }))
    .unwrap_or_else(|_| Err(Unsupported::new("the code generator failed")));
    let (layout, plan, code) = generated?;
    Ok(Compiled {
        layout,
        code,
        plan,
        compile_time: started.elapsed(),
    })
}

impl Compiled {
    /// The input slots the expression reads.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// How long [`compile`] took.
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// Evaluates over `frame`'s values: `None` when the native code bailed out and
    /// the interpreter must give the answer (an error, a limit, a value of another
    /// kind than expected).
    pub fn eval(&self, frame: &crate::eval::Frame, limits: &Limits) -> Option<Value> {
        layout::with_work(|work| {
            self.layout.load(frame, work);
            self.run(work, limits, |answer| answer.to_value())
        })
    }

    /// Evaluates over slots filled by [`Layout::fill`] or [`decode`]. The slots
    /// are only read: they may be evaluated again, or refilled for the next.
    pub fn eval_slots(&self, slots: &Slots, limits: &Limits) -> Option<Value> {
        self.eval_answer(slots, limits, |answer| answer.to_value())
            .flatten()
    }

    /// Like [`eval_slots`](Compiled::eval_slots) for a `bool` expression, without
    /// building a [`Value`]: `None` on bail or when the result is not a bool.
    pub fn eval_bool_slots(&self, slots: &Slots, limits: &Limits) -> Option<bool> {
        self.eval_answer(slots, limits, |answer| answer.as_bool())
            .flatten()
    }

    /// Evaluates over `slots` and hands the answer, read in place, to `read`:
    /// no [`Value`] is built unless `read` asks for one. `None` when the native
    /// code bailed out (the interpreter must answer).
    pub fn eval_answer<T>(
        &self,
        slots: &Slots,
        limits: &Limits,
        read: impl FnOnce(Answer<'_>) -> T,
    ) -> Option<T> {
        layout::with_work(|work| {
            work.take_inputs(slots, self.layout.paths().len());
            self.run(work, limits, |answer| Some(read(answer)))
        })
    }

    /// Runs the code over `work`, whose inputs are filled, and reads the answer
    /// with `read` unless it bailed.
    fn run<T>(
        &self,
        work: &mut layout::Work,
        limits: &Limits,
        read: impl FnOnce(Answer<'_>) -> Option<T>,
    ) -> Option<T> {
        if !self.plan.fits(limits) {
            return None;
        }
        work.prepare(&self.plan, limits);
        let status = self.code.call(work);
        let answer = if status == native::STATUS_OK {
            read(Answer::new(&self.plan.output, work))
        } else {
            None
        };
        work.finish();
        answer
    }
}

#[cfg(test)]
mod tests;

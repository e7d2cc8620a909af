//! Run-time errors of expression evaluation: the `R0xxx` codes.
//!
//! Like the checker's diagnostics, every error is built by one constructor here,
//! never by a `format!` in the interpreter's logic, so messages stay uniform and
//! each code has one place that says what it means. An error carries the span of
//! the expression that failed; a stdlib function builds its error without one, and
//! the interpreter places it at the call ([`Error::place`]).

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::value::Mismatch;

/// `R0001`: an `int` result does not fit in 64 bits.
pub const INTEGER_OVERFLOW: Code = Code("R0001");
/// `R0002`: `/` or `%` by an integer zero.
pub const DIVISION_BY_ZERO: Code = Code("R0002");
/// `R0003`: a list index outside the list.
pub const INDEX_OUT_OF_RANGE: Code = Code("R0003");
/// `R0004`: `null` where a value is required (`.field` on null, a missing field).
pub const NULL_VALUE: Code = Code("R0004");
/// `R0005`: a value does not have the shape an `as` conversion names.
pub const CONVERSION_FAILED: Code = Code("R0005");
/// `R0006`: a stdlib function was given an argument it cannot work with.
pub const INVALID_ARGUMENT: Code = Code("R0006");
/// `R0007`: the evaluation took more steps than its limit.
pub const STEP_LIMIT: Code = Code("R0007");
/// `R0008`: the evaluation nested deeper than its limit.
pub const DEPTH_LIMIT: Code = Code("R0008");
/// `R0009`: a string or list grew larger than the output limit.
pub const SIZE_LIMIT: Code = Code("R0009");
/// `R0010`: a value of the wrong kind reached an operation (ill-typed IR).
pub const WRONG_KIND: Code = Code("R0010");

/// Every code of this module, for the code-page test.
pub const ALL: &[Code] = &[
    INTEGER_OVERFLOW,
    DIVISION_BY_ZERO,
    INDEX_OUT_OF_RANGE,
    NULL_VALUE,
    CONVERSION_FAILED,
    INVALID_ARGUMENT,
    STEP_LIMIT,
    DEPTH_LIMIT,
    SIZE_LIMIT,
    WRONG_KIND,
];

/// A run-time error with the span of the expression that raised it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: Code,
    pub message: String,
    pub span: Span,
    pub notes: Vec<String>,
    /// Whether `span` is set; errors from stdlib functions are placed at the call.
    placed: bool,
}

impl Error {
    fn new(code: Code, message: String) -> Error {
        Error {
            code,
            message,
            span: Span::default(),
            notes: Vec::new(),
            placed: false,
        }
    }

    /// Sets the span unless a more precise one is already set.
    pub fn place(mut self, span: Span) -> Error {
        if !self.placed {
            self.span = span;
            self.placed = true;
        }
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Error {
        self.notes.push(note.into());
        self
    }

    /// The error as a diagnostic, to be shown like the checker's.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let mut diagnostic = Diagnostic::error(self.code, self.message.clone(), self.span)
            .with_label("while evaluating this");
        for note in &self.notes {
            diagnostic = diagnostic.with_note(note.clone());
        }
        diagnostic
    }
}

pub fn overflow(op: &str) -> Error {
    Error::new(
        INTEGER_OVERFLOW,
        format!("integer overflow in `{op}`: the result does not fit in 64 bits"),
    )
}

pub fn division_by_zero(op: &str) -> Error {
    Error::new(
        DIVISION_BY_ZERO,
        format!("integer division by zero in `{op}`"),
    )
}

pub fn index_out_of_range(index: i64, len: usize) -> Error {
    Error::new(
        INDEX_OUT_OF_RANGE,
        format!("index {index} is out of range for a list of length {len}"),
    )
}

pub fn null_field(name: &str) -> Error {
    Error::new(NULL_VALUE, format!("cannot read field `{name}` of `null`"))
        .with_note("use `?.` to read a field of a value that may be null")
}

pub fn missing_field(name: &str) -> Error {
    Error::new(NULL_VALUE, format!("the record has no field `{name}`"))
}

pub fn null_value(what: &str) -> Error {
    Error::new(
        NULL_VALUE,
        format!("expected a value for {what}, found `null`"),
    )
}

pub fn conversion(mismatch: &Mismatch) -> Error {
    Error::new(
        CONVERSION_FAILED,
        format!("the value does not fit the type: {mismatch}"),
    )
}

pub fn invalid_argument(function: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        INVALID_ARGUMENT,
        format!("invalid argument to `{function}`: {why}"),
    )
}

pub fn step_limit(limit: u64) -> Error {
    Error::new(
        STEP_LIMIT,
        format!("the expression took more than {limit} evaluation steps"),
    )
}

pub fn depth_limit(limit: u32) -> Error {
    Error::new(
        DEPTH_LIMIT,
        format!("the expression nested deeper than {limit} levels"),
    )
}

pub fn size_limit(limit: usize) -> Error {
    Error::new(
        SIZE_LIMIT,
        format!("the result would be larger than the limit of {limit} bytes"),
    )
}

pub fn wrong_kind(what: &str, expected: &str, found: &str) -> Error {
    Error::new(
        WRONG_KIND,
        format!("{what}: expected {expected}, found a value of kind `{found}`"),
    )
    .with_note("the type checker should have caught this; the IR may be ill-typed")
}

pub fn malformed(why: impl std::fmt::Display) -> Error {
    Error::new(WRONG_KIND, format!("malformed program: {why}"))
        .with_note("the IR was not produced by this version of the checker")
}

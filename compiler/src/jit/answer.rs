//! Reading a native evaluation's answer where the code left it.
//!
//! Native code writes its answer to output cells: one cell for a scalar, one per
//! field for a record (recursively). [`Answer`] reads those cells in place — a
//! field by name, a number, a borrowed string — or writes them as JSON text,
//! without building a [`Value`]. Building the `Value` (a map of shared keys, the
//! text copied into an `Arc<str>`) costs more than computing a mapping's fields,
//! so callers that only pass the answer on — `flowc eval --lines` writing it out,
//! a benchmark reading one field — read it here instead.
//!
//! The JSON text is byte for byte what `serde_json` writes for
//! [`Value::to_json`] of the same answer: fields in the order of their names,
//! numbers and strings through `serde_json`'s own formatter, non-finite floats
//! as `null`, durations and times as [`Value::to_json`] writes them.

use super::codegen::Output;
use super::layout::{Kind, Work};
use super::native::{Slot, TAG_NULL, TAG_VALUE};
use crate::value::{Fields, Value, format_duration, time_to_json};
use std::sync::Arc;

/// A native evaluation's answer, or a part of it, read in place. Borrowed from
/// the evaluation: see [`Compiled::eval_answer`](super::Compiled::eval_answer).
#[derive(Clone, Copy)]
pub struct Answer<'a> {
    output: &'a Output,
    work: &'a Work,
}

impl std::fmt::Debug for Answer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_value() {
            Some(value) => write!(f, "Answer({value})"),
            None => f.write_str("Answer(<unreadable>)"),
        }
    }
}

impl<'a> Answer<'a> {
    pub(super) fn new(output: &'a Output, work: &'a Work) -> Answer<'a> {
        Answer { output, work }
    }

    /// The cell and kind of a scalar answer; `None` for a record.
    fn scalar(&self) -> Option<(&'a Slot, Kind)> {
        match self.output {
            Output::Scalar { slot, kind } => Some((self.work.cells.get(*slot)?, *kind)),
            Output::Record { .. } => None,
        }
    }

    /// The cell of a scalar of kind `want` holding a value (not `null`).
    fn present(&self, want: Kind) -> Option<&'a Slot> {
        let (cell, kind) = self.scalar()?;
        (kind == want && cell.tag() == TAG_VALUE).then_some(cell)
    }

    pub fn is_null(&self) -> bool {
        self.scalar()
            .is_some_and(|(cell, kind)| kind == Kind::Null || cell.tag() == TAG_NULL)
    }

    pub fn as_bool(&self) -> Option<bool> {
        self.present(Kind::Bool).map(|cell| cell.bits() != 0)
    }

    pub fn as_int(&self) -> Option<i64> {
        self.present(Kind::Int)
            .map(|cell| cell.bits().cast_signed())
    }

    pub fn as_float(&self) -> Option<f64> {
        self.present(Kind::Float)
            .map(|cell| f64::from_bits(cell.bits()))
    }

    /// A string answer's text, borrowed from the inputs or from what the
    /// evaluation built.
    pub fn as_str(&self) -> Option<&'a str> {
        self.present(Kind::String)?.text()
    }

    /// A record answer's field; `None` for a scalar or a name it does not have.
    pub fn field(&self, name: &str) -> Option<Answer<'a>> {
        match self.output {
            Output::Record { fields } => fields
                .binary_search_by(|(field, _)| (**field).cmp(name))
                .ok()
                .map(|at| Answer::new(&fields[at].1, self.work)),
            Output::Scalar { .. } => None,
        }
    }

    /// The answer as a [`Value`], as the interpreter would have given it.
    pub fn to_value(&self) -> Option<Value> {
        match self.output {
            Output::Scalar { .. } => {
                let (cell, kind) = self.scalar()?;
                kind.value_of(cell)
            }
            Output::Record { fields } => {
                let mut record = Fields::new();
                for (name, field) in fields {
                    record.insert(name.clone(), Answer::new(field, self.work).to_value()?);
                }
                Some(Value::Record(Arc::new(record)))
            }
        }
    }

    /// Appends the answer as compact JSON text, exactly as `serde_json` writes
    /// [`Value::to_json`] of [`to_value`](Answer::to_value). False (with `out`
    /// as it was) when a cell cannot be read.
    pub fn write_json(&self, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let written = self.write(out).is_some();
        if !written {
            out.truncate(start);
        }
        written
    }

    fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        match self.output {
            Output::Record { fields } => {
                out.push(b'{');
                for (index, (name, field)) in fields.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, &**name).ok()?;
                    out.push(b':');
                    Answer::new(field, self.work).write(out)?;
                }
                out.push(b'}');
            }
            Output::Scalar { .. } => {
                let (cell, kind) = self.scalar()?;
                match cell.tag() {
                    TAG_NULL => out.extend_from_slice(b"null"),
                    TAG_VALUE => write_scalar(cell, kind, out)?,
                    _ => return None,
                }
            }
        }
        Some(())
    }
}

/// A present scalar of `kind` as JSON, through `serde_json`'s formatter so the
/// digits and escapes are the ones [`Value::to_json`]'s text has.
fn write_scalar(cell: &Slot, kind: Kind, out: &mut Vec<u8>) -> Option<()> {
    let bits = cell.bits();
    match kind {
        Kind::Null => out.extend_from_slice(b"null"),
        Kind::Bool => out.extend_from_slice(if bits != 0 { b"true" } else { b"false" }),
        Kind::Int => serde_json::to_writer(&mut *out, &bits.cast_signed()).ok()?,
        // Non-finite floats are written as `null`, as `to_json` makes them.
        Kind::Float => serde_json::to_writer(&mut *out, &f64::from_bits(bits)).ok()?,
        Kind::String => serde_json::to_writer(&mut *out, cell.text()?).ok()?,
        Kind::Duration => {
            serde_json::to_writer(&mut *out, &format_duration(bits.cast_signed())).ok()?;
        }
        Kind::Time => {
            serde_json::to_writer(&mut *out, &time_to_json(bits.cast_signed())).ok()?;
        }
        Kind::List => serde_json::to_writer(&mut *out, &cell.value()?.to_json()).ok()?,
    }
    Some(())
}

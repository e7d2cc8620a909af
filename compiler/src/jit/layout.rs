//! How values reach native code: the input slots of a compiled expression.
//!
//! A [`Layout`] lists the chains of fields from a local that an expression reads
//! (`input.customer.address.city`), each with the [`Kind`] the checker gave it.
//! Slot `i` holds path `i`. Filling the slots walks each chain once per
//! evaluation; native code then reads fixed offsets and never sees a field name.
//! A value that is not of its slot's kind (or a chain that cannot be read, such
//! as `.b` of a `null` without `?.`) fills the slot with *bail*: native code that
//! reads it stops and the interpreter answers, with its own error if there is one.

use super::helpers::Scratch;
use super::native::Slot;
use crate::eval::{Frame, Limits};
use crate::ir;
use crate::value::Value;
use std::cell::RefCell;

/// The kinds of values native code handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Null,
    Bool,
    Int,
    Float,
    String,
    Duration,
    Time,
    /// A list, handled through helpers (its elements are read one at a time).
    List,
}

impl Kind {
    /// The slot for `value` when it is of this kind (or `null`).
    pub(super) fn slot_of(self, value: &Value) -> Slot {
        match (self, value) {
            (_, Value::Null) => Slot::NULL,
            (Kind::Bool, Value::Bool(b)) => Slot::word(u64::from(*b)),
            (Kind::Int, Value::Int(i)) | (Kind::Duration, Value::Duration(i)) => {
                Slot::word(i.cast_unsigned())
            }
            (Kind::Time, Value::Time(i)) => Slot::word(i.cast_unsigned()),
            (Kind::Float, Value::Float(x)) => Slot::word(x.to_bits()),
            (Kind::String, Value::String(text)) => Slot::string(text),
            (Kind::List, list @ Value::List(_)) => Slot::list(list),
            _ => Slot::BAIL,
        }
    }

    /// The value a slot of this kind holds; `None` for a bail slot.
    pub(super) fn value_of(self, slot: &Slot) -> Option<Value> {
        use super::native::{TAG_NULL, TAG_VALUE};
        match slot.tag() {
            TAG_NULL => return Some(Value::Null),
            TAG_VALUE => {}
            _ => return None,
        }
        let bits = slot.bits();
        Some(match self {
            Kind::Null => Value::Null,
            Kind::Bool => Value::Bool(bits != 0),
            Kind::Int => Value::Int(bits.cast_signed()),
            Kind::Float => Value::Float(f64::from_bits(bits)),
            Kind::String => Value::string(slot.text()?),
            Kind::Duration => Value::Duration(bits.cast_signed()),
            Kind::Time => Value::Time(bits.cast_signed()),
            Kind::List => slot.value()?.clone(),
        })
    }
}

/// Field names from a value down, each with whether it was read with `?.`.
pub type FieldChain = Vec<(String, bool)>;

/// One input: a local and the fields read from it, and what native code expects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    pub local: ir::Slot,
    /// Field names from the local down, each with whether it was read with `?.`.
    pub fields: FieldChain,
    pub kind: Kind,
}

/// The input slots of a compiled expression.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    paths: Vec<Path>,
}

impl Layout {
    /// The slot of `path`, adding it if it is new.
    pub(super) fn slot(&mut self, path: Path) -> usize {
        if let Some(index) = self.paths.iter().position(|known| *known == path) {
            return index;
        }
        self.paths.push(path);
        self.paths.len() - 1
    }

    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// Fills the input cells of `work` from `frame`, borrowing its strings: the
    /// cells may only be read while `frame` is borrowed (see [`Slot`]'s
    /// invariant), which is why only [`Compiled::eval`](super::Compiled::eval)
    /// calls it.
    pub(super) fn load(&self, frame: &Frame, work: &mut Work) {
        work.cells.clear();
        work.cells.extend(self.paths.iter().map(|path| {
            match read_path(frame.get(path.local), &path.fields) {
                Some(value) => path.kind.slot_of(value),
                None => Slot::BAIL,
            }
        }));
    }

    /// Fills the input slots from a value standing for the frame's slot 0 (a
    /// standalone expression's `input`), copying its strings into `slots`.
    pub fn fill(&self, input: &Value, slots: &mut Slots) {
        slots.reset(self.paths.len());
        for (index, path) in self.paths.iter().enumerate() {
            let value = if path.local == 0 {
                read_path(Some(input), &path.fields)
            } else {
                None
            };
            match value {
                Some(Value::String(text)) if path.kind == Kind::String => {
                    slots.set_text(index, text);
                }
                Some(list @ Value::List(_)) if path.kind == Kind::List => {
                    slots.set_value(index, list.clone());
                }
                Some(value) => slots.cells[index] = path.kind.slot_of(value),
                None => slots.cells[index] = Slot::BAIL,
            }
        }
    }
}

static NULL: Value = Value::Null;

/// The value at `fields` under `base`, as the interpreter reads it; `None` where
/// the interpreter would raise an error.
pub(super) fn read_path<'v>(
    base: Option<&'v Value>,
    fields: &[(String, bool)],
) -> Option<&'v Value> {
    let mut value = base?;
    for (name, optional) in fields {
        value = match value {
            Value::Record(record) => record.get(name.as_str()).unwrap_or(&NULL),
            Value::Null if *optional => &NULL,
            _ => return None,
        };
    }
    Some(value)
}

/// The input slots of one evaluation, and the storage of the text and lists they
/// point to: what [`Layout::fill`] and [`decode`](super::decode) produce, and
/// [`Compiled::eval_slots`](super::Compiled::eval_slots) reads. Small, so many
/// records' inputs can be kept side by side; the evaluation itself works in a
/// per-thread [`Work`].
#[derive(Default)]
pub struct Slots {
    pub(super) cells: Vec<Slot>,
    /// Input text copied in by [`Layout::fill`] or [`decode`](super::decode),
    /// one string after another; string cells hold their range in it
    /// ([`Slot::held`]) until [`Work::take_inputs`] resolves them. One buffer
    /// reused from record to record, so decoding allocates no string.
    text: String,
    /// Input lists copied in by [`Layout::fill`]. Boxed: slots hold their
    /// addresses, which must not move when the vector grows.
    #[allow(clippy::vec_box)]
    values: Vec<Box<Value>>,
}

impl std::fmt::Debug for Slots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots")
            .field("cells", &self.cells.len())
            .finish_non_exhaustive()
    }
}

impl Slots {
    pub fn new() -> Slots {
        Slots::default()
    }

    /// Empties the slots for a layout of `inputs` inputs, all `null`.
    pub fn reset(&mut self, inputs: usize) {
        self.cells.clear();
        self.cells.resize(inputs, Slot::NULL);
        self.text.clear();
        self.values.clear();
    }

    pub fn set_null(&mut self, index: usize) {
        self.set(index, Slot::NULL);
    }

    pub fn set_bool(&mut self, index: usize, value: bool) {
        self.set(index, Slot::word(u64::from(value)));
    }

    pub fn set_int(&mut self, index: usize, value: i64) {
        self.set(index, Slot::word(value.cast_unsigned()));
    }

    pub fn set_float(&mut self, index: usize, value: f64) {
        self.set(index, Slot::word(value.to_bits()));
    }

    /// Marks an input as unreadable (a value of another kind than its path's):
    /// an evaluation that reads it is left to the interpreter.
    pub fn set_bail(&mut self, index: usize) {
        self.set(index, Slot::BAIL);
    }

    /// Copies `text` into the slots' own storage and points slot `index` at it.
    pub fn set_text(&mut self, index: usize, text: &str) {
        let slot = Slot::held(self.text.len(), text.len());
        self.text.push_str(text);
        self.set(index, slot);
    }

    /// Cell `index` as native code is to see it: a held string resolved to
    /// the address of its text (borrowed from `self`).
    pub(super) fn cell(&self, index: usize) -> Slot {
        match self.cells.get(index) {
            Some(cell) => match cell.held_range() {
                Some(range) => self.text.get(range).map_or(Slot::BAIL, Slot::string),
                None => *cell,
            },
            None => Slot::NULL,
        }
    }

    /// Keeps a list in the slots' own storage and points slot `index` at it.
    pub fn set_value(&mut self, index: usize, value: Value) {
        let owned = Box::new(value);
        // The box's value does not move when `self.values` grows.
        let slot = Slot::list(&owned);
        self.values.push(owned);
        self.set(index, slot);
    }

    fn set(&mut self, index: usize, slot: Slot) {
        if index >= self.cells.len() {
            self.cells.resize(index + 1, Slot::NULL);
        }
        self.cells[index] = slot;
    }
}

/// The memory one evaluation works in: its cells (inputs copied in, outputs,
/// temporaries) and the helpers' [`Scratch`]. One per thread, reused from one
/// evaluation to the next, so it stays in cache and a hot expression allocates
/// nothing but the strings and lists it builds.
#[derive(Default)]
pub struct Work {
    pub(super) cells: Vec<Slot>,
    pub(super) scratch: Scratch,
}

impl Work {
    /// Copies the input cells of `slots` in (their text stays where it is, in
    /// `slots`, which the caller borrows for the whole evaluation).
    pub(super) fn take_inputs(&mut self, slots: &Slots, inputs: usize) {
        self.cells.clear();
        self.cells
            .extend((0..inputs).map(|index| slots.cell(index)));
    }

    /// Sizes the cells for `plan` and arms the limits, before a call.
    pub(super) fn prepare(&mut self, plan: &super::codegen::Plan, limits: &Limits) {
        if self.cells.len() < plan.slots {
            self.cells.resize(plan.slots, Slot::NULL);
        }
        self.scratch.arm(plan.ticks, limits);
    }

    /// Frees what the helpers built, after the output has been read.
    pub(super) fn finish(&mut self) {
        self.scratch.clear();
    }
}

thread_local! {
    static WORK: RefCell<Work> = RefCell::new(Work::default());
}

/// Runs `f` with this thread's working memory (a fresh one if it is in use).
pub(super) fn with_work<T>(f: impl FnOnce(&mut Work) -> T) -> T {
    WORK.with(|cell| match cell.try_borrow_mut() {
        Ok(mut work) => f(&mut work),
        Err(_) => f(&mut Work::default()),
    })
}

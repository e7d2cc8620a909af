//! The Rust functions native code calls where inline code is not worth it:
//! string comparison and building, mixed `int`/`float` comparison, float
//! remainder, templates and stdlib functions.
//!
//! Each takes the evaluation's [`Work`] and the indices of the slots it reads
//! and writes, so it is ordinary safe Rust over [`Slot`]s; only reading a
//! string slot's text relies on [`Slot`]'s invariant (in `native`). A helper that
//! meets anything the interpreter would turn into an error returns
//! [`STATUS_BAIL`] and the interpreter gives the answer.

use super::layout::{FieldChain, Kind, Work};
use super::native::{STATUS_BAIL, STATUS_OK, Slot, TAG_VALUE};
use crate::eval::{Error, Limits, error};
use crate::stdlib::{Builtin, Host};
use crate::value::Value;
use std::cmp::Ordering;

/// Per-evaluation state of the helpers: the strings they built and the limits.
#[derive(Default)]
pub struct Scratch {
    /// Strings built during this evaluation; slots point into them.
    text: TextArena,
    /// Where `a + b` is put together before it is kept (reused; never pointed
    /// into).
    joining: String,
    /// Values built during this evaluation (lists); list slots point at them,
    /// so they are boxed to keep their addresses when the vector grows.
    #[allow(clippy::vec_box)]
    values: Vec<Box<Value>>,
    /// Lists being built by `map`, `filter` and list literals (they nest).
    lists: Vec<Vec<Value>>,
    /// Templates being built (a template inside a template nests).
    templates: Vec<String>,
    /// Emptied template buffers, reused by the next templates.
    spare: Vec<String>,
    steps: u64,
    limits: Limits,
}

impl Scratch {
    /// Before a call: `ticks` is the most steps the expression's own nodes can
    /// take; stdlib functions charge on top of it.
    pub fn arm(&mut self, ticks: u64, limits: &Limits) {
        self.steps = ticks;
        if self.limits != *limits {
            self.limits = limits.clone();
        }
        // Left over only when an evaluation bailed inside a template.
        while let Some(template) = self.templates.pop() {
            self.recycle(template);
        }
        self.lists.clear();
    }

    /// Keeps an emptied template buffer for the next template, unless it grew
    /// large.
    fn recycle(&mut self, mut template: String) {
        if template.capacity() <= TextArena::KEEP {
            template.clear();
            self.spare.push(template);
        }
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.values.clear();
    }

    fn keep_value(&mut self, value: Value) -> Slot {
        let owned = Box::new(value);
        let slot = Slot::list(&owned);
        self.values.push(owned);
        slot
    }

    fn charge(&mut self, steps: u64) -> bool {
        self.steps = self.steps.saturating_add(steps);
        self.steps <= self.limits.max_steps
    }

    fn keep(&mut self, text: &str) -> Slot {
        if text.len() > self.limits.max_bytes {
            return Slot::BAIL;
        }
        Slot::string(self.text.push(text))
    }
}

/// The text helpers build during one evaluation, in chunks whose bytes never
/// move: a string goes into a chunk with room for all of it, so a chunk never
/// grows past its capacity (growing would move its bytes, which slots point
/// at), and `clear` empties the chunks but keeps them, so a hot expression that
/// builds strings allocates nothing once its thread has run it.
#[derive(Default)]
struct TextArena {
    chunks: Vec<String>,
    /// The chunk being filled.
    current: usize,
}

impl TextArena {
    /// The size of a new chunk; a longer string gets a chunk of its own size.
    const CHUNK: usize = 4096;
    /// Chunks larger than this are freed by `clear` rather than kept.
    const KEEP: usize = 64 * 1024;

    /// Copies `text` in and returns the copy, which stays where it is until
    /// [`clear`](TextArena::clear).
    fn push(&mut self, text: &str) -> &str {
        while let Some(chunk) = self.chunks.get(self.current) {
            if chunk.capacity() - chunk.len() >= text.len() {
                break;
            }
            self.current += 1;
        }
        if self.current == self.chunks.len() {
            self.chunks
                .push(String::with_capacity(text.len().max(Self::CHUNK)));
        }
        let chunk = &mut self.chunks[self.current];
        let start = chunk.len();
        // Within the capacity: no reallocation, so earlier strings stay put.
        chunk.push_str(text);
        &chunk[start..]
    }

    fn clear(&mut self) {
        self.chunks.retain(|chunk| chunk.capacity() <= Self::KEEP);
        for chunk in &mut self.chunks {
            chunk.clear();
        }
        self.current = 0;
    }
}

fn cell(slots: &Work, index: u32) -> Slot {
    usize::try_from(index)
        .ok()
        .and_then(|index| slots.cells.get(index))
        .copied()
        .unwrap_or(Slot::BAIL)
}

fn text(slots: &Work, index: u32) -> Option<&str> {
    let index = usize::try_from(index).ok()?;
    slots.cells.get(index)?.text()
}

fn put(slots: &mut Work, index: u32, slot: Slot) -> u32 {
    match usize::try_from(index)
        .ok()
        .and_then(|index| slots.cells.get_mut(index))
    {
        Some(cell) if slot.tag() != super::native::TAG_BAIL => {
            *cell = slot;
            STATUS_OK
        }
        _ => STATUS_BAIL,
    }
}

fn ordering(order: Ordering) -> i32 {
    match order {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// `a == b` for two string slots: 1 or 0.
pub extern "C" fn str_eq(slots: &mut Work, a: u32, b: u32) -> u32 {
    u32::from(text(slots, a).is_some() && text(slots, a) == text(slots, b))
}

/// The order of two string slots by code point: -1, 0, 1; 2 if either is not
/// a string.
pub extern "C" fn str_cmp(slots: &mut Work, a: u32, b: u32) -> i32 {
    match (text(slots, a), text(slots, b)) {
        (Some(a), Some(b)) => ordering(a.as_bytes().cmp(b.as_bytes())),
        _ => 2,
    }
}

/// `part in whole` for strings: 1, 0, or 2 if either is not a string.
pub extern "C" fn str_contains(slots: &mut Work, part: u32, whole: u32) -> u32 {
    match (text(slots, part), text(slots, whole)) {
        (Some(part), Some(whole)) => u32::from(whole.contains(part)),
        _ => 2,
    }
}

/// `a + b` for strings, into slot `out`.
pub extern "C" fn str_concat(slots: &mut Work, a: u32, b: u32, out: u32) -> u32 {
    // Joined in a buffer of its own first: `a` and `b` may be text the arena
    // holds, which is not read while the arena is written.
    let mut joined = std::mem::take(&mut slots.scratch.joining);
    joined.clear();
    match (text(slots, a), text(slots, b)) {
        (Some(a), Some(b)) => {
            joined.push_str(a);
            joined.push_str(b);
        }
        _ => return STATUS_BAIL,
    }
    let slot = slots.scratch.keep(&joined);
    if joined.capacity() <= TextArena::KEEP {
        slots.scratch.joining = joined;
    }
    put(slots, out, slot)
}

/// Compares an `int` with a `float` exactly: -1, 0, 1, or 2 when the float is
/// NaN.
pub extern "C" fn int_float_cmp(int: i64, float: f64) -> i32 {
    crate::value::int_float_cmp(int, float).map_or(2, ordering)
}

/// `a % b` on floats, as Rust (and so the interpreter) computes it.
pub extern "C" fn float_rem(a: f64, b: f64) -> f64 {
    a % b
}

/// Starts a template.
pub extern "C" fn template_start(slots: &mut Work) {
    let buffer = slots.scratch.spare.pop().unwrap_or_default();
    slots.scratch.templates.push(buffer);
}

/// Appends the text of slot `index`, of kind number `kind` (see
/// [`kind_number`]), to the innermost template.
pub extern "C" fn template_push(slots: &mut Work, kind: u32, index: u32) -> u32 {
    let Some(kind) = kind_from_number(kind) else {
        return STATUS_BAIL;
    };
    let slot = cell(slots, index);
    let formatted;
    let piece = match kind {
        // Text is copied straight in (from the inputs or the arena, never
        // from a template buffer).
        Kind::String if slot.tag() == TAG_VALUE => match slot.text() {
            Some(text) => text,
            None => return STATUS_BAIL,
        },
        _ => match kind
            .value_of(&slot)
            .map(|value| crate::stdlib::to_text(&value))
        {
            Some(Ok(text)) => {
                formatted = text;
                &formatted
            }
            _ => return STATUS_BAIL,
        },
    };
    let max_bytes = slots.scratch.limits.max_bytes;
    let Some(template) = slots.scratch.templates.last_mut() else {
        return STATUS_BAIL;
    };
    template.push_str(piece);
    if template.len() > max_bytes {
        return STATUS_BAIL;
    }
    STATUS_OK
}

/// Ends the innermost template, putting its text in slot `out`.
pub extern "C" fn template_end(slots: &mut Work, out: u32) -> u32 {
    let Some(text) = slots.scratch.templates.pop() else {
        return STATUS_BAIL;
    };
    let slot = slots.scratch.keep(&text);
    slots.scratch.recycle(text);
    put(slots, out, slot)
}

/// Calls a stdlib function without lambda arguments: `count` arguments in the
/// slots from `first`, their kinds packed four bits each in `kinds` (argument 0
/// lowest), the result, of kind number `result`, into slot `out`.
pub extern "C" fn call_builtin(
    slots: &mut Work,
    builtin: &'static Builtin,
    kinds: u64,
    first: u32,
    count: u32,
    result: u32,
    out: u32,
) -> u32 {
    let mut args = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for n in 0..count {
        let Some(kind) = kind_from_number(u32::try_from((kinds >> (4 * n)) & 0xf).unwrap_or(99))
        else {
            return STATUS_BAIL;
        };
        match kind.value_of(&cell(slots, first.saturating_add(n))) {
            Some(value) => args.push(value),
            None => return STATUS_BAIL,
        }
    }
    let Some(result) = kind_from_number(result) else {
        return STATUS_BAIL;
    };
    let value = {
        let mut host = BuiltinHost {
            scratch: &mut slots.scratch,
        };
        match (builtin.run)(&mut host, &args) {
            Ok(value) => value,
            Err(_) => return STATUS_BAIL,
        }
    };
    let slot = match (result, value) {
        (Kind::String, Value::String(text)) => slots.scratch.keep(&text),
        (Kind::List, list @ Value::List(_)) => slots.scratch.keep_value(list),
        (kind, value) => kind.slot_of(&value),
    };
    put(slots, out, slot)
}

/// Counts `steps` against the step limit (a loop's body, once per element):
/// bails past it.
pub extern "C" fn charge(slots: &mut Work, steps: i64) -> u32 {
    match u64::try_from(steps) {
        Ok(steps) if slots.scratch.charge(steps) => STATUS_OK,
        _ => STATUS_BAIL,
    }
}

/// The elements of the list in slot `list`.
fn items(slots: &Work, list: u32) -> Option<&[Value]> {
    let index = usize::try_from(list).ok()?;
    match slots.cells.get(index)?.value()? {
        Value::List(items) => Some(items),
        _ => None,
    }
}

/// `xs[i]`: element `index` of the list in slot `list`, of kind number `kind`,
/// into slot `out`; bails out of range (the interpreter's R0003).
pub extern "C" fn list_element(
    slots: &mut Work,
    list: u32,
    index: i64,
    kind: u32,
    out: u32,
) -> u32 {
    let Some(kind) = kind_from_number(kind) else {
        return STATUS_BAIL;
    };
    let slot = match usize::try_from(index)
        .ok()
        .and_then(|index| items(slots, list)?.get(index))
    {
        Some(element) => kind.slot_of(element),
        None => return STATUS_BAIL,
    };
    put(slots, out, slot)
}

/// What a lambda's body reads of its parameter: chains of fields from the element,
/// each into a slot.
#[derive(Debug, Default)]
pub struct ElementPaths {
    pub paths: Vec<(FieldChain, Kind, u32)>,
}

/// Fills the slots of `paths` from element `index` of the list in slot `list`.
pub extern "C" fn element_paths(
    slots: &mut Work,
    list: u32,
    index: i64,
    paths: &ElementPaths,
) -> u32 {
    let Some(element) = usize::try_from(index)
        .ok()
        .and_then(|index| items(slots, list)?.get(index))
    else {
        return STATUS_BAIL;
    };
    let filled: Vec<(u32, Slot)> = paths
        .paths
        .iter()
        .map(|(fields, kind, cell)| {
            let slot = match super::layout::read_path(Some(element), fields) {
                Some(value) => kind.slot_of(value),
                None => Slot::BAIL,
            };
            (*cell, slot)
        })
        .collect();
    for (cell, slot) in filled {
        match usize::try_from(cell)
            .ok()
            .and_then(|cell| slots.cells.get_mut(cell))
        {
            Some(target) => *target = slot,
            None => return STATUS_BAIL,
        }
    }
    STATUS_OK
}

/// `item in xs`: 1 or 0, by the values' equality.
pub extern "C" fn list_contains(slots: &mut Work, item: u32, kind: u32, list: u32) -> u32 {
    let Some(item) = kind_from_number(kind).and_then(|kind| kind.value_of(&cell(slots, item)))
    else {
        return 2;
    };
    match items(slots, list) {
        Some(items) => u32::from(items.contains(&item)),
        None => 2,
    }
}

/// Starts building a list.
pub extern "C" fn list_start(slots: &mut Work) {
    slots.scratch.lists.push(Vec::new());
}

/// Appends the value in slot `index`, of kind number `kind`, to the innermost
/// list being built.
pub extern "C" fn list_push(slots: &mut Work, kind: u32, index: u32) -> u32 {
    let Some(value) = kind_from_number(kind).and_then(|kind| kind.value_of(&cell(slots, index)))
    else {
        return STATUS_BAIL;
    };
    match slots.scratch.lists.last_mut() {
        Some(list) => {
            list.push(value);
            STATUS_OK
        }
        None => STATUS_BAIL,
    }
}

/// Appends element `index` of the list in slot `list` to the innermost list
/// being built (`filter`).
pub extern "C" fn list_push_element(slots: &mut Work, list: u32, index: i64) -> u32 {
    let Some(element) = usize::try_from(index)
        .ok()
        .and_then(|index| items(slots, list)?.get(index))
        .cloned()
    else {
        return STATUS_BAIL;
    };
    match slots.scratch.lists.last_mut() {
        Some(list) => {
            list.push(element);
            STATUS_OK
        }
        None => STATUS_BAIL,
    }
}

/// Ends the innermost list into slot `out`. With `checked`, the list is held
/// to the size limit and charged as the stdlib's `map` does.
pub extern "C" fn list_end(slots: &mut Work, checked: u32, out: u32) -> u32 {
    let Some(items) = slots.scratch.lists.pop() else {
        return STATUS_BAIL;
    };
    if checked != 0 {
        let bytes = items.len().saturating_mul(8);
        if bytes > slots.scratch.limits.max_bytes
            || !slots
                .scratch
                .charge(u64::try_from(bytes / 64).unwrap_or(u64::MAX))
        {
            return STATUS_BAIL;
        }
    }
    let slot = slots.scratch.keep_value(Value::list(items));
    put(slots, out, slot)
}

/// What a stdlib function called from native code may ask: only to charge steps
/// (the JIT compiles no call with a lambda, and no `now()` or `uuid()`).
struct BuiltinHost<'s> {
    scratch: &'s mut Scratch,
}

impl Host for BuiltinHost<'_> {
    fn apply(&mut self, arg: usize, _: &[Value]) -> Result<Value, Error> {
        Err(error::malformed(format!(
            "argument {arg} is a lambda, which compiled code does not call"
        )))
    }

    fn now(&mut self) -> i64 {
        0
    }

    fn uuid(&mut self) -> String {
        String::new()
    }

    fn charge(&mut self, steps: u64) -> Result<(), Error> {
        if self.scratch.charge(steps) {
            Ok(())
        } else {
            Err(error::step_limit(self.scratch.limits.max_steps))
        }
    }

    fn limits(&self) -> &Limits {
        &self.scratch.limits
    }
}

/// The number native code passes for a kind.
pub fn kind_number(kind: Kind) -> u32 {
    match kind {
        Kind::Null => 0,
        Kind::Bool => 1,
        Kind::Int => 2,
        Kind::Float => 3,
        Kind::String => 4,
        Kind::Duration => 5,
        Kind::Time => 6,
        Kind::List => 7,
    }
}

fn kind_from_number(number: u32) -> Option<Kind> {
    Some(match number {
        0 => Kind::Null,
        1 => Kind::Bool,
        2 => Kind::Int,
        3 => Kind::Float,
        4 => Kind::String,
        5 => Kind::Duration,
        6 => Kind::Time,
        7 => Kind::List,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::TextArena;

    /// Text kept in the arena stays where it was put, whatever is pushed after
    /// it (slots hold its address), and `clear` keeps small chunks for reuse.
    #[test]
    fn arena_text_never_moves() {
        let mut arena = TextArena::default();
        let mut kept = Vec::new();
        for index in 0..3000usize {
            let text = format!("{index}:{}", "x".repeat(index % 300));
            let text = if index == 1234 {
                "y".repeat(100_000)
            } else {
                text
            };
            let address = arena.push(&text).as_ptr() as usize;
            kept.push((address, text));
        }
        for (address, text) in &kept {
            let chunk = arena
                .chunks
                .iter()
                .find(|chunk| {
                    let base = chunk.as_ptr() as usize;
                    base <= *address && address + text.len() <= base + chunk.len()
                })
                .unwrap_or_else(|| panic!("{text:.20} moved"));
            let start = address - chunk.as_ptr() as usize;
            assert_eq!(&chunk[start..start + text.len()], text);
        }
        let chunks = arena.chunks.len();
        arena.clear();
        assert_eq!(arena.chunks.len(), chunks - 1, "the 100 kB chunk is freed");
        assert!(arena.chunks.iter().all(String::is_empty));
        let before = arena.chunks[0].as_ptr();
        assert_eq!(arena.push("again").as_ptr(), before, "chunks are reused");
    }
}

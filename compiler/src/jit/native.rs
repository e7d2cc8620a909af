//! Every `unsafe` block of the JIT, and the reasons they are sound.
//!
//! Three things cannot be done in safe Rust: making a function pointer out of
//! the bytes cranelift wrote (and calling it), freeing that code, and reading a
//! string whose address native code handed back in a [`Slot`]. Each is here, in
//! one small module, so the rest of the JIT — code generation, layouts, tiering,
//! helpers — is safe code that the workspace's `unsafe_code = "deny"` checks.

#![allow(unsafe_code)]

use super::layout::Work;
use cranelift_jit::JITModule;
use cranelift_module::FuncId;

/// What native code returns: the answer is in the output slots.
pub const STATUS_OK: u32 = 0;
/// What native code returns when the interpreter must give the answer.
pub const STATUS_BAIL: u32 = 1;

/// A slot holds `null`.
pub const TAG_NULL: u32 = 0;
/// A slot holds a value of its kind.
pub const TAG_VALUE: u32 = 1;
/// A slot could not be filled with a value of its kind: reading it bails.
pub const TAG_BAIL: u32 = 2;
/// Only in [`Slots`](super::Slots), never seen by native code: a string held
/// in the slots' text buffer, by offset ([`Slot::held`]), resolved to an
/// address when the inputs are copied into the working cells.
pub const TAG_HELD: u32 = 3;

/// Byte offsets of a slot's parts, for the code generator.
pub const OFFSET_TAG: i32 = 0;
pub const OFFSET_LEN: i32 = 4;
pub const OFFSET_BITS: i32 = 8;
/// The size of a slot in bytes.
pub const SLOT_SIZE: i64 = 16;

/// One value as native code sees it: a tag, a length (strings) and a payload
/// word (an `i64`, the bits of an `f64`, `0`/`1`, or the address of a string's
/// UTF-8 bytes).
///
/// The invariant that makes [`Slot::text`] and [`Slot::value`] sound: a slot
/// tagged as a value whose kind is a string is only ever made by
/// [`Slot::string`], from a `&str`, and one whose kind is a list only by
/// [`Slot::list`], from a `&Value`, and that text or value outlives every read of
/// the slot; code reads a slot as text or as a value only where the layout or the
/// plan says it has that kind. The slots an evaluation reads point into the
/// frame that [`Layout::load`](super::Layout::load) read and the evaluation
/// borrows for the whole call, into the storage of the [`Slots`] that
/// [`Compiled::eval_slots`](super::Compiled::eval_slots) borrows for the whole
/// call (text and lists decoded or filled in), into the [`Work`]'s scratch
/// (strings built by helpers, in chunks that are never grown past their
/// capacity, and lists), or into literals owned by the [`Code`]
/// being run; none of these is freed or moved before the evaluation's output has
/// been read ([`Work::finish`] clears the scratch only afterwards). Native code
/// copies slots but never makes up an address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    tag: u32,
    len: u32,
    bits: u64,
}

impl Slot {
    pub const NULL: Slot = Slot {
        tag: TAG_NULL,
        len: 0,
        bits: 0,
    };
    pub const BAIL: Slot = Slot {
        tag: TAG_BAIL,
        len: 0,
        bits: 0,
    };

    pub fn word(bits: u64) -> Slot {
        Slot {
            tag: TAG_VALUE,
            len: 0,
            bits,
        }
    }

    pub fn string(text: &str) -> Slot {
        match u32::try_from(text.len()) {
            Ok(len) => Slot {
                tag: TAG_VALUE,
                len,
                bits: text.as_ptr() as u64,
            },
            Err(_) => Slot::BAIL,
        }
    }

    /// A string kept in a [`Slots`](super::Slots)' text buffer at `offset`;
    /// holds no address, so it is not read as text until resolved.
    pub fn held(offset: usize, len: usize) -> Slot {
        match (u32::try_from(len), u64::try_from(offset)) {
            (Ok(len), Ok(offset)) => Slot {
                tag: TAG_HELD,
                len,
                bits: offset,
            },
            _ => Slot::BAIL,
        }
    }

    /// The byte range of a [`held`](Slot::held) string in its buffer.
    pub fn held_range(&self) -> Option<std::ops::Range<usize>> {
        if self.tag != TAG_HELD {
            return None;
        }
        let start = usize::try_from(self.bits).ok()?;
        Some(start..start.checked_add(usize::try_from(self.len).ok()?)?)
    }

    /// A list: the address of the [`Value`] (a `Value::List`) and its length.
    pub fn list(value: &crate::value::Value) -> Slot {
        let count = match value {
            crate::value::Value::List(items) => items.len(),
            _ => return Slot::BAIL,
        };
        match u32::try_from(count) {
            Ok(len) => Slot {
                tag: TAG_VALUE,
                len,
                bits: std::ptr::from_ref(value) as u64,
            },
            Err(_) => Slot::BAIL,
        }
    }

    /// The list value of a list slot (see the invariant above).
    pub fn value(&self) -> Option<&crate::value::Value> {
        if self.tag != TAG_VALUE || self.bits == 0 {
            return None;
        }
        let address = usize::try_from(self.bits).ok()?;
        // SAFETY: by the invariant above, `bits` was taken from a live `&Value`
        // by `Slot::list`, and that value is alive, unmoved and not mutated
        // while the slot is read; the returned borrow is tied to the slot's.
        Some(unsafe { &*(address as *const crate::value::Value) })
    }

    pub fn tag(&self) -> u32 {
        self.tag
    }

    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// The text of a string slot (see the invariant above). Callers know the
    /// slot's kind from the layout or the plan; the tag is checked here.
    pub fn text(&self) -> Option<&str> {
        if self.tag != TAG_VALUE {
            return None;
        }
        let len = usize::try_from(self.len).ok()?;
        let address = usize::try_from(self.bits).ok()?;
        // SAFETY: by the invariant above, (`bits`, `len`) were taken from a live
        // `&str` by `Slot::string` and that text is alive and unmoved while the
        // slot is read, so the bytes are initialised, valid UTF-8 and not
        // mutated for the lifetime of the returned borrow (which the caller ties
        // to the slot's). Checking the UTF-8 again would add nothing: the same
        // invariant is what makes the bytes readable at all.
        Some(unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(address as *const u8, len))
        })
    }
}

/// The function native code is: slots in, a status out.
type Entry = extern "C" fn(*mut Slot, *mut Work) -> u32;

/// Compiled code and the memory it lives in. Dropping it frees the memory.
pub struct Code {
    module: Option<JITModule>,
    entry: Entry,
    /// What the code refers to by address (string literals, the paths of
    /// lambda parameters); kept alive with it.
    _data: Box<dyn std::any::Any + Send + Sync>,
}

// SAFETY: after `finalize_definitions` the module is never used again except to
// free its memory in `drop`, which takes `&mut self` (so no call is running on
// this value); the code itself is immutable, position-fixed machine code that
// any thread may run. Nothing in the module is thread-local.
unsafe impl Send for Code {}
// SAFETY: as above: shared references only ever call the finished code, which
// keeps no state between calls (everything it touches is in the slots passed).
unsafe impl Sync for Code {}

impl Code {
    /// Takes a module whose function `id` has been defined and finalised.
    pub fn new(module: JITModule, id: FuncId, data: Box<dyn std::any::Any + Send + Sync>) -> Code {
        let address = module.get_finalized_function(id);
        // SAFETY: `address` is the start of the finalised function `id`, which
        // the code generator declared with exactly the signature of `Entry`
        // (two pointer arguments, an `i32` result, the platform's C calling
        // convention); the memory stays mapped until `drop` frees the module,
        // and `entry` is never used after that.
        let entry = unsafe { std::mem::transmute::<*const u8, Entry>(address) };
        Code {
            module: Some(module),
            entry,
            _data: data,
        }
    }

    /// Runs the code over `work`, which [`Work::prepare`] sized for it.
    pub fn call(&self, work: &mut Work) -> u32 {
        let cells = work.cells.as_mut_ptr();
        (self.entry)(cells, work as *mut Work)
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: `drop` has `&mut self`, so no call of `entry` is running
            // (calls borrow `&self`), and `entry` is unreachable afterwards.
            unsafe { module.free_memory() };
        }
    }
}

//! From a typed [`Expr`] to cranelift IR to native code.
//!
//! Each node becomes a [`Val`]: a [`Kind`] known at compile time, whether it is
//! present (always, never, or decided at run time by an `i8`), and its payload
//! in registers (an `i64`, an `f64`, an `i8` for bools, an address and a length
//! for strings). The kind of a node follows the values the interpreter would
//! compute — an `int` branch of an `if` stays an `int` — not a wider type, so
//! the values come out as the interpreter's. A node the JIT does not model makes
//! the whole expression [`Unsupported`]; a case the interpreter would report as
//! an error jumps to the *bail* block.

use super::Unsupported;
use super::helpers::{self, ElementPaths, kind_number};
use super::layout::{FieldChain, Kind, Layout, Path};
use super::native::{
    Code, OFFSET_BITS, OFFSET_LEN, OFFSET_TAG, SLOT_SIZE, STATUS_BAIL, STATUS_OK, TAG_BAIL,
    TAG_NULL, TAG_VALUE,
};
use crate::eval::Limits;
use crate::ir::{BinaryOp, Callee, Expr, ExprKind, Literal, TemplatePart, UnaryOp};
use crate::ty::{LitTy, Ty, TypeTable};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, InstBuilder, MemFlagsData, Signature, Type, Value, types,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module};
use std::sync::{Arc, OnceLock};

/// What the caller of compiled code needs besides the code: how many slots it
/// uses, its bounds, and where its answer is.
#[derive(Debug)]
pub struct Plan {
    /// Slots in all: inputs, then outputs and temporaries.
    pub slots: usize,
    /// The most steps the interpreter could count for the expression's nodes.
    pub ticks: u64,
    /// The deepest nesting of the expression.
    pub depth: u32,
    pub output: Output,
}

/// The shape of the answer.
#[derive(Debug)]
pub enum Output {
    /// One value of a kind, in a slot.
    Scalar { slot: usize, kind: Kind },
    /// A record built from its fields' outputs, sorted by name.
    Record { fields: Vec<(Arc<str>, Output)> },
}

impl Plan {
    /// Whether the interpreter could hit a step or depth limit the native code
    /// does not count; such evaluations are left to it.
    pub fn fits(&self, limits: &Limits) -> bool {
        self.ticks <= limits.max_steps && self.depth < limits.max_depth
    }
}

/// Compiles `expr`: its input layout, its plan and its code.
pub fn compile(expr: &Expr, types: &TypeTable) -> Result<(Layout, Plan, Code), Unsupported> {
    let isa = isa()?;
    let mut layout = Layout::default();
    collect_paths(expr, types, &mut layout, &[]);
    let mut module = JITModule::new(JITBuilder::with_isa(
        isa.clone(),
        cranelift_module::default_libcall_names(),
    ));
    let pointer = module.target_config().pointer_type();
    let call_conv = module.target_config().default_call_conv;
    let mut context = module.make_context();
    context.func.signature.params.push(AbiParam::new(pointer));
    context.func.signature.params.push(AbiParam::new(pointer));
    context
        .func
        .signature
        .returns
        .push(AbiParam::new(types::I32));
    let frontend = module.target_config();
    let mut builder_context = FunctionBuilderContext::new();
    let (plan, data) = {
        let mut builder = FunctionBuilder::new(&mut context.func, &mut builder_context);
        let entry = builder.create_block();
        builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        let params = builder.block_params(entry).to_vec();
        let bail = builder.create_block();
        let mut g = Gen {
            b: builder,
            types,
            layout: &layout,
            cells: params[0],
            slots: params[1],
            bail,
            pointer,
            call_conv,
            next_slot: layout.paths().len(),
            literals: Vec::new(),
            element_paths: Vec::new(),
            scopes: Vec::new(),
            nodes: 0,
        };
        let (output, depth) = g.output(expr, 1)?;
        let ok = g.b.ins().iconst(types::I32, i64::from(STATUS_OK));
        g.b.ins().return_(&[ok]);
        g.b.switch_to_block(bail);
        let status = g.b.ins().iconst(types::I32, i64::from(STATUS_BAIL));
        g.b.ins().return_(&[status]);
        g.b.seal_all_blocks();
        g.b.finalize(frontend);
        let plan = Plan {
            slots: g.next_slot,
            ticks: 2 * g.nodes,
            depth,
            output,
        };
        (plan, (g.literals, g.element_paths))
    };
    let failed = |error: &dyn std::fmt::Display| Unsupported::new(format!("cranelift: {error}"));
    let id = module
        .declare_function("expr", Linkage::Export, &context.func.signature)
        .map_err(|e| failed(&e))?;
    module
        .define_function(id, &mut context)
        .map_err(|e| failed(&e))?;
    module.clear_context(&mut context);
    module.finalize_definitions().map_err(|e| failed(&e))?;
    Ok((layout, plan, Code::new(module, id, Box::new(data))))
}

/// The host's instruction set, detected once.
fn isa() -> Result<OwnedTargetIsa, Unsupported> {
    static ISA: OnceLock<Result<OwnedTargetIsa, String>> = OnceLock::new();
    ISA.get_or_init(|| {
        let mut flags = settings::builder();
        let set = |flags: &mut settings::Builder, name: &str, value: &str| {
            flags.set(name, value).map_err(|e| e.to_string())
        };
        set(&mut flags, "opt_level", "speed")?;
        set(&mut flags, "is_pic", "false")?;
        // The verifier checks every function the generator builds in debug
        // builds (tests); release builds skip it to compile faster.
        let verify = if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        };
        set(&mut flags, "enable_verifier", verify)?;
        let builder = cranelift_native::builder().map_err(str::to_string)?;
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|reason| Unsupported::new(format!("no native code for this machine: {reason}")))
}

/// The kind of values of type `ty`, and whether they may be `null`; `None` for
/// types native code does not handle (records, lists, maps, `json`, secrets,
/// unions of different kinds).
pub fn kind_of(ty: &Ty, types: &TypeTable) -> Option<(Kind, bool)> {
    kind_within(ty, types, 0)
}

fn kind_within(ty: &Ty, types: &TypeTable, depth: u32) -> Option<(Kind, bool)> {
    Some(match ty {
        Ty::Bool
        | Ty::Lit {
            value: LitTy::Bool(_),
        } => (Kind::Bool, false),
        Ty::Int
        | Ty::Lit {
            value: LitTy::Int(_),
        } => (Kind::Int, false),
        Ty::Float => (Kind::Float, false),
        Ty::String
        | Ty::Lit {
            value: LitTy::String(_),
        } => (Kind::String, false),
        Ty::Duration => (Kind::Duration, false),
        Ty::Time => (Kind::Time, false),
        Ty::Null => (Kind::Null, true),
        Ty::List { .. } => (Kind::List, false),
        Ty::Union { members } => {
            let mut kind = None;
            let mut nullable = false;
            for member in members {
                let (member_kind, member_null) = kind_within(member, types, depth + 1)?;
                nullable |= member_null;
                if member_kind == Kind::Null {
                    continue;
                }
                match kind {
                    None => kind = Some(member_kind),
                    Some(known) if known == member_kind => {}
                    Some(_) => return None,
                }
            }
            (kind.unwrap_or(Kind::Null), nullable)
        }
        Ty::Named { name } if depth < 32 => kind_within(types.get(name)?, types, depth + 1)?,
        _ => return None,
    })
}

/// A chain of fields from a local: the local and the names, outermost last.
fn place(expr: &Expr) -> Option<(u32, FieldChain)> {
    match &expr.kind {
        ExprKind::Local { slot } => Some((*slot, Vec::new())),
        ExprKind::Field {
            base,
            name,
            optional,
        } => {
            let (local, mut fields) = place(base)?;
            fields.push((name.clone(), *optional));
            Some((local, fields))
        }
        _ => None,
    }
}

/// Adds every scalar place `expr` reads to `layout`, before code generation, so
/// that the input slots come first.
fn collect_paths(expr: &Expr, types: &TypeTable, layout: &mut Layout, params: &[u32]) {
    if let Some((local, fields)) = place(expr) {
        // A lambda's parameter is read per element, not from the frame.
        if params.contains(&local) {
            return;
        }
        if let Some((kind, _)) = kind_of(&expr.ty, types) {
            layout.slot(Path {
                local,
                fields,
                kind,
            });
        }
        return;
    }
    if let ExprKind::Lambda {
        params: inner,
        body,
    } = &expr.kind
    {
        let all: Vec<u32> = params.iter().chain(inner).copied().collect();
        collect_paths(body, types, layout, &all);
        return;
    }
    crate::correlate::for_each_child(expr, &mut |child| {
        collect_paths(child, types, layout, params);
    });
}

/// Counts the nodes of `expr`, as the interpreter's ticks bound them.
fn count_nodes(expr: &Expr, count: &mut i64) {
    *count += 1;
    if let ExprKind::Field { .. } = expr.kind {
        // A chain of fields ticks once more per field.
        *count += 1;
    }
    crate::correlate::for_each_child(expr, &mut |child| count_nodes(child, count));
}

/// The places rooted at `param` that `expr` reads, with their kinds (nested
/// lambdas included: they may read an outer parameter).
fn element_places(expr: &Expr, param: u32, types: &TypeTable) -> Vec<(FieldChain, Kind)> {
    // The walk of `collect_paths` over a throw-away layout: every place it
    // finds rooted at `param` is one of ours.
    let mut layout = Layout::default();
    collect_paths(expr, types, &mut layout, &[]);
    layout
        .paths()
        .iter()
        .filter(|path| path.local == param)
        .map(|path| (path.fields.clone(), path.kind))
        .collect()
}

/// Whether a value is there.
#[derive(Clone, Copy, Debug)]
enum Presence {
    Always,
    /// The value is `null`.
    Never,
    /// An `i8`: 1 when the value is there.
    Maybe(Value),
}

/// A compiled value: its kind, presence and payload. When the value is absent
/// its payload and length are zero (every writer of an absent value makes them
/// so), which is what lets a string comparison test lengths before bytes.
#[derive(Clone, Copy, Debug)]
struct Val {
    kind: Kind,
    present: Presence,
    /// `i64` (ints, durations, times, string addresses), `f64` or `i8` (bools);
    /// unused for `null`.
    payload: Option<Value>,
    /// The `i32` length of a string.
    len: Option<Value>,
    /// For a string literal, its index in the generator's literals.
    literal: Option<usize>,
}

/// The shape of values merged from branches: a kind and whether it may be null.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    kind: Kind,
    nullable: bool,
}

fn payload_type(kind: Kind) -> Option<Type> {
    match kind {
        Kind::Null => None,
        Kind::Bool => Some(types::I8),
        Kind::Float => Some(types::F64),
        Kind::Int | Kind::Duration | Kind::Time | Kind::String | Kind::List => Some(types::I64),
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported::new(what))
}

/// A lambda being generated: its parameter's slot and, for each field chain
/// read from the parameter, its kind and the cell it is loaded into.
type Scope = (u32, Vec<(FieldChain, Kind, usize)>);

struct Gen<'a> {
    b: FunctionBuilder<'a>,
    types: &'a TypeTable,
    layout: &'a Layout,
    /// The address of slot 0.
    cells: Value,
    /// The `Work` the helpers take.
    slots: Value,
    bail: Block,
    pointer: Type,
    call_conv: CallConv,
    next_slot: usize,
    literals: Vec<Box<str>>,
    /// What each lambda's body reads of its parameter, by address in the code.
    #[allow(clippy::vec_box)] // Native code holds their addresses.
    element_paths: Vec<Box<ElementPaths>>,
    /// The lambdas being generated, innermost last: the parameter's slot and
    /// the cells its paths are loaded into.
    scopes: Vec<Scope>,
    nodes: u64,
}

impl Gen<'_> {
    // ------------------------------------------------------------ outputs

    /// Generates `expr` as the answer: records field by field, anything else
    /// into one slot. Returns the output plan and the nesting depth.
    fn output(&mut self, expr: &Expr, depth: u32) -> Result<(Output, u32), Unsupported> {
        if let ExprKind::Record { fields } = &expr.kind {
            self.nodes += 1;
            let mut outputs = Vec::with_capacity(fields.len());
            let mut deepest = depth;
            for (name, value) in fields {
                let (output, inner) = self.output(value, depth + 1)?;
                deepest = deepest.max(inner);
                let name: Arc<str> = Arc::from(name.as_str());
                // As a `Value::Record` keeps them: by name, the last of two
                // fields of one name winning. `Answer` relies on the order.
                match outputs.iter_mut().find(|(seen, _)| *seen == name) {
                    Some(seen) => seen.1 = output,
                    None => outputs.push((name, output)),
                }
            }
            outputs.sort_by(|a, b| a.0.cmp(&b.0));
            return Ok((Output::Record { fields: outputs }, deepest));
        }
        let (val, deepest) = self.expr(expr, depth)?;
        let slot = self.new_slot();
        self.store(slot, val);
        Ok((
            Output::Scalar {
                slot,
                kind: val.kind,
            },
            deepest,
        ))
    }

    fn new_slot(&mut self) -> usize {
        self.next_slot += 1;
        self.next_slot - 1
    }

    fn slot_offset(slot: usize, part: i32) -> Result<i32, Unsupported> {
        i32::try_from(slot)
            .ok()
            .and_then(|slot| slot.checked_mul(i32::try_from(SLOT_SIZE).ok()?))
            .and_then(|offset| offset.checked_add(part))
            .ok_or_else(|| Unsupported::new("too many slots"))
    }

    /// Writes `val` into slot `slot`.
    fn store(&mut self, slot: usize, val: Val) {
        let (Ok(tag_at), Ok(len_at), Ok(bits_at)) = (
            Gen::slot_offset(slot, OFFSET_TAG),
            Gen::slot_offset(slot, OFFSET_LEN),
            Gen::slot_offset(slot, OFFSET_BITS),
        ) else {
            return;
        };
        let flags = MemFlagsData::trusted();
        let tag = match val.present {
            Presence::Always => self.b.ins().iconst(types::I32, i64::from(TAG_VALUE)),
            Presence::Never => self.b.ins().iconst(types::I32, i64::from(TAG_NULL)),
            // TAG_NULL is 0 and TAG_VALUE 1: the presence bit is the tag.
            Presence::Maybe(present) => self.b.ins().uextend(types::I32, present),
        };
        self.b.ins().store(flags, tag, self.cells, tag_at);
        if let Presence::Never = val.present {
            // An absent value has a zero length and payload, whatever the cell
            // held before: code that compares string lengths before reading
            // bytes must never find a stale length with a stale address.
            let zero = self.b.ins().iconst(types::I64, 0);
            let zero_len = self.b.ins().iconst(types::I32, 0);
            self.b.ins().store(flags, zero_len, self.cells, len_at);
            self.b.ins().store(flags, zero, self.cells, bits_at);
            return;
        }
        if let Some(len) = val.len {
            self.b.ins().store(flags, len, self.cells, len_at);
        }
        if let Some(payload) = val.payload {
            let bits = match val.kind {
                Kind::Float => self
                    .b
                    .ins()
                    .bitcast(types::I64, MemFlagsData::new(), payload),
                Kind::Bool => self.b.ins().uextend(types::I64, payload),
                _ => payload,
            };
            self.b.ins().store(flags, bits, self.cells, bits_at);
        }
    }

    /// Reads slot `slot` as a value of `shape`: bails when the slot is marked
    /// bail, or holds null where the shape does not allow it.
    fn load(&mut self, slot: usize, shape: Shape) -> Result<Val, Unsupported> {
        let flags = MemFlagsData::trusted();
        let tag_at = Gen::slot_offset(slot, OFFSET_TAG)?;
        let tag = self.b.ins().load(types::I32, flags, self.cells, tag_at);
        if shape.kind == Kind::Null {
            self.bail_unless_int(tag, IntCC::Equal, i64::from(TAG_NULL));
            return Ok(self.null());
        }
        let present = if shape.nullable {
            self.bail_unless_int(tag, IntCC::NotEqual, i64::from(TAG_BAIL));
            let present = self
                .b
                .ins()
                .icmp_imm_s(IntCC::Equal, tag, i64::from(TAG_VALUE));
            Presence::Maybe(present)
        } else {
            self.bail_unless_int(tag, IntCC::Equal, i64::from(TAG_VALUE));
            Presence::Always
        };
        let bits = self.b.ins().load(
            types::I64,
            flags,
            self.cells,
            Gen::slot_offset(slot, OFFSET_BITS)?,
        );
        let payload = match shape.kind {
            Kind::Float => self.b.ins().bitcast(types::F64, MemFlagsData::new(), bits),
            Kind::Bool => self.b.ins().icmp_imm_s(IntCC::NotEqual, bits, 0),
            _ => bits,
        };
        let len = if matches!(shape.kind, Kind::String | Kind::List) {
            Some(self.b.ins().load(
                types::I32,
                flags,
                self.cells,
                Gen::slot_offset(slot, OFFSET_LEN)?,
            ))
        } else {
            None
        };
        Ok(Val {
            kind: shape.kind,
            present,
            payload: Some(payload),
            len,
            literal: None,
        })
    }

    fn null(&mut self) -> Val {
        Val {
            kind: Kind::Null,
            present: Presence::Never,
            payload: None,
            len: None,
            literal: None,
        }
    }

    fn known(&self, kind: Kind, payload: Value) -> Val {
        Val {
            kind,
            present: Presence::Always,
            payload: Some(payload),
            len: None,
            literal: None,
        }
    }

    // ------------------------------------------------------------ control

    /// Goes on only when `value cond imm` holds; bails otherwise.
    fn bail_unless_int(&mut self, value: Value, cond: IntCC, imm: i64) {
        let ok = self.b.ins().icmp_imm_s(cond, value, imm);
        self.bail_unless(ok);
    }

    /// Goes on only when the `i8` `ok` is non-zero; bails otherwise.
    fn bail_unless(&mut self, ok: Value) {
        let next = self.b.create_block();
        self.b.ins().brif(ok, next, &[], self.bail, &[]);
        self.b.switch_to_block(next);
    }

    /// Bails when the `i8` `bad` is non-zero.
    fn bail_if(&mut self, bad: Value) {
        let next = self.b.create_block();
        self.b.ins().brif(bad, self.bail, &[], next, &[]);
        self.b.switch_to_block(next);
    }

    /// Bails always; code after it is unreachable but still well-formed.
    fn bail_now(&mut self) {
        let next = self.b.create_block();
        self.b.ins().jump(self.bail, &[]);
        self.b.switch_to_block(next);
    }

    /// The value, which must be there (bails when it is null).
    fn present(&mut self, val: Val) -> Val {
        match val.present {
            Presence::Always => val,
            Presence::Never => {
                self.bail_now();
                Val {
                    present: Presence::Always,
                    payload: Some(self.zero(val.kind)),
                    len: (val.kind == Kind::String).then(|| self.b.ins().iconst(types::I32, 0)),
                    ..val
                }
            }
            Presence::Maybe(present) => {
                self.bail_unless(present);
                Val {
                    present: Presence::Always,
                    ..val
                }
            }
        }
    }

    fn zero(&mut self, kind: Kind) -> Value {
        match payload_type(kind) {
            Some(types::F64) => self.b.ins().f64const(0.0),
            Some(ty) => self.b.ins().iconst(ty, 0),
            None => self.b.ins().iconst(types::I8, 0),
        }
    }

    fn presence_bit(&mut self, present: Presence) -> Value {
        match present {
            Presence::Always => self.b.ins().iconst(types::I8, 1),
            Presence::Never => self.b.ins().iconst(types::I8, 0),
            Presence::Maybe(bit) => bit,
        }
    }

    /// A block that receives values of `shape` as parameters.
    fn merge_block(&mut self, shape: Shape) -> Block {
        let block = self.b.create_block();
        if shape.nullable {
            self.b.append_block_param(block, types::I8);
        }
        if let Some(ty) = payload_type(shape.kind) {
            self.b.append_block_param(block, ty);
        }
        if shape.kind == Kind::String {
            self.b.append_block_param(block, types::I32);
        }
        block
    }

    /// Jumps to `block` (made by `merge_block(shape)`) with `val`.
    fn jump_with(&mut self, block: Block, shape: Shape, val: Val) {
        let mut args = Vec::new();
        if shape.nullable {
            let bit = self.presence_bit(val.present);
            args.push(BlockArg::Value(bit));
        }
        if payload_type(shape.kind).is_some() {
            let payload = match (val.kind == shape.kind, val.payload) {
                (true, Some(payload)) => payload,
                _ => self.zero(shape.kind),
            };
            args.push(BlockArg::Value(payload));
        }
        if shape.kind == Kind::String {
            let len = match val.len {
                Some(len) => len,
                None => self.b.ins().iconst(types::I32, 0),
            };
            args.push(BlockArg::Value(len));
        }
        self.b.ins().jump(block, &args);
    }

    /// Switches to a merge block and reads its parameters as a value.
    fn enter_merge(&mut self, block: Block, shape: Shape) -> Val {
        self.b.switch_to_block(block);
        let params = self.b.block_params(block).to_vec();
        let mut params = params.into_iter();
        let present = if shape.nullable {
            match params.next() {
                Some(bit) => Presence::Maybe(bit),
                None => Presence::Never,
            }
        } else {
            Presence::Always
        };
        if shape.kind == Kind::Null {
            return self.null();
        }
        Val {
            kind: shape.kind,
            present,
            payload: params.next(),
            len: params.next(),
            literal: None,
        }
    }

    /// The shape both branches fit in, if any.
    fn unify(a: Val, b: Val) -> Option<Shape> {
        let nullable = |val: Val| !matches!(val.present, Presence::Always);
        if a.kind == b.kind {
            return Some(Shape {
                kind: a.kind,
                nullable: nullable(a) || nullable(b),
            });
        }
        match (a.kind, b.kind) {
            (Kind::Null, kind) | (kind, Kind::Null) => Some(Shape {
                kind,
                nullable: true,
            }),
            _ => None,
        }
    }

    // ------------------------------------------------------------ helpers

    fn call(
        &mut self,
        function: usize,
        params: &[Type],
        ret: Option<Type>,
        args: &[Value],
    ) -> Option<Value> {
        let mut signature = Signature::new(self.call_conv);
        signature
            .params
            .extend(params.iter().map(|ty| AbiParam::new(*ty)));
        if let Some(ret) = ret {
            signature.returns.push(AbiParam::new(ret));
        }
        let signature = self.b.import_signature(signature);
        let address = i64::try_from(function).unwrap_or(0);
        let callee = self.b.ins().iconst(self.pointer, address);
        let call = self.b.ins().call_indirect(signature, callee, args);
        self.b.inst_results(call).first().copied()
    }

    fn index(&mut self, slot: usize) -> Value {
        self.b
            .ins()
            .iconst(types::I32, i64::try_from(slot).unwrap_or(0))
    }

    /// Calls a helper `(slots, a, b) -> i32` over two values put in slots.
    fn call_on_slots(&mut self, function: usize, a: Val, b: Val) -> Result<Value, Unsupported> {
        let (slot_a, slot_b) = (self.new_slot(), self.new_slot());
        self.store(slot_a, a);
        self.store(slot_b, b);
        let args = [self.slots, self.index(slot_a), self.index(slot_b)];
        let pointer = self.pointer;
        self.call(
            function,
            &[pointer, types::I32, types::I32],
            Some(types::I32),
            &args,
        )
        .ok_or_else(|| Unsupported::new("a helper without a result"))
    }

    /// Calls a helper that returns a status, and bails unless it is OK.
    fn call_checked(&mut self, function: usize, params: &[Type], args: &[Value]) {
        let status = self.call(function, params, Some(types::I32), args);
        self.check_status(status);
    }

    /// Bails unless a helper's status is OK.
    fn check_status(&mut self, status: Option<Value>) {
        if let Some(status) = status {
            self.bail_unless_int(status, IntCC::Equal, i64::from(STATUS_OK));
        }
    }

    // ------------------------------------------------------------ expressions

    /// Generates `expr`; returns its value and the deepest nesting below it.
    fn expr(&mut self, expr: &Expr, depth: u32) -> Result<(Val, u32), Unsupported> {
        self.nodes += 1;
        let mut deepest = depth;
        let mut sub = |g: &mut Gen, child: &Expr| -> Result<Val, Unsupported> {
            let (val, inner) = g.expr(child, depth + 1)?;
            deepest = deepest.max(inner);
            Ok(val)
        };
        let val = match &expr.kind {
            ExprKind::Literal { value } => self.literal(value),
            ExprKind::Local { .. } | ExprKind::Field { .. } => {
                let Some((local, fields)) = place(expr) else {
                    return unsupported("a field of a computed value");
                };
                self.nodes += u64::try_from(fields.len()).unwrap_or(u64::MAX);
                let Some((kind, nullable)) = kind_of(&expr.ty, self.types) else {
                    return unsupported("a value of a type native code does not handle");
                };
                let element = self
                    .scopes
                    .iter()
                    .rev()
                    .find(|(param, _)| *param == local)
                    .map(|(_, paths)| {
                        paths
                            .iter()
                            .find(|(known, known_kind, _)| *known == fields && *known_kind == kind)
                            .map(|(_, _, cell)| *cell)
                    });
                let slot = match element {
                    Some(Some(cell)) => cell,
                    Some(None) => return unsupported("a lambda path missing from its scope"),
                    None => {
                        let path = Path {
                            local,
                            fields,
                            kind,
                        };
                        let Some(slot) =
                            self.layout.paths().iter().position(|known| *known == path)
                        else {
                            return unsupported("a path missing from the layout");
                        };
                        slot
                    }
                };
                self.load(slot, Shape { kind, nullable })?
            }
            ExprKind::Unary { op, operand } => {
                let value = sub(self, operand)?;
                self.unary(*op, value)?
            }
            ExprKind::Binary { op, lhs, rhs } => match op {
                BinaryOp::And | BinaryOp::Or => {
                    let left = sub(self, lhs)?;
                    let left = self.condition(left)?;
                    let shape = Shape {
                        kind: Kind::Bool,
                        nullable: false,
                    };
                    let done = self.merge_block(shape);
                    let right_block = self.b.create_block();
                    if *op == BinaryOp::And {
                        let short = self.b.ins().iconst(types::I8, 0);
                        let args = [BlockArg::Value(short)];
                        self.b.ins().brif(left, right_block, &[], done, &args);
                    } else {
                        let short = self.b.ins().iconst(types::I8, 1);
                        let args = [BlockArg::Value(short)];
                        self.b.ins().brif(left, done, &args, right_block, &[]);
                    }
                    self.b.switch_to_block(right_block);
                    let right = sub(self, rhs)?;
                    let right = self.condition(right)?;
                    let right = self.known(Kind::Bool, right);
                    self.jump_with(done, shape, right);
                    self.enter_merge(done, shape)
                }
                BinaryOp::Coalesce => {
                    let left = sub(self, lhs)?;
                    match left.present {
                        Presence::Always => left,
                        Presence::Never => sub(self, rhs)?,
                        Presence::Maybe(bit) => {
                            let right_block = self.b.create_block();
                            let left_block = self.b.create_block();
                            self.b.ins().brif(bit, left_block, &[], right_block, &[]);
                            self.b.switch_to_block(right_block);
                            let right = sub(self, rhs)?;
                            let Some(shape) = Gen::unify(left, right) else {
                                return unsupported("`??` over values of two kinds");
                            };
                            let done = self.merge_block(shape);
                            self.jump_with(done, shape, right);
                            self.b.switch_to_block(left_block);
                            let left = Val {
                                present: Presence::Always,
                                ..left
                            };
                            self.jump_with(done, shape, left);
                            self.enter_merge(done, shape)
                        }
                    }
                }
                _ => {
                    let left = sub(self, lhs)?;
                    let right = sub(self, rhs)?;
                    self.binary(*op, left, right)?
                }
            },
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = sub(self, cond)?;
                let cond = self.condition(cond)?;
                let then_block = self.b.create_block();
                let else_block = self.b.create_block();
                self.b.ins().brif(cond, then_block, &[], else_block, &[]);
                // The merge block's shape is known only once both branches are
                // generated; the branches end in blocks that jump to it.
                self.b.switch_to_block(then_block);
                let then_val = sub(self, then)?;
                let then_end = self.b.create_block();
                self.b.ins().jump(then_end, &[]);
                self.b.switch_to_block(else_block);
                let else_val = sub(self, otherwise)?;
                let Some(shape) = Gen::unify(then_val, else_val) else {
                    return unsupported("`if` branches of two kinds");
                };
                let done = self.merge_block(shape);
                self.jump_with(done, shape, else_val);
                self.b.switch_to_block(then_end);
                self.jump_with(done, shape, then_val);
                self.enter_merge(done, shape)
            }
            ExprKind::Template { parts } => {
                self.call(
                    helpers::template_start as *const () as usize,
                    &[self.pointer],
                    None,
                    &[self.slots],
                );
                for part in parts {
                    let piece = match part {
                        TemplatePart::Text { text } => self.string_literal(text),
                        TemplatePart::Expr { expr } => sub(self, expr)?,
                    };
                    self.push_to(helpers::template_push as *const () as usize, piece);
                }
                let out = self.new_slot();
                let args = [self.slots, self.index(out)];
                let pointer = self.pointer;
                self.call_checked(
                    helpers::template_end as *const () as usize,
                    &[pointer, types::I32],
                    &args,
                );
                self.load(
                    out,
                    Shape {
                        kind: Kind::String,
                        nullable: false,
                    },
                )?
            }
            ExprKind::Call {
                callee: Callee::Builtin { name },
                args,
            } if matches!(
                args.get(1).map(|arg| &arg.kind),
                Some(ExprKind::Lambda { .. })
            ) =>
            {
                let [list, lambda] = args.as_slice() else {
                    return unsupported("a call with a lambda and other arguments");
                };
                let list = sub(self, list)?;
                let (val, inner) = self.lambda_loop(name, list, lambda, depth + 1)?;
                deepest = deepest.max(inner);
                val
            }
            ExprKind::Call {
                callee: Callee::Builtin { name },
                args,
            } if name == "len"
                && args.len() == 1
                && kind_of(&args[0].ty, self.types).map(|(kind, _)| kind) == Some(Kind::List) =>
            {
                let list = sub(self, &args[0])?;
                let list = self.present(list);
                let Some(len) = list.len else {
                    return unsupported("a list without a length");
                };
                let len = self.b.ins().uextend(types::I64, len);
                self.known(Kind::Int, len)
            }
            ExprKind::Call {
                callee: Callee::Builtin { name },
                args,
            } => {
                let Some(builtin) = crate::stdlib::lookup(name) else {
                    return unsupported("an unknown stdlib function");
                };
                if builtin.recorded {
                    return unsupported("a recorded function (`now`, `uuid`)");
                }
                if args.len() > 15 {
                    return unsupported("a call with many arguments");
                }
                let Some((result, nullable)) = kind_of(&expr.ty, self.types) else {
                    return unsupported("a stdlib function of a non-scalar result");
                };
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    if matches!(arg.kind, ExprKind::Lambda { .. }) {
                        return unsupported("a call with a lambda");
                    }
                    values.push(sub(self, arg)?);
                }
                let first = self.next_slot;
                let mut kinds: u64 = 0;
                for (n, value) in values.iter().enumerate() {
                    let slot = self.new_slot();
                    self.store(slot, *value);
                    kinds |= u64::from(kind_number(value.kind)) << (4 * n);
                }
                let out = self.new_slot();
                let builtin_address = std::ptr::from_ref(builtin).addr();
                let builtin_value = self
                    .b
                    .ins()
                    .iconst(self.pointer, i64::try_from(builtin_address).unwrap_or(0));
                let kinds = self.b.ins().iconst(types::I64, kinds.cast_signed());
                let count = u32::try_from(args.len()).unwrap_or(0);
                let call_args = [
                    self.slots,
                    builtin_value,
                    kinds,
                    self.index(first),
                    self.b.ins().iconst(types::I32, i64::from(count)),
                    self.b
                        .ins()
                        .iconst(types::I32, i64::from(kind_number(result))),
                    self.index(out),
                ];
                let pointer = self.pointer;
                self.call_checked(
                    helpers::call_builtin as *const () as usize,
                    &[
                        pointer,
                        pointer,
                        types::I64,
                        types::I32,
                        types::I32,
                        types::I32,
                        types::I32,
                    ],
                    &call_args,
                );
                self.load(
                    out,
                    Shape {
                        kind: result,
                        nullable,
                    },
                )?
            }
            ExprKind::Call { .. } => return unsupported("a call of a `fn`"),
            ExprKind::Record { .. } => return unsupported("a record inside an expression"),
            ExprKind::List { items } => {
                let pointer = self.pointer;
                self.call(
                    helpers::list_start as *const () as usize,
                    &[pointer],
                    None,
                    &[self.slots],
                );
                for item in items {
                    let value = sub(self, item)?;
                    self.push_value(value);
                }
                self.end_list(false)?
            }
            ExprKind::Index { base, index } => {
                let list = sub(self, base)?;
                let at = sub(self, index)?;
                if list.kind != Kind::List || at.kind != Kind::Int {
                    return unsupported("indexing other than a list by an int");
                }
                let Some((kind, nullable)) = kind_of(&expr.ty, self.types) else {
                    return unsupported("an element of a type native code does not handle");
                };
                let list = self.present(list);
                let at = self.present(at);
                let list_cell = self.new_slot();
                self.store(list_cell, list);
                let out = self.new_slot();
                let Some(at) = at.payload else {
                    return unsupported("an index without a value");
                };
                let args = [
                    self.slots,
                    self.index(list_cell),
                    at,
                    self.b
                        .ins()
                        .iconst(types::I32, i64::from(kind_number(kind))),
                    self.index(out),
                ];
                let pointer = self.pointer;
                self.call_checked(
                    helpers::list_element as *const () as usize,
                    &[pointer, types::I32, types::I64, types::I32, types::I32],
                    &args,
                );
                self.load(out, Shape { kind, nullable })?
            }
            ExprKind::Lambda { .. } => return unsupported("a lambda"),
            ExprKind::Match { .. } => return unsupported("`match`"),
            ExprKind::As { .. } => return unsupported("`as`"),
            ExprKind::Secret { .. } => return unsupported("a secret"),
            ExprKind::Context { .. } => return unsupported("`context`"),
            ExprKind::Webhook => return unsupported("`webhook`"),
            ExprKind::Tagged { .. } => return unsupported("a configuration form"),
            ExprKind::Const { .. } => return unsupported("a precomputed constant"),
        };
        Ok((val, deepest))
    }

    /// Appends `value` to the innermost list being built.
    fn push_value(&mut self, value: Val) {
        self.push_to(helpers::list_push as *const () as usize, value);
    }

    /// Calls `helper(slots, kind, cell)` with `value` stored in a fresh cell.
    fn push_to(&mut self, helper: usize, value: Val) {
        let cell = self.new_slot();
        self.store(cell, value);
        let kind = self
            .b
            .ins()
            .iconst(types::I32, i64::from(kind_number(value.kind)));
        let args = [self.slots, kind, self.index(cell)];
        let pointer = self.pointer;
        self.call_checked(helper, &[pointer, types::I32, types::I32], &args);
    }

    /// Ends the innermost list being built and reads it back.
    fn end_list(&mut self, checked: bool) -> Result<Val, Unsupported> {
        let out = self.new_slot();
        let args = [
            self.slots,
            self.b.ins().iconst(types::I32, i64::from(checked)),
            self.index(out),
        ];
        let pointer = self.pointer;
        self.call_checked(
            helpers::list_end as *const () as usize,
            &[pointer, types::I32, types::I32],
            &args,
        );
        self.load(
            out,
            Shape {
                kind: Kind::List,
                nullable: false,
            },
        )
    }

    /// `any`, `all`, `count`, `map` and `filter` over `list` with `lambda`, as a
    /// loop: each element's paths are loaded into the lambda's cells, then the
    /// body runs. Returns the value and the deepest nesting.
    fn lambda_loop(
        &mut self,
        name: &str,
        list: Val,
        lambda: &Expr,
        depth: u32,
    ) -> Result<(Val, u32), Unsupported> {
        let ExprKind::Lambda { params, body } = &lambda.kind else {
            return unsupported("a lambda argument that is not a lambda");
        };
        let ([param], true) = (params.as_slice(), list.kind == Kind::List) else {
            return unsupported("a lambda over something other than one list");
        };
        if !matches!(name, "any" | "all" | "count" | "map" | "filter") {
            return unsupported("a stdlib function with a lambda the JIT does not loop");
        }
        let list = self.present(list);
        let list_cell = self.new_slot();
        self.store(list_cell, list);
        let Some(len) = list.len else {
            return unsupported("a list without a length");
        };
        let len = self.b.ins().uextend(types::I64, len);

        // Every element runs the body: charge its ticks for all of them first.
        let mut body_nodes = 0;
        count_nodes(body, &mut body_nodes);
        let per_element = self.b.ins().iconst(types::I64, 2 * body_nodes + 2);
        let steps = self.b.ins().imul(len, per_element);
        let pointer = self.pointer;
        self.call_checked(
            helpers::charge as *const () as usize,
            &[pointer, types::I64],
            &[self.slots, steps],
        );

        // The parameter's paths, each into a cell of its own.
        let found = element_places(body, *param, self.types);
        let mut cells = Vec::with_capacity(found.len());
        let mut paths = ElementPaths::default();
        for (fields, kind) in found {
            let cell = self.new_slot();
            paths.paths.push((
                fields.clone(),
                kind,
                u32::try_from(cell).unwrap_or(u32::MAX),
            ));
            cells.push((fields, kind, cell));
        }
        let paths = Box::new(paths);
        let paths_address = std::ptr::from_ref(&*paths).addr();
        self.element_paths.push(paths);

        let builds = matches!(name, "map" | "filter");
        if builds {
            self.call(
                helpers::list_start as *const () as usize,
                &[pointer],
                None,
                &[self.slots],
            );
        }
        let header = self.b.create_block();
        let index = self.b.append_block_param(header, types::I64);
        let total = self.b.append_block_param(header, types::I64);
        let element = self.b.create_block();
        let exit = self.b.create_block();
        let result = self.b.append_block_param(exit, types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b
            .ins()
            .jump(header, &[BlockArg::Value(zero), BlockArg::Value(zero)]);

        self.b.switch_to_block(header);
        let finished = self
            .b
            .ins()
            .icmp(IntCC::SignedGreaterThanOrEqual, index, len);
        // At the end: `any` found nothing, `all` found no counter-example.
        let at_end = match name {
            "all" => self.b.ins().iconst(types::I64, 1),
            "count" => total,
            _ => zero,
        };
        self.b
            .ins()
            .brif(finished, exit, &[BlockArg::Value(at_end)], element, &[]);

        self.b.switch_to_block(element);
        let paths_value = self
            .b
            .ins()
            .iconst(pointer, i64::try_from(paths_address).unwrap_or(0));
        let args = [self.slots, self.index(list_cell), index, paths_value];
        self.call_checked(
            helpers::element_paths as *const () as usize,
            &[pointer, types::I32, types::I64, pointer],
            &args,
        );
        self.scopes.push((*param, cells));
        let body_result = self.expr(body, depth + 1);
        self.scopes.pop();
        let (value, deepest) = body_result?;
        let next = self.b.ins().iadd_imm_s(index, 1);
        let one = self.b.ins().iconst(types::I64, 1);
        let again = |total: Value| [BlockArg::Value(next), BlockArg::Value(total)];
        match name {
            "map" => {
                self.push_value(value);
                self.b.ins().jump(header, &again(total));
            }
            "filter" => {
                let keep = self.condition(value)?;
                let push = self.b.create_block();
                self.b.ins().brif(keep, push, &[], header, &again(total));
                self.b.switch_to_block(push);
                let args = [self.slots, self.index(list_cell), index];
                self.call_checked(
                    helpers::list_push_element as *const () as usize,
                    &[pointer, types::I32, types::I64],
                    &args,
                );
                self.b.ins().jump(header, &again(total));
            }
            "count" => {
                let hit = self.condition(value)?;
                let hit = self.b.ins().uextend(types::I64, hit);
                let total = self.b.ins().iadd(total, hit);
                self.b.ins().jump(header, &again(total));
            }
            "any" => {
                let hit = self.condition(value)?;
                self.b
                    .ins()
                    .brif(hit, exit, &[BlockArg::Value(one)], header, &again(total));
            }
            _ => {
                let hit = self.condition(value)?;
                self.b
                    .ins()
                    .brif(hit, header, &again(total), exit, &[BlockArg::Value(zero)]);
            }
        }

        self.b.switch_to_block(exit);
        let val = match name {
            "map" | "filter" => self.end_list(name == "map")?,
            "count" => self.known(Kind::Int, result),
            _ => {
                let bit = self.b.ins().ireduce(types::I8, result);
                self.known(Kind::Bool, bit)
            }
        };
        Ok((val, deepest))
    }

    fn literal(&mut self, literal: &Literal) -> Val {
        match literal {
            Literal::Null => self.null(),
            Literal::Bool { value } => {
                let bit = self.b.ins().iconst(types::I8, i64::from(*value));
                self.known(Kind::Bool, bit)
            }
            Literal::Int { value } => {
                let int = self.b.ins().iconst(types::I64, *value);
                self.known(Kind::Int, int)
            }
            Literal::Float { value } => {
                let float = self.b.ins().f64const(*value);
                self.known(Kind::Float, float)
            }
            Literal::Duration { millis } => {
                let int = self.b.ins().iconst(types::I64, *millis);
                self.known(Kind::Duration, int)
            }
            Literal::String { value } => self.string_literal(value),
        }
    }

    fn string_literal(&mut self, text: &str) -> Val {
        let owned: Box<str> = Box::from(text);
        let address = i64::try_from(owned.as_ptr().addr()).unwrap_or(0);
        let len = i64::try_from(owned.len()).unwrap_or(0);
        self.literals.push(owned);
        let pointer = self.b.ins().iconst(types::I64, address);
        let len = self.b.ins().iconst(types::I32, len);
        Val {
            kind: Kind::String,
            present: Presence::Always,
            payload: Some(pointer),
            len: Some(len),
            literal: Some(self.literals.len() - 1),
        }
    }

    /// A condition's `i8`: the value must be a bool that is there.
    fn condition(&mut self, val: Val) -> Result<Value, Unsupported> {
        if val.kind != Kind::Bool {
            return unsupported("a condition that is not a bool");
        }
        let val = self.present(val);
        val.payload
            .ok_or_else(|| Unsupported::new("a bool without a value"))
    }

    fn unary(&mut self, op: UnaryOp, val: Val) -> Result<Val, Unsupported> {
        let val = self.present(val);
        let Some(x) = val.payload else {
            return unsupported("an operand without a value");
        };
        Ok(match (op, val.kind) {
            (UnaryOp::Not, Kind::Bool) => {
                let not = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                self.known(Kind::Bool, not)
            }
            (UnaryOp::Neg, Kind::Int | Kind::Duration) => {
                let min = self.b.ins().icmp_imm_s(IntCC::Equal, x, i64::MIN);
                self.bail_if(min);
                let negated = self.b.ins().ineg(x);
                self.known(val.kind, negated)
            }
            (UnaryOp::Neg, Kind::Float) => {
                let negated = self.b.ins().fneg(x);
                self.known(Kind::Float, negated)
            }
            _ => return unsupported("a unary operator on this kind"),
        })
    }

    fn binary(&mut self, op: BinaryOp, a: Val, b: Val) -> Result<Val, Unsupported> {
        match op {
            BinaryOp::Eq | BinaryOp::NotEq => {
                let equal = self.equal(a, b)?;
                let result = if op == BinaryOp::Eq {
                    equal
                } else {
                    self.b.ins().icmp_imm_s(IntCC::Equal, equal, 0)
                };
                Ok(self.known(Kind::Bool, result))
            }
            BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => {
                let a = self.present(a);
                let b = self.present(b);
                let result = self.order(op, a, b)?;
                Ok(self.known(Kind::Bool, result))
            }
            BinaryOp::In if b.kind == Kind::List => {
                let b = self.present(b);
                let (item, list) = (self.new_slot(), self.new_slot());
                self.store(item, a);
                self.store(list, b);
                let args = [
                    self.slots,
                    self.index(item),
                    self.b
                        .ins()
                        .iconst(types::I32, i64::from(kind_number(a.kind))),
                    self.index(list),
                ];
                let pointer = self.pointer;
                let found = self
                    .call(
                        helpers::list_contains as *const () as usize,
                        &[pointer, types::I32, types::I32, types::I32],
                        Some(types::I32),
                        &args,
                    )
                    .ok_or_else(|| Unsupported::new("no answer from `in`"))?;
                let bad = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::UnsignedGreaterThan, found, 1);
                self.bail_if(bad);
                let bit = self.b.ins().ireduce(types::I8, found);
                Ok(self.known(Kind::Bool, bit))
            }
            BinaryOp::In => {
                let a = self.present(a);
                let b = self.present(b);
                if a.kind != Kind::String || b.kind != Kind::String {
                    return unsupported("`in` on this kind");
                }
                let found =
                    self.call_on_slots(helpers::str_contains as *const () as usize, a, b)?;
                let bad = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::UnsignedGreaterThan, found, 1);
                self.bail_if(bad);
                let bit = self.b.ins().ireduce(types::I8, found);
                Ok(self.known(Kind::Bool, bit))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                let a = self.present(a);
                let b = self.present(b);
                self.arithmetic(op, a, b)
            }
            BinaryOp::And | BinaryOp::Or | BinaryOp::Coalesce => {
                unsupported("a short-circuit operator out of place")
            }
        }
    }

    /// `a == b` as an `i8`, structurally, as `Value`'s equality.
    fn equal(&mut self, a: Val, b: Val) -> Result<Value, Unsupported> {
        // Both null, or both there and equal.
        let both_null = match (a.present, b.present) {
            (Presence::Always, _) | (_, Presence::Always) => None,
            (Presence::Never, Presence::Never) => {
                return Ok(self.b.ins().iconst(types::I8, 1));
            }
            _ => {
                let pa = self.presence_bit(a.present);
                let pb = self.presence_bit(b.present);
                let either = self.b.ins().bor(pa, pb);
                Some(self.b.ins().icmp_imm_s(IntCC::Equal, either, 0))
            }
        };
        if matches!(a.present, Presence::Never) || matches!(b.present, Presence::Never) {
            return Ok(match both_null {
                Some(both_null) => both_null,
                None => self.b.ins().iconst(types::I8, 0),
            });
        }
        if a.kind == Kind::List || b.kind == Kind::List {
            return unsupported("`==` on lists");
        }
        let same = self.payload_equal(a, b)?;
        let pa = self.presence_bit(a.present);
        let pb = self.presence_bit(b.present);
        let both = self.b.ins().band(pa, pb);
        let equal = self.b.ins().band(both, same);
        Ok(match both_null {
            Some(both_null) => self.b.ins().bor(equal, both_null),
            None => equal,
        })
    }

    /// Whether the payloads are equal, assuming both values are there. Must not
    /// read memory through an absent string's (zero) address.
    fn payload_equal(&mut self, a: Val, b: Val) -> Result<Value, Unsupported> {
        let (Some(x), Some(y)) = (a.payload, b.payload) else {
            return unsupported("a comparison without values");
        };
        Ok(match (a.kind, b.kind) {
            (Kind::Int, Kind::Int)
            | (Kind::Duration, Kind::Duration)
            | (Kind::Time, Kind::Time)
            | (Kind::Bool, Kind::Bool) => self.b.ins().icmp(IntCC::Equal, x, y),
            (Kind::Float, Kind::Float) => self.b.ins().fcmp(FloatCC::Equal, x, y),
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) => {
                let (int, float) = if a.kind == Kind::Int { (x, y) } else { (y, x) };
                let order = self.int_float(int, float);
                self.b.ins().icmp_imm_s(IntCC::Equal, order, 0)
            }
            (Kind::String, Kind::String) => self.string_equal(a, b)?,
            _ => self.b.ins().iconst(types::I8, 0),
        })
    }

    fn int_float(&mut self, int: Value, float: Value) -> Value {
        let result = self.call(
            helpers::int_float_cmp as *const () as usize,
            &[types::I64, types::F64],
            Some(types::I32),
            &[int, float],
        );
        result.unwrap_or_else(|| self.b.ins().iconst(types::I32, 2))
    }

    /// String equality: inline against a short literal, else through a helper.
    fn string_equal(&mut self, a: Val, b: Val) -> Result<Value, Unsupported> {
        let literal = |val: &Val, g: &Gen| -> Option<Vec<u8>> {
            Some(g.literals.get(val.literal?)?.as_bytes().to_vec())
        };
        let known = literal(&b, self)
            .map(|bytes| (a, bytes))
            .or_else(|| literal(&a, self).map(|bytes| (b, bytes)));
        if let Some((other, bytes)) = known
            && bytes.len() <= 16
            && let (Some(pointer), Some(len)) = (other.payload, other.len)
        {
            let shape = Shape {
                kind: Kind::Bool,
                nullable: false,
            };
            let done = self.merge_block(shape);
            let check = self.b.create_block();
            let wanted = i64::try_from(bytes.len()).unwrap_or(-1);
            let same_len = self.b.ins().icmp_imm_s(IntCC::Equal, len, wanted);
            let no = self.b.ins().iconst(types::I8, 0);
            self.b
                .ins()
                .brif(same_len, check, &[], done, &[BlockArg::Value(no)]);
            self.b.switch_to_block(check);
            let mut all = self.b.ins().iconst(types::I8, 1);
            for (offset, byte) in (0i32..).zip(&bytes) {
                let found =
                    self.b
                        .ins()
                        .uload8(types::I32, MemFlagsData::trusted(), pointer, offset);
                let same = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::Equal, found, i64::from(*byte));
                all = self.b.ins().band(all, same);
            }
            self.b.ins().jump(done, &[BlockArg::Value(all)]);
            self.b.switch_to_block(done);
            return Ok(self.b.block_params(done)[0]);
        }
        let equal = self.call_on_slots(helpers::str_eq as *const () as usize, a, b)?;
        Ok(self.b.ins().ireduce(types::I8, equal))
    }

    /// `<`, `<=`, `>`, `>=` as an `i8`, both values there.
    fn order(&mut self, op: BinaryOp, a: Val, b: Val) -> Result<Value, Unsupported> {
        let int_cc = match op {
            BinaryOp::Lt => IntCC::SignedLessThan,
            BinaryOp::LtEq => IntCC::SignedLessThanOrEqual,
            BinaryOp::Gt => IntCC::SignedGreaterThan,
            _ => IntCC::SignedGreaterThanOrEqual,
        };
        let (Some(x), Some(y)) = (a.payload, b.payload) else {
            return unsupported("a comparison without values");
        };
        Ok(match (a.kind, b.kind) {
            (Kind::Int, Kind::Int)
            | (Kind::Duration, Kind::Duration)
            | (Kind::Time, Kind::Time) => self.b.ins().icmp(int_cc, x, y),
            (Kind::Bool, Kind::Bool) => {
                let unsigned = match op {
                    BinaryOp::Lt => IntCC::UnsignedLessThan,
                    BinaryOp::LtEq => IntCC::UnsignedLessThanOrEqual,
                    BinaryOp::Gt => IntCC::UnsignedGreaterThan,
                    _ => IntCC::UnsignedGreaterThanOrEqual,
                };
                self.b.ins().icmp(unsigned, x, y)
            }
            (Kind::Float, Kind::Float) => {
                let cc = match op {
                    BinaryOp::Lt => FloatCC::LessThan,
                    BinaryOp::LtEq => FloatCC::LessThanOrEqual,
                    BinaryOp::Gt => FloatCC::GreaterThan,
                    _ => FloatCC::GreaterThanOrEqual,
                };
                self.b.ins().fcmp(cc, x, y)
            }
            (Kind::Int, Kind::Float) | (Kind::Float, Kind::Int) | (Kind::String, Kind::String) => {
                // An ordering -1/0/1 (2: unordered, which makes every
                // comparison false), of `a` against `b`.
                let order = match (a.kind, b.kind) {
                    (Kind::Int, Kind::Float) => self.int_float(x, y),
                    (Kind::Float, Kind::Int) => {
                        let reversed = self.int_float(y, x);
                        let unordered = self.b.ins().icmp_imm_s(IntCC::Equal, reversed, 2);
                        let negated = self.b.ins().ineg(reversed);
                        self.b.ins().select(unordered, reversed, negated)
                    }
                    _ => self.call_on_slots(helpers::str_cmp as *const () as usize, a, b)?,
                };
                let (low, high) = match op {
                    BinaryOp::Lt => (-1, -1),
                    BinaryOp::LtEq => (-1, 0),
                    BinaryOp::Gt => (1, 1),
                    _ => (0, 1),
                };
                let above = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, order, low);
                let below = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::SignedLessThanOrEqual, order, high);
                self.b.ins().band(above, below)
            }
            _ => return unsupported("an ordering of these kinds"),
        })
    }

    fn arithmetic(&mut self, op: BinaryOp, a: Val, b: Val) -> Result<Val, Unsupported> {
        use Kind::{Duration as D, Float as F, Int as I, String as S, Time as T};
        let (Some(x), Some(y)) = (a.payload, b.payload) else {
            return unsupported("arithmetic without values");
        };
        let checked = |g: &mut Gen, kind: Kind, x: Value, y: Value, op: BinaryOp| {
            let (result, overflow) = match op {
                BinaryOp::Add => g.b.ins().sadd_overflow(x, y),
                BinaryOp::Sub => g.b.ins().ssub_overflow(x, y),
                _ => g.b.ins().smul_overflow(x, y),
            };
            g.bail_if(overflow);
            g.known(kind, result)
        };
        Ok(match (op, a.kind, b.kind) {
            (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul, I, I) => checked(self, I, x, y, op),
            (BinaryOp::Div | BinaryOp::Rem, I, I) => {
                let quotient = self.int_divide(op, x, y);
                self.known(I, quotient)
            }
            (_, F | I, F | I) => {
                let x = self.float_of(a.kind, x);
                let y = self.float_of(b.kind, y);
                let result = match op {
                    BinaryOp::Add => self.b.ins().fadd(x, y),
                    BinaryOp::Sub => self.b.ins().fsub(x, y),
                    BinaryOp::Mul => self.b.ins().fmul(x, y),
                    BinaryOp::Div => self.b.ins().fdiv(x, y),
                    _ => {
                        let result = self.call(
                            helpers::float_rem as *const () as usize,
                            &[types::F64, types::F64],
                            Some(types::F64),
                            &[x, y],
                        );
                        result.ok_or_else(|| Unsupported::new("no remainder"))?
                    }
                };
                self.known(F, result)
            }
            (BinaryOp::Add, S, S) => {
                let out = self.new_slot();
                let (slot_a, slot_b) = (self.new_slot(), self.new_slot());
                self.store(slot_a, a);
                self.store(slot_b, b);
                let args = [
                    self.slots,
                    self.index(slot_a),
                    self.index(slot_b),
                    self.index(out),
                ];
                let pointer = self.pointer;
                self.call_checked(
                    helpers::str_concat as *const () as usize,
                    &[pointer, types::I32, types::I32, types::I32],
                    &args,
                );
                self.load(
                    out,
                    Shape {
                        kind: S,
                        nullable: false,
                    },
                )?
            }
            (BinaryOp::Add | BinaryOp::Sub, D, D) => checked(self, D, x, y, op),
            (BinaryOp::Add, T, D) | (BinaryOp::Sub, T, D) => checked(self, T, x, y, op),
            (BinaryOp::Add, D, T) => checked(self, T, y, x, op),
            (BinaryOp::Sub, T, T) => checked(self, D, x, y, op),
            (BinaryOp::Mul, D, I) => checked(self, D, x, y, op),
            (BinaryOp::Mul, I, D) => checked(self, D, y, x, op),
            (BinaryOp::Div, D, I) => {
                let quotient = self.int_divide(op, x, y);
                self.known(D, quotient)
            }
            _ => return unsupported("arithmetic on these kinds"),
        })
    }

    /// Checked `x / y` or `x % y` on `i64`: bails on a zero divisor and on
    /// `i64::MIN / -1` (which overflows, for `%` too).
    fn int_divide(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.bail_if(zero);
        let minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
        let min = self.b.ins().icmp_imm_s(IntCC::Equal, x, i64::MIN);
        let overflow = self.b.ins().band(minus_one, min);
        self.bail_if(overflow);
        if op == BinaryOp::Div {
            self.b.ins().sdiv(x, y)
        } else {
            self.b.ins().srem(x, y)
        }
    }

    fn float_of(&mut self, kind: Kind, x: Value) -> Value {
        if kind == Kind::Int {
            self.b.ins().fcvt_from_sint(types::F64, x)
        } else {
            x
        }
    }
}

//! The standard library: every built-in function, its signature, its documentation
//! and its implementation, in one table.
//!
//! The table is the single source of truth for three readers: the type checker
//! (which resolves `len(x)` and `x.len()` against [`Builtin::overloads`]), the
//! evaluator (which calls [`Builtin::run`]) and the tools (`flowc explain`, REPL
//! completion and the language server's hover, which print [`Builtin::doc`]).
//! Signatures are written in a tiny type language, [`SigTy`], with type variables
//! (`T`, `U`, `K`) and bounds on them; a function with several shapes (`len` of a
//! string or of a list) has one [`Signature`] per shape, tried in order. Trailing
//! parameters with a default may be omitted by the caller: the IR then simply has
//! fewer arguments and the implementation applies the default.
//!
//! Implementations are plain functions over [`Value`]s. The few that take a lambda
//! (`map`, `filter`, `sort_by`, …) receive a placeholder in its position and call it
//! through [`Host::apply`]; `now` and `uuid` ask the host too, so the library stays
//! pure and deterministic: the runtime journals what the host returns.

use crate::eval::Limits;
use crate::eval::error::{self, Error};
use crate::ty::Ty;
use crate::value::{self, Fields, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// One built-in function.
#[derive(Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    /// Whether `x.name(…)` means `name(x, …)`. True for every function with a
    /// parameter; `now()`, `uuid()` and `range(…)` are called plainly.
    pub method: bool,
    /// Whether the result is recorded in the journal (`now`, `uuid`): such calls are
    /// not pure and must not be folded or cached by the JIT.
    pub recorded: bool,
    /// The shapes the function accepts, tried in order.
    pub overloads: &'static [Signature],
    /// One paragraph: meaning, edge cases, errors.
    pub doc: &'static str,
    pub run: Impl,
}

/// An implementation: arguments in, value out. Lambda arguments are `null`
/// placeholders, called through the host.
pub type Impl = fn(&mut dyn Host, &[Value]) -> Result<Value, Error>;

/// What an implementation may ask of the evaluator that calls it.
pub trait Host {
    /// Calls the lambda given as argument number `arg` with `values`.
    fn apply(&mut self, arg: usize, values: &[Value]) -> Result<Value, Error>;
    /// The current time, in milliseconds since the epoch, from the context.
    fn now(&mut self) -> i64;
    /// A fresh version-4 UUID, from the context.
    fn uuid(&mut self) -> String;
    /// Counts `steps` units of work against the step limit.
    fn charge(&mut self, steps: u64) -> Result<(), Error>;
    fn limits(&self) -> &Limits;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Type variables, each with what it must be.
    pub generics: &'static [(&'static str, Bound)],
    pub params: &'static [Param],
    pub ret: SigTy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub ty: SigTy,
    /// The default, as Flow source, when the parameter may be omitted.
    pub default: Option<&'static str>,
}

/// What a type variable may stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// Any type.
    Any,
    /// `int` or `float`.
    Number,
    /// `int`, `float` or `duration`: what `sum` and `abs` accept.
    Summable,
    /// Types with an order: `int`, `float`, `string`, `duration`, `time`, `bool`.
    Ordered,
}

/// A type in a signature: [`Ty`] plus type variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigTy {
    Bool,
    Int,
    Float,
    String,
    Duration,
    Time,
    Json,
    Var(&'static str),
    List(&'static SigTy),
    /// `{ [string]: T }`.
    Map(&'static SigTy),
    /// `T?`.
    Optional(&'static SigTy),
    /// A lambda: `(T) => U`.
    Fn(&'static [SigTy], &'static SigTy),
}

impl SigTy {
    /// The type with its variables replaced from `bindings`; `None` when one is
    /// unbound.
    pub fn instantiate(&self, bindings: &BTreeMap<&str, Ty>) -> Option<Ty> {
        Some(match self {
            SigTy::Bool => Ty::Bool,
            SigTy::Int => Ty::Int,
            SigTy::Float => Ty::Float,
            SigTy::String => Ty::String,
            SigTy::Duration => Ty::Duration,
            SigTy::Time => Ty::Time,
            SigTy::Json => Ty::Json,
            SigTy::Var(name) => bindings.get(name)?.clone(),
            SigTy::List(element) => Ty::list(element.instantiate(bindings)?),
            SigTy::Map(value) => Ty::map(value.instantiate(bindings)?),
            SigTy::Optional(inner) => Ty::optional(inner.instantiate(bindings)?),
            SigTy::Fn(params, ret) => Ty::Fn {
                params: params
                    .iter()
                    .map(|param| param.instantiate(bindings))
                    .collect::<Option<_>>()?,
                ret: Box::new(ret.instantiate(bindings)?),
            },
        })
    }

    /// Calls `f` on every type variable this type mentions.
    pub fn for_each_var(&self, f: &mut dyn FnMut(&'static str)) {
        match self {
            SigTy::Var(name) => f(name),
            SigTy::List(inner) | SigTy::Map(inner) | SigTy::Optional(inner) => {
                inner.for_each_var(f);
            }
            SigTy::Fn(params, ret) => {
                for param in *params {
                    param.for_each_var(f);
                }
                ret.for_each_var(f);
            }
            _ => {}
        }
    }
}

impl fmt::Display for SigTy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigTy::Bool => f.write_str("bool"),
            SigTy::Int => f.write_str("int"),
            SigTy::Float => f.write_str("float"),
            SigTy::String => f.write_str("string"),
            SigTy::Duration => f.write_str("duration"),
            SigTy::Time => f.write_str("time"),
            SigTy::Json => f.write_str("json"),
            SigTy::Var(name) => f.write_str(name),
            SigTy::List(element) => write!(f, "[{element}]"),
            SigTy::Map(value) => write!(f, "{{ [string]: {value} }}"),
            SigTy::Optional(inner) => write!(f, "{inner}?"),
            SigTy::Fn(params, ret) => {
                if let [param] = params {
                    write!(f, "{param} => {ret}")
                } else {
                    f.write_str("(")?;
                    for (index, param) in params.iter().enumerate() {
                        if index > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{param}")?;
                    }
                    write!(f, ") => {ret}")
                }
            }
        }
    }
}

impl Signature {
    /// The number of arguments a call may have: all parameters, or fewer when
    /// trailing ones have defaults.
    pub fn arity(&self) -> std::ops::RangeInclusive<usize> {
        let required = self
            .params
            .iter()
            .take_while(|param| param.default.is_none())
            .count();
        required..=self.params.len()
    }
}

/// Prints `name(x: T, sep: string = "") -> U` without the name: `(x: T, …) -> U`.
impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (index, param) in self.params.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: {}", param.name, param.ty)?;
            if let Some(default) = param.default {
                write!(f, " = {default}")?;
            }
        }
        write!(f, ") -> {}", self.ret)
    }
}

impl fmt::Debug for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builtin")
            .field("name", &self.name)
            .field("overloads", &self.overloads)
            .finish_non_exhaustive()
    }
}

/// The built-in function called `name`.
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    BUILTINS
        .binary_search_by(|builtin| builtin.name.cmp(name))
        .ok()
        .and_then(|index| BUILTINS.get(index))
}

/// Every built-in function, sorted by name.
pub fn all() -> &'static [Builtin] {
    BUILTINS
}

// Shorthands for the table.
const BOOL: SigTy = SigTy::Bool;
const INT: SigTy = SigTy::Int;
const FLOAT: SigTy = SigTy::Float;
const STR: SigTy = SigTy::String;
const DUR: SigTy = SigTy::Duration;
const TIME: SigTy = SigTy::Time;
const JSON: SigTy = SigTy::Json;
const T: SigTy = SigTy::Var("T");
const U: SigTy = SigTy::Var("U");
const K: SigTy = SigTy::Var("K");
const LIST_T: SigTy = SigTy::List(&T);
const LIST_U: SigTy = SigTy::List(&U);
const LIST_STR: SigTy = SigTy::List(&STR);
const OPT_T: SigTy = SigTy::Optional(&T);
const MAP_T: SigTy = SigTy::Map(&T);
const PRED_T: SigTy = SigTy::Fn(&[T], &BOOL);
const ANY_T: &[(&str, Bound)] = &[("T", Bound::Any)];
const SUM_T: &[(&str, Bound)] = &[("T", Bound::Summable)];
const ORD_T: &[(&str, Bound)] = &[("T", Bound::Ordered)];

const fn p(name: &'static str, ty: SigTy) -> Param {
    Param {
        name,
        ty,
        default: None,
    }
}

const fn opt(name: &'static str, ty: SigTy, default: &'static str) -> Param {
    Param {
        name,
        ty,
        default: Some(default),
    }
}

const fn sig(params: &'static [Param], ret: SigTy) -> Signature {
    Signature {
        generics: &[],
        params,
        ret,
    }
}

const fn gen_sig(
    generics: &'static [(&'static str, Bound)],
    params: &'static [Param],
    ret: SigTy,
) -> Signature {
    Signature {
        generics,
        params,
        ret,
    }
}

const fn f(
    name: &'static str,
    overloads: &'static [Signature],
    doc: &'static str,
    run: Impl,
) -> Builtin {
    Builtin {
        name,
        method: true,
        recorded: false,
        overloads,
        doc,
        run,
    }
}

const fn plain(mut builtin: Builtin) -> Builtin {
    builtin.method = false;
    builtin
}

const fn recorded(mut builtin: Builtin) -> Builtin {
    builtin.method = false;
    builtin.recorded = true;
    builtin
}

static BUILTINS: &[Builtin] = &[
    f(
        "abs",
        &[
            sig(&[p("x", INT)], INT),
            sig(&[p("x", FLOAT)], FLOAT),
            sig(&[p("x", DUR)], DUR),
        ],
        "The absolute value of a number or duration. `abs` of the smallest `int` \
         (-9223372036854775808) overflows (R0001).",
        run_abs,
    ),
    f(
        "all",
        &[gen_sig(ANY_T, &[p("xs", LIST_T), p("f", PRED_T)], BOOL)],
        "Whether `f` holds for every element; `true` for an empty list. Stops at the \
         first element for which it does not.",
        run_all,
    ),
    f(
        "any",
        &[gen_sig(ANY_T, &[p("xs", LIST_T), p("f", PRED_T)], BOOL)],
        "Whether `f` holds for some element; `false` for an empty list. Stops at the \
         first element for which it does.",
        run_any,
    ),
    f(
        "base64",
        &[sig(&[p("s", STR)], STR)],
        "The UTF-8 bytes of `s` in standard Base64 (RFC 4648 §4), padded with `=`.",
        run_base64,
    ),
    f(
        "base64_decode",
        &[sig(&[p("s", STR)], STR)],
        "The text whose UTF-8 bytes `s` encodes in standard Base64, padded or not. \
         Text that is not Base64, or bytes that are not UTF-8, are an invalid \
         argument (R0006).",
        run_base64_decode,
    ),
    f(
        "ceil",
        &[sig(&[p("x", FLOAT)], INT), sig(&[p("x", INT)], INT)],
        "The least integer not below `x`. NaN, infinities and floats beyond the \
         `int` range are an invalid argument (R0006).",
        run_ceil,
    ),
    f(
        "contains",
        &[sig(&[p("s", STR), p("part", STR)], BOOL)],
        "Whether `part` occurs in `s` (every string contains \"\"). For lists use \
         `x in xs`.",
        run_contains,
    ),
    f(
        "count",
        &[gen_sig(ANY_T, &[p("xs", LIST_T), p("f", PRED_T)], INT)],
        "The number of elements for which `f` holds. (The number of all elements \
         is `len(xs)`.)",
        run_count,
    ),
    f(
        "ends_with",
        &[sig(&[p("s", STR), p("suffix", STR)], BOOL)],
        "Whether `s` ends with `suffix`.",
        run_ends_with,
    ),
    f(
        "filter",
        &[gen_sig(ANY_T, &[p("xs", LIST_T), p("f", PRED_T)], LIST_T)],
        "The elements for which `f` holds, in order.",
        run_filter,
    ),
    f(
        "first",
        &[gen_sig(ANY_T, &[p("xs", LIST_T)], OPT_T)],
        "The first element, or `null` when the list is empty.",
        run_first,
    ),
    f(
        "flatten",
        &[gen_sig(ANY_T, &[p("xss", SigTy::List(&LIST_T))], LIST_T)],
        "The elements of the inner lists, concatenated in order.",
        run_flatten,
    ),
    f(
        "floor",
        &[sig(&[p("x", FLOAT)], INT), sig(&[p("x", INT)], INT)],
        "The greatest integer not above `x`. NaN, infinities and floats beyond the \
         `int` range are an invalid argument (R0006).",
        run_floor,
    ),
    f(
        "format_time",
        &[sig(
            &[
                p("t", TIME),
                opt("format", STR, "\"%Y-%m-%dT%H:%M:%S%:z\""),
                opt("tz", STR, "\"UTC\""),
            ],
            STR,
        )],
        "`t` as text in the IANA time zone `tz`, with strftime-style fields: `%Y` \
         year, `%m` month, `%d` day, `%H` hour, `%M` minute, `%S` second, `%z` \
         offset (`+0100`), `%:z` (`+01:00`), `%Z` zone abbreviation, `%A`/`%a` \
         weekday, `%B`/`%b` month name, `%j` day of year, `%f` fractional \
         seconds, `%%` a percent sign. An unknown zone or field is an invalid \
         argument (R0006).",
        run_format_time,
    ),
    f(
        "get",
        &[
            gen_sig(ANY_T, &[p("m", MAP_T), p("key", STR), p("default", T)], T),
            gen_sig(
                ANY_T,
                &[p("xs", LIST_T), p("index", INT), p("default", T)],
                T,
            ),
            sig(&[p("x", JSON), p("key", STR), p("default", JSON)], JSON),
        ],
        "The value under `key` in a map or JSON object, or the element at `index` \
         of a list (negative counts from the end), or `default` when there is none \
         (or it is `null`). Never fails.",
        run_get,
    ),
    f(
        "join",
        &[sig(&[p("xs", LIST_STR), opt("sep", STR, "\"\"")], STR)],
        "The strings of `xs` joined, with `sep` between each two.",
        run_join,
    ),
    f(
        "keys",
        &[
            gen_sig(ANY_T, &[p("m", MAP_T)], LIST_STR),
            sig(&[p("x", JSON)], LIST_STR),
        ],
        "The keys of a map, record or JSON object, in code-point order. A JSON value \
         that is not an object is an invalid argument (R0006).",
        run_keys,
    ),
    f(
        "last",
        &[gen_sig(ANY_T, &[p("xs", LIST_T)], OPT_T)],
        "The last element, or `null` when the list is empty.",
        run_last,
    ),
    f(
        "len",
        &[
            sig(&[p("s", STR)], INT),
            gen_sig(ANY_T, &[p("xs", LIST_T)], INT),
            gen_sig(ANY_T, &[p("m", MAP_T)], INT),
            sig(&[p("x", JSON)], INT),
        ],
        "The number of characters (Unicode scalar values) of a string, elements of \
         a list, or entries of a map or JSON object. Other JSON values are an \
         invalid argument (R0006).",
        run_len,
    ),
    f(
        "lower",
        &[sig(&[p("s", STR)], STR)],
        "`s` in lower case (Unicode default case mapping, independent of locale).",
        run_lower,
    ),
    f(
        "map",
        &[Signature {
            generics: &[("T", Bound::Any), ("U", Bound::Any)],
            params: &[p("xs", LIST_T), p("f", SigTy::Fn(&[T], &U))],
            ret: LIST_U,
        }],
        "`f` applied to each element, in order.",
        run_map,
    ),
    f(
        "max",
        &[
            gen_sig(ORD_T, &[p("a", T), p("b", T)], T),
            gen_sig(ORD_T, &[p("xs", LIST_T)], OPT_T),
        ],
        "The greater of two values, or the greatest element of a list (`null` when \
         empty). Numbers compare by value, strings by code point. A NaN is an \
         invalid argument (R0006).",
        run_max,
    ),
    f(
        "min",
        &[
            gen_sig(ORD_T, &[p("a", T), p("b", T)], T),
            gen_sig(ORD_T, &[p("xs", LIST_T)], OPT_T),
        ],
        "The lesser of two values, or the least element of a list (`null` when \
         empty). Numbers compare by value, strings by code point. A NaN is an \
         invalid argument (R0006).",
        run_min,
    ),
    recorded(f(
        "now",
        &[sig(&[], TIME)],
        "The current time, millisecond precision. Recorded in the journal: a run \
         that is replayed after a restart sees the same instant.",
        run_now,
    )),
    f(
        "parse_json",
        &[sig(&[p("s", STR)], JSON)],
        "The JSON value `s` holds. Text that is not JSON is an invalid argument \
         (R0006), with the line and column of the first mistake.",
        run_parse_json,
    ),
    f(
        "parse_time",
        &[sig(
            &[p("s", STR), opt("format", STR, "RFC 3339")],
            OPT_TIME,
        )],
        "The instant `s` denotes: RFC 3339 text (`2024-05-01T12:00:00Z`, any offset) \
         or, with `format`, text in that strftime-style format, which must include \
         an offset (`%z`) or is read as UTC. `null` when `s` does not match.",
        run_parse_time,
    ),
    plain(f(
        "range",
        &[sig(&[p("start", INT), p("end", INT)], SigTy::List(&INT))],
        "The integers from `start` up to but not including `end`; empty when \
         `end <= start`. Subject to the output size limit (R0009).",
        run_range,
    )),
    f(
        "replace",
        &[sig(&[p("s", STR), p("from", STR), p("to", STR)], STR)],
        "`s` with every non-overlapping occurrence of `from` replaced by `to`, left \
         to right. An empty `from` is an invalid argument (R0006).",
        run_replace,
    ),
    f(
        "reverse",
        &[
            gen_sig(ANY_T, &[p("xs", LIST_T)], LIST_T),
            sig(&[p("s", STR)], STR),
        ],
        "The elements of a list, or the characters of a string, in reverse order.",
        run_reverse,
    ),
    f(
        "round",
        &[sig(&[p("x", FLOAT)], INT), sig(&[p("x", INT)], INT)],
        "The nearest integer, halves away from zero (`round(2.5) == 3`, \
         `round(-2.5) == -3`). NaN, infinities and floats beyond the `int` range \
         are an invalid argument (R0006).",
        run_round,
    ),
    f(
        "sha256",
        &[sig(&[p("s", STR)], STR)],
        "The SHA-256 digest of the UTF-8 bytes of `s`, as 64 lower-case hex digits.",
        run_sha256,
    ),
    f(
        "slice",
        &[
            gen_sig(
                ANY_T,
                &[p("xs", LIST_T), p("start", INT), opt("end", INT, "len(xs)")],
                LIST_T,
            ),
            sig(
                &[p("s", STR), p("start", INT), opt("end", INT, "len(s)")],
                STR,
            ),
        ],
        "The elements (or characters) from `start` up to but not including `end`. \
         A negative index counts from the end; indices are then clamped to the \
         list, and `end <= start` gives an empty result, as in JavaScript's \
         `slice`. Never fails.",
        run_slice,
    ),
    f(
        "sort",
        &[gen_sig(ORD_T, &[p("xs", LIST_T)], LIST_T)],
        "The elements in ascending order (numbers by value, strings by code point, \
         `false` before `true`). A NaN is an invalid argument (R0006).",
        run_sort,
    ),
    f(
        "sort_by",
        &[Signature {
            generics: &[("T", Bound::Any), ("K", Bound::Ordered)],
            params: &[p("xs", LIST_T), p("key", SigTy::Fn(&[T], &K))],
            ret: LIST_T,
        }],
        "The elements stably sorted by ascending `key(x)`; `key` is called once per \
         element. A NaN key is an invalid argument (R0006).",
        run_sort_by,
    ),
    f(
        "split",
        &[sig(&[p("s", STR), p("sep", STR)], LIST_STR)],
        "The parts of `s` between occurrences of `sep` (`\"a,,b\".split(\",\")` is \
         `[\"a\", \"\", \"b\"]`; `\"\".split(\",\")` is `[\"\"]`). An empty `sep` \
         splits into characters.",
        run_split,
    ),
    f(
        "starts_with",
        &[sig(&[p("s", STR), p("prefix", STR)], BOOL)],
        "Whether `s` starts with `prefix`.",
        run_starts_with,
    ),
    f(
        "sum",
        &[gen_sig(SUM_T, &[p("xs", LIST_T)], T)],
        "The total of a list of `int`s, `float`s or `duration`s; `0` when empty. An \
         `int` or `duration` total that does not fit in 64 bits overflows (R0001).",
        run_sum,
    ),
    f(
        "to_float",
        &[
            sig(&[p("x", INT)], FLOAT),
            sig(&[p("s", STR)], SigTy::Optional(&FLOAT)),
        ],
        "An `int` as the nearest `float`, or the number written in a string \
         (`\"2.5\"`, `\"1e3\"`, surrounding whitespace allowed), `null` when the \
         text is not a number.",
        run_to_float,
    ),
    f(
        "to_int",
        &[
            sig(&[p("s", STR)], SigTy::Optional(&INT)),
            sig(&[p("x", FLOAT)], INT),
        ],
        "The integer written in a string (decimal, optional sign, surrounding \
         whitespace allowed; `null` when it is not one or does not fit), or a \
         `float` truncated toward zero (NaN, infinities and floats beyond the \
         `int` range are an invalid argument, R0006).",
        run_to_int,
    ),
    f(
        "to_json",
        &[gen_sig(ANY_T, &[p("x", T)], STR)],
        "`x` as compact JSON text, keys in code-point order; durations as duration \
         text (`\"90m\"`), times as RFC 3339, NaN and infinities as `null`.",
        run_to_json,
    ),
    f(
        "to_string",
        &[gen_sig(ANY_T, &[p("x", T)], STR)],
        "The text of a value, as string templates show it: a string itself, numbers \
         in decimal (floats always with a `.` or exponent: `1.0`, `NaN`, `inf`), \
         `true`/`false`/`null`, durations in the largest exact unit (`90m`), times \
         in RFC 3339, lists and records as `to_json` writes them.",
        run_to_string,
    ),
    f(
        "trim",
        &[sig(&[p("s", STR)], STR)],
        "`s` without leading and trailing whitespace (Unicode `White_Space`).",
        run_trim,
    ),
    f(
        "unique",
        &[gen_sig(ANY_T, &[p("xs", LIST_T)], LIST_T)],
        "The elements without repeats (compared with `==`), each kept where it \
         first occurs.",
        run_unique,
    ),
    f(
        "upper",
        &[sig(&[p("s", STR)], STR)],
        "`s` in upper case (Unicode default case mapping, independent of locale; \
         `\"ß\".upper()` is `\"SS\"`).",
        run_upper,
    ),
    recorded(f(
        "uuid",
        &[sig(&[], STR)],
        "A random version-4 UUID in lower-case hyphenated form. Recorded in the \
         journal: a run that is replayed after a restart sees the same value.",
        run_uuid,
    )),
    f(
        "values",
        &[
            gen_sig(ANY_T, &[p("m", MAP_T)], LIST_T),
            sig(&[p("x", JSON)], SigTy::List(&JSON)),
        ],
        "The values of a map, record or JSON object, in the order of their keys. A \
         JSON value that is not an object is an invalid argument (R0006).",
        run_values,
    ),
];

const OPT_TIME: SigTy = SigTy::Optional(&TIME);

// ---------------------------------------------------------------------------
// Argument access.

fn arg<'a>(args: &'a [Value], index: usize, function: &str) -> Result<&'a Value, Error> {
    args.get(index)
        .ok_or_else(|| error::malformed(format!("`{function}` is missing argument {index}")))
}

fn str_arg<'a>(args: &'a [Value], index: usize, function: &str) -> Result<&'a str, Error> {
    match arg(args, index, function)? {
        Value::String(text) => Ok(text),
        Value::Null => Err(error::null_value(&format!("the argument of `{function}`"))),
        other => Err(error::wrong_kind(function, "a string", other.kind())),
    }
}

fn int_arg(args: &[Value], index: usize, function: &str) -> Result<i64, Error> {
    match arg(args, index, function)? {
        Value::Int(value) => Ok(*value),
        Value::Null => Err(error::null_value(&format!("the argument of `{function}`"))),
        other => Err(error::wrong_kind(function, "an int", other.kind())),
    }
}

fn list_arg<'a>(args: &'a [Value], index: usize, function: &str) -> Result<&'a [Value], Error> {
    match arg(args, index, function)? {
        Value::List(items) => Ok(items),
        Value::Null => Err(error::null_value(&format!("the argument of `{function}`"))),
        other => Err(error::wrong_kind(function, "a list", other.kind())),
    }
}

fn record_arg<'a>(args: &'a [Value], index: usize, function: &str) -> Result<&'a Fields, Error> {
    match arg(args, index, function)? {
        Value::Record(fields) => Ok(fields),
        other => Err(error::invalid_argument(
            function,
            format!(
                "expected an object, found a value of kind `{}`",
                other.kind()
            ),
        )),
    }
}

fn predicate(host: &mut dyn Host, item: &Value, function: &str) -> Result<bool, Error> {
    match host.apply(1, std::slice::from_ref(item))? {
        Value::Bool(b) => Ok(b),
        other => Err(error::wrong_kind(
            function,
            "a bool from the lambda",
            other.kind(),
        )),
    }
}

fn string_out(host: &mut dyn Host, text: String) -> Result<Value, Error> {
    check_size(host, text.len())?;
    Ok(Value::string(text))
}

fn check_size(host: &mut dyn Host, bytes: usize) -> Result<(), Error> {
    let limit = host.limits().max_bytes;
    if bytes > limit {
        return Err(error::size_limit(limit));
    }
    host.charge(u64::try_from(bytes / 64).unwrap_or(u64::MAX))
}

fn list_out(host: &mut dyn Host, items: Vec<Value>) -> Result<Value, Error> {
    check_size(host, items.len().saturating_mul(8))?;
    Ok(Value::list(items))
}

/// Converts a float already rounded to a whole number to an `int`, or explains why
/// it cannot be one.
fn whole_float_to_int(x: f64, function: &str) -> Result<i64, Error> {
    // 2^63 is exactly representable; every float in [-2^63, 2^63) fits.
    if x.is_nan() || x.is_infinite() || !(-value::TWO_POW_63..value::TWO_POW_63).contains(&x) {
        return Err(error::invalid_argument(
            function,
            format!("{} has no integer value in the `int` range", fmt_float(x)),
        ));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(x as i64)
}

fn rounding(args: &[Value], function: &str, op: fn(f64) -> f64) -> Result<Value, Error> {
    match arg(args, 0, function)? {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Float(x) => whole_float_to_int(op(*x), function).map(Value::Int),
        other => Err(error::wrong_kind(function, "a number", other.kind())),
    }
}

// ---------------------------------------------------------------------------
// Numbers.

fn run_abs(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    match arg(args, 0, "abs")? {
        Value::Int(i) => i
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| error::overflow("abs")),
        Value::Float(x) => Ok(Value::Float(x.abs())),
        Value::Duration(d) => d
            .checked_abs()
            .map(Value::Duration)
            .ok_or_else(|| error::overflow("abs")),
        other => Err(error::wrong_kind("abs", "a number", other.kind())),
    }
}

fn run_round(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    rounding(args, "round", f64::round)
}

fn run_floor(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    rounding(args, "floor", f64::floor)
}

fn run_ceil(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    rounding(args, "ceil", f64::ceil)
}

fn extreme(
    host: &mut dyn Host,
    args: &[Value],
    function: &str,
    want: Ordering,
) -> Result<Value, Error> {
    let pick = |a: &Value, b: &Value| -> Result<bool, Error> { Ok(order(a, b, function)? == want) };
    if args.len() >= 2 {
        let (a, b) = (arg(args, 0, function)?, arg(args, 1, function)?);
        return Ok(if pick(b, a)? { b.clone() } else { a.clone() });
    }
    let items = list_arg(args, 0, function)?;
    host.charge(items.len() as u64)?;
    let mut best: Option<&Value> = None;
    for item in items {
        best = match best {
            Some(current) if !pick(item, current)? => Some(current),
            _ => Some(item),
        };
    }
    // A lone NaN must be rejected too.
    if let Some(only) = best {
        order(only, only, function)?;
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn run_min(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    extreme(host, args, "min", Ordering::Less)
}

fn run_max(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    extreme(host, args, "max", Ordering::Greater)
}

/// The order of two values for `sort`, `min`, `max`: as `<` compares them, with
/// NaN an invalid argument.
fn order(a: &Value, b: &Value, function: &str) -> Result<Ordering, Error> {
    a.compare(b).ok_or_else(|| {
        if matches!(a, Value::Float(x) if x.is_nan()) || matches!(b, Value::Float(x) if x.is_nan())
        {
            error::invalid_argument(function, "NaN has no place in an order")
        } else {
            error::wrong_kind(function, "two values of one ordered type", b.kind())
        }
    })
}

fn run_sum(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let items = list_arg(args, 0, "sum")?;
    host.charge(items.len() as u64)?;
    let mut total = match items.first() {
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(Value::Duration(_)) => Value::Duration(0),
        _ => Value::Int(0),
    };
    for item in items {
        total = match (&total, item) {
            (Value::Int(a), Value::Int(b)) => {
                Value::Int(a.checked_add(*b).ok_or_else(|| error::overflow("sum"))?)
            }
            (Value::Duration(a), Value::Duration(b)) => {
                Value::Duration(a.checked_add(*b).ok_or_else(|| error::overflow("sum"))?)
            }
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            #[allow(clippy::cast_precision_loss)]
            (Value::Float(a), Value::Int(b)) | (Value::Int(b), Value::Float(a)) => {
                Value::Float(a + *b as f64)
            }
            (_, other) => {
                return Err(error::wrong_kind(
                    "sum",
                    "numbers or durations",
                    other.kind(),
                ));
            }
        };
    }
    Ok(total)
}

fn run_range(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let start = int_arg(args, 0, "range")?;
    let end = int_arg(args, 1, "range")?;
    if end <= start {
        return Ok(Value::list(Vec::new()));
    }
    let count = usize::try_from(end.abs_diff(start)).unwrap_or(usize::MAX);
    check_size(host, count.saturating_mul(8))?;
    host.charge(count as u64)?;
    Ok(Value::list((start..end).map(Value::Int).collect()))
}

// ---------------------------------------------------------------------------
// Conversions.

fn run_to_string(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let value = arg(args, 0, "to_string")?;
    if let Value::String(_) = value {
        return Ok(value.clone());
    }
    let text = to_text(value)?;
    string_out(host, text)
}

/// The text of a value as `to_string` and string templates give it.
pub fn to_text(value: &Value) -> Result<String, Error> {
    Ok(match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => fmt_float(*x),
        Value::String(s) => s.to_string(),
        Value::Duration(ms) => value::format_duration(*ms),
        Value::Time(ms) => value::format_time_rfc3339(*ms),
        Value::List(_) | Value::Record(_) => value.to_json().to_string(),
        Value::Secret(_) => {
            return Err(error::wrong_kind(
                "to_string",
                "a value with text",
                "secret",
            ));
        }
    })
}

/// A float as text: always with a `.` or an exponent, so it reads back as a float;
/// `NaN`, `inf`, `-inf` for the non-finite ones.
pub fn fmt_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    serde_json::Number::from_f64(x).map_or_else(|| x.to_string(), |n| n.to_string())
}

fn run_to_json(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let value = arg(args, 0, "to_json")?;
    if let Value::Secret(_) = value {
        return Err(error::wrong_kind("to_json", "a value with text", "secret"));
    }
    let text = value.to_json().to_string();
    string_out(host, text)
}

fn run_parse_json(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "parse_json")?;
    host.charge((text.len() / 16) as u64)?;
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| error::invalid_argument("parse_json", format!("not JSON: {e}")))?;
    Ok(Value::from_json(&json))
}

fn run_to_int(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    match arg(args, 0, "to_int")? {
        Value::String(text) => Ok(text.trim().parse::<i64>().map_or(Value::Null, Value::Int)),
        Value::Float(x) => whole_float_to_int(x.trunc(), "to_int").map(Value::Int),
        Value::Int(i) => Ok(Value::Int(*i)),
        other => Err(error::wrong_kind(
            "to_int",
            "a string or a float",
            other.kind(),
        )),
    }
}

fn run_to_float(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    match arg(args, 0, "to_float")? {
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Float(x) => Ok(Value::Float(*x)),
        Value::String(text) => {
            let text = text.trim();
            // Rust also reads "inf" and "NaN"; Flow's numbers are only decimal ones.
            let numeric = text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
            Ok(match text.parse::<f64>() {
                Ok(x) if numeric => Value::Float(x),
                _ => Value::Null,
            })
        }
        other => Err(error::wrong_kind(
            "to_float",
            "a string or an int",
            other.kind(),
        )),
    }
}

// ---------------------------------------------------------------------------
// Encodings.

fn run_base64(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    use base64::Engine as _;
    let text = str_arg(args, 0, "base64")?;
    check_size(host, text.len().saturating_mul(4) / 3)?;
    Ok(Value::string(
        base64::engine::general_purpose::STANDARD.encode(text),
    ))
}

fn run_base64_decode(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    use base64::Engine as _;
    let text = str_arg(args, 0, "base64_decode")?;
    host.charge((text.len() / 64) as u64)?;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(text.trim())
        .map_err(|e| error::invalid_argument("base64_decode", format!("not Base64: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| error::invalid_argument("base64_decode", "the bytes are not UTF-8 text"))?;
    Ok(Value::string(text))
}

fn run_sha256(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    use sha2::Digest as _;
    let text = str_arg(args, 0, "sha256")?;
    host.charge((text.len() / 64) as u64)?;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    Ok(Value::string(hex))
}

// ---------------------------------------------------------------------------
// Time and identity.

fn run_now(host: &mut dyn Host, _: &[Value]) -> Result<Value, Error> {
    Ok(Value::Time(host.now()))
}

fn run_uuid(host: &mut dyn Host, _: &[Value]) -> Result<Value, Error> {
    Ok(Value::string(host.uuid()))
}

fn time_arg(args: &[Value], index: usize, function: &str) -> Result<i64, Error> {
    match arg(args, index, function)? {
        Value::Time(ms) => Ok(*ms),
        Value::Null => Err(error::null_value(&format!("the argument of `{function}`"))),
        other => Err(error::wrong_kind(function, "a time", other.kind())),
    }
}

fn run_format_time(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let millis = time_arg(args, 0, "format_time")?;
    let format = match args.get(1) {
        Some(_) => str_arg(args, 1, "format_time")?,
        None => "%Y-%m-%dT%H:%M:%S%:z",
    };
    let zone = match args.get(2) {
        Some(_) => str_arg(args, 2, "format_time")?,
        None => "UTC",
    };
    let timestamp = jiff::Timestamp::from_millisecond(millis)
        .map_err(|e| error::invalid_argument("format_time", e))?;
    let tz = jiff::tz::TimeZone::get(zone).map_err(|_| {
        error::invalid_argument("format_time", format!("unknown time zone {zone:?}"))
    })?;
    let zoned = timestamp.to_zoned(tz);
    let mut text = String::new();
    use std::fmt::Write as _;
    write!(text, "{}", zoned.strftime(format)).map_err(|_| {
        error::invalid_argument("format_time", format!("cannot format with {format:?}"))
    })?;
    string_out(host, text)
}

fn run_parse_time(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "parse_time")?;
    let Some(_) = args.get(1) else {
        return Ok(value::parse_time_rfc3339(text.trim()).map_or(Value::Null, Value::Time));
    };
    let format = str_arg(args, 1, "parse_time")?;
    let Ok(broken) = jiff::fmt::strtime::parse(format, text) else {
        return Ok(Value::Null);
    };
    if let Ok(timestamp) = broken.to_timestamp() {
        return Ok(Value::Time(timestamp.as_millisecond()));
    }
    Ok(broken
        .to_datetime()
        .ok()
        .and_then(|datetime| datetime.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map_or(Value::Null, |zoned| {
            Value::Time(zoned.timestamp().as_millisecond())
        }))
}

// ---------------------------------------------------------------------------
// Strings.

fn run_trim(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "trim")?;
    let trimmed = text.trim();
    if trimmed.len() == text.len() {
        return Ok(args[0].clone());
    }
    Ok(Value::string(trimmed))
}

fn run_upper(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "upper")?.to_uppercase();
    string_out(host, text)
}

fn run_lower(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "lower")?.to_lowercase();
    string_out(host, text)
}

fn run_split(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "split")?;
    let sep = str_arg(args, 1, "split")?;
    let parts: Vec<Value> = if sep.is_empty() {
        text.chars().map(|c| Value::string(c.to_string())).collect()
    } else {
        text.split(sep).map(Value::string).collect()
    };
    host.charge(parts.len() as u64)?;
    list_out(host, parts)
}

fn run_join(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let items = list_arg(args, 0, "join")?;
    let sep = match args.get(1) {
        Some(_) => str_arg(args, 1, "join")?,
        None => "",
    };
    host.charge(items.len() as u64)?;
    let limit = host.limits().max_bytes;
    let mut out = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(sep);
        }
        match item {
            Value::String(text) => out.push_str(text),
            other => return Err(error::wrong_kind("join", "a list of strings", other.kind())),
        }
        if out.len() > limit {
            return Err(error::size_limit(limit));
        }
    }
    string_out(host, out)
}

fn run_replace(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "replace")?;
    let from = str_arg(args, 1, "replace")?;
    let to = str_arg(args, 2, "replace")?;
    if from.is_empty() {
        return Err(error::invalid_argument(
            "replace",
            "the text to replace is empty",
        ));
    }
    let count = text.matches(from).count();
    let grown = count.saturating_mul(to.len().saturating_sub(from.len()));
    check_size(host, text.len().saturating_add(grown))?;
    Ok(Value::string(text.replace(from, to)))
}

fn run_starts_with(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "starts_with")?;
    Ok(Value::Bool(text.starts_with(str_arg(
        args,
        1,
        "starts_with",
    )?)))
}

fn run_ends_with(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "ends_with")?;
    Ok(Value::Bool(text.ends_with(str_arg(args, 1, "ends_with")?)))
}

fn run_contains(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let text = str_arg(args, 0, "contains")?;
    Ok(Value::Bool(text.contains(str_arg(args, 1, "contains")?)))
}

/// Resolves JavaScript-style slice bounds against a length.
fn slice_bounds(len: usize, start: i64, end: Option<i64>) -> (usize, usize) {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let clamp = |index: i64| -> usize {
        let index = if index < 0 {
            len_i.saturating_add(index)
        } else {
            index
        };
        usize::try_from(index.clamp(0, len_i)).unwrap_or(0)
    };
    let start = clamp(start);
    let end = end.map_or(len, clamp);
    (start, end.max(start))
}

fn run_slice(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let start = int_arg(args, 1, "slice")?;
    let end = match args.get(2) {
        Some(_) => Some(int_arg(args, 2, "slice")?),
        None => None,
    };
    match arg(args, 0, "slice")? {
        Value::List(items) => {
            let (from, to) = slice_bounds(items.len(), start, end);
            Ok(Value::list(
                items.get(from..to).unwrap_or_default().to_vec(),
            ))
        }
        Value::String(text) => {
            let count = text.chars().count();
            let (from, to) = slice_bounds(count, start, end);
            Ok(Value::string(
                text.chars().skip(from).take(to - from).collect::<String>(),
            ))
        }
        other => Err(error::wrong_kind(
            "slice",
            "a list or a string",
            other.kind(),
        )),
    }
}

// ---------------------------------------------------------------------------
// Lists and maps.

fn run_len(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let count = match arg(args, 0, "len")? {
        Value::String(text) => text.chars().count(),
        Value::List(items) => items.len(),
        Value::Record(fields) => fields.len(),
        other => {
            return Err(error::invalid_argument(
                "len",
                format!("a value of kind `{}` has no length", other.kind()),
            ));
        }
    };
    Ok(Value::Int(i64::try_from(count).unwrap_or(i64::MAX)))
}

fn run_keys(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let fields = record_arg(args, 0, "keys")?;
    Ok(Value::list(
        fields
            .keys()
            .map(|key| Value::String(key.clone()))
            .collect(),
    ))
}

fn run_values(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let fields = record_arg(args, 0, "values")?;
    Ok(Value::list(fields.values().cloned().collect()))
}

fn run_get(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let default = arg(args, 2, "get")?;
    let found = match (arg(args, 0, "get")?, arg(args, 1, "get")?) {
        (Value::Record(fields), Value::String(key)) => fields.get(&**key),
        (Value::List(items), Value::Int(index)) => {
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let index = if *index < 0 {
                index.saturating_add(len)
            } else {
                *index
            };
            usize::try_from(index)
                .ok()
                .and_then(|index| items.get(index))
        }
        _ => None,
    };
    Ok(match found {
        Some(value) if !value.is_null() => value.clone(),
        _ => default.clone(),
    })
}

fn run_map(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let items = list_arg(args, 0, "map")?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(host.apply(1, std::slice::from_ref(item))?);
    }
    list_out(host, out)
}

fn run_filter(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let items = list_arg(args, 0, "filter")?;
    let mut out = Vec::new();
    for item in items {
        if predicate(host, item, "filter")? {
            out.push(item.clone());
        }
    }
    Ok(Value::list(out))
}

fn run_any(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    for item in list_arg(args, 0, "any")? {
        if predicate(host, item, "any")? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn run_all(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    for item in list_arg(args, 0, "all")? {
        if !predicate(host, item, "all")? {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn run_count(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let mut count: i64 = 0;
    for item in list_arg(args, 0, "count")? {
        if predicate(host, item, "count")? {
            count += 1;
        }
    }
    Ok(Value::Int(count))
}

fn sort_values(
    host: &mut dyn Host,
    keyed: &mut [(Value, Value)],
    function: &str,
) -> Result<(), Error> {
    // Check every key is orderable first, so the sort itself cannot meet a NaN.
    let n = keyed.len() as u64;
    host.charge(n.saturating_mul(u64::from(n.max(2).ilog2())))?;
    for (key, _) in keyed.iter() {
        order(key, key, function)?;
    }
    if let Some(((first, _), rest)) = keyed.split_first() {
        for (key, _) in rest {
            order(first, key, function)?;
        }
    }
    keyed.sort_by(|(a, _), (b, _)| a.compare(b).unwrap_or(Ordering::Equal));
    Ok(())
}

fn run_sort(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let items = list_arg(args, 0, "sort")?;
    let mut keyed: Vec<(Value, Value)> = items.iter().map(|v| (v.clone(), Value::Null)).collect();
    sort_values(host, &mut keyed, "sort")?;
    Ok(Value::list(keyed.into_iter().map(|(v, _)| v).collect()))
}

fn run_sort_by(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let items = list_arg(args, 0, "sort_by")?;
    let mut keyed = Vec::with_capacity(items.len());
    for item in items {
        keyed.push((host.apply(1, std::slice::from_ref(item))?, item.clone()));
    }
    sort_values(host, &mut keyed, "sort_by")?;
    Ok(Value::list(keyed.into_iter().map(|(_, v)| v).collect()))
}

fn run_reverse(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    match arg(args, 0, "reverse")? {
        Value::List(items) => Ok(Value::list(items.iter().rev().cloned().collect())),
        Value::String(text) => Ok(Value::string(text.chars().rev().collect::<String>())),
        other => Err(error::wrong_kind(
            "reverse",
            "a list or a string",
            other.kind(),
        )),
    }
}

fn run_first(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    Ok(list_arg(args, 0, "first")?
        .first()
        .cloned()
        .unwrap_or(Value::Null))
}

fn run_last(_: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    Ok(list_arg(args, 0, "last")?
        .last()
        .cloned()
        .unwrap_or(Value::Null))
}

fn run_flatten(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let mut out = Vec::new();
    for inner in list_arg(args, 0, "flatten")? {
        match inner {
            Value::List(items) => out.extend(items.iter().cloned()),
            other => {
                return Err(error::wrong_kind(
                    "flatten",
                    "a list of lists",
                    other.kind(),
                ));
            }
        }
    }
    host.charge(out.len() as u64)?;
    list_out(host, out)
}

fn run_unique(host: &mut dyn Host, args: &[Value]) -> Result<Value, Error> {
    let items = list_arg(args, 0, "unique")?;
    let n = items.len() as u64;
    host.charge(n.saturating_mul(n) / 8)?;
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    Ok(Value::list(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        for pair in BUILTINS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
        for builtin in BUILTINS {
            assert_eq!(lookup(builtin.name).map(|b| b.name), Some(builtin.name));
        }
        assert!(lookup("no_such_function").is_none());
    }

    #[test]
    fn signatures_are_well_formed() {
        for builtin in BUILTINS {
            assert!(!builtin.overloads.is_empty(), "{}", builtin.name);
            assert!(!builtin.doc.is_empty(), "{}", builtin.name);
            assert_eq!(
                builtin.method,
                !builtin.overloads[0].params.is_empty() && builtin.name != "range",
                "{}",
                builtin.name
            );
            for signature in builtin.overloads {
                // Every variable used is declared, every declared one used.
                let mut used = Vec::new();
                for param in signature.params {
                    param.ty.for_each_var(&mut |name| used.push(name));
                }
                signature.ret.for_each_var(&mut |name| used.push(name));
                for name in &used {
                    assert!(
                        signature.generics.iter().any(|(g, _)| g == name),
                        "{}: `{name}` is not declared",
                        builtin.name
                    );
                }
                for (name, _) in signature.generics {
                    assert!(used.contains(name), "{}: `{name}` is unused", builtin.name);
                }
                // Parameters with defaults come last.
                let required = signature.arity().start().to_owned();
                assert!(
                    signature.params[required..]
                        .iter()
                        .all(|p| p.default.is_some())
                );
                // With every variable bound, the signature becomes a type.
                let bindings: BTreeMap<&str, Ty> = signature
                    .generics
                    .iter()
                    .map(|(name, _)| (*name, Ty::Int))
                    .collect();
                for param in signature.params {
                    assert!(param.ty.instantiate(&bindings).is_some());
                }
                assert!(signature.ret.instantiate(&bindings).is_some());
            }
        }
    }

    #[test]
    fn signatures_print_as_documented() {
        let map = lookup("map").map(|b| b.overloads[0].to_string());
        assert_eq!(map.as_deref(), Some("(xs: [T], f: T => U) -> [U]"));
        let time = lookup("format_time").map(|b| b.overloads[0].to_string());
        assert_eq!(
            time.as_deref(),
            Some(
                r#"(t: time, format: string = "%Y-%m-%dT%H:%M:%S%:z", tz: string = "UTC") -> string"#
            )
        );
    }
}

//! Random inputs and random well-typed expressions for the differential test.
//!
//! Expressions are generated as *source text* from a small type grammar: ask for
//! an `int` and get a literal, a path into the input, arithmetic, an `if`, a `??`
//! or a stdlib call whose operands are generated for their own wanted types. Text
//! rather than IR means the checker decides what the expression is, so the JIT
//! sees exactly the IR that `flowc eval` and the runtime would give it. Every
//! compound operand is parenthesised, so precedence never changes what was meant.
//!
//! The values are biased towards the edges where a native implementation tends
//! to differ from the interpreter: `0`, `-1`, the extreme integers, NaN, the
//! infinities, `-0.0`, empty and non-ASCII strings, `null` in the optional
//! fields, and now and then an input that does not match its declared type at
//! all (which the interpreter reports, and native code must hand back).

use flowc_compiler::eval::Limits;
use flowc_compiler::value::Value;

/// The declared type of `input` in every generated expression.
pub const INPUT_TYPE: &str = "type Input = {
  i: int, j: int, f: float, g: float, s: string, t: string, b: bool, d: duration,
  at: time, n: int?, m: string?, z: float?,
  r: { x: int, y: string, q: { w: float } },
  o: { x: int }?,
  xs: [int], fs: [float], ws: [string], items: [{ p: float, q: int, name: string }],
}";

/// A small, fast, seedable generator (SplitMix64): the test must be
/// reproducible from one printed number, and needs nothing stronger.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        let bound = u64::try_from(bound).unwrap_or(u64::MAX).max(1);
        usize::try_from(self.next() % bound).unwrap_or(0)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seed of case number `index` of a run seeded with `base`.
pub fn case_seed(base: u64, index: u64) -> u64 {
    Rng::new(base ^ index.wrapping_mul(0xA24B_AED4_963E_E407)).next()
}

// ------------------------------------------------------------------- inputs

pub fn int(rng: &mut Rng) -> i64 {
    match rng.below(10) {
        0 => 0,
        1 => -1,
        2 => 1,
        3 => i64::MIN,
        4 => i64::MAX,
        5 => *rng.pick(&[
            2,
            3,
            7,
            -7,
            10,
            1000,
            3_037_000_500,
            -3_037_000_500,
            1 << 62,
        ]),
        6 | 7 => i64::try_from(rng.below(41)).unwrap_or(0) - 20,
        8 => i64::try_from(rng.below(2_000_001)).unwrap_or(0) - 1_000_000,
        _ => rng.next().cast_signed(),
    }
}

pub fn float(rng: &mut Rng) -> f64 {
    match rng.below(12) {
        0 => 0.0,
        1 => -0.0,
        2 => f64::NAN,
        3 => f64::INFINITY,
        4 => f64::NEG_INFINITY,
        5 => *rng.pick(&[
            0.5,
            1.5,
            2.5,
            -2.5,
            -0.5,
            1.0,
            -1.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            9.3e18,
            -9.3e18,
            9_223_372_036_854_775_807.0,
            -9_223_372_036_854_775_808.0,
            1e-310,
        ]),
        6 | 7 => (i64::try_from(rng.below(41)).unwrap_or(0) - 20) as f64 / 4.0,
        8 => int(rng) as f64,
        9 => f64::from_bits(rng.next()),
        _ => (rng.next() % 2_000_000) as f64 / 1000.0 - 1000.0,
    }
}

pub fn string(rng: &mut Rng) -> String {
    const FIXED: &[&str] = &[
        "",
        "a",
        "A",
        "ab",
        "abc",
        "aaaa",
        "b",
        "Zz",
        " padded ",
        "\t tabs \n",
        "héllo",
        "HÉLLO",
        "ß",
        "日本語",
        "🎉",
        "a🎉b",
        "42",
        "-7",
        "007",
        "3.5",
        "-0.0",
        "1e3",
        "nan",
        "inf",
        "9223372036854775807",
        "9223372036854775808",
        " 12 ",
        "true",
        "null",
        "$",
        "${",
        "aGk=",
        "!!",
        "İ",
        "ǅ",
    ];
    if rng.chance(60) {
        return (*rng.pick(FIXED)).to_owned();
    }
    const PIECES: &[&str] = &["a", "b", "A", "é", "日", " ", "$", "{", "🎉", "0", "7", "."];
    let len = rng.below(8);
    (0..len).map(|_| *rng.pick(PIECES)).collect()
}

pub fn duration(rng: &mut Rng) -> i64 {
    match rng.below(8) {
        0 => 0,
        1 => *rng.pick(&[1, -1, 500, 1000, 60_000, 3_600_000, 86_400_000]),
        2 => i64::MIN,
        3 => i64::MAX,
        _ => int(rng),
    }
}

pub fn time(rng: &mut Rng) -> i64 {
    match rng.below(6) {
        0 => 0,
        1 => *rng.pick(&[
            1_714_564_800_000,
            -1,
            253_402_300_799_999,
            -62_135_596_800_000,
        ]),
        2 => *rng.pick(&[i64::MIN, i64::MAX]),
        _ => (rng.next() % 4_000_000_000_000).cast_signed() - 1_000_000_000_000,
    }
}

/// A list of up to five elements, now and then of up to sixty (so loops meet
/// the step limit); one in fifty has an element of another kind.
fn list(rng: &mut Rng, element: impl Fn(&mut Rng) -> Value) -> Value {
    let len = if rng.chance(5) {
        rng.below(61)
    } else {
        rng.below(6)
    };
    let mut items: Vec<Value> = (0..len).map(|_| element(rng)).collect();
    if !items.is_empty() && rng.chance(2) {
        let index = rng.below(items.len());
        items[index] = stray(rng);
    }
    Value::list(items)
}

/// A value of the wrong kind for any field: what an input that does not match
/// its declared type holds.
fn stray(rng: &mut Rng) -> Value {
    match rng.below(7) {
        0 => Value::Null,
        1 => Value::Int(int(rng)),
        2 => Value::Float(float(rng)),
        3 => Value::string(string(rng)),
        4 => Value::Bool(rng.chance(50)),
        5 => Value::Duration(duration(rng)),
        _ => Value::record([("x", Value::Int(1))]),
    }
}

/// A random `input`: of the declared type, or (about one in twenty) with one
/// field of another kind, `null` or missing.
pub fn input(rng: &mut Rng) -> Value {
    let optional = |rng: &mut Rng, value: Value| {
        if rng.chance(30) { Value::Null } else { value }
    };
    let (n, m, z) = (int(rng), string(rng), float(rng));
    let q = Value::record([("w", Value::Float(float(rng)))]);
    let r = Value::record([
        ("x", Value::Int(int(rng))),
        ("y", Value::string(string(rng))),
        ("q", q),
    ]);
    let o = Value::record([("x", Value::Int(int(rng)))]);
    let mut fields = vec![
        ("i", Value::Int(int(rng))),
        ("j", Value::Int(int(rng))),
        ("f", Value::Float(float(rng))),
        ("g", Value::Float(float(rng))),
        ("s", Value::string(string(rng))),
        ("t", Value::string(string(rng))),
        ("b", Value::Bool(rng.chance(50))),
        ("d", Value::Duration(duration(rng))),
        ("at", Value::Time(time(rng))),
        ("n", optional(rng, Value::Int(n))),
        ("m", optional(rng, Value::string(m))),
        ("z", optional(rng, Value::Float(z))),
        ("r", r),
        ("o", optional(rng, o)),
        ("xs", list(rng, |rng| Value::Int(int(rng)))),
        ("fs", list(rng, |rng| Value::Float(float(rng)))),
        ("ws", list(rng, |rng| Value::string(string(rng)))),
        (
            "items",
            list(rng, |rng| {
                Value::record([
                    ("p", Value::Float(float(rng))),
                    ("q", Value::Int(int(rng))),
                    ("name", Value::string(string(rng))),
                ])
            }),
        ),
    ];
    if rng.chance(5) {
        let index = rng.below(fields.len());
        match rng.below(4) {
            0 => {
                fields.remove(index);
            }
            1 => {
                // A nested record of the wrong shape: `r` with a stray `x`, or
                // `r.q` replaced.
                let bad = stray(rng);
                let inner = if rng.chance(50) {
                    Value::record([
                        ("x", bad),
                        ("y", Value::string("y")),
                        ("q", Value::record([("w", Value::Float(1.0))])),
                    ])
                } else {
                    Value::record([("x", Value::Int(1)), ("y", Value::string("y")), ("q", bad)])
                };
                if let Some(slot) = fields.iter_mut().find(|(name, _)| *name == "r") {
                    slot.1 = inner;
                }
            }
            _ => fields[index].1 = stray(rng),
        }
    }
    Value::record(fields)
}

/// Mostly the default limits; now and then tight ones, so that the step, depth
/// and size limits are met inside small expressions.
pub fn limits(rng: &mut Rng) -> Limits {
    if rng.chance(85) {
        return Limits::default();
    }
    Limits {
        max_steps: u64::try_from(rng.below(120)).unwrap_or(0) + 1,
        max_depth: u32::try_from(rng.below(12)).unwrap_or(0) + 1,
        max_bytes: rng.below(48),
    }
}

// -------------------------------------------------------------- expressions

/// The types expressions are generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Bool,
    Int,
    Float,
    Str,
    Dur,
    Time,
    OptInt,
    OptFloat,
    OptStr,
    OptBool,
}

impl Want {
    pub const SCALAR: [Want; 6] = [
        Want::Bool,
        Want::Int,
        Want::Float,
        Want::Str,
        Want::Dur,
        Want::Time,
    ];
    pub const ALL: [Want; 10] = [
        Want::Bool,
        Want::Int,
        Want::Float,
        Want::Str,
        Want::Dur,
        Want::Time,
        Want::OptInt,
        Want::OptFloat,
        Want::OptStr,
        Want::OptBool,
    ];
}

/// The names of a generated record's fields, in no order: a record takes up to
/// four of them, every third from a random start (3 and 7 have no common
/// factor, so no name repeats).
const FIELD_NAMES: [&str; 7] = ["zeta", "id", "total", "a", "name", "m_2", "city"];

/// Generates expressions, `depth` levels of operators deep at most.
pub struct Generator<'r> {
    pub rng: &'r mut Rng,
    /// What the lambdas around the expression being generated bind: the text
    /// that reads a value (`v0`, `v1.q`) and its type.
    locals: Vec<(String, Want)>,
}

impl<'r> Generator<'r> {
    pub fn new(rng: &'r mut Rng) -> Generator<'r> {
        Generator {
            rng,
            locals: Vec::new(),
        }
    }

    /// A whole expression: one of a wanted type, or (one in ten) a record of a
    /// few of them, which is what a mapping looks like.
    pub fn top(&mut self, wants: &[Want]) -> String {
        let depth = 1 + self.rng.below(4);
        if self.rng.chance(10) {
            let count = 1 + self.rng.below(4);
            // Names out of order, so the answer's fields are not already sorted.
            let first = self.rng.below(FIELD_NAMES.len());
            let fields: Vec<String> = (0..count)
                .map(|at| {
                    let name = FIELD_NAMES[(first + at * 3) % FIELD_NAMES.len()];
                    let want = *self.rng.pick(&Want::ALL);
                    let value = self.expr(want, depth.min(3));
                    if self.rng.chance(15) {
                        let other = self.expr(Want::Float, 2);
                        format!("{name}: {{ g: {value}, h: {other} }}")
                    } else {
                        format!("{name}: {value}")
                    }
                })
                .collect();
            return format!("{{ {} }}", fields.join(", "));
        }
        if self.rng.chance(3) {
            return self.list_result(depth);
        }
        let want = *self.rng.pick(wants);
        self.expr(want, depth)
    }

    /// A list as the whole answer: a filtered or mapped input list.
    fn list_result(&mut self, depth: usize) -> String {
        let d = depth.saturating_sub(1);
        match self.rng.below(4) {
            0 => self.lambda("input.xs", "filter", Want::Bool, d),
            1 => self.lambda("input.xs", "map", Want::Int, d),
            2 => self.lambda("input.ws", "map", Want::Str, d),
            _ => self.lambda("input.items", "filter", Want::Bool, d),
        }
    }

    /// `list.name(v => body)`, the body of the wanted type over the element.
    fn lambda(&mut self, list: &str, name: &str, body: Want, d: usize) -> String {
        let var = format!("v{}", self.locals.len());
        let bound = match list {
            "input.xs" => vec![(var.clone(), Want::Int)],
            "input.fs" => vec![(var.clone(), Want::Float)],
            "input.ws" => vec![(var.clone(), Want::Str)],
            _ => vec![
                (format!("{var}.p"), Want::Float),
                (format!("{var}.q"), Want::Int),
                (format!("{var}.name"), Want::Str),
            ],
        };
        let before = self.locals.len();
        self.locals.extend(bound);
        let text = self.expr(body, d);
        self.locals.truncate(before);
        format!("{list}.{name}({var} => {text})")
    }

    /// An index: mostly in range, sometimes not.
    fn index(&mut self, d: usize) -> String {
        match self.rng.below(4) {
            0 => (*self.rng.pick(&["0", "1", "2", "(-1)", "5"])).to_owned(),
            _ => self.expr(Want::Int, d.min(1)),
        }
    }

    /// Expressions over the input's lists, of the wanted type.
    fn over_lists(&mut self, want: Want, d: usize) -> String {
        let pick = self.rng.below(6);
        match want {
            Want::Int => match pick {
                0 => format!(
                    "len({})",
                    self.rng.pick(&["input.xs", "input.ws", "input.items"])
                ),
                1 => format!("input.xs[{}]", self.index(d)),
                2 => format!("input.items[{}].q", self.index(d)),
                3 => {
                    let name = *self.rng.pick(&["sum", "count"]);
                    if name == "sum" {
                        let inner = self.lambda("input.items", "map", Want::Int, d);
                        format!("{}.sum()", self.rng.pick(&["input.xs", inner.as_str()]))
                    } else {
                        self.lambda("input.xs", "count", Want::Bool, d)
                    }
                }
                4 => {
                    let name = *self.rng.pick(&["first", "last", "max", "min"]);
                    format!("({name}(input.xs) ?? {})", self.expr(Want::Int, d))
                }
                _ => format!("{}.len()", self.lambda("input.xs", "filter", Want::Bool, d)),
            },
            Want::Float => match pick {
                0 => format!("input.fs[{}]", self.index(d)),
                1 => format!("input.items[{}].p", self.index(d)),
                2 => "input.fs.sum()".to_owned(),
                3 => format!(
                    "{}.sum()",
                    self.lambda("input.items", "map", Want::Float, d)
                ),
                4 => format!("(max(input.fs) ?? {})", self.expr(Want::Float, d)),
                _ => format!("(min(input.fs) ?? {})", self.expr(Want::Float, d)),
            },
            Want::Bool => match pick {
                0 => format!("({} in input.xs)", self.expr(Want::Int, d)),
                1 => format!("({} in input.ws)", self.expr(Want::Str, d)),
                2 => {
                    let name = *self.rng.pick(&["any", "all"]);
                    self.lambda("input.xs", name, Want::Bool, d)
                }
                3 => {
                    let name = *self.rng.pick(&["any", "all"]);
                    self.lambda("input.items", name, Want::Bool, d)
                }
                4 => {
                    let name = *self.rng.pick(&["any", "all"]);
                    let list = *self.rng.pick(&["input.ws", "input.fs"]);
                    self.lambda(list, name, Want::Bool, d)
                }
                _ => format!("({} in input.fs)", self.expr(Want::Float, d)),
            },
            _ => match pick {
                0 => format!("input.ws[{}]", self.index(d)),
                1 => format!("input.items[{}].name", self.index(d)),
                2 => format!("join(input.ws, {})", self.expr(Want::Str, d)),
                3 => format!("(first(input.ws) ?? {})", self.expr(Want::Str, d)),
                4 => format!(
                    "join({}, \",\")",
                    self.lambda("input.items", "map", Want::Str, d)
                ),
                _ => "to_string(input.xs)".to_owned(),
            },
        }
    }

    pub fn expr(&mut self, want: Want, depth: usize) -> String {
        if depth == 0 || self.rng.chance(20) {
            return self.leaf(want);
        }
        let d = depth - 1;
        if matches!(want, Want::Bool | Want::Int | Want::Float | Want::Str) && self.rng.chance(12) {
            return self.over_lists(want, d);
        }
        match want {
            Want::Bool => self.boolean(d),
            Want::Int => self.int(d),
            Want::Float => self.float(d),
            Want::Str => self.string(d),
            Want::Dur => self.duration(d),
            Want::Time => self.time(d),
            Want::OptInt => self.optional(d, Want::Int, &["input.n", "input.o?.x"]),
            Want::OptFloat => self.optional(d, Want::Float, &["input.z"]),
            Want::OptStr => self.optional(d, Want::Str, &["input.m"]),
            Want::OptBool => self.optional(d, Want::Bool, &[]),
        }
    }

    fn leaf(&mut self, want: Want) -> String {
        let bound: Vec<&String> = self
            .locals
            .iter()
            .filter(|(_, of)| *of == want)
            .map(|(text, _)| text)
            .collect();
        if !bound.is_empty() && self.rng.chance(50) {
            return (*self.rng.pick(&bound)).clone();
        }
        let rng = &mut *self.rng;
        let text = match want {
            Want::Bool => *rng.pick(&["true", "false", "input.b", "input.b", "input.b"]),
            Want::Int => *rng.pick(&[
                "0",
                "1",
                "2",
                "3",
                "7",
                "10",
                "1000",
                "(-1)",
                "9223372036854775807",
                "(-9223372036854775807 - 1)",
                "4611686018427387904",
                "3037000500",
                "input.i",
                "input.i",
                "input.j",
                "input.j",
                "input.r.x",
            ]),
            Want::Float => *rng.pick(&[
                "0.0",
                "1.0",
                "0.5",
                "2.5",
                "(-0.0)",
                "1.5e300",
                "1e-300",
                "3.25",
                "9.3e18",
                "(0.0 / 0.0)",
                "(1.0 / 0.0)",
                "input.f",
                "input.f",
                "input.g",
                "input.g",
                "input.r.q.w",
            ]),
            Want::Str => *rng.pick(&[
                "\"\"",
                "\"a\"",
                "\"abc\"",
                "\"A\"",
                "\"héllo\"",
                "\"日本\"",
                "\"🎉\"",
                "\" x \"",
                "\"a\\nb\"",
                "\"\\u{1F600}\"",
                "\"\\$\"",
                "\"42\"",
                "input.s",
                "input.s",
                "input.t",
                "input.t",
                "input.r.y",
            ]),
            Want::Dur => *rng.pick(&[
                "0ms",
                "500ms",
                "1s",
                "5m",
                "1h",
                "7d",
                "106751991167d",
                "input.d",
                "input.d",
                "input.d",
            ]),
            Want::Time => "input.at",
            Want::OptInt => *rng.pick(&["input.n", "input.o?.x", "null"]),
            Want::OptFloat => *rng.pick(&["input.z", "null"]),
            Want::OptStr => *rng.pick(&["input.m", "null"]),
            Want::OptBool => *rng.pick(&["null", "true", "input.b"]),
        };
        text.to_owned()
    }

    fn optional(&mut self, d: usize, base: Want, paths: &[&str]) -> String {
        match self.rng.below(6) {
            0 | 1 if !paths.is_empty() => (*self.rng.pick(paths)).to_owned(),
            2 => format!(
                "(if {} then {} else null)",
                self.expr(Want::Bool, d),
                self.expr(base, d)
            ),
            3 => format!(
                "(if {} then null else {})",
                self.expr(Want::Bool, d),
                self.expr(base, d)
            ),
            4 => match base {
                Want::Int => format!("to_int({})", self.expr(Want::Str, d)),
                Want::Float => format!("to_float({})", self.expr(Want::Str, d)),
                _ => self.expr(base, d),
            },
            _ => self.expr(base, d),
        }
    }

    fn boolean(&mut self, d: usize) -> String {
        match self.rng.below(22) {
            0 => {
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                let (a, b) = self.numbers(d);
                format!("({a} {op} {b})")
            }
            1 => {
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!(
                    "({} {op} {})",
                    self.expr(Want::Str, d),
                    self.expr(Want::Str, d)
                )
            }
            2 => {
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!(
                    "({} {op} {})",
                    self.expr(Want::Dur, d),
                    self.expr(Want::Dur, d)
                )
            }
            3 => {
                let op = *self.rng.pick(&["==", "!="]);
                format!(
                    "({} {op} {})",
                    self.expr(Want::Bool, d),
                    self.expr(Want::Bool, d)
                )
            }
            4 => {
                // `==` and `!=` against `null` and between optional values.
                let op = *self.rng.pick(&["==", "!="]);
                let want = *self.rng.pick(&[Want::OptInt, Want::OptFloat, Want::OptStr]);
                let rhs = match self.rng.below(3) {
                    0 => "null".to_owned(),
                    1 => self.expr(want, d),
                    _ => {
                        let base = match want {
                            Want::OptInt => Want::Int,
                            Want::OptFloat => Want::Float,
                            _ => Want::Str,
                        };
                        self.expr(base, d)
                    }
                };
                format!("({} {op} {rhs})", self.expr(want, d))
            }
            5 => {
                let op = *self.rng.pick(&["==", "!="]);
                let lhs = *self.rng.pick(&["input.o", "input.n", "input.m", "input.z"]);
                format!("({lhs} {op} null)")
            }
            6 | 7 => format!(
                "({} && {})",
                self.expr(Want::Bool, d),
                self.expr(Want::Bool, d)
            ),
            8 | 9 => format!(
                "({} || {})",
                self.expr(Want::Bool, d),
                self.expr(Want::Bool, d)
            ),
            10 => format!("(!{})", self.expr(Want::Bool, d)),
            11 => format!(
                "({} in {})",
                self.expr(Want::Str, d),
                self.expr(Want::Str, d)
            ),
            12 => {
                let name = *self.rng.pick(&["starts_with", "ends_with", "contains"]);
                if self.rng.chance(50) {
                    format!(
                        "{name}({}, {})",
                        self.expr(Want::Str, d),
                        self.expr(Want::Str, d)
                    )
                } else {
                    format!(
                        "{}.{name}({})",
                        self.expr(Want::Str, d),
                        self.expr(Want::Str, d)
                    )
                }
            }
            13 => format!(
                "(if {} then {} else {})",
                self.expr(Want::Bool, d),
                self.expr(Want::Bool, d),
                self.expr(Want::Bool, d)
            ),
            14 => format!(
                "({} ?? {})",
                self.expr(Want::OptBool, d),
                self.expr(Want::Bool, d)
            ),
            15 => {
                // A comparison chain as people write conditions.
                format!(
                    "(({} > {}) && ({} == {}))",
                    self.expr(Want::Int, d),
                    self.expr(Want::Int, d),
                    self.expr(Want::Str, d),
                    self.expr(Want::Str, d)
                )
            }
            16 => {
                // NaN and the infinities compared.
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                let odd =
                    *self
                        .rng
                        .pick(&["(0.0 / 0.0)", "(1.0 / 0.0)", "(-1.0 / 0.0)", "input.f"]);
                format!("({odd} {op} {})", self.expr(Want::Float, d))
            }
            17 => {
                let (a, b) = self.numbers(d);
                format!("(min({a}, {b}) == max({b}, {a}))")
            }
            18 => {
                let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!(
                    "({} {op} {})",
                    self.expr(Want::Time, d),
                    self.expr(Want::Time, d)
                )
            }
            _ => {
                let op = *self.rng.pick(&["<", ">=", "==", "!="]);
                format!(
                    "({} {op} {})",
                    self.expr(Want::Int, d),
                    self.expr(Want::Int, d)
                )
            }
        }
    }

    /// Two numeric operands, each an `int` or a `float`.
    fn numbers(&mut self, d: usize) -> (String, String) {
        let a = *self.rng.pick(&[Want::Int, Want::Float]);
        let b = *self.rng.pick(&[Want::Int, Want::Float]);
        (self.expr(a, d), self.expr(b, d))
    }

    fn int(&mut self, d: usize) -> String {
        match self.rng.below(20) {
            0..=5 => {
                let op = *self.rng.pick(&["+", "-", "*", "/", "%"]);
                format!(
                    "({} {op} {})",
                    self.expr(Want::Int, d),
                    self.expr(Want::Int, d)
                )
            }
            6 => {
                // The operands that make integer arithmetic fail.
                let op = *self.rng.pick(&["+", "-", "*", "/", "%"]);
                let edge = *self.rng.pick(&[
                    "0",
                    "(-1)",
                    "9223372036854775807",
                    "(-9223372036854775807 - 1)",
                ]);
                if self.rng.chance(50) {
                    format!("({} {op} {edge})", self.expr(Want::Int, d))
                } else {
                    format!("({edge} {op} {})", self.expr(Want::Int, d))
                }
            }
            7 => format!("(-{})", self.expr(Want::Int, d)),
            8 => format!(
                "(if {} then {} else {})",
                self.expr(Want::Bool, d),
                self.expr(Want::Int, d),
                self.expr(Want::Int, d)
            ),
            9 => format!(
                "({} ?? {})",
                self.expr(Want::OptInt, d),
                self.expr(Want::Int, d)
            ),
            10 => format!("abs({})", self.expr(Want::Int, d)),
            11 => {
                let name = *self.rng.pick(&["min", "max"]);
                format!(
                    "{name}({}, {})",
                    self.expr(Want::Int, d),
                    self.expr(Want::Int, d)
                )
            }
            12 | 13 => {
                let name = *self.rng.pick(&["round", "floor", "ceil", "to_int"]);
                let arg = if self.rng.chance(80) {
                    self.expr(Want::Float, d)
                } else {
                    self.expr(Want::Int, d)
                };
                if name == "to_int" && !arg.contains('.') && self.rng.chance(50) {
                    format!("{name}({arg})")
                } else if self.rng.chance(30) {
                    format!("{arg}.{name}()")
                } else {
                    format!("{name}({arg})")
                }
            }
            14 => {
                if self.rng.chance(50) {
                    format!("len({})", self.expr(Want::Str, d))
                } else {
                    format!("{}.len()", self.expr(Want::Str, d))
                }
            }
            15 => format!(
                "(to_int({}) ?? {})",
                self.expr(Want::Str, d),
                self.expr(Want::Int, d)
            ),
            16 => format!("(input.o?.x ?? {})", self.expr(Want::Int, d)),
            17 => format!("(input.n ?? {})", self.expr(Want::Int, d)),
            _ => {
                let op = *self.rng.pick(&["+", "-", "*"]);
                format!(
                    "({} {op} {})",
                    self.leaf(Want::Int),
                    self.expr(Want::Int, d)
                )
            }
        }
    }

    fn float(&mut self, d: usize) -> String {
        if self.rng.chance(12) {
            return self.mixed(d);
        }
        match self.rng.below(16) {
            0..=5 => {
                // At least one side a float: mixed arithmetic converts the int.
                let op = *self.rng.pick(&["+", "-", "*", "/"]);
                let (a, b) = match self.rng.below(3) {
                    0 => (Want::Float, Want::Int),
                    1 => (Want::Int, Want::Float),
                    _ => (Want::Float, Want::Float),
                };
                format!("({} {op} {})", self.expr(a, d), self.expr(b, d))
            }
            6 => format!(
                "({} * {})",
                self.leaf(Want::Float),
                self.expr(Want::Float, d)
            ),
            7 => format!("(-{})", self.expr(Want::Float, d)),
            8 => format!(
                "(if {} then {} else {})",
                self.expr(Want::Bool, d),
                self.expr(Want::Float, d),
                self.expr(Want::Float, d)
            ),
            9 => format!(
                "({} ?? {})",
                self.expr(Want::OptFloat, d),
                self.expr(Want::Float, d)
            ),
            10 => format!("abs({})", self.expr(Want::Float, d)),
            11 => {
                let name = *self.rng.pick(&["min", "max"]);
                format!(
                    "{name}({}, {})",
                    self.expr(Want::Float, d),
                    self.expr(Want::Float, d)
                )
            }
            12 => format!("to_float({})", self.expr(Want::Int, d)),
            13 => format!(
                "(to_float({}) ?? {})",
                self.expr(Want::Str, d),
                self.expr(Want::Float, d)
            ),
            14 => format!("(input.z ?? {})", self.expr(Want::Float, d)),
            _ => format!(
                "({} / {})",
                self.expr(Want::Float, d),
                self.leaf(Want::Float)
            ),
        }
    }

    /// A `float` expression whose value may be an `int`: the branches of an
    /// `if`, the sides of a `??` or the arguments of `min`/`max` of the two
    /// kinds. The interpreter keeps the value it computed (`input.n ?? 2.5` is
    /// the int in `n` when there is one), and native code must give that same
    /// value, not a converted one; templates and records show the difference.
    fn mixed(&mut self, d: usize) -> String {
        let int = self.expr(Want::Int, d);
        let float = self.expr(Want::Float, d);
        let (a, b) = if self.rng.chance(50) {
            (int.clone(), float.clone())
        } else {
            (float.clone(), int.clone())
        };
        match self.rng.below(6) {
            0 => format!("(if {} then {a} else {b})", self.expr(Want::Bool, d)),
            1 => format!("({} ?? {float})", self.expr(Want::OptInt, d)),
            2 => format!("({} ?? {int})", self.expr(Want::OptFloat, d)),
            3 => format!("{}({a}, {b})", self.rng.pick(&["min", "max"])),
            4 => format!("abs(if {} then {a} else {b})", self.expr(Want::Bool, d)),
            _ => format!("(\"${{{a}}}/${{{b}}}\".len() + {a})"),
        }
    }

    fn string(&mut self, d: usize) -> String {
        match self.rng.below(20) {
            0..=2 => format!(
                "({} + {})",
                self.expr(Want::Str, d),
                self.expr(Want::Str, d)
            ),
            3 => {
                let name = *self.rng.pick(&["upper", "lower", "trim", "reverse"]);
                if self.rng.chance(50) {
                    format!("{name}({})", self.expr(Want::Str, d))
                } else {
                    format!("{}.{name}()", self.expr(Want::Str, d))
                }
            }
            4 => format!(
                "replace({}, {}, {})",
                self.expr(Want::Str, d),
                self.expr(Want::Str, d),
                self.expr(Want::Str, d)
            ),
            5 => {
                // Growth: every `a` becomes a longer text.
                format!(
                    "replace({}, \"a\", {})",
                    self.expr(Want::Str, d),
                    self.expr(Want::Str, d)
                )
            }
            6 => format!(
                "slice({}, {})",
                self.expr(Want::Str, d),
                self.expr(Want::Int, d)
            ),
            7 => format!(
                "slice({}, {}, {})",
                self.expr(Want::Str, d),
                self.expr(Want::Int, d),
                self.expr(Want::Int, d)
            ),
            8 | 9 => {
                let want = *self.rng.pick(&Want::ALL);
                format!("to_string({})", self.expr(want, d))
            }
            10 | 11 => {
                let count = 1 + self.rng.below(3);
                let mut text = String::from("\"");
                for _ in 0..count {
                    let before = *self.rng.pick(&["", "a ", "é", "-", "\\$"]);
                    text.push_str(before);
                    let want = *self.rng.pick(&Want::ALL);
                    let part = self.expr(want, d);
                    text.push_str(&format!("${{{part}}}"));
                }
                let after = *self.rng.pick(&["", " z", "!"]);
                text.push_str(after);
                text.push('"');
                text
            }
            12 => format!(
                "(if {} then {} else {})",
                self.expr(Want::Bool, d),
                self.expr(Want::Str, d),
                self.expr(Want::Str, d)
            ),
            13 => format!(
                "({} ?? {})",
                self.expr(Want::OptStr, d),
                self.expr(Want::Str, d)
            ),
            14 => {
                let name = *self.rng.pick(&["base64", "base64_decode", "sha256"]);
                format!("{name}({})", self.expr(Want::Str, d))
            }
            15 => {
                let name = *self.rng.pick(&["min", "max"]);
                format!(
                    "{name}({}, {})",
                    self.expr(Want::Str, d),
                    self.expr(Want::Str, d)
                )
            }
            16 => {
                let want = *self.rng.pick(&Want::SCALAR);
                format!("to_json({})", self.expr(want, d))
            }
            17 if self.rng.chance(50) => format!("format_time({})", self.expr(Want::Time, d)),
            _ => format!("(input.m ?? {})", self.expr(Want::Str, d)),
        }
    }

    fn duration(&mut self, d: usize) -> String {
        match self.rng.below(11) {
            0 | 1 => {
                let op = *self.rng.pick(&["+", "-"]);
                format!(
                    "({} {op} {})",
                    self.expr(Want::Dur, d),
                    self.expr(Want::Dur, d)
                )
            }
            2 => format!(
                "({} * {})",
                self.expr(Want::Dur, d),
                self.expr(Want::Int, d)
            ),
            3 => format!(
                "({} * {})",
                self.expr(Want::Int, d),
                self.expr(Want::Dur, d)
            ),
            4 => format!(
                "({} / {})",
                self.expr(Want::Dur, d),
                self.expr(Want::Int, d)
            ),
            5 => format!("(-{})", self.expr(Want::Dur, d)),
            6 => format!("abs({})", self.expr(Want::Dur, d)),
            7 => {
                let name = *self.rng.pick(&["min", "max"]);
                format!(
                    "{name}({}, {})",
                    self.expr(Want::Dur, d),
                    self.expr(Want::Dur, d)
                )
            }
            8 => format!(
                "(if {} then {} else {})",
                self.expr(Want::Bool, d),
                self.expr(Want::Dur, d),
                self.expr(Want::Dur, d)
            ),
            9 if self.rng.chance(50) => {
                format!(
                    "({} - {})",
                    self.expr(Want::Time, d),
                    self.expr(Want::Time, d)
                )
            }
            _ => format!("({} * {})", self.leaf(Want::Dur), self.expr(Want::Int, d)),
        }
    }

    fn time(&mut self, d: usize) -> String {
        match self.rng.below(6) {
            0 => format!(
                "({} + {})",
                self.expr(Want::Time, d),
                self.expr(Want::Dur, d)
            ),
            1 => format!(
                "({} + {})",
                self.expr(Want::Dur, d),
                self.expr(Want::Time, d)
            ),
            2 => format!(
                "({} - {})",
                self.expr(Want::Time, d),
                self.expr(Want::Dur, d)
            ),
            3 => {
                let name = *self.rng.pick(&["min", "max"]);
                format!(
                    "{name}({}, {})",
                    self.expr(Want::Time, d),
                    self.expr(Want::Time, d)
                )
            }
            4 => format!(
                "(if {} then {} else {})",
                self.expr(Want::Bool, d),
                self.expr(Want::Time, d),
                self.expr(Want::Time, d)
            ),
            _ => "input.at".to_owned(),
        }
    }
}

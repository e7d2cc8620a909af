//! The JIT against the interpreter: the same answer, always (issue 8).
//!
//! The interpreter is the meaning of every expression; the JIT is only a faster
//! way to the same answer. This file checks that on random expressions and by
//! hand:
//!
//! - **The differential property.** Random well-typed expressions over a fixed
//!   input type of scalars, optional values, nested records and lists (generated
//!   as source text, see `jit/generate.rs`), each compiled once and evaluated
//!   over several random inputs and limits: the tiered answer (native when the
//!   code does not bail, else the interpreter's) is the interpreter's answer,
//!   value for value and error for error. The native answers over slots filled
//!   from a value and decoded from JSON text are checked the same way, and the
//!   answer written as JSON straight from the output slots is the text of the
//!   interpreter's value. Four tests
//!   of 25,000 expressions each, 100,000 in all, seeded: `FLOWC_JIT_SEED=N`
//!   changes the seed, `FLOWC_JIT_CASES=N` the count per test, and
//!   `FLOWC_JIT_CASE=S` replays the one case a failure names. Each test also
//!   counts what compiled and what ran natively and asserts that most of it
//!   did, so the property cannot hold vacuously by compiling nothing.
//! - **Fixed cases**: the edges by hand, where every counterexample the property
//!   finds is added (none so far), and JSON text decoded into the slots.
//! - **The stdlib**: every function with a scalar signature, through both tiers,
//!   over inputs that include an error.
//! - **Tiering**: a program's expressions under [`Tiered`] switch to native code
//!   after the threshold in `auto`, never in `off`, at once in `always`, with the
//!   same values in all three.

#[path = "jit/generate.rs"]
mod generate;
#[path = "jit/support.rs"]
mod support;

use flowc_compiler::eval::{Fixed, Frame, Limits};
use flowc_compiler::ir::{Expr, Program, StmtKind};
use flowc_compiler::jit::{Metrics, Mode, Options, Slots, Tiered};
use flowc_compiler::stdlib::{self, SigTy};
use flowc_compiler::value::Value;
use flowc_compiler::{NoImports, SourceFile, analyze};
use generate::{Generator, Rng, Want};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use support::{Answer, Env, Tier, same_answer, same_value, show};

// ------------------------------------------------------------ the property

/// Expressions per differential test; four tests make 100,000.
const CASES: u64 = 25_000;
/// Random inputs each expression is evaluated over.
const INPUTS_PER_CASE: usize = 4;
/// The default seed: CI runs the same 100,000 cases every time.
const SEED: u64 = 0x0F10_5EED_2026_0008;

/// What one differential run did.
#[derive(Default)]
struct Stats {
    generated: u64,
    rejected: u64,
    reject_examples: Vec<String>,
    compiled: u64,
    unsupported: BTreeMap<String, u64>,
    evaluations: u64,
    native: u64,
    bailed: u64,
    /// Native answers over filled and decoded slots, checked besides the frame's.
    slot_answers: u64,
    errors: BTreeMap<&'static str, u64>,
    failures: Vec<String>,
    failed: u64,
}

impl Stats {
    fn report(&self, name: &str) -> String {
        let checked = self.generated - self.rejected;
        let mut text = format!(
            "{name}: {} generated, {} rejected by the checker, {checked} checked; \
             {} compiled ({:.1}%); {} evaluations: {} native ({:.1}%), {} bailed, \
             {} interpreted; {} slot answers; interpreter errors {:?}",
            self.generated,
            self.rejected,
            self.compiled,
            percent(self.compiled, checked),
            self.evaluations,
            self.native,
            percent(self.native, self.evaluations),
            self.bailed,
            self.evaluations - self.native - self.bailed,
            self.slot_answers,
            self.errors,
        );
        let mut reasons: Vec<_> = self.unsupported.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1));
        for (reason, count) in reasons.iter().take(8) {
            let _ = write!(text, "\n  unsupported ×{count}: {reason}");
        }
        for example in self.reject_examples.iter().take(3) {
            let _ = write!(text, "\n  rejected: {example}");
        }
        text
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Runs the differential property over `cases` expressions of the wanted types
/// and asserts it, with the coverage once the code generator exists.
fn differential(name: &str, salt: u64, wants: &[Want]) {
    let env = Env::new();
    let seed = env_number("FLOWC_JIT_SEED").unwrap_or(SEED) ^ salt;
    let cases = env_number("FLOWC_JIT_CASES").unwrap_or(CASES);
    let only = env_number("FLOWC_JIT_CASE");
    eprintln!(
        "{name}: seed {seed:#x} (FLOWC_JIT_SEED={:#x}), {cases} cases",
        seed ^ salt
    );
    let mut stats = Stats::default();
    let mut slots = Slots::new();
    let seeds: Vec<u64> = match only {
        Some(case) => vec![case],
        None => (0..cases)
            .map(|index| generate::case_seed(seed, index))
            .collect(),
    };
    for case in seeds {
        one_case(&env, case, wants, &mut slots, &mut stats);
    }
    let report = stats.report(name);
    eprintln!("{report}");
    assert!(
        stats.failures.is_empty(),
        "{name}: {} of {} evaluations differ (first ones below); replay one with \
         FLOWC_JIT_CASE=<case> cargo test -p flowc-compiler --test jit {name}\n\n{}\n\n{report}",
        stats.failed,
        stats.evaluations,
        stats.failures.join("\n\n"),
    );
    if only.is_some() {
        return;
    }
    assert!(stats.generated >= cases, "{report}");
    // The generator must make well-typed expressions, or the property tests the
    // checker's rejections instead of the JIT.
    assert!(
        stats.rejected * 100 <= stats.generated * 3,
        "too many generated expressions do not check\n{report}"
    );
    // Coverage, so the property cannot hold by compiling nothing. At 3e592a4
    // about 94% of the expressions compiled and 73–80% of the evaluations were
    // answered natively (the rest bailed on errors, limits and inputs of other
    // kinds); these bounds leave room for the generator to change.
    let checked = stats.generated - stats.rejected;
    assert!(
        stats.compiled * 100 >= checked * 85,
        "fewer than 85% of the expressions compiled\n{report}"
    );
    assert!(
        stats.native * 100 >= stats.evaluations * 60,
        "fewer than 60% of the evaluations ran natively\n{report}"
    );
}

fn one_case(env: &Env, case: u64, wants: &[Want], slots: &mut Slots, stats: &mut Stats) {
    let mut rng = Rng::new(case);
    let source = Generator::new(&mut rng).top(wants);
    stats.generated += 1;
    let checked = match env.check(&source) {
        Ok(checked) => checked,
        Err(diagnostics) => {
            stats.rejected += 1;
            if stats.reject_examples.len() < 3 {
                let first = diagnostics
                    .first()
                    .map(|d| format!("{} {}", d.code, d.message))
                    .unwrap_or_default();
                stats.reject_examples.push(format!("{source}  ({first})"));
            }
            return;
        }
    };
    let compiled = match env.compile(&checked) {
        Ok(code) => {
            stats.compiled += 1;
            Some(code)
        }
        Err(unsupported) => {
            *stats.unsupported.entry(unsupported.reason).or_default() += 1;
            None
        }
    };
    for round in 0..INPUTS_PER_CASE {
        let input = generate::input(&mut rng);
        let limits = generate::limits(&mut rng);
        let expected = checked.interpret(&input, &limits);
        let (answer, tier) = support::tiered(compiled.as_ref(), &checked, &input, &limits);
        stats.evaluations += 1;
        match tier {
            Tier::Native => stats.native += 1,
            Tier::Bailed => stats.bailed += 1,
            Tier::Interpreted => {}
        }
        if let Err(error) = &expected {
            *stats.errors.entry(error.code.as_str()).or_default() += 1;
        }
        let mut differs = |path: &str, got: &Answer, want: &Answer, input: &Value| {
            stats.failed += 1;
            if stats.failures.len() < 6 {
                stats.failures.push(format!(
                    "case {case:#x} ({path}): {source}\n  input: {input:?}\n  limits: {limits:?}\n  \
                     interpreter: {}\n  jit:         {}",
                    show(want),
                    show(got),
                ));
            }
        };
        if !same_answer(&answer, &expected) {
            differs("frame", &answer, &expected, &input);
        }
        let Some(code) = &compiled else { continue };
        if let Some(value) = support::filled(code, &input, &limits, slots) {
            stats.slot_answers += 1;
            let got = Ok(value);
            if !same_answer(&got, &expected) {
                differs("filled slots", &got, &expected, &input);
            }
        }
        // The answer written as JSON from the output slots is the text of the
        // interpreter's value (`flowc eval --lines` prints either).
        if let Some(text) = support::filled_json(code, &input, &limits, slots) {
            stats.slot_answers += 1;
            let want = match &expected {
                Ok(value) => serde_json::to_string(&value.to_json()).ok(),
                Err(_) => None,
            };
            let got = String::from_utf8(text).ok();
            if got.is_none() || got != want {
                let text = |json: Option<String>| Ok(Value::string(json.unwrap_or_default()));
                differs("filled slots, JSON text", &text(got), &text(want), &input);
            }
        }
        if let Some(b) = support::filled_bool(code, &input, &limits, slots) {
            stats.slot_answers += 1;
            let got = Ok(Value::Bool(b));
            if !same_answer(&got, &expected) {
                differs("filled slots, eval_bool_slots", &got, &expected, &input);
            }
        }
        // JSON text has no NaN or infinities and no kinds beyond its own, so the
        // decoded input is compared with the interpreter over the same text. Once
        // per expression: printing and parsing JSON costs more than the rest.
        if round > 0 {
            continue;
        }
        let json = input.to_json();
        let text = json.to_string();
        if let Some(value) = support::decoded(code, &text, &limits, slots) {
            stats.slot_answers += 1;
            let parsed = Value::from_json(&json);
            let want = if same_value(&parsed, &input) {
                expected.clone()
            } else {
                checked.interpret(&parsed, &limits)
            };
            let got = Ok(value);
            if !same_answer(&got, &want) {
                differs("decoded JSON", &got, &want, &parsed);
            }
        }
    }
}

#[test]
fn differential_conditions() {
    differential("differential_conditions", 1, &[Want::Bool]);
}

#[test]
fn differential_numbers() {
    differential(
        "differential_numbers",
        2,
        &[Want::Int, Want::Float, Want::Dur, Want::Time],
    );
}

#[test]
fn differential_strings() {
    differential("differential_strings", 3, &[Want::Str]);
}

#[test]
fn differential_everything() {
    differential("differential_everything", 4, &Want::ALL);
}

/// The generator reaches what it must: every error code that scalar
/// expressions can raise, and every operator, over a smaller run. Without
/// this, a change to the generator could quietly stop testing the error paths.
#[test]
fn the_generator_reaches_the_error_cases() {
    let env = Env::new();
    let mut codes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut sources = String::new();
    for index in 0..3_000 {
        let mut rng = Rng::new(generate::case_seed(SEED, index));
        let source = Generator::new(&mut rng).top(&Want::ALL);
        let Ok(checked) = env.check(&source) else {
            continue;
        };
        sources.push_str(&source);
        for _ in 0..INPUTS_PER_CASE {
            let input = generate::input(&mut rng);
            let limits = generate::limits(&mut rng);
            if let Err(error) = checked.interpret(&input, &limits) {
                *codes.entry(error.code.as_str()).or_default() += 1;
            }
        }
    }
    eprintln!("errors met: {codes:?}");
    for code in [
        "R0001", "R0002", "R0004", "R0006", "R0007", "R0008", "R0009", "R0010",
    ] {
        assert!(codes.contains_key(code), "no {code} in {codes:?}");
    }
    for form in [
        "?.", "??", " % ", " / ", " in ", "${", "if ", "!", "&&", "||", "== null", "{ zeta:",
        ": { g:",
    ] {
        assert!(sources.contains(form), "no `{form}` generated");
    }
}

/// The comparison the property is stated in tells apart what must differ, so
/// a wrong native answer cannot pass as the same.
#[test]
fn the_comparison_tells_answers_apart() {
    let nan = f64::NAN;
    assert!(same_value(&Value::Float(nan), &Value::Float(-nan)));
    assert!(!same_value(&Value::Float(0.0), &Value::Float(-0.0)));
    assert!(!same_value(&Value::Float(nan), &Value::Float(0.0)));
    assert!(!same_value(&Value::Int(1), &Value::Float(1.0)));
    assert!(!same_value(&Value::Int(1), &Value::Duration(1)));
    assert!(!same_value(&Value::Time(1), &Value::Duration(1)));
    assert!(!same_value(&Value::string("a"), &Value::string("A")));
    assert!(!same_value(&Value::Null, &Value::Bool(false)));
    assert!(!same_value(
        &Value::record([("a", Value::Int(1))]),
        &Value::record([("a", Value::Int(1)), ("b", Value::Null)])
    ));
    assert!(!same_value(
        &Value::list(vec![Value::Int(1)]),
        &Value::list(vec![Value::Int(1), Value::Int(1)])
    ));
    // Errors: the same code and message at another span are another answer.
    let env = Env::new();
    let input = input_with(&[("j", Value::Int(0))]);
    let limits = Limits::default();
    let bare = env.expect("input.i / input.j").interpret(&input, &limits);
    let grouped = env.expect("(input.i / input.j)").interpret(&input, &limits);
    let again = env.expect("input.i / input.j").interpret(&input, &limits);
    assert!(bare.is_err() && grouped.is_err());
    assert!(same_answer(&bare, &again));
    assert!(!same_answer(&bare, &grouped), "{bare:?} {grouped:?}");
    assert!(!same_answer(&bare, &Ok(Value::Int(0))));
}

// ------------------------------------------------------------ regressions

/// The base input of hand-written cases, with `changes` applied (a field name,
/// or `r.x` style for the nested record).
fn input_with(changes: &[(&str, Value)]) -> Value {
    let mut fields: BTreeMap<String, Value> = [
        ("i", Value::Int(5)),
        ("j", Value::Int(-3)),
        ("f", Value::Float(2.5)),
        ("g", Value::Float(-0.0)),
        ("s", Value::string("Héllo Wörld")),
        ("t", Value::string("l")),
        ("b", Value::Bool(true)),
        ("d", Value::Duration(90_000)),
        ("at", Value::Time(1_714_564_800_000)),
        ("n", Value::Int(7)),
        ("m", Value::string("x")),
        ("z", Value::Float(1.5)),
        ("o", Value::record([("x", Value::Int(2))])),
        ("xs", ints(&[3, -1, 7])),
        (
            "fs",
            Value::list(vec![Value::Float(0.5), Value::Float(-2.0)]),
        ),
        (
            "ws",
            Value::list(vec![Value::string("a"), Value::string("Héllo")]),
        ),
        (
            "items",
            Value::list(vec![Value::record([
                ("p", Value::Float(1.5)),
                ("q", Value::Int(2)),
                ("name", Value::string("a")),
            ])]),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let mut r: BTreeMap<String, Value> = [
        ("x", Value::Int(1)),
        ("y", Value::string("aGk=")),
        ("q", Value::record([("w", Value::Float(0.25))])),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    for (name, value) in changes {
        match name.strip_prefix("r.") {
            Some(inner) => {
                r.insert(inner.to_owned(), value.clone());
            }
            None if value_is_absent(value) => {
                fields.remove(*name);
            }
            None => {
                fields.insert((*name).to_owned(), value.clone());
            }
        }
    }
    fields.insert("r".to_owned(), Value::record(r));
    Value::record(fields)
}

fn ints(items: &[i64]) -> Value {
    Value::list(items.iter().map(|i| Value::Int(*i)).collect())
}

/// A marker for "remove the field" in [`input_with`]: a secret never occurs in
/// an input otherwise.
fn absent() -> Value {
    Value::Secret(Arc::new(Vec::new()))
}

fn value_is_absent(value: &Value) -> bool {
    matches!(value, Value::Secret(parts) if parts.is_empty())
}

/// Asserts the tiered answer of `source` over `input` is the interpreter's, and
/// returns it with the tier that gave it.
fn agree(env: &Env, source: &str, input: &Value, limits: &Limits) -> (Answer, Tier) {
    let checked = env.expect(source);
    let compiled = env.compile(&checked).ok();
    let expected = checked.interpret(input, limits);
    let (answer, tier) = support::tiered(compiled.as_ref(), &checked, input, limits);
    assert!(
        same_answer(&answer, &expected),
        "`{source}` over {input:?} with {limits:?}\n  interpreter: {}\n  jit ({tier:?}): {}",
        show(&expected),
        show(&answer)
    );
    (answer, tier)
}

/// The edges the generator finds only by chance, written down: each must give
/// the interpreter's answer through both tiers. A counterexample the property
/// finds is added here, with a comment saying what went wrong (none so far).
#[test]
fn edges_by_hand() {
    let env = Env::new();
    let default = Limits::default();
    let nan = Value::Float(f64::NAN);
    let cases: Vec<(&str, Vec<(&str, Value)>)> = vec![
        ("input.i + 1", vec![("i", Value::Int(i64::MAX))]),
        ("input.i - 1", vec![("i", Value::Int(i64::MIN))]),
        (
            "input.i * input.j",
            vec![("i", Value::Int(i64::MIN)), ("j", Value::Int(-1))],
        ),
        (
            "input.i / input.j",
            vec![("i", Value::Int(i64::MIN)), ("j", Value::Int(-1))],
        ),
        (
            "input.i % input.j",
            vec![("i", Value::Int(i64::MIN)), ("j", Value::Int(-1))],
        ),
        ("input.i / input.j", vec![("j", Value::Int(0))]),
        ("input.i % input.j", vec![("j", Value::Int(0))]),
        ("-input.i", vec![("i", Value::Int(i64::MIN))]),
        ("abs(input.i)", vec![("i", Value::Int(i64::MIN))]),
        (
            "input.i / input.j",
            vec![("i", Value::Int(-7)), ("j", Value::Int(2))],
        ),
        (
            "input.i % input.j",
            vec![("i", Value::Int(-7)), ("j", Value::Int(2))],
        ),
        ("input.f < input.g", vec![("f", nan.clone())]),
        ("input.f != input.f", vec![("f", nan.clone())]),
        ("input.f == input.f", vec![("f", nan.clone())]),
        (
            "input.i == input.f",
            vec![("i", Value::Int(3)), ("f", Value::Float(3.0))],
        ),
        (
            "input.i < input.f",
            vec![
                ("i", Value::Int(i64::MAX)),
                ("f", Value::Float(9_223_372_036_854_775_807.0)),
            ],
        ),
        ("input.f + input.i", vec![("i", Value::Int(i64::MAX))]),
        ("input.f / input.g", vec![("g", Value::Float(0.0))]),
        ("input.f / input.g", vec![("g", Value::Float(-0.0))]),
        ("-input.g", vec![]),
        ("input.g * 1.0", vec![]),
        (
            "input.s < input.t",
            vec![("s", Value::string("é")), ("t", Value::string("z"))],
        ),
        (
            "input.s < input.t",
            vec![("s", Value::string("Z")), ("t", Value::string("a"))],
        ),
        ("input.t in input.s", vec![("t", Value::string(""))]),
        ("input.s + input.t", vec![]),
        ("input.d * input.i", vec![("i", Value::Int(i64::MAX))]),
        ("input.d / input.i", vec![("i", Value::Int(0))]),
        ("input.at + input.d", vec![("d", Value::Duration(i64::MAX))]),
        ("input.at - input.at", vec![("at", Value::Time(i64::MIN))]),
        ("input.n ?? 3", vec![("n", Value::Null)]),
        ("input.o?.x ?? 3", vec![("o", Value::Null)]),
        ("input.n == null", vec![("n", Value::Null)]),
        ("input.n == 7", vec![]),
        ("input.m != null && input.b", vec![]),
        (
            "if input.b then input.i else input.j",
            vec![("b", Value::Bool(false))],
        ),
        (
            "\"${input.f} and ${input.d} at ${input.at}\"",
            vec![("f", Value::Float(-0.0))],
        ),
        ("\"${input.n}\"", vec![("n", Value::Null)]),
        (
            "{ a: input.i + 1, b: input.s, c: input.z }",
            vec![("z", Value::Null)],
        ),
        // Inputs that do not match the declared type: native code must hand
        // these back, and the interpreter says what is wrong.
        ("input.i + 1", vec![("i", Value::string("7"))]),
        ("input.i + 1", vec![("i", absent())]),
        ("input.i + 1", vec![("i", Value::Null)]),
        ("input.f + 1.0", vec![("f", Value::Int(2))]),
        ("input.r.q.w", vec![("r.q", Value::Null)]),
        ("input.r.x + 1", vec![("r.x", Value::Null)]),
        ("input.o?.x ?? 0", vec![("o", Value::Int(3))]),
        ("len(input.s)", vec![("s", Value::Int(3))]),
        ("input.b && input.b", vec![("b", Value::Null)]),
        ("!input.b", vec![("b", Value::Int(1))]),
        // Lists: indexes out of range and negative, sums that overflow or meet a
        // NaN, loops over empty lists and over elements of another kind.
        ("input.xs[input.i]", vec![("i", Value::Int(3))]),
        ("input.xs[input.i]", vec![("i", Value::Int(-1))]),
        ("input.xs[input.i]", vec![("i", Value::Int(i64::MIN))]),
        ("input.items[input.i].q", vec![("i", Value::Int(1))]),
        ("input.xs.sum()", vec![("xs", ints(&[i64::MAX, 1]))]),
        (
            "input.xs.map(v => v * 2).sum()",
            vec![("xs", ints(&[i64::MIN]))],
        ),
        ("input.xs.map(v => v + 1)", vec![]),
        ("input.xs.filter(v => v > 0)", vec![("xs", ints(&[]))]),
        (
            "input.fs.sum()",
            vec![("fs", Value::list(vec![Value::Float(f64::NAN)]))],
        ),
        ("input.xs.any(v => v == 0)", vec![("xs", ints(&[]))]),
        ("input.xs.all(v => v == 0)", vec![("xs", ints(&[]))]),
        (
            "input.xs.count(v => 10 / v > 1)",
            vec![("xs", ints(&[1, 0]))],
        ),
        (
            "\"a\" in input.ws",
            vec![("ws", Value::list(vec![Value::Int(1)]))],
        ),
        (
            "input.xs.any(v => v > 2)",
            vec![("xs", Value::list(vec![Value::string("x")]))],
        ),
        ("len(input.xs) + input.i", vec![("xs", Value::Null)]),
        ("input.items.map(v => v.p * v.q).sum()", vec![]),
        ("join(input.items.map(v => v.name), \",\")", vec![]),
        ("to_string(input.xs)", vec![]),
        (
            "(max(input.xs) ?? 0) + (min(input.fs) ?? 0.0)",
            vec![("xs", ints(&[]))],
        ),
    ];
    for (source, changes) in &cases {
        let _ = agree(&env, source, &input_with(changes), &default);
    }
    // The limits: each is met by the interpreter, so native code must not answer.
    let tight = [
        Limits {
            max_steps: 3,
            ..Limits::default()
        },
        Limits {
            max_depth: 2,
            ..Limits::default()
        },
        Limits {
            max_bytes: 4,
            ..Limits::default()
        },
    ];
    for limits in &tight {
        let mut met = 0;
        for source in [
            "input.i + input.j + input.i + input.j",
            "input.s + input.s + input.s",
            "upper(input.s)",
            "replace(input.s, \"l\", \"llll\")",
            "\"${input.s}${input.s}\"",
            "((input.i + 1) * 2) > 3",
        ] {
            let (answer, _) = agree(&env, source, &input_with(&[]), limits);
            met += usize::from(answer.is_err());
        }
        assert!(met > 0, "no case meets {limits:?}");
    }
}

/// JSON text decoded straight into the slots gives the answer the interpreter
/// gives over the same text parsed into a value, and is refused exactly when
/// serde_json refuses it: duplicate fields, numbers at and beyond the `int`
/// range, ints for floats, escapes, `null` and other kinds on the way to a
/// field, lists, and text that is not one document.
#[test]
fn decoding_json_text_agrees_with_the_interpreter() {
    let env = Env::new();
    let sources = [
        "input.i + 1",
        "input.f * 2.0",
        "input.s + input.t",
        "len(input.s)",
        "input.r.q.w",
        "input.r.x",
        "input.o?.x ?? 0",
        "input.n ?? -1",
        "input.b || input.i > 0",
        "len(input.xs)",
        "input.xs.sum()",
        "input.items.map(v => v.q).sum()",
        "2 in input.xs",
        "{ a: input.i, b: input.m }",
    ];
    let deep = format!(
        "{{\"zz\": {}1{}, \"i\": 1}}",
        "[".repeat(130),
        "]".repeat(130)
    );
    let texts = [
        r#"{"i": 1, "i": 2}"#,
        r#"{"i": 9223372036854775807}"#,
        r#"{"i": 9223372036854775808}"#,
        r#"{"i": -9223372036854775808}"#,
        r#"{"i": -9223372036854775809}"#,
        r#"{"i": 1.0}"#,
        r#"{"i": 1e2}"#,
        r#"{"i": "1"}"#,
        r#"{"i": null}"#,
        r#"{}"#,
        r#"{"f": 1}"#,
        r#"{"f": -0.0}"#,
        r#"{"f": 1e308}"#,
        r#"{"f": 1e400}"#,
        r#"{"s": "\u00e9\ud83c\udf89", "t": "\n"}"#,
        r#"{"s": "\ud800"}"#,
        r#"{"s": 1, "t": "x"}"#,
        r#"{"r": {"q": {"w": 2.5}, "x": 1, "y": "z"}}"#,
        r#"{"r": {"x": 1, "q": {"w": 2.5}, "x": 2}}"#,
        r#"{"r": null}"#,
        r#"{"r": []}"#,
        r#"{"r": {"q": null}}"#,
        r#"{"o": null}"#,
        r#"{"o": {"x": 3}}"#,
        r#"{"o": 5}"#,
        r#"{"o": {"y": 3}}"#,
        r#"{"n": 4, "m": "a"}"#,
        r#"{"n": 4.5, "m": 1}"#,
        r#"{"b": true, "i": -1}"#,
        r#"{"b": 1}"#,
        r#"{"xs": [1, 2, 3]}"#,
        r#"{"xs": [1, "a"]}"#,
        r#"{"xs": [9223372036854775807, 1]}"#,
        r#"{"xs": null}"#,
        r#"{"xs": {}}"#,
        r#"{"items": [{"q": 1}, {"q": 9223372036854775807}]}"#,
        r#"{"items": [{"q": 1, "p": 0.5}, {"q": 2, "name": null}]}"#,
        r#"{"extra": {"a": [1, {"b": null}], "c": "\u0000"}, "i": 3}"#,
        r#"[1, 2]"#,
        r#"null"#,
        r#""text""#,
        r#"{"i": 1} x"#,
        r#"{"i": 1,}"#,
        r#""#,
        &deep,
    ];
    let limits = Limits::default();
    let mut slots = Slots::new();
    let mut native = 0;
    for source in sources {
        let checked = env.expect(source);
        let code = env.compile(&checked).expect("the expression compiles");
        for text in texts {
            let parsed = serde_json::from_str::<serde_json::Value>(text);
            let decoded = flowc_compiler::jit::decode::decode(code.layout(), text, &mut slots);
            assert_eq!(
                parsed.is_ok(),
                decoded.is_ok(),
                "`{source}` over {text:?}: serde_json {parsed:?}, decode {decoded:?}"
            );
            let Ok(json) = parsed else { continue };
            let Some(value) = code.eval_slots(&slots, &limits) else {
                continue;
            };
            native += 1;
            let want = checked.interpret(&Value::from_json(&json), &limits);
            let got = Ok(value);
            assert!(
                same_answer(&got, &want),
                "`{source}` over {text}\n  interpreter: {}\n  decoded:     {}",
                show(&want),
                show(&got)
            );
        }
    }
    assert!(native > 50, "only {native} native answers");
}

// ------------------------------------------------------------ the stdlib

/// Calls of every stdlib function with a scalar signature, over fields of the
/// input (so the arguments vary with the inputs below).
const STDLIB: &[(&str, &[&str])] = &[
    (
        "abs",
        &[
            "abs(input.i)",
            "abs(input.f)",
            "abs(input.d)",
            "input.j.abs()",
        ],
    ),
    ("base64", &["base64(input.s)", "input.t.base64()"]),
    (
        "base64_decode",
        &["base64_decode(input.r.y)", "base64_decode(input.s)"],
    ),
    (
        "ceil",
        &["ceil(input.f)", "ceil(input.i)", "input.g.ceil()"],
    ),
    (
        "contains",
        &["contains(input.s, input.t)", "input.s.contains(\"l\")"],
    ),
    (
        "ends_with",
        &["ends_with(input.s, input.t)", "input.s.ends_with(\"d\")"],
    ),
    (
        "floor",
        &["floor(input.f)", "floor(input.i)", "input.g.floor()"],
    ),
    (
        "format_time",
        &[
            "format_time(input.at)",
            "format_time(input.at, \"%Y-%m-%d %H:%M\", \"Europe/Lisbon\")",
            "format_time(input.at, input.t)",
            "format_time(input.at, \"%H\", input.t)",
        ],
    ),
    ("len", &["len(input.s)", "input.t.len()"]),
    ("lower", &["lower(input.s)", "input.t.lower()"]),
    (
        "max",
        &[
            "max(input.i, input.j)",
            "max(input.f, input.g)",
            "max(input.s, input.t)",
            "max(input.d, 1s)",
            "max(input.at, input.at)",
        ],
    ),
    (
        "min",
        &[
            "min(input.i, input.j)",
            "min(input.f, input.g)",
            "min(input.s, input.t)",
            "min(input.d, 1s)",
            "min(input.at, input.at)",
        ],
    ),
    ("parse_json", &["to_string(parse_json(input.s))"]),
    (
        "parse_time",
        &[
            "parse_time(input.s) == null",
            "to_string(parse_time(input.r.y))",
        ],
    ),
    (
        "replace",
        &[
            "replace(input.s, input.t, \"xyz\")",
            "replace(input.s, \"l\", input.s)",
        ],
    ),
    ("reverse", &["reverse(input.s)", "input.t.reverse()"]),
    (
        "round",
        &["round(input.f)", "round(input.i)", "input.g.round()"],
    ),
    ("sha256", &["sha256(input.s)"]),
    (
        "slice",
        &[
            "slice(input.s, input.i)",
            "slice(input.s, input.j, input.i)",
            "input.t.slice(1)",
        ],
    ),
    (
        "starts_with",
        &[
            "starts_with(input.s, input.t)",
            "input.s.starts_with(\"H\")",
        ],
    ),
    (
        "to_float",
        &["to_float(input.i)", "to_float(input.s) ?? 0.5"],
    ),
    ("to_int", &["to_int(input.f)", "to_int(input.s) ?? -1"]),
    (
        "to_json",
        &[
            "to_json(input.s)",
            "to_json(input.f)",
            "to_json(input.d)",
            "to_json(input.n)",
        ],
    ),
    (
        "to_string",
        &[
            "to_string(input.f)",
            "to_string(input.d)",
            "to_string(input.n)",
            "to_string(input.at)",
        ],
    ),
    ("trim", &["trim(input.s)", "input.t.trim()"]),
    ("upper", &["upper(input.s)", "input.t.upper()"]),
];

/// Inputs for the stdlib cases: ordinary ones, edges (extreme numbers, NaN,
/// empty and non-ASCII text, nulls), and fields of the wrong kind.
fn stdlib_inputs() -> Vec<(Value, Limits)> {
    let default = Limits::default();
    let edges = [
        vec![],
        vec![
            ("i", Value::Int(i64::MIN)),
            ("j", Value::Int(-1)),
            ("f", Value::Float(f64::NAN)),
            ("g", Value::Float(f64::INFINITY)),
            ("s", Value::string("")),
            ("t", Value::string("")),
            ("n", Value::Null),
            ("m", Value::Null),
            ("z", Value::Null),
            ("o", Value::Null),
            ("d", Value::Duration(i64::MIN)),
            ("at", Value::Time(i64::MAX)),
        ],
        vec![
            ("f", Value::Float(9.3e18)),
            ("g", Value::Float(-2.5)),
            ("s", Value::string(" 42 ")),
            ("t", Value::string("%Y")),
            ("r.y", Value::string("!!")),
        ],
        vec![
            ("f", Value::Float(-0.5)),
            ("s", Value::string("日本🎉")),
            ("t", Value::string("本")),
            ("r.y", Value::string("2024-05-01T12:00:00+02:00")),
        ],
        vec![
            ("s", Value::string("[1, {\"a\": null}]")),
            ("t", Value::string("Asia/Tokyo")),
        ],
        vec![
            ("s", Value::Int(3)),
            ("t", Value::Null),
            ("f", Value::string("x")),
            ("g", Value::Null),
            ("i", Value::Float(1.5)),
            ("j", absent()),
            ("d", Value::Int(5)),
            ("at", Value::string("now")),
            ("r.y", Value::Null),
        ],
    ];
    let mut inputs: Vec<(Value, Limits)> = edges
        .iter()
        .map(|changes| (input_with(changes), default.clone()))
        .collect();
    inputs.push((
        input_with(&[]),
        Limits {
            max_bytes: 4,
            ..Limits::default()
        },
    ));
    inputs.push((
        input_with(&[]),
        Limits {
            max_steps: 1,
            ..Limits::default()
        },
    ));
    inputs
}

/// Whether a signature type is one native code could take or give: a scalar,
/// possibly optional.
fn scalar(ty: &SigTy) -> bool {
    match ty {
        SigTy::Bool
        | SigTy::Int
        | SigTy::Float
        | SigTy::String
        | SigTy::Duration
        | SigTy::Time
        | SigTy::Var(_) => true,
        SigTy::Optional(inner) => scalar(inner),
        _ => false,
    }
}

/// Every stdlib function with a scalar overload has cases above, so a new
/// function cannot be supported by the JIT untested.
#[test]
fn stdlib_table_covers_every_scalar_function() {
    let listed: Vec<&str> = STDLIB.iter().map(|(name, _)| *name).collect();
    for builtin in stdlib::all() {
        let has_scalar = builtin.overloads.iter().any(|overload| {
            overload.params.iter().all(|param| scalar(&param.ty))
                && !overload.params.is_empty()
                && (scalar(&overload.ret) || overload.ret == SigTy::Json)
        });
        if has_scalar && !builtin.recorded {
            assert!(
                listed.contains(&builtin.name),
                "`{}` has a scalar signature but no case in STDLIB",
                builtin.name
            );
        }
    }
    for name in listed {
        assert!(
            stdlib::lookup(name).is_some(),
            "`{name}` is not a stdlib function"
        );
    }
}

#[test]
fn every_stdlib_function_through_both_tiers() {
    let env = Env::new();
    let inputs = stdlib_inputs();
    let mut supported = Vec::new();
    let mut declined = Vec::new();
    for (name, sources) in STDLIB {
        let mut errors = 0;
        let mut native = 0;
        let mut compiled_any = false;
        for source in *sources {
            let checked = env.expect(source);
            let compiled = env.compile(&checked);
            compiled_any |= compiled.is_ok();
            let compiled = compiled.ok();
            for (input, limits) in &inputs {
                let expected = checked.interpret(input, limits);
                let (answer, tier) = support::tiered(compiled.as_ref(), &checked, input, limits);
                assert!(
                    same_answer(&answer, &expected),
                    "`{source}` over {input:?} with {limits:?}\n  interpreter: {}\n  \
                     jit ({tier:?}): {}",
                    show(&expected),
                    show(&answer)
                );
                errors += u32::from(expected.is_err());
                native += u32::from(tier == Tier::Native);
            }
        }
        assert!(errors > 0, "no input makes `{name}` fail");
        if compiled_any {
            // A function the JIT supports must also answer natively somewhere,
            // or its support is never exercised.
            assert!(native > 0, "`{name}` compiles but never answers natively");
            supported.push(*name);
        } else {
            declined.push(*name);
        }
    }
    eprintln!("stdlib compiled: {supported:?}\nstdlib interpreted: {declined:?}");
    // Every function with a scalar result is compiled (through a helper call
    // where native code is not worth it); `parse_json` gives `json`, which
    // native code does not handle.
    assert_eq!(declined, ["parse_json"], "compiled: {supported:?}");
}

// ------------------------------------------------------------ tiering

const TIERING_PROGRAM: &str = r#"
type Order = { amount: int, currency: string, score: int, note: string? }

workflow hot(order: Order) -> { ok: bool, total: int, label: string } {
  on manual
  let ok = order.amount > 1000 && order.currency == "BRL" && order.score < 80
  let total = order.amount * 2 + order.score
  let label = "${order.currency}-${order.note ?? "none"}"
  return { ok: ok, total: total, label: label }
}
"#;

/// The program, its workflow's frame size and its root expressions in order:
/// the three `let`s, then the `return`.
fn tiering_program() -> (Arc<Program>, usize) {
    let analysis = analyze(
        vec![SourceFile {
            path: "hot.flow".into(),
            text: TIERING_PROGRAM.into(),
        }],
        &NoImports,
    );
    assert!(!analysis.has_errors(), "{:#?}", analysis.diagnostics);
    let program = Arc::new(analysis.program);
    let size = usize::try_from(program.workflows[0].frame_size).unwrap_or(0);
    (program, size)
}

/// The `let` values (with their slots) and the `return` value of the workflow.
fn roots(program: &Program) -> (Vec<(u32, &Expr)>, &Expr) {
    let mut lets = Vec::new();
    let mut ret = None;
    for stmt in &program.workflows[0].body {
        match &stmt.kind {
            StmtKind::Let { slot, value } => lets.push((*slot, value)),
            StmtKind::Return { value: Some(value) } => ret = Some(value),
            _ => {}
        }
    }
    (lets, ret.expect("the workflow returns a value"))
}

fn order(index: i64) -> Value {
    Value::record([
        ("amount", Value::Int(index * 250)),
        (
            "currency",
            Value::string(if index % 3 == 0 { "BRL" } else { "USD" }),
        ),
        ("score", Value::Int(index % 100)),
        (
            "note",
            if index % 2 == 0 {
                Value::Null
            } else {
                Value::string("rush")
            },
        ),
    ])
}

/// One run of the workflow's expressions through `tiered`: its output.
fn run_once(tiered: &Tiered, program: &Program, size: usize, input: Value) -> Value {
    let (lets, ret) = roots(program);
    let mut frame = Frame::with_input(size, input);
    let ctx = Fixed::new(0);
    let limits = Limits::default();
    for (slot, expr) in lets {
        let value = tiered
            .eval(expr, &mut frame, &ctx, &limits)
            .expect("the mapping does not fail");
        frame.set(slot, value);
    }
    tiered
        .eval(ret, &mut frame, &ctx, &limits)
        .expect("the output does not fail")
}

/// The outputs of `runs` runs under `options`, with the metrics after each run.
fn runs(options: Options, runs: i64) -> (Vec<Value>, Vec<Metrics>, Tiered) {
    let (program, size) = tiering_program();
    let tiered = Tiered::new(program.clone(), options);
    let mut outputs = Vec::new();
    let mut metrics = Vec::new();
    for index in 0..runs {
        outputs.push(run_once(&tiered, &program, size, order(index)));
        if options.mode == Mode::Auto && index + 1 == i64::try_from(options.threshold).unwrap_or(0)
        {
            // The threshold was reached in this run: let the compiler thread
            // finish before the next one, so what follows is deterministic.
            tiered.wait_idle();
        }
        metrics.push(tiered.metrics());
    }
    (outputs, metrics, tiered)
}

/// How many of the program's four root expressions the JIT compiles, asked
/// directly: what the tiered evaluator must end up with.
fn supported_roots() -> u64 {
    let (program, _) = tiering_program();
    let (lets, ret) = roots(&program);
    lets.iter()
        .map(|(_, expr)| *expr)
        .chain([ret])
        .filter(|expr| flowc_compiler::jit::compile(expr, &program.types).is_ok())
        .count() as u64
}

#[test]
fn tiering_switches_after_the_threshold_and_agrees_across_modes() {
    const RUNS: i64 = 20;
    const THRESHOLD: u64 = 5;
    const ROOTS: u64 = 4;
    let supported = supported_roots();
    assert_eq!(
        supported, ROOTS,
        "every root expression of the program should compile"
    );

    let (auto, auto_metrics, _) = runs(
        Options {
            mode: Mode::Auto,
            threshold: THRESHOLD,
        },
        RUNS,
    );
    let (off, off_metrics, _) = runs(
        Options {
            mode: Mode::Off,
            threshold: THRESHOLD,
        },
        RUNS,
    );
    let (always, always_metrics, _) = runs(
        Options {
            mode: Mode::Always,
            threshold: THRESHOLD,
        },
        RUNS,
    );
    eprintln!(
        "auto {:?}\noff {:?}\nalways {:?}",
        auto_metrics.last(),
        off_metrics.last(),
        always_metrics.last()
    );

    // The same values in all three modes, and the interpreter's.
    for (index, ((a, b), c)) in auto.iter().zip(&off).zip(&always).enumerate() {
        assert!(
            same_value(a, b) && same_value(b, c),
            "run {index}: {a:?} {b:?} {c:?}"
        );
    }

    // Before the threshold, `auto` interprets everything and compiles nothing.
    let evaluations = |runs: u64| runs * ROOTS;
    for (run, metrics) in auto_metrics.iter().enumerate().take(4) {
        let done = run as u64 + 1;
        assert_eq!(metrics.compiled, 0, "after run {done}: {metrics:?}");
        assert_eq!(metrics.native, 0, "after run {done}: {metrics:?}");
        assert_eq!(
            metrics.interpreted,
            evaluations(done),
            "after run {done}: {metrics:?}"
        );
    }
    // The run that reaches the threshold queues every expression; once the
    // compiler is idle, each supported one is compiled, and every later
    // evaluation of it is native.
    let at = &auto_metrics[usize::try_from(THRESHOLD - 1).unwrap_or(0)];
    assert_eq!(at.compiled, supported, "{at:?}");
    assert_eq!(at.compiled + at.unsupported, ROOTS, "{at:?}");
    let last = auto_metrics.last().expect("runs");
    let later = (RUNS as u64 - THRESHOLD) * supported;
    assert_eq!(last.compiled, supported, "{last:?}");
    assert_eq!(last.native + last.bailed, later, "{last:?}");
    assert_eq!(last.bailed, 0, "{last:?}");
    assert_eq!(
        last.interpreted,
        evaluations(RUNS as u64) - later,
        "{last:?}"
    );

    // `off` never compiles.
    for metrics in &off_metrics {
        assert_eq!(metrics.compiled, 0, "{metrics:?}");
        assert_eq!(metrics.unsupported, 0, "{metrics:?}");
        assert_eq!(metrics.native, 0, "{metrics:?}");
    }
    assert_eq!(
        off_metrics.last().expect("runs").interpreted,
        evaluations(RUNS as u64)
    );

    // `always` compiles on first use: after one run, everything it supports.
    let first = &always_metrics[0];
    assert_eq!(first.compiled, supported, "{first:?}");
    assert_eq!(first.compiled + first.unsupported, ROOTS, "{first:?}");
    assert_eq!(first.native, supported, "{first:?}");
    let last = always_metrics.last().expect("runs");
    assert_eq!(last.compiled, supported, "{last:?}");
    assert_eq!(last.native, RUNS as u64 * supported, "{last:?}");
}

#[test]
fn tiered_conditions_agree_with_eval_bool() {
    let (program, size) = tiering_program();
    let (lets, _) = roots(&program);
    let condition = lets[0].1;
    for mode in Mode::ALL {
        let tiered = Tiered::new(program.clone(), Options { mode, threshold: 2 });
        for index in 0..10 {
            let input = order(index);
            let mut frame = Frame::with_input(size, input.clone());
            let ctx = Fixed::new(0);
            let limits = Limits::default();
            let got = tiered.eval_bool(condition, &mut frame, &ctx, &limits);
            let want = flowc_compiler::eval::eval_bool(condition, &mut frame, &ctx, &limits);
            assert_eq!(got, want, "{mode} over {input:?}");
            tiered.wait_idle();
        }
        if mode == Mode::Off {
            assert_eq!(tiered.metrics().compiled, 0);
        }
    }
}

/// Several threads share one evaluator, as a deployment's runs do: while the
/// compiler thread swaps code in, every evaluation still gives the
/// interpreter's answer, and each expression is compiled once.
#[test]
fn tiering_is_shared_by_threads() {
    let (program, size) = tiering_program();
    let tiered = Tiered::new(
        program.clone(),
        Options {
            mode: Mode::Auto,
            threshold: 5,
        },
    );
    let reference = Tiered::new(program.clone(), Options::new(Mode::Off));
    std::thread::scope(|scope| {
        for thread in 0..3 {
            let (tiered, reference, program) = (&tiered, &reference, &program);
            scope.spawn(move || {
                for index in 0..300 {
                    let input = order(index * 7 + thread);
                    let got = run_once(tiered, program, size, input.clone());
                    let want = run_once(reference, program, size, input);
                    assert!(same_value(&got, &want), "{got:?} {want:?}");
                }
            });
        }
    });
    tiered.wait_idle();
    let metrics = tiered.metrics();
    eprintln!("{metrics:?}");
    assert_eq!(metrics.compiled, 4, "{metrics:?}");
    assert_eq!(
        metrics.native + metrics.bailed + metrics.interpreted,
        3 * 300 * 4
    );
    assert!(metrics.native > 0, "{metrics:?}");
}

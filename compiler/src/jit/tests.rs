//! Unit tests of the code generator: each expression through both tiers.

use super::{Mode, compile};
use crate::eval::{self, Fixed, Frame, Limits};
use crate::value::Value;
use crate::{ExprEnv, check_expression};

const INPUT: &str = r#"{"amount": 1500.5, "currency": "BRL", "score": 42, "qty": 3, "fee": 2.25,
  "id": 7, "name": "Ana", "big": 9223372036854775807, "zero": 0, "nan": null,
  "customer": {"first": "Ana", "last": "Silva", "address": {"city": "Recife"}}}"#;

/// Evaluates `source` over `INPUT` by both tiers; returns (interpreter, jit
/// compiled?, jit answer or None on bail).
fn both(source: &str) -> (Result<Value, String>, bool, Option<Value>) {
    both_over(INPUT, source)
}

#[track_caller]
fn native(source: &str, expected: &str) {
    let (interpreted, compiled, jit) = both(source);
    assert!(compiled, "{source} was not compiled");
    let interpreted = interpreted.expect("interpreter succeeds");
    assert_eq!(interpreted.to_string(), expected, "{source}");
    let jit = jit.unwrap_or_else(|| panic!("{source} bailed"));
    assert_eq!(jit.to_string(), expected, "{source}");
    assert_eq!(jit.kind(), interpreted.kind(), "{source}");
}

#[track_caller]
fn bails(source: &str, code: &str) {
    let (interpreted, compiled, jit) = both(source);
    assert!(compiled, "{source} was not compiled");
    let error = interpreted.expect_err("interpreter fails");
    assert!(error.starts_with(code), "{source}: {error}");
    assert_eq!(jit, None, "{source} did not bail");
}

#[test]
fn the_benchmark_condition_and_mapping() {
    native(
        r#"input.amount > 1000 && input.currency == "BRL" && input.score < 80"#,
        "true",
    );
    native(
        r#"{ id: input.id, name: input.customer.first + " " + input.customer.last, city: input.customer.address.city, total: input.amount * input.qty + input.fee, high: input.amount > 1000 }"#,
        r#"{"city":"Recife","high":true,"id":7,"name":"Ana Silva","total":4503.75}"#,
    );
}

#[test]
fn arithmetic_and_comparisons() {
    native("input.qty * 2 - 1", "5");
    native("input.qty / 2", "1");
    native("-input.qty % 2", "-1");
    native("input.qty / 2.0", "1.5");
    native("input.qty == 3.0", "true");
    native("input.qty < 3.5", "true");
    native("3.5 > input.qty", "true");
    native(r#""abc" < "abd""#, "true");
    native(r#"input.name >= "Ana""#, "true");
    native(r#"input.name != "Bob""#, "true");
    native(r#""an" in input.name"#, "false");
    native("!(input.score > 50) || false", "true");
    native("if input.score > 50 then 1 else 2", "2");
    native("1.0 / 0.0 > 1e308", "true");
    native("input.nan ?? 5", "5");
    native("input.nan == null", "true");
    native("input.customer?.first", r#""Ana""#);
    native("2s + 500ms", r#""2500ms""#);
}

#[test]
fn templates_and_stdlib() {
    native(
        r#""${input.name} has ${input.qty} at ${input.fee}""#,
        r#""Ana has 3 at 2.25""#,
    );
    native("abs(-input.qty)", "3");
    native("input.name.upper()", r#""ANA""#);
    native("len(input.name)", "3");
}

#[test]
fn errors_are_left_to_the_interpreter() {
    bails("input.big + 1", "R0001");
    bails("input.qty / input.zero", "R0002");
    bails("input.qty % input.zero", "R0002");
    bails("-(input.big) - 2", "R0001");
}

#[test]
fn modes_parse() {
    assert_eq!("always".parse::<Mode>(), Ok(Mode::Always));
    assert!("fast".parse::<Mode>().is_err());
}

const ORDER: &str = r#"{"items": [{"sku": "a", "price": 2.5, "qty": 2, "tags": ["x"]}, {"sku": "b", "price": 10.0, "qty": 1, "tags": []}],
  "ns": [3, 1, 2], "names": ["Ana", "Bo"], "empty": []}"#;

/// `source` checked with `input` typed from the JSON `input`: the input as a
/// value, the expression and its frame size.
fn checked_over(input: &str, source: &str) -> (Value, crate::ir::Expr, usize) {
    let json: serde_json::Value = serde_json::from_str(input).expect("input");
    let mut env = ExprEnv::default();
    env.variables
        .push(("input".into(), crate::value::infer_type(&json)));
    let checked = check_expression(source, &env);
    let expr = checked
        .expr
        .unwrap_or_else(|| panic!("{source}: {:?}", checked.diagnostics));
    (Value::from_json(&json), expr, checked.frame_size as usize)
}

fn both_over(input: &str, source: &str) -> (Result<Value, String>, bool, Option<Value>) {
    let (value, expr, frame_size) = checked_over(input, source);
    let mut frame = Frame::with_input(frame_size, value);
    let interpreted = eval::eval(&expr, &mut frame, &Fixed::new(0), &Limits::default())
        .map_err(|e| format!("{} {}", e.code.0, e.message));
    match compile(&expr, &Default::default()) {
        Ok(code) => (interpreted, true, code.eval(&frame, &Limits::default())),
        Err(_) => (interpreted, false, None),
    }
}

#[track_caller]
fn native_list(source: &str, expected: &str) {
    let (interpreted, compiled, jit) = both_over(ORDER, source);
    assert!(compiled, "{source} was not compiled");
    assert_eq!(
        interpreted.expect("interpreter").to_string(),
        expected,
        "{source}"
    );
    let jit = jit.unwrap_or_else(|| panic!("{source} bailed"));
    assert_eq!(jit.to_string(), expected, "{source}");
}

#[test]
fn lists_and_lambdas() {
    native_list("len(input.ns)", "3");
    native_list("input.ns[1]", "1");
    native_list("2 in input.ns", "true");
    native_list(r#""Bo" in input.names"#, "true");
    native_list("input.ns.sum()", "6");
    native_list("input.items.any(i => i.price > 5.0)", "true");
    native_list("input.items.all(i => i.qty > 1)", "false");
    native_list("input.items.count(i => i.qty >= 1)", "2");
    native_list("input.items.map(i => i.price * i.qty)", "[5.0,10.0]");
    native_list("input.items.map(i => i.price * i.qty).sum()", "15.0");
    native_list(
        r#"input.items.filter(i => "x" in i.tags).map(i => i.sku)"#,
        r#"["a"]"#,
    );
    native_list("input.items.filter(i => i.qty > 5)", "[]");
    native_list("input.ns.map(n => input.ns.count(m => m < n))", "[2,0,1]");
    native_list("[1, 2, input.ns[0]]", "[1,2,3]");
    native_list("input.ns.filter(n => n > 5).all(n => n > 100)", "true");
    native_list(r#"input.names.join(", ")"#, r#""Ana, Bo""#);
}

#[test]
fn list_errors_are_left_to_the_interpreter() {
    for source in [
        "input.ns[3]",
        "input.ns[-1]",
        "input.ns.map(n => n / (n - 1))",
    ] {
        let (interpreted, compiled, jit) = both_over(ORDER, source);
        assert!(compiled, "{source} was not compiled");
        assert!(interpreted.is_err(), "{source}");
        assert_eq!(jit, None, "{source} did not bail");
    }
}

/// Compiles `source` over `INPUT` and reads its native answer with `read`.
fn read_answer<T>(source: &str, read: impl FnOnce(super::Answer<'_>) -> T) -> T {
    let (input, expr, _) = checked_over(INPUT, source);
    let code = compile(&expr, &Default::default()).expect("compiled");
    let mut slots = super::Slots::new();
    code.layout().fill(&input, &mut slots);
    code.eval_answer(&slots, &Limits::default(), read)
        .unwrap_or_else(|| panic!("{source} bailed"))
}

/// The JSON text an answer writes from its output slots.
fn answer_json(source: &str) -> String {
    read_answer(source, |answer| {
        let mut out = b"[".to_vec();
        assert!(answer.write_json(&mut out), "{source}");
        String::from_utf8(out).expect("UTF-8")
    })
}

#[test]
fn answers_are_read_in_place() {
    let mapping = r#"{ total: input.amount * input.qty, name: input.customer.first + " " + input.customer.last, city: input.customer.address.city, id: input.id, high: input.amount > 1000, none: input.nan }"#;
    read_answer(mapping, |answer| {
        assert_eq!(
            answer.field("name").and_then(|n| n.as_str()),
            Some("Ana Silva")
        );
        assert_eq!(
            answer.field("city").and_then(|n| n.as_str()),
            Some("Recife")
        );
        assert_eq!(
            answer.field("total").and_then(|n| n.as_float()),
            Some(4501.5)
        );
        assert_eq!(answer.field("id").and_then(|n| n.as_int()), Some(7));
        assert_eq!(answer.field("high").and_then(|n| n.as_bool()), Some(true));
        assert!(answer.field("none").is_some_and(|n| n.is_null()));
        // Reading a field as another kind, or a field the record lacks.
        assert_eq!(answer.field("id").and_then(|n| n.as_float()), None);
        assert_eq!(answer.field("id").and_then(|n| n.as_str()), None);
        assert!(answer.field("missing").is_none());
        assert!(answer.as_int().is_none() && !answer.is_null());
        assert_eq!(
            answer.to_value().map(|value| value.to_string()),
            Some(
                r#"{"city":"Recife","high":true,"id":7,"name":"Ana Silva","none":null,"total":4501.5}"#
                    .to_owned()
            )
        );
    });
    read_answer("input.qty + 1", |answer| {
        assert_eq!(answer.as_int(), Some(4));
        assert!(answer.field("qty").is_none());
    });
}

/// The JSON text written from the output slots is the interpreter's value's,
/// byte for byte: keys sorted and escaped, floats and non-finite floats as
/// `serde_json` writes them, durations and times as text, nested records.
#[test]
fn answers_write_the_interpreters_json() {
    for source in [
        r#"{ z: input.qty, a: input.amount / 0.0, m: { y: input.fee, b: "q\"uote\n" }, d: 90m, t: parse_time("2026-01-02T03:04:05Z"), n: input.nan, s: input.customer.first }"#,
        r#"{ b: input.name, a: 2.0 * input.fee }"#,
        "input.amount * 1e300 * 1e300",
        "-(input.amount * 1e300 * 1e300) + 1.0",
        "input.zero / 1.0 * -1.0",
        "input.big",
        r#""tab\there" + input.name"#,
        "input.nan ?? 12h",
        "input.score > 40",
        "[input.qty, 2]",
    ] {
        let (interpreted, compiled, _) = both(source);
        assert!(compiled, "{source} was not compiled");
        let want =
            serde_json::to_string(&interpreted.expect("interpreter").to_json()).expect("JSON");
        assert_eq!(answer_json(source), format!("[{want}"), "{source}");
    }
}

/// A template left unfinished by a bail does not leak into the next one: the
/// template buffers are reused from evaluation to evaluation on a thread.
#[test]
fn templates_after_a_bail_start_empty() {
    for _ in 0..3 {
        bails(r#""${input.name}:${input.qty / input.zero}""#, "R");
        native(r#""${input.name}-${input.qty}""#, r#""Ana-3""#);
        native(
            r#""<${input.customer.first + " " + input.customer.last}>""#,
            r#""<Ana Silva>""#,
        );
    }
}

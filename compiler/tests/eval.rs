//! The evaluator, case by case: every operator and every stdlib function, with its
//! normal results and its errors.
//!
//! IR is built by hand with the small constructors below (`int(1)`,
//! `call("len", [s("abc")])`), so these tests do not depend on the checker; each
//! case reads `ok(expr, "json")` or `err(expr, "R0001")`.

use flowc_compiler::Span;
use flowc_compiler::eval::{self, Fixed, Frame, Limits};
use flowc_compiler::ir::{
    BinaryOp, Callee, Expr, ExprKind, Literal, MatchArm, Pattern, TemplatePart, UnaryOp,
};
use flowc_compiler::ty::{FieldTy, Ty, TypeTable};
use flowc_compiler::value::{self, Value};

// ---------------------------------------------------------------------------
// IR constructors.

fn e(kind: ExprKind) -> Expr {
    Expr {
        kind,
        ty: Ty::Json,
        span: Span::new(0, 1),
    }
}

fn at(mut expr: Expr, start: usize, end: usize) -> Expr {
    expr.span = Span::new(start, end);
    expr
}

fn literal(value: Literal) -> Expr {
    e(ExprKind::Literal { value })
}

fn int(value: i64) -> Expr {
    literal(Literal::Int { value })
}

fn float(value: f64) -> Expr {
    literal(Literal::Float { value })
}

fn s(value: &str) -> Expr {
    literal(Literal::String {
        value: value.into(),
    })
}

fn boolean(value: bool) -> Expr {
    literal(Literal::Bool { value })
}

fn null() -> Expr {
    literal(Literal::Null)
}

fn dur(millis: i64) -> Expr {
    literal(Literal::Duration { millis })
}

fn local(slot: u32) -> Expr {
    e(ExprKind::Local { slot })
}

fn input() -> Expr {
    local(0)
}

fn list(items: impl IntoIterator<Item = Expr>) -> Expr {
    e(ExprKind::List {
        items: items.into_iter().collect(),
    })
}

fn ints(items: &[i64]) -> Expr {
    list(items.iter().map(|i| int(*i)))
}

fn strs(items: &[&str]) -> Expr {
    list(items.iter().map(|i| s(i)))
}

fn record(fields: impl IntoIterator<Item = (&'static str, Expr)>) -> Expr {
    e(ExprKind::Record {
        fields: fields
            .into_iter()
            .map(|(name, expr)| (name.to_string(), expr))
            .collect(),
    })
}

fn field(base: Expr, name: &str) -> Expr {
    e(ExprKind::Field {
        base: Box::new(base),
        name: name.into(),
        optional: false,
    })
}

fn opt_field(base: Expr, name: &str) -> Expr {
    e(ExprKind::Field {
        base: Box::new(base),
        name: name.into(),
        optional: true,
    })
}

fn index(base: Expr, at: Expr) -> Expr {
    e(ExprKind::Index {
        base: Box::new(base),
        index: Box::new(at),
    })
}

fn call<const N: usize>(name: &str, args: [Expr; N]) -> Expr {
    e(ExprKind::Call {
        callee: Callee::Builtin { name: name.into() },
        args: args.into(),
    })
}

/// `x => body`, with `x` in slot 1 (slot 0 is the input).
fn lambda(body: Expr) -> Expr {
    e(ExprKind::Lambda {
        params: vec![1],
        body: Box::new(body),
    })
}

fn x() -> Expr {
    local(1)
}

fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    e(ExprKind::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    })
}

fn add(a: Expr, b: Expr) -> Expr {
    bin(BinaryOp::Add, a, b)
}

fn un(op: UnaryOp, operand: Expr) -> Expr {
    e(ExprKind::Unary {
        op,
        operand: Box::new(operand),
    })
}

fn if_(cond: Expr, then: Expr, otherwise: Expr) -> Expr {
    e(ExprKind::If {
        cond: Box::new(cond),
        then: Box::new(then),
        otherwise: Box::new(otherwise),
    })
}

fn template(parts: impl IntoIterator<Item = Result<&'static str, Expr>>) -> Expr {
    e(ExprKind::Template {
        parts: parts
            .into_iter()
            .map(|part| match part {
                Ok(text) => TemplatePart::Text { text: text.into() },
                Err(expr) => TemplatePart::Expr { expr },
            })
            .collect(),
    })
}

fn as_(value: Expr, target: Ty) -> Expr {
    e(ExprKind::As {
        value: Box::new(value),
        target,
    })
}

// ---------------------------------------------------------------------------
// Running.

const NOW: i64 = 1_714_564_800_000; // 2024-05-01T12:00:00Z

fn run_with(
    input: &str,
    expr: &Expr,
    limits: &Limits,
    types: TypeTable,
) -> Result<Value, eval::Error> {
    let json: serde_json::Value = serde_json::from_str(input).expect("test input is JSON");
    let mut frame = Frame::with_input(4, Value::from_json(&json));
    let mut ctx = Fixed::new(NOW);
    ctx.types = types;
    eval::eval(expr, &mut frame, &ctx, limits)
}

fn run(input: &str, expr: &Expr) -> Result<Value, eval::Error> {
    run_with(input, expr, &Limits::default(), TypeTable::new())
}

#[track_caller]
fn ok_in(input: &str, expr: Expr, expected: &str) {
    let expected: serde_json::Value = serde_json::from_str(expected).expect("expected is JSON");
    match run(input, &expr) {
        Ok(value) => assert_eq!(value.to_json(), expected),
        Err(error) => panic!(
            "expected {expected}, got {} {}",
            error.code.as_str(),
            error.message
        ),
    }
}

#[track_caller]
fn ok(expr: Expr, expected: &str) {
    ok_in("null", expr, expected);
}

#[track_caller]
fn err_in(input: &str, expr: Expr, code: &str) -> eval::Error {
    match run(input, &expr) {
        Ok(value) => panic!("expected {code}, got the value {value}"),
        Err(error) => {
            assert_eq!(error.code.as_str(), code, "{}", error.message);
            error
        }
    }
}

#[track_caller]
fn err(expr: Expr, code: &str) -> eval::Error {
    err_in("null", expr, code)
}

// ---------------------------------------------------------------------------
// Operators.

#[test]
fn integer_arithmetic_is_checked() {
    ok(add(int(2), int(3)), "5");
    ok(bin(BinaryOp::Sub, int(2), int(3)), "-1");
    ok(bin(BinaryOp::Mul, int(-4), int(3)), "-12");
    ok(bin(BinaryOp::Div, int(-7), int(2)), "-3");
    ok(bin(BinaryOp::Rem, int(-7), int(2)), "-1");
    err(add(int(i64::MAX), int(1)), "R0001");
    err(bin(BinaryOp::Sub, int(i64::MIN), int(1)), "R0001");
    err(bin(BinaryOp::Mul, int(i64::MAX), int(2)), "R0001");
    err(bin(BinaryOp::Div, int(i64::MIN), int(-1)), "R0001");
    err(un(UnaryOp::Neg, int(i64::MIN)), "R0001");
    err(bin(BinaryOp::Div, int(1), int(0)), "R0002");
    err(bin(BinaryOp::Rem, int(1), int(0)), "R0002");
}

#[test]
fn floats_follow_ieee_754_and_mix_with_ints() {
    ok(add(int(1), float(0.5)), "1.5");
    ok(bin(BinaryOp::Div, int(1), float(4.0)), "0.25");
    // Infinity and NaN are values (written as null in JSON), not errors.
    let inf = bin(BinaryOp::Div, float(1.0), float(0.0));
    ok(call("to_string", [inf.clone()]), r#""inf""#);
    let nan = bin(BinaryOp::Div, float(0.0), float(0.0));
    ok(call("to_string", [nan.clone()]), r#""NaN""#);
    ok(bin(BinaryOp::Eq, nan.clone(), nan.clone()), "false");
    ok(bin(BinaryOp::NotEq, nan.clone(), nan.clone()), "true");
    ok(bin(BinaryOp::Lt, nan.clone(), float(1.0)), "false");
    ok(bin(BinaryOp::GtEq, nan, float(1.0)), "false");
    ok(bin(BinaryOp::Eq, int(1), float(1.0)), "true");
    // int and float compare exactly, without rounding the int.
    ok(
        bin(
            BinaryOp::Lt,
            int(9_007_199_254_740_993),
            float(9_007_199_254_740_992.0),
        ),
        "false",
    );
    ok(
        bin(
            BinaryOp::Gt,
            int(9_007_199_254_740_993),
            float(9_007_199_254_740_992.0),
        ),
        "true",
    );
}

#[test]
fn comparisons_order_numbers_strings_durations_and_times() {
    ok(bin(BinaryOp::Lt, s("B"), s("a")), "true");
    ok(bin(BinaryOp::Lt, s("é"), s("z")), "false"); // by code point
    ok(bin(BinaryOp::LtEq, dur(1000), dur(1000)), "true");
    ok(
        bin(BinaryOp::Gt, call("now", []), add(call("now", []), dur(-1))),
        "true",
    );
    err(bin(BinaryOp::Lt, s("a"), int(1)), "R0010");
    err(bin(BinaryOp::Lt, null(), int(1)), "R0004");
}

#[test]
fn equality_is_structural() {
    ok(
        bin(
            BinaryOp::Eq,
            record([("a", ints(&[1, 2]))]),
            record([("a", ints(&[1, 2]))]),
        ),
        "true",
    );
    ok(bin(BinaryOp::Eq, ints(&[1]), ints(&[1, 2])), "false");
    ok(bin(BinaryOp::Eq, null(), null()), "true");
    ok(bin(BinaryOp::NotEq, s("a"), null()), "true");
    ok_in(
        r#"{"c":"BRL"}"#,
        bin(BinaryOp::Eq, field(input(), "c"), s("BRL")),
        "true",
    );
}

#[test]
fn strings_lists_durations_and_times_add() {
    ok(add(s("ab"), s("cd")), r#""abcd""#);
    ok(add(ints(&[1]), ints(&[2, 3])), "[1,2,3]");
    ok(add(dur(60_000), dur(30_000)), r#""90s""#);
    ok(
        add(call("now", []), dur(3_600_000)),
        r#""2024-05-01T13:00:00Z""#,
    );
    ok(
        bin(
            BinaryOp::Sub,
            call("now", []),
            add(call("now", []), dur(-5000)),
        ),
        r#""5s""#,
    );
    ok(bin(BinaryOp::Mul, dur(1000), int(90)), r#""90s""#);
    ok(bin(BinaryOp::Div, dur(90_000), int(60)), r#""1500ms""#);
    err(bin(BinaryOp::Div, dur(1000), int(0)), "R0002");
    err(add(dur(i64::MAX), dur(1)), "R0001");
}

#[test]
fn logic_short_circuits() {
    let boom = bin(BinaryOp::Div, int(1), int(0));
    ok(
        bin(
            BinaryOp::And,
            boolean(false),
            bin(BinaryOp::Eq, boom.clone(), int(1)),
        ),
        "false",
    );
    ok(
        bin(
            BinaryOp::Or,
            boolean(true),
            bin(BinaryOp::Eq, boom.clone(), int(1)),
        ),
        "true",
    );
    err(
        bin(
            BinaryOp::And,
            boolean(true),
            bin(BinaryOp::Eq, boom, int(1)),
        ),
        "R0002",
    );
    ok(un(UnaryOp::Not, boolean(false)), "true");
    err(un(UnaryOp::Not, int(1)), "R0010");
    err(bin(BinaryOp::And, null(), boolean(true)), "R0004");
}

#[test]
fn coalesce_and_optional_access() {
    let boom = bin(BinaryOp::Div, int(1), int(0));
    ok(bin(BinaryOp::Coalesce, int(1), boom), "1");
    ok(bin(BinaryOp::Coalesce, null(), int(2)), "2");
    ok_in(
        r#"{"a":null}"#,
        opt_field(opt_field(input(), "a"), "b"),
        "null",
    );
    ok_in(r#"{"a":{"b":3}}"#, opt_field(field(input(), "a"), "b"), "3");
    ok_in(r#"{"a":{}}"#, field(field(input(), "a"), "missing"), "null");
    let error = err_in(
        r#"{"a":null}"#,
        at(field(at(field(input(), "a"), 0, 7), "b"), 0, 9),
        "R0004",
    );
    assert_eq!(error.span, Span::new(0, 9));
    err_in(r#"{"a":1}"#, field(field(input(), "a"), "b"), "R0010");
}

#[test]
fn membership() {
    ok(bin(BinaryOp::In, int(2), ints(&[1, 2])), "true");
    ok(bin(BinaryOp::In, float(2.0), ints(&[1, 2])), "true");
    ok(bin(BinaryOp::In, s("ell"), s("hello")), "true");
    ok(bin(BinaryOp::In, s("a"), record([("a", int(1))])), "true");
    ok(bin(BinaryOp::In, s("b"), record([("a", int(1))])), "false");
}

#[test]
fn indexing() {
    ok(index(ints(&[10, 20]), int(1)), "20");
    let error = err(at(index(ints(&[10, 20]), int(2)), 3, 8), "R0003");
    assert_eq!(error.span, Span::new(3, 8));
    assert_eq!(
        error.message,
        "index 2 is out of range for a list of length 2"
    );
    err(index(ints(&[10]), int(-1)), "R0003");
    ok(index(record([("a", int(1))]), s("a")), "1");
    ok(index(record([("a", int(1))]), s("b")), "null");
    err(index(null(), int(0)), "R0004");
}

#[test]
fn if_then_else_and_match() {
    ok(
        if_(boolean(true), int(1), bin(BinaryOp::Div, int(1), int(0))),
        "1",
    );
    err(if_(int(1), int(1), int(2)), "R0010");
    let arms = |scrutinee: Expr| {
        e(ExprKind::Match {
            scrutinee: Box::new(scrutinee),
            arms: vec![
                MatchArm {
                    pattern: Pattern::Or {
                        alternatives: vec![
                            Pattern::Literal {
                                value: Literal::String {
                                    value: "BRL".into(),
                                },
                            },
                            Pattern::Literal {
                                value: Literal::String {
                                    value: "ARS".into(),
                                },
                            },
                        ],
                    },
                    body: s("latam"),
                },
                MatchArm {
                    pattern: Pattern::Binding { slot: 1 },
                    body: add(s("other: "), x()),
                },
            ],
        })
    };
    ok(arms(s("ARS")), r#""latam""#);
    ok(arms(s("USD")), r#""other: USD""#);
}

#[test]
fn templates_stringify_like_to_string() {
    ok(
        template([
            Ok("n="),
            Err(int(3)),
            Ok(" f="),
            Err(float(1.0)),
            Ok(" d="),
            Err(dur(5_400_000)),
            Ok(" "),
            Err(ints(&[1])),
            Ok(" "),
            Err(null()),
        ]),
        r#""n=3 f=1.0 d=90m [1] null""#,
    );
    ok(
        template([Err(call("now", []))]),
        r#""2024-05-01T12:00:00Z""#,
    );
}

#[test]
fn secrets_stay_opaque() {
    let secret = e(ExprKind::Secret {
        name: "token".into(),
    });
    let value = run("null", &template([Ok("Bearer "), Err(secret.clone())])).expect("a secret");
    assert!(matches!(value, Value::Secret(_)));
    assert_eq!(value.to_json(), serde_json::json!("Bearer <secret token>"));
    err(call("to_string", [secret.clone()]), "R0010");
    err(call("to_json", [secret]), "R0010");
}

#[test]
fn as_converts_json_with_the_path_of_the_first_mismatch() {
    let item = Ty::record(vec![
        FieldTy {
            name: "sku".into(),
            ty: Ty::String,
            optional: false,
        },
        FieldTy {
            name: "price".into(),
            ty: Ty::Float,
            optional: false,
        },
        FieldTy {
            name: "wait".into(),
            ty: Ty::Duration,
            optional: true,
        },
    ]);
    let mut types = TypeTable::new();
    types.insert("Item".into(), item);
    let target = Ty::list(Ty::named("Item"));
    let good = r#"[{"sku":"a","price":1,"wait":"90m"},{"sku":"b","price":2.5,"extra":true}]"#;
    let value = run_with(
        good,
        &as_(input(), target.clone()),
        &Limits::default(),
        types.clone(),
    )
    .expect("fits");
    assert_eq!(
        value.to_json(),
        serde_json::json!([{"sku":"a","price":1.0,"wait":"90m"},{"sku":"b","price":2.5}])
    );
    let bad = r#"[{"sku":"a","price":1},{"sku":"b","price":"12"}]"#;
    let error =
        run_with(bad, &as_(input(), target), &Limits::default(), types).expect_err("does not fit");
    assert_eq!(error.code.as_str(), "R0005");
    assert_eq!(
        error.message,
        r#"the value does not fit the type: at `$[1].price`: expected `float`, found the string "12""#
    );
    ok_in(r#"{"a":1}"#, as_(input(), Ty::Json), r#"{"a":1}"#);
    err_in(r#"{"a":1}"#, as_(input(), Ty::list(Ty::Int)), "R0005");
}

#[test]
fn limits_stop_runaway_expressions() {
    let tight = Limits {
        max_steps: 100,
        ..Limits::default()
    };
    let big = call(
        "map",
        [call("range", [int(0), int(1000)]), lambda(add(x(), int(1)))],
    );
    let error = run_with("null", &big, &tight, TypeTable::new()).expect_err("too many steps");
    assert_eq!(error.code.as_str(), "R0007");

    let mut deep = int(0);
    for _ in 0..300 {
        deep = add(deep, int(1));
    }
    err(deep, "R0008");

    let small = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let long = call(
        "join",
        [call(
            "map",
            [
                call("range", [int(0), int(100)]),
                lambda(s("0123456789abcdef")),
            ],
        )],
    );
    let error = run_with("null", &long, &small, TypeTable::new()).expect_err("too large");
    assert_eq!(error.code.as_str(), "R0009");
    err(call("range", [int(0), int(i64::MAX)]), "R0009");
}

#[test]
fn functions_of_the_program_run_in_their_own_frame() {
    use flowc_compiler::ir::Function;
    // fn fact(n) = if n <= 1 then 1 else n * fact(n - 1)
    let n = local(0);
    let recurse = e(ExprKind::Call {
        callee: Callee::Function { index: 0 },
        args: vec![bin(BinaryOp::Sub, n.clone(), int(1))],
    });
    let body = if_(
        bin(BinaryOp::LtEq, n.clone(), int(1)),
        int(1),
        bin(BinaryOp::Mul, n, recurse),
    );
    let mut ctx = Fixed::new(NOW);
    ctx.functions.push(Function {
        name: "fact".into(),
        params: vec![Ty::Int],
        ret: Ty::Int,
        frame_size: 1,
        body,
    });
    let fact = |k: i64| {
        let expr = e(ExprKind::Call {
            callee: Callee::Function { index: 0 },
            args: vec![int(k)],
        });
        eval::eval(&expr, &mut Frame::new(1), &ctx, &Limits::default())
    };
    assert_eq!(
        fact(20).map(|v| v.to_json()),
        Ok(serde_json::json!(2_432_902_008_176_640_000_i64))
    );
    assert_eq!(fact(21).map_err(|e| e.code.as_str()), Err("R0001"));
    assert_eq!(fact(1000).map_err(|e| e.code.as_str()), Err("R0008"));
}

// ---------------------------------------------------------------------------
// The standard library, one test per function.

#[test]
fn abs() {
    ok(call("abs", [int(-3)]), "3");
    ok(call("abs", [float(-2.5)]), "2.5");
    ok(call("abs", [dur(-1000)]), r#""1s""#);
    err(call("abs", [int(i64::MIN)]), "R0001");
}

#[test]
fn all() {
    ok(
        call(
            "all",
            [ints(&[1, 2]), lambda(bin(BinaryOp::Gt, x(), int(0)))],
        ),
        "true",
    );
    ok(call("all", [ints(&[]), lambda(boolean(false))]), "true");
    ok(
        call(
            "all",
            [ints(&[1, 0, 2]), lambda(bin(BinaryOp::Gt, x(), int(0)))],
        ),
        "false",
    );
    err(call("all", [ints(&[1]), lambda(int(1))]), "R0010");
}

#[test]
fn any() {
    ok(
        call(
            "any",
            [ints(&[1, 2]), lambda(bin(BinaryOp::Eq, x(), int(2)))],
        ),
        "true",
    );
    ok(call("any", [ints(&[]), lambda(boolean(true))]), "false");
    // Stops at the first match: the division by zero is never reached.
    let guarded = lambda(bin(BinaryOp::Eq, bin(BinaryOp::Div, int(1), x()), int(1)));
    ok(call("any", [ints(&[1, 0]), guarded.clone()]), "true");
    err(call("any", [ints(&[0, 1]), guarded]), "R0002");
}

#[test]
fn base64() {
    ok(
        call("base64", [s("hello, wörld")]),
        r#""aGVsbG8sIHfDtnJsZA==""#,
    );
    ok(call("base64", [s("")]), r#""""#);
}

#[test]
fn base64_decode() {
    ok(
        call("base64_decode", [s("aGVsbG8sIHfDtnJsZA==")]),
        r#""hello, wörld""#,
    );
    ok(call("base64_decode", [s("aGk")]), r#""hi""#);
    err(call("base64_decode", [s("not base64!")]), "R0006");
    err(call("base64_decode", [s("/w==")]), "R0006"); // the byte 0xff is not UTF-8
}

#[test]
fn ceil() {
    ok(call("ceil", [float(1.2)]), "2");
    ok(call("ceil", [float(-1.2)]), "-1");
    ok(call("ceil", [int(7)]), "7");
    err(call("ceil", [float(1e300)]), "R0006");
}

#[test]
fn contains() {
    ok(call("contains", [s("hello"), s("ell")]), "true");
    ok(call("contains", [s("hello"), s("")]), "true");
    ok(call("contains", [s("hello"), s("L")]), "false");
}

#[test]
fn count() {
    ok(
        call(
            "count",
            [
                ints(&[1, 2, 3, 4]),
                lambda(bin(BinaryOp::Eq, bin(BinaryOp::Rem, x(), int(2)), int(0))),
            ],
        ),
        "2",
    );
    ok(call("count", [ints(&[]), lambda(boolean(true))]), "0");
}

#[test]
fn ends_with() {
    ok(call("ends_with", [s("report.pdf"), s(".pdf")]), "true");
    ok(call("ends_with", [s("report.pdf"), s(".PDF")]), "false");
}

#[test]
fn filter() {
    ok(
        call(
            "filter",
            [
                ints(&[3, 1, 4, 1, 5]),
                lambda(bin(BinaryOp::Gt, x(), int(2))),
            ],
        ),
        "[3,4,5]",
    );
    err(call("filter", [null(), lambda(boolean(true))]), "R0004");
}

#[test]
fn first() {
    ok(call("first", [ints(&[7, 8])]), "7");
    ok(call("first", [ints(&[])]), "null");
}

#[test]
fn flatten() {
    ok(
        call("flatten", [list([ints(&[1]), ints(&[]), ints(&[2, 3])])]),
        "[1,2,3]",
    );
    err(call("flatten", [ints(&[1])]), "R0010");
}

#[test]
fn floor() {
    ok(call("floor", [float(1.8)]), "1");
    ok(call("floor", [float(-1.2)]), "-2");
    err(
        call("floor", [bin(BinaryOp::Div, float(0.0), float(0.0))]),
        "R0006",
    );
}

#[test]
fn format_time() {
    let now = call("now", []);
    ok(
        call("format_time", [now.clone()]),
        r#""2024-05-01T12:00:00+00:00""#,
    );
    ok(
        call("format_time", [now.clone(), s("%d/%m/%Y %H:%M")]),
        r#""01/05/2024 12:00""#,
    );
    ok(
        call(
            "format_time",
            [now.clone(), s("%H:%M %z"), s("America/Sao_Paulo")],
        ),
        r#""09:00 -0300""#,
    );
    err(
        call("format_time", [now, s("%H"), s("Mars/Olympus")]),
        "R0006",
    );
}

#[test]
fn get() {
    ok(call("get", [record([("a", int(1))]), s("a"), int(0)]), "1");
    ok(call("get", [record([("a", null())]), s("a"), int(0)]), "0");
    ok(call("get", [record([]), s("b"), int(0)]), "0");
    ok(call("get", [ints(&[1, 2]), int(-1), int(0)]), "2");
    ok(call("get", [ints(&[1, 2]), int(5), int(0)]), "0");
    ok(call("get", [s("not a map"), s("a"), int(9)]), "9");
}

#[test]
fn join() {
    ok(
        call("join", [strs(&["a", "b", "c"]), s(", ")]),
        r#""a, b, c""#,
    );
    ok(call("join", [strs(&["a", "b"])]), r#""ab""#);
    ok(call("join", [strs(&[]), s(",")]), r#""""#);
    err(call("join", [ints(&[1]), s(",")]), "R0010");
}

#[test]
fn keys() {
    ok_in(r#"{"b":1,"a":2}"#, call("keys", [input()]), r#"["a","b"]"#);
    err_in("[1]", call("keys", [input()]), "R0006");
}

#[test]
fn last() {
    ok(call("last", [ints(&[7, 8])]), "8");
    ok(call("last", [ints(&[])]), "null");
}

#[test]
fn len() {
    ok(call("len", [s("añb")]), "3");
    ok(call("len", [s("👍🏽")]), "2"); // two scalar values
    ok(call("len", [ints(&[1, 2])]), "2");
    ok_in(r#"{"a":1}"#, call("len", [input()]), "1");
    err(call("len", [int(3)]), "R0006");
}

#[test]
fn lower() {
    ok(call("lower", [s("ÀB c")]), r#""àb c""#);
}

#[test]
fn map() {
    ok_in(
        r#"{"items":[{"p":2,"q":3},{"p":1,"q":4}]}"#,
        call(
            "sum",
            [call(
                "map",
                [
                    field(input(), "items"),
                    lambda(bin(BinaryOp::Mul, field(x(), "p"), field(x(), "q"))),
                ],
            )],
        ),
        "10",
    );
    ok(call("map", [ints(&[]), lambda(x())]), "[]");
    err(
        call(
            "map",
            [ints(&[1, 0]), lambda(bin(BinaryOp::Div, int(1), x()))],
        ),
        "R0002",
    );
}

#[test]
fn max() {
    ok(call("max", [int(1), float(2.5)]), "2.5");
    ok(call("max", [ints(&[3, 9, 2])]), "9");
    ok(call("max", [ints(&[])]), "null");
    ok(call("max", [strs(&["b", "a"])]), r#""b""#);
    err(
        call(
            "max",
            [list([
                float(1.0),
                bin(BinaryOp::Div, float(0.0), float(0.0)),
            ])],
        ),
        "R0006",
    );
}

#[test]
fn min() {
    ok(call("min", [int(1), int(2)]), "1");
    ok(call("min", [ints(&[3, 9, 2])]), "2");
    ok(call("min", [list([dur(2000), dur(1000)])]), r#""1s""#);
    err(call("min", [s("a"), int(1)]), "R0010");
}

#[test]
fn now() {
    ok(call("now", []), r#""2024-05-01T12:00:00Z""#);
}

#[test]
fn parse_json() {
    ok(
        call("parse_json", [s(r#"{"a":[1,2.5,"x",null,true]}"#)]),
        r#"{"a":[1,2.5,"x",null,true]}"#,
    );
    let error = err(call("parse_json", [s(r#"{"a": 1"#)]), "R0006");
    assert!(
        error.message.contains("line 1 column 7"),
        "{}",
        error.message
    );
}

#[test]
fn parse_time() {
    ok(
        call("parse_time", [s("2024-05-01T09:00:00-03:00")]),
        r#""2024-05-01T12:00:00Z""#,
    );
    ok(
        call("parse_time", [s("2024-05-01T12:00:00.250Z")]),
        r#""2024-05-01T12:00:00.250Z""#,
    );
    ok(call("parse_time", [s("yesterday")]), "null");
    ok(
        call("parse_time", [s("01/05/2024 12:00"), s("%d/%m/%Y %H:%M")]),
        r#""2024-05-01T12:00:00Z""#,
    );
    ok(call("parse_time", [s("01/05/2024"), s("%H:%M")]), "null");
}

#[test]
fn range() {
    ok(call("range", [int(2), int(5)]), "[2,3,4]");
    ok(call("range", [int(5), int(2)]), "[]");
}

#[test]
fn replace() {
    ok(call("replace", [s("a-b-c"), s("-"), s("+")]), r#""a+b+c""#);
    ok(call("replace", [s("aaa"), s("aa"), s("b")]), r#""ba""#);
    err(call("replace", [s("abc"), s(""), s("x")]), "R0006");
}

#[test]
fn reverse() {
    ok(call("reverse", [ints(&[1, 2, 3])]), "[3,2,1]");
    ok(call("reverse", [s("añb")]), r#""bña""#);
}

#[test]
fn round() {
    ok(call("round", [float(2.5)]), "3");
    ok(call("round", [float(-2.5)]), "-3");
    ok(call("round", [float(2.4)]), "2");
    ok(call("round", [int(4)]), "4");
    err(
        call("round", [bin(BinaryOp::Div, float(1.0), float(0.0))]),
        "R0006",
    );
    err(call("round", [float(9.3e18)]), "R0006");
}

#[test]
fn sha256() {
    ok(
        call("sha256", [s("")]),
        r#""e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#,
    );
    ok(
        call("sha256", [s("abc")]),
        r#""ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad""#,
    );
}

#[test]
fn slice() {
    ok(
        call("slice", [ints(&[1, 2, 3, 4]), int(1), int(3)]),
        "[2,3]",
    );
    ok(call("slice", [ints(&[1, 2, 3, 4]), int(-2)]), "[3,4]");
    ok(call("slice", [ints(&[1, 2]), int(5), int(9)]), "[]");
    ok(call("slice", [ints(&[1, 2]), int(1), int(0)]), "[]");
    ok(call("slice", [s("añbc"), int(1), int(3)]), r#""ñb""#);
    ok(call("slice", [s("añbc"), int(-1)]), r#""c""#);
    ok(
        call("slice", [s("abc"), int(i64::MIN), int(i64::MAX)]),
        r#""abc""#,
    );
}

#[test]
fn sort() {
    ok(call("sort", [ints(&[3, 1, 2])]), "[1,2,3]");
    ok(call("sort", [list([int(2), float(1.5)])]), "[1.5,2]");
    ok(call("sort", [strs(&["b", "B", "a"])]), r#"["B","a","b"]"#);
    err(
        call(
            "sort",
            [list([
                float(1.0),
                bin(BinaryOp::Div, float(0.0), float(0.0)),
            ])],
        ),
        "R0006",
    );
    err(call("sort", [list([int(1), s("a")])]), "R0010");
}

#[test]
fn sort_by() {
    ok_in(
        r#"[{"n":"b","k":2},{"n":"a","k":1},{"n":"c","k":2}]"#,
        call(
            "map",
            [
                call("sort_by", [input(), lambda(field(x(), "k"))]),
                lambda(field(x(), "n")),
            ],
        ),
        r#"["a","b","c"]"#,
    );
}

#[test]
fn split() {
    ok(call("split", [s("a,,b"), s(",")]), r#"["a","","b"]"#);
    ok(call("split", [s(""), s(",")]), r#"[""]"#);
    ok(call("split", [s("añ"), s("")]), r#"["a","ñ"]"#);
}

#[test]
fn starts_with() {
    ok(call("starts_with", [s("https://x"), s("https://")]), "true");
    ok(call("starts_with", [s("http://x"), s("https://")]), "false");
}

#[test]
fn sum() {
    ok(call("sum", [ints(&[1, 2, 3])]), "6");
    ok(call("sum", [ints(&[])]), "0");
    ok(call("sum", [list([float(0.5), float(0.25)])]), "0.75");
    ok(call("sum", [list([dur(1000), dur(500)])]), r#""1500ms""#);
    err(call("sum", [ints(&[i64::MAX, 1])]), "R0001");
}

#[test]
fn to_float() {
    ok(call("to_float", [int(2)]), "2.0");
    ok(call("to_float", [s(" 2.5 ")]), "2.5");
    ok(call("to_float", [s("1e3")]), "1000.0");
    ok(call("to_float", [s("inf")]), "null");
    ok(call("to_float", [s("abc")]), "null");
}

#[test]
fn to_int() {
    ok(call("to_int", [s(" 42 ")]), "42");
    ok(call("to_int", [s("-7")]), "-7");
    ok(call("to_int", [s("4.2")]), "null");
    ok(call("to_int", [s("99999999999999999999")]), "null");
    ok(call("to_int", [float(-3.9)]), "-3");
    err(
        call("to_int", [bin(BinaryOp::Div, float(0.0), float(0.0))]),
        "R0006",
    );
}

#[test]
fn to_json() {
    ok(
        call(
            "to_json",
            [record([
                ("b", dur(90_000)),
                ("a", list([float(1.0), null(), s("x\"y")])),
            ])],
        ),
        r#""{\"a\":[1.0,null,\"x\\\"y\"],\"b\":\"90s\"}""#,
    );
    ok(call("to_json", [s("a")]), r#""\"a\"""#);
}

#[test]
fn to_string() {
    ok(call("to_string", [int(-12)]), r#""-12""#);
    ok(call("to_string", [float(0.1)]), r#""0.1""#);
    ok(call("to_string", [float(3.0)]), r#""3.0""#);
    ok(call("to_string", [s("as is")]), r#""as is""#);
    ok(call("to_string", [boolean(true)]), r#""true""#);
    ok(call("to_string", [null()]), r#""null""#);
    ok(call("to_string", [dur(5_400_000)]), r#""90m""#);
    ok(call("to_string", [dur(1500)]), r#""1500ms""#);
    ok(
        call("to_string", [record([("a", ints(&[1]))])]),
        r#""{\"a\":[1]}""#,
    );
}

#[test]
fn trim() {
    ok(call("trim", [s("  a b \n\t")]), r#""a b""#);
    ok(call("trim", [s("\u{3000}x\u{a0}")]), r#""x""#);
}

#[test]
fn unique() {
    ok(call("unique", [ints(&[3, 1, 3, 2, 1])]), "[3,1,2]");
    ok(call("unique", [list([int(1), float(1.0)])]), "[1]");
}

#[test]
fn upper() {
    ok(call("upper", [s("straße")]), r#""STRASSE""#);
}

#[test]
fn uuid() {
    let first = run("null", &call("uuid", [])).expect("a uuid");
    let Value::String(text) = &first else {
        panic!("a string")
    };
    assert_eq!(text.len(), 36);
    assert_eq!(&text[14..15], "4");
    assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
    // Two calls in one evaluation differ; the same context replays the same ones.
    let pair = run("null", &list([call("uuid", []), call("uuid", [])])).expect("uuids");
    let Value::List(items) = &pair else {
        panic!("a list")
    };
    assert_ne!(items[0], items[1]);
    assert_eq!(items[0], first);
}

#[test]
fn values() {
    ok_in(r#"{"b":1,"a":2}"#, call("values", [input()]), "[2,1]");
    err_in(r#""x""#, call("values", [input()]), "R0006");
}

#[test]
fn every_stdlib_function_has_a_test() {
    let source = include_str!("eval.rs");
    for builtin in flowc_compiler::stdlib::all() {
        assert!(
            source.contains(&format!("fn {}() {{", builtin.name)),
            "no test for `{}`",
            builtin.name
        );
    }
}

// ---------------------------------------------------------------------------
// Values and types.

#[test]
fn infer_type_unifies_list_elements() {
    let json: serde_json::Value = serde_json::from_str(
        r#"{"items":[{"p":2,"q":3,"tag":"a"},{"p":1.5,"q":4,"note":null},{"p":1,"q":null}]}"#,
    )
    .expect("JSON");
    assert_eq!(
        value::infer_type(&json).to_string(),
        "{ items: [{ note?: null, p: float, q: int?, tag?: string }] }"
    );
    let mixed: serde_json::Value = serde_json::from_str(r#"[1, "a", []]"#).expect("JSON");
    assert_eq!(value::infer_type(&mixed).to_string(), "[json]");
    let empty: serde_json::Value = serde_json::from_str(r#"{"xs":[]}"#).expect("JSON");
    assert_eq!(value::infer_type(&empty).to_string(), "{ xs: [json] }");
}

#[test]
fn durations_and_times_round_trip_through_text() {
    for millis in [
        0,
        1,
        999,
        1000,
        1500,
        60_000,
        5_400_000,
        86_400_000,
        -7_200_000,
        i64::MAX,
        // Its magnitude is not an i64: found by the JIT's differential sample.
        i64::MIN,
    ] {
        let text = value::format_duration(millis);
        assert_eq!(value::parse_duration(&text), Some(millis), "{text}");
    }
    assert_eq!(value::parse_duration("1h30m"), Some(5_400_000));
    assert_eq!(value::parse_duration("1x"), None);
    assert_eq!(value::parse_duration("9223372036854775808ms"), None);
    assert_eq!(value::parse_duration("-9223372036854775809ms"), None);
    assert_eq!(value::parse_duration(""), None);
    for millis in [0, NOW, NOW + 250, -1] {
        let text = value::format_time_rfc3339(millis);
        assert_eq!(value::parse_time_rfc3339(&text), Some(millis), "{text}");
    }
    // Beyond RFC 3339's years, a time's JSON is its milliseconds, which read
    // back as the same time (found by the JIT's differential sample).
    let types = TypeTable::default();
    for millis in [i64::MAX, i64::MIN, 253_402_300_800_000, NOW] {
        let json = Value::Time(millis).to_json();
        assert_eq!(
            Value::from_json_typed(&json, &Ty::Time, &types).ok(),
            Some(Value::Time(millis)),
            "{json}"
        );
    }
    assert!(Value::Time(NOW).to_json().is_string());
    assert_eq!(Value::Time(i64::MAX).to_json(), serde_json::json!(i64::MAX));
}

#[test]
fn deep_nesting_ends_in_an_error_or_a_value_never_a_stack_overflow() {
    let mut deep = int(0);
    for _ in 0..3000 {
        deep = add(deep, int(1));
    }
    let limits = Limits {
        max_depth: 100_000,
        ..Limits::default()
    };
    // A small stack, as a runtime worker thread might have.
    let result = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let value = run_with("null", &deep, &limits, TypeTable::new()).map(|v| v.to_json());
            std::mem::forget(deep); // dropping 3000 nested boxes recursively is the test's problem, not ours
            value
        })
        .expect("a thread")
        .join()
        .expect("no panic");
    assert_eq!(result, Ok(serde_json::json!(3000)));
}

// ---------------------------------------------------------------------------
// From source: the checker's IR, evaluated.

/// Checks `source` with `input` bound to the document (its type inferred, as
/// `flowc eval` does), evaluates it, and gives the result as JSON or the code.
fn eval_source(input: &str, source: &str) -> Result<serde_json::Value, String> {
    let json: serde_json::Value = serde_json::from_str(input).expect("test input is JSON");
    let env = flowc_compiler::ExprEnv {
        variables: vec![("input".into(), value::infer_type(&json))],
        ..Default::default()
    };
    let checked = flowc_compiler::check_expression(source, &env);
    let Some(expr) = checked.expr else {
        let codes: Vec<&str> = checked
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        return Err(format!(
            "check: {codes:?} {:?}",
            checked.diagnostics.first().map(|d| &d.message)
        ));
    };
    let mut frame = Frame::with_input(checked.frame_size as usize, Value::from_json(&json));
    eval::eval(&expr, &mut frame, &Fixed::new(NOW), &Limits::default())
        .map(|v| v.to_json())
        .map_err(|e| e.code.as_str().to_string())
}

#[track_caller]
fn src(input: &str, source: &str, expected: &str) {
    let expected = match expected.strip_prefix("error ") {
        Some(code) => Err(code.to_string()),
        None => Ok(serde_json::from_str::<serde_json::Value>(expected).expect("expected is JSON")),
    };
    assert_eq!(eval_source(input, source), expected, "{source}");
}

#[test]
fn from_source() {
    let items = r#"{"items":[{"p":2,"q":3},{"p":1,"q":4}]}"#;
    src(items, "input.items.map(i => i.p * i.q).sum()", "10");
    src(items, "input.items.filter(i => i.p > 1).len()", "1");
    src(items, "input.items[5].p", "error R0003");
    src(
        items,
        r#""total: ${input.items.map(i => i.q).sum()}""#,
        r#""total: 7""#,
    );
    src("null", r#"" Ana ".trim().upper()"#, r#""ANA""#);
    src("null", "9223372036854775807 + 1", "error R0001");
    src("null", "1 / 0", "error R0002");
    src("null", "if 2 > 1 then \"a\" else \"b\"", r#""a""#);
    src(
        r#"{"amount":1500.5,"currency":"BRL","score":42}"#,
        r#"input.amount > 1000 && input.currency == "BRL" && input.score < 80"#,
        "true",
    );
    src("null", "[3, 1, 2].sort().reverse()", "[3,2,1]");
    src("null", "90m + 30s", r#""5430s""#);
}

//! Properties of the evaluator: algebraic laws, and agreement with Rust's own
//! checked arithmetic and string functions, over random inputs.
//!
//! The JIT (issue 8) will be tested against the interpreter the same way; these
//! laws pin down the interpreter first.

use flowc_compiler::Span;
use flowc_compiler::eval::{self, Fixed, Frame, Limits};
use flowc_compiler::ir::{BinaryOp, Callee, Expr, ExprKind, Literal, UnaryOp};
use flowc_compiler::ty::Ty;
use flowc_compiler::value::{self, Value};
use proptest::prelude::*;

fn e(kind: ExprKind) -> Expr {
    Expr {
        kind,
        ty: Ty::Json,
        span: Span::new(0, 1),
    }
}

fn int(value: i64) -> Expr {
    e(ExprKind::Literal {
        value: Literal::Int { value },
    })
}

fn s(value: &str) -> Expr {
    e(ExprKind::Literal {
        value: Literal::String {
            value: value.into(),
        },
    })
}

fn boolean(value: bool) -> Expr {
    e(ExprKind::Literal {
        value: Literal::Bool { value },
    })
}

fn null() -> Expr {
    e(ExprKind::Literal {
        value: Literal::Null,
    })
}

fn ints(items: &[i64]) -> Expr {
    e(ExprKind::List {
        items: items.iter().map(|i| int(*i)).collect(),
    })
}

fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    e(ExprKind::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    })
}

fn not(operand: Expr) -> Expr {
    e(ExprKind::Unary {
        op: UnaryOp::Not,
        operand: Box::new(operand),
    })
}

fn call<const N: usize>(name: &str, args: [Expr; N]) -> Expr {
    e(ExprKind::Call {
        callee: Callee::Builtin { name: name.into() },
        args: args.into(),
    })
}

fn run(expr: &Expr) -> Result<Value, String> {
    let ctx = Fixed::new(0);
    eval::eval(expr, &mut Frame::new(2), &ctx, &Limits::default())
        .map_err(|error| error.code.as_str().to_string())
}

fn text(value: &str) -> Result<Value, String> {
    Ok(Value::string(value))
}

fn arith() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -1000i64..1000,
        Just(0),
        Just(-1),
        Just(i64::MIN),
        Just(i64::MAX)
    ]
}

/// Rust's checked operation, and the error the evaluator must give without it.
fn reference(op: BinaryOp, a: i64, b: i64) -> Result<Value, String> {
    let result = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Sub => a.checked_sub(b),
        BinaryOp::Mul => a.checked_mul(b),
        BinaryOp::Div if b == 0 => return Err("R0002".into()),
        BinaryOp::Div => a.checked_div(b),
        BinaryOp::Rem if b == 0 => return Err("R0002".into()),
        BinaryOp::Rem => a.checked_rem(b),
        _ => unreachable!("only arithmetic here"),
    };
    result.map(Value::Int).ok_or_else(|| "R0001".into())
}

proptest! {
    #[test]
    fn integer_arithmetic_agrees_with_rust_checked(a in arith(), b in arith(), op in prop_oneof![
        Just(BinaryOp::Add), Just(BinaryOp::Sub), Just(BinaryOp::Mul), Just(BinaryOp::Div), Just(BinaryOp::Rem)
    ]) {
        prop_assert_eq!(run(&bin(op, int(a), int(b))), reference(op, a, b));
    }

    #[test]
    fn add_and_mul_commute(a in arith(), b in arith()) {
        for op in [BinaryOp::Add, BinaryOp::Mul] {
            prop_assert_eq!(run(&bin(op, int(a), int(b))), run(&bin(op, int(b), int(a))));
        }
    }

    #[test]
    fn comparisons_agree_with_rust(a in arith(), b in arith()) {
        let cases = [
            (BinaryOp::Lt, a < b), (BinaryOp::LtEq, a <= b), (BinaryOp::Gt, a > b),
            (BinaryOp::GtEq, a >= b), (BinaryOp::Eq, a == b), (BinaryOp::NotEq, a != b),
        ];
        for (op, expected) in cases {
            prop_assert_eq!(run(&bin(op, int(a), int(b))), Ok(Value::Bool(expected)));
        }
    }

    #[test]
    fn string_order_is_code_point_order(a in "\\PC{0,6}", b in "\\PC{0,6}") {
        let by_chars = a.chars().cmp(b.chars()) == std::cmp::Ordering::Less;
        prop_assert_eq!(run(&bin(BinaryOp::Lt, s(&a), s(&b))), Ok(Value::Bool(by_chars)));
    }

    #[test]
    fn double_negation(b in any::<bool>()) {
        prop_assert_eq!(run(&not(not(boolean(b)))), Ok(Value::Bool(b)));
    }

    #[test]
    fn de_morgan(a in any::<bool>(), b in any::<bool>()) {
        let lhs = not(bin(BinaryOp::And, boolean(a), boolean(b)));
        let rhs = bin(BinaryOp::Or, not(boolean(a)), not(boolean(b)));
        prop_assert_eq!(run(&lhs), run(&rhs));
    }

    #[test]
    fn coalesce_laws(a in any::<i64>(), b in any::<i64>(), c in any::<i64>()) {
        // null ?? b == b; a ?? b == a; ?? is associative.
        prop_assert_eq!(run(&bin(BinaryOp::Coalesce, null(), int(b))), Ok(Value::Int(b)));
        prop_assert_eq!(run(&bin(BinaryOp::Coalesce, int(a), int(b))), Ok(Value::Int(a)));
        for (x, y) in [(null(), int(b)), (int(a), null()), (null(), null())] {
            let left = bin(BinaryOp::Coalesce, bin(BinaryOp::Coalesce, x.clone(), y.clone()), int(c));
            let right = bin(BinaryOp::Coalesce, x, bin(BinaryOp::Coalesce, y, int(c)));
            prop_assert_eq!(run(&left), run(&right));
        }
    }

    #[test]
    fn concatenation_is_associative_and_adds_lengths(a in "\\PC{0,8}", b in "\\PC{0,8}", c in "\\PC{0,8}") {
        let left = bin(BinaryOp::Add, bin(BinaryOp::Add, s(&a), s(&b)), s(&c));
        let right = bin(BinaryOp::Add, s(&a), bin(BinaryOp::Add, s(&b), s(&c)));
        prop_assert_eq!(run(&left), run(&right));
        let len_sum = bin(BinaryOp::Add, call("len", [s(&a)]), call("len", [s(&b)]));
        prop_assert_eq!(run(&call("len", [bin(BinaryOp::Add, s(&a), s(&b))])), run(&len_sum));
    }

    #[test]
    fn string_functions_agree_with_rust(a in "\\PC{0,12}", b in "[a-c]{0,2}") {
        prop_assert_eq!(run(&call("upper", [s(&a)])), text(&a.to_uppercase()));
        prop_assert_eq!(run(&call("lower", [s(&a)])), text(&a.to_lowercase()));
        prop_assert_eq!(run(&call("trim", [s(&a)])), text(a.trim()));
        prop_assert_eq!(run(&call("len", [s(&a)])), Ok(Value::Int(a.chars().count() as i64)));
        prop_assert_eq!(run(&call("contains", [s(&a), s(&b)])), Ok(Value::Bool(a.contains(&b))));
        prop_assert_eq!(run(&call("starts_with", [s(&a), s(&b)])), Ok(Value::Bool(a.starts_with(&b))));
        prop_assert_eq!(run(&call("ends_with", [s(&a), s(&b)])), Ok(Value::Bool(a.ends_with(&b))));
        prop_assert_eq!(run(&call("reverse", [s(&a)])), text(&a.chars().rev().collect::<String>()));
    }

    #[test]
    fn split_and_join_are_inverse(a in "[a-c,]{0,12}") {
        let back = call("join", [call("split", [s(&a), s(",")]), s(",")]);
        prop_assert_eq!(run(&back), text(&a));
    }

    #[test]
    fn base64_round_trips(a in "\\PC{0,20}") {
        prop_assert_eq!(run(&call("base64_decode", [call("base64", [s(&a)])])), text(&a));
    }

    #[test]
    fn sort_is_sorted_idempotent_and_agrees_with_rust(xs in prop::collection::vec(any::<i64>(), 0..20)) {
        let mut expected = xs.clone();
        expected.sort();
        let sorted = run(&call("sort", [ints(&xs)]));
        prop_assert_eq!(sorted.clone(), run(&ints(&expected)));
        prop_assert_eq!(run(&call("sort", [call("sort", [ints(&xs)])])), sorted);
    }

    #[test]
    fn reverse_is_an_involution(xs in prop::collection::vec(any::<i64>(), 0..20)) {
        prop_assert_eq!(run(&call("reverse", [call("reverse", [ints(&xs)])])), run(&ints(&xs)));
    }

    #[test]
    fn sum_agrees_with_checked_fold(xs in prop::collection::vec(arith(), 0..6)) {
        let expected = xs.iter().try_fold(0i64, |acc, x| acc.checked_add(*x));
        let expected = expected.map(Value::Int).ok_or_else(|| "R0001".to_string());
        prop_assert_eq!(run(&call("sum", [ints(&xs)])), expected);
    }

    #[test]
    fn list_concatenation_adds_lengths(xs in prop::collection::vec(any::<i64>(), 0..8), ys in prop::collection::vec(any::<i64>(), 0..8)) {
        let joined = call("len", [bin(BinaryOp::Add, ints(&xs), ints(&ys))]);
        prop_assert_eq!(run(&joined), Ok(Value::Int((xs.len() + ys.len()) as i64)));
    }

    #[test]
    fn to_string_and_to_int_round_trip(a in any::<i64>()) {
        prop_assert_eq!(run(&call("to_int", [call("to_string", [int(a)])])), Ok(Value::Int(a)));
    }

    #[test]
    fn to_json_and_parse_json_round_trip(xs in prop::collection::vec(any::<i64>(), 0..8)) {
        prop_assert_eq!(run(&call("parse_json", [call("to_json", [ints(&xs)])])), run(&ints(&xs)));
    }

    #[test]
    fn durations_round_trip_through_text(ms in any::<i64>()) {
        let text = value::format_duration(ms);
        prop_assert_eq!(value::parse_duration(&text), Some(ms));
    }

    #[test]
    fn int_float_comparison_is_exact(a in any::<i64>(), f in any::<f64>()) {
        // Compare exactly through i128 when the float is whole and in range.
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30 {
            let expected = (a as i128).cmp(&(f as i128));
            prop_assert_eq!(value::int_float_cmp(a, f), Some(expected));
        }
    }
}

//! Expression evaluation throughput: the 3-clause condition and the field mapping
//! of the peer benchmarks (`../shared/peers/expr/`), evaluated by the tree-walking
//! interpreter over 1,000,000 pre-built records, against hand-written Rust over
//! `serde_json::Value` and over typed structs measured in the same run.
//!
//! Run with `cargo bench -p flowc-compiler --bench eval` (`-- 200000` for fewer
//! records). Records are generated here, deterministically, with the shape of
//! `gen_records.py`; only evaluation is timed, never JSON parsing. The JIT (issue
//! 8) is measured beside them: each expression compiled once (the median of 50
//! compiles is printed), one `Slots` filled per record beforehand
//! (`Layout::fill`), then `Compiled::eval_bool_slots`/`eval_slots` per record.
//! `flowc-bench expr` measures the same over the peers' records file, parsing and
//! end to end included, beside the peers.

#![allow(clippy::disallowed_methods)] // A benchmark times itself with the real clock.

use flowc_compiler::eval::{self, Fixed, Frame, Limits};
use flowc_compiler::jit::{self, Slots};
use flowc_compiler::value::{self, Value};
use std::hint::black_box;
use std::time::Instant;

const CONDITION: &str = r#"input.amount > 1000 && input.currency == "BRL" && input.score < 80"#;
const MAPPING: &str = r#"{ id: input.id, name: input.customer.first + " " + input.customer.last, city: input.customer.address.city, total: input.amount * input.qty + input.fee, high: input.amount > 1000 }"#;
const RUNS: usize = 3;
const COMPILES: usize = 50;

struct Customer {
    first: String,
    last: String,
    city: String,
}

struct Record {
    id: i64,
    amount: f64,
    currency: String,
    score: i64,
    qty: i64,
    fee: f64,
    customer: Customer,
}

#[allow(dead_code)] // Built and dropped: the hand-written mapping's result.
struct Mapped {
    id: i64,
    name: String,
    city: String,
    total: f64,
    high: bool,
}

/// A small deterministic generator (64-bit LCG, top bits).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn generate(n: usize) -> Vec<serde_json::Value> {
    const FIRST: [&str; 8] = [
        "Ana", "Bruno", "Carla", "Diego", "Elisa", "Fabio", "Gabi", "Hugo",
    ];
    const LAST: [&str; 6] = ["Silva", "Souza", "Costa", "Lima", "Rocha", "Alves"];
    const CITY: [(&str, &str); 4] = [
        ("Recife", "BR"),
        ("Porto Alegre", "BR"),
        ("Lisboa", "PT"),
        ("Austin", "US"),
    ];
    const CUR: [&str; 4] = ["BRL", "BRL", "USD", "EUR"];
    const TAGS: [&str; 5] = ["vip", "new", "promo", "b2b", "late"];
    let mut rng = Rng(42);
    (0..n)
        .map(|i| {
            let (city, country) = CITY[rng.next(4) as usize];
            serde_json::json!({
                "id": i,
                "amount": rng.next(500_000) as f64 / 100.0 + 0.5,
                "currency": CUR[rng.next(4) as usize],
                "score": rng.next(100),
                "qty": rng.next(9) + 1,
                "fee": rng.next(2000) as f64 / 100.0 + 0.25,
                "customer": {
                    "first": FIRST[rng.next(8) as usize],
                    "last": LAST[rng.next(6) as usize],
                    "address": { "city": city, "country": country },
                },
                "tags": [TAGS[rng.next(5) as usize], TAGS[rng.next(5) as usize]],
            })
        })
        .collect()
}

fn typed(json: &serde_json::Value) -> Record {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    Record {
        id: json["id"].as_i64().unwrap_or_default(),
        amount: json["amount"].as_f64().unwrap_or_default(),
        currency: s(&json["currency"]),
        score: json["score"].as_i64().unwrap_or_default(),
        qty: json["qty"].as_i64().unwrap_or_default(),
        fee: json["fee"].as_f64().unwrap_or_default(),
        customer: Customer {
            first: s(&json["customer"]["first"]),
            last: s(&json["customer"]["last"]),
            city: s(&json["customer"]["address"]["city"]),
        },
    }
}

/// Runs `f` over all records `RUNS` times; the median rate in records/s.
fn measure(n: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut rates = Vec::new();
    let mut check = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        check = black_box(f());
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    (rates[RUNS / 2], check)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(1_000_000);
    let json = generate(n);
    let env = flowc_compiler::ExprEnv {
        variables: vec![("input".into(), value::infer_type(&json[0]))],
        ..Default::default()
    };
    // Converted as one document (a batch), so records share their keys.
    let values: Vec<Value> = match Value::from_json(&serde_json::Value::Array(json.clone())) {
        Value::List(items) => items.to_vec(),
        _ => Vec::new(),
    };
    let structs: Vec<Record> = json.iter().map(typed).collect();
    let ctx = Fixed::new(0);
    let limits = Limits::default();

    for (label, source) in [("condition", CONDITION), ("mapping", MAPPING)] {
        let checked = flowc_compiler::check_expression(source, &env);
        let Some(expr) = checked.expr else {
            eprintln!("{label}: does not check: {:?}", checked.diagnostics);
            std::process::exit(1);
        };
        let mut frame = Frame::new(checked.frame_size as usize);
        let mut compile_times: Vec<f64> = (0..COMPILES)
            .map(|_| {
                let start = Instant::now();
                let compiled = jit::compile(&expr, &env.types);
                let elapsed = start.elapsed().as_secs_f64();
                black_box(compiled.is_ok());
                elapsed
            })
            .collect();
        compile_times.sort_by(f64::total_cmp);
        let compile_time = compile_times[COMPILES / 2];
        let jit = match jit::compile(&expr, &env.types) {
            Ok(compiled) => {
                let mut slots: Vec<Slots> = values
                    .iter()
                    .map(|record| {
                        let mut slots = Slots::new();
                        compiled.layout().fill(record, &mut slots);
                        slots
                    })
                    .collect();
                let mut bails = 0;
                let (rate, count) = measure(n, || {
                    bails = 0;
                    let mut count = 0;
                    for record in &mut slots {
                        if label == "condition" {
                            match compiled.eval_bool_slots(record, &limits) {
                                Some(truth) => count += usize::from(truth),
                                None => bails += 1,
                            }
                        } else {
                            match compiled.eval_slots(record, &limits) {
                                Some(Value::Record(fields)) => count += fields.len(),
                                Some(_) => {}
                                None => bails += 1,
                            }
                        }
                    }
                    count
                });
                Some((rate, count, bails))
            }
            Err(unsupported) => {
                eprintln!("{label}: {unsupported}");
                None
            }
        };
        let (interp, count_i) = measure(n, || {
            let mut count = 0;
            for record in &values {
                frame.set(0, record.clone());
                match eval::eval(&expr, &mut frame, &ctx, &limits) {
                    Ok(Value::Bool(true)) => count += 1,
                    Ok(Value::Record(fields)) => count += fields.len(),
                    _ => {}
                }
            }
            count
        });
        let (native_value, count_v) = if label == "condition" {
            measure(n, || {
                json.iter()
                    .filter(|r| {
                        r["amount"].as_f64().is_some_and(|a| a > 1000.0)
                            && r["currency"].as_str() == Some("BRL")
                            && r["score"].as_i64().is_some_and(|s| s < 80)
                    })
                    .count()
            })
        } else {
            measure(n, || {
                let mut count = 0;
                for r in &json {
                    let c = &r["customer"];
                    let amount = r["amount"].as_f64().unwrap_or_default();
                    let name = format!(
                        "{} {}",
                        c["first"].as_str().unwrap_or_default(),
                        c["last"].as_str().unwrap_or_default()
                    );
                    let out = serde_json::json!({
                        "id": r["id"].clone(),
                        "name": name,
                        "city": c["address"]["city"].clone(),
                        "total": amount * r["qty"].as_i64().unwrap_or_default() as f64
                            + r["fee"].as_f64().unwrap_or_default(),
                        "high": amount > 1000.0,
                    });
                    count += black_box(out).as_object().map_or(0, |o| o.len());
                }
                count
            })
        };
        let (native_typed, count_t) = if label == "condition" {
            measure(n, || {
                structs
                    .iter()
                    .filter(|r| r.amount > 1000.0 && r.currency == "BRL" && r.score < 80)
                    .count()
            })
        } else {
            measure(n, || {
                let mut count = 0;
                for r in &structs {
                    let out = Mapped {
                        id: r.id,
                        name: format!("{} {}", r.customer.first, r.customer.last),
                        city: r.customer.city.clone(),
                        total: r.amount * r.qty as f64 + r.fee,
                        high: r.amount > 1000.0,
                    };
                    black_box(&out);
                    count += 5;
                }
                count
            })
        };
        assert_eq!(
            count_i, count_v,
            "{label}: the interpreter and Rust disagree"
        );
        assert_eq!(
            count_i, count_t,
            "{label}: the interpreter and Rust disagree"
        );
        if let Some((rate, count_j, bails)) = jit {
            assert_eq!(bails, 0, "{label}: the JIT bailed out on {bails} records");
            assert_eq!(
                count_i, count_j,
                "{label}: the interpreter and the JIT disagree"
            );
            println!(
                "{label:9}  JIT {:>7.2} M rec/s ({:.1}x the interpreter, {:.2}x Rust over typed structs), compile {:.0} µs",
                rate / 1e6,
                rate / interp,
                rate / native_typed,
                compile_time * 1e6,
            );
        }
        println!(
            "{label:9}  interpreter {:>7.2} M rec/s | Rust over serde_json::Value {:>7.2} M rec/s ({:.1}x the interpreter) | Rust over typed structs {:>7.2} M rec/s ({:.1}x)",
            interp / 1e6,
            native_value / 1e6,
            native_value / interp,
            native_typed / 1e6,
            native_typed / interp,
        );
    }
}

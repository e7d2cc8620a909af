//! Lex and parse throughput on the hand-written examples: `cargo bench -p flowc-compiler`.
//!
//! `flowc-bench parse` measures a generated 100,000-line project; this bench is its
//! counterpart on real code, the five files under `examples/`, so that a generator
//! that drifted away from how people write Flow would show as a gap between the two.
//! It needs no harness: it times each phase over many rounds and prints the median.
//! Absolute figures depend on the machine; compare ratios, or runs on one machine.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use flowc_compiler::syntax;
use std::hint::black_box;
use std::time::{Duration, Instant};

const EXAMPLES: &[&str] = &[
    include_str!("../../examples/deal_closed.flow"),
    include_str!("../../examples/github_slack.flow"),
    include_str!("../../examples/hourly_enrich_approve.flow"),
    include_str!("../../examples/order_events.flow"),
    include_str!("../../examples/payment_validation.flow"),
];

/// Each round lexes or parses every example this many times.
const REPEAT: usize = 20;
const ROUNDS: usize = 15;

fn main() {
    // `cargo test --benches` runs this with `--test`: check it works, time nothing.
    if std::env::args().any(|arg| arg == "--test") {
        for source in EXAMPLES {
            assert!(syntax::parse(source).diagnostics.is_empty());
        }
        return;
    }
    let lines: usize = EXAMPLES.iter().map(|source| source.lines().count()).sum();
    let bytes: usize = EXAMPLES.iter().map(|source| source.len()).sum();
    println!(
        "examples: {} files, {lines} lines, {bytes} bytes; median of {ROUNDS} rounds",
        EXAMPLES.len()
    );
    let lex = median(|| {
        for source in EXAMPLES {
            black_box(syntax::lex(black_box(source)));
        }
    });
    let parse = median(|| {
        for source in EXAMPLES {
            black_box(syntax::parse(black_box(source)));
        }
    });
    for (name, time) in [("lex", lex), ("lex+parse", parse)] {
        println!(
            "{name:<10} {:>9.3} ms per pass  {:>12.0} lines/s  {:>7.1} MiB/s",
            time.as_secs_f64() * 1_000.0,
            lines as f64 / time.as_secs_f64(),
            bytes as f64 / time.as_secs_f64() / (1024.0 * 1024.0),
        );
    }
    println!(
        "lex+parse / lex: {:.1}×",
        parse.as_secs_f64() / lex.as_secs_f64()
    );
}

/// The median time of one pass of `pass`, over `ROUNDS` rounds of `REPEAT` passes.
fn median(mut pass: impl FnMut()) -> Duration {
    pass();
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..REPEAT {
                pass();
            }
            start.elapsed() / REPEAT as u32
        })
        .collect();
    rounds.sort();
    rounds[ROUNDS / 2]
}

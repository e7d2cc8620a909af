//! The `.flow` programs the runtime benchmarks run, generated with the downstream
//! server's address written in.
//!
//! Each chain step posts `{acc, i}` to the downstream `/add` and reads back
//! `{acc}`, and the next step sends that on, so no step can be skipped or reordered
//! and the run's output (the sum of `0..steps`) proves every step ran: the flowc
//! counterpart of the peers' ten `acc + i` steps, plus an HTTP round trip each.

use flowc_compiler::ir::Program;
use std::fmt::Write as _;

/// How a generated workflow is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `on manual`: runs started through `Store::start_run`.
    Manual,
    /// `on webhook POST "/chain" { respond: accepted }`.
    WebhookAccepted,
    /// `on webhook POST "/chain" { respond: wait }`: the answer is the output.
    WebhookWait,
}

/// The path of the chain workflow's webhook.
pub const CHAIN_PATH: &str = "/chain";

/// The path of the ingestion workflow's webhook.
pub const INGEST_PATH: &str = "/ingest";

/// The sum a chain of `steps` steps returns: 0 + 1 + … + (steps - 1).
pub fn chain_sum(steps: usize) -> i64 {
    let steps = i64::try_from(steps).unwrap_or(i64::MAX);
    steps.saturating_mul(steps.saturating_sub(1)) / 2
}

/// A workflow `chain` of `steps` HTTP steps against `base`.
pub fn chain(base: &str, steps: usize, trigger: Trigger) -> String {
    let mut source = String::from("type Acc = { acc: int }\n\n");
    source.push_str("workflow chain(seed: { acc: int }) -> int {\n");
    match trigger {
        Trigger::Manual => source.push_str("  on manual\n"),
        Trigger::WebhookAccepted => {
            let _ = writeln!(
                source,
                "  on webhook POST \"{CHAIN_PATH}\" {{ respond: accepted }}"
            );
        }
        Trigger::WebhookWait => {
            let _ = writeln!(
                source,
                "  on webhook POST \"{CHAIN_PATH}\" {{ respond: wait }}"
            );
        }
    }
    for step in 1..=steps {
        let acc = if step == 1 {
            "seed.acc".to_string()
        } else {
            format!("s{}.body.acc", step - 1)
        };
        let _ = writeln!(
            source,
            "  step s{step} = http POST \"{base}/add\" {{ json: {{ acc: {acc}, i: {} }} }} -> Acc",
            step - 1
        );
    }
    if steps == 0 {
        source.push_str("  return seed.acc\n}\n");
    } else {
        let _ = writeln!(source, "  return s{steps}.body.acc\n}}");
    }
    source
}

/// The webhook ingestion workflow: the peers' small transform (the same five
/// fields as the n8n, Node-RED and axum-floor servers build), answered 202 once the
/// run is committed. The body `wrk` posts is of type `Order`.
pub fn ingest() -> String {
    format!(
        r#"type Order = {{
  id: int, amount: float, currency: string, score: int,
  customer: {{ first: string, last: string }},
}}

workflow ingest(order: Order) -> {{ id: int, name: string, total: float, ok: bool, src: string }} {{
  on webhook POST "{INGEST_PATH}" {{ respond: accepted }}
  return {{
    id: order.id,
    name: order.customer.first + " " + order.customer.last,
    total: order.amount * 2.0,
    ok: order.amount > 1000.0 && order.currency == "BRL" && order.score < 80,
    src: "flowc",
  }}
}}
"#
    )
}

/// Compiles one source file, or says why it does not compile.
pub fn compile(source: &str) -> anyhow::Result<Program> {
    let analysis = flowc_compiler::analyze(
        vec![flowc_compiler::SourceFile {
            path: "bench.flow".into(),
            text: source.into(),
        }],
        &flowc_compiler::NoImports,
    );
    let mut errors = String::new();
    for entry in &analysis.diagnostics {
        if entry.diagnostic.is_error() {
            errors.push_str(&flowc_compiler::diagnostic::render(
                &entry.diagnostic,
                "bench.flow",
                source,
                false,
            ));
        }
    }
    if !errors.is_empty() {
        anyhow::bail!("the generated benchmark workflow does not compile:\n{errors}");
    }
    Ok(analysis.program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_workflow_compiles() {
        for trigger in [
            Trigger::Manual,
            Trigger::WebhookAccepted,
            Trigger::WebhookWait,
        ] {
            for steps in [0, 1, 3, 10] {
                let source = chain("http://127.0.0.1:9", steps, trigger);
                let compiled = compile(&source);
                assert!(compiled.is_ok(), "{source}\n{compiled:?}");
            }
        }
        let source = ingest();
        assert!(compile(&source).is_ok(), "{source}");
    }

    #[test]
    fn chain_sums_the_step_indices() {
        assert_eq!(chain_sum(10), 45);
        assert_eq!(chain_sum(3), 3);
        assert_eq!(chain_sum(0), 0);
    }
}

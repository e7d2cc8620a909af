//! Tiering in the runtime: the engine evaluates a deployment's expressions
//! through the deployment's evaluator (`--jit`), and the mode changes how they
//! are answered, never what the answer is.
//!
//! Runs are interpreted by an engine on a temp-file SQLite store on a test
//! clock, without a server: `off` never compiles, `always` compiles every
//! expression a run reaches and gives the runs of `off`, `auto` switches an
//! expression to native code once it has been evaluated `threshold` times, a run
//! parked under one mode and resumed under another after a restart ends as it
//! would under either, and retiring a deployment drops its evaluator (and so its
//! compiled code). The server stack checks the webhook's idempotency key is
//! evaluated by the same evaluator as the runs, that deactivating a deployment
//! retires it, and the `flowc_jit_*` metrics.
//!
//! Whether the code generator supports an expression is the compiler's
//! business: where a test expects native answers it first asks `jit::compile`
//! whether that expression compiles, and otherwise expects it declined.

#![allow(clippy::unwrap_used)]

mod common;

use common::harness::Harness;
use common::{compile, new_run};
use flowc_compiler::ir::{Expr, Program, StmtKind};
use flowc_compiler::jit::{self as compiler_jit};
use flowc_runtime::clock::{Clock, Millis, TestClock};
use flowc_runtime::engine::{Engine, NoSecrets};
use flowc_runtime::jit::{Counts, Mode, Options};
use flowc_runtime::outbound::Client;
use flowc_runtime::store::sqlite::{Options as StoreOptions, SqliteStore};
use flowc_runtime::store::{RunOutcome, SequentialIds, Store};
use reqwest::Method;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;

const START: Millis = 1_700_000_000_000;

/// A condition, a mapping, a template and a branch: what webhook workflows
/// evaluate on every run. `slow` parks on a timer between its expressions.
const PROGRAM: &str = r#"
type Order = { amount: float, currency: string, score: int, items: [{ p: int, q: int }] }

workflow score(order: Order) -> { approved: bool, total: int, label: string } {
  on manual
  let approved = order.amount > 1000.0 && order.currency == "BRL" && order.score < 80
  let total = order.items.map(i => i.p * i.q).sum()
  let label = "${order.currency}:${order.score}"
  if approved {
    return { approved: true, total: total, label: label }
  }
  return { approved: false, total: total * 2, label: label + "!" }
}

workflow slow(order: Order) -> { approved: bool, total: int, label: string } {
  on manual
  let approved = order.amount > 1000.0 && order.currency == "BRL" && order.score < 80
  step nap = wait 1h
  let total = order.items.map(i => i.p * i.q).sum()
  let label = "${order.currency}:${order.score}"
  return { approved: approved, total: total, label: label }
}
"#;

/// Inputs of `score`, a failing one (an overflow) among them.
fn orders() -> Vec<Json> {
    let order = |amount: f64, currency: &str, score: i64, p: i64| {
        json!({
            "amount": amount, "currency": currency, "score": score,
            "items": [{ "p": p, "q": 3 }, { "p": 1, "q": 4 }]
        })
    };
    vec![
        order(1500.5, "BRL", 42, 2),
        order(999.0, "BRL", 42, 2),
        order(5000.0, "USD", 10, 7),
        order(2000.0, "BRL", 80, 0),
        order(1e9, "BRL", -5, 9_223_372_036_854_775_807),
        order(0.0, "", 0, -3),
    ]
}

/// A store with [`PROGRAM`] deployed, on a test clock.
struct Rig {
    dir: tempfile::TempDir,
    clock: TestClock,
    store: Arc<SqliteStore>,
    deployment: String,
}

impl Rig {
    async fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new(START);
        let store = open(&dir, &clock, true);
        let deployment = store.deploy(&compile(PROGRAM)).await.unwrap().id;
        Rig {
            dir,
            clock,
            store,
            deployment,
        }
    }

    /// An engine on the store under `options`.
    fn engine(&self, options: Options) -> Engine {
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let client = Client::builder(Arc::clone(&clock)).build().unwrap();
        Engine::new(
            self.store.clone(),
            Arc::new(client),
            Arc::new(NoSecrets),
            clock,
        )
        .with_jit(options)
    }

    /// Runs `workflow` on `input` to its end with `engine`.
    async fn run(&self, engine: &Engine, workflow: &str, input: Json) -> RunOutcome {
        let run = self
            .store
            .start_run(new_run(&self.deployment, workflow, input))
            .await
            .unwrap()
            .run;
        engine.run(&run).await.unwrap()
    }

    /// The deployment's program as the engine decodes it (the same IR).
    async fn program(&self) -> Program {
        let deployment = self.store.get_deployment(&self.deployment).await;
        deployment.unwrap().unwrap().program.as_ref().clone()
    }
}

fn open(dir: &tempfile::TempDir, clock: &TestClock, sequential: bool) -> Arc<SqliteStore> {
    let mut options = StoreOptions::new(dir.path().join("flowc.db"));
    options.clock = Arc::new(clock.clone());
    if sequential {
        options.ids = Arc::new(SequentialIds::new());
    }
    Arc::new(options.open().unwrap())
}

fn options(mode: Mode, threshold: u64) -> Options {
    Options { mode, threshold }
}

/// The value of the `index`th `let` of `workflow`'s body.
fn let_value<'p>(program: &'p Program, workflow: &str, index: usize) -> &'p Expr {
    let workflow = program.workflow(workflow).unwrap();
    workflow
        .body
        .iter()
        .filter_map(|stmt| match &stmt.kind {
            StmtKind::Let { value, .. } => Some(value),
            _ => None,
        })
        .nth(index)
        .unwrap_or_else(|| panic!("no let number {index} in the workflow"))
}

/// Whether the code generator compiles `expr` today.
fn compiles(program: &Program, expr: &Expr) -> bool {
    compiler_jit::compile(expr, &program.types).is_ok()
}

/// The outcomes of every order under `engine`.
async fn outcomes(rig: &Rig, engine: &Engine) -> Vec<RunOutcome> {
    let mut outcomes = Vec::new();
    for order in orders() {
        outcomes.push(rig.run(engine, "score", order).await);
    }
    outcomes
}

#[tokio::test]
async fn off_never_compiles_and_interprets_every_evaluation() {
    let rig = Rig::new().await;
    let engine = rig.engine(options(Mode::Off, 1));
    let outcomes = outcomes(&rig, &engine).await;
    assert!(
        matches!(outcomes[0], RunOutcome::Succeeded(_)),
        "{outcomes:?}"
    );
    let counts = engine.evaluator(&rig.deployment).unwrap().counts();
    assert_eq!(
        (counts.compiled, counts.unsupported, counts.compile_micros),
        (0, 0, 0),
        "{counts:?}"
    );
    assert_eq!((counts.native, counts.bailed), (0, 0), "{counts:?}");
    // Six runs, each evaluating three `let`s, the condition and a `return`
    // (the one that overflows stops at its second `let`).
    assert_eq!(counts.interpreted, 5 * 5 + 2, "{counts:?}");
}

#[tokio::test]
async fn always_compiles_what_runs_reach_and_gives_the_runs_of_off() {
    let rig = Rig::new().await;
    let off = rig.engine(options(Mode::Off, 1));
    let always = rig.engine(options(Mode::Always, 1));
    let expected = outcomes(&rig, &off).await;
    let got = outcomes(&rig, &always).await;
    assert_eq!(got, expected);
    // The overflow is the interpreter's error, with its code.
    let RunOutcome::Failed(error) = &got[4] else {
        panic!("the overflowing order fails: {:?}", got[4]);
    };
    assert_eq!(error["code"], "R0001", "{error}");

    let counts = always.evaluator(&rig.deployment).unwrap().counts();
    // Three `let`s, the condition, and both `return`s: each tried once.
    assert_eq!(counts.compiled + counts.unsupported, 6, "{counts:?}");
    assert_eq!(counts.native + counts.interpreted, 5 * 5 + 2, "{counts:?}");
    let program = rig.program().await;
    let condition = let_value(&program, "score", 0);
    if compiles(&program, condition) {
        assert!(counts.compiled >= 1, "{counts:?}");
        assert!(counts.native >= 6, "the condition, natively: {counts:?}");
    } else {
        assert_eq!(counts.native, 0, "{counts:?}");
    }
}

#[tokio::test]
async fn auto_switches_an_expression_to_native_code_after_the_threshold() {
    let rig = Rig::new().await;
    let engine = rig.engine(options(Mode::Auto, 5));
    let order = orders()[0].clone();
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        outcomes.push(rig.run(&engine, "score", order.clone()).await);
    }
    let evaluator = engine.evaluator(&rig.deployment).unwrap();
    evaluator.wait_idle();
    let cold = evaluator.counts();
    assert_eq!(
        (cold.compiled, cold.unsupported, cold.native),
        (0, 0, 0),
        "nothing is hot after 4 evaluations: {cold:?}"
    );
    assert_eq!(cold.interpreted, 4 * 5, "{cold:?}");

    // The fifth evaluation of each expression queues it; the interpreter still
    // answers that one.
    outcomes.push(rig.run(&engine, "score", order.clone()).await);
    evaluator.wait_idle();
    let queued = evaluator.counts();
    assert_eq!(queued.compiled + queued.unsupported, 5, "{queued:?}");
    assert_eq!(queued.native, 0, "{queued:?}");

    outcomes.push(rig.run(&engine, "score", order.clone()).await);
    let hot = evaluator.counts();
    let program = rig.program().await;
    let compiled = [
        let_value(&program, "score", 0),
        let_value(&program, "score", 1),
        let_value(&program, "score", 2),
    ]
    .into_iter()
    .filter(|expr| compiles(&program, expr))
    .count();
    assert!(
        hot.native >= u64::try_from(compiled).unwrap(),
        "each compiled `let` answered natively on the sixth run: {hot:?}"
    );
    assert_eq!(hot.native + hot.interpreted, 6 * 5, "{hot:?}");
    // Every run gave the same answer, on either tier.
    assert!(
        outcomes.windows(2).all(|pair| pair[0] == pair[1]),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[0],
        RunOutcome::Succeeded(json!({ "approved": true, "total": 10, "label": "BRL:42" }))
    );
}

/// Runs `slow` under `before` until it parks, restarts (a new store and engine on
/// the same database) under `after`, fires the timer and resumes it; the outcome.
async fn parked_and_resumed(before: Mode, after: Mode, order: &Json) -> RunOutcome {
    let rig = Rig::new().await;
    let run = rig
        .store
        .start_run(new_run(&rig.deployment, "slow", order.clone()))
        .await
        .unwrap()
        .run;
    let first = rig.engine(options(before, 1));
    assert_eq!(first.run(&run).await.unwrap(), RunOutcome::Waiting);
    let Rig {
        dir,
        clock,
        store,
        deployment,
    } = rig;
    drop(first);
    drop(store);
    // The restart: the database is all that is left.
    let store = open(&dir, &clock, false);
    let rig = Rig {
        dir,
        clock,
        store,
        deployment,
    };
    rig.clock.advance(Duration::from_secs(3600));
    assert_eq!(rig.store.fire_due(rig.clock.now_ms(), 10).await.unwrap(), 1);
    let second = rig.engine(options(after, 1));
    let outcome = second.run(&run).await.unwrap();
    let detail = rig.store.get_run(&run).await.unwrap().unwrap();
    assert!(detail.run.status.is_terminal(), "{detail:?}");
    let counts = second.evaluator(&rig.deployment).unwrap().counts();
    match after {
        Mode::Off => assert_eq!(counts.compiled + counts.unsupported, 0, "{counts:?}"),
        // The resumed run evaluates its five expressions from the top (the
        // wait's duration among them); one that overflows stops at the third.
        _ => assert!(
            [3, 5].contains(&(counts.compiled + counts.unsupported)),
            "{counts:?}"
        ),
    }
    outcome
}

#[tokio::test]
async fn a_run_parked_under_one_tier_resumes_under_another_with_the_same_result() {
    for order in [
        orders()[0].clone(),
        orders()[2].clone(),
        orders()[4].clone(),
    ] {
        let baseline = parked_and_resumed(Mode::Off, Mode::Off, &order).await;
        let up = parked_and_resumed(Mode::Off, Mode::Always, &order).await;
        let down = parked_and_resumed(Mode::Always, Mode::Off, &order).await;
        assert_eq!(up, baseline, "off, then always: {order}");
        assert_eq!(down, baseline, "always, then off: {order}");
        assert!(
            !matches!(baseline, RunOutcome::Waiting),
            "the run ended: {baseline:?}"
        );
    }
}

#[tokio::test]
async fn retiring_a_deployment_drops_its_evaluator() {
    let rig = Rig::new().await;
    let engine = rig.engine(options(Mode::Always, 1));
    rig.run(&engine, "score", orders()[0].clone()).await;
    let evaluator = Arc::downgrade(&engine.evaluator(&rig.deployment).unwrap());
    assert!(evaluator.upgrade().is_some(), "the engine keeps it");
    engine.retire(&rig.deployment);
    assert!(
        evaluator.upgrade().is_none(),
        "nothing else holds the evaluator, nor its compiled code"
    );
    assert!(engine.evaluator(&rig.deployment).is_none());
    // A later run of the deployment loads it again, from cold.
    rig.run(&engine, "score", orders()[0].clone()).await;
    let again = engine.evaluator(&rig.deployment).unwrap().counts();
    assert_eq!(again.native + again.interpreted, 5, "{again:?}");
}

// ------------------------------------------------------------------ the server

const WEBHOOK: &str = r#"
workflow hook(delivery: { id: string, n: int }) -> int {
  on webhook POST "/hook" {
    idempotency_key: "key-${delivery.id}"
  }
  return delivery.n + 1
}
"#;

/// Reads one unlabelled sample, or one of `tier`, from Prometheus text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no sample `{name}` in:\n{text}"))
}

#[tokio::test]
async fn the_webhook_key_and_the_runs_share_the_deployment_evaluator_until_it_is_retired() {
    let h = Harness::builder()
        .program(WEBHOOK)
        .admin_token(Some("token"))
        .build()
        .await;
    let deployment = h.store.active_deployments().await.unwrap()[0].id.clone();
    let evaluator = h.engine.evaluator(&deployment).expect("adopted at start");
    assert_eq!(evaluator.counts(), Counts::default());

    let (status, _, body) = h.post_json("/hook", r#"{"id": "a", "n": 41}"#).await;
    assert_eq!(status, 202, "{body}");
    let run = body["run_id"].as_str().unwrap().to_string();
    let detail = h.finished(&run).await;
    assert_eq!(detail.run.output, Some(json!(42)));
    assert_eq!(detail.run.idempotency_key.as_deref(), Some("key-a"));
    // The key at ingress and the `return` in the run: one evaluator.
    let counts = evaluator.counts();
    assert_eq!(counts.native + counts.interpreted, 2, "{counts:?}");

    // The scrape sums every evaluator of the process (other tests' too).
    let response = h
        .http
        .get(h.url("/metrics"))
        .bearer_auth("token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let evaluations = sample(&text, "flowc_jit_evaluations_total{tier=\"interpreter\"}")
        + sample(&text, "flowc_jit_evaluations_total{tier=\"native\"}")
        + sample(&text, "flowc_jit_evaluations_total{tier=\"bailed\"}");
    assert!(evaluations >= 2.0, "{text}");
    assert!(sample(&text, "flowc_jit_compile_seconds_total") >= 0.0);
    let compiled = sample(&text, "flowc_jit_expressions_compiled_total");
    let declined = sample(&text, "flowc_jit_expressions_unsupported_total");
    assert!(compiled >= 0.0 && declined >= 0.0, "{text}");

    // Deactivating the deployment retires it: its evaluator goes with the last
    // reference, here the test's.
    let weak = Arc::downgrade(&evaluator);
    drop(evaluator);
    let (status, body) = h
        .api(
            Method::POST,
            &format!("/deployments/{deployment}/deactivate"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(h.engine.evaluator(&deployment).is_none());
    assert!(weak.upgrade().is_none(), "the evaluator was dropped");
}

#[tokio::test]
async fn the_runtime_wide_counts_never_go_down_when_an_evaluator_is_retired() {
    let rig = Rig::new().await;
    let engine = rig.engine(options(Mode::Off, 1));
    rig.run(&engine, "score", orders()[0].clone()).await;
    let registry = flowc_runtime::metrics::global().jit();
    let before = registry.totals();
    assert!(before.interpreted >= 5, "{before:?}");
    engine.retire(&rig.deployment);
    let after = registry.totals();
    // Other tests evaluate meanwhile; nothing is ever subtracted.
    assert!(
        after.interpreted >= before.interpreted,
        "{before:?} → {after:?}"
    );
    assert!(after.native >= before.native, "{before:?} → {after:?}");
}

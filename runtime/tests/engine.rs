//! The engine end to end: programs compiled from source, deployed to a temp-file
//! SQLite store, run against a real HTTP server on loopback that records every
//! request. Crashes are simulated by a store that fails at a chosen journal write
//! (the process "dies" there); a second engine on the same database then resumes.

#![allow(clippy::unwrap_used)]

mod common;

use common::{JumpingClock, Reply, Server, compile};
use flowc_compiler::ir::Program;
use flowc_runtime::clock::{Clock, Millis};
use flowc_runtime::engine::{Engine, NoSecrets, REDACTED, SecretSource};
use flowc_runtime::outbound::Client;
use flowc_runtime::store::sqlite::{Options, SqliteStore};
use flowc_runtime::store::{
    self, BoxFuture, Deployed, Deployment, DeploymentSummary, NewRun, Page, RunDetail, RunFilter,
    RunOutcome, RunPage, RunStatus, SecretBlob, SecretName, SequentialIds, Started, StepOutcome,
    StepStatus, Store, StoredSecret,
};
use flowc_runtime::vault::{MasterKey, SecretString, Vault};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;

const START: Millis = 1_700_000_000_000;

/// A database, a server, a clock and one deployed program.
struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    clock: JumpingClock,
    server: Server,
    deployment: String,
}

impl Harness {
    /// `source` with every `BASE` replaced by the server's base URL.
    async fn new(
        source: &str,
        handler: impl Fn(&common::Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Harness {
        let server = Server::start(handler).await;
        let program = compile(&source.replace("BASE", &server.base()));
        let dir = tempfile::tempdir().unwrap();
        let clock = JumpingClock::new(START);
        let mut options = Options::new(dir.path().join("flowc.db"));
        options.clock = Arc::new(clock.clone());
        options.ids = Arc::new(SequentialIds::new());
        let store = Arc::new(options.open().unwrap());
        let Deployed { id, .. } = store.deploy(&program).await.unwrap();
        Harness {
            _dir: dir,
            store,
            clock,
            server,
            deployment: id,
        }
    }

    fn engine_on(&self, store: Arc<dyn Store>, secrets: Arc<dyn SecretSource>) -> Engine {
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let client = Client::builder(Arc::clone(&clock)).build().unwrap();
        Engine::new(store, Arc::new(client), secrets, clock)
    }

    fn engine(&self) -> Engine {
        self.engine_on(self.store.clone(), Arc::new(NoSecrets))
    }

    /// A store that "crashes" (fails) at the given journal write.
    fn crashing(&self, crash: Crash) -> Arc<dyn Store> {
        Arc::new(CrashingStore {
            inner: Arc::clone(&self.store),
            crash,
        })
    }

    async fn start(&self, workflow: &str, input: Json) -> String {
        let started = self
            .store
            .start_run(common::new_run(&self.deployment, workflow, input))
            .await
            .unwrap();
        started.run
    }

    async fn detail(&self, run: &str) -> RunDetail {
        self.store.get_run(run).await.unwrap().unwrap()
    }
}

/// The journal's paths, sorted (steps that start in the same millisecond come back
/// in path order).
fn paths(detail: &RunDetail) -> Vec<&str> {
    let mut paths: Vec<_> = detail.steps.iter().map(|s| s.path.as_str()).collect();
    paths.sort_unstable();
    paths
}

fn step<'d>(detail: &'d RunDetail, path: &str) -> &'d flowc_runtime::store::Step {
    detail.steps.iter().find(|s| s.path == path).unwrap()
}

fn time_text(millis: Millis) -> String {
    flowc_compiler::value::format_time_rfc3339(millis)
}

fn failed(outcome: &RunOutcome) -> &Json {
    match outcome {
        RunOutcome::Failed(error) => error,
        other => panic!("expected a failed run, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The payment workflow: a typed input, two HTTP steps, a condition, a return.

const PAYMENT: &str = r#"
type Score = { score: int }

workflow payment(payment: { id: string, amount: float })
    -> { approved: bool, score: int, started: time, request_id: string } {
  on manual
  let started = now()
  let request_id = uuid()
  step check = http POST "BASE/score" {
    json: { id: payment.id, amount: payment.amount, request_id: request_id }
  } -> Score
  if check.body.score < 80 {
    step approve = http POST "BASE/approve/${payment.id}"
    return { approved: true, score: check.body.score, started: started, request_id: request_id }
  }
  step reject = http POST "BASE/reject/${payment.id}"
  return { approved: false, score: check.body.score, started: started, request_id: request_id }
}
"#;

fn payment_server(request: &common::Recorded, _: usize) -> Reply {
    match request.path() {
        "/score" => Reply::json(200, json!({ "score": 42, "extra": "dropped by the type" })),
        "/approve/p-1" | "/reject/p-1" => Reply::json(200, json!({ "ok": true })),
        _ => Reply::status(404),
    }
}

fn payment_input() -> Json {
    json!({ "id": "p-1", "amount": 12.5 })
}

#[tokio::test]
async fn a_run_succeeds_and_journals_every_step_with_its_input_and_output() {
    let h = Harness::new(PAYMENT, payment_server).await;
    let run = h.start("payment", payment_input()).await;
    let engine = h.engine();
    let outcome = engine.run(&run).await.unwrap();

    let detail = h.detail(&run).await;
    assert_eq!(detail.run.status, RunStatus::Succeeded);
    let uuid = step(&detail, "uuid#1").output.clone().unwrap();
    assert_eq!(
        outcome,
        RunOutcome::Succeeded(json!({
            "approved": true,
            "score": 42,
            "started": time_text(START),
            "request_id": uuid,
        }))
    );
    assert_eq!(
        detail.run.output,
        Some(match outcome {
            RunOutcome::Succeeded(output) => output,
            _ => unreachable!(),
        })
    );

    assert_eq!(paths(&detail), ["approve", "check", "now#1", "uuid#1"]);
    let check = step(&detail, "check");
    assert_eq!((check.attempt, check.status), (1, StepStatus::Succeeded));
    let input = check.input.clone().unwrap();
    assert_eq!(input["method"], "POST");
    assert_eq!(input["url"], format!("{}/score", h.server.base()));
    assert_eq!(
        input["body"],
        json!({ "id": "p-1", "amount": 12.5, "request_id": uuid })
    );
    let output = check.output.clone().unwrap();
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], json!({ "score": 42 }));
    assert_eq!(output["headers"]["content-type"], "application/json");
    let approve = step(&detail, "approve");
    assert_eq!(approve.status, StepStatus::Succeeded);
    assert_eq!(
        approve.input.as_ref().unwrap()["url"],
        format!("{}/approve/p-1", h.server.base())
    );
    assert_eq!(
        approve.output.as_ref().unwrap()["body"],
        json!({ "ok": true })
    );
    assert_eq!(step(&detail, "now#1").output, Some(json!(START)));

    // One request per step, each under its own key.
    assert_eq!(h.server.requests().len(), 2);
    assert_eq!(h.server.count_key(&format!("{run}/check")), 1);
    assert_eq!(h.server.count_key(&format!("{run}/approve")), 1);
    assert_eq!(h.server.requests()[0].json()["request_id"], uuid);

    // A finished run is left alone.
    let again = engine.run(&run).await.unwrap();
    assert!(matches!(again, RunOutcome::Succeeded(_)));
    assert_eq!(h.server.requests().len(), 2);
}

#[tokio::test]
async fn the_other_branch_is_taken_when_the_condition_is_false() {
    let h = Harness::new(PAYMENT, |request, _| match request.path() {
        "/score" => Reply::json(200, json!({ "score": 95 })),
        _ => Reply::json(200, json!({})),
    })
    .await;
    let run = h.start("payment", payment_input()).await;
    let outcome = h.engine().run(&run).await.unwrap();
    let RunOutcome::Succeeded(output) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(output["approved"], false);
    let paths: Vec<_> = h
        .server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(paths, ["/score", "/reject/p-1"]);
}

#[tokio::test]
async fn a_restart_between_steps_replays_the_first_and_runs_the_second() {
    let h = Harness::new(PAYMENT, payment_server).await;
    let run = h.start("payment", payment_input()).await;

    // The first process journals `check` and dies before `approve` starts.
    let first = h.engine_on(
        h.crashing(Crash::BeforeStart("approve")),
        Arc::new(NoSecrets),
    );
    assert!(first.run(&run).await.is_err());
    let detail = h.detail(&run).await;
    assert_eq!(detail.run.status, RunStatus::Running);
    assert_eq!(paths(&detail), ["check", "now#1", "uuid#1"]);
    let recorded_uuid = step(&detail, "uuid#1").output.clone().unwrap();
    assert_eq!(h.server.count_key(&format!("{run}/check")), 1);
    assert_eq!(h.server.count_key(&format!("{run}/approve")), 0);

    // An hour later a new process resumes every unfinished run from the top.
    h.clock.clock.advance(Duration::from_secs(3600));
    let resumable = h.store.runs_to_resume().await.unwrap();
    assert_eq!(resumable.len(), 1);
    h.store
        .set_run_status(&run, RunStatus::Running)
        .await
        .unwrap();
    let outcome = h.engine().run(&resumable[0].id).await.unwrap();
    let RunOutcome::Succeeded(output) = outcome else {
        panic!("{outcome:?}")
    };
    // now() and uuid() give what the first process saw, not new values.
    assert_eq!(output["started"], time_text(START));
    assert_eq!(output["request_id"], recorded_uuid);
    assert_eq!(output["score"], 42);
    assert_eq!(h.server.count_key(&format!("{run}/check")), 1);
    assert_eq!(h.server.count_key(&format!("{run}/approve")), 1);
    let detail = h.detail(&run).await;
    assert_eq!(paths(&detail), ["approve", "check", "now#1", "uuid#1"]);
}

#[tokio::test]
async fn a_crash_after_the_effect_resends_it_once_under_the_same_key() {
    let h = Harness::new(PAYMENT, payment_server).await;
    let run = h.start("payment", payment_input()).await;

    // The request went out but the process died before its result was journaled.
    let first = h.engine_on(
        h.crashing(Crash::BeforeFinish("approve")),
        Arc::new(NoSecrets),
    );
    assert!(first.run(&run).await.is_err());
    assert_eq!(h.server.count_key(&format!("{run}/approve")), 1);

    let outcome = h.engine().run(&run).await.unwrap();
    assert!(matches!(outcome, RunOutcome::Succeeded(_)), "{outcome:?}");
    // At least once: the one repeat a crash can cause, under the same key.
    assert_eq!(h.server.count_key(&format!("{run}/check")), 1);
    assert_eq!(h.server.count_key(&format!("{run}/approve")), 2);
    let attempts: Vec<_> = h
        .detail(&run)
        .await
        .steps
        .iter()
        .filter(|s| s.path == "approve")
        .map(|s| (s.attempt, s.status))
        .collect();
    assert_eq!(
        attempts,
        [(1, StepStatus::Started), (2, StepStatus::Succeeded)]
    );
}

#[tokio::test]
async fn a_500_after_its_retries_fails_the_run_with_the_step_path() {
    let source = r#"
workflow score(id: string) -> int {
  on manual
  step check = http POST "BASE/score" {
    json: { id: id }
    retry: exponential(attempts: 3, initial: 1s, max: 4s)
  }
  return check.status
}
"#;
    let h = Harness::new(source, |_, _| Reply::status(500)).await;
    let run = h.start("score", json!("s-1")).await;
    let outcome = h.engine().run(&run).await.unwrap();
    let error = failed(&outcome);
    assert_eq!(error["code"], "R0105");
    assert_eq!(error["step"], "check");
    assert_eq!(error["status"], 500);
    assert_eq!(error["kind"], "http");
    assert_eq!(h.server.count_key(&format!("{run}/check")), 3);

    let detail = h.detail(&run).await;
    assert_eq!(detail.run.status, RunStatus::Failed);
    assert_eq!(detail.run.error.as_ref(), Some(error));
    let check = step(&detail, "check");
    assert_eq!(check.status, StepStatus::Failed);
    assert_eq!(check.error.as_ref().unwrap()["step"], "check");
    // The retries waited on the clock, not the wall: 3 attempts, 2 waits.
    assert!(h.clock.now_ms() > START);
}

const TWO_STEPS: &str = r#"
workflow two(input: { n: int }) -> int {
  on manual
  step a = http POST "BASE/a"
  step b = http POST "BASE/b"
  return b.status
}
"#;

#[tokio::test]
async fn a_resume_replays_a_journaled_failure_and_a_retry_resends_only_that_step() {
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = {
        let healthy = Arc::clone(&healthy);
        Harness::new(TWO_STEPS, move |_, _| {
            if healthy.load(std::sync::atomic::Ordering::SeqCst) {
                Reply::json(200, json!({ "ok": true }))
            } else {
                Reply::status(400)
            }
        })
        .await
    };
    let run = h.start("two", json!({ "n": 1 })).await;
    // A process journaled `a` and a failed `b`, then died before ending the run.
    let response = json!({ "status": 200, "headers": {}, "body": { "ok": true } });
    h.store.step_started(&run, "a", 1, None).await.unwrap();
    h.store
        .step_finished(&run, "a", 1, StepOutcome::Succeeded(response))
        .await
        .unwrap();
    h.store.step_started(&run, "b", 1, None).await.unwrap();
    h.store
        .step_finished(
            &run,
            "b",
            1,
            StepOutcome::Failed(json!({ "code": "R0104", "kind": "http", "message": "400" })),
        )
        .await
        .unwrap();

    // Resuming replays both: nothing is sent, the run fails as `b` did.
    let outcome = h.engine().run(&run).await.unwrap();
    assert_eq!(failed(&outcome)["step"], "b");
    assert!(h.server.requests().is_empty());

    // A retry keeps `a` and sends `b` again, as attempt 2.
    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    let outcome = h.engine().retry(&run).await.unwrap();
    assert_eq!(outcome, RunOutcome::Succeeded(json!(200)));
    assert_eq!(h.server.count("/a"), 0);
    assert_eq!(h.server.count("/b"), 1);
    let detail = h.detail(&run).await;
    assert_eq!(detail.run.retries, 1);
    let b: Vec<_> = detail.steps.iter().filter(|s| s.path == "b").collect();
    assert_eq!(b.len(), 2);
    assert_eq!((b[1].attempt, b[1].status), (2, StepStatus::Succeeded));

    // Retrying a run that did not fail is refused by the store.
    assert!(matches!(
        h.engine().retry(&run).await,
        Err(flowc_runtime::engine::Error::Store(store::Error::Conflict(
            _
        )))
    ));
}

#[tokio::test]
async fn a_run_reads_the_webhook_record_stored_with_it() {
    let h = Harness::new(
        r#"
workflow hooked(delivery: { id: string }) {
  on webhook POST "/in"
  step out = http POST "BASE/out" {
    json: { test: webhook.headers."x-test", query: webhook.query, method: webhook.method }
  }
}
"#,
        |_, _| Reply::json(200, json!({})),
    )
    .await;
    let run = h
        .store
        .start_run(NewRun {
            deployment: h.deployment.clone(),
            workflow: "hooked".into(),
            input: json!({ "id": "d-1" }),
            idempotency_key: None,
            trigger: "webhook".into(),
            delivery: None,
            webhook: Some(json!({
                "headers": { "x-test": "yes" },
                "query": { "page": "2" },
                "method": "POST",
                "path": "/in",
                "remote_ip": "127.0.0.1",
            })),
            replay_of: None,
        })
        .await
        .unwrap()
        .run;
    let outcome = h.engine().run(&run).await.unwrap();
    assert_eq!(outcome, RunOutcome::Succeeded(Json::Null));
    assert_eq!(
        h.server.requests()[0].json(),
        json!({ "test": "yes", "query": { "page": "2" }, "method": "POST" })
    );
}

#[tokio::test]
async fn try_catches_a_failed_step_and_match_and_fail_work_on_the_error() {
    let source = r#"
workflow lookup(id: string) -> string {
  on manual
  try {
    step fetch = http GET "BASE/items/${id}"
    return "found ${fetch.status}"
  } catch err {
    match err.status {
      404 => return "missing ${err.step ?? "?"}"
      _ => fail "lookup of ${id} failed: ${err.kind}"
    }
  }
}
"#;
    let h = Harness::new(source, |request, _| match request.path() {
        "/items/a" => Reply::status(200),
        "/items/b" => Reply::status(404),
        _ => Reply::status(503),
    })
    .await;
    let engine = h.engine();
    let found = h.start("lookup", json!("a")).await;
    assert_eq!(
        engine.run(&found).await.unwrap(),
        RunOutcome::Succeeded(json!("found 200"))
    );
    let missing = h.start("lookup", json!("b")).await;
    assert_eq!(
        engine.run(&missing).await.unwrap(),
        RunOutcome::Succeeded(json!("missing fetch"))
    );
    let broken = h.start("lookup", json!("c")).await;
    let outcome = engine.run(&broken).await.unwrap();
    let error = failed(&outcome);
    assert_eq!(error["code"], "R0203");
    assert_eq!(error["kind"], "fail");
    assert_eq!(error["message"], "lookup of c failed: http");
}

#[tokio::test]
async fn a_wait_parks_the_run_and_try_does_not_treat_the_park_as_an_error() {
    let source = r#"
workflow pause(id: string) -> string {
  on manual
  try {
    step nap = wait 10s
  } catch err {
    return "caught"
  }
  return "done"
}
"#;
    let h = Harness::new(source, |_, _| Reply::status(200)).await;
    let run = h.start("pause", json!("x")).await;
    let outcome = h.engine().run(&run).await.unwrap();
    assert_eq!(outcome, RunOutcome::Waiting);
    let detail = h.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Waiting);
    assert_eq!(step(&detail, "nap").status, StepStatus::Started);
    let wait = detail.waits.iter().find(|wait| wait.path == "nap").unwrap();
    assert_eq!(wait.kind, store::WaitKind::Timer);
    assert_eq!(wait.status, store::WaitStatus::Open);
}

#[tokio::test]
async fn an_input_of_the_wrong_type_fails_the_run_with_r0202() {
    let h = Harness::new(PAYMENT, payment_server).await;
    let run = h.start("payment", json!({ "id": 7 })).await;
    let outcome = h.engine().run(&run).await.unwrap();
    assert_eq!(failed(&outcome)["code"], "R0202");
    assert!(h.server.requests().is_empty());
}

#[tokio::test]
async fn an_expression_error_fails_the_run_with_its_code_and_span() {
    let source = r#"
workflow divide(n: int) -> int {
  on manual
  return 10 / n
}
"#;
    let h = Harness::new(source, |_, _| Reply::status(200)).await;
    let run = h.start("divide", json!(0)).await;
    let outcome = h.engine().run(&run).await.unwrap();
    let error = failed(&outcome);
    assert_eq!(error["code"], "R0002");
    assert_eq!(error["kind"], "expression");
    assert!(error["span"]["end"].as_u64().unwrap() > error["span"]["start"].as_u64().unwrap());
}

// ---------------------------------------------------------------------------
// Secrets: resolved from the vault at send time, never journaled.

const NOTIFY: &str = r#"
workflow notify(text: string) -> int {
  on manual
  step send = http POST "BASE/notify" {
    headers: { "X-Api-Token": secrets.api_token }
    auth: bearer { token: secrets.bearer_token }
    json: { text: text }
  }
  return send.status
}
"#;

#[tokio::test]
async fn secrets_reach_the_wire_from_the_vault_but_never_the_journal() {
    let h = Harness::new(NOTIFY, |_, _| Reply::status(204)).await;
    let store: Arc<dyn Store> = h.store.clone();
    let vault = Vault::new(&MasterKey::generate().unwrap(), Arc::clone(&store));
    vault
        .set("api_token", &SecretString::new("tok-3f9a1c77e2"))
        .await
        .unwrap();
    vault
        .set("bearer_token", &SecretString::new("bearer-8d2b44aa01"))
        .await
        .unwrap();
    let engine = h.engine_on(store, Arc::new(vault));
    let run = h.start("notify", json!("hello")).await;
    assert_eq!(
        engine.run(&run).await.unwrap(),
        RunOutcome::Succeeded(json!(204))
    );

    let sent = &h.server.requests()[0];
    assert_eq!(sent.header("x-api-token"), Some("tok-3f9a1c77e2"));
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer bearer-8d2b44aa01")
    );
    let detail = h.detail(&run).await;
    let journal = serde_json::to_string(&detail).unwrap();
    assert!(!journal.contains("tok-3f9a1c77e2"), "{journal}");
    assert!(!journal.contains("bearer-8d2b44aa01"), "{journal}");
    let input = step(&detail, "send").input.clone().unwrap();
    assert_eq!(input["headers"]["X-Api-Token"], REDACTED);
    assert_eq!(input["auth"], "bearer");
}

#[tokio::test]
async fn a_missing_secret_fails_the_step_with_r0112_and_sends_nothing() {
    let h = Harness::new(NOTIFY, |_, _| Reply::status(204)).await;
    let run = h.start("notify", json!("hello")).await;
    let outcome = h.engine().run(&run).await.unwrap();
    let error = failed(&outcome);
    assert_eq!(error["code"], "R0112");
    assert_eq!(error["step"], "send");
    assert!(h.server.requests().is_empty());
}

#[test]
fn the_run_future_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let h = Harness::new(PAYMENT, payment_server).await;
        let engine = h.engine();
        let future = engine.run("no-such-run");
        assert_send(&future);
        assert!(future.await.is_err());
    });
}

// ---------------------------------------------------------------------------
// A store that fails one journal write, as if the process had died there.

#[derive(Clone, Copy, Debug)]
enum Crash {
    /// Before the step's start is journaled: nothing of it was sent.
    BeforeStart(&'static str),
    /// After the effect, before its result is journaled.
    BeforeFinish(&'static str),
}

struct CrashingStore {
    inner: Arc<SqliteStore>,
    crash: Crash,
}

fn died<'a, T: Send + 'a>() -> BoxFuture<'a, store::Result<T>> {
    Box::pin(async { Err(store::Error::Closed) })
}

impl Store for CrashingStore {
    fn deploy(&self, program: &Program) -> BoxFuture<'_, store::Result<Deployed>> {
        self.inner.deploy(program)
    }
    fn activate(&self, deployment: &str) -> BoxFuture<'_, store::Result<Vec<String>>> {
        self.inner.activate(deployment)
    }
    fn deactivate(&self, deployment: &str) -> BoxFuture<'_, store::Result<()>> {
        self.inner.deactivate(deployment)
    }
    fn get_deployment(&self, deployment: &str) -> BoxFuture<'_, store::Result<Option<Deployment>>> {
        self.inner.get_deployment(deployment)
    }
    fn list_deployments(&self) -> BoxFuture<'_, store::Result<Vec<DeploymentSummary>>> {
        self.inner.list_deployments()
    }
    fn active_deployments(&self) -> BoxFuture<'_, store::Result<Vec<Deployment>>> {
        self.inner.active_deployments()
    }
    fn start_run(&self, run: NewRun) -> BoxFuture<'_, store::Result<Started>> {
        self.inner.start_run(run)
    }
    fn set_run_status(&self, run: &str, status: RunStatus) -> BoxFuture<'_, store::Result<()>> {
        self.inner.set_run_status(run, status)
    }
    fn finish_run(&self, run: &str, outcome: RunOutcome) -> BoxFuture<'_, store::Result<()>> {
        self.inner.finish_run(run, outcome)
    }
    fn retry_run(&self, run: &str) -> BoxFuture<'_, store::Result<()>> {
        self.inner.retry_run(run)
    }
    fn get_run(&self, run: &str) -> BoxFuture<'_, store::Result<Option<RunDetail>>> {
        self.inner.get_run(run)
    }
    fn list_runs(&self, filter: RunFilter, page: Page) -> BoxFuture<'_, store::Result<RunPage>> {
        self.inner.list_runs(filter, page)
    }
    fn runs_to_resume(&self) -> BoxFuture<'_, store::Result<Vec<store::Run>>> {
        self.inner.runs_to_resume()
    }
    fn step_started(
        &self,
        run: &str,
        path: &str,
        attempt: i64,
        input: Option<Json>,
    ) -> BoxFuture<'_, store::Result<()>> {
        match self.crash {
            Crash::BeforeStart(at) if at == path => died(),
            _ => self.inner.step_started(run, path, attempt, input),
        }
    }
    fn step_finished(
        &self,
        run: &str,
        path: &str,
        attempt: i64,
        outcome: StepOutcome,
    ) -> BoxFuture<'_, store::Result<()>> {
        match self.crash {
            Crash::BeforeFinish(at) if at == path => died(),
            _ => self.inner.step_finished(run, path, attempt, outcome),
        }
    }
    fn record_step(&self, run: &str, path: &str, output: Json) -> BoxFuture<'_, store::Result<()>> {
        self.inner.record_step(run, path, output)
    }
    fn put_secret(&self, name: &str, blob: SecretBlob) -> BoxFuture<'_, store::Result<()>> {
        self.inner.put_secret(name, blob)
    }
    fn get_secret(&self, name: &str) -> BoxFuture<'_, store::Result<Option<StoredSecret>>> {
        self.inner.get_secret(name)
    }
    fn list_secrets(&self) -> BoxFuture<'_, store::Result<Vec<SecretName>>> {
        self.inner.list_secrets()
    }
    fn delete_secret(&self, name: &str) -> BoxFuture<'_, store::Result<bool>> {
        self.inner.delete_secret(name)
    }
    fn wakes(&self) -> &store::Wakes {
        self.inner.wakes()
    }
    fn park(
        &self,
        run: &str,
        writes: Vec<store::Write>,
        awaiting: Vec<String>,
    ) -> BoxFuture<'_, store::Result<bool>> {
        self.inner.park(run, writes, awaiting)
    }
    fn resolve_wait(
        &self,
        run: &str,
        path: &str,
        result: Json,
    ) -> BoxFuture<'_, store::Result<store::Resolution>> {
        self.inner.resolve_wait(run, path, result)
    }
    fn wait_by_token(&self, token: &str) -> BoxFuture<'_, store::Result<Option<store::Wait>>> {
        self.inner.wait_by_token(token)
    }
    fn open_waits(
        &self,
        kind: store::WaitKind,
        limit: u32,
    ) -> BoxFuture<'_, store::Result<Vec<store::Wait>>> {
        self.inner.open_waits(kind, limit)
    }
    fn next_deadline(&self) -> BoxFuture<'_, store::Result<Option<i64>>> {
        self.inner.next_deadline()
    }
    fn fire_due(&self, now: i64, limit: u32) -> BoxFuture<'_, store::Result<usize>> {
        self.inner.fire_due(now, limit)
    }
    fn store_event(
        &self,
        topic: &str,
        payload: Json,
    ) -> BoxFuture<'_, store::Result<store::StoredEvent>> {
        self.inner.store_event(topic, payload)
    }
    fn undelivered_events(
        &self,
        limit: u32,
    ) -> BoxFuture<'_, store::Result<Vec<store::StoredEvent>>> {
        self.inner.undelivered_events(limit)
    }
    fn mark_delivered(&self, seqs: Vec<i64>) -> BoxFuture<'_, store::Result<()>> {
        self.inner.mark_delivered(seqs)
    }
    fn key_paths(&self, topic: &str) -> BoxFuture<'_, store::Result<Vec<String>>> {
        self.inner.key_paths(topic)
    }
    fn matching_waits(
        &self,
        topic: &str,
        keys: Vec<String>,
        at: i64,
    ) -> BoxFuture<'_, store::Result<Vec<store::Wait>>> {
        self.inner.matching_waits(topic, keys, at)
    }
    fn recent_events(
        &self,
        topic: &str,
        since: i64,
        limit: u32,
    ) -> BoxFuture<'_, store::Result<Vec<store::StoredEvent>>> {
        self.inner.recent_events(topic, since, limit)
    }
    fn get_context(
        &self,
        workflow: &str,
    ) -> BoxFuture<'_, store::Result<std::collections::BTreeMap<String, Json>>> {
        self.inner.get_context(workflow)
    }
    fn patch_context(
        &self,
        workflow: &str,
        entries: Vec<(String, Option<Json>)>,
    ) -> BoxFuture<'_, store::Result<()>> {
        self.inner.patch_context(workflow, entries)
    }
    fn set_paused(&self, run: &str, paused: bool) -> BoxFuture<'_, store::Result<()>> {
        self.inner.set_paused(run, paused)
    }
}

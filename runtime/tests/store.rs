//! The SQLite store through its public API: PRAGMAs, migrations, deployments,
//! idempotent run starts, the journal, paging, concurrency, secrets, and a reopen
//! of the same file that sees everything.

use flowc_compiler::{NoImports, SourceFile, analyze, ir::Program};
use flowc_runtime::clock::TestClock;
use flowc_runtime::store::sqlite::{Durability, Options, Pragmas, SqliteStore};
use flowc_runtime::store::{
    Delivery, DeliveryFilter, DeliveryOutcome, Error, NewDelivery, NewRun, Page, RunFilter,
    RunOutcome, RunStatus, SecretBlob, SequentialIds, StepOutcome, StepStatus, Store,
};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const START: i64 = 1_700_000_000_000;

fn options(path: &Path, clock: &TestClock) -> Options {
    let mut options = Options::new(path);
    options.clock = Arc::new(clock.clone());
    options.ids = Arc::new(SequentialIds::new());
    options
}

fn open(dir: &tempfile::TempDir) -> (SqliteStore, TestClock) {
    let clock = TestClock::new(START);
    let store = options(&dir.path().join("flowc.db"), &clock)
        .open()
        .expect("open store");
    (store, clock)
}

fn program(source: &str) -> Program {
    let analysis = analyze(
        vec![SourceFile {
            path: "main.flow".into(),
            text: source.into(),
        }],
        &NoImports,
    );
    assert!(
        analysis.diagnostics.is_empty(),
        "{:?}",
        analysis.diagnostics
    );
    analysis.program
}

const ORDERS: &str = r#"
workflow orders(order: { id: string, total: float }) -> { ok: bool } {
  on manual
  return { ok: order.total > 0.0 }
}
workflow refunds(id: string) {
  on manual
}
"#;

fn new_run(deployment: &str, workflow: &str, key: Option<&str>) -> NewRun {
    NewRun {
        deployment: deployment.into(),
        workflow: workflow.into(),
        input: json!({ "id": "o-1", "total": 12.5 }),
        idempotency_key: key.map(str::to_owned),
        trigger: "manual".into(),
        delivery: None,
        webhook: None,
        replay_of: None,
    }
}

#[tokio::test]
async fn every_pragma_reads_back_as_configured() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = open(&dir);
    let expected = Pragmas {
        journal_mode: "wal".into(),
        synchronous: 2,
        busy_timeout: 5_000,
        foreign_keys: true,
        user_version: SqliteStore::schema_version(),
    };
    assert_eq!(store.writer_pragmas().await.expect("writer"), expected);
    let reader = store.reader_pragmas().await.expect("reader");
    assert_eq!(reader.journal_mode, "wal");
    assert_eq!(reader.busy_timeout, 5_000);
    assert_eq!(reader.user_version, SqliteStore::schema_version());
    store.close().await;

    let clock = TestClock::new(START);
    let mut normal = options(&dir.path().join("normal.db"), &clock);
    normal.durability = Durability::Normal;
    normal.busy_timeout = Duration::from_millis(1_234);
    let store = normal.open().expect("open");
    let pragmas = store.writer_pragmas().await.expect("writer");
    assert_eq!((pragmas.synchronous, pragmas.busy_timeout), (1, 1_234));
    assert_eq!(pragmas.journal_mode, "wal");
    assert!(pragmas.foreign_keys);
}

#[tokio::test]
async fn a_fresh_database_is_at_the_latest_schema_and_reopening_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = open(&dir);
    assert!(SqliteStore::schema_version() >= 1);
    let before = store.writer_pragmas().await.expect("pragmas").user_version;
    assert_eq!(before, SqliteStore::schema_version());
    store.close().await;
    let (store, _) = open(&dir);
    let after = store.writer_pragmas().await.expect("pragmas").user_version;
    assert_eq!(after, before);
}

#[tokio::test]
async fn deploy_dedupes_by_hash_and_activation_replaces_older_versions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = open(&dir);
    let first = program(ORDERS);
    let deployed = store.deploy(&first).await.expect("deploy");
    assert!(deployed.created);
    assert_eq!(deployed.version, 1);
    let again = store.deploy(&first).await.expect("deploy again");
    assert_eq!(
        (again.id.as_str(), again.created),
        (deployed.id.as_str(), false)
    );

    let stored = store
        .get_deployment(&deployed.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(*stored.program, first);
    assert_eq!(stored.hash, first.hash());
    assert_eq!(stored.workflows, ["orders", "refunds"]);
    assert!(!stored.active);

    assert_eq!(
        store.activate(&deployed.id).await.expect("activate"),
        Vec::<String>::new()
    );
    let second = store
        .deploy(&program(&ORDERS.replace("0.0", "1.0")))
        .await
        .expect("deploy v2");
    assert_eq!(second.version, 2);
    assert_eq!(
        store.activate(&second.id).await.expect("activate v2"),
        std::slice::from_ref(&deployed.id)
    );
    let active: Vec<_> = store
        .active_deployments()
        .await
        .expect("active")
        .into_iter()
        .map(|deployment| deployment.id)
        .collect();
    assert_eq!(active, std::slice::from_ref(&second.id));
    let listed: Vec<_> = store
        .list_deployments()
        .await
        .expect("list")
        .into_iter()
        .map(|summary| (summary.version, summary.active))
        .collect();
    assert_eq!(listed, [(2, true), (1, false)]);

    store.deactivate(&second.id).await.expect("deactivate");
    assert!(store.active_deployments().await.expect("active").is_empty());
    assert!(matches!(
        store.activate("nope").await,
        Err(Error::NotFound {
            kind: "deployment",
            ..
        })
    ));
}

#[tokio::test]
async fn start_run_is_idempotent_per_workflow_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = open(&dir);
    let deployment = store.deploy(&program(ORDERS)).await.expect("deploy").id;

    let mut request = new_run(&deployment, "orders", Some("tx-1"));
    request.trigger = "webhook".into();
    request.delivery = Some(Delivery {
        method: "POST".into(),
        path: "/orders".into(),
        delivery_id: None,
        status: 202,
    });
    let first = store.start_run(request.clone()).await.expect("start");
    assert!(first.created);
    let repeat = store.start_run(request).await.expect("repeat");
    assert_eq!(
        (repeat.run.as_str(), repeat.created),
        (first.run.as_str(), false)
    );

    // The same key for another workflow, and no key at all, are new runs.
    let other = store
        .start_run(new_run(&deployment, "refunds", Some("tx-1")))
        .await
        .expect("other workflow");
    assert!(other.created && other.run != first.run);
    let keyless_a = store
        .start_run(new_run(&deployment, "orders", None))
        .await
        .expect("a");
    let keyless_b = store
        .start_run(new_run(&deployment, "orders", None))
        .await
        .expect("b");
    assert!(keyless_a.created && keyless_b.created && keyless_a.run != keyless_b.run);

    // Both deliveries were recorded, pointing at the one run.
    let conn = rusqlite::Connection::open(dir.path().join("flowc.db")).expect("raw open");
    let deliveries: Vec<(String, bool)> = conn
        .prepare("SELECT run, created_run FROM webhook_deliveries ORDER BY id")
        .expect("prepare")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        deliveries,
        [(first.run.clone(), true), (first.run.clone(), false)]
    );

    let run = store
        .get_run(&first.run)
        .await
        .expect("get")
        .expect("present")
        .run;
    assert_eq!(run.status, RunStatus::Pending);
    assert_eq!(run.trigger, "webhook");
    assert_eq!(run.input, json!({ "id": "o-1", "total": 12.5 }));
    assert_eq!(run.idempotency_key.as_deref(), Some("tx-1"));

    assert!(matches!(
        store.start_run(new_run(&deployment, "missing", None)).await,
        Err(Error::NotFound {
            kind: "workflow",
            ..
        })
    ));
}

#[tokio::test]
async fn the_journal_round_trips_and_refuses_contradictions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, clock) = open(&dir);
    let deployment = store.deploy(&program(ORDERS)).await.expect("deploy").id;
    let run = store
        .start_run(new_run(&deployment, "orders", None))
        .await
        .expect("start")
        .run;
    store
        .set_run_status(&run, RunStatus::Running)
        .await
        .expect("running");

    clock.advance(Duration::from_millis(10));
    store
        .step_started(&run, "check", 1, Some(json!({ "url": "/score" })))
        .await
        .expect("start 1");
    clock.advance(Duration::from_millis(5));
    store
        .step_finished(
            &run,
            "check",
            1,
            StepOutcome::Failed(json!({ "status": 503 })),
        )
        .await
        .expect("fail 1");
    store
        .step_started(&run, "check", 2, None)
        .await
        .expect("start 2");
    clock.advance(Duration::from_millis(5));
    store
        .step_finished(
            &run,
            "check",
            2,
            StepOutcome::Succeeded(json!({ "score": 42 })),
        )
        .await
        .expect("finish 2");
    store
        .record_step(&run, "now#1", json!("2023-11-14T22:13:20Z"))
        .await
        .expect("record");

    assert!(matches!(
        store.step_started(&run, "check", 2, None).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store
            .step_finished(&run, "check", 2, StepOutcome::Succeeded(json!(null)))
            .await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store
            .step_finished(&run, "nope", 1, StepOutcome::Succeeded(json!(null)))
            .await,
        Err(Error::NotFound { kind: "step", .. })
    ));
    assert_eq!(store.runs_to_resume().await.expect("resume").len(), 1);

    let detail = store.get_run(&run).await.expect("get").expect("present");
    let summary: Vec<_> = detail
        .steps
        .iter()
        .map(|step| {
            (
                step.path.as_str(),
                step.attempt,
                step.status,
                step.started_at,
                step.finished_at,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("check", 1, StepStatus::Failed, START + 10, Some(START + 15)),
            (
                "check",
                2,
                StepStatus::Succeeded,
                START + 15,
                Some(START + 20)
            ),
            (
                "now#1",
                1,
                StepStatus::Succeeded,
                START + 20,
                Some(START + 20)
            ),
        ]
    );
    assert_eq!(detail.steps[0].input, Some(json!({ "url": "/score" })));
    assert_eq!(detail.steps[0].error, Some(json!({ "status": 503 })));
    assert_eq!(detail.steps[1].output, Some(json!({ "score": 42 })));
    assert_eq!(detail.run.status, RunStatus::Running);
    assert_eq!(detail.run.updated_at, START + 20);

    clock.advance(Duration::from_millis(1));
    store
        .finish_run(&run, RunOutcome::Succeeded(json!({ "ok": true })))
        .await
        .expect("finish");
    let finished = store
        .get_run(&run)
        .await
        .expect("get")
        .expect("present")
        .run;
    assert_eq!(finished.status, RunStatus::Succeeded);
    assert_eq!(finished.output, Some(json!({ "ok": true })));
    assert_eq!(finished.updated_at, START + 21);
    assert!(store.runs_to_resume().await.expect("resume").is_empty());

    // Nothing more happens to a finished run.
    assert!(matches!(
        store.finish_run(&run, RunOutcome::Cancelled).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.step_started(&run, "late", 1, None).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.set_run_status(&run, RunStatus::Waiting).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(store.get_run("nope").await, Ok(None)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_all_complete_and_share_commits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = open(&dir);
    let deployment = store.deploy(&program(ORDERS)).await.expect("deploy").id;
    let sqlite = store.clone();
    let store: Arc<dyn Store> = Arc::new(store);
    let raw = {
        let dir = dir.path().join("flowc.db");
        move || rusqlite::Connection::open(&dir).expect("raw open")
    };

    let tasks: Vec<_> = (0..200)
        .map(|index| {
            let store = Arc::clone(&store);
            let deployment = deployment.clone();
            tokio::spawn(async move {
                let started = store
                    .start_run(new_run(&deployment, "orders", Some(&format!("k{index}"))))
                    .await?;
                store.step_started(&started.run, "check", 1, None).await?;
                store
                    .step_finished(
                        &started.run,
                        "check",
                        1,
                        StepOutcome::Succeeded(json!(index)),
                    )
                    .await?;
                Ok::<_, Error>(started)
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let started = task.await.expect("join").expect("writes");
        assert!(started.created);
        ids.insert(started.run);
    }
    assert_eq!(ids.len(), 200);
    // Each task's three writes wait for each other, but the tasks' writes overlap:
    // batching is tested exactly in `sqlite::tests`, with the writer held.
    assert!(sqlite.writes() >= 600);
    assert!(sqlite.commits() <= sqlite.writes());
    let count: i64 = raw()
        .query_row(
            "SELECT COUNT(*) FROM steps WHERE status = 'succeeded'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(count, 200);
}

#[tokio::test]
async fn list_runs_filters_and_pages_newest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, clock) = open(&dir);
    let deployment = store.deploy(&program(ORDERS)).await.expect("deploy").id;
    let mut orders = Vec::new();
    for index in 0..5 {
        clock.advance(Duration::from_millis(1));
        let workflow = if index % 2 == 0 { "orders" } else { "refunds" };
        let run = store
            .start_run(new_run(&deployment, workflow, None))
            .await
            .expect("start")
            .run;
        if workflow == "orders" {
            orders.push(run);
        }
    }
    store
        .finish_run(&orders[0], RunOutcome::Failed(json!({ "code": "R0001" })))
        .await
        .expect("fail");

    let filter = RunFilter {
        workflow: Some("orders".into()),
        ..RunFilter::default()
    };
    let first = store
        .list_runs(
            filter.clone(),
            Page {
                limit: 2,
                after: None,
            },
        )
        .await
        .expect("page 1");
    let ids: Vec<_> = first.runs.iter().map(|run| run.id.clone()).collect();
    assert_eq!(ids, [orders[2].clone(), orders[1].clone()]);
    let second = store
        .list_runs(
            filter,
            Page {
                limit: 2,
                after: first.next.clone(),
            },
        )
        .await
        .expect("page 2");
    let ids: Vec<_> = second.runs.iter().map(|run| run.id.clone()).collect();
    assert_eq!(ids, [orders[0].clone()]);
    assert_eq!(second.next, None);

    let failed = store
        .list_runs(
            RunFilter {
                status: Some(RunStatus::Failed),
                ..RunFilter::default()
            },
            Page::default(),
        )
        .await
        .expect("failed");
    assert_eq!(failed.runs.len(), 1);
    assert_eq!(failed.runs[0].error, Some(json!({ "code": "R0001" })));
    let all = store
        .list_runs(RunFilter::default(), Page::default())
        .await
        .expect("all");
    assert_eq!(all.runs.len(), 5);
    assert_eq!(store.runs_to_resume().await.expect("resume").len(), 4);
}

#[tokio::test]
async fn secrets_are_put_replaced_listed_and_deleted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, clock) = open(&dir);
    let blob = |byte: u8| SecretBlob {
        ciphertext: vec![byte; 32],
        nonce: vec![byte; 24],
    };
    store.put_secret("b_token", blob(1)).await.expect("put");
    store.put_secret("a_key", blob(2)).await.expect("put");
    clock.advance(Duration::from_secs(1));
    store.put_secret("b_token", blob(3)).await.expect("replace");

    let stored = store
        .get_secret("b_token")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.blob, blob(3));
    assert_eq!(stored.updated_at, START + 1_000);
    let names: Vec<_> = store
        .list_secrets()
        .await
        .expect("list")
        .into_iter()
        .map(|secret| secret.name)
        .collect();
    assert_eq!(names, ["a_key", "b_token"]);
    assert!(store.delete_secret("a_key").await.expect("delete"));
    assert!(!store.delete_secret("a_key").await.expect("delete again"));
    assert_eq!(store.get_secret("a_key").await.expect("get"), None);
    assert!(!format!("{:?}", blob(7)).contains('7'));
}

#[tokio::test]
async fn a_reopened_database_has_everything_and_passes_the_integrity_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (deployment, run, waiting) = {
        let (store, _) = open(&dir);
        let deployment = store.deploy(&program(ORDERS)).await.expect("deploy").id;
        store.activate(&deployment).await.expect("activate");
        let run = store
            .start_run(new_run(&deployment, "orders", Some("k")))
            .await
            .expect("start")
            .run;
        store
            .step_started(&run, "check", 1, None)
            .await
            .expect("step");
        store
            .step_finished(
                &run,
                "check",
                1,
                StepOutcome::Succeeded(json!({ "score": 1 })),
            )
            .await
            .expect("step");
        store
            .finish_run(&run, RunOutcome::Succeeded(json!({ "ok": true })))
            .await
            .expect("finish");
        let waiting = store
            .start_run(new_run(&deployment, "orders", None))
            .await
            .expect("start")
            .run;
        store
            .set_run_status(&waiting, RunStatus::Waiting)
            .await
            .expect("wait");
        store
            .put_secret(
                "k",
                SecretBlob {
                    ciphertext: vec![9],
                    nonce: vec![8],
                },
            )
            .await
            .expect("secret");
        // Dropped without close: the process "exits" with the handle.
        (deployment, run, waiting)
    };

    let (store, _) = open(&dir);
    assert_eq!(store.integrity_check().await.expect("check"), ["ok"]);
    let active = store.active_deployments().await.expect("active");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].id, deployment);
    let detail = store.get_run(&run).await.expect("get").expect("present");
    assert_eq!(detail.run.status, RunStatus::Succeeded);
    assert_eq!(detail.steps.len(), 1);
    assert_eq!(detail.steps[0].output, Some(json!({ "score": 1 })));
    let resume: Vec<_> = store
        .runs_to_resume()
        .await
        .expect("resume")
        .into_iter()
        .map(|run| (run.id, run.status))
        .collect();
    assert_eq!(resume, [(waiting, RunStatus::Waiting)]);
    assert!(store.get_secret("k").await.expect("secret").is_some());
    // The idempotency key survived too.
    let repeat = store
        .start_run(new_run(&deployment, "orders", Some("k")))
        .await
        .expect("repeat");
    assert_eq!((repeat.run, repeat.created), (run, false));
    store.close().await;
    assert!(matches!(store.list_secrets().await, Err(Error::Closed)));
    assert!(matches!(store.delete_secret("k").await, Err(Error::Closed)));
}

#[tokio::test]
async fn cancel_and_retry_move_runs_only_from_the_states_they_allow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = open(&dir);
    let deployment = store.deploy(&program(ORDERS)).await.expect("deploy").id;
    let start = |key: &'static str| {
        let mut run = new_run(&deployment, "orders", Some(key));
        run.webhook = Some(json!({ "method": "POST", "headers": { "x-test": "1" } }));
        store.start_run(run)
    };

    // Cancel: a pending run ends cancelled; its journal is closed to writes.
    let cancelled = start("a").await.expect("start").run;
    store.cancel_run(&cancelled).await.expect("cancel");
    let detail = store.get_run(&cancelled).await.expect("get").expect("run");
    assert_eq!(detail.run.status, RunStatus::Cancelled);
    assert_eq!(
        detail.run.webhook,
        Some(json!({ "method": "POST", "headers": { "x-test": "1" } }))
    );
    assert!(matches!(
        store.cancel_run(&cancelled).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.step_started(&cancelled, "check", 1, None).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.cancel_run("missing").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.retry_run(&cancelled).await,
        Err(Error::Conflict(_))
    ));

    // Retry: a failed run goes back to pending with its error cleared, its
    // journal kept and its generation counted up; new attempts carry it.
    let failed = start("b").await.expect("start").run;
    store
        .step_started(&failed, "check", 1, None)
        .await
        .expect("step 1");
    store
        .step_finished(
            &failed,
            "check",
            1,
            StepOutcome::Failed(json!({ "status": 500 })),
        )
        .await
        .expect("fail 1");
    store
        .finish_run(&failed, RunOutcome::Failed(json!({ "code": "R0104" })))
        .await
        .expect("fail run");
    store.retry_run(&failed).await.expect("retry");
    store
        .step_started(&failed, "check", 2, None)
        .await
        .expect("step 2");
    let detail = store.get_run(&failed).await.expect("get").expect("run");
    assert_eq!(detail.run.status, RunStatus::Pending);
    assert_eq!(detail.run.error, None);
    assert_eq!(detail.run.retries, 1);
    let generations: Vec<(i64, i64)> = detail
        .steps
        .iter()
        .map(|step| (step.attempt, step.generation))
        .collect();
    assert_eq!(generations, [(1, 0), (2, 1)]);
    assert!(matches!(
        store.retry_run(&failed).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.retry_run("missing").await,
        Err(Error::NotFound { .. })
    ));

    // A replay names its original.
    let mut replay = new_run(&deployment, "orders", None);
    replay.trigger = "replay".into();
    replay.replay_of = Some(failed.clone());
    let replayed = store.start_run(replay).await.expect("replay").run;
    let detail = store.get_run(&replayed).await.expect("get").expect("run");
    assert_eq!(detail.run.replay_of.as_deref(), Some(failed.as_str()));
    assert_eq!(detail.run.webhook, None);
}

fn webhook_run(deployment: &str, delivery_id: Option<&str>, key: Option<&str>) -> NewRun {
    let mut request = new_run(deployment, "orders", key);
    request.trigger = "webhook".into();
    request.delivery = Some(Delivery {
        method: "POST".into(),
        path: "/orders".into(),
        delivery_id: delivery_id.map(str::to_owned),
        status: 202,
    });
    request
}

fn refusal(reason: &str) -> NewDelivery {
    NewDelivery {
        method: "POST".into(),
        path: "/orders".into(),
        workflow: "orders".into(),
        outcome: DeliveryOutcome::Rejected,
        status: 401,
        reason: Some(reason.into()),
        delivery_id: Some("gh-1".into()),
    }
}

#[tokio::test]
async fn a_provider_delivery_id_maps_a_redelivery_to_its_run_until_it_is_pruned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, clock) = open(&dir);
    let deployment = store.deploy(&program(ORDERS)).await.expect("deploy").id;

    // A refused delivery with the id is no run to map to.
    store
        .record_delivery(refusal("signature mismatch"))
        .await
        .expect("refusal");
    let first = store
        .start_run(webhook_run(&deployment, Some("gh-1"), None))
        .await
        .expect("first");
    assert!(first.created);
    clock.advance(Duration::from_secs(60));
    let again = store
        .start_run(webhook_run(&deployment, Some("gh-1"), None))
        .await
        .expect("again");
    assert_eq!(
        (again.run.as_str(), again.created),
        (first.run.as_str(), false)
    );
    assert_ne!(again.delivery, first.delivery, "each delivery has its row");
    // The id wins over a key that would name another run, and another id is a
    // new run.
    let keyed = store
        .start_run(webhook_run(&deployment, None, Some("k-1")))
        .await
        .expect("keyed");
    let both = store
        .start_run(webhook_run(&deployment, Some("gh-1"), Some("k-1")))
        .await
        .expect("both");
    assert_eq!(both.run, first.run);
    assert_ne!(keyed.run, first.run);
    let other = store
        .start_run(webhook_run(&deployment, Some("gh-2"), None))
        .await
        .expect("other");
    assert!(other.created);
    store
        .set_delivery_status(again.delivery.as_deref().expect("row"), 200)
        .await
        .expect("status");
    assert!(matches!(
        store.set_delivery_status("missing", 200).await,
        Err(Error::NotFound {
            kind: "delivery",
            ..
        })
    ));

    let history = store
        .list_deliveries(DeliveryFilter::default(), Page::default())
        .await
        .expect("history")
        .deliveries;
    let summary: Vec<_> = history
        .iter()
        .rev()
        .map(|d| {
            (
                d.outcome,
                d.status,
                d.delivery_id.as_deref(),
                d.run.is_some(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (DeliveryOutcome::Rejected, Some(401), Some("gh-1"), false),
            (DeliveryOutcome::Accepted, Some(202), Some("gh-1"), true),
            (DeliveryOutcome::Duplicate, Some(200), Some("gh-1"), true),
            (DeliveryOutcome::Accepted, Some(202), None, true),
            (DeliveryOutcome::Duplicate, Some(202), Some("gh-1"), true),
            (DeliveryOutcome::Accepted, Some(202), Some("gh-2"), true),
        ]
    );
    let rejected = store
        .list_deliveries(
            DeliveryFilter {
                path: Some("/orders".into()),
                outcome: Some(DeliveryOutcome::Rejected),
            },
            Page::default(),
        )
        .await
        .expect("rejected")
        .deliveries;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason.as_deref(), Some("signature mismatch"));

    // Pruning everything before the redelivery keeps it and what came after; the
    // id still maps, through the redelivery's row.
    let pruned = store.prune_deliveries(START + 30_000).await.expect("prune");
    assert_eq!(pruned, 2, "the refusal and the first delivery");
    let later = store
        .start_run(webhook_run(&deployment, Some("gh-1"), None))
        .await
        .expect("later");
    assert_eq!(later.run, first.run);
    // Once every row with the id is gone, the id is new again.
    clock.advance(Duration::from_secs(3600));
    let pruned = store
        .prune_deliveries(clock_now(&clock))
        .await
        .expect("prune all");
    assert_eq!(pruned, 5);
    let fresh = store
        .start_run(webhook_run(&deployment, Some("gh-1"), None))
        .await
        .expect("fresh");
    assert!(fresh.created && fresh.run != first.run);
}

fn clock_now(clock: &TestClock) -> i64 {
    use flowc_runtime::clock::Clock as _;
    clock.now_ms()
}

#[tokio::test]
async fn the_delivery_history_pages_newest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, clock) = open(&dir);
    for index in 0..7 {
        store
            .record_delivery(refusal(&format!("reason {index}")))
            .await
            .expect("record");
        clock.advance(Duration::from_millis(10));
    }
    let mut reasons = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_deliveries(DeliveryFilter::default(), Page { limit: 3, after })
            .await
            .expect("page");
        reasons.extend(page.deliveries.into_iter().filter_map(|d| d.reason));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7)
        .rev()
        .map(|index| format!("reason {index}"))
        .collect();
    assert_eq!(reasons, expected);
}

#[tokio::test]
async fn a_restart_starts_pending_and_running_runs_but_not_parked_or_paused_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = open(&dir);
    let deployment = store.deploy(&program(ORDERS)).await.expect("deploy").id;
    let mut ids = Vec::new();
    for key in ["pending", "running", "waiting", "paused"] {
        let started = store
            .start_run(new_run(&deployment, "orders", Some(key)))
            .await
            .expect("start");
        ids.push(started.run);
    }
    store
        .set_run_status(&ids[1], RunStatus::Running)
        .await
        .expect("running");
    store
        .set_run_status(&ids[2], RunStatus::Waiting)
        .await
        .expect("waiting");
    store.set_paused(&ids[3], true).await.expect("paused");
    let restart: Vec<String> = store
        .runs_to_restart()
        .await
        .expect("restart")
        .into_iter()
        .map(|run| run.id)
        .collect();
    assert_eq!(restart, ids[..2].to_vec());
    assert_eq!(store.runs_to_resume().await.expect("resume").len(), 4);
}

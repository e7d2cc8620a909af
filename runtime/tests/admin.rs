//! The admin API end to end: a real server on a free loopback port with an admin
//! token, a temp-file SQLite store, the engine, a vault, and a recording HTTP
//! server for the workflows' steps (which can answer slowly, or 500 until told
//! otherwise). Every request goes through reqwest, as `flowc deploy` and `flowc
//! runs` send it.

#![allow(clippy::unwrap_used)]

mod common;

use common::harness::{Harness as Stack, assert_problem, eventually, poll};
use common::{JumpingClock, Reply, Server as Recorder};
use flowc_compiler::report;
use flowc_runtime::clock::Clock;
use flowc_runtime::engine::{Engine, SecretSource};
use flowc_runtime::outbound::Client;
use flowc_runtime::server;
use flowc_runtime::store::Store;
use flowc_runtime::store::sqlite::Options as StoreOptions;
use flowc_runtime::vault::{MasterKey, Vault};
use reqwest::Method;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const TOKEN: &str = "admin-token-for-tests";

/// The program most tests deploy; `BASE` is the recording server.
const PROGRAM: &str = r#"
workflow greet(person: { name: string }) -> { greeting: string, status: int } {
  on manual
  step hello = http POST "BASE/hello" { json: { name: person.name, at: now() } }
  return { greeting: "hi ${person.name}", status: hello.status }
}

workflow hook(delivery: { id: string }) {
  on webhook POST "/hook"
  step forward = http POST "BASE/forward" {
    json: { id: delivery.id, test: webhook.headers."x-test", query: webhook.query }
  }
}

workflow slow(input: { n: int }) {
  on manual
  step first = http POST "BASE/slow"
  step second = http POST "BASE/after"
}

workflow flaky(input: { n: int }) {
  on manual
  step first = http POST "BASE/first"
  step second = http POST "BASE/flaky"
  step third = http POST "BASE/third"
}
"#;

/// The shared stack (no program deployed) and the recording server its steps call.
struct Harness {
    stack: Stack,
    recorder: Recorder,
    /// While true, `/flaky` answers 500.
    failing: Arc<AtomicBool>,
}

common::harness::deref_to_stack!(Harness);

impl Harness {
    async fn new() -> Harness {
        Harness::with_token(Some(TOKEN)).await
    }

    async fn with_token(token: Option<&str>) -> Harness {
        let failing = Arc::new(AtomicBool::new(true));
        let recorder = {
            let failing = Arc::clone(&failing);
            Recorder::start(move |request, _| match request.path() {
                "/slow" => Reply {
                    delay: Some(Duration::from_secs(25)),
                    ..Reply::json(200, json!({ "slow": true }))
                },
                "/flaky" if failing.load(Ordering::SeqCst) => Reply::status(500),
                _ => Reply::json(200, json!({ "ok": true })),
            })
            .await
        };
        let stack = Stack::builder()
            .secret("present", "here")
            .admin_token(token)
            .build()
            .await;
        Harness {
            stack,
            recorder,
            failing,
        }
    }

    /// The program with `BASE` pointed at the recording server.
    fn program(&self, source: &str) -> String {
        source.replace("BASE", &self.recorder.base())
    }

    async fn get(&self, path: &str) -> (u16, Json) {
        self.api(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Json) -> (u16, Json) {
        self.api(Method::POST, path, Some(body)).await
    }

    /// Deploys `PROGRAM` through the API; its answer.
    async fn deploy_program(&self) -> Json {
        let (status, body) = self
            .post(
                "/deployments",
                json!({ "files": [{ "path": "main.flow", "source": self.program(PROGRAM) }] }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Polls `GET /runs/{id}` until `done` holds for its answer.
    async fn until(&self, run: &str, done: impl Fn(&Json) -> bool) -> Json {
        poll(
            &format!("GET /runs/{run} answers what the test waits for"),
            || async {
                let (status, body) = self.get(&format!("/runs/{run}")).await;
                assert_eq!(status, 200, "{body}");
                body
            },
            done,
        )
        .await
    }

    /// Polls `GET /runs/{id}` until the run has ended.
    async fn finished(&self, run: &str) -> Json {
        self.until(run, |body| {
            matches!(
                body["run"]["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        })
        .await
    }

    /// Waits until the engine has no task for `run`.
    async fn engine_let_go(&self, run: &str) {
        eventually(&format!("the engine lets go of {run}"), || async {
            !self.engine.is_running(run)
        })
        .await;
    }
}

/// Every route of the API, with a body where it takes one.
fn every_route() -> Vec<(Method, &'static str)> {
    vec![
        (Method::POST, "/api/v1/deployments"),
        (Method::GET, "/api/v1/deployments"),
        (Method::GET, "/api/v1/deployments/d1"),
        (Method::POST, "/api/v1/deployments/d1/activate"),
        (Method::POST, "/api/v1/deployments/d1/deactivate"),
        (Method::GET, "/api/v1/workflows"),
        (Method::GET, "/api/v1/workflows/greet"),
        (Method::POST, "/api/v1/workflows/greet/runs"),
        (Method::GET, "/api/v1/runs"),
        (Method::GET, "/api/v1/runs/r1"),
        (Method::POST, "/api/v1/runs/r1/retry"),
        (Method::POST, "/api/v1/runs/r1/replay"),
        (Method::POST, "/api/v1/runs/r1/cancel"),
        (Method::GET, "/api/v1/no/such/route"),
        (Method::DELETE, "/api/v1/runs"),
    ]
}

#[tokio::test]
async fn every_route_refuses_a_missing_or_wrong_token_with_401() {
    let h = Harness::new().await;
    h.deploy_program().await;
    for (method, path) in every_route() {
        for token in [None, Some("wrong"), Some("admin-token-for-test"), Some("")] {
            let mut request = h
                .http
                .request(method.clone(), h.url(path))
                .json(&json!({ "name": "x" }));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let (status, headers, body) = h.send(request).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
            assert_problem(&body, "unauthorized");
            assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
        }
        // Another scheme with the right token is still refused.
        let request = h
            .http
            .request(method.clone(), h.url(path))
            .basic_auth(TOKEN, Some(TOKEN));
        assert_eq!(h.send(request).await.0, 401, "{method} {path}");
    }
    // Nothing was started by any of those.
    assert!(h.recorder.requests().is_empty());
    let (_, runs) = h.get("/runs").await;
    assert_eq!(runs["runs"], json!([]));
}

#[tokio::test]
async fn a_server_without_an_admin_token_refuses_every_admin_route() {
    let h = Harness::with_token(None).await;
    for (method, path) in every_route() {
        let request = h
            .http
            .request(method.clone(), h.url(path))
            .bearer_auth(TOKEN);
        let (status, _, body) = h.send(request).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_problem(&body, "unauthorized");
    }
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_bad_json_answer_json_errors() {
    let h = Harness::new().await;
    let (status, body) = h.get("/nothing/here").await;
    assert_eq!(status, 404);
    assert_problem(&body, "not_found");
    let (status, body) = h.api(Method::DELETE, "/deployments", None).await;
    assert_eq!(status, 405);
    assert_problem(&body, "method_not_allowed");
    let request = h
        .http
        .post(h.url("/api/v1/deployments"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"files\": [");
    let (status, _, body) = h.send(request).await;
    assert_eq!(status, 400);
    assert_problem(&body, "malformed_json");
    let (status, body) = h.post("/deployments", json!({ "files": 3 })).await;
    assert_eq!(status, 400);
    assert_problem(&body, "bad_body");
    let (status, body) = h
        .post("/deployments", json!({ "files": [], "ir": {} }))
        .await;
    assert_eq!(status, 400);
    assert_problem(&body, "bad_body");
    let big = "x".repeat(server::DEFAULT_BODY_LIMIT + 1);
    let (status, body) = h
        .post("/workflows/greet/runs", json!({ "name": big }))
        .await;
    assert_eq!(status, 413, "{body}");
    assert_problem(&body, "payload_too_large");
}

#[tokio::test]
async fn deploying_source_answers_the_deployment_and_serves_its_webhooks() {
    let h = Harness::new().await;
    // Two files, one importing the other.
    let files = json!([
        { "path": "main.flow", "source": "import \"./types.flow\"\n\nworkflow tagged(item: Item) {\n  on webhook POST \"/items\"\n}\n" },
        { "path": "types.flow", "source": "type Item = { id: string }\n" },
    ]);
    let (status, body) = h.post("/deployments", json!({ "files": files })).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["version"], 1);
    assert_eq!(body["created"], true);
    assert_eq!(body["active"], true);
    assert_eq!(body["workflows"], json!(["tagged"]));
    assert_eq!(
        body["webhooks"],
        json!([{ "method": "POST", "path": "/items", "workflow": "tagged" }])
    );
    assert_eq!(body["hash"].as_str().unwrap().len(), 64);

    // The webhook is served right away.
    let webhook = h.http.post(h.url("/items")).json(&json!({ "id": "i-1" }));
    assert_eq!(h.send(webhook).await.0, 202);

    // The same program again finds the same deployment.
    let (status, again) = h.post("/deployments", json!({ "files": files })).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], body["id"]);
    assert_eq!(again["created"], false);

    let (status, list) = h.get("/deployments").await;
    assert_eq!(status, 200);
    assert_eq!(list["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(list["deployments"][0]["id"], body["id"]);
    assert_eq!(list["deployments"][0]["active"], true);

    let (status, one) = h.get(&format!("/deployments/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["webhooks"], body["webhooks"]);
    assert_eq!(one["workflows"], json!(["tagged"]));

    // Deactivated: the webhook is gone; activated: it is back.
    let (status, off) = h
        .post(&format!("/deployments/{id}/deactivate"), json!({}))
        .await;
    assert_eq!((status, &off["active"]), (200, &json!(false)), "{off}");
    let webhook = h.http.post(h.url("/items")).json(&json!({ "id": "i-2" }));
    assert_eq!(h.send(webhook).await.0, 404);
    let (status, on) = h
        .post(&format!("/deployments/{id}/activate"), json!({}))
        .await;
    assert_eq!((status, &on["active"]), (200, &json!(true)), "{on}");
    let webhook = h.http.post(h.url("/items")).json(&json!({ "id": "i-3" }));
    assert_eq!(h.send(webhook).await.0, 202);

    let (status, body) = h.get("/deployments/nope").await;
    assert_eq!(status, 404);
    assert_problem(&body, "deployment_not_found");
    let (status, body) = h.post("/deployments/nope/activate", json!({})).await;
    assert_eq!(status, 404);
    assert_problem(&body, "deployment_not_found");
}

#[tokio::test]
async fn deploying_ir_works_like_source_and_can_stay_inactive() {
    let h = Harness::new().await;
    let program = common::compile(&h.program(PROGRAM));
    let ir: Json = serde_json::from_str(&program.to_json()).unwrap();
    let (status, body) = h
        .post("/deployments", json!({ "ir": ir, "activate": false }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(body["hash"], program.hash());
    let (_, workflows) = h.get("/workflows").await;
    assert_eq!(workflows["workflows"], json!([]));

    let (status, body) = h
        .post("/deployments", json!({ "ir": { "ir_version": 999 } }))
        .await;
    // The body has the right shape; what it holds cannot be deployed.
    assert_eq!(status, 422);
    assert_problem(&body, "bad_ir");
}

#[tokio::test]
async fn compile_errors_answer_422_with_the_check_report() {
    let h = Harness::new().await;
    let source = "workflow broken(x: int) {\n  let y: string = x\n  on manual\n}\n";
    let (status, body) = h
        .post(
            "/deployments",
            json!({ "files": [{ "path": "bad.flow", "source": source }] }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_problem(&body, "compile_errors");

    // What `flowc check --format json` prints for the same file.
    let analysis = flowc_compiler::analyze(
        vec![flowc_compiler::SourceFile {
            path: "bad.flow".into(),
            text: source.into(),
        }],
        &flowc_compiler::NoImports,
    );
    let files = report::files(&analysis);
    let workflows = report::workflows(&analysis, 1_700_000_000_000);
    let expected: Json =
        serde_json::from_str(&report::Report::of(&files, &workflows).to_json_string()).unwrap();
    assert_eq!(body["details"], expected);
    assert_eq!(body["details"]["valid"], false);
    assert!(body["details"]["error_count"].as_u64().unwrap() >= 1);
    let (_, list) = h.get("/deployments").await;
    assert_eq!(list["deployments"], json!([]));
}

#[tokio::test]
async fn a_webhook_claimed_by_another_active_deployment_is_a_409() {
    let h = Harness::new().await;
    h.deploy_program().await;
    let other = "workflow other(delivery: { id: string }) {\n  on webhook POST \"/hook\"\n}\n";
    let (status, body) = h
        .post(
            "/deployments",
            json!({ "files": [{ "path": "other.flow", "source": other }] }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_problem(&body, "webhook_conflict");
    assert_eq!(body["details"]["path"], "/hook");
    assert_eq!(body["details"]["owner"], "hook");

    // Stored inactive, it cannot be activated either while the owner is active.
    let (status, body) = h
        .post(
            "/deployments",
            json!({ "files": [{ "path": "other.flow", "source": other }], "activate": false }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap();
    let (status, body) = h
        .post(&format!("/deployments/{id}/activate"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_problem(&body, "webhook_conflict");
}

#[tokio::test]
async fn missing_secrets_answer_422_listing_every_one() {
    let h = Harness::new().await;
    let source = r#"
connection crm {
  base_url: "https://crm.example.com"
  auth: bearer { token: secrets.crm_token }
}

workflow sync(input: { id: string }) {
  on manual
  step deal = http GET crm "/deals/${input.id}"
  step note = http POST "https://notes.example.com/n" {
    headers: { "X-Key": secrets.notes_key, "X-Other": secrets.present }
  }
}
"#;
    let (status, body) = h
        .post(
            "/deployments",
            json!({ "files": [{ "path": "sync.flow", "source": source }] }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_problem(&body, "missing_secrets");
    assert_eq!(
        body["details"]["secrets"],
        json!([
            { "name": "crm_token", "workflows": ["sync"] },
            { "name": "notes_key", "workflows": ["sync"] },
        ])
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("crm_token") && message.contains("notes_key"),
        "{message}"
    );
    let (_, list) = h.get("/deployments").await;
    assert_eq!(list["deployments"], json!([]));
}

#[tokio::test]
async fn workflows_list_their_triggers_input_types_and_versions() {
    let h = Harness::new().await;
    let deployed = h.deploy_program().await;
    let (status, body) = h.get("/workflows").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flaky", "greet", "hook", "slow"]);
    let hook = &body["workflows"][2];
    assert_eq!(hook["deployment"], deployed["id"]);
    assert_eq!(hook["version"], 1);
    assert_eq!(
        hook["triggers"],
        json!([{ "kind": "webhook", "method": "POST", "path": "/hook" }])
    );
    assert_eq!(hook["input_type"], "{ id: string }");

    let (status, greet) = h.get("/workflows/greet").await;
    assert_eq!(status, 200, "{greet}");
    assert_eq!(greet["triggers"], json!([{ "kind": "manual" }]));
    assert_eq!(greet["input_type"], "{ name: string }");
    assert_eq!(
        greet["versions"],
        json!([{
            "deployment": deployed["id"],
            "version": 1,
            "active": true,
            "created_at": greet["versions"][0]["created_at"],
        }])
    );
    assert!(greet["versions"][0]["created_at"].is_i64());

    let (status, body) = h.get("/workflows/nope").await;
    assert_eq!(status, 404);
    assert_problem(&body, "workflow_not_found");
}

#[tokio::test]
async fn a_started_run_completes_and_shows_its_steps() {
    let h = Harness::new().await;
    h.deploy_program().await;
    let run = h.api_start("greet", json!({ "name": "Ada" })).await;
    let detail = h.finished(&run).await;
    assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
    assert_eq!(detail["run"]["trigger"], "api");
    assert_eq!(
        detail["run"]["output"],
        json!({ "greeting": "hi Ada", "status": 200 })
    );
    assert_eq!(detail["run"]["retries"], 0);
    assert_eq!(detail["run"]["replay_of"], Json::Null);
    let steps = detail["steps"].as_array().unwrap();
    let hello = steps.iter().find(|s| s["path"] == "hello").unwrap();
    assert_eq!(hello["attempt"], 1);
    assert_eq!(hello["status"], "succeeded");
    assert_eq!(hello["recorded"], false);
    assert_eq!(hello["input"]["method"], "POST");
    assert_eq!(hello["input"]["body"]["name"], "Ada");
    assert_eq!(hello["output"]["status"], 200);
    assert!(hello["started_at"].is_i64() && hello["finished_at"].is_i64());
    let now = steps.iter().find(|s| s["path"] == "now#1").unwrap();
    assert_eq!(now["recorded"], true);
    assert_eq!(h.recorder.count("/hello"), 1);

    // The run is listed.
    let (_, list) = h.get("/runs?workflow=greet").await;
    assert_eq!(list["runs"][0]["id"], run);
    assert_eq!(list["next"], Json::Null);

    let (status, body) = h.get("/runs/nope").await;
    assert_eq!(status, 404);
    assert_problem(&body, "run_not_found");
}

#[tokio::test]
async fn starting_a_run_checks_the_input_and_honours_idempotency_keys() {
    let h = Harness::new().await;
    h.deploy_program().await;
    let (status, body) = h.post("/workflows/greet/runs", json!({ "name": 3 })).await;
    assert_eq!(status, 422, "{body}");
    assert_problem(&body, "input_mismatch");
    assert_eq!(body["details"]["path"], "$.name");

    let (status, body) = h.post("/workflows/nope/runs", json!({})).await;
    assert_eq!(status, 404);
    assert_problem(&body, "workflow_not_found");

    // `hook` has only a webhook trigger: what may start it is in its source.
    let (status, body) = h.post("/workflows/hook/runs", json!({ "id": "d-1" })).await;
    assert_eq!(status, 409, "{body}");
    assert_problem(&body, "not_manual");
    assert!(body["message"].as_str().unwrap().contains("on manual"));

    let keyed = || {
        h.http
            .post(h.url("/api/v1/workflows/greet/runs"))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", "k-1")
            .json(&json!({ "name": "Bo" }))
    };
    let (first_status, _, first) = h.send(keyed()).await;
    let (second_status, _, second) = h.send(keyed()).await;
    assert_eq!((first_status, second_status), (201, 200));
    assert_eq!(first["created"], true);
    assert_eq!(second["created"], false);
    assert_eq!(first["run_id"], second["run_id"]);
    h.finished(first["run_id"].as_str().unwrap()).await;
    assert_eq!(h.recorder.count("/hello"), 1);
}

#[tokio::test]
async fn webhook_metadata_reaches_the_steps_of_the_run() {
    let h = Harness::new().await;
    h.deploy_program().await;
    let webhook = h
        .http
        .post(h.url("/hook?source=test&page=2"))
        .header("X-Test", "from-the-header")
        .header("Authorization", "Bearer hidden")
        .json(&json!({ "id": "e-1" }));
    let (status, _, body) = h.send(webhook).await;
    assert_eq!(status, 202, "{body}");
    let run = body["run_id"].as_str().unwrap();
    let detail = h.finished(run).await;
    assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
    let forwarded = h
        .recorder
        .requests()
        .into_iter()
        .find(|r| r.path() == "/forward")
        .unwrap();
    assert_eq!(
        forwarded.json(),
        json!({
            "id": "e-1",
            "test": "from-the-header",
            "query": { "source": "test", "page": "2" },
        })
    );
    let stored = &detail["run"]["webhook"];
    assert_eq!(stored["method"], "POST");
    assert_eq!(stored["path"], "/hook");
    assert_eq!(stored["headers"]["x-test"], "from-the-header");
    assert_eq!(stored["headers"]["authorization"], Json::Null);
    assert_eq!(stored["remote_ip"], "127.0.0.1");
}

#[tokio::test]
async fn cancelling_a_run_aborts_its_slow_step_and_it_stays_cancelled() {
    let h = Harness::new().await;
    h.deploy_program().await;
    let run = h.api_start("slow", json!({ "n": 1 })).await;
    // The slow step is in flight once the downstream has seen it.
    eventually("the slow step starts", || async {
        h.recorder.count("/slow") > 0
    })
    .await;
    assert!(h.engine.is_running(&run));

    let (status, body) = h.post(&format!("/runs/{run}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "run_id": run, "status": "cancelled" }));
    // The engine lets go long before the downstream would answer (25 s).
    h.engine_let_go(&run).await;

    let (_, detail) = h.get(&format!("/runs/{run}")).await;
    assert_eq!(detail["run"]["status"], "cancelled", "{detail}");
    let steps = detail["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{detail}");
    assert_eq!(steps[0]["path"], "first");
    assert_eq!(steps[0]["status"], "started");
    assert_eq!(h.recorder.count("/after"), 0);

    // Cancelled is terminal.
    let (status, body) = h.post(&format!("/runs/{run}/cancel"), json!({})).await;
    assert_eq!(status, 409);
    assert_problem(&body, "run_finished");
    let (status, body) = h.post("/runs/nope/cancel", json!({})).await;
    assert_eq!(status, 404);
    assert_problem(&body, "run_not_found");
}

#[tokio::test]
async fn cancelling_a_pending_run_means_the_engine_never_runs_it() {
    let h = Harness::new().await;
    h.deploy_program().await;
    // Stored but not handed to the engine, as after a crash.
    let started = h.store_run("greet", json!({ "name": "Cy" })).await;
    let (status, _) = h.post(&format!("/runs/{started}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    let outcome = h.engine.run(&started).await.unwrap();
    assert_eq!(outcome, flowc_runtime::store::RunOutcome::Cancelled);
    assert_eq!(h.recorder.count("/hello"), 0);
}

#[tokio::test]
async fn retrying_a_failed_run_reruns_only_the_failed_step() {
    let h = Harness::new().await;
    h.deploy_program().await;
    let run = h.api_start("flaky", json!({ "n": 1 })).await;
    let failed = h.finished(&run).await;
    assert_eq!(failed["run"]["status"], "failed", "{failed}");
    assert_eq!(failed["run"]["error"]["step"], "second");
    let flaky_calls = h.recorder.count("/flaky");
    assert!(flaky_calls >= 1);
    assert_eq!(h.recorder.count("/first"), 1);
    assert_eq!(h.recorder.count("/third"), 0);

    // Only a failed run can be retried.
    let (status, body) = h.post("/runs/nope/retry", json!({})).await;
    assert_eq!(status, 404);
    assert_problem(&body, "run_not_found");

    h.failing.store(false, Ordering::SeqCst);
    let (status, body) = h.post(&format!("/runs/{run}/retry"), json!({})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, json!({ "run_id": run }));
    let detail = h.finished(&run).await;
    assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
    assert_eq!(detail["run"]["error"], Json::Null);
    assert_eq!(detail["run"]["retries"], 1);
    // The first step's result was kept; the failed one was sent once more.
    assert_eq!(h.recorder.count("/first"), 1);
    assert_eq!(h.recorder.count("/flaky"), flaky_calls + 1);
    assert_eq!(h.recorder.count("/third"), 1);
    let second: Vec<&Json> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["path"] == "second")
        .collect();
    assert_eq!(second.len(), 2, "{detail}");
    assert_eq!(second[0]["status"], "failed");
    assert_eq!(second[1]["attempt"], 2);
    assert_eq!(second[1]["status"], "succeeded");
    assert_eq!(second[1]["generation"], 1);

    let (status, body) = h.post(&format!("/runs/{run}/retry"), json!({})).await;
    assert_eq!(status, 409);
    assert_problem(&body, "run_not_failed");
}

#[tokio::test]
async fn replaying_starts_a_new_run_with_the_same_or_an_edited_input() {
    let h = Harness::new().await;
    h.deploy_program().await;
    let original = h.api_start("greet", json!({ "name": "Ada" })).await;
    h.finished(&original).await;

    let (status, body) = h
        .post(
            &format!("/runs/{original}/replay"),
            json!({ "input": { "name": "Grace" } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let edited = body["run_id"].as_str().unwrap().to_string();
    assert_ne!(edited, original);
    let detail = h.finished(&edited).await;
    assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
    assert_eq!(detail["run"]["trigger"], "replay");
    assert_eq!(detail["run"]["replay_of"], original);
    assert_eq!(detail["run"]["input"], json!({ "name": "Grace" }));
    assert_eq!(detail["run"]["output"]["greeting"], "hi Grace");

    // Without a body: the same input.
    let request = h
        .http
        .post(h.url(&format!("/api/v1/runs/{original}/replay")))
        .bearer_auth(TOKEN);
    let (status, _, body) = h.send(request).await;
    assert_eq!(status, 201, "{body}");
    let same = h.finished(body["run_id"].as_str().unwrap()).await;
    assert_eq!(same["run"]["input"], json!({ "name": "Ada" }));
    assert_eq!(h.recorder.count("/hello"), 3);

    let (status, body) = h
        .post(
            &format!("/runs/{original}/replay"),
            json!({ "input": { "name": false } }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_problem(&body, "input_mismatch");
    assert_eq!(body["details"]["path"], "$.name");
    let (status, body) = h.post("/runs/nope/replay", json!({})).await;
    assert_eq!(status, 404);
    assert_problem(&body, "run_not_found");
}

#[tokio::test]
async fn runs_page_through_120_runs_with_filters() {
    let h = Harness::new().await;
    let deployed = h.deploy_program().await;
    let deployment = deployed["id"].as_str().unwrap().to_string();
    for index in 0..120 {
        let workflow = if index % 3 == 0 { "slow" } else { "greet" };
        h.store_run(workflow, json!({ "index": index })).await;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(after) => format!("/runs?limit=50&after={after}"),
            None => "/runs?limit=50".to_string(),
        };
        let (status, page) = h.get(&path).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let runs = page["runs"].as_array().unwrap();
        seen.extend(
            runs.iter()
                .map(|run| run["id"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(runs.len(), 50);
                after = Some(next.to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 120);
    // Newest first.
    let newest_first: Vec<String> = {
        let mut ids = seen.clone();
        ids.sort_by(|a, b| b.cmp(a));
        ids
    };
    assert_eq!(seen, newest_first);

    let (_, slow) = h.get("/runs?workflow=slow&limit=500").await;
    assert_eq!(slow["runs"].as_array().unwrap().len(), 40);
    let (_, pending) = h
        .get(&format!("/runs?status=pending&deployment={deployment}"))
        .await;
    assert_eq!(pending["runs"].as_array().unwrap().len(), 50);
    assert!(pending["next"].is_string());
    let (_, none) = h.get("/runs?status=succeeded").await;
    assert_eq!(none["runs"], json!([]));
}

#[tokio::test]
async fn bad_run_queries_answer_400() {
    let h = Harness::new().await;
    for query in [
        "limit=0",
        "limit=501",
        "limit=ten",
        "limit=-1",
        "status=done",
        "colour=blue",
        "workflow=a&workflow=b",
    ] {
        let (status, body) = h.get(&format!("/runs?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_problem(&body, "bad_query");
    }
    let (status, _) = h.get("/runs?limit=500").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_open_admin_api_binds_only_to_loopback() {
    for (ip, loopback) in [
        ("127.0.0.1", true),
        ("127.8.9.10", true),
        ("::1", true),
        ("::ffff:127.0.0.1", true),
        ("0.0.0.0", false),
        ("::", false),
        ("10.0.0.1", false),
        ("::ffff:10.0.0.1", false),
        ("fe80::1", false),
    ] {
        assert_eq!(server::is_loopback(ip.parse().unwrap()), loopback, "{ip}");
    }
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(JumpingClock::new(1_700_000_000_000));
    let store: Arc<dyn Store> = Arc::new(
        StoreOptions::new(dir.path().join("flowc.db"))
            .open()
            .unwrap(),
    );
    let secrets: Arc<dyn SecretSource> = Arc::new(Vault::new(
        &MasterKey::generate().unwrap(),
        Arc::clone(&store),
    ));
    let client = Client::builder(Arc::clone(&clock)).build().unwrap();
    let engine = Arc::new(Engine::new(
        Arc::clone(&store),
        Arc::new(client),
        Arc::clone(&secrets),
        Arc::clone(&clock),
    ));
    let mut options = server::Options::new(store, engine, secrets, clock);
    options.addr = "0.0.0.0:0".parse().unwrap();
    options.admin_open = true;
    let error = options.bind().await.unwrap_err();
    assert!(matches!(error, server::Error::OpenAdmin { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "the admin API without a token may only listen on a loopback address, not 0.0.0.0:0"
    );
}

//! The admin API's OpenAPI document against the API itself: a real server on a
//! free loopback port (as in `admin.rs`), its `/api/v1/openapi.json` read without
//! a token, every route of the admin module's table found in the document and
//! served by the router, and real answers (successes and errors) validated
//! against the schemas the document declares for their status.

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "runs are polled until they end, bounded by a wall-clock deadline; nothing asserts on time"
)]

mod common;

use common::harness::Harness as Stack;
use common::{Reply, Server as Recorder};
use flowc_runtime::server;
use flowc_runtime::store::RunStatus;
use reqwest::Method;
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const TOKEN: &str = "admin-token-for-openapi-tests";

const PROGRAM: &str = r#"
workflow greet(person: { name: string }) -> { greeting: string } {
  on manual
  step hello = http POST "BASE/hello" { json: { name: person.name, at: now() } }
  return { greeting: "hi ${person.name}" }
}

workflow failing(input: { n: int }) {
  on manual
  step broken = http POST "BASE/broken"
}

workflow hook(delivery: { id: string }) {
  on webhook POST "/hook"
  step forward = http POST "BASE/forward" { json: { id: delivery.id } }
}

workflow nightly() {
  on schedule "0 9 * * *"
  step tick = http POST "BASE/tick"
}
"#;

/// The admin module, whose `//!` table lists every route.
const ADMIN_SOURCE: &str = include_str!("../src/server/admin.rs");

/// The shared stack (no program, no secrets) with an admin token, the recording
/// server its steps call, and the document it served.
struct Harness {
    stack: Stack,
    recorder: Recorder,
    document: Json,
}

common::harness::deref_to_stack!(Harness);

impl Harness {
    async fn new() -> Harness {
        let recorder = Recorder::start(|request, _| match request.path() {
            "/broken" => Reply::status(500),
            _ => Reply::json(200, json!({ "ok": true })),
        })
        .await;
        let stack = Stack::builder().admin_token(Some(TOKEN)).build().await;
        let response = stack
            .http
            .get(stack.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let document: Json = response.json().await.unwrap();
        Harness {
            stack,
            recorder,
            document,
        }
    }

    /// `http://127.0.0.1:PORT/api/v1/path`.
    fn url(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.handle.local_addr())
    }

    /// Sends an admin request with the token, and checks its answer against the
    /// document: the status is declared for `template` and `method`, and the body
    /// validates against the declared schema. Returns the status and body.
    async fn call(
        &self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<Json>,
    ) -> (u16, Json) {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.check(method, template, request).await
    }

    async fn check(
        &self,
        method: Method,
        template: &str,
        request: reqwest::RequestBuilder,
    ) -> (u16, Json) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        let body: Json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {template} {status}: not JSON: {text}"));
        assert_eq!(content_type.as_deref(), Some("application/json"));
        let schema = response_schema(&self.document, &method, template, status);
        validate(&self.document, &schema, &body)
            .unwrap_or_else(|errors| panic!("{method} {template} {status}: {errors}\n{body:#}"));
        (status, body)
    }

    fn program(&self) -> String {
        PROGRAM.replace("BASE", &self.recorder.base())
    }

    /// Polls the run until it has ended (at most 20 s).
    async fn ended(&self, run: &str) -> Json {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = self
                .call(Method::GET, "/runs/{id}", &format!("/runs/{run}"), None)
                .await;
            assert_eq!(status, 200);
            if matches!(
                body["run"]["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return body;
            }
            assert!(Instant::now() < deadline, "run {run} never ended: {body}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The schema the document declares for an answer, with `components` beside it
/// so that its `$ref`s resolve. Panics when the status is not declared.
fn response_schema(document: &Json, method: &Method, template: &str, status: u16) -> Json {
    let operation =
        &document["paths"][format!("/api/v1{template}")][method.as_str().to_lowercase()];
    assert!(
        operation.is_object(),
        "{method} {template} is not in the document"
    );
    let response = &operation["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which the document does not declare"
    );
    response["content"]["application/json"]["schema"].clone()
}

/// Validates `instance` against `schema`, resolving `#/components/...` in the
/// document. The error lists every violation.
fn validate(document: &Json, schema: &Json, instance: &Json) -> Result<(), String> {
    let mut root = schema.clone();
    let Json::Object(fields) = &mut root else {
        return Err(format!("the schema is not an object: {schema}"));
    };
    fields.insert("components".into(), document["components"].clone());
    fields.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    let validator = jsonschema::validator_for(&root).map_err(|error| error.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Every `(METHOD, path)` the document has, paths without the prefix.
fn document_routes(document: &Json) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let path = path.strip_prefix("/api/v1").unwrap_or_else(|| {
            panic!("{path} is not under /api/v1");
        });
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.to_string()));
        }
    }
    routes
}

/// Every `(METHOD, path)` of the module doc's table: the first cell of each row,
/// `` `GET /runs` `` with anything after the path dropped.
fn table_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for line in ADMIN_SOURCE.lines() {
        let Some(row) = line.strip_prefix("//! | `") else {
            continue;
        };
        let cell = row.split('`').next().unwrap();
        let (method, path) = cell.split_once(' ').unwrap();
        if method == "method" {
            continue;
        }
        routes.insert((method.to_string(), path.to_string()));
    }
    routes
}

#[tokio::test]
async fn the_document_is_openapi_3_1_json_served_without_the_token() {
    let h = Harness::new().await;
    let version = h.document["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(h.document["info"]["title"], "flowc admin API");
    assert_eq!(
        h.document["components"]["securitySchemes"]["bearer"],
        json!({
            "type": "http",
            "scheme": "bearer",
            "description": "The admin token: `FLOWC_ADMIN_TOKEN`, or the file `flowc serve` prints",
        })
    );
    assert_eq!(h.document["security"], json!([{ "bearer": [] }]));
    // The document's own operation needs no token; the others do and declare 401.
    let document_operation = &h.document["paths"]["/api/v1/openapi.json"]["get"];
    assert_eq!(document_operation["security"], json!([]));
    for (method, path) in document_routes(&h.document) {
        if path == "/openapi.json" {
            continue;
        }
        let operation = &h.document["paths"][format!("/api/v1{path}")][method.to_lowercase()];
        assert!(operation.get("security").is_none(), "{method} {path}");
        assert!(
            operation["responses"]["401"]["headers"]["WWW-Authenticate"].is_object(),
            "{method} {path} does not declare its 401"
        );
    }
    // A wrong token does not matter to the document, and matters to the rest.
    let response = h
        .http
        .get(h.url("/openapi.json"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Json>().await.unwrap(), h.document);
    let response = h.http.get(h.url("/runs")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    // Every reference names a schema the document has.
    let text = h.document.to_string();
    let schemas = h.document["components"]["schemas"].as_object().unwrap();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            schemas.contains_key(name),
            "a $ref to `{name}`, which is missing"
        );
    }
    // Every schema in it compiles as JSON Schema 2020-12, with its references.
    for (name, schema) in h.document["components"]["schemas"].as_object().unwrap() {
        let mut root = schema.clone();
        root["components"] = h.document["components"].clone();
        jsonschema::draft202012::new(&root).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

#[tokio::test]
async fn every_route_of_the_table_is_documented_and_served() {
    let h = Harness::new().await;
    let documented = document_routes(&h.document);
    let tabled = table_routes();
    assert_eq!(
        documented, tabled,
        "the document's routes and the admin module's table differ"
    );
    assert_eq!(documented.len(), 25, "{documented:?}");
    // The router serves each: a request with the token never reaches the
    // fallbacks for unknown routes (404 `not_found`) or methods (405).
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "no-such-id")
            .replace("{name}", "no-such-workflow");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, body) = h.call(method.clone(), path, &concrete, None).await;
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert_ne!(body["code"], "not_found", "{method} {path}: {body}");
    }
    // And the fallback does answer a route that is not in the table.
    let response = h
        .http
        .get(h.url("/deployment"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_runs_query_is_documented_as_it_is_read() {
    let h = Harness::new().await;
    let parameters = h.document["paths"]["/api/v1/runs"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let names: BTreeSet<&str> = parameters
        .iter()
        .map(|parameter| {
            assert_eq!(parameter["in"], "query", "{parameter}");
            assert_eq!(parameter["required"], false, "{parameter}");
            parameter["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["workflow", "status", "deployment", "limit", "after"])
    );
    let limit = parameters
        .iter()
        .find(|parameter| parameter["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], server::MAX_PAGE);
    let status = parameters
        .iter()
        .find(|parameter| parameter["name"] == "status")
        .unwrap();
    let schema = if let Some(reference) = status["schema"]["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        h.document["components"]["schemas"][name].clone()
    } else {
        status["schema"].clone()
    };
    let known: Vec<&str> = RunStatus::ALL
        .iter()
        .map(|status| status.as_str())
        .collect();
    assert_eq!(schema["enum"], json!(known));
    // The bounds hold at the server as documented.
    for (query, expected) in [
        ("limit=1", 200),
        ("limit=500", 200),
        ("limit=0", 400),
        ("limit=501", 400),
        ("limit=-1", 400),
        ("limit=99999999999999999999", 400),
        ("status=done", 400),
        ("status=failed", 200),
        ("limit=2&limit=3", 400),
        ("colour=red", 400),
    ] {
        let (status, body) = h
            .call(Method::GET, "/runs", &format!("/runs?{query}"), None)
            .await;
        assert_eq!(status, expected, "{query}: {body}");
    }
}

#[tokio::test]
async fn real_answers_validate_against_their_declared_schemas() {
    let h = Harness::new().await;
    // Deployments: created, the same again, listed, shown, toggled, unknown.
    let files = json!({ "files": [{ "path": "main.flow", "source": h.program() }] });
    let (status, deployed) = h
        .call(
            Method::POST,
            "/deployments",
            "/deployments",
            Some(files.clone()),
        )
        .await;
    assert_eq!(status, 201, "{deployed}");
    let id = deployed["id"].as_str().unwrap().to_string();
    assert_eq!(
        deployed["webhooks"],
        json!([{ "method": "POST", "path": "/hook", "workflow": "hook" }])
    );
    let (status, again) = h
        .call(Method::POST, "/deployments", "/deployments", Some(files))
        .await;
    assert_eq!((status, &again["created"]), (200, &json!(false)));
    let (status, _) = h
        .call(Method::GET, "/deployments", "/deployments", None)
        .await;
    assert_eq!(status, 200);
    let one = format!("/deployments/{id}");
    let (status, _) = h.call(Method::GET, "/deployments/{id}", &one, None).await;
    assert_eq!(status, 200);
    let (status, body) = h
        .call(
            Method::POST,
            "/deployments/{id}/deactivate",
            &format!("{one}/deactivate"),
            None,
        )
        .await;
    assert_eq!((status, &body["active"]), (200, &json!(false)));
    let (status, body) = h
        .call(
            Method::POST,
            "/deployments/{id}/activate",
            &format!("{one}/activate"),
            None,
        )
        .await;
    assert_eq!((status, &body["active"]), (200, &json!(true)));
    let (status, body) = h
        .call(Method::GET, "/deployments/{id}", "/deployments/nope", None)
        .await;
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("deployment_not_found"))
    );

    // Deploy errors: compile errors with the check report, bad IR, bad shapes.
    let broken = json!({ "files": [{ "path": "bad.flow", "source": "workflow w( {" }] });
    let (status, body) = h
        .call(Method::POST, "/deployments", "/deployments", Some(broken))
        .await;
    assert_eq!((status, &body["code"]), (422, &json!("compile_errors")));
    let (status, body) = h
        .call(
            Method::POST,
            "/deployments",
            "/deployments",
            Some(json!({ "ir": { "version": 0 } })),
        )
        .await;
    assert_eq!((status, &body["code"]), (422, &json!("bad_ir")));
    for shape in [
        json!({ "ir": 3 }),
        json!({ "files": [] }),
        json!({ "files": 3 }),
        json!({}),
        json!([1]),
    ] {
        let (status, body) = h
            .call(Method::POST, "/deployments", "/deployments", Some(shape))
            .await;
        assert_eq!((status, &body["code"]), (400, &json!("bad_body")));
    }

    // Workflows: listed with every kind of trigger, shown, started.
    let (status, body) = h.call(Method::GET, "/workflows", "/workflows", None).await;
    assert_eq!(status, 200);
    let triggers: Vec<&Json> = body["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|workflow| &workflow["triggers"][0])
        .collect();
    assert_eq!(
        triggers,
        [
            &json!({ "kind": "manual" }),
            &json!({ "kind": "manual" }),
            &json!({ "kind": "webhook", "method": "POST", "path": "/hook" }),
            &json!({ "kind": "schedule", "cron": "0 9 * * *", "tz": "UTC" }),
        ]
    );
    let (status, body) = h
        .call(Method::GET, "/workflows/{name}", "/workflows/greet", None)
        .await;
    assert_eq!(
        (status, &body["versions"][0]["active"]),
        (200, &json!(true))
    );
    let start = "/workflows/{name}/runs";
    let (status, started) = h
        .call(
            Method::POST,
            start,
            "/workflows/greet/runs",
            Some(json!({ "name": "Ada" })),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let run = started["run_id"].as_str().unwrap().to_string();
    let (status, body) = h
        .call(
            Method::POST,
            start,
            "/workflows/greet/runs",
            Some(json!({ "name": 1 })),
        )
        .await;
    assert_eq!((status, &body["code"]), (422, &json!("input_mismatch")));
    let (status, body) = h
        .call(
            Method::POST,
            start,
            "/workflows/hook/runs",
            Some(json!({ "id": "x" })),
        )
        .await;
    assert_eq!((status, &body["code"]), (409, &json!("not_manual")));
    let request = h
        .http
        .post(h.url("/workflows/greet/runs"))
        .bearer_auth(TOKEN)
        .body("{\"name\": ");
    let (status, body) = h.check(Method::POST, start, request).await;
    assert_eq!((status, &body["code"]), (400, &json!("malformed_json")));
    let big = "x".repeat(server::DEFAULT_BODY_LIMIT + 1);
    let (status, body) = h
        .call(
            Method::POST,
            start,
            "/workflows/greet/runs",
            Some(json!({ "name": big })),
        )
        .await;
    assert_eq!((status, &body["code"]), (413, &json!("payload_too_large")));

    // Runs: shown with steps once ended, listed, replayed, cancelled after the end.
    let detail = h.ended(&run).await;
    assert_eq!(detail["run"]["status"], "succeeded", "{detail}");
    assert!(detail["steps"].as_array().unwrap().len() >= 2, "{detail}");
    let (status, body) = h.call(Method::GET, "/runs", "/runs?limit=1", None).await;
    assert_eq!(status, 200);
    assert!(body["next"].is_string() || body["next"].is_null(), "{body}");
    let (status, body) = h
        .call(
            Method::POST,
            "/runs/{id}/replay",
            &format!("/runs/{run}/replay"),
            Some(json!({ "input": { "name": "Grace" } })),
        )
        .await;
    assert_eq!((status, &body["replay_of"]), (201, &json!(run)));
    // `null` is a body the document allows: the input as it was.
    let (status, body) = h
        .call(
            Method::POST,
            "/runs/{id}/replay",
            &format!("/runs/{run}/replay"),
            Some(Json::Null),
        )
        .await;
    assert_eq!((status, &body["replay_of"]), (201, &json!(run)));
    let (status, body) = h
        .call(
            Method::POST,
            "/runs/{id}/replay",
            &format!("/runs/{run}/replay"),
            Some(json!({ "input": { "name": false } })),
        )
        .await;
    assert_eq!((status, &body["code"]), (422, &json!("input_mismatch")));
    let (status, body) = h
        .call(
            Method::POST,
            "/runs/{id}/cancel",
            &format!("/runs/{run}/cancel"),
            None,
        )
        .await;
    assert_eq!((status, &body["code"]), (409, &json!("run_finished")));
    let (status, body) = h
        .call(
            Method::POST,
            "/runs/{id}/retry",
            &format!("/runs/{run}/retry"),
            None,
        )
        .await;
    assert_eq!((status, &body["code"]), (409, &json!("run_not_failed")));

    // A failed run: its error validates, and it can be retried.
    let (_, started) = h
        .call(
            Method::POST,
            start,
            "/workflows/failing/runs",
            Some(json!({ "n": 1 })),
        )
        .await;
    let failed = started["run_id"].as_str().unwrap().to_string();
    let detail = h.ended(&failed).await;
    assert_eq!(detail["run"]["status"], "failed", "{detail}");
    let (status, body) = h
        .call(
            Method::POST,
            "/runs/{id}/retry",
            &format!("/runs/{failed}/retry"),
            None,
        )
        .await;
    assert_eq!((status, &body["run_id"]), (202, &json!(failed)));
    h.ended(&failed).await;

    // A pending run cancelled: the answer names the state.
    let (_, started) = h
        .call(
            Method::POST,
            start,
            "/workflows/greet/runs",
            Some(json!({ "name": "Lin" })),
        )
        .await;
    let other = started["run_id"].as_str().unwrap().to_string();
    let (status, body) = h
        .call(
            Method::POST,
            "/runs/{id}/cancel",
            &format!("/runs/{other}/cancel"),
            None,
        )
        .await;
    // The run may have ended first; either answer is declared.
    assert!(
        (status == 200 && body["status"] == "cancelled")
            || (status == 409 && body["code"] == "run_finished"),
        "{status} {body}"
    );

    // Path parameters that do not decode are the API's 400, not axum's text.
    let (status, body) = h
        .call(Method::GET, "/runs/{id}", "/runs/%FF%FE", None)
        .await;
    assert_eq!((status, &body["code"]), (400, &json!("bad_path")));

    // 401 everywhere declares and matches the error schema.
    let request = h.http.get(h.url("/workflows"));
    let (status, body) = h.check(Method::GET, "/workflows", request).await;
    assert_eq!((status, &body["code"]), (401, &json!("unauthorized")));
}

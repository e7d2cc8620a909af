//! One server stack for the runtime's end-to-end tests: a temp-file SQLite store on
//! a test clock (sequential ids unless told otherwise), a vault holding the test's
//! secrets, an optional compiled program deployed, an outbound client, the engine,
//! and the server bound on a free loopback port, running until the harness drops.
//! Each test file wraps it with its own helpers; the ones several files need (a
//! strict JSON `send` and admin API requests, starting runs, polling the store
//! until a run or a workflow's runs get somewhere, the problem body's shape)
//! live here.

use super::{JumpingClock, compile, new_run};
use flowc_runtime::clock::Clock;
use flowc_runtime::engine::{Engine, SecretSource};
use flowc_runtime::outbound::{Builder as ClientBuilder, Client};
use flowc_runtime::server::{self, Handle};
use flowc_runtime::store::sqlite::{Durability, Options as StoreOptions, SqliteStore};
use flowc_runtime::store::{
    Page, Run, RunDetail, RunFilter, RunStatus, SequentialIds, Store, WaitStatus,
};
use flowc_runtime::vault::{MasterKey, SecretString, Vault};
use reqwest::Method;
use serde_json::Value as Json;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The longest any poll waits for the server (wall time: it only bounds the
/// loop, nothing asserts on it).
pub const POLL: Duration = Duration::from_secs(60);

/// The running stack. The server stops when this drops.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub engine: Arc<Engine>,
    pub handle: Handle,
    pub http: reqwest::Client,
    /// The admin token the server was given, which [`Harness::api`] sends.
    admin_token: Option<String>,
    _stop: oneshot::Sender<()>,
    /// The server's task, awaited by [`Harness::shut_down`].
    task: Option<tokio::task::JoinHandle<Result<(), server::Error>>>,
}

type ClientTweak = Box<dyn FnOnce(ClientBuilder) -> ClientBuilder>;
type OptionsTweak = Box<dyn FnOnce(&mut server::Options)>;

/// What to build; every setting has the default most tests want.
pub struct HarnessBuilder {
    clock: Arc<dyn Clock>,
    sequential_ids: bool,
    durability: Option<Durability>,
    secrets: Vec<(String, String)>,
    program: Option<String>,
    client: Option<ClientTweak>,
    admin_token: Option<String>,
    options: Option<OptionsTweak>,
    /// The directory of a stopped harness whose database is reopened.
    reuse: Option<tempfile::TempDir>,
}

impl Harness {
    /// A jumping clock at 1_700_000_000_000 ms, sequential ids, no secrets, no
    /// program, no admin token.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            clock: Arc::new(JumpingClock::new(1_700_000_000_000)),
            sequential_ids: true,
            durability: None,
            secrets: Vec::new(),
            program: None,
            client: None,
            admin_token: None,
            options: None,
            reuse: None,
        }
    }

    /// Stops the server (its dispatcher included) and waits until it has
    /// stopped; the directory of its database, for a harness built with
    /// [`HarnessBuilder::reuse`] (a restart). Runs this harness's engine is
    /// still interpreting are not stopped: restart when they are parked.
    pub async fn shut_down(self) -> tempfile::TempDir {
        let Harness {
            dir,
            _stop: stop,
            task,
            ..
        } = self;
        drop(stop);
        if let Some(task) = task {
            task.await.unwrap().unwrap();
        }
        dir
    }

    /// `http://127.0.0.1:PORT/path` on the server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle.local_addr())
    }

    /// Posts `body` as `application/json` to `path`.
    pub async fn post_json(
        &self,
        path: &str,
        body: &str,
    ) -> (u16, reqwest::header::HeaderMap, Json) {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// Sends the request; its status, headers and body, which must be JSON.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (u16, reqwest::header::HeaderMap, Json) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&body)));
        (status, headers, json)
    }

    /// `METHOD /api/v1{path}` with the admin token (if the server has one) and
    /// `body` as JSON: the status and the JSON answer.
    pub async fn api(&self, method: Method, path: &str, body: Option<Json>) -> (u16, Json) {
        let mut request = self
            .http
            .request(method, self.url(&format!("/api/v1{path}")));
        if let Some(token) = &self.admin_token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, _, body) = self.send(request).await;
        (status, body)
    }

    /// Starts a run of an `on manual` workflow through the admin API
    /// (`POST /workflows/{workflow}/runs`, which must answer 201); its id.
    pub async fn api_start(&self, workflow: &str, input: Json) -> String {
        let (status, body) = self
            .api(
                Method::POST,
                &format!("/workflows/{workflow}/runs"),
                Some(input),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["run_id"].as_str().unwrap().to_string()
    }

    /// Stores a run of `workflow` in the active deployment without handing it
    /// to the dispatcher (as a crash would leave it); its id.
    pub async fn store_run(&self, workflow: &str, input: Json) -> String {
        let deployment = self.store.active_deployments().await.unwrap()[0].id.clone();
        let started = self
            .store
            .start_run(new_run(&deployment, workflow, input))
            .await
            .unwrap();
        started.run
    }

    /// Stores a run of `workflow` in the active deployment and hands it to the
    /// dispatcher; its id.
    pub async fn start_run(&self, workflow: &str, input: Json) -> String {
        let run = self.store_run(workflow, input).await;
        self.handle.dispatcher().start(run.clone());
        run
    }

    /// How many runs the store holds.
    pub async fn run_count(&self) -> usize {
        self.store
            .list_runs(RunFilter::default(), Page::default())
            .await
            .unwrap()
            .runs
            .len()
    }

    /// The run with its journal and waits, as the store holds it now.
    pub async fn detail(&self, run: &str) -> RunDetail {
        self.store.get_run(run).await.unwrap().unwrap()
    }

    /// Polls the run in the store until `done` holds for it.
    pub async fn until(&self, run: &str, done: impl Fn(&RunDetail) -> bool) -> RunDetail {
        poll(
            &format!("run {run} gets where the test waits for it"),
            || self.detail(run),
            done,
        )
        .await
    }

    /// Polls the run in the store until it has status `want`.
    pub async fn until_status(&self, run: &str, want: RunStatus) -> RunDetail {
        poll(
            &format!("run {run} is {want:?}"),
            || self.detail(run),
            |detail| detail.run.status == want,
        )
        .await
    }

    /// Polls the run in the store until it ends.
    pub async fn finished(&self, run: &str) -> RunDetail {
        poll(
            &format!("run {run} ends"),
            || self.detail(run),
            |detail| detail.run.status.is_terminal(),
        )
        .await
    }

    /// Polls the run in the store until it is parked on an open wait at `path`;
    /// fails at once if it ends instead.
    pub async fn parked_at(&self, run: &str, path: &str) -> RunDetail {
        let parked = |detail: &RunDetail| {
            detail.run.status == RunStatus::Waiting
                && detail
                    .waits
                    .iter()
                    .any(|wait| wait.path == path && wait.status == WaitStatus::Open)
        };
        let detail = poll(
            &format!("run {run} waits at `{path}`"),
            || self.detail(run),
            |detail| parked(detail) || detail.run.status.is_terminal(),
        )
        .await;
        assert!(
            parked(&detail),
            "run {run} ended before it waited at `{path}`: {detail:#?}"
        );
        detail
    }

    /// Every run of `workflow` (with `status`, if given), oldest first.
    pub async fn runs_of(&self, workflow: &str, status: Option<RunStatus>) -> Vec<Run> {
        let mut runs = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_runs(
                    RunFilter {
                        workflow: Some(workflow.into()),
                        status,
                        deployment: None,
                    },
                    Page { limit: 100, after },
                )
                .await
                .unwrap();
            runs.extend(page.runs);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        runs.reverse();
        runs
    }

    /// Polls until `done` holds for the runs of `workflow` (with `status`, if
    /// given), oldest first; those runs.
    pub async fn runs_until(
        &self,
        workflow: &str,
        status: Option<RunStatus>,
        done: impl Fn(&[Run]) -> bool,
    ) -> Vec<Run> {
        poll(
            &format!("the runs of {workflow} get where the test waits for them"),
            || self.runs_of(workflow, status),
            |runs| done(runs),
        )
        .await
    }

    /// Polls until the dispatcher has delivered every stored event.
    pub async fn delivered(&self) {
        poll(
            "every stored event is delivered",
            || async { self.store.undelivered_events(10).await.unwrap() },
            Vec::is_empty,
        )
        .await;
    }
}

/// Calls `read` until `done` holds for what it gives, and returns that; fails
/// naming `what` and showing the last reading when that takes longer than
/// [`POLL`].
#[allow(
    clippy::disallowed_methods,
    reason = "the wall-clock deadline only bounds the polling loop"
)]
pub async fn poll<T, F, Fut>(what: &str, mut read: F, done: impl Fn(&T) -> bool) -> T
where
    T: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = Instant::now() + POLL;
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "never: {what}; last seen: {value:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `check` until it holds; fails naming `what` when that takes longer
/// than [`POLL`].
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll(what, check, |holds| *holds).await;
}

impl HarnessBuilder {
    /// The runtime's clock (store, client, engine and server share it).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> HarnessBuilder {
        self.clock = clock;
        self
    }

    /// The store's default (random) ids instead of sequential ones.
    pub fn random_ids(mut self) -> HarnessBuilder {
        self.sequential_ids = false;
        self
    }

    pub fn durability(mut self, durability: Durability) -> HarnessBuilder {
        self.durability = Some(durability);
        self
    }

    /// Stores a secret in the vault before the program is deployed.
    pub fn secret(mut self, name: &str, value: &str) -> HarnessBuilder {
        self.secrets.push((name.into(), value.into()));
        self
    }

    /// Source compiled (with no errors) and deployed before the server binds.
    pub fn program(mut self, source: &str) -> HarnessBuilder {
        self.program = Some(source.into());
        self
    }

    /// Changes the outbound client before it is built.
    pub fn client(
        mut self,
        tweak: impl FnOnce(ClientBuilder) -> ClientBuilder + 'static,
    ) -> HarnessBuilder {
        self.client = Some(Box::new(tweak));
        self
    }

    pub fn admin_token(mut self, token: Option<&str>) -> HarnessBuilder {
        self.admin_token = token.map(str::to_string);
        self
    }

    /// Changes the server's options (after the address and admin token are set).
    pub fn options(mut self, tweak: impl FnOnce(&mut server::Options) + 'static) -> HarnessBuilder {
        self.options = Some(Box::new(tweak));
        self
    }

    /// Opens the database in `dir` (a stopped harness's, from
    /// [`Harness::shut_down`]) instead of a new one: a restart. Use
    /// [`HarnessBuilder::random_ids`] with it (sequential ids would start again
    /// at 1), and no [`HarnessBuilder::program`] unless a new deployment is meant.
    pub fn reuse(mut self, dir: tempfile::TempDir) -> HarnessBuilder {
        self.reuse = Some(dir);
        self
    }

    pub async fn build(self) -> Harness {
        let dir = match self.reuse {
            Some(dir) => dir,
            None => tempfile::tempdir().unwrap(),
        };
        let clock = self.clock;
        let mut options = StoreOptions::new(dir.path().join("flowc.db"));
        options.clock = Arc::clone(&clock);
        if self.sequential_ids {
            options.ids = Arc::new(SequentialIds::new());
        }
        if let Some(durability) = self.durability {
            options.durability = durability;
        }
        let store = Arc::new(options.open().unwrap());
        let dyn_store: Arc<dyn Store> = store.clone();

        let vault = Vault::new(&MasterKey::generate().unwrap(), Arc::clone(&dyn_store));
        for (name, value) in &self.secrets {
            vault.set(name, &SecretString::new(value)).await.unwrap();
        }
        let secrets: Arc<dyn SecretSource> = Arc::new(vault);

        if let Some(source) = &self.program {
            server::deploy(dyn_store.as_ref(), &compile(source))
                .await
                .unwrap();
        }

        let mut client = Client::builder(Arc::clone(&clock));
        if let Some(tweak) = self.client {
            client = tweak(client);
        }
        let engine = Arc::new(Engine::new(
            Arc::clone(&dyn_store),
            Arc::new(client.build().unwrap()),
            Arc::clone(&secrets),
            Arc::clone(&clock),
        ));
        let mut options =
            server::Options::new(Arc::clone(&dyn_store), Arc::clone(&engine), secrets, clock);
        options.addr = "127.0.0.1:0".parse().unwrap();
        options.admin_token = self.admin_token.as_deref().map(SecretString::new);
        if let Some(tweak) = self.options {
            tweak(&mut options);
        }
        let server = options.bind().await.unwrap();
        let handle = server.handle();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Harness {
            dir,
            store,
            engine,
            handle,
            http: reqwest::Client::new(),
            admin_token: self.admin_token,
            _stop: stop,
            task: Some(task),
        }
    }
}

/// The error body every refusal has: `{code, message, details}`.
pub fn assert_problem(body: &Json, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body["details"].is_object(), "{body}");
}

/// `impl Deref<Target = Harness>` for a test file's own harness that keeps the
/// stack in a field named `stack`, so its tests reach the stack's fields and
/// helpers directly (`h.store`, `h.url(..)`).
#[allow(unused_macros, reason = "only the files with their own harness use it")]
macro_rules! deref_to_stack {
    ($harness:ty) => {
        impl std::ops::Deref for $harness {
            type Target = $crate::common::harness::Harness;

            fn deref(&self) -> &Self::Target {
                &self.stack
            }
        }
    };
}
#[allow(
    unused_imports,
    reason = "only the files with their own harness use it"
)]
pub(crate) use deref_to_stack;

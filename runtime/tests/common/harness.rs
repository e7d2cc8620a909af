//! One server stack for the runtime's end-to-end tests: a temp-file SQLite store on
//! a test clock (sequential ids unless told otherwise), a vault holding the test's
//! secrets, an optional compiled program deployed, an outbound client, the engine,
//! and the server bound on a free loopback port, running until the harness drops.
//! Each test file wraps it with its own helpers; the ones every file needs (a
//! strict JSON `send`, counting runs, polling a run until it ends, the problem
//! body's shape) live here.

use super::{JumpingClock, compile};
use flowc_runtime::clock::Clock;
use flowc_runtime::engine::{Engine, SecretSource};
use flowc_runtime::outbound::{Builder as ClientBuilder, Client};
use flowc_runtime::server::{self, Handle};
use flowc_runtime::store::sqlite::{Durability, Options as StoreOptions, SqliteStore};
use flowc_runtime::store::{Page, RunDetail, RunFilter, SequentialIds, Store};
use flowc_runtime::vault::{MasterKey, SecretString, Vault};
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The running stack. The server stops when this drops.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub engine: Arc<Engine>,
    pub handle: Handle,
    pub http: reqwest::Client,
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

    /// How many runs the store holds.
    pub async fn run_count(&self) -> usize {
        self.store
            .list_runs(RunFilter::default(), Page::default())
            .await
            .unwrap()
            .runs
            .len()
    }

    /// Polls the run in the store until it ends (at most 20 s, then fails). The
    /// wall-clock deadline only bounds the loop; nothing asserts on time.
    #[allow(
        clippy::disallowed_methods,
        reason = "the wall-clock deadline only bounds the polling loop"
    )]
    pub async fn finished(&self, run: &str) -> RunDetail {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let detail = self.store.get_run(run).await.unwrap().unwrap();
            if detail.run.status.is_terminal() {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "run {run} did not end: {detail:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
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

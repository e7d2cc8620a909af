//! `flowc serve`: deploy the programs named on the command line and serve their
//! webhooks and the admin API until Ctrl-C.
//!
//! The files are compiled as `flowc check` compiles them (errors are printed the
//! same way and end the command with status 1 before anything is stored), then
//! deployed and activated in the SQLite store (`./flowc.db` unless `--db`). Secrets
//! the program mentions that the vault lacks are listed as a warning: serving from
//! source is how a program is tried, so it is deployed anyway (`flowc deploy` and
//! the admin API refuse instead). Next to the database live the vault's key file
//! (`flowc.key`, unless `FLOWC_MASTER_KEY`) and the admin token
//! (`flowc.admin-token`, unless `FLOWC_ADMIN_TOKEN`), both created with mode 0600 at
//! the first start; `--no-admin-token` serves the admin API without one, for
//! local tools, and is refused (exit 2) unless `--addr` is a loopback address.
//! `GET /metrics` is behind the same token; `--metrics-addr` serves it on a second
//! address without one, refused (exit 2) off loopback unless `--metrics-public`.
//! Handle URLs (`callback(…)`, `approval(…)`) start with `--public-url`, by
//! default `http://` and the address listened on, which is why the address is
//! bound before the engine is built.
//! The command prints where it listens, each webhook's URL and
//! where the admin token is (never the token), resumes the runs a previous process
//! left unfinished, and on Ctrl-C (or SIGTERM) stops accepting requests, answers
//! those in flight and exits; runs still executing resume at the next start.
//!
//! Logs are `tracing` events on stderr, as text or JSON lines (`--log-format`),
//! filtered by `FLOWC_LOG`, each scrubbed of every secret the runtime knows (the
//! vault's values, the admin token, issued OAuth 2 tokens) by the [`Redactor`] the
//! engine journals through.
//!
//! Outbound calls pass the egress guard ([`PrivateNetworkGuard`]): public
//! addresses only, plus what `--allow-egress` opens and the server's own bound
//! address (so a workflow can call another workflow of the same server, as the
//! quickstart does). `--allow-private-network` turns the guard off, and the
//! startup output says so on stderr. [`EgressArgs`] is shared with `flowc run`.
//!
//! `--jit auto|always|off` and `--jit-threshold N` ([`JitArgs`], shared with
//! `flowc run`) say when the engine compiles a deployment's expressions to
//! native code; results are the same in every mode, only the speed differs.

use super::{Exit, error, loader, note};
use anyhow::Context as _;
use flowc_runtime::clock::{Clock, SystemClock};
use flowc_runtime::engine::{self, Engine, SecretSource};
use flowc_runtime::jit;
use flowc_runtime::outbound::{Allow, AllowAll, Client, Egress, PrivateNetworkGuard};
use flowc_runtime::server::{self, DeployError, token};
use flowc_runtime::store::Store;
use flowc_runtime::store::sqlite;
use flowc_runtime::vault::{Redactor, Vault};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub const AFTER_HELP: &str = "\
Examples:
  flowc serve examples/                     deploy every example, serve on 127.0.0.1:8080
  flowc serve app.flow --addr 0.0.0.0:9000  listen on every interface, port 9000
  flowc serve --db /var/lib/flowc/flowc.db  serve what that database has active
  flowc serve app.flow --log-format json    JSON log lines with run_id and step fields
  flowc serve app.flow --no-admin-token     the admin API without a token (loopback only)
  flowc serve app.flow --addr 0.0.0.0:8080 --public-url https://flows.example.com
                                            callback and approval URLs on that host
  flowc serve app.flow --metrics-addr 127.0.0.1:9464
                                            Prometheus metrics there, without a token
  flowc serve app.flow --allow-egress 10.20.0.0/16 --allow-egress '*.corp.example'
                                            steps may also call that network and those hosts
  flowc serve app.flow --jit off            interpret every expression (no native code)

Besides the webhooks, the server answers the admin API under /api/v1 (deploy,
workflows, runs: start, list, show, retry, replay, cancel, approve, reject),
behind the bearer token whose file it prints; `flowc deploy`, `flowc runs` and
`flowc approve` use it. The URLs of callbacks and approvals
(/callbacks/TOKEN, /approvals/TOKEN, with a review page) need no admin token:
the token in the URL is the credential; they start with --public-url. GET /metrics
answers Prometheus metrics behind the same token; --metrics-addr serves them on
a second address without one (loopback only, unless --metrics-public).

Outbound calls (HTTP steps, OAuth 2 token endpoints) go to public addresses
only: loopback, private networks (RFC 1918, 100.64.0.0/10, fc00::/7),
link-local (169.254.0.0/16, where cloud metadata answers; fe80::/10),
0.0.0.0/8, multicast, broadcast, documentation, benchmarking and reserved
ranges are refused with R0111, and so are IPv6 forms that embed such an IPv4
address (::ffff:127.0.0.1, 64:ff9b::a9fe:a9fe). The decision is taken on the
resolved address, which is the one connected to; redirects are not followed;
only http and https URLs are called. The server's own address stays open
(exactly its IP and port). --allow-egress opens more, --allow-private-network
opens everything.

Exit status: 0 stopped by Ctrl-C, 1 the sources have errors (nothing is deployed),
2 bad arguments, a path that cannot be read, a webhook path already claimed by
another active deployment, or a database, key or address that cannot be used.";

#[derive(clap::Args)]
pub struct Args {
    /// .flow files or directories to deploy; without any, serve what the database
    /// already has active.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// The SQLite database (created when missing).
    #[arg(long, value_name = "FILE", default_value = "flowc.db")]
    db: PathBuf,

    /// Where to listen; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// `full` fsyncs every commit (survives power loss); `normal` syncs at
    /// checkpoints only: it survives a crash of flowc, not of the machine.
    #[arg(long, value_enum, default_value_t = Durability::Full)]
    durability: Durability,

    /// How log lines are written to stderr: `human` or `json` (one object per
    /// line, with `run_id` and `step` fields). `FLOWC_LOG` filters them
    /// (`info` by default; e.g. `FLOWC_LOG=debug` or `flowc_runtime=debug`).
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,

    /// Serve the admin API without a token, for local tools; refused unless
    /// --addr is a loopback address.
    #[arg(long)]
    no_admin_token: bool,

    /// Also serve the metrics (`GET /metrics`, Prometheus text) on this
    /// address, without a token; refused unless it is loopback or
    /// --metrics-public is given.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<SocketAddr>,

    /// Let --metrics-addr listen on an address that is not loopback.
    #[arg(long, requires = "metrics_addr")]
    metrics_public: bool,

    /// How many days the webhook delivery history is kept (`flowc webhooks
    /// deliveries`), and with it the provider delivery ids that map a
    /// redelivery to the run the first delivery started.
    #[arg(long, value_name = "DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    delivery_retention: u32,

    /// The server's base URL as callers reach it, which the URLs of
    /// `callback(…)` and `approval(…)` handles start with
    /// (`URL/callbacks/TOKEN`, `URL/approvals/TOKEN`) [default: http:// and the
    /// address listened on]. Set it when the server is behind a proxy or a load
    /// balancer, or listens on 0.0.0.0.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,

    #[command(flatten)]
    egress: EgressArgs,

    #[command(flatten)]
    jit: JitArgs,
}

/// The JIT flags of `flowc serve` and `flowc run`.
#[derive(clap::Args)]
pub struct JitArgs {
    /// When expressions are compiled to native code: `auto` once one has been
    /// evaluated --jit-threshold times (compiled in the background while the
    /// interpreter goes on answering), `always` before its first evaluation,
    /// `off` never. Results and errors are the same in every mode.
    #[arg(long, value_name = "auto|always|off", default_value_t = jit::Mode::Auto)]
    jit: jit::Mode,

    /// How many evaluations of an expression `--jit auto` waits for before
    /// compiling it.
    #[arg(long, value_name = "N", default_value_t = jit::Options::DEFAULT_THRESHOLD,
          value_parser = clap::value_parser!(u64).range(1..))]
    jit_threshold: u64,
}

impl JitArgs {
    /// The engine's JIT options.
    pub fn options(&self) -> jit::Options {
        jit::Options {
            mode: self.jit,
            threshold: self.jit_threshold,
        }
    }
}

/// The egress flags of `flowc serve` and `flowc run`.
#[derive(clap::Args)]
pub struct EgressArgs {
    /// Turn the egress guard off: steps may call loopback, private networks and
    /// link-local addresses (cloud metadata at 169.254.169.254) too.
    #[arg(long)]
    allow_private_network: bool,

    /// Open one destination the egress guard refuses (repeatable): a CIDR
    /// (10.20.0.0/16), an address (10.0.0.7), an address and port
    /// (127.0.0.1:9000, for URLs that name the address), a host name
    /// (vault.internal) or every name under a domain (*.corp.example).
    #[arg(long, value_name = "CIDR|HOST")]
    allow_egress: Vec<Allow>,
}

impl EgressArgs {
    /// The guard these flags ask for, beginning with `defaults`; `None` when
    /// `--allow-private-network` turns it off.
    pub fn guard(
        &self,
        defaults: impl IntoIterator<Item = Allow>,
    ) -> Option<Arc<PrivateNetworkGuard>> {
        if self.allow_private_network {
            return None;
        }
        let guard = PrivateNetworkGuard::new(defaults);
        for entry in &self.allow_egress {
            guard.allow(entry.clone());
        }
        Some(Arc::new(guard))
    }

    /// What the client is given: the guard, or everything open.
    pub fn egress(guard: Option<&Arc<PrivateNetworkGuard>>) -> Arc<dyn Egress> {
        match guard {
            Some(guard) => Arc::clone(guard) as Arc<dyn Egress>,
            None => Arc::new(AllowAll),
        }
    }

    /// Warns on stderr, where it cannot be missed in a log, that the guard is off.
    pub fn warn_off() {
        super::labelled(
            super::WARNING,
            "warning",
            "the egress guard is off (--allow-private-network): steps may call \
             loopback, private networks and cloud metadata (169.254.169.254)",
        );
    }

    /// Says what outbound calls may reach: one line on stdout with the guard on,
    /// a warning with it off.
    fn announce(guard: Option<&Arc<PrivateNetworkGuard>>, own: &[Allow]) {
        let Some(guard) = guard else {
            EgressArgs::warn_off();
            return;
        };
        let mut open = vec!["public addresses".to_string()];
        for entry in guard.allowed() {
            if own.contains(&entry) {
                open.push(format!("this server ({entry})"));
            } else {
                open.push(entry.to_string());
            }
        }
        println!("outbound calls may reach: {}", open.join(", "));
    }
}

/// `--durability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Durability {
    Full,
    Normal,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Sends the runtime's `tracing` events to stderr in the chosen format.
fn init_logs(format: LogFormat, redactor: Redactor) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("FLOWC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || flowc_runtime::logging::Writer::new(&redactor, std::io::stderr()));
    // A second initialisation (only possible in tests) keeps the first.
    let _ = match format {
        LogFormat::Human => builder
            .with_ansi(
                anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never,
            )
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    if args.no_admin_token && !server::is_loopback(args.addr.ip()) {
        error(format_args!(
            "--no-admin-token opens the admin API to anyone who can reach {}; use a \
             loopback --addr (127.0.0.1) or keep the token",
            args.addr
        ));
        return Ok(Exit::Failure);
    }
    if let Some(addr) = args.metrics_addr
        && !args.metrics_public
        && !server::is_loopback(addr.ip())
    {
        error(server::Error::PublicMetrics { addr });
        return Ok(Exit::Failure);
    }
    let public_url = match args.public_url.as_deref().map(public_url).transpose() {
        Ok(url) => url,
        Err(message) => {
            error(message);
            super::help("write it as `https://flows.example.com` (a path prefix is allowed)");
            return Ok(Exit::Failure);
        }
    };
    let redactor = Redactor::new();
    init_logs(args.log_format, redactor.clone());
    let program = if args.paths.is_empty() {
        None
    } else {
        match loader::compile(&args.paths, "deployed") {
            Ok(analysis) => Some(analysis.program),
            Err(exit) => return Ok(exit),
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, program, redactor, public_url))
}

/// `--public-url`, checked: an http or https URL with a host and neither query
/// nor fragment, without its trailing `/`.
fn public_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(format!("invalid --public-url `{text}`")),
    }
}

async fn serve(
    args: &Args,
    program: Option<flowc_compiler::ir::Program>,
    redactor: Redactor,
    public_url: Option<String>,
) -> anyhow::Result<Exit> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut options = sqlite::Options::new(&args.db);
    options.durability = match args.durability {
        Durability::Full => sqlite::Durability::Full,
        Durability::Normal => sqlite::Durability::Normal,
    };
    let store = match options.open() {
        Ok(store) => store,
        Err(err) => {
            error(format_args!("cannot open {}: {err}", args.db.display()));
            return Ok(Exit::Failure);
        }
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let Some(master) = super::local::master_key(&args.db) else {
        return Ok(Exit::Failure);
    };
    let vault = Vault::new(&master, Arc::clone(&store));
    // Secrets set later are learned when a step first sends them.
    if let Err(err) = redactor.load(&vault).await {
        super::labelled(
            super::WARNING,
            "warning",
            format_args!("cannot read the vault's values to scrub them from logs: {err}"),
        );
    }
    let secrets: Arc<dyn SecretSource> = Arc::new(vault);

    if let Some(program) = program {
        match server::deploy(store.as_ref(), &program).await {
            Ok(deployed) => println!(
                "deployed version {} (hash sha256:{})",
                deployed.version,
                program.hash()
            ),
            Err(err @ DeployError::Conflict { .. }) => {
                error(err);
                return Ok(Exit::Failure);
            }
            Err(DeployError::Store(err)) => {
                error(format_args!("cannot deploy: {err}"));
                return Ok(Exit::Failure);
            }
        }
        warn_missing_secrets(&program, secrets.as_ref()).await;
    }

    let admin_token = if args.no_admin_token {
        println!("admin token: none (--no-admin-token: the admin API is open on loopback)");
        None
    } else {
        match token::admin_token(&super::local::beside(&args.db, "admin-token")) {
            Ok((token, token::Origin::Environment)) => {
                println!("admin token: from {}", token::ENV_VAR);
                Some(token)
            }
            Ok((token, token::Origin::File { path, created })) => {
                let made = if created { " (created)" } else { "" };
                println!("admin token: in {}{made}", path.display());
                Some(token)
            }
            Err(err) => {
                error(err);
                return Ok(Exit::Failure);
            }
        }
    };

    let guard = args.egress.guard([]);
    if let Some(token) = &admin_token {
        redactor.learn(token);
    }
    let client = Client::builder(Arc::clone(&clock))
        .egress(EgressArgs::egress(guard.as_ref()))
        .redactor(redactor)
        .build()
        .context("cannot build the HTTP client")?;
    // Bound here, before the engine exists, so that handle URLs can default to
    // the address actually listened on (port 0 picks one).
    let listener = match std::net::TcpListener::bind(args.addr) {
        Ok(listener) => listener,
        Err(source) => {
            error(server::Error::Bind {
                addr: args.addr,
                source,
            });
            return Ok(Exit::Failure);
        }
    };
    let addr = listener
        .local_addr()
        .context("cannot read the address listened on")?;
    let public_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
    let engine = Engine::new(
        Arc::clone(&store),
        Arc::new(client),
        Arc::clone(&secrets),
        Arc::clone(&clock),
    )
    .with_public_url(public_url.as_str())
    .with_jit(args.jit.options());
    let mut options = server::Options::new(store, Arc::new(engine), secrets, clock);
    options.addr = addr;
    options.listener = Some(listener);
    options.admin_open = admin_token.is_none();
    options.admin_token = admin_token;
    options.metrics_addr = args.metrics_addr;
    options.metrics_public = args.metrics_public;
    options.delivery_retention =
        std::time::Duration::from_secs(u64::from(args.delivery_retention) * 86_400);
    let server = match options.bind().await {
        Ok(server) => server,
        Err(err) => {
            error(err);
            return Ok(Exit::Failure);
        }
    };
    let handle = server.handle();
    // Opened before `run` resumes unfinished runs, which may call this server.
    let own = Allow::own_address(handle.local_addr());
    if let Some(guard) = &guard {
        for entry in &own {
            guard.allow(entry.clone());
        }
    }
    let base = format!("http://{}", handle.local_addr());
    println!("listening on {base}");
    println!("callback and approval URLs start with {public_url}");
    if let Some(addr) = handle.metrics_addr() {
        println!("metrics on http://{addr}/metrics (no token)");
    }
    EgressArgs::announce(guard.as_ref(), &own);
    let webhooks = handle.webhooks();
    if webhooks.is_empty() {
        note("no active workflow has an `on webhook` trigger");
    }
    let width = webhooks
        .iter()
        .map(|route| base.len() + route.path.len())
        .max()
        .unwrap_or(0);
    for route in webhooks {
        let url = format!("{base}{}", route.path);
        println!("  {:<6} {url:<width$}  → {}", route.method, route.workflow);
    }
    server.run(shutdown_signal()).await?;
    println!("stopped");
    Ok(Exit::Success)
}

/// Lists the secrets the deployed program mentions that the vault lacks.
///
/// `flowc serve PATH` is how a program is tried on a workstation, so it deploys
/// anyway (unlike `flowc deploy` and the admin API, which refuse): the webhooks that
/// verify with a missing secret answer 500 `verification_unavailable` and the steps
/// that use one fail, each naming the secret, until `flowc secrets set NAME`.
async fn warn_missing_secrets(program: &flowc_compiler::ir::Program, secrets: &dyn SecretSource) {
    let missing = match engine::missing_secrets(program, secrets).await {
        Ok(missing) => missing,
        Err(err) => {
            error(format_args!("cannot read the vault: {err}"));
            return;
        }
    };
    if missing.is_empty() {
        return;
    }
    let noun = if missing.len() == 1 {
        "secret is"
    } else {
        "secrets are"
    };
    super::labelled(
        super::WARNING,
        "warning",
        format_args!(
            "{} {noun} not in the vault; what uses them fails until they are set with \
             `flowc secrets set NAME`:",
            missing.len()
        ),
    );
    for secret in missing {
        if secret.workflows.is_empty() {
            eprintln!("  {}", secret.name);
        } else {
            eprintln!(
                "  {:<28} used by {}",
                secret.name,
                secret.workflows.join(", ")
            );
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    () = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => interrupt.await,
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

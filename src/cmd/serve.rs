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
//! The command prints where it listens, each webhook's URL and
//! where the admin token is (never the token), resumes the runs a previous process
//! left unfinished, and on Ctrl-C (or SIGTERM) stops accepting requests, answers
//! those in flight and exits; runs still executing resume at the next start.
//!
//! Logs are `tracing` events on stderr, as text or JSON lines (`--log-format`),
//! filtered by `FLOWC_LOG`.

use super::{Exit, error, loader, note};
use anyhow::Context as _;
use flowc_runtime::clock::{Clock, SystemClock};
use flowc_runtime::engine::{self, Engine, SecretSource};
use flowc_runtime::outbound::Client;
use flowc_runtime::server::{self, DeployError, token};
use flowc_runtime::store::Store;
use flowc_runtime::store::sqlite;
use flowc_runtime::vault::Vault;
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

Besides the webhooks, the server answers the admin API under /api/v1 (deploy,
workflows, runs: start, list, show, retry, replay, cancel), behind the bearer
token whose file it prints; `flowc deploy` and `flowc runs` use it.

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
fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("FLOWC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
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
    init_logs(args.log_format);
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
    runtime.block_on(serve(args, program))
}

async fn serve(args: &Args, program: Option<flowc_compiler::ir::Program>) -> anyhow::Result<Exit> {
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
    let secrets: Arc<dyn SecretSource> = Arc::new(Vault::new(&master, Arc::clone(&store)));

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

    let client = Client::builder(Arc::clone(&clock))
        .build()
        .context("cannot build the HTTP client")?;
    let engine = Engine::new(
        Arc::clone(&store),
        Arc::new(client),
        Arc::clone(&secrets),
        Arc::clone(&clock),
    );
    let mut options = server::Options::new(store, Arc::new(engine), secrets, clock);
    options.addr = args.addr;
    options.admin_open = admin_token.is_none();
    options.admin_token = admin_token;
    let server = match options.bind().await {
        Ok(server) => server,
        Err(err) => {
            error(err);
            return Ok(Exit::Failure);
        }
    };
    let handle = server.handle();
    let base = format!("http://{}", handle.local_addr());
    println!("listening on {base}");
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

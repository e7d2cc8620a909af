//! `flowc deploy`: check .flow files here, then send them to a running server.
//!
//! The files are compiled first exactly as `flowc check` compiles them: with errors
//! they are printed the same way and nothing is sent, so a broken program never
//! reaches a server. A clean program goes to the admin API as its sources (every
//! file of the project, imports included, named relative to the directory that
//! holds them all), so the server compiles what the author checked and keeps the
//! text for inspection. The server may still refuse: a secret the program uses is
//! not in its vault, or a webhook path is claimed by another active deployment.
//! Each refusal is one readable line, with what to do about it.

use super::api::{self, Client, Target};
use super::{Exit, error, help, loader, note};
use flowc_compiler::Analysis;
use serde_json::{Value as Json, json};
use std::path::{Component, Path, PathBuf};

pub const AFTER_HELP: &str = "\
Examples:
  flowc deploy examples/                      every .flow file under examples/
  flowc deploy app.flow --server http://flowc.internal:8080
  flowc deploy app.flow --no-activate         store it; keep the active version
  FLOWC_ADMIN_TOKEN=$(cat /etc/flowc/token) flowc deploy app.flow

On success, standard output has the version, its hash and each webhook URL:
  deployed version 3 (hash sha256:…), active
    POST   http://127.0.0.1:8080/orders  → order

The server is --server URL, FLOWC_SERVER or http://127.0.0.1:8080; the admin
token comes from --token-file FILE, FLOWC_ADMIN_TOKEN or ./flowc.admin-token.

Exit status: 0 deployed, 1 the sources have errors (printed as by `flowc check`;
nothing is sent) or the server refused them (missing secrets, a webhook path
already claimed, a wrong token), 2 bad arguments, an unreadable path, no token,
or the server cannot be reached.";

#[derive(clap::Args)]
pub struct Args {
    /// .flow files or directories (searched for *.flow files as by `check`).
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,

    /// Store the deployment without making it the active one.
    #[arg(long)]
    no_activate: bool,

    #[command(flatten)]
    target: Target,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let analysis = match loader::compile(&args.paths, "sent") {
        Ok(analysis) => analysis,
        Err(exit) => return Ok(exit),
    };

    let client = match Client::new(&args.target) {
        Ok(client) => client,
        Err(err) => return Ok(err.report()),
    };
    let body = json!({
        "files": files(&analysis),
        "activate": !args.no_activate,
    });
    let answer = match api::block_on(client.post("/deployments", Some(&body)))? {
        Ok(answer) => answer,
        Err(err) => return Ok(refused(&err)),
    };
    print_deployed(&answer, client.base(), !args.no_activate);
    Ok(Exit::Success)
}

/// Every file of the program as `{path, source}`, with paths relative to the
/// deepest directory that holds them all and written with `/`, so the server sees
/// the same import paths the checker saw, whatever the current directory.
fn files(analysis: &Analysis) -> Vec<Json> {
    let absolute: Vec<PathBuf> = analysis
        .files
        .iter()
        .map(|file| absolute(Path::new(&file.path)))
        .collect();
    let root = common_directory(&absolute);
    analysis
        .files
        .iter()
        .zip(&absolute)
        .map(|(file, path)| {
            let relative = path.strip_prefix(&root).unwrap_or(path);
            let name: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            json!({ "path": name.join("/"), "source": file.text })
        })
        .collect()
}

/// `path` made absolute against the current directory, with `.` and `..` resolved
/// as text (the files were read already, so no symbolic link needs following).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The deepest directory that contains every path.
fn common_directory(paths: &[PathBuf]) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for path in paths {
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        common = Some(match common {
            None => parent,
            Some(current) => {
                let mut shared = PathBuf::new();
                for (a, b) in current.components().zip(parent.components()) {
                    if a != b {
                        break;
                    }
                    shared.push(a);
                }
                shared
            }
        });
    }
    common.unwrap_or_default()
}

fn print_deployed(answer: &Json, base: &str, activate: bool) {
    let version = answer
        .get("version")
        .map_or_else(|| "?".to_owned(), Json::to_string);
    let hash = answer.get("hash").and_then(Json::as_str).unwrap_or("?");
    let hash = if hash.starts_with("sha256:") {
        hash.to_owned()
    } else {
        format!("sha256:{hash}")
    };
    let created = answer.get("created").and_then(Json::as_bool) != Some(false);
    let active = answer
        .get("active")
        .and_then(Json::as_bool)
        .unwrap_or(activate);
    let state = if active { "active" } else { "not active" };
    if created {
        println!("deployed version {version} (hash {hash}), {state}");
    } else {
        println!("already deployed as version {version} (hash {hash}), {state}");
    }
    let webhooks: &[Json] = answer
        .get("webhooks")
        .and_then(Json::as_array)
        .map_or(&[], Vec::as_slice);
    for webhook in webhooks {
        let field = |name: &str| webhook.get(name).and_then(Json::as_str).unwrap_or("?");
        println!(
            "  {:<6} {base}{}  → {}",
            field("method"),
            field("path"),
            field("workflow")
        );
    }
    if webhooks.is_empty() {
        note("the program has no `on webhook` trigger");
    } else if !active {
        note("these URLs answer once the deployment is activated");
    }
}

/// Reports a failed deploy, the server's refusals one readable line each.
fn refused(err: &api::Error) -> Exit {
    let api::Error::Api { code, details, .. } = err else {
        return err.report();
    };
    match code.as_str() {
        "missing_secrets" => {
            let secrets: &[Json] = details
                .get("secrets")
                .and_then(Json::as_array)
                .map_or(&[], Vec::as_slice);
            if secrets.is_empty() {
                return err.report();
            }
            for secret in secrets {
                let name = secret.get("name").and_then(Json::as_str).unwrap_or("?");
                let users: Vec<String> = secret
                    .get("workflows")
                    .and_then(Json::as_array)
                    .map(|workflows| {
                        workflows
                            .iter()
                            .filter_map(Json::as_str)
                            .map(|workflow| format!("`{workflow}`"))
                            .collect()
                    })
                    .unwrap_or_default();
                let used = if users.is_empty() {
                    String::new()
                } else {
                    format!(", used by {}", users.join(", "))
                };
                error(format_args!(
                    "secret `{name}` is not in the server's vault{used}; set it with \
                     `flowc secrets set {name}`"
                ));
            }
            help(
                "run `flowc secrets set NAME --db FILE` against the server's database, then deploy again",
            );
            Exit::Diagnostics
        }
        "compile_errors" => {
            let diagnostics: &[Json] = details
                .get("diagnostics")
                .and_then(Json::as_array)
                .map_or(&[], Vec::as_slice);
            for diagnostic in diagnostics {
                let text = |name: &str| diagnostic.get(name).and_then(Json::as_str).unwrap_or("?");
                let at = |name: &str| {
                    diagnostic
                        .get("start")
                        .and_then(|start| start.get(name))
                        .map_or_else(|| "?".to_owned(), Json::to_string)
                };
                error(format_args!(
                    "{}:{}:{}: {}[{}] {}",
                    text("file"),
                    at("line"),
                    at("column"),
                    text("severity"),
                    text("code"),
                    text("message")
                ));
            }
            error(
                "the server's compiler rejected the program (is it another flowc version?); nothing deployed",
            );
            Exit::Diagnostics
        }
        _ => err.report(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_directory_is_the_deepest_shared_parent() {
        let paths = [
            PathBuf::from("/w/app/orders.flow"),
            PathBuf::from("/w/app/lib/types.flow"),
        ];
        assert_eq!(common_directory(&paths), PathBuf::from("/w/app"));
        assert_eq!(
            common_directory(&[PathBuf::from("/w/a.flow")]),
            PathBuf::from("/w")
        );
        assert_eq!(
            absolute(Path::new("/w/app/../lib/./x.flow")),
            PathBuf::from("/w/lib/x.flow")
        );
    }
}

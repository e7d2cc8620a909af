//! The vault end to end: sealing, opening, names and missing secrets over the
//! in-memory storage, the scrubber built from stored values, the real SQLite
//! store holding nothing but ciphertext, and the second net in the engine: a
//! downstream that echoes the credentials it was sent (a bearer token, an API key
//! in the query, an issued OAuth 2 access token) is journaled with `***` where
//! they were, while the real values went out on the wire.

#![allow(clippy::unwrap_used)]

mod common;

use common::{JumpingClock, Reply, Server, compile};
use flowc_runtime::clock::Clock;
use flowc_runtime::engine::{Engine, SecretSource};
use flowc_runtime::outbound::Client;
use flowc_runtime::store::sqlite::Options;
use flowc_runtime::store::{RunOutcome, Store};
use flowc_runtime::vault::{
    Error, MasterKey, MemoryStorage, Redactor, SecretStorage as _, SecretString, Vault,
};
use serde_json::{Value as Json, json};
use std::sync::Arc;

fn key(byte: u8) -> MasterKey {
    MasterKey::parse(&format!("{byte:02x}").repeat(32)).expect("key")
}

fn vault() -> Vault<MemoryStorage> {
    Vault::new(&key(1), MemoryStorage::default())
}

fn secret(value: &str) -> SecretString {
    SecretString::new(value)
}

#[tokio::test]
async fn round_trip() {
    let vault = vault();
    let value = secret("sk_live_1234 ünïcode");
    vault.set("STRIPE_KEY", &value).await.expect("set");
    let back = vault
        .get("STRIPE_KEY")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(back.expose(), value.expose());
    assert!(vault.get("OTHER").await.expect("get").is_none());

    // The storage holds no plaintext, and a new value gets a new nonce.
    let first = vault.storage().get("STRIPE_KEY").await.expect("get");
    let first = first.expect("sealed");
    assert!(!first.ciphertext.windows(7).any(|w| w == b"sk_live"));
    assert_eq!(first.ciphertext.len(), value.len() + 16);
    vault.set("STRIPE_KEY", &value).await.expect("set again");
    let second = vault.storage().get("STRIPE_KEY").await.expect("get");
    let second = second.expect("sealed");
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.ciphertext, second.ciphertext);
}

#[tokio::test]
async fn a_wrong_key_fails_with_a_clear_error() {
    let storage = MemoryStorage::default();
    let right = Vault::new(&key(1), &storage);
    right.set("TOKEN", &secret("value-1")).await.expect("set");
    let error = Vault::new(&key(2), &storage)
        .get("TOKEN")
        .await
        .expect_err("wrong key");
    assert!(matches!(&error, Error::Decrypt { name } if name == "TOKEN"));
    assert_eq!(
        error.to_string(),
        "cannot decrypt secret `TOKEN`: the master key is not the one it was stored \
         with, or the stored value was altered or belongs to another name"
    );
}

#[tokio::test]
async fn a_blob_moved_to_another_name_does_not_open() {
    let vault = vault();
    vault
        .set("GITHUB_TOKEN", &secret("ghp_aaaa"))
        .await
        .expect("set");
    vault
        .set("SLACK_TOKEN", &secret("xoxb_bbbb"))
        .await
        .expect("set");
    let github = vault.storage().get("GITHUB_TOKEN").await.expect("get");
    let github = github.expect("sealed");
    vault
        .storage()
        .put("SLACK_TOKEN", github)
        .await
        .expect("swap");
    let error = vault.get("SLACK_TOKEN").await.expect_err("moved blob");
    assert!(matches!(&error, Error::Decrypt { name } if name == "SLACK_TOKEN"));
    let github = vault.get("GITHUB_TOKEN").await.expect("get");
    assert_eq!(github.expect("present").expose(), "ghp_aaaa");
}

#[tokio::test]
async fn a_tampered_blob_does_not_open() {
    let vault = vault();
    vault.set("TOKEN", &secret("value-1")).await.expect("set");
    let sealed = vault.storage().get("TOKEN").await.expect("get");
    let mut sealed = sealed.expect("sealed");
    sealed.ciphertext[0] ^= 1;
    vault.storage().put("TOKEN", sealed).await.expect("put");
    assert!(matches!(
        vault.get("TOKEN").await,
        Err(Error::Decrypt { .. })
    ));
}

#[tokio::test]
async fn list_remove_and_missing() {
    let vault = vault();
    for name in ["B", "A", "_private2"] {
        vault.set(name, &secret("value")).await.expect("set");
    }
    assert_eq!(vault.list().await.expect("list"), ["A", "B", "_private2"]);
    assert!(vault.remove("B").await.expect("remove"));
    assert!(!vault.remove("B").await.expect("remove twice"));
    assert_eq!(vault.list().await.expect("list"), ["A", "_private2"]);
    let missing = vault.missing(&["Z", "A", "B", "Z", "_private2", "C"]).await;
    assert_eq!(missing.expect("missing"), ["B", "C", "Z"]);
    let none: [&str; 0] = [];
    assert!(vault.missing(&none).await.expect("missing").is_empty());
}

#[tokio::test]
async fn names_are_identifiers() {
    let vault = vault();
    let value = secret("value");
    for good in ["A", "_", "api_key_2", "GitHub", &"x".repeat(128)] {
        vault.set(good, &value).await.expect(good);
    }
    for bad in [
        "",
        "2fa",
        "api-key",
        "a.b",
        "secrets.X",
        "ünï",
        " A",
        &"x".repeat(129),
    ] {
        let error = vault.set(bad, &value).await.expect_err(bad);
        assert!(matches!(&error, Error::InvalidName(name) if name == bad));
        assert!(matches!(vault.get(bad).await, Err(Error::InvalidName(_))));
        assert!(matches!(
            vault.remove(bad).await,
            Err(Error::InvalidName(_))
        ));
    }
    let message = vault.set("api-key", &value).await.expect_err("bad");
    let message = message.to_string();
    assert!(message.starts_with("invalid secret name `api-key`: expected a letter"));
}

#[tokio::test]
async fn scrubber_from_stored_values() {
    let vault = vault();
    vault
        .set("TOKEN", &secret("canary-9f3c1e"))
        .await
        .expect("set");
    vault.set("PIN", &secret("123")).await.expect("set");
    let scrubber = vault.scrubber().await.expect("scrubber");
    assert_eq!(
        scrubber.scrub("Authorization: Bearer canary-9f3c1e; pin 123"),
        "Authorization: Bearer ***; pin 123"
    );
}

#[tokio::test]
async fn debug_output_holds_no_value() {
    let vault = vault();
    vault
        .set("TOKEN", &secret("canary-9f3c1e"))
        .await
        .expect("set");
    let value = vault.get("TOKEN").await.expect("get");
    let debug = format!("{vault:?} {value:?} {:?}", key(1));
    assert_eq!(debug, "Vault { .. } Some(SecretString(***)) MasterKey(***)");
}

#[tokio::test]
async fn over_the_sqlite_store() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("flowc.db");
    let (key, _) = MasterKey::load_or_create(&directory.path().join("flowc.key")).expect("key");
    let canary = "canary-5d1e0c7a93";
    {
        let store: Arc<dyn Store> = Arc::new(Options::new(&path).open().expect("open"));
        let vault = Vault::new(&key, Arc::clone(&store));
        vault.set("API_KEY", &secret(canary)).await.expect("set");
        vault
            .set("OTHER", &secret("other-value"))
            .await
            .expect("set");
        assert!(vault.remove("OTHER").await.expect("remove"));
        assert_eq!(vault.list().await.expect("list"), ["API_KEY"]);
        let missing = vault.missing(&["API_KEY", "OTHER"]).await.expect("missing");
        assert_eq!(missing, ["OTHER"]);
    }
    // Reopened with the same key file, the value is there.
    let store: Arc<dyn Store> = Arc::new(Options::new(&path).open().expect("reopen"));
    let (same_key, created) =
        MasterKey::load_or_create(&directory.path().join("flowc.key")).expect("key");
    assert!(!created);
    let vault = Vault::new(&same_key, store);
    let value = vault.get("API_KEY").await.expect("get").expect("present");
    assert_eq!(value.expose(), canary);

    // No file of the database holds the value.
    for entry in std::fs::read_dir(directory.path()).expect("read_dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        let found = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
        assert!(!found, "{} holds the secret", path.display());
    }
}

// ---------------------------------------------------------------- the second net

const ECHO: &str = r#"
connection api {
  base_url: "BASE"
  auth: bearer { token: secrets.api_token }
}

connection keyed {
  base_url: "BASE"
  auth: api_key { query: "api_key", value: secrets.query_key }
}

connection oauth {
  base_url: "BASE"
  auth: oauth2_client_credentials {
    token_url: "BASE/token", client_id: "client", client_secret: secrets.client_secret
  }
}

workflow echo(mode: string) -> json {
  step reply = http POST api "/echo/${mode}" { expect: [200, 400] }
  if reply.status == 400 {
    fail "refused: ${to_json(reply.body)}"
  }
  return reply.body
}

workflow keyed_echo(mode: string) -> json {
  step reply = http GET keyed "/echo/${mode}" { query: { page: "1" } }
  return reply.body
}

workflow oauth_echo(mode: string) -> json {
  step reply = http GET oauth "/echo/${mode}"
  return reply.body
}
"#;

const TOKEN: &str = "tok/en+3f9a1c77e2";
const QUERY_KEY: &str = "qk 8d2b~44aa01";
const ISSUED: &str = "issued-5c0ffee1d2";

/// Echoes the `Authorization` header and the query string; `/token` issues
/// [`ISSUED`]; `/echo/bad` answers 400.
fn echo(request: &common::Recorded, _: usize) -> Reply {
    if request.path() == "/token" {
        return Reply::json(200, json!({ "access_token": ISSUED, "expires_in": 60 }));
    }
    let status = if request.path() == "/echo/bad" {
        400
    } else {
        200
    };
    let query = request
        .target
        .split_once('?')
        .map_or("", |(_, query)| query);
    Reply::json(
        status,
        json!({
            "authorization": request.header("authorization"),
            "query": query,
        }),
    )
}

struct Echo {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    server: Server,
    deployment: String,
    engine: Engine,
}

impl Echo {
    async fn new() -> Echo {
        let server = Server::start(echo).await;
        let program = compile(&ECHO.replace("BASE", &server.base()));
        let dir = tempfile::tempdir().unwrap();
        let clock = JumpingClock::new(1_700_000_000_000);
        let mut options = Options::new(dir.path().join("flowc.db"));
        options.clock = Arc::new(clock.clone());
        let store: Arc<dyn Store> = Arc::new(options.open().unwrap());
        let deployment = store.deploy(&program).await.unwrap().id;
        // Set after nothing has loaded the vault: the engine learns the values
        // when it resolves them, as for a `flowc secrets set` on a running server.
        let vault = Vault::new(&key(7), Arc::clone(&store));
        vault.set("api_token", &secret(TOKEN)).await.unwrap();
        vault.set("query_key", &secret(QUERY_KEY)).await.unwrap();
        vault
            .set("client_secret", &secret("client-secret-99"))
            .await
            .unwrap();
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let client = Client::builder(Arc::clone(&clock)).build().unwrap();
        let secrets: Arc<dyn SecretSource> = Arc::new(vault);
        let engine = Engine::new(Arc::clone(&store), Arc::new(client), secrets, clock);
        Echo {
            _dir: dir,
            store,
            server,
            deployment,
            engine,
        }
    }

    /// Runs `workflow` with `mode`: the outcome, and the run with its journal
    /// as the store holds it, as JSON text.
    async fn run(&self, workflow: &str, mode: &str) -> (RunOutcome, String) {
        let started = self
            .store
            .start_run(common::new_run(&self.deployment, workflow, json!(mode)))
            .await
            .unwrap();
        let outcome = self.engine.run(&started.run).await.unwrap();
        let detail = self.store.get_run(&started.run).await.unwrap().unwrap();
        (outcome, serde_json::to_string(&detail).unwrap())
    }
}

#[tokio::test]
async fn an_echoed_bearer_token_is_journaled_scrubbed_in_outputs_and_errors() {
    let echo = Echo::new().await;
    assert!(echo.engine.redactor().is_empty());

    let (outcome, journal) = echo.run("echo", "ok").await;
    // The token went out as it is...
    let sent = echo.server.requests();
    assert_eq!(
        sent[0].header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    // ...and came back scrubbed: in what the caller got and in the journal.
    assert_eq!(
        outcome,
        RunOutcome::Succeeded(json!({ "authorization": "Bearer ***", "query": "" }))
    );
    assert!(journal.contains(r#"Bearer ***"#), "{journal}");
    assert!(!journal.contains(TOKEN), "{journal}");

    let (outcome, journal) = echo.run("echo", "bad").await;
    let RunOutcome::Failed(error) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(error["code"], "R0203");
    assert_eq!(
        error["message"],
        r#"refused: {"authorization":"Bearer ***","query":""}"#
    );
    assert!(
        !journal.contains(TOKEN) && !journal.contains("tok%2Fen"),
        "{journal}"
    );
}

#[tokio::test]
async fn an_api_key_echoed_from_the_query_string_is_journaled_scrubbed() {
    let echo = Echo::new().await;
    let (outcome, journal) = echo.run("keyed_echo", "ok").await;
    let sent = echo.server.requests();
    assert_eq!(sent[0].target, "/echo/ok?page=1&api_key=qk+8d2b%7E44aa01");
    assert_eq!(
        outcome,
        RunOutcome::Succeeded(json!({ "authorization": null, "query": "page=1&api_key=***" }))
    );
    assert!(!journal.contains("8d2b"), "{journal}");
}

#[tokio::test]
async fn an_issued_oauth_token_is_learned_and_scrubbed() {
    let echo = Echo::new().await;
    let (outcome, journal) = echo.run("oauth_echo", "ok").await;
    let sent = echo.server.requests();
    assert_eq!(sent[0].path(), "/token");
    assert_eq!(
        sent[1].header("authorization"),
        Some(&*format!("Bearer {ISSUED}"))
    );
    assert_eq!(
        outcome,
        RunOutcome::Succeeded(json!({ "authorization": "Bearer ***", "query": "" }))
    );
    assert!(!journal.contains(ISSUED), "{journal}");
    assert!(!journal.contains("client-secret-99"), "{journal}");
    // The client's redactor is the engine's.
    assert_eq!(echo.engine.redactor().current().scrub(ISSUED), "***");
}

#[tokio::test]
async fn a_redactor_loads_every_value_of_the_vault() {
    let vault = vault();
    vault.set("ONE", &secret("first-value-1")).await.unwrap();
    vault.set("TWO", &secret("second-value-2")).await.unwrap();
    let redactor = Redactor::new();
    redactor.load(&vault).await.unwrap();
    let mut json: Json = json!({ "a": "first-value-1", "b": ["x second-value-2 y"] });
    assert!(redactor.current().scrub_json(&mut json));
    assert_eq!(json, json!({ "a": "***", "b": ["x *** y"] }));
}

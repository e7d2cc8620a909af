//! End-to-end tests of `flowc secrets`: values from standard input, listings with
//! names and never values, removal, refused names and empty values, the value
//! absent in clear from the output and from the database files, and a write while
//! `flowc serve` has the same database open.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use support::{Served, run, run_with_stdin};

const VALUE: &str = "sk_live_Zq8vX2pL9wQ4";

/// Whether `needle` occurs in any file of `dir` (the database, its WAL and shm).
fn in_any_file(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[test]
fn set_list_and_rm_never_show_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let done = run_with_stdin(
        dir.path(),
        &["secrets", "set", "STRIPE_KEY"],
        &format!("{VALUE}\n"),
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout, "stored secret `STRIPE_KEY` in flowc.db\n");
    assert!(
        done.stderr
            .contains("note: created the vault's master key in flowc.key"),
        "{done}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("flowc.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let done = run_with_stdin(dir.path(), &["secrets", "set", "SLACK_HOOK"], "https://x");
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        !done.stderr.contains("created"),
        "the key is made once: {done}"
    );

    let done = run(dir.path(), &["secrets", "list"]);
    assert_eq!(done.code, Some(0), "{done}");
    let names: Vec<&str> = done
        .stdout
        .lines()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ["NAME", "SLACK_HOOK", "STRIPE_KEY"], "{done}");
    assert!(!done.stdout.contains(VALUE), "{done}");

    let done = run(dir.path(), &["secrets", "list", "--json"]);
    assert_eq!(done.code, Some(0), "{done}");
    let json = done.json();
    let secrets = json["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 2);
    assert_eq!(secrets[1]["name"], "STRIPE_KEY");
    assert!(secrets[1]["updated_at"].as_i64().unwrap() > 0);
    assert!(!done.stdout.contains(VALUE));

    // Neither the database nor its WAL holds the value in clear.
    assert_eq!(in_any_file(dir.path(), VALUE), Vec::<String>::new());

    let done = run(dir.path(), &["secrets", "rm", "STRIPE_KEY"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout, "removed secret `STRIPE_KEY` from flowc.db\n");
    let done = run(dir.path(), &["secrets", "rm", "STRIPE_KEY"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(
        done.stderr
            .contains("error: no secret `STRIPE_KEY` in flowc.db"),
        "{done}"
    );
    let done = run(dir.path(), &["secrets", "list"]);
    assert!(!done.stdout.contains("STRIPE_KEY"), "{done}");
    assert!(done.stdout.contains("SLACK_HOOK"), "{done}");
}

#[test]
fn a_value_set_again_replaces_the_old_one_in_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    for value in ["first-value", "second-value"] {
        let done = run_with_stdin(
            dir.path(),
            &["secrets", "set", "TOKEN", "--db", "v.db"],
            value,
        );
        assert_eq!(done.code, Some(0), "{done}");
    }
    // Read it back through the vault with the key file the command created.
    let value = support::block_on(async {
        use flowc_runtime::store::Store;
        use std::sync::Arc;
        let store: Arc<dyn Store> = Arc::new(
            flowc_runtime::store::sqlite::Options::new(&db)
                .open()
                .unwrap(),
        );
        let (key, _) =
            flowc_runtime::vault::MasterKey::load_or_create(&dir.path().join("v.key")).unwrap();
        let vault = flowc_runtime::vault::Vault::new(&key, store);
        vault.get("TOKEN").await.unwrap().unwrap()
    });
    assert_eq!(
        value.expose(),
        "second-value",
        "no trailing newline was stored either"
    );
}

#[test]
fn bad_names_and_empty_values_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let done = run_with_stdin(dir.path(), &["secrets", "set", "9lives"], "value");
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr.contains("error: invalid secret name `9lives`"),
        "{done}"
    );
    let done = run_with_stdin(dir.path(), &["secrets", "set", "has-dash"], "value");
    assert_eq!(done.code, Some(2), "{done}");

    let done = run_with_stdin(dir.path(), &["secrets", "set", "EMPTY"], "\n");
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains("error: the value of `EMPTY` is empty; nothing stored"),
        "{done}"
    );
    assert!(
        !dir.path().join("flowc.db").exists(),
        "refused before the database is opened"
    );

    let done = run(dir.path(), &["secrets", "list"]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr.contains("error: no database at flowc.db"),
        "{done}"
    );
    assert!(
        !dir.path().join("flowc.db").exists(),
        "list creates nothing"
    );
}

#[test]
fn secrets_can_be_set_while_serve_has_the_database_open() {
    let dir = tempfile::tempdir().unwrap();
    support::write(
        dir.path(),
        "app.flow",
        "workflow hook(x: { id: string }) {\n  on webhook POST \"/hook\"\n}\n",
    );
    let serve = Served::in_dir(dir.path(), &["app.flow"]);
    let done = run_with_stdin(
        dir.path(),
        &["secrets", "set", "WHILE_SERVING", "--db", "data.db"],
        VALUE,
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        !done.stderr.contains("created the vault's master key"),
        "the server's key is used: {done}"
    );
    let done = run(dir.path(), &["secrets", "list", "--db", "data.db"]);
    assert!(done.stdout.contains("WHILE_SERVING"), "{done}");
    // The server still answers.
    let (status, body) = support::post(&serve.addr, "/hook", &[], r#"{"id": "a"}"#);
    assert_eq!(status, 202, "{body}");
    drop(serve);
    assert_eq!(in_any_file(dir.path(), VALUE), Vec::<String>::new());
}

//! The vault end to end: sealing, opening, names and missing secrets over the
//! in-memory storage, the scrubber built from stored values, and the real SQLite
//! store holding nothing but ciphertext.

use flowc_runtime::store::Store;
use flowc_runtime::store::sqlite::Options;
use flowc_runtime::vault::{
    Error, MasterKey, MemoryStorage, SecretStorage as _, SecretString, Vault,
};
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

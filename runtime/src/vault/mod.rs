//! The vault: secrets a workflow refers to as `secrets.NAME`, encrypted at rest.
//!
//! A value is sealed with XChaCha20-Poly1305 under the [`MasterKey`]: a fresh random
//! 24-byte nonce per value (long enough that random nonces never repeat in
//! practice), and the secret's name in the associated data, so a stored blob copied
//! under another name fails to open instead of handing one secret's value to a
//! workflow that asked for another. The storage only ever sees names, nonces and
//! ciphertexts, through the small [`SecretStorage`] trait: the runtime's [`Store`]
//! implements it (its `secrets` table), tests use [`MemoryStorage`].
//!
//! Values travel as [`SecretString`], which cannot be printed or serialised by
//! accident; [`Scrubber`] is the second net that removes known values from text
//! before it is journaled or logged, and [`Redactor`] the runtime-wide one, shared by
//! the engine, the outbound client and the log writer and taught values as the
//! runtime meets them. The vault is used by `flowc secrets`, at deploy
//! and when a run starts, never per expression: decryption is cheap, but callers
//! that need a value on every request keep the `SecretString` rather than asking
//! again.
//!
//! Nonces and keys come straight from the operating system's generator rather than
//! from the runtime's injectable randomness: nothing observable depends on them, and
//! a deterministic nonce source would be a hazard.

mod key;
mod redactor;
mod scrub;
mod secret;

pub use key::{ENV_VAR, KEY_LEN, KeyFormat, MasterKey, Origin};
pub use redactor::{MAX_VALUES, Redactor};
pub use scrub::{MASK, MIN_LEN, MIN_SHIFTED_BASE64, Scrubber};
pub use secret::SecretString;

use crate::store::{BoxFuture, SecretBlob, Store};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// The nonce length of XChaCha20-Poly1305 in bytes.
pub const NONCE_LEN: usize = 24;

/// The longest secret name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// Everything that can go wrong in the vault. No variant carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid secret name `{0}`: expected a letter or `_` followed by letters, digits \
         or `_`, at most 128 characters (as in `secrets.NAME`)"
    )]
    InvalidName(String),
    #[error("{origin} must be 32 bytes written as 64 hex digits or as base64: {problem}")]
    BadKey { origin: String, problem: KeyFormat },
    #[error(
        "key file {} can be read by group or others (mode {mode:o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    #[error("key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot decrypt secret `{name}`: the master key is not the one it was stored \
         with, or the stored value was altered or belongs to another name"
    )]
    Decrypt { name: String },
    #[error("secret `{name}` cannot be encrypted")]
    Encrypt { name: String },
    #[error("no random bytes from the operating system: {0}")]
    Random(getrandom::Error),
    #[error("secret storage: {0}")]
    Storage(#[source] StorageError),
}

/// The error a [`SecretStorage`] returns; the vault passes it on as
/// [`Error::Storage`].
pub type StorageError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One stored secret: what the storage keeps, and all it ever sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: [u8; NONCE_LEN],
    /// The ciphertext followed by the 16-byte Poly1305 tag.
    pub ciphertext: Vec<u8>,
}

/// Where sealed secrets are kept, by name. Implementations store bytes; they never
/// see a key or a plaintext. Asynchronous like [`Store`], which implements it
/// (through `dyn Store`, so `Vault<Arc<dyn Store>>` is the production vault).
pub trait SecretStorage: Send + Sync {
    /// The sealed value stored under `name`, if any.
    fn get(&self, name: &str) -> BoxFuture<'_, Result<Option<Sealed>, StorageError>>;
    /// Stores `sealed` under `name`, replacing any earlier value.
    fn put(&self, name: &str, sealed: Sealed) -> BoxFuture<'_, Result<(), StorageError>>;
    /// Every stored name, in any order.
    fn list(&self) -> BoxFuture<'_, Result<Vec<String>, StorageError>>;
    /// Removes `name`; `true` when it was there.
    fn delete(&self, name: &str) -> BoxFuture<'_, Result<bool, StorageError>>;
}

macro_rules! forward_storage {
    ($($pointer:ty),*) => {$(
        impl<T: SecretStorage + ?Sized> SecretStorage for $pointer {
            fn get(&self, name: &str) -> BoxFuture<'_, Result<Option<Sealed>, StorageError>> {
                (**self).get(name)
            }
            fn put(&self, name: &str, sealed: Sealed) -> BoxFuture<'_, Result<(), StorageError>> {
                (**self).put(name, sealed)
            }
            fn list(&self) -> BoxFuture<'_, Result<Vec<String>, StorageError>> {
                (**self).list()
            }
            fn delete(&self, name: &str) -> BoxFuture<'_, Result<bool, StorageError>> {
                (**self).delete(name)
            }
        }
    )*};
}

// A vault can share its storage: `Vault::new(&key, &store)` or over an `Arc`.
forward_storage!(&T, std::sync::Arc<T>, Box<T>);

/// The runtime's store keeps the vault's blobs in its `secrets` table.
impl SecretStorage for dyn Store {
    fn get(&self, name: &str) -> BoxFuture<'_, Result<Option<Sealed>, StorageError>> {
        let stored = self.get_secret(name);
        Box::pin(async move {
            let Some(stored) = stored.await? else {
                return Ok(None);
            };
            let nonce =
                <[u8; NONCE_LEN]>::try_from(stored.blob.nonce.as_slice()).map_err(|_| {
                    format!(
                        "secret `{}` is stored with a {}-byte nonce, expected {NONCE_LEN}",
                        stored.name,
                        stored.blob.nonce.len()
                    )
                })?;
            let ciphertext = stored.blob.ciphertext;
            Ok(Some(Sealed { nonce, ciphertext }))
        })
    }

    fn put(&self, name: &str, sealed: Sealed) -> BoxFuture<'_, Result<(), StorageError>> {
        let blob = SecretBlob {
            ciphertext: sealed.ciphertext,
            nonce: sealed.nonce.to_vec(),
        };
        let put = self.put_secret(name, blob);
        Box::pin(async move { Ok(put.await?) })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<String>, StorageError>> {
        let list = self.list_secrets();
        Box::pin(async move { Ok(list.await?.into_iter().map(|secret| secret.name).collect()) })
    }

    fn delete(&self, name: &str) -> BoxFuture<'_, Result<bool, StorageError>> {
        let delete = self.delete_secret(name);
        Box::pin(async move { Ok(delete.await?) })
    }
}

/// A [`SecretStorage`] in memory, for tests and one-shot runs.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    entries: Mutex<BTreeMap<String, Sealed>>,
}

impl MemoryStorage {
    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Sealed>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SecretStorage for MemoryStorage {
    fn get(&self, name: &str) -> BoxFuture<'_, Result<Option<Sealed>, StorageError>> {
        let found = self.entries().get(name).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn put(&self, name: &str, sealed: Sealed) -> BoxFuture<'_, Result<(), StorageError>> {
        self.entries().insert(name.to_owned(), sealed);
        Box::pin(std::future::ready(Ok(())))
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<String>, StorageError>> {
        let names = self.entries().keys().cloned().collect();
        Box::pin(std::future::ready(Ok(names)))
    }

    fn delete(&self, name: &str) -> BoxFuture<'_, Result<bool, StorageError>> {
        let removed = self.entries().remove(name).is_some();
        Box::pin(std::future::ready(Ok(removed)))
    }
}

/// Encrypted secrets over a [`SecretStorage`].
pub struct Vault<S> {
    cipher: XChaCha20Poly1305,
    storage: S,
}

impl<S: SecretStorage> Vault<S> {
    /// A vault that seals with `key` and keeps its values in `storage`.
    pub fn new(key: &MasterKey, storage: S) -> Vault<S> {
        let cipher = XChaCha20Poly1305::new(&(*key.bytes()).into());
        Vault { cipher, storage }
    }

    /// The storage underneath.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Encrypts `value` and stores it under `name`, replacing any earlier value.
    pub async fn set(&self, name: &str, value: &SecretString) -> Result<(), Error> {
        validate_name(name)?;
        let sealed = self.seal(name, value)?;
        self.storage.put(name, sealed).await.map_err(Error::Storage)
    }

    /// The value stored under `name`, decrypted; `None` when there is none.
    pub async fn get(&self, name: &str) -> Result<Option<SecretString>, Error> {
        validate_name(name)?;
        match self.storage.get(name).await.map_err(Error::Storage)? {
            Some(sealed) => self.open(name, &sealed).map(Some),
            None => Ok(None),
        }
    }

    /// Every stored name, sorted. Never a value.
    pub async fn list(&self) -> Result<Vec<String>, Error> {
        let mut names = self.storage.list().await.map_err(Error::Storage)?;
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    /// Removes `name`; `true` when it was there.
    pub async fn remove(&self, name: &str) -> Result<bool, Error> {
        validate_name(name)?;
        self.storage.delete(name).await.map_err(Error::Storage)
    }

    /// The names among `names` that have no stored value, sorted and without
    /// duplicates, so a deploy can list every missing secret at once. A name that
    /// could not be stored (an invalid one) is reported missing too.
    pub async fn missing<N: AsRef<str>>(&self, names: &[N]) -> Result<Vec<String>, Error> {
        let stored: BTreeSet<String> = self.list().await?.into_iter().collect();
        let missing: BTreeSet<&str> = names
            .iter()
            .map(AsRef::as_ref)
            .filter(|name| !stored.contains(*name))
            .collect();
        Ok(missing.into_iter().map(str::to_owned).collect())
    }

    /// Decrypts every stored value into a [`Scrubber`] for the journal and logs.
    pub async fn scrubber(&self) -> Result<Scrubber, Error> {
        let mut values = Vec::new();
        for name in self.list().await? {
            if let Some(value) = self.get(&name).await? {
                values.push(value);
            }
        }
        Ok(Scrubber::new(&values))
    }

    fn seal(&self, name: &str, value: &SecretString) -> Result<Sealed, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(Error::Random)?;
        let aad = associated_data(name);
        let payload = Payload {
            msg: value.expose().as_bytes(),
            aad: &aad,
        };
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|_| Error::Encrypt {
                name: name.to_owned(),
            })?;
        Ok(Sealed { nonce, ciphertext })
    }

    fn open(&self, name: &str, sealed: &Sealed) -> Result<SecretString, Error> {
        let fail = || Error::Decrypt {
            name: name.to_owned(),
        };
        let aad = associated_data(name);
        let payload = Payload {
            msg: &sealed.ciphertext,
            aad: &aad,
        };
        let plaintext = self
            .cipher
            .decrypt(&XNonce::from(sealed.nonce), payload)
            .map_err(|_| fail())?;
        match String::from_utf8(plaintext) {
            Ok(text) => Ok(SecretString::from(text)),
            Err(error) => {
                zeroize::Zeroize::zeroize(&mut error.into_bytes());
                Err(fail())
            }
        }
    }
}

impl<S> std::fmt::Debug for Vault<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault { .. }")
    }
}

/// Checks that `name` can be written as `secrets.NAME`: a letter or `_`, then
/// letters, digits or `_`, at most [`MAX_NAME_LEN`] bytes.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let mut bytes = name.bytes();
    let valid = name.len() <= MAX_NAME_LEN
        && bytes
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidName(name.to_owned()))
    }
}

/// The associated data for `name`: a versioned domain tag and the name, so a value
/// opens only under the name it was stored with.
fn associated_data(name: &str) -> Vec<u8> {
    let mut aad = b"flowc/vault/v1\0".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

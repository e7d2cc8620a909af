//! Secrets at send time: the vault behind outbound's [`Secrets`].
//!
//! An evaluated step holds `secrets.NAME` only as a name ([`Value::Secret`]). Just
//! before a request is built, the engine collects the names its values mention,
//! asks the [`SecretSource`] (the [`Vault`]) for each, and hands the decrypted
//! values to `outbound::step::request` in a [`Resolved`] that lives for that one
//! request. Nothing here is journaled: step inputs record header values that hold
//! a secret as [`REDACTED`].

use crate::outbound::step::Secrets;
use crate::store::BoxFuture;
use crate::vault::{SecretStorage, SecretString, Vault};
use flowc_compiler::value::{SecretPart, Value};
use std::collections::{BTreeSet, HashMap};

/// What a journaled step input shows instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// Where the engine gets secret values: the vault, or a stand-in in tests.
pub trait SecretSource: Send + Sync {
    /// The value of `name`; `Ok(None)` when there is none. The error is a message
    /// without any secret value in it.
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<SecretString>, String>>;
}

impl<S: SecretStorage> SecretSource for Vault<S> {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<SecretString>, String>> {
        Box::pin(async move {
            Vault::get(self, name)
                .await
                .map_err(|error| error.to_string())
        })
    }
}

/// No secrets at all: every `secrets.NAME` is missing (R0112 at send time).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSecrets;

impl SecretSource for NoSecrets {
    fn get<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<Option<SecretString>, String>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// The secrets one request needs, decrypted; dropped (and zeroed) after it.
#[derive(Debug, Default)]
pub struct Resolved {
    values: HashMap<String, SecretString>,
}

impl Resolved {
    /// Asks `source` for every secret `values` mention.
    pub async fn load<'v>(
        source: &dyn SecretSource,
        values: impl IntoIterator<Item = &'v Value>,
    ) -> Result<Resolved, String> {
        let mut names = BTreeSet::new();
        for value in values {
            collect(value, &mut names);
        }
        let mut resolved = Resolved::default();
        for name in names {
            if let Some(secret) = source.get(&name).await? {
                resolved.values.insert(name, secret);
            }
        }
        Ok(resolved)
    }
}

impl Secrets for Resolved {
    fn secret(&self, name: &str) -> Option<SecretString> {
        self.values.get(name).cloned()
    }
}

/// The vault names `value` refers to.
fn collect(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Secret(parts) => {
            for part in parts.iter() {
                if let SecretPart::Secret(name) = part {
                    names.insert(name.to_string());
                }
            }
        }
        Value::List(items) => items.iter().for_each(|item| collect(item, names)),
        Value::Record(fields) => fields.values().for_each(|field| collect(field, names)),
        _ => {}
    }
}

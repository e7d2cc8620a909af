//! Secrets at send time: the vault behind outbound's [`Secrets`].
//!
//! An evaluated step holds `secrets.NAME` only as a name ([`Value::Secret`]). Just
//! before a request is built, the engine collects the names its values mention,
//! asks the [`SecretSource`] (the [`Vault`]) for each, and hands the decrypted
//! values to `outbound::step::request` in a [`Resolved`] that lives for that one
//! request. Nothing here is journaled: step inputs record header values that hold
//! a secret as [`REDACTED`].
//!
//! The second net is here too: the engine teaches the runtime's [`Redactor`]
//! every value it resolves, before the request that carries it is sent, and
//! scrubs every journal write with it ([`scrub_writes`]) just before the store
//! sees it: a downstream that echoes an `Authorization` header or the query
//! string into a response body (a step's output, the text of a `fail`, the run's
//! output) is journaled with `***` where the secret was. The journal is the one
//! place a run's data is written, so the admin API's views of runs, which read it
//! back, show the same.
//!
//! [`missing_secrets`] is the deploy-time check: every `secrets.NAME` a program
//! mentions (in a workflow, or in a connection a workflow uses), with the
//! workflows that need it, that the source does not have. It is computed from the
//! IR's JSON form, so a new place in the IR that holds an expression is covered
//! without a change here.

use crate::outbound::step::Secrets;
use crate::store::{BoxFuture, RunOutcome, StepOutcome, Write};
use crate::vault::{Redactor, Scrubber, SecretStorage, SecretString, Vault};
use flowc_compiler::ir::Program;
use flowc_compiler::value::{SecretPart, Value};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

    /// Teaches `redactor` every value resolved: a secret set while the server
    /// runs is scrubbed from the first request that sends it on.
    pub fn teach(&self, redactor: &Redactor) {
        redactor.learn_all(self.values.values());
    }
}

/// Scrubs every JSON value `writes` carry (step inputs, outputs and errors,
/// recorded values, the run's output or error) of the secrets `scrubber` knows.
/// Nothing is looked at when it knows none.
pub fn scrub_writes(scrubber: &Scrubber, writes: &mut [Write]) {
    if scrubber.is_empty() {
        return;
    }
    for write in writes {
        match write {
            Write::Status(_) => {}
            Write::StepStarted { input, .. } => {
                if let Some(input) = input {
                    scrubber.scrub_json(input);
                }
            }
            Write::StepFinished { outcome, .. } => match outcome {
                StepOutcome::Succeeded(json) | StepOutcome::Failed(json) => {
                    scrubber.scrub_json(json);
                }
            },
            Write::Record { output, .. } => {
                scrubber.scrub_json(output);
            }
            Write::Finish(outcome) => scrub_outcome(scrubber, outcome),
            Write::Emit { payload, .. } => {
                scrubber.scrub_json(payload);
            }
            Write::SetContext { value, .. } => {
                if let Some(value) = value {
                    scrubber.scrub_json(value);
                }
            }
            Write::OpenWait(wait) => {
                if let Some(detail) = &mut wait.detail {
                    scrubber.scrub_json(detail);
                }
            }
        }
    }
}

/// Scrubs a run's output or error.
pub fn scrub_outcome(scrubber: &Scrubber, outcome: &mut RunOutcome) {
    match outcome {
        RunOutcome::Succeeded(json) | RunOutcome::Failed(json) => {
            scrubber.scrub_json(json);
        }
        RunOutcome::Cancelled | RunOutcome::Waiting => {}
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

/// A secret a program mentions that the vault does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MissingSecret {
    pub name: String,
    /// The workflows that mention it, directly or through a connection they use;
    /// empty for a secret only an unused connection mentions.
    pub workflows: Vec<String>,
}

/// Every `secrets.NAME` the program mentions, with the workflows that need it.
pub fn referenced_secrets(program: &Program) -> BTreeMap<String, BTreeSet<String>> {
    let json = serde_json::to_value(program).unwrap_or(Json::Null);
    let mut by_connection: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut all = BTreeSet::new();
    scan(&json, &mut all, &mut BTreeSet::new());
    let mut referenced: BTreeMap<String, BTreeSet<String>> = all
        .into_iter()
        .map(|name| (name, BTreeSet::new()))
        .collect();
    for connection in json["connections"].as_array().into_iter().flatten() {
        let mut names = BTreeSet::new();
        scan(connection, &mut names, &mut BTreeSet::new());
        if let Some(name) = connection["name"].as_str() {
            by_connection.insert(name.to_string(), names);
        }
    }
    for workflow in json["workflows"].as_array().into_iter().flatten() {
        let Some(workflow_name) = workflow["name"].as_str() else {
            continue;
        };
        let (mut names, mut connections) = (BTreeSet::new(), BTreeSet::new());
        scan(workflow, &mut names, &mut connections);
        for connection in &connections {
            names.extend(by_connection.get(connection).into_iter().flatten().cloned());
        }
        for name in names {
            referenced
                .entry(name)
                .or_default()
                .insert(workflow_name.to_string());
        }
    }
    referenced
}

/// The secrets `program` mentions that `source` does not have, sorted by name.
/// The error is the source's own (a message without any secret value).
pub async fn missing_secrets(
    program: &Program,
    source: &dyn SecretSource,
) -> Result<Vec<MissingSecret>, String> {
    let mut missing = Vec::new();
    for (name, workflows) in referenced_secrets(program) {
        if source.get(&name).await?.is_none() {
            missing.push(MissingSecret {
                name,
                workflows: workflows.into_iter().collect(),
            });
        }
    }
    Ok(missing)
}

/// Collects the names of `{"expr": "secret", "name": …}` nodes and of the
/// connections `{"connection": "…"}` fields name, anywhere under `json`.
fn scan(json: &Json, secrets: &mut BTreeSet<String>, connections: &mut BTreeSet<String>) {
    match json {
        Json::Object(map) => {
            if map.get("expr").and_then(Json::as_str) == Some("secret")
                && let Some(name) = map.get("name").and_then(Json::as_str)
            {
                secrets.insert(name.to_string());
            }
            if let Some(name) = map.get("connection").and_then(Json::as_str) {
                connections.insert(name.to_string());
            }
            for value in map.values() {
                scan(value, secrets, connections);
            }
        }
        Json::Array(items) => {
            for item in items {
                scan(item, secrets, connections);
            }
        }
        _ => {}
    }
}

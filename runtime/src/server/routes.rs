//! Which workflow a webhook request starts: the method + path registry.
//!
//! [`Routes`] is built from the store's active deployments, oldest first, and
//! replaced whole when deployments change ([`Handle::reload`](super::Handle)). A
//! method and path belong to at most one active workflow: the compiler refuses two
//! claims within one program (E0501), and [`deploy`] refuses to activate a program
//! whose claims collide with a deployment that stays active (HTTP 409 for the admin
//! API). Should the database still hold two active claims (written by another
//! tool), the older deployment keeps the path.

use crate::store::{self, Deployed, Deployment, DeploymentId, Store};
use flowc_compiler::ir::{Expr, Program, Respond, Trigger};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One `on webhook` trigger of one active workflow.
#[derive(Debug)]
pub struct Route {
    pub deployment: DeploymentId,
    pub workflow: String,
    pub method: String,
    pub path: String,
    pub program: Arc<Program>,
    pub verify: Option<Expr>,
    pub idempotency_key: Option<Expr>,
    pub respond: Respond,
}

/// Every route, by path, then method.
#[derive(Debug, Default)]
pub struct Routes {
    paths: HashMap<String, BTreeMap<String, Arc<Route>>>,
}

/// What a request's method and path find.
#[derive(Debug)]
pub enum Lookup {
    Found(Arc<Route>),
    /// The path exists, not with this method: the methods it has, for `Allow`.
    WrongMethod(String),
    NotFound,
}

impl Routes {
    /// The routes of `deployments` (oldest first: an older claim wins).
    pub fn new(deployments: &[Deployment]) -> Routes {
        let mut routes = Routes::default();
        for deployment in deployments {
            for claim in claims(&deployment.program) {
                let methods = routes.paths.entry(claim.path.clone()).or_default();
                if methods.contains_key(&claim.method) {
                    continue;
                }
                let Some(Trigger::Webhook {
                    verify,
                    idempotency_key,
                    respond,
                    ..
                }) = deployment
                    .program
                    .workflow(&claim.workflow)
                    .and_then(|workflow| workflow.triggers.get(claim.trigger))
                else {
                    continue;
                };
                let route = Route {
                    deployment: deployment.id.clone(),
                    workflow: claim.workflow.clone(),
                    method: claim.method.clone(),
                    path: claim.path.clone(),
                    program: Arc::clone(&deployment.program),
                    verify: verify.clone(),
                    idempotency_key: idempotency_key.clone(),
                    respond: *respond,
                };
                methods.insert(claim.method, Arc::new(route));
            }
        }
        routes
    }

    /// The route for `method` (any case) and `path` (exact).
    pub fn lookup(&self, method: &str, path: &str) -> Lookup {
        let Some(methods) = self.paths.get(path) else {
            return Lookup::NotFound;
        };
        match methods.get(&method.to_ascii_uppercase()) {
            Some(route) => Lookup::Found(Arc::clone(route)),
            None => Lookup::WrongMethod(methods.keys().cloned().collect::<Vec<_>>().join(", ")),
        }
    }

    /// Every route, sorted by path and method.
    pub fn all(&self) -> Vec<Arc<Route>> {
        let mut all: Vec<_> = self
            .paths
            .values()
            .flat_map(|methods| methods.values().cloned())
            .collect();
        all.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        all
    }
}

/// One webhook claim of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Upper case.
    pub method: String,
    pub path: String,
    pub workflow: String,
    /// The index of the trigger in the workflow's triggers.
    pub trigger: usize,
}

/// The `on webhook` claims of a program, in workflow and trigger order.
pub fn claims(program: &Program) -> Vec<Claim> {
    let mut claims = Vec::new();
    for workflow in &program.workflows {
        for (index, trigger) in workflow.triggers.iter().enumerate() {
            if let Trigger::Webhook { method, path, .. } = trigger {
                claims.push(Claim {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    workflow: workflow.name.clone(),
                    trigger: index,
                });
            }
        }
    }
    claims
}

/// Why [`deploy`] refused a program.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A method and path the program claims belong to a workflow of another
    /// deployment that stays active. The admin API answers 409.
    #[error(
        "{method} {path} is already claimed by workflow `{owner}` of active deployment \
         `{deployment}`; deactivate it or move one of the webhooks"
    )]
    Conflict {
        method: String,
        path: String,
        workflow: String,
        owner: String,
        deployment: DeploymentId,
    },
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Stores `program` and makes it active, unless one of its webhook claims
/// collides with a deployment that stays active (one that defines none of the
/// program's workflows: the others are deactivated by activation).
pub async fn deploy(store: &dyn Store, program: &Program) -> Result<Deployed, DeployError> {
    check_claims(store, program, None).await?;
    let deployed = store.deploy(program).await?;
    store.activate(&deployed.id).await?;
    Ok(deployed)
}

/// Activates a stored deployment under the same rule as [`deploy`]; returns the
/// deployments activation replaced. A missing deployment is a store
/// `NotFound`.
pub async fn activate(
    store: &dyn Store,
    deployment: &str,
) -> Result<Vec<DeploymentId>, DeployError> {
    let stored = store
        .get_deployment(deployment)
        .await?
        .ok_or_else(|| store::Error::NotFound {
            kind: "deployment",
            id: deployment.to_string(),
        })?;
    check_claims(store, &stored.program, Some(deployment)).await?;
    Ok(store.activate(deployment).await?)
}

/// Refuses `program` when one of its claims belongs to an active deployment that
/// activating it would leave active (`itself` is never a conflict).
async fn check_claims(
    store: &dyn Store,
    program: &Program,
    itself: Option<&str>,
) -> Result<(), DeployError> {
    let names: BTreeSet<&str> = program.workflows.iter().map(|w| w.name.as_str()).collect();
    let active = store.active_deployments().await?;
    let staying: Vec<&Deployment> = active
        .iter()
        .filter(|d| Some(d.id.as_str()) != itself)
        .filter(|d| !d.workflows.iter().any(|w| names.contains(w.as_str())))
        .collect();
    for claim in claims(program) {
        for deployment in &staying {
            if let Some(owner) = claims(&deployment.program)
                .into_iter()
                .find(|other| other.method == claim.method && other.path == claim.path)
            {
                return Err(DeployError::Conflict {
                    method: claim.method,
                    path: claim.path,
                    workflow: claim.workflow,
                    owner: owner.workflow,
                    deployment: deployment.id.clone(),
                });
            }
        }
    }
    Ok(())
}

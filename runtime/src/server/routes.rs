//! Which workflow a webhook request starts: the method + path registry.
//!
//! [`Routes`] is built from the store's active deployments, oldest first, and
//! replaced whole when deployments change ([`Handle::reload`](super::Handle)). A
//! method and path belong to at most one active workflow: the compiler refuses two
//! claims within one program (E0501), and [`deploy`] refuses to activate a program
//! whose claims collide with a deployment that stays active (HTTP 409 for the admin
//! API). Should the database still hold two active claims (written by another
//! tool), the older deployment keeps the path.
//!
//! An `await webhook` step claims its method and path like a trigger does
//! ([`claims`] walks every workflow body, nested blocks included): a request
//! there starts no run but is stored for the runs waiting on it
//! ([`RouteKind::Await`]). The awaits of one workflow on one path share it, and
//! when that workflow also has an `on webhook` trigger there, the request starts
//! its run and is offered to the waiting runs as well.
//!
//! Each route carries its deployment's evaluator ([`Evaluator`]), the engine's,
//! so the expressions a request evaluates (the idempotency key) get hot with
//! those of the deployment's runs; its `program` is the copy that evaluator
//! knows, and the key is read from it rather than copied.

use crate::jit::Evaluator;
use crate::store::{self, Deployed, Deployment, DeploymentId, Store};
use flowc_compiler::ir::{Expr, Program, Respond, StepAction, Stmt, StmtKind, Trigger};
use flowc_compiler::ty::Ty;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One `on webhook` trigger, or the `await webhook` steps, of one active
/// workflow on one method and path.
#[derive(Debug)]
pub struct Route {
    pub deployment: DeploymentId,
    pub workflow: String,
    pub method: String,
    pub path: String,
    pub program: Arc<Program>,
    /// Evaluates the expressions of `program`.
    pub evaluator: Arc<Evaluator>,
    /// The trigger's `verify:`, or the first await's `verify` option.
    pub verify: Option<Expr>,
    /// The index of the `on webhook` trigger in the workflow's triggers (`None`
    /// for a path only `await webhook` steps claim).
    pub trigger: Option<usize>,
    pub respond: Respond,
    pub kind: RouteKind,
}

/// What a request to a route does.
#[derive(Debug)]
pub enum RouteKind {
    /// An `on webhook` trigger: the request starts a run. `awaited` is set when
    /// the same workflow also awaits this method and path; the body is then
    /// offered to its waiting runs too.
    Trigger { awaited: Option<Awaited> },
    /// Only `await webhook` steps claim the path: the request is stored for the
    /// waiting runs and starts nothing.
    Await(Awaited),
}

impl Route {
    /// The trigger's `idempotency_key:`, in `program` (so its evaluator knows it).
    pub fn idempotency_key(&self) -> Option<&Expr> {
        match self
            .program
            .workflow(&self.workflow)?
            .triggers
            .get(self.trigger?)?
        {
            Trigger::Webhook {
                idempotency_key, ..
            } => idempotency_key.as_ref(),
            _ => None,
        }
    }

    /// The `await webhook` steps this route's requests are offered to.
    pub fn awaited(&self) -> Option<&Awaited> {
        match &self.kind {
            RouteKind::Trigger { awaited } => awaited.as_ref(),
            RouteKind::Await(awaited) => Some(awaited),
        }
    }
}

/// The `await webhook` steps of one workflow on one method and path.
#[derive(Debug)]
pub struct Awaited {
    /// `webhook:METHOD /path`: the topic their waits listen on.
    pub topic: String,
    /// The body types they declare (`json` without `: T`), each once: a body
    /// is accepted when one of them accepts it.
    pub bodies: Vec<Ty>,
}

/// Every route, by path, then method.
#[derive(Debug, Default)]
pub struct Routes {
    paths: HashMap<String, BTreeMap<String, Arc<Route>>>,
    /// The programs of the active deployments, oldest first (what declares the
    /// events `POST /api/v1/events/{name}` accepts).
    programs: Vec<Arc<Program>>,
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
    /// The routes of `deployments` (oldest first: an older claim wins), each
    /// with the evaluator `evaluator` gives for its deployment, which must know
    /// the deployment's `program`.
    pub fn new(
        deployments: &[Deployment],
        evaluator: impl Fn(&Deployment) -> Arc<Evaluator>,
    ) -> Routes {
        let mut routes = Routes::default();
        for deployment in deployments {
            let deployment_evaluator = evaluator(deployment);
            routes.programs.push(Arc::clone(&deployment.program));
            let mut awaited = awaited_by_route(&deployment.program);
            for claim in claims(&deployment.program) {
                let methods = routes.paths.entry(claim.path.clone()).or_default();
                if methods.contains_key(&claim.method) {
                    continue;
                }
                let key = (claim.method.clone(), claim.path.clone());
                // The awaits of this claim's workflow on its method and path.
                let mut awaits = awaited
                    .remove(&key)
                    .filter(|awaiting| awaiting.workflow == claim.workflow);
                let (verify, respond, kind) = match claim.trigger {
                    Some(index) => {
                        let Some(Trigger::Webhook {
                            verify, respond, ..
                        }) = deployment
                            .program
                            .workflow(&claim.workflow)
                            .and_then(|workflow| workflow.triggers.get(index))
                        else {
                            continue;
                        };
                        let awaited = awaits.take().map(|awaiting| awaiting.awaited);
                        (verify.clone(), *respond, RouteKind::Trigger { awaited })
                    }
                    None => {
                        let Some(awaiting) = awaits.take() else {
                            continue;
                        };
                        (
                            awaiting.verify,
                            Respond::Accepted,
                            RouteKind::Await(awaiting.awaited),
                        )
                    }
                };
                let route = Route {
                    deployment: deployment.id.clone(),
                    workflow: claim.workflow.clone(),
                    method: claim.method.clone(),
                    path: claim.path.clone(),
                    program: Arc::clone(&deployment.program),
                    evaluator: Arc::clone(&deployment_evaluator),
                    verify,
                    trigger: claim.trigger,
                    respond,
                    kind,
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

    /// The programs of the active deployments, oldest first.
    pub fn programs(&self) -> &[Arc<Program>] {
        &self.programs
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
    /// The index of the trigger in the workflow's triggers; `None` for the
    /// `await webhook` steps of the workflow.
    pub trigger: Option<usize>,
}

/// The webhook claims of a program, in workflow order: each workflow's `on
/// webhook` triggers, then the methods and paths its `await webhook` steps name
/// that its triggers do not (each once).
pub fn claims(program: &Program) -> Vec<Claim> {
    let mut claims = Vec::new();
    for workflow in &program.workflows {
        let first = claims.len();
        for (index, trigger) in workflow.triggers.iter().enumerate() {
            if let Trigger::Webhook { method, path, .. } = trigger {
                claims.push(Claim {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    workflow: workflow.name.clone(),
                    trigger: Some(index),
                });
            }
        }
        walk_awaits(&workflow.body, &mut |method, path, _, _| {
            let method = method.to_ascii_uppercase();
            let known = claims[first..]
                .iter()
                .any(|claim: &Claim| claim.method == method && claim.path == path);
            if !known {
                claims.push(Claim {
                    method,
                    path: path.to_string(),
                    workflow: workflow.name.clone(),
                    trigger: None,
                });
            }
        });
    }
    claims
}

/// The `await webhook` steps of one workflow on one method and path, with the
/// first one's `verify`.
struct Awaiting {
    workflow: String,
    verify: Option<Expr>,
    awaited: Awaited,
}

/// The awaits of a program by (upper-case method, path), of the first workflow
/// that awaits each.
fn awaited_by_route(program: &Program) -> HashMap<(String, String), Awaiting> {
    let mut found: HashMap<(String, String), Awaiting> = HashMap::new();
    for workflow in &program.workflows {
        walk_awaits(&workflow.body, &mut |method, path, body, verify| {
            let key = (method.to_ascii_uppercase(), path.to_string());
            let awaiting = found.entry(key).or_insert_with(|| Awaiting {
                workflow: workflow.name.clone(),
                verify: verify.cloned(),
                awaited: Awaited {
                    topic: format!("webhook:{method} {path}"),
                    bodies: Vec::new(),
                },
            });
            if awaiting.workflow == workflow.name && !awaiting.awaited.bodies.contains(body) {
                awaiting.awaited.bodies.push(body.clone());
            }
        });
    }
    found
}

/// Calls `found` with the method, path, body type and `verify` of every `await
/// webhook` step in `stmts`, nested blocks included, in source order.
fn walk_awaits<'p>(
    stmts: &'p [Stmt],
    found: &mut dyn FnMut(&'p str, &'p str, &'p Ty, Option<&'p Expr>),
) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Step {
                action:
                    StepAction::AwaitWebhook {
                        method,
                        path,
                        body,
                        verify,
                        ..
                    },
                ..
            } => found(method, path, body, verify.as_ref()),
            StmtKind::If {
                then, otherwise, ..
            } => {
                walk_awaits(then, found);
                walk_awaits(otherwise, found);
            }
            StmtKind::Match { arms, .. } => {
                for arm in arms {
                    walk_awaits(&arm.body, found);
                }
            }
            StmtKind::Parallel { branches } => {
                for branch in branches {
                    walk_awaits(branch, found);
                }
            }
            StmtKind::Try { body, handler, .. } => {
                walk_awaits(body, found);
                walk_awaits(handler, found);
            }
            StmtKind::For(each) | StmtKind::Collect { each, .. } => walk_awaits(&each.body, found),
            _ => {}
        }
    }
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

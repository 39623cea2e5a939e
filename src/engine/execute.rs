//! Executing a plan: steps start as soon as the steps they wait for are done, up to a bound of
//! concurrent steps. A failure stops new work, lets running steps finish, and reports what was done
//! and what was not; a rerun plans again from live state and continues from there.
//!
//! A step may also reference an attribute of a node that has no step of its own but whose
//! attribute is not known yet (a rerun finds the db instance an interrupted apply created still
//! `creating`, with no address): the step then waits for it through the provider first.
//!
//! An interrupt (Ctrl-C) stops starting steps as a failure does; the steps running then finish
//! their calls (readiness waits end early on their own, see `crate::context::Cancel::sleep`).

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use futures::future::LocalBoxFuture;
use futures::stream::FuturesUnordered;

use crate::context::Events;
use crate::error::{Error, Result};
use crate::plan::Action;
use crate::plan::build::{Part, Step, StepId};
use crate::provider::{Op, Provider, Scope};
use crate::resources::{self, Found, Key, Observed, ReplacePolicy, Spec};
use crate::stack::Resolver;

/// At most this many steps at once; AWS throttles bursts and the user reads the output.
const MAX_PARALLEL: usize = 8;

#[derive(Debug, Default)]
pub struct Report {
    pub done: Vec<String>,
    pub failed: Vec<(String, Error)>,
    pub not_started: Vec<String>,
    /// An interrupt stopped the run.
    pub interrupted: bool,
    /// Attributes after apply, for outputs.
    pub resolver: Resolver,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.not_started.is_empty() && !self.interrupted
    }
}

/// What finished: a step, or a wait for the attributes of a node without a step.
enum Finished {
    Step(StepId, Key, Result<Option<Observed>>),
    Wait(String, Result<Observed>),
    /// Steps started together as one slot (see [`resources::batch_key`]).
    Batch(Vec<Finished>),
}

/// Runs `steps` (in a valid order, from the planner) through `provider`. `found`: the live nodes
/// the plan was made from, for waiting on those without a step. `waits`: nodes without a step
/// that are still becoming ready (the plan's `waiting`); apply ends only when they are ready.
pub async fn execute<P: Provider>(
    provider: &P,
    scope: Scope<'_>,
    progress: &dyn Events,
    steps: Vec<Step>,
    resolver: Resolver,
    found: &[Found],
    waits: &[String],
) -> Report {
    let never = std::future::pending();
    execute_until(
        provider, scope, progress, steps, resolver, found, waits, never,
    )
    .await
}

// The executor's inputs are the plan's parts; grouping them in a struct would only rename them.
#[allow(clippy::too_many_arguments)]
/// [`execute`], interrupted when `interrupt` resolves: nothing new starts after that, running
/// steps finish, and the report says it was interrupted.
pub async fn execute_until<P: Provider>(
    provider: &P,
    scope: Scope<'_>,
    progress: &dyn Events,
    steps: Vec<Step>,
    mut resolver: Resolver,
    found: &[Found],
    waits: &[String],
    interrupt: impl std::future::Future<Output = ()>,
) -> Report {
    let mut interrupt = std::pin::pin!(interrupt);
    let ids: BTreeSet<StepId> = steps.iter().map(|s| s.id.clone()).collect();
    // Every node as it is now: found by the plan, then as each step leaves it.
    let mut live: BTreeMap<String, (Key, Observed)> = found
        .iter()
        .map(|f| (f.address.clone(), (f.key.clone(), f.observed.clone())))
        .collect();
    let mut pending: BTreeMap<StepId, Step> =
        steps.into_iter().map(|s| (s.id.clone(), s)).collect();
    let mut done: BTreeSet<StepId> = BTreeSet::new();
    // Nodes without a step whose attributes were waited for; and those being waited for.
    let mut settled: BTreeSet<String> = BTreeSet::new();
    let mut waiting: BTreeSet<String> = BTreeSet::new();
    let mut report = Report::default();
    let mut stopping = false;

    // The provider borrows the context, which cannot move into spawned tasks; run its futures
    // as local futures polled together instead.
    let mut running: FuturesUnordered<LocalBoxFuture<'_, Finished>> = FuturesUnordered::new();
    for addr in waits {
        if let Some((key, observed)) = live.get(addr)
            && !observed.ready()
            && waiting.insert(addr.clone())
        {
            progress.line(addr, "still becoming ready: waiting for it");
            running.push(wait(provider, scope, &resolver, addr, key, observed));
        }
    }
    loop {
        if !stopping {
            let (ready, to_wait) = Progressing {
                ids: &ids,
                done: &done,
                settled: &settled,
                live: &live,
                resolver: &resolver,
            }
            .ready(&pending);
            for dep in to_wait {
                if running.len() >= MAX_PARALLEL || waiting.contains(&dep) {
                    continue;
                }
                let (key, observed) = &live[&dep];
                running.push(wait(provider, scope, &resolver, &dep, key, observed));
                waiting.insert(dep);
            }
            for slot in slots(ready, &pending) {
                if running.len() >= MAX_PARALLEL {
                    break;
                }
                let mut futures = Vec::new();
                for addr in slot {
                    let step = pending.remove(&addr).expect("ready step");
                    let spec = step
                        .desired
                        .then(|| resources::spec(scope.stack, &step.key, &resolver, scope.env));
                    futures.push(async move {
                        let (id, key) = (step.id.clone(), step.key.clone());
                        let r = run_step(provider, scope, progress, step, spec).await;
                        Finished::Step(id, key, r)
                    });
                }
                if futures.len() == 1 {
                    let f = futures.pop().expect("one step");
                    running.push(Box::pin(f));
                } else {
                    running.push(Box::pin(async move {
                        Finished::Batch(futures::future::join_all(futures).await)
                    }));
                }
            }
        }
        let next = if report.interrupted {
            running.next().await
        } else {
            tokio::select! {
                f = running.next() => f,
                () = interrupt.as_mut() => {
                    report.interrupted = true;
                    stopping = true;
                    continue;
                }
            }
        };
        let Some(finished) = next else {
            break;
        };
        let finished = match finished {
            Finished::Batch(all) => all,
            one => vec![one],
        };
        for finished in finished {
            match finished {
                // A rule's early revoke leaves the node to the rule's own step.
                Finished::Step(id, _, Ok(_)) if id.part != Part::Node => {
                    report.done.push(id.to_string());
                    done.insert(id);
                }
                Finished::Step(id, key, Ok(observed)) => {
                    let addr = id.address.clone();
                    match observed {
                        Some(o) => {
                            resolver.set(&addr, o.attrs());
                            // Not ready yet (an instance with its address, still `backing-up`):
                            // wait for it now, whether or not a step uses it, so that apply ends
                            // with every node ready, while the steps that need only its attributes
                            // run meanwhile.
                            if !o.ready() && !stopping && waiting.insert(addr.clone()) {
                                let w = wait(provider, scope, &resolver, &addr, &key, &o);
                                running.push(w);
                            }
                            live.insert(addr.clone(), (key, o));
                        }
                        None => {
                            live.remove(&addr);
                        }
                    }
                    done.insert(id);
                    report.done.push(addr);
                }
                Finished::Wait(addr, Ok(observed)) => {
                    resolver.set(&addr, observed.attrs());
                    waiting.remove(&addr);
                    let still = unknown_attrs(&resolver, &addr);
                    let ready = observed.ready();
                    if let Some(entry) = live.get_mut(&addr) {
                        entry.1 = observed;
                    }
                    if still.is_empty() && ready {
                        settled.insert(addr);
                    } else {
                        let e = Error::wait(
                            &addr,
                            if still.is_empty() {
                                "still not ready after waiting for it".into()
                            } else {
                                format!("{} still unknown after waiting for it", still.join(", "))
                            },
                        );
                        progress.line(&addr, &format!("failed: {}", e.message_at(&addr)));
                        report.failed.push((addr, e));
                        stopping = true;
                    }
                }
                Finished::Step(id, _, Err(e)) => {
                    let shown = id.to_string();
                    progress.line(&shown, &format!("failed: {}", e.message_at(&id.address)));
                    report.failed.push((shown, e));
                    stopping = true;
                }
                Finished::Wait(addr, Err(e)) => {
                    progress.line(&addr, &format!("failed: {}", e.message_at(&addr)));
                    report.failed.push((addr, e));
                    stopping = true;
                }
                Finished::Batch(_) => unreachable!("batches are not nested"),
            }
        }
    }
    report.not_started = pending.into_keys().map(|id| id.to_string()).collect();
    report.resolver = resolver;
    report
}

/// What the executor knows when it looks for steps to start.
struct Progressing<'a> {
    ids: &'a BTreeSet<StepId>,
    done: &'a BTreeSet<StepId>,
    settled: &'a BTreeSet<String>,
    live: &'a BTreeMap<String, (Key, Observed)>,
    resolver: &'a Resolver,
}

impl Progressing<'_> {
    /// The pending steps that can start, and the nodes without a step (or whose step returned
    /// before they were ready) that some pending step must wait for first.
    fn ready(&self, pending: &BTreeMap<StepId, Step>) -> (Vec<StepId>, BTreeSet<String>) {
        let mut ready = Vec::new();
        let mut to_wait = BTreeSet::new();
        for s in pending.values() {
            let mut blocked = false;
            for id in &s.after {
                if self.ids.contains(id) && !self.done.contains(id) {
                    blocked = true;
                    continue;
                }
                let a = &id.address;
                if self.settled.contains(a) {
                    continue;
                }
                let Some((_, o)) = self.live.get(a) else {
                    continue;
                };
                // A step that finished has told its attributes; one that returned before its
                // node was ready (an instance is addressed before `available`) holds back only
                // the steps that use the node itself.
                let attrs = !self.ids.contains(id) && !unknown_attrs(self.resolver, a).is_empty();
                if attrs || (resources::uses_ready(&s.key) && !o.ready()) {
                    blocked = true;
                    to_wait.insert(a.clone());
                }
            }
            if !blocked {
                ready.push(s.id.clone());
            }
        }
        (ready, to_wait)
    }
}

/// Ready steps with the same batch key start together, as one slot: the kind sends their
/// writes in one call (a group's new rules in one AuthorizeSecurityGroupIngress).
fn slots(ready: Vec<StepId>, pending: &BTreeMap<StepId, Step>) -> Vec<Vec<StepId>> {
    let mut slots: Vec<Vec<StepId>> = Vec::new();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for id in ready {
        match resources::batch_key(&pending[&id].key) {
            Some(k) => match by_key.get(&k) {
                Some(&i) => slots[i].push(id),
                None => {
                    by_key.insert(k, slots.len());
                    slots.push(vec![id]);
                }
            },
            None => slots.push(vec![id]),
        }
    }
    slots
}

/// Waits through the provider until the node `address` (now `observed`) has its unknown
/// attributes and is ready.
fn wait<'a, P: Provider>(
    provider: &'a P,
    scope: Scope<'a>,
    resolver: &Resolver,
    address: &str,
    key: &Key,
    observed: &Observed,
) -> LocalBoxFuture<'a, Finished> {
    let attrs = unknown_attrs(resolver, address);
    let (address, key, observed) = (address.to_string(), key.clone(), observed.clone());
    Box::pin(async move {
        let names: Vec<&str> = attrs.iter().map(String::as_str).collect();
        let r = provider
            .wait_for(scope, &address, &key, &observed, &names)
            .await;
        Finished::Wait(address, r)
    })
}

/// The attributes of `address` the resolver has marked unknown.
fn unknown_attrs(resolver: &Resolver, address: &str) -> Vec<String> {
    let prefix = format!("{address}.");
    resolver
        .outputs
        .iter()
        .filter(|(k, v)| v.is_none() && k.starts_with(&prefix))
        .map(|(k, _)| k[prefix.len()..].to_string())
        .collect()
}

async fn run_step<P: Provider>(
    provider: &P,
    scope: Scope<'_>,
    progress: &dyn Events,
    step: Step,
    spec: Option<Spec>,
) -> Result<Option<Observed>> {
    // Progress and errors name the step; the provider is told the node it writes.
    let shown = step.id.to_string();
    let address = shown.as_str();
    // Re-diff with the attributes now known (ids of groups just created, the db address): what
    // was "(known after apply)" in the plan is concrete now, and may even turn out unchanged.
    let change = match resources::diff(address, spec.as_ref(), step.observed.as_ref()) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(step.observed),
        Err(e) => return Err(Error::other(e.message.clone()).at(address)),
    };
    progress.line(address, &format!("{}...", verb(&change.action)));
    let (key, observed) = (&step.key, step.observed.as_ref());
    let apply = |op| provider.apply(scope, &step.id.address, key, op);
    let result = match (change.action, spec.as_ref(), observed) {
        (Action::Create, Some(spec), existing) => apply(Op::Create { spec, existing }).await,
        (Action::Update, Some(spec), Some(observed)) => {
            apply(Op::Update {
                spec,
                observed,
                change: &change,
            })
            .await
        }
        (Action::Adopt, Some(spec), Some(observed)) => {
            apply(Op::Adopt {
                spec,
                observed,
                change: &change,
            })
            .await
        }
        (Action::Delete, _, Some(observed)) => {
            apply(Op::Delete {
                observed,
                replacing: None,
            })
            .await
        }
        (Action::Replace, Some(spec), Some(observed)) => replace(apply, key, spec, observed).await,
        (action, spec, observed) => Err(Error::internal(
            Some(address),
            format!(
                "a {action:?} with{} a spec and with{} a live resource",
                if spec.is_some() { "" } else { "out" },
                if observed.is_some() { "" } else { "out" },
            ),
        )),
    };
    if result.is_ok() {
        progress.line(address, past(&change.action));
    }
    result
}

/// A replace, in the order the kind's policy asks for.
async fn replace<'a, F, Fut>(
    apply: F,
    key: &Key,
    spec: &'a Spec,
    observed: &'a Observed,
) -> Result<Option<Observed>>
where
    F: Fn(Op<'a>) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Observed>>>,
{
    match resources::replace_policy(key) {
        ReplacePolicy::DeleteBeforeCreate => {
            apply(Op::Delete {
                observed,
                replacing: Some(spec),
            })
            .await?;
            apply(Op::Create {
                spec,
                existing: None,
            })
            .await
        }
        ReplacePolicy::CreateOnly => {
            apply(Op::Create {
                spec,
                existing: Some(observed),
            })
            .await
        }
    }
}

fn past(a: &Action) -> &'static str {
    match a {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Adopt => "adopted",
    }
}

fn verb(a: &Action) -> &'static str {
    match a {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::Adopt => "adopting",
    }
}

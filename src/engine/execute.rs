//! Executing a plan: steps start as soon as the steps they wait for are done, up to a bound of
//! concurrent steps. A failure stops new work, lets running steps finish, and reports what was done
//! and what was not; a rerun plans again from live state and continues from there.

use std::collections::{BTreeMap, BTreeSet};

use super::Ctx;
use crate::error::{Error, Result};
use crate::plan::build::Step;
use crate::resources::{
    self, Key, Observed, Spec, as_variant, cognito_trigger, db_instance, function, security_group,
    user_pool,
};
use crate::stack::Resolver;

/// At most this many steps at once; AWS throttles bursts and the user reads the output.
const MAX_PARALLEL: usize = 8;

#[derive(Debug, Default)]
pub struct Report {
    pub done: Vec<String>,
    pub failed: Vec<(String, Error)>,
    pub not_started: Vec<String>,
    /// Attributes after apply, for outputs.
    pub resolver: Resolver,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.not_started.is_empty()
    }
}

pub async fn execute(ctx: &Ctx<'_>, steps: Vec<Step>, mut resolver: Resolver) -> Report {
    let addresses: BTreeSet<String> = steps.iter().map(|s| s.address.clone()).collect();
    let mut pending: BTreeMap<String, Step> =
        steps.into_iter().map(|s| (s.address.clone(), s)).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut report = Report::default();
    let mut stopping = false;

    // Adapters borrow the context, which cannot move into spawned tasks; run them as local
    // futures polled together instead.
    let mut futures = futures::stream::FuturesUnordered::new();
    loop {
        if !stopping {
            let ready: Vec<String> = pending
                .values()
                .filter(|s| {
                    s.after
                        .iter()
                        .all(|a| !addresses.contains(a) || done.contains(a))
                })
                .map(|s| s.address.clone())
                .collect();
            for addr in ready {
                if futures.len() >= MAX_PARALLEL {
                    break;
                }
                let step = pending.remove(&addr).expect("ready step");
                let spec = step
                    .desired
                    .then(|| resources::spec(ctx.stack, &step.key, &resolver, ctx.env));
                futures.push(run_step(ctx, step, spec));
            }
        }
        use futures::StreamExt;
        let Some((addr, result)) = futures.next().await else {
            break;
        };
        match result {
            Ok(observed) => {
                if let Some(o) = &observed {
                    resolver.set(&addr, o.attrs());
                }
                done.insert(addr.clone());
                report.done.push(addr);
            }
            Err(e) => {
                let msg = e.to_string();
                let msg = msg
                    .strip_prefix(&format!("{addr}: "))
                    .unwrap_or(&msg)
                    .to_string();
                ctx.progress.line(&addr, format!("failed: {msg}"));
                report.failed.push((addr, e));
                stopping = true;
            }
        }
    }
    report.not_started = pending.into_keys().collect();
    report.resolver = resolver;
    report
}

async fn run_step(
    ctx: &Ctx<'_>,
    step: Step,
    spec: Option<Spec>,
) -> (String, Result<Option<Observed>>) {
    let address = step.address.clone();
    // Re-diff with the attributes now known (ids of groups just created, the db address): what
    // was "(known after apply)" in the plan is concrete now, and may even turn out unchanged.
    let change = match resources::diff(&address, spec.as_ref(), step.observed.as_ref()) {
        Ok(Some(c)) => c,
        Ok(None) => return (address, Ok(step.observed)),
        Err(e) => {
            return (
                address.clone(),
                Err(Error::Other(format!("{address}: {}", e.message))),
            );
        }
    };
    ctx.progress
        .line(&address, format!("{}...", verb(&change.action)));
    use Observed as O;
    use Spec as S;
    let (s, o) = (spec.as_ref(), step.observed.as_ref());
    let result = match &step.key {
        Key::Group(_) => {
            security_group::aws::apply_group(
                ctx,
                &address,
                as_variant!(s, S::Group),
                as_variant!(o, O::Group),
                &change,
            )
            .await
        }
        Key::Rule { .. } => {
            security_group::aws::apply_rule(
                ctx,
                &address,
                as_variant!(s, S::Rule),
                as_variant!(o, O::Rule),
                &change,
            )
            .await
        }
        Key::DbInstance(_) => {
            let (s, o) = (as_variant!(s, S::DbInstance), as_variant!(o, O::DbInstance));
            db_instance::aws::apply(ctx, &address, s, o, &change).await
        }
        Key::Role(_) => {
            function::aws::apply_role(
                ctx,
                &address,
                as_variant!(s, S::Role),
                as_variant!(o, O::Role),
                &change,
            )
            .await
        }
        Key::Layer(_) => {
            function::aws::apply_layer(
                ctx,
                &address,
                as_variant!(s, S::Layer),
                as_variant!(o, O::Layer),
                &change,
            )
            .await
        }
        Key::Function(_) => {
            function::aws::apply(
                ctx,
                &address,
                as_variant!(s, S::Function),
                as_variant!(o, O::Function),
                &change,
            )
            .await
        }
        Key::UserPool(_) => {
            user_pool::aws::apply(
                ctx,
                &address,
                as_variant!(s, S::UserPool),
                as_variant!(o, O::UserPool),
                &change,
            )
            .await
        }
        Key::Trigger { .. } => {
            let (s, o) = (as_variant!(s, S::Trigger), as_variant!(o, O::Trigger));
            cognito_trigger::aws::apply(ctx, &address, s, o, &change).await
        }
        Key::Migration { .. } | Key::Seed(_) => {
            resources::migration::db::apply(ctx, &address, as_variant!(s, S::Migration), &change)
                .await
        }
    };
    if result.is_ok() {
        ctx.progress.line(&address, past(&change.action));
    }
    (address, result)
}

fn past(a: &crate::plan::Action) -> &'static str {
    use crate::plan::Action;
    match a {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Adopt => "adopted",
    }
}

fn verb(a: &crate::plan::Action) -> &'static str {
    use crate::plan::Action;
    match a {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::Adopt => "adopting",
    }
}

//! The real provider: reads every kind at once, each in a fixed number of batched calls, and
//! applies an operation by dispatching to the kind's adapter.

use std::collections::BTreeMap;

use super::{Live, Op, Provider, Scope};
use crate::aws::Clients;
use crate::context::{Cancel, Events};
use crate::error::{Error, Result};
use crate::resources::cognito::{trigger, user_pool};
use crate::resources::core::{Adapter, Ctx, LiveEnv};
use crate::resources::{
    Key, Observed, Spec, db_instance, function, migration, node_types, security_group,
};
use crate::settings::Settings;
use crate::stack::Stack;

pub struct AwsProvider<'a> {
    pub clients: &'a Clients,
    pub progress: &'a dyn Events,
    /// What ends the adapters' waits early (Ctrl-C).
    pub cancel: Cancel,
    pub settings: &'a Settings,
    /// The security groups this run created (see [`crate::resources::core::propagation`]).
    pub new_groups: crate::resources::core::propagation::NewGroups,
    /// Rule writes coalesced per group (see [`crate::resources::core::batch`]).
    pub batches: crate::resources::core::batch::Batches,
}

impl AwsProvider<'_> {
    fn ctx<'b>(&'b self, scope: Scope<'b>) -> Ctx<'b> {
        Ctx {
            clients: self.clients,
            stack: scope.stack,
            env: scope.env,
            progress: self.progress,
            cancel: self.cancel,
            settings: self.settings,
            new_groups: &self.new_groups,
            batches: &self.batches,
        }
    }
}

impl Provider for AwsProvider<'_> {
    async fn read(
        &self,
        stack: &Stack,
        db_endpoints: &BTreeMap<String, (String, u16)>,
    ) -> Result<Live> {
        let clients = self.clients;
        // Two dependent rounds at most: everything that needs no id from another read goes out
        // at once (the default VPC and subnets, groups with their rules, instances, functions,
        // tags, roles, layers, pools, the policies of declared trigger functions); what needs an
        // id from one of those follows it at once (each pool's DescribeUserPool, the tags and
        // policies of `auto` roles, the migration tables of the instances), without waiting for
        // the other kinds.
        let p = self.progress;
        let (
            mut env,
            groups,
            (dbs, migrations, versions),
            functions,
            (pools, triggers, summaries, function_lookups),
        ) = tokio::try_join!(
            reading(
                p,
                "the default VPC",
                security_group::aws::observe_env(clients, stack)
            ),
            reading(
                p,
                "security_groups",
                security_group::aws::read(clients, stack)
            ),
            reading(p, "db_instances", async {
                // Beside the instances, not after them: one round of reads either way.
                let (dbs, versions) = tokio::join!(
                    db_instance::aws::observe(clients, stack),
                    db_instance::aws::available_versions(clients, stack),
                );
                let dbs = dbs?;
                let db_attrs: Vec<_> = dbs
                    .iter()
                    .map(|f| f.clone().map(|o| db_instance::attrs(&o)))
                    .collect();
                // Connecting needs only the instances' addresses (or --db-endpoint).
                let env = LiveEnv {
                    db_endpoints: db_endpoints.clone(),
                    ..LiveEnv::default()
                };
                let migrations =
                    migration::db::observe(&self.settings.db, stack, &env, &db_attrs).await?;
                Ok::<_, Error>((dbs, migrations, versions))
            }),
            reading(p, "functions", function::aws::observe(clients, stack)),
            reading(p, "user_pools", async {
                let ((pools, all), (policies, function_lookups)) = tokio::try_join!(
                    // Triggers read the pools the pool kind described: one DescribeUserPool each.
                    user_pool::aws::observe(clients, stack),
                    trigger::aws::read_policies(clients, stack),
                )?;
                let triggers = trigger::aws::observe(clients, stack, &all, &policies).await?;
                Ok::<_, Error>((pools, triggers, all.summaries(), function_lookups))
            }),
        )?;
        env.db_endpoints = db_endpoints.clone();
        let (groups, rules) = security_group::aws::observe(stack, &env, groups);
        env.user_pools = summaries;
        env.lookups = functions.lookups;
        env.lookups.extend(function_lookups);
        env.engine_versions = versions;
        let mut found = Vec::new();
        found.extend(groups.into_iter().map(|f| f.map(Observed::Group)));
        found.extend(rules.into_iter().map(|f| f.map(Observed::Rule)));
        found.extend(dbs.into_iter().map(|f| f.map(Observed::DbInstance)));
        found.extend(migrations.into_iter().map(|f| f.map(Observed::Migration)));
        found.extend(functions.roles.into_iter().map(|f| f.map(Observed::Role)));
        found.extend(functions.layers.into_iter().map(|f| f.map(Observed::Layer)));
        found.extend(
            functions
                .functions
                .into_iter()
                .map(|f| f.map(Observed::Function)),
        );
        found.extend(pools.into_iter().map(|f| f.map(Observed::UserPool)));
        found.extend(triggers.into_iter().map(|f| f.map(Observed::Trigger)));
        Ok(Live { env, found })
    }

    async fn apply(
        &self,
        scope: Scope<'_>,
        address: &str,
        key: &Key,
        op: Op<'_>,
    ) -> Result<Option<Observed>> {
        let ctx = self.ctx(scope);
        let ctx = &ctx;
        // Per node type (the table in `resources`): narrow the operation to the type's spec and
        // observed state, run its adapter, and wrap what it returns.
        macro_rules! apply {
            ($($v:ident: $key:pat => $($node:ident)::+, $($adapter:ident)::+;)*) => {
                match key {
                    $($key => {
                        run::<crate::resources::$($adapter)::+>(
                            ctx,
                            address,
                            op,
                            |s| match s {
                                Spec::$v(s) => Some(s),
                                _ => None,
                            },
                            |o| match o {
                                Observed::$v(o) => Some(o),
                                _ => None,
                            },
                            Observed::$v,
                        )
                        .await
                    })*
                }
            };
        }
        node_types!(apply)
    }

    async fn wait_for(
        &self,
        scope: Scope<'_>,
        address: &str,
        _key: &Key,
        observed: &Observed,
        attrs: &[&str],
    ) -> Result<Observed> {
        match observed {
            // The only kind whose attributes can be missing on something that exists: an
            // instance has no endpoint until RDS has created it.
            Observed::DbInstance(o) => {
                db_instance::aws::wait_available(&self.ctx(scope), address, o)
                    .await
                    .map(Observed::DbInstance)
            }
            _ => Err(Error::internal(
                Some(address),
                format!(
                    "{} unknown, and there is nothing to wait for",
                    attrs.join(", ")
                ),
            )),
        }
    }
}

/// `read` for `kind`, named on the progress line while it runs.
async fn reading<T>(
    progress: &dyn Events,
    kind: &str,
    read: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    // Ended on drop too: a read that fails first cancels the others, whose names must not be
    // left on the terminal above the error.
    struct Reading<'a>(&'a dyn Events, &'a str);
    impl Drop for Reading<'_> {
        fn drop(&mut self) {
            self.0.done_reading(self.1);
        }
    }
    progress.reading(kind);
    let _reading = Reading(progress, kind);
    read.await
}

/// Runs one operation through adapter `A`. `spec_of`/`observed_of` narrow the dispatch enums to
/// the kind's types; a mismatch cannot come from a plan (addresses are typed) and is reported
/// rather than panicking.
async fn run<A: Adapter>(
    ctx: &Ctx<'_>,
    address: &str,
    op: Op<'_>,
    spec_of: impl Fn(&Spec) -> Option<&A::Spec>,
    observed_of: impl Fn(&Observed) -> Option<&A::Observed>,
    wrap: impl Fn(A::Observed) -> Observed,
) -> Result<Option<Observed>> {
    let mismatch = || Error::internal(Some(address), "a node of another kind");
    let spec = |s| spec_of(s).ok_or_else(mismatch);
    let observed = |o| observed_of(o).ok_or_else(mismatch);
    let out = match op {
        Op::Create {
            spec: s,
            existing: o,
        } => {
            let o = o.map(observed).transpose()?;
            A::create(ctx, address, spec(s)?, o).await?
        }
        Op::Update {
            spec: s,
            observed: o,
            change,
        } => A::update(ctx, address, spec(s)?, observed(o)?, change).await?,
        Op::Adopt {
            spec: s,
            observed: o,
            change,
        } => A::adopt(ctx, address, spec(s)?, observed(o)?, change).await?,
        Op::Delete {
            observed: o,
            replacing,
        } => {
            let replacing = replacing.map(spec).transpose()?;
            A::delete(ctx, address, observed(o)?, replacing).await?;
            return Ok(None);
        }
    };
    Ok(Some(wrap(out)))
}

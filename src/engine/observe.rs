//! Reading the live account: every kind at once, each in a fixed number of batched calls.

use crate::aws::Clients;
use crate::error::Result;
use crate::resources::{
    Found, LiveEnv, cognito_trigger, db_instance, function, security_group, user_pool,
};
use crate::stack::Stack;

/// Everything the planner needs from AWS.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub env: LiveEnv,
    pub found: Vec<Found>,
}

/// `db_endpoints`: `--db-endpoint` overrides, by instance identifier.
pub async fn observe(
    clients: &Clients,
    stack: &Stack,
    db_endpoints: &std::collections::BTreeMap<String, (String, u16)>,
) -> Result<Live> {
    let mut env = security_group::aws::observe_env(clients, stack).await?;
    env.db_endpoints = db_endpoints.clone();
    let (groups, dbs, functions, cognito) = tokio::try_join!(
        security_group::aws::observe(clients, stack, &env),
        db_instance::aws::observe(clients, stack, &env),
        function::aws::observe(clients, stack, &env),
        async {
            let (pools, all) = user_pool::aws::observe(clients, stack).await?;
            let triggers = cognito_trigger::aws::observe(clients, stack, &all).await?;
            Ok::<_, crate::error::Error>((pools, triggers, all.summaries()))
        },
    )?;
    env.user_pools = cognito.2;
    let migrations = crate::resources::migration::db::observe(stack, &env, &dbs).await?;
    let mut found = Vec::new();
    found.extend(groups);
    found.extend(dbs);
    found.extend(migrations);
    found.extend(functions);
    found.extend(cognito.0);
    found.extend(cognito.1);
    Ok(Live { env, found })
}

//! Cognito triggers against Cognito (the slot, by read-modify-write of the whole pool) and Lambda
//! (the invoke permission).

use std::collections::{BTreeMap, BTreeSet};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::{StreamExt, TryStreamExt};

use super::{Observed, Permission, Spec, candidates, has_equivalent, statements, trigger_edits};
use crate::aws::Clients;
use crate::error::{AwsKind, Error, Result, code_of, kind_of};
use crate::plan::Change;
use crate::resources::cognito::aws::{read_modify_write, remove_permission};
use crate::resources::cognito::{Pools, statement_id};
use crate::resources::core::{Adapter, Ctx, Found, Lookup};
use crate::stack::{FunctionRef, Stack};
use crate::value::Text;

/// How many GetPolicy calls observe keeps in flight.
const POLICY_CONCURRENCY: usize = 8;

/// The resource policy of every function a declared trigger names (by name or ARN): read in the
/// first round of the plan, next to the listings, as it needs no id from them. `None` when the
/// function or its policy does not exist. One GetPolicy per declared trigger function.
///
/// A function named by ARN (not one of this stack) is also looked up (GetFunctionConfiguration,
/// beside its GetPolicy, so still in the first round): the [`super::function_lookup`] answers,
/// from which a trigger naming a function that does not exist is a plan error rather than an
/// AddPermission failure after other changes were made.
pub async fn read_policies(
    clients: &Clients,
    stack: &Stack,
) -> Result<(BTreeMap<String, Option<String>>, BTreeMap<String, Lookup>)> {
    let functions: BTreeSet<(String, bool)> = stack
        .cognito_triggers
        .iter()
        .map(|t| match &t.function {
            FunctionRef::Stack(f) => (f.clone(), false),
            FunctionRef::Arn(a) => (a.clone(), true),
        })
        .collect();
    let read: Vec<(String, Option<String>, Option<Lookup>)> = futures::stream::iter(functions)
        .map(|(f, external)| async move {
            // A function of the stack is called by its AWS name (`name:`, else its key).
            let aws_name = stack
                .functions
                .get(&f)
                .map_or(f.as_str(), |d| d.name.as_str());
            let (policy, lookup) =
                tokio::try_join!(get_policy(clients, "cognito_triggers", aws_name), async {
                    if external {
                        function_exists(clients, &f).await.map(Some)
                    } else {
                        Ok(None)
                    }
                })?;
            Ok::<_, Error>((f, policy, lookup))
        })
        .buffer_unordered(POLICY_CONCURRENCY)
        .try_collect()
        .await?;
    let mut policies = BTreeMap::new();
    let mut lookups = BTreeMap::new();
    for (f, policy, lookup) in read {
        if let Some(l) = lookup {
            lookups.insert(super::function_lookup(&f), l);
        }
        policies.insert(f, policy);
    }
    Ok((policies, lookups))
}

/// Whether the function an ARN names exists (AccessDenied says nothing either way).
async fn function_exists(clients: &Clients, arn: &str) -> Result<Lookup> {
    match clients
        .lambda
        .get_function_configuration()
        .function_name(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Lookup::Found {
            arn: out.function_arn().unwrap_or(arn).to_string(),
            path: String::new(),
            runtimes: Vec::new(),
        }),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(Lookup::Missing),
        Err(e) if kind_of(&e) == Some(AwsKind::Denied) => Ok(Lookup::Unknown(format!(
            "{}: {}",
            code_of(&e).unwrap_or_default(),
            e.message().unwrap_or_default()
        ))),
        Err(e) => Err(Error::aws(
            "GetFunctionConfiguration",
            "cognito_triggers",
            e,
        )),
    }
}

/// The set slots that are ours or declared, from the pools the dispatch had described (by
/// `user_pool::aws::observe`; this kind does not call it), with the permissions from `policies`
/// ([`read_policies`]). A slot's function is always a declared one, so no call is left to make
/// here; should one be missing from `policies`, it is read (one GetPolicy).
pub async fn observe(
    clients: &Clients,
    stack: &Stack,
    pools: &Pools,
    policies: &BTreeMap<String, Option<String>>,
) -> Result<Vec<Found<Observed>>> {
    futures::stream::iter(candidates(stack, pools))
        .map(|c| async move {
            let mut o = c.observed;
            if let Some(function) = &c.read_policy_of {
                let sid = statement_id(&o.event, &o.pool_id);
                let policy = match policies.get(function) {
                    Some(p) => p.clone(),
                    None => {
                        let aws_name = stack
                            .functions
                            .get(function)
                            .map_or(function.as_str(), |d| d.name.as_str());
                        get_policy(clients, &c.address, aws_name).await?
                    }
                };
                if let Some(p) = &policy {
                    o.permission = statements(p, &sid);
                    o.equivalent = has_equivalent(p, &sid, &o.pool_arn);
                }
            }
            Ok::<_, Error>(Found {
                address: c.address,
                key: c.key,
                observed: o,
            })
        })
        .buffered(POLICY_CONCURRENCY)
        .try_collect()
        .await
}

/// `function`'s resource policy document; `None` when the function or its policy does not exist.
async fn get_policy(clients: &Clients, address: &str, function: &str) -> Result<Option<String>> {
    match clients
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => Ok(out.policy().map(str::to_string)),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(None),
        Err(e) => Err(Error::aws("GetPolicy", address, e)),
    }
}

/// Statements with id `sid` on `function` (name or ARN), and whether another statement already
/// lets the pool invoke it; none when the function or its policy does not exist.
async fn read_permission(
    clients: &Clients,
    address: &str,
    function: &str,
    sid: &str,
    pool_arn: &str,
) -> Result<(Vec<Permission>, bool)> {
    Ok(get_policy(clients, address, function)
        .await?
        .map(|p| (statements(&p, sid), has_equivalent(&p, sid, pool_arn)))
        .unwrap_or_default())
}

/// Makes `function`'s policy hold exactly one statement `sid` letting this pool invoke it. Read
/// first: moto accepts a duplicate statement id, so adding blindly would pile them up.
async fn ensure_permission(
    ctx: &Ctx<'_>,
    address: &str,
    function: &str,
    sid: &str,
    pool_arn: &str,
) -> Result<()> {
    let clients = ctx.clients;
    let (existing, equivalent) = read_permission(clients, address, function, sid, pool_arn).await?;
    if existing.len() == 1 && existing[0].allows(pool_arn) || existing.is_empty() && equivalent {
        return Ok(());
    }
    for _ in &existing {
        remove_permission(clients, address, function, sid).await?;
    }
    // A function still applying an update answers ResourceConflictException for a while.
    let mut attempts = 0;
    let mut pause = ctx.backoff();
    loop {
        let r = clients
            .lambda
            .add_permission()
            .function_name(function)
            .statement_id(sid)
            .action(super::INVOKE)
            .principal(super::PRINCIPAL)
            .source_arn(pool_arn)
            .send()
            .await;
        match r {
            Ok(_) => break,
            Err(e) if kind_of(&e) == Some(AwsKind::Conflict) && attempts < 30 => {
                let (now, equivalent) =
                    read_permission(clients, address, function, sid, pool_arn).await?;
                if now.len() == 1 && now[0].allows(pool_arn) || now.is_empty() && equivalent {
                    break;
                }
                for _ in &now {
                    remove_permission(clients, address, function, sid).await?;
                }
                attempts += 1;
                ctx.progress.waiting(
                    address,
                    "to get its permission to invoke the function",
                    "update in progress",
                );
                pause.pause(address).await?;
            }
            Err(e) => return Err(Error::aws("AddPermission", address, e)),
        }
    }
    if attempts > 0 {
        ctx.progress.done_waiting(address);
    }
    Ok(())
}

fn known<'a>(t: &'a Text, address: &str, what: &str) -> Result<&'a str> {
    t.expose().ok_or_else(|| {
        Error::other(format!(
            "{address}: the {what} was still unknown at apply (internal ordering error)"
        ))
    })
}

/// Trigger slots of user pools, with the invoke permission each needs.
pub struct Triggers;

impl Adapter for Triggers {
    type Spec = Spec;
    type Observed = Observed;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        existing: Option<&Observed>,
    ) -> Result<Observed> {
        set_slot(ctx, address, s, existing).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        o: &Observed,
        _change: &Change,
    ) -> Result<Observed> {
        set_slot(ctx, address, s, Some(o)).await
    }

    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        o: &Observed,
        _replacing: Option<&Spec>,
    ) -> Result<()> {
        let stack = &ctx.stack.name;
        read_modify_write(ctx, address, &o.pool_id, |pool| {
            trigger_edits(pool, stack, &o.event, None)
        })
        .await?;
        remove_permission(
            ctx.clients,
            address,
            &o.function_arn,
            &statement_id(&o.event, &o.pool_id),
        )
        .await
    }
}

/// Points the slot at the function, permission first; `o`: the slot as it was.
async fn set_slot(
    ctx: &Ctx<'_>,
    address: &str,
    s: &Spec,
    o: Option<&Observed>,
) -> Result<Observed> {
    let stack = &ctx.stack.name;
    let target = s
        .pool
        .as_ref()
        .map_err(|m| Error::other(m.to_string()).at(address))?;
    let pool_id = known(&target.id, address, "user pool id")?;
    let pool_arn = known(&target.arn, address, "user pool ARN")?;
    let function = known(&s.function_arn, address, "function ARN")?;
    let sid = statement_id(&s.event, pool_id);

    // The permission first: a slot pointing at a function Cognito may not invoke breaks sign-up.
    ensure_permission(ctx, address, function, &sid, pool_arn).await?;
    let pool = read_modify_write(ctx, address, pool_id, |pool| {
        trigger_edits(pool, stack, &s.event, Some(function))
    })
    .await?
    .ok_or_else(|| {
        Error::other(format!(
            "{address}: user pool {pool_id} no longer exists; run plan again"
        ))
    })?;
    if let Some(o) = o.filter(|o| o.owned && (o.function_arn != function || o.pool_id != pool_id)) {
        // The statement we gave the function the slot pointed at before.
        remove_permission(
            ctx.clients,
            address,
            &o.function_arn,
            &statement_id(&o.event, &o.pool_id),
        )
        .await?;
    }
    Ok(Observed {
        pool_id: pool.id.clone(),
        pool_arn: pool.arn.clone(),
        event: s.event.clone(),
        function_arn: function.to_string(),
        owned: true,
        equivalent: false,
        owner: None,
        permission: vec![Permission {
            effect: "Allow".into(),
            action: super::INVOKE.into(),
            principal: super::PRINCIPAL.into(),
            source_arn: Some(pool_arn.to_string()),
        }],
    })
}

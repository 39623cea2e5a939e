//! Cognito user pools against the Cognito API. Every UpdateUserPool goes through the shared
//! read-modify-write of [`crate::resources::cognito::aws`] (the triggers use it too).

use std::collections::BTreeSet;

use aws_sdk_cognitoidentityprovider as cip;
use cip::types as t;
use futures::{StreamExt, TryStreamExt};

use super::{Observed, Spec, address, observed};
use crate::aws::Clients;
use crate::error::{AwsKind, Error, Result, kind_of};
use crate::plan::Change;
use crate::resources::cognito::aws::{
    describe, describe_raw, enums, normalise, read_modify_write, remove_permission,
};
use crate::resources::cognito::{Edits, PoolDescription, Pools, statement_id};
use crate::resources::core::once::create_once;
use crate::resources::core::{Adapter, Ctx, Found, Key, data_key};
use crate::stack::Stack;

/// How many DescribeUserPool calls observe keeps in flight.
const DESCRIBE_CONCURRENCY: usize = 8;

/// Every pool of the account, described, and the ones this stack owns or declares.
///
/// Cognito has no tag filter on ListUserPools and the Resource Groups Tagging API does not see user
/// pools (and moto's Cognito ListTagsForResource is an HTTP 500), so ownership can only be read
/// from DescribeUserPool's UserPoolTags. That is one DescribeUserPool per pool in the account, not
/// per declared pool; bounded in flight, and the trigger reader reuses the result.
///
/// Pools cannot be skipped by name: a pool the file no longer declares is still this stack's
/// (to delete) whatever its name, and only its tags say so. Cognito limits the request rate per
/// account and category (Amazon Cognito Developer Guide, "Quotas in Amazon Cognito": DescribeUserPool
/// and ListUserPools share the user pool read category), and answers `TooManyRequestsException`
/// beyond it, which the SDK's standard retry classifies as throttling and retries with backoff
/// (up to 5 attempts, see `crate::aws`). An account with 50 pools costs one ListUserPools page (60
/// a page) and 50 DescribeUserPool, at most `DESCRIBE_CONCURRENCY` at once, plus one call per
/// throttled read (tests/cli/scale_pool_reads.rs measures it through the fidelity proxy).
pub async fn observe(clients: &Clients, stack: &Stack) -> Result<(Vec<Found<Observed>>, Pools)> {
    let mut ids = Vec::new();
    let mut pages = clients
        .cognito
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("ListUserPools", "user_pools", e))?;
        ids.extend(
            page.user_pools()
                .iter()
                .filter_map(|p| p.id().map(str::to_string)),
        );
    }
    let described: Vec<Option<t::UserPoolType>> = futures::stream::iter(ids)
        .map(|id| async move { describe_raw(clients, "user_pools", &id).await })
        .buffered(DESCRIBE_CONCURRENCY)
        .try_collect()
        .await?;
    let raw: Vec<t::UserPoolType> = described.into_iter().flatten().collect();
    // Should a pool come back without its ARN, the account id of any other one completes it.
    let account = raw
        .iter()
        .filter_map(|p| p.arn.as_deref())
        .find_map(|a| a.split(':').nth(4).map(str::to_string));
    let mut all: Vec<PoolDescription> = raw
        .iter()
        .map(|p| normalise(p, &clients.region, account.as_deref()))
        .collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));

    // Pools are found by their AWS names (`name:`, else the key) and addressed by their keys.
    let declared: BTreeSet<String> = stack.user_pools.values().map(|p| p.name.clone()).collect();
    let selected = super::select(&stack.name, &declared, &all);
    let key_of = |o: &Observed| {
        data_key(&stack.user_pools, |p| &p.name, &o.name, o.owned, &o.tags).to_string()
    };
    let stack_pools = selected.iter().map(|o| (key_of(o), o.id.clone())).collect();
    let found = selected
        .into_iter()
        .map(|o| {
            let key = key_of(&o);
            Found {
                address: address(&key),
                key: Key::UserPool(key),
                observed: o,
            }
        })
        .collect();
    Ok((found, Pools { all, stack_pools }))
}

/// Cognito user pools.
pub struct UserPools;

impl Adapter for UserPools {
    type Spec = Spec;
    type Observed = Observed;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        _existing: Option<&Observed>,
    ) -> Result<Observed> {
        create_pool(ctx, address, s).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        o: &Observed,
        _change: &Change,
    ) -> Result<Observed> {
        let after = read_modify_write(ctx, address, &o.id, |_| Edits {
            auto_verified_attributes: s.auto_verified_attributes.clone(),
            deletion_protection: s.deletion_protection,
            set_tags: s.tags.clone(),
            ..Default::default()
        })
        .await?
        .ok_or_else(|| {
            Error::other(format!(
                "{address}: user pool {} no longer exists; run plan again",
                o.id
            ))
        })?;
        Ok(observed(&after, &ctx.stack.name))
    }

    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        o: &Observed,
        replacing: Option<&Spec>,
    ) -> Result<()> {
        if replacing.is_some() && o.deletion_protection {
            // The plan only allows a replace when the file turns protection off.
            read_modify_write(ctx, address, &o.id, |_| Edits {
                deletion_protection: Some(false),
                ..Default::default()
            })
            .await?;
        }
        delete_pool(ctx, address, o).await
    }
}

async fn create_pool(ctx: &Ctx<'_>, address: &str, s: &Spec) -> Result<Observed> {
    // Pool names may repeat: a resend after a lost answer would make a second pool. Sent once,
    // and after a lost answer the pool it made is looked for by name and this stack's tag (the
    // plan found none, and the lock keeps other runs out).
    let request = ctx
        .clients
        .cognito
        .create_user_pool()
        .pool_name(&s.name)
        .set_username_attributes(enums(&s.username_attributes))
        .set_auto_verified_attributes(enums(&s.auto_verified_attributes))
        .set_deletion_protection(
            s.deletion_protection
                .map(|on| if on { "ACTIVE" } else { "INACTIVE" }.into()),
        )
        .set_user_pool_tags(Some(s.tags.clone().into_iter().collect()));
    let (mut d, has_arn) = create_once(
        "CreateUserPool",
        address,
        || {
            let r = request.clone().customize().config_override(
                cip::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            );
            async move {
                let out = r.send().await?;
                Ok(out
                    .user_pool
                    .map(|p| (normalise(&p, &ctx.clients.region, None), p.arn.is_some())))
            }
        },
        || async {
            let found = find_made(ctx, address, &s.name).await?;
            Ok(found.map(|d| Some((d, true))))
        },
    )
    .await?
    .ok_or_else(|| Error::other("CreateUserPool returned no pool").at(address))?;
    if !has_arn {
        // Nothing else tells us the account id; DescribeUserPool does carry the ARN.
        if let Some(fresh) = describe(ctx.clients, address, &d.id).await? {
            d = fresh;
        }
    }
    Ok(observed(&d, &ctx.stack.name))
}

/// The pool named `name` that carries this stack's tag, if one exists now.
async fn find_made(ctx: &Ctx<'_>, address: &str, name: &str) -> Result<Option<PoolDescription>> {
    let mut pages = ctx
        .clients
        .cognito
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("ListUserPools", address, e))?;
        for p in page.user_pools() {
            if p.name() != Some(name) {
                continue;
            }
            if let Some(d) = describe(ctx.clients, address, p.id().unwrap_or_default()).await?
                && d.owned_by(&ctx.stack.name)
            {
                return Ok(Some(d));
            }
        }
    }
    Ok(None)
}

async fn delete_pool(ctx: &Ctx<'_>, address: &str, o: &Observed) -> Result<()> {
    // The invoke permissions this stack gave the pool's triggers name the pool's ARN and would
    // outlive it on the functions.
    for (event, function) in &o.triggers {
        let sid = statement_id(event, &o.id);
        remove_permission(ctx.clients, address, function, &sid).await?;
    }
    match ctx
        .clients
        .cognito
        .delete_user_pool()
        .user_pool_id(&o.id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(()),
        Err(e) => Err(Error::aws("DeleteUserPool", address, e)),
    }
}

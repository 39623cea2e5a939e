//! RDS DB instances against the RDS API.
//!
//! Reading is one paginated DescribeDBInstances for the whole region (it carries the tags), so a
//! plan costs the same for one instance or twenty. Every write waits for RDS to settle, polling
//! DescribeDBInstances by identifier every `ctx.settings.poll`.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_rds::types::{DbInstance, Tag};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{
    Declared, FINGERPRINT_TAG, Fingerprint, Modify, Observed, PasswordChange, PasswordSpec, Spec,
    VERSION_TAG, address, delta, final_snapshot_id,
};
use crate::aws::Clients;
use crate::error::{AwsKind, Error, Result, kind_of};
use crate::plan::Change;
use crate::resources::core::{Adapter, Ctx, Found, KEY_TAG, Key};
use crate::stack::{FinalSnapshot, STACK_TAG, Stack};
use crate::value::Text;
use crate::value::fmt_duration;

/// The instances this stack owns (by tag) and those with a declared identifier (to adopt).
pub async fn observe(clients: &Clients, stack: &Stack) -> Result<Vec<Found<Observed>>> {
    // AWS lower-cases identifiers; the file may not. Addresses keep the file's spelling.
    // The identifier is the entry's `name:` when given, else its key (spec section 2).
    let declared: BTreeMap<String, &String> = stack
        .db_instances
        .iter()
        .map(|(k, d)| (d.name.to_ascii_lowercase(), k))
        .collect();
    let mut found = Vec::new();
    let mut pages = clients.rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("DescribeDBInstances", "db_instances", e))?;
        for inst in page.db_instances() {
            // Aurora cluster members are managed through their cluster, never by this kind.
            if inst.db_cluster_identifier().is_some() {
                continue;
            }
            let o = observed(inst, stack);
            let name = match (o.owned, o.tags.get(KEY_TAG)) {
                // Renamed through `name:`: still the entry the tag names.
                (true, Some(k)) => k.clone(),
                _ => match declared.get(&o.identifier) {
                    Some(n) => n.to_string(),
                    None if o.owned => o.identifier.clone(),
                    None => continue,
                },
            };
            found.push(Found {
                address: address(&name),
                key: Key::DbInstance(name),
                observed: o,
            });
        }
    }
    Ok(found)
}

/// The versions RDS creates new instances with, for each engine the file gives an
/// `engine_version` to (none given: nothing to check, RDS picks its default).
///
/// CreateDBInstance's EngineVersion takes what DescribeDBEngineVersions lists (RDS API
/// Reference, CreateDBInstance, EngineVersion: "For a list of valid engine versions, use the
/// DescribeDBEngineVersions operation"), which by default lists only the versions that are
/// available (DescribeDBEngineVersions, IncludeAll: "The default is to list only available
/// engine versions"); a retired minor is no longer among them, and a create naming it fails
/// with `InvalidParameterCombination: Cannot find version 16.4 for postgres`.
///
/// Advisory: each page is one attempt, without the SDK's retries, and any failure (AccessDenied,
/// an endpoint that does not implement the call) is kept as the reason the check was not made.
pub async fn available_versions(
    clients: &Clients,
    stack: &Stack,
) -> BTreeMap<String, std::result::Result<Vec<String>, String>> {
    let engines: std::collections::BTreeSet<&str> = stack
        .db_instances
        .values()
        .filter(|d| d.engine_version.is_some())
        .map(|d| d.engine.as_str())
        .collect();
    let mut out = BTreeMap::new();
    for engine in engines {
        out.insert(engine.to_string(), engine_versions(clients, engine).await);
    }
    out
}

async fn engine_versions(
    clients: &Clients,
    engine: &str,
) -> std::result::Result<Vec<String>, String> {
    let mut versions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = clients
            .rds
            .describe_db_engine_versions()
            .engine(engine)
            .set_marker(marker.take())
            .customize()
            .config_override(
                aws_sdk_rds::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| {
                let e = Error::aws("DescribeDBEngineVersions", "db_instances", e);
                match e.aws_code() {
                    Some("Unknown") => e.message(),
                    Some(code) => format!("{code}: {}", e.message()),
                    None => e.to_string(),
                }
            })?;
        versions.extend(
            page.db_engine_versions()
                .iter()
                .filter(|v| v.status().is_none_or(|s| s == "available"))
                .filter_map(|v| v.engine_version().map(str::to_string)),
        );
        match page.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => return Ok(versions),
        }
    }
}

/// Normalises what RDS reports into our own types.
fn observed(i: &DbInstance, stack: &Stack) -> Observed {
    let mut tags: BTreeMap<String, String> = i
        .tag_list()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let password_fingerprint = tags.remove(FINGERPRINT_TAG).map(Fingerprint);
    let password_version = tags.remove(VERSION_TAG).and_then(|v| v.parse().ok());
    let identifier = i
        .db_instance_identifier()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let declared = stack
        .db_instances
        .iter()
        .find(|(_, d)| d.name.eq_ignore_ascii_case(&identifier))
        .map(|(_, d)| Declared {
            final_snapshot: d.final_snapshot.clone(),
            deletion_protection: d.deletion_protection,
            pos: d.pos,
        });
    let mut security_groups: Vec<String> = i
        .vpc_security_groups()
        .iter()
        .filter(|m| m.status() != Some("removing"))
        .filter_map(|m| m.vpc_security_group_id().map(str::to_string))
        .collect();
    security_groups.sort();
    security_groups.dedup();
    Observed {
        owned: tags.get(STACK_TAG) == Some(&stack.name),
        identifier,
        arn: i.db_instance_arn().unwrap_or_default().to_string(),
        status: i.db_instance_status().unwrap_or_default().to_string(),
        address: i.endpoint().and_then(|e| e.address()).map(str::to_string),
        port: i.endpoint().and_then(|e| e.port()),
        engine: i.engine().unwrap_or_default().to_string(),
        engine_version: i.engine_version().unwrap_or_default().to_string(),
        instance_class: i.db_instance_class().unwrap_or_default().to_string(),
        allocated_storage: i.allocated_storage().unwrap_or_default(),
        storage_type: i.storage_type().map(str::to_string),
        storage_encrypted: i.storage_encrypted().unwrap_or(false),
        master_username: i.master_username().unwrap_or_default().to_string(),
        managed_password: i.master_user_secret().is_some(),
        password_fingerprint,
        password_version,
        db_name: i.db_name().map(str::to_string),
        availability_zone: i.availability_zone().map(str::to_string),
        multi_az: i.multi_az().unwrap_or(false),
        publicly_accessible: i.publicly_accessible().unwrap_or(false),
        backup_retention_days: i.backup_retention_period().unwrap_or_default(),
        performance_insights_enabled: i.performance_insights_enabled(),
        performance_insights_retention: i.performance_insights_retention_period(),
        deletion_protection: i.deletion_protection().unwrap_or(false),
        security_groups,
        tags,
        pending: pending_fields(i),
        declared,
    }
}

/// The fields RDS has accepted but not applied yet, in the file's names.
fn pending_fields(i: &DbInstance) -> Vec<String> {
    let Some(p) = i.pending_modified_values() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut add = |set: bool, name: &str| {
        if set {
            out.push(name.to_string());
        }
    };
    add(p.db_instance_class().is_some(), "instance_class");
    add(p.engine_version().is_some(), "engine_version");
    add(p.allocated_storage().is_some(), "allocated_storage");
    add(p.storage_type().is_some(), "storage_type");
    add(p.iops().is_some(), "iops");
    add(p.storage_throughput().is_some(), "storage_throughput");
    add(p.port().is_some(), "port");
    add(p.multi_az().is_some(), "multi_az");
    add(
        p.backup_retention_period().is_some(),
        "backup_retention_days",
    );
    add(p.master_user_password().is_some(), "master_password");
    add(p.db_instance_identifier().is_some(), "identifier");
    out
}

/// Still applying something: pending values, or security groups being swapped.
fn settling(i: &DbInstance) -> Vec<String> {
    let mut s = pending_fields(i);
    if i.vpc_security_groups()
        .iter()
        .any(|m| matches!(m.status(), Some("adding" | "removing")))
    {
        s.push("security_groups".into());
    }
    s
}

/// RDS DB instances.
pub struct Instances;

impl Adapter for Instances {
    type Spec = Spec;
    type Observed = Observed;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        existing: Option<&Observed>,
    ) -> Result<Observed> {
        // The plan found an instance of this name still being deleted.
        if let Some(o) = existing {
            wait(ctx, address, &o.identifier, Target::Gone).await?;
        }
        create(ctx, address, s).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        o: &Observed,
        _change: &Change,
    ) -> Result<Observed> {
        update(ctx, address, s, o).await
    }

    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        o: &Observed,
        replacing: Option<&Spec>,
    ) -> Result<()> {
        let (fs, unprotect) = match replacing {
            // Replacing: the file's wishes for the instance it keeps declaring.
            Some(s) => (
                s.final_snapshot.clone(),
                s.deletion_protection == Some(false),
            ),
            // Destroy knows the file's wishes; an orphan's are unknown, so keep its data.
            None => (
                o.declared
                    .as_ref()
                    .map_or(FinalSnapshot::Auto, |d| d.final_snapshot.clone()),
                o.declared.as_ref().and_then(|d| d.deletion_protection) == Some(false),
            ),
        };
        delete(ctx, address, o, &fs, unprotect).await
    }
}

/// Waits until an instance that exists is available (a rerun finds one still `creating`, with
/// no address yet) and returns it as it is then.
pub async fn wait_available(ctx: &Ctx<'_>, address: &str, o: &Observed) -> Result<Observed> {
    let inst = wait(ctx, address, &o.identifier, Target::Available)
        .await?
        .ok_or_else(|| gone_error(address))?;
    Ok(observed(&inst, ctx.stack))
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn known<'a>(t: &'a Text, address: &str) -> Result<&'a str> {
    t.expose().ok_or_else(|| {
        Error::other(format!(
            "{address}: a value was still unknown at apply (internal ordering error)"
        ))
    })
}

fn known_ids(ts: &[Text], address: &str) -> Result<Vec<String>> {
    let mut ids = ts
        .iter()
        .map(|t| known(t, address).map(str::to_string))
        .collect::<Result<Vec<_>>>()?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

async fn create(ctx: &Ctx<'_>, address: &str, s: &Spec) -> Result<Observed> {
    let mut tags = s.tags.clone();
    let mut req = ctx
        .clients
        .rds
        .create_db_instance()
        .db_instance_identifier(&s.identifier)
        .engine(&s.engine)
        // A major alone ("16") is sent as it is: RDS creates that major's default minor. The RDS
        // API reference (CreateDBInstance, EngineVersion) only points to DescribeDBEngineVersions
        // for valid values; the Terraform AWS provider documents the prefix form for
        // aws_db_instance.engine_version ("you can provide a prefix of the version such as 8.0
        // (for 8.0.36)"); no AWS page found here states it outright.
        .set_engine_version(s.engine_version.clone())
        .db_instance_class(&s.instance_class)
        .allocated_storage(s.allocated_storage)
        .set_storage_type(s.storage_type.clone())
        .set_storage_encrypted(s.storage_encrypted)
        .master_username(&s.master_username)
        .set_db_name(s.db_name.clone())
        .set_port(s.port)
        .set_availability_zone(s.availability_zone.clone())
        .set_multi_az(s.multi_az)
        // Left out, AWS makes an instance in a VPC with an internet gateway (every default VPC)
        // publicly accessible: a database stays private unless the file says otherwise.
        .publicly_accessible(s.publicly_accessible.unwrap_or(false))
        // Sent only when the file sets it; the API's own default is 1 day, not 0.
        .set_backup_retention_period(s.backup_retention_days)
        .set_deletion_protection(s.deletion_protection);
    if let Some(pi) = s.performance_insights {
        req = req.enable_performance_insights(pi.enabled);
        if pi.enabled {
            req = req.set_performance_insights_retention_period(pi.retention_days);
        }
    }
    if !s.security_groups.is_empty() {
        req = req.set_vpc_security_group_ids(Some(known_ids(&s.security_groups, address)?));
    }
    match &s.password {
        PasswordSpec::Managed => req = req.manage_master_user_password(true),
        PasswordSpec::Secret { value, version, .. } => {
            req = req.master_user_password(known(value, address)?);
            tags.insert(VERSION_TAG.to_string(), version.to_string());
        }
    }
    let req = req.set_tags(Some(tag_list(&tags)));
    let groups = known_ids(&s.security_groups, address).unwrap_or_default();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    match ctx
        .while_new_groups_propagate(address, &groups, || req.clone().send())
        .await?
    {
        Ok(_) => {}
        // The plan found no instance of this name: one that carries this stack's tag now was
        // made by an attempt whose answer was lost (the SDK sent the call again).
        Err(e) if kind_of(&e) == Some(AwsKind::AlreadyExists) => {
            let ours = describe(ctx, address, &s.identifier)
                .await?
                .is_some_and(|i| {
                    i.tag_list().iter().any(|t| {
                        t.key() == Some(STACK_TAG) && t.value() == Some(ctx.stack.name.as_str())
                    })
                });
            if !ours {
                return Err(Error::aws("CreateDBInstance", address, e));
            }
        }
        Err(e) => return Err(Error::aws("CreateDBInstance", address, e)),
    }
    // What depends on a running instance needs its address, which RDS reports from
    // `backing-up` on, minutes before `available`: return then, and let the engine wait for
    // `available` alongside the steps that only need the address (see `Observed::ready`).
    let target = if s.running {
        Target::Endpoint
    } else {
        Target::Available
    };
    let inst = wait(ctx, address, &s.identifier, target).await?;
    let inst = match (s.running, inst) {
        (false, _) => ensure_stopped(ctx, address, &s.identifier).await?,
        (true, Some(i)) => i,
        (true, None) => return Err(gone_error(address)),
    };
    Ok(observed(&inst, ctx.stack))
}

async fn remove_tags(ctx: &Ctx<'_>, address: &str, arn: &str, keys: &[String]) -> Result<()> {
    ctx.clients
        .rds
        .remove_tags_from_resource()
        .resource_name(arn)
        .set_tag_keys(Some(keys.to_vec()))
        .send()
        .await
        .map_err(|e| Error::aws("RemoveTagsFromResource", address, e))?;
    Ok(())
}

async fn update(ctx: &Ctx<'_>, address: &str, s: &Spec, o: &Observed) -> Result<Observed> {
    let delta = delta(address, s, o).map_err(|e| Error::other(e.message.clone()).at(address))?;
    let mut id = o.identifier.clone();
    let id = &mut id;
    // Tags first: an adopted instance is this stack's from here on, so if a later step fails the
    // next plan shows an update rather than another adopt.
    if !delta.tags.is_empty() {
        add_tags(ctx, address, &o.arn, &delta.tags).await?;
    }
    let mut running = o.running();
    if !delta.modify.is_empty() {
        // RDS cannot modify a stopped instance: start it (and stop it again below when the file
        // wants it stopped), rather than refusing a plan that only changes, say, the class.
        ensure_running(ctx, address, id).await?;
        running = true;
        modify(ctx, address, id, &delta.modify, s, o).await?;
        if let Some(new) = &delta.modify.new_identifier {
            // The rename takes effect at once with ApplyImmediately (RDS User Guide, "Renaming a
            // DB instance"): from here on the instance answers to its new identifier only.
            *id = new.clone();
            wait_renamed(ctx, address, id).await?;
        }
        wait(ctx, address, id, Target::Available).await?;
        let lazy = Lazy::of(&delta.modify);
        if !lazy.is_empty() {
            settle(ctx, address, id, &lazy).await?;
        }
        match (delta.modify.password, &s.password) {
            (Some(PasswordChange::Set), PasswordSpec::Secret { version, .. }) => {
                let t = BTreeMap::from([(VERSION_TAG.to_string(), version.to_string())]);
                add_tags(ctx, address, &o.arn, &t).await?;
            }
            (Some(PasswordChange::Manage), _) if o.password_version.is_some() => {
                remove_tags(ctx, address, &o.arn, &[VERSION_TAG.to_string()]).await?;
            }
            _ => {}
        }
    }
    // The legacy password derivative goes once the password is known to be in place.
    if !delta.remove_tags.is_empty() {
        remove_tags(ctx, address, &o.arn, &delta.remove_tags).await?;
    }
    if s.running && !running {
        ensure_running(ctx, address, id).await?;
    } else if !s.running && running {
        ensure_stopped(ctx, address, id).await?;
    }
    // Read back once, so what is returned includes the tags written after the last poll.
    let inst = describe(ctx, address, id)
        .await?
        .ok_or_else(|| gone_error(address))?;
    Ok(observed(&inst, ctx.stack))
}

async fn modify(
    ctx: &Ctx<'_>,
    address: &str,
    id: &str,
    m: &Modify,
    s: &Spec,
    o: &Observed,
) -> Result<()> {
    let mut req = ctx
        .clients
        .rds
        .modify_db_instance()
        .db_instance_identifier(id)
        // Without it RDS holds most changes until the next maintenance window, and the plan would
        // keep showing them as to do (TF-AWS #1969): a plan must converge after one apply.
        .apply_immediately(true)
        .set_db_instance_class(m.instance_class.clone())
        .set_engine_version(m.engine_version.clone())
        .set_allocated_storage(m.allocated_storage)
        .set_storage_type(m.storage_type.clone())
        .set_db_port_number(m.port)
        .set_multi_az(m.multi_az)
        .set_publicly_accessible(m.publicly_accessible)
        .set_backup_retention_period(m.backup_retention_days)
        .set_deletion_protection(m.deletion_protection)
        // ModifyDBInstance NewDBInstanceIdentifier (RDS API Reference): an in-place rename that
        // keeps the data; the endpoint's address changes with it.
        .set_new_db_instance_identifier(m.new_identifier.clone());
    if m.allow_major_version_upgrade {
        req = req.allow_major_version_upgrade(true);
    }
    if let Some(pi) = m.performance_insights {
        req = req.enable_performance_insights(pi.enabled);
        if pi.enabled {
            req = req.set_performance_insights_retention_period(pi.retention_days);
        }
    }
    if let Some(groups) = &m.security_groups {
        req = req.set_vpc_security_group_ids(Some(known_ids(groups, address)?));
    }
    match (m.password, &s.password) {
        (Some(PasswordChange::Set), PasswordSpec::Secret { value, .. }) => {
            // Leaving Secrets Manager management requires the new password in the same call.
            if o.managed_password {
                req = req.manage_master_user_password(false);
            }
            req = req.master_user_password(known(value, address)?);
        }
        (Some(PasswordChange::Manage), _) => req = req.manage_master_user_password(true),
        _ => {}
    }
    let groups = match &m.security_groups {
        Some(g) => known_ids(g, address)?,
        None => Vec::new(),
    };
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    ctx.while_new_groups_propagate(address, &groups, || req.clone().send())
        .await?
        .map_err(|e| Error::aws("ModifyDBInstance", address, e))?;
    Ok(())
}

/// Until DescribeDBInstances knows the instance by its new identifier (RDS renames it in the
/// background for a short while, status `renaming`).
async fn wait_renamed(ctx: &Ctx<'_>, address: &str, id: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        if describe(ctx, address, id).await?.is_some() {
            return Ok(());
        }
        if start.elapsed() > ctx.settings.rds_timeout {
            return Err(Error::other(format!(
                "{address}: the instance was renamed to `{id}`, but RDS does not describe it under that identifier after {}",
                fmt_duration(start.elapsed())
            )));
        }
        tokio::time::sleep(ctx.settings.poll).await;
    }
}

async fn add_tags(
    ctx: &Ctx<'_>,
    address: &str,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    ctx.clients
        .rds
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(|e| Error::aws("AddTagsToResource", address, e))?;
    Ok(())
}

/// Brings the instance to `available`, starting it when it is stopped.
async fn ensure_running(ctx: &Ctx<'_>, address: &str, id: &str) -> Result<DbInstance> {
    let inst = describe(ctx, address, id)
        .await?
        .ok_or_else(|| gone_error(address))?;
    let mut status = inst.db_instance_status().unwrap_or_default().to_string();
    if status == "stopping" {
        // StartDBInstance is refused until the stop has finished.
        wait(ctx, address, id, Target::Stopped).await?;
        status = "stopped".into();
    }
    if status == "stopped" {
        ctx.clients
            .rds
            .start_db_instance()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| Error::aws("StartDBInstance", address, e))?;
    }
    wait(ctx, address, id, Target::Available)
        .await?
        .ok_or_else(|| gone_error(address))
}

/// Brings the instance to `stopped`, letting whatever it is doing finish first.
async fn ensure_stopped(ctx: &Ctx<'_>, address: &str, id: &str) -> Result<DbInstance> {
    let inst = describe(ctx, address, id)
        .await?
        .ok_or_else(|| gone_error(address))?;
    match inst.db_instance_status().unwrap_or_default() {
        "stopped" => return Ok(inst),
        "stopping" => {}
        _ => {
            // StopDBInstance is accepted only from `available` (RDS API Reference,
            // StopDBInstance, InvalidDBInstanceState: "The DB instance isn't in a valid state"):
            // not while creating, modifying, starting, backing up, nor in `storage-optimization`,
            // which follows every storage change for hours (RDS User Guide, "Working with
            // storage for Amazon RDS DB instances", "Increasing DB instance storage capacity":
            // "After you modify the storage size for a DB instance, the status of the DB
            // instance is storage-optimization"), although the instance is usable then.
            wait(ctx, address, id, Target::Stoppable).await?;
            ctx.clients
                .rds
                .stop_db_instance()
                .db_instance_identifier(id)
                .send()
                .await
                .map_err(|e| Error::aws("StopDBInstance", address, e))?;
        }
    }
    wait(ctx, address, id, Target::Stopped)
        .await?
        .ok_or_else(|| gone_error(address))
}

/// The target values of a modification that RDS applies without listing it in
/// PendingModifiedValues, so that `available` with nothing pending does not mean it is done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Lazy {
    publicly_accessible: Option<bool>,
    deletion_protection: Option<bool>,
    performance_insights: Option<super::PerformanceInsights>,
}

impl Lazy {
    fn of(m: &Modify) -> Lazy {
        Lazy {
            publicly_accessible: m.publicly_accessible,
            deletion_protection: m.deletion_protection,
            performance_insights: m.performance_insights,
        }
    }

    fn is_empty(&self) -> bool {
        *self == Lazy::default()
    }

    /// The fields that do not read as their target yet. Performance Insights is compared only
    /// where the instance reports it (the fields are optional in DescribeDBInstances' model).
    fn behind(&self, i: &DbInstance) -> Vec<&'static str> {
        let mut out = Vec::new();
        if let Some(want) = self.publicly_accessible
            && i.publicly_accessible() != Some(want)
        {
            out.push("publicly_accessible");
        }
        if let Some(want) = self.deletion_protection
            && i.deletion_protection() != Some(want)
        {
            out.push("deletion_protection");
        }
        if let Some(pi) = self.performance_insights {
            if let Some(live) = i.performance_insights_enabled()
                && live != pi.enabled
            {
                out.push("performance_insights.enabled");
            } else if pi.enabled
                && let (Some(want), Some(live)) =
                    (pi.retention_days, i.performance_insights_retention_period())
                && want != live
            {
                out.push("performance_insights.retention_days");
            }
        }
        out
    }
}

/// How many reads in a row must show the target values.
const SETTLE_READS: u32 = 3;

/// Waits until `SETTLE_READS` reads in a row, the settle interval apart (`DEPLOY_RDS_SETTLE_INTERVAL`
/// seconds, 10 by default), show `lazy`'s values.
///
/// ModifyDBInstance applies its changes asynchronously (RDS API Reference, ModifyDBInstance,
/// ApplyImmediately: the modifications "are asynchronously applied as soon as possible") and
/// answers with the instance as it was, and RDS applies Performance Insights,
/// PubliclyAccessible and DeletionProtection without listing them in PendingModifiedValues
/// (RDS API Reference, PendingModifiedValues: none of the three is a member), so a read right
/// after the change can still show the old value, and a plan right after apply would show the
/// change again. Like the Terraform AWS provider's waiter after ModifyDBInstance (a target state
/// seen on several consecutive reads ten seconds apart), a value counts once it has held.
async fn settle(ctx: &Ctx<'_>, address: &str, id: &str, lazy: &Lazy) -> Result<()> {
    let budget = ctx.settings.rds_timeout;
    let interval = ctx.settings.rds_settle_interval;
    let started = Instant::now();
    let mut seen = 0;
    loop {
        let inst = describe(ctx, address, id)
            .await?
            .ok_or_else(|| gone_error(address))?;
        let behind = lazy.behind(&inst);
        if behind.is_empty() {
            ctx.progress.waiting(
                address,
                "to apply the change",
                &format!("reads the new values ({SETTLE_READS} reads in a row confirm them)"),
            );
            seen += 1;
            if seen >= SETTLE_READS {
                ctx.progress.done_waiting(address);
                return Ok(());
            }
        } else {
            seen = 0;
            ctx.progress.waiting(
                address,
                "to apply the change",
                &format!("still reports the old {}", behind.join(", ")),
            );
            if started.elapsed() >= budget {
                return Err(Error::wait(
                    address,
                    format!(
                        "RDS accepted the change but still reports the old {} after {}: apply again to check, or raise DEPLOY_RDS_TIMEOUT (seconds)",
                        behind.join(", "),
                        fmt_duration(budget)
                    ),
                ));
            }
        }
        ctx.sleep(address, interval).await?;
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn delete(
    ctx: &Ctx<'_>,
    address: &str,
    o: &Observed,
    fs: &FinalSnapshot,
    unprotect: bool,
) -> Result<()> {
    let rds = &ctx.clients.rds;
    let id = &o.identifier;
    if o.status != "deleting" {
        if unprotect && o.deletion_protection {
            // RDS modifies only an instance that is running (ModifyDBInstance answers
            // InvalidDBInstanceState for a stopped one: RDS User Guide, "Stopping an Amazon RDS DB
            // instance temporarily", limitations: "You can't modify a stopped DB instance"), and
            // DeleteDBInstance refuses a protected instance: a stopped one is started first.
            if !o.running() {
                match ensure_running(ctx, address, id).await {
                    Ok(_) => {}
                    Err(e)
                        if e.kind() == crate::error::Kind::Wait
                            && e.message().contains("disappeared") =>
                    {
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
            }
            // Gone already (a rerun of a stale plan): nothing left to delete.
            match rds
                .modify_db_instance()
                .db_instance_identifier(id)
                .apply_immediately(true)
                .deletion_protection(false)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => return Ok(()),
                Err(e) => return Err(Error::aws("ModifyDBInstance", address, e)),
            }
            // DeletionProtection is applied without showing in PendingModifiedValues: a delete
            // sent before it reads false is refused ("Cannot delete protected DB Instance").
            let lazy = Lazy {
                deletion_protection: Some(false),
                ..Lazy::default()
            };
            settle(ctx, address, id, &lazy).await?;
        }
        let snapshot = final_snapshot_id(id, fs, unix_now());
        let mut req = rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .delete_automated_backups(true);
        req = match &snapshot {
            None => req.skip_final_snapshot(true),
            Some(name) => {
                ctx.progress
                    .line(address, &format!("taking final snapshot {name}"));
                req.skip_final_snapshot(false)
                    .final_db_snapshot_identifier(name)
            }
        };
        let started = Instant::now();
        let budget = ctx.settings.rds_timeout;
        let mut pause = ctx.backoff();
        loop {
            match req.clone().send().await {
                Ok(_) => break,
                Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => return Ok(()),
                Err(e) if kind_of(&e) == Some(AwsKind::Conflict) => {
                    let msg = e.message().unwrap_or_default().to_string();
                    if msg.contains("already being deleted") {
                        break;
                    }
                    // Creating, modifying, backing up, …: RDS accepts the delete once that ends.
                    if started.elapsed() >= budget {
                        return Err(Error::aws("DeleteDBInstance", address, e));
                    }
                    ctx.progress
                        .waiting(address, "to reach a state that allows deletion", &msg);
                    pause.pause(address).await?;
                }
                Err(e) => return Err(Error::aws("DeleteDBInstance", address, e)),
            }
        }
    }
    wait(ctx, address, id, Target::Gone).await?;
    Ok(())
}

fn gone_error(address: &str) -> Error {
    Error::wait(
        address,
        "the instance disappeared (deleted outside this apply?)",
    )
}

async fn describe(ctx: &Ctx<'_>, address: &str, id: &str) -> Result<Option<DbInstance>> {
    match ctx
        .clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().cloned()),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(None),
        Err(e) => Err(Error::aws("DescribeDBInstances", address, e)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// `available` (or `storage-optimization`, which is usable) with nothing left to apply.
    Available,
    /// Any state that reports the endpoint (`backing-up` on create), or one of `Available`'s.
    Endpoint,
    Stopped,
    /// Exactly `available` with nothing left to apply: the only state StopDBInstance accepts.
    Stoppable,
    /// DescribeDBInstances says DBInstanceNotFound.
    Gone,
}

impl Target {
    fn what(self) -> &'static str {
        match self {
            Target::Available => "available",
            Target::Endpoint => "reachable",
            Target::Stopped => "stopped",
            Target::Stoppable => "available to stop",
            Target::Gone => "deletion",
        }
    }
}

/// States RDS does not leave by itself: waiting longer is pointless.
fn is_failed(status: &str) -> bool {
    status == "failed"
        || status == "restore-error"
        || status.starts_with("incompatible-")
        || status.starts_with("inaccessible-encryption-credentials")
}

/// One poll's verdict.
#[derive(Debug, PartialEq, Eq)]
enum Poll {
    Done,
    /// Not yet; the state to show.
    Wait(String),
    /// It will not get there.
    Fail(String),
}

/// Whether `inst` (None: DBInstanceNotFound) has reached `target`, and the state to show.
fn poll(inst: Option<&DbInstance>, target: Target) -> (String, Poll) {
    let what = target.what();
    let Some(i) = inst else {
        let verdict = match target {
            Target::Gone => Poll::Done,
            _ => Poll::Fail(format!(
                "the instance disappeared while waiting for it to be {what}"
            )),
        };
        return ("gone".into(), verdict);
    };
    let status = i.db_instance_status().unwrap_or("unknown").to_string();
    let busy = settling(i);
    let state = if busy.is_empty() {
        status.clone()
    } else {
        format!("{status}, applying {}", busy.join(", "))
    };
    let verdict = match target {
        Target::Gone => Poll::Wait(state.clone()),
        _ if is_failed(&status) => Poll::Fail(format!(
            "RDS reports status `{status}` while waiting for {what}; it will not recover by itself: see the instance's events in the RDS console"
        )),
        // storage-optimization is usable and can last for hours after a storage change. Pending
        // values mean RDS accepted a modification it has not applied yet (right after
        // ModifyDBInstance the status can still read `available`).
        Target::Available
            if matches!(status.as_str(), "available" | "storage-optimization")
                && busy.is_empty() =>
        {
            Poll::Done
        }
        Target::Endpoint
            if i.endpoint().and_then(|e| e.address()).is_some()
                || (matches!(status.as_str(), "available" | "storage-optimization")
                    && busy.is_empty()) =>
        {
            Poll::Done
        }
        Target::Stopped if status == "stopped" => Poll::Done,
        Target::Stoppable if status == "available" && busy.is_empty() => Poll::Done,
        _ => Poll::Wait(state.clone()),
    };
    (state, verdict)
}

/// Polls until the instance reaches `target`; returns it (None for `Gone`).
async fn wait(
    ctx: &Ctx<'_>,
    address: &str,
    id: &str,
    target: Target,
) -> Result<Option<DbInstance>> {
    let budget = ctx.settings.rds_timeout;
    let started = Instant::now();
    let what = target.what();
    let mut pause = ctx.backoff();
    loop {
        let inst = describe(ctx, address, id).await?;
        let (state, verdict) = poll(inst.as_ref(), target);
        let goal = match target {
            Target::Gone => "to be deleted",
            Target::Available => "to be available",
            Target::Endpoint => "to report its address",
            Target::Stopped => "to be stopped",
            Target::Stoppable => "to be available (RDS stops only an available instance)",
        };
        ctx.progress.waiting(address, goal, &state);
        match verdict {
            Poll::Done => {
                ctx.progress.done_waiting(address);
                return Ok(inst);
            }
            Poll::Fail(message) => {
                return Err(Error::wait(address, message));
            }
            Poll::Wait(_) => {}
        }
        if started.elapsed() >= budget {
            return Err(Error::wait(
                address,
                format!(
                    "still `{state}` after {} waiting for {what}; RDS may still finish: apply again to continue, or raise DEPLOY_RDS_TIMEOUT (seconds)",
                    fmt_duration(budget)
                ),
            ));
        }
        pause.pause(address).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_states_are_recognised() {
        for s in [
            "failed",
            "incompatible-parameters",
            "incompatible-network",
            "inaccessible-encryption-credentials",
        ] {
            assert!(is_failed(s), "{s}");
        }
        for s in [
            "available",
            "creating",
            "modifying",
            "storage-full",
            "stopped",
            "backing-up",
        ] {
            assert!(!is_failed(s), "{s}");
        }
    }

    fn inst(status: &str) -> DbInstance {
        DbInstance::builder()
            .db_instance_identifier("db")
            .db_instance_status(status)
            .build()
    }

    #[test]
    fn waits_follow_real_rds_states() {
        use aws_sdk_rds::types::PendingModifiedValues;
        // Create: creating -> backing-up -> available.
        for s in [
            "creating",
            "backing-up",
            "modifying",
            "configuring-enhanced-monitoring",
            "storage-full",
        ] {
            assert_eq!(
                poll(Some(&inst(s)), Target::Available).1,
                Poll::Wait(s.into()),
                "{s}"
            );
        }
        assert_eq!(
            poll(Some(&inst("available")), Target::Available).1,
            Poll::Done
        );
        assert_eq!(
            poll(Some(&inst("storage-optimization")), Target::Available).1,
            Poll::Done
        );
        // Right after ModifyDBInstance RDS may still say available, with the change pending.
        let pending = DbInstance::builder()
            .db_instance_status("available")
            .pending_modified_values(
                PendingModifiedValues::builder()
                    .db_instance_class("db.t3.small")
                    .build(),
            )
            .build();
        assert_eq!(
            poll(Some(&pending), Target::Available).1,
            Poll::Wait("available, applying instance_class".into())
        );
        assert!(matches!(
            poll(Some(&inst("incompatible-parameters")), Target::Available).1,
            Poll::Fail(_)
        ));
        assert!(matches!(
            poll(Some(&inst("failed")), Target::Stopped).1,
            Poll::Fail(_)
        ));
        assert!(matches!(poll(None, Target::Available).1, Poll::Fail(_)));
        // The address is known from `backing-up` on: what only needs it can go ahead.
        assert!(matches!(
            poll(Some(&inst("creating")), Target::Endpoint).1,
            Poll::Wait(_)
        ));
        let backing_up = DbInstance::builder()
            .db_instance_status("backing-up")
            .endpoint(
                aws_sdk_rds::types::Endpoint::builder()
                    .address("h")
                    .port(5432)
                    .build(),
            )
            .build();
        assert_eq!(poll(Some(&backing_up), Target::Endpoint).1, Poll::Done);
        assert_eq!(
            poll(Some(&backing_up), Target::Available).1,
            Poll::Wait("backing-up".into())
        );
        assert!(matches!(
            poll(Some(&inst("failed")), Target::Endpoint).1,
            Poll::Fail(_)
        ));
        assert_eq!(
            poll(Some(&inst("stopping")), Target::Stopped).1,
            Poll::Wait("stopping".into())
        );
        assert_eq!(poll(Some(&inst("stopped")), Target::Stopped).1, Poll::Done);
        assert_eq!(
            poll(Some(&inst("starting")), Target::Available).1,
            Poll::Wait("starting".into())
        );
        // Delete: deleting (even failed) until DescribeDBInstances says not found.
        assert_eq!(
            poll(Some(&inst("deleting")), Target::Gone).1,
            Poll::Wait("deleting".into())
        );
        assert_eq!(
            poll(Some(&inst("failed")), Target::Gone).1,
            Poll::Wait("failed".into())
        );
        assert_eq!(poll(None, Target::Gone).1, Poll::Done);
    }

    #[test]
    fn only_a_plain_available_instance_can_be_stopped() {
        assert_eq!(
            poll(Some(&inst("available")), Target::Stoppable).1,
            Poll::Done
        );
        for s in [
            "storage-optimization",
            "modifying",
            "backing-up",
            "starting",
        ] {
            assert_eq!(
                poll(Some(&inst(s)), Target::Stoppable).1,
                Poll::Wait(s.into()),
                "{s}"
            );
        }
    }

    #[test]
    fn lazy_values_are_behind_until_the_instance_reports_them() {
        use crate::stack::PerformanceInsights;
        let lazy = Lazy {
            publicly_accessible: Some(false),
            deletion_protection: Some(true),
            performance_insights: Some(PerformanceInsights {
                enabled: true,
                retention_days: Some(7),
            }),
        };
        let old = DbInstance::builder()
            .publicly_accessible(true)
            .deletion_protection(false)
            .performance_insights_enabled(false)
            .build();
        assert_eq!(
            lazy.behind(&old),
            vec![
                "publicly_accessible",
                "deletion_protection",
                "performance_insights.enabled"
            ]
        );
        let new = DbInstance::builder()
            .publicly_accessible(false)
            .deletion_protection(true)
            .performance_insights_enabled(true)
            .performance_insights_retention_period(7)
            .build();
        assert!(lazy.behind(&new).is_empty());
        // Not reported (moto): nothing to wait for.
        let silent = DbInstance::builder()
            .publicly_accessible(false)
            .deletion_protection(true)
            .build();
        assert!(lazy.behind(&silent).is_empty());
        let m = Modify {
            instance_class: Some("db.t3.small".into()),
            ..Modify::default()
        };
        assert!(Lazy::of(&m).is_empty());
    }

    #[test]
    fn observed_reads_every_field_and_hides_the_fingerprint() {
        use aws_sdk_rds::types::{
            Endpoint, MasterUserSecret, PendingModifiedValues, VpcSecurityGroupMembership,
        };
        let sg = |id: &str, st: &str| {
            VpcSecurityGroupMembership::builder()
                .vpc_security_group_id(id)
                .status(st)
                .build()
        };
        let i = DbInstance::builder()
            .db_instance_identifier("my-db")
            .db_instance_arn("arn:x")
            .db_instance_status("available")
            .endpoint(Endpoint::builder().address("h").port(5432).build())
            .engine("postgres")
            .engine_version("16.4")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .storage_encrypted(true)
            .master_username("root")
            .master_user_secret(MasterUserSecret::builder().secret_arn("arn:s").build())
            .vpc_security_groups(sg("sg-2", "active"))
            .vpc_security_groups(sg("sg-1", "adding"))
            .vpc_security_groups(sg("sg-0", "removing"))
            .tag_list(Tag::builder().key(STACK_TAG).value("cruddur").build())
            .tag_list(Tag::builder().key(FINGERPRINT_TAG).value("abc").build())
            .pending_modified_values(
                PendingModifiedValues::builder()
                    .db_instance_class("db.t3.small")
                    .build(),
            )
            .build();
        let src = "stack: cruddur\ndb_instances:\n  My-DB:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    manage_master_password: true\n    final_snapshot: false\n";
        let env = |_: &str| None;
        let stack = crate::stack::parse_str(
            src,
            std::path::Path::new("s.yaml"),
            std::path::Path::new("."),
            &env,
        )
        .unwrap();
        let o = observed(&i, &stack);
        assert!(o.owned && o.managed_password);
        assert_eq!(o.identifier, "my-db");
        assert_eq!(o.security_groups, vec!["sg-1", "sg-2"]);
        assert_eq!(o.password_fingerprint, Some(Fingerprint("abc".into())));
        assert!(!o.tags.contains_key(FINGERPRINT_TAG));
        assert_eq!(o.pending, vec!["instance_class"]);
        assert_eq!(settling(&i), vec!["instance_class", "security_groups"]);
        assert_eq!(o.declared.unwrap().final_snapshot, FinalSnapshot::Skip);
        assert_eq!((o.address.as_deref(), o.port), (Some("h"), Some(5432)));
        assert_eq!(o.performance_insights_enabled, None);
    }
}

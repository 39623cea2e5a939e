//! Security groups against EC2. Reads are batched: one filtered DescribeSecurityGroups per
//! question (ours by tag, declared by name), which lists each group's ingress rules too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, ResourceType, SecurityGroup, SecurityGroupRuleRequest,
    SecurityGroupRuleUpdate, Tag, TagSpecification, UserIdGroupPair,
};

use super::{
    GroupObserved, GroupSpec, RuleObserved, RuleSpec, Source, group_address, rule_address,
};
use crate::aws::Clients;
use crate::error::{AwsKind, Error, Result, code_of, kind_of};
use crate::plan::Change;
use crate::resources::core::batch::RuleItem;
use crate::resources::core::{Adapter, Ctx, Found, Key, LiveEnv, data_key};
use crate::stack::{STACK_TAG, Stack, Subnets, VpcRef};

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// The default VPC and its default subnets, read only when the stack uses them.
pub async fn observe_env(clients: &Clients, stack: &Stack) -> Result<LiveEnv> {
    let mut env = LiveEnv {
        region: clients.region.clone(),
        ..Default::default()
    };
    let needs_vpc = stack
        .security_groups
        .values()
        .any(|g| g.vpc == VpcRef::Default)
        || stack.functions.values().any(|f| {
            f.vpc
                .as_ref()
                .is_some_and(|v| v.subnets == Subnets::Default)
        });
    // Only compared with the VPCs of the stack's groups (see core::network): no default VPC is
    // then no error here.
    let compares = crate::resources::core::network::needs_default_vpc(stack);
    if !needs_vpc && !compares {
        return Ok(env);
    }
    // Default subnets are those of the default VPC: `default-for-az` needs no VPC id, so both
    // calls go out at once.
    let (read, group_vpcs) = tokio::join!(
        async {
            tokio::try_join!(
                async {
                    clients
                        .ec2
                        .describe_vpcs()
                        .filters(filter("is-default", ["true".to_string()]))
                        .send()
                        .await
                        .map_err(|e| Error::aws("DescribeVpcs", "default VPC", e))
                },
                async {
                    let mut subnets = Vec::new();
                    let mut pages = clients
                        .ec2
                        .describe_subnets()
                        .filters(filter("default-for-az", ["true".to_string()]))
                        .into_paginator()
                        .send();
                    while let Some(page) = pages.next().await {
                        let page =
                            page.map_err(|e| Error::aws("DescribeSubnets", "default subnets", e))?;
                        subnets.extend(page.subnets().iter().filter_map(|s| {
                            Some((s.vpc_id()?.to_string(), s.subnet_id()?.to_string()))
                        }));
                    }
                    Ok(subnets)
                },
            )
        },
        external_group_vpcs(clients, stack),
    );
    let (vpcs, subnets) = read?;
    env.group_vpcs = group_vpcs;
    env.default_vpc = vpcs
        .vpcs()
        .first()
        .and_then(|v| v.vpc_id().map(str::to_string));
    let Some(vpc) = env.default_vpc.clone() else {
        if !needs_vpc {
            return Ok(env);
        }
        return Err(Error::user(format!(
            "region {} has no default VPC, but the stack uses `vpc: default` or `subnets: default`: name a vpc-… id and subnet-… ids instead",
            clients.region
        )));
    };
    let mut subnets: Vec<String> = subnets
        .into_iter()
        .filter(|(v, _)| *v == vpc)
        .map(|(_, s)| s)
        .collect();
    subnets.sort();
    env.default_subnets = subnets;
    Ok(env)
}

/// The VPC of each existing group (named by id) that must be in the default VPC (see
/// `core::network`). Advisory: one call, and on any refusal (a group that does not exist, no
/// permission) nothing is concluded, and CreateDBInstance or CreateFunction has the last word.
async fn external_group_vpcs(clients: &Clients, stack: &Stack) -> BTreeMap<String, String> {
    let ids = crate::resources::core::network::external_groups(stack);
    if ids.is_empty() {
        return BTreeMap::new();
    }
    match clients
        .ec2
        .describe_security_groups()
        .set_group_ids(Some(ids))
        .send()
        .await
    {
        Ok(out) => out
            .security_groups()
            .iter()
            .filter_map(|g| Some((g.group_id()?.to_string(), g.vpc_id()?.to_string())))
            .collect(),
        Err(e) => {
            tracing::debug!(
                "DescribeSecurityGroups of the groups named by id: {:?}",
                code_of(&e)
            );
            BTreeMap::new()
        }
    }
}

async fn describe_groups(clients: &Clients, filters: Vec<Filter>) -> Result<Vec<SecurityGroup>> {
    let mut out = Vec::new();
    let mut pages = clients
        .ec2
        .describe_security_groups()
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("DescribeSecurityGroups", "security_groups", e))?;
        out.extend(page.security_groups().iter().cloned());
    }
    Ok(out)
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// The stack's groups (by tag) and the groups with declared names (to adopt), as EC2 describes
/// them: with their ingress rules (`IpPermissions`), so rules need no read of their own.
pub struct Described {
    groups: Vec<SecurityGroup>,
}

/// Two DescribeSecurityGroups at once: nothing here needs another kind's read (not even the
/// default VPC), and nothing follows them. DescribeSecurityGroupRules would add a second round
/// only to learn the rules' `sgr-` ids, which only an in-place change needs (looked up then).
pub async fn read(clients: &Clients, stack: &Stack) -> Result<Described> {
    let owned_filter = filter(&format!("tag:{STACK_TAG}"), [stack.name.clone()]);
    let declared: Vec<String> = stack
        .security_groups
        .values()
        .map(|g| g.name.clone())
        .collect();
    let (owned, named) = tokio::try_join!(describe_groups(clients, vec![owned_filter]), async {
        if declared.is_empty() {
            Ok(Vec::new())
        } else {
            describe_groups(clients, vec![filter("group-name", declared.clone())]).await
        }
    })?;
    Ok(Described {
        groups: owned.into_iter().chain(named).collect(),
    })
}

/// A group's ingress rules: each CIDR range and each group pair of its `IpPermissions` is one
/// rule, as DescribeSecurityGroupRules would list it. Egress is left alone (spec section 3);
/// IPv6 and prefix-list rules cannot be written in the file, so they are kept rather than
/// silently revoked (they are not listed here).
fn ingress_rules(g: &SecurityGroup) -> Vec<RuleObserved> {
    let group_id = g.group_id().unwrap_or_default();
    let mut out = Vec::new();
    for p in g.ip_permissions() {
        let rule = |description: Option<&str>, cidr: Option<&str>, source_group: Option<&str>| {
            RuleObserved {
                group_id: group_id.to_string(),
                description: description.filter(|d| !d.is_empty()).map(str::to_string),
                protocol: p.ip_protocol().unwrap_or("-1").to_string(),
                from_port: p.from_port().unwrap_or(-1),
                to_port: p.to_port().unwrap_or(-1),
                cidr: cidr.map(str::to_string),
                source_group: source_group.map(str::to_string),
            }
        };
        for r in p.ip_ranges() {
            if let Some(cidr) = r.cidr_ip() {
                out.push(rule(r.description(), Some(cidr), None));
            }
        }
        for pair in p.user_id_group_pairs() {
            if let Some(src) = pair.group_id() {
                out.push(rule(pair.description(), None, Some(src)));
            }
        }
    }
    out
}

/// The groups of [`read`] that are ours or ours to adopt (in the VPC `env` says), with their
/// rules.
pub fn observe(
    stack: &Stack,
    env: &LiveEnv,
    described: Described,
) -> (Vec<Found<GroupObserved>>, Vec<Found<RuleObserved>>) {
    let mut groups: BTreeMap<String, SecurityGroup> = BTreeMap::new();
    for g in described.groups {
        let (Some(id), Some(name)) = (g.group_id(), g.group_name()) else {
            continue;
        };
        let tags = tags_of(g.tags());
        let ours = tags.get(STACK_TAG) == Some(&stack.name);
        // A declared name that exists in another VPC than the one the file asks for is not ours
        // to adopt; the create in the right VPC will go ahead.
        if !ours {
            let key = Stack::key_of(&stack.security_groups, |g| &g.name, name);
            let want_vpc = match stack
                .security_groups
                .get(key)
                .filter(|g| g.name == name)
                .map(|s| &s.vpc)
            {
                Some(VpcRef::Id(v)) => Some(v.clone()),
                Some(VpcRef::Default) => env.default_vpc.clone(),
                None => continue,
            };
            if want_vpc.as_deref() != g.vpc_id() {
                continue;
            }
        }
        groups.insert(id.to_string(), g);
    }
    let mut found = Vec::new();
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    for (id, g) in &groups {
        let name = g.group_name().unwrap_or_default().to_string();
        let tags = tags_of(g.tags());
        // Addresses are the file's keys; the AWS name may differ (`name:`).
        let owned = tags.get(STACK_TAG) == Some(&stack.name);
        let key = data_key(&stack.security_groups, |g| &g.name, &name, owned, &tags).to_string();
        by_id.insert(id.clone(), key.clone());
        found.push(Found {
            address: group_address(&key),
            key: Key::Group(key),
            observed: GroupObserved {
                id: id.clone(),
                name: name.clone(),
                description: g.description().unwrap_or_default().to_string(),
                vpc_id: g.vpc_id().unwrap_or_default().to_string(),
                owned: tags.get(STACK_TAG) == Some(&stack.name),
                tags,
            },
        });
    }
    let id_of: BTreeMap<&String, &String> = by_id.iter().map(|(id, name)| (name, id)).collect();
    let mut found_rules = Vec::new();
    for (gid, g) in &groups {
        let gname = &by_id[gid];
        let mut rules = labelled(ingress_rules(g));
        if let Some(g) = stack.security_groups.get(gname) {
            super::relabel(&declared_permissions(g, &id_of), &mut rules);
        }
        for (label, observed) in rules {
            found_rules.push(Found {
                address: rule_address(gname, &label),
                key: Key::Rule {
                    group: gname.clone(),
                    description: label,
                },
                observed,
            });
        }
    }
    (found, found_rules)
}

/// One group's rules under their labels: the description, or the permission when the rule has
/// none or another rule of the group has the same one (two live rules with one description cannot
/// both be the declared rule: the first in permission order is, the other is revoked as
/// unlisted). Labels are unique within the group.
fn labelled(mut rules: Vec<RuleObserved>) -> Vec<(String, RuleObserved)> {
    rules.sort_by_cached_key(|r| (r.description.is_none(), super::permission_label(r)));
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for r in rules {
        let label = match &r.description {
            Some(d) if seen.insert(d.clone()) => d.clone(),
            _ => {
                let base = super::permission_label(&r);
                // Only a description spelled like a permission can collide.
                let mut label = base.clone();
                let mut n = 2;
                while !seen.insert(label.clone()) {
                    label = format!("{base}-{n}");
                    n += 1;
                }
                label
            }
        };
        out.push((label, r));
    }
    out
}

/// The declared rules of a group whose permission is known now, for [`super::relabel`].
fn declared_permissions(
    g: &crate::stack::SecurityGroup,
    id_of: &BTreeMap<&String, &String>,
) -> Vec<(String, super::Permission)> {
    use crate::stack::{GroupRef, RuleSource};
    g.ingress
        .iter()
        .filter_map(|r| {
            let (cidr, source_group) = match &r.source {
                RuleSource::Cidr(t) if !t.uses_public_ip() => (
                    crate::stack::Resolver::default()
                        .resolve(t)
                        .expose()
                        .map(str::to_string),
                    None,
                ),
                RuleSource::Cidr(_) => return None,
                RuleSource::Group(GroupRef::Id(id)) => (None, Some(id.clone())),
                RuleSource::Group(GroupRef::Stack(name)) => {
                    (None, Some(id_of.get(name)?.to_string()))
                }
            };
            Some((
                r.description.clone(),
                super::Permission {
                    protocol: r.protocol.as_ec2().to_string(),
                    from_port: r.from_port,
                    to_port: r.to_port,
                    cidr,
                    source_group,
                },
            ))
        })
        .collect()
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Security groups.
pub struct Groups;

impl Adapter for Groups {
    type Spec = GroupSpec;
    type Observed = GroupObserved;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        spec: &GroupSpec,
        _existing: Option<&GroupObserved>,
    ) -> Result<GroupObserved> {
        create_group(ctx, address, spec).await
    }

    /// Only tags change in place (name, description and VPC force a replacement).
    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &GroupSpec,
        o: &GroupObserved,
        _change: &Change,
    ) -> Result<GroupObserved> {
        let missing: BTreeMap<String, String> = s
            .tags
            .iter()
            .filter(|(k, v)| o.tags.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !missing.is_empty() {
            ctx.clients
                .ec2
                .create_tags()
                .resources(&o.id)
                .set_tags(Some(tag_list(&missing)))
                .send()
                .await
                .map_err(|e| Error::aws("CreateTags", address, e))?;
        }
        let mut o = o.clone();
        o.tags.extend(missing);
        o.owned = true;
        Ok(o)
    }

    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        o: &GroupObserved,
        _replacing: Option<&GroupSpec>,
    ) -> Result<()> {
        delete_group(ctx, address, &o.id).await
    }
}

async fn create_group(ctx: &Ctx<'_>, address: &str, s: &GroupSpec) -> Result<GroupObserved> {
    let vpc = s
        .vpc_id
        .expose()
        .ok_or_else(|| Error::other("VPC id unknown at apply").at(address))?;
    let out = ctx
        .clients
        .ec2
        .create_security_group()
        .group_name(&s.name)
        .description(&s.description)
        .vpc_id(vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .set_tags(Some(tag_list(&s.tags)))
                .build(),
        )
        .send()
        .await;
    let id = match out {
        Ok(out) => out
            .group_id()
            .ok_or_else(|| Error::other("CreateSecurityGroup returned no id").at(address))?
            .to_string(),
        // The plan found no group of this name; one carrying this stack's tag now is what an
        // attempt whose answer was lost made (the SDK sent the call again).
        Err(e) if kind_of(&e) == Some(AwsKind::AlreadyExists) => {
            match made_by_lost_attempt(ctx, address, &s.name, vpc).await? {
                Some(id) => id,
                None => return Err(Error::aws("CreateSecurityGroup", address, e)),
            }
        }
        Err(e) => return Err(Error::aws("CreateSecurityGroup", address, e)),
    };
    ctx.new_groups.record(&id);
    Ok(GroupObserved {
        id,
        name: s.name.clone(),
        description: s.description.clone(),
        vpc_id: vpc.to_string(),
        tags: s.tags.clone(),
        owned: true,
    })
}

/// The id of the group `name` in `vpc` if it carries this stack's tag.
async fn made_by_lost_attempt(
    ctx: &Ctx<'_>,
    address: &str,
    name: &str,
    vpc: &str,
) -> Result<Option<String>> {
    let filter = |k: &str, v: &str| Filter::builder().name(k).values(v).build();
    let out = ctx
        .clients
        .ec2
        .describe_security_groups()
        .filters(filter("group-name", name))
        .filters(filter("vpc-id", vpc))
        .send()
        .await
        .map_err(|e| Error::aws("DescribeSecurityGroups", address, e))?;
    Ok(out
        .security_groups()
        .iter()
        .find(|g| {
            g.tags()
                .iter()
                .any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(&ctx.stack.name))
        })
        .and_then(|g| g.group_id().map(str::to_string)))
}

/// The `sgr-` id of the live rule `o`: ModifySecurityGroupRules names a rule by id, which the
/// plan's read (DescribeSecurityGroups) does not give, so it is looked up here, only for a rule
/// changed in place. The permission finds it: EC2 keeps it unique among a group's ingress rules.
async fn rule_id(ctx: &Ctx<'_>, address: &str, o: &RuleObserved) -> Result<String> {
    let mut pages = ctx
        .clients
        .ec2
        .describe_security_group_rules()
        .filters(filter("group-id", [o.group_id.clone()]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("DescribeSecurityGroupRules", address, e))?;
        let found = page.security_group_rules().iter().find(|r| {
            !r.is_egress().unwrap_or(false)
                && r.ip_protocol().unwrap_or("-1") == o.protocol
                && r.from_port().unwrap_or(-1) == o.from_port
                && r.to_port().unwrap_or(-1) == o.to_port
                && r.cidr_ipv4() == o.cidr.as_deref()
                && r.referenced_group_info().and_then(|g| g.group_id()) == o.source_group.as_deref()
        });
        if let Some(id) = found.and_then(|r| r.security_group_rule_id()) {
            return Ok(id.to_string());
        }
    }
    Err(Error::other(format!(
        "{address}: the rule is no longer in its group (changed since the plan read it): run plan again"
    )))
}

async fn delete_group(ctx: &Ctx<'_>, address: &str, id: &str) -> Result<()> {
    let started = Instant::now();
    // Lambda's hyperplane ENIs can hold a group long after the function is gone.
    let budget = ctx.settings.sg_delete_timeout;
    let mut pause = ctx.backoff();
    loop {
        match ctx
            .clients
            .ec2
            .delete_security_group()
            .group_id(id)
            .send()
            .await
        {
            Ok(_) => break,
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => break,
            Err(e) if kind_of(&e) == Some(AwsKind::InUse) && started.elapsed() < budget => {
                let freed = delete_detached_lambda_enis(ctx, address, id).await?;
                let holders = holders(ctx, address, id).await?;
                // Another group's rule never lets go on its own: waiting would only hide it.
                if !holders.rules.is_empty() && holders.interfaces.is_empty() && !holders.lambda {
                    return Err(Error::other(format!(
                        "{address}: DeleteSecurityGroup failed: DependencyViolation: {id} is named as source by a rule of {}: revoke that rule (or remove it from that group's stack) and run again",
                        holders.rules.join(", ")
                    )));
                }
                let state = if freed > 0 {
                    format!("deleted {freed} detached Lambda network interface(s)")
                } else {
                    holders.describe(ctx.stack)
                };
                ctx.progress
                    .waiting(address, "to be no longer in use", &state);
                pause.pause(address).await?;
            }
            Err(e) => return Err(Error::aws("DeleteSecurityGroup", address, e)),
        }
    }
    ctx.progress.done_waiting(address);
    Ok(())
}

/// What EC2 shows holding a group: network interfaces in it, and rules of other groups naming it.
struct Holders {
    /// A Lambda function's interface is among them.
    lambda: bool,
    /// The other interfaces, as `eni-… (description)`.
    interfaces: Vec<String>,
    /// Groups with a rule naming it as source, as `name (sg-…)`.
    rules: Vec<String>,
}

impl Holders {
    /// The wait line. Lambda is named only when it can be what holds the group: one of its
    /// interfaces is listed, or nothing is listed and the stack has a function in a VPC (whose
    /// interfaces Lambda may still be releasing out of sight).
    fn describe(&self, stack: &Stack) -> String {
        let mut what: Vec<String> = self.interfaces.clone();
        what.extend(self.rules.iter().map(|r| format!("a rule of {r}")));
        let lambda =
            self.lambda || (what.is_empty() && stack.functions.values().any(|f| f.vpc.is_some()));
        match (lambda, what.is_empty()) {
            (true, true) => "still in use (Lambda network interfaces are released up to ~45 min after the function is deleted or leaves the group)".into(),
            (true, false) => format!(
                "still in use by Lambda network interfaces (released up to ~45 min after the function is deleted or leaves the group) and {}",
                what.join(", ")
            ),
            (false, false) => format!("still in use by {}", what.join(", ")),
            (false, true) => "still in use (EC2 does not say by what yet)".into(),
        }
    }
}

async fn holders(ctx: &Ctx<'_>, address: &str, group_id: &str) -> Result<Holders> {
    let (enis, groups) = tokio::try_join!(
        async {
            ctx.clients
                .ec2
                .describe_network_interfaces()
                .filters(filter("group-id", [group_id.to_string()]))
                .send()
                .await
                .map_err(|e| Error::aws("DescribeNetworkInterfaces", address, e))
        },
        async {
            ctx.clients
                .ec2
                .describe_security_groups()
                .filters(filter("ip-permission.group-id", [group_id.to_string()]))
                .send()
                .await
                .map_err(|e| Error::aws("DescribeSecurityGroups", address, e))
        },
    )?;
    let mut h = Holders {
        lambda: false,
        interfaces: Vec::new(),
        rules: Vec::new(),
    };
    for eni in enis.network_interfaces() {
        let description = eni.description().unwrap_or_default();
        if description.starts_with("AWS Lambda VPC ENI") {
            h.lambda = true;
            continue;
        }
        let id = eni.network_interface_id().unwrap_or_default();
        h.interfaces.push(match description {
            "RDSNetworkInterface" => format!("an RDS instance's network interface {id}"),
            "" => format!("network interface {id}"),
            d => format!("network interface {id} ({d})"),
        });
    }
    for g in groups.security_groups() {
        if g.group_id() == Some(group_id) {
            continue;
        }
        h.rules.push(format!(
            "group {} ({})",
            g.group_name().unwrap_or_default(),
            g.group_id().unwrap_or_default()
        ));
    }
    Ok(h)
}

/// Deletes Lambda ENIs of this group that are already detached, which frees the group sooner than
/// waiting for Lambda to do it.
async fn delete_detached_lambda_enis(
    ctx: &Ctx<'_>,
    address: &str,
    group_id: &str,
) -> Result<usize> {
    let out = ctx
        .clients
        .ec2
        .describe_network_interfaces()
        .filters(filter("group-id", [group_id.to_string()]))
        .filters(filter("description", ["AWS Lambda VPC ENI*".to_string()]))
        .filters(filter("status", ["available".to_string()]))
        .send()
        .await
        .map_err(|e| Error::aws("DescribeNetworkInterfaces", address, e))?;
    let mut n = 0;
    for eni in out.network_interfaces() {
        let Some(id) = eni.network_interface_id() else {
            continue;
        };
        match ctx
            .clients
            .ec2
            .delete_network_interface()
            .network_interface_id(id)
            .send()
            .await
        {
            Ok(_) => n += 1,
            Err(e)
                if kind_of(&e) == Some(AwsKind::NotFound)
                    || code_of(&e) == Some("InvalidParameterValue") => {}
            Err(e) => return Err(Error::aws("DeleteNetworkInterface", address, e)),
        }
    }
    Ok(n)
}

fn permission(s: &RuleSpec, address: &str) -> Result<IpPermission> {
    let mut p = IpPermission::builder()
        .ip_protocol(&s.protocol)
        .from_port(s.from_port)
        .to_port(s.to_port);
    p = match &s.source {
        Source::Cidr(c) => p.ip_ranges(
            IpRange::builder()
                .cidr_ip(known(c, address)?)
                .description(&s.description)
                .build(),
        ),
        Source::Group(g) => p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(known(g, address)?)
                .description(&s.description)
                .build(),
        ),
    };
    Ok(p.build())
}

fn known<'a>(t: &'a crate::value::Text, address: &str) -> Result<&'a str> {
    t.expose().ok_or_else(|| {
        Error::other(format!(
            "{address}: a value was still unknown at apply (internal ordering error)"
        ))
    })
}

/// Ingress rules of security groups.
pub struct Rules;

impl Adapter for Rules {
    type Spec = RuleSpec;
    type Observed = RuleObserved;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        s: &RuleSpec,
        _existing: Option<&RuleObserved>,
    ) -> Result<RuleObserved> {
        let group_id = known(&s.group_id, address)?;
        let mut named = vec![group_id.to_string()];
        if let Source::Group(g) = &s.source {
            named.push(known(g, address)?.to_string());
        }
        let item = RuleItem {
            address: address.to_string(),
            permission: permission(s, address)?,
            named,
        };
        ctx.batches
            .authorize
            .submit(group_id.to_string(), item, |items| {
                authorize(ctx, group_id, items)
            })
            .await
            .unwrap_or_else(|| Err(cancelled(address)))?;
        Ok(observed_from_spec(s, group_id))
    }
    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &RuleSpec,
        o: &RuleObserved,
        _change: &Change,
    ) -> Result<RuleObserved> {
        let mut req = SecurityGroupRuleRequest::builder()
            .ip_protocol(&s.protocol)
            .from_port(s.from_port)
            .to_port(s.to_port)
            .description(&s.description);
        req = match &s.source {
            Source::Cidr(c) => req.cidr_ipv4(known(c, address)?),
            Source::Group(g) => req.referenced_group_id(known(g, address)?),
        };
        ctx.clients
            .ec2
            .modify_security_group_rules()
            .group_id(&o.group_id)
            .security_group_rules(
                SecurityGroupRuleUpdate::builder()
                    .security_group_rule_id(rule_id(ctx, address, o).await?)
                    .security_group_rule(req.build())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Error::aws("ModifySecurityGroupRules", address, e))?;
        Ok(observed_from_spec(s, &o.group_id))
    }

    /// A rule of an adopted group is authorized as declared, as before the group was ours.
    async fn adopt(
        ctx: &Ctx<'_>,
        address: &str,
        s: &RuleSpec,
        o: &RuleObserved,
        _change: &Change,
    ) -> Result<RuleObserved> {
        Self::create(ctx, address, s, Some(o)).await
    }

    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        o: &RuleObserved,
        _replacing: Option<&RuleSpec>,
    ) -> Result<()> {
        // By permission, not by `sgr-` id: the permission names exactly one ingress rule of the
        // group (EC2 refuses duplicates, and a revoke need not repeat the description), and it
        // is what the plan read, so no lookup of the id is needed first.
        let mut p = IpPermission::builder()
            .ip_protocol(&o.protocol)
            .from_port(o.from_port)
            .to_port(o.to_port);
        if let Some(cidr) = &o.cidr {
            p = p.ip_ranges(IpRange::builder().cidr_ip(cidr).build());
        }
        if let Some(src) = &o.source_group {
            p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(src).build());
        }
        let item = RuleItem {
            address: address.to_string(),
            permission: p.build(),
            named: vec![],
        };
        ctx.batches
            .revoke
            .submit(o.group_id.clone(), item, |items| {
                revoke(ctx, &o.group_id, items)
            })
            .await
            .unwrap_or_else(|| Err(cancelled(address)))
    }
}

fn cancelled(address: &str) -> Error {
    Error::other(format!(
        "{address}: the call that carried this rule with others of its group was cancelled"
    ))
}

/// `e`, which answered the call made for `from` and the other rules of its batch, as the error of
/// `to`; `n`: how many rules the call carried.
fn for_rule(e: &Error, from: &str, to: &str, n: usize) -> Error {
    let batch = if n > 1 {
        format!(" (one call for {n} rules of this group)")
    } else {
        String::new()
    };
    match (e.aws_operation(), e.aws_code()) {
        (Some(operation), Some(code)) => {
            Error::aws_answer(to, operation, code, format!("{}{batch}", e.message()))
        }
        _ => {
            let other = e;
            let msg = other.to_string();
            let msg = msg.strip_prefix(&format!("{from}: ")).unwrap_or(&msg);
            Error::other(format!("{to}: {msg}{batch}"))
        }
    }
}

/// One AuthorizeSecurityGroupIngress for the new rules of group `group_id` (it takes several
/// permissions, each range or pair with its own description: EC2 API reference,
/// AuthorizeSecurityGroupIngress), one answer per rule.
async fn authorize(ctx: &Ctx<'_>, group_id: &str, items: Vec<RuleItem>) -> Vec<Result<()>> {
    let first = items[0].address.clone();
    let mut named: Vec<&str> = items
        .iter()
        .flat_map(|i| i.named.iter().map(String::as_str))
        .collect();
    named.sort_unstable();
    named.dedup();
    let req = ctx
        .clients
        .ec2
        .authorize_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(items.iter().map(|i| i.permission.clone()).collect()));
    let n = items.len();
    let each = |e: Error| -> Vec<Result<()>> {
        items
            .iter()
            .map(|i| Err(for_rule(&e, &first, &i.address, n)))
            .collect()
    };
    match ctx
        .while_new_groups_propagate(&first, &named, || req.clone().send())
        .await
    {
        Err(e) => each(e),
        Ok(Ok(_)) => items.iter().map(|_| Ok(())).collect(),
        // The plan found none of these permissions in the group, so a duplicate is one an
        // attempt whose answer was lost made (the SDK sent the call again), or one made since
        // by someone else. AWS refuses the whole call when any permission of it exists and adds
        // none of the others, so each rule is sent again alone, where a duplicate means done.
        Ok(Err(e)) if kind_of(&e) == Some(AwsKind::AlreadyExists) && n > 1 => {
            let mut out = Vec::with_capacity(n);
            for i in &items {
                let named: Vec<&str> = i.named.iter().map(String::as_str).collect();
                let one = ctx
                    .clients
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(group_id)
                    .ip_permissions(i.permission.clone());
                out.push(
                    match ctx
                        .while_new_groups_propagate(&i.address, &named, || one.clone().send())
                        .await
                    {
                        Err(e) => Err(e),
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) if kind_of(&e) == Some(AwsKind::AlreadyExists) => Ok(()),
                        Ok(Err(e)) => {
                            Err(Error::aws("AuthorizeSecurityGroupIngress", &i.address, e))
                        }
                    },
                );
            }
            out
        }
        // Should a description differ after all, the next plan shows it as an in-place update.
        Ok(Err(e)) if kind_of(&e) == Some(AwsKind::AlreadyExists) => vec![Ok(())],
        Ok(Err(e)) => each(Error::aws("AuthorizeSecurityGroupIngress", &first, e)),
    }
}

/// One RevokeSecurityGroupIngress for the rules of group `group_id` to revoke. A permission AWS no
/// longer has comes back in UnknownIpPermissions (the others are revoked), or, from older
/// endpoints, as InvalidPermission.NotFound for the whole call: then each is revoked alone, where
/// NotFound means already revoked.
async fn revoke(ctx: &Ctx<'_>, group_id: &str, items: Vec<RuleItem>) -> Vec<Result<()>> {
    let gone = |e: &aws_sdk_ec2::error::SdkError<_, _>| kind_of(e) == Some(AwsKind::NotFound);
    let n = items.len();
    let first = items[0].address.clone();
    let sent = ctx
        .clients
        .ec2
        .revoke_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(items.iter().map(|i| i.permission.clone()).collect()))
        .send()
        .await;
    match sent {
        Ok(_) => items.iter().map(|_| Ok(())).collect(),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => items.iter().map(|_| Ok(())).collect(),
        Err(e) if gone(&e) && n > 1 => {
            let mut out = Vec::with_capacity(n);
            for i in &items {
                out.push(
                    match ctx
                        .clients
                        .ec2
                        .revoke_security_group_ingress()
                        .group_id(group_id)
                        .ip_permissions(i.permission.clone())
                        .send()
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(e) if gone(&e) => Ok(()),
                        Err(e) => Err(Error::aws("RevokeSecurityGroupIngress", &i.address, e)),
                    },
                );
            }
            out
        }
        Err(e) if gone(&e) => vec![Ok(())],
        Err(e) => {
            let e = Error::aws("RevokeSecurityGroupIngress", &first, e);
            items
                .iter()
                .map(|i| Err(for_rule(&e, &first, &i.address, n)))
                .collect()
        }
    }
}

fn observed_from_spec(s: &RuleSpec, group_id: &str) -> RuleObserved {
    let (cidr, source_group) = match &s.source {
        Source::Cidr(c) => (c.expose().map(str::to_string), None),
        Source::Group(g) => (None, g.expose().map(str::to_string)),
    };
    RuleObserved {
        group_id: group_id.to_string(),
        description: Some(s.description.clone()),
        protocol: s.protocol.clone(),
        from_port: s.from_port,
        to_port: s.to_port,
        cidr,
        source_group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(group: &str, description: Option<&str>) -> UserIdGroupPair {
        UserIdGroupPair::builder()
            .group_id(group)
            .set_description(description.map(str::to_string))
            .build()
    }

    fn range(cidr: &str, description: Option<&str>) -> IpRange {
        IpRange::builder()
            .cidr_ip(cidr)
            .set_description(description.map(str::to_string))
            .build()
    }

    #[test]
    fn rules_come_from_the_groups_ip_permissions_with_stable_labels() {
        let stack = crate::stack::parse_str(
            "stack: s\nsecurity_groups:\n  db:\n    description: d\n    ingress:\n      - description: APP\n        port: 5432\n        source_group: app\n      - description: GITPOD\n        port: 5432\n        cidr: 1.2.3.4/32\n  app:\n    description: a\n",
            std::path::Path::new("stack.yaml"),
            std::path::Path::new("."),
            &|_| None,
        )
        .unwrap();
        let tag = Tag::builder().key(STACK_TAG).value("s").build();
        let tcp = |port: i32| {
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
        };
        let db = SecurityGroup::builder()
            .group_id("sg-db")
            .group_name("db")
            .description("d")
            .vpc_id("vpc-1")
            .tags(tag.clone())
            .ip_permissions(
                tcp(5432)
                    .user_id_group_pairs(pair("sg-app", Some("APP")))
                    .ip_ranges(range("1.2.3.4/32", Some("GITPOD")))
                    // A second rule with a taken description, and one made without any.
                    .ip_ranges(range("5.6.7.8/32", Some("GITPOD")))
                    .ip_ranges(range("0.0.0.0/0", None))
                    // IPv6 cannot be written in the file: kept, so not listed.
                    .ipv6_ranges(
                        aws_sdk_ec2::types::Ipv6Range::builder()
                            .cidr_ipv6("::/0")
                            .build(),
                    )
                    .build(),
            )
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("-1")
                    .user_id_group_pairs(pair("sg-db", Some("")))
                    .build(),
            )
            // Egress is left alone.
            .ip_permissions_egress(
                IpPermission::builder()
                    .ip_protocol("-1")
                    .ip_ranges(range("0.0.0.0/0", None))
                    .build(),
            )
            .build();
        let app = SecurityGroup::builder()
            .group_id("sg-app")
            .group_name("app")
            .description("a")
            .vpc_id("vpc-1")
            .tags(tag)
            .build();
        let (groups, rules) = observe(
            &stack,
            &LiveEnv::default(),
            Described {
                groups: vec![db, app],
            },
        );
        assert_eq!(groups.len(), 2);
        type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let mut got: Vec<Row> = rules
            .iter()
            .map(|f| {
                (
                    f.address.as_str(),
                    f.observed.description.as_deref(),
                    f.observed.cidr.as_deref(),
                    f.observed.source_group.as_deref(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (
                    "security_groups.db.ingress.APP",
                    Some("APP"),
                    None,
                    Some("sg-app")
                ),
                (
                    "security_groups.db.ingress.GITPOD",
                    Some("GITPOD"),
                    Some("1.2.3.4/32"),
                    None
                ),
                (
                    "security_groups.db.ingress.all-from-sg-db",
                    None,
                    None,
                    Some("sg-db")
                ),
                (
                    "security_groups.db.ingress.tcp-5432-from-0.0.0.0/0",
                    None,
                    Some("0.0.0.0/0"),
                    None
                ),
                (
                    "security_groups.db.ingress.tcp-5432-from-5.6.7.8/32",
                    Some("GITPOD"),
                    Some("5.6.7.8/32"),
                    None
                ),
            ]
        );
        assert!(rules.iter().all(|f| f.observed.group_id == "sg-db"));
        let all = &rules
            .iter()
            .find(|f| f.observed.protocol == "-1")
            .unwrap()
            .observed;
        assert_eq!(
            (all.protocol.as_str(), all.from_port, all.to_port),
            ("-1", -1, -1)
        );
    }

    fn stack(src: &str) -> crate::stack::Stack {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("f")).unwrap();
        std::fs::write(dir.path().join("f/main.py"), "").unwrap();
        crate::stack::parse_str(src, &dir.path().join("stack.yaml"), dir.path(), &|_| None).unwrap()
    }

    #[test]
    fn the_wait_names_lambda_only_when_a_lambda_can_hold_the_group() {
        let groups = "stack: s\nsecurity_groups:\n  g:\n    description: d\n";
        let no_functions = stack(groups);
        let vpc_function = stack(&format!(
            "{groups}functions:\n  f:\n    source: f\n    runtime: python3.12\n    handler: main.h\n    vpc:\n      subnets: [subnet-0123456789abcdef0]\n      security_groups: [g]\n"
        ));
        let none = Holders {
            lambda: false,
            interfaces: vec![],
            rules: vec![],
        };
        assert!(!none.describe(&no_functions).contains("Lambda"));
        assert!(
            none.describe(&vpc_function)
                .contains("Lambda network interfaces")
        );
        let rds = Holders {
            interfaces: vec!["an RDS instance's network interface eni-1".into()],
            ..none
        };
        let line = rds.describe(&vpc_function);
        assert_eq!(
            line,
            "still in use by an RDS instance's network interface eni-1"
        );
        let lambda = Holders {
            lambda: true,
            ..rds
        };
        assert!(
            lambda
                .describe(&no_functions)
                .contains("Lambda network interfaces")
        );
    }
}

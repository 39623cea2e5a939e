//! Security groups against EC2. Reads are batched: one filtered DescribeSecurityGroups per
//! question (ours by tag, declared by name) and one DescribeSecurityGroupRules for all groups.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, ResourceType, SecurityGroup, SecurityGroupRule,
    SecurityGroupRuleRequest, SecurityGroupRuleUpdate, Tag, TagSpecification, UserIdGroupPair,
};

use super::{
    GroupObserved, GroupSpec, RuleObserved, RuleSpec, Source, group_address, rule_address,
};
use crate::aws::Clients;
use crate::error::{Error, Result, code_of};
use crate::plan::Change;
use crate::resources::core::{Adapter, Ctx, Found, Key, LiveEnv};
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
    if !needs_vpc {
        return Ok(env);
    }
    // Default subnets are those of the default VPC: `default-for-az` needs no VPC id, so both
    // calls go out at once.
    let (vpcs, subnets) = tokio::try_join!(
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
                let page = page.map_err(|e| Error::aws("DescribeSubnets", "default subnets", e))?;
                subnets.extend(
                    page.subnets().iter().filter_map(|s| {
                        Some((s.vpc_id()?.to_string(), s.subnet_id()?.to_string()))
                    }),
                );
            }
            Ok(subnets)
        },
    )?;
    env.default_vpc = vpcs
        .vpcs()
        .first()
        .and_then(|v| v.vpc_id().map(str::to_string));
    let Some(vpc) = env.default_vpc.clone() else {
        return Err(Error::User(format!(
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

/// The stack's groups (by tag) and the groups with declared names (to adopt), and their rules,
/// as EC2 describes them.
pub struct Described {
    groups: Vec<SecurityGroup>,
    rules: Vec<SecurityGroupRule>,
}

/// Two DescribeSecurityGroups at once, then one DescribeSecurityGroupRules for all the groups
/// found: nothing here needs another kind's read (not even the default VPC).
pub async fn read(clients: &Clients, stack: &Stack) -> Result<Described> {
    let owned_filter = filter(&format!("tag:{STACK_TAG}"), [stack.name.clone()]);
    let declared: Vec<String> = stack.security_groups.keys().cloned().collect();
    let (owned, named) = tokio::try_join!(describe_groups(clients, vec![owned_filter]), async {
        if declared.is_empty() {
            Ok(Vec::new())
        } else {
            describe_groups(clients, vec![filter("group-name", declared.clone())]).await
        }
    })?;
    let groups: Vec<SecurityGroup> = owned.into_iter().chain(named).collect();
    let ids: BTreeSet<String> = groups
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    let mut rules = Vec::new();
    if ids.is_empty() {
        return Ok(Described { groups, rules });
    }
    let mut pages = clients
        .ec2
        .describe_security_group_rules()
        .filters(filter("group-id", ids))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| Error::aws("DescribeSecurityGroupRules", "security_groups", e))?;
        rules.extend(page.security_group_rules().iter().cloned());
    }
    Ok(Described { groups, rules })
}

/// The groups of [`read`] that are ours or ours to adopt (in the VPC `env` says), with their
/// rules.
pub fn observe(
    stack: &Stack,
    env: &LiveEnv,
    described: Described,
) -> (Vec<Found<GroupObserved>>, Vec<Found<RuleObserved>>) {
    let Described {
        groups: described,
        rules,
    } = described;
    let mut groups: BTreeMap<String, SecurityGroup> = BTreeMap::new();
    for g in described {
        let (Some(id), Some(name)) = (g.group_id(), g.group_name()) else {
            continue;
        };
        let tags = tags_of(g.tags());
        let ours = tags.get(STACK_TAG) == Some(&stack.name);
        // A declared name that exists in another VPC than the one the file asks for is not ours
        // to adopt; the create in the right VPC will go ahead.
        if !ours {
            let want_vpc = match stack.security_groups.get(name).map(|s| &s.vpc) {
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
        by_id.insert(id.clone(), name.clone());
        found.push(Found {
            address: group_address(&name),
            key: Key::Group(name.clone()),
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
    let mut found_rules = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut live: BTreeMap<String, Vec<(String, RuleObserved)>> = BTreeMap::new();
    for r in rules {
        if r.is_egress().unwrap_or(false) || r.cidr_ipv6().is_some() || r.prefix_list_id().is_some()
        {
            // Egress is left alone (spec section 3); IPv6 and prefix-list rules cannot be written
            // in the file, so they are kept rather than silently revoked.
            continue;
        }
        let (Some(id), Some(gid)) = (r.security_group_rule_id(), r.group_id()) else {
            continue;
        };
        let Some(gname) = by_id.get(gid) else {
            continue;
        };
        let source_group = r
            .referenced_group_info()
            .and_then(|g| g.group_id())
            .map(str::to_string);
        let description = r
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .or_else(|| description_from_permissions(&groups[gid], &r));
        let observed = RuleObserved {
            id: id.to_string(),
            group_id: gid.to_string(),
            description: description.clone(),
            protocol: r.ip_protocol().unwrap_or("-1").to_string(),
            from_port: r.from_port().unwrap_or(-1),
            to_port: r.to_port().unwrap_or(-1),
            cidr: r.cidr_ipv4().map(str::to_string),
            source_group,
        };
        // Two live rules with one description cannot both be the declared rule: the first is,
        // the other is addressed by its id and so revoked as unlisted.
        let label = match description {
            Some(d) if seen.insert((gname.clone(), d.clone())) => d,
            _ => id.to_string(),
        };
        live.entry(gname.clone())
            .or_default()
            .push((label, observed));
    }
    let id_of: BTreeMap<&String, &String> = by_id.iter().map(|(id, name)| (name, id)).collect();
    for (gname, rules) in &mut live {
        if let Some(g) = stack.security_groups.get(gname) {
            super::relabel(&declared_permissions(g, &id_of), rules);
        }
        for (label, observed) in rules.drain(..) {
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

/// The description of a group-referencing rule from DescribeSecurityGroups (already read), when
/// DescribeSecurityGroupRules gave none. Both describe the same rule, so this is right on AWS too:
/// AWS reports the description in both (this never changes the answer there), and a rule without
/// one has none in either. moto omits it only in DescribeSecurityGroupRules; without this, its
/// rules would plan as revoke-and-add forever.
fn description_from_permissions(
    g: &SecurityGroup,
    r: &aws_sdk_ec2::types::SecurityGroupRule,
) -> Option<String> {
    let src = r.referenced_group_info()?.group_id()?;
    g.ip_permissions()
        .iter()
        .filter(|p| {
            p.ip_protocol() == r.ip_protocol()
                && p.from_port() == r.from_port()
                && p.to_port() == r.to_port()
        })
        .flat_map(|p| p.user_id_group_pairs())
        .find(|pair| pair.group_id() == Some(src))
        .and_then(|pair| pair.description().map(str::to_string))
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
        .ok_or_else(|| Error::Other(format!("{address}: VPC id unknown at apply")))?;
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
            .ok_or_else(|| Error::Other(format!("{address}: CreateSecurityGroup returned no id")))?
            .to_string(),
        // The plan found no group of this name; one carrying this stack's tag now is what an
        // attempt whose answer was lost made (the SDK sent the call again).
        Err(e) if code_of(&e) == Some("InvalidGroup.Duplicate") => {
            match made_by_lost_attempt(ctx, address, &s.name, vpc).await? {
                Some(id) => id,
                None => return Err(Error::aws("CreateSecurityGroup", address, e)),
            }
        }
        Err(e) => return Err(Error::aws("CreateSecurityGroup", address, e)),
    };
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

/// The id of the ingress rule of `group_id` matching `s` (empty when none is listed).
async fn rule_made_by_lost_attempt(
    ctx: &Ctx<'_>,
    address: &str,
    s: &RuleSpec,
    group_id: &str,
) -> Result<String> {
    let out = ctx
        .clients
        .ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group_id).build())
        .send()
        .await
        .map_err(|e| Error::aws("DescribeSecurityGroupRules", address, e))?;
    let source = match &s.source {
        Source::Cidr(c) => c.expose().map(str::to_string),
        Source::Group(g) => g.expose().map(str::to_string),
    };
    Ok(out
        .security_group_rules()
        .iter()
        .find(|r| {
            !r.is_egress().unwrap_or(false)
                && r.from_port() == Some(s.from_port)
                && r.to_port() == Some(s.to_port)
                && (r.cidr_ipv4().map(str::to_string) == source
                    || r.referenced_group_info()
                        .and_then(|g| g.group_id())
                        .map(str::to_string)
                        == source)
        })
        .and_then(|r| r.security_group_rule_id())
        .unwrap_or_default()
        .to_string())
}

/// How long to keep retrying a group that is still in use. Lambda's hyperplane ENIs can hold a
/// group for up to ~45 minutes after the function is gone (AWS's P99 is ~35 minutes).
fn dependency_budget() -> Duration {
    std::env::var("DEPLOY_SG_DELETE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(45 * 60), Duration::from_secs)
}

async fn delete_group(ctx: &Ctx<'_>, address: &str, id: &str) -> Result<()> {
    let started = Instant::now();
    let budget = dependency_budget();
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
            Err(e) if code_of(&e) == Some("InvalidGroup.NotFound") => break,
            Err(e) if code_of(&e) == Some("DependencyViolation") && started.elapsed() < budget => {
                let freed = delete_detached_lambda_enis(ctx, address, id).await?;
                let holders = holders(ctx, address, id).await?;
                // Another group's rule never lets go on its own: waiting would only hide it.
                if !holders.rules.is_empty() && holders.interfaces.is_empty() && !holders.lambda {
                    return Err(Error::Other(format!(
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
                crate::interrupt::sleep(address, ctx.poll).await?;
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
                if matches!(
                    code_of(&e),
                    Some("InvalidNetworkInterfaceID.NotFound" | "InvalidParameterValue")
                ) => {}
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
        Error::Other(format!(
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
        let out = ctx
            .clients
            .ec2
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(permission(s, address)?)
            .send()
            .await;
        let id = match out {
            Ok(out) => out
                .security_group_rules()
                .first()
                .and_then(|r| r.security_group_rule_id())
                .unwrap_or_default()
                .to_string(),
            // The plan found no such rule in this stack's own group: an attempt whose answer
            // was lost made it (the SDK sent the call again).
            Err(e) if code_of(&e) == Some("InvalidPermission.Duplicate") => {
                rule_made_by_lost_attempt(ctx, address, s, group_id).await?
            }
            Err(e) => return Err(Error::aws("AuthorizeSecurityGroupIngress", address, e)),
        };
        Ok(observed_from_spec(s, &id, group_id))
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
                    .security_group_rule_id(&o.id)
                    .security_group_rule(req.build())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Error::aws("ModifySecurityGroupRules", address, e))?;
        Ok(observed_from_spec(s, &o.id, &o.group_id))
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
        match ctx
            .clients
            .ec2
            .revoke_security_group_ingress()
            .group_id(&o.group_id)
            .security_group_rule_ids(&o.id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    code_of(&e),
                    Some("InvalidPermission.NotFound" | "InvalidGroup.NotFound")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(Error::aws("RevokeSecurityGroupIngress", address, e)),
        }
    }
}

fn observed_from_spec(s: &RuleSpec, id: &str, group_id: &str) -> RuleObserved {
    let (cidr, source_group) = match &s.source {
        Source::Cidr(c) => (c.expose().map(str::to_string), None),
        Source::Group(g) => (None, g.expose().map(str::to_string)),
    };
    RuleObserved {
        id: id.to_string(),
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
    use super::Holders;

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

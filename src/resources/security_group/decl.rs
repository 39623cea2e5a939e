//! What the stack file declares of a security group and its ingress rules: the schema entries,
//! the entry as written, how it is decoded, and the checks that make it a [`SecurityGroup`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::stack::check::{Checker, is_aws_id, pos};
use crate::stack::decode::{Decoder, Node, Scalar, Schema, Sp, Str, Ty, field, named, sp};
use crate::stack::{Protocol, Resolver, Rule, RuleSource, SecurityGroup, VpcRef};

pub static SECURITY_GROUP: Schema = Schema {
    what: "security group",
    fields: &[
        field!("name", Ty::Str),
        field!("description", Ty::Str, required),
        field!("vpc", Ty::Str),
        field!("ingress", Ty::List(&Ty::Struct(&RULE))),
    ],
};

pub static RULE: Schema = Schema {
    what: "ingress rule",
    fields: &[
        field!("description", Ty::Str, required),
        field!("protocol", Ty::Str),
        field!("port", Ty::Int),
        field!("ports", Ty::Str),
        field!("cidr", Ty::Str),
        field!("source_group", Ty::Str),
    ],
};

#[derive(Debug)]
pub struct RawSecurityGroup {
    /// The AWS name, when not the key.
    pub name: Option<Str>,
    pub description: Option<Str>,
    pub vpc: Option<Str>,
    pub ingress: Vec<Sp<RawRule>>,
}

#[derive(Debug)]
pub struct RawRule {
    pub description: Option<Str>,
    pub protocol: Option<Str>,
    pub port: Option<Sp<Scalar>>,
    pub ports: Option<Str>,
    pub cidr: Option<Str>,
    pub source_group: Option<Str>,
}

/// A `security_groups` entry, with its rules.
pub fn decode(d: &mut Decoder, name: &Str, n: &Node) -> Option<Sp<RawSecurityGroup>> {
    let g = d.obj(
        n,
        &SECURITY_GROUP,
        &format!("security group `{}`", name.value),
    )?;
    let (aws_name, description, vpc) = (g.str(d, "name"), g.str(d, "description"), g.str(d, "vpc"));
    let ingress = g
        .list(d, "ingress", |d, r| {
            Some(sp(r, decode_rule(d, r, &name.value)?))
        })
        .unwrap_or_default();
    Some(named(
        name,
        RawSecurityGroup {
            name: aws_name,
            description,
            vpc,
            ingress,
        },
    ))
}

fn decode_rule(d: &mut Decoder, n: &Node, group: &str) -> Option<RawRule> {
    let r = d.obj(n, &RULE, &format!("an ingress rule of `{group}`"))?;
    let description = r.str(d, "description");
    Some(RawRule {
        protocol: r.str(d, "protocol"),
        port: r.int(d, "port"),
        ports: r.str(d, "ports"),
        cidr: r.str(d, "cidr"),
        source_group: r.str(d, "source_group"),
        description,
    })
}

/// The punctuation EC2 allows, beside ASCII letters, digits and spaces, in a group's name and
/// description in a VPC and in a CIDR rule's description (CreateSecurityGroup's GroupName and
/// Description, IpRange's Description: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*",
/// EC2 API reference). The emulator accepts anything; AWS refuses the call halfway through apply.
const EC2_GROUP_CHARS: &str = "._-:/()#,@[]+=&;{}!$*";

/// A group rule's description (UserIdGroupPair's Description in the EC2 API reference) allows
/// the same set without `&`.
const EC2_GROUP_PAIR_RULE_CHARS: &str = "._-:/()#,@[]+=;{}!$*";

/// Says which characters of `s` EC2 refuses, and what it takes, or None when all are allowed.
fn ec2_charset_problem(s: &str, punctuation: &str) -> Option<String> {
    let mut refused: Vec<char> = s
        .chars()
        .filter(|c| !c.is_ascii_alphanumeric() && *c != ' ' && !punctuation.contains(*c))
        .collect();
    refused.dedup();
    if refused.is_empty() {
        return None;
    }
    let shown: Vec<String> = refused.iter().map(|c| format!("{c:?}")).collect();
    Some(format!(
        "has characters EC2 refuses ({}): use letters, digits, spaces and {punctuation}",
        shown.join(", ")
    ))
}

pub(crate) fn check(
    c: &mut Checker<'_>,
    name: &str,
    g: &Sp<RawSecurityGroup>,
    groups: &BTreeSet<String>,
) -> Option<SecurityGroup> {
    let at = pos(g);
    let (aws_name, name_at) = c.physical(name, &g.value.name, at);
    if aws_name.is_empty() || aws_name.len() > 255 || aws_name.starts_with("sg-") {
        c.err(
            name_at,
            format!(
                "security group name `{aws_name}` must be 1-255 characters and not start with sg-"
            ),
        );
    }
    if let Some(problem) = ec2_charset_problem(&aws_name, EC2_GROUP_CHARS) {
        c.err(
            name_at,
            format!(
                "security group name `{}` {problem}",
                aws_name.escape_debug()
            ),
        );
    }
    let description = g
        .value
        .description
        .as_ref()
        .and_then(|x| c.plain(x, "description"));
    if let Some(description) = &description {
        let at = g.value.description.as_ref().map_or(at, pos);
        if description.is_empty() || description.chars().count() > 255 {
            c.err(at, "description must be 1-255 characters");
        } else if let Some(problem) = ec2_charset_problem(description, EC2_GROUP_CHARS) {
            c.err(at, format!("description {problem}"));
        }
    }
    let vpc = match g.value.vpc.as_ref().map(|v| (v, c.plain(v, "vpc"))) {
        None => VpcRef::Default,
        Some((_, Some(v))) if v == "default" => VpcRef::Default,
        Some((_, Some(v))) if is_aws_id(&v, "vpc-") => VpcRef::Id(v),
        Some((v, Some(other))) => {
            c.err(
                pos(v),
                format!("vpc must be `default` or a vpc-… id, not `{other}`"),
            );
            VpcRef::Default
        }
        Some((_, None)) => VpcRef::Default,
    };
    let mut ingress = Vec::new();
    let mut seen = BTreeSet::new();
    let mut permissions = BTreeMap::new();
    for r in &g.value.ingress {
        let (description, rule) = check_rule(c, r, groups);
        if let Some(description) = description
            && !seen.insert(description.clone())
        {
            c.err(
                r.value.description.as_ref().map_or(r.pos, pos),
                format!(
                    "rule description `{description}` is used twice in `{name}`: descriptions identify rules and must be unique within a group"
                ),
            );
        }
        if let Some(rule) = rule {
            // AWS keeps one rule per permission: two entries that differ only in description
            // would be refused as a duplicate at apply.
            let source = match &rule.source {
                RuleSource::Cidr(t) => Resolver {
                    public_ip: Some("192.0.2.1".into()),
                    ..Default::default()
                }
                .resolve(t)
                .expose()
                .unwrap_or_default()
                .to_string(),
                RuleSource::Group(g) => format!("{g:?}"),
            };
            let key = (rule.protocol.as_ec2(), rule.from_port, rule.to_port, source);
            if let Some(first) = permissions.insert(key, rule.description.clone()) {
                c.err(
                    r.value.description.as_ref().map_or(r.pos, pos),
                    format!(
                        "rule `{}` allows exactly what rule `{first}` allows in `{name}`: AWS keeps one rule per permission, so merge them",
                        rule.description
                    ),
                );
            }
            ingress.push(rule);
        }
    }
    Some(SecurityGroup {
        name: aws_name,
        description: description?,
        vpc,
        ingress,
        pos: at,
    })
}

/// One ingress rule. Every field is checked even when an earlier one is wrong, so that one run
/// shows all of a rule's problems; the description comes back on its own (when it resolves) so
/// that the group can check it for duplicates even when the rest of the rule is broken.
fn check_rule(
    c: &mut Checker<'_>,
    r: &Sp<RawRule>,
    groups: &BTreeSet<String>,
) -> (Option<String>, Option<Rule>) {
    let at = pos(r);
    let v = &r.value;
    let description = v
        .description
        .as_ref()
        .and_then(|x| c.plain(x, "description"));
    if let Some(d) = &description
        && (d.is_empty() || d.chars().count() > 255)
    {
        c.err(
            v.description.as_ref().map_or(at, pos),
            "rule description must be 1-255 characters",
        );
    }
    let protocol = match v.protocol.as_ref().map(|p| (p, c.plain(p, "protocol"))) {
        None => Some(Protocol::Tcp),
        Some((p, Some(s))) => match s.as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "icmp" => Some(Protocol::Icmp),
            "all" | "-1" => Some(Protocol::All),
            other => {
                c.err(
                    pos(p),
                    format!("protocol must be tcp, udp, icmp or all, not `{other}`"),
                );
                None
            }
        },
        Some((_, None)) => None,
    };
    // Outer None: the ports are wrong (reported); inner None: none given.
    let ports = match (&v.port, &v.ports) {
        (Some(_), Some(p)) => {
            c.err(pos(p), "give either port or ports, not both");
            None
        }
        (Some(p), None) => c.int(p, "port", 0, 65535).map(|n| Some((n, n))),
        (None, Some(p)) => c.plain(p, "ports").and_then(|s| {
            match s
                .split_once('-')
                .map(|(a, b)| (a.trim().parse::<i32>(), b.trim().parse::<i32>()))
            {
                Some((Ok(a), Ok(b))) if (0..=65535).contains(&a) && (a..=65535).contains(&b) => {
                    Some(Some((a, b)))
                }
                _ => {
                    c.err(
                        pos(p),
                        format!("ports must look like 8000-8010 (low-high, 0-65535), not `{s}`"),
                    );
                    None
                }
            }
        }),
        (None, None) => Some(None),
    };
    let port_range = match (protocol, ports) {
        (Some(Protocol::Tcp | Protocol::Udp), Some(Some(p))) => Some(p),
        (Some(Protocol::Tcp | Protocol::Udp), Some(None)) => {
            c.err(at, "a tcp or udp rule needs `port: N` or `ports: LOW-HIGH`");
            None
        }
        (Some(Protocol::Icmp), Some(Some(p))) => Some(p),
        (Some(Protocol::Icmp | Protocol::All), Some(None)) => Some((-1, -1)),
        (Some(Protocol::All), Some(Some(_))) => {
            c.err(at, "protocol `all` covers every port: remove port/ports");
            None
        }
        (None, _) | (_, None) => None,
    };
    let source = match (&v.cidr, &v.source_group) {
        (Some(_), Some(g)) => {
            c.err(pos(g), "give either cidr or source_group, not both");
            None
        }
        (None, None) => {
            c.err(at, "a rule needs `cidr: A.B.C.D/N` or `source_group: NAME`");
            None
        }
        (Some(cidr), None) => c.template(cidr, "cidr").and_then(|t| {
            if t.refs().next().is_some() || t.is_secret() {
                c.err(pos(cidr), "cidr may use ${env:...} and ${public_ip} only");
                return None;
            }
            // ${public_ip} is looked up later; check the shape with a stand-in address now.
            let probe = Resolver {
                public_ip: Some("192.0.2.1".into()),
                ..Default::default()
            }
            .resolve(&t);
            if let Err(e) = check_cidr(probe.expose().unwrap_or_default()) {
                c.err(pos(cidr), e);
                return None;
            }
            Some(RuleSource::Cidr(t))
        }),
        (None, Some(g)) => c
            .group_ref(g, groups, "source_group")
            .map(RuleSource::Group),
    };
    // The character set depends on the source: a CIDR rule's description is an IpRange's, a
    // group rule's a UserIdGroupPair's, which does not allow `&`.
    if let Some(d) = &description
        && !d.is_empty()
    {
        let allowed = match (&v.cidr, &source) {
            (_, Some(RuleSource::Group(_))) => EC2_GROUP_PAIR_RULE_CHARS,
            (None, None) if v.source_group.is_some() => EC2_GROUP_PAIR_RULE_CHARS,
            _ => EC2_GROUP_CHARS,
        };
        if let Some(problem) = ec2_charset_problem(d, allowed) {
            c.err(
                v.description.as_ref().map_or(at, pos),
                format!("rule description `{}` {problem}", d.escape_debug()),
            );
        }
    }
    let rule = match (description.clone(), protocol, port_range, source) {
        (Some(description), Some(protocol), Some((from_port, to_port)), Some(source)) => {
            Some(Rule {
                description,
                protocol,
                from_port,
                to_port,
                source,
                pos: at,
            })
        }
        _ => None,
    };
    (description, rule)
}

/// Checks an IPv4 CIDR such as `203.0.113.7/32`; host bits must be zero, as EC2 demands.
pub fn check_cidr(s: &str) -> Result<(), String> {
    let bad = || format!("`{s}` is not an IPv4 CIDR like 203.0.113.7/32");
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    if u32::from(ip) & !mask != 0 {
        let net = Ipv4Addr::from(u32::from(ip) & mask);
        return Err(format!(
            "`{s}` has host bits set: did you mean {net}/{len}?"
        ));
    }
    Ok(())
}

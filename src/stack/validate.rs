//! From [`raw::RawStack`] to [`Stack`]: every semantic check, collecting all problems at once.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::raw::{self, BoolOrString, RawLayer, RawSubnets, Sp, Str};
use super::template::{EnvLookup, Part, Template};
use super::*;

struct Checker<'a> {
    src: &'a str,
    env: EnvLookup<'a>,
    dir: &'a Path,
    problems: Vec<Problem>,
}

fn pos<T>(s: &Spanned<T>) -> Pos {
    Pos {
        line: s.referenced.line(),
        col: s.referenced.column(),
    }
}

impl Checker<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            pos,
            message: message.into(),
        });
    }

    /// Parses a template, pointing errors at the `${` inside the scalar when we can find it.
    fn template(&mut self, s: &Str, what: &str) -> Option<Template> {
        match Template::parse(&s.value, self.env) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut p = pos(s);
                p.col += self.quote_shift(p) + e.offset as u64;
                self.err(p, format!("{what}: {}", e.message));
                None
            }
        }
    }

    /// A quoted scalar's position is its quote; the text starts one column later.
    fn quote_shift(&self, p: Pos) -> u64 {
        let line = self
            .src
            .lines()
            .nth(p.line.saturating_sub(1) as usize)
            .unwrap_or("");
        let c = line.chars().nth(p.col.saturating_sub(1) as usize);
        u64::from(matches!(c, Some('"' | '\'')))
    }

    /// A string field that may use `${env:}` but nothing resolved later.
    fn plain(&mut self, s: &Str, what: &str) -> Option<String> {
        let t = self.template(s, what)?;
        let mut out = String::new();
        for p in &t.parts {
            match p {
                Part::Lit(v) | Part::Env(v) => out.push_str(v),
                Part::Secret(_) => {
                    self.err(pos(s), format!("{what}: a secret cannot be used here"));
                    return None;
                }
                Part::PublicIp | Part::Ref(_) => {
                    self.err(
                        pos(s),
                        format!("{what}: only ${{env:...}} can be used here, not references or ${{public_ip}}"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn path(&mut self, s: &Str, what: &str, want_dir: bool) -> Option<PathBuf> {
        let rel = self.plain(s, what)?;
        let full = self.dir.join(&rel);
        let ok = if want_dir {
            full.is_dir()
        } else {
            full.is_file()
        };
        if !ok {
            let kind = if want_dir { "folder" } else { "file" };
            self.err(
                pos(s),
                format!(
                    "{what}: {kind} `{rel}` not found (paths are relative to the stack file's folder, {})",
                    self.dir.display()
                ),
            );
            return None;
        }
        Some(full)
    }

    fn int(&mut self, v: &Sp<i64>, what: &str, lo: i64, hi: i64) -> Option<i32> {
        if v.value < lo || v.value > hi {
            self.err(
                pos(v),
                format!("{what} must be between {lo} and {hi}, not {}", v.value),
            );
            return None;
        }
        Some(v.value as i32)
    }

    fn group_ref(&mut self, s: &Str, groups: &BTreeSet<String>, what: &str) -> Option<GroupRef> {
        let v = self.plain(s, what)?;
        if groups.contains(&v) {
            Some(GroupRef::Stack(v))
        } else if v.starts_with("sg-") {
            Some(GroupRef::Id(v))
        } else {
            self.err(
                pos(s),
                format!(
                    "{what}: `{v}` is not a security group of this stack (declared: {}) nor an sg-… id",
                    list_or_none(groups)
                ),
            );
            None
        }
    }
}

fn list_or_none(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

pub(super) fn validate(
    raw: raw::RawStack,
    src: &str,
    file: &Path,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Stack, Vec<Problem>> {
    let mut c = Checker {
        src,
        env,
        dir,
        problems: Vec::new(),
    };

    let name = c.plain(&raw.stack, "stack").unwrap_or_default();
    if !valid_stack_name(&name) {
        c.err(
            pos(&raw.stack),
            format!("stack name `{name}` must match [a-z][a-z0-9-]{{0,62}} (lowercase letters, digits, hyphens)"),
        );
    }
    let region = raw.region.as_ref().and_then(|r| c.plain(r, "region"));
    let mut tags = BTreeMap::new();
    for (k, v) in &raw.tags {
        if k.starts_with("aws:") || k == STACK_TAG {
            c.err(pos(v), format!("tag `{k}` is reserved"));
        }
        if let Some(v) = c.plain(v, &format!("tags.{k}")) {
            tags.insert(k.clone(), v);
        }
    }

    let group_names: BTreeSet<String> = raw.security_groups.keys().cloned().collect();
    let security_groups = raw
        .security_groups
        .iter()
        .filter_map(|(n, g)| security_group(&mut c, n, g, &group_names).map(|g| (n.clone(), g)))
        .collect();
    let db_instances = raw
        .db_instances
        .iter()
        .filter_map(|(n, d)| db_instance(&mut c, n, d, &group_names).map(|d| (n.clone(), d)))
        .collect();
    let functions: BTreeMap<String, Function> = raw
        .functions
        .iter()
        .filter_map(|(n, f)| function(&mut c, n, f, &group_names).map(|f| (n.clone(), f)))
        .collect();
    let user_pools = raw
        .user_pools
        .iter()
        .filter_map(|(n, p)| user_pool(&mut c, n, p).map(|p| (n.clone(), p)))
        .collect();
    let pool_names: BTreeSet<String> = raw.user_pools.keys().cloned().collect();
    let function_names: BTreeSet<String> = raw.functions.keys().cloned().collect();
    let mut cognito_triggers = Vec::new();
    let mut seen = BTreeSet::new();
    for t in &raw.cognito_triggers {
        if let Some(t) = trigger(&mut c, t, &pool_names, &function_names) {
            if !seen.insert((t.user_pool.label().to_string(), t.event.clone())) {
                c.err(
                    t.pos,
                    format!(
                        "a {} trigger for `{}` is already declared",
                        t.event,
                        t.user_pool.label()
                    ),
                );
            }
            cognito_triggers.push(t);
        }
    }
    let mut outputs = BTreeMap::new();
    for (k, v) in &raw.outputs {
        if let Some(t) = c.template(v, &format!("outputs.{k}")) {
            outputs.insert(k.clone(), t);
        }
    }

    // Dangling references, checked once every section is known.
    let declared = |section: &str, name: &str| match section {
        "db_instances" => raw.db_instances.contains_key(name),
        "security_groups" => raw.security_groups.contains_key(name),
        "functions" => raw.functions.contains_key(name),
        "user_pools" => raw.user_pools.contains_key(name),
        _ => false,
    };
    let mut ref_sites: Vec<(Pos, Ref, String)> = Vec::new();
    for (fname, f) in &raw.functions {
        for v in f.value.environment.values() {
            if let Ok(t) = Template::parse(&v.value, env) {
                ref_sites.extend(
                    t.refs()
                        .map(|r| (pos(v), r.clone(), format!("functions.{fname}"))),
                );
            }
        }
    }
    for v in raw.outputs.values() {
        if let Ok(t) = Template::parse(&v.value, env) {
            ref_sites.extend(t.refs().map(|r| (pos(v), r.clone(), String::new())));
        }
    }
    for (p, r, from) in &ref_sites {
        if !declared(&r.section, &r.name) {
            c.err(
                *p,
                format!(
                    "dangling reference ${{{}}}: no `{}` in {} of this file",
                    r.key(),
                    r.name,
                    r.section
                ),
            );
        } else if from == &r.address() {
            c.err(
                *p,
                format!("{from} refers to itself through ${{{}}}", r.key()),
            );
        }
    }

    if !c.problems.is_empty() {
        c.problems.sort_by_key(|p| (p.pos.line, p.pos.col));
        return Err(c.problems);
    }
    Ok(Stack {
        file: file.to_path_buf(),
        dir: dir.to_path_buf(),
        digest: hex(&Sha256::digest(src.as_bytes())),
        name,
        region,
        tags,
        security_groups,
        db_instances,
        functions,
        user_pools,
        cognito_triggers,
        outputs,
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_stack_name(n: &str) -> bool {
    let mut cs = n.chars();
    matches!(cs.next(), Some('a'..='z'))
        && n.len() <= 63
        && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn security_group(
    c: &mut Checker<'_>,
    name: &str,
    g: &Sp<raw::RawSecurityGroup>,
    groups: &BTreeSet<String>,
) -> Option<SecurityGroup> {
    let at = pos(g);
    if name.is_empty() || name.len() > 255 || name.starts_with("sg-") {
        c.err(
            at,
            format!("security group name `{name}` must be 1-255 characters and not start with sg-"),
        );
    }
    let description = c.plain(&g.value.description, "description")?;
    if description.is_empty() || description.len() > 255 || !description.is_ascii() {
        c.err(
            pos(&g.value.description),
            "description must be 1-255 ASCII characters",
        );
    }
    let vpc = match g.value.vpc.as_ref().map(|v| (v, c.plain(v, "vpc"))) {
        None => VpcRef::Default,
        Some((_, Some(v))) if v == "default" => VpcRef::Default,
        Some((_, Some(v))) if v.starts_with("vpc-") => VpcRef::Id(v),
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
        if let Some(rule) = rule(c, r, groups) {
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
                    pos(&r.value.description),
                    format!(
                        "rule `{}` allows exactly what rule `{first}` allows in `{name}`: AWS keeps one rule per permission, so merge them",
                        rule.description
                    ),
                );
            }
            if !seen.insert(rule.description.clone()) {
                c.err(
                    pos(&r.value.description),
                    format!(
                        "rule description `{}` is used twice in `{name}`: descriptions identify rules and must be unique within a group",
                        rule.description
                    ),
                );
            }
            ingress.push(rule);
        }
    }
    Some(SecurityGroup {
        description,
        vpc,
        ingress,
        pos: at,
    })
}

fn rule(c: &mut Checker<'_>, r: &Sp<raw::RawRule>, groups: &BTreeSet<String>) -> Option<Rule> {
    let at = pos(r);
    let v = &r.value;
    let description = c.plain(&v.description, "description")?;
    if description.is_empty() || description.len() > 255 {
        c.err(
            pos(&v.description),
            "rule description must be 1-255 characters",
        );
    }
    let protocol = match v.protocol.as_ref().map(|p| (p, c.plain(p, "protocol"))) {
        None => Protocol::Tcp,
        Some((p, Some(s))) => match s.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "icmp" => Protocol::Icmp,
            "all" | "-1" => Protocol::All,
            other => {
                c.err(
                    pos(p),
                    format!("protocol must be tcp, udp, icmp or all, not `{other}`"),
                );
                return None;
            }
        },
        Some((_, None)) => return None,
    };
    let ports = match (&v.port, &v.ports) {
        (Some(_), Some(p)) => {
            c.err(pos(p), "give either port or ports, not both");
            return None;
        }
        (Some(p), None) => {
            let n = c.int(p, "port", 0, 65535)?;
            Some((n, n))
        }
        (None, Some(p)) => {
            let s = c.plain(p, "ports")?;
            match s
                .split_once('-')
                .map(|(a, b)| (a.trim().parse::<i32>(), b.trim().parse::<i32>()))
            {
                Some((Ok(a), Ok(b))) if (0..=65535).contains(&a) && (a..=65535).contains(&b) => {
                    Some((a, b))
                }
                _ => {
                    c.err(
                        pos(p),
                        format!("ports must look like 8000-8010 (low-high, 0-65535), not `{s}`"),
                    );
                    return None;
                }
            }
        }
        (None, None) => None,
    };
    let (from_port, to_port) = match (protocol, ports) {
        (Protocol::Tcp | Protocol::Udp, Some(p)) => p,
        (Protocol::Tcp | Protocol::Udp, None) => {
            c.err(at, "a tcp or udp rule needs `port: N` or `ports: LOW-HIGH`");
            return None;
        }
        (Protocol::Icmp, Some(p)) => p,
        (Protocol::Icmp, None) => (-1, -1),
        (Protocol::All, None) => (-1, -1),
        (Protocol::All, Some(_)) => {
            c.err(at, "protocol `all` covers every port: remove port/ports");
            return None;
        }
    };
    let source = match (&v.cidr, &v.source_group) {
        (Some(_), Some(g)) => {
            c.err(pos(g), "give either cidr or source_group, not both");
            return None;
        }
        (None, None) => {
            c.err(at, "a rule needs `cidr: A.B.C.D/N` or `source_group: NAME`");
            return None;
        }
        (Some(cidr), None) => {
            let t = c.template(cidr, "cidr")?;
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
            RuleSource::Cidr(t)
        }
        (None, Some(g)) => RuleSource::Group(c.group_ref(g, groups, "source_group")?),
    };
    Some(Rule {
        description,
        protocol,
        from_port,
        to_port,
        source,
        pos: at,
    })
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

fn valid_db_identifier(n: &str) -> bool {
    let first_letter = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    first_letter
        && n.len() <= 63
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !n.ends_with('-')
        && !n.contains("--")
}

fn db_instance(
    c: &mut Checker<'_>,
    name: &str,
    d: &Sp<raw::RawDbInstance>,
    groups: &BTreeSet<String>,
) -> Option<DbInstance> {
    let at = pos(d);
    let v = &d.value;
    if !valid_db_identifier(name) {
        c.err(
            at,
            format!("db instance identifier `{name}` must be 1-63 letters, digits or hyphens, start with a letter, with no trailing or double hyphen"),
        );
    }
    let password = match (
        &v.master_password,
        v.manage_master_password.as_ref().map(|m| m.value),
    ) {
        (Some(p), Some(true)) => {
            c.err(
                pos(p),
                "give master_password or manage_master_password: true, not both",
            );
            return None;
        }
        (Some(p), _) => {
            let t = c.template(p, "master_password")?;
            if !t.is_secret() {
                c.err(
                    pos(p),
                    "master_password must come from ${secret:NAME} (a literal password ends up in git history); or use manage_master_password: true",
                );
                return None;
            }
            if t.refs().next().is_some() || t.uses_public_ip() {
                c.err(pos(p), "master_password may not use references");
                return None;
            }
            Password::Secret(t)
        }
        (None, Some(true)) => Password::Managed,
        (None, _) => {
            c.err(at, "a db instance needs master_password: ${secret:NAME} or manage_master_password: true");
            return None;
        }
    };
    let opt = |c: &mut Checker<'_>, s: &Option<Str>, what: &str| {
        s.as_ref().and_then(|s| c.plain(s, what))
    };
    let final_snapshot = match v.final_snapshot.as_ref().map(|s| &s.value) {
        None | Some(BoolOrString::Bool(true)) => FinalSnapshot::Auto,
        Some(BoolOrString::Bool(false)) => FinalSnapshot::Skip,
        Some(BoolOrString::String(s)) => {
            if !valid_db_identifier(s) {
                c.err(
                    pos(v.final_snapshot.as_ref().unwrap()),
                    format!("final_snapshot `{s}`: a snapshot name must be letters, digits and hyphens, starting with a letter"),
                );
            }
            FinalSnapshot::Named(s.clone())
        }
    };
    let performance_insights = v.performance_insights.as_ref().map(|pi| {
        let retention_days = pi.value.retention_days.as_ref().map(|r| {
            let ok = r.value == 7 || r.value == 731 || (r.value > 0 && r.value % 31 == 0 && r.value <= 713);
            if !ok {
                c.err(pos(r), format!("performance_insights.retention_days must be 7, 731, or a multiple of 31 up to 713, not {}", r.value));
            }
            r.value as i32
        });
        PerformanceInsights {
            enabled: pi.value.enabled.value,
            retention_days,
        }
    });
    let engine = c.plain(&v.engine, "engine")?;
    let instance_class = c.plain(&v.instance_class, "instance_class")?;
    if !instance_class.starts_with("db.") {
        c.err(
            pos(&v.instance_class),
            format!("instance_class `{instance_class}` should look like db.t3.micro"),
        );
    }
    let allocated_storage = c.int(&v.allocated_storage, "allocated_storage (GiB)", 5, 65536)?;
    let master_username = c.plain(&v.master_username, "master_username")?;
    let security_groups = v
        .security_groups
        .iter()
        .filter_map(|g| c.group_ref(g, groups, "security_groups"))
        .collect();
    Some(DbInstance {
        engine,
        engine_version: opt(c, &v.engine_version, "engine_version"),
        instance_class,
        allocated_storage,
        allocated_storage_pos: pos(&v.allocated_storage),
        storage_type: opt(c, &v.storage_type, "storage_type"),
        storage_encrypted: v.storage_encrypted.as_ref().map(|b| b.value),
        master_username,
        password,
        db_name: opt(c, &v.db_name, "db_name"),
        port: v.port.as_ref().and_then(|p| c.int(p, "port", 1150, 65535)),
        availability_zone: opt(c, &v.availability_zone, "availability_zone"),
        multi_az: v.multi_az.as_ref().map(|b| b.value),
        publicly_accessible: v.publicly_accessible.as_ref().map(|b| b.value),
        backup_retention_days: v
            .backup_retention_days
            .as_ref()
            .and_then(|b| c.int(b, "backup_retention_days", 0, 35)),
        performance_insights,
        deletion_protection: v.deletion_protection.as_ref().map(|b| b.value),
        security_groups,
        running: v.running.as_ref().is_none_or(|b| b.value),
        final_snapshot,
        migrations: v
            .migrations
            .as_ref()
            .and_then(|m| c.path(m, "migrations", true)),
        seed: v.seed.as_ref().and_then(|s| c.path(s, "seed", false)),
        pos: at,
    })
}

fn function(
    c: &mut Checker<'_>,
    name: &str,
    f: &Sp<raw::RawFunction>,
    groups: &BTreeSet<String>,
) -> Option<Function> {
    let at = pos(f);
    let v = &f.value;
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        c.err(
            at,
            format!("function name `{name}` must be 1-64 letters, digits, hyphens or underscores"),
        );
    }
    let source = c.path(&v.source, "source", true)?;
    let runtime = c.plain(&v.runtime, "runtime")?;
    let handler = c.plain(&v.handler, "handler")?;
    let role = match v.role.as_ref().map(|r| (r, c.plain(r, "role"))) {
        None => RoleRef::Auto,
        Some((_, Some(r))) if r == "auto" => RoleRef::Auto,
        Some((_, Some(r))) if r.starts_with("arn:") && r.contains(":role/") => RoleRef::Arn(r),
        Some((r, Some(other))) => {
            c.err(pos(r), format!("role must be `auto` or a role ARN (arn:aws:iam::ACCOUNT:role/NAME), not `{other}`"));
            return None;
        }
        Some((_, None)) => return None,
    };
    if v.layers.len() > 5 {
        c.err(pos(&v.layers[5]), "a function can have at most 5 layers");
    }
    let mut layers = Vec::new();
    for l in &v.layers {
        match &l.value {
            RawLayer::Arn(a) if a.starts_with("arn:") && a.contains(":layer:") => layers.push(LayerRef::Arn(a.clone())),
            RawLayer::Arn(a) => c.err(
                pos(l),
                format!("layer `{a}` must be a layer version ARN, or {{ name, source, runtimes }} to publish a folder"),
            ),
            RawLayer::Folder(lf) => {
                let src = c.dir.join(&lf.source);
                if !src.is_dir() {
                    c.err(
                        pos(l),
                        format!(
                            "layer `{}`: folder `{}` not found (build it first, e.g. `make layer`; paths are relative to the stack file's folder)",
                            lf.name, lf.source
                        ),
                    );
                    continue;
                }
                if lf.name.is_empty() || !lf.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    c.err(pos(l), format!("layer name `{}` must be letters, digits, hyphens or underscores", lf.name));
                }
                layers.push(LayerRef::Folder {
                    name: lf.name.clone(),
                    source: src,
                    runtimes: lf.runtimes.clone(),
                });
            }
        }
    }
    let vpc = v.vpc.as_ref().map(|vpc| {
        let subnets = match vpc.value.subnets.as_ref().map(|s| (&s.value, pos(s))) {
            None => Subnets::Default,
            Some((RawSubnets::Keyword(k), _)) if k == "default" => Subnets::Default,
            Some((RawSubnets::Ids(ids), p)) => {
                if ids.is_empty() || ids.iter().any(|i| !i.starts_with("subnet-")) {
                    c.err(
                        p,
                        "subnets must be `default` or a non-empty list of subnet-… ids",
                    );
                }
                Subnets::Ids(ids.clone())
            }
            Some((RawSubnets::Keyword(k), p)) => {
                c.err(
                    p,
                    format!("subnets must be `default` or a list of subnet-… ids, not `{k}`"),
                );
                Subnets::Default
            }
        };
        let security_groups: Vec<GroupRef> = vpc
            .value
            .security_groups
            .iter()
            .filter_map(|g| c.group_ref(g, groups, "vpc.security_groups"))
            .collect();
        if security_groups.is_empty() {
            c.err(pos(vpc), "vpc needs at least one security group");
        }
        FunctionVpc {
            subnets,
            security_groups,
        }
    });
    let mut environment = BTreeMap::new();
    for (k, val) in &v.environment {
        let key_ok = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok {
            c.err(pos(val), format!("environment variable name `{k}` must be letters, digits and underscores, starting with a letter"));
        }
        if let Some(t) = c.template(val, &format!("environment.{k}")) {
            environment.insert(k.clone(), t);
        }
    }
    Some(Function {
        source,
        runtime,
        handler,
        description: v
            .description
            .as_ref()
            .and_then(|d| c.plain(d, "description")),
        memory: v
            .memory
            .as_ref()
            .map_or(Some(128), |m| c.int(m, "memory (MB)", 128, 10240))?,
        timeout: v
            .timeout
            .as_ref()
            .map_or(Some(3), |t| c.int(t, "timeout (seconds)", 1, 900))?,
        role,
        layers,
        vpc,
        environment,
        pos: at,
    })
}

fn user_pool(c: &mut Checker<'_>, name: &str, p: &Sp<raw::RawUserPool>) -> Option<UserPool> {
    let at = pos(p);
    if name.is_empty() || name.len() > 128 {
        c.err(
            at,
            format!("user pool name `{name}` must be 1-128 characters"),
        );
    }
    let mut attrs = |list: &Option<Vec<Str>>, what: &str| -> Option<Vec<String>> {
        list.as_ref().map(|l| {
            let mut out = Vec::new();
            for a in l {
                match c.plain(a, what) {
                    Some(v) if v == "email" || v == "phone_number" => out.push(v),
                    Some(v) => c.err(
                        pos(a),
                        format!("{what}: `{v}` must be email or phone_number"),
                    ),
                    None => {}
                }
            }
            out.sort();
            out.dedup();
            out
        })
    };
    let username_attributes = attrs(&p.value.username_attributes, "username_attributes");
    let auto_verified_attributes = attrs(
        &p.value.auto_verified_attributes,
        "auto_verified_attributes",
    );
    Some(UserPool {
        username_attributes,
        auto_verified_attributes,
        deletion_protection: p.value.deletion_protection.as_ref().map(|b| b.value),
        pos: at,
    })
}

fn trigger(
    c: &mut Checker<'_>,
    t: &Sp<raw::RawTrigger>,
    pools: &BTreeSet<String>,
    functions: &BTreeSet<String>,
) -> Option<Trigger> {
    let v = &t.value;
    let pool = c.plain(&v.user_pool, "user_pool")?;
    let event = c.plain(&v.event, "event")?;
    let function = c.plain(&v.function, "function")?;
    if !TRIGGER_EVENTS.iter().any(|(e, _)| *e == event) {
        c.err(
            pos(&v.event),
            format!(
                "event `{event}` is not a Cognito trigger: use one of {}",
                TRIGGER_EVENTS
                    .iter()
                    .map(|(e, _)| *e)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return None;
    }
    let user_pool = if pools.contains(&pool) {
        PoolRef::Stack(pool)
    } else {
        PoolRef::External(pool)
    };
    let function = if functions.contains(&function) {
        FunctionRef::Stack(function)
    } else if function.starts_with("arn:") && function.contains(":function:") {
        FunctionRef::Arn(function)
    } else {
        c.err(
            pos(&v.function),
            format!(
                "function `{function}` is not a function of this stack (declared: {}) nor a function ARN",
                list_or_none(functions)
            ),
        );
        return None;
    };
    Some(Trigger {
        user_pool,
        event,
        function,
        pos: pos(t),
    })
}

//! From [`raw::RawStack`] to [`Stack`]: every semantic check, collecting all problems at once.
//!
//! Values are checked after interpolation: any string may come from `${env:}`, so shapes (ARNs,
//! ids, CIDRs, numbers) are checked on the resolved text, and the error still names the line.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::raw::{self, RawLayer, RawSubnets, Scalar, Sp, Str};
use super::template::{EnvLookup, Part, Template};
use super::*;

/// Whether function and layer folders must exist: a property of the whole run, like
/// `--db-insecure-plaintext`. Commands that package them (plan, apply, validate) need them;
/// `migrate`, `psql`, `logs` and `invoke` never read them, so a checkout whose layer is not built
/// can still migrate its local database.
static PACKAGES_NOT_NEEDED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// This run reads no function or layer folder: their absence is not an error.
pub fn packages_not_needed() {
    PACKAGES_NOT_NEEDED.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn packages_needed() -> bool {
    !PACKAGES_NOT_NEEDED.load(std::sync::atomic::Ordering::Relaxed)
}

struct Checker<'a> {
    src: &'a str,
    env: EnvLookup<'a>,
    dir: &'a Path,
    /// Whether an unset `${secret:}` is an error (plan, apply) or a value unknown here
    /// (validate, destroy).
    secrets_required: bool,
    problems: Vec<Problem>,
}

fn pos<T>(s: &Sp<T>) -> Pos {
    s.pos
}

/// The stack file's folder for messages: absolute, since a file given as `-f stack.yaml` has
/// the folder "" (or "."), which reads as a stray full stop.
fn shown_dir(dir: &Path) -> String {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::path::absolute(dir)
        .map(|d| d.components().collect::<PathBuf>())
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

/// The project a stack file's paths must stay in: the git work tree that holds the stack file's
/// folder `dir` (the nearest folder above it with a `.git`, a folder or, in a linked work tree
/// or submodule, a file), else `dir` itself. Canonical (links resolved).
pub fn project_root(dir: &Path) -> std::io::Result<PathBuf> {
    let dir = std::fs::canonicalize(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })?;
    Ok(dir
        .ancestors()
        .find(|a| a.join(".git").exists())
        .unwrap_or(&dir)
        .to_path_buf())
}

/// Refuses a folder or file (`full`, written `rel`) that resolves outside the project: a link in
/// its path (or the folder itself being one) that leads elsewhere, or `../` climbing out, would
/// package or run whatever is there (a home folder, `/etc`).
fn inside_project(dir: &Path, full: &Path, rel: &str) -> Result<(), String> {
    let (Ok(root), Ok(real)) = (project_root(dir), std::fs::canonicalize(full)) else {
        return Err(format!("cannot resolve `{rel}`"));
    };
    if real.starts_with(&root) {
        return Ok(());
    }
    Err(format!(
        "`{rel}` resolves to {}, outside the project {} ({}): only what is inside it is packaged or run; move it there (a link leading outside does not count)",
        real.display(),
        root.display(),
        if root.join(".git").exists() {
            "the git work tree holding the stack file"
        } else {
            "the stack file's folder, as it is in no git work tree"
        }
    ))
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
        match Template::parse_with(&s.value, self.env, self.secrets_required) {
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

    /// The AWS name of a named entry: its `name:` (which may use `${env:}` and `${stack}`), else
    /// its key; with the position its shape problems point at.
    fn physical(&mut self, key: &str, name: &Option<Str>, at: Pos) -> (String, Pos) {
        match name {
            Some(n) => match self.plain(n, "name") {
                Some(v) => (v, pos(n)),
                None => (key.to_string(), pos(n)),
            },
            None => (key.to_string(), at),
        }
    }

    /// A string field that may use `${env:}` but nothing resolved later.
    fn plain(&mut self, s: &Str, what: &str) -> Option<String> {
        let t = self.template(s, what)?;
        let mut out = String::new();
        for p in &t.parts {
            match p {
                Part::Lit(v) | Part::Env(v) => out.push_str(v),
                Part::Secret(_) | Part::SecretUnset(_) => {
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
                    shown_dir(self.dir)
                ),
            );
            return None;
        }
        if let Err(m) = inside_project(self.dir, &full, &rel) {
            self.err(pos(s), format!("{what}: {m}"));
            return None;
        }
        Some(full)
    }

    /// A whole number field, given as a number or as text that resolves to one.
    fn int(&mut self, v: &Sp<Scalar>, what: &str, lo: i64, hi: i64) -> Option<i32> {
        let n = match &v.value {
            Scalar::Int(n) => *n,
            Scalar::Text(t) => {
                let text = self.plain(
                    &Sp {
                        value: t.clone(),
                        pos: v.pos,
                    },
                    what,
                )?;
                match text.trim().parse::<i64>() {
                    Ok(n) => n,
                    Err(_) => {
                        self.err(
                            v.pos,
                            format!("`{what}` must be a whole number, like {lo}, not `{text}`"),
                        );
                        return None;
                    }
                }
            }
            Scalar::Bool(b) => {
                self.err(v.pos, format!("`{what}` must be a whole number, not `{b}`"));
                return None;
            }
        };
        if n < lo || n > hi {
            self.err(
                v.pos,
                format!("`{what}` must be between {lo} and {hi}, not {n}"),
            );
            return None;
        }
        Some(n as i32)
    }

    /// A true/false field, given as a boolean or as text that resolves to one.
    fn bool(&mut self, v: &Sp<Scalar>, what: &str) -> Option<bool> {
        match &v.value {
            Scalar::Bool(b) => Some(*b),
            Scalar::Text(t) => {
                let text = self.plain(
                    &Sp {
                        value: t.clone(),
                        pos: v.pos,
                    },
                    what,
                )?;
                match text.trim() {
                    "true" => Some(true),
                    "false" => Some(false),
                    other => {
                        self.err(
                            v.pos,
                            format!("`{what}` must be true or false, not `{other}`"),
                        );
                        None
                    }
                }
            }
            Scalar::Int(n) => {
                self.err(v.pos, format!("`{what}` must be true or false, not `{n}`"));
                None
            }
        }
    }

    fn group_ref(&mut self, s: &Str, groups: &BTreeSet<String>, what: &str) -> Option<GroupRef> {
        // `${security_groups.x.id}` is what one writes elsewhere for a group's id; here the
        // group's name is the reference (and gives the same ordering).
        if let Ok(t) = Template::parse_with(&s.value, self.env, false)
            && let [Part::Ref(r)] = t.parts.as_slice()
            && r.section == "security_groups"
        {
            self.err(
                pos(s),
                format!(
                    "{what}: only ${{env:...}} can be used here, not references: write the group's name (`{}`) instead of `{}`",
                    r.name, s.value
                ),
            );
            return None;
        }
        let v = self.plain(s, what)?;
        if groups.contains(&v) {
            Some(GroupRef::Stack(v))
        } else if is_aws_id(&v, "sg-") {
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

pub(super) struct Input<'a> {
    pub src: &'a str,
    pub file: &'a Path,
    pub dir: &'a Path,
    pub env: EnvLookup<'a>,
    pub secrets_required: bool,
}

/// Checks what decoding produced. `problems` (from decoding) are reported with the checker's
/// own, sorted by position, so one run shows everything.
pub(super) fn validate(
    raw: raw::RawStack,
    problems: Vec<Problem>,
    input: &Input<'_>,
) -> Result<Stack, Vec<Problem>> {
    let env = input.env;
    let mut c = Checker {
        src: input.src,
        env,
        dir: input.dir,
        secrets_required: input.secrets_required,
        problems,
    };

    let name = match &raw.stack {
        Some(s) => {
            let name = c.plain(s, "stack").unwrap_or_default();
            if !valid_stack_name(&name) {
                c.err(
                    pos(s),
                    format!("stack name `{name}` must match [a-z][a-z0-9-]{{0,62}} (lowercase letters, digits, hyphens)"),
                );
            }
            name
        }
        None => String::new(),
    };
    // From here on `${stack}` resolves to the stack's name (spec section 2, "Environments from
    // one file"); `stack:` itself was read without it.
    let stack_name = name.clone();
    let with_stack = move |var: &str| {
        if var == super::template::STACK_VAR {
            Some(stack_name.clone())
        } else {
            env(var)
        }
    };
    let env: EnvLookup<'_> = &with_stack;
    let mut c = Checker {
        src: c.src,
        env,
        dir: c.dir,
        secrets_required: c.secrets_required,
        problems: c.problems,
    };
    let region = raw.region.as_ref().and_then(|r| {
        let v = c.plain(r, "region")?;
        if !valid_region(&v) {
            c.err(
                pos(r),
                format!(
                    "region `{v}` is not an AWS region name: write one like us-east-1 or eu-west-2"
                ),
            );
            return None;
        }
        Some(v)
    });
    let mut tags = BTreeMap::new();
    for (k, v) in &raw.tags {
        if k.starts_with("aws:") || k == STACK_TAG {
            c.err(pos(v), format!("tag `{k}` is reserved"));
        }
        if let Some(v) = c.plain(v, &format!("tags.{k}")) {
            tags.insert(k.clone(), v);
        }
    }

    let names = |section: &str| raw.declared.get(section).cloned().unwrap_or_default();
    let group_names = names("security_groups");
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
    let pool_names = names("user_pools");
    let function_names = names("functions");
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
        // `eval "$(deploy output --format env)"` must only ever assign variables.
        if !is_identifier(k) && !is_interpolated(k) {
            c.err(
                pos(v),
                format!("output name `{}` must be an identifier (letters, digits and _, not starting with a digit), so that `deploy output --format env` is safe to eval: rename it", k.escape_debug()),
            );
        }
        if let Some(t) = c.template(v, &format!("outputs.{k}")) {
            outputs.insert(k.clone(), t);
        }
    }

    // References, checked once every section is known: dangling ones, and cycles.
    let declared = |section: &str, name: &str| {
        raw.declared
            .get(section)
            .is_some_and(|names| names.contains(name))
    };
    let parse = |v: &Str| Template::parse_with(&v.value, env, false).ok();
    let mut ref_sites: Vec<(Pos, Ref, String)> = Vec::new();
    for (fname, f) in &raw.functions {
        for v in f.value.environment.values() {
            if let Some(t) = parse(v) {
                ref_sites.extend(
                    t.refs()
                        .map(|r| (pos(v), r.clone(), format!("functions.{fname}"))),
                );
            }
        }
    }
    for v in raw.outputs.values() {
        if let Some(t) = parse(v) {
            ref_sites.extend(t.refs().map(|r| (pos(v), r.clone(), String::new())));
        }
    }
    let mut edges: BTreeMap<String, Vec<(String, Pos)>> = BTreeMap::new();
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
        } else if !from.is_empty() {
            edges
                .entry(from.clone())
                .or_default()
                .push((r.address(), *p));
        }
    }
    for cycle in cycles(&edges) {
        let (_, first) = cycle[0].clone();
        let path: Vec<String> = cycle
            .iter()
            .map(|(from, p)| format!("{from} (line {})", p.line))
            .collect();
        c.err(
            first,
            format!(
                "reference cycle: {} -> {}: each needs the other to exist first, so remove one of these references",
                path.join(" -> "),
                cycle[0].0
            ),
        );
    }

    if !c.problems.is_empty() {
        c.problems.sort_by_key(|p| (p.pos.line, p.pos.col));
        c.problems.dedup();
        return Err(c.problems);
    }
    Ok(Stack {
        file: input.file.to_path_buf(),
        dir: input.dir.to_path_buf(),
        digest: hex(&Sha256::digest(input.src.as_bytes())),
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

/// A name (map key) holding `${`: the decoder already refused it, so its shape is not
/// reported a second time.
fn is_interpolated(name: &str) -> bool {
    name.contains("${")
}

/// `[A-Za-z_][A-Za-z0-9_]*`
pub fn is_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every reference cycle once, as `(address, position of its reference to the next)` in order.
fn cycles(edges: &BTreeMap<String, Vec<(String, Pos)>>) -> Vec<Vec<(String, Pos)>> {
    fn walk(
        node: &str,
        edges: &BTreeMap<String, Vec<(String, Pos)>>,
        path: &mut Vec<(String, Pos)>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<(String, Pos)>>,
    ) {
        for (next, p) in edges.get(node).into_iter().flatten() {
            path.push((node.to_string(), *p));
            if let Some(i) = path.iter().position(|(n, _)| n == next) {
                found.push(path[i..].to_vec());
            } else if !done.contains(next) {
                walk(next, edges, path, done, found);
            }
            path.pop();
        }
        done.insert(node.to_string());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for start in edges.keys() {
        if !done.contains(start) {
            walk(start, edges, &mut Vec::new(), &mut done, &mut found);
        }
    }
    // The same cycle can be found from each of its members: keep one, starting at the earliest line.
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for mut c in found {
        let mut key: Vec<String> = c.iter().map(|(n, _)| n.clone()).collect();
        key.sort();
        if seen.insert(key) {
            let i = (0..c.len())
                .min_by_key(|&i| (c[i].1.line, c[i].1.col))
                .unwrap_or(0);
            c.rotate_left(i);
            out.push(c);
        }
    }
    out
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

fn security_group(
    c: &mut Checker<'_>,
    name: &str,
    g: &Sp<raw::RawSecurityGroup>,
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
        let (description, rule) = rule(c, r, groups);
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
fn rule(
    c: &mut Checker<'_>,
    r: &Sp<raw::RawRule>,
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

/// An AWS region name (`us-east-1`, `us-gov-west-1`, `us-isob-east-1`), by shape only, so that
/// a region AWS opens later passes.
pub(super) fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase());
    let (country, middle, last) = match parts.as_slice() {
        [c, m @ .., l] if !m.is_empty() => (*c, m, *l),
        _ => return false,
    };
    let partition_ok = match middle {
        [_] => true,
        [p, _] => {
            *p == "gov"
                || p.strip_prefix("iso")
                    .is_some_and(|x| x.chars().all(|c| c.is_ascii_lowercase()))
        }
        _ => false,
    };
    country.len() == 2
        && letters(country)
        && partition_ok
        && letters(middle[middle.len() - 1])
        && !last.is_empty()
        && last.chars().all(|c| c.is_ascii_digit())
}

/// `16`, `16.4`, `9.6.24`, and RDS's extended-support builds (`11.22-rds.20240418`).
fn valid_engine_version(v: &str) -> bool {
    let (numbers, suffix) = match v.split_once("-rds.") {
        Some((n, s)) => (n, Some(s)),
        None => (v, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
        && suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// A PostgreSQL name RDS accepts for the master user and the database: a letter, then up to 62
/// letters, digits or underscores.
fn valid_pg_name(n: &str) -> bool {
    n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && n.len() <= 63
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
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
    let (aws_name, name_at) = c.physical(name, &v.name, at);
    if !valid_db_identifier(&aws_name) && !is_interpolated(&aws_name) {
        c.err(
            name_at,
            format!("db instance identifier `{aws_name}` must be 1-63 letters, digits or hyphens, start with a letter, with no trailing or double hyphen"),
        );
    }
    let manage = v
        .manage_master_password
        .as_ref()
        .and_then(|m| c.bool(m, "manage_master_password"));
    let password = match (&v.master_password, manage) {
        (Some(p), Some(true)) => {
            c.err(
                pos(p),
                "give master_password or manage_master_password: true, not both",
            );
            None
        }
        (Some(p), _) => master_password(c, p),
        (None, Some(true)) => Some(Password::Managed),
        (None, _) => {
            c.err(at, format!("db instance `{name}` needs master_password: ${{secret:NAME}} or manage_master_password: true"));
            None
        }
    };
    let opt = |c: &mut Checker<'_>, s: &Option<Str>, what: &str| {
        s.as_ref().and_then(|s| c.plain(s, what))
    };
    let opt_bool = |c: &mut Checker<'_>, s: &Option<Sp<Scalar>>, what: &str| {
        s.as_ref().and_then(|s| c.bool(s, what))
    };
    let final_snapshot = match &v.final_snapshot {
        None => FinalSnapshot::Auto,
        Some(f) => match &f.value {
            Scalar::Bool(true) => FinalSnapshot::Auto,
            Scalar::Bool(false) => FinalSnapshot::Skip,
            Scalar::Int(_) | Scalar::Text(_) => {
                let text = match &f.value {
                    Scalar::Text(t) => t.clone(),
                    other => format!("{other:?}"),
                };
                match c
                    .plain(
                        &Sp {
                            value: text,
                            pos: f.pos,
                        },
                        "final_snapshot",
                    )
                    .as_deref()
                {
                    Some("true") | None => FinalSnapshot::Auto,
                    Some("false") => FinalSnapshot::Skip,
                    Some(s) => {
                        if !valid_db_identifier(s) {
                            c.err(
                                f.pos,
                                format!("final_snapshot `{s}`: give true, false, or a snapshot name (letters, digits and hyphens, starting with a letter)"),
                            );
                        }
                        FinalSnapshot::Named(s.to_string())
                    }
                }
            }
        },
    };
    let performance_insights = v.performance_insights.as_ref().and_then(|pi| {
        let retention_days = pi.value.retention_days.as_ref().and_then(|r| {
            let days = c.int(r, "performance_insights.retention_days", 1, 731)?;
            let ok = days == 7 || days == 731 || (days % 31 == 0 && days <= 713);
            if !ok {
                c.err(pos(r), format!("performance_insights.retention_days must be 7, 731, or a multiple of 31 up to 713, not {days}"));
            }
            Some(days)
        });
        Some(PerformanceInsights {
            enabled: c.bool(pi.value.enabled.as_ref()?, "performance_insights.enabled")?,
            retention_days,
        })
    });
    let engine = v.engine.as_ref().and_then(|x| {
        let e = c.plain(x, "engine")?;
        if e != "postgres" {
            c.err(
                pos(x),
                format!("engine must be `postgres` (the one engine deploy manages), not `{e}`"),
            );
            return None;
        }
        Some(e)
    });
    let instance_class = v
        .instance_class
        .as_ref()
        .and_then(|x| c.plain(x, "instance_class"));
    if let Some(ic) = &instance_class
        && !ic.starts_with("db.")
    {
        c.err(
            v.instance_class.as_ref().map_or(Pos::default(), pos),
            format!("instance_class `{ic}` should look like db.t3.micro"),
        );
    }
    let allocated_storage = v
        .allocated_storage
        .as_ref()
        .and_then(|a| c.int(a, "allocated_storage", 5, 65536));
    let master_username = v.master_username.as_ref().and_then(|x| {
        let u = c.plain(x, "master_username")?;
        if !valid_pg_name(&u) {
            c.err(
                pos(x),
                format!("master_username `{u}` must be 1-63 letters, digits or underscores, starting with a letter (RDS refuses it otherwise)"),
            );
            return None;
        }
        Some(u)
    });
    let storage_type = opt(c, &v.storage_type, "storage_type");
    if let Some(st) = &storage_type {
        // The floors RDS documents for PostgreSQL storage; checked here so that the refusal
        // comes before any change rather than from CreateDBInstance halfway through apply.
        let floor = match st.as_str() {
            "gp2" | "gp3" => Some(20),
            "standard" => None,
            // CreateDBInstance refuses io1/io2 without Iops ("Provisioned IOPS storage
            // requires the Iops parameter", RDS user guide, "Provisioned IOPS SSD storage"),
            // and the stack file has no field for it: refuse here rather than at apply.
            "io1" | "io2" => {
                c.err(
                    v.storage_type.as_ref().map_or(at, pos),
                    format!("storage_type {st} needs provisioned IOPS, which the stack file cannot state: use gp3 (3,000 IOPS included, more from 400 GiB) or gp2"),
                );
                None
            }
            other => {
                c.err(
                    v.storage_type.as_ref().map_or(at, pos),
                    format!("storage_type must be gp2, gp3 or standard, not `{other}`"),
                );
                None
            }
        };
        if let (Some(floor), Some(size)) = (floor, allocated_storage)
            && size < floor
        {
            c.err(
                v.allocated_storage.as_ref().map_or(at, pos),
                format!("allocated_storage must be at least {floor} GiB for storage_type {st}, not {size}"),
            );
        }
    }
    let db_name = opt(c, &v.db_name, "db_name");
    if let Some(n) = &db_name
        && !valid_pg_name(n)
    {
        c.err(
            v.db_name.as_ref().map_or(at, pos),
            format!("db_name `{n}` must be 1-63 letters, digits or underscores, starting with a letter (RDS refuses it otherwise)"),
        );
    }
    let security_groups = v
        .security_groups
        .iter()
        .filter_map(|g| c.group_ref(g, groups, "security_groups"))
        .collect();
    let migrations_baseline = v.migrations_baseline.as_ref().and_then(|b| {
        let version = c.int(b, "migrations_baseline", 0, i32::MAX as i64)?;
        if v.migrations.is_none() && v.seed.is_none() {
            c.err(
                b.pos,
                "migrations_baseline needs `migrations:` (or `seed:`): it says which of their files a database made before deploy already reflects",
            );
            return None;
        }
        Some(Baseline {
            version: version as u32,
            pos: b.pos,
        })
    });
    let engine_version = opt(c, &v.engine_version, "engine_version");
    if let Some(ev) = &engine_version
        && !valid_engine_version(ev)
    {
        c.err(
            v.engine_version.as_ref().map_or(at, pos),
            format!("engine_version `{ev}` should be a major alone, such as \"16\" (RDS creates its current minor, and any minor of it satisfies the file), or a full version such as \"16.11\""),
        );
    }
    Some(DbInstance {
        name: aws_name,
        engine_version,
        engine_version_pos: v.engine_version.as_ref().map_or(at, pos),
        storage_type,
        storage_encrypted: opt_bool(c, &v.storage_encrypted, "storage_encrypted"),
        password_version: v
            .password_version
            .as_ref()
            .and_then(|p| c.int(p, "password_version", 1, 1_000_000_000)),
        db_name,
        port: v.port.as_ref().and_then(|p| c.int(p, "port", 1150, 65535)),
        availability_zone: opt(c, &v.availability_zone, "availability_zone"),
        multi_az: opt_bool(c, &v.multi_az, "multi_az"),
        publicly_accessible: opt_bool(c, &v.publicly_accessible, "publicly_accessible"),
        backup_retention_days: v
            .backup_retention_days
            .as_ref()
            .and_then(|b| c.int(b, "backup_retention_days", 0, 35)),
        performance_insights,
        deletion_protection: opt_bool(c, &v.deletion_protection, "deletion_protection"),
        security_groups,
        running: opt_bool(c, &v.running, "running").unwrap_or(true),
        final_snapshot,
        migrations: v
            .migrations
            .as_ref()
            .and_then(|m| c.path(m, "migrations", true)),
        migrations_pos: v.migrations.as_ref().map_or(at, pos),
        migrations_baseline,
        seed: v.seed.as_ref().and_then(|s| c.path(s, "seed", false)),
        allocated_storage_pos: v.allocated_storage.as_ref().map_or(at, pos),
        engine: engine?,
        instance_class: instance_class?,
        allocated_storage: allocated_storage?,
        master_username: master_username?,
        password: password?,
        pos: at,
    })
}

/// Only `${secret:NAME}` keeps a password out of git history and out of every printed line.
fn master_password(c: &mut Checker<'_>, p: &Str) -> Option<Password> {
    let t = c.template(p, "master_password")?;
    if t.refs().next().is_some() || t.uses_public_ip() {
        c.err(
            pos(p),
            "master_password may not use references or ${public_ip}: give it as ${secret:NAME}",
        );
        return None;
    }
    if !t.is_secret() {
        let from_env: Vec<&str> = p
            .value
            .split("${env:")
            .skip(1)
            .filter_map(|rest| rest.split([':', '}']).next())
            .collect();
        let message = match from_env.first() {
            Some(var) => format!(
                "master_password comes from ${{env:{var}}}: write ${{secret:{var}}} instead, so that deploy treats it as a secret (masked in plans, scrubbed from logs)"
            ),
            None => "master_password is literal text: a password written in the file ends up in git history. Export it and write ${secret:NAME}, or use manage_master_password: true".to_string(),
        };
        c.err(pos(p), message);
        return None;
    }
    Some(Password::Secret(t))
}

fn function(
    c: &mut Checker<'_>,
    name: &str,
    f: &Sp<raw::RawFunction>,
    groups: &BTreeSet<String>,
) -> Option<Function> {
    let at = pos(f);
    let v = &f.value;
    let (aws_name, name_at) = c.physical(name, &v.name, at);
    if !is_interpolated(&aws_name)
        && (aws_name.is_empty()
            || aws_name.len() > 64
            || !aws_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        c.err(
            name_at,
            format!(
                "function name `{aws_name}` must be 1-64 letters, digits, hyphens or underscores"
            ),
        );
    }
    let source = v.source.as_ref().and_then(|x| {
        if packages_needed() {
            c.path(x, "source", true)
        } else {
            c.plain(x, "source").map(|rel| c.dir.join(rel))
        }
    });
    let runtime = v.runtime.as_ref().and_then(|x| {
        let r = c.plain(x, "runtime")?;
        match runtime_problem(&r) {
            None => Some(r),
            Some(problem) => {
                c.err(pos(x), format!("runtime: {problem}"));
                None
            }
        }
    });
    let handler = v.handler.as_ref().and_then(|x| {
        let h = c.plain(x, "handler")?;
        // Lambda stores any handler, and a Python one without `module.function` only fails
        // when the function is invoked (Runtime.MalformedHandlerName).
        let python = runtime.as_deref().is_some_and(|r| r.starts_with("python"));
        if python
            && !h
                .rsplit_once('.')
                .is_some_and(|(m, f)| !m.is_empty() && !f.is_empty())
        {
            c.err(
                pos(x),
                format!("handler `{h}` must be MODULE.FUNCTION for Python, like lambda_function.lambda_handler"),
            );
            return None;
        }
        Some(h)
    });
    // The auto role follows the AWS name, so two environments' roles never collide.
    let auto_too_long =
        !is_interpolated(&aws_name) && aws_name.len() <= 64 && aws_name.len() + "-role".len() > 64;
    let role = match v.role.as_ref().map(|r| (r, c.plain(r, "role"))) {
        // The auto role is named `<function>-role`, and IAM role names are at most 64
        // characters (CreateRole's RoleName, IAM API reference): a function name that
        // Lambda accepts can still make a role name IAM refuses.
        Some((r, Some(a))) if a == "auto" && auto_too_long => {
            c.err(pos(r), auto_role_too_long(&aws_name));
            None
        }
        None if auto_too_long => {
            c.err(name_at, auto_role_too_long(&aws_name));
            None
        }
        None => Some(RoleRef::Auto),
        Some((_, Some(r))) if r == "auto" => Some(RoleRef::Auto),
        Some((_, Some(r))) if is_role_arn(&r) => Some(RoleRef::Arn(r)),
        Some((r, Some(other))) => {
            c.err(pos(r), format!("role must be `auto` or a role ARN like arn:aws:iam::123456789012:role/NAME, not `{other}`"));
            None
        }
        Some((_, None)) => None,
    };
    if v.layers.len() > 5 {
        c.err(pos(&v.layers[5]), "a function can have at most 5 layers");
    }
    let mut layers = Vec::new();
    for l in &v.layers {
        match &l.value {
            RawLayer::Arn(a) => {
                let Some(arn) = c.plain(a, "layers") else {
                    continue;
                };
                match layer_arn_problem(&arn) {
                    None => layers.push(LayerRef::Arn(arn)),
                    Some(problem) => c.err(pos(a), problem),
                }
            }
            RawLayer::Folder(lf) => {
                let name = lf.name.as_ref().and_then(|x| c.plain(x, "layers.name"));
                let runtimes: Vec<String> = lf
                    .runtimes
                    .iter()
                    .filter_map(|r| {
                        let v = c.plain(r, "layers.runtimes")?;
                        match runtime_problem(&v) {
                            None => Some(v),
                            Some(problem) => {
                                c.err(pos(r), format!("layers.runtimes: {problem}"));
                                None
                            }
                        }
                    })
                    .collect();
                let source = lf.source.as_ref().and_then(|x| c.plain(x, "layers.source"));
                if let Some(name) = &name
                    && (name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                {
                    c.err(
                        lf.name.as_ref().map_or(Pos::default(), pos),
                        format!(
                            "layer name `{name}` must be letters, digits, hyphens or underscores"
                        ),
                    );
                }
                // The folder is checked even when the name is wrong: one run shows both.
                let Some(source) = source else {
                    continue;
                };
                let src = c.dir.join(&source);
                if !src.is_dir() && packages_needed() {
                    c.err(
                        lf.source.as_ref().map_or(Pos::default(), pos),
                        format!(
                            "layer `{}`: folder `{source}` not found (build it first, e.g. `make layer`; paths are relative to the stack file's folder, {})",
                            name.as_deref().unwrap_or("?"),
                            shown_dir(c.dir)
                        ),
                    );
                    continue;
                }
                // A folder this run does not read and that is not there (an unbuilt layer, for
                // `migrate`) has nowhere to lead: nothing to check.
                let absent = !src.exists() && !packages_needed();
                if let Err(m) = inside_project(c.dir, &src, &source)
                    .or_else(|e| if absent { Ok(()) } else { Err(e) })
                {
                    c.err(
                        lf.source.as_ref().map_or(Pos::default(), pos),
                        format!("layer `{}`: {m}", name.as_deref().unwrap_or("?")),
                    );
                    continue;
                }
                let Some(name) = name else {
                    continue;
                };
                layers.push(LayerRef::Folder {
                    name,
                    source: src,
                    runtimes,
                    pos: lf.source.as_ref().map_or(pos(l), pos),
                });
            }
        }
    }
    let vpc = v.vpc.as_ref().map(|vpc| {
        let subnets = match vpc.value.subnets.as_ref().map(|s| (&s.value, pos(s))) {
            None => Subnets::Default,
            Some((RawSubnets::Keyword(k), p)) => match c.plain(k, "subnets") {
                Some(k) if k == "default" => Subnets::Default,
                Some(k) => {
                    c.err(
                        p,
                        format!("subnets must be `default` or a list of subnet-… ids, not `{k}`"),
                    );
                    Subnets::Default
                }
                None => Subnets::Default,
            },
            Some((RawSubnets::Ids(ids), p)) => {
                let mut out = Vec::new();
                for id in ids {
                    match c.plain(id, "subnets") {
                        Some(i) if is_aws_id(&i, "subnet-") => out.push(i),
                        Some(i) => c.err(
                            pos(id),
                            format!(
                                "subnets: `{i}` is not a subnet id like subnet-0123456789abcdef0"
                            ),
                        ),
                        None => {}
                    }
                }
                if ids.is_empty() {
                    c.err(
                        p,
                        "subnets must be `default` or a non-empty list of subnet-… ids",
                    );
                }
                Subnets::Ids(out)
            }
        };
        let security_groups: Vec<GroupRef> = vpc
            .value
            .security_groups
            .iter()
            .filter_map(|g| c.group_ref(g, groups, "vpc.security_groups"))
            .collect();
        if vpc.value.security_groups.is_empty() {
            c.err(
                pos(vpc),
                "vpc needs at least one security group: add `security_groups: [NAME]`",
            );
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
        if !key_ok && !is_interpolated(k) {
            c.err(pos(val), format!("environment variable name `{k}` must be letters, digits and underscores, starting with a letter"));
        }
        if let Some(t) = c.template(val, &format!("environment.{k}")) {
            environment.insert(k.clone(), t);
        }
    }
    let description = v
        .description
        .as_ref()
        .and_then(|d| c.plain(d, "description"));
    let memory = v
        .memory
        .as_ref()
        .map_or(Some(128), |m| c.int(m, "memory", 128, 10240));
    let timeout = v
        .timeout
        .as_ref()
        .map_or(Some(3), |t| c.int(t, "timeout", 1, 900));
    Some(Function {
        name: aws_name,
        source: source?,
        source_pos: v.source.as_ref().map_or(at, pos),
        runtime: runtime?,
        handler: handler?,
        description,
        memory: memory?,
        timeout: timeout?,
        role: role?,
        layers,
        vpc,
        environment,
        pos: at,
    })
}

/// Runtime families Lambda creates functions with, by pattern rather than by a list of today's
/// versions: a version AWS adds later (python3.15, nodejs26.x, java29, dotnet12,
/// provided.al2027) passes without a release of deploy. Versions below a family's floor are
/// deprecated (Lambda refuses new functions with them); the ceilings only catch typos
/// (`nodejs99.x`) and are decades away.
const RUNTIME_FAMILIES: &str = "python3.N (N >= 9), nodejsN.x (even N >= 18), javaN (N >= 11) or java8.al2, dotnetN (N >= 8), rubyN.M (3.2 or later), provided.al2, provided.al2023";

/// What is wrong with a Lambda runtime identifier, if anything.
pub(super) fn runtime_problem(r: &str) -> Option<String> {
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    // (supported, deprecated): a known family with a version outside its range is one or the
    // other; anything else is unknown.
    let verdict: Option<bool> = if let Some(n) = r.strip_prefix("python3.").and_then(num) {
        Some((9..=40).contains(&n))
    } else if r.starts_with("python") {
        Some(false)
    } else if let Some(n) = r
        .strip_prefix("nodejs")
        .and_then(|v| v.strip_suffix(".x"))
        .and_then(num)
    {
        Some((18..=60).contains(&n) && n % 2 == 0)
    } else if r.starts_with("nodejs") {
        Some(false)
    } else if r == "java8.al2" {
        Some(true)
    } else if let Some(n) = r.strip_prefix("java").and_then(num) {
        Some((11..=60).contains(&n))
    } else if r.starts_with("java") {
        Some(false)
    } else if let Some(n) = r.strip_prefix("dotnet").and_then(num) {
        Some((8..=40).contains(&n))
    } else if r.starts_with("dotnet") {
        Some(false)
    } else if let Some((major, minor)) = r
        .strip_prefix("ruby")
        .and_then(|v| v.split_once('.'))
        .and_then(|(a, b)| Some((num(a)?, num(b)?)))
    {
        Some((major, minor) >= (3, 2) && major <= 9)
    } else if r.starts_with("ruby") {
        Some(false)
    } else if r == "provided.al2" {
        Some(true)
    } else if let Some(y) = r.strip_prefix("provided.al").and_then(num) {
        Some((2023..=2060).contains(&y))
    } else if r == "provided" || r.starts_with("go1") || r.starts_with("provided.") {
        Some(false)
    } else {
        None
    };
    match verdict {
        Some(true) => None,
        Some(false) => Some(format!(
            "`{r}` is not a runtime Lambda creates functions with (deprecated, or no such version): use a supported one, such as python3.13 or nodejs22.x (supported: {RUNTIME_FAMILIES})"
        )),
        None => Some(format!(
            "`{r}` is not a Lambda runtime: use one of {RUNTIME_FAMILIES}"
        )),
    }
}

/// `prefix` followed by lowercase letters and digits, as EC2 ids are (`subnet-0a1b…`).
fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|id| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    })
}

fn auto_role_too_long(function: &str) -> String {
    format!(
        "the auto role of `{function}` would be named `{function}-role`, {} characters, but IAM allows at most 64: shorten the function's name to 59 characters or fewer, or give `role:` an existing role's ARN",
        function.len() + "-role".len()
    )
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`
fn is_role_arn(s: &str) -> bool {
    let p: Vec<&str> = s.splitn(6, ':').collect();
    matches!(p.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty() && !n.ends_with('/')))
}

/// What is wrong with a layer ARN, if anything: Lambda attaches a layer *version*,
/// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`.
fn layer_arn_problem(s: &str) -> Option<String> {
    let p: Vec<&str> = s.split(':').collect();
    let shape_ok = p.len() >= 7
        && p[0] == "arn"
        && p[1].starts_with("aws")
        && p[2] == "lambda"
        && !p[3].is_empty()
        && p[4].len() == 12
        && p[4].chars().all(|c| c.is_ascii_digit())
        && p[5] == "layer"
        && !p[6].is_empty();
    if !shape_ok {
        return Some(format!(
            "layer `{s}` must be a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION), or {{ name, source, runtimes }} to publish a folder"
        ));
    }
    match p.get(7) {
        Some(v) if p.len() == 8 && !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) => None,
        None => Some(format!(
            "layer `{s}` has no version: Lambda attaches a layer version, so add `:N` (the version number) at the end"
        )),
        Some(_) => Some(format!(
            "layer `{s}` must end with a version number, like arn:aws:lambda:REGION:ACCOUNT:layer:NAME:3"
        )),
    }
}

fn user_pool(c: &mut Checker<'_>, name: &str, p: &Sp<raw::RawUserPool>) -> Option<UserPool> {
    let at = pos(p);
    let (aws_name, name_at) = c.physical(name, &p.value.name, at);
    // CreateUserPool's PoolName: 1-128 of [\w\s+=,.@-] (Cognito API reference).
    // A key holding `${` was refused by the decoder already.
    if !is_interpolated(&aws_name)
        && (aws_name.is_empty()
            || aws_name.chars().count() > 128
            || !aws_name
                .chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_+=,.@-".contains(c)))
    {
        c.err(
            name_at,
            format!("user pool name `{aws_name}` must be 1-128 letters, digits, spaces or _+=,.@-"),
        );
    }
    let attrs = |c: &mut Checker<'_>, list: &Option<Vec<Str>>, what: &str| -> Option<Vec<String>> {
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
    let username_attributes = attrs(c, &p.value.username_attributes, "username_attributes");
    let auto_verified_attributes = attrs(
        c,
        &p.value.auto_verified_attributes,
        "auto_verified_attributes",
    );
    Some(UserPool {
        name: aws_name,
        username_attributes,
        auto_verified_attributes,
        deletion_protection: p
            .value
            .deletion_protection
            .as_ref()
            .and_then(|b| c.bool(b, "deletion_protection")),
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
    let pool = v.user_pool.as_ref().and_then(|x| c.plain(x, "user_pool"));
    let event = v.event.as_ref().and_then(|x| c.plain(x, "event"));
    let function = v.function.as_ref().and_then(|x| c.plain(x, "function"));
    let event = event.filter(|event| {
        let ok = TRIGGER_EVENTS.iter().any(|(e, _)| e == event);
        if !ok {
            c.err(
                v.event.as_ref().map_or(Pos::default(), pos),
                format!(
                    "event `{event}` is not a Cognito trigger: use one of {}",
                    TRIGGER_EVENTS
                        .iter()
                        .map(|(e, _)| *e)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        ok
    });
    let function = match function {
        Some(f) if functions.contains(&f) => Some(FunctionRef::Stack(f)),
        Some(f) if is_function_arn(&f) => Some(FunctionRef::Arn(f)),
        Some(f) => {
            c.err(
                v.function.as_ref().map_or(Pos::default(), pos),
                format!(
                    "function `{f}` is not a function of this stack (declared: {}) nor a function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                    list_or_none(functions)
                ),
            );
            None
        }
        None => None,
    };
    let pool = pool?;
    let user_pool = if pools.contains(&pool) {
        PoolRef::Stack(pool)
    } else {
        PoolRef::External(pool)
    };
    Some(Trigger {
        user_pool,
        event: event?,
        function: function?,
        pos: pos(t),
    })
}

/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
fn is_function_arn(s: &str) -> bool {
    let p: Vec<&str> = s.split(':').collect();
    (p.len() == 7 || p.len() == 8)
        && p[0] == "arn"
        && p[1].starts_with("aws")
        && p[2] == "lambda"
        && p[4].len() == 12
        && p[4].chars().all(|c| c.is_ascii_digit())
        && p[5] == "function"
        && !p[6].is_empty()
}

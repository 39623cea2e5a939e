//! From [`raw::RawStack`] to [`Stack`]: the stack file's own checks (its name, region, tags,
//! outputs, references between entries and their cycles), around the checks each kind declares in
//! `resources/<kind>/decl.rs`, collecting all problems at once.
//!
//! Values are checked after interpolation: any string may come from `${env:}`, so shapes (ARNs,
//! ids, CIDRs, numbers) are checked on the resolved text, and the error still names the line.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::check::{Checker, is_interpolated, pos};
use super::decode::Str;
use super::raw;
use super::template::{EnvLookup, Template};
use super::*;
use crate::resources::cognito::{trigger, user_pool};
use crate::resources::{db_instance, function, security_group};

pub(super) struct Input<'a> {
    pub src: &'a str,
    pub file: &'a Path,
    pub dir: &'a Path,
    pub env: EnvLookup<'a>,
    pub secrets_required: bool,
    pub packages_needed: bool,
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
        packages_needed: input.packages_needed,
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
        packages_needed: c.packages_needed,
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
        .filter_map(|(n, g)| {
            security_group::decl::check(&mut c, n, g, &group_names).map(|g| (n.clone(), g))
        })
        .collect();
    let db_instances = raw
        .db_instances
        .iter()
        .filter_map(|(n, d)| {
            db_instance::decl::check(&mut c, n, d, &group_names).map(|d| (n.clone(), d))
        })
        .collect();
    let functions: BTreeMap<String, Function> = raw
        .functions
        .iter()
        .filter_map(|(n, f)| {
            function::decl::check(&mut c, n, f, &group_names).map(|f| (n.clone(), f))
        })
        .collect();
    let user_pools = raw
        .user_pools
        .iter()
        .filter_map(|(n, p)| user_pool::decl::check(&mut c, n, p).map(|p| (n.clone(), p)))
        .collect();
    let pool_names = names("user_pools");
    let function_names = names("functions");
    let mut cognito_triggers = Vec::new();
    let mut seen = BTreeSet::new();
    for t in &raw.cognito_triggers {
        if let Some(t) = trigger::decl::check(&mut c, t, &pool_names, &function_names) {
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

    // References, checked once every section is known.
    references(&mut c, &raw, env);

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

/// The references between entries (`${functions.x.arn}` in an environment or an output): dangling
/// ones, one to itself, and cycles.
fn references(c: &mut Checker<'_>, raw: &raw::RawStack, env: EnvLookup<'_>) {
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

//! Saved plans: `deploy plan --out FILE` and `deploy apply FILE`.
//!
//! The file holds the plan as it was shown, the executor's steps in order, and a fingerprint of
//! everything the plan was computed from: the stack file, every folder and file it packages or
//! migrates from, and each live resource as read. Apply reads live state again and recomputes
//! those fingerprints; when any differ it refuses before any write, naming what changed (a stale
//! plan).
//!
//! The file is not trusted to say what it does: anyone who can write it could change a recorded
//! variable, an attribute or a step without changing what `show` displays. So apply plans again
//! from the file's own inputs (its variables and public IP, the stack file, live AWS) with the
//! planner's own checks (ownership, `--adopt`, deletion protection), and refuses unless that plan
//! is the one the file shows and the file's steps and attributes are that plan's
//! ([`SavedPlan::differences`]); it then runs the plan it made. An edit that changes the display
//! along with the inputs is consistent, and only the file's digest ([`digest`], checked with
//! `apply --expect-digest`) can tell it from the file that was reviewed.
//!
//! No secret is stored: fields are stored as shown (`(sensitive)`), and the values that need a
//! secret are computed again at apply from the stack file's template and the environment.
//!
//! The `${env:...}` values the plan was made with are stored ([`Variables`]), as Terraform stores
//! a plan's variables: apply loads the stack file with them, not with the environment of the
//! apply, so the values it sends are the ones the reviewed plan showed (a CI job that applies on
//! merge need not, and cannot by accident, set them differently). Only the names of the secrets
//! are stored; their values are read again at apply.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::build::{Planned, Step};
use super::{Change, Plan};
use crate::resources::{Found, Key, LiveEnv, Observed};
use crate::stack::{LayerRef, Stack};

/// Bumped on any change of the file's shape; a newer file is refused, never half-understood.
/// 2: the plan's `${env:}` values (`variables`); an older file, without them, would be applied
/// with the apply's environment, so it is refused too.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    /// Live fingerprints hash deploy's own model of a resource, which may change between
    /// versions: a plan is applied by the version that made it.
    pub deploy_version: String,
    pub stack: String,
    pub region: String,
    /// The stack file as named on the command line when planning (for messages).
    pub stack_file: String,
    /// `${public_ip}` as it was when planning: the plan applies what it showed.
    pub public_ip: Option<String>,
    pub targets: Vec<String>,
    /// `plan --adopt`: the adoptions in this plan were asked for.
    pub adopt: bool,
    /// The variables the stack file was loaded with when planning.
    pub variables: Variables,
    pub plan: Plan,
    /// The executor's steps, in execution order.
    pub steps: Vec<SavedStep>,
    /// Attributes known before apply (ids, ARNs, endpoints; no secret is an attribute).
    pub attributes: BTreeMap<String, Option<String>>,
    pub fingerprint: Fingerprint,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedStep {
    pub address: String,
    pub key: Key,
    pub after: Vec<String>,
    pub desired: bool,
    pub change: Change,
}

/// SHA-256 digests, hex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub stack_file: String,
    /// Packaged folders (function code, layers), migration folders and seed files, by path
    /// relative to the stack file's folder.
    pub files: BTreeMap<String, String>,
    /// Every resource the read found, by address.
    pub live: BTreeMap<String, String>,
    /// The account facts specs use: default VPC and subnets, the pools triggers may name.
    pub account: String,
}

/// The variables a stack file was loaded with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variables {
    /// Each `${env:NAME}` the file reads, with the value it had; `None`: unset, so the file's
    /// `:-default` applied. Never a variable that is (also) read as a secret, nor any value that
    /// holds a secret.
    pub env: BTreeMap<String, Option<String>>,
    /// The `${secret:NAME}` variables the file reads: names only, read again at apply.
    pub secrets: BTreeSet<String>,
}

/// Wraps the lookup the stack file is loaded with and remembers every variable it was asked for.
pub struct Recorder<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    seen: RefCell<BTreeMap<String, Option<String>>>,
}

impl<'a> Recorder<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Recorder {
            lookup,
            seen: RefCell::default(),
        }
    }

    pub fn lookup(&self, name: &str) -> Option<String> {
        let v = (self.lookup)(name);
        self.seen.borrow_mut().insert(name.to_string(), v.clone());
        v
    }

    /// What may be stored: `secret_names` are the `${secret:}` names the loaded stack reads
    /// ([`secret_names`], from its parsed templates, so after YAML's unescaping), and
    /// `secret_values` the secrets it holds. A variable read as a secret anywhere, or whose value
    /// holds a secret in any encoding (as written, percent-encoded as `|url` writes it,
    /// JSON-escaped: every form the scrubber masks), is left out; apply reads what is left out
    /// from its own environment. A recorded value is therefore never one the file's scrubbing
    /// would turn into `(sensitive)`.
    pub fn variables(
        &self,
        secret_names: &BTreeSet<String>,
        secret_values: &[String],
    ) -> Variables {
        let forms: Vec<String> = secret_values
            .iter()
            .flat_map(|s| {
                let decoded = crate::stack::template::url_decode(s);
                let mut f = crate::redact::forms(s);
                f.extend(crate::redact::forms(&decoded));
                f
            })
            .filter(|f| f.chars().count() >= crate::stack::template::MIN_SECRET_LEN)
            .collect();
        let env = self
            .seen
            .borrow()
            .iter()
            .filter(|(name, _)| !secret_names.contains(*name))
            .filter(|(_, v)| {
                v.as_deref()
                    .is_none_or(|v| !forms.iter().any(|s| v.contains(s.as_str())))
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        Variables {
            env,
            secrets: secret_names.clone(),
        }
    }
}

/// The names of every `${secret:NAME}` the loaded stack reads, set or not, from its parsed
/// templates: a YAML escape (`"\x24{secret:PW}"`) is already undone there, where a scan of the
/// file's text would miss it.
pub fn secret_names(stack: &Stack) -> BTreeSet<String> {
    let mut all: Vec<&crate::stack::Template> = stack.outputs.values().collect();
    for f in stack.functions.values() {
        all.extend(f.environment.values());
    }
    for d in stack.db_instances.values() {
        if let crate::stack::Password::Secret(t) = &d.password {
            all.push(t);
        }
    }
    all.iter()
        .flat_map(|t| t.secret_names.iter().cloned())
        .collect()
}

impl Variables {
    /// The lookup to load the stack file with when applying a plan made with these variables:
    /// the plan's own value of each `${env:}` it read, and `process` for everything else (the
    /// secrets; and any variable the plan did not read, which only a changed stack file can ask
    /// for, and that plan is stale).
    pub fn lookup(&self, name: &str, process: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        match self.env.get(name) {
            Some(v) if !self.secrets.contains(name) => v.clone(),
            _ => process(name),
        }
    }

    /// The variables whose value in `process` differs from the one the plan was made with (the
    /// plan's is used): their names, for a note. An unset one is not listed: apply need not set
    /// them.
    pub fn overridden(&self, process: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        self.env
            .iter()
            .filter(|(name, then)| process(name).is_some_and(|now| then.as_ref() != Some(&now)))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// What a plan needs besides the planned steps to be saved.
pub struct Context<'a> {
    pub stack: &'a Stack,
    pub found: &'a [Found],
    pub env: &'a LiveEnv,
    pub public_ip: Option<String>,
    pub targets: &'a [String],
    pub adopt: bool,
    pub variables: Variables,
}

pub fn save(planned: &Planned, cx: &Context<'_>) -> std::io::Result<SavedPlan> {
    Ok(SavedPlan {
        format_version: FORMAT_VERSION,
        deploy_version: env!("CARGO_PKG_VERSION").into(),
        stack: cx.stack.name.clone(),
        region: cx.env.region.clone(),
        stack_file: cx.stack.file.display().to_string(),
        public_ip: cx.public_ip.clone(),
        targets: cx.targets.to_vec(),
        adopt: cx.adopt,
        variables: cx.variables.clone(),
        plan: planned.plan.clone(),
        steps: saved_steps(&planned.steps),
        attributes: planned.resolver.outputs.clone(),
        fingerprint: Fingerprint {
            stack_file: cx.stack.digest.clone(),
            files: files(cx.stack)?,
            live: live(cx.found),
            account: account(cx.env),
        },
    })
}

/// The steps as a file holds them: without the live observations, which apply reads again.
fn saved_steps(steps: &[Step]) -> Vec<SavedStep> {
    steps
        .iter()
        .map(|s| SavedStep {
            address: s.id.to_string(),
            key: s.key.clone(),
            after: s.after.iter().map(ToString::to_string).collect(),
            desired: s.desired,
            change: s.change.clone(),
        })
        .collect()
}

/// The digest of a plan file's bytes, as `plan --out` and `show` print it and
/// `apply --expect-digest` takes it: what binds the file applied to the file reviewed.
pub fn digest(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    format!("sha256:{}", hex(h))
}

/// Whether `expected` (as printed, or the bare hex `sha256sum` prints) names `actual`.
pub fn digest_matches(actual: &str, expected: &str) -> bool {
    let expected = expected.trim();
    let hex = expected.strip_prefix("sha256:").unwrap_or(expected);
    actual.strip_prefix("sha256:") == Some(hex.to_ascii_lowercase().as_str())
}

/// The file's text. Secrets never reach a plan, but the scrubber runs anyway, as for every
/// other output.
pub fn to_text(saved: &SavedPlan) -> String {
    let text = serde_json::to_string_pretty(saved).expect("plain data");
    crate::redact::scrub(&text) + "\n"
}

/// Reads a saved plan, refusing a file of a newer format or another deploy version with a clear
/// message (the caller names the file).
pub fn parse(text: &str) -> Result<SavedPlan, String> {
    #[derive(Deserialize)]
    struct Head {
        format_version: Option<u32>,
        deploy_version: Option<String>,
    }
    let head: Head = serde_json::from_str(text).map_err(|e| {
        format!("is not a saved plan of deploy ({e}); make one with `deploy plan --out FILE`")
    })?;
    let Some(v) = head.format_version else {
        return Err("is not a saved plan of deploy (no format_version); make one with `deploy plan --out FILE`".into());
    };
    if v > FORMAT_VERSION {
        return Err(format!(
            "has plan format {v}, newer than this deploy understands ({FORMAT_VERSION}): apply it with the deploy that made it, or plan again"
        ));
    }
    if v < FORMAT_VERSION {
        return Err(format!(
            "has plan format {v}, older than this deploy's ({FORMAT_VERSION}), which does not record the ${{env:}} values it was made with: run `deploy plan --out FILE` again"
        ));
    }
    let mine = env!("CARGO_PKG_VERSION");
    if let Some(dv) = head.deploy_version.filter(|dv| dv != mine) {
        return Err(format!(
            "was made by deploy {dv}, this is deploy {mine}: run `deploy plan --out FILE` again with this version"
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        format!(
            "is damaged or not a saved plan ({e}); make a new one with `deploy plan --out FILE`"
        )
    })
}

impl SavedPlan {
    /// Refuses a plan made for another stack or region.
    pub fn check_identity(&self, stack: &Stack, region: &str) -> Result<(), String> {
        if self.stack != stack.name {
            return Err(format!(
                "is a plan of stack `{}`, but {} declares stack `{}`: pass the stack file it was made from with -f",
                self.stack,
                stack.file.display(),
                stack.name
            ));
        }
        if self.region != region {
            return Err(format!(
                "was made for region {}, but this run is in region {region}: use --region {} (or plan again for {region})",
                self.region, self.region
            ));
        }
        Ok(())
    }

    /// What changed since the plan was made, one line each; empty when nothing did.
    pub fn stale(&self, stack: &Stack, found: &[Found], env: &LiveEnv) -> Vec<String> {
        let mut out = Vec::new();
        let name = file_name(&stack.file);
        if stack.digest != self.fingerprint.stack_file {
            out.push(format!("{name} changed since the plan"));
            // Everything else follows from a different file; listing it would only confuse.
            return out;
        }
        match files(stack) {
            Ok(now) => diff_maps(&self.fingerprint.files, &now, &mut out, |path, what| {
                format!("{path} {what} since the plan")
            }),
            Err(e) => out.push(format!("cannot read a packaged folder: {e}")),
        }
        diff_maps(
            &self.fingerprint.live,
            &live(found),
            &mut out,
            |addr, what| format!("{addr} {what} in AWS since the plan"),
        );
        if account(env) != self.fingerprint.account {
            out.push(
                "the account's default VPC, its subnets or its user pools changed since the plan"
                    .into(),
            );
        }
        out
    }

    /// What the file shows, runs or records that `remade` (the plan made again from the file's
    /// own inputs) does not, one line each; empty only when the file's plan, steps and
    /// attributes equal the remade plan's exactly.
    pub fn differences(&self, remade: &Planned) -> Vec<String> {
        let mut out = Vec::new();
        plan_differences(&self.plan, &remade.plan, &mut out);
        step_differences(&self.steps, &saved_steps(&remade.steps), &mut out);
        let keys: BTreeSet<&String> = self
            .attributes
            .keys()
            .chain(remade.resolver.outputs.keys())
            .collect();
        let shown = |v: Option<&Option<String>>| match v {
            None => "nothing".to_string(),
            Some(None) => "(known after apply)".to_string(),
            Some(Some(v)) => format!("{v:?}"),
        };
        for k in keys {
            let (file, now) = (self.attributes.get(k), remade.resolver.outputs.get(k));
            if file != now {
                out.push(format!(
                    "attribute {k}: the file records {}, planning again gives {}",
                    shown(file),
                    shown(now)
                ));
            }
        }
        if self.attributes != remade.resolver.outputs && out.is_empty() {
            out.push("the file's attributes differ from planning again".into());
        }
        out
    }
}

fn plan_differences(file: &Plan, now: &Plan, out: &mut Vec<String>) {
    let before = out.len();
    let by = |p: &'_ Plan| -> BTreeMap<String, Change> {
        p.changes
            .iter()
            .map(|c| (c.address.clone(), c.clone()))
            .collect()
    };
    let (f, n) = (by(file), by(now));
    let addresses: BTreeSet<&String> = f.keys().chain(n.keys()).collect();
    for a in addresses {
        match (f.get(a), n.get(a)) {
            (Some(fc), None) => out.push(format!(
                "{a}: the file shows {}, which planning again does not",
                action(fc)
            )),
            (None, Some(nc)) => out.push(format!(
                "{a}: planning again gives {}, which the file does not show",
                action(nc)
            )),
            (Some(fc), Some(nc)) if fc != nc => {
                if fc.action != nc.action {
                    out.push(format!(
                        "{a}: the file shows {}, planning again gives {}",
                        action(fc),
                        action(nc)
                    ));
                }
                let paths: BTreeSet<&str> = fc
                    .fields
                    .iter()
                    .chain(&nc.fields)
                    .map(|x| x.path.as_str())
                    .collect();
                let show = |x: Option<&super::FieldChange>| match x {
                    None => "no change".to_string(),
                    Some(x) => format!("{} -> {}", x.before, x.after),
                };
                for p in paths {
                    let (ff, nf) = (fc.field(p), nc.field(p));
                    if ff != nf {
                        out.push(format!(
                            "{a}: {p}: the file shows {}, planning again gives {}",
                            show(ff),
                            show(nf)
                        ));
                    }
                }
                if fc.notes != nc.notes {
                    out.push(format!("{a}: the file's notes differ from planning again"));
                }
            }
            _ => {}
        }
    }
    let mut whole = |what: &str, same: bool| {
        if !same {
            out.push(format!("the file's {what} differ from planning again"));
        }
    };
    whole(
        "stack, region or kind of plan",
        (&file.stack, &file.region, file.destroy) == (&now.stack, &now.region, now.destroy),
    );
    whole("output changes", file.outputs == now.outputs);
    whole("warnings", file.warnings == now.warnings);
    whole("adoptions", file.needs_adopt == now.needs_adopt);
    whole("waits", file.waiting == now.waiting);
    if file != now && out.len() == before {
        out.push("the plan the file shows differs from planning again".into());
    }
}

/// `create`, `delete`…, as the JSON plan spells an action.
fn action(c: &Change) -> String {
    format!("{:?}", c.action).to_lowercase()
}

fn step_differences(file: &[SavedStep], now: &[SavedStep], out: &mut Vec<String>) {
    let before = out.len();
    let name = |s: &SavedStep| format!("{} {}", action(&s.change), s.address);
    let find = |steps: &'_ [SavedStep], a: &str| steps.iter().position(|s| s.address == a);
    for s in file {
        match find(now, &s.address) {
            None => out.push(format!(
                "the file runs a step planning again does not: {}",
                name(s)
            )),
            Some(i) if now[i] != *s => out.push(format!(
                "the file's step {} differs from planning again's",
                s.address
            )),
            Some(_) => {}
        }
    }
    for s in now {
        if find(file, &s.address).is_none() {
            out.push(format!(
                "the file leaves out a step planning again makes: {}",
                name(s)
            ));
        }
    }
    if file != now && out.len() == before {
        out.push("the file runs its steps in another order than planning again".into());
    }
}

fn diff_maps(
    then: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
    out: &mut Vec<String>,
    line: impl Fn(&str, &str) -> String,
) {
    let keys: BTreeSet<&String> = then.keys().chain(now.keys()).collect();
    for k in keys {
        match (then.get(k), now.get(k)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(_), Some(_)) => out.push(line(k, "changed")),
            (Some(_), None) => out.push(line(k, "disappeared")),
            (None, Some(_)) => out.push(line(k, "appeared")),
            (None, None) => {}
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A resource as deploy models it. `Debug` is that model in full except what it deliberately
/// hides: a function's environment values, added here with every registered secret masked first.
/// An unsalted hash of a value holding the password would let anyone holding the plan file test
/// password guesses offline; with the mask, a change of the secret alone is not "stale", which
/// costs nothing, since apply resolves secrets again from the environment anyway.
fn observed_digest(o: &Observed) -> String {
    let mut h = Sha256::new();
    h.update(format!("{o:?}").as_bytes());
    if let Observed::Function(f) = o {
        for (k, v) in &f.environment {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(crate::redact::scrub(v).as_bytes());
            h.update([0]);
        }
    }
    hex(h)
}

fn live(found: &[Found]) -> BTreeMap<String, String> {
    found
        .iter()
        .map(|f| (f.address.clone(), observed_digest(&f.observed)))
        .collect()
}

fn account(env: &LiveEnv) -> String {
    let mut h = Sha256::new();
    h.update(
        format!(
            "{:?}|{:?}|{:?}",
            env.default_vpc, env.default_subnets, env.user_pools
        )
        .as_bytes(),
    );
    hex(h)
}

/// Every folder and file the stack reads besides itself, by path relative to its folder.
fn inputs(stack: &Stack) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in stack.functions.values() {
        out.push(f.source.clone());
        for l in &f.layers {
            if let LayerRef::Folder { source, .. } = l {
                out.push(source.clone());
            }
        }
    }
    for d in stack.db_instances.values() {
        out.extend(d.migrations.iter().cloned());
        out.extend(d.seed.iter().cloned());
    }
    out.sort();
    out.dedup();
    out
}

fn files(stack: &Stack) -> std::io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in inputs(stack) {
        let full = stack.dir.join(&p);
        let shown = full
            .strip_prefix(&stack.dir)
            .unwrap_or(&full)
            .display()
            .to_string();
        out.insert(shown, tree_digest(&full)?);
    }
    Ok(out)
}

/// A file's bytes, or a folder's files (relative names and bytes, in name order). A missing
/// path has a digest too, so that its appearing later is a change.
fn tree_digest(root: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    if !root.exists() {
        h.update(b"(missing)");
        return Ok(hex(h));
    }
    let mut stack = vec![root.to_path_buf()];
    let mut all = Vec::new();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p)? {
                stack.push(e?.path());
            }
        } else {
            all.push(p);
        }
    }
    all.sort();
    for p in all {
        let rel = p.strip_prefix(root).unwrap_or(&p);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(&p)?);
        h.update([0]);
    }
    Ok(hex(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::build::{Input, plan};
    use crate::resources::security_group::GroupObserved;

    const SRC: &str = "stack: s\nsecurity_groups:\n  db:\n    description: d\nfunctions:\n  f:\n    source: lambdas/f\n    runtime: python3.12\n    handler: h.handler\n    environment:\n      URL: postgres://u:${secret:PW}@h/db\n";

    fn setup() -> (tempfile::TempDir, Stack) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lambdas/f")).unwrap();
        std::fs::write(
            dir.path().join("lambdas/f/h.py"),
            "def handler(e, c): pass\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("stack.yaml"), SRC).unwrap();
        let stack = stack_at(dir.path());
        (dir, stack)
    }

    fn stack_at(dir: &Path) -> Stack {
        let src = std::fs::read_to_string(dir.join("stack.yaml")).unwrap();
        crate::stack::parse_str(&src, &dir.join("stack.yaml"), dir, &|n| {
            (n == "PW").then(|| "hunter2-secret".to_string())
        })
        .unwrap()
    }

    fn group(desc: &str) -> Found {
        Found {
            address: "security_groups.db".into(),
            key: Key::Group("db".into()),
            observed: Observed::Group(GroupObserved {
                id: "sg-1".into(),
                name: "db".into(),
                description: desc.into(),
                vpc_id: "vpc-1".into(),
                tags: [("deploy:stack".to_string(), "s".to_string())].into(),
                owned: true,
            }),
        }
    }

    fn env() -> LiveEnv {
        LiveEnv {
            region: "us-east-1".into(),
            default_vpc: Some("vpc-1".into()),
            ..Default::default()
        }
    }

    fn saved(stack: &Stack, found: &[Found]) -> SavedPlan {
        let env = env();
        let planned = plan(&Input {
            stack,
            found,
            env: &env,
            public_ip: None,
            destroy: false,
            targets: &[],
        })
        .unwrap();
        save(
            &planned,
            &Context {
                stack,
                found,
                env: &env,
                public_ip: None,
                targets: &[],
                adopt: false,
                variables: Variables::default(),
            },
        )
        .unwrap()
    }

    #[test]
    fn a_functions_digest_does_not_depend_on_a_secret_in_its_environment() {
        let f = |url: &str| {
            Observed::Function(crate::resources::function::Observed {
                owned: true,
                arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
                name: "f".into(),
                runtime: "python3.12".into(),
                handler: "h.h".into(),
                description: None,
                memory: 128,
                timeout: 3,
                role: "r".into(),
                layers: vec![],
                subnets: vec![],
                security_groups: vec![],
                environment: [("URL".to_string(), url.to_string())].into(),
                code_sha256: "x".into(),
                tags: Default::default(),
            })
        };
        crate::redact::register([
            "Digest-Secret-AAAA".to_string(),
            "Digest-Secret-BBBB".to_string(),
        ]);
        // A digest that moved with the password would be an offline oracle for it.
        assert_eq!(
            observed_digest(&f("postgresql://u:Digest-Secret-AAAA@h/d")),
            observed_digest(&f("postgresql://u:Digest-Secret-BBBB@h/d"))
        );
        // Everything else still counts.
        assert_ne!(
            observed_digest(&f("postgresql://u:Digest-Secret-AAAA@h/d")),
            observed_digest(&f("postgresql://u:Digest-Secret-AAAA@other/d"))
        );
    }

    #[test]
    fn round_trips_and_holds_no_secret() {
        let (_d, stack) = setup();
        let s = saved(&stack, &[group("d")]);
        let text = to_text(&s);
        assert!(!text.contains("hunter2"), "{text}");
        let back = parse(&text).unwrap();
        assert_eq!(back.plan, s.plan);
        assert!(back.stale(&stack, &[group("d")], &env()).is_empty());
        let order: Vec<&str> = back.steps.iter().map(|s| s.address.as_str()).collect();
        assert_eq!(order, vec!["functions.f.role", "functions.f"]);
        // Untouched, the file is exactly what planning again gives.
        assert_eq!(
            back.differences(&replan(&stack, &[group("d")], None)),
            Vec::<String>::new()
        );
    }

    fn replan(stack: &Stack, found: &[Found], public_ip: Option<String>) -> Planned {
        plan(&Input {
            stack,
            found,
            env: &env(),
            public_ip,
            destroy: false,
            targets: &[],
        })
        .unwrap()
    }

    const OFFICE: &str = "stack: s\nsecurity_groups:\n  db:\n    description: d\n    ingress:\n      - description: OFFICE\n        port: 5432\n        cidr: ${env:OFFICE_CIDR}\n  other:\n    description: o\n";

    /// A plan of OFFICE made with OFFICE_CIDR=10.1.2.0/24, both groups live (owned), the rule
    /// not yet; and its stack file's folder.
    fn office() -> (tempfile::TempDir, Vec<Found>, SavedPlan) {
        let dir = tempfile::tempdir().unwrap();
        let at_plan = |n: &str| (n == "OFFICE_CIDR").then(|| "10.1.2.0/24".to_string());
        let recorder = Recorder::new(&at_plan);
        let stack =
            crate::stack::parse_str(OFFICE, &dir.path().join("stack.yaml"), dir.path(), &|n| {
                recorder.lookup(n)
            })
            .unwrap();
        let mut other = group("o");
        other.address = "security_groups.other".into();
        other.key = Key::Group("other".into());
        if let Observed::Group(g) = &mut other.observed {
            (g.id, g.name) = ("sg-2".into(), "other".into());
        }
        let found = vec![group("d"), other];
        let planned = replan(&stack, &found, None);
        let file = save(
            &planned,
            &Context {
                stack: &stack,
                found: &found,
                env: &env(),
                public_ip: None,
                targets: &[],
                adopt: false,
                variables: recorder.variables(&secret_names(&stack), &[]),
            },
        )
        .unwrap();
        (dir, found, parse(&to_text(&file)).unwrap())
    }

    /// What `apply FILE` compares the file with: the plan made again from the stack file loaded
    /// with the file's own variables.
    fn replan_from(dir: &Path, found: &[Found], file: &SavedPlan) -> Planned {
        let stack = crate::stack::parse_str(OFFICE, &dir.join("stack.yaml"), dir, &|n| {
            file.variables.lookup(n, &|_| None)
        })
        .unwrap();
        replan(&stack, found, file.public_ip.clone())
    }

    #[test]
    fn an_edited_variable_is_refused_naming_the_value_the_file_hides() {
        let (dir, found, file) = office();
        assert_eq!(
            file.differences(&replan_from(dir.path(), &found, &file)),
            Vec::<String>::new()
        );
        let mut edited = file.clone();
        edited
            .variables
            .env
            .insert("OFFICE_CIDR".into(), Some("0.0.0.0/0".into()));
        let d = edited.differences(&replan_from(dir.path(), &found, &edited));
        assert!(
            d.iter()
                .any(|l| l.contains("security_groups.db.ingress.OFFICE")
                    && l.contains("10.1.2.0/24")
                    && l.contains("0.0.0.0/0")),
            "{d:?}"
        );
        // The recorded public IP is an input too.
        let mut ip = file.clone();
        ip.public_ip = Some("203.0.113.9".into());
        // OFFICE does not use ${public_ip}: the same plan, so nothing to refuse...
        assert!(
            ip.differences(&replan_from(dir.path(), &found, &ip))
                .is_empty()
        );
    }

    #[test]
    fn an_added_removed_reordered_or_edited_step_is_refused() {
        let (dir, found, file) = office();
        let now = replan_from(dir.path(), &found, &file);
        let mut added = file.clone();
        let mut delete = added.steps[0].clone();
        delete.address = "security_groups.other".into();
        delete.key = Key::Group("other".into());
        delete.desired = false;
        delete.after = vec![];
        delete.change = Change::new("security_groups.other", super::super::Action::Delete);
        added.steps.push(delete);
        assert_eq!(
            added.differences(&now),
            vec!["the file runs a step planning again does not: delete security_groups.other"]
        );

        let mut removed = file.clone();
        removed.steps.clear();
        assert_eq!(
            removed.differences(&now),
            vec![
                "the file leaves out a step planning again makes: create security_groups.db.ingress.OFFICE"
            ]
        );

        let mut edited = file.clone();
        edited.steps[0].change.fields[0].after = crate::value::Shown::Value("0.0.0.0/0".into());
        assert_eq!(
            edited.differences(&now),
            vec!["the file's step security_groups.db.ingress.OFFICE differs from planning again's"]
        );

        // Shown and run alike: the display is compared on its own.
        let mut shown = edited.clone();
        shown.plan.changes[0].fields[0].after = crate::value::Shown::Value("0.0.0.0/0".into());
        let d = shown.differences(&now);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].starts_with("security_groups.db.ingress.OFFICE: "),
            "{d:?}"
        );
    }

    #[test]
    fn steps_in_another_order_and_edited_attributes_are_refused() {
        let (_d, stack) = setup();
        let s = saved(&stack, &[group("d")]);
        let now = replan(&stack, &[group("d")], None);
        let mut swapped = s.clone();
        swapped.steps.reverse();
        assert_eq!(
            swapped.differences(&now),
            vec!["the file runs its steps in another order than planning again"]
        );
        let mut attr = s.clone();
        attr.attributes
            .insert("security_groups.db.id".into(), Some("sg-attacker".into()));
        assert_eq!(
            attr.differences(&now),
            vec![
                "attribute security_groups.db.id: the file records \"sg-attacker\", planning again gives \"sg-1\""
            ]
        );
        let mut more = s.clone();
        more.attributes.insert("functions.x.arn".into(), None);
        assert_eq!(
            more.differences(&now),
            vec![
                "attribute functions.x.arn: the file records (known after apply), planning again gives nothing"
            ]
        );
        let mut warned = s.clone();
        warned.plan.warnings.push("x".into());
        assert_eq!(
            warned.differences(&now),
            vec!["the file's warnings differ from planning again"]
        );
    }

    #[test]
    fn a_digest_is_of_the_bytes_and_matches_with_or_without_its_prefix() {
        let d = digest(b"abc");
        assert_eq!(
            d,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digest_matches(&d, &d));
        assert!(digest_matches(
            &d,
            &d.to_uppercase().replace("SHA256:", "sha256:")
        ));
        assert!(digest_matches(&d, &format!(" {} ", &d["sha256:".len()..])));
        assert!(!digest_matches(&d, &digest(b"abd")));
        assert!(!digest_matches(&d, ""));
        assert!(!digest_matches(&d, "sha256:"));
    }

    #[test]
    fn names_what_changed() {
        let (dir, stack) = setup();
        let s = saved(&stack, &[group("d")]);
        assert_eq!(
            s.stale(&stack, &[group("console edit")], &env()),
            vec!["security_groups.db changed in AWS since the plan"]
        );
        assert_eq!(
            s.stale(&stack, &[], &env()),
            vec!["security_groups.db disappeared in AWS since the plan"]
        );
        std::fs::write(dir.path().join("lambdas/f/h.py"), "changed\n").unwrap();
        assert_eq!(
            s.stale(&stack, &[group("d")], &env()),
            vec!["lambdas/f changed since the plan"]
        );
        std::fs::write(dir.path().join("stack.yaml"), format!("{SRC}# edit\n")).unwrap();
        let edited = stack_at(dir.path());
        assert_eq!(
            s.stale(&edited, &[group("d")], &env()),
            vec!["stack.yaml changed since the plan"]
        );
    }

    #[test]
    fn refuses_newer_formats_other_versions_stacks_and_regions() {
        let (_d, stack) = setup();
        let s = saved(&stack, &[]);
        let mut v: serde_json::Value = serde_json::from_str(&to_text(&s)).unwrap();
        v["format_version"] = serde_json::json!(FORMAT_VERSION + 1);
        assert!(
            parse(&v.to_string())
                .unwrap_err()
                .contains("newer than this deploy")
        );
        v["format_version"] = serde_json::json!(FORMAT_VERSION);
        v["deploy_version"] = serde_json::json!("0.0.0-other");
        assert!(
            parse(&v.to_string())
                .unwrap_err()
                .contains("made by deploy 0.0.0-other")
        );
        assert!(parse("{}").unwrap_err().contains("not a saved plan"));
        let mut other = stack.clone();
        other.name = "other".into();
        assert!(
            s.check_identity(&other, "us-east-1")
                .unwrap_err()
                .contains("stack `s`")
        );
        assert!(
            s.check_identity(&stack, "eu-west-1")
                .unwrap_err()
                .contains("region us-east-1")
        );
    }

    /// Every place a `${env:}` can be: the stack name and region, tags, a rule's port and CIDR,
    /// a db instance's settings, a function's role, subnets, layers and environment, a trigger's
    /// pool and function, and an output.
    const EVERYWHERE: &str = "stack: ${env:STACK}
region: ${env:REGION:-us-east-1}
tags: { owner: \"${env:OWNER:-nobody}\" }
security_groups:
  web:
    description: web
    ingress:
      - description: R
        port: ${env:PORT}
        cidr: ${env:CIDR}
db_instances:
  db:
    engine: postgres
    instance_class: ${env:CLASS}
    allocated_storage: ${env:STORAGE}
    master_username: root
    master_password: ${secret:PW}
functions:
  f:
    source: lambdas/f
    runtime: python3.12
    handler: h.handler
    role: ${env:ROLE}
    layers: [\"${env:LAYER}\"]
    vpc:
      subnets: [\"${env:SUBNET}\"]
      security_groups: [web]
    environment:
      MODE: ${env:MODE}
      URL: postgres://u:${secret:PW}@h/${env:DBNAME}
cognito_triggers:
  - user_pool: ${env:POOL}
    event: post_confirmation
    function: ${env:FN_ARN}
outputs:
  WHERE: ${env:MODE}-${env:OWNER:-nobody}
  # $${secret:LITERAL} is not a secret
";

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn plan_env() -> BTreeMap<String, String> {
        vars(&[
            ("STACK", "planned"),
            ("OWNER", "alice"),
            ("PORT", "80"),
            ("CIDR", "10.0.0.0/8"),
            ("CLASS", "db.t3.micro"),
            ("STORAGE", "20"),
            ("PW", "Var-Secret-1234"),
            ("ROLE", "arn:aws:iam::123456789012:role/planned"),
            ("LAYER", "arn:aws:lambda:us-east-1:123456789012:layer:l:1"),
            ("SUBNET", "subnet-0aaa"),
            ("MODE", "blue"),
            ("DBNAME", "app"),
            ("POOL", "us-east-1_Planned"),
            (
                "FN_ARN",
                "arn:aws:lambda:us-east-1:123456789012:function:planned",
            ),
        ])
    }

    fn load_everywhere(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Stack {
        crate::stack::parse_str(EVERYWHERE, &dir.join("stack.yaml"), dir, env).unwrap()
    }

    #[test]
    fn apply_loads_the_stack_with_the_plans_variables_wherever_they_are() {
        let (dir, _) = setup();
        let at_plan = plan_env();
        let process = |n: &str| at_plan.get(n).cloned();
        let recorder = Recorder::new(&process);
        let planned = load_everywhere(dir.path(), &|n| recorder.lookup(n));
        let v = recorder.variables(&secret_names(&planned), &["Var-Secret-1234".to_string()]);

        // Stored: every variable read, with its value or as unset; secrets by name only.
        assert_eq!(v.env["PORT"].as_deref(), Some("80"));
        assert_eq!(v.env["OWNER"].as_deref(), Some("alice"));
        assert_eq!(v.env["REGION"], None);
        assert!(!v.env.contains_key("PW"), "{v:?}");
        assert_eq!(v.secrets, ["PW".to_string()].into());
        let stored = serde_json::to_string(&v).unwrap();
        assert!(!stored.contains("Var-Secret"), "{stored}");

        // Apply's environment differs in every variable (and sets REGION, unset at plan time);
        // only the secret is taken from it.
        let mut at_apply: BTreeMap<String, String> = at_plan
            .keys()
            .map(|k| (k.clone(), format!("{k}-changed")))
            .collect();
        at_apply.insert("REGION".into(), "eu-west-1".into());
        at_apply.insert("PORT".into(), "22".into());
        at_apply.insert("STORAGE".into(), "50".into());
        at_apply.insert("CIDR".into(), "0.0.0.0/0".into());
        at_apply.insert("PW".into(), "Var-Secret-5678".into());
        let process = |n: &str| at_apply.get(n).cloned();
        let applied = load_everywhere(dir.path(), &|n| v.lookup(n, &process));
        let expected = {
            let mut e = at_plan.clone();
            e.insert("PW".into(), "Var-Secret-5678".into());
            load_everywhere(dir.path(), &move |n| e.get(n).cloned())
        };
        assert_eq!(format!("{applied:?}"), format!("{expected:?}"));
        // Without the plan's variables the same file loads as something else.
        let direct = crate::stack::parse_str(
            EVERYWHERE,
            &dir.path().join("stack.yaml"),
            dir.path(),
            &process,
        );
        assert!(direct.is_err() || format!("{:?}", direct.unwrap()) != format!("{planned:?}"));

        let mut overridden = v.overridden(&process);
        overridden.sort();
        assert!(overridden.contains(&"PORT".to_string()));
        assert!(overridden.contains(&"REGION".to_string()));
        assert!(!overridden.contains(&"PW".to_string()));
        assert!(v.overridden(&|_| None).is_empty());
    }

    /// The review's item 10: a name hidden by a YAML escape (`"\x24{secret:Y}"`), and a variable
    /// holding a secret percent-encoded (as `|url` writes it), were recorded; the scrubber then
    /// turned the latter into `(sensitive)` in the file, and apply used that as its value.
    #[test]
    fn a_variable_read_as_a_secret_anywhere_or_holding_one_is_not_stored() {
        let (dir, _) = setup();
        let src = "stack: s\nfunctions:\n  f:\n    source: lambdas/f\n    runtime: python3.12\n    handler: h.handler\n    environment:\n      A: ${env:X} ${secret:X}\n      B: \"\\x24{secret:Y}\"\n      C: $${secret:Z} ${env:Z}\n      D: ${env:HOLDS} ${env:ENCODED} ${env:PLAIN}\n      E: u:${secret:W|url}@h\n";
        let env = vars(&[
            ("X", "xxxx-secret"),
            ("Y", "yyyy-secret"),
            ("W", "pa ss/w%rd"),
            ("HOLDS", "pre-yyyy-secret-post"),
            ("ENCODED", "pa%20ss%2Fw%25rd"),
            ("PLAIN", "pa ss/w%rd-but-raw"),
            ("Z", "zzzz"),
        ]);
        let process = |n: &str| env.get(n).cloned();
        let r = Recorder::new(&process);
        let stack =
            crate::stack::parse_str(src, &dir.path().join("stack.yaml"), dir.path(), &|n| {
                r.lookup(n)
            })
            .unwrap();
        let names = secret_names(&stack);
        assert_eq!(
            names,
            ["W".to_string(), "X".to_string(), "Y".to_string()].into()
        );
        let values: Vec<String> = stack
            .functions
            .values()
            .flat_map(|f| f.environment.values())
            .flat_map(|t| t.parts.iter())
            .filter_map(|p| match p {
                crate::stack::template::Part::Secret(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let v = r.variables(&names, &values);
        assert_eq!(v.env, [("Z".to_string(), Some("zzzz".to_string()))].into());
        let text = serde_json::to_string(&v).unwrap();
        assert!(
            !text.contains("sensitive") && !text.contains("pa%20ss"),
            "{text}"
        );
        // What was left out is read from apply's environment.
        assert_eq!(
            v.lookup("HOLDS", &process).as_deref(),
            Some("pre-yyyy-secret-post")
        );
        assert_eq!(v.lookup("Y", &process).as_deref(), Some("yyyy-secret"));
    }

    #[test]
    fn an_older_format_is_refused() {
        let (_d, stack) = setup();
        let mut v: serde_json::Value = serde_json::from_str(&to_text(&saved(&stack, &[]))).unwrap();
        v["format_version"] = serde_json::json!(1);
        let e = parse(&v.to_string()).unwrap_err();
        assert!(e.contains("older") && e.contains("plan --out"), "{e}");
    }
}

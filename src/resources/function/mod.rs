//! Lambda functions, their `auto` roles and the layers published from folders.
//!
//! Addresses: `functions.<fn>` (the function), `functions.<fn>.role` (the role `<fn>-role` that
//! `role: auto` creates) and `functions.<fn>.layer.<layer>` (a layer published from a folder; when
//! several functions declare the same layer name it lives under the first of them in name order).
//!
//! Ownership without tags where AWS cannot list them cheaply:
//! - roles live under the IAM path `/deploy/<stack>/`, so one `ListRoles` with that path prefix
//!   finds the candidates; like everything else, a role is this stack's only when it carries the
//!   `deploy:stack` tag (an untagged role on the path is adopted, never deleted);
//! - each layer version this stack publishes carries `deploy:<stack> fn:<fn> sha256:<content>` as
//!   its description, so one `ListLayers` tells which layers are ours and whether their latest
//!   version still matches the folder.
//!
//! Only the function name forces a replacement, and the name is the address, so a function is
//! never replaced: everything else (code, runtime, role, layers, VPC, environment) changes in
//! place, as in CloudFormation. A layer is different: a layer version is immutable, so new folder
//! content (or new runtimes) means a new version, which the plan shows as a replace.

pub mod aws;
pub mod decl;
pub mod order;
pub mod package;

use crate::resources::core::diff_by;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use crate::plan::{Action, Change, Diff, PlanError, list};
use crate::resources::core::{
    Attrs, Key, LiveEnv, Lookup, NodeDef, NodeType, ReplacePolicy, data_tags, group_address,
    group_ref_id, owned_change, owner_tag, tag_diff,
};
use crate::stack::{GroupRef, LayerRef, Pos, Resolver, RoleRef, Stack, Subnets};
use crate::value::{Shown, Text};

/// The managed policy the `auto` role of a function in a VPC gets: logs, plus the ENI calls a VPC
/// function needs.
pub const VPC_ACCESS_POLICY: &str = "iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
/// The managed policy the `auto` role of a function outside any VPC gets: logs only.
pub const BASIC_POLICY: &str = "iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

/// Whether an attached policy ARN is one of the two execution policies an `auto` role manages
/// (any other attachment was made by hand and is left alone).
pub fn is_execution_policy(arn: &str) -> bool {
    arn.ends_with(VPC_ACCESS_POLICY) || arn.ends_with(BASIC_POLICY)
}

/// Environment variables Lambda sets itself and refuses in `Environment`
/// (Lambda developer guide, "Defined runtime environment variables").
/// The environment keys whose value holds a secret, space-separated ([`ALL_SENSITIVE`] when the
/// list would not fit), written with the environment: when a key stops holding a secret, the file
/// no longer says its old value was one, and the plan must still not print it. Space, not comma:
/// Lambda's API model (TagResource, shape `TagValue`) allows only `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`,
/// at most 256 characters (the fidelity proxy's `conformance` check enforces it).
pub const SENSITIVE_TAG: &str = "deploy:sensitive";

/// [`SENSITIVE_TAG`]'s value when every key is to be treated as secret (no key holds an `@`).
pub const ALL_SENSITIVE: &str = "@all";

/// The [`SENSITIVE_TAG`] value for `environment`; `None` when no value holds a secret.
pub fn sensitive_tag(environment: &BTreeMap<String, Text>) -> Option<String> {
    let keys: Vec<&str> = environment
        .iter()
        .filter(|(_, v)| v.is_secret())
        .map(|(k, _)| k.as_str())
        .collect();
    if keys.is_empty() {
        return None;
    }
    let v = keys.join(" ");
    Some(if v.len() > 256 {
        ALL_SENSITIVE.into()
    } else {
        v
    })
}

const RESERVED_ENV: &[&str] = &[
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
];

#[derive(Clone, Debug)]
pub struct RoleSpec {
    pub name: String,
    pub path: String,
    pub trust_policy: serde_json::Value,
    /// The execution policy ARN(s) the role should have attached (sorted).
    pub policies: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// Set when a role of this name exists outside this stack's IAM path: creating it would
    /// fail, so it is a plan error.
    pub taken: Option<String>,
    pub pos: Pos,
}

#[derive(Clone, Debug)]
pub struct RoleObserved {
    /// Carries this stack's `deploy:stack` tag.
    pub owned: bool,
    pub arn: String,
    pub name: String,
    pub path: String,
    /// The trust policy, decoded; `None` when AWS did not return a readable one.
    pub trust_policy: Option<serde_json::Value>,
    pub tags: BTreeMap<String, String>,
    /// Attached managed policy ARNs, sorted.
    pub policies: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct LayerSpec {
    pub name: String,
    pub stack: String,
    /// The function the layer is addressed under (recorded in the version description).
    pub function: String,
    pub source: PathBuf,
    /// Sorted.
    pub runtimes: Vec<String>,
    /// [`package::content_sha256`] of the folder, or why it cannot be read.
    pub content: Result<String, String>,
    /// Files named like secrets that a new version would upload (shown in the plan).
    pub suspicious: Vec<String>,
    /// Set when functions declare this layer name with different folders or runtimes.
    pub conflict: Option<String>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerObserved {
    /// The latest version published by this stack.
    pub version_arn: String,
    pub name: String,
    pub version: i64,
    /// The content hash recorded in the version's description.
    pub content: String,
    /// Sorted.
    pub runtimes: Vec<String>,
    /// This stack's versions of the layer that stack.yaml names by ARN (in any function): they
    /// are never deleted while it does.
    pub pinned: Vec<i64>,
    /// Every version of the layer this stack published; listed only when `pinned` is not empty
    /// (empty otherwise), for the plan to say which versions a delete takes.
    pub published: Vec<i64>,
}

/// The versions of the layer `version_arn` belongs to (`arn:…:layer:NAME:N`) that stack.yaml
/// names by ARN, in any function, sorted.
pub fn pinned_versions(stack: &Stack, version_arn: &str) -> Vec<i64> {
    let Some((layer, _)) = version_arn.rsplit_once(':') else {
        return Vec::new();
    };
    let mut out: Vec<i64> = stack
        .functions
        .values()
        .flat_map(|f| &f.layers)
        .filter_map(|l| match l {
            LayerRef::Arn(a) => a.rsplit_once(':'),
            LayerRef::Folder { .. } => None,
        })
        .filter(|(l, _)| *l == layer)
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn versions(vs: &[i64]) -> String {
    let vs: Vec<String> = vs.iter().map(i64::to_string).collect();
    match vs.as_slice() {
        [one] => format!("version {one}"),
        _ => format!("versions {}", vs.join(", ")),
    }
}

/// A function's VPC attachment as the file wants it.
#[derive(Clone, Debug)]
pub struct VpcSpec {
    /// Sorted.
    pub subnets: Vec<String>,
    /// Group ids, unknown while a group of this stack is still to be created.
    pub security_groups: Vec<Text>,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub source: PathBuf,
    /// `CodeSha256` of the folder's zip, or why it cannot be zipped (or is too large, with its
    /// folder layers, for Lambda).
    pub code: Result<String, String>,
    /// Files named like secrets that new code would upload (shown in the plan).
    pub suspicious: Vec<String>,
    pub runtime: String,
    pub handler: String,
    pub description: Option<String>,
    pub memory: i32,
    pub timeout: i32,
    pub role: Text,
    /// Layer version ARNs, in order.
    pub layers: Vec<Text>,
    /// `None`: not in a VPC (a function that is in one is detached).
    pub vpc: Option<VpcSpec>,
    pub environment: BTreeMap<String, Text>,
    pub tags: BTreeMap<String, String>,
    /// Layer or role ARNs the file names that AWS says do not exist: a plan error, not a
    /// CreateFunction failure after other resources were already changed.
    pub missing: Vec<String>,
    /// Those AWS would not say anything about (AccessDenied): a plan warning.
    pub unverified: Vec<String>,
    /// With `subnets: default`: a group of the file's that is not in the default VPC (see
    /// `core::network`), said as a sentence.
    pub network: Option<String>,
    pub pos: Pos,
}

/// A function as Lambda reports it.
#[derive(Clone, PartialEq, Eq)]
pub struct Observed {
    /// Carries this stack's `deploy:stack` tag.
    pub owned: bool,
    pub arn: String,
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub description: Option<String>,
    pub memory: i32,
    pub timeout: i32,
    pub role: String,
    pub layers: Vec<String>,
    /// Sorted.
    pub subnets: Vec<String>,
    /// Sorted.
    pub security_groups: Vec<String>,
    /// May hold secrets: never printed (see the `Debug` impl).
    pub environment: BTreeMap<String, String>,
    pub code_sha256: String,
    pub tags: BTreeMap<String, String>,
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observed")
            .field("owned", &self.owned)
            .field("arn", &self.arn)
            .field("runtime", &self.runtime)
            .field("handler", &self.handler)
            .field("description", &self.description)
            .field("memory", &self.memory)
            .field("timeout", &self.timeout)
            .field("role", &self.role)
            .field("layers", &self.layers)
            .field("subnets", &self.subnets)
            .field("security_groups", &self.security_groups)
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .field("code_sha256", &self.code_sha256)
            .field("tags", &self.tags)
            .finish()
    }
}

pub use crate::resources::core::function_address;

/// A role's name is fixed: the old role goes before the new one is created.
pub const ROLE_REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;
/// A layer version cannot change: a new version is published next to the old ones, which stay
/// until the layer leaves the stack (a function not yet moved keeps working).
pub const LAYER_REPLACE: ReplacePolicy = ReplacePolicy::CreateOnly;
/// A function's name is its address: the old function goes before the new one is created.
pub const FUNCTION_REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;

/// The `auto` role node type (see [`NodeType`]).
pub struct RoleNode;

impl NodeType for RoleNode {
    type Spec = RoleSpec;
    type Observed = RoleObserved;
    const REPLACE: ReplacePolicy = ROLE_REPLACE;
    const ATTR_NAMES: &'static [&'static str] = &["arn"];

    fn spec(stack: &Stack, key: &Key, _r: &Resolver, env: &LiveEnv) -> RoleSpec {
        let Key::Role(function) = key else {
            unreachable!("a role spec asked for {key:?}")
        };
        role_spec(stack, function, env)
    }

    diff_by!(diff_role);

    fn attrs(o: &RoleObserved) -> Attrs {
        vec![("arn", Some(o.arn.clone()))]
    }

    fn owned(o: &RoleObserved) -> bool {
        o.owned
    }

    fn owner(o: &RoleObserved) -> Option<&str> {
        owner_tag(&o.tags)
    }
}

/// The layer (published from a folder) node type (see [`NodeType`]).
pub struct LayerNode;

impl NodeType for LayerNode {
    type Spec = LayerSpec;
    type Observed = LayerObserved;
    const REPLACE: ReplacePolicy = LAYER_REPLACE;
    const ATTR_NAMES: &'static [&'static str] = &["arn"];

    fn spec(stack: &Stack, key: &Key, _r: &Resolver, _env: &LiveEnv) -> LayerSpec {
        let Key::Layer(layer) = key else {
            unreachable!("a layer spec asked for {key:?}")
        };
        layer_spec(stack, layer)
    }

    diff_by!(diff_layer);

    fn attrs(o: &LayerObserved) -> Attrs {
        vec![("arn", Some(o.version_arn.clone()))]
    }
}

/// The function node type (see [`NodeType`]).
pub struct FunctionNode;

impl NodeType for FunctionNode {
    type Spec = Spec;
    type Observed = Observed;
    const REPLACE: ReplacePolicy = FUNCTION_REPLACE;
    const ATTR_NAMES: &'static [&'static str] = &["arn"];

    fn spec(stack: &Stack, key: &Key, r: &Resolver, env: &LiveEnv) -> Spec {
        let Key::Function(name) = key else {
            unreachable!("a function spec asked for {key:?}")
        };
        function_spec(stack, name, r, env)
    }

    diff_by!(diff);

    fn attrs(o: &Observed) -> Attrs {
        vec![("arn", Some(o.arn.clone()))]
    }

    fn owned(o: &Observed) -> bool {
        o.owned
    }

    fn owner(o: &Observed) -> Option<&str> {
        owner_tag(&o.tags)
    }

    fn refs(o: &Observed) -> Vec<String> {
        refs(o)
    }
}

/// The desired spec of one of this kind's nodes (tests).
#[cfg(test)]
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum NodeSpec {
    Role(RoleSpec),
    Layer(LayerSpec),
    Function(Spec),
}

pub fn role_address(function: &str) -> String {
    format!("functions.{function}.role")
}

pub fn layer_address(function: &str, layer: &str) -> String {
    format!("functions.{function}.layer.{layer}")
}

pub fn role_name(function: &str) -> String {
    format!("{function}-role")
}

/// The IAM path that marks this stack's roles.
pub fn role_path(stack: &str) -> String {
    format!("/deploy/{stack}/")
}

/// The ARN partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The trust policy of an `auto` role: Lambda may assume it.
pub fn trust_policy() -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The description of a layer version this stack publishes.
pub fn layer_description(stack: &str, function: &str, content: &str) -> String {
    format!("deploy:{stack} fn:{function} sha256:{content}")
}

/// What a layer version description says, when this tool wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerMarker {
    pub stack: String,
    pub function: String,
    pub content: String,
}

pub fn parse_layer_description(d: &str) -> Option<LayerMarker> {
    let mut stack = None;
    let mut function = None;
    let mut content = None;
    for word in d.split_whitespace() {
        if let Some(v) = word.strip_prefix("deploy:") {
            stack = Some(v);
        } else if let Some(v) = word.strip_prefix("fn:") {
            function = Some(v);
        } else if let Some(v) = word.strip_prefix("sha256:") {
            content = Some(v);
        }
    }
    Some(LayerMarker {
        stack: stack?.to_string(),
        function: function?.to_string(),
        content: content?.to_string(),
    })
}

/// The first function (in name order) declaring a folder layer of this name, and its declaration.
pub fn layer_owner<'a>(stack: &'a Stack, layer: &str) -> Option<(&'a str, &'a LayerRef)> {
    stack.functions.iter().find_map(|(f, def)| {
        def.layers
            .iter()
            .find(|l| matches!(l, LayerRef::Folder { name, .. } if name == layer))
            .map(|l| (f.as_str(), l))
    })
}

/// The local checks of the folders the functions package, with no AWS call and no hashing:
/// `validate` runs them as `plan` does. Each points at its `source:` line; the plan's own
/// (identical) report of the same problem from the spec is dropped as a duplicate.
pub fn check(stack: &Stack) -> Vec<PlanError> {
    let mut out = Vec::new();
    for (name, f) in &stack.functions {
        if let Err(e) = package::check(&f.source) {
            out.push(plan_error(
                &format!("functions.{name}"),
                f.source_pos,
                format!("source: {e}"),
            ));
        }
    }
    let mut layers = BTreeSet::new();
    for f in stack.functions.values() {
        for l in &f.layers {
            let LayerRef::Folder {
                name, source, pos, ..
            } = l
            else {
                continue;
            };
            // A layer shared by several functions is one node, reported once.
            if !layers.insert(name.clone()) {
                continue;
            }
            let owner = layer_owner(stack, name).map_or("", |(o, _)| o);
            if let Err(e) = package::check(source) {
                out.push(plan_error(
                    &layer_address(owner, name),
                    *pos,
                    format!("layer `{name}`: {e}"),
                ));
            }
        }
    }
    out
}

pub fn nodes(stack: &Stack) -> Vec<NodeDef> {
    let mut out = Vec::new();
    let mut layers: BTreeMap<String, String> = BTreeMap::new();
    for (name, f) in &stack.functions {
        let mut deps = Vec::new();
        if f.role == RoleRef::Auto {
            out.push(NodeDef {
                address: role_address(name),
                key: Key::Role(name.clone()),
                deps: vec![],
            });
            deps.push(role_address(name));
        }
        for l in &f.layers {
            let LayerRef::Folder { name: layer, .. } = l else {
                continue;
            };
            let address = layers.entry(layer.clone()).or_insert_with(|| {
                let address = layer_address(name, layer);
                out.push(NodeDef {
                    address: address.clone(),
                    key: Key::Layer(layer.clone()),
                    deps: vec![],
                });
                address
            });
            deps.push(address.clone());
        }
        if let Some(vpc) = &f.vpc {
            for g in &vpc.security_groups {
                if let GroupRef::Stack(g) = g {
                    deps.push(group_address(g));
                }
            }
        }
        let refs: BTreeSet<String> = f
            .environment
            .values()
            .flat_map(|t| t.refs())
            .map(|r| r.address())
            .collect();
        deps.extend(refs);
        let mut seen = BTreeSet::new();
        deps.retain(|d| seen.insert(d.clone()));
        out.push(NodeDef {
            address: function_address(name),
            key: Key::Function(name.clone()),
            deps,
        });
    }
    out
}

/// The key of [`LiveEnv::lookups`] for a layer version ARN the file names.
pub fn layer_lookup(arn: &str) -> String {
    format!("layer {arn}")
}

/// The key of [`LiveEnv::lookups`] for a role ARN the file names.
pub fn role_arn_lookup(arn: &str) -> String {
    format!("role {arn}")
}

/// The key of [`LiveEnv::lookups`] for the name an `auto` role takes.
pub fn role_name_lookup(name: &str) -> String {
    format!("role-name {name}")
}

/// The name of a role from its ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
pub fn role_name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Why the `auto` role of `function` cannot be created, when a role of its name already exists
/// outside this stack's path (IAM role names are unique per account, whatever the path).
fn role_taken(stack: &Stack, function: &str, env: &LiveEnv) -> Option<String> {
    let name = role_name(&stack.functions[function].name);
    match env.lookups.get(&role_name_lookup(&name)) {
        Some(Lookup::Found { arn, path, .. }) if *path != role_path(&stack.name) => Some(format!(
            "role: auto would create the role `{name}`, but a role of that name already exists outside {} ({arn}, path {path}), and IAM role names are unique per account: to use that role, set `role: {arn}`; otherwise rename or delete it",
            role_path(&stack.name)
        )),
        _ => None,
    }
}

/// What AWS said of the layer and role ARNs a function names: `(missing, unverified)`, each a
/// sentence naming the field and what to do.
fn references(f: &crate::stack::Function, env: &LiveEnv) -> (Vec<String>, Vec<String>) {
    let mut missing = Vec::new();
    let mut unverified = Vec::new();
    for (i, l) in f.layers.iter().enumerate() {
        let LayerRef::Arn(arn) = l else { continue };
        match env.lookups.get(&layer_lookup(arn)) {
            Some(Lookup::Missing) => missing.push(format!(
                "layers[{i}]: the layer version {arn} does not exist (or is not shared with this account): check the name and version number (`aws lambda list-layer-versions --layer-name NAME`), or publish the layer first"
            )),
            Some(Lookup::Unknown(why)) => unverified.push(format!(
                "layers[{i}]: could not check that {arn} exists ({why}); apply fails if it does not"
            )),
            // Lambda attaches a layer whatever runtimes it declares (GetLayerVersion's
            // CompatibleRuntimes is informational), so a mismatch deploys cleanly and fails at
            // the first import, when a sign-up runs the function.
            Some(Lookup::Found { runtimes, .. })
                if !runtimes.is_empty() && !runtimes.contains(&f.runtime) =>
            {
                unverified.push(format!(
                    "layers[{i}]: {arn} is built for {}, not {}: the function deploys, but fails when it imports from the layer; use a layer version published for {}",
                    runtimes.join(", "),
                    f.runtime,
                    f.runtime
                ))
            }
            _ => {}
        }
    }
    if let RoleRef::Arn(arn) = &f.role {
        match env.lookups.get(&role_arn_lookup(arn)) {
            Some(Lookup::Missing) => missing.push(format!(
                "role: {arn} does not exist in this account (Lambda runs a function only with a role of its own account): create the role first, fix the ARN, or write `role: auto`"
            )),
            Some(Lookup::Found { arn: real, .. }) if real != arn => missing.push(format!(
                "role: {arn} does not exist; the role named `{}` in this account is {real}: use that ARN, or write `role: auto`",
                role_name_of(arn)
            )),
            Some(Lookup::Unknown(why)) => unverified.push(format!(
                "role: could not check that {arn} exists ({why}); apply fails if it does not"
            )),
            _ => {}
        }
    }
    (missing, unverified)
}

/// The spec of any of this kind's nodes (tests).
#[cfg(test)]
pub fn spec(stack: &Stack, key: &Key, r: &Resolver, env: &LiveEnv) -> NodeSpec {
    match key {
        Key::Role(function) => NodeSpec::Role(role_spec(stack, function, env)),
        Key::Layer(layer) => NodeSpec::Layer(layer_spec(stack, layer)),
        Key::Function(name) => NodeSpec::Function(function_spec(stack, name, r, env)),
        _ => unreachable!("function::spec called for {key:?}"),
    }
}

fn role_spec(stack: &Stack, function: &str, env: &LiveEnv) -> RoleSpec {
    RoleSpec {
        // After the function's AWS name: IAM role names are account-wide, so two
        // environments of one file (`name: ${stack}-…`) get two roles.
        name: role_name(&stack.functions[function].name),
        path: role_path(&stack.name),
        trust_policy: trust_policy(),
        // Least privilege: the ENI permissions only for a function that runs in a VPC.
        policies: vec![format!(
            "arn:{}:{}",
            partition(&env.region),
            if stack.functions[function].vpc.is_some() {
                VPC_ACCESS_POLICY
            } else {
                BASIC_POLICY
            }
        )],
        tags: data_tags(stack, function, &stack.functions[function].name),
        taken: role_taken(stack, function, env),
        pos: stack.functions[function].pos,
    }
}

fn layer_spec(stack: &Stack, layer: &str) -> LayerSpec {
    let (function, decl) = layer_owner(stack, layer).expect("layer keys come from the stack");
    let LayerRef::Folder {
        source, runtimes, ..
    } = decl
    else {
        unreachable!("layer_owner finds folder layers")
    };
    let sorted = |r: &[String]| {
        let mut r = r.to_vec();
        r.sort();
        r.dedup();
        r
    };
    let runtimes = sorted(runtimes);
    let (content, suspicious) = match package::content_once(source) {
        Ok(h) => (Ok(h.sha256), h.suspicious),
        Err(e) => (Err(e), Vec::new()),
    };
    let conflict = stack.functions.iter().find_map(|(other, f)| {
        f.layers.iter().find_map(|l| match l {
            LayerRef::Folder {
                name,
                source: s,
                runtimes: rt,
                ..
            } if name == layer && (s != source || sorted(rt) != runtimes) => Some(format!(
                "functions `{function}` and `{other}` declare layer `{layer}` with different folders or runtimes; a layer name is one layer: give them the same declaration, or different names"
            )),
            _ => None,
        })
    });
    LayerSpec {
        name: layer.to_string(),
        stack: stack.name.clone(),
        function: function.to_string(),
        source: source.clone(),
        runtimes,
        content,
        suspicious,
        conflict,
        pos: stack.functions[function].pos,
    }
}

fn function_spec(stack: &Stack, name: &str, r: &Resolver, env: &LiveEnv) -> Spec {
    let f = &stack.functions[name];
    let role = match &f.role {
        RoleRef::Auto => r.attr(&role_address(name), "arn"),
        RoleRef::Arn(a) => Text::known(a.clone()),
    };
    let layers = f
        .layers
        .iter()
        .map(|l| match l {
            LayerRef::Arn(a) => Text::known(a.clone()),
            LayerRef::Folder { name: layer, .. } => {
                let owner = layer_owner(stack, layer).map_or(name, |(o, _)| o);
                r.attr(&layer_address(owner, layer), "arn")
            }
        })
        .collect();
    let vpc = f.vpc.as_ref().map(|v| {
        let mut subnets = match &v.subnets {
            Subnets::Default => env.default_subnets.clone(),
            Subnets::Ids(ids) => ids.clone(),
        };
        subnets.sort();
        subnets.dedup();
        VpcSpec {
            subnets,
            security_groups: v
                .security_groups
                .iter()
                .map(|g| group_ref_id(r, g))
                .collect(),
        }
    });
    let (missing, unverified) = references(f, env);
    let environment: BTreeMap<String, Text> = f
        .environment
        .iter()
        .map(|(k, t)| (k.clone(), r.resolve(t)))
        .collect();
    let (code, suspicious) = match package::code_once(&f.source) {
        Ok(h) => (
            with_layers_size(&f.layers, h.unzipped).map(|_| h.sha256),
            h.suspicious,
        ),
        Err(e) => (Err(e), Vec::new()),
    };
    Spec {
        name: f.name.clone(),
        source: f.source.clone(),
        code,
        suspicious,
        runtime: f.runtime.clone(),
        handler: f.handler.clone(),
        description: f.description.clone(),
        memory: f.memory,
        timeout: f.timeout,
        role,
        layers,
        vpc,
        tags: {
            let mut tags = data_tags(stack, name, &f.name);
            tags.extend(sensitive_tag(&environment).map(|v| (SENSITIVE_TAG.to_string(), v)));
            tags
        },
        environment,
        missing,
        unverified,
        network: f
            .vpc
            .as_ref()
            .filter(|v| v.subnets == Subnets::Default)
            .and_then(|v| {
                crate::resources::core::network::outside_default_vpc(stack, &v.security_groups, env)
            }),
        pos: f.pos,
    }
}

/// Lambda's 250 MB applies to the code and its layers together. Folder layers are weighed from
/// their files' sizes (nothing is read); a layer given by ARN cannot be weighed without AWS, so
/// Lambda itself has the last word on those. A folder layer that cannot be read is reported by
/// its own node.
fn with_layers_size(layers: &[LayerRef], code: u64) -> Result<(), String> {
    let mut total = code;
    let mut parts = vec![format!("code {}", mb(code))];
    for l in layers {
        if let LayerRef::Folder { name, source, .. } = l
            && let Ok(n) = package::unzipped_size(source)
        {
            total += n;
            parts.push(format!("layer `{name}` {}", mb(n)));
        }
    }
    if total > package::MAX_UNZIPPED {
        return Err(format!(
            "the function and its layers hold {} unzipped ({}); Lambda allows at most 250 MB: trim the folders",
            mb(total),
            parts.join(", ")
        ));
    }
    Ok(())
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
}

/// The note a change gets when it would upload files named like secrets.
fn suspicious_note(files: &[String]) -> Option<String> {
    (!files.is_empty()).then(|| {
        format!(
            "uploads files named like secrets: {}; if they are not meant for Lambda, remove them from the folder",
            files.join(", ")
        )
    })
}

/// The physical ids a live function points at (its role, layer versions and security groups):
/// deleting one of them waits until the function has let go.
pub fn refs(o: &Observed) -> Vec<String> {
    let mut out = vec![o.role.clone()];
    out.extend(o.layers.iter().cloned());
    out.extend(o.security_groups.iter().cloned());
    out
}

fn plan_error(address: &str, pos: Pos, message: impl Into<String>) -> PlanError {
    PlanError {
        address: address.to_string(),
        pos,
        message: message.into(),
    }
}

pub fn diff_role(
    address: &str,
    spec: Option<&RoleSpec>,
    observed: Option<&RoleObserved>,
) -> Result<Option<Change>, PlanError> {
    let Some(s) = spec else {
        return Ok(observed.map(|_| {
            Change::new(address, Action::Delete).note("its policies are detached first")
        }));
    };
    if let (Some(taken), None) = (&s.taken, observed) {
        return Err(plan_error(address, s.pos, taken.clone()));
    }
    if s.name.len() > 64 {
        return Err(plan_error(
            address,
            s.pos,
            format!(
                "the role name `{}` would exceed IAM's 64 characters: shorten the function name, or give `role:` an existing role ARN",
                s.name
            ),
        ));
    }
    let mut d = Diff::new();
    let o = observed;
    d.value(
        "name",
        o.map(|o| o.name.clone()),
        Some(s.name.clone()),
        true,
    );
    d.value(
        "path",
        o.map(|o| o.path.clone()),
        Some(s.path.clone()),
        true,
    );
    if o.is_none_or(|o| o.trust_policy.as_ref() != Some(&s.trust_policy)) {
        d.shown(
            "assume_role_policy",
            Shown::opt(
                o.and_then(|o| o.trust_policy.as_ref())
                    .map(|v| v.to_string()),
            ),
            Shown::value(s.trust_policy.to_string()),
            false,
        );
    }
    match o {
        None => {
            d.shown(
                "policies",
                Shown::Absent,
                Shown::value(list(&s.policies)),
                false,
            );
            tag_diff(&mut d, &BTreeMap::new(), &s.tags);
            Ok(Some(d.into_create(address)))
        }
        Some(o) => {
            let attached: Vec<&String> = o
                .policies
                .iter()
                .filter(|p| is_execution_policy(p))
                .collect();
            if attached.len() != s.policies.len()
                || attached.iter().zip(&s.policies).any(|(a, b)| *a != b)
            {
                d.shown(
                    "policies",
                    Shown::value(list(&attached)),
                    Shown::value(list(&s.policies)),
                    false,
                );
            }
            tag_diff(&mut d, &o.tags, &s.tags);
            Ok(owned_change(address, d, o.owned))
        }
    }
}

/// The execution policies a role update attaches and detaches.
pub fn policy_moves(s: &RoleSpec, o: &RoleObserved) -> (Vec<String>, Vec<String>) {
    let attach = s
        .policies
        .iter()
        .filter(|p| !o.policies.contains(p))
        .cloned()
        .collect();
    let detach = o
        .policies
        .iter()
        .filter(|p| is_execution_policy(p) && !s.policies.contains(p))
        .cloned()
        .collect();
    (attach, detach)
}

pub fn diff_layer(
    address: &str,
    spec: Option<&LayerSpec>,
    observed: Option<&LayerObserved>,
) -> Result<Option<Change>, PlanError> {
    let Some(s) = spec else {
        let Some(o) = observed else { return Ok(None) };
        if o.pinned.is_empty() {
            return Ok(Some(Change::new(address, Action::Delete).note(
                "deletes every version of the layer that this stack published",
            )));
        }
        // A function of the file points at a version by ARN: that version stays, or the
        // function would point at a layer that no longer exists.
        let gone: Vec<i64> = o
            .published
            .iter()
            .copied()
            .filter(|v| !o.pinned.contains(v))
            .collect();
        if gone.is_empty() {
            return Ok(None);
        }
        return Ok(Some(Change::new(address, Action::Delete).note(format!(
            "deletes {} of the layer that this stack published, and keeps {}, which stack.yaml names by ARN",
            versions(&gone),
            versions(&o.pinned)
        ))));
    };
    if let Some(c) = &s.conflict {
        return Err(plan_error(address, s.pos, c.clone()));
    }
    let content = s
        .content
        .as_ref()
        .map_err(|e| plan_error(address, s.pos, format!("layer `{}`: {e}", s.name)))?;
    let mut d = Diff::new();
    let o = observed;
    if o.is_none_or(|o| &o.content != content) {
        d.shown(
            "content",
            Shown::opt(o.map(|o| short(&o.content))),
            Shown::value(short(content)),
            true,
        );
    }
    d.value(
        "runtimes",
        o.map(|o| list(&o.runtimes)),
        Some(list(&s.runtimes)),
        true,
    );
    let change = match o {
        None => Some(d.into_create(address)),
        Some(o) => d.into_change(address).map(|c| {
            c.note(format!(
                "publishes version {} of the layer (a version cannot change); functions using it move to the new version",
                o.version + 1
            ))
            // `-/+` reads as if the old version went: it stays, so that a function outside
            // this file that uses it keeps working and one can be pointed back at it by ARN.
            .note(format!(
                "version {} and older stay; this stack's versions are deleted when the layer leaves stack.yaml (except those it names by ARN)",
                o.version
            ))
        }),
    };
    // Every change of a layer publishes the folder.
    Ok(change.map(|c| match suspicious_note(&s.suspicious) {
        Some(n) => c.note(n),
        None => c,
    }))
}

/// The first characters of a base64 hash: enough to tell versions apart in a plan.
pub fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// Shows a list of possibly unknown values; unknown as a whole when any element is.
fn shown_texts(items: &[Text], sort: bool) -> Shown {
    let mut known: Vec<&str> = Vec::new();
    for t in items {
        match t.expose() {
            Some(v) => known.push(v),
            None => return Shown::Unknown,
        }
    }
    if sort {
        known.sort();
    }
    Shown::value(list(&known))
}

pub fn diff(
    address: &str,
    spec: Option<&Spec>,
    observed: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    let Some(s) = spec else {
        return Ok(observed.map(|_| Change::new(address, Action::Delete)));
    };
    if !s.missing.is_empty() {
        return Err(plan_error(address, s.pos, s.missing.join("; ")));
    }
    let code = s
        .code
        .as_ref()
        .map_err(|e| plan_error(address, s.pos, format!("source: {e}")))?;
    if let Some(k) = s
        .environment
        .keys()
        .find(|k| RESERVED_ENV.contains(&k.as_str()))
    {
        return Err(plan_error(
            address,
            s.pos,
            format!(
                "environment variable `{k}` is reserved: Lambda sets it itself and refuses to take it from the configuration"
            ),
        ));
    }
    if let Some(why) = &s.network {
        // A function's groups must be in the VPC of its subnets (Lambda API Reference,
        // VpcConfig; Lambda answers InvalidParameterValueException otherwise), and `subnets:
        // default` are the default VPC's.
        return Err(plan_error(
            address,
            s.pos,
            format!(
                "vpc: {why}, but `subnets: default` are the default VPC's subnets and Lambda needs the groups and subnets in one VPC: list subnet-… ids of that VPC, or give the group `vpc: default`"
            ),
        ));
    }
    if s.vpc.as_ref().is_some_and(|v| v.subnets.is_empty()) {
        return Err(plan_error(
            address,
            s.pos,
            "vpc: the default VPC has no default subnets; list subnet-… ids instead",
        ));
    }
    let mut d = Diff::new();
    let o = observed;
    d.value(
        "name",
        o.map(|o| o.name.clone()),
        Some(s.name.clone()),
        true,
    );
    if o.is_none_or(|o| &o.code_sha256 != code) {
        d.shown(
            "code",
            Shown::opt(o.map(|o| short(&o.code_sha256))),
            Shown::value(short(code)),
            false,
        );
    }
    d.value(
        "runtime",
        o.map(|o| o.runtime.clone()),
        Some(s.runtime.clone()),
        false,
    );
    d.value(
        "handler",
        o.map(|o| o.handler.clone()),
        Some(s.handler.clone()),
        false,
    );
    d.value(
        "description",
        o.and_then(|o| o.description.clone()),
        s.description.clone(),
        false,
    );
    d.value("memory", o.map(|o| o.memory), Some(s.memory), false);
    d.value("timeout", o.map(|o| o.timeout), Some(s.timeout), false);
    d.text("role", o.map(|o| o.role.as_str()), &s.role, false);

    // Layers are an ordered list: a reorder changes which files win.
    let live_layers = o.map(|o| o.layers.clone()).unwrap_or_default();
    let layers_same = s.layers.len() == live_layers.len()
        && s.layers
            .iter()
            .zip(&live_layers)
            .all(|(t, l)| t.expose() == Some(l.as_str()));
    if !layers_same {
        d.shown(
            "layers",
            Shown::value(list(&live_layers)),
            shown_texts(&s.layers, false),
            false,
        );
    }

    // Subnets and groups are sets. No `vpc:` means no VPC: a function in one is detached.
    let (want_subnets, want_groups) = match &s.vpc {
        Some(v) => (v.subnets.clone(), v.security_groups.clone()),
        None => (Vec::new(), Vec::new()),
    };
    let live_subnets = o.map(|o| o.subnets.clone()).unwrap_or_default();
    let live_groups = o.map(|o| o.security_groups.clone()).unwrap_or_default();
    if want_subnets != live_subnets {
        d.shown(
            "vpc.subnets",
            Shown::value(list(&live_subnets)),
            Shown::value(list(&want_subnets)),
            false,
        );
    }
    let mut known_groups: Option<Vec<String>> = want_groups
        .iter()
        .map(|t| t.expose().map(str::to_string))
        .collect();
    if let Some(g) = known_groups.as_mut() {
        g.sort();
        g.dedup();
    }
    if known_groups.as_ref() != Some(&live_groups) {
        d.shown(
            "vpc.security_groups",
            Shown::value(list(&live_groups)),
            shown_texts(&want_groups, true),
            false,
        );
    }

    // The environment is authoritative: a variable the file does not declare is removed.
    let live_env = o.map(|o| o.environment.clone()).unwrap_or_default();
    // What held a secret when it was written: its old value is never shown, whatever the file
    // says now (the file only knows its current secrets).
    let was_secret: Vec<&str> = o
        .and_then(|o| o.tags.get(SENSITIVE_TAG))
        .map(|v| v.split_whitespace().collect())
        .unwrap_or_default();
    for (k, v) in &s.environment {
        let path = format!("environment.{k}");
        let live = live_env.get(k).map(String::as_str);
        match live {
            Some(before) if !(v.is_secret() || (v.is_known() && v.expose() == live)) => {
                let shown = if was_secret.iter().any(|w| *w == k || *w == ALL_SENSITIVE) {
                    Shown::Sensitive
                } else {
                    // A URL's userinfo is a password's place, secret or not in the file.
                    Shown::Value(crate::value::mask_userinfo(before))
                };
                d.shown(&path, shown, v.shown(), false);
            }
            _ => d.text(&path, live, v, false),
        }
    }
    for k in live_env.keys().filter(|k| !s.environment.contains_key(*k)) {
        // The file no longer says whether this value was secret, so it is never shown.
        d.shown(
            &format!("environment.{k}"),
            Shown::Sensitive,
            Shown::Absent,
            false,
        );
    }

    tag_diff(
        &mut d,
        &o.map(|o| o.tags.clone()).unwrap_or_default(),
        &s.tags,
    );
    if let Some(old) = o.and_then(|o| o.tags.get(SENSITIVE_TAG))
        && !s.tags.contains_key(SENSITIVE_TAG)
    {
        d.shown(
            &format!("tags.{SENSITIVE_TAG}"),
            Shown::value(old),
            Shown::Absent,
            false,
        );
    }
    let change = match o {
        None => Some(d.into_create(address)),
        Some(o) => owned_change(address, d, o.owned),
    };
    Ok(change.map(|c| match suspicious_note(&s.suspicious) {
        Some(n) if c.changes("code") => c.note(n),
        _ => c,
    }))
}

/// Whether a change touches the function's configuration (UpdateFunctionConfiguration), as
/// opposed to only its code or its tags.
pub fn config_changed(c: &Change) -> bool {
    c.fields
        .iter()
        .any(|f| f.path != "code" && f.path != "name" && !f.path.starts_with("tags."))
}

/// Whether a change touches the function's tags.
pub fn tags_changed(c: &Change) -> bool {
    c.fields.iter().any(|f| f.path.starts_with("tags."))
}

/// The folders a plan hashes: the functions' (zipped, [`package::code`]) and the layers'
/// ([`package::content`]), for [`package::prefetch`].
pub fn folders(stack: &Stack) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let code = stack.functions.values().map(|f| f.source.clone()).collect();
    let mut content: Vec<PathBuf> = stack
        .functions
        .values()
        .flat_map(|f| &f.layers)
        .filter_map(|l| match l {
            LayerRef::Folder { source, .. } => Some(source.clone()),
            LayerRef::Arn(_) => None,
        })
        .collect();
    content.sort();
    content.dedup();
    (code, content)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::stack::parse_str;

    fn env(name: &str) -> Option<String> {
        match name {
            "DB_PASSWORD" => Some("s3cret-pw".into()),
            _ => None,
        }
    }

    const STACK: &str = r#"
stack: st
tags: { project: p }
security_groups:
  lambda-sg:
    description: Lambda
db_instances:
  db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
functions:
  b-fn:
    source: code
    runtime: python3.12
    handler: h.handler
    layers:
      - { name: shared, source: layer, runtimes: [python3.12] }
  a-fn:
    source: code
    runtime: python3.12
    handler: h.handler
    timeout: 10
    layers:
      - arn:aws:lambda:us-east-1:123456789012:layer:x:1
      - { name: shared, source: layer, runtimes: [python3.12] }
    vpc:
      subnets: default
      security_groups: [lambda-sg, sg-0123]
    environment:
      URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.db.address}:5432/x
      PLAIN: hello
  c-fn:
    source: code
    runtime: python3.12
    handler: h.handler
    role: arn:aws:iam::123456789012:role/existing
"#;

    fn stack() -> (tempfile::TempDir, Stack) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("code")).unwrap();
        std::fs::create_dir_all(d.path().join("layer/python")).unwrap();
        std::fs::write(
            d.path().join("code/h.py"),
            "def handler(e, c):\n    return 1\n",
        )
        .unwrap();
        std::fs::write(d.path().join("layer/python/m.py"), "X = 1\n").unwrap();
        let s = parse_str(STACK, Path::new("stack.yaml"), d.path(), &env).unwrap();
        (d, s)
    }

    fn live_env() -> LiveEnv {
        // Functions only read the default subnets (and the region, for ARNs).
        LiveEnv {
            region: "us-east-1".into(),
            default_subnets: vec!["subnet-a".into(), "subnet-b".into()],
            ..LiveEnv::default()
        }
    }

    /// What the lookups say decides the plan: missing is an error naming the function and the
    /// field, forbidden (AccessDenied) only a warning, absent (not looked up) nothing.
    #[test]
    fn references_the_account_lacks_are_plan_errors_and_unknown_ones_warnings() {
        let (_d, s) = stack();
        let layer = "arn:aws:lambda:us-east-1:123456789012:layer:x:1";
        let role = "arn:aws:iam::123456789012:role/existing";
        let plan = |lookups: &[(String, Lookup)]| {
            let env = LiveEnv {
                lookups: lookups.iter().cloned().collect(),
                ..live_env()
            };
            let r = Resolver::default();
            let spec = |f: &str| match spec(&s, &Key::Function(f.into()), &r, &env) {
                NodeSpec::Function(x) => x,
                _ => unreachable!(),
            };
            let (a, c) = (spec("a-fn"), spec("c-fn"));
            let errors: Vec<String> = [("functions.a-fn", &a), ("functions.c-fn", &c)]
                .into_iter()
                .filter_map(|(addr, x)| diff(addr, Some(x), None).err())
                .map(|e| format!("{}: {}", e.address, e.message))
                .collect();
            let warnings: Vec<String> = a.unverified.iter().chain(&c.unverified).cloned().collect();
            (errors, warnings)
        };
        assert_eq!(plan(&[]), (vec![], vec![]));
        let (errors, warnings) = plan(&[
            (layer_lookup(layer), Lookup::Missing),
            (role_arn_lookup(role), Lookup::Missing),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("functions.a-fn: layers[0]: the layer version")
                && errors[0].contains("does not exist"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with(&format!("functions.c-fn: role: {role} does not exist")),
            "{errors:?}"
        );
        // AccessDenied says nothing about existence: a warning, never "does not exist".
        let denied = Lookup::Unknown("AccessDeniedException: not allowed".into());
        let (errors, warnings) = plan(&[
            (layer_lookup(layer), denied.clone()),
            (role_arn_lookup(role), denied),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings
                .iter()
                .all(|w| w.contains("could not check") && w.contains("AccessDenied"))
        );
        // A role of that name with another path or account is not the one the file names.
        let found = |arn: &str| Lookup::Found {
            arn: arn.into(),
            path: "/".into(),
            runtimes: Vec::new(),
        };
        let (errors, _) = plan(&[
            (layer_lookup(layer), found(layer)),
            (
                role_arn_lookup(role),
                found("arn:aws:iam::123456789012:role/team/existing"),
            ),
        ]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("the role named `existing` in this account is arn:aws:iam::123456789012:role/team/existing"), "{errors:?}");
        let (errors, _) = plan(&[(role_arn_lookup(role), found(role))]);
        assert!(errors.is_empty(), "{errors:?}");
        // A layer built for other runtimes: a warning naming both (none when it declares none,
        // or the function's).
        let built_for = |runtimes: &[&str]| Lookup::Found {
            arn: layer.into(),
            path: String::new(),
            runtimes: runtimes.iter().map(|r| r.to_string()).collect(),
        };
        let (errors, warnings) = plan(&[(layer_lookup(layer), built_for(&["python3.8"]))]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("is built for python3.8, not python3.12"),
            "{warnings:?}"
        );
        for fits in [&[][..], &["python3.11", "python3.12"]] {
            let (_, warnings) = plan(&[(layer_lookup(layer), built_for(fits))]);
            assert!(warnings.is_empty(), "{fits:?}: {warnings:?}");
        }
    }

    #[test]
    fn an_auto_role_whose_name_is_taken_outside_the_path_is_a_plan_error() {
        let (_d, s) = stack();
        let r = Resolver::default();
        let role_spec = |lookups: Vec<(String, Lookup)>| {
            let env = LiveEnv {
                lookups: lookups.into_iter().collect(),
                ..live_env()
            };
            match spec(&s, &Key::Role("a-fn".into()), &r, &env) {
                NodeSpec::Role(x) => x,
                _ => unreachable!(),
            }
        };
        let taken = role_spec(vec![(
            role_name_lookup("a-fn-role"),
            Lookup::Found {
                arn: "arn:aws:iam::123456789012:role/a-fn-role".into(),
                path: "/".into(),
                runtimes: Vec::new(),
            },
        )]);
        let e = diff_role("functions.a-fn.role", Some(&taken), None).unwrap_err();
        assert!(
            e.message.contains("already exists outside /deploy/st/")
                && e.message
                    .contains("set `role: arn:aws:iam::123456789012:role/a-fn-role`"),
            "{}",
            e.message
        );
        for free in [
            vec![],
            vec![(role_name_lookup("a-fn-role"), Lookup::Missing)],
            vec![(
                role_name_lookup("a-fn-role"),
                Lookup::Unknown("AccessDenied: no".into()),
            )],
        ] {
            let s = role_spec(free);
            assert!(diff_role("functions.a-fn.role", Some(&s), None).is_ok());
        }
    }

    fn tags() -> BTreeMap<String, String> {
        [("deploy:stack", "st"), ("project", "p")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A spec and the live function that matches it exactly.
    fn pair() -> (Spec, Observed) {
        let s = Spec {
            name: "f".into(),
            source: PathBuf::from("code"),
            code: Ok("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()),
            suspicious: Vec::new(),
            runtime: "python3.12".into(),
            handler: "h.handler".into(),
            description: None,
            memory: 128,
            timeout: 3,
            role: Text::known("arn:aws:iam::1:role/deploy/st/f-role"),
            layers: vec![Text::known("arn:l:one:1"), Text::known("arn:l:two:3")],
            vpc: Some(VpcSpec {
                subnets: vec!["subnet-a".into(), "subnet-b".into()],
                security_groups: vec![Text::known("sg-2"), Text::known("sg-1")],
            }),
            environment: [
                ("PLAIN".to_string(), Text::known("hello")),
                ("URL".to_string(), Text::secret("postgresql://u:pw@h/x")),
            ]
            .into(),
            tags: tags(),
            missing: Vec::new(),
            unverified: Vec::new(),
            network: None,
            pos: Pos { line: 3, col: 3 },
        };
        let o = Observed {
            owned: true,
            arn: "arn:aws:lambda:us-east-1:1:function:f".into(),
            name: "f".into(),
            runtime: "python3.12".into(),
            handler: "h.handler".into(),
            description: Some("set in the console".into()),
            memory: 128,
            timeout: 3,
            role: "arn:aws:iam::1:role/deploy/st/f-role".into(),
            layers: vec!["arn:l:one:1".into(), "arn:l:two:3".into()],
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-1".into(), "sg-2".into()],
            environment: [
                ("PLAIN".to_string(), "hello".to_string()),
                ("URL".to_string(), "postgresql://u:pw@h/x".to_string()),
            ]
            .into(),
            code_sha256: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
            tags: tags(),
        };
        (s, o)
    }

    fn change(s: &Spec, o: &Observed) -> Change {
        diff("functions.f", Some(s), Some(o))
            .unwrap()
            .expect("a change")
    }

    #[test]
    fn nodes_and_dependencies() {
        let (_d, st) = stack();
        let n = nodes(&st);
        let addrs: Vec<&str> = n.iter().map(|d| d.address.as_str()).collect();
        assert_eq!(
            addrs,
            [
                "functions.a-fn.role",
                "functions.a-fn.layer.shared",
                "functions.a-fn",
                "functions.b-fn.role",
                "functions.b-fn",
                "functions.c-fn",
            ]
        );
        let a = &n[2];
        assert_eq!(a.key, Key::Function("a-fn".into()));
        assert_eq!(
            a.deps,
            [
                "functions.a-fn.role",
                "functions.a-fn.layer.shared",
                "security_groups.lambda-sg",
                "db_instances.db",
            ]
        );
        // The shared layer is emitted once, and b-fn depends on it under a-fn.
        assert_eq!(
            n[4].deps,
            ["functions.b-fn.role", "functions.a-fn.layer.shared"]
        );
        assert_eq!(n[1].key, Key::Layer("shared".into()));
        // A given role ARN has no role node.
        assert!(n[5].deps.is_empty());
    }

    #[test]
    fn specs_resolve_references() {
        let (_d, st) = stack();
        let mut r = Resolver::default();
        let NodeSpec::Function(s) = spec(&st, &Key::Function("a-fn".into()), &r, &live_env())
        else {
            panic!()
        };
        assert!(
            !s.role.is_known(),
            "the auto role's ARN is unknown before it exists"
        );
        assert_eq!(
            s.layers[0],
            Text::known("arn:aws:lambda:us-east-1:123456789012:layer:x:1")
        );
        assert!(!s.layers[1].is_known());
        let v = s.vpc.as_ref().unwrap();
        assert_eq!(v.subnets, ["subnet-a", "subnet-b"]);
        assert!(!v.security_groups[0].is_known());
        assert_eq!(v.security_groups[1], Text::known("sg-0123"));
        let url = &s.environment["URL"];
        assert!(url.is_secret() && !url.is_known());
        assert_eq!(s.timeout, 10);
        assert_eq!(s.memory, 128);
        assert_eq!(s.code.as_ref().unwrap().len(), 44);

        r.set(
            "functions.a-fn.role",
            vec![("arn", Some("arn:role".into()))],
        );
        r.set(
            "functions.a-fn.layer.shared",
            vec![("arn", Some("arn:layer:shared:2".into()))],
        );
        r.set(
            "security_groups.lambda-sg",
            vec![("id", Some("sg-9".into()))],
        );
        r.set("db_instances.db", vec![("address", Some("db.host".into()))]);
        let NodeSpec::Function(s) = spec(&st, &Key::Function("a-fn".into()), &r, &live_env())
        else {
            panic!()
        };
        assert_eq!(s.role, Text::known("arn:role"));
        assert_eq!(s.layers[1], Text::known("arn:layer:shared:2"));
        assert_eq!(s.vpc.unwrap().security_groups[0], Text::known("sg-9"));
        assert_eq!(
            s.environment["URL"].expose(),
            Some("postgresql://root:s3cret-pw@db.host:5432/x")
        );
        assert!(s.environment["URL"].is_secret());
        // b-fn finds the shared layer under a-fn.
        let NodeSpec::Function(b) = spec(&st, &Key::Function("b-fn".into()), &r, &live_env())
        else {
            panic!()
        };
        assert_eq!(b.layers, [Text::known("arn:layer:shared:2")]);

        let NodeSpec::Role(role) = spec(&st, &Key::Role("a-fn".into()), &r, &live_env()) else {
            panic!()
        };
        assert_eq!(role.name, "a-fn-role");
        assert_eq!(role.path, "/deploy/st/");
        assert_eq!(
            role.policies,
            ["arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]
        );
        assert_eq!(
            role.trust_policy["Statement"][0]["Principal"]["Service"],
            "lambda.amazonaws.com"
        );
        assert_eq!(role.tags, tags());

        let NodeSpec::Layer(l) = spec(&st, &Key::Layer("shared".into()), &r, &live_env()) else {
            panic!()
        };
        assert_eq!(
            (l.function.as_str(), l.runtimes.clone()),
            ("a-fn", vec!["python3.12".to_string()])
        );
        assert!(l.conflict.is_none());
        assert_eq!(l.content.unwrap().len(), 44);
    }

    #[test]
    fn an_unchanged_folder_has_no_code_diff() {
        let (_d, st) = stack();
        let NodeSpec::Function(s1) = spec(
            &st,
            &Key::Function("c-fn".into()),
            &Resolver::default(),
            &live_env(),
        ) else {
            panic!()
        };
        let NodeSpec::Function(s2) = spec(
            &st,
            &Key::Function("c-fn".into()),
            &Resolver::default(),
            &live_env(),
        ) else {
            panic!()
        };
        assert_eq!(s1.code, s2.code);
        let (_, mut o) = pair();
        o.code_sha256 = s1.code.clone().unwrap();
        let mut s = pair().0;
        s.code = s2.code;
        assert!(diff("functions.f", Some(&s), Some(&o)).unwrap().is_none());
    }

    #[test]
    fn identical_function_is_no_change_and_unmanaged_description_is_ignored() {
        let (s, o) = pair();
        assert!(diff("functions.f", Some(&s), Some(&o)).unwrap().is_none());
    }

    #[test]
    fn missing_function_is_a_create_with_unknowns() {
        let (mut s, _) = pair();
        s.role = Text::unknown(false);
        s.layers[1] = Text::unknown(false);
        let c = diff("functions.f", Some(&s), None).unwrap().unwrap();
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.field("role").unwrap().after, Shown::Unknown);
        assert_eq!(c.field("layers").unwrap().after, Shown::Unknown);
        assert_eq!(c.field("environment.URL").unwrap().after, Shown::Sensitive);
        assert_eq!(c.field("environment.URL").unwrap().before, Shown::Absent);
        assert_eq!(
            c.field("vpc.security_groups").unwrap().after,
            Shown::List(vec!["sg-1".into(), "sg-2".into()])
        );
        assert_eq!(c.field("memory").unwrap().after, Shown::value(128));
        assert!(c.field("code").is_some());
        assert!(c.field("tags.deploy:stack").is_some());
        assert!(c.fields.iter().all(|f| !f.forces_replacement));
    }

    #[test]
    fn unknown_role_arn_before_the_role_exists_is_an_update() {
        let (mut s, o) = pair();
        s.role = Text::unknown(false);
        let c = change(&s, &o);
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1);
        let f = c.field("role").unwrap();
        assert_eq!(
            f.before,
            Shown::value("arn:aws:iam::1:role/deploy/st/f-role")
        );
        assert_eq!(f.after, Shown::Unknown);
        // Once known and equal, nothing changes.
        s.role = Text::known(o.role.clone());
        assert!(diff("functions.f", Some(&s), Some(&o)).unwrap().is_none());
    }

    #[test]
    fn new_code_is_an_in_place_update_showing_short_hashes() {
        let (mut s, o) = pair();
        s.code = Ok("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=".into());
        let c = change(&s, &o);
        assert_eq!(c.action, Action::Update);
        let f = c.field("code").unwrap();
        assert_eq!(f.before, Shown::value("AAAAAAAAAAAA"));
        assert_eq!(f.after, Shown::value("BBBBBBBBBBBB"));
        assert!(!config_changed(&c));
    }

    #[test]
    fn new_code_with_files_named_like_secrets_says_so() {
        let (mut s, o) = pair();
        s.suspicious = vec![".env".into(), "keys/id_rsa".into()];
        // Unchanged code uploads nothing: no note.
        assert!(diff("functions.f", Some(&s), Some(&o)).unwrap().is_none());
        s.memory = 256;
        assert!(change(&s, &o).notes.is_empty());
        s.code = Ok("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=".into());
        let c = change(&s, &o);
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("files named like secrets: .env, keys/id_rsa")),
            "{:?}",
            c.notes
        );
        let created = diff("functions.f", Some(&s), None).unwrap().unwrap();
        assert!(created.notes.iter().any(|n| n.contains("keys/id_rsa")));
    }

    #[test]
    fn code_and_folder_layers_together_are_held_to_250_mb() {
        let d = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(d.path().join("big.so")).unwrap();
        f.set_len(200 * 1024 * 1024).unwrap();
        let layers = vec![
            LayerRef::Arn("arn:aws:lambda:us-east-1:1:layer:x:1".into()),
            LayerRef::Folder {
                name: "deps".into(),
                source: d.path().to_path_buf(),
                runtimes: vec!["python3.12".into()],
                pos: Pos::default(),
            },
        ];
        assert!(with_layers_size(&layers, 50 * 1024 * 1024).is_ok());
        let e = with_layers_size(&layers, 51 * 1024 * 1024).unwrap_err();
        assert!(e.contains("251.0 MB unzipped"), "{e}");
        assert!(e.contains("layer `deps` 200.0 MB"), "{e}");
    }

    #[test]
    fn every_config_field_changes_in_place_never_replace() {
        let (mut s, o) = pair();
        s.runtime = "python3.13".into();
        s.handler = "other.handler".into();
        s.description = Some("new".into());
        s.memory = 256;
        s.timeout = 30;
        s.role = Text::known("arn:aws:iam::1:role/other");
        s.layers = vec![Text::known("arn:l:one:2")];
        s.vpc = None;
        s.environment.insert("PLAIN".into(), Text::known("bye"));
        let c = change(&s, &o);
        assert_eq!(c.action, Action::Update);
        for p in [
            "runtime",
            "handler",
            "description",
            "memory",
            "timeout",
            "role",
            "layers",
            "vpc.subnets",
            "vpc.security_groups",
            "environment.PLAIN",
        ] {
            assert!(c.changes(p), "{p} should change: {:?}", c.fields);
        }
        assert_eq!(
            c.field("description").unwrap().before,
            Shown::value("set in the console")
        );
        assert_eq!(
            c.field("environment.PLAIN").unwrap().before,
            Shown::value("hello")
        );
        // No `vpc:` detaches the function.
        assert_eq!(c.field("vpc.subnets").unwrap().after, Shown::List(vec![]));
        assert!(config_changed(&c));
        assert!(!tags_changed(&c));
    }

    #[test]
    fn a_changed_secret_is_masked_on_both_sides() {
        let (mut s, o) = pair();
        s.environment
            .insert("URL".into(), Text::secret("postgresql://u:new@h/x"));
        let c = change(&s, &o);
        let f = c.field("environment.URL").unwrap();
        assert_eq!(f.before, Shown::Sensitive);
        assert_eq!(f.after, Shown::Sensitive);
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("pw") && !text.contains("new@"), "{text}");
    }

    /// The review's item 5: a value that stops being secret must not print the old secret.
    #[test]
    fn a_value_that_held_a_secret_is_not_shown_once_the_file_drops_the_secret() {
        let (mut s, mut o) = pair();
        o.environment
            .insert("TOKEN".into(), "opaque-token-value".into());
        o.tags.insert(SENSITIVE_TAG.into(), "TOKEN URL".into());
        s.environment.insert("TOKEN".into(), Text::known("plain"));
        s.environment
            .insert("URL".into(), Text::known("postgresql://u@h/x"));
        let c = change(&s, &o);
        assert_eq!(
            c.field("environment.TOKEN").unwrap().before,
            Shown::Sensitive
        );
        assert_eq!(c.field("environment.URL").unwrap().before, Shown::Sensitive);
        // Without the tag (a function written by an older deploy): a URL's userinfo is masked.
        o.tags.remove(SENSITIVE_TAG);
        let c = change(&s, &o);
        assert_eq!(
            c.field("environment.URL").unwrap().before,
            Shown::value("postgresql://(sensitive)@h/x")
        );
        assert_eq!(
            c.field("environment.TOKEN").unwrap().before,
            Shown::value("opaque-token-value")
        );
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("u:pw"), "{text}");
    }

    #[test]
    fn the_sensitive_tag_names_the_keys_holding_a_secret() {
        let (s, _) = pair();
        assert_eq!(sensitive_tag(&s.environment).as_deref(), Some("URL"));
        let plain: BTreeMap<String, Text> = [("A".to_string(), Text::known("x"))].into();
        assert_eq!(sensitive_tag(&plain), None);
        let many: BTreeMap<String, Text> = (0..40)
            .map(|i| (format!("SECRET_KEY_{i}"), Text::secret("x")))
            .collect();
        assert_eq!(sensitive_tag(&many).as_deref(), Some(ALL_SENSITIVE));
    }

    #[test]
    fn a_variable_the_file_dropped_is_removed_without_showing_its_value() {
        let (mut s, o) = pair();
        s.environment.remove("URL");
        let c = change(&s, &o);
        assert_eq!(c.action, Action::Update);
        let f = c.field("environment.URL").unwrap();
        assert_eq!(f.before, Shown::Sensitive);
        assert_eq!(f.after, Shown::Absent);
        assert!(config_changed(&c));
    }

    #[test]
    fn reordering_layers_is_a_change() {
        let (mut s, o) = pair();
        s.layers.reverse();
        let c = change(&s, &o);
        let f = c.field("layers").unwrap();
        assert_eq!(
            f.before,
            Shown::List(vec!["arn:l:one:1".into(), "arn:l:two:3".into()])
        );
        assert_eq!(
            f.after,
            Shown::List(vec!["arn:l:two:3".into(), "arn:l:one:1".into()])
        );
    }

    #[test]
    fn vpc_lists_are_sets_and_unknown_groups_are_a_change() {
        let (mut s, o) = pair();
        // pair() lists the groups in another order than AWS reports them.
        assert!(diff("functions.f", Some(&s), Some(&o)).unwrap().is_none());
        s.vpc.as_mut().unwrap().security_groups[0] = Text::unknown(false);
        let c = change(&s, &o);
        assert_eq!(
            c.field("vpc.security_groups").unwrap().after,
            Shown::Unknown
        );
        assert!(!c.changes("vpc.subnets"));
    }

    #[test]
    fn a_function_not_in_a_vpc_stays_out_of_one() {
        let (mut s, mut o) = pair();
        s.vpc = None;
        o.subnets.clear();
        o.security_groups.clear();
        assert!(diff("functions.f", Some(&s), Some(&o)).unwrap().is_none());
    }

    #[test]
    fn tag_drift_is_an_update_and_untagged_is_adopt() {
        let (s, mut o) = pair();
        o.tags.insert("project".into(), "other".into());
        let c = change(&s, &o);
        assert_eq!(c.action, Action::Update);
        assert!(tags_changed(&c) && !config_changed(&c));
        o.tags.clear();
        o.owned = false;
        let c = change(&s, &o);
        assert_eq!(c.action, Action::Adopt);
        assert!(c.changes("tags.deploy:stack"));
    }

    #[test]
    fn undeclared_function_is_deleted() {
        let (_, o) = pair();
        let c = diff("functions.f", None, Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(diff("functions.f", None, None).unwrap().is_none());
    }

    #[test]
    fn what_lambda_would_reject_is_a_plan_error() {
        let (mut s, o) = pair();
        s.code = Err("code has no files to deploy".into());
        let e = diff("functions.f", Some(&s), Some(&o)).unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, col: 3 });
        assert!(e.message.contains("no files"), "{}", e.message);

        let (mut s, o) = pair();
        s.environment.insert("AWS_REGION".into(), Text::known("x"));
        let e = diff("functions.f", Some(&s), Some(&o)).unwrap_err();
        assert!(
            e.message.contains("`AWS_REGION` is reserved"),
            "{}",
            e.message
        );

        let (mut s, o) = pair();
        s.vpc.as_mut().unwrap().subnets.clear();
        let e = diff("functions.f", Some(&s), Some(&o)).unwrap_err();
        assert!(e.message.contains("subnet"), "{}", e.message);
    }

    #[test]
    fn observed_debug_never_prints_environment_values() {
        let (_, o) = pair();
        let text = format!("{o:?}");
        assert!(text.contains("URL") && !text.contains("pw@"), "{text}");
    }

    #[test]
    fn refs_name_role_layers_and_groups() {
        let (_, o) = pair();
        assert_eq!(
            refs(&o),
            [
                "arn:aws:iam::1:role/deploy/st/f-role",
                "arn:l:one:1",
                "arn:l:two:3",
                "sg-1",
                "sg-2"
            ]
        );
    }

    fn role() -> (RoleSpec, RoleObserved) {
        (
            RoleSpec {
                name: "f-role".into(),
                path: "/deploy/st/".into(),
                trust_policy: trust_policy(),
                policies: vec![format!("arn:aws:{VPC_ACCESS_POLICY}")],
                tags: tags(),
                taken: None,
                pos: Pos::default(),
            },
            RoleObserved {
                owned: true,
                arn: "arn:aws:iam::1:role/deploy/st/f-role".into(),
                name: "f-role".into(),
                path: "/deploy/st/".into(),
                trust_policy: Some(trust_policy()),
                tags: tags(),
                policies: vec![
                    format!("arn:aws:{VPC_ACCESS_POLICY}"),
                    "arn:aws:iam::1:policy/hand-added".into(),
                ],
            },
        )
    }

    #[test]
    fn role_tags_follow_the_file() {
        let (mut s, o) = role();
        s.tags.insert("team".into(), "web".into());
        let c = diff_role("functions.f.role", Some(&s), Some(&o))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1);
        assert_eq!(c.fields[0].path, "tags.team");
    }

    #[test]
    fn an_untagged_role_is_adopted_and_another_stacks_is_not_ours() {
        let (s, mut o) = role();
        o.tags.clear();
        o.owned = false;
        let c = diff_role("functions.f.role", Some(&s), Some(&o))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Adopt);
        assert!(c.changes("tags.deploy:stack"));
    }

    #[test]
    fn the_execution_policy_follows_the_vpc_and_hand_attached_ones_stay() {
        let (mut s, o) = role();
        s.policies = vec![format!("arn:aws:{BASIC_POLICY}")];
        let c = diff_role("functions.f.role", Some(&s), Some(&o))
            .unwrap()
            .unwrap();
        let f = c.field("policies").unwrap();
        assert!(
            f.before
                .to_string()
                .contains("AWSLambdaVPCAccessExecutionRole")
        );
        assert!(!f.before.to_string().contains("hand-added"));
        assert!(f.after.to_string().contains("AWSLambdaBasicExecutionRole"));
        let (attach, detach) = policy_moves(&s, &o);
        assert_eq!(attach, [format!("arn:aws:{BASIC_POLICY}")]);
        assert_eq!(detach, [format!("arn:aws:{VPC_ACCESS_POLICY}")]);
    }

    #[test]
    fn role_create_same_drift_delete() {
        let (s, o) = role();
        let c = diff_role("functions.f.role", Some(&s), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Create);
        assert!(
            c.field("policies")
                .unwrap()
                .after
                .to_string()
                .contains("AWSLambdaVPCAccessExecutionRole")
        );
        assert!(
            c.changes("path") && c.changes("assume_role_policy") && c.changes("tags.deploy:stack")
        );

        assert!(
            diff_role("functions.f.role", Some(&s), Some(&o))
                .unwrap()
                .is_none()
        );

        let mut drifted = o.clone();
        drifted.trust_policy = Some(serde_json::json!({"Version": "2012-10-17", "Statement": []}));
        let c = diff_role("functions.f.role", Some(&s), Some(&drifted))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1);
        assert_eq!(c.fields[0].path, "assume_role_policy");

        let c = diff_role("functions.f.role", None, Some(&o))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Delete);
    }

    #[test]
    fn role_key_order_in_the_trust_policy_does_not_matter() {
        let (s, mut o) = role();
        o.trust_policy = Some(
            serde_json::from_str(
                r#"{"Statement":[{"Action":"sts:AssumeRole","Principal":{"Service":"lambda.amazonaws.com"},"Effect":"Allow"}],"Version":"2012-10-17"}"#,
            )
            .unwrap(),
        );
        assert!(
            diff_role("functions.f.role", Some(&s), Some(&o))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_too_long_role_name_is_a_plan_error() {
        let (mut s, _) = role();
        s.name = format!("{}-role", "f".repeat(61));
        let e = diff_role("functions.f.role", Some(&s), None).unwrap_err();
        assert!(e.message.contains("64 characters"), "{}", e.message);
    }

    fn layer() -> (LayerSpec, LayerObserved) {
        (
            LayerSpec {
                name: "shared".into(),
                stack: "st".into(),
                function: "a-fn".into(),
                source: PathBuf::from("layer"),
                runtimes: vec!["python3.12".into()],
                content: Ok("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC=".into()),
                suspicious: Vec::new(),
                conflict: None,
                pos: Pos::default(),
            },
            LayerObserved {
                version_arn: "arn:aws:lambda:us-east-1:1:layer:shared:4".into(),
                name: "shared".into(),
                version: 4,
                content: "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC=".into(),
                runtimes: vec!["python3.12".into()],
                pinned: vec![],
                published: vec![],
            },
        )
    }

    #[test]
    fn layer_create_same_new_content_delete() {
        let (s, o) = layer();
        let c = diff_layer("l", Some(&s), None).unwrap().unwrap();
        assert_eq!(c.action, Action::Create);
        assert_eq!(
            c.field("content").unwrap().after,
            Shown::value("CCCCCCCCCCCC")
        );
        assert!(diff_layer("l", Some(&s), Some(&o)).unwrap().is_none());

        let mut s2 = s.clone();
        s2.content = Ok("DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD=".into());
        let c = diff_layer("l", Some(&s2), Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Replace);
        assert!(c.field("content").unwrap().forces_replacement);
        assert!(c.notes[0].contains("version 5"), "{:?}", c.notes);
        assert!(
            c.notes[1].contains("version 4 and older stay"),
            "{:?}",
            c.notes
        );

        let mut s3 = s.clone();
        s3.runtimes.push("python3.13".into());
        let c = diff_layer("l", Some(&s3), Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Replace);
        assert!(c.field("runtimes").unwrap().forces_replacement);

        let c = diff_layer("l", None, Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
    }

    #[test]
    fn a_layer_version_the_file_names_by_arn_is_never_deleted() {
        let (_, mut o) = layer();
        // The folder layer left the file, a function names version 4 by ARN: nothing to do.
        o.pinned = vec![4];
        o.published = vec![4];
        assert!(diff_layer("l", None, Some(&o)).unwrap().is_none());
        // Older versions nothing names go; the named one is kept, and the plan says so.
        o.published = vec![2, 3, 4];
        let c = diff_layer("l", None, Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(
            c.notes[0].contains("deletes versions 2, 3 of the layer")
                && c.notes[0].contains("keeps version 4, which stack.yaml names by ARN"),
            "{:?}",
            c.notes
        );
        assert!(!c.notes[0].contains("every version"), "{:?}", c.notes);
    }

    #[test]
    fn pinned_versions_are_the_arns_of_the_layer_in_any_function() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("src")).unwrap();
        let st = crate::stack::parse_str(
            "stack: st
functions:
  a:
    source: src
    runtime: python3.12
    handler: a.h
    layers: [arn:aws:lambda:us-east-1:123456789012:layer:lay1:3, arn:aws:lambda:us-east-1:123456789012:layer:lay10:7]
  b:
    source: src
    runtime: python3.12
    handler: a.h
    layers: [arn:aws:lambda:us-east-1:123456789012:layer:lay1:1, arn:aws:lambda:us-east-1:999999999999:layer:lay1:2]
",
            std::path::Path::new("stack.yaml"),
            d.path(),
            &|_| None,
        )
        .unwrap();
        assert_eq!(
            pinned_versions(&st, "arn:aws:lambda:us-east-1:123456789012:layer:lay1:5"),
            [1, 3]
        );
        assert!(
            pinned_versions(&st, "arn:aws:lambda:us-east-1:123456789012:layer:lay2:1").is_empty()
        );
    }

    #[test]
    fn a_layer_uploading_files_named_like_secrets_says_so() {
        let (mut s, o) = layer();
        s.suspicious = vec!["python/.env".into()];
        assert!(diff_layer("l", Some(&s), Some(&o)).unwrap().is_none());
        s.content = Ok("DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD=".into());
        let c = diff_layer("l", Some(&s), Some(&o)).unwrap().unwrap();
        assert!(
            c.notes.iter().any(|n| n.contains("python/.env")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn conflicting_layer_declarations_are_a_plan_error() {
        let (d, _) = stack();
        std::fs::create_dir_all(d.path().join("layer2")).unwrap();
        std::fs::write(d.path().join("layer2/x.py"), "").unwrap();
        let src = STACK.replacen("source: layer,", "source: layer2,", 1);
        let st = parse_str(&src, Path::new("stack.yaml"), d.path(), &env).unwrap();
        let NodeSpec::Layer(l) = spec(
            &st,
            &Key::Layer("shared".into()),
            &Resolver::default(),
            &live_env(),
        ) else {
            panic!()
        };
        let e = diff_layer("functions.a-fn.layer.shared", Some(&l), None).unwrap_err();
        assert!(e.message.contains("different folders"), "{}", e.message);

        let (mut s, _) = layer();
        s.content = Err("layer has no files to deploy".into());
        let e = diff_layer("l", Some(&s), None).unwrap_err();
        assert!(e.message.contains("no files"), "{}", e.message);
    }

    #[test]
    fn layer_descriptions_round_trip() {
        let d = layer_description("st", "a-fn", "Q0NDQw==");
        assert_eq!(
            parse_layer_description(&d),
            Some(LayerMarker {
                stack: "st".into(),
                function: "a-fn".into(),
                content: "Q0NDQw==".into()
            })
        );
        assert_eq!(parse_layer_description("psycopg2 for python 3.12"), None);
        assert_eq!(parse_layer_description(""), None);
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}

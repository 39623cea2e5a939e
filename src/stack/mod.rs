//! The stack file: loading, checking, and the validated model every other module works from.
//!
//! Loading runs in three steps, each collecting every problem it finds: `yaml` (the one module
//! that knows the YAML parser) turns text into a positioned tree; `raw` decodes the tree against
//! a schema (unknown keys, wrong types, duplicates, missing keys); `validate` resolves `${env:}`
//! and checks the resolved values (references, cycles, CIDRs, ARNs, literal passwords). All of it
//! is offline and reported with file, line and column before any AWS call.
//!
//! What is particular to a kind (its schema entries, its entry as written, how it is decoded and
//! checked) is declared in its folder, `resources/<kind>/decl.rs`; this module keeps the machinery
//! they use ([`decode`]'s decoder, [`check`]'s checker), the top level of the file and what crosses
//! kinds (references and their cycles, outputs), and the validated model.

pub(crate) mod check;
pub(crate) mod decode;
mod pos;
mod raw;
pub mod schema;
pub mod template;
mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use pos::{Pos, Problem};
pub use template::{EnvLookup, Ref, Resolver, Template};
pub(crate) use validate::hex;

/// Every problem found in one file, printed `file:line:col: message`, one per line.
#[derive(Debug, thiserror::Error)]
pub struct LoadError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.pos.line == 0 {
                write!(f, "{}: {}", self.file.display(), p.message)?;
            } else {
                write!(
                    f,
                    "{}:{}:{}: {}",
                    self.file.display(),
                    p.pos.line,
                    p.pos.col,
                    p.message
                )?;
            }
        }
        Ok(())
    }
}

/// A validated stack file.
#[derive(Debug, Clone)]
pub struct Stack {
    pub file: PathBuf,
    /// Relative paths in the file (sources, migrations) are relative to the file's folder.
    pub dir: PathBuf,
    /// SHA-256 of the file's bytes, hex; lets a saved plan notice that the file changed.
    pub digest: String,
    pub name: String,
    pub region: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub db_instances: BTreeMap<String, DbInstance>,
    pub functions: BTreeMap<String, Function>,
    pub user_pools: BTreeMap<String, UserPool>,
    pub cognito_triggers: Vec<Trigger>,
    pub outputs: BTreeMap<String, Template>,
}

/// The tag that marks what a stack owns (spec section 3).
pub const STACK_TAG: &str = "deploy:stack";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpcRef {
    Default,
    Id(String),
}

/// A security group named in the file: one of this stack's, or an existing `sg-…` id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupRef {
    Stack(String),
    Id(String),
}

#[derive(Debug, Clone)]
pub struct SecurityGroup {
    /// The AWS name (the group's name, the instance identifier, the function's or pool's name):
    /// `name:` when given, else the map key. The key stays the logical name and the address.
    pub name: String,
    pub description: String,
    pub vpc: VpcRef,
    pub ingress: Vec<Rule>,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

impl Protocol {
    /// The EC2 `IpProtocol` value.
    pub fn as_ec2(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::All => "-1",
        }
    }
}

#[derive(Debug, Clone)]
pub enum RuleSource {
    Cidr(Template),
    Group(GroupRef),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub description: String,
    pub protocol: Protocol,
    /// EC2's FromPort/ToPort; -1/-1 for `all` and for ICMP without ports.
    pub from_port: i32,
    pub to_port: i32,
    pub source: RuleSource,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum Password {
    /// `${secret:NAME}`, possibly inside a longer string.
    Secret(Template),
    /// `manage_master_password: true`: RDS keeps it in Secrets Manager.
    Managed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalSnapshot {
    Skip,
    /// Take one, named `<identifier>-final-<timestamp>`.
    Auto,
    Named(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerformanceInsights {
    pub enabled: bool,
    pub retention_days: Option<i32>,
}

/// A `db_instances` entry. `None` means "not managed": left to AWS on create and never diffed.
#[derive(Debug, Clone)]
pub struct DbInstance {
    /// The AWS name (the group's name, the instance identifier, the function's or pool's name):
    /// `name:` when given, else the map key. The key stays the logical name and the address.
    pub name: String,
    pub engine: String,
    /// A major alone (`16`: RDS creates its current minor, and any minor of it satisfies the
    /// file) or a full version (`16.4`).
    pub engine_version: Option<String>,
    pub engine_version_pos: Pos,
    pub instance_class: String,
    pub allocated_storage: i32,
    pub allocated_storage_pos: Pos,
    pub storage_type: Option<String>,
    pub storage_encrypted: Option<bool>,
    pub master_username: String,
    pub password: Password,
    /// Bumped by the user to have apply set the password again (nothing derived from the
    /// password is stored to notice a change by itself).
    pub password_version: Option<i32>,
    pub db_name: Option<String>,
    pub port: Option<i32>,
    pub availability_zone: Option<String>,
    pub multi_az: Option<bool>,
    pub publicly_accessible: Option<bool>,
    pub backup_retention_days: Option<i32>,
    pub performance_insights: Option<PerformanceInsights>,
    pub deletion_protection: Option<bool>,
    pub security_groups: Vec<GroupRef>,
    pub running: bool,
    pub final_snapshot: FinalSnapshot,
    pub migrations: Option<PathBuf>,
    /// Where `migrations:` is written: problems of the database's history point there.
    pub migrations_pos: Pos,
    /// `migrations_baseline: N`, for a database made before deploy (spec section 6).
    pub migrations_baseline: Option<Baseline>,
    pub seed: Option<PathBuf>,
    pub pos: Pos,
}

/// `migrations_baseline: N`: on a database that already holds relations of its own and has no
/// `deploy_migrations`, the files numbered up to N and the seed are recorded as applied and never
/// run. N = 0 records only the seed: every file runs over the existing data, as the user says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    pub version: u32,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRef {
    /// A role `<function>-role` that this stack creates.
    Auto,
    Arn(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerRef {
    Arn(String),
    /// A folder the stack publishes as a layer version whenever its content changes.
    Folder {
        name: String,
        source: PathBuf,
        runtimes: Vec<String>,
        /// Where `source:` is written: folder problems point there.
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subnets {
    /// The default subnets of the region's default VPC.
    Default,
    Ids(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct FunctionVpc {
    pub subnets: Subnets,
    pub security_groups: Vec<GroupRef>,
}

#[derive(Debug, Clone)]
pub struct Function {
    /// The AWS name (the group's name, the instance identifier, the function's or pool's name):
    /// `name:` when given, else the map key. The key stays the logical name and the address.
    pub name: String,
    pub source: PathBuf,
    /// Where `source:` is written: folder problems point there.
    pub source_pos: Pos,
    pub runtime: String,
    pub handler: String,
    pub description: Option<String>,
    pub memory: i32,
    pub timeout: i32,
    pub role: RoleRef,
    pub layers: Vec<LayerRef>,
    pub vpc: Option<FunctionVpc>,
    pub environment: BTreeMap<String, Template>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct UserPool {
    /// The AWS name (the group's name, the instance identifier, the function's or pool's name):
    /// `name:` when given, else the map key. The key stays the logical name and the address.
    pub name: String,
    pub username_attributes: Option<Vec<String>>,
    pub auto_verified_attributes: Option<Vec<String>>,
    pub deletion_protection: Option<bool>,
    pub pos: Pos,
}

/// The pool a trigger is set on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PoolRef {
    Stack(String),
    /// An existing pool not owned by this stack: its id, or its exact name.
    External(String),
}

impl PoolRef {
    /// The name used in addresses: the pool name, or the external id/name as written.
    pub fn label(&self) -> &str {
        match self {
            PoolRef::Stack(s) | PoolRef::External(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionRef {
    Stack(String),
    Arn(String),
}

/// The Cognito trigger slots, in the file's spelling and the API's `LambdaConfig` field names.
pub const TRIGGER_EVENTS: &[(&str, &str)] = &[
    ("pre_sign_up", "PreSignUp"),
    ("post_confirmation", "PostConfirmation"),
    ("pre_authentication", "PreAuthentication"),
    ("post_authentication", "PostAuthentication"),
    ("pre_token_generation", "PreTokenGeneration"),
    ("custom_message", "CustomMessage"),
    ("define_auth_challenge", "DefineAuthChallenge"),
    ("create_auth_challenge", "CreateAuthChallenge"),
    (
        "verify_auth_challenge_response",
        "VerifyAuthChallengeResponse",
    ),
    ("user_migration", "UserMigration"),
];

#[derive(Debug, Clone)]
pub struct Trigger {
    pub user_pool: PoolRef,
    /// The file's spelling, e.g. `post_confirmation`.
    pub event: String,
    pub function: FunctionRef,
    pub pos: Pos,
}

impl Trigger {
    /// `cognito_triggers.<pool>.<event>`
    pub fn address(&self) -> String {
        format!("cognito_triggers.{}.{}", self.user_pool.label(), self.event)
    }
}

/// Whether loading needs the values of `${secret:}` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Secrets {
    /// plan, apply, output: an unset secret is an error naming the variable and the line.
    #[default]
    Required,
    /// validate and destroy send no secret anywhere, so they run without them (CI validates
    /// without secrets); an unset one loads as a value unknown to this run.
    Optional,
}

/// What a run needs of the stack file beyond its text: whether secrets must be set and whether
/// function and layer folders must exist. Loading with a bare [`Secrets`] needs the folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    pub secrets: Secrets,
    /// Commands that package functions and layers (plan, apply, validate) need their folders;
    /// `migrate`, `psql`, `logs` and `invoke` never read them, so a checkout whose layer is not
    /// built can still migrate its local database.
    pub packages_needed: bool,
}

impl From<Secrets> for LoadOptions {
    fn from(secrets: Secrets) -> Self {
        LoadOptions {
            secrets,
            packages_needed: true,
        }
    }
}

/// Reads and checks a stack file, looking `${env:}`/`${secret:}` up in the process environment.
pub fn load(path: &Path) -> Result<Stack, LoadError> {
    load_opts(path, Secrets::Required)
}

/// [`load`], saying whether secrets must be set (and folders exist).
pub fn load_opts(path: &Path, opts: impl Into<LoadOptions>) -> Result<Stack, LoadError> {
    let env = |name: &str| std::env::var(name).ok();
    load_with_env(path, &env, opts)
}

/// [`load`] with an explicit variable lookup (tests).
pub fn load_with_env(
    path: &Path,
    env: EnvLookup<'_>,
    opts: impl Into<LoadOptions>,
) -> Result<Stack, LoadError> {
    let fail = |message: String| LoadError {
        file: path.to_path_buf(),
        problems: vec![Problem {
            pos: Pos::default(),
            message,
        }],
    };
    let bytes = std::fs::read(path).map_err(|e| {
        fail(match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "no such file{}: write the stack file there, or point at another one with -f FILE",
                std::env::current_dir()
                    .ok()
                    .filter(|_| path.is_relative())
                    .map(|d| format!(" (looked in {})", d.display()))
                    .unwrap_or_default()
            ),
            std::io::ErrorKind::IsADirectory => {
                "is a folder, not a stack file: point at the file with -f FILE".to_string()
            }
            _ => format!("cannot read: {e}"),
        })
    })?;
    let src = String::from_utf8(bytes).map_err(|_| fail("is not UTF-8 text".into()))?;
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    parse_str_opts(&src, path, &dir, env, opts)
}

/// Parses and checks stack text. `dir` anchors relative paths.
pub fn parse_str(
    src: &str,
    file: &Path,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Stack, LoadError> {
    parse_str_opts(src, file, dir, env, Secrets::Required)
}

/// A valid stack from YAML text (`stack.yaml` in `.`, no variables set): unit tests' fixtures.
#[cfg(test)]
pub fn from_text(src: &str) -> Stack {
    parse_str(src, Path::new("stack.yaml"), Path::new("."), &|_| None).expect("a valid test stack")
}

/// [`parse_str`], saying whether secrets must be set (and folders exist).
pub fn parse_str_opts(
    src: &str,
    file: &Path,
    dir: &Path,
    env: EnvLookup<'_>,
    opts: impl Into<LoadOptions>,
) -> Result<Stack, LoadError> {
    let opts = opts.into();
    let fail = |problems| LoadError {
        file: file.to_path_buf(),
        problems,
    };
    let tree = yaml::parse(src).map_err(|p| fail(vec![p]))?;
    let mut decoder = decode::Decoder::default();
    let Some(raw) = raw::decode(&tree, &mut decoder) else {
        return Err(fail(decoder.problems));
    };
    let input = validate::Input {
        src,
        file,
        dir,
        env,
        secrets_required: opts.secrets == Secrets::Required,
        packages_needed: opts.packages_needed,
    };
    validate::validate(raw, decoder.problems, &input).map_err(fail)
}

impl Stack {
    /// The logical key of a live resource found by its AWS name: the entry whose physical name it
    /// is, else the AWS name itself (an owned resource no entry names is addressed by it, and an
    /// entry that newly sets `name:` finds its old resource, named by the key, under its key).
    pub fn key_of<'a, T>(
        entries: &'a BTreeMap<String, T>,
        physical: impl Fn(&T) -> &str,
        aws_name: &'a str,
    ) -> &'a str {
        entries
            .iter()
            .find(|(_, e)| physical(e) == aws_name)
            .map_or(aws_name, |(k, _)| k.as_str())
    }

    /// What the file names but the stack does not own, so a destroy leaves it in place: roles,
    /// layers and trigger functions by ARN, security groups and subnets by id, user pools of
    /// triggers by id or name. Each once, with the address that names it first.
    pub fn left_in_place(&self) -> Vec<String> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut add = |what: String, by: String| {
            if !out.iter().any(|(w, _)| *w == what) {
                out.push((what, by));
            }
        };
        let groups = |refs: &[GroupRef], by: &str, add: &mut dyn FnMut(String, String)| {
            for g in refs {
                if let GroupRef::Id(id) = g {
                    add(format!("security group {id}"), by.to_string());
                }
            }
        };
        for (name, g) in &self.security_groups {
            for r in &g.ingress {
                if let RuleSource::Group(GroupRef::Id(id)) = &r.source {
                    add(
                        format!("security group {id}"),
                        format!("security_groups.{name}"),
                    );
                }
            }
        }
        for (name, d) in &self.db_instances {
            groups(
                &d.security_groups,
                &format!("db_instances.{name}"),
                &mut add,
            );
        }
        for (name, f) in &self.functions {
            let by = format!("functions.{name}");
            if let RoleRef::Arn(arn) = &f.role {
                add(format!("role {arn}"), by.clone());
            }
            for l in &f.layers {
                if let LayerRef::Arn(arn) = l {
                    add(format!("layer {arn}"), by.clone());
                }
            }
            if let Some(vpc) = &f.vpc {
                if let Subnets::Ids(ids) = &vpc.subnets {
                    for id in ids {
                        add(format!("subnet {id}"), by.clone());
                    }
                }
                groups(&vpc.security_groups, &by, &mut add);
            }
        }
        for t in &self.cognito_triggers {
            if let PoolRef::External(p) = &t.user_pool {
                add(format!("user pool {p}"), t.address());
            }
            if let FunctionRef::Arn(arn) = &t.function {
                add(format!("function {arn}"), t.address());
            }
        }
        out.into_iter()
            .map(|(what, by)| format!("{what} (named by {by})"))
            .collect()
    }
}

#[cfg(test)]
mod field_tests;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod tests;

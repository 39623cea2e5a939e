//! What every kind shares, below all of them: node identity and addresses, the facts about the
//! account that specs need, the context adapters run in, the shared diff and ownership helpers,
//! and the contract each kind's adapter fulfils. Kinds depend on this module (and on `plan`,
//! `stack`, `value`), never on each other's internals nor on the dispatch or the engine above them.

pub mod batch;
pub mod network;
pub mod once;
pub mod propagation;
pub mod wait;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::Clients;
use crate::context::{Cancel, Events};
use crate::error::Result;
use crate::plan::{Action, Change, Diff, PlanError};
use crate::settings::Settings;
use crate::stack::{GroupRef, Resolver, STACK_TAG, Stack};
use crate::value::Text;

/// Which node, with the names needed to find its entry in the stack file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Key {
    Group(String),
    Rule {
        group: String,
        description: String,
    },
    DbInstance(String),
    /// The `auto` role of a function (by function name).
    Role(String),
    /// A layer published from a folder (by layer name).
    Layer(String),
    Function(String),
    UserPool(String),
    /// A trigger slot: the pool label as written (or found) and the event spelling of the file.
    Trigger {
        pool: String,
        event: String,
    },
    /// One SQL migration file of a db instance (by file stem).
    Migration {
        db: String,
        name: String,
    },
    /// The seed file of a db instance.
    Seed(String),
}

impl Key {
    /// Whether deleting the resource deletes data users put there (an instance's database, a
    /// pool's users), beyond what the stack file can make again: a delete or replace of it is
    /// flagged `data_loss` in the JSON plan, for a CI gate.
    pub fn holds_data(&self) -> bool {
        matches!(self, Key::DbInstance(_) | Key::UserPool(_))
    }
}

/// A desired node: where it lives in the plan and what it needs first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDef {
    pub address: String,
    pub key: Key,
    /// Addresses that must be created or updated before this node.
    pub deps: Vec<String>,
}

/// A node found in the live account. Kinds report their own observed type; the dispatch above
/// them wraps it into its enum.
#[derive(Clone, Debug)]
pub struct Found<O> {
    pub address: String,
    pub key: Key,
    pub observed: O,
}

impl<O> Found<O> {
    pub fn map<P>(self, f: impl FnOnce(O) -> P) -> Found<P> {
        Found {
            address: self.address,
            key: self.key,
            observed: f(self.observed),
        }
    }
}

/// The attributes other nodes may reference (`id`, `arn`, `address`, …); `None`: not known yet.
pub type Attrs = Vec<(&'static str, Option<String>)>;

/// A pool of the account as trigger specs need it to find an existing pool by id or name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolSummary {
    pub id: String,
    pub name: String,
    pub arn: String,
}

/// Facts about the account that specs need: the default VPC and its default subnets.
#[derive(Clone, Debug, Default)]
pub struct LiveEnv {
    pub region: String,
    pub default_vpc: Option<String>,
    /// Default-for-AZ subnets of the default VPC, sorted.
    pub default_subnets: Vec<String>,
    /// `--db-endpoint ID=HOST:PORT`: where an instance's database really listens.
    pub db_endpoints: BTreeMap<String, (String, u16)>,
    /// Every user pool of the account, for triggers on existing pools named by id or name.
    pub user_pools: Vec<PoolSummary>,
    /// What the account said of things the file names but the stack does not manage (a layer
    /// version ARN, a role ARN, the name an `auto` role would take), keyed by the kind's own
    /// lookup key. A key that is absent was not looked up: nothing is concluded from it.
    pub lookups: BTreeMap<String, Lookup>,
    /// By engine (`postgres`): the versions RDS creates new instances with, as
    /// DescribeDBEngineVersions lists them, or why they could not be read. Read only when the
    /// file names an engine_version; an engine that is absent was not looked up.
    pub engine_versions: BTreeMap<String, Result<Vec<String>, String>>,
    /// The VPC of each existing group the file names by `sg-…` id where the VPC matters (see
    /// [`network`]); an id that is absent was not (or could not be) read.
    pub group_vpcs: BTreeMap<String, String>,
}

/// One answer about something the stack refers to but does not manage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// It exists: its ARN, (for a role) its IAM path and (for a layer version) the runtimes it
    /// declares compatible, as AWS reports them.
    Found {
        arn: String,
        path: String,
        runtimes: Vec<String>,
    },
    /// AWS said there is no such thing.
    Missing,
    /// The answer says nothing either way (AccessDenied): why, for a plan warning.
    Unknown(String),
}

/// What an adapter needs to do its work.
pub struct Ctx<'a> {
    pub clients: &'a Clients,
    pub stack: &'a Stack,
    pub env: &'a LiveEnv,
    /// Where waits and one-off lines are reported (the terminal, or nothing in tests).
    pub progress: &'a dyn Events,
    /// What ends waits early (Ctrl-C): every pause goes through [`Ctx::sleep`] or a backoff.
    pub cancel: Cancel,
    /// Poll intervals, timeouts, how to reach the database: read once for the run.
    pub settings: &'a Settings,
    /// The security groups this run created, which EC2 may not show everywhere yet.
    pub new_groups: &'a propagation::NewGroups,
    /// Rule writes that go to AWS in one call per group (see [`batch`]).
    pub batches: &'a batch::Batches,
}

impl Ctx<'_> {
    /// Makes `call` until it succeeds, fails for another reason, or
    /// [`propagation::GROUP_PROPAGATION`] has passed while a new group in `groups` is not yet
    /// visible (see [`propagation`]). Backs off from a quarter second to the poll interval. The
    /// SDK error is returned as is, so callers keep their own handling of it.
    pub async fn while_new_groups_propagate<T, E, F, Fut>(
        &self,
        address: &str,
        groups: &[&str],
        mut call: F,
    ) -> Result<std::result::Result<T, SdkError<E, HttpResponse>>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata,
    {
        let started = Instant::now();
        let mut delay = Duration::from_millis(250);
        let mut waited = false;
        loop {
            let out = call().await;
            let retry = match &out {
                Err(SdkError::ServiceError(se)) => {
                    let e = se.err();
                    started.elapsed() < propagation::GROUP_PROPAGATION
                        && self.new_groups.not_yet_visible(
                            groups,
                            e.code(),
                            e.message().unwrap_or_default(),
                        )
                }
                _ => false,
            };
            if !retry {
                if waited {
                    self.progress.done_waiting(address);
                }
                return Ok(out);
            }
            waited = true;
            self.progress.waiting(
                address,
                "for EC2 to show its new security group (EC2 is eventually consistent)",
                "InvalidGroup.NotFound",
            );
            self.sleep(address, delay).await?;
            delay = (delay * 2).min(self.settings.poll.max(Duration::from_millis(250)));
        }
    }

    /// The pauses of one wait (see [`wait::Backoff`]).
    pub fn backoff(&self) -> wait::Backoff {
        wait::Backoff::new(self.settings.poll, self.cancel)
    }

    /// A pause that cancelling the run ends early, with an error naming `address`.
    pub async fn sleep(&self, address: &str, d: Duration) -> Result<()> {
        self.cancel.sleep(address, d).await
    }

    /// The tags every resource this stack creates carries: the file's `tags:` plus ownership.
    pub fn tags(&self) -> BTreeMap<String, String> {
        stack_tags(self.stack)
    }
}

/// The file's `tags:` plus `deploy:stack=<stack>`.
pub fn stack_tags(stack: &Stack) -> BTreeMap<String, String> {
    let mut t = stack.tags.clone();
    t.insert(STACK_TAG.to_string(), stack.name.clone());
    t
}

/// The tag that keeps the file's key on a resource whose AWS name is not its key (`name:`): a
/// later change of `name:` then finds the resource under its key, so the plan renames it in
/// place (an instance), refuses (a pool) or replaces it (a group, a function and its role),
/// rather than creating a new one beside a delete of the old under another address.
pub const KEY_TAG: &str = "deploy:key";

/// [`stack_tags`] of a named resource, with [`KEY_TAG`] when its AWS name is not its key.
pub fn data_tags(stack: &Stack, key: &str, aws_name: &str) -> BTreeMap<String, String> {
    let mut t = stack_tags(stack);
    if !key.eq_ignore_ascii_case(aws_name) {
        t.insert(KEY_TAG.to_string(), key.to_string());
    }
    t
}

/// The key a live named resource stands for: its [`KEY_TAG`] when it is this stack's,
/// else the entry whose AWS name it has (see [`Stack::key_of`]).
pub fn data_key<'a, T>(
    entries: &'a BTreeMap<String, T>,
    physical: impl Fn(&T) -> &str,
    aws_name: &'a str,
    owned: bool,
    tags: &'a BTreeMap<String, String>,
) -> &'a str {
    match tags.get(KEY_TAG) {
        Some(k) if owned => k,
        _ => Stack::key_of(entries, physical, aws_name),
    }
}

// Addresses other kinds point at (a kind's own addresses stay in its folder).

pub fn group_address(name: &str) -> String {
    format!("security_groups.{name}")
}

pub fn pool_address(name: &str) -> String {
    format!("user_pools.{name}")
}

pub fn function_address(name: &str) -> String {
    format!("functions.{name}")
}

/// The id of a group named in the file: from the resolver for the stack's own groups.
pub fn group_ref_id(r: &Resolver, g: &GroupRef) -> Text {
    match g {
        GroupRef::Id(id) => Text::known(id.clone()),
        GroupRef::Stack(name) => r.attr(&group_address(name), "id"),
    }
}

/// Tags this stack sets that are missing or different on the live resource.
pub fn tag_diff(d: &mut Diff, live: &BTreeMap<String, String>, want: &BTreeMap<String, String>) {
    for (k, v) in want {
        d.value(
            &format!("tags.{k}"),
            live.get(k).cloned(),
            Some(v.clone()),
            false,
        );
    }
}

/// Turns the differences of an existing, ownable resource into a change: adopt when it is not
/// tagged as ours yet, else update or replace.
pub fn owned_change(address: &str, d: Diff, owned: bool) -> Option<Change> {
    if owned {
        return d.into_change(address);
    }
    let mut c = Change::new(address, Action::Adopt)
        .note("exists without this stack's tag; apply needs --adopt to take it over");
    c.fields = d.fields;
    Some(c)
}

/// How the engine carries out a Replace of a kind: each kind declares it next to its diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplacePolicy {
    /// The name is fixed (a group name, a db identifier, a role or function name), so the old one
    /// must be gone before the new one can exist.
    DeleteBeforeCreate,
    /// Creating adds a new immutable version next to the old ones (a layer version): nothing is
    /// deleted, the create is given the old one.
    CreateOnly,
}

/// `NodeType::spec` by the kind's free function of the same signature (a kind with one node
/// type keeps `spec` free: its tests and `ops` call it too).
macro_rules! spec_by {
    ($f:path) => {
        fn spec(
            stack: &$crate::stack::Stack,
            key: &$crate::resources::Key,
            r: &$crate::stack::Resolver,
            env: &$crate::resources::LiveEnv,
        ) -> Self::Spec {
            $f(stack, key, r, env)
        }
    };
}
pub(crate) use spec_by;

/// `NodeType::diff` by the kind's free function of the same signature.
macro_rules! diff_by {
    ($f:path) => {
        fn diff(
            address: &str,
            spec: Option<&Self::Spec>,
            observed: Option<&Self::Observed>,
        ) -> Result<Option<$crate::plan::Change>, $crate::plan::PlanError> {
            $f(address, spec, observed)
        }
    };
}
pub(crate) use diff_by;

/// What the dispatch needs of one node type beside its adapter: its spec and observed types,
/// its diff, its replace policy and what its observed state says of itself. A kind implements
/// it on one marker type per node type, next to those types; `resources` registers the marker
/// once and generates its dispatch from that.
pub trait NodeType {
    type Spec;
    type Observed;

    /// How the engine carries out a Replace of a node of this type.
    const REPLACE: ReplacePolicy;

    /// The attribute names a node of this type exposes, for marking them unknown before apply.
    const ATTR_NAMES: &'static [&'static str] = &[];

    /// The desired spec of the node `key` (one of this type's), references resolved through `r`.
    fn spec(stack: &Stack, key: &Key, r: &Resolver, env: &LiveEnv) -> Self::Spec;

    /// The change that would make `observed` match `spec`; `None` when they match. `spec:
    /// None` means the node is not (or no longer) desired: a delete of what this stack owns.
    fn diff(
        address: &str,
        spec: Option<&Self::Spec>,
        observed: Option<&Self::Observed>,
    ) -> std::result::Result<Option<Change>, PlanError>;

    /// The attributes other nodes may reference, with their values.
    fn attrs(_: &Self::Observed) -> Attrs {
        Vec::new()
    }

    /// Whether this stack's ownership tag is on it. Node types whose reads only ever return this
    /// stack's own objects keep the default.
    fn owned(_: &Self::Observed) -> bool {
        true
    }

    /// The stack that claims it (its `deploy:stack` tag), whichever stack that is.
    fn owner(_: &Self::Observed) -> Option<&str> {
        None
    }

    /// The physical ids it points at, as AWS reports them.
    fn refs(_: &Self::Observed) -> Vec<String> {
        Vec::new()
    }

    /// Whether what a node that uses it needs is there beyond its attributes.
    fn ready(_: &Self::Observed) -> bool {
        true
    }
}

/// The stack named by a resource's `deploy:stack` tag.
pub fn owner_tag(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(STACK_TAG).map(String::as_str)
}

/// What a kind's adapter implements: create, update, delete, and adopt where it differs from
/// update. Replace is not here: the engine turns it into a delete and a create (or a create
/// alone) by the kind's [`ReplacePolicy`].
// The executor polls adapters on its own task; nothing needs the futures to be Send.
#[allow(async_fn_in_trait)]
pub trait Adapter {
    type Spec;
    type Observed;

    /// `existing`: what the plan found under this name that is not usable (an instance still
    /// being deleted, the previous layer version).
    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        spec: &Self::Spec,
        existing: Option<&Self::Observed>,
    ) -> Result<Self::Observed>;

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        spec: &Self::Spec,
        observed: &Self::Observed,
        change: &Change,
    ) -> Result<Self::Observed>;

    /// Takes over an untagged resource: by default, an update (which adds this stack's tags).
    async fn adopt(
        ctx: &Ctx<'_>,
        address: &str,
        spec: &Self::Spec,
        observed: &Self::Observed,
        change: &Change,
    ) -> Result<Self::Observed> {
        Self::update(ctx, address, spec, observed, change).await
    }

    /// `replacing`: the spec of what is created next, when this delete is half of a replace
    /// (the file's wishes about final snapshots and deletion protection come from it).
    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        observed: &Self::Observed,
        replacing: Option<&Self::Spec>,
    ) -> Result<()>;
}

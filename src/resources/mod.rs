//! The resource kinds, one folder each. Every folder has a pure `mod.rs` (desired spec, observed
//! state, diff; no AWS types) and an `aws.rs` adapter (read live state in batches, apply one
//! change). This module only dispatches between them.
//!
//! A *node* is one unit the engine orders and executes: a security group, one of its rules, a db
//! instance, a function's role, a layer, a function, a user pool, a trigger.

pub mod cognito_trigger;
pub mod db_instance;
pub mod function;
pub mod migration;
pub mod security_group;
pub mod user_pool;

use crate::plan::{Change, PlanError};
use crate::stack::{Resolver, Stack};

/// Which node, with the names needed to find its entry in the stack file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

/// A desired node: where it lives in the plan and what it needs first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDef {
    pub address: String,
    pub key: Key,
    /// Addresses that must be created or updated before this node.
    pub deps: Vec<String>,
}

/// A node found in the live account.
#[derive(Clone, Debug)]
pub struct Found {
    pub address: String,
    pub key: Key,
    pub observed: Observed,
}

/// Facts about the account that specs need: the default VPC and its default subnets.
#[derive(Clone, Debug, Default)]
pub struct LiveEnv {
    pub region: String,
    pub default_vpc: Option<String>,
    /// Default-for-AZ subnets of the default VPC, sorted.
    pub default_subnets: Vec<String>,
    /// `--db-endpoint ID=HOST:PORT`: where an instance's database really listens.
    pub db_endpoints: std::collections::BTreeMap<String, (String, u16)>,
    /// Every user pool of the account (`user_pool::aws::observe`'s `Pools::summaries()`), for
    /// triggers on existing pools named by id or name.
    pub user_pools: Vec<user_pool::PoolSummary>,
}

/// What a node should be, with references resolved as far as they can be.
// A db instance has many fields; specs are few and short-lived, so boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Spec {
    Group(security_group::GroupSpec),
    Rule(security_group::RuleSpec),
    DbInstance(db_instance::Spec),
    Role(function::RoleSpec),
    Layer(function::LayerSpec),
    Function(function::Spec),
    UserPool(user_pool::Spec),
    Trigger(cognito_trigger::Spec),
    Migration(migration::Spec),
}

/// What a node is, as read from AWS, normalised into our own types.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Observed {
    Group(security_group::GroupObserved),
    Rule(security_group::RuleObserved),
    DbInstance(db_instance::Observed),
    Role(function::RoleObserved),
    Layer(function::LayerObserved),
    Function(function::Observed),
    UserPool(user_pool::Observed),
    Trigger(cognito_trigger::Observed),
    Migration(migration::Observed),
}

/// Every desired node of the stack, in file order within each kind.
pub fn nodes(stack: &Stack) -> Vec<NodeDef> {
    let mut out = Vec::new();
    out.extend(security_group::nodes(stack));
    out.extend(db_instance::nodes(stack));
    out.extend(function::nodes(stack));
    out.extend(user_pool::nodes(stack));
    out.extend(cognito_trigger::nodes(stack));
    out.extend(migration::nodes(stack));
    out
}

/// Builds the desired spec of a node, resolving references through `r`.
pub fn spec(stack: &Stack, key: &Key, r: &Resolver, env: &LiveEnv) -> Spec {
    match key {
        Key::Group(_) | Key::Rule { .. } => security_group::spec(stack, key, r, env),
        Key::DbInstance(_) => db_instance::spec(stack, key, r, env),
        Key::Role(_) | Key::Layer(_) | Key::Function(_) => function::spec(stack, key, r, env),
        Key::UserPool(_) => user_pool::spec(stack, key, r, env),
        Key::Trigger { .. } => cognito_trigger::spec(stack, key, r, env),
        Key::Migration { .. } | Key::Seed(_) => migration::spec(stack, key, r, env),
    }
}

/// The change that would make `observed` match `spec`; `None` when they match.
/// `spec: None` means the node is not (or no longer) desired: a delete of what this stack owns.
pub fn diff(
    address: &str,
    spec: Option<&Spec>,
    observed: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    use Observed as O;
    use Spec as S;
    match (spec, observed) {
        (None, None) => Ok(None),
        (Some(S::Group(s)), o) => {
            security_group::diff_group(address, Some(s), as_variant!(o, O::Group))
        }
        (None, Some(O::Group(o))) => security_group::diff_group(address, None, Some(o)),
        (Some(S::Rule(s)), o) => {
            security_group::diff_rule(address, Some(s), as_variant!(o, O::Rule))
        }
        (None, Some(O::Rule(o))) => security_group::diff_rule(address, None, Some(o)),
        (Some(S::DbInstance(s)), o) => {
            db_instance::diff(address, Some(s), as_variant!(o, O::DbInstance))
        }
        (None, Some(O::DbInstance(o))) => db_instance::diff(address, None, Some(o)),
        (Some(S::Role(s)), o) => function::diff_role(address, Some(s), as_variant!(o, O::Role)),
        (None, Some(O::Role(o))) => function::diff_role(address, None, Some(o)),
        (Some(S::Layer(s)), o) => function::diff_layer(address, Some(s), as_variant!(o, O::Layer)),
        (None, Some(O::Layer(o))) => function::diff_layer(address, None, Some(o)),
        (Some(S::Function(s)), o) => function::diff(address, Some(s), as_variant!(o, O::Function)),
        (None, Some(O::Function(o))) => function::diff(address, None, Some(o)),
        (Some(S::UserPool(s)), o) => user_pool::diff(address, Some(s), as_variant!(o, O::UserPool)),
        (None, Some(O::UserPool(o))) => user_pool::diff(address, None, Some(o)),
        (Some(S::Trigger(s)), o) => {
            cognito_trigger::diff(address, Some(s), as_variant!(o, O::Trigger))
        }
        (None, Some(O::Trigger(o))) => cognito_trigger::diff(address, None, Some(o)),
        (Some(S::Migration(s)), o) => {
            migration::diff(address, Some(s), as_variant!(o, O::Migration))
        }
        (None, Some(O::Migration(o))) => migration::diff(address, None, Some(o)),
    }
}

/// Narrows an `Option<&Observed>` to one variant (a mismatch cannot happen: addresses are typed).
macro_rules! as_variant {
    ($o:expr, $v:path) => {
        match $o {
            Some($v(x)) => Some(x),
            _ => None,
        }
    };
}
pub(crate) use as_variant;

impl Observed {
    /// The attributes other nodes may reference (`id`, `arn`, `address`, …).
    pub fn attrs(&self) -> Vec<(&'static str, Option<String>)> {
        match self {
            Observed::Group(o) => vec![("id", Some(o.id.clone()))],
            Observed::Rule(_) => vec![],
            Observed::DbInstance(o) => db_instance::attrs(o),
            Observed::Role(o) => vec![("arn", Some(o.arn.clone()))],
            Observed::Layer(o) => vec![("arn", Some(o.version_arn.clone()))],
            Observed::Function(o) => vec![("arn", Some(o.arn.clone()))],
            Observed::UserPool(o) => vec![("id", Some(o.id.clone())), ("arn", Some(o.arn.clone()))],
            Observed::Trigger(_) | Observed::Migration(_) => vec![],
        }
    }

    /// Whether this stack's ownership tag is on it (only owned resources are ever deleted).
    /// Kinds whose observe step only ever returns this stack's own objects report true.
    pub fn owned(&self) -> bool {
        match self {
            Observed::Group(o) => o.owned,
            Observed::DbInstance(o) => o.owned,
            Observed::Role(o) => o.owned,
            Observed::Function(o) => o.owned,
            Observed::UserPool(o) => o.owned,
            Observed::Trigger(o) => o.owned,
            Observed::Rule(_) | Observed::Layer(_) | Observed::Migration(_) => true,
        }
    }

    /// The physical ids other resources use to point at this one.
    pub fn physical_ids(&self) -> Vec<String> {
        self.attrs()
            .into_iter()
            .filter(|(n, _)| matches!(*n, "id" | "arn"))
            .filter_map(|(_, v)| v)
            .collect()
    }

    /// The physical ids this resource points at, as AWS reports them; a delete of one of them
    /// waits until this resource has let go.
    pub fn refs(&self) -> Vec<String> {
        match self {
            Observed::Rule(o) => o.source_group.iter().cloned().collect(),
            Observed::DbInstance(o) => db_instance::refs(o),
            Observed::Function(o) => function::refs(o),
            Observed::Trigger(o) => cognito_trigger::refs(o),
            Observed::Group(_)
            | Observed::Role(_)
            | Observed::Layer(_)
            | Observed::UserPool(_)
            | Observed::Migration(_) => Vec::new(),
        }
    }

    /// The attribute names a node of this key exposes, for marking them unknown before apply.
    pub fn attr_names(key: &Key) -> &'static [&'static str] {
        match key {
            Key::Group(_) => &["id"],
            Key::DbInstance(_) => &["address", "port", "arn"],
            Key::Role(_) | Key::Layer(_) | Key::Function(_) => &["arn"],
            Key::UserPool(_) => &["id", "arn"],
            Key::Rule { .. } | Key::Trigger { .. } | Key::Migration { .. } | Key::Seed(_) => &[],
        }
    }
}

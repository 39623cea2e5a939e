//! The resource kinds, one folder each, over the shared model in [`core`]. Every folder has a pure
//! `mod.rs` (desired spec, observed state, diff, replace policy, and a [`NodeType`] per node type;
//! no AWS types), a `decl.rs` (what the stack file declares of it: schema entries, the entry as
//! written, its decoding and checks) and an `aws.rs` adapter (read live state in batches; create,
//! update, delete). Kinds that share one AWS resource sit in a family folder with what they share:
//! [`cognito`] holds the user pool and trigger kinds over the pool model and its
//! read-modify-write.
//!
//! This module sits above the kinds and only dispatches between them. The dispatch that is the
//! same for every node type (the `Spec`/`Observed` enums, diffs, replace policies, what an
//! observed node says of itself, the provider's apply) is generated from one table,
//! [`node_types!`]; what relates kinds to each other (which dependencies need only attributes,
//! warnings, notes) is written out below it.
//!
//! A *node* is one unit the engine orders and executes: a security group, one of its rules, a db
//! instance, a function's role, a layer, a function, a user pool, a trigger.

pub mod cognito;
pub mod db_instance;
pub mod function;
pub mod migration;
pub mod security_group;

pub mod core;

// The two Cognito kinds keep their flat paths, which the fake provider names.
pub use self::cognito::{trigger as cognito_trigger, user_pool};

use crate::plan::{Change, PlanError};
use crate::stack::{Resolver, Stack};

pub use self::core::{Attrs, Key, LiveEnv, NodeDef, NodeType, ReplacePolicy};

/// Narrows an `Option<&Observed>` to one variant (a mismatch cannot happen: addresses are typed).
macro_rules! as_variant {
    ($o:expr, $v:path) => {
        match $o {
            Some($v(x)) => Some(x),
            _ => None,
        }
    };
}

/// Every node type, registered once: its variant in [`Spec`] and [`Observed`], the keys that
/// stand for it, its [`NodeType`] (in its kind's folder) and its adapter. `node_types!(then)`
/// expands to `then! { ... }` with the table: the dispatch below (the enums, [`diff`],
/// [`replace_policy`], what [`Observed`] says of itself) and the provider's `apply` are
/// generated from it, so that a node type is one line here rather than an arm in each match.
macro_rules! node_types {
    ($then:ident) => {
        $then! {
            Group: Key::Group(_) => security_group::GroupNode, security_group::aws::Groups;
            Rule: Key::Rule { .. } => security_group::RuleNode, security_group::aws::Rules;
            DbInstance: Key::DbInstance(_) =>
                db_instance::InstanceNode, db_instance::aws::Instances;
            Role: Key::Role(_) => function::RoleNode, function::aws::Roles;
            Layer: Key::Layer(_) => function::LayerNode, function::aws::Layers;
            Function: Key::Function(_) => function::FunctionNode, function::aws::Functions;
            UserPool: Key::UserPool(_) => user_pool::PoolNode, user_pool::aws::UserPools;
            Trigger: Key::Trigger { .. } =>
                cognito_trigger::TriggerNode, cognito_trigger::aws::Triggers;
            Migration: Key::Migration { .. } | Key::Seed(_) =>
                migration::MigrationNode, migration::db::Migrations;
        }
    };
}
pub(crate) use node_types;

/// The dispatch over [`node_types!`].
macro_rules! dispatch {
    ($($v:ident: $key:pat => $($node:ident)::+, $($adapter:ident)::+;)*) => {
        /// What a node should be, with references resolved as far as they can be.
        // A db instance has many fields; specs are few and short-lived, so boxing would only
        // add noise.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug)]
        pub enum Spec {
            $($v(<$($node)::+ as NodeType>::Spec),)*
        }

        /// What a node is, as read from AWS, normalised into our own types.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug)]
        pub enum Observed {
            $($v(<$($node)::+ as NodeType>::Observed),)*
        }

        /// Builds the desired spec of a node, resolving references through `r`.
        pub fn spec(stack: &Stack, key: &Key, r: &Resolver, env: &LiveEnv) -> Spec {
            match key {
                $($key => Spec::$v(<$($node)::+ as NodeType>::spec(stack, key, r, env)),)*
            }
        }

        /// How the engine carries out a Replace of this node, as its kind declares.
        pub fn replace_policy(key: &Key) -> ReplacePolicy {
            match key {
                $($key => <$($node)::+ as NodeType>::REPLACE,)*
            }
        }

        /// The change that would make `observed` match `spec`; `None` when they match.
        /// `spec: None` means the node is not (or no longer) desired: a delete of what this
        /// stack owns.
        pub fn diff(
            address: &str,
            spec: Option<&Spec>,
            observed: Option<&Observed>,
        ) -> Result<Option<Change>, PlanError> {
            match (spec, observed) {
                (None, None) => Ok(None),
                $(
                    (Some(Spec::$v(s)), o) => <$($node)::+ as NodeType>::diff(
                        address,
                        Some(s),
                        as_variant!(o, Observed::$v),
                    ),
                    (None, Some(Observed::$v(o))) => {
                        <$($node)::+ as NodeType>::diff(address, None, Some(o))
                    }
                )*
            }
        }

        impl Observed {
            /// The attributes other nodes may reference (`id`, `arn`, `address`, …).
            pub fn attrs(&self) -> Attrs {
                match self {
                    $(Observed::$v(o) => <$($node)::+ as NodeType>::attrs(o),)*
                }
            }

            /// Whether this stack's ownership tag is on it (only owned resources are ever
            /// deleted). Kinds whose observe step only ever returns this stack's own objects
            /// report true.
            pub fn owned(&self) -> bool {
                match self {
                    $(Observed::$v(o) => <$($node)::+ as NodeType>::owned(o),)*
                }
            }

            /// The stack named by the live resource's `deploy:stack` tag (or, for a trigger
            /// slot, the stack that set it), whichever stack that is; `None` when nothing claims
            /// it.
            pub fn owner(&self) -> Option<&str> {
                match self {
                    $(Observed::$v(o) => <$($node)::+ as NodeType>::owner(o),)*
                }
            }

            /// The physical ids this resource points at, as AWS reports them; a delete of one
            /// of them waits until this resource has let go.
            pub fn refs(&self) -> Vec<String> {
                match self {
                    $(Observed::$v(o) => <$($node)::+ as NodeType>::refs(o),)*
                }
            }

            /// Whether what [`uses_ready`] nodes need of this node is there beyond its
            /// attributes (a db instance `available`, not only addressed); the engine waits for
            /// it before those start.
            pub fn ready(&self) -> bool {
                match self {
                    $(Observed::$v(o) => <$($node)::+ as NodeType>::ready(o),)*
                }
            }

            /// The attribute names a node of this key exposes, for marking them unknown before
            /// apply.
            pub fn attr_names(key: &Key) -> &'static [&'static str] {
                match key {
                    $($key => <$($node)::+ as NodeType>::ATTR_NAMES,)*
                }
            }
        }
    };
}

/// A node found in the live account, of any kind.
pub type Found = self::core::Found<Observed>;

node_types!(dispatch);

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

/// What the kinds can refuse from the stack and its files alone, before any AWS call.
pub fn check(stack: &Stack) -> Vec<PlanError> {
    let mut out = migration::check(stack);
    out.extend(function::check(stack));
    out
}

/// Whether `dependent` needs of `dependency` only its attributes (an address, an id, an ARN),
/// which an in-place update of it leaves as they are unless the update changes one of them:
/// then it need not wait for that update. Not so for a function and its role (the role's
/// policies must allow what the function's update asks, a VPC), a migration and its instance
/// (it needs the instance available), a trigger and its pool (both write the pool: one
/// read-modify-write at a time).
pub fn needs_only_attributes(dependent: &Key, dependency: &Key) -> bool {
    matches!(
        (dependent, dependency),
        (
            Key::Function(_),
            Key::DbInstance(_) | Key::Group(_) | Key::Layer(_)
        ) | (Key::DbInstance(_), Key::Group(_))
            | (Key::Rule { .. }, Key::Group(_))
            | (Key::Trigger { .. }, Key::Function(_))
    )
}

/// The attributes an in-place update gives new values, beyond the fields named after them: a
/// renamed instance (`name:`) answers at a new endpoint address and ARN, so what reads them is
/// updated after it.
pub fn attrs_changed_by(key: &Key, change: &Change) -> &'static [&'static str] {
    match key {
        Key::DbInstance(_) if change.field("name").is_some() => &["address", "arn"],
        _ => &[],
    }
}

/// What the plan should warn about in a desired node: safer defaults the file does not ask for.
pub fn warnings(stack: &Stack, address: &str, spec: &Spec) -> Vec<String> {
    match spec {
        Spec::Rule(r) => security_group::open_db_port_warning(stack, address, r)
            .into_iter()
            .collect(),
        Spec::DbInstance(d) => db_instance::warnings(stack, &d.name),
        Spec::Function(f) => f
            .unverified
            .iter()
            .map(|w| format!("{address}: {w}"))
            .chain(
                // The spec carries the AWS name; the file's entry is under its key.
                stack
                    .functions
                    .get(Stack::key_of(&stack.functions, |d| &d.name, &f.name))
                    .into_iter()
                    .flat_map(|d| {
                        d.environment.iter().flat_map(move |(k, t)| {
                            unencoded_userinfo(&format!("{address}: environment.{k}"), t)
                        })
                    }),
            )
            .collect(),
        Spec::Trigger(t) => t
            .unverified_function
            .iter()
            .map(|w| format!("{address}: {w}"))
            .collect(),
        _ => Vec::new(),
    }
}

/// The plan's warning for each value in a URL's userinfo that holds a character the URL reserves
/// there, unencoded (spec section 2, `|url`). Names the variable, never its value.
pub fn unencoded_userinfo(what: &str, t: &crate::stack::template::Template) -> Vec<String> {
    t.unencoded_userinfo
        .iter()
        .map(|v| {
            format!(
                "{what} puts ${{{v}}} in a URL's userinfo, and its value holds a character a URL reserves there (one of @ / ? # [ ] %), so the URL will not parse as meant: write ${{{v}|url}}"
            )
        })
        .collect()
}

/// What the plan should say about a desired node that is not a change (the live resource
/// differs from the file in a way the file accepts).
pub fn notes(address: &str, spec: &Spec, observed: Option<&Observed>) -> Vec<String> {
    match (spec, observed) {
        (Spec::DbInstance(s), Some(Observed::DbInstance(o))) => {
            db_instance::version_note(address, s, o)
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Whether a node of this key uses what it depends on (a migration connects to its instance),
/// not only their attributes: its step waits until they are [`Observed::ready`]. Every other
/// node starts as soon as the attributes it uses are known (a function needs the instance's
/// address, not its `available`).
pub fn uses_ready(key: &Key) -> bool {
    matches!(key, Key::Migration { .. } | Key::Seed(_))
}

/// Nodes whose steps the executor starts together when they are ready at the same time, as one
/// of its concurrent slots, so that the kind can send their writes in one call (a group's rules:
/// see [`core::batch`]). `None`: a step of its own.
pub fn batch_key(key: &Key) -> Option<String> {
    match key {
        Key::Rule { group, .. } => Some(format!("rules of {group}")),
        _ => None,
    }
}

impl Observed {
    /// The physical ids other resources use to point at this one.
    pub fn physical_ids(&self) -> Vec<String> {
        self.attrs()
            .into_iter()
            .filter(|(n, _)| matches!(*n, "id" | "arn"))
            .filter_map(|(_, v)| v)
            .collect()
    }
}

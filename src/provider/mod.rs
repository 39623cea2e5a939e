//! The one boundary between the engine and AWS. The engine asks a [`Provider`] to read the account
//! for a stack, to apply one operation to one node, and to wait for a node's attributes; it never
//! calls a kind's adapter itself. [`aws::AwsProvider`] implements it by dispatching to the kinds'
//! adapters; `fake::FakeProvider` (tests only) implements it in memory, deterministically.

pub mod aws;
#[cfg(test)]
pub mod fake;

use std::collections::BTreeMap;

use crate::error::Result;
use crate::plan::Change;
use crate::resources::{Found, Key, LiveEnv, Observed, Spec};
use crate::stack::Stack;

/// Everything the planner needs from AWS.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub env: LiveEnv,
    pub found: Vec<Found>,
}

/// What one operation works on: the stack and the account facts its specs were built from.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub stack: &'a Stack,
    pub env: &'a LiveEnv,
}

/// One operation on one node. A planned Replace is never sent as such: the engine turns it into
/// a `Delete` and a `Create` (or a `Create` alone) by the kind's replace policy.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    /// `existing`: what the plan found under this name that is not usable as it is.
    Create {
        spec: &'a Spec,
        existing: Option<&'a Observed>,
    },
    Update {
        spec: &'a Spec,
        observed: &'a Observed,
        change: &'a Change,
    },
    Adopt {
        spec: &'a Spec,
        observed: &'a Observed,
        change: &'a Change,
    },
    /// `replacing`: the spec created next, when this delete is half of a replace.
    Delete {
        observed: &'a Observed,
        replacing: Option<&'a Spec>,
    },
}

impl Op<'_> {
    /// A short name, for logs and test records.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Create { .. } => "create",
            Op::Update { .. } => "update",
            Op::Adopt { .. } => "adopt",
            Op::Delete { .. } => "delete",
        }
    }
}

/// Everything the engine needs from AWS.
// The executor polls these futures on its own task, so they need not be Send.
#[allow(async_fn_in_trait)]
pub trait Provider {
    /// Reads the account for `stack`: every kind at once. `db_endpoints`: `--db-endpoint`
    /// overrides, by instance identifier.
    async fn read(
        &self,
        stack: &Stack,
        db_endpoints: &BTreeMap<String, (String, u16)>,
    ) -> Result<Live>;

    /// Applies one operation; returns the node as it is afterwards (`None` once deleted).
    async fn apply(
        &self,
        scope: Scope<'_>,
        address: &str,
        key: &Key,
        op: Op<'_>,
    ) -> Result<Option<Observed>>;

    /// Waits until the node that exists as `observed` has the attributes `attrs` (a rerun finds
    /// an instance still `creating`, with no address yet); returns the node as it is then.
    async fn wait_for(
        &self,
        scope: Scope<'_>,
        address: &str,
        key: &Key,
        observed: &Observed,
        attrs: &[&str],
    ) -> Result<Observed>;
}

/// A provider lent out: what a [`crate::engine::session::Backend`] that owns its provider
/// hands to the executor.
impl<P: Provider> Provider for &P {
    async fn read(
        &self,
        stack: &Stack,
        db_endpoints: &BTreeMap<String, (String, u16)>,
    ) -> Result<Live> {
        (**self).read(stack, db_endpoints).await
    }

    async fn apply(
        &self,
        scope: Scope<'_>,
        address: &str,
        key: &Key,
        op: Op<'_>,
    ) -> Result<Option<Observed>> {
        (**self).apply(scope, address, key, op).await
    }

    async fn wait_for(
        &self,
        scope: Scope<'_>,
        address: &str,
        key: &Key,
        observed: &Observed,
        attrs: &[&str],
    ) -> Result<Observed> {
        (**self)
            .wait_for(scope, address, key, observed, attrs)
            .await
    }
}

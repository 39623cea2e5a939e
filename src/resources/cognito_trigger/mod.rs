//! Cognito triggers, set by read-modify-write of the whole pool. (Placeholder.)

pub mod aws;

use crate::plan::{Change, PlanError};
use crate::resources::{Key, LiveEnv, NodeDef, Spec as AnySpec};
use crate::stack::{Resolver, Stack};

#[derive(Clone, Debug)]
pub struct Spec {}
#[derive(Clone, Debug)]
pub struct Observed {}

pub fn nodes(_stack: &Stack) -> Vec<NodeDef> {
    Vec::new()
}
pub fn spec(_stack: &Stack, key: &Key, _r: &Resolver, _env: &LiveEnv) -> AnySpec {
    unreachable!("cognito_trigger::spec called for {key:?}")
}
pub fn diff(
    _a: &str,
    _s: Option<&Spec>,
    _o: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    Ok(None)
}

pub fn refs(_o: &Observed) -> Vec<String> {
    Vec::new()
}

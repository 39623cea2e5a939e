//! Cognito user pools this stack owns. (Placeholder.)

pub mod aws;

use crate::plan::{Change, PlanError};
use crate::resources::{Key, LiveEnv, NodeDef, Spec as AnySpec};
use crate::stack::{Resolver, Stack};

#[derive(Clone, Debug)]
pub struct Spec {}
#[derive(Clone, Debug)]
pub struct Observed {
    pub owned: bool,
    pub id: String,
    pub arn: String,
}

pub fn nodes(_stack: &Stack) -> Vec<NodeDef> {
    Vec::new()
}
pub fn spec(_stack: &Stack, key: &Key, _r: &Resolver, _env: &LiveEnv) -> AnySpec {
    unreachable!("user_pool::spec called for {key:?}")
}
pub fn diff(
    _a: &str,
    _s: Option<&Spec>,
    _o: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    Ok(None)
}

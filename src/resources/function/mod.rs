//! Lambda functions, their `auto` roles and the layers published from folders. (Placeholder.)

pub mod aws;

use crate::plan::{Change, PlanError};
use crate::resources::{Key, LiveEnv, NodeDef, Spec as AnySpec};
use crate::stack::{Resolver, Stack};

#[derive(Clone, Debug)]
pub struct RoleSpec {}
#[derive(Clone, Debug)]
pub struct RoleObserved {
    pub owned: bool,
    pub arn: String,
}
#[derive(Clone, Debug)]
pub struct LayerSpec {}
#[derive(Clone, Debug)]
pub struct LayerObserved {
    pub version_arn: String,
}
#[derive(Clone, Debug)]
pub struct Spec {}
#[derive(Clone, Debug)]
pub struct Observed {
    pub owned: bool,
    pub arn: String,
}

pub fn nodes(_stack: &Stack) -> Vec<NodeDef> {
    Vec::new()
}

pub fn spec(_stack: &Stack, key: &Key, _r: &Resolver, _env: &LiveEnv) -> AnySpec {
    unreachable!("function::spec called for {key:?}")
}

pub fn diff_role(
    _a: &str,
    _s: Option<&RoleSpec>,
    _o: Option<&RoleObserved>,
) -> Result<Option<Change>, PlanError> {
    Ok(None)
}
pub fn diff_layer(
    _a: &str,
    _s: Option<&LayerSpec>,
    _o: Option<&LayerObserved>,
) -> Result<Option<Change>, PlanError> {
    Ok(None)
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

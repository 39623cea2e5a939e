//! RDS DB instances. (Placeholder: the real kind is being written.)

pub mod aws;

use crate::plan::{Change, PlanError};
use crate::resources::{Key, LiveEnv, NodeDef, Spec as AnySpec};
use crate::stack::{Resolver, Stack};

#[derive(Clone, Debug)]
pub struct Spec {}

#[derive(Clone, Debug)]
pub struct Observed {
    pub owned: bool,
}

pub fn nodes(_stack: &Stack) -> Vec<NodeDef> {
    Vec::new()
}

pub fn spec(_stack: &Stack, key: &Key, _r: &Resolver, _env: &LiveEnv) -> AnySpec {
    unreachable!("db_instance::spec called for {key:?}")
}

pub fn diff(
    _address: &str,
    _spec: Option<&Spec>,
    _observed: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    Ok(None)
}

pub fn attrs(_o: &Observed) -> Vec<(&'static str, Option<String>)> {
    Vec::new()
}

pub fn refs(_o: &Observed) -> Vec<String> {
    Vec::new()
}

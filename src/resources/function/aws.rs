//! Lambda functions, roles and layers against Lambda and IAM. (Placeholder.)

use super::{LayerObserved, LayerSpec, Observed, RoleObserved, RoleSpec, Spec};
use crate::aws::Clients;
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::plan::Change;
use crate::resources::{Found, LiveEnv, Observed as AnyObserved};
use crate::stack::Stack;

pub async fn observe(_clients: &Clients, _stack: &Stack, _env: &LiveEnv) -> Result<Vec<Found>> {
    Ok(Vec::new())
}

pub async fn apply_role(
    _ctx: &Ctx<'_>,
    address: &str,
    _s: Option<&RoleSpec>,
    _o: Option<&RoleObserved>,
    _c: &Change,
) -> Result<Option<AnyObserved>> {
    Err(Error::Other(format!("{address}: not supported yet")))
}
pub async fn apply_layer(
    _ctx: &Ctx<'_>,
    address: &str,
    _s: Option<&LayerSpec>,
    _o: Option<&LayerObserved>,
    _c: &Change,
) -> Result<Option<AnyObserved>> {
    Err(Error::Other(format!("{address}: not supported yet")))
}
pub async fn apply(
    _ctx: &Ctx<'_>,
    address: &str,
    _s: Option<&Spec>,
    _o: Option<&Observed>,
    _c: &Change,
) -> Result<Option<AnyObserved>> {
    Err(Error::Other(format!("{address}: not supported yet")))
}

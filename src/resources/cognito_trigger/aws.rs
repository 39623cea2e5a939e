//! Cognito triggers against Cognito and Lambda. (Placeholder.)

use super::{Observed, Spec};
use crate::aws::Clients;
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::plan::Change;
use crate::resources::user_pool::aws::Pools;
use crate::resources::{Found, Observed as AnyObserved};
use crate::stack::Stack;

pub async fn observe(_clients: &Clients, _stack: &Stack, _pools: &Pools) -> Result<Vec<Found>> {
    Ok(Vec::new())
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

//! RDS DB instances against the RDS API. (Placeholder.)

use super::{Observed, Spec};
use crate::aws::Clients;
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::plan::Change;
use crate::resources::{Found, LiveEnv, Observed as AnyObserved};
use crate::stack::Stack;

pub async fn observe(_clients: &Clients, _stack: &Stack, _env: &LiveEnv) -> Result<Vec<Found>> {
    Ok(Vec::new())
}

pub async fn apply(
    _ctx: &Ctx<'_>,
    address: &str,
    _spec: Option<&Spec>,
    _observed: Option<&Observed>,
    _change: &Change,
) -> Result<Option<AnyObserved>> {
    Err(Error::Other(format!(
        "{address}: db instances are not supported yet"
    )))
}

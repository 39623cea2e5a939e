//! Cognito user pools against the Cognito API. (Placeholder.)

use super::{Observed, Spec};
use crate::aws::Clients;
use crate::engine::Ctx;
use crate::error::{Error, Result};
use crate::plan::Change;
use crate::resources::{Found, Observed as AnyObserved};
use crate::stack::Stack;

/// Every pool of the account as DescribeUserPool returned it, shared with the trigger reader.
#[derive(Clone, Debug, Default)]
pub struct Pools {}

pub async fn observe(_clients: &Clients, _stack: &Stack) -> Result<(Vec<Found>, Pools)> {
    Ok((Vec::new(), Pools::default()))
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

//! `deploy destroy`: what it reads (no database, no layer named by ARN) and the plan of the
//! deletes.

use super::Reads;
use crate::engine::execute::Report;
use crate::engine::scope::{destroy_read, uses_public_ip};
use crate::engine::session::{Backend, Session};
use crate::error::Result;
use crate::plan::build::Planned;
use crate::stack::Stack;

pub struct Options<'a> {
    pub targets: &'a [String],
}

/// What a destroy reads, and whether it needs the public IP.
pub fn reads(stack: &Stack) -> Reads {
    let read = destroy_read(stack);
    let need_ip = uses_public_ip(&read);
    Reads {
        stack: read,
        need_ip,
    }
}

/// The deletes; an empty plan when nothing carries the stack's tag.
pub fn plan<B: Backend>(session: &Session<B>, stack: &Stack, o: &Options) -> Result<Planned> {
    session.plan(stack, true, o.targets)
}

pub async fn execute<B: Backend>(session: &Session<B>, stack: &Stack, planned: Planned) -> Report {
    session.execute(stack, planned).await
}

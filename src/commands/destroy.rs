//! `deploy destroy`: deletes what carries the stack's tag, after asking.

use super::prompt::confirm;
use super::report::{finish, outcome, print_left_in_place};
use super::{Context, ExitCode, require_terminal};
use crate::cli::DestroyArgs;
use crate::error::{Error, Result};
use crate::ops::destroy::{self as op, Options};
use crate::plan::render::render;
use crate::stack::Secrets;

pub(super) async fn run(cx: &Context<'_>, args: &DestroyArgs) -> Result<ExitCode> {
    if !args.auto_approve {
        require_terminal("destroy")?;
    }
    // Destroy sends no secret anywhere, so CI can run it without any.
    let loaded = cx.load(Secrets::Optional)?;
    let stack = &loaded.stack;
    let reads = op::reads(stack);
    let session = cx
        .session(&loaded, &reads, Some(("destroy", args.lock_timeout)))
        .await?;
    let planned = op::plan(
        &session,
        stack,
        &Options {
            targets: &args.targets,
        },
    )?;
    if planned.plan.is_empty() {
        outln!(
            "Nothing to destroy: no resource carries the tag deploy:stack={}.",
            stack.name
        );
        session.log_calls();
        return Ok(0);
    }
    out!("{}", render(&planned.plan, cx.style));
    if !args.auto_approve && !confirm("destroy everything listed above").await? {
        return Err(Error::user("destroy cancelled; nothing was changed"));
    }
    let report = op::execute(&session, stack, planned).await;
    let ok = finish(&report, "destroy");
    if ok {
        print_left_in_place(stack, "Left in place");
    }
    session.log_calls();
    outcome(&report, ok, "destroy")
}

//! `deploy logs` and `deploy invoke`: the stack's functions.

use super::{Context, ExitCode};
use crate::cli::{InvokeArgs, LogsArgs};
use crate::error::Result;
use crate::stack::{self, Secrets};

pub(super) async fn logs(cx: &Context<'_>, args: &LogsArgs) -> Result<ExitCode> {
    stack::packages_not_needed();
    let stack = cx.load(Secrets::Optional)?.stack;
    crate::ops::logs::run(&stack, &cx.aws, &args.function, args.since, args.follow).await
}

pub(super) async fn invoke(cx: &Context<'_>, args: &InvokeArgs) -> Result<ExitCode> {
    stack::packages_not_needed();
    let stack = cx.load(Secrets::Optional)?.stack;
    crate::ops::invoke::run(&stack, &cx.aws, &args.function, args.event.as_deref()).await
}

//! `deploy logs` and `deploy invoke`: the stack's functions.

use super::{Context, ExitCode};
use crate::cli::{InvokeArgs, LogsArgs};
use crate::error::Result;
use crate::stack::{LoadOptions, Secrets};

/// These commands never read the functions' folders: a checkout whose layer is not built can
/// still use them.
pub(super) const NO_PACKAGES: LoadOptions = LoadOptions {
    secrets: Secrets::Optional,
    packages_needed: false,
};

pub(super) async fn logs(cx: &Context<'_>, args: &LogsArgs) -> Result<ExitCode> {
    let stack = cx.load(NO_PACKAGES)?.stack;
    crate::ops::logs::run(&stack, &cx.aws, &args.function, args.since, args.follow).await
}

pub(super) async fn invoke(cx: &Context<'_>, args: &InvokeArgs) -> Result<ExitCode> {
    let stack = cx.load(NO_PACKAGES)?.stack;
    crate::ops::invoke::run(&stack, &cx.aws, &args.function, args.event.as_deref()).await
}

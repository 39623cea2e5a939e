//! `deploy policy`: the IAM policy a stack (or a saved plan's adoption) needs.

use super::{Context, ExitCode};
use crate::cli::PolicyArgs;
use crate::error::{Error, Result};
use crate::stack::Secrets;

/// `--adopt FILE`: what adopting the saved plan's resources needs; no stack file is read.
pub(super) fn for_adopt(args: &PolicyArgs) -> Result<ExitCode> {
    let path = args.adopt.as_deref().expect("matched");
    let (saved, _) = crate::ops::read_saved(path)?;
    let policy = crate::policy::for_adopt(&saved, &args.account)
        .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
    out!("{}", policy.to_text());
    Ok(0)
}

pub(super) fn run(cx: &Context, args: &PolicyArgs) -> Result<ExitCode> {
    let stack = cx.load(Secrets::Optional)?.stack;
    let target = crate::policy::Target {
        account: args.account.clone(),
        region: stack
            .region
            .clone()
            .or_else(|| cx.global.region.clone())
            .unwrap_or_else(|| "*".into()),
    };
    let (policy, warnings) = crate::policy::for_stack(&stack, &target);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    out!("{}", policy.to_text());
    Ok(0)
}

//! `deploy unlock`: breaks the stack's run lock.

use super::{Context, ExitCode};
use crate::aws::Clients;
use crate::cli::UnlockArgs;
use crate::error::Result;
use crate::stack::Secrets;

pub(super) async fn run(cx: &Context<'_>, args: &UnlockArgs) -> Result<ExitCode> {
    let stack = cx.load(Secrets::Optional)?.stack;
    let clients = Clients::new(&cx.aws, stack.region.as_deref()).await?;
    let region = clients.region.clone();
    match crate::lock::unlock(&clients.ssm, &stack.name, &region, args.lock_id.as_deref()).await? {
        None => outln!("No lock: stack `{}` in {region} is not locked.", stack.name),
        Some(h) => outln!(
            "Broke the lock of stack `{}` in {region}, held by {}.",
            stack.name,
            h.describe(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            )
        ),
    }
    Ok(0)
}

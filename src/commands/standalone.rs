//! Commands that need no stack file, or make do without one: `schema`, `completions`, and the
//! hidden `complete` the completion scripts call.

use super::{Context, ExitCode, load};
use crate::cli::{CompleteArgs, CompletionsArgs};
use crate::error::{Error, Result};
use crate::stack;

pub(super) fn schema() -> Result<ExitCode> {
    let schema = stack::schema::json_schema();
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).map_err(|e| Error::internal(None, e.to_string()))?
    );
    Ok(0)
}

pub(super) fn completions(args: &CompletionsArgs) -> Result<ExitCode> {
    print!("{}", crate::completions::script(args.shell));
    Ok(0)
}

pub(super) fn complete(cx: &Context, args: &CompleteArgs) -> Result<ExitCode> {
    // Quiet whatever happens: a completion must never print an error into the prompt.
    if let Ok(stack) = load(&cx.global.file, stack::Secrets::Optional) {
        for w in crate::completions::words(&stack, args.what) {
            println!("{w}");
        }
    }
    Ok(0)
}

//! `deploy show FILE`: a saved plan, as it would be applied.

use super::{Context, ExitCode};
use crate::cli::ShowArgs;
use crate::error::Result;
use crate::plan::render::render;

pub(super) fn run(cx: &Context, args: &ShowArgs) -> Result<ExitCode> {
    let (saved, digest) = crate::ops::read_saved(&args.plan_file)?;
    // On stderr: stdout is the plan (and stays valid JSON with --json).
    eprintln!("digest: {digest}");
    if args.json {
        out!("{}", crate::plan::json::render(&saved.plan));
    } else {
        out!("{}", render(&saved.plan, cx.style));
    }
    Ok(0)
}

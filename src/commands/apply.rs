//! `deploy apply`: plans, asks, and executes; `deploy apply FILE` executes a saved plan, exactly,
//! without asking.

use std::path::Path;

use super::prompt::confirm;
use super::report::{finish, outcome, print_outputs};
use super::{Context, ExitCode, require_terminal};
use crate::cli::ApplyArgs;
use crate::engine::session::{Backend, Session};
use crate::error::{Error, Result};
use crate::ops::apply::{self as op, Options};
use crate::plan::build::Planned;
use crate::plan::render::render;
use crate::plan::saved::{self, SavedPlan};
use crate::stack::{Secrets, Stack};

pub(super) async fn run(cx: &Context<'_>, args: &ApplyArgs) -> Result<ExitCode> {
    // Refuse before doing anything when a confirmation could never be given. A saved plan is
    // applied without one: it was reviewed when it was made (as Terraform's `apply PLANFILE`).
    if !args.auto_approve && args.plan_file.is_none() {
        require_terminal("apply")?;
    }
    if let Some(path) = &args.plan_file {
        return apply_saved(cx, args, path).await;
    }
    let loaded = cx.load(Secrets::Required)?;
    let stack = &loaded.stack;
    let o = Options {
        targets: &args.targets,
        adopt: args.adopt,
    };
    let reads = op::reads(stack, &o);
    let session = cx
        .session(&loaded, &reads, Some(("apply", args.lock_timeout)))
        .await?;
    let planned = op::plan(&session, stack, &o)?;
    out!("{}", render(&planned.plan, cx.style));
    if op::nothing_to_do(&planned) {
        print_outputs(stack, &planned.resolver);
        session.log_calls();
        return Ok(0);
    }
    op::check_adopt(&planned, &o)?;
    if !args.auto_approve
        && op::needs_confirmation(&planned)
        && !confirm("apply these changes").await?
    {
        return Err(Error::user("apply cancelled; nothing was changed"));
    }
    execute(&session, stack, planned).await
}

/// `deploy apply FILE`: the stack loaded with the variables the plan was made with, then exactly
/// the saved plan, or nothing when anything it was made from changed or the file is not what
/// planning again from its own inputs gives.
async fn apply_saved(cx: &Context<'_>, args: &ApplyArgs, path: &Path) -> Result<ExitCode> {
    let (file, digest) = crate::ops::read_saved(path)?;
    // Before the stack is loaded or AWS read: another file than the one reviewed gets nothing
    // from this run.
    if let Some(expected) = args.expect_digest.as_deref()
        && !saved::digest_matches(&digest, expected)
    {
        return Err(Error::refused(format!(
            "{} has digest {digest}, not the expected {}, so nothing was changed: it is not the plan that was reviewed. Run `deploy plan --out {}` again and review the new plan.",
            path.display(),
            expected.trim(),
            path.display()
        )));
    }
    let process = |name: &str| std::env::var(name).ok();
    let loaded = cx.load_with(Secrets::Required, &|n| file.variables.lookup(n, &process))?;
    note_overridden(path, &file, &process);
    let stack = &loaded.stack;
    let (session, planned) = op::saved(
        path,
        &file,
        stack,
        &cx.aws,
        &loaded.settings,
        &loaded.db_endpoints,
        args.lock_timeout,
    )
    .await?;
    out!("{}", render(&planned.plan, cx.style));
    if op::nothing_to_do(&planned) {
        print_outputs(stack, &planned.resolver);
        session.log_calls();
        return Ok(0);
    }
    op::check_saved_adopt(path, &file, &planned)?;
    // No question: the saved plan was the review, and it is, by the checks above, what runs.
    execute(&session, stack, planned).await
}

/// Says which recorded variables the environment now sets otherwise (the plan's values win).
fn note_overridden(path: &Path, file: &SavedPlan, process: &dyn Fn(&str) -> Option<String>) {
    let overridden = file.variables.overridden(process);
    if overridden.is_empty() {
        return;
    }
    let one = overridden.len() == 1;
    eprintln!(
        "note: {} {} set differently now than when {} was made; the plan's {} used, as it showed",
        overridden.join(", "),
        if one { "is" } else { "are" },
        path.display(),
        if one { "value is" } else { "values are" },
    );
}

async fn execute<B: Backend>(
    session: &Session<B>,
    stack: &Stack,
    planned: Planned,
) -> Result<ExitCode> {
    let report = op::execute(session, stack, planned).await;
    let ok = finish(&report, "apply");
    if ok {
        print_outputs(stack, &report.resolver);
    }
    session.log_calls();
    outcome(&report, ok, "apply")
}

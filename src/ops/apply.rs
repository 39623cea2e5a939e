//! `deploy apply`: the plan to apply, the checks before any write (adoption, a saved plan's
//! identity, staleness and faithfulness), and the execution.

use std::path::Path;
use std::time::Duration;

use super::Reads;
use crate::aws::AwsOptions;
use crate::engine::execute::Report;
use crate::engine::scope::{for_targets, uses_public_ip_in};
use crate::engine::session::{AwsBackend, Backend, DbEndpoints, Session};
use crate::error::{Error, Result};
use crate::plan::build::Planned;
use crate::plan::saved::SavedPlan;
use crate::settings::Settings;
use crate::stack::{Stack, Template};

pub struct Options<'a> {
    pub targets: &'a [String],
    /// `--adopt`: take over what exists under the stack's names without its tag.
    pub adopt: bool,
}

/// What an apply reads, and whether it needs the public IP.
pub fn reads(stack: &Stack, o: &Options) -> Reads {
    Reads {
        stack: for_targets(stack, o.targets),
        // The outputs are printed after the apply, whatever the targets.
        need_ip: uses_public_ip_in(stack, o.targets)
            || stack.outputs.values().any(Template::uses_public_ip),
    }
}

/// The plan to apply.
pub fn plan<B: Backend>(session: &Session<B>, stack: &Stack, o: &Options) -> Result<Planned> {
    session.plan(stack, false, o.targets)
}

/// Nothing to change and nothing to wait for: the apply ends with the plan.
pub fn nothing_to_do(planned: &Planned) -> bool {
    planned.plan.is_empty() && planned.plan.waiting.is_empty()
}

/// Only waiting (an instance still creating) changes nothing: no question to ask.
pub fn needs_confirmation(planned: &Planned) -> bool {
    !planned.plan.is_empty()
}

/// Refuses a plan that adopts without `--adopt`.
pub fn check_adopt(planned: &Planned, o: &Options) -> Result<()> {
    if planned.plan.needs_adopt.is_empty() || o.adopt {
        return Ok(());
    }
    let one = planned.plan.needs_adopt.len() == 1;
    Err(Error::user(format!(
        "{} already {} without this stack's tag; nothing was changed. Check that {} the {} you mean, then run `deploy apply --adopt` to tag and manage {}",
        planned.plan.needs_adopt.join(", "),
        if one { "exists" } else { "exist" },
        if one { "it is" } else { "they are" },
        if one { "resource" } else { "resources" },
        if one { "it" } else { "them" }
    )))
}

pub async fn execute<B: Backend>(session: &Session<B>, stack: &Stack, planned: Planned) -> Report {
    session.execute(stack, planned).await
}

/// `deploy apply FILE`, up to the execution: the session (locked, read with the file's public
/// IP) and exactly the saved plan, or an error when anything it was made from changed or the
/// file is not what planning again from its own inputs gives.
pub async fn saved(
    path: &Path,
    file: &SavedPlan,
    stack: &Stack,
    aws: &AwsOptions,
    settings: &Settings,
    db_endpoints: &DbEndpoints,
    lock_timeout: Duration,
) -> Result<(Session<AwsBackend>, Planned)> {
    let named = |m: String| Error::user(format!("{} {m}", path.display()));
    // The stack is named in the file: refuse another stack's plan before reading AWS.
    if file.stack != stack.name {
        return Err(named(file.check_identity(stack, "").unwrap_err()));
    }
    let read = for_targets(stack, &file.targets);
    let session = Session::start_with(
        &read,
        aws,
        settings,
        db_endpoints,
        Some(file.public_ip.clone()),
        Some(("apply", lock_timeout)),
    )
    .await?;
    file.check_identity(stack, &session.live.env.region)
        .map_err(named)?;
    let planned = check_saved(&session, path, file, stack)?;
    Ok((session, planned))
}

/// The saved plan, planned again over `session`, when it is still what that gives.
pub fn check_saved<B: Backend>(
    session: &Session<B>,
    path: &Path,
    file: &SavedPlan,
    stack: &Stack,
) -> Result<Planned> {
    let refused = |why: &str, lines: &[String]| {
        session.log_calls();
        Error::refused(format!(
            "{} {why}, so nothing was changed:\n{}\nRun `deploy plan --out {}` again and review the new plan.",
            path.display(),
            lines.join("\n"),
            path.display()
        ))
    };
    let stale = file.stale(stack, &session.live.found, &session.live.env);
    if !stale.is_empty() {
        let lines: Vec<String> = stale.iter().map(|s| format!("  stale: {s}")).collect();
        return Err(refused("is stale", &lines));
    }
    // The file says what it does, but anyone who could write it could have changed a recorded
    // variable, an attribute or a step and not the display: plan again from its own inputs (the
    // stack was loaded with its variables, the session uses its public IP) and accept the file
    // only if it is that plan. The planner's checks (ownership, --adopt, deletion protection)
    // run again on the way.
    let planned = match session.plan(stack, false, &file.targets) {
        Ok(p) => p,
        Err(e) => {
            let lines: Vec<String> = e.to_string().lines().map(|l| format!("  {l}")).collect();
            return Err(refused(
                "cannot be applied: planning again from its inputs fails",
                &lines,
            ));
        }
    };
    let differences = file.differences(&planned);
    if !differences.is_empty() {
        let lines: Vec<String> = differences
            .iter()
            .map(|d| format!("  differs: {d}"))
            .collect();
        return Err(refused(
            "is not what planning again from its own inputs gives (the file was edited, or what it was planned from changed)",
            &lines,
        ));
    }
    Ok(planned)
}

/// Refuses a saved plan that adopts but was made without `--adopt`.
pub fn check_saved_adopt(path: &Path, file: &SavedPlan, planned: &Planned) -> Result<()> {
    if planned.plan.needs_adopt.is_empty() || file.adopt {
        return Ok(());
    }
    Err(Error::user(format!(
        "this plan adopts {} but was made without --adopt; nothing was changed. Check that they are the resources you mean, then run `deploy plan --adopt --out {}`",
        planned.plan.needs_adopt.join(", "),
        path.display()
    )))
}

//! `deploy plan`: prints what apply (or destroy) would do; `--out` saves it to apply as it is.

use super::report::print_left_in_place;
use super::{Context, ExitCode, Loaded};
use crate::cli::PlanArgs;
use crate::error::{Error, Result};
use crate::ops::plan::{self as op, Options, Save};
use crate::plan::render::render;
use crate::plan::saved;
use crate::stack::{self, Secrets};

pub(super) async fn run(cx: &Context<'_>, args: &PlanArgs) -> Result<ExitCode> {
    let process = |name: &str| std::env::var(name).ok();
    let recorder = saved::Recorder::new(&process);
    let loaded = load(cx, args, &recorder)?;
    let stack = &loaded.stack;
    if args.destroy && args.out.is_some() {
        return Err(Error::user(
            "plan --destroy cannot be saved with --out: `deploy destroy` shows the same plan and asks before it deletes anything",
        ));
    }
    if args.partial && args.out.is_some() {
        return Err(Error::user(
            "plan --partial cannot be saved with --out: it read no secret and no database, so it is not a plan anything could apply. Save the plan to apply with `deploy plan --out FILE`, where the secrets are set and the database can be reached",
        ));
    }
    let o = Options {
        destroy: args.destroy,
        partial: args.partial,
        targets: &args.targets,
    };
    let reads = op::reads(stack, &o);
    if reads.need_ip && std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        eprintln!(
            "warning: ${{public_ip}} is resolved on a CI runner (CI=true): it is the runner's own address, shared and recycled, and a plan saved here and applied by another runner opens the stack to this one. Use a fixed CIDR instead, e.g. ${{env:OFFICE_CIDR}}"
        );
    }
    let session = cx.session(&loaded, &reads, None).await?;
    let planned = op::plan(&session, stack, &reads.stack, &o)?;
    tracing::debug!("planned");
    if args.json {
        out!("{}", crate::plan::json::render(&planned.plan));
    } else {
        out!("{}", render(&planned.plan, cx.style));
        if args.destroy {
            print_left_in_place(stack, "Destroy would leave in place");
        }
    }
    tracing::debug!("rendered");
    if let Some(path) = &args.out {
        let save = Save {
            targets: &args.targets,
            adopt: args.adopt,
            variables: recorder.variables(
                &saved::secret_names(stack),
                &crate::ops::secret_values(stack),
            ),
        };
        let digest = op::save(&session, stack, &planned, path, save)?;
        // On stderr: stdout is the plan (and stays valid JSON with --json).
        eprintln!(
            "Saved the plan to {p}. Apply exactly this plan with `deploy apply {p} --expect-digest {digest}`.\ndigest: {digest}",
            p = path.display()
        );
    }
    if !args.adopt {
        note_adopt(&planned.plan.needs_adopt);
    }
    session.log_calls();
    Ok(if args.detailed_exitcode && !planned.plan.is_empty() {
        2
    } else {
        0
    })
}

/// Loads the stack file: without secrets for `--destroy` and `--partial` (which reads none even
/// when set), else recording the variables read, for `--out`.
fn load(cx: &Context, args: &PlanArgs, recorder: &saved::Recorder) -> Result<Loaded> {
    let secrets = if args.destroy || args.partial {
        Secrets::Optional
    } else {
        Secrets::Required
    };
    if !args.partial {
        return cx.load_with(secrets, &|n| recorder.lookup(n));
    }
    // Loaded once to learn the secrets' names, then again without their values (they load as
    // not read).
    let names = saved::secret_names(&stack::load_with_env(
        &cx.global.file,
        &|n| std::env::var(n).ok(),
        secrets,
    )?);
    cx.load_with(secrets, &|n| {
        (!names.contains(n))
            .then(|| std::env::var(n).ok())
            .flatten()
    })
}

/// What exists under the stack's names without its tag: `apply --adopt` would take it over.
fn note_adopt(adopts: &[String]) {
    if adopts.is_empty() {
        return;
    }
    let one = adopts.len() == 1;
    eprintln!(
        "note: {} {} without this stack's tag; `deploy apply --adopt` would take {} over",
        adopts.join(", "),
        if one { "exists" } else { "exist" },
        if one { "it" } else { "them" }
    );
}

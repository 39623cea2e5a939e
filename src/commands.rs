//! Each command: load, read live state, plan, and (for apply/destroy) execute. Thin over the
//! library; all printing of results happens here.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use crate::aws::{AwsOptions, Clients};
use crate::cli::{Cli, Command, GraphFormat, OutputFormat};
use crate::engine::execute::{Report, execute_until};
use crate::error::{Error, Result};
use crate::plan::build::{Input, Planned, plan};
use crate::plan::render::{Style, render};
use crate::plan::saved;
use crate::progress::Progress;
use crate::provider::aws::AwsProvider;
use crate::provider::{Live, Provider, Scope};
use crate::settings::Settings;
use crate::stack::{self, Stack, Template};

/// `print!` through the secret scrubber: the plan goes to stdout and must not leak a secret
/// that reached it some other way (a live value holding one). `deploy output`, which prints
/// secrets on request, uses plain `println!`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = crate::redact::scrub(&format!($($arg)*));
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }};
}

macro_rules! outln {
    ($($arg:tt)*) => {{
        out!("{}\n", format_args!($($arg)*))
    }};
}

/// What the process should exit with.
pub type ExitCode = u8;

/// Runs the command. `apply` and `destroy` hold the stack's lock and handle Ctrl-C: whatever way
/// the command ends (done, failed, interrupted, a panic unwinding), the lock is released here.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    use futures::FutureExt;
    if matches!(cli.command, Command::Apply(_) | Command::Destroy(_)) {
        crate::interrupt::install();
    }
    let body = std::panic::AssertUnwindSafe(async {
        tokio::select! {
            r = run_command(cli) => r,
            // Interrupted before the executor started (reading, planning, at the prompt): nothing
            // was changed. During execution the executor handles it and prints the summary.
            () = crate::interrupt::before_execute() => {
                eprintln!("\ninterrupted: nothing was changed");
                Ok(INTERRUPTED)
            }
        }
    })
    .catch_unwind()
    .await;
    crate::lock::release_held().await;
    match body {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: ExitCode = 130;

async fn run_command(cli: Cli) -> Result<ExitCode> {
    let style = Style {
        color: !cli.global.no_color
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal(),
    };
    let aws = AwsOptions {
        profile: cli.global.profile.clone(),
        region: cli.global.region.clone(),
        endpoint_url: cli.global.endpoint_url.clone(),
    };
    // Commands that need no stack file.
    match &cli.command {
        Command::Schema => {
            let schema = stack::schema::json_schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).map_err(|e| Error::Other(e.to_string()))?
            );
            return Ok(0);
        }
        Command::Completions(args) => {
            print!("{}", crate::completions::script(args.shell));
            return Ok(0);
        }
        Command::Complete(args) => {
            // Quiet whatever happens: a completion must never print an error into the prompt.
            if let Ok(stack) = load(&cli.global.file, stack::Secrets::Optional) {
                for w in crate::completions::words(&stack, args.what) {
                    println!("{w}");
                }
            }
            return Ok(0);
        }
        Command::Policy(args) if args.adopt.is_some() => {
            let path = args.adopt.as_deref().expect("matched");
            let (saved, _) = read_saved(path)?;
            let policy = crate::policy::for_adopt(&saved, &args.account)
                .map_err(|e| Error::User(format!("{}: {e}", path.display())))?;
            out!("{}", policy.to_text());
            return Ok(0);
        }
        Command::Show(args) => {
            let (saved, digest) = read_saved(&args.plan_file)?;
            // On stderr: stdout is the plan (and stays valid JSON with --json).
            eprintln!("digest: {digest}");
            if args.json {
                out!("{}", crate::plan::json::render(&saved.plan));
            } else {
                out!("{}", render(&saved.plan, style));
            }
            return Ok(0);
        }
        _ => {}
    }
    // Refuse before doing anything when a confirmation could never be given. A saved plan is
    // applied without one: it was reviewed when it was made (as Terraform's `apply PLANFILE`).
    let needs_prompt = match &cli.command {
        Command::Apply(a) => !a.auto_approve && a.plan_file.is_none(),
        Command::Destroy(d) => !d.auto_approve,
        _ => false,
    };
    if needs_prompt && !std::io::stdin().is_terminal() {
        return Err(Error::User(format!(
            "stdin is not a terminal, so there is no one to confirm: pass --auto-approve to {} without asking",
            if matches!(cli.command, Command::Destroy(_)) {
                "destroy"
            } else {
                "apply"
            }
        )));
    }
    // validate and destroy send no secret anywhere, so CI can run them without any; output needs
    // only the secrets of the outputs it prints (checked there).
    let secrets = match &cli.command {
        Command::Validate
        | Command::Destroy(_)
        | Command::Graph(_)
        | Command::Unlock(_)
        | Command::Policy(_)
        | Command::Output(_)
        | Command::Logs(_)
        | Command::Invoke(_) => stack::Secrets::Optional,
        // Each checks the one password it needs (--url may take PGPASSWORD instead).
        Command::Migrate(_) | Command::Psql(_) => stack::Secrets::Optional,
        Command::Plan(a) if a.destroy || a.partial => stack::Secrets::Optional,
        _ => stack::Secrets::Required,
    };
    // `apply PLANFILE` loads the stack file with the variables the plan was made with.
    let saved_plan = match &cli.command {
        Command::Apply(a) => match a.plan_file.as_deref() {
            Some(path) => {
                let (file, digest) = read_saved(path)?;
                // Before the stack is loaded or AWS read: another file than the one reviewed
                // gets nothing from this run.
                if let Some(expected) = a.expect_digest.as_deref()
                    && !saved::digest_matches(&digest, expected)
                {
                    return Err(Error::Refused(format!(
                        "{} has digest {digest}, not the expected {}, so nothing was changed: it is not the plan that was reviewed. Run `deploy plan --out {}` again and review the new plan.",
                        path.display(),
                        expected.trim(),
                        path.display()
                    )));
                }
                Some(file)
            }
            None => None,
        },
        _ => None,
    };
    let secrets = stack::LoadOptions {
        secrets,
        packages_needed: !matches!(
            cli.command,
            Command::Migrate(_) | Command::Psql(_) | Command::Logs(_) | Command::Invoke(_)
        ),
    };
    let process = |name: &str| std::env::var(name).ok();
    let recorder = saved::Recorder::new(&process);
    let stack = match &saved_plan {
        Some(file) => load_with(&cli.global.file, secrets, &|n| {
            file.variables.lookup(n, &process)
        })?,
        // A partial plan reads no secret even when one is set: loaded once to learn the names,
        // then again without their values (they load as not read).
        None if matches!(&cli.command, Command::Plan(a) if a.partial) => {
            let names = saved::secret_names(&stack::load_with_env(
                &cli.global.file,
                &|n| std::env::var(n).ok(),
                secrets,
            )?);
            load_with(&cli.global.file, secrets, &|n| {
                (!names.contains(n))
                    .then(|| std::env::var(n).ok())
                    .flatten()
            })?
        }
        None => load_with(&cli.global.file, secrets, &|n| recorder.lookup(n))?,
    };
    tracing::debug!("stack loaded");
    let settings = Settings::from_env(cli.global.db_insecure_plaintext);
    let mut db_endpoints = BTreeMap::new();
    for (id, host, port) in &cli.global.db_endpoints {
        if !stack.db_instances.contains_key(id) {
            return Err(Error::User(format!(
                "--db-endpoint {id}=...: {} has no db instance `{id}` (declared: {})",
                stack.file.display(),
                stack
                    .db_instances
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        db_endpoints.insert(id.clone(), (host.clone(), *port));
    }
    match &cli.command {
        Command::Validate => {
            let errors = crate::resources::check(&stack);
            if !errors.is_empty() {
                return Err(Error::Plan {
                    file: stack.file.display().to_string(),
                    errors,
                });
            }
            outln!("{}: valid ({})", stack.file.display(), describe(&stack));
            Ok(0)
        }
        Command::Graph(args) => {
            let nodes: Vec<crate::plan::draw::Node> = crate::resources::nodes(&stack)
                .into_iter()
                .map(|n| (n.address, n.deps))
                .collect();
            match args.format {
                GraphFormat::Dot => out!("{}", crate::plan::draw::dot(&stack.name, &nodes)),
                GraphFormat::Mermaid => out!("{}", crate::plan::draw::mermaid(&nodes)),
            }
            Ok(0)
        }
        Command::Policy(args) => {
            let target = crate::policy::Target {
                account: args.account.clone(),
                region: stack
                    .region
                    .clone()
                    .or_else(|| cli.global.region.clone())
                    .unwrap_or_else(|| "*".into()),
            };
            let (policy, warnings) = crate::policy::for_stack(&stack, &target);
            for w in warnings {
                eprintln!("warning: {w}");
            }
            out!("{}", policy.to_text());
            Ok(0)
        }
        Command::Schema | Command::Completions(_) | Command::Complete(_) | Command::Show(_) => {
            unreachable!("handled before loading")
        }
        Command::Migrate(args) => {
            crate::ops::migrate::run(
                &stack,
                crate::ops::migrate::Options {
                    url: args.url.as_deref(),
                    instance: args.instance.as_deref(),
                    status: args.status,
                    aws: &aws,
                    db_endpoints: &db_endpoints,
                    db: &settings.db,
                    pgpassword: std::env::var("PGPASSWORD").ok(),
                },
            )
            .await
        }
        Command::Psql(args) => {
            crate::ops::psql::run(
                &stack,
                crate::ops::psql::Options {
                    instance: args.instance.as_deref(),
                    url: args.url.as_deref(),
                    psql_args: &args.psql_args,
                    aws: &aws,
                    db_endpoints: &db_endpoints,
                    db: &settings.db,
                },
            )
            .await
        }
        Command::Logs(args) => {
            crate::ops::logs::run(&stack, &aws, &args.function, args.since, args.follow).await
        }
        Command::Invoke(args) => {
            crate::ops::invoke::run(&stack, &aws, &args.function, args.event.as_deref()).await
        }
        Command::Unlock(args) => {
            let clients = Clients::new(&aws, stack.region.as_deref()).await?;
            let region = clients.region.clone();
            match crate::lock::unlock(&clients.ssm, &stack.name, &region, args.lock_id.as_deref())
                .await?
            {
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
        Command::Plan(args) => {
            if args.destroy && args.out.is_some() {
                return Err(Error::User(
                    "plan --destroy cannot be saved with --out: `deploy destroy` shows the same plan and asks before it deletes anything".into(),
                ));
            }
            if args.partial && args.out.is_some() {
                return Err(Error::User(
                    "plan --partial cannot be saved with --out: it read no secret and no database, so it is not a plan anything could apply. Save the plan to apply with `deploy plan --out FILE`, where the secrets are set and the database can be reached".into(),
                ));
            }
            let read = if args.destroy {
                destroy_read(&stack)
            } else if args.partial {
                // No database is connected to: migrations and seeds are left out of the plan
                // (and listed as not read).
                without_migrations(&for_targets(&stack, &args.targets), |_| false)
            } else {
                for_targets(&stack, &args.targets)
            };
            let need_ip = if args.destroy {
                uses_public_ip(&read)
            } else {
                uses_public_ip_in(&stack, &args.targets)
            };
            if need_ip && std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
                eprintln!(
                    "warning: ${{public_ip}} is resolved on a CI runner (CI=true): it is the runner's own address, shared and recycled, and a plan saved here and applied by another runner opens the stack to this one. Use a fixed CIDR instead, e.g. ${{env:OFFICE_CIDR}}"
                );
            }
            let session =
                Session::start(&read, &aws, &settings, &db_endpoints, need_ip, None).await?;
            let mut planned = if args.partial {
                session.plan(&read, false, &args.targets)?
            } else {
                session.plan(&stack, args.destroy, &args.targets)?
            };
            if args.partial {
                mark_partial(&stack, &mut planned.plan);
            }
            tracing::debug!("planned");
            if args.json {
                out!("{}", crate::plan::json::render(&planned.plan));
            } else {
                out!("{}", render(&planned.plan, style));
                if args.destroy {
                    print_left_in_place(&stack, "Destroy would leave in place");
                }
            }
            tracing::debug!("rendered");
            if let Some(path) = &args.out {
                let cx = saved::Context {
                    stack: &stack,
                    found: &session.live.found,
                    env: &session.live.env,
                    public_ip: session.public_ip.clone(),
                    targets: &args.targets,
                    adopt: args.adopt,
                    variables: recorder
                        .variables(&saved::secret_names(&stack), &self::secrets(&stack)),
                };
                let file = saved::save(&planned, &cx).map_err(|e| {
                    Error::User(format!("cannot fingerprint the stack's folders: {e}"))
                })?;
                let text = saved::to_text(&file);
                std::fs::write(path, &text).map_err(|e| {
                    Error::User(format!("cannot write the plan to {}: {e}", path.display()))
                })?;
                // On stderr: stdout is the plan (and stays valid JSON with --json).
                let digest = saved::digest(text.as_bytes());
                eprintln!(
                    "Saved the plan to {p}. Apply exactly this plan with `deploy apply {p} --expect-digest {digest}`.\ndigest: {digest}",
                    p = path.display()
                );
            }
            if !planned.plan.needs_adopt.is_empty() && !args.adopt {
                eprintln!(
                    "note: {} {} without this stack's tag; `deploy apply --adopt` would take {} over",
                    planned.plan.needs_adopt.join(", "),
                    if planned.plan.needs_adopt.len() == 1 {
                        "exists"
                    } else {
                        "exist"
                    },
                    if planned.plan.needs_adopt.len() == 1 {
                        "it"
                    } else {
                        "them"
                    }
                );
            }
            session.log_calls();
            Ok(if args.detailed_exitcode && !planned.plan.is_empty() {
                2
            } else {
                0
            })
        }
        Command::Apply(args) => {
            if let (Some(path), Some(file)) = (&args.plan_file, saved_plan) {
                let overridden = file.variables.overridden(&process);
                if !overridden.is_empty() {
                    eprintln!(
                        "note: {} {} set differently now than when {} was made; the plan's {} used, as it showed",
                        overridden.join(", "),
                        if overridden.len() == 1 { "is" } else { "are" },
                        path.display(),
                        if overridden.len() == 1 {
                            "value is"
                        } else {
                            "values are"
                        },
                    );
                }
                return apply_saved(
                    path,
                    file,
                    &stack,
                    &aws,
                    &settings,
                    &db_endpoints,
                    args.lock_timeout,
                    style,
                )
                .await;
            }
            let read = for_targets(&stack, &args.targets);
            // The outputs are printed after the apply, whatever the targets.
            let need_ip = uses_public_ip_in(&stack, &args.targets)
                || stack.outputs.values().any(Template::uses_public_ip);
            let session = Session::start(
                &read,
                &aws,
                &settings,
                &db_endpoints,
                need_ip,
                Some(("apply", args.lock_timeout)),
            )
            .await?;
            let planned = session.plan(&stack, false, &args.targets)?;
            out!("{}", render(&planned.plan, style));
            if planned.plan.is_empty() && planned.plan.waiting.is_empty() {
                print_outputs(&stack, &planned.resolver);
                session.log_calls();
                return Ok(0);
            }
            if !planned.plan.needs_adopt.is_empty() && !args.adopt {
                let one = planned.plan.needs_adopt.len() == 1;
                return Err(Error::User(format!(
                    "{} already {} without this stack's tag; nothing was changed. Check that {} the {} you mean, then run `deploy apply --adopt` to tag and manage {}",
                    planned.plan.needs_adopt.join(", "),
                    if one { "exists" } else { "exist" },
                    if one { "it is" } else { "they are" },
                    if one { "resource" } else { "resources" },
                    if one { "it" } else { "them" }
                )));
            }
            // Only waiting (an instance still creating) changes nothing: no question to ask.
            if !args.auto_approve
                && !planned.plan.is_empty()
                && !confirm("apply these changes").await?
            {
                return Err(Error::User("apply cancelled; nothing was changed".into()));
            }
            let report = session.execute(&stack, planned).await;
            let ok = finish(&report, "apply");
            if ok {
                print_outputs(&stack, &report.resolver);
            }
            session.log_calls();
            if report.interrupted {
                Ok(INTERRUPTED)
            } else if ok {
                Ok(0)
            } else {
                Err(failed(&report, "apply"))
            }
        }
        Command::Destroy(args) => {
            let observed = destroy_read(&stack);
            let session = Session::start(
                &observed,
                &aws,
                &settings,
                &db_endpoints,
                uses_public_ip(&observed),
                Some(("destroy", args.lock_timeout)),
            )
            .await?;
            let planned = session.plan(&stack, true, &args.targets)?;
            if planned.plan.is_empty() {
                outln!(
                    "Nothing to destroy: no resource carries the tag deploy:stack={}.",
                    stack.name
                );
                session.log_calls();
                return Ok(0);
            }
            out!("{}", render(&planned.plan, style));
            if !args.auto_approve && !confirm("destroy everything listed above").await? {
                return Err(Error::User("destroy cancelled; nothing was changed".into()));
            }
            let report = session.execute(&stack, planned).await;
            let ok = finish(&report, "destroy");
            if ok {
                print_left_in_place(&stack, "Left in place");
            }
            session.log_calls();
            if report.interrupted {
                Ok(INTERRUPTED)
            } else if ok {
                Ok(0)
            } else {
                Err(failed(&report, "destroy"))
            }
        }
        Command::Output(args) => {
            // Outputs name attributes of resources, never migration state: reading the database
            // would only make `output` fail where it is unreachable (a private instance).
            let read = without_migrations(&stack, |_| false);
            // Only the outputs asked for: `deploy output DB_SG_ID` works offline from the
            // public-IP service unless that output uses ${public_ip}.
            let need_ip = stack
                .outputs
                .iter()
                .filter(|(n, _)| args.name.as_ref().is_none_or(|a| a == *n))
                .any(|(_, t)| t.uses_public_ip());
            let session =
                Session::start(&read, &aws, &settings, &db_endpoints, need_ip, None).await?;
            let planned = session.plan(&read, false, &[])?;
            session.log_calls();
            match &args.name {
                Some(n) => {
                    // Only the named output needs to be known: others may wait for an apply.
                    let Some(t) = stack.outputs.get(n) else {
                        return Err(Error::User(format!(
                            "no output `{n}` in {}; outputs: {}",
                            stack.file.display(),
                            stack.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                        )));
                    };
                    let v = output_value(n, t, &planned.resolver)?;
                    match args.format {
                        // The bare value, for `$(deploy output NAME)` (Terraform's `-raw`).
                        OutputFormat::Text => println!("{v}"),
                        OutputFormat::Env => println!("{n}={}", shell_quote(&v)),
                        OutputFormat::Export => println!("export {n}={}", shell_quote(&v)),
                        // The same JSON string the full `--format json` object holds.
                        OutputFormat::Json => println!(
                            "{}",
                            serde_json::to_string(&v).map_err(|e| Error::Other(e.to_string()))?
                        ),
                    }
                }
                None => {
                    let values = outputs(&stack, &planned.resolver)?;
                    match args.format {
                        // Quoted as after apply (and in the plan): one way to read a value.
                        OutputFormat::Text => values.iter().for_each(|(k, v)| {
                            println!("{k} = {}", crate::value::Shown::Value(v.clone()))
                        }),
                        OutputFormat::Env => values
                            .iter()
                            .for_each(|(k, v)| println!("{k}={}", shell_quote(v))),
                        // Shell variables alone would not reach the programs the shell starts.
                        OutputFormat::Export => values
                            .iter()
                            .for_each(|(k, v)| println!("export {k}={}", shell_quote(v))),
                        OutputFormat::Json => println!(
                            "{}",
                            serde_json::to_string_pretty(&values)
                                .map_err(|e| Error::Other(e.to_string()))?
                        ),
                    }
                }
            }
            Ok(0)
        }
    }
}

/// Loads the stack and registers its secrets for redaction.
pub fn load(path: &std::path::Path, mode: stack::Secrets) -> Result<Stack> {
    load_with(path, mode, &|name| std::env::var(name).ok())
}

/// [`load`], with `${env:}` and `${secret:}` looked up by `env`.
fn load_with(
    path: &std::path::Path,
    mode: impl Into<stack::LoadOptions>,
    env: stack::EnvLookup<'_>,
) -> Result<Stack> {
    let stack = stack::load_with_env(path, env, mode)?;
    crate::redact::register(secrets(&stack));
    Ok(stack)
}

fn secrets(stack: &Stack) -> Vec<String> {
    let mut all: Vec<&Template> = stack.outputs.values().collect();
    for f in stack.functions.values() {
        all.extend(f.environment.values());
    }
    for d in stack.db_instances.values() {
        if let stack::Password::Secret(t) = &d.password {
            all.push(t);
        }
    }
    all.iter()
        .flat_map(|t| t.parts.iter())
        .filter_map(|p| match p {
            // `|url` holds the value percent-encoded: the value itself is a secret too.
            stack::template::Part::Secret(s) => Some([s.clone(), stack::template::url_decode(s)]),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The stack as the read sees it: the instances for which `keep(id)` is false lose their
/// migrations and seed, so that their database is not connected to.
fn without_migrations(stack: &Stack, keep: impl Fn(&str) -> bool) -> Stack {
    let mut read = stack.clone();
    for (id, d) in read.db_instances.iter_mut() {
        if !keep(id) {
            (d.migrations, d.seed) = (None, None);
        }
    }
    read
}

/// The stack as a destroy must read it. Destroy leaves applied migrations to the instance's own
/// deletion, so it reads no database: one that is unreachable (or stopped) must not block it.
/// The functions go too: a layer version they name by ARN is no longer kept.
fn destroy_read(stack: &Stack) -> Stack {
    let mut observed = without_migrations(stack, |_| false);
    for f in observed.functions.values_mut() {
        f.layers
            .retain(|l| !matches!(l, crate::stack::LayerRef::Arn(_)));
    }
    observed
}

/// A plan made with `--partial`: what needs an unset secret is shown as `(not read)` instead of
/// as a change to a secret value, and a warning says the plan is partial and what it left out.
fn mark_partial(stack: &Stack, plan: &mut crate::plan::Plan) {
    use crate::value::Shown;
    let unset = |t: &Template| {
        t.parts
            .iter()
            .any(|p| matches!(p, stack::template::Part::SecretUnset(_)))
    };
    let needs_secret = |address: &str, path: &str| -> bool {
        if let Some(name) = address.strip_prefix("functions.")
            && let Some(key) = path.strip_prefix("environment.")
        {
            return stack
                .functions
                .get(name)
                .and_then(|f| f.environment.get(key))
                .is_some_and(unset);
        }
        if let Some(id) = address.strip_prefix("db_instances.")
            && path == "master_password"
        {
            return stack
                .db_instances
                .get(id)
                .is_some_and(|d| matches!(&d.password, stack::Password::Secret(t) if unset(t)));
        }
        false
    };
    for c in &mut plan.changes {
        for f in &mut c.fields {
            if matches!(f.after, Shown::Sensitive | Shown::Unknown)
                && needs_secret(&c.address, &f.path)
            {
                f.after = Shown::NotRead;
            }
        }
    }
    for o in &mut plan.outputs {
        if matches!(o.after, Shown::Sensitive | Shown::Unknown)
            && stack.outputs.get(&o.name).is_some_and(unset)
        {
            o.after = Shown::NotRead;
        }
    }
    let databases: Vec<String> = stack
        .db_instances
        .iter()
        .filter(|(_, d)| d.migrations.is_some() || d.seed.is_some())
        .map(|(id, _)| format!("db_instances.{id}"))
        .collect();
    let mut left_out = String::new();
    if !databases.is_empty() {
        left_out = format!(
            "; the migrations and seed of {} are not read and not planned",
            databases.join(", ")
        );
    }
    plan.warnings.insert(
        0,
        format!(
            "this plan is partial (--partial): it read no secret and connected to no database, so what needs them shows as (not read){left_out}. It cannot be saved or applied: the plan to apply is made with `deploy plan --out FILE` where the secrets are set and the database can be reached."
        ),
    );
}

/// The stack as a plan limited to `targets` must read it: the database of an instance only when
/// one of its migrations (or its seed) is in the targets' scope.
fn for_targets(stack: &Stack, targets: &[String]) -> Stack {
    match crate::plan::build::file_scope(stack, targets) {
        None => stack.clone(),
        Some(scope) => without_migrations(stack, |id| {
            let below = format!("db_instances.{id}.");
            scope.iter().any(|a| a.starts_with(&below))
        }),
    }
}

fn describe(stack: &Stack) -> String {
    let rules: usize = stack
        .security_groups
        .values()
        .map(|g| g.ingress.len())
        .sum();
    use crate::plan::render::count;
    format!(
        "stack `{}`: {} with {}, {}, {}, {}, {}, {}",
        stack.name,
        count(stack.security_groups.len(), "security group"),
        count(rules, "rule"),
        count(stack.db_instances.len(), "db instance"),
        count(stack.functions.len(), "function"),
        count(stack.user_pools.len(), "user pool"),
        count(stack.cognito_triggers.len(), "trigger"),
        count(stack.outputs.len(), "output")
    )
}

fn uses_public_ip(stack: &Stack) -> bool {
    uses_public_ip_in(stack, &[])
}

/// Whether what a plan limited to `targets` looks at (everything when there are none) needs the
/// public IP: only then is it looked up, so that a plan of a function or a security group
/// without `${public_ip}` works where the lookup service cannot be reached.
fn uses_public_ip_in(stack: &Stack, targets: &[String]) -> bool {
    let scope = crate::plan::build::file_scope(stack, targets);
    let within = |address: String| {
        scope.as_ref().is_none_or(|s| {
            s.iter().any(|a| {
                a.strip_prefix(address.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            })
        })
    };
    stack.security_groups.iter().any(|(name, g)| {
        g.ingress
            .iter()
            .any(|r| matches!(&r.source, stack::RuleSource::Cidr(t) if t.uses_public_ip()))
            && within(format!("security_groups.{name}"))
    }) || (scope.is_none() && stack.outputs.values().any(Template::uses_public_ip))
        || stack.functions.iter().any(|(name, f)| {
            f.environment.values().any(Template::uses_public_ip)
                && within(format!("functions.{name}"))
        })
}

/// A run against AWS: clients, the public IP and the live state, read once.
struct Session {
    clients: Clients,
    live: Live,
    public_ip: Option<String>,
    progress: Progress,
    settings: Settings,
}

impl Session {
    /// `need_ip`: whether what is asked needs the public IP (else it is not looked up).
    async fn start(
        stack: &Stack,
        aws: &AwsOptions,
        settings: &Settings,
        db_endpoints: &BTreeMap<String, (String, u16)>,
        need_ip: bool,
        lock: Option<(&str, Duration)>,
    ) -> Result<Session> {
        let ip = if need_ip { None } else { Some(None) };
        Session::start_with(stack, aws, settings, db_endpoints, ip, lock).await
    }

    /// `public_ip`: the address to use instead of looking it up (a saved plan's).
    async fn start_with(
        stack: &Stack,
        aws: &AwsOptions,
        settings: &Settings,
        db_endpoints: &BTreeMap<String, (String, u16)>,
        public_ip: Option<Option<String>>,
        lock: Option<(&str, Duration)>,
    ) -> Result<Session> {
        // The public IP is looked up while the account is read: neither needs the other.
        let public_ip = async {
            if let Some(ip) = public_ip {
                return Ok(ip);
            }
            if !uses_public_ip(stack) {
                return Ok(None);
            }
            // On a task of its own: loading the TLS roots for the lookup is blocking work,
            // which on this thread would hold back the account's first read.
            let ip = tokio::spawn(crate::public_ip::lookup())
                .await
                .map_err(|e| Error::Other(format!("the public IP lookup stopped: {e}")))??;
            tracing::debug!("public IP {ip}");
            Ok(Some(ip))
        };
        let progress = Progress::default();
        let read = async {
            let clients = Clients::new(aws, stack.region.as_deref()).await?;
            // Before reading: the plan must be made from a state no other run is changing.
            if let Some((command, timeout)) = lock {
                crate::lock::acquire(&clients.ssm, &stack.name, &clients.region, command, timeout)
                    .await?;
            }
            let live = Session::provider(&clients, &progress, settings)
                .read(stack, db_endpoints)
                .await?;
            tracing::debug!("account read");
            Ok::<_, crate::error::Error>((clients, live))
        };
        // The folders are hashed meanwhile too, for the planner (package::prefetch).
        let (code, content) = crate::resources::function::folders(stack);
        let hashing = tokio::task::spawn_blocking(move || {
            crate::resources::function::package::prefetch(&code, &content)
        });
        let (public_ip, (clients, live)) = tokio::try_join!(public_ip, read)?;
        let _ = hashing.await;
        tracing::debug!("folders hashed");
        Ok(Session {
            clients,
            live,
            public_ip,
            progress,
            settings: settings.clone(),
        })
    }

    fn provider<'a>(
        clients: &'a Clients,
        progress: &'a Progress,
        settings: &'a Settings,
    ) -> AwsProvider<'a> {
        AwsProvider {
            clients,
            progress,
            cancel: crate::context::Cancel::Interrupt,
            settings,
            new_groups: Default::default(),
            batches: Default::default(),
        }
    }

    fn plan(&self, stack: &Stack, destroy: bool, targets: &[String]) -> Result<Planned> {
        plan(&Input {
            stack,
            found: &self.live.found,
            env: &self.live.env,
            public_ip: self.public_ip.clone(),
            destroy,
            targets,
        })
        .map_err(|errors| Error::Plan {
            file: stack.file.display().to_string(),
            errors,
        })
    }

    async fn execute(&self, stack: &Stack, planned: Planned) -> Report {
        let scope = Scope {
            stack,
            env: &self.live.env,
        };
        let _executing = crate::interrupt::Executing::start();
        let mut report = execute_until(
            &Session::provider(&self.clients, &self.progress, &self.settings),
            scope,
            &self.progress,
            planned.steps,
            planned.resolver,
            &self.live.found,
            &planned
                .plan
                .waiting
                .iter()
                .map(|w| w.address.clone())
                .collect::<Vec<_>>(),
            crate::interrupt::requested(),
        )
        .await;
        // A readiness wait may see the interrupt before the executor does, and end the run
        // as a failure first.
        report.interrupted |= crate::interrupt::is_requested();
        report
    }

    fn log_calls(&self) {
        let (reads, writes) = self.clients.calls.totals();
        tracing::debug!(
            "AWS calls: {}, {}: {:?}",
            crate::plan::render::count(reads, "read"),
            crate::plan::render::count(writes, "write"),
            self.clients.calls.snapshot()
        );
    }
}

/// Asks on a thread of its own, so that Ctrl-C at the prompt is seen (the read itself would
/// hold the runtime until Enter).
async fn confirm(what: &str) -> Result<bool> {
    let what = what.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(confirm_blocking(&what));
    });
    rx.await
        .unwrap_or_else(|_| Err(Error::Other("the prompt thread ended".into())))
}

fn confirm_blocking(what: &str) -> Result<bool> {
    // The plan went to stdout and the question goes to stderr: the plan must be on the screen
    // first, also when stdout is a pipe (`deploy apply | tee log`).
    let _ = std::io::stdout().flush();
    if !std::io::stdout().is_terminal() {
        wait_for_stdout_reader(Duration::from_secs(2));
    }
    eprint!("\nDo you want to {what}? Only `yes` is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Other(format!("cannot read the answer: {e}")))?;
    if n == 0 {
        // Ctrl-D: the terminal did not move to a new line, so the error would follow the question.
        eprintln!();
    }
    Ok(line.trim() == "yes")
}

/// Waits, at most `limit`, until whatever reads a pipe on stdout has read all that was written
/// to it, and a moment for it to show it. Flushing is not enough: `tee` may not have run yet.
fn wait_for_stdout_reader(limit: Duration) {
    #[cfg(unix)]
    {
        let deadline = std::time::Instant::now() + limit;
        let stdout = std::io::stdout();
        // Not a pipe (a file, or no FIONREAD): nothing to wait for.
        while rustix::io::ioctl_fionread(&stdout).is_ok_and(|n| n > 0)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    #[cfg(not(unix))]
    let _ = limit;
}

/// Prints the closing summary; true when everything was done.
fn finish(report: &Report, verb: &str) -> bool {
    if report.ok() {
        outln!(
            "\n{} complete: {} made.",
            capitalize(verb),
            crate::plan::render::count(report.done.len(), "change")
        );
        true
    } else {
        eprintln!(
            "\n{} {}: {} done, {} failed, {} not started.",
            capitalize(verb),
            if report.interrupted {
                "interrupted"
            } else {
                "stopped"
            },
            report.done.len(),
            report.failed.len(),
            report.not_started.len()
        );
        for a in &report.done {
            eprintln!("  done:        {a}");
        }
        for (a, e) in &report.failed {
            let e = crate::redact::scrub(&e.to_string());
            // Most errors already start with the address; do not say it twice.
            let e = e.strip_prefix(&format!("{a}: ")).unwrap_or(&e).to_string();
            eprintln!("  failed:      {a}: {e}");
        }
        for a in &report.not_started {
            eprintln!("  not started: {a}");
        }
        if report.interrupted {
            eprintln!(
                "Run `deploy {verb}` again to continue: it plans from live state and picks up where this one stopped."
            );
        }
        false
    }
}

fn failed(report: &Report, verb: &str) -> Error {
    Error::User(format!(
        "{verb} did not finish ({} failed); fix the cause and run `deploy {verb}` again: it plans from live state and continues where it stopped",
        report.failed.len()
    ))
}

/// What the file names but the stack does not own: a destroy does not delete it, and says so,
/// so that nobody looks for a role or a layer that was never the stack's to delete.
fn print_left_in_place(stack: &Stack, head: &str) {
    let left = stack.left_in_place();
    if !left.is_empty() {
        outln!("\n{head} (named by the stack file, not owned by the stack):");
        for l in left {
            outln!("  {l}");
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Output values; an output that needs a resource not created yet is an error naming it.
fn outputs(stack: &Stack, r: &stack::Resolver) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, t) in &stack.outputs {
        out.insert(name.clone(), output_value(name, t, r)?);
    }
    Ok(out)
}

/// One output's value; an error naming what it needs when that does not exist yet.
fn output_value(name: &str, t: &Template, r: &stack::Resolver) -> Result<String> {
    // `output` loads the file without requiring secrets: only the outputs printed need theirs.
    let unset: Vec<&str> = t
        .parts
        .iter()
        .filter_map(|p| match p {
            stack::template::Part::SecretUnset(v) => Some(v.as_str()),
            _ => None,
        })
        .collect();
    if !unset.is_empty() {
        return Err(Error::User(format!(
            "output {name} uses ${{secret:{}}}, which is not set: set the environment variable {} to print it",
            unset.join("}, ${secret:"),
            unset.join(", ")
        )));
    }
    {
        let v = r.resolve(t);
        let Some(value) = v.expose() else {
            let missing: Vec<String> = t
                .refs()
                .filter(|x| {
                    !r.resolve(&Template {
                        parts: vec![stack::template::Part::Ref((*x).clone())],
                        ..Template::default()
                    })
                    .is_known()
                })
                .map(|x| x.address())
                .collect();
            return Err(Error::User(format!(
                "output {name} needs {} which does not exist yet: run `deploy apply` first",
                missing.join(", ")
            )));
        };
        Ok(value.to_string())
    }
}

/// After apply, the outputs, with secret ones masked (use `deploy output` to see them).
fn print_outputs(stack: &Stack, r: &stack::Resolver) {
    if stack.outputs.is_empty() {
        return;
    }
    outln!("\nOutputs:");
    for (name, t) in &stack.outputs {
        outln!("  {name} = {}", r.resolve(t).shown());
    }
}

fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// Reads a saved plan and the digest of the very bytes parsed, or says why the file is not one
/// this deploy can apply.
fn read_saved(path: &std::path::Path) -> Result<(saved::SavedPlan, String)> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::User(format!(
            "cannot read the saved plan {}: {e}",
            path.display()
        ))
    })?;
    let digest = saved::digest(&bytes);
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::User(format!(
            "{} is not a saved plan of deploy (not UTF-8 text); make one with `deploy plan --out FILE`",
            path.display()
        ))
    })?;
    let file = saved::parse(&text).map_err(|m| Error::User(format!("{} {m}", path.display())))?;
    Ok((file, digest))
}

/// `deploy apply FILE`: exactly the saved plan, or nothing when anything it was made from changed
/// or the file is not what planning again from its own inputs gives.
async fn apply_saved(
    path: &std::path::Path,
    file: saved::SavedPlan,
    stack: &Stack,
    aws: &AwsOptions,
    settings: &Settings,
    db_endpoints: &BTreeMap<String, (String, u16)>,
    lock_timeout: Duration,
    style: Style,
) -> Result<ExitCode> {
    let named = |m: String| Error::User(format!("{} {m}", path.display()));
    let refused = |why: &str, lines: &[String]| {
        Error::Refused(format!(
            "{} {why}, so nothing was changed:\n{}\nRun `deploy plan --out {}` again and review the new plan.",
            path.display(),
            lines.join("\n"),
            path.display()
        ))
    };
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
    let stale = file.stale(stack, &session.live.found, &session.live.env);
    if !stale.is_empty() {
        session.log_calls();
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
            session.log_calls();
            let lines: Vec<String> = e.to_string().lines().map(|l| format!("  {l}")).collect();
            return Err(refused(
                "cannot be applied: planning again from its inputs fails",
                &lines,
            ));
        }
    };
    let differences = file.differences(&planned);
    if !differences.is_empty() {
        session.log_calls();
        let lines: Vec<String> = differences
            .iter()
            .map(|d| format!("  differs: {d}"))
            .collect();
        return Err(refused(
            "is not what planning again from its own inputs gives (the file was edited, or what it was planned from changed)",
            &lines,
        ));
    }
    let adopt = file.adopt;
    out!("{}", render(&planned.plan, style));
    if planned.plan.is_empty() && planned.plan.waiting.is_empty() {
        print_outputs(stack, &planned.resolver);
        session.log_calls();
        return Ok(0);
    }
    if !planned.plan.needs_adopt.is_empty() && !adopt {
        return Err(Error::User(format!(
            "this plan adopts {} but was made without --adopt; nothing was changed. Check that they are the resources you mean, then run `deploy plan --adopt --out {}`",
            planned.plan.needs_adopt.join(", "),
            path.display()
        )));
    }
    // No question: the saved plan was the review, and it is, by the checks above, what runs.
    let report = session.execute(stack, planned).await;
    let ok = finish(&report, "apply");
    if ok {
        print_outputs(stack, &report.resolver);
    }
    session.log_calls();
    if report.interrupted {
        Ok(INTERRUPTED)
    } else if ok {
        Ok(0)
    } else {
        Err(failed(&report, "apply"))
    }
}

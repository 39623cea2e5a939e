//! Each command: load, read live state, plan, and (for apply/destroy) execute. Thin over the
//! library; all printing of results happens here.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use crate::aws::{AwsOptions, Clients};
use crate::cli::{Cli, Command, GraphFormat, OutputFormat};
use crate::engine::execute::{Report, execute};
use crate::engine::poll_interval;
use crate::error::{Error, Result};
use crate::plan::build::{Input, Planned, plan};
use crate::plan::render::{Style, render};
use crate::progress::Progress;
use crate::provider::aws::AwsProvider;
use crate::provider::{Live, Provider, Scope};
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

pub async fn run(cli: Cli) -> Result<ExitCode> {
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
            let mut out = std::io::stdout().lock();
            clap_complete::generate(args.shell, &mut crate::cli::command(), "deploy", &mut out);
            return Ok(0);
        }
        _ => {}
    }
    // Refuse before doing anything when a confirmation could never be given.
    let needs_prompt = match &cli.command {
        Command::Apply(a) => !a.auto_approve,
        Command::Destroy(d) => !d.auto_approve,
        _ => false,
    };
    if needs_prompt && !std::io::stdin().is_terminal() {
        return Err(Error::User(
            "stdin is not a terminal, so there is no one to confirm: pass --auto-approve to apply without asking".into(),
        ));
    }
    // validate and destroy send no secret anywhere, so CI can run them without any.
    let secrets = match &cli.command {
        Command::Validate | Command::Destroy(_) | Command::Graph(_) => stack::Secrets::Optional,
        _ => stack::Secrets::Required,
    };
    let stack = load(&cli.global.file, secrets)?;
    crate::resources::migration::db::allow_insecure_plaintext(cli.global.db_insecure_plaintext);
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
        Command::Schema | Command::Completions(_) => unreachable!("handled before loading"),
        Command::Plan(args) => {
            let session = Session::start(&stack, &aws, &db_endpoints).await?;
            let planned = session.plan(&stack, false)?;
            out!("{}", render(&planned.plan, style));
            if !planned.plan.needs_adopt.is_empty() && !args.adopt {
                eprintln!(
                    "note: {} exist(s) without this stack's tag; `deploy apply --adopt` would take them over",
                    planned.plan.needs_adopt.join(", ")
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
            let session = Session::start(&stack, &aws, &db_endpoints).await?;
            let planned = session.plan(&stack, false)?;
            out!("{}", render(&planned.plan, style));
            if planned.plan.is_empty() {
                print_outputs(&stack, &planned.resolver);
                session.log_calls();
                return Ok(0);
            }
            if !planned.plan.needs_adopt.is_empty() && !args.adopt {
                return Err(Error::User(format!(
                    "{} already exist(s) without this stack's tag; nothing was changed. Check that they are the resources you mean, then run `deploy apply --adopt` to tag and manage them",
                    planned.plan.needs_adopt.join(", ")
                )));
            }
            if !args.auto_approve && !confirm("apply these changes")? {
                return Err(Error::User("apply cancelled; nothing was changed".into()));
            }
            let report = session.execute(&stack, planned).await;
            let ok = finish(&report, "apply");
            if ok {
                print_outputs(&stack, &report.resolver);
            }
            session.log_calls();
            if ok {
                Ok(0)
            } else {
                Err(failed(&report, "apply"))
            }
        }
        Command::Destroy(args) => {
            // Destroy leaves applied migrations to the instance's own deletion, so it reads no
            // database: one that is unreachable (or stopped) must not block it.
            let mut observed = stack.clone();
            for d in observed.db_instances.values_mut() {
                (d.migrations, d.seed) = (None, None);
            }
            let session = Session::start(&observed, &aws, &db_endpoints).await?;
            let planned = session.plan(&stack, true)?;
            if planned.plan.is_empty() {
                outln!(
                    "Nothing to destroy: no resource carries the tag deploy:stack={}.",
                    stack.name
                );
                session.log_calls();
                return Ok(0);
            }
            out!("{}", render(&planned.plan, style));
            if !args.auto_approve && !confirm("destroy everything listed above")? {
                return Err(Error::User("destroy cancelled; nothing was changed".into()));
            }
            let report = session.execute(&stack, planned).await;
            let ok = finish(&report, "destroy");
            session.log_calls();
            if ok {
                Ok(0)
            } else {
                Err(failed(&report, "destroy"))
            }
        }
        Command::Output(args) => {
            let session = Session::start(&stack, &aws, &db_endpoints).await?;
            let planned = session.plan(&stack, false)?;
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
                    println!("{}", output_value(n, t, &planned.resolver)?);
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
    let stack = stack::load_opts(path, mode)?;
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
            stack::template::Part::Secret(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn describe(stack: &Stack) -> String {
    let rules: usize = stack
        .security_groups
        .values()
        .map(|g| g.ingress.len())
        .sum();
    format!(
        "stack `{}`: {} security groups with {} rules, {} db instances, {} functions, {} user pools, {} triggers, {} outputs",
        stack.name,
        stack.security_groups.len(),
        rules,
        stack.db_instances.len(),
        stack.functions.len(),
        stack.user_pools.len(),
        stack.cognito_triggers.len(),
        stack.outputs.len()
    )
}

fn uses_public_ip(stack: &Stack) -> bool {
    stack.security_groups.values().any(|g| {
        g.ingress
            .iter()
            .any(|r| matches!(&r.source, stack::RuleSource::Cidr(t) if t.uses_public_ip()))
    }) || stack.outputs.values().any(Template::uses_public_ip)
        || stack
            .functions
            .values()
            .any(|f| f.environment.values().any(Template::uses_public_ip))
}

/// A run against AWS: clients, the public IP and the live state, read once.
struct Session {
    clients: Clients,
    live: Live,
    public_ip: Option<String>,
    progress: Progress,
}

impl Session {
    async fn start(
        stack: &Stack,
        aws: &AwsOptions,
        db_endpoints: &BTreeMap<String, (String, u16)>,
    ) -> Result<Session> {
        // The public IP is looked up while the account is read: neither needs the other.
        let public_ip = async {
            if !uses_public_ip(stack) {
                return Ok(None);
            }
            let ip = crate::public_ip::lookup().await?;
            tracing::debug!("public IP {ip}");
            Ok(Some(ip))
        };
        let progress = Progress::default();
        let read = async {
            let clients = Clients::new(aws, stack.region.as_deref()).await?;
            let live = Session::provider(&clients, &progress)
                .read(stack, db_endpoints)
                .await?;
            Ok::<_, crate::error::Error>((clients, live))
        };
        // The folders are hashed meanwhile too, for the planner (package::prefetch).
        let (code, content) = crate::resources::function::folders(stack);
        let hashing = tokio::task::spawn_blocking(move || {
            crate::resources::function::package::prefetch(&code, &content)
        });
        let (public_ip, (clients, live)) = tokio::try_join!(public_ip, read)?;
        let _ = hashing.await;
        Ok(Session {
            clients,
            live,
            public_ip,
            progress,
        })
    }

    fn provider<'a>(clients: &'a Clients, progress: &'a Progress) -> AwsProvider<'a> {
        AwsProvider {
            clients,
            progress,
            poll: poll_interval(Duration::from_secs(10)),
        }
    }

    fn plan(&self, stack: &Stack, destroy: bool) -> Result<Planned> {
        plan(&Input {
            stack,
            found: &self.live.found,
            env: &self.live.env,
            public_ip: self.public_ip.clone(),
            destroy,
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
        execute(
            &Session::provider(&self.clients, &self.progress),
            scope,
            &self.progress,
            planned.steps,
            planned.resolver,
            &self.live.found,
        )
        .await
    }

    fn log_calls(&self) {
        let (reads, writes) = self.clients.calls.totals();
        tracing::debug!(
            "AWS calls: {reads} reads, {writes} writes: {:?}",
            self.clients.calls.snapshot()
        );
    }
}

fn confirm(what: &str) -> Result<bool> {
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
            "\n{} complete: {} change(s) made.",
            capitalize(verb),
            report.done.len()
        );
        true
    } else {
        eprintln!(
            "\n{} stopped: {} done, {} failed, {} not started.",
            capitalize(verb),
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
        false
    }
}

fn failed(report: &Report, verb: &str) -> Error {
    Error::User(format!(
        "{verb} did not finish ({} failed); fix the cause and run `deploy {verb}` again: it plans from live state and continues where it stopped",
        report.failed.len()
    ))
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
    {
        let v = r.resolve(t);
        let Some(value) = v.expose() else {
            let missing: Vec<String> = t
                .refs()
                .filter(|x| {
                    !r.resolve(&Template {
                        parts: vec![stack::template::Part::Ref((*x).clone())],
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

//! The command line: each command turns its arguments into an op's options, asks when it must,
//! and renders what the op returns (`crate::ops` does the work, `crate::engine` sequences the
//! reads and writes). All printing of results happens here.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use crate::aws::AwsOptions;
use crate::cli::{Cli, Command, Global};
use crate::engine::session::{AwsBackend, DbEndpoints, Lock, Session};
use crate::error::{Error, Result};
use crate::plan::render::Style;
use crate::settings::Settings;
use crate::stack::{self, Stack};

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

mod apply;
mod destroy;
mod functions;
mod graph;
mod output;
mod plan;
mod policy;
mod postgres;
mod prompt;
mod report;
mod show;
mod standalone;
mod unlock;
mod validate;

/// What the process should exit with.
pub type ExitCode = u8;

/// The exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: ExitCode = 130;

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

async fn run_command(cli: Cli) -> Result<ExitCode> {
    let cx = Context::new(&cli.global);
    match &cli.command {
        // Commands that need no stack file.
        Command::Schema => standalone::schema(),
        Command::Completions(args) => standalone::completions(args),
        Command::Complete(args) => standalone::complete(&cx, args),
        Command::Policy(args) if args.adopt.is_some() => policy::for_adopt(args),
        Command::Show(args) => show::run(&cx, args),
        // The rest load the stack.
        Command::Validate => validate::run(&cx),
        Command::Graph(args) => graph::run(&cx, args),
        Command::Policy(args) => policy::run(&cx, args),
        Command::Unlock(args) => unlock::run(&cx, args).await,
        Command::Migrate(args) => postgres::migrate(&cx, args).await,
        Command::Psql(args) => postgres::psql(&cx, args).await,
        Command::Logs(args) => functions::logs(&cx, args).await,
        Command::Invoke(args) => functions::invoke(&cx, args).await,
        Command::Plan(args) => plan::run(&cx, args).await,
        Command::Apply(args) => apply::run(&cx, args).await,
        Command::Destroy(args) => destroy::run(&cx, args).await,
        Command::Output(args) => output::run(&cx, args).await,
    }
}

/// What every command gets from the global flags.
struct Context<'a> {
    global: &'a Global,
    style: Style,
    aws: AwsOptions,
}

/// The stack file, loaded, and the `--db-endpoint` overrides checked against it.
struct Loaded {
    stack: Stack,
    db_endpoints: DbEndpoints,
    /// Read once from the environment and the flags; adapters get them through their context.
    settings: Settings,
}

impl<'a> Context<'a> {
    fn new(global: &'a Global) -> Self {
        Context {
            global,
            style: Style {
                color: !global.no_color
                    && std::env::var_os("NO_COLOR").is_none()
                    && std::io::stdout().is_terminal(),
            },
            aws: AwsOptions {
                profile: global.profile.clone(),
                region: global.region.clone(),
                endpoint_url: global.endpoint_url.clone(),
            },
        }
    }

    /// The session a command runs in: `reads` (the stack as the command reads it) read with
    /// the loaded file's settings and `--db-endpoint`s, under `lock` when the command writes.
    async fn session(
        &self,
        loaded: &Loaded,
        reads: &crate::ops::Reads,
        lock: Lock<'_>,
    ) -> Result<Session<AwsBackend>> {
        Session::start(
            &reads.stack,
            &self.aws,
            &loaded.settings,
            &loaded.db_endpoints,
            reads.need_ip,
            lock,
        )
        .await
    }

    /// Loads the stack file with `${env:}` and `${secret:}` from the environment.
    fn load(&self, secrets: impl Into<stack::LoadOptions>) -> Result<Loaded> {
        self.load_with(secrets, &|name| std::env::var(name).ok())
    }

    /// [`Context::load`], with `${env:}` and `${secret:}` looked up by `env`.
    fn load_with(
        &self,
        secrets: impl Into<stack::LoadOptions>,
        env: stack::EnvLookup<'_>,
    ) -> Result<Loaded> {
        let stack = load_with(&self.global.file, secrets, env)?;
        tracing::debug!("stack loaded");
        let mut db_endpoints = BTreeMap::new();
        for (id, host, port) in &self.global.db_endpoints {
            if !stack.db_instances.contains_key(id) {
                return Err(Error::user(format!(
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
        Ok(Loaded {
            stack,
            db_endpoints,
            settings: Settings::from_env(self.global.db_insecure_plaintext),
        })
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
    crate::redact::register(crate::ops::secret_values(&stack));
    Ok(stack)
}

/// Refuses before doing anything when a confirmation could never be given.
fn require_terminal(verb: &str) -> Result<()> {
    if std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(Error::user(format!(
        "stdin is not a terminal, so there is no one to confirm: pass --auto-approve to {verb} without asking"
    )))
}

//! The command line: clap types only; `commands` turns them into work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Plan, apply and destroy an AWS stack described by one stack.yaml.
///
/// deploy reads the live account, diffs it against the stack file and applies the difference:
/// RDS instances, security groups and their rules, Lambda functions (VPC, layers, environment),
/// Cognito user pools and triggers. It keeps no state file: what the stack owns carries the tag
/// deploy:stack=<stack>.
#[derive(Debug, Parser)]
#[command(
    name = "deploy",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The stack file
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "stack.yaml",
        value_name = "FILE"
    )]
    pub file: PathBuf,
    /// AWS profile from ~/.aws/config (else AWS_PROFILE, else the default chain)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region when the stack file has no `region:` (the file's wins, with a warning), else
    /// AWS_REGION / the profile's region
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint, e.g. a local emulator (also: AWS_ENDPOINT_URL)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Where a db instance's database really listens (repeatable), e.g. when AWS is an emulator:
    /// migrations connect there instead of the endpoint RDS reports
    /// (also: DEPLOY_DB_ENDPOINT=ID=HOST:PORT[,ID=HOST:PORT])
    #[arg(long = "db-endpoint", global = true, value_name = "ID=HOST:PORT", value_parser = parse_db_endpoint,
          env = "DEPLOY_DB_ENDPOINT", value_delimiter = ',', hide_env = true)]
    pub db_endpoints: Vec<(String, String, u16)>,
    /// INSECURE: connect to a --db-endpoint without TLS even when it is not a loopback address.
    /// Anyone on the network path can then read and change the migrations (the password is
    /// still only sent through SCRAM). Without it, a loopback address may be plain TCP and any
    /// other address needs TLS, verified against the RDS CAs (or DEPLOY_DB_CA_FILE)
    #[arg(long, global = true)]
    pub db_insecure_plaintext: bool,
    /// More logging on stderr (-v: deploy's own debug lines; RUST_LOG for finer control)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No colours (also: NO_COLOR, or output that is not a terminal)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change. Writes nothing.
    ///
    /// Exit code 0 on success; with --detailed-exitcode, 0 means no changes and 2 means changes.
    Plan(PlanArgs),
    /// Make live AWS match the stack file, in dependency order, waiting for each resource.
    ///
    /// Prints the plan and asks for `yes` on a terminal. Without a terminal, --auto-approve is
    /// required. If a step fails, running steps finish, nothing new starts, and a second apply
    /// continues from where it stopped.
    ///
    /// Exit codes: 0 done; 1 error; 3 the stack is locked by another run (see --lock-timeout);
    /// 4 PLANFILE refused; 130 interrupted.
    Apply(ApplyArgs),
    /// Delete everything this stack owns (tagged deploy:stack=<stack>), in reverse order.
    ///
    /// Nothing untagged is ever deleted.
    ///
    /// Exit codes: 0 done; 1 error; 3 the stack is locked by another run (see --lock-timeout);
    /// 130 interrupted.
    Destroy(DestroyArgs),
    /// Render a plan saved with `deploy plan --out FILE` (offline), as text or as JSON.
    Show(ShowArgs),
    /// Break the lock a killed apply or destroy left behind (kill -9, a lost machine).
    ///
    /// apply and destroy hold a lock per stack and region: the SSM parameter
    /// /deploy/lock/<stack>/<region>. A second run stops and says who holds it (exit 3). A lock
    /// left by a run of this same machine that is no longer running is taken over by the next
    /// run, with a notice; one from another machine or container is not. Break it only when no
    /// run is going on. With LOCK_ID, only the lock with that id is broken.
    Unlock(UnlockArgs),
    /// Check the stack file offline: syntax, types, references, CIDRs, secrets. No AWS call.
    Validate,
    /// Print the stack's outputs (reads live AWS; secrets are printed, since you ask for them).
    Output(OutputArgs),
    /// Print the stack's dependency graph (offline): Graphviz DOT, or Mermaid.
    ///
    /// Nodes are addresses; an edge `a -> b` means b needs a: apply creates a first, destroy
    /// deletes b first. Render with graphviz: `deploy graph | dot -Tsvg > graph.svg`.
    Graph(GraphArgs),
    /// Print the least-privilege IAM policy for the stack in the file (offline).
    ///
    /// Scoped to this stack: its names and ARNs (functions, DB instance identifiers, layers, the
    /// auto roles under /deploy/<stack>/), its tag value deploy:stack=<stack> where an ARN carries
    /// only an id (security groups, user pools), the pools its triggers name, its lock parameter,
    /// and only the actions its kinds use (Secrets Manager only with manage_master_password).
    /// `${env:}` values are read as plan reads them. The policy never lets its holder tag a
    /// resource it does not own into the stack: adopting needs the one-time grant of
    /// `deploy policy --adopt PLANFILE`. The region is the file's `region:`, else --region, else *.
    Policy(PolicyArgs),
    /// Print the JSON Schema of the stack file (offline), for editors.
    ///
    /// Also in schema/stack.schema.json; put `# yaml-language-server: $schema=<its URL or path>`
    /// on the first line of stack.yaml for completion and checks in VS Code and Neovim.
    Schema,
    /// Run the stack's pending migrations and seed now, without the rest of apply.
    ///
    /// The migration step of apply on its own, with its rules: files in order, each once in its
    /// own transaction, checksums of applied files checked, migrations_baseline, one run at a
    /// time per database. Without --url, on the stack's instances (their endpoint from AWS, or
    /// --db-endpoint / DEPLOY_DB_ENDPOINT). With --url, on that database, e.g. the local docker
    /// Postgres of development: no AWS call and no AWS credentials. The password is never on the
    /// command line: with --url it is PGPASSWORD, else the instance's ${secret:NAME}. TLS as for
    /// --db-endpoint: a loopback address may be plain TCP, any other needs verified TLS (unless
    /// --db-insecure-plaintext).
    Migrate(MigrateArgs),
    /// Open psql on a db instance's database, over verified TLS.
    ///
    /// The address is the instance's endpoint from AWS, or --url / --db-endpoint. psql gets
    /// sslmode=verify-full and the RDS certificate authorities deploy carries (or
    /// DEPLOY_DB_CA_FILE); a loopback --url or --db-endpoint is sslmode=prefer. The password goes
    /// to psql in its environment (PGPASSWORD: as set, else the instance's ${secret:NAME}),
    /// never on its command line. Arguments after `--` go to psql: `deploy psql -- -c 'select 1'`.
    Psql(PsqlArgs),
    /// Print a function's CloudWatch Logs (/aws/lambda/<name>), as `sam logs` does.
    ///
    /// Lines of the last --since (default 10m), oldest first, each with its time and log stream.
    /// With --follow, keeps polling for new lines (every 2 s) until Ctrl-C.
    Logs(LogsArgs),
    /// Invoke a function with a sample event of its trigger, or a file; print the result and
    /// the tail of its log.
    ///
    /// `--event post-confirmation` (the default for a function a post_confirmation trigger
    /// names) sends a Cognito PostConfirmation_ConfirmSignUp event for a generated user
    /// (deploy-test-<n>, deploy-test-<n>@example.com), as the pool sends after a sign-up;
    /// `--event FILE` sends the JSON in FILE. The result goes to stdout, the log's last 4 KB
    /// (Lambda's LogType=Tail) to stderr. Exit 1 when the function raised.
    Invoke(InvokeArgs),
    /// Print a shell completion script.
    ///
    /// bash: `source <(deploy completions bash)`; zsh: `deploy completions zsh > ~/.zfunc/_deploy`;
    /// fish: `deploy completions fish > ~/.config/fish/completions/deploy.fish`.
    Completions(CompletionsArgs),
    /// The words a completion script offers (hidden: the scripts call it): the stack file's
    /// addresses for `--target`, its output names for `output`. Offline; prints nothing when
    /// the file cannot be read.
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CompleteWhat {
    /// Every address of the stack file
    Targets,
    /// The names under `outputs:`
    Outputs,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    #[arg(value_enum)]
    pub what: CompleteWhat,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT
    Dot,
    /// A Mermaid flowchart (renders in GitHub Markdown)
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The AWS account id the ARNs name (`*`: any account)
    #[arg(long, value_name = "ID", default_value = "*")]
    pub account: String,
    /// Instead: the one-time grant an adopt plan needs (a plan saved by `deploy plan --adopt
    /// --out PLANFILE`): tagging only the exact resources it adopts, to attach for that apply and
    /// remove after
    #[arg(long, value_name = "PLANFILE")]
    pub adopt: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database to migrate instead of the instance's: postgresql://USER@HOST:PORT/DBNAME,
    /// without a password (USER and DBNAME default to the instance's master_username and
    /// db_name)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The db instance whose migrations run (needed with --url when several have migrations)
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
    /// Only list each file as applied, pending or EDITED (its checksum differs from the one
    /// recorded when it ran); changes nothing
    #[arg(long)]
    pub status: bool,
}

#[derive(Debug, Args)]
pub struct PsqlArgs {
    /// The db instance (may be left out when the stack has one)
    #[arg(value_name = "INSTANCE")]
    pub instance: Option<String>,
    /// Connect to this database instead: postgresql://USER@HOST:PORT/DBNAME, without a password
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Arguments for psql itself, after `--`
    #[arg(last = true, value_name = "PSQL_ARGS")]
    pub psql_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The function, as the stack file names it under `functions:`
    #[arg(value_name = "FUNCTION")]
    pub function: String,
    /// How far back to start (`30s`, `10m`, `2h`)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub since: std::time::Duration,
    /// Keep printing new lines as they arrive, until Ctrl-C
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function, as the stack file names it under `functions:`
    #[arg(value_name = "FUNCTION")]
    pub function: String,
    /// `post-confirmation`, or a file holding the event as JSON
    #[arg(long, value_name = "post-confirmation|FILE")]
    pub event: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 2 when there are changes, 0 when there are none, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// You mean to adopt: drop the reminder that apply needs --adopt for `=` entries (with
    /// --out, the saved plan's adoptions are approved)
    #[arg(long)]
    pub adopt: bool,
    /// Print the plan as a versioned JSON document (docs/plan-json.md) instead of text
    #[arg(long)]
    pub json: bool,
    /// Preview what `deploy destroy` would delete (text or --json), changing nothing; like
    /// destroy, it needs no secret and reads no database. Cannot be saved with --out
    #[arg(long)]
    pub destroy: bool,
    /// A plan for review by code that is not trusted with secrets (a pull request's CI job): it
    /// needs no `${secret:}` and connects to no database, shows what needs them as `(not read)`
    /// and says it is partial. It cannot be saved with --out, so it can never be applied
    #[arg(long, conflicts_with = "destroy")]
    pub partial: bool,
    /// Also save the plan to FILE, for `deploy apply FILE`, and print its digest to stderr
    /// (holds no secret; refused at apply if AWS, the stack file or a packaged folder changed
    /// since)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Plan only ADDR (repeatable): `functions.x` also covers `functions.x.role` and its layers;
    /// what the targets depend on is included, the rest of the stack is not looked at
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Do not ask for confirmation (needed when stdin is not a terminal; a saved PLANFILE is
    /// applied without asking, the saved plan was the review)
    #[arg(long)]
    pub auto_approve: bool,
    /// Take over untagged resources that exist under declared names (tag and reconcile them)
    #[arg(long)]
    pub adopt: bool,
    /// Apply only ADDR (repeatable) and what it depends on; see `deploy plan --help`
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// A plan saved by `deploy plan --out`: apply exactly it, without asking, or refuse before
    /// any write (exit 4) if anything it was made from changed or the file does not plan again
    /// as it shows (its targets and adoptions are part of it)
    #[arg(value_name = "PLANFILE", conflicts_with_all = ["targets", "adopt"])]
    pub plan_file: Option<PathBuf>,
    /// Refuse PLANFILE (exit 4, before reading AWS) unless its digest is D, the `digest:` that
    /// `deploy plan --out` and `deploy show` printed for the plan that was reviewed
    #[arg(long, value_name = "D", requires = "plan_file")]
    pub expect_digest: Option<String>,
    /// Wait up to DURATION for a lock held by another run (`30s`, `5m`, `1h30m`; Terraform's
    /// flag), polling with backoff and saying whom it waits for; when it runs out, exit 3. The
    /// default, 0s, stops at once (exit 3). A lock left by a run of this machine that is no
    /// longer running is taken over without waiting, with a notice
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long)]
    pub auto_approve: bool,
    /// Delete only ADDR (repeatable) and what depends on it
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Wait up to DURATION for a lock held by another run (`30s`, `5m`, `1h30m`; Terraform's
    /// flag), polling with backoff and saying whom it waits for; when it runs out, exit 3. The
    /// default, 0s, stops at once (exit 3). A lock left by a run of this machine that is no
    /// longer running is taken over without waiting, with a notice
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The file written by `deploy plan --out` (its digest goes to stderr)
    #[arg(value_name = "PLANFILE")]
    pub plan_file: PathBuf,
    /// Print the plan as JSON (the same document as `deploy plan --json`)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The id the lock message showed; without it, whatever lock is held is broken
    #[arg(value_name = "LOCK_ID")]
    pub lock_id: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    /// NAME = "value", quoted as after apply
    Text,
    /// NAME='value' lines: a dotenv file (docker compose's `env_file`, `--env-file`)
    Env,
    /// export NAME='value' lines, for `eval "$(deploy output --format export)"` in a shell
    Export,
    /// One JSON object
    Json,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print only this output's value
    pub name: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

fn parse_db_endpoint(s: &str) -> Result<(String, String, u16), String> {
    let bad = || format!("`{s}` is not ID=HOST:PORT (e.g. cruddur-db-instance=127.0.0.1:5432)");
    let (id, hp) = s.split_once('=').ok_or_else(bad)?;
    let (host, port) = hp.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    // `[::1]:5432` is how URLs and most tools write an IPv6 host with a port.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if id.is_empty() || host.is_empty() {
        return Err(bad());
    }
    Ok((id.to_string(), host.to_string(), port))
}

/// A duration as Terraform's `-lock-timeout` (Go's `time.ParseDuration`) writes it: numbers
/// with units `ms`, `s`, `m`, `h`, one after another (`1h30m`, `1.5s`), or a bare `0`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = |why: &str| format!("`{s}` is not a duration ({why}; e.g. 30s, 5m, 1h30m, 0s)");
    if s == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let mut rest = s;
    let mut secs = 0f64;
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| bad("a number needs a unit"))?;
        let value: f64 = rest[..n].parse().map_err(|_| bad("expected a number"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(bad(&format!("unknown unit `{other}`: use ms, s, m or h"))),
        };
        secs += value * scale;
        rest = &rest[u..];
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| bad("too long"))
}

/// The global flags that only matter to commands that reach AWS or a database.
const AWS_FLAGS: [&str; 5] = [
    "profile",
    "region",
    "endpoint_url",
    "db_endpoints",
    "db_insecure_plaintext",
];

/// The command line as clap sees it: the derive's definition, with the global flags a command
/// has no use for hidden from its help (still accepted, so that a shell alias with `--profile`
/// works for every command). Completions and the man page come from here too.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let unused: [(&str, &[&str]); 8] = [
        ("logs", &["db_endpoints", "db_insecure_plaintext"]),
        ("invoke", &["db_endpoints", "db_insecure_plaintext"]),
        ("validate", &AWS_FLAGS),
        (
            "policy",
            &[
                "profile",
                "endpoint_url",
                "db_endpoints",
                "db_insecure_plaintext",
            ],
        ),
        (
            "show",
            &[
                "file",
                "profile",
                "region",
                "endpoint_url",
                "db_endpoints",
                "db_insecure_plaintext",
            ],
        ),
        ("graph", &AWS_FLAGS),
        (
            "schema",
            &[
                "file",
                "profile",
                "region",
                "endpoint_url",
                "db_endpoints",
                "db_insecure_plaintext",
            ],
        ),
        (
            "completions",
            &[
                "file",
                "profile",
                "region",
                "endpoint_url",
                "db_endpoints",
                "db_insecure_plaintext",
                "no_color",
            ],
        ),
    ];
    for (sub, ids) in unused {
        let hidden: Vec<clap::Arg> = cmd
            .get_arguments()
            .filter(|a| ids.contains(&a.get_id().as_str()))
            .map(|a| a.clone().hide(true))
            .collect();
        // A subcommand that already has an argument of that id does not get the global copy.
        cmd = cmd.mut_subcommand(sub, |sc| sc.args(hidden));
    }
    cmd
}

/// Parses the process's arguments (see [`command`]).
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::FromArgMatches;
    let mut cmd = command();
    let m = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
}

/// A hint for a Terraform habit that made parsing fail: a long flag written with one dash
/// (`-auto-approve`, `-out=plan`, `-target=x`, `-json`), which clap reads as a bundle of short
/// flags and reports as "unexpected argument '-a'".
pub fn terraform_hint(args: &[String]) -> Option<String> {
    let longs: std::collections::BTreeSet<String> = {
        let cmd = command();
        let mut all = Vec::new();
        let mut stack = vec![&cmd];
        while let Some(c) = stack.pop() {
            all.extend(
                c.get_arguments()
                    .filter_map(|a| a.get_long().map(str::to_string)),
            );
            stack.extend(c.get_subcommands());
        }
        all.into_iter().collect()
    };
    for a in args.iter().skip(1).take_while(|a| *a != "--") {
        let Some(word) = a.strip_prefix('-') else {
            continue;
        };
        let name = word.split_once('=').map_or(word, |(n, _)| n);
        let looks_long = name.len() > 1
            && !name.starts_with('-')
            && name.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        if !looks_long {
            continue;
        }
        let fixed = format!("-{a}");
        return Some(if longs.contains(name) {
            format!("`{a}` has one dash: use `{fixed}` (deploy's long flags take two dashes)")
        } else {
            format!(
                "`{a}` has one dash, and deploy has no flag --{name} either: long flags take two dashes, see `deploy <command> --help`"
            )
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{parse_db_endpoint, parse_duration};
    use std::time::Duration;

    #[test]
    fn lock_timeouts_are_written_as_terraform_writes_them() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        for bad in ["", "30", "5x", "-1s", "s", "1..2s", "5 m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(
            parse_duration("5x")
                .unwrap_err()
                .contains("unknown unit `x`")
        );
    }

    #[test]
    fn db_endpoints_take_ipv6_hosts_with_or_without_brackets() {
        let want = Ok(("db".to_string(), "::1".to_string(), 5432));
        assert_eq!(parse_db_endpoint("db=[::1]:5432"), want);
        assert_eq!(parse_db_endpoint("db=::1:5432"), want);
        assert_eq!(
            parse_db_endpoint("db=127.0.0.1:6543"),
            Ok(("db".to_string(), "127.0.0.1".to_string(), 6543))
        );
        assert!(parse_db_endpoint("db=[::1]").is_err());
        assert!(parse_db_endpoint("=host:1").is_err());
    }
}

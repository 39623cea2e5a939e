//! `deploy`: a declarative AWS stack from one `stack.yaml`.
//!
//! Data flows one way:
//!
//! ```text
//! stack.yaml --stack::load--> Stack               (strict parse, interpolation, checks; no AWS)
//! AWS --Provider::read--> Live { env, found }      (batched reads per kind, in resources/*/aws.rs)
//! (Stack, Live) --plan::build::plan--> Planned     (pure: specs, diffs, dependency order)
//! Planned --plan::render--> text                   (pure)
//! Planned --engine::execute--> Report              (the only place that sequences writes,
//!                                                   each through Provider::apply / wait_for)
//! ```
//!
//! Modules depend downwards only (`scripts/check-module-cycles` fails on a cycle between files):
//!
//! ```text
//! commands, cli                the command line: commands/<cmd>.rs turns arguments into an
//!                              op's options, asks, and renders what the op returns
//! completions                  shell completion scripts (clap's, plus the file's addresses)
//! ops                          the work of each command: plan, apply, destroy, output over a
//!                              Session (tested on the fake provider); migrate, psql, logs,
//!                              invoke: the seed's old scripts as commands (the migration
//!                              engine without AWS, psql, CloudWatch Logs, Invoke)
//! engine                       the session (lock, reads, public-IP lookup, folder hashing, in
//!                              that order and overlap) and executing a plan through a
//!                              Provider; lifecycle-tested on a fake
//! provider                     the trait; aws.rs implements it by dispatching to the kinds
//! plan::build                  the planner, over the dispatch: desired nodes, orphans, then the
//!                              named ordering passes (PASSES) over plan::step's Steps, which
//!                              carry a typed StepId
//! stack::{raw, validate}       loading: the file's top level and what crosses kinds (references,
//!                              cycles), over each kind's decl.rs
//! resources (mod.rs)           dispatch over kinds: one table of node types (node_types!) from
//!                              which the Spec/Observed enums, spec, diff and replace policies are
//!                              generated; nodes, warnings
//! resources::<kind>            one folder per kind: pure mod.rs (spec, diff, replace policy, its
//!                              NodeType), decl.rs (its schema entries, decoding and checks of the
//!                              file), order.rs (its ordering passes, when it has any), aws.rs
//!                              adapter (create, update, delete; the engine turns a Replace into
//!                              those by the kind's policy)
//! resources::cognito           the Cognito family: the user_pool and trigger kinds, over the
//!                              pool model (mod.rs) and its read-modify-write (aws.rs) they share
//! resources::core              what kinds share: Key, NodeDef, Found, LiveEnv, Ctx (settings,
//!                              cancellation and progress events: no adapter reads the
//!                              environment, Ctrl-C or the terminal itself), addresses,
//!                              ownership/tag diff helpers, the Adapter and NodeType traits, batch
//!                              (one call for a group's rule writes)
//! policy                       the IAM policy a stack needs (pure, over stack and plan::saved)
//! context                      what a run hands adapters beside settings: Cancel, Events (the
//!                              progress trait the terminal implements)
//! plan (mod.rs), stack (the model; decode and check, the machinery decl.rs files use), value,
//! progress, redact, aws, error (Error: kind, address, hints; one AWS error classifier; exit
//! codes by kind), lock (the run lock in SSM),
//! interrupt (Ctrl-C), rate_limit (pacing a throttled service, learnt from its throttles),
//! settings (poll intervals, timeouts, DB TLS: read once, reach adapters through Ctx)
//! ```
//!
//! - [`stack`]: the file's model; `stack::yaml` is the one module that knows the YAML parser.
//! - [`resources`]: the kinds over [`resources::core`]; a kind never uses another kind's items.
//! - [`plan`]: the plan as a value, the graph, the planner and the renderer.
//! - [`provider`]: the boundary to AWS; [`engine`]: the session a command runs in, and executing
//!   a plan with bounded parallelism.
//! - [`commands`] and [`cli`]: the command line, thin over the rest: `commands/mod.rs` dispatches
//!   to one function per command in `commands/<cmd>.rs`.
//! - [`ops`]: what each command does (`ops::{plan, apply, destroy, output}` over an
//!   [`engine::session::Session`]; `migrate`, `psql`, `logs`, `invoke`), returning values.
//! - [`policy`]: the least-privilege IAM policy of a stack (`deploy policy`), pure.
//! - [`redact`] and [`value`]: secrets are typed (`Text`), masked in plans (`Shown`), and scrubbed
//!   from every log line and error as a last line of defence.
//!
//! There is no state file: ownership is the tag `deploy:stack=<stack>` on what the stack creates.
pub mod aws;
pub mod cli;
pub mod commands;
pub mod completions;
pub mod context;
pub mod engine;
pub mod error;
pub mod interrupt;
pub mod lock;
pub mod logging;
pub mod ops;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod provider;
pub mod public_ip;
pub mod rate_limit;
pub mod redact;
pub mod resources;
pub mod settings;
pub mod stack;
pub mod value;

//! `deploy`: a declarative AWS stack from one `stack.yaml`.
//!
//! Data flows one way:
//!
//! ```text
//! stack.yaml --stack::load--> Stack            (strict parse, interpolation, checks; no AWS)
//! AWS --engine::observe--> Live { env, found }  (batched reads per kind, in resources/*/aws.rs)
//! (Stack, Live) --plan::build::plan--> Planned  (pure: specs, diffs, dependency order)
//! Planned --plan::render--> text                (pure)
//! Planned --engine::execute--> Report           (the only place that sequences writes)
//! ```
//!
//! - [`stack`]: the file's model; `stack::load` is the one function that knows the YAML parser.
//! - [`resources`]: one folder per kind. `mod.rs` is pure (spec, observed, diff, unit tests);
//!   `aws.rs` holds that kind's AWS calls (observe, apply one change, wait for readiness).
//! - [`plan`]: the plan as a value, the graph, the planner and the renderer.
//! - [`engine`]: reading the account, executing a plan with bounded parallelism, progress.
//! - [`commands`] and [`cli`]: the command line, thin over the rest.
//! - [`redact`] and [`value`]: secrets are typed (`Text`), masked in plans (`Shown`), and scrubbed
//!   from every log line and error as a last line of defence.
//!
//! There is no state file: ownership is the tag `deploy:stack=<stack>` on what the stack creates.
pub mod aws;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod logging;
pub mod plan;
pub mod progress;
pub mod provider;
pub mod public_ip;
pub mod redact;
pub mod resources;
pub mod stack;
pub mod value;

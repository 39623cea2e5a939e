//! The one place that sequences I/O: read the live account, plan, and execute a plan in
//! dependency order with bounded concurrency.

pub mod execute;
pub mod observe;
pub mod progress;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::Clients;
use crate::resources::LiveEnv;
use crate::stack::{STACK_TAG, Stack};

pub use progress::Progress;

/// What an adapter needs to do its work.
pub struct Ctx<'a> {
    pub clients: &'a Clients,
    pub stack: &'a Stack,
    pub env: &'a LiveEnv,
    pub progress: &'a Progress,
    /// How often to poll while waiting (RDS states, Lambda states, IAM propagation, ENIs).
    pub poll: Duration,
}

impl Ctx<'_> {
    /// The tags every resource this stack creates carries: the file's `tags:` plus ownership.
    pub fn tags(&self) -> BTreeMap<String, String> {
        stack_tags(self.stack)
    }
}

/// The file's `tags:` plus `deploy:stack=<stack>`.
pub fn stack_tags(stack: &Stack) -> BTreeMap<String, String> {
    let mut t = stack.tags.clone();
    t.insert(STACK_TAG.to_string(), stack.name.clone());
    t
}

/// The poll interval: `DEPLOY_POLL_INTERVAL` seconds (fractions allowed), else `default`.
pub fn poll_interval(default: Duration) -> Duration {
    std::env::var("DEPLOY_POLL_INTERVAL")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(default, Duration::from_secs_f64)
}

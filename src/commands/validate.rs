//! `deploy validate`: the file's checks, without AWS.

use super::{Context, ExitCode};
use crate::error::{Error, Result};
use crate::stack::{Secrets, Stack};

pub(super) fn run(cx: &Context) -> Result<ExitCode> {
    let stack = cx.load(Secrets::Optional)?.stack;
    let errors = crate::resources::check(&stack);
    if !errors.is_empty() {
        return Err(Error::plan(stack.file.display().to_string(), errors));
    }
    outln!("{}: valid ({})", stack.file.display(), describe(&stack));
    Ok(0)
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

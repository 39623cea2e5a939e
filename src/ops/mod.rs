//! What the commands do, apart from asking and printing.
//!
//! `plan`, `apply`, `destroy` and `output` work over an [`crate::engine::session::Session`]
//! (on AWS, or on the fake provider in tests): each takes the loaded stack and an options
//! struct and returns values (a plan, a report, output values) that `commands` renders.
//!
//! `migrate`, `psql`, `logs` and `invoke` work on what a stack made (the seed's old scripts as
//! commands); each takes the loaded stack and its arguments and prints its own results.

pub mod apply;
pub mod dburl;
pub mod destroy;
pub mod invoke;
pub mod logs;
pub mod migrate;
pub mod output;
pub mod plan;
pub mod psql;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::plan::saved;
use crate::stack::{self, Stack, Template};

/// What a command reads of the account: the stack as the read sees it (see
/// [`crate::engine::scope`]), and whether it needs the public IP.
pub struct Reads {
    pub stack: Stack,
    pub need_ip: bool,
}

/// The secret values a stack holds, for redaction.
pub fn secret_values(stack: &Stack) -> Vec<String> {
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

/// Reads a saved plan and the digest of the very bytes parsed, or says why the file is not one
/// this deploy can apply.
pub fn read_saved(path: &std::path::Path) -> Result<(saved::SavedPlan, String)> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::user(format!(
            "cannot read the saved plan {}: {e}",
            path.display()
        ))
    })?;
    let digest = saved::digest(&bytes);
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::user(format!(
            "{} is not a saved plan of deploy (not UTF-8 text); make one with `deploy plan --out FILE`",
            path.display()
        ))
    })?;
    let file = saved::parse(&text).map_err(|m| Error::user(format!("{} {m}", path.display())))?;
    Ok((file, digest))
}

/// `function` must be one of the stack's functions: else an error naming them.
fn function_of_stack(stack: &Stack, function: &str) -> Result<()> {
    if stack.functions.contains_key(function) {
        return Ok(());
    }
    Err(Error::user(format!(
        "{} has no function `{function}` (functions: {})",
        stack.file.display(),
        stack
            .functions
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

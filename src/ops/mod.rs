//! Commands beside plan/apply that work on what a stack made (the seed's old scripts as
//! commands): `migrate`, `psql`, `logs`, `invoke`. Each module takes the loaded stack and its
//! arguments and prints its own results; `commands` only dispatches to them.

pub mod dburl;
pub mod invoke;
pub mod logs;
pub mod migrate;
pub mod psql;

use crate::error::{Error, Result};
use crate::stack::Stack;

/// `function` must be one of the stack's functions: else an error naming them.
fn function_of_stack(stack: &Stack, function: &str) -> Result<()> {
    if stack.functions.contains_key(function) {
        return Ok(());
    }
    Err(Error::User(format!(
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

//! `deploy output`: the stack's outputs, secrets included, for scripts.

use super::report::shell_quote;
use super::{Context, ExitCode};
use crate::cli::{OutputArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::ops::output::{self as op, Options, Values};
use crate::stack::Secrets;

pub(super) async fn run(cx: &Context<'_>, args: &OutputArgs) -> Result<ExitCode> {
    // Only the secrets of the outputs printed are needed (checked by the op).
    let loaded = cx.load(Secrets::Optional)?;
    let stack = &loaded.stack;
    let o = Options {
        name: args.name.as_deref(),
    };
    let reads = op::reads(stack, &o);
    let session = cx.session(&loaded, &reads, None).await?;
    let json = |r: serde_json::Result<String>| r.map_err(|e| Error::internal(None, e.to_string()));
    match op::values(&session, stack, &reads.stack, &o)? {
        Values::One(v) => {
            let n = o.name.unwrap_or_default();
            match args.format {
                // The bare value, for `$(deploy output NAME)` (Terraform's `-raw`).
                OutputFormat::Text => println!("{v}"),
                OutputFormat::Env => println!("{n}={}", shell_quote(&v)),
                OutputFormat::Export => println!("export {n}={}", shell_quote(&v)),
                // The same JSON string the full `--format json` object holds.
                OutputFormat::Json => println!("{}", json(serde_json::to_string(&v))?),
            }
        }
        Values::All(values) => match args.format {
            // Quoted as after apply (and in the plan): one way to read a value.
            OutputFormat::Text => values
                .iter()
                .for_each(|(k, v)| println!("{k} = {}", crate::value::Shown::Value(v.clone()))),
            OutputFormat::Env => values
                .iter()
                .for_each(|(k, v)| println!("{k}={}", shell_quote(v))),
            // Shell variables alone would not reach the programs the shell starts.
            OutputFormat::Export => values
                .iter()
                .for_each(|(k, v)| println!("export {k}={}", shell_quote(v))),
            OutputFormat::Json => println!("{}", json(serde_json::to_string_pretty(&values))?),
        },
    }
    Ok(0)
}

//! Rendering what a run did: the closing summary, the outputs after apply, what a destroy left.

use super::{ExitCode, INTERRUPTED};
use crate::engine::execute::Report;
use crate::error::{Error, Result};
use crate::stack::{self, Stack};

/// Prints the closing summary; true when everything was done.
pub(super) fn finish(report: &Report, verb: &str) -> bool {
    if report.ok() {
        outln!(
            "\n{} complete: {} made.",
            capitalize(verb),
            crate::plan::render::count(report.done.len(), "change")
        );
        true
    } else {
        eprintln!(
            "\n{} {}: {} done, {} failed, {} not started.",
            capitalize(verb),
            if report.interrupted {
                "interrupted"
            } else {
                "stopped"
            },
            report.done.len(),
            report.failed.len(),
            report.not_started.len()
        );
        for a in &report.done {
            eprintln!("  done:        {a}");
        }
        for (a, e) in &report.failed {
            // The line names the address: the message does not say it twice.
            let e = crate::redact::scrub(&e.message_at(a));
            eprintln!("  failed:      {a}: {e}");
        }
        for a in &report.not_started {
            eprintln!("  not started: {a}");
        }
        if report.interrupted {
            eprintln!(
                "Run `deploy {verb}` again to continue: it plans from live state and picks up where this one stopped."
            );
        }
        false
    }
}

fn failed(report: &Report, verb: &str) -> Error {
    Error::user(format!(
        "{verb} did not finish ({} failed); fix the cause and run `deploy {verb}` again: it plans from live state and continues where it stopped",
        report.failed.len()
    ))
}

/// What the file names but the stack does not own: a destroy does not delete it, and says so,
/// so that nobody looks for a role or a layer that was never the stack's to delete.
pub(super) fn print_left_in_place(stack: &Stack, head: &str) {
    let left = stack.left_in_place();
    if !left.is_empty() {
        outln!("\n{head} (named by the stack file, not owned by the stack):");
        for l in left {
            outln!("  {l}");
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// After apply, the outputs, with secret ones masked (use `deploy output` to see them).
pub(super) fn print_outputs(stack: &Stack, r: &stack::Resolver) {
    if stack.outputs.is_empty() {
        return;
    }
    outln!("\nOutputs:");
    for (name, t) in &stack.outputs {
        outln!("  {name} = {}", r.resolve(t).shown());
    }
}

pub(super) fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// What the process exits with after a run: 130 when interrupted, else 0 or the error saying
/// how to continue.
pub(super) fn outcome(report: &Report, ok: bool, verb: &str) -> Result<ExitCode> {
    if report.interrupted {
        Ok(INTERRUPTED)
    } else if ok {
        Ok(0)
    } else {
        Err(failed(report, verb))
    }
}

//! The question before apply and destroy.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use crate::error::{Error, Result};

/// Asks on a thread of its own, so that Ctrl-C at the prompt is seen (the read itself would
/// hold the runtime until Enter).
pub(super) async fn confirm(what: &str) -> Result<bool> {
    let what = what.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(confirm_blocking(&what));
    });
    rx.await
        .unwrap_or_else(|_| Err(Error::internal(None, "the prompt thread ended")))
}

fn confirm_blocking(what: &str) -> Result<bool> {
    // The plan went to stdout and the question goes to stderr: the plan must be on the screen
    // first, also when stdout is a pipe (`deploy apply | tee log`).
    let _ = std::io::stdout().flush();
    if !std::io::stdout().is_terminal() {
        wait_for_stdout_reader(Duration::from_secs(2));
    }
    eprint!("\nDo you want to {what}? Only `yes` is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::other(format!("cannot read the answer: {e}")))?;
    if n == 0 {
        // Ctrl-D: the terminal did not move to a new line, so the error would follow the question.
        eprintln!();
    }
    Ok(line.trim() == "yes")
}

/// Waits, at most `limit`, until whatever reads a pipe on stdout has read all that was written
/// to it, and a moment for it to show it. Flushing is not enough: `tee` may not have run yet.
fn wait_for_stdout_reader(limit: Duration) {
    #[cfg(unix)]
    {
        let deadline = std::time::Instant::now() + limit;
        let stdout = std::io::stdout();
        // Not a pipe (a file, or no FIONREAD): nothing to wait for.
        while rustix::io::ioctl_fionread(&stdout).is_ok_and(|n| n > 0)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    #[cfg(not(unix))]
    let _ = limit;
}

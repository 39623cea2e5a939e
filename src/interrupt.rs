//! Ctrl-C during apply and destroy. The signal handler only counts (the one thing that is safe
//! in a handler) and, on the second interrupt, leaves at once with `_exit(130)`. The first is
//! seen by whoever awaits [`requested`]: the executor stops starting steps, and every readiness
//! wait (`crate::context::Cancel::sleep`) ends with an error, while calls already sent to AWS
//! still return, so that what was done is known, the summary printed and the lock released.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

static COUNT: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// True while the executor handles interrupts itself (see [`before_execute`]).
static EXECUTING: AtomicBool = AtomicBool::new(false);

/// How often the async side looks at the count: a person pressing Ctrl-C does not notice 50 ms,
/// and waking a future from a signal handler would need a self-pipe.
const TICK: Duration = Duration::from_millis(50);

/// Takes over SIGINT (and SIGTERM, which CI runners send on cancel) for the rest of the process.
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the action only touches an atomic and calls async-signal-safe `write`/`_exit`.
        let _ = unsafe { signal_hook_registry::register(sig, on_signal) };
    }
}

#[cfg(unix)]
fn on_signal() {
    if COUNT.fetch_add(1, Ordering::SeqCst) >= 1 {
        let msg = b"\ninterrupted again: exiting at once (the next run on this machine takes over the lock left behind; elsewhere `deploy unlock` breaks it)\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(130);
        }
    } else {
        let msg = b"\ninterrupted: finishing the calls in flight, starting nothing new (Ctrl-C again to exit at once)\n";
        // SAFETY: as above.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
        }
    }
}

/// True once an interrupt came.
pub fn is_requested() -> bool {
    COUNT.load(Ordering::SeqCst) > 0
}

/// Marks an interrupt as if Ctrl-C had been pressed (tests, and a second path to the same end).
pub fn request() {
    COUNT.fetch_add(1, Ordering::SeqCst);
}

/// Resolves once an interrupt came; never, when none does.
pub async fn requested() {
    while !is_requested() {
        tokio::time::sleep(TICK).await;
    }
}

/// Resolves once an interrupt came while the executor is not running (loading, reading,
/// planning, the prompt): the command then stops before changing anything.
pub async fn before_execute() {
    while !is_requested() || EXECUTING.load(Ordering::SeqCst) {
        tokio::time::sleep(TICK).await;
    }
}

/// While this lives, interrupts are the executor's to handle.
pub struct Executing(());

impl Executing {
    pub fn start() -> Executing {
        EXECUTING.store(true, Ordering::SeqCst);
        Executing(())
    }
}

impl Drop for Executing {
    fn drop(&mut self) {
        EXECUTING.store(false, Ordering::SeqCst);
    }
}

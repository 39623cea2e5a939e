//! Progress of long waits: a status line redrawn in place on a terminal, one line per state change
//! otherwise. Everything goes to stderr; stdout carries only the plan and outputs.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Progress {
    inner: Arc<Mutex<State>>,
    tty: bool,
    quiet: bool,
}

struct State {
    /// address -> (what we wait for, since when, last state shown)
    waits: BTreeMap<String, (String, Instant, String)>,
    status_drawn: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new(std::io::stderr().is_terminal(), false)
    }
}

impl Progress {
    pub fn new(tty: bool, quiet: bool) -> Self {
        Progress {
            inner: Arc::new(Mutex::new(State {
                waits: BTreeMap::new(),
                status_drawn: false,
            })),
            tty,
            quiet,
        }
    }

    /// A silent reporter, for tests and `plan`.
    pub fn quiet() -> Self {
        Progress::new(false, true)
    }

    /// A one-off line: "address: message".
    pub fn line(&self, address: &str, message: impl std::fmt::Display) {
        if self.quiet {
            return;
        }
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        let mut err = std::io::stderr().lock();
        if st.status_drawn {
            let _ = write!(err, "\r\x1b[2K");
            st.status_drawn = false;
        }
        let _ = writeln!(
            err,
            "{address}: {}",
            crate::redact::scrub(&message.to_string())
        );
        self.draw(&mut st, &mut err);
    }

    /// Reports the state of a wait; prints a line only when `state` changes (or, on a terminal,
    /// redraws the status line with the elapsed time).
    pub fn waiting(&self, address: &str, what: &str, state: &str) {
        if self.quiet {
            return;
        }
        let changed = {
            let Ok(mut st) = self.inner.lock() else {
                return;
            };
            let entry = st
                .waits
                .entry(address.to_string())
                .or_insert_with(|| (what.to_string(), Instant::now(), String::new()));
            let changed = entry.2 != state || entry.0 != what;
            entry.0 = what.to_string();
            entry.2 = state.to_string();
            changed
        };
        if changed {
            let elapsed = self.elapsed(address);
            self.line(
                address,
                format!("waiting for {what}: {state} ({})", fmt_duration(elapsed)),
            );
        } else if self.tty {
            let Ok(mut st) = self.inner.lock() else {
                return;
            };
            let mut err = std::io::stderr().lock();
            self.draw(&mut st, &mut err);
        }
    }

    /// Ends a wait, printing how long it took.
    pub fn done_waiting(&self, address: &str) {
        let took = self.elapsed(address);
        let what = {
            let Ok(mut st) = self.inner.lock() else {
                return;
            };
            st.waits.remove(address).map(|w| w.0)
        };
        if let Some(what) = what {
            self.line(
                address,
                format!("{what}: done after {}", fmt_duration(took)),
            );
        }
    }

    fn elapsed(&self, address: &str) -> Duration {
        self.inner
            .lock()
            .ok()
            .and_then(|st| st.waits.get(address).map(|w| w.1.elapsed()))
            .unwrap_or_default()
    }

    fn draw(&self, st: &mut State, err: &mut impl Write) {
        if !self.tty || st.waits.is_empty() {
            return;
        }
        let parts: Vec<String> = st
            .waits
            .iter()
            .map(|(a, (what, since, _))| format!("{a} {what} {}", fmt_duration(since.elapsed())))
            .collect();
        let mut line = format!("waiting: {}", parts.join(", "));
        line.truncate(200);
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        st.status_drawn = true;
    }
}

pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}.{}s", s, d.subsec_millis() / 100)
    }
}

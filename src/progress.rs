//! Progress of long waits. On a terminal, one status line (indicatif) that names every running
//! wait with its elapsed time, truncated to the terminal's width so that it never wraps; finished
//! steps print as lines above it. Without a terminal, one line when a wait starts, one per state
//! change, one when it ends. Everything goes to stderr; stdout carries only the plan and outputs.
//!
//! A wait is phrased by its caller as what the resource waits *to* do ("to become Active"), so
//! that every message reads "waiting for functions.x to become Active".

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::Events;
use crate::value::fmt_duration;

/// How often the status line's elapsed times are refreshed.
const TICK: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Progress {
    inner: Arc<Mutex<State>>,
    tty: bool,
    quiet: bool,
}

struct Wait {
    what: String,
    since: Instant,
    state: String,
}

struct State {
    waits: BTreeMap<String, Wait>,
    /// The kinds the plan is still reading from the account (shown on a terminal only).
    reads: BTreeSet<String>,
    /// The status line, while at least one wait runs on a terminal.
    bar: Option<ProgressBar>,
    /// Where lines go: stderr, or a buffer in tests.
    sink: Sink,
}

enum Sink {
    Stderr,
    #[cfg(test)]
    Buffer(Arc<Mutex<Vec<u8>>>),
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
                reads: BTreeSet::new(),
                bar: None,
                sink: Sink::Stderr,
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
        if let Ok(st) = self.inner.lock() {
            st.print(&format!("{address}: {message}"));
        }
    }

    /// Reports the state of a wait for `address`; `what` is what it waits to do ("to become
    /// Active"). Without a terminal, a line when the wait starts and when `state` changes; on a
    /// terminal, the status line shows it.
    pub fn waiting(&self, address: &str, what: &str, state: &str) {
        if self.quiet {
            return;
        }
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        let line = match st.waits.get_mut(address) {
            Some(w) if w.what == what && w.state == state => None,
            Some(w) if w.what == what => {
                w.state = state.to_string();
                Some(format!(
                    "waiting for {address} {what}: now {state} ({})",
                    fmt_duration(w.since.elapsed())
                ))
            }
            _ => {
                // A new wait (or the same resource now waiting for something else).
                st.waits.insert(
                    address.to_string(),
                    Wait {
                        what: what.to_string(),
                        since: Instant::now(),
                        state: state.to_string(),
                    },
                );
                Some(format!("waiting for {address} {what} ({state})"))
            }
        };
        if self.tty {
            self.show_status(&mut st);
        } else if let Some(line) = line {
            st.print(&line);
        }
    }

    /// On a terminal, names `kind` on the status line while the account is read for it
    /// ("reading the account: functions, user_pools"); without one, nothing: the plan follows.
    pub fn reading(&self, kind: &str) {
        if self.quiet || !self.tty {
            return;
        }
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        st.reads.insert(kind.to_string());
        self.show_status(&mut st);
    }

    /// `kind` is read; the status line goes once nothing is read or waited for.
    pub fn done_reading(&self, kind: &str) {
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        if !st.reads.remove(kind) {
            return;
        }
        if st.reads.is_empty() && st.waits.is_empty() {
            if let Some(bar) = st.bar.take() {
                bar.finish_and_clear();
            }
        } else if let Some(bar) = &st.bar {
            bar.set_message(status_line(&st));
        }
    }

    /// Ends a wait, printing once how long it took. Nothing when no wait was reported.
    pub fn done_waiting(&self, address: &str) {
        if self.quiet {
            return;
        }
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        let Some(w) = st.waits.remove(address) else {
            return;
        };
        st.print(&format!(
            "{address}: waited {} {}",
            fmt_duration(w.since.elapsed()),
            w.what
        ));
        if st.waits.is_empty()
            && st.reads.is_empty()
            && let Some(bar) = st.bar.take()
        {
            bar.finish_and_clear();
        }
    }

    /// Starts the status line (and the thread that keeps its elapsed times current) if needed,
    /// and redraws it now.
    fn show_status(&self, st: &mut State) {
        if st.bar.is_none() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            // `wide_msg` is cut to the terminal's width, read at each draw: no wrapped copies
            // are left behind whatever the width, even after a resize.
            bar.set_style(
                ProgressStyle::with_template("{spinner} {wide_msg}")
                    .expect("a valid template")
                    .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
            );
            bar.set_message(status_line(st));
            bar.enable_steady_tick(TICK);
            st.bar = Some(bar);
            let inner = Arc::downgrade(&self.inner);
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(TICK);
                    let Some(inner) = inner.upgrade() else { return };
                    let Ok(st) = inner.lock() else { return };
                    let Some(bar) = &st.bar else { return };
                    bar.set_message(status_line(&st));
                }
            });
        }
        if let Some(bar) = &st.bar {
            bar.set_message(status_line(st));
        }
    }
}

/// The adapters' events, drawn as above.
impl Events for Progress {
    fn line(&self, address: &str, message: &str) {
        Progress::line(self, address, message);
    }

    fn waiting(&self, address: &str, what: &str, state: &str) {
        Progress::waiting(self, address, what, state);
    }

    fn done_waiting(&self, address: &str) {
        Progress::done_waiting(self, address);
    }

    fn reading(&self, kind: &str) {
        Progress::reading(self, kind);
    }

    fn done_reading(&self, kind: &str) {
        Progress::done_reading(self, kind);
    }
}

impl State {
    /// A permanent line, scrubbed of secrets; above the status line when there is one.
    fn print(&self, line: &str) {
        let line = crate::redact::scrub(line);
        match (&self.bar, &self.sink) {
            (Some(bar), _) => bar.println(line),
            (None, Sink::Stderr) => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            #[cfg(test)]
            (None, Sink::Buffer(b)) => {
                let _ = writeln!(b.lock().expect("buffer"), "{line}");
            }
        }
    }
}

/// The status line: what is still being read, then the waits.
fn status_line(st: &State) -> String {
    let waits = status(&st.waits);
    if st.reads.is_empty() {
        return waits;
    }
    let reads = st.reads.iter().cloned().collect::<Vec<_>>().join(", ");
    if waits.is_empty() {
        format!("reading the account: {reads}")
    } else {
        format!("reading the account: {reads}; {waits}")
    }
}

/// The status line: every running wait with its elapsed time (first, so that a narrow terminal
/// still shows it) and its state.
fn status(waits: &BTreeMap<String, Wait>) -> String {
    let parts: Vec<String> = waits
        .iter()
        .enumerate()
        .map(|(i, (a, w))| {
            format!(
                "{} {}{a} {} ({})",
                fmt_duration(w.since.elapsed()),
                if i == 0 { "waiting for " } else { "" },
                w.what,
                w.state,
            )
        })
        .collect();
    crate::redact::scrub(&parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured() -> (Progress, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let p = Progress::new(false, false);
        p.inner.lock().unwrap().sink = Sink::Buffer(buf.clone());
        (p, buf)
    }

    fn lines(buf: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        // Elapsed times vary: keep the words.
        text.lines()
            .map(|l| l.replace(|c: char| c.is_ascii_digit(), "0"))
            .collect()
    }

    #[test]
    fn without_a_terminal_one_line_per_state_change_and_one_at_the_end() {
        let (p, buf) = captured();
        let f = "functions.x";
        p.waiting(f, "to become Active", "Pending");
        p.waiting(f, "to become Active", "Pending");
        p.waiting(f, "to become Active", "Pending");
        p.waiting(f, "to become Active", "Active / InProgress");
        p.waiting(f, "to become Active", "Active / InProgress");
        p.done_waiting(f);
        // A second end of the same wait (callers end waits that may not have started) is silent.
        p.done_waiting(f);
        assert_eq!(
            lines(&buf),
            vec![
                "waiting for functions.x to become Active (Pending)",
                "waiting for functions.x to become Active: now Active / InProgress (0.0s)",
                "functions.x: waited 0.0s to become Active",
            ]
        );
    }

    #[test]
    fn a_new_goal_for_the_same_address_is_a_new_wait() {
        let (p, buf) = captured();
        let f = "functions.x";
        p.waiting(f, "to be accepted by Lambda", "role not assumable");
        p.waiting(f, "to become Active", "Pending");
        p.done_waiting(f);
        assert_eq!(
            lines(&buf),
            vec![
                "waiting for functions.x to be accepted by Lambda (role not assumable)",
                "waiting for functions.x to become Active (Pending)",
                "functions.x: waited 0.0s to become Active",
            ]
        );
    }

    #[test]
    fn the_status_line_names_every_wait_with_its_state() {
        let mut waits = BTreeMap::new();
        for (a, what, state) in [
            ("db_instances.d", "to be available", "creating"),
            ("functions.x", "to become Active", "Pending"),
        ] {
            let (what, state) = (what.to_string(), state.to_string());
            let since = Instant::now();
            waits.insert(a.to_string(), Wait { what, since, state });
        }
        assert_eq!(
            status(&waits).replace(|c: char| c.is_ascii_digit(), "0"),
            "0.0s waiting for db_instances.d to be available (creating); 0.0s functions.x to become Active (Pending)"
        );
    }

    #[test]
    fn the_status_line_names_the_kinds_still_being_read() {
        let (p, _) = captured();
        let mut st = p.inner.lock().unwrap();
        st.reads.insert("user_pools".into());
        st.reads.insert("functions".into());
        assert_eq!(
            status_line(&st),
            "reading the account: functions, user_pools"
        );
        st.reads.remove("functions");
        let since = Instant::now();
        let (what, state) = ("to be available".into(), "creating".into());
        st.waits
            .insert("db_instances.d".into(), Wait { what, since, state });
        assert_eq!(
            status_line(&st).replace(|c: char| c.is_ascii_digit(), "0"),
            "reading the account: user_pools; 0.0s waiting for db_instances.d to be available (creating)"
        );
    }

    #[test]
    fn reading_prints_nothing_without_a_terminal() {
        let (p, buf) = captured();
        p.reading("functions");
        p.done_reading("functions");
        assert!(buf.lock().unwrap().is_empty());
        assert!(p.inner.lock().unwrap().bar.is_none());
    }

    #[test]
    fn quiet_prints_nothing() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let p = Progress::quiet();
        p.inner.lock().unwrap().sink = Sink::Buffer(buf.clone());
        p.waiting("a", "to be b", "c");
        p.line("a", "x");
        p.done_waiting("a");
        assert!(buf.lock().unwrap().is_empty());
    }
}

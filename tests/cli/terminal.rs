//! What a user at a terminal sees, in a pseudo-terminal (tests/support/pty_run.py): the progress
//! status line at 50 columns leaves no wrapped copies, the prompt comes after the plan even when
//! stdout is piped, Ctrl-D at the prompt ends the line before the error; and without a terminal,
//! apply and destroy need --auto-approve.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::Env;
use super::common::SG_ONLY;

fn python() -> PathBuf {
    std::env::var_os("MOTO_SERVER_BIN")
        .map(PathBuf::from)
        .and_then(|m| m.parent().map(|d| d.join("python")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Runs `c` (its program, arguments, environment and folder) in a pseudo-terminal `cols` wide;
/// `answer` is typed once `after` has been printed. Returns the exit code and the raw output.
fn in_pty(c: &Command, cols: u16, answer: Option<(&str, &str)>, shell_tail: &str) -> (i32, String) {
    let mut p = Command::new(python());
    p.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pty_run.py"))
        .args(["--cols", &cols.to_string()]);
    if let Some((after, text)) = answer {
        p.args(["--after", after, "--answer", text]);
    }
    let mut line = shell_quote(c.get_program().to_str().unwrap());
    for a in c.get_args() {
        line.push(' ');
        line.push_str(&shell_quote(a.to_str().unwrap()));
    }
    p.args(["--", "sh", "-c", &format!("{line}{shell_tail}")]);
    p.env_clear();
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            p.env(k, v);
        }
    }
    p.env("TERM", "xterm");
    if let Some(d) = c.get_current_dir() {
        p.current_dir(d);
    }
    let o = p.output().expect("run pty_run.py");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What a terminal `width` columns wide shows after `raw`, scrollback included: a minimal
/// VT100 with autowrap, enough for what indicatif and deploy emit (CR, LF, erase in line and
/// display, cursor up/down/column; colours ignored).
fn screen(raw: &str, width: usize) -> Vec<String> {
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let (mut r, mut c) = (0usize, 0usize);
    let mut chars = raw.chars().peekable();
    let ensure = |rows: &mut Vec<Vec<char>>, r: usize| {
        while rows.len() <= r {
            rows.push(Vec::new());
        }
    };
    while let Some(ch) = chars.next() {
        match ch {
            '\r' => c = 0,
            '\n' => r += 1,
            '\x08' => c = c.saturating_sub(1),
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut params = String::new();
                let mut fin = ' ';
                for x in chars.by_ref() {
                    if x.is_ascii_alphabetic() || x == '@' || x == '~' {
                        fin = x;
                        break;
                    }
                    params.push(x);
                }
                let private = params.starts_with('?');
                let n: usize = params.trim_start_matches('?').parse().unwrap_or(0);
                ensure(&mut rows, r);
                match (fin, private) {
                    (_, true) | ('m', _) => {}
                    ('K', _) => match n {
                        0 => rows[r].truncate(c),
                        1 => (0..c.min(rows[r].len())).for_each(|i| rows[r][i] = ' '),
                        _ => rows[r].clear(),
                    },
                    ('J', _) => {
                        rows[r].truncate(c);
                        rows.truncate(r + 1);
                    }
                    ('A', _) => r = r.saturating_sub(n.max(1)),
                    ('B', _) => r += n.max(1),
                    ('C', _) => c = (c + n.max(1)).min(width - 1),
                    ('D', _) => c = c.saturating_sub(n.max(1)),
                    ('G', _) => c = n.max(1) - 1,
                    (f, _) => panic!("the screen model does not know ESC [{params}{f}"),
                }
            }
            ch if ch.is_control() => {}
            ch => {
                if c >= width {
                    r += 1;
                    c = 0;
                }
                ensure(&mut rows, r);
                let row = &mut rows[r];
                while row.len() < c {
                    row.push(' ');
                }
                if c < row.len() {
                    row[c] = ch;
                } else {
                    row.push(ch);
                }
                c += 1;
            }
        }
        ensure(&mut rows, r);
    }
    rows.into_iter()
        .map(|r| r.into_iter().collect::<String>().trim_end().to_string())
        .collect()
}

#[test]
fn the_screen_model_wraps_and_erases_like_a_terminal() {
    let s = screen("0123456789abc\r\x1b[2Kxy\r\n", 10);
    assert_eq!(s, vec!["0123456789", "xy", ""]);
    let s = screen("a\r\nb\r\nc\x1b[2A\r\x1b[J", 10);
    assert_eq!(s, vec![""]);
}

const STACK: &str = r#"
stack: narrow
security_groups:
  nw-sg:
    description: Lambda functions
db_instances:
  nw-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    final_snapshot: false
functions:
  nw-fn:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    role: auto
    vpc:
      subnets: default
      security_groups: [nw-sg]
    environment:
      DB_HOST: ${db_instances.nw-db.address}
"#;

#[test]
fn progress_at_50_columns_leaves_no_wrapped_copies() {
    // Waits long enough to be redrawn many times (the status line ticks every 0.2 s).
    let env = Env::with_fidelity(serde_json::json!({
        "rds": true, "rds_creating_s": 3.0, "rds_backing_up_s": 1.0,
        "lambda": true, "lambda_pending_s": 1.5,
        "iam": true, "iam_role_delay_s": 0.5, "iam_min_refusals": 1,
    }));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env.write_stack(STACK);
    let mut c = env.command(&["apply", "--auto-approve"]);
    c.env("DEPLOY_POLL_INTERVAL", "0.2");
    let (code, raw) = in_pty(&c, 50, None, "");
    let shown = screen(&raw, 50);
    assert_eq!(code, 0, "apply failed:\n{}", shown.join("\n"));
    // The status line was drawn, with elapsed times, many times...
    let draws = raw.matches("waiting for db_instances.nw-db to be").count();
    assert!(
        draws >= 5,
        "the status line was drawn {draws} times:\n{raw:?}"
    );
    // The elapsed time comes first, so that even 50 columns show it counting.
    for secs in 0..3 {
        assert!(
            (0..10).any(|d| raw.contains(&format!(" {secs}.{d}s waiting for db_instances.nw-db"))),
            "no elapsed time {secs}.x s on the status line: {raw:?}"
        );
    }
    // ...and nothing of it is left on the screen: no copy, wrapped or not.
    let left: Vec<&String> = shown
        .iter()
        .filter(|l| {
            l.contains("waiting for") || l.chars().any(|c| ('\u{2800}'..='\u{28ff}').contains(&c))
        })
        .collect();
    assert!(
        left.is_empty(),
        "status line copies left on a 50-column screen: {left:#?}\nscreen:\n{}",
        shown.join("\n")
    );
    // Each wait is reported once when it ends, with how long it took.
    let ended: Vec<&String> = shown
        .iter()
        .filter(|l| l.starts_with("db_instances.nw-db: waited "))
        .collect();
    // The instance waits twice: for its address (its step ends, the function starts), then,
    // alongside the function, to be available.
    assert_eq!(ended.len(), 2, "screen:\n{}", shown.join("\n"));
    assert!(ended[0].contains("to report its"), "{ended:?}");
    assert!(ended[1].contains("to be available"), "{ended:?}");
    assert!(
        shown
            .iter()
            .any(|l| l.starts_with("functions.nw-fn: waited ")),
        "screen:\n{}",
        shown.join("\n")
    );
}

const SMALL: &str = r#"
stack: prompt
security_groups:
  pr-sg:
    description: one group
"#;

fn row_of(shown: &[String], needle: &str) -> usize {
    shown
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not on the screen:\n{}", shown.join("\n")))
}

#[test]
fn the_prompt_comes_after_the_plan_when_stdout_is_piped() {
    let env = Env::new();
    env.write_stack(SMALL);
    let c = env.command(&["apply"]);
    // A reader that is slow to start: without waiting for it, the question (on stderr) would
    // reach the screen a second before the plan (through the pipe).
    let (_, raw) = in_pty(
        &c,
        100,
        Some(("Only `yes` is accepted: ", "no\n")),
        " | (sleep 1; cat)",
    );
    let shown = screen(&raw, 100);
    let plan = row_of(&shown, "Plan: 1 to create");
    let question = row_of(&shown, "Do you want to apply these changes?");
    assert!(
        plan < question,
        "the question came before the plan:\n{}",
        shown.join("\n")
    );
    assert!(
        shown[question + 1..]
            .iter()
            .any(|l| l.starts_with("error: apply cancelled"))
    );
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

#[test]
fn ctrl_d_at_the_prompt_ends_the_line_before_the_error() {
    let env = Env::new();
    env.write_stack(SMALL);
    let c = env.command(&["apply"]);
    let (code, raw) = in_pty(&c, 100, Some(("Only `yes` is accepted: ", "\\x04")), "");
    assert_eq!(code, 1, "{raw:?}");
    let shown = screen(&raw, 100);
    let question = row_of(&shown, "Do you want to apply these changes?");
    assert!(
        shown[question].ends_with("Only `yes` is accepted:"),
        "{:?}",
        shown[question]
    );
    assert!(
        shown[question + 1].starts_with("error: apply cancelled"),
        "the error does not start its own line:\n{}",
        shown.join("\n")
    );
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

#[test]
fn apply_and_destroy_without_a_terminal_need_auto_approve_and_fail_at_once() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    for cmd in ["apply", "destroy"] {
        let started = std::time::Instant::now();
        let r = env.run(&[cmd]);
        assert_eq!(r.code, 1, "{}", r.all());
        assert!(
            r.stderr
                .contains(&format!("--auto-approve to {cmd} without asking")),
            "{}",
            r.stderr
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
    assert!(
        env.calls().is_empty(),
        "refused commands must not touch AWS"
    );
}

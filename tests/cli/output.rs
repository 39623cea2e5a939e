//! What the binary prints, where the wording is the contract (the spec's plan and error
//! formats, `--help`): snapshotted with insta (`tests/cli/snapshots/`). A change of wording shows
//! up as a snapshot diff to review; accept it with `INSTA_UPDATE=always cargo test --test cli
//! output` (or `cargo insta review`). What differs between runs (the temp folder, ids, timings)
//! is replaced by a placeholder first.

use super::common::{Env, Run};

const STACK: &str = r#"stack: shots
security_groups:
  web:
    description: Web servers
    ingress:
      - description: office
        port: 443
        cidr: ${public_ip}/32
  db:
    description: Database
    ingress:
      - description: from web
        port: 5432
        source_group: web
db_instances:
  main-db:
    engine: postgres
    engine_version: "16"
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [db]
outputs:
  DB_SG: ${security_groups.db.id}
"#;

/// Replaces what differs between runs: the temp folder, AWS ids, durations.
fn scrub(env: &Env, text: &str) -> String {
    let text = text.replace(&env.dir.path().display().to_string(), "[DIR]");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        // An AWS id (`sg-` and hex), or the unix time in a final snapshot's name.
        let ids = [
            ("sg-", 8),
            ("sgr-", 8),
            ("vpc-", 8),
            ("subnet-", 8),
            ("final-", 9),
        ];
        if let Some((prefix, id, n)) = ids.iter().find_map(|(prefix, min)| {
            let id = tail.strip_prefix(prefix)?;
            let n = id.chars().take_while(char::is_ascii_hexdigit).count();
            (n >= *min).then_some((prefix, id, n))
        }) {
            out.push_str(&format!("{prefix}[ID]"));
            rest = &id[n..];
            continue;
        }
        // A duration: digits, maybe a fraction, then `s` or `ms` (not part of a word).
        let prev_alnum = head
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let n = tail
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .count();
        if n > 0 && !prev_alnum {
            let after = &tail[n..];
            let unit = ["ms", "s"].into_iter().find(|u| {
                after.starts_with(u)
                    && !after[u.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric())
            });
            if let Some(u) = unit {
                out.push_str("[T]");
                rest = &after[u.len()..];
                continue;
            }
        }
        let c = tail.chars().next().unwrap();
        out.push(c);
        rest = &tail[c.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn shown(env: &Env, r: &Run) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        r.code,
        scrub(env, &r.stdout),
        scrub(env, &r.stderr)
    )
}

/// As [`shown`], with stderr's progress lines sorted: independent steps run in parallel, so
/// their lines interleave differently from run to run. The order of dependent steps is tested
/// elsewhere (the engine's tests).
fn shown_progress(env: &Env, r: &Run) -> String {
    let mut lines: Vec<String> = scrub(env, &r.stderr).lines().map(String::from).collect();
    lines.sort();
    format!(
        "exit: {}\n--- stdout\n{}--- stderr (sorted)\n{}\n",
        r.code,
        scrub(env, &r.stdout),
        lines.join("\n")
    )
}

#[test]
fn help_names_every_command() {
    let env = Env::new();
    insta::assert_snapshot!("help", shown(&env, &env.run(&["--help"])));
    insta::assert_snapshot!("plan_help", shown(&env, &env.run(&["plan", "--help"])));
}

#[test]
fn validate_names_the_file_line_and_what_to_do() {
    let env = Env::new();
    env.write_stack(STACK);
    insta::assert_snapshot!("validate_ok", shown(&env, &env.run(&["validate"])));
    env.write_stack(&STACK.replace("port: 443", "prot: 443"));
    insta::assert_snapshot!("validate_typo", shown(&env, &env.run(&["validate"])));
    env.write_stack(&STACK.replace("source_group: web", "source_group: wbe"));
    insta::assert_snapshot!(
        "validate_unknown_group",
        shown(&env, &env.run(&["validate"]))
    );
    let calls = env.calls();
    assert!(calls.is_empty(), "validate called AWS: {calls:?}");
}

/// The life of a small stack as its user sees it: the plan, the apply, the plan with nothing to
/// do, the outputs, the change of the public IP, the destroy.
#[test]
fn plan_apply_and_destroy_print_what_the_spec_shows() {
    let env = Env::new();
    env.write_stack(STACK);
    insta::assert_snapshot!("plan_create", shown(&env, &env.run(&["plan"])));
    insta::assert_snapshot!(
        "apply",
        shown_progress(&env, &env.run(&["apply", "--auto-approve"]))
    );
    insta::assert_snapshot!("plan_no_changes", shown(&env, &env.run(&["plan"])));
    insta::assert_snapshot!("output", shown(&env, &env.run(&["output"])));
    env.set_public_ip("203.0.113.77");
    insta::assert_snapshot!("plan_new_ip", shown(&env, &env.run(&["plan"])));
    insta::assert_snapshot!(
        "destroy",
        shown_progress(&env, &env.run(&["destroy", "--auto-approve"]))
    );
}

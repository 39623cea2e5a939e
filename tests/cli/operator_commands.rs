//! The seed's old scripts as commands: `deploy psql` (with a fake psql on PATH that records how
//! it was started) and `deploy logs` (events put into the log group by the test).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::common::{Env, PASSWORD};

const DB_STACK: &str = r#"
stack: opstest
db_instances:
  cruddur-db-instance:
    engine: postgres
    engine_version: "16.4"
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    db_name: cruddur
    publicly_accessible: true
    backup_retention_days: 0
    final_snapshot: false
"#;

/// A `psql` that writes its arguments (one a line), its environment, and a copy of the CA file
/// its connection string names into `out`, then exits 7.
fn fake_psql(bin: &Path, out: &Path) {
    std::fs::create_dir_all(bin).unwrap();
    let script = format!(
        r#"#!/bin/sh
out='{out}'
: > "$out/argv"
for a in "$@"; do printf '%s\n' "$a" >> "$out/argv"; done
env > "$out/env"
ps -o args= -p $$ > "$out/ps" 2>/dev/null
ca=$(printf '%s\n' "$@" | sed -n "s/.*sslrootcert='\([^']*\)'.*/\1/p")
[ -n "$ca" ] && cp "$ca" "$out/ca.pem"
exit 7
"#,
        out = out.display()
    );
    let p = bin.join("psql");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn with_fake_psql(env: &Env, args: &[&str]) -> (super::common::Run, String, String) {
    let bin = env.path("fakebin");
    let out = env.path("psql-out");
    std::fs::create_dir_all(&out).unwrap();
    fake_psql(&bin, &out);
    let mut c = env.command(args);
    c.env(
        "PATH",
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    );
    let r = super::common::Run::from(c.output().unwrap());
    let argv = std::fs::read_to_string(out.join("argv")).unwrap_or_default();
    let penv = std::fs::read_to_string(out.join("env")).unwrap_or_default();
    (r, argv, penv)
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_connects_to_the_rds_endpoint_with_verified_tls_and_the_password_in_its_environment() {
    let env = Env::new();
    env.write_stack(DB_STACK);
    env.ok(&["apply", "--auto-approve"]);
    let (r, argv, penv) = with_fake_psql(&env, &["psql", "--", "-c", "select 1"]);
    // psql's exit code is deploy's.
    assert_eq!(r.code, 7, "{}", r.all());
    r.assert_no_secret();
    assert!(
        !argv.contains(PASSWORD),
        "the password is in psql's argv: {argv}"
    );
    assert!(
        penv.lines().any(|l| l == format!("PGPASSWORD={PASSWORD}")),
        "PGPASSWORD not set for psql"
    );
    let lines: Vec<&str> = argv.lines().collect();
    assert_eq!(lines[0], "-d", "{argv}");
    let conninfo = lines[1];
    assert!(conninfo.contains("sslmode=verify-full"), "{conninfo}");
    assert!(conninfo.contains("rds.amazonaws.com'"), "{conninfo}");
    assert!(conninfo.contains("user='root'") && conninfo.contains("dbname='cruddur'"));
    assert_eq!(&lines[2..], ["-c", "select 1"], "{argv}");
    // The CA bundle existed while psql ran, is the one deploy carries, and is gone after.
    let ca = std::fs::read(env.path("psql-out/ca.pem")).expect("sslrootcert was not readable");
    let bundle =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/rds-ca-bundle.pem"))
            .unwrap();
    assert_eq!(ca, bundle);
    let path = conninfo
        .split("sslrootcert='")
        .nth(1)
        .unwrap()
        .trim_end_matches('\'');
    assert!(!Path::new(path).exists(), "{path} was left behind");
}

#[test]
fn psql_on_a_loopback_url_prefers_tls_and_a_remote_endpoint_verifies_it() {
    let env = Env::new();
    env.write_stack(DB_STACK);
    let (r, argv, penv) = with_fake_psql(
        &env,
        &["psql", "--url", "postgresql://postgres@127.0.0.1:5433/dev"],
    );
    assert_eq!(r.code, 7, "{}", r.all());
    assert!(
        argv.contains("host='127.0.0.1' port=5433 user='postgres' dbname='dev'"),
        "{argv}"
    );
    assert!(argv.contains("sslmode=prefer"), "{argv}");
    assert!(penv.contains(&format!("PGPASSWORD={PASSWORD}")));
    // Nothing was read from AWS for it.
    assert!(env.calls().is_empty(), "{:?}", env.calls());

    let (r, argv, _) = with_fake_psql(
        &env,
        &["--db-endpoint", "cruddur-db-instance=10.1.2.3:5432", "psql"],
    );
    assert_eq!(r.code, 7, "{}", r.all());
    assert!(
        argv.contains("host='10.1.2.3'") && argv.contains("sslmode=verify-full"),
        "{argv}"
    );

    let r = env.run(&[
        "psql",
        "--url",
        "postgresql://root:Pw-in-url-1@127.0.0.1/dev",
    ]);
    assert_ne!(r.code, 0);
    assert!(
        !r.all().contains("Pw-in-url-1") && r.stderr.contains("PGPASSWORD"),
        "{}",
        r.all()
    );
}

const FN_STACK: &str = r#"
stack: logtest
functions:
  cruddur-post-confirmation:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
"#;

async fn put_events(env: &Env, group: &str, stream: &str, events: &[(i64, &str)]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&env.sdk_config().await);
    let _ = logs.create_log_group().log_group_name(group).send().await;
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    let mut req = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream);
    for (ts, m) in events {
        req = req.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(*ts)
                .message(*m)
                .build()
                .unwrap(),
        );
    }
    req.send().await.unwrap();
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_prints_the_functions_recent_lines_and_follow_prints_new_ones() {
    let env = Env::new();
    env.write_stack(FN_STACK);
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    let group = "/aws/lambda/cruddur-post-confirmation";

    let r = env.run(&["logs", "cruddur-post-confirmation"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("no log group /aws/lambda/cruddur-post-confirmation"),
        "{}",
        r.all()
    );

    let now = now_ms();
    put_events(
        &env,
        group,
        "2026/12/07/[$LATEST]abc",
        &[
            (now - 3 * 3_600_000, "old line\n"),
            (now - 60_000, "START RequestId: 1\n"),
            (now - 59_000, "new user: andrew\n"),
        ],
    )
    .await;
    let r = env.ok(&["logs", "cruddur-post-confirmation", "--since", "10m"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].ends_with("  2026/12/07/[$LATEST]abc  START RequestId: 1"),
        "{}",
        r.stdout
    );
    assert!(lines[1].ends_with("new user: andrew"), "{}", r.stdout);
    let r = env.ok(&["logs", "cruddur-post-confirmation", "--since", "4h"]);
    assert!(
        r.stdout
            .starts_with(&r.stdout.lines().next().unwrap().to_string())
    );
    assert!(
        r.stdout.lines().next().unwrap().ends_with("old line"),
        "{}",
        r.stdout
    );
    // deploy's own calls are reads of the group (the others are this test's puts).
    let calls = env.calls();
    assert!(
        calls.iter().all(|c| [
            "FilterLogEvents",
            "CreateLogGroup",
            "CreateLogStream",
            "PutLogEvents"
        ]
        .iter()
        .any(|op| c.ends_with(&format!(".{op}")))),
        "{calls:?}"
    );

    let r = env.run(&["logs", "nope"]);
    assert!(r.stderr.contains("no function `nope`"), "{}", r.all());

    // --follow: a line put while it runs is printed once.
    let mut child = env
        .command(&[
            "logs",
            "cruddur-post-confirmation",
            "--follow",
            "--since",
            "10m",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    put_events(
        &env,
        group,
        "2026/12/07/[$LATEST]def",
        &[(now_ms(), "later line\n")],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(5000)).await;
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("new user: andrew").count(), 1, "{text}");
    assert_eq!(text.matches("later line").count(), 1, "{text}");
}

const INVOKE_STACK: &str = r#"
stack: invoketest
functions:
  cruddur-post-confirmation:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    environment:
      MODE: ${env:MODE:-prod}
"#;

/// The seed's handler in small: it reads the user Cognito confirmed and says so in its log.
const HANDLER: &str = r#"import os

def lambda_handler(event, context):
    user = event["request"]["userAttributes"]
    print("new user:", user["preferred_username"], user["email"], "mode", os.environ["MODE"])
    if user["preferred_username"] == "boom":
        raise RuntimeError("cannot insert the user")
    return event
"#;

#[tokio::test(flavor = "multi_thread")]
async fn invoke_sends_a_post_confirmation_event_and_prints_the_result_and_the_log() {
    let env = Env::with_fidelity(serde_json::json!({"lambda_run": true}));
    env.write_stack(INVOKE_STACK);
    env.write_file("fn/lambda_function.py", HANDLER);
    env.ok(&["apply", "--auto-approve"]);

    // No trigger of the file names the function: the event must be given.
    let r = env.run(&["invoke", "cruddur-post-confirmation"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--event"), "{}", r.all());

    let r = env.ok(&[
        "invoke",
        "cruddur-post-confirmation",
        "--event",
        "post-confirmation",
    ]);
    // The result (Cognito wants the event back) on stdout, as JSON.
    let result: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    assert_eq!(result["triggerSource"], "PostConfirmation_ConfirmSignUp");
    let user = result["request"]["userAttributes"]["preferred_username"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(user.starts_with("deploy-test-"), "{user}");
    // The log's tail on stderr: what the handler printed, with the function's environment.
    assert!(
        r.stderr
            .contains(&format!("new user: {user} {user}@example.com mode prod")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("START RequestId:"), "{}", r.stderr);

    // The same lines are in the function's log group, where `deploy logs` reads them.
    let r = env.ok(&["logs", "cruddur-post-confirmation", "--since", "5m"]);
    assert!(
        r.stdout.contains(&format!("new user: {user}")),
        "{}",
        r.stdout
    );

    // An event from a file; a handler that raises is exit 1 with its error shown.
    let mut ev: serde_json::Value = result.clone();
    ev["request"]["userAttributes"]["preferred_username"] = "boom".into();
    env.write_file("event.json", &ev.to_string());
    let r = env.run(&[
        "invoke",
        "cruddur-post-confirmation",
        "--event",
        "event.json",
    ]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.contains("cannot insert the user"), "{}", r.all());
    assert!(r.stderr.contains("failed (Unhandled)"), "{}", r.all());

    // A bad file is refused before any AWS call, naming the file and line.
    env.write_file("bad.json", "{\n  \"a\": \n}");
    env.calls();
    let r = env.run(&["invoke", "cruddur-post-confirmation", "--event", "bad.json"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("bad.json:3:"), "{}", r.all());
    assert!(env.calls().is_empty());
}

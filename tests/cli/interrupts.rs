//! Team use and interruptions, through the binary against moto behind the fidelity proxy: the
//! lock, Ctrl-C, kill -9, and reruns that converge after each.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::common::{Env, Fidelity, Run};

const STACK: &str = r#"
stack: intr
security_groups:
  in-db-sg:
    description: Postgres access
    ingress:
      - description: LAMBDA
        port: 5432
        source_group: in-lambda-sg
  in-lambda-sg:
    description: Lambda functions
db_instances:
  in-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [in-db-sg]
    final_snapshot: false
functions:
  in-fn:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    role: auto
    vpc:
      subnets: default
      security_groups: [in-lambda-sg]
    environment:
      DB_HOST: ${db_instances.in-db.address}
"#;

const LOCK: &str = "/deploy/lock/intr/us-east-1";

fn env(creating_s: f64) -> Fidelity {
    let env = Env::with_fidelity(serde_json::json!({
        "rds": true, "rds_creating_s": creating_s, "rds_backing_up_s": 0.3,
        "rds_deleting_s": 1.0,
        "lambda": true, "lambda_pending_s": 0.3,
        "ec2": true, "ec2_eni_release_s": 1.0,
    }));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env.write_stack(STACK);
    env
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start deploy")
}

fn finish(child: Child) -> Run {
    Run::from(child.wait_with_output().unwrap())
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    let r = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(r, 0);
}

/// The proxy saw a request whose realism tag starts with `tag`.
fn seen(env: &Fidelity, tag: &str) -> bool {
    env.log()
        .iter()
        .any(|r| r["realism"].as_str().is_some_and(|s| s.starts_with(tag)))
}

async fn ssm(env: &Env) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&env.sdk_config().await)
}

async fn lock_held(env: &Env) -> bool {
    ssm(env)
        .await
        .get_parameter()
        .name(LOCK)
        .send()
        .await
        .is_ok()
}

fn lock_held_now(env: &Env) -> bool {
    // The tests run on a multi-thread runtime: a blocking poll from a test thread is fine.
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(lock_held(env)))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_at_once_one_stops_with_the_lock_message_and_the_lock_is_released() {
    let env = env(1.5);
    let first = spawn(&env, &["apply", "--auto-approve"]);
    wait_until(
        "the first apply holds the lock",
        Duration::from_secs(30),
        || lock_held_now(&env),
    );
    let second = env.run(&["apply", "--auto-approve"]);
    // Exit 3, "locked" (spec section 5): the first run is alive on this machine, not taken over.
    assert_eq!(second.code, 3, "{}", second.all());
    assert!(
        second
            .stderr
            .contains("stack `intr` in us-east-1 is locked:")
            && second.stderr.contains("running `deploy apply` since")
            && second.stderr.contains("(pid ")
            && second
                .stderr
                .contains("That run is still running on this machine"),
        "{}",
        second.stderr
    );
    // It stopped before reading anything, let alone writing.
    assert!(!second.stdout.contains("Plan:"), "{}", second.stdout);
    let first = finish(first);
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(!lock_held(&env).await, "the lock outlived the run");
    // plan takes no lock: it runs while another holds one.
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    // A failed run releases it too.
    env.write_stack(&STACK.replace("allocated_storage: 20", "allocated_storage: 30"));
    env.configure(serde_json::json!({"error_rate": 1.0, "error_match": "rds.ModifyDBInstance"}));
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!lock_held(&env).await, "a failed run kept the lock");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_rds_is_creating_stops_cleanly_and_a_rerun_while_still_creating_converges() {
    let env = env(6.0);
    let child = spawn(&env, &["apply", "--auto-approve"]);
    wait_until("RDS is seen creating", Duration::from_secs(30), || {
        seen(&env, "rds:creating")
    });
    let interrupted_at = Instant::now();
    signal(&child, libc::SIGINT);
    let r = finish(child);
    assert_eq!(r.code, 130, "{}", r.all());
    assert!(
        interrupted_at.elapsed() < Duration::from_secs(3),
        "took {:?} to stop",
        interrupted_at.elapsed()
    );
    assert!(r.stderr.contains("Apply interrupted:"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("failed:      db_instances.in-db: interrupted while waiting"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("not started: functions.in-fn"),
        "{}",
        r.stderr
    );
    r.assert_no_secret();
    assert!(!lock_held(&env).await, "Ctrl-C left the lock");

    // The instance is still creating: the rerun waits for its address, then finishes.
    let before = env.log().len();
    let r = env.ok(&["apply", "--auto-approve"]);
    r.assert_no_secret();
    let rerun = &env.log()[before..];
    assert!(
        rerun
            .iter()
            .any(|x| x["realism"].as_str() == Some("rds:creating")),
        "the rerun did not start while RDS was still creating"
    );
    let lambda = aws_sdk_lambda::Client::new(&env.sdk_config().await);
    let f = lambda
        .get_function_configuration()
        .function_name("in-fn")
        .send()
        .await
        .unwrap();
    let host = f.environment().unwrap().variables().unwrap()["DB_HOST"].clone();
    assert!(host.starts_with("in-db."), "DB_HOST={host:?}");
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_ctrl_c_exits_at_once_even_with_a_call_in_flight() {
    let env = env(0.5);
    // CreateDBInstance stalls: the run is in a call when interrupted.
    env.configure(serde_json::json!({
        "stall_rate": 1.0, "stall_s": 30, "stall_match": "rds.CreateDBInstance",
    }));
    let mut cmd = env.command(&["apply", "--auto-approve"]);
    cmd.env("DEPLOY_AWS_ATTEMPT_TIMEOUT", "60")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_until(
        "CreateDBInstance is in flight",
        Duration::from_secs(30),
        || env.calls().iter().any(|c| c == "rds.CreateDBInstance"),
    );
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(500));
    let at = Instant::now();
    signal(&child, libc::SIGINT);
    let r = finish(child);
    assert_eq!(r.code, 130, "{}", r.all());
    assert!(at.elapsed() < Duration::from_secs(2), "{:?}", at.elapsed());
    assert!(r.stderr.contains("interrupted again"), "{}", r.stderr);
    // Exiting at once leaves the lock; the message says how to break it, and unlock does.
    assert!(lock_held(&env).await);
    env.configure(serde_json::json!({"stall_rate": 0.0}));
    let r = env.ok(&["unlock"]);
    assert!(
        r.stdout.contains("Broke the lock of stack `intr`"),
        "{}",
        r.stdout
    );
    assert!(!lock_held(&env).await);
    let r = env.ok(&["unlock"]);
    assert!(r.stdout.contains("No lock"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_destroy_then_destroy_again_takes_the_lock_over_and_leaves_nothing() {
    let env = env(0.5);
    env.ok(&["apply", "--auto-approve"]);
    let child = spawn(&env, &["destroy", "--auto-approve"]);
    let killed = child.id();
    wait_until("RDS is deleting", Duration::from_secs(30), || {
        seen(&env, "rds:deleting")
    });
    signal(&child, libc::SIGKILL);
    let _ = finish(child);

    // The killed run was on this machine and its pid is gone: the next one takes its lock over,
    // naming it, and finishes the destroy.
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(
        r.stderr.contains(&format!(
            "note: took over the lock of stack `intr` in us-east-1 from a run that is no longer running (pid {killed} is gone): "
        )) && r.stderr.contains(&format!("(pid {killed}) running `deploy destroy` since")),
        "{}",
        r.stderr
    );
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(r.stdout.contains("Nothing to destroy"), "{}", r.stdout);
    let cfg = env.sdk_config().await;
    let groups = aws_sdk_ec2::Client::new(&cfg)
        .describe_security_groups()
        .send()
        .await
        .unwrap();
    let names: Vec<_> = groups
        .security_groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    assert_eq!(names, ["default"]);
    let dbs = aws_sdk_rds::Client::new(&cfg)
        .describe_db_instances()
        .send()
        .await
        .unwrap();
    assert!(dbs.db_instances().is_empty());
    assert!(!lock_held(&env).await);
}

/// CreateDBInstance's answer is lost after RDS acted: the SDK's resend meets the instance,
/// which is this stack's, and the run goes on to wait for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_db_instance_answer_makes_one_instance_in_one_run() {
    let env = env(0.5);
    env.configure(serde_json::json!({
        "lose_rate": 1.0, "lose_max": 1, "lose_match": "^rds.CreateDBInstance$",
    }));
    let r = env.ok(&["apply", "--auto-approve"]);
    r.assert_no_secret();
    assert_eq!(env.log().iter().filter(|x| x["fault"] == "lost").count(), 1);
    let dbs = aws_sdk_rds::Client::new(&env.sdk_config().await)
        .describe_db_instances()
        .send()
        .await
        .unwrap();
    assert_eq!(dbs.db_instances().len(), 1);
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// kill -9 at spread-out moments of apply (five times) and destroy (three times); then a clean
/// run, which takes over the lock the killed run left (it ran on this machine and is gone),
/// converges and leaves exactly one of each (after apply) or nothing (after destroy).
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_moments_in_apply_and_destroy_then_a_clean_run_converges() {
    let env = env(1.0);
    let kill_after = |n: usize| {
        // Moments by request count, so they fall at different steps on any machine.
        move |env: &Fidelity| env.log().len() >= n
    };
    for (command, moments) in [
        ("apply", &[6usize, 12, 18, 26, 34][..]),
        ("destroy", &[4, 10, 16][..]),
    ] {
        for &n in moments {
            if command == "destroy" {
                // Each destroy starts from a full stack.
                env.ok(&["apply", "--auto-approve"]);
            }
            let base = env.log().len();
            let child = spawn(&env, &[command, "--auto-approve"]);
            let reached = kill_after(base + n);
            let start = Instant::now();
            let mut child = child;
            while !reached(&env) && child.try_wait().unwrap().is_none() {
                assert!(start.elapsed() < Duration::from_secs(60));
                std::thread::sleep(Duration::from_millis(10));
            }
            // std's kill is SIGKILL (and a no-op when the run already ended).
            let _ = child.kill();
            let _ = child.wait();
            let r = env.ok(&[command, "--auto-approve"]);
            r.assert_no_secret();
            if command == "apply" {
                let r = env.run(&["plan", "--detailed-exitcode"]);
                assert_eq!(r.code, 0, "after kill at {n}: {}", r.all());
                let cfg = env.sdk_config().await;
                let dbs = aws_sdk_rds::Client::new(&cfg)
                    .describe_db_instances()
                    .send()
                    .await
                    .unwrap();
                assert_eq!(dbs.db_instances().len(), 1, "after kill at {n}");
                let groups = aws_sdk_ec2::Client::new(&cfg)
                    .describe_security_groups()
                    .send()
                    .await
                    .unwrap();
                assert_eq!(groups.security_groups().len(), 3, "after kill at {n}");
            } else {
                let r = env.ok(&["destroy", "--auto-approve"]);
                assert!(r.stdout.contains("Nothing to destroy"), "{}", r.stdout);
            }
        }
    }
}

/// The trial's bug 9: with nothing left to change, a rerun while the instance is still
/// `creating` said "No changes" and exited 0 at once. Now `plan` says it is still creating (not
/// a change), and `apply` waits until it is available.
#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_with_only_an_instance_still_creating_waits_for_it() {
    let env = Env::with_fidelity(serde_json::json!({
        "rds": true, "rds_creating_s": 4.0, "rds_backing_up_s": 0.3,
    }));
    env.write_stack(
        "stack: waitdb
db_instances:
  w-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    final_snapshot: false
",
    );
    let child = spawn(&env, &["apply", "--auto-approve"]);
    wait_until("RDS is seen creating", Duration::from_secs(30), || {
        seen(&env, "rds:creating")
    });
    signal(&child, libc::SIGINT);
    assert_eq!(finish(child).code, 130);

    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("Waiting: db_instances.w-db is still creating: not a change"),
        "{}",
        r.stdout
    );
    let before = env.log().len();
    let r = env.ok(&["apply", "--auto-approve"]);
    assert!(r.all().contains("db_instances.w-db"), "{}", r.all());
    // The state each DescribeDBInstances of the rerun was answered with (none: moto's own,
    // `available`, once the proxy's phases are over).
    let rerun: Vec<String> = env.log()[before..]
        .iter()
        .filter(|x| x["operation"].as_str() == Some("DescribeDBInstances"))
        .map(|x| x["realism"].as_str().unwrap_or("available").to_string())
        .collect();
    assert!(
        rerun.first().is_some_and(|s| s == "rds:creating"),
        "the rerun did not start while RDS was still creating: {rerun:?}"
    );
    assert!(
        rerun.last().is_some_and(|s| s == "available"),
        "apply ended before the instance was available: {rerun:?}"
    );
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stdout.contains("Waiting:"), "{}", r.stdout);
}

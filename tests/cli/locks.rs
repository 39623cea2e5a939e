//! The run lock against a lock another run left, through the binary against moto: a dead holder
//! of this machine is taken over, a live one or one from elsewhere stops the run with exit 3,
//! `--lock-timeout` waits for it, and Ctrl-C while waiting exits 130.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::common::Env;

const STACK: &str = "
stack: lk
security_groups:
  lk-sg:
    description: lock tests
";

const LOCK: &str = "/deploy/lock/lk/us-east-1";

fn env() -> Env {
    let env = Env::new();
    env.write_stack(STACK);
    env
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

fn pid_ns() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Field 22 of /proc/<pid>/stat, counted after the command's closing parenthesis.
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A lock value as a run of `pid` on this machine writes it, taken a minute ago.
fn here_value(pid: u32, start: u64) -> serde_json::Value {
    serde_json::json!({
        "id": "feedc0de00000001", "who": "alice", "host": "build-7", "command": "apply",
        "pid": pid, "since": now() - 60,
        "boot_id": boot_id(), "pid_ns": pid_ns(), "start": start,
    })
}

async fn ssm(env: &Env) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&env.sdk_config().await)
}

async fn put_lock(env: &Env, value: &serde_json::Value) {
    ssm(env)
        .await
        .put_parameter()
        .name(LOCK)
        .value(value.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
}

async fn lock_value(env: &Env) -> Option<serde_json::Value> {
    let out = ssm(env)
        .await
        .get_parameter()
        .name(LOCK)
        .send()
        .await
        .ok()?;
    Some(serde_json::from_str(out.parameter()?.value()?).unwrap())
}

/// Runs deploy from a test on the multi-thread runtime, letting its other tasks run meanwhile.
fn run(env: &Env, args: &[&str]) -> super::common::Run {
    tokio::task::block_in_place(|| env.run(args))
}

fn created_the_group(env: &Env) -> bool {
    env.writes().iter().any(|c| c == "ec2.CreateSecurityGroup")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_whose_holder_died_on_this_machine_is_taken_over_with_a_notice() {
    let env = env();
    // A process of this boot and namespace, gone by the time deploy looks.
    let mut dead = Command::new("sleep").arg("30").spawn().unwrap();
    let (pid, start) = (dead.id(), start_ticks(dead.id()));
    dead.kill().unwrap();
    dead.wait().unwrap();
    put_lock(&env, &here_value(pid, start)).await;

    let r = run(&env, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "note: took over the lock of stack `lk` in us-east-1 from a run that is no longer running (pid {pid} is gone): alice on build-7 (pid {pid}) running `deploy apply` since "
        )) && r.stderr.contains("ago), lock id feedc0de00000001"),
        "{}",
        r.stderr
    );
    assert!(created_the_group(&env));
    // The run released the lock it took.
    assert_eq!(lock_value(&env).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_held_by_a_live_process_of_this_machine_stops_the_run_with_exit_3() {
    let env = env();
    let me = std::process::id();
    put_lock(&env, &here_value(me, start_ticks(me))).await;
    let before = lock_value(&env).await;

    let r = run(&env, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.stderr
            .contains("error: stack `lk` in us-east-1 is locked: alice on build-7")
            && r.stderr.contains(&format!(
                "That run is still running on this machine (pid {me})"
            ))
            && r.stderr.contains("--lock-timeout"),
        "{}",
        r.stderr
    );
    // No unlock advice for a run known to be alive.
    assert!(!r.stderr.contains("deploy unlock"), "{}", r.stderr);
    assert!(!r.stdout.contains("Plan:"), "{}", r.stdout);
    assert!(!created_the_group(&env));
    assert_eq!(
        lock_value(&env).await,
        before,
        "the holder's lock was touched"
    );

    // A pid reused by a later process is not the holder: the lock recorded an earlier start.
    put_lock_overwrite(&env, &here_value(me, start_ticks(me) - 1)).await;
    let r = run(&env, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "(pid {me} is now another process, started after that run)"
        )),
        "{}",
        r.stderr
    );
}

async fn put_lock_overwrite(env: &Env, value: &serde_json::Value) {
    ssm(env)
        .await
        .put_parameter()
        .name(LOCK)
        .value(value.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

/// A lock from another machine (or boot), another pid namespace, or written before the lock
/// recorded where it ran, is never taken over, even when its pid means nothing here: the run
/// stops with exit 3 and how to break it; `deploy unlock` with a wrong id breaks nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_lock_from_elsewhere_or_an_older_deploy_is_not_taken_over() {
    let env = env();
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let mut elsewhere = here_value(pid, 1);
    elsewhere["boot_id"] = "0d5a2c9e-0000-4000-8000-000000000000".into();
    let mut other_ns = here_value(pid, 1);
    other_ns["pid_ns"] = "pid:[1]".into();
    let mut older = here_value(pid, 1);
    for k in ["boot_id", "pid_ns", "start"] {
        older.as_object_mut().unwrap().remove(k);
    }
    for (what, value) in [
        ("another boot", elsewhere),
        ("another namespace", other_ns),
        ("an older deploy", older),
    ] {
        put_lock_overwrite(&env, &value).await;
        let r = run(&env, &["destroy", "--auto-approve"]);
        assert_eq!(r.code, 3, "{what}: {}", r.all());
        assert!(
            r.stderr.contains("stack `lk` in us-east-1 is locked: alice")
                && r.stderr.contains(
                    "If it was killed (no deploy is running), break the lock with `deploy unlock feedc0de00000001`"
                ),
            "{what}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("took over"), "{what}: {}", r.stderr);
        assert!(lock_value(&env).await.is_some(), "{what}");
    }
    let wrong = run(&env, &["unlock", "0000000000000000"]);
    assert_eq!(wrong.code, 1, "{}", wrong.all());
    assert!(
        wrong.stderr.contains("has id feedc0de00000001"),
        "{}",
        wrong.stderr
    );
    let r = run(&env, &["unlock", "feedc0de00000001"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(lock_value(&env).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_timeout_waits_for_a_holder_that_releases() {
    let env = env();
    let me = std::process::id();
    put_lock(&env, &here_value(me, start_ticks(me))).await;
    let cfg = env.sdk_config().await;
    // The holder lets go a second after deploy first found the lock taken (its GetParameter
    // follows the refused put), however long deploy took to start on a busy machine.
    let (r, waited) = std::thread::scope(|scope| {
        let releaser = scope.spawn(|| {
            let start = Instant::now();
            while !env.calls().iter().any(|c| c == "ssm.GetParameter") {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "never asked for the lock"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            let seen = Instant::now();
            std::thread::sleep(Duration::from_secs(1));
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(
                    aws_sdk_ssm::Client::new(&cfg)
                        .delete_parameter()
                        .name(LOCK)
                        .send(),
                )
                .unwrap();
            seen
        });
        let r = run(&env, &["apply", "--auto-approve", "--lock-timeout", "30s"]);
        let seen = releaser.join().unwrap();
        (r, seen.elapsed())
    });
    assert_eq!(r.code, 0, "{}", r.all());
    // It waited for the release rather than failing or taking the live holder's lock.
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(
        r.stderr.contains(&format!(
            "waiting for the lock held by alice on build-7 (pid {me}) running `deploy apply`"
        )) && r.stderr.contains("(up to 30s in all)")
            && r.stderr
                .contains("took the lock of stack `lk` in us-east-1 after waiting"),
        "{}",
        r.stderr
    );
    assert!(created_the_group(&env));
    assert_eq!(lock_value(&env).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_timeout_that_runs_out_exits_3() {
    let env = env();
    let me = std::process::id();
    put_lock(&env, &here_value(me, start_ticks(me))).await;
    for command in ["apply", "destroy"] {
        let at = Instant::now();
        let r = run(&env, &[command, "--auto-approve", "--lock-timeout", "1s"]);
        let took = at.elapsed();
        assert_eq!(r.code, 3, "{command}: {}", r.all());
        assert!(took >= Duration::from_secs(1), "{command}: {took:?}");
        // Not the minute a holder that never lets go could keep it waiting (a loaded machine
        // makes each look at the lock slow, hence the margin).
        assert!(took < Duration::from_secs(30), "{command}: {took:?}");
        // (Whether it said it waits depends on how long its first look took: with 1s, maybe
        // not at all on a busy machine.)
        assert!(
            r.stderr
                .contains("error: stack `lk` in us-east-1 is still locked after waiting ")
                && r.stderr.contains("(--lock-timeout 1s): alice on build-7"),
            "{command}: {}",
            r.stderr
        );
    }
    assert!(!created_the_group(&env));
    // A bad duration is a usage error (exit 1), before any call.
    let r = run(&env, &["apply", "--auto-approve", "--lock-timeout", "5x"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("unknown unit `x`"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_waiting_for_the_lock_exits_130_and_leaves_the_holders_lock() {
    let env = env();
    let me = std::process::id();
    put_lock(&env, &here_value(me, start_ticks(me))).await;
    let before = lock_value(&env).await;
    let child = env
        .command(&["apply", "--auto-approve", "--lock-timeout", "60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Until it says it waits (stderr is read at the end; the proxy-less env has no log to
    // watch), poll moto's recording for the GetParameter that follows the refused put.
    let start = Instant::now();
    while !env.calls().iter().any(|c| c == "ssm.GetParameter") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never asked for the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let r = super::common::Run::from(child.wait_with_output().unwrap());
    assert_eq!(r.code, 130, "{}", r.all());
    assert!(
        r.stderr.contains("interrupted: nothing was changed"),
        "{}",
        r.stderr
    );
    assert_eq!(
        lock_value(&env).await,
        before,
        "the holder's lock was touched"
    );
}

/// Whoever can write the lock parameter chooses its texts: control characters in them are shown
/// escaped, and an id deploy never writes is not pasted into the suggested `deploy unlock`.
#[tokio::test(flavor = "multi_thread")]
async fn a_planted_lock_cannot_forge_terminal_output_or_the_unlock_command() {
    let env = env();
    put_lock(
        &env,
        &serde_json::json!({
            "id": "x`; rm -rf ~; `", "who": "mallory\n\u{1b}[2Kdeploy: done", "host": "h",
            "command": "apply", "pid": 1, "since": now() - 60,
        }),
    )
    .await;
    let r = run(&env, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
    assert!(r.stderr.contains(r"mallory\n\u{1b}[2K"), "{}", r.stderr);
    assert!(!r.stderr.contains("deploy unlock x"), "{}", r.stderr);
    assert!(
        r.stderr.contains("`deploy unlock` (without an id)"),
        "{}",
        r.stderr
    );
    assert!(!created_the_group(&env));
}

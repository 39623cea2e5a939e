//! The binary against moto behind the fidelity proxy: AWS's slow states, conflicts, IAM lag and
//! security-group dependencies, with short times.

use super::common::Env;

const STACK: &str = r#"
stack: realism
security_groups:
  rl-db-sg:
    description: Postgres access
    ingress:
      - description: LAMBDA
        port: 5432
        source_group: rl-lambda-sg
  rl-lambda-sg:
    description: Lambda functions
db_instances:
  rl-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [rl-db-sg]
    final_snapshot: false
functions:
  rl-fn:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    role: auto
    vpc:
      subnets: default
      security_groups: [rl-lambda-sg]
    environment:
      DB_HOST: ${db_instances.rl-db.address}
"#;

/// Everything the proxy models, on, with times short enough for `make test` but long enough
/// that deploy must wait through each state at least once (it polls every 0.05 s). The role is
/// made first and the function only once RDS has an address, and destroy waits out `deleting`
/// before it deletes the groups: the minimum refusals make deploy meet IAM lag and held groups
/// however slow the machine is.
fn realism() -> serde_json::Value {
    serde_json::json!({
        "rds": true, "rds_creating_s": 0.8, "rds_backing_up_s": 0.5, "rds_modifying_s": 0.5,
        "rds_stopping_s": 0.5, "rds_starting_s": 0.5, "rds_deleting_s": 1.0,
        "lambda": true, "lambda_pending_s": 0.5, "lambda_updating_s": 0.5,
        "iam": true, "iam_role_delay_s": 1.0, "iam_min_refusals": 2,
        "ec2": true, "ec2_eni_release_s": 1.0, "ec2_min_refusals": 1, "ec2_unseen_calls": 2,
    })
}

/// One line per request, for failure messages: seconds since the first, operation, status, what
/// the proxy did.
fn summary(log: &[serde_json::Value]) -> String {
    let t0 = log.first().and_then(|r| r["start"].as_f64()).unwrap_or(0.0);
    log.iter()
        .map(|r| {
            format!(
                "{:7.2} {}.{} {} {} {}\n",
                r["start"].as_f64().unwrap_or(0.0) - t0,
                r["service"].as_str().unwrap_or("?"),
                r["operation"].as_str().unwrap_or("?"),
                r["status"],
                r["fault"].as_str().unwrap_or(""),
                r["realism"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

fn seen(log: &[serde_json::Value], realism: &str) -> bool {
    log.iter().any(|r| {
        r["realism"]
            .as_str()
            .is_some_and(|s| s.starts_with(realism))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn full_lifecycle_with_aws_timing_converges() {
    let env = Env::with_fidelity(realism());
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env.write_stack(STACK);

    let started = std::time::Instant::now();
    let r = env.ok(&["apply", "--auto-approve"]);
    r.assert_no_secret();
    let applied = env.log();
    for (what, why) in [
        ("rds:creating", "RDS was never seen creating"),
        ("rds:backing-up", "RDS was never seen backing-up"),
        ("lambda:Pending", "the function was never seen Pending"),
        (
            "iam:role-not-assumable",
            "Lambda never refused the young role",
        ),
        ("ec2:unseen", "EC2 never hid a new group"),
    ] {
        assert!(seen(&applied, what), "{why}; log:\n{}", summary(&applied));
    }

    // The function got the instance's real address, though RDS had none while creating.
    let cfg = env.sdk_config().await;
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let f = lambda
        .get_function_configuration()
        .function_name("rl-fn")
        .send()
        .await
        .unwrap();
    let host = f.environment().unwrap().variables().unwrap()["DB_HOST"].clone();
    assert!(host.starts_with("rl-db."), "DB_HOST={host:?}");

    // Two throttles (deterministic: the first two requests) are absorbed by the SDK's retries.
    env.configure(serde_json::json!({"throttle_rate": 1.0, "throttle_max": 2}));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "plan after apply is not empty:\n{}", r.all());
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let throttled = env
        .log()
        .iter()
        .filter(|r| r["fault"] == "throttle")
        .count();
    assert_eq!(throttled, 2);
    env.configure(serde_json::json!({"throttle_rate": 0.0}));

    // Changes in place: RDS goes `modifying`, the function `InProgress`; then stop and start.
    let changed = STACK
        .replace("allocated_storage: 20", "allocated_storage: 30")
        .replace("    role: auto", "    role: auto\n    memory: 256");
    for (yaml, what) in [
        (changed.clone(), "rds:modifying"),
        (
            changed.replace(
                "    final_snapshot",
                "    running: false\n    final_snapshot",
            ),
            "rds:stopping",
        ),
        (changed.clone(), "rds:starting"),
    ] {
        env.write_stack(&yaml);
        let before = env.log().len();
        env.ok(&["apply", "--auto-approve"]);
        let step = &env.log()[before..];
        assert!(seen(step, what), "never saw {what}:\n{}", summary(step));
        let r = env.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(r.code, 0, "not converged after {what}:\n{}", r.all());
    }
    assert!(
        seen(&env.log(), "lambda:InProgress"),
        "the update was never InProgress"
    );

    eprintln!(
        "realism lifecycle: applied and changed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let r = env.ok(&["destroy", "--auto-approve"]);
    r.assert_no_secret();
    let log = env.log();
    assert!(
        seen(&log, "ec2:dependency"),
        "destroy never met a group still in use; log:\n{}",
        summary(&log)
    );
    assert!(
        seen(&log, "rds:deleting"),
        "RDS was never seen deleting:\n{}",
        summary(&log)
    );
    // Nothing was left behind, and neither moto nor the proxy failed.
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let groups = ec2.describe_security_groups().send().await.unwrap();
    let names: Vec<_> = groups
        .security_groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    assert_eq!(names, ["default"], "groups left: {names:?}");
    let rds = aws_sdk_rds::Client::new(&cfg);
    let dbs = rds.describe_db_instances().send().await.unwrap();
    assert!(dbs.db_instances().is_empty(), "{:?}", dbs.db_instances());
    let fns = lambda.list_functions().send().await.unwrap();
    assert!(fns.functions().is_empty());
    let unexpected: Vec<_> = log
        .iter()
        .filter(|r| r["status"].as_u64().is_some_and(|s| s >= 500) && r["fault"].is_null())
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    eprintln!(
        "realism lifecycle: {:.1} s, {} requests",
        started.elapsed().as_secs_f64(),
        log.len()
    );
}

/// Waits poll soon and back off: with the default 10 s interval, a function update Lambda takes
/// 2 s to finish is seen done after the pauses of 1 and 1.5 s, not after a whole interval.
#[test]
fn a_short_wait_ends_soon_after_the_resource_is_ready() {
    let env = Env::with_fidelity(serde_json::json!({
        "lambda": true, "lambda_pending_s": 0.3, "lambda_updating_s": 2.0,
    }));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    let stack = "stack: waits\nfunctions:\n  w-fn:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n    role: auto\n";
    env.write_stack(stack);
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&stack.replace("role: auto", "role: auto\n    memory: 256"));
    let before = env.log().len();
    let started = std::time::Instant::now();
    let out = env
        .command(&["apply", "--auto-approve"])
        .env("DEPLOY_POLL_INTERVAL", "10")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = env.log();
    let polls: Vec<_> = log[before..]
        .iter()
        .filter(|r| r["operation"] == "GetFunctionConfiguration")
        .collect();
    // Read once while still updating, and again soon after it finished.
    assert!(polls.len() >= 2, "{}", summary(&log[before..]));
    assert!(
        took < std::time::Duration::from_secs(8),
        "the update wait took {took:?}, as long as a whole 10 s interval:\n{}",
        summary(&log[before..])
    );
}

//! Offline behaviour: validate, bad input, usage errors, confirmation rules.

use super::common::Env;

const SG_ONLY: &str = r#"
stack: basics
security_groups:
  web-sg:
    description: web
    ingress:
      - description: HTTPS
        port: 443
        cidr: 0.0.0.0/0
"#;

#[test]
fn validate_makes_no_aws_call_and_reports_the_stack() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    let r = env.ok(&["validate"]);
    assert!(r.stdout.contains("valid"), "{}", r.stdout);
    assert!(env.calls().is_empty(), "validate called AWS");
    // Also with an endpoint nobody listens on: validate must not need AWS at all.
    let r = env.ok(&["--endpoint-url", "http://127.0.0.1:9", "validate"]);
    assert!(
        r.stdout
            .contains("1 security group with 1 rule, 0 db instances"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_input_is_an_error_with_file_line_column_before_any_aws_call() {
    let env = Env::new();
    env.write_stack("stack: bad\nsecurity_groups:\n  g:\n    description: d\n    ingress:\n      - description: X\n        port: 22\n        cidr: 10.0.0.300/32\n");
    for args in [&["validate"][..], &["plan"], &["apply", "--auto-approve"]] {
        let cmd = args[0];
        let r = env.run(args);
        assert_eq!(r.code, 1, "{cmd}: {}", r.all());
        assert!(r.stderr.contains("stack.yaml:8:15:"), "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("not an IPv4 CIDR"), "{cmd}: {}", r.stderr);
    }
    assert!(env.calls().is_empty(), "an invalid stack reached AWS");
}

#[test]
fn literal_password_and_unset_secret_are_refused_without_echoing_them() {
    let env = Env::new();
    env.write_stack("stack: s\ndb_instances:\n  d:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: Literal-Pw-123\n");
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("stack.yaml:8:22:") && r.stderr.contains("${secret:NAME}"),
        "{}",
        r.stderr
    );
    assert!(!r.all().contains("Literal-Pw-123"));
    r.assert_no_secret();
    env.write_stack("stack: s\noutputs:\n  X: ${secret:NOT_SET_ANYWHERE}\n");
    // validate needs no secret (CI validates without them); plan does, and says where.
    env.ok(&["validate"]);
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("stack.yaml:3:6:") && r.stderr.contains("NOT_SET_ANYWHERE is not set"),
        "{}",
        r.stderr
    );
    assert!(env.calls().is_empty());
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let env = Env::new();
    let r = env.run(&["plan", "--no-such-flag"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let r = env.run(&["frobnicate"]);
    assert_eq!(r.code, 1);
    let r = env.ok(&["--help"]);
    assert!(
        r.stdout.contains("plan") && r.stdout.contains("destroy"),
        "{}",
        r.stdout
    );
    let r = env.ok(&["apply", "--help"]);
    assert!(r.stdout.contains("--auto-approve"));
}

#[test]
fn global_flags_work_after_the_command() {
    let env = Env::new();
    env.write_file("other/my.yaml", SG_ONLY);
    let r = env.ok(&["validate", "-f", "other/my.yaml"]);
    assert!(r.stdout.contains("my.yaml: valid"), "{}", r.stdout);
    let r = env.run(&["validate"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("stack.yaml: no such file"),
        "{}",
        r.stderr
    );
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

#[test]
fn destroy_needs_no_secret() {
    let env = Env::new();
    env.write_stack(
        "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: ${secret:NOT_SET_ANYWHERE}\n",
    );
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(r.stdout.contains("Nothing to destroy"), "{}", r.stdout);
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("NOT_SET_ANYWHERE is not set"),
        "{}",
        r.stderr
    );
}

#[test]
fn output_name_works_when_other_outputs_are_not_known_yet() {
    let env = Env::new();
    env.write_stack(
        "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    manage_master_password: true\noutputs:\n  REGION_NAME: ${env:AWS_REGION}\n  DB_HOST: ${db_instances.db.address}\n",
    );
    let r = env.ok(&["output", "REGION_NAME"]);
    assert_eq!(r.stdout, "us-east-1\n");
    let r = env.run(&["output", "DB_HOST"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("output DB_HOST needs db_instances.db which does not exist yet"),
        "{}",
        r.stderr
    );
    let r = env.run(&["output"]);
    assert_eq!(r.code, 1, "{}", r.all());
}

#[test]
fn a_badly_named_migration_file_is_an_error_not_an_empty_plan() {
    let env = Env::new();
    env.write_stack(
        "stack: m\ndb_instances:\n  d:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: ${secret:DB_PASSWORD}\n    migrations: sql\n",
    );
    env.write_file("sql/0001_ok.sql", "select 1;\n");
    env.write_file("sql/add_users.sql", "select 2;\n");
    for args in [&["validate"][..], &["plan"]] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(r.stderr.contains("stack.yaml:3:"), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("NNNN_name.sql") && r.stderr.contains("add_users.sql"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// What EC2, IAM and RDS refuse and moto takes: errors at their lines from validate, plan and
/// apply, with no call made (the fidelity proxy, which refuses these as EC2 does, sees none).
#[test]
fn values_aws_refuses_are_errors_at_their_line_before_any_call() {
    let env = Env::with_fidelity(serde_json::json!({"ec2": true}));
    env.write_file("fn/app.py", "def handler(e, c):\n    return e\n");
    let long = "f".repeat(60);
    env.write_stack(&format!(
        "stack: s\nsecurity_groups:\n  db-sg:\n    description: \"Andrew's db\"\n    ingress:\n      - description: \"Andrew's laptop\"\n        port: 5432\n        cidr: 10.0.0.0/8\n      - description: lambda & co\n        port: 5432\n        source_group: fn-sg\n  fn-sg:\n    description: functions\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 100\n    storage_type: io1\n    master_username: root\n    manage_master_password: true\nfunctions:\n  {long}:\n    source: fn\n    runtime: python3.12\n    handler: app.handler\n    role: auto\n"
    ));
    for args in [&["validate"][..], &["plan"], &["apply", "--auto-approve"]] {
        let cmd = args[0];
        let r = env.run(args);
        assert_eq!(r.code, 1, "{cmd}: {}", r.all());
        for (at, says) in [
            (
                "stack.yaml:4:",
                "description has characters EC2 refuses ('\\'')",
            ),
            (
                "stack.yaml:6:",
                "rule description `Andrew\\'s laptop` has characters EC2 refuses",
            ),
            ("stack.yaml:9:", "has characters EC2 refuses ('&')"),
            ("stack.yaml:19:", "storage_type io1 needs provisioned IOPS"),
            ("stack.yaml:27:", "IAM allows at most 64"),
        ] {
            assert!(
                r.stderr.lines().any(|l| l.contains(at) && l.contains(says)),
                "{cmd}: want {at} {says}:\n{}",
                r.stderr
            );
        }
    }
    assert!(env.calls().is_empty(), "an invalid stack reached AWS");
    assert!(env.log().is_empty(), "the proxy saw calls: {:?}", env.log());
}

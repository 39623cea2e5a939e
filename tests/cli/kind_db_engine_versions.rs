//! RDS engine versions through the binary: versions RDS no longer creates are refused at plan
//! time, a major alone takes RDS's current minor, and a minor RDS upgraded by itself is no change.
//! The fidelity proxy answers DescribeDBEngineVersions and refuses unknown versions as RDS does
//! (`rds_versions`, with its default list: 16.9, 16.10 and 16.11 for 16); plain moto cannot
//! answer DescribeDBEngineVersions at all.

use super::common::Env;

fn stack(instances: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "stack: ev\nsecurity_groups:\n  ev-db-sg:\n    description: Postgres access\ndb_instances:\n",
    );
    for (name, version) in instances {
        s.push_str(&format!(
            "  {name}:\n    engine: postgres\n    engine_version: \"{version}\"\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    storage_encrypted: true\n    master_username: root\n    master_password: ${{secret:DB_PASSWORD}}\n    security_groups: [ev-db-sg]\n    final_snapshot: false\n"
        ));
    }
    s
}

fn line_of(yaml: &str, needle: &str) -> usize {
    yaml.lines().position(|l| l.contains(needle)).unwrap() + 1
}

async fn versions(env: &Env) -> Vec<(String, String)> {
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    let mut out: Vec<(String, String)> = rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .map(|d| {
            (
                d.db_instance_identifier().unwrap_or_default().to_string(),
                d.engine_version().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_retired_version_is_a_plan_error_at_its_line_and_nothing_is_created() {
    let env = Env::with_fidelity(serde_json::json!({"rds_versions": true}));
    let yaml = stack(&[("ev-db", "16.4")]);
    env.write_stack(&yaml);
    let line = line_of(&yaml, "engine_version");
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{}", r.all());
        assert!(
            r.stderr
                .contains(&format!("stack.yaml:{line}:21: db_instances.ev-db: engine_version 16.4: RDS no longer creates postgres 16.4")),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("for 16 it creates 16.9, 16.10, 16.11"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("engine_version: \"16\""), "{}", r.stderr);
        r.assert_no_secret();
    }
    // Refused before any write: not even the security group it needs was made.
    assert_eq!(env.writes(), Vec::<String>::new());
    assert!(
        env.log()
            .iter()
            .any(|r| r["operation"] == "DescribeDBEngineVersions" && r["status"] == 200)
    );
    // The proxy refuses the create as RDS would, had deploy sent it.
    assert!(
        !env.log()
            .iter()
            .any(|r| r["operation"] == "CreateDBInstance")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_major_alone_takes_the_current_minor_and_a_minor_rds_upgraded_is_no_change() {
    let env = Env::with_fidelity(serde_json::json!({"rds_versions": true}));
    let yaml = stack(&[("ev-major", "16"), ("ev-minor", "16.10")]);
    env.write_stack(&yaml);
    let r = env.ok(&["apply", "--auto-approve"]);
    r.assert_no_secret();
    // RDS created 16's default minor for the major alone, and exactly the minor named.
    assert_eq!(
        versions(&env).await,
        vec![
            ("ev-major".to_string(), "16.11".to_string()),
            ("ev-minor".to_string(), "16.10".to_string()),
        ]
    );
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stdout.contains("Note:"), "{}", r.stdout);

    // RDS upgrades both in the maintenance window: the file still holds, without an error.
    env.rds_upgrade("ev-minor", "16.11");
    env.rds_upgrade("ev-major", "16.12");
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    assert!(
        r.stdout.contains("Note: db_instances.ev-minor runs 16.11, newer than the file's 16.10 (RDS upgraded it); no change"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("Note:").count(), 1, "{}", r.stdout);
    // Another change is still planned and applied, and the version is left as RDS made it.
    env.write_stack(&yaml.replacen("allocated_storage: 20", "allocated_storage: 30", 1));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout.contains("allocated_storage = 20 -> 30"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("engine_version"), "{}", r.stdout);
    env.ok(&["apply", "--auto-approve"]);
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.ok(&["destroy", "--auto-approve"]);
}

#[test]
fn where_the_versions_cannot_be_read_the_plan_says_so_and_goes_on() {
    // Plain moto answers DescribeDBEngineVersions with an HTML 500.
    let env = Env::new();
    env.write_stack(&stack(&[("ev-db", "16.4")]));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stdout.contains("+ db_instances.ev-db"), "{}", r.stdout);
    assert!(
        r.stdout.contains("engine version not checked: "),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("HTTP 500"), "{}", r.stdout);
    // Once: the check is advisory, so the SDK does not retry it.
    let asked = env
        .calls()
        .iter()
        .filter(|c| c.ends_with("DescribeDBEngineVersions"))
        .count();
    assert_eq!(asked, 1);
}

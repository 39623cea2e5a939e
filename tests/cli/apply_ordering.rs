//! The order of an apply's steps as AWS sees it: a step waits for what it needs of another, not
//! for everything the other does (the week's items 3 and 4).

use super::common::Env;

const STACK: &str = r#"
stack: order
db_instances:
  db:
    engine: postgres
    engine_version: "16"
    instance_class: db.t3.micro
    allocated_storage: 20
    storage_encrypted: true
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    final_snapshot: false
functions:
  fn:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    timeout: 10
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD|url}@${db_instances.db.address}:5432/app
user_pools:
  users:
    username_attributes: [email]
cognito_triggers:
  - user_pool: users
    event: post_confirmation
    function: fn
"#;

fn env() -> super::common::Fidelity {
    let env = Env::with_fidelity(serde_json::json!({
        "rds": true, "rds_creating_s": 1, "rds_backing_up_s": 0.5, "rds_modifying_s": 4,
        "lambda": true, "cognito": true
    }));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env
}

/// An instance's class change (minutes on AWS, 4 s here) does not hold up the update of a
/// function that reads the instance's address, which the modify leaves as it is.
#[test]
fn a_function_update_does_not_wait_for_its_instances_modify() {
    let env = env();
    env.write_stack(STACK);
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(
        &STACK
            .replace("db.t3.micro", "db.t3.small")
            .replace("timeout: 10", "timeout: 20"),
    );
    let r = env.ok(&["apply", "--auto-approve"]);
    let at = |line: &str| {
        r.stderr
            .lines()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no `{line}` in:\n{}", r.stderr))
    };
    assert!(
        at("functions.fn: updated") < at("db_instances.db: updated"),
        "{}",
        r.stderr
    );
    let r = env.ok(&["plan", "--detailed-exitcode"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
}

/// A pool replaced (its username attributes are fixed at creation) while its trigger is removed:
/// the trigger lets go of the old pool before the replace deletes it.
#[test]
fn a_pool_replaced_while_its_trigger_is_removed_is_let_go_first() {
    let env = env();
    env.write_stack(STACK);
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(
        &STACK
            .split("cognito_triggers:")
            .next()
            .unwrap()
            .replace("[email]", "[phone_number]"),
    );
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let pos = |line: &str| {
        r.stderr
            .lines()
            .position(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("no `{line}` in:\n{}", r.stderr))
    };
    assert!(
        pos("cognito_triggers.users.post_confirmation: deleted") < pos("user_pools.users: "),
        "{}",
        r.stderr
    );
    let r = env.ok(&["plan", "--detailed-exitcode"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
}

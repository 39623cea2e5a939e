//! RDS's state rules through the binary, on the fidelity proxy's RDS state machine: stopping
//! only from `available`, starting a stopped instance to modify it, and changes RDS applies
//! without listing them as pending (see tests/support/README.md, `rds_storage_optimization_s`
//! and `rds_lazy_s`).

use super::common::Env;

struct Db {
    storage: u32,
    storage_type: &'static str,
    running: bool,
    protect: bool,
    public: bool,
    insights: bool,
}

const DB: Db = Db {
    storage: 20,
    storage_type: "gp3",
    running: true,
    protect: false,
    public: false,
    insights: false,
};

fn stack(d: &Db) -> String {
    format!(
        r#"
stack: rdsstates
db_instances:
  states-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: {storage}
    storage_type: {storage_type}
    master_username: root
    master_password: ${{secret:DB_PASSWORD}}
    publicly_accessible: {public}
    performance_insights: {{ enabled: {insights} }}
    deletion_protection: {protect}
    running: {running}
    final_snapshot: false
"#,
        storage = d.storage,
        storage_type = d.storage_type,
        public = d.public,
        insights = d.insights,
        protect = d.protect,
        running = d.running,
    )
}

fn timing(extra: serde_json::Value) -> serde_json::Value {
    let mut o = serde_json::json!({
        "rds": true, "rds_creating_s": 0.2, "rds_backing_up_s": 0.2, "rds_modifying_s": 0.3,
        "rds_stopping_s": 0.3, "rds_starting_s": 0.3, "rds_deleting_s": 0.3,
    });
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

async fn describe(env: &Env) -> Option<aws_sdk_rds::types::DbInstance> {
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    rds.describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .first()
        .cloned()
}

fn refused(log: &[serde_json::Value], op: &str) -> Vec<String> {
    log.iter()
        .filter(|r| r["operation"] == op && r["status"] != 200)
        .map(|r| r.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_after_a_storage_change_waits_for_storage_optimization_to_end() {
    let env = Env::with_fidelity(timing(
        serde_json::json!({"rds_storage_optimization_s": 1.5}),
    ));
    env.write_stack(&stack(&DB));
    env.ok(&["apply", "--auto-approve"]);
    // Grow the storage and stop the instance in one apply: RDS refuses the stop while it
    // optimizes the new storage, so apply waits for `available` first.
    env.write_stack(&stack(&Db {
        storage: 25,
        running: false,
        ..DB
    }));
    let r = env.run(&["plan"]);
    assert!(
        r.stdout.contains("RDS stops only an available instance"),
        "{}",
        r.all()
    );
    env.ok(&["apply", "--auto-approve"]);
    let db = describe(&env).await.unwrap();
    assert_eq!(
        (db.db_instance_status(), db.allocated_storage()),
        (Some("stopped"), Some(25))
    );
    let log = env.log();
    assert!(
        log.iter()
            .any(|r| r["realism"] == "rds:storage-optimization"),
        "storage-optimization was never seen"
    );
    assert!(
        refused(&log, "StopDBInstance").is_empty(),
        "{:?}",
        refused(&log, "StopDBInstance")
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);

    // Started again and grown once more: a storage type change right after is refused at plan
    // time while RDS optimizes, naming the instance's line, and nothing is written.
    env.write_stack(&stack(&Db { storage: 28, ..DB }));
    env.configure(serde_json::json!({"rds_storage_optimization_s": 30}));
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&stack(&Db {
        storage: 28,
        storage_type: "gp2",
        ..DB
    }));
    env.calls();
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("stack.yaml:4:3:")
            && r.stderr.contains("storage_type: RDS is still optimizing"),
        "{}",
        r.stderr
    );
    assert!(env.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_starts_a_stopped_protected_instance_to_turn_its_protection_off() {
    let env = Env::with_fidelity(timing(serde_json::json!({"rds_lazy_s": 0.5})));
    env.write_stack(&stack(&Db {
        protect: true,
        running: false,
        ..DB
    }));
    env.ok(&["apply", "--auto-approve"]);
    let db = describe(&env).await.unwrap();
    assert_eq!(
        (db.db_instance_status(), db.deletion_protection()),
        (Some("stopped"), Some(true))
    );
    // The file drops the protection; destroy must start the instance to do that.
    env.write_stack(&stack(&Db {
        protect: false,
        running: false,
        ..DB
    }));
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(
        r.stdout
            .contains("apply starts it to turn deletion protection off"),
        "{}",
        r.stdout
    );
    assert!(describe(&env).await.is_none());
    let log = env.log();
    let ops: Vec<&str> = log
        .iter()
        .filter(|r| r["service"] == "rds" && r["operation"] != "DescribeDBInstances")
        .filter_map(|r| r["operation"].as_str())
        .collect();
    let tail = &ops[ops.len() - 3..];
    assert_eq!(
        tail,
        ["StartDBInstance", "ModifyDBInstance", "DeleteDBInstance"],
        "{ops:?}"
    );
    for op in ["ModifyDBInstance", "DeleteDBInstance"] {
        assert!(refused(&log, op).is_empty(), "{:?}", refused(&log, op));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_rds_applies_lazily_converge_in_one_apply() {
    let env = Env::with_fidelity(timing(serde_json::json!({"rds_lazy_s": 1.0})));
    env.write_stack(&stack(&DB));
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
    env.write_stack(&stack(&Db {
        public: true,
        insights: true,
        protect: true,
        ..DB
    }));
    env.ok(&["apply", "--auto-approve"]);
    // The apply met the old values after RDS accepted the change, and waited them out.
    assert!(
        env.log()
            .iter()
            .any(|r| r["operation"] == "DescribeDBInstances"
                && r["realism"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("rds:lazy"))),
        "the lazy window was never seen"
    );
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let db = describe(&env).await.unwrap();
    assert_eq!(
        (
            db.publicly_accessible(),
            db.deletion_protection(),
            db.performance_insights_enabled()
        ),
        (Some(true), Some(true), Some(true))
    );
    // Back again, so the instance can go.
    env.write_stack(&stack(&DB));
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
    env.ok(&["destroy", "--auto-approve"]);
}

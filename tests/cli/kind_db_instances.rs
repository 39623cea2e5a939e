//! RDS instances through the binary, every setting checked against the emulator.

use super::common::{Env, PASSWORD};

fn stack(class: &str, storage: u32, running: bool, protect: bool) -> String {
    format!(
        r#"
stack: dbtest
tags: {{ project: cruddur }}
security_groups:
  cruddur-db-sg:
    description: Postgres access
db_instances:
  cruddur-db-instance:
    engine: postgres
    engine_version: "16.4"
    instance_class: {class}
    allocated_storage: {storage}
    storage_type: gp3
    storage_encrypted: true
    master_username: root
    master_password: ${{secret:DB_PASSWORD}}
    db_name: cruddur
    port: 5432
    availability_zone: us-east-1a
    multi_az: false
    publicly_accessible: true
    backup_retention_days: 0
    performance_insights: {{ enabled: true, retention_days: 7 }}
    deletion_protection: {protect}
    security_groups: [cruddur-db-sg]
    running: {running}
    final_snapshot: false
outputs:
  URL: postgresql://root:${{secret:DB_PASSWORD}}@${{db_instances.cruddur-db-instance.address}}:5432/cruddur
"#
    )
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

#[tokio::test(flavor = "multi_thread")]
async fn create_modify_stop_start_password_destroy() {
    let env = Env::new();
    env.write_stack(&stack("db.t3.micro", 20, true, false));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout.contains("+ db_instances.cruddur-db-instance"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("master_password"), "{}", r.stdout);
    r.assert_no_secret();
    assert!(env.writes().is_empty());

    let r = env.ok(&["apply", "--auto-approve"]);
    r.assert_no_secret();
    let db = describe(&env).await.expect("instance created");
    assert_eq!(db.db_instance_identifier(), Some("cruddur-db-instance"));
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.engine_version(), Some("16.4"));
    assert_eq!(db.db_instance_class(), Some("db.t3.micro"));
    assert_eq!(db.allocated_storage(), Some(20));
    assert_eq!(db.storage_type(), Some("gp3"));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.master_username(), Some("root"));
    assert_eq!(db.db_name(), Some("cruddur"));
    assert_eq!(db.endpoint().and_then(|e| e.port()), Some(5432));
    assert_eq!(db.availability_zone(), Some("us-east-1a"));
    assert_eq!(db.multi_az(), Some(false));
    assert_eq!(db.publicly_accessible(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(0));
    assert_eq!(db.deletion_protection(), Some(false));
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let sg = ec2
        .describe_security_groups()
        .group_names("cruddur-db-sg")
        .send()
        .await
        .unwrap();
    let sg_id = sg.security_groups()[0].group_id().unwrap().to_string();
    assert_eq!(
        db.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect::<Vec<_>>(),
        vec![sg_id.as_str()]
    );
    let tag = |k: &str| {
        db.tag_list()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value().map(str::to_string))
    };
    assert_eq!(tag("deploy:stack").as_deref(), Some("dbtest"));
    assert_eq!(tag("project").as_deref(), Some("cruddur"));
    // No derivative of the password is stored: only the file's password_version.
    assert_eq!(tag("deploy:password-fingerprint"), None);
    assert_eq!(tag("deploy:password-version").as_deref(), Some("1"));

    // Converged: no changes, and a no-op apply writes nothing.
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    assert!(env.writes().is_empty());

    // The output resolves the instance address and is the only place the secret is printed.
    let r = env.ok(&["output", "URL"]);
    let address = db.endpoint().and_then(|e| e.address()).unwrap();
    assert_eq!(
        r.stdout.trim(),
        format!("postgresql://root:{PASSWORD}@{address}:5432/cruddur")
    );

    // Class and storage change in place, with the outage said.
    env.write_stack(&stack("db.t3.small", 25, true, false));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("~ db_instances.cruddur-db-instance"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\"db.t3.micro\" -> \"db.t3.small\""),
        "{}",
        r.stdout
    );
    assert!(r.stdout.to_lowercase().contains("outage"), "{}", r.stdout);
    env.ok(&["apply", "--auto-approve"]);
    let db = describe(&env).await.unwrap();
    assert_eq!(
        (db.db_instance_class(), db.allocated_storage()),
        (Some("db.t3.small"), Some(25))
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);

    // Shrinking storage is a plan error naming the line, and nothing is changed.
    env.write_stack(&stack("db.t3.small", 20, true, false));
    env.calls();
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("stack.yaml:12:24:"), "{}", r.stderr);
    assert!(env.writes().is_empty());

    // running: false stops it, true starts it again.
    env.write_stack(&stack("db.t3.small", 25, false, false));
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        describe(&env).await.unwrap().db_instance_status(),
        Some("stopped")
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
    env.write_stack(&stack("db.t3.small", 25, true, false));
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        describe(&env).await.unwrap().db_instance_status(),
        Some("available")
    );

    // A new secret alone is no change (nothing derived from the password is stored to notice
    // it); with password_version bumped, it is a masked change.
    let r = Run::with_password(&env, &["plan", "--detailed-exitcode"], "An0ther-Passw0rd!");
    assert_eq!(r.code, 0, "{}", r.all());
    env.write_stack(&stack("db.t3.small", 25, true, false).replace(
        "final_snapshot: false\n",
        "final_snapshot: false\n    password_version: 2\n",
    ));
    let r = Run::with_password(&env, &["plan", "--detailed-exitcode"], "An0ther-Passw0rd!");
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stdout.contains("master_password"), "{}", r.stdout);
    assert!(!r.all().contains("An0ther-Passw0rd!"));

    // deletion_protection blocks destroy until the file turns it off.
    env.write_stack(&stack("db.t3.small", 25, true, true));
    env.ok(&["apply", "--auto-approve"]);
    let r = env.run(&["destroy", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("deletion_protection"), "{}", r.stderr);
    assert!(describe(&env).await.is_some());
    env.write_stack(&stack("db.t3.small", 25, true, false));
    env.ok(&["apply", "--auto-approve"]);
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(
        r.stdout.to_lowercase().contains("data"),
        "a db delete must warn about data:\n{}",
        r.stdout
    );
    assert!(describe(&env).await.is_none());
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    let snaps = rds.describe_db_snapshots().send().await.unwrap();
    assert!(
        snaps.db_snapshots().is_empty(),
        "final_snapshot: false took one"
    );
}

struct Run;

impl Run {
    fn with_password(env: &Env, args: &[&str], pw: &str) -> super::common::Run {
        let out = env.command(args).env("DB_PASSWORD", pw).output().unwrap();
        super::common::Run::from(out)
    }
}

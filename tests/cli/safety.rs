//! Safer output and defaults through the binary: secrets in live "before" values, warnings for
//! open database ports and unencrypted storage, and no password derivative in tags.

use super::common::{Env, PASSWORD};

const FN: &str = "def lambda_handler(e, c):\n    return e\n";

fn fn_stack(url: &str) -> String {
    format!(
        "stack: sec\noutputs:\n  ADMIN_URL: postgresql://root:${{secret:DB_PASSWORD}}@db.example:5432/app\nfunctions:\n  f:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n    environment:\n      CONNECTION_URL: {url}\n"
    )
}

#[test]
fn a_live_value_holding_a_secret_is_sensitive_in_the_plan() {
    let env = Env::new();
    env.write_file("fn/lambda_function.py", FN);
    env.write_stack(&fn_stack(
        "postgresql://root:${secret:DB_PASSWORD}@db.example:5432/app",
    ));
    env.ok(&["apply", "--auto-approve"]);

    // The new value holds no secret, the old (live) one does (the secret is still registered:
    // the file uses it elsewhere, as the Cruddur stack's master_password does).
    env.write_stack(&fn_stack("postgresql://root@db.example:5432/app"));
    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let r = env.run(args);
        assert!(r.code == 0, "{}", r.all());
        r.assert_no_secret();
        assert!(!r.stdout.contains(PASSWORD), "{}", r.stdout);
        // Masked whole, not as a URL with a hole in it.
        assert!(
            !r.stdout.contains("root:(sensitive)@"),
            "{args:?}: {}",
            r.stdout
        );
        assert!(r.stdout.contains("sensitive"), "{}", r.stdout);
    }
}

#[test]
fn the_plan_warns_about_open_database_ports_and_unencrypted_storage() {
    let env = Env::new();
    let stack = |cidr: &str, encrypted: &str| {
        format!(
            r#"
stack: warn
security_groups:
  db-sg:
    description: db
    ingress:
      - description: WORLD
        port: 6543
        cidr: {cidr}
      - description: WEB
        port: 443
        cidr: 0.0.0.0/0
db_instances:
  db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${{secret:DB_PASSWORD}}
    port: 6543
    security_groups: [db-sg]
    final_snapshot: false{encrypted}
"#
        )
    };
    env.write_stack(&stack("0.0.0.0/0", ""));
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(
            "Warning: security_groups.db-sg.ingress.WORLD: opens database port 6543 to 0.0.0.0/0"
        ),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("ingress.WEB: opens"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Warning: db_instances.db: storage_encrypted is not set"),
        "{}",
        r.stdout
    );

    env.write_stack(&stack("203.0.113.10/32", "\n    storage_encrypted: true"));
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stdout.contains("Warning:"), "{}", r.stdout);
}

fn db_stack(version: &str) -> String {
    format!(
        "stack: pwv\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    storage_encrypted: true\n    master_username: root\n    master_password: ${{secret:DB_PASSWORD}}\n    final_snapshot: false\n{version}"
    )
}

async fn db_tags(env: &Env) -> std::collections::BTreeMap<String, String> {
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    let out = rds.describe_db_instances().send().await.unwrap();
    out.db_instances()[0]
        .tag_list()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_derivative_is_stored_and_password_version_sets_it_again() {
    let env = Env::new();
    env.write_stack(&db_stack(""));
    env.ok(&["apply", "--auto-approve"]);
    let tags = db_tags(&env).await;
    assert_eq!(
        tags.get("deploy:password-version").map(String::as_str),
        Some("1")
    );
    assert!(
        !tags.contains_key("deploy:password-fingerprint"),
        "{tags:?}"
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);

    // Bumping the version sets the password again, masked, and records the new version.
    env.write_stack(&db_stack("    password_version: 2\n"));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    r.assert_no_secret();
    assert!(
        r.stdout.contains("master_password = (sensitive)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("password_version 1 -> 2"), "{}", r.stdout);
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    let bodies = env.request_bodies("rds.ModifyDBInstance");
    assert!(
        bodies
            .last()
            .is_some_and(|b| b.contains("MasterUserPassword")),
        "{bodies:?}"
    );
    let tags = db_tags(&env).await;
    assert_eq!(
        tags.get("deploy:password-version").map(String::as_str),
        Some("2")
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);

    // An instance tagged by an older deploy: the fingerprint goes, the version tag comes.
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    let arn = rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .db_instance_arn()
        .unwrap()
        .to_string();
    rds.remove_tags_from_resource()
        .resource_name(&arn)
        .tag_keys("deploy:password-version")
        .send()
        .await
        .unwrap();
    rds.add_tags_to_resource()
        .resource_name(&arn)
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("deploy:password-fingerprint")
                .value("0".repeat(64))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let r = env.run(&["plan"]);
    assert!(
        r.stdout.contains("deploy:password-fingerprint tag"),
        "{}",
        r.stdout
    );
    env.ok(&["apply", "--auto-approve"]);
    let tags = db_tags(&env).await;
    assert!(
        !tags.contains_key("deploy:password-fingerprint"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("deploy:password-version").map(String::as_str),
        Some("2")
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

/// The file's own `deletion_protection: true` blocks a replace even while AWS does not have the
/// protection on yet (the same apply would turn it on, after deleting the pool and its users).
#[test]
fn a_pool_the_file_protects_is_never_replaced() {
    let env = Env::new();
    let stack = "stack: prot\nuser_pools:\n  pool:\n    username_attributes: [email]\n";
    env.write_stack(stack);
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&stack.replace(
        "[email]\n",
        "[phone_number]\n    deletion_protection: true\n",
    ));
    env.calls();
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(
            r.stderr.contains("stack.yaml:3:") && r.stderr.contains("stack.yaml protects it"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

//! One file, several environments (spec section 2): `stack: app-${env:STAGE}` and
//! `name: ${stack}-…` applied twice into one account; destroying one leaves the other whole.

use super::common::{Env, Run};

const STACK: &str = r#"
stack: app-${env:STAGE}
security_groups:
  db-sg:
    name: ${stack}-db-sg
    description: db access
db_instances:
  db:
    name: ${stack}-DBNAME
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    storage_encrypted: true
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [db-sg]
    final_snapshot: false
functions:
  fn:
    name: ${stack}-fn
    source: lambdas/fn
    runtime: python3.12
    handler: main.handler
    environment:
      DB_HOST: ${db_instances.db.address}
user_pools:
  pool:
    name: ${stack}-POOLNAME
outputs:
  DB: ${db_instances.db.address}
"#;

fn stack(db: &str, pool: &str) -> String {
    STACK.replace("DBNAME", db).replace("POOLNAME", pool)
}

fn run(env: &Env, stage: &str, args: &[&str]) -> Run {
    Run::from(env.command(args).env("STAGE", stage).output().unwrap())
}

fn ok(env: &Env, stage: &str, args: &[&str]) -> Run {
    let r = run(env, stage, args);
    assert_eq!(r.code, 0, "STAGE={stage} deploy {args:?}:\n{}", r.all());
    r
}

/// The AWS names of everything in the account, per kind.
async fn names(env: &Env) -> Vec<String> {
    let cfg = env.sdk_config().await;
    let mut out = Vec::new();
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    for g in ec2
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
    {
        if g.group_name() != Some("default") {
            out.push(format!("sg {}", g.group_name().unwrap()));
        }
    }
    let rds = aws_sdk_rds::Client::new(&cfg);
    for d in rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
    {
        out.push(format!("db {}", d.db_instance_identifier().unwrap()));
    }
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    for f in lambda.list_functions().send().await.unwrap().functions() {
        out.push(format!("fn {}", f.function_name().unwrap()));
    }
    let iam = aws_sdk_iam::Client::new(&cfg);
    for r in iam.list_roles().send().await.unwrap().roles() {
        out.push(format!("role {}", r.role_name()));
    }
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
    for p in cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap()
        .user_pools()
    {
        out.push(format!("pool {}", p.name().unwrap()));
    }
    out.sort();
    out
}

fn expected(stages: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = stages
        .iter()
        .flat_map(|s| {
            [
                format!("sg app-{s}-db-sg"),
                format!("db app-{s}-db"),
                format!("fn app-{s}-fn"),
                // The auto role follows the function's AWS name: IAM role names are account-wide.
                format!("role app-{s}-fn-role"),
                format!("pool app-{s}-users"),
            ]
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn one_file_two_environments_in_one_account() {
    let env = Env::new();
    env.write_file("lambdas/fn/main.py", "def handler(e, c):\n    return 1\n");
    env.write_stack(&stack("db", "users"));

    for stage in ["staging", "prod"] {
        let r = ok(&env, stage, &["plan"]);
        // Addresses stay the file's keys; the plan says the AWS name.
        assert!(r.stdout.contains("db_instances.db"), "{}", r.stdout);
        assert!(
            !r.stdout.contains(&format!("db_instances.app-{stage}")),
            "{}",
            r.stdout
        );
        ok(&env, stage, &["apply", "--auto-approve"]);
    }
    assert_eq!(names(&env).await, expected(&["staging", "prod"]));

    // Each environment converged, and its output resolves its own instance.
    for stage in ["staging", "prod"] {
        let r = run(&env, stage, &["plan", "--detailed-exitcode"]);
        assert_eq!(r.code, 0, "STAGE={stage}: {}", r.all());
        let r = ok(&env, stage, &["output", "DB"]);
        assert!(
            r.stdout.contains(&format!("app-{stage}-db")),
            "{}",
            r.stdout
        );
    }

    ok(&env, "staging", &["destroy", "--auto-approve"]);
    assert_eq!(names(&env).await, expected(&["prod"]));
    let r = run(&env, "prod", &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "prod after staging's destroy: {}", r.all());

    // A changed instance `name:` is an in-place rename (never a replace): the same instance
    // (its DbiResourceId stays), and the function reading its address is updated after it.
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    let resource_id = |id: &'static str| {
        let rds = rds.clone();
        async move {
            let d = rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .unwrap();
            d.db_instances()[0].dbi_resource_id().unwrap().to_string()
        }
    };
    let before = resource_id("app-prod-db").await;
    env.write_stack(&stack("database", "users"));
    let r = run(&env, "prod", &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout.contains("renames the instance in place"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("~ functions.fn"), "{}", r.stdout);
    assert!(
        r.stdout.contains("0 to replace, 0 to delete"),
        "{}",
        r.stdout
    );
    ok(&env, "prod", &["apply", "--auto-approve"]);
    let names_now = names(&env).await;
    assert!(
        names_now.contains(&"db app-prod-database".to_string()),
        "{names_now:?}"
    );
    assert!(
        !names_now.contains(&"db app-prod-db".to_string()),
        "{names_now:?}"
    );
    assert_eq!(resource_id("app-prod-database").await, before);
    let r = ok(&env, "prod", &["output", "DB"]);
    assert!(r.stdout.contains("app-prod-database"), "{}", r.stdout);
    let r = run(&env, "prod", &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "after the rename: {}", r.all());

    // A changed pool `name:` is a plan error: Cognito cannot rename, and a new pool has no users.
    env.write_stack(&stack("database", "people"));
    let r = run(&env, "prod", &["plan"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("Cognito cannot rename a user pool"),
        "{}",
        r.all()
    );
    let r = run(&env, "prod", &["apply", "--auto-approve"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        names(&env)
            .await
            .contains(&"pool app-prod-users".to_string())
    );

    // A function's new `name:` is a replace, said as one, and its auto role follows the name.
    env.write_stack(&stack("database", "users").replace("${stack}-fn", "${stack}-func"));
    let r = run(&env, "prod", &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout
            .contains("0 to create, 0 to update, 2 to replace, 0 to delete"),
        "{}",
        r.stdout
    );
    ok(&env, "prod", &["apply", "--auto-approve"]);
    let names_now = names(&env).await;
    for (present, name) in [
        (true, "fn app-prod-func"),
        (true, "role app-prod-func-role"),
        (false, "fn app-prod-fn"),
        (false, "role app-prod-fn-role"),
    ] {
        assert_eq!(
            names_now.contains(&name.to_string()),
            present,
            "{name}: {names_now:?}"
        );
    }
    let r = run(&env, "prod", &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "after the function's rename: {}", r.all());
}

//! The whole local example stack: plan, apply, converge, outputs, destroy; bystanders untouched.

use super::common::Env;

/// The example stack, with paths pointing into the test folder.
fn example(env: &Env) -> String {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let code =
        std::fs::read_to_string(repo.join("lambdas/cruddur-post-confirmation/lambda_function.py"))
            .unwrap();
    env.write_file(
        "lambdas/cruddur-post-confirmation/lambda_function.py",
        &code,
    );
    env.write_file(
        "build/layers/psycopg2/python/psycopg2/__init__.py",
        "# stand-in for the real layer\n",
    );
    std::fs::read_to_string(repo.join("examples/local/stack.yaml"))
        .unwrap()
        .replace("../../", "")
}

async fn bystanders(env: &Env) {
    let cfg = env.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    ec2.create_security_group()
        .group_name("bystander-sg")
        .description("not ours")
        .send()
        .await
        .unwrap();
    let iam = aws_sdk_iam::Client::new(&cfg);
    let role = iam
        .create_role()
        .role_name("bystander-role")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let mut zip = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
        w.start_file("a.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"x = 1").unwrap();
        w.finish().unwrap();
    }
    lambda
        .create_function()
        .function_name("bystander-fn")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .handler("a.h")
        .role(role.role().unwrap().arn())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(zip.into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
    cognito
        .create_user_pool()
        .pool_name("bystander-pool")
        .send()
        .await
        .unwrap();
    let rds = aws_sdk_rds::Client::new(&cfg);
    rds.create_db_instance()
        .db_instance_identifier("bystander-db")
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("u")
        .master_user_password("bystander-pw-1")
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn example_stack_lifecycle_leaves_nothing_and_touches_nothing_untagged() {
    let env = Env::new();
    bystanders(&env).await;
    env.write_stack(&example(&env));
    env.calls();

    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    for a in [
        "security_groups.cruddur-db-sg",
        "security_groups.cruddur-db-sg.ingress.GITPOD",
        "security_groups.cruddur-db-sg.ingress.LAMBDA",
        "security_groups.cruddur-lambda-sg",
        "db_instances.cruddur-db-instance",
        "functions.cruddur-post-confirmation",
        "functions.cruddur-post-confirmation.role",
        "functions.cruddur-post-confirmation.layer.cruddur-psycopg2",
        "user_pools.cruddur-user-pool",
        "cognito_triggers.cruddur-user-pool.post_confirmation",
    ] {
        assert!(
            r.stdout.contains(&format!("+ {a}\n")),
            "{a} not planned:\n{}",
            r.stdout
        );
    }
    assert!(
        r.stdout
            .contains("Plan: 10 to create, 0 to update, 0 to replace, 0 to delete."),
        "{}",
        r.stdout
    );
    assert!(env.writes().is_empty(), "plan wrote");
    r.assert_no_secret();

    let r = env.ok(&["apply", "--auto-approve"]);
    r.assert_no_secret();
    // The pool was created with its username attributes. moto forgets them on the trigger's
    // UpdateUserPool (AWS keeps them for the pool's life and always reports them), so the rest of
    // this test leaves them out of the file, where unmanaged means not compared.
    let creates: Vec<serde_json::Value> = env
        .request_bodies("CognitoIdentityProvider.CreateUserPool")
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .filter(|b: &serde_json::Value| b["PoolName"] == "cruddur-user-pool")
        .collect();
    assert_eq!(creates.len(), 1, "{creates:?}");
    let create = &creates[0];
    assert_eq!(
        create["UsernameAttributes"],
        serde_json::json!(["email"]),
        "{create}"
    );
    let without_username = example(&env).replace("    username_attributes: [email]\n", "");
    assert_ne!(without_username, example(&env));
    env.write_stack(&without_username);
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    assert!(
        env.writes().is_empty(),
        "no-op apply wrote: {:?}",
        env.writes()
    );

    let r = env.ok(&["output", "--format", "json"]);
    let outputs: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        outputs["USER_POOL_ID"]
            .as_str()
            .unwrap()
            .starts_with("us-east-1_"),
        "{outputs}"
    );
    assert!(outputs["DB_SG_ID"].as_str().unwrap().starts_with("sg-"));
    let r = env.ok(&["output", "--format", "env"]);
    assert!(r.stdout.contains("DB_SG_ID='sg-"), "{}", r.stdout);
    // `export` lines reach the programs a shell starts after `eval`; `env` lines (a dotenv
    // file) only set the shell's own variables.
    let child_sees = |lines: &str| {
        let script = format!("{lines}\nsh -c 'printf %s \"$DB_SG_ID\"'");
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .env_remove("DB_SG_ID")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let exported = env.ok(&["output", "--format", "export"]);
    assert!(
        exported.stdout.lines().all(|l| l.starts_with("export ")),
        "{}",
        exported.stdout
    );
    assert!(
        child_sees(&exported.stdout).starts_with("sg-"),
        "{}",
        exported.stdout
    );
    assert_eq!(child_sees(&r.stdout), "");
    let one = env.ok(&["output", "DB_SG_ID", "--format", "export"]);
    assert!(
        one.stdout.starts_with("export DB_SG_ID='sg-"),
        "{}",
        one.stdout
    );

    env.ok(&["destroy", "--auto-approve"]);
    let cfg = env.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let groups: Vec<String> = ec2
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .filter_map(|g| g.group_name().map(str::to_string))
        .collect();
    assert!(groups.contains(&"bystander-sg".to_string()));
    assert!(
        !groups.iter().any(|g| g.starts_with("cruddur")),
        "{groups:?}"
    );
    let rds = aws_sdk_rds::Client::new(&cfg);
    let dbs: Vec<String> = rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .filter_map(|d| d.db_instance_identifier().map(str::to_string))
        .collect();
    assert_eq!(dbs, vec!["bystander-db"]);
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let fns: Vec<String> = lambda
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions()
        .iter()
        .filter_map(|f| f.function_name().map(str::to_string))
        .collect();
    assert_eq!(fns, vec!["bystander-fn"]);
    assert!(
        lambda
            .list_layers()
            .send()
            .await
            .unwrap()
            .layers()
            .is_empty()
    );
    let iam = aws_sdk_iam::Client::new(&cfg);
    let roles: Vec<String> = iam
        .list_roles()
        .send()
        .await
        .unwrap()
        .roles()
        .iter()
        .map(|r| r.role_name().to_string())
        .collect();
    assert!(roles.contains(&"bystander-role".to_string()));
    assert!(!roles.iter().any(|r| r.starts_with("cruddur")), "{roles:?}");
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
    let pools: Vec<String> = cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap()
        .user_pools()
        .iter()
        .filter_map(|p| p.name().map(str::to_string))
        .collect();
    assert_eq!(pools, vec!["bystander-pool"]);

    env.calls();
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(r.stdout.contains("Nothing to destroy"), "{}", r.stdout);
    assert!(env.writes().is_empty());
}

//! Ownership through the binary: another stack's resources are never adopted, roles are owned by
//! their tag (not their path), their tags and execution policy follow the file, and a console-made
//! invoke permission is recognised as the trigger's.

use std::collections::BTreeMap;

use super::common::Env;

fn group_stack(stack: &str) -> String {
    format!("stack: {stack}\nsecurity_groups:\n  shared-sg:\n    description: shared\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn adopt_never_takes_another_stacks_group() {
    let env = Env::new();
    env.write_stack(&group_stack("a"));
    env.ok(&["apply", "--auto-approve"]);

    env.write_stack(&group_stack("b"));
    env.calls();
    for args in [
        &["plan", "--adopt"][..],
        &["apply", "--adopt", "--auto-approve"][..],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(
            r.stderr.contains("security_groups.shared-sg") && r.stderr.contains("stack `a`"),
            "{}",
            r.stderr
        );
    }
    assert!(env.writes().is_empty(), "{:?}", env.writes());

    // `a` still owns it: its plan is empty.
    env.write_stack(&group_stack("a"));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

const FN: &str = "def lambda_handler(e, c):\n    return e\n";

fn fn_stack(tags: &str, vpc: bool) -> String {
    let mut s = format!(
        "stack: own\ntags: {{ {tags} }}\nsecurity_groups:\n  fn-sg:\n    description: fn\nfunctions:\n  f:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n"
    );
    if vpc {
        s.push_str("    vpc:\n      subnets: default\n      security_groups: [fn-sg]\n");
    }
    s
}

async fn role_tags(env: &Env, name: &str) -> BTreeMap<String, String> {
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    iam.list_role_tags()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

async fn attached(env: &Env, name: &str) -> Vec<String> {
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    iam.list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn role_tags_and_execution_policy_follow_the_file() {
    let env = Env::new();
    env.write_file("fn/lambda_function.py", FN);
    env.write_stack(&fn_stack("project: cruddur", false));
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        attached(&env, "f-role").await,
        ["AWSLambdaBasicExecutionRole"]
    );

    // Tags: the role follows like every other kind, and the next plan is empty.
    env.write_stack(&fn_stack("project: cruddur, team: web", false));
    let r = env.run(&["plan"]);
    assert!(
        r.stdout.contains("~ functions.f.role") && r.stdout.contains("tags.team"),
        "{}",
        r.stdout
    );
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    assert!(
        env.writes().contains(&"iam.TagRole".to_string()),
        "{:?}",
        env.writes()
    );
    assert_eq!(
        role_tags(&env, "f-role")
            .await
            .get("team")
            .map(String::as_str),
        Some("web")
    );
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());

    // The vpc comes: the role switches to the VPC policy; and goes: back to the basic one.
    env.write_stack(&fn_stack("project: cruddur, team: web", true));
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        attached(&env, "f-role").await,
        ["AWSLambdaVPCAccessExecutionRole"]
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
    env.write_stack(&fn_stack("project: cruddur, team: web", false));
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        attached(&env, "f-role").await,
        ["AWSLambdaBasicExecutionRole"]
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untagged_role_on_the_path_is_adopted_never_deleted() {
    let env = Env::new();
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    for name in ["f-role", "g-role"] {
        iam.create_role()
            .role_name(name)
            .path("/deploy/own/")
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
    }
    // Nothing declared: neither hand-made role is this stack's to delete.
    env.write_stack("stack: own\n");
    env.ok(&["destroy", "--auto-approve"]);
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());

    // f is declared: its role is an adopt; g-role stays alone.
    env.write_file("fn/lambda_function.py", FN);
    env.write_stack(
        &fn_stack("project: cruddur", false)
            .replace("security_groups:\n  fn-sg:\n    description: fn\n", ""),
    );
    let r = env.run(&["plan"]);
    assert!(r.stdout.contains("= functions.f.role"), "{}", r.stdout);
    env.ok(&["apply", "--adopt", "--auto-approve"]);
    assert_eq!(
        role_tags(&env, "f-role")
            .await
            .get("deploy:stack")
            .map(String::as_str),
        Some("own")
    );
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
    env.ok(&["destroy", "--auto-approve"]);
    let names: Vec<String> = iam
        .list_roles()
        .send()
        .await
        .unwrap()
        .roles()
        .iter()
        .map(|r| r.role_name().to_string())
        .collect();
    assert!(!names.contains(&"f-role".to_string()), "{names:?}");
    assert!(names.contains(&"g-role".to_string()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_console_made_invoke_permission_is_the_triggers_permission() {
    let env = Env::new();
    env.write_file("fn/lambda_function.py", FN);
    let stack = "stack: cog\nfunctions:\n  f:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n";
    env.write_stack(stack);
    env.ok(&["apply", "--auto-approve"]);
    let cfg = env.sdk_config().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let fn_arn = lambda
        .get_function()
        .function_name("f")
        .send()
        .await
        .unwrap()
        .configuration()
        .unwrap()
        .function_arn()
        .unwrap()
        .to_string();
    // What the console does: the slot, and a permission under its own statement id.
    let pool = cognito
        .create_user_pool()
        .pool_name("console-pool")
        .lambda_config(
            aws_sdk_cognitoidentityprovider::types::LambdaConfigType::builder()
                .post_confirmation(&fn_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let pool_arn = pool.user_pool().unwrap().arn().unwrap().to_string();
    lambda
        .add_permission()
        .function_name("f")
        .statement_id("CSI_PostConfirmation_console")
        .action("lambda:InvokeFunction")
        .principal("cognito-idp.amazonaws.com")
        .source_arn(&pool_arn)
        .send()
        .await
        .unwrap();

    env.write_stack(&format!(
        "{stack}cognito_triggers:\n  - user_pool: console-pool\n    event: post_confirmation\n    function: f\n"
    ));
    let r = env.run(&["plan"]);
    assert!(
        r.stdout
            .contains("= cognito_triggers.console-pool.post_confirmation"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("permission"), "{}", r.stdout);
    env.calls();
    env.ok(&["apply", "--adopt", "--auto-approve"]);
    let writes = env.writes();
    assert!(
        !writes
            .iter()
            .any(|w| w.starts_with("lambda.POST") && w.ends_with("/policy")),
        "AddPermission was called: {writes:?}"
    );
    let policy = lambda.get_policy().function_name("f").send().await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(doc["Statement"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);
}

/// The trial's item 9: a destroy says what the file names but the stack does not own, and
/// leaves it; `plan --destroy` says so beforehand.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_names_what_it_leaves_in_place() {
    let env = Env::new();
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let lb = ec2
        .create_security_group()
        .group_name("load-balancer")
        .description("made by hand")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    env.write_stack(&format!(
        "stack: leaves\nsecurity_groups:\n  app:\n    description: app\n    ingress:\n      - description: LB\n        port: 80\n        source_group: {lb}\n"
    ));
    env.ok(&["apply", "--auto-approve"]);
    let line = format!("  security group {lb} (named by security_groups.app)");
    let r = env.ok(&["plan", "--destroy"]);
    assert!(
        r.stdout.contains("Destroy would leave in place") && r.stdout.contains(&line),
        "{}",
        r.stdout
    );
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(
        r.stdout.contains("Left in place") && r.stdout.contains(&line),
        "{}",
        r.stdout
    );
    let left = ec2
        .describe_security_groups()
        .group_ids(&lb)
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.security_groups().len(),
        1,
        "the hand-made group is kept"
    );
}

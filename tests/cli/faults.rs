//! Bad networks through the binary: answers lost after AWS acted, throttling and 500s. Whatever
//! the faults, a rerun converges and there is exactly one of each resource.

use super::common::{Env, Fidelity};

const STACK: &str = r#"
stack: flt
security_groups:
  fl-db-sg:
    description: Postgres access
    ingress:
      - description: LAMBDA
        port: 5432
        source_group: fl-lambda-sg
  fl-lambda-sg:
    description: Lambda functions
functions:
  fl-fn:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    role: auto
    layers:
      - { name: fl-layer, source: layer, runtimes: [python3.12] }
    vpc:
      subnets: default
      security_groups: [fl-lambda-sg]
user_pools:
  fl-pool:
    username_attributes: [email]
"#;

fn env(opts: serde_json::Value) -> Fidelity {
    let env = Env::with_fidelity(opts);
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env.write_file("layer/python/helper.py", "X = 1\n");
    env.write_stack(STACK);
    env
}

/// How many of each resource the account holds, by kind and name.
async fn census(env: &Env) -> Vec<(String, usize)> {
    let cfg = env.sdk_config().await;
    let mut out = Vec::new();
    let groups = aws_sdk_ec2::Client::new(&cfg)
        .describe_security_groups()
        .send()
        .await
        .unwrap();
    for n in ["fl-db-sg", "fl-lambda-sg"] {
        let c = groups
            .security_groups()
            .iter()
            .filter(|g| g.group_name() == Some(n))
            .count();
        out.push((format!("group {n}"), c));
    }
    let rules: usize = groups
        .security_groups()
        .iter()
        .filter(|g| g.group_name() == Some("fl-db-sg"))
        .map(|g| g.ip_permissions().len())
        .sum();
    out.push(("rules of fl-db-sg".into(), rules));
    let pools = aws_sdk_cognitoidentityprovider::Client::new(&cfg)
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    out.push((
        "pool fl-pool".into(),
        pools
            .user_pools()
            .iter()
            .filter(|p| p.name() == Some("fl-pool"))
            .count(),
    ));
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let versions = lambda
        .list_layer_versions()
        .layer_name("fl-layer")
        .send()
        .await
        .map(|v| v.layer_versions().len())
        .unwrap_or(0);
    out.push(("layer versions of fl-layer".into(), versions));
    let fns = lambda.list_functions().send().await.unwrap();
    out.push(("function fl-fn".into(), fns.functions().len()));
    let roles = aws_sdk_iam::Client::new(&cfg)
        .list_roles()
        .path_prefix("/deploy/")
        .send()
        .await
        .unwrap();
    out.push(("roles under /deploy/".into(), roles.roles().len()));
    out
}

fn exactly_one(census: &[(String, usize)]) {
    let wrong: Vec<_> = census.iter().filter(|(_, n)| *n != 1).collect();
    assert!(wrong.is_empty(), "not exactly one: {wrong:?}");
}

/// Applies until it succeeds, at most `runs` times; the runs it took.
fn converge(env: &Fidelity, runs: usize) -> usize {
    let mut last = String::new();
    for i in 1..=runs {
        let r = env.run(&["apply", "--auto-approve"]);
        r.assert_no_secret();
        if r.code == 0 {
            return i;
        }
        last = r.all();
    }
    panic!("did not converge in {runs} runs; last:\n{last}");
}

fn no_changes(env: &Fidelity) {
    env.configure(serde_json::json!({"lose_rate": 0.0, "throttle_rate": 0.0, "error_rate": 0.0}));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "not converged:\n{}", r.all());
}

/// Each create loses its first answer after AWS acted; the run still makes exactly one.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_on_each_create_makes_nothing_twice() {
    let env = env(serde_json::json!({}));
    for (i, op) in [
        "cognito-idp.CreateUserPool",
        "lambda.PublishLayerVersion",
        "ec2.CreateSecurityGroup",
        "ec2.AuthorizeSecurityGroupIngress",
        "iam.CreateRole",
        "lambda.CreateFunction",
    ]
    .into_iter()
    .enumerate()
    {
        // The proxy counts faults over its life: one more than so far.
        env.configure(serde_json::json!({
            "lose_rate": 1.0, "lose_max": i + 1, "lose_match": format!("^{op}$"),
        }));
        let before = env.log().len();
        let runs = converge(&env, 2);
        let lost = env.log()[before..]
            .iter()
            .filter(|r| r["fault"] == "lost")
            .count();
        assert_eq!(lost, 1, "{op}: the fault did not fire");
        assert_eq!(runs, 1, "{op}: a lost answer failed the run");
        no_changes(&env);
        exactly_one(&census(&env).await);
        env.ok(&["destroy", "--auto-approve"]);
    }
}

/// 8% of all answers lost, with a fixed seed: reruns converge, with one of each.
#[tokio::test(flavor = "multi_thread")]
async fn eight_percent_lost_answers_duplicate_nothing() {
    let env = env(serde_json::json!({"lose_rate": 0.08, "seed": 8}));
    let runs = converge(&env, 2);
    no_changes(&env);
    exactly_one(&census(&env).await);
    let lost = env.log().iter().filter(|r| r["fault"] == "lost").count();
    assert!(lost > 0, "no answer was lost");
    eprintln!("8% lost: {lost} answers lost, converged in {runs} run(s)");
}

/// 15% throttled and 15% 500s: converges within two runs, with one of each.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_server_errors_converge_within_two_runs() {
    let env = env(serde_json::json!({"throttle_rate": 0.15, "error_rate": 0.15, "seed": 15}));
    let runs = converge(&env, 2);
    no_changes(&env);
    exactly_one(&census(&env).await);
    let log = env.log();
    let faults = |f: &str| log.iter().filter(|r| r["fault"] == f).count();
    assert!(faults("throttle") > 0 && faults("error") > 0);
    eprintln!(
        "15% throttle + 15% 500: {} throttled, {} errors, converged in {runs} run(s)",
        faults("throttle"),
        faults("error")
    );
}

/// IAM's ConcurrentModification and SSM's TooManyUpdates (the lock) clear by themselves: a call
/// meeting one is retried, so the run succeeds at once. First the lock's PutParameter is refused
/// twice (apply), then the first two IAM calls (destroy).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_update_refusals_are_retried_in_the_same_run() {
    let env = env(serde_json::json!({
        "conflict_rate": 1.0, "conflict_max": 2, "conflict_match": "^ssm\\.PutParameter$",
    }));
    env.ok(&["apply", "--auto-approve"]);
    no_changes(&env);
    exactly_one(&census(&env).await);
    env.configure(serde_json::json!({"conflict_match": "^iam\\.", "conflict_max": 4}));
    env.ok(&["destroy", "--auto-approve"]);
    let refused: Vec<String> = env
        .log()
        .iter()
        .filter(|r| r["fault"] == "conflict")
        .map(|r| {
            format!(
                "{}.{}",
                r["service"].as_str().unwrap(),
                r["operation"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert_eq!(&refused[..2], ["ssm.PutParameter", "ssm.PutParameter"]);
    assert!(
        refused[2..].iter().all(|o| o.starts_with("iam.")),
        "{refused:?}"
    );
}

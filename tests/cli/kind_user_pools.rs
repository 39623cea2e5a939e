//! Triggers on a pool the stack does not own: set by read-modify-write, removed alone.

use std::collections::HashMap;

use aws_sdk_cognitoidentityprovider::types::{
    LambdaConfigType, PasswordPolicyType, UserPoolPolicyType,
};

use super::common::Env;

const OTHER_TRIGGER: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:someone-elses-pre-sign-up";

fn stack(with_trigger: bool) -> String {
    let mut s = String::from(
        r#"
stack: cogtest
functions:
  cruddur-post-confirmation:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
"#,
    );
    if with_trigger {
        s.push_str(
            "cognito_triggers:\n  - user_pool: cruddur-user-pool\n    event: post_confirmation\n    function: cruddur-post-confirmation\n",
        );
    }
    s
}

async fn pool(env: &Env, id: &str) -> aws_sdk_cognitoidentityprovider::types::UserPoolType {
    let c = aws_sdk_cognitoidentityprovider::Client::new(&env.sdk_config().await);
    c.describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .unwrap()
        .user_pool()
        .unwrap()
        .clone()
}

fn assert_untouched(p: &aws_sdk_cognitoidentityprovider::types::UserPoolType) {
    let pw = p.policies().unwrap().password_policy().unwrap();
    assert_eq!(
        pw.minimum_length(),
        Some(12),
        "password policy lost: {pw:?}"
    );
    assert!(!pw.require_symbols(), "password policy lost: {pw:?}");
    assert!(pw.require_numbers(), "password policy lost: {pw:?}");
    assert_eq!(
        p.email_verification_subject(),
        Some("Welcome to Cruddur"),
        "verification subject lost"
    );
    assert_eq!(
        p.email_verification_message(),
        Some("Your Cruddur code is {####}"),
        "verification message lost"
    );
    assert_eq!(
        p.lambda_config().and_then(|l| l.pre_sign_up()),
        Some(OTHER_TRIGGER),
        "the other trigger was lost"
    );
    assert_eq!(
        p.user_pool_tags()
            .and_then(|t| t.get("team"))
            .map(String::as_str),
        Some("web"),
        "tags lost"
    );
    assert_eq!(
        p.auto_verified_attributes().len(),
        1,
        "auto-verified attributes lost"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn trigger_on_a_foreign_pool_keeps_every_other_setting() {
    // Through the fidelity proxy's Cognito rules: UpdateUserPool is refused if it carries the
    // deprecated UnusedAccountValidityDays, which the SDK writes unless deploy strips it.
    let env = Env::with_fidelity(serde_json::json!({"cognito": true}));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    let cfg = env.sdk_config().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
    let created = cognito
        .create_user_pool()
        .pool_name("cruddur-user-pool")
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(12)
                        .require_symbols(false)
                        .require_numbers(true)
                        .require_uppercase(true)
                        .require_lowercase(true)
                        .build(),
                )
                .build(),
        )
        .email_verification_subject("Welcome to Cruddur")
        .email_verification_message("Your Cruddur code is {####}")
        .auto_verified_attributes(
            aws_sdk_cognitoidentityprovider::types::VerifiedAttributeType::Email,
        )
        .lambda_config(
            LambdaConfigType::builder()
                .pre_sign_up(OTHER_TRIGGER)
                .build(),
        )
        .set_user_pool_tags(Some(HashMap::from([(
            "team".to_string(),
            "web".to_string(),
        )])))
        .send()
        .await
        .unwrap();
    let pool_id = created.user_pool().unwrap().id().unwrap().to_string();
    let pool_arn = created.user_pool().unwrap().arn().unwrap().to_string();
    env.write_stack(&stack(true));
    env.calls();

    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout
            .contains("+ cognito_triggers.cruddur-user-pool.post_confirmation"),
        "{}",
        r.stdout
    );
    assert!(env.writes().is_empty());
    env.ok(&["apply", "--auto-approve"]);

    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let fn_arn = lambda
        .get_function()
        .function_name("cruddur-post-confirmation")
        .send()
        .await
        .unwrap()
        .configuration()
        .unwrap()
        .function_arn()
        .unwrap()
        .to_string();
    let p = pool(&env, &pool_id).await;
    assert_eq!(
        p.lambda_config().and_then(|l| l.post_confirmation()),
        Some(fn_arn.as_str())
    );
    assert_untouched(&p);
    // The invoke permission Cognito needs, scoped to this pool.
    let policy = lambda
        .get_policy()
        .function_name("cruddur-post-confirmation")
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let stmts = doc["Statement"].as_array().unwrap();
    assert_eq!(stmts.len(), 1, "{doc}");
    assert_eq!(
        stmts[0]["Principal"]["Service"],
        "cognito-idp.amazonaws.com"
    );
    assert_eq!(stmts[0]["Action"], "lambda:InvokeFunction");
    assert!(doc.to_string().contains(&pool_arn), "{doc}");

    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    assert!(env.writes().is_empty(), "{:?}", env.writes());

    // The trigger leaves the file: only it (and its permission) goes.
    env.write_stack(&stack(false));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout
            .contains("- cognito_triggers.cruddur-user-pool.post_confirmation"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to create, 0 to update, 0 to replace, 1 to delete."),
        "{}",
        r.stdout
    );
    env.ok(&["apply", "--auto-approve"]);
    let p = pool(&env, &pool_id).await;
    assert_eq!(p.lambda_config().and_then(|l| l.post_confirmation()), None);
    assert_untouched(&p);
    let policy = lambda
        .get_policy()
        .function_name("cruddur-post-confirmation")
        .send()
        .await;
    let left = policy
        .ok()
        .and_then(|p| p.policy().map(str::to_string))
        .map(|d| d.contains("cognito-idp"))
        .unwrap_or(false);
    assert!(!left, "the invoke permission was left behind");
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);

    // Destroy never deletes the pool this stack does not own.
    env.ok(&["destroy", "--auto-approve"]);
    assert_untouched(&pool(&env, &pool_id).await);

    let updates: Vec<_> = env
        .log()
        .into_iter()
        .filter(|r| r["operation"] == "UpdateUserPool")
        .collect();
    assert_eq!(
        updates.len(),
        2,
        "one to set the trigger, one to clear it: {updates:?}"
    );
    assert!(updates.iter().all(|r| r["status"] == 200), "{updates:?}");
}

/// The Sids of `function`'s resource-policy statements that let Cognito invoke it (none when it
/// has no policy).
async fn cognito_sids(env: &Env, function: &str) -> Vec<String> {
    let lambda = aws_sdk_lambda::Client::new(&env.sdk_config().await);
    let Ok(out) = lambda.get_policy().function_name(function).send().await else {
        return Vec::new();
    };
    let doc: serde_json::Value = serde_json::from_str(out.policy().unwrap_or("{}")).unwrap();
    let mut sids: Vec<String> = doc["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s.to_string().contains("cognito-idp.amazonaws.com"))
        .filter_map(|s| s["Sid"].as_str().map(str::to_string))
        .collect();
    sids.sort();
    sids
}

fn owned_pool_stack(events: &[&str]) -> String {
    let mut s = String::from(
        "stack: trigmove\nfunctions:\n  f: { source: fn, runtime: python3.12, handler: app.h }\nuser_pools:\n  p: {}\ncognito_triggers:\n",
    );
    for e in events {
        s.push_str(&format!(
            "  - {{ user_pool: p, event: {e}, function: f }}\n"
        ));
    }
    s
}

/// Each trigger has its own invoke permission (spec section 7): moving a trigger to another
/// event, or removing one of two triggers on a function, must leave the remaining trigger its
/// statement, and the next plan empty (section 4).
#[tokio::test(flavor = "multi_thread")]
async fn a_trigger_keeps_its_permission_when_another_on_the_same_function_goes() {
    let env = Env::new();
    env.write_file("fn/app.py", "def h(e, c):\n    return e\n");

    // A trigger moved from pre_sign_up to post_confirmation.
    env.write_stack(&owned_pool_stack(&["pre_sign_up"]));
    env.ok(&["apply", "--auto-approve"]);
    let sids = cognito_sids(&env, "f").await;
    assert_eq!(sids.len(), 1, "{sids:?}");
    assert!(sids[0].contains("pre_sign_up"), "{sids:?}");
    env.write_stack(&owned_pool_stack(&["post_confirmation"]));
    env.ok(&["apply", "--auto-approve"]);
    let sids = cognito_sids(&env, "f").await;
    assert_eq!(sids.len(), 1, "{sids:?}");
    assert!(sids[0].contains("post_confirmation"), "{sids:?}");
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());

    // Two triggers on the function, then one removed: the other keeps its statement.
    env.write_stack(&owned_pool_stack(&["pre_sign_up", "post_confirmation"]));
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(cognito_sids(&env, "f").await.len(), 2);
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.write_stack(&owned_pool_stack(&["pre_sign_up"]));
    env.ok(&["apply", "--auto-approve"]);
    let sids = cognito_sids(&env, "f").await;
    assert_eq!(sids.len(), 1, "{sids:?}");
    assert!(sids[0].contains("pre_sign_up"), "{sids:?}");
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());

    env.ok(&["destroy", "--auto-approve"]);
}

/// A trigger naming by ARN a function that does not exist is a plan error at the trigger, found
/// in the first round of reads (GetFunctionConfiguration beside GetPolicy), before any write.
#[test]
fn a_trigger_naming_a_function_that_does_not_exist_stops_the_plan() {
    let env = Env::new();
    let missing = "arn:aws:lambda:us-east-1:123456789012:function:not-there";
    env.write_stack(&format!(
        "stack: trig\nuser_pools:\n  pool:\n    username_attributes: [email]\ncognito_triggers:\n  - user_pool: pool\n    event: post_confirmation\n    function: {missing}\n"
    ));
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(
            r.stderr.contains("stack.yaml:6:")
                && r.stderr
                    .contains(&format!("function: {missing} does not exist")),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

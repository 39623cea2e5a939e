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
    let env = Env::new();
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
}

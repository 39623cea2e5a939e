//! Secrets on stdout: the plan goes through the same scrubber as stderr.

use super::common::Env;

const BEFORE: &str = r#"
stack: secrets
functions:
  f:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD}@db.example:5432/app
outputs:
  ADMIN_URL: postgresql://root:${secret:DB_PASSWORD}@db.example:5432/admin
"#;

#[test]
fn a_live_value_holding_a_secret_is_scrubbed_from_the_plan() {
    let env = Env::new();
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env.write_stack(BEFORE);
    let r = env.ok(&["apply", "--auto-approve"]);
    r.assert_no_secret();
    // The function's URL no longer uses the secret, but the live value (the "before") does.
    env.write_stack(&BEFORE.replace(
        "postgresql://root:${secret:DB_PASSWORD}@db.example:5432/app",
        "postgresql://root@db.example:5432/app",
    ));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stdout.contains("CONNECTION_URL"), "{}", r.stdout);
    r.assert_no_secret();
}

/// The review's item 6: a password with characters RDS accepts (`#`, `%`, `?`, `:`) broke the
/// Lambda's CONNECTION_URL. `|url` percent-encodes it; the plan warns where it is missing.
#[tokio::test(flavor = "multi_thread")]
async fn a_password_in_a_url_is_percent_encoded_with_the_url_filter() {
    let env = Env::new();
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env.write_stack(
        r#"
stack: urls
functions:
  f:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD|url}@db.example:5432/app
outputs:
  ENCODED: postgresql://root:${secret:DB_PASSWORD|url}@db.example:5432/app
  RAW: postgresql://root:${secret:DB_PASSWORD}@db.example:5432/app
"#,
    );
    let pw = "Ab#12%xy?z:";
    let with_pw = |args: &[&str]| {
        super::common::Run::from(env.command(args).env("DB_PASSWORD", pw).output().unwrap())
    };
    let r = with_pw(&["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("outputs.RAW puts ${secret:DB_PASSWORD} in a URL's userinfo")
            && r.stdout.contains("write ${secret:DB_PASSWORD|url}"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("functions.f: environment"),
        "{}",
        r.stdout
    );
    assert!(
        !r.all().contains(pw) && !r.all().contains("Ab%2312"),
        "{}",
        r.all()
    );
    let r = with_pw(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let lambda = aws_sdk_lambda::Client::new(&env.sdk_config().await);
    let got = lambda
        .get_function_configuration()
        .function_name("f")
        .send()
        .await
        .unwrap();
    let url = got.environment().unwrap().variables().unwrap()["CONNECTION_URL"].clone();
    assert_eq!(
        url,
        "postgresql://root:Ab%2312%25xy%3Fz%3A@db.example:5432/app"
    );
    let r = with_pw(&["output", "ENCODED"]);
    assert_eq!(
        r.stdout.trim(),
        "postgresql://root:Ab%2312%25xy%3Fz%3A@db.example:5432/app"
    );
    // The encoded form is a secret too: scrubbed wherever deploy prints on its own.
    let r = with_pw(&["plan"]);
    assert!(r.stdout.contains("No changes"), "{}", r.all());
}

/// The review's item 5, as shown: after applying `URL: postgres://u:${secret:DB_PASSWORD}@h/db`,
/// a file whose URL no longer holds the secret (nor names it anywhere) printed the old value,
/// password included. The function's `deploy:sensitive` tag remembers which keys held one.
#[test]
fn a_value_that_stops_being_secret_does_not_print_the_old_secret() {
    // Through the fidelity proxy: its conformance check refuses, as Lambda would, a tag value
    // outside Lambda's `TagValue` pattern (a comma, for one).
    let env = Env::with_fidelity(serde_json::json!({}));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    let stack = |url: &str, token: &str| {
        format!(
            "stack: stops\nfunctions:\n  f:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n    environment:\n      URL: {url}\n      TOKEN: {token}\n"
        )
    };
    env.write_stack(&stack(
        "postgres://u:${secret:DB_PASSWORD}@h/db",
        "${secret:DB_PASSWORD}",
    ));
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&stack("postgres://u@h/db", "plain"));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    r.assert_no_secret();
    let line = |path: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{path} ")))
            .map(|l| l.split_once(" = ").unwrap().1.to_string())
    };
    assert_eq!(
        line("environment.URL").as_deref(),
        Some("(sensitive) -> \"postgres://u@h/db\""),
        "{}",
        r.stdout
    );
    assert_eq!(
        line("environment.TOKEN").as_deref(),
        Some("(sensitive) -> \"plain\""),
        "{}",
        r.stdout
    );
    let r = env.ok(&["plan", "--json"]);
    r.assert_no_secret();
    // Applied: the values are no longer secret, and the next plan shows them as they are.
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&stack("postgres://u@h/db2", "plain2"));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stdout.contains("\"plain\" -> \"plain2\""), "{}", r.stdout);
}

//! Secrets: never printed (the plan goes through the same scrubber as stderr, live values holding
//! a secret are sensitive), never stored (no password derivative in tags), refused as literals,
//! and asked for only by the commands that need them.

use super::common::{Env, PASSWORD};

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

#[test]
fn literal_password_and_unset_secret_are_refused_without_echoing_them() {
    let env = Env::new();
    env.write_stack("stack: s\ndb_instances:\n  d:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: Literal-Pw-123\n");
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("stack.yaml:8:22:") && r.stderr.contains("${secret:NAME}"),
        "{}",
        r.stderr
    );
    assert!(!r.all().contains("Literal-Pw-123"));
    r.assert_no_secret();
    env.write_stack("stack: s\noutputs:\n  X: ${secret:NOT_SET_ANYWHERE}\n");
    // validate needs no secret (CI validates without them); plan does, and says where.
    env.ok(&["validate"]);
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("stack.yaml:3:6:") && r.stderr.contains("NOT_SET_ANYWHERE is not set"),
        "{}",
        r.stderr
    );
    assert!(env.calls().is_empty());
}

#[test]
fn destroy_needs_no_secret() {
    let env = Env::new();
    env.write_stack(
        "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: ${secret:NOT_SET_ANYWHERE}\n",
    );
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(r.stdout.contains("Nothing to destroy"), "{}", r.stdout);
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("NOT_SET_ANYWHERE is not set"),
        "{}",
        r.stderr
    );
}

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

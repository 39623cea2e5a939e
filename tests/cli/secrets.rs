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

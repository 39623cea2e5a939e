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

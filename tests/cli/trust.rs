//! What a new user's trial found about trusting a plan, through the binary against moto: a saved
//! plan applies the `${env:}` values it showed, `output` and a targeted plan leave the database
//! alone, and the region the stack file names is the one used.

use super::common::{Env, Run};

fn run_with(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = env.command(args);
    for (k, v) in vars {
        c.env(k, v);
    }
    Run::from(c.output().expect("run deploy"))
}

const ENV_STACK: &str = r#"
stack: envplan
tags: { owner: "${env:OWNER:-nobody}" }
security_groups:
  pf:
    description: pf
    ingress:
      - description: R
        port: ${env:PORT}
        cidr: ${env:CIDR}
outputs:
  OWNER: ${env:OWNER:-nobody}
"#;

/// The trial's bug 1: the plan showed tcp/80 from 10.0.0.0/8, and `apply PLANFILE` in another
/// environment applied tcp/22 from 0.0.0.0/0.
#[tokio::test]
async fn a_saved_plan_applies_the_env_values_it_was_made_with() {
    let env = Env::new();
    env.write_stack(ENV_STACK);
    let at_plan = [("PORT", "80"), ("CIDR", "10.0.0.0/8"), ("OWNER", "alice")];
    let r = run_with(&env, &at_plan, &["plan", "--out", "h.plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("10.0.0.0/8"), "{}", r.stdout);
    let file = std::fs::read_to_string(env.path("h.plan")).unwrap();
    assert!(file.contains("\"PORT\": \"80\""), "{file}");

    let r = run_with(
        &env,
        &[("PORT", "22"), ("CIDR", "0.0.0.0/0")],
        &["apply", "--auto-approve", "h.plan"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr
            .contains("note: CIDR, PORT are set differently now"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("OWNER = \"alice\""), "{}", r.stdout);

    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("pf")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let g = &groups.security_groups()[0];
    let perms = g.ip_permissions();
    assert_eq!(perms.len(), 1, "{perms:?}");
    assert_eq!(perms[0].from_port(), Some(80));
    assert_eq!(perms[0].ip_ranges()[0].cidr_ip(), Some("10.0.0.0/8"));
    assert!(
        g.tags()
            .iter()
            .any(|t| t.key() == Some("owner") && t.value() == Some("alice")),
        "{:?}",
        g.tags()
    );
    // The values the plan showed are live: planning with them again finds nothing to do.
    let r = run_with(&env, &at_plan, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// The review's finding: `variables.env.CIDR` edited in the file after review from
/// 10.1.2.0/24 to 0.0.0.0/0; `show` and apply's own output still said 10.1.2.0/24, and the
/// group was opened to everyone. Apply plans again from the file's inputs and refuses.
#[tokio::test]
async fn a_saved_plan_with_an_edited_variable_is_refused_before_any_write() {
    let env = Env::new();
    env.write_stack(ENV_STACK);
    let at_plan = [("PORT", "5432"), ("CIDR", "10.1.2.0/24")];
    let r = run_with(&env, &at_plan, &["plan", "--out", "h.plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let planned = r.stdout;
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("h.plan")).unwrap()).unwrap();
    assert_eq!(v["variables"]["env"]["CIDR"], "10.1.2.0/24", "{v}");
    v["variables"]["env"]["CIDR"] = "0.0.0.0/0".into();
    std::fs::write(
        env.path("h.plan"),
        serde_json::to_string_pretty(&v).unwrap(),
    )
    .unwrap();
    let shown = env.ok(&["show", "h.plan"]);
    assert_eq!(shown.stdout, planned);

    env.calls();
    let r = env.run(&["apply", "h.plan"]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stderr.contains(
            "differs: security_groups.pf.ingress.R: cidr: the file shows (none) -> \"10.1.2.0/24\", planning again gives (none) -> \"0.0.0.0/0\""
        ) && r.stderr.contains("so nothing was changed"),
        "{}",
        r.stderr
    );
    assert_eq!(env.writes(), Vec::<String>::new());

    // The file as it was made still applies.
    let r = run_with(&env, &at_plan, &["plan", "--out", "h.plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.ok(&["apply", "h.plan"]);
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let groups = ec2.describe_security_groups().send().await.unwrap();
    let pf = groups
        .security_groups()
        .iter()
        .find(|g| g.group_name() == Some("pf"))
        .unwrap();
    let cidrs: Vec<_> = pf
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges())
        .filter_map(|r| r.cidr_ip())
        .collect();
    assert_eq!(cidrs, vec!["10.1.2.0/24"]);
}

const DB_STACK: &str = r#"
stack: dbreach
db_instances:
  db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    final_snapshot: false
user_pools:
  pool:
    username_attributes: [email]
outputs:
  POOL_ID: ${user_pools.pool.id}
  DB_HOST: ${db_instances.db.address}
"#;

/// The trial's bug 4: with `migrations:`, `output` and a plan targeting the pool connected to
/// the database, and failed where it is unreachable.
#[test]
fn output_and_a_plan_of_targets_without_migrations_do_not_connect_to_the_database() {
    let env = Env::new();
    env.write_stack(DB_STACK);
    env.ok(&["apply", "--auto-approve"]);
    env.write_file("sql/0001_init.sql", "create table t (id int);\n");
    env.write_stack(&DB_STACK.replace(
        "    final_snapshot: false\n",
        "    final_snapshot: false\n    migrations: sql\n",
    ));
    // Port 1 on loopback: nothing listens, so any connection fails at once.
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [args, &["--db-endpoint", "db=127.0.0.1:1"][..]].concat()
    }

    // The database is really unreachable: a plan of everything says so.
    let r = env.run(&with(&["plan"]));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);
    let r = env.run(&with(&["plan", "--target", "db_instances.db"]));
    assert_eq!(r.code, 1, "{}", r.all());

    let r = env.ok(&with(&["output"]));
    assert!(r.stdout.contains("POOL_ID = "), "{}", r.stdout);
    let r = env.ok(&with(&["output", "POOL_ID"]));
    assert!(r.stdout.trim().starts_with("us-east-1_"), "{}", r.stdout);
    env.ok(&with(&["output", "--format", "json"]));
    let r = env.ok(&with(&["plan", "--target", "user_pools.pool"]));
    assert!(r.stdout.contains("No changes"), "{}", r.all());
    assert!(r.stdout.contains("only 1 address ("), "{}", r.stdout);
    // A mistyped target is reported as such, not as the database being unreachable.
    let r = env.run(&with(&["plan", "--target", "user_pools.pol"]));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("--target user_pools.pol matches no address")
            && !r.stderr.contains("cannot connect"),
        "{}",
        r.stderr
    );
}

const SG_STACK: &str = r#"
stack: regions
region: us-east-1
security_groups:
  a:
    description: a
  b:
    description: b
    ingress:
      - description: FROMA
        port: 80
        source_group: a
"#;

/// Spec section 2: `region:` in the file, else --region, else the chain.
#[test]
fn the_stack_files_region_wins_over_region_flags_with_a_warning() {
    let env = Env::new();
    env.write_stack(SG_STACK);
    let r = env.ok(&["plan", "--json", "--region", "eu-west-1"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["region"], "us-east-1");
    assert!(
        r.stderr.contains("warning: the stack file says `region: us-east-1` and --region eu-west-1 names another region: using us-east-1"),
        "{}",
        r.stderr
    );
    let mut c = env.command(&["plan", "--json"]);
    c.env("AWS_REGION", "eu-west-1");
    let r = Run::from(c.output().unwrap());
    assert_eq!(r.code, 0, "{}", r.all());
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["region"], "us-east-1");
    assert!(
        r.stderr
            .contains("AWS_REGION (or the AWS profile) eu-west-1"),
        "{}",
        r.stderr
    );
    // The same region given twice is no news.
    let r = env.ok(&["plan", "--region", "us-east-1"]);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    // Without `region:` in the file, --region is used.
    env.write_stack(&SG_STACK.replace("region: us-east-1\n", ""));
    let r = env.ok(&["plan", "--json", "--region", "eu-west-1"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["region"], "eu-west-1");
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

#[test]
fn the_target_warning_counts_in_english() {
    let env = Env::new();
    env.write_stack(&SG_STACK.replace("region: us-east-1\n", ""));
    let r = env.ok(&["plan", "--target", "security_groups.b.ingress.FROMA"]);
    assert!(
        r.stdout.contains("only 3 addresses (the targets"),
        "{}",
        r.stdout
    );
}

const IP_STACK: &str = r#"
stack: offline
security_groups:
  db:
    description: db
    ingress:
      - description: HOME
        port: 5432
        cidr: ${public_ip}/32
  app:
    description: app
outputs:
  APP_SG: ${security_groups.app.id}
  HOME_CIDR: ${public_ip}/32
"#;

/// The trial's item 6: the public IP is looked up only when what is asked needs it, so that
/// `deploy output APP_SG` and a plan of a group without `${public_ip}` work while the lookup
/// service cannot be reached.
#[test]
fn what_does_not_use_the_public_ip_works_without_the_lookup_service() {
    let env = Env::new();
    env.write_stack(IP_STACK);
    env.ok(&["apply", "--auto-approve"]);
    // Port 1 on loopback: nothing listens, so every lookup fails at once.
    let offline = |args: &[&str]| {
        Run::from(
            env.command(args)
                .env("DEPLOY_PUBLIC_IP_URL", "http://127.0.0.1:1/")
                .output()
                .unwrap(),
        )
    };
    let unreachable = |r: &Run| r.code == 1 && r.stderr.contains("public IP");
    // What needs the address says the lookup failed.
    let r = offline(&["plan"]);
    assert!(unreachable(&r), "{}", r.all());
    let r = offline(&["output", "HOME_CIDR"]);
    assert!(unreachable(&r), "{}", r.all());
    let r = offline(&["plan", "--target", "security_groups.db"]);
    assert!(unreachable(&r), "{}", r.all());
    // What does not, works.
    let r = offline(&["output", "APP_SG"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.trim().starts_with("sg-"), "{}", r.stdout);
    let r = offline(&["plan", "--target", "security_groups.app"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let r = offline(&["plan", "--target", "security_groups.ap"]);
    assert!(
        r.code == 1 && r.stderr.contains("matches no address"),
        "a mistyped target is reported as such: {}",
        r.all()
    );
}

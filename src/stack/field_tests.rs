//! Every scalar field of the stack file, given through `${env:}`: the resolved value is what is
//! checked (a good one loads exactly as if written literally, a bad one is refused at the
//! field's line). The table must name every field of the schema: a new field without a row
//! fails `the_table_covers_every_field`.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;

/// `(path, literal default, a different good value, a bad value and what the error says)`.
/// `None` as the good value: no value through `${env:}` is accepted (the row shows why).
type Row = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<(&'static str, &'static str)>,
);

#[rustfmt::skip]
const ROWS: &[Row] = &[
    ("stack", "tbl", Some("tbl-two"), Some(("Bad_Name", "stack name"))),
    ("region", "us-east-1", Some("eu-west-1"), Some(("mars-1", "not an AWS region name"))),
    ("tags.*", "cruddur", Some("other"), None),
    ("security_groups.*.name", "db-sg", Some("app-db-sg"), Some(("sg-db", "not start with sg-"))),
    ("security_groups.*.description", "db access", Some("other access"), Some(("Andrew's laptop", "EC2 refuses"))),
    ("security_groups.*.vpc", "default", Some("vpc-0abc1234"), Some(("my-vpc", "vpc must be"))),
    ("security_groups.*.ingress[].description", "GITPOD", Some("HOME"), Some(("é", "EC2 refuses"))),
    ("security_groups.*.ingress[].protocol", "tcp", Some("udp"), Some(("sctp", "protocol must be"))),
    ("security_groups.*.ingress[].port", "5432", Some("6543"), Some(("lots", "whole number"))),
    ("security_groups.*.ingress[].ports", "8000-8010", Some("9000-9010"), Some(("9000", "ports must look like"))),
    ("security_groups.*.ingress[].cidr", "10.0.0.0/8", Some("10.1.0.0/16"), Some(("10.1.0.1/16", "host bits"))),
    ("security_groups.*.ingress[].source_group", "lambda-sg", Some("sg-0123abcd"), Some(("nope", "not a security group"))),
    ("db_instances.*.name", "db", Some("app-db"), Some(("1db", "db instance identifier `1db`"))),
    ("db_instances.*.engine", "postgres", Some("postgres"), Some(("mysql", "engine must be `postgres`"))),
    ("db_instances.*.engine_version", "16", Some("16.10"), Some(("16.x", "should be a major alone"))),
    ("db_instances.*.instance_class", "db.t3.micro", Some("db.t3.small"), Some(("t3.micro", "should look like"))),
    ("db_instances.*.allocated_storage", "20", Some("30"), Some(("twenty", "whole number"))),
    ("db_instances.*.storage_type", "gp3", Some("gp2"), Some(("io1", "needs provisioned IOPS"))),
    ("db_instances.*.storage_encrypted", "true", Some("false"), Some(("yes", "true or false"))),
    ("db_instances.*.master_username", "root", Some("admin"), Some(("1root", "letters, digits or underscores, starting with a letter"))),
    // Only ${secret:} keeps a password masked: ${env:} is refused, with the fix in the message.
    ("db_instances.*.master_password", "${secret:DB_PASSWORD}", None, Some(("an-env-pw", "write ${secret:FIELD_VALUE} instead"))),
    ("db_instances.*.password_version", "1", Some("2"), Some(("0", "between 1 and"))),
    ("db_instances.*.manage_master_password", "true", Some("true"), Some(("maybe", "true or false"))),
    ("db_instances.*.db_name", "cruddur", Some("other"), Some(("my-db", "letters, digits or underscores, starting with a letter"))),
    ("db_instances.*.port", "5432", Some("6543"), Some(("80", "between 1150 and 65535"))),
    ("db_instances.*.availability_zone", "us-east-1a", Some("us-east-1b"), None),
    ("db_instances.*.multi_az", "false", Some("true"), Some(("no", "true or false"))),
    ("db_instances.*.publicly_accessible", "false", Some("true"), Some(("1", "true or false"))),
    ("db_instances.*.backup_retention_days", "0", Some("7"), Some(("36", "between 0 and 35"))),
    ("db_instances.*.performance_insights.enabled", "true", Some("false"), Some(("on", "true or false"))),
    ("db_instances.*.performance_insights.retention_days", "7", Some("31"), Some(("8", "multiple of 31"))),
    ("db_instances.*.deletion_protection", "false", Some("true"), Some(("off", "true or false"))),
    ("db_instances.*.security_groups[]", "db-sg", Some("sg-0abc1234"), Some(("nope", "not a security group"))),
    ("db_instances.*.running", "true", Some("false"), Some(("stopped", "true or false"))),
    ("db_instances.*.final_snapshot", "false", Some("my-snap"), Some(("My_Snap", "snapshot name"))),
    ("db_instances.*.migrations", "sql/migrations", Some("sql/other"), Some(("nowhere", "not found"))),
    ("db_instances.*.migrations_baseline", "0", Some("3"), Some(("-1", "between 0 and"))),
    ("db_instances.*.seed", "sql/seed.sql", Some("sql/seed2.sql"), Some(("nope.sql", "not found"))),
    ("functions.*.name", "fn", Some("app-fn"), Some(("bad name", "function name `bad name`"))),
    ("functions.*.source", "lambdas/fn", Some("lambdas/fn2"), Some(("nowhere", "not found"))),
    ("functions.*.runtime", "python3.12", Some("python3.13"), Some(("python2.7", "`python2.7` is not a runtime Lambda creates"))),
    ("functions.*.handler", "a.b", Some("c.d"), Some(("app", "must be MODULE.FUNCTION for Python"))),
    ("functions.*.description", "fn", Some("other"), None),
    ("functions.*.memory", "128", Some("256"), Some(("64", "between 128 and 10240"))),
    ("functions.*.timeout", "10", Some("20"), Some(("0", "between 1 and 900"))),
    ("functions.*.role", "auto", Some("arn:aws:iam::123456789012:role/r"), Some(("my-role", "role must be"))),
    ("functions.*.layers[]", "arn:aws:lambda:us-east-1:123456789012:layer:x:1", Some("arn:aws:lambda:us-east-1:123456789012:layer:x:2"), Some(("arn:aws:lambda:us-east-1:123456789012:layer:x", "has no version"))),
    ("functions.*.layers[].name", "psycopg2", Some("psy"), Some(("bad name", "layer name"))),
    ("functions.*.layers[].source", "layer", Some("layer2"), Some(("nolayer", "not found"))),
    ("functions.*.layers[].runtimes[]", "python3.12", Some("python3.13"), Some(("nodejs99.x", "`nodejs99.x` is not a runtime Lambda creates"))),
    ("functions.*.vpc.subnets", "default", Some("default"), Some(("some", "subnets must be"))),
    ("functions.*.vpc.subnets[]", "subnet-0aaa", Some("subnet-0bbb"), Some(("net-1", "not a subnet id"))),
    ("functions.*.vpc.security_groups[]", "lambda-sg", Some("sg-0abc1234"), Some(("nope", "not a security group"))),
    ("functions.*.environment.*", "x", Some("y"), None),
    ("user_pools.*.name", "pool", Some("app-pool"), Some(("bad/pool", "user pool name `bad/pool`"))),
    ("user_pools.*.username_attributes[]", "email", Some("phone_number"), Some(("name", "must be email or phone_number"))),
    ("user_pools.*.auto_verified_attributes[]", "email", Some("phone_number"), Some(("name", "must be email or phone_number"))),
    ("user_pools.*.deletion_protection", "false", Some("true"), Some(("nah", "true or false"))),
    ("cognito_triggers[].user_pool", "pool", Some("us-east-1_abc"), None),
    ("cognito_triggers[].event", "post_confirmation", Some("pre_sign_up"), Some(("on_signup", "not a Cognito trigger"))),
    ("cognito_triggers[].function", "fn", Some("arn:aws:lambda:us-east-1:123456789012:function:f"), Some(("nope", "not a function"))),
    ("outputs.*", "x", Some("y"), None),
];

/// Every field once, as `«path»`; the rest written literally.
const BASE: &str = "
stack: «stack»
region: «region»
tags:
  project: «tags.*»
security_groups:
  db-sg:
    name: «security_groups.*.name»
    description: «security_groups.*.description»
    vpc: «security_groups.*.vpc»
    ingress:
      - description: «security_groups.*.ingress[].description»
        protocol: «security_groups.*.ingress[].protocol»
        port: «security_groups.*.ingress[].port»
        cidr: «security_groups.*.ingress[].cidr»
      - description: RANGE
        ports: «security_groups.*.ingress[].ports»
        cidr: 10.0.0.0/8
      - description: LAMBDA
        port: 5432
        source_group: «security_groups.*.ingress[].source_group»
  lambda-sg:
    description: lambda
db_instances:
  db:
    name: «db_instances.*.name»
    engine: «db_instances.*.engine»
    engine_version: «db_instances.*.engine_version»
    instance_class: «db_instances.*.instance_class»
    allocated_storage: «db_instances.*.allocated_storage»
    storage_type: «db_instances.*.storage_type»
    storage_encrypted: «db_instances.*.storage_encrypted»
    master_username: «db_instances.*.master_username»
    master_password: «db_instances.*.master_password»
    password_version: «db_instances.*.password_version»
    db_name: «db_instances.*.db_name»
    port: «db_instances.*.port»
    availability_zone: «db_instances.*.availability_zone»
    multi_az: «db_instances.*.multi_az»
    publicly_accessible: «db_instances.*.publicly_accessible»
    backup_retention_days: «db_instances.*.backup_retention_days»
    performance_insights:
      enabled: «db_instances.*.performance_insights.enabled»
      retention_days: «db_instances.*.performance_insights.retention_days»
    deletion_protection: «db_instances.*.deletion_protection»
    security_groups:
      - «db_instances.*.security_groups[]»
    running: «db_instances.*.running»
    final_snapshot: «db_instances.*.final_snapshot»
    migrations: «db_instances.*.migrations»
    migrations_baseline: «db_instances.*.migrations_baseline»
    seed: «db_instances.*.seed»
  db2:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    manage_master_password: «db_instances.*.manage_master_password»
functions:
  fn:
    name: «functions.*.name»
    source: «functions.*.source»
    runtime: «functions.*.runtime»
    handler: «functions.*.handler»
    description: «functions.*.description»
    memory: «functions.*.memory»
    timeout: «functions.*.timeout»
    role: «functions.*.role»
    layers:
      - «functions.*.layers[]»
      - name: «functions.*.layers[].name»
        source: «functions.*.layers[].source»
        runtimes:
          - «functions.*.layers[].runtimes[]»
    vpc:
      subnets: «functions.*.vpc.subnets»
      security_groups:
        - «functions.*.vpc.security_groups[]»
    environment:
      URL: «functions.*.environment.*»
  fn2:
    source: lambdas/fn
    runtime: python3.12
    handler: a.b
    vpc:
      subnets:
        - «functions.*.vpc.subnets[]»
      security_groups: [lambda-sg]
user_pools:
  pool:
    name: «user_pools.*.name»
    username_attributes:
      - «user_pools.*.username_attributes[]»
    auto_verified_attributes:
      - «user_pools.*.auto_verified_attributes[]»
    deletion_protection: «user_pools.*.deletion_protection»
cognito_triggers:
  - user_pool: «cognito_triggers[].user_pool»
    event: «cognito_triggers[].event»
    function: «cognito_triggers[].function»
outputs:
  URL: «outputs.*»
";

fn dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in [
        "lambdas/fn",
        "lambdas/fn2",
        "layer",
        "layer2",
        "sql/migrations",
        "sql/other",
    ] {
        std::fs::create_dir_all(d.path().join(f)).unwrap();
    }
    std::fs::write(d.path().join("sql/seed.sql"), "select 1;").unwrap();
    std::fs::write(d.path().join("sql/seed2.sql"), "select 2;").unwrap();
    d
}

/// BASE with `path` set to `value` and every other field to its default.
fn text(path: &str, value: &str) -> String {
    let mut s = BASE.to_string();
    for (p, default, _, _) in ROWS {
        let v = if *p == path { value } else { default };
        s = s.replace(&format!("«{p}»"), v);
    }
    assert!(!s.contains('«'), "a placeholder has no row: {s}");
    s
}

fn load(src: &str, field_value: &str, d: &Path) -> Result<Stack, LoadError> {
    let env = |n: &str| match n {
        "FIELD_VALUE" => Some(field_value.to_string()),
        "DB_PASSWORD" => Some("s3cret-pw".to_string()),
        _ => None,
    };
    parse_str(src, Path::new("stack.yaml"), d, &env)
}

/// The loaded model, minus what legitimately differs between two spellings of one value.
fn model(s: Stack) -> String {
    let s = Stack {
        digest: String::new(),
        ..s
    };
    format!("{s:?}").replace("Env(", "Lit(")
}

fn line_of(src: &str, needle: &str) -> u64 {
    src.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

#[test]
fn the_table_covers_every_field() {
    let table: BTreeSet<String> = ROWS.iter().map(|r| r.0.to_string()).collect();
    assert_eq!(ROWS.len(), table.len(), "a path has two rows");
    let schema = raw::scalar_paths();
    let missing: Vec<_> = schema.difference(&table).collect();
    let extra: Vec<_> = table.difference(&schema).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "fields without a row: {missing:?}; rows for no field: {extra:?}"
    );
    for (p, ..) in ROWS {
        assert!(BASE.contains(&format!("«{p}»")), "BASE does not set {p}");
    }
}

#[test]
fn every_field_is_checked_after_interpolation() {
    let d = dir();
    let defaults = model(load(&text("", ""), "", d.path()).expect("the defaults load"));
    let mut failures = Vec::new();
    for (path, default, good, bad) in ROWS {
        let src = text(path, "${env:FIELD_VALUE}");
        let line = line_of(&text(path, "@@here@@"), "@@here@@");
        if let Some(good) = good {
            let literal = load(&text(path, good), "", d.path())
                .map(model)
                .map_err(|e| e.to_string());
            let via_env = load(&src, good, d.path())
                .map(model)
                .map_err(|e| e.to_string());
            match (&literal, &via_env) {
                (Ok(l), Ok(e)) if l == e => {
                    // The field is really read: a different value gives a different model.
                    if good != default && *l == defaults {
                        failures.push(format!("{path}: `{good}` is ignored"));
                    }
                }
                _ => failures.push(format!(
                    "{path}: `{good}` literally: {literal:?}\n  through ${{env:}}: {via_env:?}"
                )),
            }
        }
        if let Some((value, says)) = bad {
            match load(&src, value, d.path()) {
                Ok(_) => failures.push(format!("{path}: `{value}` through ${{env:}} was accepted")),
                Err(e) => {
                    let ok = e
                        .problems
                        .iter()
                        .any(|p| p.pos.line == line && p.message.contains(says));
                    if !ok {
                        failures.push(format!(
                            "{path}: `{value}`: wanted line {line} saying `{says}`, got:\n{e}"
                        ));
                    }
                    if e.to_string().contains("an-env-pw") {
                        failures.push(format!("{path}: the password was echoed: {e}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

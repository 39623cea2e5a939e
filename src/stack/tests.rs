use std::path::Path;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "DB_PASSWORD" => Some("s3cret-pw".into()),
        "REGION" => Some("eu-west-1".into()),
        _ => None,
    }
}

/// A temp folder holding the folders a stack names, so path checks pass.
fn dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("lambdas/fn")).unwrap();
    std::fs::create_dir_all(d.path().join("layer")).unwrap();
    std::fs::create_dir_all(d.path().join("sql/migrations")).unwrap();
    std::fs::write(d.path().join("sql/seed.sql"), "select 1;").unwrap();
    d
}

fn parse(src: &str) -> Result<Stack, LoadError> {
    let d = dir();
    parse_str(src, Path::new("stack.yaml"), d.path(), &env)
}

fn errors(src: &str) -> String {
    parse(src).unwrap_err().to_string()
}

pub(super) const FULL: &str = r#"
stack: cruddur
region: ${env:REGION}
tags: { project: cruddur }
security_groups:
  db-sg:
    description: Postgres access
    ingress:
      - description: GITPOD
        port: 5432
        cidr: ${public_ip}/32
      - description: LAMBDA
        port: 5432
        source_group: lambda-sg
      - description: RANGE
        protocol: udp
        ports: 8000-8010
        cidr: 10.0.0.0/8
  lambda-sg:
    description: Lambda
db_instances:
  db:
    engine: postgres
    engine_version: "16.4"
    instance_class: db.t3.micro
    allocated_storage: 20
    storage_type: gp3
    storage_encrypted: true
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    backup_retention_days: 0
    performance_insights: { enabled: true, retention_days: 7 }
    security_groups: [db-sg]
    final_snapshot: false
    migrations: sql/migrations
    seed: sql/seed.sql
functions:
  fn:
    source: lambdas/fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    timeout: 10
    layers:
      - arn:aws:lambda:us-east-1:123456789012:layer:x:1
      - { name: psycopg2, source: layer, runtimes: [python3.12] }
    vpc:
      subnets: default
      security_groups: [lambda-sg]
    environment:
      URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.db.address}:5432/cruddur
user_pools:
  pool:
    username_attributes: [email]
cognito_triggers:
  - user_pool: pool
    event: post_confirmation
    function: fn
outputs:
  URL: ${db_instances.db.address}
"#;

#[test]
fn full_example_loads() {
    let s = parse(FULL).unwrap();
    assert_eq!(s.name, "cruddur");
    assert_eq!(s.region.as_deref(), Some("eu-west-1"));
    let g = &s.security_groups["db-sg"];
    assert_eq!(g.ingress.len(), 3);
    assert_eq!((g.ingress[0].from_port, g.ingress[0].to_port), (5432, 5432));
    assert!(
        matches!(&g.ingress[1].source, RuleSource::Group(GroupRef::Stack(n)) if n == "lambda-sg")
    );
    assert_eq!((g.ingress[2].from_port, g.ingress[2].to_port), (8000, 8010));
    assert_eq!(g.ingress[2].protocol, Protocol::Udp);
    let db = &s.db_instances["db"];
    assert_eq!(db.final_snapshot, FinalSnapshot::Skip);
    assert_eq!(db.backup_retention_days, Some(0));
    assert!(db.running);
    let f = &s.functions["fn"];
    assert_eq!((f.memory, f.timeout), (128, 10));
    assert_eq!(f.role, RoleRef::Auto);
    assert_eq!(f.layers.len(), 2);
    assert!(f.environment["URL"].is_secret());
    assert_eq!(
        s.cognito_triggers[0].address(),
        "cognito_triggers.pool.post_confirmation"
    );
    assert_eq!(s.digest.len(), 64);
}

#[test]
fn unknown_key_names_line_and_column() {
    let e = errors("stack: s\nsecurity_groups:\n  g:\n    description: d\n    colour: red\n");
    assert!(e.starts_with("stack.yaml:5:5:"), "{e}");
    assert!(e.contains("colour"), "{e}");
}

#[test]
fn wrong_type_and_duplicates_and_missing() {
    let e = errors(
        "stack: s\ndb_instances:\n  d:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: lots\n",
    );
    assert!(
        e.contains("stack.yaml:6:24: `allocated_storage` must be a whole number"),
        "{e}"
    );
    assert!(
        e.contains("stack.yaml:3:3: db instance `d` needs `master_username:`"),
        "{e}"
    );
    let e = errors("stack: s\nstack: t\n");
    assert!(e.starts_with("stack.yaml:2:"), "{e}");
    assert!(
        e.contains("`stack` is given twice in the stack file (first on line 1)"),
        "{e}"
    );
    let e = errors("region: us-east-1\n");
    assert!(e.contains("stack"), "{e}");
}

#[test]
fn literal_password_is_refused() {
    let e = errors(
        "stack: s\ndb_instances:\n  d:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: hunter2\n",
    );
    assert!(e.starts_with("stack.yaml:8:22:"), "{e}");
    assert!(e.contains("${secret:NAME}"), "{e}");
    assert!(
        !e.contains("hunter2"),
        "the error must not echo the password: {e}"
    );
}

#[test]
fn unset_variables_and_secrets_are_errors_at_their_column() {
    let e = errors("stack: s\nregion: \"x-${env:NOPE}\"\n");
    assert!(e.starts_with("stack.yaml:2:12:"), "{e}");
    assert!(e.contains("NOPE is not set"), "{e}");
    let e = errors("stack: s\noutputs:\n  A: ${secret:MISSING}\n");
    assert!(e.contains("secret MISSING is not set"), "{e}");
}

#[test]
fn dangling_references_and_bad_cidrs() {
    let e = errors("stack: s\noutputs:\n  A: ${db_instances.nope.address}\n");
    assert!(e.starts_with("stack.yaml:3:6:"), "{e}");
    assert!(e.contains("dangling reference"), "{e}");
    let e = errors(
        "stack: s\nsecurity_groups:\n  g:\n    description: d\n    ingress:\n      - description: A\n        port: 22\n        cidr: 10.0.0.1/8\n",
    );
    assert!(e.contains("host bits") && e.contains("10.0.0.0/8"), "{e}");
    let e = errors(
        "stack: s\nsecurity_groups:\n  g:\n    description: d\n    ingress:\n      - description: A\n        port: 22\n        cidr: 300.1.1.1/32\n",
    );
    assert!(e.starts_with("stack.yaml:8:15:"), "{e}");
    let e = errors(
        "stack: s\nsecurity_groups:\n  g:\n    description: d\n    ingress:\n      - description: A\n        port: 22\n        source_group: other\n",
    );
    assert!(
        e.contains("`other` is not a security group of this stack"),
        "{e}"
    );
}

#[test]
fn duplicate_rule_descriptions_and_all_problems_reported() {
    let e = errors(
        "stack: S\nsecurity_groups:\n  g:\n    description: d\n    ingress:\n      - description: A\n        port: 22\n        cidr: 10.0.0.0/8\n      - description: A\n        port: 23\n        cidr: 10.0.0.0/8\n",
    );
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(
        lines[0].starts_with("stack.yaml:1:8:") && lines[0].contains("stack name"),
        "{e}"
    );
    assert!(
        lines[1].starts_with("stack.yaml:9:") && lines[1].contains("used twice"),
        "{e}"
    );
}

#[test]
fn paths_must_exist() {
    let e = errors(
        "stack: s\nfunctions:\n  f:\n    source: nowhere\n    runtime: python3.12\n    handler: a.b\n",
    );
    assert!(
        e.starts_with("stack.yaml:4:13:") && e.contains("`nowhere` not found"),
        "{e}"
    );
}

#[test]
fn trigger_checks() {
    let e = errors(
        "stack: s\ncognito_triggers:\n  - user_pool: p\n    event: on_signup\n    function: f\n",
    );
    assert!(e.contains("not a Cognito trigger"), "{e}");
    let e = errors(
        "stack: s\ncognito_triggers:\n  - user_pool: p\n    event: post_confirmation\n    function: f\n",
    );
    assert!(e.contains("not a function of this stack"), "{e}");
    let s = parse("stack: s\ncognito_triggers:\n  - user_pool: us-east-1_abc\n    event: post_confirmation\n    function: arn:aws:lambda:us-east-1:123456789012:function:f\n").unwrap();
    assert_eq!(
        s.cognito_triggers[0].user_pool,
        PoolRef::External("us-east-1_abc".into())
    );
}

#[test]
fn cidr_checker() {
    assert!(crate::resources::security_group::decl::check_cidr("0.0.0.0/0").is_ok());
    assert!(crate::resources::security_group::decl::check_cidr("1.2.3.4/32").is_ok());
    assert!(crate::resources::security_group::decl::check_cidr("1.2.3.4").is_err());
    assert!(crate::resources::security_group::decl::check_cidr("1.2.3.4/33").is_err());
}

#[test]
fn two_rules_with_one_permission_are_refused() {
    let e = errors(
        "stack: s\nsecurity_groups:\n  g:\n    description: d\n    ingress:\n      - description: A\n        port: 22\n        cidr: 10.0.0.0/8\n      - description: B\n        port: 22\n        cidr: 10.0.0.0/8\n",
    );
    assert!(
        e.starts_with("stack.yaml:9:") && e.contains("allows exactly what rule `A` allows"),
        "{e}"
    );
}

#[test]
fn parser_errors_speak_the_files_language() {
    let e = errors(
        "stack: s\nfunctions:\n  f:\n    source: lambdas/fn\n    runtime: python3.12\n    handler: a.b\n    layers: [{name: x}]\n",
    );
    assert!(
        e.contains("stack.yaml:7:14: a layer needs `source:`"),
        "{e}"
    );
    let e = errors("stack: s\ncognito_triggers:\n  - user_pool:\n    event: x\n    function: y\n");
    assert!(
        e.starts_with("stack.yaml:3:14:")
            && e.contains("`user_pool` in a cognito trigger needs a value"),
        "{e}"
    );
    let e = errors(
        "stack: s\ndb_instances:\n  d:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: lots\n",
    );
    assert!(
        e.contains("`allocated_storage` must be a whole number, like 5, not `lots`"),
        "{e}"
    );
    assert!(!e.contains("i64") && !e.contains("Option<"), "{e}");
}

#[test]
fn group_names_ec2_refuses_are_errors_at_their_line() {
    let e = errors(
        "stack: s\nsecurity_groups:\n  grüppe:\n    description: d\n  \"a b\\tc\":\n    description: d\n  \"ok (web) #1\":\n    description: d\n",
    );
    assert!(e.contains("stack.yaml:3:"), "{e}");
    assert!(
        e.contains("`grüppe` has characters EC2 refuses ('ü')"),
        "{e}"
    );
    assert!(e.contains("stack.yaml:5:"), "{e}");
    assert!(
        e.contains("`a b\\tc` has characters EC2 refuses ('\\t')"),
        "{e}"
    );
    assert!(!e.contains("ok (web)"), "{e}");
    let e = errors("stack: s\nsecurity_groups:\n  sg-web:\n    description: d\n");
    assert!(e.contains("not start with sg-"), "{e}");
}

#[test]
fn a_group_reference_where_a_group_name_goes_says_to_write_the_name() {
    let e = errors(
        "stack: s\nsecurity_groups:\n  g:\n    description: d\n    ingress:\n      - description: A\n        port: 22\n        source_group: ${security_groups.other.id}\n  other:\n    description: o\ndb_instances:\n  d:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    manage_master_password: true\n    security_groups: [\"${security_groups.g.id}\"]\n",
    );
    assert!(e.contains("stack.yaml:8:"), "{e}");
    assert!(
        e.contains(
            "only ${env:...} can be used here, not references: write the group's name (`other`)"
        ),
        "{e}"
    );
    assert!(e.contains("stack.yaml:18:"), "{e}");
    assert!(e.contains("write the group's name (`g`)"), "{e}");
}

#[test]
fn runtimes_are_checked_by_family_so_future_versions_pass() {
    for ok in [
        "python3.9",
        "python3.13",
        "python3.15",
        "nodejs18.x",
        "nodejs22.x",
        "nodejs26.x",
        "java8.al2",
        "java21",
        "java29",
        "dotnet8",
        "dotnet12",
        "ruby3.2",
        "ruby3.4",
        "ruby4.0",
        "provided.al2",
        "provided.al2023",
        "provided.al2027",
    ] {
        assert_eq!(
            crate::resources::function::decl::runtime_problem(ok),
            None,
            "{ok}"
        );
    }
    for deprecated in [
        "python2.7",
        "python3.8",
        "python3.99",
        "nodejs16.x",
        "nodejs21.x",
        "nodejs99.x",
        "nodejs",
        "java8",
        "dotnet6",
        "dotnetcore3.1",
        "ruby2.7",
        "go1.x",
        "provided",
    ] {
        let e = crate::resources::function::decl::runtime_problem(deprecated).unwrap_or_default();
        assert!(
            e.contains("is not a runtime Lambda creates functions with") && e.contains("python3.N"),
            "{deprecated}: {e}"
        );
    }
    let e = crate::resources::function::decl::runtime_problem("cobol85").unwrap_or_default();
    assert!(e.contains("is not a Lambda runtime: use one of"), "{e}");
}

#[test]
fn region_shapes_and_rds_storage_floors() {
    for ok in [
        "us-east-1",
        "eu-west-2",
        "ap-southeast-5",
        "us-gov-west-1",
        "us-isob-east-1",
        "mx-central-1",
    ] {
        assert!(validate::valid_region(ok), "{ok}");
    }
    for bad in [
        "mars-1",
        "us-east",
        "US-EAST-1",
        "useast1",
        "us-east-1a",
        "us--1",
        "us-gov-",
        "u-east-1",
    ] {
        assert!(!validate::valid_region(bad), "{bad}");
    }
    let d = tempfile::tempdir().unwrap();
    let db = |storage_type: &str, size: u32| {
        format!(
            "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: {size}\n    storage_type: {storage_type}\n    master_username: root\n    manage_master_password: true\n"
        )
    };
    for (st, size) in [("gp3", 20), ("gp2", 20), ("standard", 5)] {
        let r = parse_str(&db(st, size), Path::new("stack.yaml"), d.path(), &env);
        assert!(
            r.is_ok(),
            "{st} {size}: {:?}",
            r.err().map(|e| e.to_string())
        );
    }
    for (st, size, floor) in [("gp3", 19, 20), ("gp2", 5, 20)] {
        let e = parse_str(&db(st, size), Path::new("stack.yaml"), d.path(), &env)
            .err()
            .unwrap_or_else(|| panic!("{st} {size} loaded"));
        assert!(
            e.problems.iter().any(|p| p.pos.line == 6
                && p.message
                    .contains(&format!("at least {floor} GiB for storage_type {st}"))),
            "{st} {size}: {e}"
        );
    }
}

/// `io1`/`io2` need `Iops` in CreateDBInstance, which the file cannot state: refused at the
/// storage_type line before anything is sent, whatever the size.
#[test]
fn io_storage_needs_iops_the_file_cannot_state_so_it_is_refused_at_its_line() {
    let d = tempfile::tempdir().unwrap();
    for st in ["io1", "io2"] {
        let src = format!(
            "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 400\n    storage_type: {st}\n    master_username: root\n    manage_master_password: true\n"
        );
        let e = parse_str(&src, Path::new("stack.yaml"), d.path(), &env)
            .err()
            .unwrap_or_else(|| panic!("{st} loaded"));
        assert!(
            e.problems.iter().any(|p| p.pos.line == 7
                && p.message
                    .contains(&format!("storage_type {st} needs provisioned IOPS"))
                && p.message.contains("use gp3")),
            "{st}: {e}"
        );
    }
}

/// EC2's character sets, at the line of the offending text: a group's name and description and
/// a CIDR rule's description take `&`, a group rule's description does not; an apostrophe, a
/// non-ASCII letter or a newline is refused everywhere.
#[test]
fn descriptions_ec2_refuses_are_errors_at_their_line() {
    let d = tempfile::tempdir().unwrap();
    let stack = |group_desc: &str, cidr_desc: &str, pair_desc: &str| {
        format!(
            "stack: s\nsecurity_groups:\n  db-sg:\n    description: \"{group_desc}\"\n    ingress:\n      - description: \"{cidr_desc}\"\n        port: 5432\n        cidr: 10.0.0.0/8\n      - description: \"{pair_desc}\"\n        port: 5432\n        source_group: fn-sg\n  fn-sg:\n    description: functions\n"
        )
    };
    let good = "a-z A-Z 0-9 ._-:/()#,@[]+=;{}!$*";
    let ok = parse_str(
        &stack(&format!("{good}&"), &format!("{good}&"), good),
        Path::new("stack.yaml"),
        d.path(),
        &env,
    );
    assert!(ok.is_ok(), "{:?}", ok.err().map(|e| e.to_string()));
    for (group, cidr, pair, line, says) in [
        (
            "Andrew's db",
            "x",
            "y",
            4,
            "description has characters EC2 refuses ('\\'')",
        ),
        (
            "db",
            "Andrew's laptop",
            "y",
            6,
            "rule description `Andrew\\'s laptop` has characters EC2 refuses",
        ),
        (
            "db",
            "x",
            "lambda & co",
            9,
            "rule description `lambda & co` has characters EC2 refuses ('&')",
        ),
        (
            "db",
            "caf\u{e9}",
            "y",
            6,
            "has characters EC2 refuses ('\u{e9}')",
        ),
    ] {
        let e = parse_str(
            &stack(group, cidr, pair),
            Path::new("stack.yaml"),
            d.path(),
            &env,
        )
        .err()
        .unwrap_or_else(|| panic!("{group} / {cidr} / {pair} loaded"));
        assert!(
            e.problems
                .iter()
                .any(|p| p.pos.line == line && p.message.contains(says)),
            "{group} / {cidr} / {pair}: want line {line} `{says}`, got {e}"
        );
        assert_eq!(e.problems.len(), 1, "{e}");
    }
}

/// The auto role is `<function>-role`; IAM names are at most 64 characters, so a function name
/// Lambda accepts (up to 64) can still make a role IAM refuses: an error at `role:` when it is
/// written, else at the function, naming the limit and both ways out.
#[test]
fn an_auto_role_name_longer_than_iam_allows_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("src")).unwrap();
    let stack = |name: &str, role: &str| {
        format!(
            "stack: s\nfunctions:\n  {name}:\n    source: src\n    runtime: python3.12\n    handler: app.handler\n{role}"
        )
    };
    let fits = "f".repeat(59);
    let long = "f".repeat(60);
    for role in ["", "    role: auto\n"] {
        let ok = parse_str(&stack(&fits, role), Path::new("stack.yaml"), d.path(), &env);
        assert!(ok.is_ok(), "{:?}", ok.err().map(|e| e.to_string()));
    }
    for (role, line) in [("", 3), ("    role: auto\n", 7)] {
        let e = parse_str(&stack(&long, role), Path::new("stack.yaml"), d.path(), &env)
            .err()
            .unwrap_or_else(|| panic!("a 65-character role name loaded"));
        assert!(
            e.problems.iter().any(|p| p.pos.line == line
                && p.message.contains(&format!("`{long}-role`, 65 characters"))
                && p.message.contains("at most 64")),
            "{e}"
        );
    }
    let arn = "    role: arn:aws:iam::123456789012:role/short\n";
    let ok = parse_str(&stack(&long, arn), Path::new("stack.yaml"), d.path(), &env);
    assert!(ok.is_ok(), "{:?}", ok.err().map(|e| e.to_string()));
}

#[test]
fn a_migrations_baseline_needs_migrations_or_a_seed_and_points_there() {
    let db = "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: ${secret:DB_PASSWORD}\n";
    let e = errors(&format!("{db}    migrations_baseline: 2\n"));
    assert!(
        e.starts_with("stack.yaml:9:26:") && e.contains("migrations_baseline needs `migrations:`"),
        "{e}"
    );
    let s = parse(&format!(
        "{db}    migrations: sql/migrations\n    migrations_baseline: 2\n"
    ))
    .unwrap();
    let d = &s.db_instances["db"];
    assert_eq!(
        d.migrations_baseline,
        Some(Baseline {
            version: 2,
            pos: Pos { line: 10, col: 26 }
        })
    );
    assert_eq!(d.migrations_pos, Pos { line: 9, col: 17 });
    // A seed alone can be baselined (0, the only number without files): it must not insert
    // into a database made before deploy.
    let s = parse(&format!(
        "{db}    seed: sql/seed.sql\n    migrations_baseline: 0\n"
    ))
    .unwrap();
    assert_eq!(
        s.db_instances["db"].migrations_baseline.map(|b| b.version),
        Some(0)
    );
    assert!(
        errors(&format!(
            "{db}    migrations: sql/migrations\n    migrations_baseline: -1\n"
        ))
        .contains("between 0 and")
    );
}

#[test]
fn a_destroy_leaves_what_the_file_names_but_does_not_own() {
    let s = parse(
        r#"
stack: refs
security_groups:
  app:
    description: app
    ingress:
      - description: LB
        port: 80
        source_group: sg-0123456789abcdef0
db_instances:
  db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [app, sg-0123456789abcdef0]
functions:
  fn:
    source: lambdas/fn
    runtime: python3.12
    handler: h.h
    role: arn:aws:iam::123456789012:role/existing
    layers: [arn:aws:lambda:us-east-1:123456789012:layer:psycopg2:3]
    vpc:
      subnets: [subnet-0aaaaaaaaaaaaaaaa]
      security_groups: [app]
cognito_triggers:
  - user_pool: us-east-1_AbCdEf123
    event: post_confirmation
    function: fn
"#,
    )
    .unwrap();
    assert_eq!(
        s.left_in_place(),
        vec![
            "security group sg-0123456789abcdef0 (named by security_groups.app)",
            "role arn:aws:iam::123456789012:role/existing (named by functions.fn)",
            "layer arn:aws:lambda:us-east-1:123456789012:layer:psycopg2:3 (named by functions.fn)",
            "subnet subnet-0aaaaaaaaaaaaaaaa (named by functions.fn)",
            "user pool us-east-1_AbCdEf123 (named by cognito_triggers.us-east-1_AbCdEf123.post_confirmation)",
        ]
    );
    // A layer by ARN beside one published from a folder: only the first is left.
    assert_eq!(
        parse(FULL).unwrap().left_in_place(),
        vec!["layer arn:aws:lambda:us-east-1:123456789012:layer:x:1 (named by functions.fn)"]
    );
}

/// One file, several environments: `stack:` from `${env:}`, AWS names from `${stack}`.
const ENVIRONMENTS: &str = r#"
stack: app-${env:STAGE}
security_groups:
  db-sg:
    name: ${stack}-db-sg
    description: db
db_instances:
  db:
    name: ${stack}-db
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    manage_master_password: true
    security_groups: [db-sg]
functions:
  fn:
    name: ${stack}-fn
    source: lambdas/fn
    runtime: python3.12
    handler: a.b
user_pools:
  pool:
    name: ${stack}-users
  plain: {}
"#;

fn parse_stage(src: &str, stage: &str) -> Result<Stack, LoadError> {
    let d = dir();
    let stage = stage.to_string();
    let env = move |n: &str| (n == "STAGE").then(|| stage.clone());
    parse_str(src, Path::new("stack.yaml"), d.path(), &env)
}

#[test]
fn name_defaults_to_the_key_and_stack_interpolates_into_names() {
    let s = parse_stage(ENVIRONMENTS, "prod").unwrap();
    assert_eq!(s.name, "app-prod");
    // Keys stay the logical names (the addresses); `name:` is the AWS name.
    assert_eq!(s.security_groups["db-sg"].name, "app-prod-db-sg");
    assert_eq!(s.db_instances["db"].name, "app-prod-db");
    assert_eq!(s.functions["fn"].name, "app-prod-fn");
    assert_eq!(s.user_pools["pool"].name, "app-prod-users");
    assert_eq!(s.user_pools["plain"].name, "plain");
    // References keep naming keys.
    assert_eq!(
        s.db_instances["db"].security_groups,
        vec![GroupRef::Stack("db-sg".into())]
    );
    let staging = parse_stage(ENVIRONMENTS, "staging").unwrap();
    assert_eq!(staging.db_instances["db"].name, "app-staging-db");
    assert_eq!(
        Stack::key_of(&s.db_instances, |d| &d.name, "app-prod-db"),
        "db"
    );
    assert_eq!(Stack::key_of(&s.db_instances, |d| &d.name, "gone"), "gone");
}

#[test]
fn stack_interpolates_in_any_value_but_not_in_stack_itself() {
    let src = ENVIRONMENTS.replace(
        "    handler: a.b\n",
        "    handler: a.b\n    description: ${stack} function\n",
    );
    let s = parse_stage(&src, "dev").unwrap();
    assert_eq!(
        s.functions["fn"].description.as_deref(),
        Some("app-dev function")
    );
    let e = parse_stage("stack: ${stack}-x\n", "dev")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("stack.yaml:1:8: stack: `${stack}` is the stack's name"),
        "{e}"
    );
}

#[test]
fn a_physical_name_is_checked_as_the_aws_name_at_its_line() {
    let src = ENVIRONMENTS
        .replace("name: ${stack}-db\n", "name: ${stack}--db\n")
        .replace("name: ${stack}-db-sg", "name: sg-${stack}")
        .replace("name: ${stack}-fn", "name: ${stack} fn")
        .replace("name: ${stack}-users", "name: ${stack}/users");
    let e = parse_stage(&src, "prod").unwrap_err().to_string();
    for (line, what) in [
        (
            5,
            "security group name `sg-app-prod` must be 1-255 characters and not start with sg-",
        ),
        (9, "db instance identifier `app-prod--db` must be"),
        (18, "function name `app-prod fn` must be"),
        (24, "user pool name `app-prod/users` must be"),
    ] {
        assert!(
            e.contains(&format!("stack.yaml:{line}:")) && e.contains(what),
            "{what}: {e}"
        );
    }
    // The auto role follows the AWS name: a 60-character one makes a 65-character role.
    let long = ENVIRONMENTS.replace("name: ${stack}-fn", &format!("name: {}", "f".repeat(60)));
    let e = parse_stage(&long, "prod").unwrap_err().to_string();
    assert!(
        e.contains("stack.yaml:18:") && e.contains("would be named"),
        "{e}"
    );
}

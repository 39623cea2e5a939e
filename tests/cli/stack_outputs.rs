//! A stack's outputs: apply and `deploy output` print them quoted the same way, and one output
//! can be asked for alone, in any format, before the others are known and with only its own
//! secrets.

use super::common::Env;

#[test]
fn output_name_works_when_other_outputs_are_not_known_yet() {
    let env = Env::new();
    env.write_stack(
        "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    manage_master_password: true\noutputs:\n  REGION_NAME: ${env:AWS_REGION}\n  DB_HOST: ${db_instances.db.address}\n",
    );
    let r = env.ok(&["output", "REGION_NAME"]);
    assert_eq!(r.stdout, "us-east-1\n");
    let r = env.run(&["output", "DB_HOST"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("output DB_HOST needs db_instances.db which does not exist yet"),
        "{}",
        r.stderr
    );
    let r = env.run(&["output"]);
    assert_eq!(r.code, 1, "{}", r.all());
}

#[test]
fn outputs_are_quoted_the_same_way_after_apply_and_by_deploy_output() {
    let env = super::common::Env::new();
    env.write_stack(
        "stack: s\nsecurity_groups:\n  q-sg:\n    description: q\noutputs:\n  GROUP: ${security_groups.q-sg.id}\n  SAID: 'say \"hi\" ${env:AWS_REGION}'\n",
    );
    let applied = env.ok(&["apply", "--auto-approve"]).stdout;
    let after: Vec<&str> = applied
        .split("\nOutputs:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no outputs after apply:\n{applied}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let listed = env.ok(&["output"]).stdout;
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(after, listed);
    assert_eq!(listed[1], r#"SAID = "say \"hi\" us-east-1""#);
    assert!(listed[0].starts_with("GROUP = \"sg-"), "{listed:?}");
    // One output alone stays raw, for scripts.
    assert_eq!(env.ok(&["output", "SAID"]).stdout, "say \"hi\" us-east-1\n");
}

#[test]
fn one_output_follows_format_and_needs_only_its_own_secrets() {
    let env = super::common::Env::new();
    env.write_stack(
        "stack: s\nsecurity_groups:\n  q-sg:\n    description: q\noutputs:\n  GROUP: ${security_groups.q-sg.id}\n  QUOTE: \"it's\"\n  NUM: 42\n  URL: postgres://u:${secret:DB_PASSWORD}@h/db\n",
    );
    env.ok(&["apply", "--auto-approve"]);
    let one = |args: &[&str]| env.ok(args).stdout;
    assert_eq!(one(&["output", "QUOTE"]), "it's\n");
    assert_eq!(one(&["output", "QUOTE", "--format", "text"]), "it's\n");
    assert_eq!(
        one(&["output", "QUOTE", "--format", "env"]),
        "QUOTE='it'\\''s'\n"
    );
    assert_eq!(one(&["output", "QUOTE", "--format", "json"]), "\"it's\"\n");
    // All values are strings, alone as in the whole object.
    assert_eq!(one(&["output", "NUM", "--format", "json"]), "\"42\"\n");
    let all: serde_json::Value =
        serde_json::from_str(&one(&["output", "--format", "json"])).unwrap();
    assert_eq!(all["NUM"], "42");

    // Without DB_PASSWORD: the outputs that do not use it still print; the one that does says
    // which variable to set, and never prints a value.
    let mut c = env.command(&["output", "GROUP"]);
    c.env_remove("DB_PASSWORD");
    let r: super::common::Run = c.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.starts_with("sg-"), "{}", r.stdout);
    let mut c = env.command(&["output", "URL"]);
    c.env_remove("DB_PASSWORD");
    let r: super::common::Run = c.output().unwrap().into();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("output URL uses ${secret:DB_PASSWORD}, which is not set")
            && r.stdout.is_empty(),
        "{}",
        r.all()
    );
}

//! Security groups and rules through the binary, checked against the emulator.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use super::common::Env;

fn stack(extra_rules: usize) -> String {
    let mut s = String::from(
        r#"
stack: sgtest
tags: { project: cruddur }
security_groups:
  cruddur-db-sg:
    description: Postgres access for Cruddur
    ingress:
      - description: GITPOD
        port: 5432
        cidr: ${public_ip}/32
      - description: LAMBDA
        port: 5432
        source_group: cruddur-lambda-sg
"#,
    );
    for i in 0..extra_rules {
        s.push_str(&format!(
            "      - description: EXTRA{i}\n        protocol: udp\n        ports: {}-{}\n        cidr: 10.{i}.0.0/16\n",
            9000 + i,
            9001 + i
        ));
    }
    s.push_str("  cruddur-lambda-sg:\n    description: Cruddur Lambda functions\n");
    s
}

struct Live {
    groups: BTreeMap<String, aws_sdk_ec2::types::SecurityGroup>,
    rules: Vec<aws_sdk_ec2::types::SecurityGroupRule>,
}

async fn live(env: &Env) -> Live {
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let groups: BTreeMap<String, _> = ec2
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .map(|g| (g.group_name().unwrap().to_string(), g.clone()))
        .collect();
    let rules = ec2
        .describe_security_group_rules()
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .to_vec();
    Live { groups, rules }
}

impl Live {
    fn ingress(&self, group: &str) -> Vec<&aws_sdk_ec2::types::SecurityGroupRule> {
        let id = self.groups[group].group_id().unwrap();
        self.rules
            .iter()
            .filter(|r| r.group_id() == Some(id) && r.is_egress() == Some(false))
            .collect()
    }
    fn tag(&self, group: &str, key: &str) -> Option<String> {
        self.groups[group]
            .tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value().map(str::to_string))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_apply_replan_ip_change_destroy() {
    let env = Env::new();
    env.write_stack(&stack(0));

    // The first plan lists everything and writes nothing.
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    for a in [
        "+ security_groups.cruddur-db-sg\n",
        "+ security_groups.cruddur-db-sg.ingress.GITPOD\n",
        "+ security_groups.cruddur-db-sg.ingress.LAMBDA\n",
        "+ security_groups.cruddur-lambda-sg\n",
    ] {
        assert!(r.stdout.contains(a), "missing {a:?} in\n{}", r.stdout);
    }
    assert!(
        r.stdout.contains("cidr         = \"203.0.113.10/32\"")
            || r.stdout.contains("cidr      = \"203.0.113.10/32\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 4 to create, 0 to update, 0 to replace, 0 to delete."),
        "{}",
        r.stdout
    );
    assert_eq!(env.writes(), Vec::<String>::new(), "plan wrote to AWS");

    env.ok(&["apply", "--auto-approve"]);
    let l = live(&env).await;
    let db = &l.groups["cruddur-db-sg"];
    assert_eq!(db.description(), Some("Postgres access for Cruddur"));
    assert_eq!(
        l.tag("cruddur-db-sg", "deploy:stack").as_deref(),
        Some("sgtest")
    );
    assert_eq!(
        l.tag("cruddur-db-sg", "project").as_deref(),
        Some("cruddur")
    );
    assert_eq!(
        l.tag("cruddur-lambda-sg", "deploy:stack").as_deref(),
        Some("sgtest")
    );
    let rules = l.ingress("cruddur-db-sg");
    assert_eq!(rules.len(), 2);
    let gitpod = rules.iter().find(|r| r.cidr_ipv4().is_some()).unwrap();
    assert_eq!(gitpod.cidr_ipv4(), Some("203.0.113.10/32"));
    assert_eq!(
        (gitpod.ip_protocol(), gitpod.from_port(), gitpod.to_port()),
        (Some("tcp"), Some(5432), Some(5432))
    );
    assert_eq!(gitpod.description(), Some("GITPOD"));
    let lambda = rules
        .iter()
        .find(|r| r.referenced_group_info().is_some())
        .unwrap();
    assert_eq!(
        lambda.referenced_group_info().unwrap().group_id(),
        l.groups["cruddur-lambda-sg"].group_id()
    );
    // The default egress rule is left alone.
    assert!(
        l.rules
            .iter()
            .any(|r| r.group_id() == db.group_id() && r.is_egress() == Some(true))
    );
    let gitpod_id = gitpod.security_group_rule_id().unwrap().to_string();
    env.calls();

    // A second plan has no changes, and a no-op apply makes zero write calls.
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("No changes. Live AWS matches stack.yaml.")
    );
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        env.writes(),
        Vec::<String>::new(),
        "a no-op apply wrote to AWS"
    );

    // The developer's IP moves: exactly one rule is modified in place, keeping its id.
    env.set_public_ip("198.51.100.23");
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout
            .contains("~ security_groups.cruddur-db-sg.ingress.GITPOD"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("\"203.0.113.10/32\" -> \"198.51.100.23/32\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
        "{}",
        r.stdout
    );
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        env.writes(),
        vec!["ec2.ModifySecurityGroupRules".to_string()]
    );
    let l = live(&env).await;
    let gitpod = l
        .ingress("cruddur-db-sg")
        .into_iter()
        .find(|r| r.cidr_ipv4().is_some())
        .unwrap()
        .clone();
    assert_eq!(gitpod.security_group_rule_id(), Some(gitpod_id.as_str()));
    assert_eq!(gitpod.cidr_ipv4(), Some("198.51.100.23/32"));

    // Destroy removes the stack's groups; a second destroy is a no-op.
    env.ok(&["destroy", "--auto-approve"]);
    let l = live(&env).await;
    assert!(!l.groups.contains_key("cruddur-db-sg") && !l.groups.contains_key("cruddur-lambda-sg"));
    env.calls();
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(r.stdout.contains("Nothing to destroy"), "{}", r.stdout);
    assert_eq!(env.writes(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_are_authoritative_and_console_changes_show_as_drift() {
    let env = Env::new();
    env.write_stack(&stack(0));
    env.ok(&["apply", "--auto-approve"]);
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let l = live(&env).await;
    let gid = l.groups["cruddur-db-sg"].group_id().unwrap().to_string();
    // Someone opens SSH by hand and widens the GITPOD rule's ports.
    ssh_by_hand(&ec2, &gid, "0.0.0.0/0", Some("SSH")).await;
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout
            .contains("- security_groups.cruddur-db-sg.ingress.SSH"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("not in stack.yaml"), "{}", r.stdout);
    env.ok(&["apply", "--auto-approve"]);
    let l = live(&env).await;
    assert_eq!(l.ingress("cruddur-db-sg").len(), 2);
    assert!(
        l.ingress("cruddur-db-sg")
            .iter()
            .all(|r| r.from_port() == Some(5432))
    );
    env.run(&["plan", "--detailed-exitcode"]);
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn untagged_groups_are_adopted_only_with_the_flag_and_never_deleted() {
    let env = Env::new();
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    // The seed created its group by hand: same name, no tag.
    ec2.create_security_group()
        .group_name("cruddur-lambda-sg")
        .description("Cruddur Lambda functions")
        .send()
        .await
        .unwrap();
    // And an unrelated, untagged group that must never be touched.
    ec2.create_security_group()
        .group_name("someone-else")
        .description("x")
        .send()
        .await
        .unwrap();
    env.write_stack(&stack(0));
    let r = env.run(&["plan"]);
    assert!(
        r.stdout.contains("= security_groups.cruddur-lambda-sg"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 to adopt"), "{}", r.stdout);
    env.calls();
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("--adopt"), "{}", r.stderr);
    assert_eq!(
        env.writes(),
        Vec::<String>::new(),
        "apply without --adopt changed something"
    );
    env.ok(&["apply", "--auto-approve", "--adopt"]);
    let l = live(&env).await;
    assert_eq!(
        l.tag("cruddur-lambda-sg", "deploy:stack").as_deref(),
        Some("sgtest")
    );
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.ok(&["destroy", "--auto-approve"]);
    let l = live(&env).await;
    assert!(
        l.groups.contains_key("someone-else"),
        "an untagged group was deleted"
    );
    assert!(
        !l.groups.contains_key("cruddur-lambda-sg"),
        "the adopted group belongs to the stack now"
    );
    let groups = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values("someone-else")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(groups.security_groups().len(), 1);
}

#[test]
fn plan_reads_a_fixed_number_of_calls_whatever_the_number_of_rules() {
    let env = Env::new();
    env.write_stack(&stack(1));
    env.ok(&["apply", "--auto-approve"]);
    env.calls();
    env.ok(&["plan"]);
    let few = env.calls().len();
    env.write_stack(&stack(40));
    env.ok(&["apply", "--auto-approve"]);
    env.calls();
    let r = env.ok(&["plan", "--detailed-exitcode"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let many = env.calls().len();
    assert_eq!(few, many, "plan calls grew with the number of rules");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_rule_is_modified_in_place_not_revoked_and_added() {
    // moto's ModifySecurityGroupRules leaves a group-referencing rule's old description in
    // DescribeSecurityGroups; the proxy shows the new one, as AWS does.
    let env = Env::with_fidelity(serde_json::json!({"ec2_rules": true}));
    env.write_stack(&stack(1));
    env.ok(&["apply", "--auto-approve"]);
    let before = live(&env).await;
    let ids: Vec<String> = before
        .ingress("cruddur-db-sg")
        .iter()
        .filter_map(|r| r.security_group_rule_id().map(str::to_string))
        .collect();
    env.write_stack(
        &stack(1)
            .replace("description: LAMBDA", "description: FROM-LAMBDA")
            .replace("description: EXTRA0", "description: VPN"),
    );
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout
            .contains("~ security_groups.cruddur-db-sg.ingress.FROM-LAMBDA"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("~ security_groups.cruddur-db-sg.ingress.VPN"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to create, 2 to update, 0 to replace, 0 to delete."),
        "{}",
        r.stdout
    );
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        env.writes(),
        vec![
            "ec2.ModifySecurityGroupRules".to_string(),
            "ec2.ModifySecurityGroupRules".to_string()
        ]
    );
    let after = live(&env).await;
    let mut after_ids: Vec<String> = after
        .ingress("cruddur-db-sg")
        .iter()
        .filter_map(|r| r.security_group_rule_id().map(str::to_string))
        .collect();
    let mut ids = ids;
    ids.sort();
    after_ids.sort();
    assert_eq!(ids, after_ids, "rule ids must be kept");
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// The groups of the fidelity proxy's EC2 realism: DeleteSecurityGroup refuses a group in use.
/// With `ec2_rules`: moto refuses a revoke of a group pair by permission unless its description
/// is given (AWS does not need it); the proxy supplies it (tests/support/README.md).
fn ec2_realism() -> serde_json::Value {
    serde_json::json!({ "ec2": true, "ec2_eni_release_s": 1, "ec2_rules": true })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_group_keeps_its_rules_and_the_rules_that_name_it() {
    let env = Env::with_fidelity(ec2_realism());
    let yaml = |g1: &str, hb: &str, port: u16| {
        format!(
            "stack: sgrepl\nsecurity_groups:\n  g1:\n    description: {g1}\n    ingress:\n      - {{ description: A, port: {port}, cidr: 10.0.0.0/8 }}\n  ha:\n    description: a\n    ingress:\n      - {{ description: FROMB, port: 80, source_group: hb }}\n  hb:\n    description: {hb}\n"
        )
    };
    env.write_stack(&yaml("one", "b1", 80));
    env.ok(&["apply", "--auto-approve"]);
    // g1 is replaced and its rule changes in the same apply; hb is replaced while ha's rule
    // names it.
    env.write_stack(&yaml("two", "b2", 81));
    let r = env.ok(&["plan"]);
    for line in [
        "-/+ security_groups.g1\n",
        "-/+ security_groups.g1.ingress.A",
        "-/+ security_groups.hb\n",
        "-/+ security_groups.ha.ingress.FROMB",
        "revoked before security_groups.hb is deleted",
    ] {
        assert!(r.stdout.contains(line), "{line}:\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("(old)"), "{}", r.stdout);
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.all().contains("Lambda"), "{}", r.all());
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "not converged:\n{}", r.all());
    let l = live(&env).await;
    let g1 = l.ingress("g1");
    assert_eq!(g1.len(), 1);
    assert_eq!(g1[0].from_port(), Some(81));
    let hb = l.groups["hb"].group_id().unwrap();
    let fromb = l.ingress("ha");
    assert_eq!(fromb.len(), 1);
    assert_eq!(
        fromb[0].referenced_group_info().and_then(|g| g.group_id()),
        Some(hb)
    );
}

const GROUP_IN_USE: &str = r#"
stack: sginuse
security_groups:
  db-sg:
    description: one
db_instances:
  app-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    backup_retention_days: 0
    security_groups: [db-sg]
    final_snapshot: false
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_group_an_instance_uses_is_a_plan_error_and_a_new_name_moves_the_instance() {
    let env = Env::with_fidelity(ec2_realism());
    env.write_stack(GROUP_IN_USE);
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&GROUP_IN_USE.replace("description: one", "description: two"));
    env.calls();
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    for part in [
        "security_groups.db-sg",
        "db_instances.app-db uses it",
        "give the group a new name",
    ] {
        assert!(r.stderr.contains(part), "{part}:\n{}", r.stderr);
    }
    assert_eq!(env.writes(), Vec::<String>::new());
    // The way out: a new name. The instance moves to the new group, then the old one goes.
    env.write_stack(
        &GROUP_IN_USE
            .replace("description: one", "description: two")
            .replace("db-sg", "db-sg2"),
    );
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "not converged:\n{}", r.all());
    let l = live(&env).await;
    assert!(!l.groups.contains_key("db-sg"));
    assert!(l.groups.contains_key("db-sg2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn adopting_a_group_revokes_its_hand_made_rules_in_the_same_apply() {
    let env = Env::new();
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let id = ec2
        .create_security_group()
        .group_name("own-sg")
        .description("hand made")
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    ssh_by_hand(&ec2, &id, "9.9.9.9/32", Some("ssh")).await;
    env.write_stack(
        "stack: sgadopt\nsecurity_groups:\n  own-sg:\n    description: hand made\n    ingress:\n      - { description: web, port: 443, cidr: 0.0.0.0/0 }\n",
    );
    let r = env.ok(&["plan"]);
    assert!(
        r.stdout.contains("- security_groups.own-sg.ingress.ssh"),
        "{}",
        r.stdout
    );
    env.ok(&["apply", "--auto-approve", "--adopt"]);
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "not converged:\n{}", r.all());
    let l = live(&env).await;
    let ports: Vec<Option<i32>> = l.ingress("own-sg").iter().map(|r| r.from_port()).collect();
    assert_eq!(ports, vec![Some(443)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_are_read_with_their_groups_and_revoked_by_permission() {
    // moto wants a revoked group pair's description (AWS does not); the proxy supplies it.
    let env = Env::with_fidelity(serde_json::json!({"ec2_rules": true}));
    env.write_stack(&stack(0));
    env.ok(&["apply", "--auto-approve"]);
    // The plan reads the rules with their groups: no DescribeSecurityGroupRules, one round.
    env.calls();
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let ec2: Vec<String> = env
        .calls()
        .into_iter()
        .filter(|c| c.contains("SecurityGroup"))
        .collect();
    assert_eq!(
        ec2,
        vec!["ec2.DescribeSecurityGroups", "ec2.DescribeSecurityGroups"],
        "{ec2:?}"
    );
    // A console rule without a description is named by what it lets in, on every plan.
    let gid = live(&env).await.groups["cruddur-db-sg"]
        .group_id()
        .unwrap()
        .to_string();
    ssh_by_hand(
        &aws_sdk_ec2::Client::new(&env.sdk_config().await),
        &gid,
        "0.0.0.0/0",
        None,
    )
    .await;
    // And the group-referencing rule leaves the file.
    env.write_stack(&stack(0).replace(
        "      - description: LAMBDA\n        port: 5432\n        source_group: cruddur-lambda-sg\n",
        "",
    ));
    for _ in 0..2 {
        let r = env.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(r.code, 2, "{}", r.all());
        for a in [
            "- security_groups.cruddur-db-sg.ingress.tcp-22-from-0.0.0.0/0\n",
            "- security_groups.cruddur-db-sg.ingress.LAMBDA\n",
            "Plan: 0 to create, 0 to update, 0 to replace, 2 to delete.",
        ] {
            assert!(r.stdout.contains(a), "missing {a:?} in\n{}", r.stdout);
        }
    }
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        env.writes(),
        vec!["ec2.RevokeSecurityGroupIngress"],
        "the group's two revokes go in one call, by permission: no lookup of the rules' ids"
    );
    let l = live(&env).await;
    let left = l.ingress("cruddur-db-sg");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].description(), Some("GITPOD"));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// Someone opens SSH on a group by hand, in the console.
async fn ssh_by_hand(
    ec2: &aws_sdk_ec2::Client,
    group_id: &str,
    cidr: &str,
    description: Option<&str>,
) {
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip(cidr)
                        .set_description(description.map(str::to_string))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

//! Scale under AWS's request limits (issue 18): a group's rule writes go in one call, and a
//! throttled apply paces itself to the account's bucket instead of running out of retries.

use crate::common::*;

/// `groups` security groups with `rules` ingress rules each: the first rule of each group (but
/// the first group's) lets in the group before it, so rules wait for two groups.
fn stack(groups: usize, rules: usize) -> String {
    let mut s = String::from("stack: scale\nsecurity_groups:\n");
    for g in 0..groups {
        s.push_str(&format!(
            "  g{g:02}:\n    description: group {g}\n    ingress:\n"
        ));
        for r in 0..rules {
            if r == 0 && g > 0 {
                s.push_str(&format!(
                    "      - description: from-g{:02}\n        port: 5432\n        source_group: g{:02}\n",
                    g - 1,
                    g - 1
                ));
            } else {
                s.push_str(&format!(
                    "      - description: r{r}\n        port: {}\n        cidr: 10.{g}.{r}.0/24\n",
                    8000 + r
                ));
            }
        }
    }
    s
}

fn ec2_writes(log: &[serde_json::Value]) -> (Vec<String>, usize) {
    let writes: Vec<&serde_json::Value> = log
        .iter()
        .filter(|r| r["service"] == "ec2")
        .filter(|r| {
            let op = r["operation"].as_str().unwrap_or("");
            !["Describe", "List", "Get"]
                .iter()
                .any(|p| op.starts_with(p))
        })
        .collect();
    let accepted = writes
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| r["operation"].as_str().unwrap_or("").to_string())
        .collect();
    let throttled = writes.iter().filter(|r| r["fault"] == "throttle").count();
    (accepted, throttled)
}

#[test]
fn a_210_resource_stack_applies_in_one_run_under_a_20_token_ec2_bucket() {
    // A busy account: 20 tokens for EC2's mutating actions, refilled at 5 a second.
    let env = Env::with_fidelity(serde_json::json!({"bucket_ec2_mutating": "20/5"}));
    env.write_stack(&stack(30, 6));
    // moto loads its EC2 backend on the first call: not part of the apply.
    env.ok(&["plan"]);
    let before = env.log().len();
    let started = std::time::Instant::now();
    let r = env.ok(&["apply", "--auto-approve"]);
    let took = started.elapsed().as_secs_f64();
    let log = env.log();
    let (accepted, throttled) = ec2_writes(&log[before..]);
    let groups = accepted
        .iter()
        .filter(|o| *o == "CreateSecurityGroup")
        .count();
    let authorizes = accepted
        .iter()
        .filter(|o| *o == "AuthorizeSecurityGroupIngress")
        .count();
    let floor = (accepted.len() as f64 - 20.0).max(0.0) / 5.0;
    eprintln!(
        "210 resources under a 20/5 EC2 bucket: {} writes ({groups} groups, {authorizes} authorizes), {throttled} throttled, {took:.2} s against a floor of {floor:.2} s",
        accepted.len()
    );
    assert_eq!(groups, 30);
    // One call per group, or two when a rule also waits for its source group.
    assert!(
        authorizes <= 60,
        "{authorizes} AuthorizeSecurityGroupIngress"
    );
    assert!(accepted.len() <= 70, "{} EC2 writes", accepted.len());
    // Each rule still has its own progress line.
    let created = r
        .all()
        .lines()
        .filter(|l| l.contains(".ingress.") && l.contains("created"))
        .count();
    assert_eq!(created, 180, "{}", r.all());
    // Close to the floor, with slack for a loaded test machine (the goal, 1.25 x floor + 3 s,
    // is measured by scripts/bench-throttle.sh).
    assert!(
        took <= 2.0 * floor + 15.0,
        "took {took:.2} s, floor {floor:.2} s"
    );
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn a_failed_batch_fails_each_of_its_rules_and_a_lost_answer_is_not_a_failure() {
    // Every authorize refused: one call (and its retries) for the group's three rules, each
    // reported failed with the error.
    let env = Env::with_fidelity(serde_json::json!({
        "error_rate": 1.0,
        "error_match": "^ec2\\.AuthorizeSecurityGroupIngress$",
    }));
    env.write_stack(&stack(1, 3));
    let r = env.run(&["apply", "--auto-approve"]);
    assert_ne!(r.code, 0, "{}", r.all());
    for rule in ["r0", "r1", "r2"] {
        let line = format!(
            "security_groups.g00.ingress.{rule}: failed: AuthorizeSecurityGroupIngress failed: InternalError"
        );
        assert!(r.all().contains(&line), "missing {line:?} in\n{}", r.all());
    }
    assert!(
        r.all().contains("(one call for 3 rules of this group)"),
        "{}",
        r.all()
    );
    let sent = env
        .log()
        .iter()
        .filter(|l| l["operation"] == "AuthorizeSecurityGroupIngress")
        .count();
    assert_eq!(sent, 5, "one call, with the SDK's five attempts");
    // The answer to the batch is lost after AWS made the rules: the SDK sends it again, AWS
    // refuses it as a duplicate, and each rule is sent alone, where a duplicate means done.
    env.configure(serde_json::json!({
        "error_rate": 0.0,
        "lose_rate": 1.0,
        "lose_max": 1,
        "lose_match": "^ec2\\.AuthorizeSecurityGroupIngress$",
    }));
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    let authorizes = env
        .writes()
        .into_iter()
        .filter(|w| w == "ec2.AuthorizeSecurityGroupIngress")
        .count();
    assert_eq!(authorizes, 5, "lost, duplicate, then one per rule");
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

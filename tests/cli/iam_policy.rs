//! The operator policy in `docs/iam-policy.json` (which the README points to) stays in step with the
//! calls the adapters make, and stays scoped: no identity holding it can become an administrator.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn policy() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/iam-policy.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap())
        .expect("docs/iam-policy.json is JSON")
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// `describe_db_instances` -> `DescribeDBInstances`, as IAM spells actions.
fn action_name(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| match w {
            "db" => "DB".to_string(),
            _ => {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        })
        .collect()
}

/// Every `<client>.<operation>()` call in src/, as an IAM action.
fn actions_called() -> BTreeSet<String> {
    let prefix = |client: &str| match client {
        "ec2" => Some("ec2"),
        "rds" => Some("rds"),
        "lambda" | "lambda_upload" => Some("lambda"),
        "iam" => Some("iam"),
        "cognito" => Some("cognito-idp"),
        "tagging" => Some("tag"),
        "ssm" => Some("ssm"),
        _ => None,
    };
    let mut out = BTreeSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            // Whitespace around dots dropped, so a call split over lines reads `iam.op()`.
            let text = std::fs::read_to_string(&p)
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace(" .", ".")
                .replace(". ", ".");
            for client in [
                "ec2",
                "rds",
                "lambda",
                "lambda_upload",
                "iam",
                "cognito",
                "tagging",
                "ssm",
            ] {
                let needle = format!("{client}.");
                let mut rest = text.as_str();
                while let Some(i) = rest.find(&needle) {
                    // `lambda.op()` or `clients.lambda.op()`, not `xlambda.op()`.
                    let word_start = rest[..i]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
                    rest = &rest[i + needle.len()..];
                    if !word_start {
                        continue;
                    }
                    let op: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if !op.is_empty() && rest[op.len()..].starts_with("()") {
                        out.insert(format!("{}:{}", prefix(client).unwrap(), action_name(&op)));
                    }
                }
            }
        }
    }
    out
}

/// Actions AWS checks that are not a call of their own, each with why.
const IMPLIED: &[(&str, &str)] = &[
    (
        "iam:PassRole",
        "CreateFunction/UpdateFunctionConfiguration hand the role to Lambda",
    ),
    ("iam:TagRole", "CreateRole with Tags"),
    ("iam:UntagRole", "removing a tag that left the file"),
    ("iam:ListRoleTags", "reading a role's ownership tag"),
    ("lambda:UntagResource", "removing a tag that left the file"),
    (
        "rds:CreateDBSnapshot",
        "DeleteDBInstance with a final snapshot",
    ),
];

fn allowed_actions(p: &Value) -> BTreeSet<String> {
    p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| list(&s["Action"]))
        .collect()
}

#[test]
fn every_call_the_adapters_make_is_allowed_and_every_allowed_action_is_used() {
    let called = actions_called();
    assert!(
        called.len() > 30,
        "the scan found too few calls: {called:?}"
    );
    let allowed = allowed_actions(&policy());
    let missing: Vec<_> = called.difference(&allowed).collect();
    assert!(
        missing.is_empty(),
        "called but not in docs/iam-policy.json: {missing:?}"
    );
    let implied: BTreeSet<String> = IMPLIED.iter().map(|(a, _)| a.to_string()).collect();
    let unused: Vec<_> = allowed
        .iter()
        .filter(|a| !called.contains(*a) && !implied.contains(*a))
        .collect();
    assert!(
        unused.is_empty(),
        "allowed but never called (remove, or list in IMPLIED with why): {unused:?}"
    );
}

fn is_read(action: &str) -> bool {
    let name = action.split(':').nth(1).unwrap_or("");
    ["Describe", "List", "Get"]
        .iter()
        .any(|p| name.starts_with(p))
}

#[test]
fn the_policy_is_scoped() {
    let p = policy();
    for s in p["Statement"].as_array().unwrap() {
        let sid = s["Sid"].as_str().unwrap_or("?");
        let actions = list(&s["Action"]);
        let resources = list(&s["Resource"]);
        assert!(
            actions.iter().all(|a| !a.contains('*')),
            "{sid}: wildcard action"
        );
        // A write on every resource with no condition is what lets a policy holder take over an
        // account; reads may be broad (discovery needs them).
        if resources.iter().any(|r| r == "*") && s["Condition"].is_null() {
            let writes: Vec<_> = actions.iter().filter(|a| !is_read(a)).collect();
            assert!(
                writes.is_empty(),
                "{sid}: unconditioned writes on *: {writes:?}"
            );
        }
        for a in actions
            .iter()
            .filter(|a| a.starts_with("iam:") && !is_read(a))
        {
            assert!(
                resources
                    .iter()
                    .all(|r| r.starts_with("arn:aws:iam::*:role/deploy/")),
                "{sid}: {a} must be limited to roles under /deploy/, got {resources:?}"
            );
            if a == "iam:PassRole" {
                assert_eq!(
                    s["Condition"]["StringEquals"]["iam:PassedToService"], "lambda.amazonaws.com",
                    "{sid}: PassRole only to Lambda"
                );
            }
            if a == "iam:AttachRolePolicy" {
                let arns = list(&s["Condition"]["ArnEquals"]["iam:PolicyARN"]);
                assert!(
                    !arns.is_empty(),
                    "{sid}: AttachRolePolicy needs an iam:PolicyARN condition"
                );
                assert!(
                    arns.iter()
                        .all(|a| a.starts_with("arn:aws:iam::aws:policy/service-role/AWSLambda")),
                    "{sid}: {arns:?}"
                );
            }
        }
    }
}

#[test]
fn the_readme_points_to_the_policy() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("docs/iam-policy.json"));
}

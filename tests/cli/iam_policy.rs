//! The operator policy: `deploy policy` prints the least-privilege policy of the stack in the file,
//! `docs/iam-policy.json` (which the README points to) is its output for the repo's stack.yaml,
//! every call the adapters make is allowed by the policy of a stack that uses every kind, no
//! identity holding it can become an administrator or tag a resource it does not own into the
//! stack, and `--adopt PLANFILE` grants tagging only on the exact resources an adopt plan names.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::common::Env;

/// Runs `deploy ARGS` offline in `dir` (no AWS variable set), returning (code, stdout, stderr).
fn deploy_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deploy"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `deploy policy ARGS` for the stack text `yaml`, parsed.
fn policy_of(yaml: &str, args: &[&str]) -> Value {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("stack.yaml"), yaml).unwrap();
    for f in ["fn", "lib"] {
        std::fs::create_dir_all(d.path().join(f)).unwrap();
        std::fs::write(
            d.path().join(f).join("app.py"),
            "def h(e, c):\n    return e\n",
        )
        .unwrap();
    }
    let mut all = vec!["policy"];
    all.extend_from_slice(args);
    let (code, out, err) = deploy_in(d.path(), &all, &[]);
    assert_eq!(code, 0, "deploy {all:?}: {out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A stack that uses every kind and every option that needs a permission of its own: groups,
/// instances (one with manage_master_password, one with a final snapshot), functions with an auto
/// role, a folder layer, a VPC, a role and a trigger function by ARN, a pool of its own and a
/// pool it does not own.
const MAXIMAL: &str = include_str!("../fixtures/every-kind.yaml");

fn maximal() -> Value {
    policy_of(MAXIMAL, &["--account", "123456789012"])
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn docs_policy() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("docs/iam-policy.json")).unwrap())
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
        "logs" => Some("logs"),
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
                "logs",
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
                        let action = format!("{}:{}", prefix(client).unwrap(), action_name(&op));
                        // The one call whose IAM action is not its operation's name.
                        let action = match action.as_str() {
                            "lambda:Invoke" => "lambda:InvokeFunction".to_string(),
                            _ => action,
                        };
                        out.insert(action);
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
    (
        "secretsmanager:CreateSecret",
        "CreateDBInstance/ModifyDBInstance with ManageMasterUserPassword: RDS creates the secret",
    ),
    (
        "secretsmanager:TagResource",
        "CreateDBInstance/ModifyDBInstance with ManageMasterUserPassword: RDS tags the secret",
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
    let allowed = allowed_actions(&maximal());
    let missing: Vec<_> = called.difference(&allowed).collect();
    assert!(
        missing.is_empty(),
        "called but not in `deploy policy` of a stack using every kind: {missing:?}"
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
    for p in [maximal(), docs_policy()] {
        scoped(&p);
    }
}

fn scoped(p: &Value) {
    // The roles the file names by ARN may be passed to its functions, nothing else of IAM.
    let given = ["arn:aws:iam::123456789012:role/given-role"];
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
                resources.iter().all(|r| (r.starts_with("arn:aws:iam::")
                    && r.split_once(":role/deploy/")
                        .is_some_and(|(_, n)| !n.contains('*')))
                    || (a == "iam:PassRole" && given.contains(&r.as_str()))),
                "{sid}: {a} must be limited to the stack's roles under /deploy/, got {resources:?}"
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

#[test]
fn docs_iam_policy_json_is_deploy_policy_of_the_repos_stack_yaml() {
    // As anyone regenerates it: `deploy policy > docs/iam-policy.json`, with no variable set (the
    // pool is then the file's default name).
    let (code, out, err) = deploy_in(repo(), &["policy"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let docs = std::fs::read_to_string(repo().join("docs/iam-policy.json")).unwrap();
    assert!(
        out == docs,
        "docs/iam-policy.json differs from `deploy policy` for stack.yaml: regenerate it with `deploy policy > docs/iam-policy.json`\n{out}"
    );
    // The pool is named by name in stack.yaml, so its ARN cannot be: said on stderr.
    assert!(
        err.contains("cruddur-user-pool") && err.contains("its id"),
        "{err}"
    );
    let p = docs_policy();
    let text = p.to_string();
    for name in [
        "db:cruddur-db-instance",
        "function:cruddur-post-confirmation",
        "role/deploy/cruddur/cruddur-post-confirmation-role",
        "layer:cruddur-psycopg2",
        "parameter/deploy/lock/cruddur/us-east-1",
        "\"aws:ResourceTag/deploy:stack\":\"cruddur\"",
    ] {
        assert!(text.contains(name), "{name} not in {text}");
    }
    // stack.yaml uses a password from the environment: no Secrets Manager, no KMS.
    assert!(
        !text.contains("secretsmanager:") && !text.contains("kms:"),
        "{text}"
    );
}

#[test]
fn manage_master_password_brings_secrets_manager_and_only_then() {
    let db = |password: &str| {
        format!(
            "stack: sm\nregion: us-east-1\ndb_instances:\n  db1:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    {password}\n    final_snapshot: false\n"
        )
    };
    let managed = policy_of(
        &db("manage_master_password: true"),
        &["--account", "111122223333"],
    );
    let sm: Vec<&Value> = managed["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            list(&s["Action"])
                .iter()
                .any(|a| a.starts_with("secretsmanager:"))
        })
        .collect();
    assert_eq!(sm.len(), 1, "{managed}");
    assert_eq!(
        list(&sm[0]["Action"]),
        vec!["secretsmanager:CreateSecret", "secretsmanager:TagResource"]
    );
    assert_eq!(
        list(&sm[0]["Resource"]),
        vec!["arn:aws:secretsmanager:us-east-1:111122223333:secret:rds!db-*"]
    );
    assert!(
        list_all(&managed).contains(&"arn:aws:rds:us-east-1:111122223333:db:db1".to_string()),
        "{managed}"
    );
    // The same stack with the password from the environment: none, and no KMS either way (the
    // file cannot name a customer key for the secret).
    let plain = policy_of(&db("master_password: ${secret:DB_PASSWORD}"), &[]);
    for p in [&managed, &plain] {
        assert!(
            !allowed_actions(p).iter().any(|a| a.starts_with("kms:")),
            "{p}"
        );
    }
    assert!(
        !allowed_actions(&plain)
            .iter()
            .any(|a| a.starts_with("secretsmanager:")),
        "{plain}"
    );
    // Only the kinds the file uses: no function, group or pool writes.
    for a in [
        "lambda:CreateFunction",
        "ec2:CreateSecurityGroup",
        "cognito-idp:UpdateUserPool",
        "iam:CreateRole",
    ] {
        assert!(!allowed_actions(&plain).contains(a), "{a}: {plain}");
    }
    // `*` for the account unless given; the region from the file.
    assert!(
        list_all(&plain).contains(&"arn:aws:rds:us-east-1:*:db:db1".to_string()),
        "{plain}"
    );
}

fn list_all(p: &Value) -> Vec<String> {
    p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| list(&s["Resource"]))
        .collect()
}

/// Actions that put a tag on a resource of a kind whose tag deploy reads as ownership.
const OWNERSHIP_TAGGING: &[&str] = &[
    "ec2:CreateTags",
    "rds:AddTagsToResource",
    "lambda:TagResource",
    "iam:TagRole",
    "cognito-idp:TagResource",
    // UpdateUserPool carries the pool's tags (UserPoolTags).
    "cognito-idp:UpdateUserPool",
];

/// The part of an ARN after its resource type (`db:NAME`, `function:NAME`, `role/PATH/NAME`,
/// `security-group/ID`, `userpool/ID`), or None for a resource type deploy reads no ownership of.
fn resource_name(arn: &str) -> Option<&str> {
    for t in [
        ":db:",
        ":function:",
        ":role/",
        ":security-group/",
        ":security-group-rule/",
        ":userpool/",
    ] {
        if let Some(i) = arn.find(t) {
            return Some(&arn[i + t.len()..]);
        }
    }
    None
}

/// Whether a statement lets its holder put this stack's tag on an existing resource of another
/// owner: unless the tagging happens only at creation (EC2's `ec2:CreateAction`), only on what
/// carries this stack's tag already, never with this stack's tag in the request, or only on
/// resources named one by one (the file's names), it does.
fn tags_into_ownership(s: &Value, stack: &str) -> Vec<String> {
    let c = &s["Condition"];
    if !c["StringEquals"]["ec2:CreateAction"].is_null()
        || c["StringEquals"]["aws:ResourceTag/deploy:stack"] == stack
        || c["StringNotEquals"]["aws:RequestTag/deploy:stack"] == stack
    {
        return Vec::new();
    }
    let actions = list(&s["Action"]);
    if !actions
        .iter()
        .any(|a| OWNERSHIP_TAGGING.contains(&a.as_str()))
    {
        return Vec::new();
    }
    list(&s["Resource"])
        .into_iter()
        .filter(|r| r == "*" || resource_name(r).is_some_and(|n| n.contains('*')))
        .collect()
}

#[test]
fn no_statement_lets_an_existing_resource_be_tagged_into_ownership() {
    for (p, stack) in [(maximal(), "max"), (docs_policy(), "cruddur")] {
        let mut tagging = 0;
        for s in p["Statement"].as_array().unwrap() {
            if list(&s["Action"])
                .iter()
                .any(|a| OWNERSHIP_TAGGING.contains(&a.as_str()))
            {
                tagging += 1;
            }
            let open = tags_into_ownership(s, stack);
            assert!(
                open.is_empty(),
                "{}: tags {open:?} into ownership",
                s["Sid"]
            );
        }
        assert!(
            tagging >= 3,
            "the check saw too few tagging statements in {p}"
        );
    }
    // The check itself: the old policy's tag-then-own statements fail it.
    let old = serde_json::json!({
        "Sid": "ChangeOnlyDeployOwnedFunctions",
        "Action": ["lambda:TagResource", "lambda:UpdateFunctionCode"],
        "Resource": "arn:aws:lambda:*:*:function:*",
        "Condition": { "Null": { "aws:ResourceTag/deploy:stack": "false" } }
    });
    assert!(!tags_into_ownership(&old, "max").is_empty());
    let old_ec2 = serde_json::json!({
        "Sid": "CreateSecurityGroupsTaggedForDeploy",
        "Action": ["ec2:CreateSecurityGroup", "ec2:CreateTags"],
        "Resource": ["arn:aws:ec2:*:*:security-group/*"],
        "Condition": { "Null": { "aws:RequestTag/deploy:stack": "false" } }
    });
    assert!(!tags_into_ownership(&old_ec2, "max").is_empty());
}

#[test]
fn writes_are_scoped_to_the_files_names_its_tag_and_the_pools_it_names() {
    let p = maximal();
    let statements = p["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no {sid} in {p}"))
    };
    assert_eq!(
        list(&by_sid("ChangeOnlyTheFilesFunctions")["Resource"]),
        vec![
            "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "arn:aws:lambda:eu-west-1:123456789012:function:g"
        ]
    );
    assert_eq!(
        list(&by_sid("ManageOnlyTheFilesAutoRoles")["Resource"]),
        vec!["arn:aws:iam::123456789012:role/deploy/max/f-role"]
    );
    assert_eq!(
        list(&by_sid("ChangeOnlyTheFilesDbInstances")["Resource"]),
        vec![
            "arn:aws:rds:eu-west-1:123456789012:db:managed-db",
            "arn:aws:rds:eu-west-1:123456789012:db:named-db"
        ]
    );
    assert_eq!(
        list(&by_sid("FinalSnapshotsOfTheFilesDbInstances")["Resource"]),
        vec![
            "arn:aws:rds:eu-west-1:123456789012:snapshot:managed-db-final-*",
            "arn:aws:rds:eu-west-1:123456789012:snapshot:named-db-last",
            "arn:aws:rds:eu-west-1:123456789012:db:managed-db",
            "arn:aws:rds:eu-west-1:123456789012:db:named-db"
        ]
    );
    let groups = by_sid("ChangeOnlyThisStacksSecurityGroups");
    assert_eq!(
        groups["Condition"]["StringEquals"]["aws:ResourceTag/deploy:stack"],
        "max"
    );
    let pools = by_sid("ChangeOnlyThisStacksUserPools");
    assert_eq!(
        pools["Condition"]["StringEquals"]["aws:ResourceTag/deploy:stack"],
        "max"
    );
    let foreign = by_sid("SetTriggersOnlyOnTheFilesPoolsNeverTakingThem");
    assert_eq!(
        list(&foreign["Resource"]),
        vec!["arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Foreign1"]
    );
    assert_eq!(
        list(&by_sid("ThisStacksRunLockOnly")["Resource"]),
        vec!["arn:aws:ssm:eu-west-1:123456789012:parameter/deploy/lock/max/eu-west-1"]
    );
    // No write anywhere is conditioned on the mere presence of a deploy:stack tag (whatever its
    // value), which any stack's resource has.
    assert!(!p.to_string().contains("\"Null\""), "{p}");
}

#[test]
fn names_given_through_env_are_resolved_as_plan_resolves_them() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("stack.yaml"),
        "stack: e\nregion: us-east-1\nfunctions:\n  f: { source: fn, runtime: python3.12, handler: app.h }\ncognito_triggers:\n  - { user_pool: '${env:POOL:-by-name}', event: post_confirmation, function: f }\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("fn")).unwrap();
    std::fs::write(d.path().join("fn/app.py"), "def h(e, c):\n    return e\n").unwrap();
    let (code, out, err) = deploy_in(d.path(), &["policy"], &[("POOL", "us-east-1_Zz9")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("\"arn:aws:cognito-idp:us-east-1:*:userpool/us-east-1_Zz9\""),
        "{out}"
    );
    assert!(!out.contains("userpool/*\""), "{out}");
    assert!(err.is_empty(), "{err}");
    // Unset: the default, a name, with the warning.
    let (code, out, err) = deploy_in(d.path(), &["policy", "--region", "eu-west-1"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("`by-name`"), "{err}");
    // The file's region wins over --region.
    assert!(out.contains(":us-east-1:"), "{out}");
}

#[test]
fn policy_help_explains_the_scoping_and_the_adopt_grant() {
    let d = tempfile::tempdir().unwrap();
    let (code, out, _) = deploy_in(d.path(), &["policy", "--help"], &[]);
    assert_eq!(code, 0);
    for w in [
        "least-privilege",
        "deploy:stack=<stack>",
        "--account",
        "--adopt <PLANFILE>",
        "manage_master_password",
        "${env:}",
    ] {
        assert!(out.contains(w), "{w} not in:\n{out}");
    }
    // Flags that reach AWS are of no use to it and hidden.
    assert!(
        !out.contains("--endpoint-url") && !out.contains("--profile"),
        "{out}"
    );
    let (_, top, _) = deploy_in(d.path(), &["--help"], &[]);
    assert!(top.contains("policy"), "{top}");
}

#[test]
fn adopt_grants_tagging_only_on_the_exact_resources_of_an_adopt_plan() {
    let env = Env::new();
    env.write_stack("stack: adoptme\nsecurity_groups:\n  app:\n    description: App\n  other:\n    description: Other\n");
    // A group made by hand under a declared name, without the stack's tag.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let id = rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
        ec2.create_security_group()
            .group_name("app")
            .description("App")
            .send()
            .await
            .unwrap()
            .group_id
            .unwrap()
    });
    // A plan without --adopt is not an adopt plan: refused, naming the way to make one.
    env.ok(&["plan", "--out", "plain.plan"]);
    let r = env.run(&["policy", "--adopt", "plain.plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("plain.plan") && r.stderr.contains("plan --adopt --out"),
        "{}",
        r.stderr
    );
    env.ok(&["plan", "--adopt", "--out", "adopt.plan"]);
    env.calls();
    let r = env.ok(&[
        "policy",
        "--adopt",
        "adopt.plan",
        "--account",
        "123456789012",
    ]);
    // Offline: no AWS call.
    assert!(env.calls().is_empty());
    let p: Value = serde_json::from_str(&r.stdout).unwrap();
    let st = p["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 1, "{p}");
    assert_eq!(list(&st[0]["Action"]), vec!["ec2:CreateTags"]);
    assert_eq!(
        list(&st[0]["Resource"]),
        vec![format!(
            "arn:aws:ec2:us-east-1:123456789012:security-group/{id}"
        )]
    );
    assert_eq!(
        st[0]["Condition"]["StringEquals"]["aws:RequestTag/deploy:stack"],
        "adoptme"
    );
    // The group the stack creates (`other`) is not in it: creating is the everyday policy's.
    assert!(!r.stdout.contains('*'), "{}", r.stdout);
}

#[test]
fn a_bad_stack_file_or_plan_file_is_an_error_naming_it_and_prints_no_policy() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("stack.yaml"),
        "stack: bad\nfunctions:\n  f:\n    sourc: fn\n",
    )
    .unwrap();
    let (code, out, err) = deploy_in(d.path(), &["policy"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("stack.yaml:4:"), "{err}");
    std::fs::write(d.path().join("x.plan"), "{}").unwrap();
    let (code, out, err) = deploy_in(d.path(), &["policy", "--adopt", "x.plan"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty() && err.contains("x.plan"), "{out}{err}");
}

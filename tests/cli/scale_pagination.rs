//! Pagination: the proxy answers list calls two items a page (moto itself pages only
//! ListUserPools, so the proxy pages DescribeSecurityGroups, DescribeSecurityGroupRules and
//! ListFunctions itself), and what the stack has on later pages is still found.

use std::collections::BTreeMap;

use super::common::Env;

const PAGE: usize = 2;

fn stack(groups: usize, rules: usize, cidr_of_last: &str) -> String {
    let mut s = String::from("stack: pages\nsecurity_groups:\n");
    for g in 0..groups {
        s.push_str(&format!(
            "  pg-{g}:\n    description: group {g}\n    ingress:\n"
        ));
        for r in 0..rules {
            let cidr = if g == 0 && r == rules - 1 {
                cidr_of_last.to_string()
            } else {
                format!("10.{g}.{r}.0/24")
            };
            s.push_str(&format!(
                "      - description: R{r}\n        port: {}\n        cidr: {cidr}\n",
                1000 + r
            ));
        }
    }
    s.push_str(
        "functions:
  pf-late:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
user_pools:
  pp-late:
    username_attributes: [email]
",
    );
    s
}

/// Calls by operation; moto's recording names a Lambda REST call by method and URL.
fn counts(calls: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in calls {
        let op = if c.starts_with("lambda.GET ") && c.ends_with("/2015-03-31/functions") {
            "lambda.ListFunctions".to_string()
        } else if let Some(path) = c.strip_prefix("lambda.GET http://") {
            format!("lambda.GET {}", &path[path.find('/').unwrap_or(0)..])
        } else {
            c.clone()
        };
        *out.entry(op).or_insert(0) += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn later_pages_of_groups_rules_functions_and_pools_are_found() {
    let env = Env::with_fidelity(serde_json::json!({}));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    let config = env.sdk_config().await;
    let (ec2, lambda, idp, iam) = (
        aws_sdk_ec2::Client::new(&config),
        aws_sdk_lambda::Client::new(&config),
        aws_sdk_cognitoidentityprovider::Client::new(&config),
        aws_sdk_iam::Client::new(&config),
    );
    // Bystanders made first fill the first pages; the stack's own come after them.
    let role = iam
        .create_role()
        .role_name("bystander")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let arn = role.role().unwrap().arn().to_string();
    let zip = {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("a.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, b"def h(e, c):\n    return 1\n").unwrap();
        z.finish().unwrap();
        buf.into_inner()
    };
    for i in 0..5 {
        lambda
            .create_function()
            .function_name(format!("bystander-{i}"))
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .handler("a.h")
            .role(&arn)
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        idp.create_user_pool()
            .pool_name(format!("bystander-{i}"))
            .send()
            .await
            .unwrap();
    }
    // The last declared group exists untagged (made by hand): adopted from page 3 of its query.
    ec2.create_security_group()
        .group_name("pg-4")
        .description("group 4")
        .send()
        .await
        .unwrap();
    let (groups, rules) = (5, 5);
    env.write_stack(&stack(groups, rules, "10.0.4.0/24"));
    env.configure(serde_json::json!({"page_size": PAGE}));

    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout.contains("= security_groups.pg-4\n"),
        "{}",
        r.stdout
    );
    env.ok(&["apply", "--auto-approve", "--adopt"]);

    // Every page is read: the no-change plan finds the groups, their rules, the function and the
    // pool wherever their pages are.
    env.calls();
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let paged = counts(&env.calls());
    let pages = |items: usize| items.div_ceil(PAGE);
    assert_eq!(paged["lambda.ListFunctions"], pages(6), "{paged:?}");
    assert_eq!(
        paged["CognitoIdentityProvider.ListUserPools"],
        pages(6),
        "{paged:?}"
    );
    // Ours by tag (5 groups), and the declared names (5).
    assert_eq!(
        paged["ec2.DescribeSecurityGroups"],
        2 * pages(groups),
        "{paged:?}"
    );
    assert!(
        !paged.contains_key("ec2.DescribeSecurityGroupRules"),
        "{paged:?}"
    );

    // Beyond the extra pages, the plan makes the calls it makes unpaged: nothing per rule,
    // function or pool is added by paging.
    env.configure(serde_json::json!({"page_size": null}));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let unpaged = counts(&env.calls());
    for (op, n) in &unpaged {
        let want = match op.as_str() {
            "lambda.ListFunctions" | "CognitoIdentityProvider.ListUserPools" => 1,
            "ec2.DescribeSecurityGroups" => 2,
            _ => paged[op],
        };
        assert_eq!(*n, want, "{op}: {unpaged:?} vs {paged:?}");
    }
    assert_eq!(
        unpaged.keys().collect::<Vec<_>>(),
        paged.keys().collect::<Vec<_>>()
    );

    // A rule changed in place: its sgr- id is looked up page by page (the group has five ingress
    // rules and its egress rule, three pages), and the modify keeps it.
    env.configure(serde_json::json!({"page_size": PAGE}));
    env.write_stack(&stack(groups, rules, "192.0.2.0/24"));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
        "{}",
        r.stdout
    );
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    let calls = env.calls();
    let lookups = calls
        .iter()
        .filter(|c| *c == "ec2.DescribeSecurityGroupRules")
        .count();
    assert!(lookups >= 2, "the id was on the first page: {calls:?}");
    assert!(
        calls.iter().any(|c| c == "ec2.ModifySecurityGroupRules"),
        "{calls:?}"
    );
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

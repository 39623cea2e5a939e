//! What reading the account's user pools costs. Ownership is the `deploy:stack` tag, which only
//! DescribeUserPool shows (ListUserPools has no tags, and the Resource Groups Tagging API is not
//! emulated for pools), so a plan describes every pool of the account: this measures that cost
//! with 50 foreign pools, bounded in flight, with Cognito throttling some of the reads.

use super::common::Env;

/// The most requests of `op` that were in flight at once, from the proxy log's start/end times.
fn most_in_flight(log: &[serde_json::Value], op: &str) -> usize {
    let mut edges: Vec<(f64, i32)> = log
        .iter()
        .filter(|r| r["operation"] == op)
        .flat_map(|r| {
            [
                (r["start"].as_f64().unwrap(), 1),
                (r["end"].as_f64().unwrap(), -1),
            ]
        })
        .collect();
    // An end before a start at the same instant: touching requests do not overlap.
    edges.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most as usize
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_in_an_account_with_50_pools_costs_51_reads_bounded_and_retried_when_throttled() {
    let env = Env::with_fidelity(serde_json::json!({}));
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&env.sdk_config().await);
    for i in 0..50 {
        cognito
            .create_user_pool()
            .pool_name(format!("someone-elses-{i:02}"))
            .send()
            .await
            .unwrap();
    }
    env.write_stack("stack: pools\nuser_pools:\n  pr-pool:\n    username_attributes: [email]\n");
    // Cognito refuses some reads with TooManyRequestsException (its request rate quotas are per
    // account and category: Amazon Cognito Developer Guide, "Quotas in Amazon Cognito").
    env.configure(serde_json::json!({
        "throttle_rate": 0.25, "throttle_match": "^cognito-idp\\.DescribeUserPool$",
        "throttle_max": 8, "seed": 3,
    }));
    let before = env.log().len();
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stdout.contains("+ user_pools.pr-pool"), "{}", r.stdout);
    let log = env.log()[before..].to_vec();
    let count = |op: &str, fault: Option<&str>| {
        log.iter()
            .filter(|r| r["service"] == "cognito-idp" && r["operation"] == op)
            .filter(|r| fault.is_none_or(|f| r["fault"] == f))
            .count()
    };
    let throttled = count("DescribeUserPool", Some("throttle"));
    assert_eq!(throttled, 8, "the throttles were not all met");
    // One ListUserPools page (60 a page) and one DescribeUserPool per pool, plus one retry per
    // throttled read; nothing else from Cognito.
    assert_eq!(count("ListUserPools", None), 1);
    assert_eq!(count("DescribeUserPool", None), 50 + throttled);
    let cognito_calls = log.iter().filter(|r| r["service"] == "cognito-idp").count();
    assert_eq!(cognito_calls, 51 + throttled);
    let in_flight = most_in_flight(&log, "DescribeUserPool");
    assert!(
        (1..=8).contains(&in_flight),
        "{in_flight} DescribeUserPool in flight"
    );
    eprintln!(
        "50 foreign pools: {cognito_calls} Cognito calls for one plan ({throttled} throttled and retried), at most {in_flight} in flight"
    );
}

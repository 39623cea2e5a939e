//! A database, or a function with `subnets: default`, whose group is in another VPC than the
//! default one: a plan error naming both VPCs, before anything is written (on moto, which
//! makes VPCs but creates such an instance or function without complaint).

use super::common::Env;

async fn other_vpc(env: &Env) -> (String, String) {
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let default = ec2
        .describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .find(|v| v.is_default() == Some(true))
        .and_then(|v| v.vpc_id().map(str::to_string))
        .unwrap();
    (vpc, default)
}

fn stack(vpc: &str, db: bool, function: bool) -> String {
    let mut s = format!(
        r#"
stack: nets
security_groups:
  other-sg:
    description: In another VPC
    vpc: {vpc}
  home-sg:
    description: In the default VPC
"#
    );
    if db {
        s.push_str(
            r#"db_instances:
  net-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [home-sg, other-sg]
    final_snapshot: false
"#,
        );
    }
    if function {
        s.push_str(
            r#"functions:
  net-fn:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    role: auto
    vpc:
      subnets: default
      security_groups: [other-sg]
"#,
        );
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_with_a_group_in_another_vpc_is_a_plan_error_naming_both() {
    let env = Env::new();
    let (vpc, default) = other_vpc(&env).await;
    env.write_stack(&stack(&vpc, true, false));
    env.calls();
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("stack.yaml:10:3:")
            && r.stderr.contains(&format!(
                "security group other-sg is in {vpc}, not in the default VPC {default}"
            ))
            && r.stderr.contains("different VPCs"),
        "{}",
        r.stderr
    );
    assert!(env.writes().is_empty(), "{:?}", env.writes());
    // With the group in the default VPC the same database plans.
    env.write_stack(&stack(&vpc, true, false).replace(
        "    security_groups: [home-sg, other-sg]",
        "    security_groups: [home-sg]",
    ));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_naming_an_existing_group_of_another_vpc_by_id_is_a_plan_error() {
    let env = Env::new();
    let (vpc, default) = other_vpc(&env).await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let sg = ec2
        .create_security_group()
        .group_name("made-by-hand")
        .description("elsewhere")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    env.write_stack(
        &stack(&vpc, true, false).replace("[home-sg, other-sg]", &format!("[home-sg, {sg}]")),
    );
    env.calls();
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "security group {sg} is in {vpc}, not in the default VPC {default}"
        )),
        "{}",
        r.stderr
    );
    assert!(env.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_on_default_subnets_with_a_group_in_another_vpc_is_a_plan_error() {
    let env = Env::new();
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(event, context):\n    return event\n",
    );
    let (vpc, default) = other_vpc(&env).await;
    env.write_stack(&stack(&vpc, false, true));
    env.calls();
    let r = env.run(&["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("stack.yaml:10:3:")
            && r.stderr.contains(&format!(
                "vpc: security group other-sg is in {vpc}, not in the default VPC {default}"
            ))
            && r.stderr.contains("subnets: default"),
        "{}",
        r.stderr
    );
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

//! Lambda functions, their auto roles and folder layers through the binary.

use super::common::{Env, PASSWORD};

const STACK: &str = r#"
stack: fntest
tags: { project: cruddur }
security_groups:
  cruddur-lambda-sg:
    description: Cruddur Lambda functions
db_instances:
  cruddur-db-instance:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    final_snapshot: false
functions:
  cruddur-post-confirmation:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    memory: 256
    timeout: 10
    layers:
      - { name: cruddur-psycopg2, source: layer, runtimes: [python3.12] }
    vpc:
      subnets: default
      security_groups: [cruddur-lambda-sg]
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.cruddur-db-instance.address}:5432/cruddur
      MODE: ${env:MODE:-prod}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn function_role_layer_vpc_environment_lifecycle() {
    let env = Env::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let code =
        std::fs::read_to_string(repo.join("lambdas/cruddur-post-confirmation/lambda_function.py"))
            .unwrap();
    env.write_file("fn/lambda_function.py", &code);
    env.write_file("layer/python/helper.py", "X = 1\n");
    env.write_stack(STACK);

    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    for a in [
        "+ functions.cruddur-post-confirmation\n",
        "+ functions.cruddur-post-confirmation.role\n",
        "+ functions.cruddur-post-confirmation.layer.cruddur-psycopg2\n",
    ] {
        assert!(r.stdout.contains(a), "missing {a:?}:\n{}", r.stdout);
    }
    r.assert_no_secret();
    assert!(env.writes().is_empty());

    let r = env.ok(&["apply", "--auto-approve"]);
    r.assert_no_secret();
    let cfg = env.sdk_config().await;
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let f = lambda
        .get_function()
        .function_name("cruddur-post-confirmation")
        .send()
        .await
        .unwrap();
    let c = f.configuration().unwrap();
    assert_eq!(c.runtime().map(|r| r.as_str()), Some("python3.12"));
    assert_eq!(c.handler(), Some("lambda_function.lambda_handler"));
    assert_eq!((c.memory_size(), c.timeout()), (Some(256), Some(10)));
    let rds = aws_sdk_rds::Client::new(&cfg);
    let db = rds.describe_db_instances().send().await.unwrap();
    let address = db.db_instances()[0]
        .endpoint()
        .unwrap()
        .address()
        .unwrap()
        .to_string();
    let vars = c.environment().unwrap().variables().unwrap();
    assert_eq!(
        vars["CONNECTION_URL"],
        format!("postgresql://root:{PASSWORD}@{address}:5432/cruddur")
    );
    assert_eq!(vars["MODE"], "prod");
    let layers: Vec<&str> = c.layers().iter().filter_map(|l| l.arn()).collect();
    assert_eq!(layers.len(), 1);
    assert!(layers[0].contains(":layer:cruddur-psycopg2:"), "{layers:?}");
    let vpc = c.vpc_config().unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let sg = ec2
        .describe_security_groups()
        .group_names("cruddur-lambda-sg")
        .send()
        .await
        .unwrap();
    assert_eq!(
        vpc.security_group_ids(),
        [sg.security_groups()[0].group_id().unwrap().to_string()]
    );
    let default_subnets = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("default-for-az")
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut want: Vec<String> = default_subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    let mut got = vpc.subnet_ids().to_vec();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(
        f.tags().unwrap().get("deploy:stack").map(String::as_str),
        Some("fntest")
    );
    // The auto role: assumable by Lambda, with the VPC access policy.
    let iam = aws_sdk_iam::Client::new(&cfg);
    let role_arn = c.role().unwrap();
    assert!(
        role_arn.ends_with("role/deploy/fntest/cruddur-post-confirmation-role"),
        "{role_arn}"
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name("cruddur-post-confirmation-role")
        .send()
        .await
        .unwrap();
    assert!(
        attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_name() == Some("AWSLambdaVPCAccessExecutionRole")),
        "{attached:?}"
    );

    // Unchanged folders never show a diff; a no-op apply writes nothing.
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.calls();
    env.ok(&["apply", "--auto-approve"]);
    assert!(env.writes().is_empty(), "{:?}", env.writes());

    // Changed code is an in-place update of `code` only; changed layer content publishes a new
    // version and the function moves to it.
    env.write_file("fn/extra.py", "Y = 2\n");
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("~ functions.cruddur-post-confirmation\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("code"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
        "{}",
        r.stdout
    );
    let before = c.code_sha256().unwrap().to_string();
    env.ok(&["apply", "--auto-approve"]);
    let after = lambda
        .get_function()
        .function_name("cruddur-post-confirmation")
        .send()
        .await
        .unwrap();
    assert_ne!(
        after.configuration().unwrap().code_sha256(),
        Some(before.as_str())
    );
    env.write_file("layer/python/helper.py", "X = 2\n");
    env.ok(&["apply", "--auto-approve"]);
    let after = lambda
        .get_function()
        .function_name("cruddur-post-confirmation")
        .send()
        .await
        .unwrap();
    let arn = after.configuration().unwrap().layers()[0]
        .arn()
        .unwrap()
        .to_string();
    assert!(arn.ends_with(":2"), "{arn}");
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);

    // An environment change involving the secret is shown masked.
    let out = env
        .command(&["plan", "--detailed-exitcode"])
        .env("DB_PASSWORD", "Different-Pw-77")
        .output()
        .unwrap();
    let r = super::common::Run::from(out);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout
            .contains("environment.CONNECTION_URL = (sensitive) -> (sensitive)"),
        "{}",
        r.stdout
    );
    assert!(!r.all().contains("Different-Pw-77"));

    // Destroy: function, role and layer versions are gone.
    env.ok(&["destroy", "--auto-approve"]);
    assert!(
        lambda
            .get_function()
            .function_name("cruddur-post-confirmation")
            .send()
            .await
            .is_err()
    );
    assert!(
        iam.get_role()
            .role_name("cruddur-post-confirmation-role")
            .send()
            .await
            .is_err()
    );
    let layers = lambda.list_layers().send().await.unwrap();
    assert!(layers.layers().is_empty(), "{layers:?}");
    let r = env.ok(&["destroy", "--auto-approve"]);
    assert!(r.stdout.contains("Nothing to destroy"));
}

#[test]
fn plan_calls_do_not_grow_with_the_number_of_functions() {
    let env = Env::new();
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    let stack = |n: usize| {
        let mut s = String::from("stack: many\nfunctions:\n");
        for i in 0..n {
            s.push_str(&format!(
                "  f{i}:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n"
            ));
        }
        s
    };
    env.write_stack(&stack(1));
    env.ok(&["apply", "--auto-approve"]);
    env.calls();
    env.ok(&["plan"]);
    let one = env.calls().len();
    env.write_stack(&stack(6));
    env.ok(&["apply", "--auto-approve"]);
    env.calls();
    let r = env.ok(&["plan", "--detailed-exitcode"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    // Roles are owned by their tag, which ListRoles does not return: each auto role is read by
    // name (GetRole, which returns tags, and ListAttachedRolePolicies) beside the listing, and
    // nothing else grows. No ListRoleTags: every role on the path is declared.
    let calls = env.calls();
    assert!(!calls.iter().any(|c| c == "iam.ListRoleTags"), "{calls:?}");
    let per_role = |c: &str| c == "iam.GetRole" || c == "iam.ListAttachedRolePolicies";
    assert_eq!(
        calls.iter().filter(|c| per_role(c)).count(),
        12,
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|c| !per_role(c)).count(),
        one - 2,
        "plan calls grew with the number of functions: {calls:?}"
    );
}

/// An `auto` role's name is known from the file: it is read by name (GetRole returns its tags)
/// beside the listing, so a stack of functions with their own roles is read in one round. A role
/// the file no longer declares is found by the listing and read in a second round, to delete it.
#[test]
fn auto_roles_are_read_in_the_first_round() {
    // Rounds are told apart by time: a latency well above a loaded machine's scheduling delays.
    let env = Env::with_fidelity(serde_json::json!({"latency_ms": 250}));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    let stack = |n: usize| {
        let mut s = String::from("stack: roles\nfunctions:\n");
        for i in 0..n {
            s.push_str(&format!(
                "  f{i}:\n    source: fn\n    runtime: python3.12\n    handler: lambda_function.lambda_handler\n"
            ));
        }
        s
    };
    env.write_stack(&stack(3));
    env.ok(&["apply", "--auto-approve"]);
    env.calls();
    let from = env.log().len();
    let r = env.ok(&["plan", "--detailed-exitcode"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let calls = env.calls();
    let timeline: Vec<String> = env.log()[from..]
        .iter()
        .map(|v| format!("{} {} {}", v["start"], v["end"], v["operation"]))
        .collect();
    assert_eq!(env.rounds_since(from), 1, "{timeline:#?}");
    assert_eq!(
        calls.iter().filter(|c| *c == "iam.GetRole").count(),
        3,
        "{calls:?}"
    );

    env.write_stack(&stack(2));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stdout.contains("- functions.f2.role"), "{}", r.stdout);
    assert!(
        env.calls().iter().any(|c| c == "iam.ListRoleTags"),
        "the undeclared role's tags decide that it is ours"
    );
    env.ok(&["apply", "--auto-approve"]);
    let r = env.ok(&["plan", "--detailed-exitcode"]);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
}

/// A link to the deployer's own environment must never reach Lambda: the plan stops, naming the
/// link, and writes nothing; a layer is held to the same rule. A file named like a secret is
/// shown in the plan before it is uploaded.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_link_leading_out_of_a_folder_stops_the_plan() {
    let env = Env::new();
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return 1\n",
    );
    env.write_file("layer/python/helper.py", "X = 1\n");
    env.write_stack(STACK);
    std::os::unix::fs::symlink("/proc/self/environ", env.path("fn/environ")).unwrap();
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("fn/environ is a symbolic link to /proc/"),
        "{}",
        r.all()
    );
    assert!(env.writes().is_empty());

    std::fs::remove_file(env.path("fn/environ")).unwrap();
    std::os::unix::fs::symlink("/etc", env.path("layer/python/etc")).unwrap();
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("layer/python/etc is a symbolic link to /etc"),
        "{}",
        r.all()
    );

    std::fs::remove_file(env.path("layer/python/etc")).unwrap();
    env.write_file("fn/.env", "DB_PASSWORD=x\n");
    let r = env.ok(&["plan"]);
    assert!(
        r.stdout.contains("uploads files named like secrets: .env"),
        "{}",
        r.all()
    );
}

fn pinned_layer_stack(layer: &str, memory: u32) -> String {
    format!(
        "stack: laypin\nfunctions:\n  fn1:\n    source: fn\n    runtime: python3.12\n    handler: app.h\n    memory: {memory}\n    layers: [{layer}]\n"
    )
}

async fn layer_versions(lambda: &aws_sdk_lambda::Client, name: &str) -> Vec<i64> {
    let mut v: Vec<i64> = lambda
        .list_layer_versions()
        .layer_name(name)
        .send()
        .await
        .map(|o| o.layer_versions().iter().map(|v| v.version()).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// A layer version the stack published and stack.yaml then names by ARN (the folder layer
/// replaced by the ARN of what it published) is never deleted, nor said to be; older versions
/// nothing names go; destroy takes it with the function.
#[tokio::test(flavor = "multi_thread")]
async fn a_published_layer_version_named_by_arn_is_kept() {
    let env = Env::new();
    env.write_file("fn/app.py", "def h(e, c):\n    return e\n");
    env.write_file("layer/python/helper.py", "X = 1\n");
    let folder = "{ name: lay1, source: layer, runtimes: [python3.12] }";
    env.write_stack(&pinned_layer_stack(folder, 128));
    env.ok(&["apply", "--auto-approve"]);
    let arn = |v: i64| format!("arn:aws:lambda:us-east-1:123456789012:layer:lay1:{v}");
    // The folder replaced by the ARN of the one version it published: nothing to do.
    env.write_stack(&pinned_layer_stack(&arn(1), 128));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.write_stack(&pinned_layer_stack(folder, 128));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    // New content: version 2, and the plan says version 1 stays (it does).
    env.write_file("layer/python/helper.py", "X = 2\n");
    let r = env.run(&["plan"]);
    assert!(
        r.stdout.contains("version 1 and older stay"),
        "{}",
        r.stdout
    );
    env.ok(&["apply", "--auto-approve"]);
    let lambda = aws_sdk_lambda::Client::new(&env.sdk_config().await);
    assert_eq!(layer_versions(&lambda, "lay1").await, [1, 2]);

    // The folder replaced by the ARN of version 2: version 1 goes, version 2 stays.
    env.write_stack(&pinned_layer_stack(&arn(2), 128));
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(!r.stdout.contains("every version"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("deletes version 1 of the layer that this stack published, and keeps version 2, which stack.yaml names by ARN"),
        "{}",
        r.stdout
    );
    env.ok(&["apply", "--auto-approve"]);
    assert_eq!(layer_versions(&lambda, "lay1").await, [2]);
    let r = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());

    // The function keeps working with it: a later change applies.
    env.write_stack(&pinned_layer_stack(&arn(2), 256));
    env.ok(&["apply", "--auto-approve"]);
    let c = lambda
        .get_function()
        .function_name("fn1")
        .send()
        .await
        .unwrap();
    let c = c.configuration().unwrap();
    assert_eq!(c.memory_size(), Some(256));
    assert_eq!(c.layers()[0].arn(), Some(arn(2).as_str()));
    assert_eq!(env.run(&["plan", "--detailed-exitcode"]).code, 0);

    // Destroy: the function goes, and with it what kept the version.
    env.ok(&["destroy", "--auto-approve"]);
    assert!(layer_versions(&lambda, "lay1").await.is_empty());
}

/// A layer ARN or role ARN that does not exist, and an `auto` role whose name is taken outside
/// the stack's path, are plan errors naming the function and the field: apply stops before any
/// write (before, the security groups were created and then CreateFunction failed).
#[tokio::test(flavor = "multi_thread")]
async fn missing_layers_and_roles_and_taken_role_names_stop_the_plan() {
    let env = Env::new();
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return 1\n",
    );
    let layer = "arn:aws:lambda:us-east-1:123456789012:layer:nope:1";
    let role = "arn:aws:iam::123456789012:role/nope";
    env.write_stack(&format!(
        r#"
stack: refs
security_groups:
  refs-sg:
    description: created only when the plan is sound
functions:
  with-layer:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    layers: [{layer}]
  with-role:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    role: {role}
  own-fn:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
"#
    ));
    let cfg = env.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    // Made by hand, untagged, at the default path: `role: auto` cannot create its namesake.
    iam.create_role()
        .role_name("own-fn-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    env.calls();
    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{}", r.all());
        for want in [
            format!("functions.with-layer: layers[0]: the layer version {layer} does not exist"),
            format!("functions.with-role: role: {role} does not exist in this account"),
            "functions.own-fn.role: role: auto would create the role `own-fn-role`, but a role of that name already exists outside /deploy/refs/".to_string(),
        ] {
            assert!(r.stderr.contains(&want), "missing {want:?}:\n{}", r.all());
        }
        assert!(env.writes().is_empty(), "{args:?} wrote");
    }

    // Once they exist (and the hand-made role is named by ARN), the plan goes through.
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let mut zip = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
        w.start_file("python/m.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"x = 1").unwrap();
        w.finish().unwrap();
    }
    let published = lambda
        .publish_layer_version()
        .layer_name("nope")
        .content(
            aws_sdk_lambda::types::LayerVersionContentInput::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(published.layer_version_arn(), Some(layer));
    iam.create_role()
        .role_name("nope")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    std::fs::write(
        env.path("stack.yaml"),
        std::fs::read_to_string(env.path("stack.yaml"))
            .unwrap()
            .replace(
                "  own-fn:\n    source: fn\n",
                "  own-fn:\n    role: arn:aws:iam::123456789012:role/own-fn-role\n    source: fn\n",
            ),
    )
    .unwrap();
    let r = env.ok(&["plan"]);
    assert!(r.stdout.contains("+ functions.own-fn\n"), "{}", r.stdout);
    assert!(!r.all().contains("is built for"), "{}", r.all());

    // A layer version built for another runtime deploys but breaks at the first import: the
    // plan warns, naming both runtimes.
    let old = lambda
        .publish_layer_version()
        .layer_name("nope")
        .compatible_runtimes(aws_sdk_lambda::types::Runtime::Python38)
        .content(
            aws_sdk_lambda::types::LayerVersionContentInput::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let old = old.layer_version_arn().unwrap().to_string();
    std::fs::write(
        env.path("stack.yaml"),
        std::fs::read_to_string(env.path("stack.yaml"))
            .unwrap()
            .replace(layer, &old),
    )
    .unwrap();
    let r = env.ok(&["plan"]);
    assert!(
        r.all().contains(&format!(
            "functions.with-layer: layers[0]: {old} is built for python3.8, not python3.12"
        )),
        "{}",
        r.all()
    );
}

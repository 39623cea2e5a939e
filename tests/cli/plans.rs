//! What a plan shows and what a saved plan binds, through the binary against the emulator: saved
//! plans applied as shown (with the `${env:}` values they were made with) and refused when stale
//! or edited, the JSON plan, --target, plan warnings, and protection against replacement.

use super::common::SG_STACK;
use super::common::{Env, PASSWORD, Run};

const STACK: &str = r#"
stack: plans
security_groups:
  app:
    description: App
  db:
    description: Database
    ingress:
      - description: APP
        port: 5432
        source_group: app
functions:
  f:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    memory: 256
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD}@db.example:5432/app
outputs:
  APP_SG: ${security_groups.app.id}
  ADMIN_URL: postgresql://root:${secret:DB_PASSWORD}@db.example:5432/admin
"#;

fn setup() -> Env {
    let env = Env::new();
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env.write_stack(STACK);
    env
}

fn read(env: &Env, rel: &str) -> String {
    std::fs::read_to_string(env.path(rel)).unwrap()
}

#[test]
fn a_saved_plan_is_applied_as_shown_and_holds_no_secret() {
    let env = setup();
    let planned = env.ok(&["plan", "--out", "deploy.plan"]);
    planned.assert_no_secret();
    let file = read(&env, "deploy.plan");
    assert!(!file.contains(PASSWORD), "the plan file holds the password");
    assert!(file.contains("\"format_version\": 2"), "{file}");

    // The JSON plan: typed values, masked secrets, outputs.
    let json = env.ok(&["plan", "--json"]);
    json.assert_no_secret();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["stack"], "plans");
    assert_eq!(doc["region"], "us-east-1");
    let f = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "functions.f")
        .unwrap();
    assert_eq!(f["action"], "create");
    let field = |p: &str| {
        f["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["path"] == p)
            .unwrap_or_else(|| panic!("no field {p}: {f}"))
            .clone()
    };
    assert_eq!(field("memory")["after"], 256);
    assert_eq!(
        field("environment.CONNECTION_URL")["after"],
        serde_json::json!({"sensitive": true})
    );
    // APP_SG names a group being created; ADMIN_URL names nothing, so it does not change.
    assert_eq!(
        doc["outputs"],
        serde_json::json!([{"name": "APP_SG", "before": null, "after": {"unknown": true}}])
    );

    // show renders the saved plan as plan did, offline.
    let shown = env.ok(&["show", "deploy.plan"]);
    assert_eq!(shown.stdout, planned.stdout);
    let shown_json = env.ok(&["show", "--json", "deploy.plan"]);
    assert_eq!(shown_json.stdout, json.stdout);

    env.calls();
    let applied = env.ok(&["apply", "--auto-approve", "deploy.plan"]);
    applied.assert_no_secret();
    assert!(
        applied.stdout.contains("Apply complete: 5 changes made."),
        "{}",
        applied.stdout
    );
    let again = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.all());
}

#[test]
fn a_stale_plan_is_refused_before_any_write_naming_what_changed() {
    let env = setup();
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&STACK.replace("memory: 256", "memory: 512"));
    env.ok(&["plan", "--out", "deploy.plan"]);

    // A change in AWS since the plan: a tag added to a group in the console.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
        let groups = ec2.describe_security_groups().send().await.unwrap();
        let app = groups
            .security_groups()
            .iter()
            .find(|g| g.group_name() == Some("app"))
            .unwrap();
        ec2.create_tags()
            .resources(app.group_id().unwrap())
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("owner")
                    .value("console")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    env.calls();
    let r = env.run(&["apply", "--auto-approve", "deploy.plan"]);
    // A refused saved plan exits 4 (spec section 5): CI tells "plan again" from a failure.
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stderr
            .contains("stale: security_groups.app changed in AWS since the plan"),
        "{}",
        r.stderr
    );
    assert_eq!(env.writes(), Vec::<String>::new());

    // A new plan, then an edit of the stack file.
    env.ok(&["plan", "--out", "deploy.plan"]);
    let edited = STACK.replace("memory: 256", "memory: 512");
    env.write_stack(&format!("{edited}# reviewed\n"));
    env.calls();
    let r = env.run(&["apply", "--auto-approve", "deploy.plan"]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stderr
            .contains("stale: stack.yaml changed since the plan"),
        "{}",
        r.stderr
    );
    assert_eq!(env.writes(), Vec::<String>::new());

    // A new plan, then an edit of the function's folder.
    env.write_stack(&edited);
    env.ok(&["plan", "--out", "deploy.plan"]);
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return None\n",
    );
    env.calls();
    let r = env.run(&["apply", "--auto-approve", "deploy.plan"]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stderr.contains("stale: fn changed since the plan"),
        "{}",
        r.stderr
    );
    assert_eq!(env.writes(), Vec::<String>::new());

    // Another stack's plan is refused, and a plan file takes no --target.
    env.write_stack(&edited.replace("stack: plans", "stack: other"));
    let r = env.run(&["apply", "--auto-approve", "deploy.plan"]);
    assert!(
        r.stderr.contains("is a plan of stack `plans`"),
        "{}",
        r.stderr
    );
    let r = env.run(&[
        "apply",
        "--auto-approve",
        "--target",
        "functions.f",
        "deploy.plan",
    ]);
    // A usage error (exit 1, spec section 5), before reading anything.
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
}

#[test]
fn target_limits_plan_apply_and_destroy() {
    // moto matches a revoked group pair on its description too (AWS does not); the proxy's
    // ec2_rules correction lets the revoke by permission reach the rule.
    let env = Env::with_fidelity(serde_json::json!({"ec2_rules": true}));
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    env.write_stack(STACK);
    let r = env.ok(&["plan", "--target", "security_groups.db.ingress.APP"]);
    assert!(
        r.stdout.contains("the rest of the stack was not looked at"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("security_groups.app"), "{}", r.stdout);
    assert!(!r.stdout.contains("functions.f"), "{}", r.stdout);

    let r = env.run(&["plan", "--target", "security_groups.dbb"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("closest: security_groups.db"),
        "{}",
        r.stderr
    );

    env.calls();
    env.ok(&["apply", "--auto-approve", "--target", "security_groups.app"]);
    let writes = env.writes();
    assert!(
        writes.iter().all(|w| w.starts_with("ec2.")),
        "only the group is created: {writes:?}"
    );
    let r = env.run(&[
        "plan",
        "--detailed-exitcode",
        "--target",
        "security_groups.app",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());

    env.ok(&["apply", "--auto-approve"]);
    // Destroying app takes the rule that names it as a source, and leaves the rest.
    let r = env.ok(&[
        "destroy",
        "--auto-approve",
        "--target",
        "security_groups.app",
    ]);
    assert!(
        r.stdout.contains("security_groups.db.ingress.APP"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("functions.f"), "{}", r.stdout);
    let r = env.run(&["plan", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let mut left: Vec<String> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap(),
                c["address"].as_str().unwrap()
            )
        })
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            "create security_groups.app",
            "create security_groups.db.ingress.APP"
        ]
    );
}

#[test]
fn adoption_is_decided_when_planning_and_saved_with_the_plan() {
    let env = Env::new();
    env.write_stack("stack: plans\nsecurity_groups:\n  app:\n    description: App\n");
    // A group made by hand under the declared name, without the stack's tag.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
        ec2.create_security_group()
            .group_name("app")
            .description("App")
            .send()
            .await
            .unwrap();
    });
    env.ok(&["plan", "--out", "deploy.plan"]);
    env.calls();
    let r = env.run(&["apply", "--auto-approve", "deploy.plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("was made without --adopt")
            && r.stderr.contains("deploy plan --adopt --out deploy.plan"),
        "{}",
        r.stderr
    );
    assert_eq!(env.writes(), Vec::<String>::new());
    // --adopt belongs to the plan, not to apply FILE.
    let r = env.run(&["apply", "--auto-approve", "--adopt", "deploy.plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
    env.ok(&["plan", "--adopt", "--out", "deploy.plan"]);
    let r = env.ok(&["apply", "--auto-approve", "deploy.plan"]);
    assert!(
        r.stdout.contains("Apply complete: 1 change made."),
        "{}",
        r.stdout
    );
}

const GROUPS: &str = "stack: plans\nsecurity_groups:\n  app:\n    description: App\n  db:\n    description: Database\n";

fn group_names(env: &Env) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
        let groups = ec2.describe_security_groups().send().await.unwrap();
        let mut names: Vec<String> = groups
            .security_groups()
            .iter()
            .filter_map(|g| g.group_name().map(str::to_string))
            .filter(|n| n != "default")
            .collect();
        names.sort();
        names
    })
}

/// The review's finding: a delete of another group of the stack appended to a plan that showed
/// "0 to delete" deleted it. The file's steps must be exactly the plan's.
#[test]
fn a_step_added_to_a_saved_plan_is_refused_before_any_write() {
    let env = Env::new();
    env.write_stack(GROUPS);
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&format!("{GROUPS}  web:\n    description: Web\n"));
    let planned = env.ok(&["plan", "--out", "deploy.plan"]);
    assert!(planned.stdout.contains("0 to delete"), "{}", planned.stdout);

    let mut v: serde_json::Value = serde_json::from_str(&read(&env, "deploy.plan")).unwrap();
    let mut delete = v["steps"][0].clone();
    assert_eq!(delete["address"], "security_groups.web", "{v}");
    delete["address"] = "security_groups.db".into();
    delete["key"] = serde_json::from_str(&delete["key"].to_string().replace("web", "db")).unwrap();
    delete["after"] = serde_json::json!([]);
    delete["desired"] = false.into();
    delete["change"] = serde_json::json!({
        "address": "security_groups.db", "action": "delete", "fields": [], "notes": []
    });
    v["steps"].as_array_mut().unwrap().push(delete);
    std::fs::write(env.path("deploy.plan"), v.to_string()).unwrap();
    // What a reviewer of the edited file sees is still the plan without the delete.
    let shown = env.ok(&["show", "deploy.plan"]);
    assert_eq!(shown.stdout, planned.stdout);

    env.calls();
    let r = env.run(&["apply", "deploy.plan"]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stderr.contains(
            "differs: the file runs a step planning again does not: delete security_groups.db"
        ) && r.stderr.contains("so nothing was changed")
            && r.stderr.contains("deploy plan --out deploy.plan"),
        "{}",
        r.stderr
    );
    assert_eq!(env.writes(), Vec::<String>::new());
    assert_eq!(group_names(&env), vec!["app", "db"]);
}

/// `plan --out` and `show` print the file's digest; `apply --expect-digest` takes only that
/// file, and a saved plan needs no --auto-approve (the saved plan was the review).
#[test]
fn expect_digest_binds_apply_to_the_reviewed_file_and_needs_no_auto_approve() {
    let env = Env::new();
    env.write_stack(GROUPS);
    let planned = env.ok(&["plan", "--out", "deploy.plan"]);
    let digest = |stderr: &str| {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix("digest: "))
            .unwrap_or_else(|| panic!("no digest line: {stderr}"))
            .to_string()
    };
    let d = digest(&planned.stderr);
    let bytes = std::fs::read(env.path("deploy.plan")).unwrap();
    use sha2::Digest as _;
    let hex: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(d, format!("sha256:{hex}"));
    assert_eq!(digest(&env.ok(&["show", "deploy.plan"]).stderr), d);
    // The JSON documents stay JSON: the digest is on stderr.
    let json = env.ok(&["show", "--json", "deploy.plan"]);
    serde_json::from_str::<serde_json::Value>(&json.stdout).unwrap();
    assert_eq!(digest(&json.stderr), d);
    let json = env.ok(&["plan", "--json", "--out", "other.plan"]);
    serde_json::from_str::<serde_json::Value>(&json.stdout).unwrap();

    // Another digest: refused before AWS is read at all.
    env.calls();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let r = env.run(&["apply", "deploy.plan", "--expect-digest", &wrong]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stderr
            .contains(&format!("has digest {d}, not the expected {wrong}"))
            && r.stderr.contains("so nothing was changed"),
        "{}",
        r.stderr
    );
    assert_eq!(env.calls(), Vec::<String>::new());
    // --expect-digest is about a saved plan only.
    let r = env.run(&["apply", "--auto-approve", "--expect-digest", &d]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(env.calls(), Vec::<String>::new());

    // The reviewed file, without --auto-approve and without a terminal: applied.
    let r = env.run(&["apply", "deploy.plan", "--expect-digest", &d]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("Apply complete: 2 changes made."),
        "{}",
        r.stdout
    );
    assert_eq!(group_names(&env), vec!["app", "db"]);
    // Live apply still needs it without a terminal.
    let r = env.run(&["apply"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("--auto-approve"), "{}", r.stderr);
}

/// `data_loss` in the JSON plan marks a delete or replace of what holds users' data (a user
/// pool's users here), so a CI gate need not guess from action and address.
#[test]
fn the_json_plan_flags_data_loss_per_change() {
    let env = Env::new();
    let stack = "stack: dl\nsecurity_groups:\n  g:\n    description: g\nuser_pools:\n  pool:\n    username_attributes: [email]\n";
    env.write_stack(stack);
    let created: serde_json::Value =
        serde_json::from_str(&env.ok(&["plan", "--json"]).stdout).unwrap();
    assert!(
        created["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["data_loss"] == false),
        "{created}"
    );
    env.ok(&["apply", "--auto-approve"]);
    // The pool is replaced (username_attributes cannot change), the group deleted.
    env.write_stack("stack: dl\nuser_pools:\n  pool:\n    username_attributes: [phone_number]\n");
    let doc: serde_json::Value = serde_json::from_str(&env.ok(&["plan", "--json"]).stdout).unwrap();
    let flag = |address: &str| {
        doc["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == address)
            .map(|c| (c["action"].clone(), c["data_loss"].clone()))
    };
    assert_eq!(
        flag("user_pools.pool"),
        Some((serde_json::json!("replace"), serde_json::json!(true))),
        "{doc}"
    );
    assert_eq!(
        flag("security_groups.g"),
        Some((serde_json::json!("delete"), serde_json::json!(false))),
        "{doc}"
    );
}

/// `plan --destroy` previews a destroy, text and JSON, without secrets, without writing, and
/// cannot be saved.
#[test]
fn plan_destroy_previews_what_destroy_deletes() {
    let env = Env::new();
    let stack = "stack: pd\nsecurity_groups:\n  g:\n    description: g\nuser_pools:\n  pool:\n    username_attributes: [email]\noutputs:\n  X: ${secret:DB_PASSWORD}\n";
    env.write_stack(stack);
    env.ok(&["apply", "--auto-approve"]);
    env.calls();
    let no_secret = |args: &[&str]| {
        let out = env
            .command(args)
            .env_remove("DB_PASSWORD")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = no_secret(&["plan", "--destroy"]);
    assert!(
        text.contains("- security_groups.g") && text.contains("- user_pools.pool"),
        "{text}"
    );
    assert!(text.contains("2 to delete"), "{text}");
    let doc: serde_json::Value =
        serde_json::from_str(&no_secret(&["plan", "--destroy", "--json"])).unwrap();
    assert_eq!(doc["destroy"], true, "{doc}");
    assert_eq!(doc["summary"]["delete"], 2, "{doc}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());
    let r = env.run(&["plan", "--destroy", "--out", "d.plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("cannot be saved"), "{}", r.stderr);
    // Nothing was deleted.
    let r = env.ok(&["plan", "--detailed-exitcode"]);
    assert!(r.stdout.contains("No changes"), "{}", r.all());
}

/// The review's item 4: `plan --partial`, for a pull request's CI job, needs no secret and no
/// database, shows what needs them as `(not read)`, says it is partial and cannot be saved.
#[test]
fn a_partial_plan_needs_no_secret_and_no_database_and_cannot_be_saved() {
    let env = Env::new();
    env.write_file(
        "fn/lambda_function.py",
        "def lambda_handler(e, c):\n    return e\n",
    );
    let base = r#"
stack: partial
db_instances:
  db:
    engine: postgres
    engine_version: "16.4"
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: postgres
    master_password: ${secret:DB_PASSWORD}
    backup_retention_days: 0
    final_snapshot: false
functions:
  f:
    source: fn
    runtime: python3.12
    handler: lambda_function.lambda_handler
    environment:
      URL: postgresql://root:${secret:DB_PASSWORD|url}@db.example:5432/app
      PLAIN: one
"#;
    env.write_stack(base);
    env.ok(&["apply", "--auto-approve"]);
    // Migrations added, and the database's listener is nowhere: a full plan must connect.
    env.write_file("sql/001_init.sql", "CREATE TABLE t (id int);\n");
    env.write_stack(
        &(base.replace(
            "    final_snapshot: false\n",
            "    final_snapshot: false\n    migrations: sql\n",
        ))
        .replace("PLAIN: one", "PLAIN: two"),
    );
    let dead = ["--db-endpoint", "db=127.0.0.1:9"];
    let full = env.run(&[&["plan"][..], &dead[..]].concat());
    assert_ne!(
        full.code,
        0,
        "a full plan reads the database: {}",
        full.all()
    );
    let partial = |args: &[&str]| {
        super::common::Run::from(
            env.command(&[args, &dead[..]].concat())
                .env_remove("DB_PASSWORD")
                .output()
                .unwrap(),
        )
    };
    let r = partial(&["plan", "--partial"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let ends = |path: &str, tail: &str| {
        r.stdout
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{path} ")) && l.ends_with(tail))
    };
    assert!(
        ends("environment.PLAIN", " = \"one\" -> \"two\""),
        "{}",
        r.stdout
    );
    assert!(
        ends("environment.URL", " = (sensitive) -> (not read)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("this plan is partial")
            && r.stdout
                .contains("the migrations and seed of db_instances.db are not read"),
        "{}",
        r.stdout
    );
    let doc: serde_json::Value =
        serde_json::from_str(&partial(&["plan", "--partial", "--json"]).stdout).unwrap();
    assert!(doc.to_string().contains("\"not_read\":true"), "{doc}");
    // A secret that is set is not read either.
    let r = env.ok(&[&["plan", "--partial"][..], &dead[..]].concat());
    assert!(
        r.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("environment.URL ")
                && l.ends_with(" = (sensitive) -> (not read)")),
        "{}",
        r.stdout
    );
    let r = partial(&["plan", "--partial", "--out", "p.plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("plan --partial cannot be saved"),
        "{}",
        r.stderr
    );
    assert!(!env.path("p.plan").exists());
    // Without --partial, the missing secret is still an error.
    let r = partial(&["plan"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("DB_PASSWORD"), "{}", r.stderr);
}

/// `${public_ip}` resolved on a CI runner is the runner's address: the plan warns.
#[test]
fn the_public_ip_on_a_ci_runner_is_warned_about() {
    let env = Env::new();
    env.write_stack(
        "stack: ciip\nsecurity_groups:\n  g:\n    description: g\n    ingress:\n      - description: me\n        port: 5432\n        cidr: ${public_ip}/32\n",
    );
    let r = super::common::Run::from(env.command(&["plan"]).env("CI", "true").output().unwrap());
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr
            .contains("warning: ${public_ip} is resolved on a CI runner"),
        "{}",
        r.stderr
    );
    let r = env.ok(&["plan"]);
    assert!(!r.stderr.contains("CI runner"), "{}", r.stderr);
}

/// The review's item 10, through the binary: a variable holding the secret percent-encoded was
/// recorded, scrubbed to `(sensitive)` in the file, and apply set that as a tag; a YAML escape
/// hid a secret's name from the file's list of secrets.
#[test]
fn a_saved_plan_records_no_secret_in_any_encoding_and_finds_escaped_names() {
    let env = Env::new();
    env.write_stack(
        "stack: enc\ntags: { owner: \"${env:OWNER}\" }\nsecurity_groups:\n  g:\n    description: g\noutputs:\n  ADMIN: ${secret:DB_PASSWORD}\n  URL: postgres://u:${secret:DB_PASSWORD|url}@h/db\n  HIDDEN: \"\\x24{secret:HIDDEN_PW}\"\n",
    );
    let pw = "Ab#12%xy?z:";
    let encoded = "Ab%2312%25xy%3Fz%3A";
    let run = |args: &[&str]| {
        super::common::Run::from(
            env.command(args)
                .env("DB_PASSWORD", pw)
                .env("OWNER", encoded)
                .env("HIDDEN_PW", "Hidden-Pw-4321")
                .output()
                .unwrap(),
        )
    };
    let r = run(&["plan", "--out", "p.plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("p.plan")).unwrap()).unwrap();
    let vars = &file["variables"];
    assert!(vars["env"].get("OWNER").is_none(), "{vars}");
    assert!(!vars.to_string().contains("sensitive"), "{vars}");
    let secrets: Vec<&str> = vars["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(secrets, ["DB_PASSWORD", "HIDDEN_PW"], "{vars}");
    let r = run(&["apply", "p.plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    // The tag holds the value of OWNER, not "(sensitive)": nothing left to change.
    let r = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

fn run_with(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = env.command(args);
    for (k, v) in vars {
        c.env(k, v);
    }
    Run::from(c.output().expect("run deploy"))
}

const ENV_STACK: &str = r#"
stack: envplan
tags: { owner: "${env:OWNER:-nobody}" }
security_groups:
  pf:
    description: pf
    ingress:
      - description: R
        port: ${env:PORT}
        cidr: ${env:CIDR}
outputs:
  OWNER: ${env:OWNER:-nobody}
"#;

/// The trial's bug 1: the plan showed tcp/80 from 10.0.0.0/8, and `apply PLANFILE` in another
/// environment applied tcp/22 from 0.0.0.0/0.
#[tokio::test]
async fn a_saved_plan_applies_the_env_values_it_was_made_with() {
    let env = Env::new();
    env.write_stack(ENV_STACK);
    let at_plan = [("PORT", "80"), ("CIDR", "10.0.0.0/8"), ("OWNER", "alice")];
    let r = run_with(&env, &at_plan, &["plan", "--out", "h.plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("10.0.0.0/8"), "{}", r.stdout);
    let file = std::fs::read_to_string(env.path("h.plan")).unwrap();
    assert!(file.contains("\"PORT\": \"80\""), "{file}");

    let r = run_with(
        &env,
        &[("PORT", "22"), ("CIDR", "0.0.0.0/0")],
        &["apply", "--auto-approve", "h.plan"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr
            .contains("note: CIDR, PORT are set differently now"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("OWNER = \"alice\""), "{}", r.stdout);

    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("pf")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let g = &groups.security_groups()[0];
    let perms = g.ip_permissions();
    assert_eq!(perms.len(), 1, "{perms:?}");
    assert_eq!(perms[0].from_port(), Some(80));
    assert_eq!(perms[0].ip_ranges()[0].cidr_ip(), Some("10.0.0.0/8"));
    assert!(
        g.tags()
            .iter()
            .any(|t| t.key() == Some("owner") && t.value() == Some("alice")),
        "{:?}",
        g.tags()
    );
    // The values the plan showed are live: planning with them again finds nothing to do.
    let r = run_with(&env, &at_plan, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// The review's finding: `variables.env.CIDR` edited in the file after review from
/// 10.1.2.0/24 to 0.0.0.0/0; `show` and apply's own output still said 10.1.2.0/24, and the
/// group was opened to everyone. Apply plans again from the file's inputs and refuses.
#[tokio::test]
async fn a_saved_plan_with_an_edited_variable_is_refused_before_any_write() {
    let env = Env::new();
    env.write_stack(ENV_STACK);
    let at_plan = [("PORT", "5432"), ("CIDR", "10.1.2.0/24")];
    let r = run_with(&env, &at_plan, &["plan", "--out", "h.plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let planned = r.stdout;
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("h.plan")).unwrap()).unwrap();
    assert_eq!(v["variables"]["env"]["CIDR"], "10.1.2.0/24", "{v}");
    v["variables"]["env"]["CIDR"] = "0.0.0.0/0".into();
    std::fs::write(
        env.path("h.plan"),
        serde_json::to_string_pretty(&v).unwrap(),
    )
    .unwrap();
    let shown = env.ok(&["show", "h.plan"]);
    assert_eq!(shown.stdout, planned);

    env.calls();
    let r = env.run(&["apply", "h.plan"]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stderr.contains(
            "differs: security_groups.pf.ingress.R: cidr: the file shows (none) -> \"10.1.2.0/24\", planning again gives (none) -> \"0.0.0.0/0\""
        ) && r.stderr.contains("so nothing was changed"),
        "{}",
        r.stderr
    );
    assert_eq!(env.writes(), Vec::<String>::new());

    // The file as it was made still applies.
    let r = run_with(&env, &at_plan, &["plan", "--out", "h.plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    env.ok(&["apply", "h.plan"]);
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let groups = ec2.describe_security_groups().send().await.unwrap();
    let pf = groups
        .security_groups()
        .iter()
        .find(|g| g.group_name() == Some("pf"))
        .unwrap();
    let cidrs: Vec<_> = pf
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges())
        .filter_map(|r| r.cidr_ip())
        .collect();
    assert_eq!(cidrs, vec!["10.1.2.0/24"]);
}

#[test]
fn the_target_warning_counts_in_english() {
    let env = Env::new();
    env.write_stack(&SG_STACK.replace("region: us-east-1\n", ""));
    let r = env.ok(&["plan", "--target", "security_groups.b.ingress.FROMA"]);
    assert!(
        r.stdout.contains("only 3 addresses (the targets"),
        "{}",
        r.stdout
    );
}

#[test]
fn the_plan_warns_about_open_database_ports_and_unencrypted_storage() {
    let env = Env::new();
    let stack = |cidr: &str, encrypted: &str| {
        format!(
            r#"
stack: warn
security_groups:
  db-sg:
    description: db
    ingress:
      - description: WORLD
        port: 6543
        cidr: {cidr}
      - description: WEB
        port: 443
        cidr: 0.0.0.0/0
db_instances:
  db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${{secret:DB_PASSWORD}}
    port: 6543
    security_groups: [db-sg]
    final_snapshot: false{encrypted}
"#
        )
    };
    env.write_stack(&stack("0.0.0.0/0", ""));
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(
            "Warning: security_groups.db-sg.ingress.WORLD: opens database port 6543 to 0.0.0.0/0"
        ),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("ingress.WEB: opens"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Warning: db_instances.db: storage_encrypted is not set"),
        "{}",
        r.stdout
    );

    env.write_stack(&stack("203.0.113.10/32", "\n    storage_encrypted: true"));
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stdout.contains("Warning:"), "{}", r.stdout);
}

/// The file's own `deletion_protection: true` blocks a replace even while AWS does not have the
/// protection on yet (the same apply would turn it on, after deleting the pool and its users).
#[test]
fn a_pool_the_file_protects_is_never_replaced() {
    let env = Env::new();
    let stack = "stack: prot\nuser_pools:\n  pool:\n    username_attributes: [email]\n";
    env.write_stack(stack);
    env.ok(&["apply", "--auto-approve"]);
    env.write_stack(&stack.replace(
        "[email]\n",
        "[phone_number]\n    deletion_protection: true\n",
    ));
    env.calls();
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(
            r.stderr.contains("stack.yaml:3:") && r.stderr.contains("stack.yaml protects it"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

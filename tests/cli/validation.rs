//! Bad input refused before any AWS call: the corpus of broken stack files
//! (`tests/corpus/`), each through the binary's `validate`, every expected problem reported in one
//! run at its line, nothing else, and no network connection attempted (AWS and the public-IP
//! service point at a listener that counts them); values AWS refuses, badly named migration files,
//! and folders that are missing or lead out of the project.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::common::Env;
use super::common::{SG_ONLY, text};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// `(line, text)` expected, and the variables to set, from a case's header (or `<case>.expect`).
fn expectations(yaml: &Path) -> (Vec<(u64, String)>, BTreeMap<String, String>) {
    let src = std::fs::read_to_string(yaml).unwrap();
    let sidecar = yaml.with_extension("expect");
    let mut expected = Vec::new();
    let mut env = BTreeMap::new();
    let mut parse_expect = |rest: &str| {
        let (line, text) = rest.split_once(": ").expect("`LINE: text`");
        expected.push((line.trim().parse().unwrap(), text.trim().to_string()));
    };
    for l in src.lines() {
        if let Some(rest) = l.strip_prefix("# expect: ") {
            parse_expect(rest);
        } else if let Some(rest) = l.strip_prefix("# env: ") {
            let (k, v) = rest.split_once('=').unwrap();
            env.insert(k.to_string(), v.to_string());
        }
    }
    if let Ok(s) = std::fs::read_to_string(&sidecar) {
        s.lines()
            .filter(|l| !l.is_empty())
            .for_each(&mut parse_expect);
    }
    (expected, env)
}

struct Listener(TcpListener);

impl Listener {
    fn new() -> Listener {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Listener(l)
    }
    fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().unwrap())
    }
    fn connections(&self) -> usize {
        std::iter::from_fn(|| self.0.accept().ok()).count()
    }
}

fn deploy(
    dir: &Path,
    args: &[&str],
    env: &BTreeMap<String, String>,
    net: &Listener,
) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deploy"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_ENDPOINT_URL", net.url())
        .env("DEPLOY_PUBLIC_IP_URL", net.url())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_broken_file_is_reported_whole_at_its_lines_without_aws() {
    let net = Listener::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 12, "the corpus is missing: {cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let (expected, env) = expectations(case);
        assert!(!expected.is_empty(), "{name} expects nothing");
        let (code, stdout, stderr) = deploy(&corpus(), &["-f", name, "validate"], &env, &net);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        let mut report = Vec::new();
        if code != 1 {
            report.push(format!("exit code {code}"));
        }
        for (line, text) in &expected {
            let prefix = format!("error: {name}:{line}:");
            if !errors
                .iter()
                .any(|e| e.starts_with(&prefix) && e.contains(text.as_str()))
            {
                report.push(format!("missing `{prefix}…{text}`"));
            }
        }
        if errors.len() != expected.len() {
            report.push(format!(
                "{} errors for {} expected",
                errors.len(),
                expected.len()
            ));
        }
        for (_, v) in env.iter().filter(|(k, _)| k.contains("PW")) {
            if stderr.contains(v.as_str()) || stdout.contains(v.as_str()) {
                report.push(format!("a password was echoed: {v}"));
            }
        }
        if stderr.contains("panicked") {
            report.push("panicked".into());
        }
        if !report.is_empty() {
            failures.push(format!("{name}: {}\n{stderr}", report.join("; ")));
        }
    }
    assert_eq!(net.connections(), 0, "validate opened a connection");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn messages_name_the_file_given_with_dash_f() {
    let net = Listener::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prod.yml"), "stack: prod\ncolour: red\n").unwrap();
    let (code, _, stderr) = deploy(
        dir.path(),
        &["-f", "prod.yml", "validate"],
        &BTreeMap::new(),
        &net,
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error: prod.yml:2:1: unknown key `colour`"),
        "{stderr}"
    );
    assert!(!stderr.contains("stack.yaml"), "{stderr}");
    let (code, _, stderr) = deploy(
        dir.path(),
        &["-f", "conf/missing.yml", "plan"],
        &BTreeMap::new(),
        &net,
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error: conf/missing.yml: no such file"),
        "{stderr}"
    );
    assert!(!stderr.contains("stack.yaml"), "{stderr}");
    assert_eq!(net.connections(), 0);
}

#[test]
fn validate_needs_no_secret() {
    let net = Listener::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: ${secret:CORPUS_UNSET_PW}\noutputs:\n  URL: postgres://root:${secret:CORPUS_UNSET_PW}@${db_instances.db.address}/db\n",
    )
    .unwrap();
    let (code, stdout, stderr) = deploy(dir.path(), &["validate"], &BTreeMap::new(), &net);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("stack.yaml: valid"), "{stdout}");
    // plan does need it, and says which and where, before any AWS call.
    let (code, _, stderr) = deploy(dir.path(), &["plan"], &BTreeMap::new(), &net);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("stack.yaml:8:22: master_password: secret CORPUS_UNSET_PW is not set"),
        "{stderr}"
    );
    assert_eq!(net.connections(), 0);
}

/// validate runs the plan's local folder checks (no AWS): every link leading out of a function's
/// or a layer's folder is named in one run, at the line of its `source:`.
#[cfg(unix)]
#[test]
fn validate_names_every_link_leading_out_of_a_folder_at_its_source_line() {
    let net = Listener::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("fn")).unwrap();
    std::fs::create_dir_all(d.join("layer/python")).unwrap();
    std::fs::write(d.join("fn/lambda_function.py"), "x = 1\n").unwrap();
    std::fs::write(d.join("layer/python/m.py"), "x = 1\n").unwrap();
    std::os::unix::fs::symlink("..", d.join("fn/up")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", d.join("fn/pw")).unwrap();
    std::os::unix::fs::symlink("/etc", d.join("layer/python/etc")).unwrap();
    std::fs::write(
        d.join("stack.yaml"),
        "stack: links\nfunctions:\n  f:\n    runtime: python3.12\n    source: fn\n    handler: a.b\n    layers:\n      - name: deps\n        runtimes: [python3.12]\n        source: layer\n",
    )
    .unwrap();
    let (code, stdout, stderr) = deploy(d, &["validate"], &BTreeMap::new(), &net);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{stderr}");
    assert!(
        errors[0].starts_with(
            "error: stack.yaml:5:13: functions.f: source: 2 symbolic links lead outside"
        ) && errors[0].contains("fn/pw -> /etc/passwd")
            && errors[0].contains("fn/up -> "),
        "{stderr}"
    );
    assert!(
        errors[1].starts_with("error: stack.yaml:10:17: functions.f.layer.deps: layer `deps`: ")
            && errors[1].contains("layer/python/etc is a symbolic link to /etc"),
        "{stderr}"
    );
    assert_eq!(net.connections(), 0);
}

#[test]
fn validate_makes_no_aws_call_and_reports_the_stack() {
    let env = Env::new();
    env.write_stack(SG_ONLY);
    let r = env.ok(&["validate"]);
    assert!(r.stdout.contains("valid"), "{}", r.stdout);
    assert!(env.calls().is_empty(), "validate called AWS");
    // Also with an endpoint nobody listens on: validate must not need AWS at all.
    let r = env.ok(&["--endpoint-url", "http://127.0.0.1:9", "validate"]);
    assert!(
        r.stdout
            .contains("1 security group with 1 rule, 0 db instances"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_input_is_an_error_with_file_line_column_before_any_aws_call() {
    let env = Env::new();
    env.write_stack("stack: bad\nsecurity_groups:\n  g:\n    description: d\n    ingress:\n      - description: X\n        port: 22\n        cidr: 10.0.0.300/32\n");
    for args in [&["validate"][..], &["plan"], &["apply", "--auto-approve"]] {
        let cmd = args[0];
        let r = env.run(args);
        assert_eq!(r.code, 1, "{cmd}: {}", r.all());
        assert!(r.stderr.contains("stack.yaml:8:15:"), "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("not an IPv4 CIDR"), "{cmd}: {}", r.stderr);
    }
    assert!(env.calls().is_empty(), "an invalid stack reached AWS");
}

#[test]
fn a_badly_named_migration_file_is_an_error_not_an_empty_plan() {
    let env = Env::new();
    env.write_stack(
        "stack: m\ndb_instances:\n  d:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: ${secret:DB_PASSWORD}\n    migrations: sql\n",
    );
    env.write_file("sql/0001_ok.sql", "select 1;\n");
    env.write_file("sql/add_users.sql", "select 2;\n");
    for args in [&["validate"][..], &["plan"]] {
        let r = env.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(r.stderr.contains("stack.yaml:3:"), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("NNNN_name.sql") && r.stderr.contains("add_users.sql"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// What EC2, IAM and RDS refuse and moto takes: errors at their lines from validate, plan and
/// apply, with no call made (the fidelity proxy, which refuses these as EC2 does, sees none).
#[test]
fn values_aws_refuses_are_errors_at_their_line_before_any_call() {
    let env = Env::with_fidelity(serde_json::json!({"ec2": true}));
    env.write_file("fn/app.py", "def handler(e, c):\n    return e\n");
    let long = "f".repeat(60);
    env.write_stack(&format!(
        "stack: s\nsecurity_groups:\n  db-sg:\n    description: \"Andrew's db\"\n    ingress:\n      - description: \"Andrew's laptop\"\n        port: 5432\n        cidr: 10.0.0.0/8\n      - description: lambda & co\n        port: 5432\n        source_group: fn-sg\n  fn-sg:\n    description: functions\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 100\n    storage_type: io1\n    master_username: root\n    manage_master_password: true\nfunctions:\n  {long}:\n    source: fn\n    runtime: python3.12\n    handler: app.handler\n    role: auto\n"
    ));
    for args in [&["validate"][..], &["plan"], &["apply", "--auto-approve"]] {
        let cmd = args[0];
        let r = env.run(args);
        assert_eq!(r.code, 1, "{cmd}: {}", r.all());
        for (at, says) in [
            (
                "stack.yaml:4:",
                "description has characters EC2 refuses ('\\'')",
            ),
            (
                "stack.yaml:6:",
                "rule description `Andrew\\'s laptop` has characters EC2 refuses",
            ),
            ("stack.yaml:9:", "has characters EC2 refuses ('&')"),
            ("stack.yaml:19:", "storage_type io1 needs provisioned IOPS"),
            ("stack.yaml:27:", "IAM allows at most 64"),
        ] {
            assert!(
                r.stderr.lines().any(|l| l.contains(at) && l.contains(says)),
                "{cmd}: want {at} {says}:\n{}",
                r.stderr
            );
        }
    }
    assert!(env.calls().is_empty(), "an invalid stack reached AWS");
    assert!(env.log().is_empty(), "the proxy saw calls: {:?}", env.log());
}

#[test]
fn a_missing_folder_names_the_stack_files_folder_without_a_stray_full_stop() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        "stack: s\nfunctions:\n  f:\n    source: nope\n    runtime: python3.12\n    handler: a.b\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deploy"))
        .current_dir(dir.path())
        .args(["validate"])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    let folder = dir.path().canonicalize().unwrap();
    assert!(
        err.contains(&format!(
            "folder `nope` not found (paths are relative to the stack file's folder, {})\n",
            folder.display()
        )) || err.contains(&format!("stack file's folder, {})\n", dir.path().display())),
        "{err}"
    );
    assert!(
        !err.contains("folder, .)") && !err.contains("folder, )"),
        "{err}"
    );
}

/// The review's item 8: a function's `source`, `migrations`, `seed` and layer folders must
/// resolve inside the project (the git work tree holding the stack file, else its folder): a
/// link leading outside, or `../` climbing out, is an error at its line.
#[test]
fn folders_must_resolve_inside_the_project() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let mk = |rel: &str, body: &str| {
        let p = base.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    mk("outside/secret.txt", "not yours\n");
    mk("outside/seed.sql", "SELECT 1;\n");
    mk("outside/mig/0001_a.sql", "SELECT 1;\n");
    mk("proj/sql/0001_a.sql", "SELECT 1;\n");
    mk("proj/fn/app.py", "def handler(e, c):\n    return e\n");
    mk("proj/layer/python/x.py", "\n");
    std::os::unix::fs::symlink(base.join("outside"), base.join("proj/link")).unwrap();
    let stack = |source: &str, migrations: &str, seed: &str, layer: &str| {
        format!(
            "stack: inside\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    manage_master_password: true\n    migrations: {migrations}\n    seed: {seed}\nfunctions:\n  f:\n    source: {source}\n    runtime: python3.12\n    handler: app.handler\n    layers:\n      - {{ name: l, source: {layer}, runtimes: [python3.12] }}\n"
        )
    };
    let validate = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_deploy"))
            .current_dir(dir)
            .args(["validate"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    // No git work tree: the project is the stack file's folder.
    std::fs::write(
        base.join("proj/stack.yaml"),
        stack("link", "../outside/mig", "link/seed.sql", "link"),
    )
    .unwrap();
    let o = validate(&base.join("proj"));
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    for line in [
        "stack.yaml:9:",
        "stack.yaml:10:",
        "stack.yaml:13:",
        "stack.yaml:17:",
    ] {
        assert!(err.contains(line), "{line}: {err}");
    }
    assert!(
        err.contains("outside the project") && err.contains("the stack file's folder"),
        "{err}"
    );
    std::fs::write(
        base.join("proj/stack.yaml"),
        stack("fn", "sql", "fn/app.py", "layer"),
    )
    .unwrap();
    let o = validate(&base.join("proj"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    // In a git work tree, `../` within it is fine (as examples/local/stack.yaml's
    // `../../lambdas`); the link still leads outside it.
    std::fs::create_dir(base.join(".git")).unwrap();
    std::fs::write(
        base.join("proj/stack.yaml"),
        stack("fn", "../outside/mig", "../outside/seed.sql", "layer"),
    )
    .unwrap();
    let o = validate(&base.join("proj"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::write(
        base.join("proj/stack.yaml"),
        stack("fn", "sql", "fn/app.py", "../../"),
    )
    .unwrap();
    let o = validate(&base.join("proj"));
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("stack.yaml:17:"), "{err}");
    assert!(err.contains("the git work tree"), "{err}");
}

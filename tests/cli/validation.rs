//! The corpus of broken stack files (`tests/corpus/`): each through the binary's `validate`,
//! every expected problem reported in one run at its line, nothing else, and no network
//! connection attempted (AWS and the public-IP service point at a listener that counts them).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

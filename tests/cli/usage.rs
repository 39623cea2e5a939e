//! The edges a Terraform user expects (issue 9): completions, man page, the JSON Schema, the
//! dependency graph, one-dash flags, per-command help. All offline: no moto here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deploy"))
        .current_dir(root())
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run deploy")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `program args` with `input` on stdin; None when the program is not installed.
fn pipe(program: &str, args: &[&str], input: &str) -> Option<Output> {
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("{program}: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    Some(child.wait_with_output().unwrap())
}

#[test]
fn completions_for_every_shell_and_bash_parses_them() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = deploy(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", text(&o.stderr));
        let script = text(&o.stdout);
        assert!(
            script.contains("validate") && script.contains("auto-approve"),
            "{shell} completion names the commands and flags:\n{script}"
        );
        if shell == "bash" {
            let n = pipe("bash", &["-n"], &script).expect("bash is installed");
            assert!(
                n.status.success(),
                "bash -n rejects the completion: {}",
                text(&n.stderr)
            );
        }
    }
    let bad = deploy(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(1));
}

/// The trial's item 10: completion of `--target` with the file's addresses and of `output` with
/// its output names, asked of the hidden `deploy __complete` by the bash script, offline.
#[test]
fn bash_completes_targets_and_outputs_from_the_stack_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("other.yaml"),
        "stack: c\nsecurity_groups:\n  web:\n    description: w\n  db:\n    description: d\n    ingress:\n      - description: WEB\n        port: 5432\n        source_group: web\noutputs:\n  DB_SG: ${security_groups.db.id}\n  WEB_SG: ${security_groups.web.id}\n",
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_deploy")).parent().unwrap();
    let complete = |words: &str, cword: usize| {
        let script = format!(
            "source <(deploy completions bash)\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\n_deploy_dynamic deploy \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
        );
        let o = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .expect("bash is installed");
        assert!(o.status.success(), "{}", text(&o.stderr));
        let mut got: Vec<String> = text(&o.stdout).lines().map(String::from).collect();
        got.retain(|l| !l.is_empty());
        got.sort();
        got
    };
    assert_eq!(
        complete("deploy -f other.yaml plan --target security_groups.d", 5),
        vec!["security_groups.db", "security_groups.db.ingress.WEB"]
    );
    assert_eq!(
        complete("deploy --file other.yaml apply --target ''", 5).len(),
        3,
        "two groups and a rule"
    );
    assert_eq!(complete("deploy -f other.yaml output W", 4), vec!["WEB_SG"]);
    // Without the file: nothing, and no error in the prompt.
    assert!(complete("deploy -f missing.yaml plan --target ''", 5).is_empty());
    // Other words still come from clap's script.
    assert!(complete("deploy pl", 1).contains(&"plan".to_string()));
}

#[test]
fn version_stays() {
    let o = deploy(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        text(&o.stdout),
        format!("deploy {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_man_page_comes_from_the_same_definitions() {
    let mut page = Vec::new();
    clap_mangen::Man::new(deploy::cli::command())
        .render(&mut page)
        .unwrap();
    let page = text(&page);
    assert!(page.contains(".TH deploy 1"), "{page}");
    for word in [
        "plan",
        "apply",
        "destroy",
        "validate",
        "graph",
        "schema",
        "completions",
        "\\-\\-endpoint\\-url",
    ] {
        assert!(page.contains(word), "{word} missing from the man page");
    }
    let dir = tempfile::tempdir().unwrap();
    clap_mangen::generate_to(deploy::cli::command(), dir.path()).unwrap();
    assert!(dir.path().join("deploy-apply.1").exists());
}

#[test]
fn deploy_schema_prints_the_committed_schema_file() {
    let o = deploy(&["schema"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let file = std::fs::read_to_string(root().join("schema/stack.schema.json")).unwrap();
    assert!(
        text(&o.stdout) == file,
        "schema/stack.schema.json differs from `deploy schema`: run `make schema` and commit it"
    );
    let v: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(v["additionalProperties"], serde_json::json!(false));
}

#[test]
fn the_shipped_stack_files_name_the_schema_for_editors() {
    for (f, to) in [
        ("stack.yaml", "schema/stack.schema.json"),
        (
            "examples/local/stack.yaml",
            "../../schema/stack.schema.json",
        ),
    ] {
        let first = std::fs::read_to_string(root().join(f)).unwrap();
        let first = first.lines().next().unwrap();
        assert_eq!(first, format!("# yaml-language-server: $schema={to}"));
        let target = root().join(Path::new(f).parent().unwrap()).join(to);
        assert!(target.exists(), "{f}: {} does not exist", target.display());
    }
}

#[test]
fn terraform_style_flags_get_a_hint() {
    let o = deploy(&["apply", "-auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: `-auto-approve` has one dash: use `--auto-approve` (deploy's long flags take two dashes)\n"
    );
    // Flags other sessions add (plan --out/--json/--target) get the same two-dash hint once they
    // exist; before, the hint says there is no such flag. Either way it names the two-dash form.
    for (args, flag) in [
        (&["plan", "-out=tf.plan"][..], "--out"),
        (&["plan", "-target=functions.x"][..], "--target"),
        (&["plan", "-json"][..], "--json"),
        (&["-verbose", "validate"][..], "--verbose"),
    ] {
        let o = deploy(args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            err.starts_with("error: `-") && err.contains("` has one dash") && err.contains(flag),
            "{args:?}: {err}"
        );
    }
    // Short flags are still short flags.
    let o = deploy(&["-f", "examples/local/stack.yaml", "validate"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn offline_commands_list_only_the_flags_they_use() {
    let help = |cmd: &str| text(&deploy(&[cmd, "--help"]).stdout);
    for cmd in ["validate", "graph", "schema"] {
        let h = help(cmd);
        for unused in [
            "--profile",
            "--region",
            "--endpoint-url",
            "--db-endpoint",
            "--db-insecure-plaintext",
        ] {
            assert!(!h.contains(unused), "`{cmd} --help` lists {unused}:\n{h}");
        }
    }
    assert!(help("validate").contains("--file"));
    assert!(!help("schema").contains("--file"));
    for used in ["--profile", "--region", "--endpoint-url", "--db-endpoint"] {
        assert!(help("plan").contains(used), "plan --help lacks {used}");
    }
    // Hidden, not refused: a shell alias that always passes --profile keeps working.
    let o = deploy(&[
        "validate",
        "--profile",
        "x",
        "-f",
        "examples/local/stack.yaml",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn the_graph_has_the_stacks_nodes_and_edges_and_parses_with_dot() {
    let o = deploy(&["-f", "stack.yaml", "graph"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dot = text(&o.stdout);
    for node in [
        "security_groups.cruddur-db-sg",
        "security_groups.cruddur-db-sg.ingress.LAMBDA",
        "db_instances.cruddur-db-instance",
        "functions.cruddur-post-confirmation",
        "functions.cruddur-post-confirmation.role",
        "cognito_triggers.cruddur-user-pool.post_confirmation",
    ] {
        let line = format!("    \"{node}\";\n");
        assert_eq!(dot.matches(&line).count(), 1, "{node} once in\n{dot}");
    }
    for (from, to) in [
        (
            "security_groups.cruddur-db-sg",
            "db_instances.cruddur-db-instance",
        ),
        (
            "security_groups.cruddur-lambda-sg",
            "security_groups.cruddur-db-sg.ingress.LAMBDA",
        ),
        (
            "db_instances.cruddur-db-instance",
            "functions.cruddur-post-confirmation",
        ),
        (
            "functions.cruddur-post-confirmation.role",
            "functions.cruddur-post-confirmation",
        ),
        (
            "functions.cruddur-post-confirmation",
            "cognito_triggers.cruddur-user-pool.post_confirmation",
        ),
    ] {
        assert!(
            dot.contains(&format!("  \"{from}\" -> \"{to}\";\n")),
            "{from} -> {to} missing:\n{dot}"
        );
    }
    match pipe("dot", &["-Tsvg"], &dot) {
        Some(r) => {
            assert!(r.status.success(), "dot rejects it: {}", text(&r.stderr));
            assert!(text(&r.stdout).contains("<svg"));
        }
        // scripts/test.sh installs graphviz and sets this, so `make test` never skips it.
        None if std::env::var_os("DEPLOY_TEST_REQUIRE_DOT").is_some() => {
            panic!("DEPLOY_TEST_REQUIRE_DOT is set but graphviz's dot is not installed")
        }
        None => eprintln!("note: graphviz's dot is not installed: the DOT text was not parsed"),
    }
    let m = deploy(&["-f", "stack.yaml", "graph", "--format", "mermaid"]);
    let m = text(&m.stdout);
    assert!(
        m.starts_with("flowchart LR\n") && m.contains("[\"functions.cruddur-post-confirmation\"]"),
        "{m}"
    );
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

#[test]
fn a_db_endpoint_that_refuses_names_host_port_and_cause() {
    let env = super::common::Env::new();
    let db = "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: ${secret:DB_PASSWORD}\n    final_snapshot: false\n";
    env.write_stack(db);
    env.ok(&["apply", "--auto-approve"]);
    env.write_file("sql/0001_a.sql", "select 1;");
    env.write_stack(&format!("{db}    migrations: sql\n"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = env.run(&["--db-endpoint", &format!("db=127.0.0.1:{port}"), "plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "cannot connect to the database at 127.0.0.1:{port} as root: Connection refused"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn outputs_are_quoted_the_same_way_after_apply_and_by_deploy_output() {
    let env = super::common::Env::new();
    env.write_stack(
        "stack: s\nsecurity_groups:\n  q-sg:\n    description: q\noutputs:\n  GROUP: ${security_groups.q-sg.id}\n  SAID: 'say \"hi\" ${env:AWS_REGION}'\n",
    );
    let applied = env.ok(&["apply", "--auto-approve"]).stdout;
    let after: Vec<&str> = applied
        .split("\nOutputs:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no outputs after apply:\n{applied}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let listed = env.ok(&["output"]).stdout;
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(after, listed);
    assert_eq!(listed[1], r#"SAID = "say \"hi\" us-east-1""#);
    assert!(listed[0].starts_with("GROUP = \"sg-"), "{listed:?}");
    // One output alone stays raw, for scripts.
    assert_eq!(env.ok(&["output", "SAID"]).stdout, "say \"hi\" us-east-1\n");
}

#[test]
fn one_output_follows_format_and_needs_only_its_own_secrets() {
    let env = super::common::Env::new();
    env.write_stack(
        "stack: s\nsecurity_groups:\n  q-sg:\n    description: q\noutputs:\n  GROUP: ${security_groups.q-sg.id}\n  QUOTE: \"it's\"\n  NUM: 42\n  URL: postgres://u:${secret:DB_PASSWORD}@h/db\n",
    );
    env.ok(&["apply", "--auto-approve"]);
    let one = |args: &[&str]| env.ok(args).stdout;
    assert_eq!(one(&["output", "QUOTE"]), "it's\n");
    assert_eq!(one(&["output", "QUOTE", "--format", "text"]), "it's\n");
    assert_eq!(
        one(&["output", "QUOTE", "--format", "env"]),
        "QUOTE='it'\\''s'\n"
    );
    assert_eq!(one(&["output", "QUOTE", "--format", "json"]), "\"it's\"\n");
    // All values are strings, alone as in the whole object.
    assert_eq!(one(&["output", "NUM", "--format", "json"]), "\"42\"\n");
    let all: serde_json::Value =
        serde_json::from_str(&one(&["output", "--format", "json"])).unwrap();
    assert_eq!(all["NUM"], "42");

    // Without DB_PASSWORD: the outputs that do not use it still print; the one that does says
    // which variable to set, and never prints a value.
    let mut c = env.command(&["output", "GROUP"]);
    c.env_remove("DB_PASSWORD");
    let r: super::common::Run = c.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.starts_with("sg-"), "{}", r.stdout);
    let mut c = env.command(&["output", "URL"]);
    c.env_remove("DB_PASSWORD");
    let r: super::common::Run = c.output().unwrap().into();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("output URL uses ${secret:DB_PASSWORD}, which is not set")
            && r.stdout.is_empty(),
        "{}",
        r.all()
    );
}

/// Commands and flags the CI recipe uses that other branches add in parallel: missing here is
/// a note, not a failure, until they land. Once one exists, the test fails until it is removed
/// from this list, so that it is checked from then on.
const NOT_ON_THIS_BASE: &[&str] = &[];

/// Every `deploy <command> [--flag]...` in the `run:` scripts of a workflow.
fn deploy_calls(workflow: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for job in workflow["jobs"].as_object().expect("jobs").values() {
        for step in job["steps"].as_array().expect("steps") {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            for line in run.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                // `deploy` where a command starts (not the word in an `echo`).
                let Some(i) = (0..words.len()).find(|&i| {
                    words[i] == "deploy"
                        && (i == 0
                            || matches!(words[i - 1], "|" | "&&" | "||" | ";" | "then" | "do"))
                }) else {
                    continue;
                };
                let mut rest = words[i + 1..].iter();
                let Some(cmd) = rest.by_ref().find(|w| !w.starts_with('-')) else {
                    continue;
                };
                let flags = words[i + 1..]
                    .iter()
                    .take_while(|w| !matches!(**w, "|" | "&&" | ";" | ">>" | ">"))
                    .filter(|w| w.starts_with("--"))
                    .map(|w| w.split('=').next().unwrap().to_string())
                    .collect();
                out.push((cmd.to_string(), flags));
            }
        }
    }
    out
}

#[test]
fn the_ci_workflow_is_valid_yaml_and_calls_only_what_exists() {
    let path = root().join("examples/ci/deploy.yml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let wf: serde_json::Value = serde_saphyr::from_str(&yaml).expect("valid YAML");
    // What the recipe promises: PR plan with OIDC, apply of the saved plan on merge.
    assert!(wf["on"]["pull_request"].is_object() && wf["on"]["push"].is_object());
    assert_eq!(wf["permissions"]["id-token"], "write");
    assert!(
        !yaml.contains("AWS_ACCESS_KEY_ID") && !yaml.contains("aws-secret-access-key"),
        "no stored keys"
    );
    // The apply job takes only the file whose digest this run's plan job (main's code, not a
    // pull request's) printed, carried as a job output, not with the artifact.
    let apply = &wf["jobs"]["apply"];
    assert_eq!(apply["needs"], "plan", "{apply}");
    let steps = apply["steps"].to_string();
    assert!(
        steps.contains("--expect-digest") && steps.contains("needs.plan.outputs.digest"),
        "{steps}"
    );
    assert!(wf["jobs"]["plan"]["outputs"]["digest"].is_string());
    let calls = deploy_calls(&wf);
    let names: Vec<&str> = calls.iter().map(|(c, _)| c.as_str()).collect();
    for c in ["validate", "plan", "show", "apply", "unlock"] {
        assert!(
            names.contains(&c),
            "the workflow does not call deploy {c}: {names:?}"
        );
    }
    let mut missing = Vec::new();
    for (cmd, flags) in &calls {
        let o = deploy(&[cmd, "--help"]);
        if !o.status.success() {
            missing.push(cmd.clone());
            continue;
        }
        let help = text(&o.stdout);
        for f in flags {
            if !help.contains(&format!("{f} ")) && !help.contains(&format!("{f}\n")) {
                missing.push(format!("{cmd} {f}"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    let unexpected: Vec<&String> = missing
        .iter()
        .filter(|m| !NOT_ON_THIS_BASE.contains(&m.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "examples/ci/deploy.yml calls what deploy does not have: {unexpected:?}"
    );
    let landed: Vec<&&str> = NOT_ON_THIS_BASE
        .iter()
        .filter(|p| !missing.iter().any(|m| m == *p))
        .collect();
    assert!(
        landed.is_empty(),
        "{landed:?} exist now: remove them from NOT_ON_THIS_BASE so that they are checked"
    );
    if !missing.is_empty() {
        eprintln!("note: not on this base yet, not checked: {missing:?}");
    }
}

/// The review's item 4: the pull-request job runs the pull request's code, so it gets no secret
/// and plans with `--partial`; every action is pinned by a commit, not a tag that can move; the
/// apply job puts no artifact into its checkout.
#[test]
fn the_ci_workflow_keeps_secrets_from_pull_requests_and_pins_actions() {
    let yaml = std::fs::read_to_string(root().join("examples/ci/deploy.yml")).unwrap();
    let wf: serde_json::Value = serde_saphyr::from_str(&yaml).expect("valid YAML");
    let review = wf["jobs"]["review"].to_string();
    assert!(
        !review.contains("secrets.") && review.contains("deploy plan --partial"),
        "{review}"
    );
    for job in wf["jobs"].as_object().unwrap().values() {
        for step in job["steps"].as_array().unwrap() {
            if let Some(uses) = step["uses"].as_str() {
                let (_, pin) = uses.split_once('@').unwrap();
                assert!(
                    pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()),
                    "{uses} is not pinned by commit"
                );
            }
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact@"))
            {
                let path = step["with"]["path"].as_str().unwrap_or_default();
                assert!(path.starts_with("${{ runner.temp }}"), "{path}");
            }
        }
    }
    assert!(
        yaml.contains("Deployment branches"),
        "the branch rule is documented"
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

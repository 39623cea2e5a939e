//! What the repository ships agrees with the binary: the committed JSON Schema is what
//! `deploy schema` prints and the shipped stack files name it for editors; the CI workflow
//! (`examples/ci/`) is valid YAML, calls only commands and flags that exist, and keeps secrets
//! from pull requests. Offline: no moto here.

use super::common::{deploy_here, root, text};
use std::path::Path;

#[test]
fn deploy_schema_prints_the_committed_schema_file() {
    let o = deploy_here(&["schema"]);
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
        let o = deploy_here(&[cmd, "--help"]);
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

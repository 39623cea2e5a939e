//! Property tests of the loader and resolver: on generated and mutated stack files, loading
//! never panics and every problem it reports has a position inside the file.

use std::path::Path;

use proptest::prelude::*;

use super::tests::FULL;
use super::*;

/// Edits that break a file the way people do: lost or doubled lines, stray YAML characters,
/// wrong indentation, a file cut short.
#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, char),
    Indent(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let ch = prop::sample::select(vec![
        ':', '-', '[', ']', '{', '}', '"', '\'', '#', '&', '*', '!', '|', '>', '$', ' ', '\t',
        '\n', 'x', '0', '%', '@', '`', ',', '?', '\\', 'é',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), ch).prop_map(|(a, c)| Edit::Insert(a, c)),
        (any::<usize>(), 0usize..7).prop_map(|(a, n)| Edit::Indent(a, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(src: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    for e in edits {
        let n = lines.len().max(1);
        match *e {
            Edit::DeleteLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) if !lines.is_empty() => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Edit::Insert(i, c) if !lines.is_empty() => {
                let l = &mut lines[i % n];
                let at = l
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(i % (l.len() + 1))
                    .unwrap_or(l.len());
                l.insert(at, c);
            }
            Edit::Indent(i, k) if !lines.is_empty() => {
                let l = &mut lines[i % n];
                *l = format!("{}{}", " ".repeat(k), l.trim_start());
            }
            Edit::Truncate(i) => {
                let text = lines.join("\n");
                let cut = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(i % (text.chars().count() + 1))
                    .unwrap_or(text.len());
                lines = text[..cut].lines().map(str::to_string).collect();
            }
            _ => {}
        }
    }
    lines.join("\n")
}

/// Small YAML documents built from the schema's own keys, with values of every shape.
fn document() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "stack",
        "region",
        "tags",
        "security_groups",
        "db_instances",
        "functions",
        "user_pools",
        "cognito_triggers",
        "outputs",
        "description",
        "ingress",
        "port",
        "ports",
        "cidr",
        "engine",
        "allocated_storage",
        "master_password",
        "layers",
        "vpc",
        "subnets",
        "name",
        "source",
        "environment",
        "event",
        "function",
        "user_pool",
        "x",
        "db",
        "fn",
    ]);
    let scalar = prop::sample::select(vec![
        "s",
        "5432",
        "true",
        "~",
        "\"\"",
        "'${env:REGION}'",
        "${secret:DB_PASSWORD}",
        "${db_instances.db.address}",
        "${functions.fn.arn}",
        "${public_ip}/32",
        "10.0.0.0/8",
        "arn:aws:lambda:us-east-1:123456789012:layer:x",
        "1.5",
        "-3",
        "[]",
        "{}",
        "${",
        "${env:NOPE}",
        "${secret:SHORT}",
        "default",
        "sg-1",
        "lambdas/fn",
    ])
    .prop_map(str::to_string);
    scalar.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|entries| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

fn env(name: &str) -> Option<String> {
    match name {
        "DB_PASSWORD" => Some("s3cret-pw".into()),
        "REGION" => Some("eu-west-1".into()),
        "SHORT" => Some("ab".into()),
        _ => None,
    }
}

fn check(src: &str) -> Result<(), TestCaseError> {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("lambdas/fn")).unwrap();
    std::fs::create_dir_all(d.path().join("layer")).unwrap();
    let lines = src.lines().count() as u64 + 1;
    for secrets in [Secrets::Required, Secrets::Optional] {
        match parse_str_opts(src, Path::new("stack.yaml"), d.path(), &env, secrets) {
            Ok(stack) => {
                // The resolver takes whatever loaded, known or not.
                let r = Resolver::default();
                for t in stack.outputs.values() {
                    let _ = r.resolve(t).shown();
                }
            }
            Err(e) => {
                prop_assert!(!e.problems.is_empty());
                for p in &e.problems {
                    prop_assert!(
                        p.pos.line >= 1 && p.pos.line <= lines && p.pos.col >= 1,
                        "no position inside the file for `{}` at {:?} in:\n{src}",
                        p.message,
                        p.pos
                    );
                    prop_assert!(!p.message.is_empty());
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_files_never_panic_and_every_problem_has_a_position(
        edits in prop::collection::vec(edit(), 1..6)
    ) {
        check(&apply(FULL, &edits))?;
    }

    #[test]
    fn generated_files_never_panic_and_every_problem_has_a_position(doc in document()) {
        check(&doc)?;
        check(&format!("stack: p\nsecurity_groups: {doc}\n"))?;
        check(&format!("stack: p\nfunctions:\n  fn: {doc}\n"))?;
    }
}

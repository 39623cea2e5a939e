//! How planning scales: builds a stack with G security groups of R rules each, a live state that
//! matches it except for one moved IP, and times the pure planner (no AWS). Prints one line per
//! size with the median time of several runs and the process's peak memory.
//!
//! Run: `cargo run --release --example plan_bench` (or without --release for a debug build).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use deploy::plan::build::{Input, plan};
use deploy::resources::security_group::{GroupObserved, RuleObserved};
use deploy::resources::{Found, Key, LiveEnv, Observed};

fn stack_yaml(groups: usize, rules: usize) -> String {
    let mut s = String::from("stack: bench\nsecurity_groups:\n");
    for g in 0..groups {
        let _ = write!(s, "  g{g}:\n    description: group {g}\n    ingress:\n");
        for r in 0..rules {
            let _ = write!(
                s,
                "      - description: R{r}\n        port: {}\n        cidr: 10.{}.{}.0/24\n",
                1000 + r,
                g % 256,
                r % 256
            );
        }
    }
    s
}

fn live(groups: usize, rules: usize) -> Vec<Found> {
    let tags: BTreeMap<String, String> = [("deploy:stack".to_string(), "bench".to_string())].into();
    let mut out = Vec::new();
    for g in 0..groups {
        let name = format!("g{g}");
        let id = format!("sg-{g:08}");
        out.push(Found {
            address: format!("security_groups.{name}"),
            key: Key::Group(name.clone()),
            observed: Observed::Group(GroupObserved {
                id: id.clone(),
                name: name.clone(),
                description: format!("group {g}"),
                vpc_id: "vpc-1".into(),
                tags: tags.clone(),
                owned: true,
            }),
        });
        for r in 0..rules {
            // One rule's CIDR moved, so the plan has exactly one update to find.
            let third = if g == 0 && r == 0 { 255 } else { r % 256 };
            out.push(Found {
                address: format!("security_groups.{name}.ingress.R{r}"),
                key: Key::Rule {
                    group: name.clone(),
                    description: format!("R{r}"),
                },
                observed: Observed::Rule(RuleObserved {
                    group_id: id.clone(),
                    description: Some(format!("R{r}")),
                    protocol: "tcp".into(),
                    from_port: (1000 + r) as i32,
                    to_port: (1000 + r) as i32,
                    cidr: Some(format!("10.{}.{third}.0/24", g % 256)),
                    source_group: None,
                }),
            });
        }
    }
    out
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let env = LiveEnv {
        region: "us-east-1".into(),
        default_vpc: Some("vpc-1".into()),
        ..Default::default()
    };
    println!("groups  rules/group  nodes  median plan time  peak RSS");
    for (groups, rules) in [(2, 2), (20, 20), (100, 50), (200, 60)] {
        let yaml = stack_yaml(groups, rules);
        let stack =
            deploy::stack::parse_str(&yaml, Path::new("bench.yaml"), Path::new("."), &|_| None)
                .expect("the generated stack is valid");
        let found = live(groups, rules);
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let p = plan(&Input {
                stack: &stack,
                found: &found,
                env: &env,
                public_ip: None,
                destroy: false,
                targets: &[],
            })
            .expect("plans");
            times.push(start.elapsed());
            assert_eq!(p.plan.changes.len(), 1, "exactly the moved rule changes");
        }
        times.sort();
        println!(
            "{groups:>6}  {rules:>11}  {:>5}  {:>16.2?}  {:>6.1} MiB",
            groups * (rules + 1),
            times[times.len() / 2],
            peak_rss_mib()
        );
    }
}

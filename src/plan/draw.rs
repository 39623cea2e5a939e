//! The stack's dependency graph as text for Graphviz (DOT) or Mermaid (`deploy graph`). Pure: it
//! draws the nodes and dependencies the planner orders by, given as (address, what it needs).
//!
//! An edge points from what is created first to what needs it, so the picture reads in the
//! order apply works (and destroy walks it backwards).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A node's address and the addresses it depends on.
pub type Node = (String, Vec<String>);

/// The section of an address (`security_groups` in `security_groups.a.ingress.B`).
fn section(address: &str) -> &str {
    address.split('.').next().unwrap_or(address)
}

/// The edges (dependency, dependent) between nodes of the graph, sorted and without repeats.
fn edges(nodes: &[Node]) -> Vec<(&str, &str)> {
    let known: std::collections::BTreeSet<&str> = nodes.iter().map(|(a, _)| a.as_str()).collect();
    let known = &known;
    let mut out: Vec<(&str, &str)> = nodes
        .iter()
        .flat_map(|(a, deps)| {
            deps.iter()
                .filter(move |d| known.contains(d.as_str()) && *d != a)
                .map(move |d| (d.as_str(), a.as_str()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT: one cluster per section of the stack file.
pub fn dot(stack: &str, nodes: &[Node]) -> String {
    let mut by_section: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, _) in nodes {
        by_section.entry(section(a)).or_default().push(a);
    }
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quoted(stack));
    out.push_str("  rankdir=LR;\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f5f5f5\", fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [color=\"#555555\"];\n");
    for (sec, addrs) in &by_section {
        let _ = writeln!(out, "  subgraph {} {{", quoted(&format!("cluster_{sec}")));
        let _ = writeln!(out, "    label={};", quoted(sec));
        out.push_str("    style=dashed; color=\"#999999\"; fontname=\"Helvetica\";\n");
        for a in addrs {
            let _ = writeln!(out, "    {};", quoted(a));
        }
        out.push_str("  }\n");
    }
    for (from, to) in edges(nodes) {
        let _ = writeln!(out, "  {} -> {};", quoted(from), quoted(to));
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart (GitHub renders it in Markdown). Mermaid ids cannot hold every character
/// of an address, so nodes are `n0`, `n1`, ... labelled with the address.
pub fn mermaid(nodes: &[Node]) -> String {
    let id: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, (a, _))| (a.as_str(), i))
        .collect();
    let mut out = String::from("flowchart LR\n");
    for (i, (a, _)) in nodes.iter().enumerate() {
        let _ = writeln!(out, "  n{i}[\"{}\"]", a.replace('"', "#quot;"));
    }
    for (from, to) in edges(nodes) {
        let _ = writeln!(out, "  n{} --> n{}", id[from], id[to]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<Node> {
        let n =
            |a: &str, deps: &[&str]| (a.to_string(), deps.iter().map(|d| d.to_string()).collect());
        vec![
            n("security_groups.sg", &[]),
            n(
                "security_groups.sg.ingress.A",
                &["security_groups.sg", "security_groups.sg"],
            ),
            n(
                "functions.f",
                &["security_groups.sg", "functions.f.role", "elsewhere.x"],
            ),
            n("functions.f.role", &[]),
        ]
    }

    #[test]
    fn dot_has_every_node_once_and_edges_from_dependency_to_dependent() {
        let d = dot("s", &nodes());
        for a in [
            "security_groups.sg",
            "security_groups.sg.ingress.A",
            "functions.f",
            "functions.f.role",
        ] {
            assert_eq!(
                d.matches(&format!("    \"{a}\";")).count(),
                1,
                "{a} in\n{d}"
            );
        }
        let edges: Vec<&str> = d.lines().filter(|l| l.contains("->")).collect();
        assert_eq!(
            edges,
            vec![
                "  \"functions.f.role\" -> \"functions.f\";",
                "  \"security_groups.sg\" -> \"functions.f\";",
                "  \"security_groups.sg\" -> \"security_groups.sg.ingress.A\";",
            ]
        );
        assert!(d.contains("subgraph \"cluster_functions\""), "{d}");
        assert!(
            !d.contains("elsewhere"),
            "an edge to no node is dropped: {d}"
        );
    }

    #[test]
    fn mermaid_labels_nodes_and_links_them() {
        let m = mermaid(&nodes());
        assert!(m.starts_with("flowchart LR\n"));
        assert!(m.contains("  n2[\"functions.f\"]\n"));
        assert!(
            m.contains("  n3 --> n2\n")
                && m.contains("  n0 --> n2\n")
                && m.contains("  n0 --> n1\n")
        );
        assert_eq!(m.matches("-->").count(), 3);
    }
}

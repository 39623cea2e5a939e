//! A small dependency graph over addresses: topological order and cycle reporting.

use std::collections::{BTreeMap, BTreeSet};

/// `edges[a]` = the addresses `a` depends on (that must come first).
#[derive(Debug, Default, Clone)]
pub struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    pub fn add_node(&mut self, a: &str) {
        self.edges.entry(a.to_string()).or_default();
    }

    /// `a` after `b`. Edges to nodes not in the graph are ignored when ordering (they are
    /// already satisfied: unchanged resources).
    pub fn add_edge(&mut self, a: &str, b: &str) {
        if a != b {
            self.edges
                .entry(a.to_string())
                .or_default()
                .insert(b.to_string());
        }
    }

    pub fn deps(&self, a: &str) -> impl Iterator<Item = &String> {
        self.edges
            .get(a)
            .into_iter()
            .flatten()
            .filter(|d| self.edges.contains_key(*d))
    }

    /// Kahn's algorithm; ties broken by address so the order is stable. A cycle is an error that
    /// names its path.
    pub fn topo_order(&self) -> Result<Vec<String>, Vec<String>> {
        let mut indeg: BTreeMap<&str, usize> = self.edges.keys().map(|k| (k.as_str(), 0)).collect();
        let mut rdeps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (a, ds) in &self.edges {
            for d in ds.iter().filter(|d| self.edges.contains_key(*d)) {
                *indeg.get_mut(a.as_str()).expect("node") += 1;
                rdeps.entry(d.as_str()).or_default().push(a);
            }
        }
        let mut ready: BTreeSet<&str> = indeg
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::new();
        while let Some(n) = ready.pop_first() {
            out.push(n.to_string());
            for r in rdeps.get(n).into_iter().flatten() {
                let d = indeg.get_mut(r).expect("node");
                *d -= 1;
                if *d == 0 {
                    ready.insert(r);
                }
            }
        }
        if out.len() == self.edges.len() {
            Ok(out)
        } else {
            Err(self.find_cycle(&out))
        }
    }

    fn find_cycle(&self, done: &[String]) -> Vec<String> {
        let done: BTreeSet<&str> = done.iter().map(String::as_str).collect();
        let start = self
            .edges
            .keys()
            .find(|k| !done.contains(k.as_str()))
            .expect("a node is left");
        let mut path = vec![start.clone()];
        let mut cur = start.clone();
        loop {
            let next = self
                .deps(&cur)
                .find(|d| !done.contains(d.as_str()))
                .expect("a node in a cycle has an unfinished dependency")
                .clone();
            if let Some(i) = path.iter().position(|p| *p == next) {
                let mut cycle = path[i..].to_vec();
                cycle.push(next);
                return cycle;
            }
            path.push(next.clone());
            cur = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first_and_stably() {
        let mut g = Graph::default();
        for n in ["fn", "role", "sg", "rule"] {
            g.add_node(n);
        }
        g.add_edge("fn", "role");
        g.add_edge("fn", "sg");
        g.add_edge("rule", "sg");
        g.add_edge("fn", "missing");
        assert_eq!(g.topo_order().unwrap(), vec!["role", "sg", "fn", "rule"]);
    }

    #[test]
    fn reports_a_cycle_path() {
        let mut g = Graph::default();
        for n in ["a", "b", "c"] {
            g.add_node(n);
        }
        g.add_edge("a", "b");
        g.add_edge("b", "c");
        g.add_edge("c", "b");
        let cycle = g.topo_order().unwrap_err();
        assert_eq!(cycle.first(), cycle.last());
        assert!(cycle.contains(&"b".to_string()) && cycle.contains(&"c".to_string()));
    }
}

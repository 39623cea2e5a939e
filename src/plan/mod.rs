//! The plan as a value: what would change, per address, and why. Built by [`build::plan`] as a pure
//! function of (stack, live state); rendered by [`render`]; executed by the engine.

pub mod build;
pub mod draw;
pub mod graph;
pub mod json;
pub mod render;
pub mod saved;
#[cfg(test)]
mod snapshot_tests;
pub mod step;

use serde::{Deserialize, Serialize};

use crate::stack::Pos;
use crate::value::{IntoShown, List, Shown, Text};

/// What happens to one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    /// Exists untagged under the declared name; apply needs `--adopt`, then tags and reconciles it.
    Adopt,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Adopt => "=",
        }
    }
}

/// One field that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    pub before: Shown,
    pub after: Shown,
    pub forces_replacement: bool,
}

/// One planned change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub action: Action,
    pub fields: Vec<FieldChange>,
    /// Warnings the user must see before saying yes: data loss, outages, waits.
    pub notes: Vec<String>,
    /// Whether applying it deletes data users put in the resource (a database, a pool's users).
    #[serde(default)]
    pub data_loss: bool,
}

impl Change {
    pub fn new(address: impl Into<String>, action: Action) -> Self {
        Change {
            address: address.into(),
            action,
            fields: Vec::new(),
            notes: Vec::new(),
            data_loss: false,
        }
    }
    pub fn note(mut self, n: impl Into<String>) -> Self {
        self.notes.push(n.into());
        self
    }
    pub fn notes_from(mut self, ns: impl IntoIterator<Item = String>) -> Self {
        self.notes.extend(ns);
        self
    }
    pub fn field(&self, path: &str) -> Option<&FieldChange> {
        self.fields.iter().find(|f| f.path == path)
    }
    pub fn changes(&self, path: &str) -> bool {
        self.field(path).is_some()
    }
}

/// Something AWS would reject, caught while planning; names the place in the stack file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    pub address: String,
    pub pos: Pos,
    pub message: String,
}

/// An output whose value the plan changes (Terraform's "Changes to Outputs"): `before` is its
/// value from live AWS now, `after` what it will be after apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub before: Shown,
    pub after: Shown,
}

/// The whole plan: changes sorted by address (the executor has its own order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub stack: String,
    /// The region the live state was read from (empty when the plan was built without AWS).
    #[serde(default)]
    pub region: String,
    /// A plan of `deploy destroy`: every change is a delete of what the stack owns.
    #[serde(default)]
    pub destroy: bool,
    pub changes: Vec<Change>,
    #[serde(default)]
    pub outputs: Vec<OutputChange>,
    /// What the reader must know about the plan as a whole: that --target left parts out, and
    /// safer defaults the file does not ask for (an open database port, unencrypted storage),
    /// shown whether or not anything changes.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// What differs between the file and AWS without being a change (an instance RDS upgraded
    /// to a newer minor of the file's major), shown whether or not anything changes.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Resources being adopted that apply will refuse without `--adopt`.
    #[serde(default)]
    pub needs_adopt: Vec<String>,
    /// Resources that match the stack file but are still becoming ready (an instance an
    /// interrupted apply left `creating`): not changes, but apply waits for them.
    #[serde(default)]
    pub waiting: Vec<Waiting>,
}

/// A resource apply waits for without changing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub address: String,
    /// Its state as read (`creating`, `backing-up`).
    pub status: String,
}

/// Why a change is planned, in one phrase (the JSON plan's `reason`).
pub fn reason(plan: &Plan, c: &Change) -> String {
    let paths = |forcing: bool| {
        c.fields
            .iter()
            .filter(|f| !forcing || f.forces_replacement)
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match c.action {
        Action::Create => "does not exist in AWS".into(),
        Action::Update => format!("differs from the stack file in: {}", paths(false)),
        Action::Replace => format!("AWS cannot change in place: {}", paths(true)),
        Action::Delete if plan.destroy => "deploy destroy deletes what the stack owns".into(),
        Action::Delete => "owned by the stack but not in the stack file".into(),
        Action::Adopt => "exists without this stack's tag under a declared name".into(),
    }
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub adopt: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::Adopt => s.adopt += 1,
            }
        }
        s
    }
}

/// Collects the field differences of one resource. A desired value of `None` means the file does
/// not manage that field: it is never diffed (CloudFormation's drift rule), so AWS defaults and
/// console changes to unmanaged fields do not show up as perpetual changes.
#[derive(Debug, Default)]
pub struct Diff {
    pub fields: Vec<FieldChange>,
}

impl Diff {
    pub fn new() -> Self {
        Diff::default()
    }

    /// Compares a managed value with what AWS reports. `before: None` means AWS reported nothing.
    pub fn value<T: PartialEq + IntoShown>(
        &mut self,
        path: &str,
        before: Option<T>,
        after: Option<T>,
        forces_replacement: bool,
    ) {
        let Some(after) = after else { return };
        if before.as_ref() == Some(&after) {
            return;
        }
        self.fields.push(FieldChange {
            path: path.into(),
            before: Shown::opt(before),
            after: Shown::value(after),
            forces_replacement,
        });
    }

    /// Compares a resolved text. An unknown desired value always counts as a change, since the
    /// live value is about to be replaced by something only apply will know.
    pub fn text(
        &mut self,
        path: &str,
        before: Option<&str>,
        after: &Text,
        forces_replacement: bool,
    ) {
        if after.is_known() && after.expose() == before {
            return;
        }
        let before = if after.is_secret() {
            if before.is_some() {
                Shown::Sensitive
            } else {
                Shown::Absent
            }
        } else {
            Shown::opt(before)
        };
        self.fields.push(FieldChange {
            path: path.into(),
            before,
            after: after.shown(),
            forces_replacement,
        });
    }

    /// Records a change whose values are already display-safe.
    pub fn shown(&mut self, path: &str, before: Shown, after: Shown, forces_replacement: bool) {
        if before != after {
            self.fields.push(FieldChange {
                path: path.into(),
                before,
                after,
                forces_replacement,
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
    pub fn forces_replacement(&self) -> bool {
        self.fields.iter().any(|f| f.forces_replacement)
    }

    /// Turns the differences of an existing resource into a change: none, update, or replace.
    pub fn into_change(self, address: &str) -> Option<Change> {
        if self.fields.is_empty() {
            return None;
        }
        let action = if self.forces_replacement() {
            Action::Replace
        } else {
            Action::Update
        };
        Some(Change {
            address: address.into(),
            action,
            fields: self.fields,
            notes: Vec::new(),
            data_loss: false,
        })
    }

    /// A change for a resource that does not exist yet: every managed field, from nothing.
    pub fn into_create(self, address: &str) -> Change {
        let fields = self
            .fields
            .into_iter()
            .map(|mut f| {
                f.before = Shown::Absent;
                f.forces_replacement = false;
                f
            })
            .collect();
        Change {
            address: address.into(),
            action: Action::Create,
            fields,
            notes: Vec::new(),
            data_loss: false,
        }
    }
}

/// A list of strings for a plan field (callers sort when order does not matter).
pub fn list<T: AsRef<str>>(items: &[T]) -> List {
    List(items.iter().map(|s| s.as_ref().to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmanaged_fields_are_not_diffed() {
        let mut d = Diff::new();
        d.value::<i32>("port", Some(5432), None, false);
        d.value("class", Some("db.t3.micro"), Some("db.t3.micro"), false);
        assert!(d.into_change("x").is_none());
    }

    #[test]
    fn a_forcing_field_makes_a_replace() {
        let mut d = Diff::new();
        d.value("a", Some(1), Some(2), false);
        d.value("b", Some("x"), Some("y"), true);
        let c = d.into_change("x").unwrap();
        assert_eq!(c.action, Action::Replace);
        assert_eq!(c.fields.len(), 2);
    }

    #[test]
    fn secrets_are_masked_on_both_sides() {
        let mut d = Diff::new();
        d.text(
            "env.URL",
            Some("old-secret"),
            &Text::secret("new-secret"),
            false,
        );
        let c = d.into_change("x").unwrap();
        assert_eq!(c.fields[0].before, Shown::Sensitive);
        assert_eq!(c.fields[0].after, Shown::Sensitive);
        let mut d = Diff::new();
        d.text("env.URL", Some("same"), &Text::secret("same"), false);
        assert!(d.is_empty());
    }
}

//! The human plan. Rendering never decides anything; it only formats a [`Plan`].

use std::fmt::Write;

use super::{Action, Plan};
use crate::value::Shown;

/// Terminal colours, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn action(&self, a: Action, s: &str) -> String {
        let code = match a {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
            Action::Adopt => "36",
        };
        self.paint(code, s)
    }
}

/// The legend's words; the summary line uses the same verbs.
fn verb(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update in place",
        Action::Replace => "replace (AWS cannot change it in place)",
        Action::Delete => "delete",
        Action::Adopt => "adopt (take over an existing, untagged resource)",
    }
}

/// `1 db instance`, `9 changes`, `6 addresses`: a count with its noun, singular or plural.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if ["s", "x", "sh", "ch"].iter().any(|e| noun.ends_with(e)) {
        format!("{n} {noun}es")
    } else {
        format!("{n} {noun}s")
    }
}

/// The plan as text: legend for the symbols used, one block per change, the changes to outputs,
/// and the summary line.
pub fn render(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("No changes. Live AWS matches stack.yaml.\n");
        warnings(plan, style, &mut out);
        return out;
    }
    let _ = writeln!(out, "Stack `{}`: symbols used below:", plan.stack);
    let mut used: Vec<Action> = plan.changes.iter().map(|c| c.action).collect();
    used.sort();
    used.dedup();
    for a in used {
        let _ = writeln!(
            out,
            "  {} {}",
            style.action(a, &format!("{:>3}", a.symbol())),
            verb(a)
        );
    }
    out.push('\n');
    for c in &plan.changes {
        let _ = writeln!(
            out,
            "{} {}",
            style.action(c.action, &format!("{:>3}", c.action.symbol())),
            style.paint("1", &c.address)
        );
        let width = c.fields.iter().map(|f| f.path.len()).max().unwrap_or(0);
        for f in &c.fields {
            let value = match c.action {
                Action::Create => format!("{}", f.after),
                Action::Delete => format!("{}", f.before),
                _ => format!("{} -> {}", f.before, f.after),
            };
            let forces = if f.forces_replacement {
                style.paint("31", "  # forces replacement")
            } else {
                String::new()
            };
            let _ = writeln!(out, "      {:width$} = {value}{forces}", f.path);
        }
        for n in &c.notes {
            let _ = writeln!(out, "      {} {n}", style.paint("33", "!"));
        }
    }
    if !plan.outputs.is_empty() {
        out.push_str("\nChanges to Outputs:\n");
        let width = plan.outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in &plan.outputs {
            let (action, value) = match (&o.before, &o.after) {
                (Shown::Absent, after) => (Action::Create, after.to_string()),
                (before, Shown::Absent) => (Action::Delete, before.to_string()),
                (before, after) => (Action::Update, format!("{before} -> {after}")),
            };
            let _ = writeln!(
                out,
                "{} {:width$} = {value}",
                style.action(action, &format!("{:>3}", action.symbol())),
                o.name
            );
        }
    }
    out.push('\n');
    out.push_str(&summary_line(plan));
    out.push('\n');
    warnings(plan, style, &mut out);
    out
}

fn warnings(plan: &Plan, style: Style, out: &mut String) {
    for w in &plan.waiting {
        let _ = writeln!(
            out,
            "{} {} is still {}: not a change, but `deploy apply` waits until it is ready",
            style.paint("36", "Waiting:"),
            w.address,
            w.status
        );
    }
    for n in &plan.notes {
        let _ = writeln!(out, "{} {n}", style.paint("36", "Note:"));
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "{} {w}", style.paint("33", "Warning:"));
    }
}

/// `Plan: 3 to create, 1 to update, 0 to replace, 0 to delete.` (plus adoptions when there are any)
pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    let mut line = format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete",
        s.create, s.update, s.replace, s.delete
    );
    if s.adopt > 0 {
        let _ = write!(line, ", {} to adopt", s.adopt);
    }
    line.push('.');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, FieldChange};
    use crate::value::Shown;

    fn plan() -> Plan {
        let mut up = Change::new("security_groups.db.ingress.GITPOD", Action::Update);
        up.fields.push(FieldChange {
            path: "cidr".into(),
            before: Shown::value("1.2.3.4/32"),
            after: Shown::value("5.6.7.8/32"),
            forces_replacement: false,
        });
        let mut cr = Change::new("functions.f", Action::Create);
        cr.fields.push(FieldChange {
            path: "environment.URL".into(),
            before: Shown::Absent,
            after: Shown::Sensitive,
            forces_replacement: false,
        });
        let del = Change::new("functions.old", Action::Delete).note("not in stack.yaml");
        Plan {
            stack: "s".into(),
            changes: vec![cr, del, up],
            ..Default::default()
        }
    }

    #[test]
    fn counts_are_plural_in_english() {
        assert_eq!(count(1, "address"), "1 address");
        assert_eq!(count(6, "address"), "6 addresses");
        assert_eq!(count(0, "db instance"), "0 db instances");
        assert_eq!(count(2, "change"), "2 changes");
    }

    #[test]
    fn an_instance_still_creating_is_shown_though_it_is_not_a_change() {
        let mut p = Plan {
            stack: "s".into(),
            ..Default::default()
        };
        p.waiting = vec![crate::plan::Waiting {
            address: "db_instances.db".into(),
            status: "creating".into(),
        }];
        let text = render(&p, Style { color: false });
        assert!(text.starts_with("No changes."), "{text}");
        assert!(
            text.contains(
                "Waiting: db_instances.db is still creating: not a change, but `deploy apply` waits until it is ready"
            ),
            "{text}"
        );
    }

    #[test]
    fn warnings_follow_the_summary_and_show_without_changes() {
        let mut p = plan();
        p.warnings = vec!["db_instances.d: storage_encrypted is not set".into()];
        let text = render(&p, Style { color: false });
        assert!(
            text.ends_with("delete.\nWarning: db_instances.d: storage_encrypted is not set\n"),
            "{text}"
        );
        p.changes.clear();
        let text = render(&p, Style { color: false });
        assert!(
            text.contains("No changes") && text.contains("Warning: "),
            "{text}"
        );
    }

    #[test]
    fn renders_changes_fields_and_summary() {
        let text = render(&plan(), Style { color: false });
        assert!(text.contains("  ~ security_groups.db.ingress.GITPOD\n      cidr = \"1.2.3.4/32\" -> \"5.6.7.8/32\"\n"), "{text}");
        assert!(text.contains("environment.URL = (sensitive)"), "{text}");
        assert!(
            text.contains("  - functions.old\n      ! not in stack.yaml"),
            "{text}"
        );
        assert!(
            text.ends_with("Plan: 1 to create, 1 to update, 0 to replace, 1 to delete.\n"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn legend_and_summary_use_the_same_verbs_and_counts_agree_in_number() {
        let text = render(&plan(), Style { color: false });
        assert!(text.contains("  - delete\n"), "{text}");
        assert!(!text.contains("destroy"), "{text}");
        assert_eq!(count(1, "db instance"), "1 db instance");
        assert_eq!(count(9, "change"), "9 changes");
        assert_eq!(count(0, "output"), "0 outputs");
    }

    #[test]
    fn output_changes_are_shown_after_the_resources() {
        let mut p = plan();
        p.outputs = vec![
            crate::plan::OutputChange {
                name: "USER_POOL_ID".into(),
                before: Shown::value("us-east-1_old"),
                after: Shown::Unknown,
            },
            crate::plan::OutputChange {
                name: "DB_URL".into(),
                before: Shown::Absent,
                after: Shown::Sensitive,
            },
        ];
        let text = render(&p, Style { color: false });
        assert!(
            text.contains("\nChanges to Outputs:\n  ~ USER_POOL_ID = \"us-east-1_old\" -> (known after apply)\n  + DB_URL       = (sensitive)\n"),
            "{text}"
        );
    }

    #[test]
    fn empty_plan_says_no_changes() {
        let p = Plan::default();
        assert_eq!(
            render(&p, Style { color: true }),
            "No changes. Live AWS matches stack.yaml.\n"
        );
    }
}

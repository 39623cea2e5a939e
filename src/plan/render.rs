//! The human plan. Rendering never decides anything; it only formats a [`Plan`].

use std::fmt::Write;

use super::{Action, Plan};

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

fn verb(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update in place",
        Action::Replace => "destroy and create replacement",
        Action::Delete => "destroy",
        Action::Adopt => "adopt (take over an existing, untagged resource)",
    }
}

/// The plan as text: legend for the symbols used, one block per change, and the summary line.
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
    out.push('\n');
    out.push_str(&summary_line(plan));
    out.push('\n');
    warnings(plan, style, &mut out);
    out
}

fn warnings(plan: &Plan, style: Style, out: &mut String) {
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
            needs_adopt: vec![],
            warnings: vec![],
        }
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
    fn empty_plan_says_no_changes() {
        let p = Plan::default();
        assert_eq!(
            render(&p, Style { color: true }),
            "No changes. Live AWS matches stack.yaml.\n"
        );
    }
}

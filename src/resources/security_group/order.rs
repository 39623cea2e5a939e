//! The security-group kind's ordering rules (planner passes, see `crate::plan::build::PASSES`).

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::step::{Part, PassInput, Step, StepId};
use crate::plan::{Action, Change, PlanError};
use crate::resources::{self, Key, Observed};
use crate::stack::Stack;

/// A group is replaced by deleting it first (its name is fixed within its VPC), and EC2 refuses
/// to delete a group while anything uses it. So before the replace: what this plan deletes or
/// moves off the group goes first; a rule of another group that names it as its source is
/// revoked (a hidden step, `<rule> (old)`) and authorized again once the new group exists (the
/// plan shows the rule replaced); the group's own unlisted rules are revoked while it still
/// exists. A db instance or function that keeps using the group cannot let go of it, so that
/// is a plan error saying how to get there.
pub fn let_go_of_replaced_groups(steps: &mut Vec<Step>, input: &PassInput<'_>) -> Vec<PlanError> {
    let PassInput {
        stack,
        found,
        defs,
        refs,
    } = *input;
    let replaced: Vec<(String, String, String)> = steps
        .iter()
        .filter(|s| s.desired && s.change.action == Action::Replace)
        .filter_map(|s| match (&s.key, &s.observed) {
            (Key::Group(name), Some(Observed::Group(o))) => {
                Some((s.id.address.clone(), name.clone(), o.id.clone()))
            }
            _ => None,
        })
        .collect();
    let mut errors = Vec::new();
    if replaced.is_empty() {
        return errors;
    }
    let deps: BTreeMap<&str, &[String]> = defs
        .iter()
        .map(|d| (d.address.as_str(), d.deps.as_slice()))
        .collect();
    let step_of = |steps: &[Step], a: &str| {
        steps
            .iter()
            .position(|s| s.id.is(a))
            .map(|i| (i, steps[i].desired))
    };
    let mut after: Vec<(StepId, StepId)> = Vec::new();
    let mut split: BTreeSet<String> = BTreeSet::new();
    for (gaddr, gname, gid) in &replaced {
        let group = StepId::node(gaddr.clone());
        // Steps whose live state holds the group (their own or their deleted children's).
        for (other, r) in refs {
            if other.is(gaddr) || !r.contains(gid) || other.part != Part::Node {
                continue;
            }
            match step_of(&steps[..], &other.address) {
                Some((i, true)) => match &steps[i].key {
                    Key::Rule { group, .. } if group == gname => {}
                    Key::Rule { .. } => {
                        split.insert(other.address.clone());
                    }
                    _ => {}
                },
                Some((_, false)) => after.push((group.clone(), other.clone())),
                None => {}
            }
        }
        // The group's unlisted rules are revoked from the old group, before it goes.
        for s in steps.iter() {
            if !s.desired && matches!(&s.key, Key::Rule { group, .. } if group == gname) {
                after.push((group.clone(), s.id.clone()));
            }
        }
        // What uses the group and has no step that lets go of it.
        for f in found.iter().filter(|f| f.observed.refs().contains(gid)) {
            let step = step_of(&steps[..], &f.address);
            let still = deps
                .get(f.address.as_str())
                .is_some_and(|d| d.contains(gaddr));
            match (&f.key, step) {
                (_, Some((_, false))) => {}
                (Key::Rule { group, .. }, _) if group == gname => {}
                (Key::Rule { .. }, Some(_)) => {}
                // It goes with its group, whose delete the plan orders first.
                (k, None) if parent(k).is_some_and(|p| matches!(step_of(&steps[..], &p), Some((_, false)))) => {}
                (Key::Rule { .. }, None) => errors.push(PlanError {
                    address: gaddr.clone(),
                    pos: stack.security_groups[gname].pos,
                    message: format!(
                        "is replaced, and {} names it as its source but is left out by --target: add it to the targets",
                        f.address
                    ),
                }),
                (_, Some(_)) if !still => after.push((group.clone(), StepId::node(f.address.clone()))),
                _ => errors.push(in_use_error(stack, steps, gaddr, gname, &f.address)),
            }
        }
    }
    for addr in split {
        let i = steps.iter().position(|s| s.id.is(&addr)).expect("a step");
        let Key::Rule { group, .. } = steps[i].key.clone() else {
            continue;
        };
        let observed = steps[i].observed.take();
        let old = StepId::old_rule(addr.clone());
        let change = observed
            .as_ref()
            .and_then(|o| {
                resources::diff(&old.to_string(), None, Some(o))
                    .ok()
                    .flatten()
            })
            .unwrap_or_else(|| Change::new(old.to_string(), Action::Delete));
        let holders: Vec<&String> = replaced
            .iter()
            .filter(|(_, _, gid)| observed.as_ref().is_some_and(|o| o.refs().contains(gid)))
            .map(|(a, _, _)| a)
            .collect();
        let step = &mut steps[i];
        step.change.action = Action::Replace;
        for f in &mut step.change.fields {
            if f.path == "source_group" {
                f.forces_replacement = true;
            }
        }
        step.change.notes.push(format!(
            "revoked before {} is deleted (EC2 refuses to delete a group a rule names), and authorized again once it is created",
            holders.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" and ")
        ));
        for h in holders {
            after.push((StepId::node(h.clone()), old.clone()));
        }
        // The rule's own group, when replaced too, goes after the revoke.
        let own = super::group_address(&group);
        if replaced.iter().any(|(a, _, _)| *a == own) {
            after.push((StepId::node(own), old.clone()));
        }
        let key = steps[i].key.clone();
        steps.push(Step {
            id: old,
            key,
            after: Vec::new(),
            observed,
            desired: false,
            change,
        });
    }
    for (step, dep) in after {
        if let Some(s) = steps.iter_mut().find(|s| s.id == step)
            && !s.after.contains(&dep)
        {
            s.after.push(dep);
        }
    }
    errors
}

/// A db instance or function that keeps using a group the plan would replace: EC2 refuses to
/// delete the group while it is used, and the new group cannot exist next to it under the same
/// name.
fn in_use_error(stack: &Stack, steps: &[Step], gaddr: &str, gname: &str, user: &str) -> PlanError {
    let forcing: Vec<String> = steps
        .iter()
        .find(|s| s.id.is(gaddr))
        .map(|s| {
            s.change
                .fields
                .iter()
                .filter(|f| f.forces_replacement)
                .map(|f| format!("{} (now {})", f.path, f.before))
                .collect()
        })
        .unwrap_or_default();
    PlanError {
        address: gaddr.to_string(),
        pos: stack.security_groups[gname].pos,
        message: format!(
            "cannot be replaced while {user} uses it: AWS cannot change a group's {} in place, so the group would have to be deleted and created again, and EC2 refuses to delete a group in use (the group's name is fixed, so the new one cannot be made first). Either keep {} as it is in AWS, or give the group a new name in stack.yaml (and where {user} names it): deploy then creates the new group, moves {user} to it, and deletes the old one",
            forcing
                .iter()
                .map(|f| f.split(' ').next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" or "),
            forcing.join(" and "),
        ),
    }
}

/// Within a group, revoke before authorize: a new rule may carry a permission an old one
/// still holds, which AWS refuses as a duplicate.
// A `Pass` (plan::step): one pass adds steps, so they all take the Vec.
#[allow(clippy::ptr_arg)]
pub fn revokes_before_authorizes(steps: &mut Vec<Step>, _: &PassInput<'_>) -> Vec<PlanError> {
    let rule_deletes: Vec<(String, StepId)> = steps
        .iter()
        .filter(|s| s.change.action == Action::Delete)
        .filter_map(|s| match &s.key {
            Key::Rule { group, .. } => Some((group.clone(), s.id.clone())),
            _ => None,
        })
        .collect();
    for step in steps
        .iter_mut()
        .filter(|s| matches!(s.change.action, Action::Create | Action::Replace))
    {
        if let Key::Rule { group, .. } = &step.key {
            step.after.extend(
                rule_deletes
                    .iter()
                    .filter(|(g, _)| g == group)
                    .map(|(_, a)| a.clone()),
            );
        }
    }
    Vec::new()
}

/// The group whose deletion removes this node too (a rule's).
fn parent(key: &Key) -> Option<String> {
    match key {
        Key::Rule { group, .. } => Some(super::group_address(group)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::step::run_pass;

    fn rule(group: &str, label: &str, action: Action) -> Step {
        let address = format!("security_groups.{group}.ingress.{label}");
        Step {
            id: StepId::node(address.clone()),
            key: Key::Rule {
                group: group.into(),
                description: label.into(),
            },
            after: Vec::new(),
            observed: None,
            desired: action != Action::Delete,
            change: Change::new(address, action),
        }
    }

    #[test]
    fn a_groups_new_rules_wait_for_its_revokes_and_no_other_groups() {
        let mut steps = vec![
            rule("db", "OLD", Action::Delete),
            rule("db", "NEW", Action::Create),
            rule("db", "MOVED", Action::Replace),
            rule("app", "OTHER", Action::Create),
        ];
        run_pass(revokes_before_authorizes, &mut steps, &[]);
        let old = StepId::node("security_groups.db.ingress.OLD");
        assert!(steps[0].after.is_empty());
        assert_eq!(steps[1].after, vec![old.clone()]);
        assert_eq!(steps[2].after, vec![old]);
        assert!(steps[3].after.is_empty());
    }
}

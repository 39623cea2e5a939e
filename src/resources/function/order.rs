//! The function kind's ordering rules (planner passes, see `crate::plan::build::PASSES`): a
//! function, its execution role and the network interfaces Lambda keeps for it in a VPC.

use std::collections::BTreeMap;

use super::VPC_ACCESS_POLICY;
use crate::plan::PlanError;
use crate::plan::step::{PassInput, Step, StepId};
use crate::resources::{Key, Observed};

/// A function leaving its VPC: its role keeps the ENI permissions until the function is out
/// (Lambda releases the interfaces with the role), so that role update comes after it.
// A `Pass` (plan::step): one pass adds steps, so they all take the Vec.
#[allow(clippy::ptr_arg)]
pub fn role_waits_for_its_function_leaving_a_vpc(
    steps: &mut Vec<Step>,
    _: &PassInput<'_>,
) -> Vec<PlanError> {
    let leaving: Vec<(StepId, StepId)> = steps
        .iter()
        .filter(|s| s.desired)
        .filter_map(|s| match &s.key {
            Key::Role(function) => Some((s, function)),
            _ => None,
        })
        .filter(|(s, _)| {
            s.change.field("policies").is_some_and(|f| {
                let has = |v: &crate::value::Shown| v.to_string().contains(VPC_ACCESS_POLICY);
                has(&f.before) && !has(&f.after)
            })
        })
        .filter_map(|(role, function)| {
            let f = Key::Function(function.clone());
            steps
                .iter()
                .find(|s| s.key == f)
                .map(|f| (role.id.clone(), f.id.clone()))
        })
        .collect();
    for (role, function) in &leaving {
        for step in steps.iter_mut() {
            if &step.id == function {
                step.after.retain(|a| a != role);
            } else if &step.id == role {
                step.after.push(function.clone());
            }
        }
    }
    Vec::new()
}

/// Lambda releases a VPC function's network interfaces with the function's execution
/// role, so a role being deleted outlives the deletion of the groups its functions used: otherwise
/// the interfaces can stay behind and hold those groups.
// A `Pass` (plan::step): one pass adds steps, so they all take the Vec.
#[allow(clippy::ptr_arg)]
pub fn roles_outlive_their_functions_groups(
    steps: &mut Vec<Step>,
    _: &PassInput<'_>,
) -> Vec<PlanError> {
    let group_deletes: BTreeMap<String, StepId> = steps
        .iter()
        .filter(|s| !s.desired && matches!(s.key, Key::Group(_)))
        .filter_map(|s| {
            s.observed
                .as_ref()
                .map(|o| (o.physical_ids().concat(), s.id.clone()))
        })
        .collect();
    let role_holds: Vec<(String, Vec<StepId>)> = steps
        .iter()
        .filter_map(|s| match &s.observed {
            Some(Observed::Function(f)) => Some((
                f.role.clone(),
                f.security_groups
                    .iter()
                    .filter_map(|g| group_deletes.get(g).cloned())
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    for step in steps
        .iter_mut()
        .filter(|s| !s.desired && matches!(s.key, Key::Role(_)))
    {
        let ids = step
            .observed
            .as_ref()
            .map(Observed::physical_ids)
            .unwrap_or_default();
        for (role, groups) in &role_holds {
            if ids.contains(role) {
                step.after.extend(groups.iter().cloned());
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::step::run_pass;
    use crate::plan::{Action, Change, FieldChange};
    use crate::value::Shown;

    fn step(key: Key, address: &str, change: Change, after: Vec<StepId>) -> Step {
        Step {
            id: StepId::node(address),
            key,
            after,
            observed: None,
            desired: true,
            change,
        }
    }

    fn role_change(before: &str, after: &str) -> Change {
        let mut c = Change::new("functions.f.role", Action::Update);
        c.fields.push(FieldChange {
            path: "policies".into(),
            before: Shown::List(vec![format!("arn:aws:{before}")]),
            after: Shown::List(vec![format!("arn:aws:{after}")]),
            forces_replacement: false,
        });
        c
    }

    fn run(role: Change) -> Vec<Step> {
        let mut steps = vec![
            step(Key::Role("f".into()), "functions.f.role", role, vec![]),
            step(
                Key::Function("f".into()),
                "functions.f",
                Change::new("functions.f", Action::Update),
                vec![StepId::node("functions.f.role")],
            ),
        ];
        run_pass(role_waits_for_its_function_leaving_a_vpc, &mut steps, &[]);
        steps
    }

    #[test]
    fn a_role_losing_the_vpc_policy_waits_for_its_function_to_leave_the_vpc() {
        let steps = run(role_change(VPC_ACCESS_POLICY, super::super::BASIC_POLICY));
        assert_eq!(steps[0].after, vec![StepId::node("functions.f")]);
        assert!(steps[1].after.is_empty(), "{:?}", steps[1].after);
    }

    #[test]
    fn a_role_keeping_or_gaining_the_vpc_policy_goes_first() {
        for (before, after) in [
            (super::super::BASIC_POLICY, VPC_ACCESS_POLICY),
            (VPC_ACCESS_POLICY, VPC_ACCESS_POLICY),
        ] {
            let steps = run(role_change(before, after));
            assert!(steps[0].after.is_empty());
            assert_eq!(steps[1].after, vec![StepId::node("functions.f.role")]);
        }
    }
}

//! Planning: a pure function of (stack, live state) to a list of changes in dependency order.

use std::collections::{BTreeMap, BTreeSet};

use super::graph::Graph;
pub use super::step::{Part, Pass, PassInput, Step, StepId};
use super::{Action, Change, OutputChange, Plan, PlanError};
use crate::resources::{self, Found, Key, LiveEnv, NodeDef, Observed, function, security_group};
use crate::stack::{Pos, Resolver, Stack};
use crate::value::{Shown, Text};

/// Everything the planner reads.
pub struct Input<'a> {
    pub stack: &'a Stack,
    pub found: &'a [Found],
    pub env: &'a LiveEnv,
    pub public_ip: Option<String>,
    /// Plan the deletion of everything this stack owns.
    pub destroy: bool,
    /// `--target`: limit the plan to these addresses (and their prefixes' children) and what
    /// they depend on; for destroy, to them and what depends on them. Empty: everything.
    pub targets: &'a [String],
}

/// A plan and what executing it needs.
#[derive(Clone, Debug)]
pub struct Planned {
    pub plan: Plan,
    /// In a valid execution order.
    pub steps: Vec<Step>,
    /// Attributes of every resource as far as known before apply (unknown for creates/replaces).
    pub resolver: Resolver,
}

/// The ordering passes, in the order they run: each adds (or drops) `after` edges for one
/// reason. The first three hold for every kind; the others are rules a kind contributes from its
/// folder (`resources/<kind>/order.rs`).
pub const PASSES: &[(&str, Pass)] = &[
    ("deletes wait for referrers", deletes_wait_for_referrers),
    (
        "replaces wait for referrer deletes",
        replaces_wait_for_referrer_deletes,
    ),
    (
        "updates keeping attributes hold nothing up",
        updates_keeping_attributes_hold_nothing_up,
    ),
    (
        "let go of replaced groups",
        security_group::order::let_go_of_replaced_groups,
    ),
    (
        "revokes before authorizes",
        security_group::order::revokes_before_authorizes,
    ),
    (
        "roles wait for functions leaving a VPC",
        function::order::role_waits_for_its_function_leaving_a_vpc,
    ),
    (
        "roles outlive their functions' groups",
        function::order::roles_outlive_their_functions_groups,
    ),
];

pub fn plan(input: &Input<'_>) -> Result<Planned, Vec<PlanError>> {
    let stack = input.stack;
    let defs: Vec<NodeDef> = if input.destroy {
        Vec::new()
    } else {
        resources::nodes(stack)
    };
    let found: BTreeMap<&str, &Found> = input
        .found
        .iter()
        .map(|f| (f.address.as_str(), f))
        .collect();
    let mut errors = if input.destroy {
        Vec::new()
    } else {
        resources::check(stack)
    };

    // Desired nodes in dependency order, so each spec sees its dependencies' attributes.
    let mut g = Graph::default();
    for d in &defs {
        g.add_node(&d.address);
        for dep in &d.deps {
            g.add_edge(&d.address, dep);
        }
    }
    let order = g.topo_order().map_err(|cycle| {
        vec![PlanError {
            address: cycle[0].clone(),
            pos: Pos::default(),
            message: format!("dependency cycle: {}", cycle.join(" -> ")),
        }]
    })?;
    let scope = scope(input, &defs)?;
    let in_scope = |a: &str| scope.as_ref().is_none_or(|s| s.contains(a));
    let order: Vec<String> = order.into_iter().filter(|a| in_scope(a)).collect();
    let by_addr: BTreeMap<&str, &NodeDef> = defs.iter().map(|d| (d.address.as_str(), d)).collect();

    let Desired {
        mut steps,
        resolver,
        mut warnings,
        notes,
        errors: desired_errors,
    } = desired_steps(input, &order, &by_addr, &found);
    errors.extend(desired_errors);
    let (orphans, inherited, orphan_errors) = orphan_steps(input, &defs, &found, &in_scope);
    steps.extend(orphans);
    errors.extend(orphan_errors);
    if !errors.is_empty() {
        // A problem the offline checks found (a folder's) is found again by the spec: say it once.
        let mut seen = BTreeSet::new();
        errors.retain(|e| seen.insert((e.address.clone(), e.message.clone())));
        return Err(errors);
    }

    let refs = live_refs(&steps, &inherited);
    let pass_input = PassInput {
        stack,
        found: input.found,
        defs: &defs,
        refs: &refs,
    };
    for (name, pass) in PASSES {
        let errors = pass(&mut steps, &pass_input);
        if !errors.is_empty() {
            tracing::debug!("ordering pass `{name}` refused the plan");
            return Err(errors);
        }
    }
    let mut steps = execution_order(steps)?;

    for s in &mut steps {
        mask_secrets(&mut s.change);
        s.change.data_loss =
            s.key.holds_data() && matches!(s.change.action, Action::Delete | Action::Replace);
    }
    let mut changes: Vec<Change> = steps
        .iter()
        .filter(|s| s.id.part == Part::Node)
        .map(|s| s.change.clone())
        .collect();
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let needs_adopt = changes
        .iter()
        .filter(|c| c.action == Action::Adopt)
        .map(|c| c.address.clone())
        .collect();
    // In scope, declared, unchanged, but not ready: apply has nothing to change and still must
    // not end before it (what depends on it, such as migrations, may need it ready).
    let waiting = order
        .iter()
        .filter(|a| !steps.iter().any(|s| s.id.is(a)))
        .filter_map(|a| match found.get(a.as_str()).map(|f| &f.observed) {
            Some(o @ Observed::DbInstance(db)) if !o.ready() => Some(super::Waiting {
                address: a.clone(),
                status: db.status.clone(),
            }),
            _ => None,
        })
        .collect();
    for (name, t) in &stack.outputs {
        warnings.extend(resources::unencoded_userinfo(&format!("outputs.{name}"), t));
    }
    let mut outputs = output_changes(stack, input, &resolver);
    if let Some(scope) = &scope {
        // An output naming a resource outside the scope was not planned: leave it out.
        outputs.retain(|o| {
            stack.outputs[&o.name]
                .refs()
                .all(|r| scope.contains(&r.address()))
        });
        warnings.push(format!(
            "--target {}: only {} {} planned; the rest of the stack was not looked at, so this is not everything that differs from the stack file",
            input.targets.join(", "),
            super::render::count(scope.len(), "address"),
            if input.destroy {
                "(the targets and what depends on them) were"
            } else {
                "(the targets and what they depend on) were"
            }
        ));
    }
    Ok(Planned {
        plan: Plan {
            stack: stack.name.clone(),
            region: input.env.region.clone(),
            destroy: input.destroy,
            changes,
            outputs,
            warnings,
            notes,
            needs_adopt,
            waiting,
        },
        steps,
        resolver,
    })
}

/// What the desired pass yields: the steps of the file's nodes, and what planning them found.
struct Desired {
    steps: Vec<Step>,
    resolver: Resolver,
    warnings: Vec<String>,
    notes: Vec<String>,
    errors: Vec<PlanError>,
}

/// Pass 1, desired nodes: each node of the file in dependency order (so each spec sees its
/// dependencies' attributes), diffed against what was found; adoption refusals are errors.
fn desired_steps(
    input: &Input<'_>,
    order: &[String],
    by_addr: &BTreeMap<&str, &NodeDef>,
    found: &BTreeMap<&str, &Found>,
) -> Desired {
    let stack = input.stack;
    let mut resolver = Resolver {
        public_ip: input.public_ip.clone(),
        ..Default::default()
    };
    let mut steps: Vec<Step> = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    for addr in order {
        let def = by_addr[addr.as_str()];
        let spec = resources::spec(stack, &def.key, &resolver, input.env);
        warnings.extend(resources::warnings(stack, addr, &spec));
        let observed = found.get(addr.as_str()).map(|f| &f.observed);
        notes.extend(resources::notes(addr, &spec, observed));
        match resources::diff(addr, Some(&spec), observed) {
            Err(e) => errors.push(e),
            Ok(Some(c))
                if c.action == Action::Adopt && c.fields.iter().any(|f| f.forces_replacement) =>
            {
                errors.push(PlanError {
                    address: addr.clone(),
                    pos: Pos::default(),
                    message: format!(
                        "exists without this stack's tag and differs in what AWS cannot change in place ({}): adopting it would mean replacing it. Make stack.yaml match it, or delete it yourself",
                        c.fields
                            .iter()
                            .filter(|f| f.forces_replacement)
                            .map(|f| f.path.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            Ok(Some(c))
                if c.action == Action::Adopt
                    && observed
                        .and_then(Observed::owner)
                        .is_some_and(|o| o != stack.name) =>
            {
                let owner = observed.and_then(Observed::owner).unwrap_or_default();
                errors.push(PlanError {
                    address: addr.clone(),
                    pos: Pos::default(),
                    message: format!(
                        "exists and belongs to stack `{owner}` (it is tagged deploy:stack={owner}): --adopt only takes resources no stack owns. Remove it from this stack.yaml, or from stack `{owner}` first"
                    ),
                });
            }
            Ok(change) => {
                let fresh = matches!(
                    change.as_ref().map(|c| c.action),
                    Some(Action::Create | Action::Replace)
                );
                if fresh || observed.is_none() {
                    let names = Observed::attr_names(&def.key);
                    resolver.set(addr, names.iter().map(|n| (*n, None)).collect());
                } else if let Some(o) = observed {
                    let mut attrs = o.attrs();
                    if let Some(c) = change.as_ref().filter(|c| c.action == Action::Update) {
                        let renewed = resources::attrs_changed_by(&def.key, c);
                        for (name, value) in &mut attrs {
                            if renewed.contains(name) {
                                *value = None;
                            }
                        }
                    }
                    resolver.set(addr, attrs);
                }
                if let Some(change) = change {
                    steps.push(Step {
                        id: StepId::node(addr.clone()),
                        key: def.key.clone(),
                        after: def.deps.iter().map(StepId::node).collect(),
                        observed: observed.cloned(),
                        desired: true,
                        change,
                    });
                }
            }
        }
    }
    Desired {
        steps,
        resolver,
        warnings,
        notes,
        errors,
    }
}

/// Pass 2, orphans: What the stack owns but no longer declares (or everything it owns, for
/// destroy). A rule deleted with its group is no step of its own; what it points at is handed to
/// the group's delete (the second value, by address).
fn orphan_steps(
    input: &Input<'_>,
    defs: &[NodeDef],
    found: &BTreeMap<&str, &Found>,
    in_scope: &dyn Fn(&str) -> bool,
) -> (Vec<Step>, BTreeMap<String, Vec<String>>, Vec<PlanError>) {
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    let desired: BTreeSet<&str> = defs.iter().map(|d| d.address.as_str()).collect();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    let mut orphans: Vec<&Found> = input
        .found
        .iter()
        .filter(|f| !desired.contains(f.address.as_str()))
        .filter(|f| owned(f, found) || adopted_rule(f, found, &desired, input.destroy))
        .filter(|f| in_scope(&f.address))
        .collect();
    orphans.sort_by(|a, b| a.address.cmp(&b.address));
    for f in &orphans {
        deleted.insert(f.address.clone());
    }
    // What skipped children point at still holds up their parent's delete: a group whose rule
    // names another group as source must go before that other group.
    let mut inherited: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in orphans {
        // Deleting a group takes its rules with it.
        if let Some(p) = parent(&f.key).filter(|p| deleted.contains(p)) {
            inherited.entry(p).or_default().extend(f.observed.refs());
            continue;
        }
        match resources::diff(&f.address, None, Some(&f.observed)) {
            Err(e) => errors.push(e),
            Ok(Some(mut change)) => {
                if !input.destroy && !change.notes.iter().any(|n| n.contains("not in stack.yaml")) {
                    change.notes.insert(0, "not in stack.yaml".into());
                }
                steps.push(Step {
                    id: StepId::node(f.address.clone()),
                    key: f.key.clone(),
                    after: Vec::new(),
                    observed: Some(f.observed.clone()),
                    desired: false,
                    change,
                });
            }
            Ok(None) => {}
        }
    }
    (steps, inherited, errors)
}

/// The physical ids each step's live state points at (with what its group's deleted rules
/// pointed at): what the ordering passes below read.
fn live_refs(
    steps: &[Step],
    inherited: &BTreeMap<String, Vec<String>>,
) -> Vec<(StepId, Vec<String>)> {
    steps
        .iter()
        .map(|s| {
            let mut r = s.observed.as_ref().map(Observed::refs).unwrap_or_default();
            if s.id.part == Part::Node {
                r.extend(inherited.get(&s.id.address).cloned().unwrap_or_default());
            }
            (s.id.clone(), r)
        })
        .collect()
}

/// Ordering: A delete waits for every other step whose live state still points at the deleted node
/// (a function still using a group, a rule naming it as source): those let go first.
// A `Pass` (plan::step): one pass adds steps, so they all take the Vec.
#[allow(clippy::ptr_arg)]
fn deletes_wait_for_referrers(steps: &mut Vec<Step>, input: &PassInput<'_>) -> Vec<PlanError> {
    let refs = input.refs;
    let ids: BTreeMap<StepId, Vec<String>> = steps
        .iter()
        .filter(|s| !s.desired)
        .filter_map(|s| {
            s.observed
                .as_ref()
                .map(|o| (s.id.clone(), o.physical_ids()))
        })
        .collect();
    for step in steps.iter_mut().filter(|s| !s.desired) {
        let mine = &ids[&step.id];
        for (other, r) in refs {
            if other != &step.id && r.iter().any(|x| mine.contains(x)) {
                step.after.push(other.clone());
            }
        }
    }
    Vec::new()
}

/// Ordering: The delete half of a replace waits, as a plain delete does, for the deletes of what
/// still points at the node: a trigger removed in the same apply must not write to the old pool
/// after the replace has deleted it.
// A `Pass` (plan::step): one pass adds steps, so they all take the Vec.
#[allow(clippy::ptr_arg)]
fn replaces_wait_for_referrer_deletes(
    steps: &mut Vec<Step>,
    input: &PassInput<'_>,
) -> Vec<PlanError> {
    let refs = input.refs;
    let deleting: BTreeSet<StepId> = steps
        .iter()
        .filter(|s| !s.desired)
        .map(|s| s.id.clone())
        .collect();
    for step in steps
        .iter_mut()
        .filter(|s| s.desired && s.change.action == Action::Replace)
    {
        let mine = step
            .observed
            .as_ref()
            .map(Observed::physical_ids)
            .unwrap_or_default();
        for (other, r) in refs {
            if other != &step.id && deleting.contains(other) && r.iter().any(|x| mine.contains(x)) {
                step.after.push(other.clone());
            }
        }
    }
    Vec::new()
}

/// Ordering: A step waits for the attributes it needs, not for every change of what it references:
/// an in-place update that leaves those attributes as they are (an instance's address while its
/// class changes) does not hold up a function that only reads them.
// A `Pass` (plan::step): one pass adds steps, so they all take the Vec.
#[allow(clippy::ptr_arg)]
fn updates_keeping_attributes_hold_nothing_up(
    steps: &mut Vec<Step>,
    _: &PassInput<'_>,
) -> Vec<PlanError> {
    let in_place: BTreeMap<StepId, (Key, bool)> = steps
        .iter()
        .filter(|s| s.desired && s.change.action == Action::Update)
        .map(|s| {
            let touches = Observed::attr_names(&s.key)
                .iter()
                .any(|a| s.change.field(a).is_some())
                || !resources::attrs_changed_by(&s.key, &s.change).is_empty();
            (s.id.clone(), (s.key.clone(), touches))
        })
        .collect();
    for step in steps.iter_mut().filter(|s| s.desired) {
        let key = step.key.clone();
        step.after.retain(|a| match in_place.get(a) {
            Some((dep, touches)) => *touches || !resources::needs_only_attributes(&key, dep),
            None => true,
        });
    }
    Vec::new()
}

/// The steps in an order that honours every step's `after`; a cycle is a plan error.
fn execution_order(steps: Vec<Step>) -> Result<Vec<Step>, Vec<PlanError>> {
    // The graph's nodes are the steps' names (unique per step, and what a cycle error shows).
    let mut eg = Graph::default();
    for s in &steps {
        eg.add_node(&s.id.to_string());
        for a in &s.after {
            eg.add_edge(&s.id.to_string(), &a.to_string());
        }
    }
    let exec_order = eg.topo_order().map_err(|cycle| {
        vec![PlanError {
            address: cycle[0].clone(),
            pos: Pos::default(),
            message: format!(
                "cannot order these changes, they depend on each other: {}",
                cycle.join(" -> ")
            ),
        }]
    })?;
    let mut by: BTreeMap<String, Step> = steps.into_iter().map(|s| (s.id.to_string(), s)).collect();
    Ok(exec_order.iter().filter_map(|a| by.remove(a)).collect())
}

/// Any value, before or after, that holds a registered secret is shown as `(sensitive)` whole:
/// a live value (the old connection URL) may hold the password even when the file's new value
/// does not, and a partly masked URL still shows the rest of it.
fn mask_secrets(c: &mut Change) {
    use crate::value::Shown;
    for f in &mut c.fields {
        for v in [&mut f.before, &mut f.after] {
            if matches!(v, Shown::Value(s) if crate::redact::holds_secret(s)) {
                *v = Shown::Sensitive;
            }
        }
    }
    for n in &mut c.notes {
        *n = crate::redact::scrub(n);
    }
}

/// The stack's own addresses a plan with `targets` covers, from the stack file alone: what the
/// read must look at. `None` without targets, or when a target names nothing in the file (only
/// something live, or nothing at all; then everything is read, and the planner decides).
pub fn file_scope(stack: &Stack, targets: &[String]) -> Option<BTreeSet<String>> {
    let env = LiveEnv::default();
    let input = Input {
        stack,
        found: &[],
        env: &env,
        public_ip: None,
        destroy: false,
        targets,
    };
    // A target that matches nothing in the file may still name something the stack owns only
    // in AWS (the planner decides that after the read); what the file itself puts in scope is
    // then nothing, so the read connects to no database for it (a typo must not come out as a
    // connection error).
    scope(&input, &resources::nodes(stack)).unwrap_or_else(|_| Some(BTreeSet::new()))
}

/// Whether `address` is `target` or below it (`functions.x` covers `functions.x.role`).
fn covers(target: &str, address: &str) -> bool {
    address == target
        || address
            .strip_prefix(target)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The addresses `--target` limits the plan to, or `None` without targets. A target that covers
/// nothing is an error naming the closest addresses.
fn scope(input: &Input<'_>, defs: &[NodeDef]) -> Result<Option<BTreeSet<String>>, Vec<PlanError>> {
    if input.targets.is_empty() {
        return Ok(None);
    }
    let all_defs;
    let defs = if input.destroy {
        // Destroy plans no desired node, but the file's dependencies still say what needs what.
        all_defs = resources::nodes(input.stack);
        &all_defs[..]
    } else {
        defs
    };
    let mut known: BTreeSet<&str> = defs.iter().map(|d| d.address.as_str()).collect();
    known.extend(input.found.iter().map(|f| f.address.as_str()));
    let mut errors = Vec::new();
    let mut scope: BTreeSet<String> = BTreeSet::new();
    for t in input.targets {
        let hit: Vec<&str> = known.iter().copied().filter(|a| covers(t, a)).collect();
        if hit.is_empty() {
            errors.push(PlanError {
                address: t.clone(),
                pos: Pos::default(),
                message: format!(
                    "--target {t} matches no address of the stack or of what it owns in AWS; closest: {}",
                    closest(t, &known).join(", ")
                ),
            });
        }
        scope.extend(hit.into_iter().map(str::to_string));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if input.destroy {
        // What depends on a deleted node goes first, so it is deleted too: by the file's
        // dependencies, by a rule's group, and by live references to its ids.
        let found: BTreeMap<&str, &Found> = input
            .found
            .iter()
            .map(|f| (f.address.as_str(), f))
            .collect();
        loop {
            let ids: BTreeSet<String> = scope
                .iter()
                .filter_map(|a| found.get(a.as_str()))
                .flat_map(|f| f.observed.physical_ids())
                .collect();
            let mut more: Vec<String> = defs
                .iter()
                .filter(|d| d.deps.iter().any(|x| scope.contains(x)))
                .map(|d| d.address.clone())
                .collect();
            more.extend(input.found.iter().filter_map(|f| {
                let by_parent = parent(&f.key).is_some_and(|p| scope.contains(&p));
                let by_ref = f.observed.refs().iter().any(|r| ids.contains(r));
                (by_parent || by_ref).then(|| f.address.clone())
            }));
            let before = scope.len();
            scope.extend(more);
            if scope.len() == before {
                break;
            }
        }
    } else {
        let by: BTreeMap<&str, &NodeDef> = defs.iter().map(|d| (d.address.as_str(), d)).collect();
        let mut todo: Vec<String> = scope.iter().cloned().collect();
        while let Some(a) = todo.pop() {
            for dep in by
                .get(a.as_str())
                .map(|d| d.deps.as_slice())
                .unwrap_or_default()
            {
                if scope.insert(dep.clone()) {
                    todo.push(dep.clone());
                }
            }
        }
    }
    Ok(Some(scope))
}

/// Up to three addresses nearest to `t` by edit distance.
fn closest(t: &str, known: &BTreeSet<&str>) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = known.iter().map(|a| (edit_distance(t, a), *a)).collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, a)| a.to_string())
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The outputs whose values apply changes: from what live AWS gives them now to what they will
/// be (unknown until apply when they name a resource being created or replaced).
fn output_changes(stack: &Stack, input: &Input<'_>, after: &Resolver) -> Vec<OutputChange> {
    let mut before = Resolver {
        public_ip: input.public_ip.clone(),
        ..Default::default()
    };
    for f in input.found {
        before.set(&f.address, f.observed.attrs());
    }
    let mut out = Vec::new();
    for (name, t) in &stack.outputs {
        let was = before.resolve(t);
        let will = if input.destroy {
            Text::unknown(false)
        } else {
            after.resolve(t)
        };
        if was.is_known() && will.is_known() && was.expose() == will.expose() {
            continue;
        }
        // Unknown now means the resource it names does not exist yet.
        let before_shown = if was.is_known() {
            was.shown()
        } else {
            Shown::Absent
        };
        // On destroy the output goes away; otherwise unknown means "known after apply".
        let after_shown = if input.destroy {
            Shown::Absent
        } else {
            will.shown()
        };
        if before_shown == Shown::Absent && after_shown == Shown::Absent {
            continue;
        }
        out.push(OutputChange {
            name: name.clone(),
            before: before_shown,
            after: after_shown,
        });
    }
    out
}

/// A live rule the file does not list, in a declared group that is being adopted: rules are
/// authoritative in the groups the stack manages, and adopting a group makes it managed, so the
/// adopt plan revokes it too (not the plan after). A group of another stack is a plan error.
fn adopted_rule(
    f: &Found,
    found: &BTreeMap<&str, &Found>,
    desired: &BTreeSet<&str>,
    destroy: bool,
) -> bool {
    let Some(p) = parent(&f.key) else {
        return false;
    };
    !destroy
        && desired.contains(p.as_str())
        && found
            .get(p.as_str())
            .is_some_and(|pf| !pf.observed.owned() && pf.observed.owner().is_none())
}

/// Only what carries this stack's tag is ever deleted; rules follow their group.
fn owned(f: &Found, found: &BTreeMap<&str, &Found>) -> bool {
    match parent(&f.key) {
        Some(p) => found.get(p.as_str()).is_some_and(|pf| pf.observed.owned()),
        None => f.observed.owned(),
    }
}

/// The node whose deletion removes this one too.
fn parent(key: &Key) -> Option<String> {
    match key {
        Key::Rule { group, .. } => Some(crate::resources::security_group::group_address(group)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::step::run_pass;
    use crate::resources::security_group::{GroupObserved, RuleObserved};

    use crate::stack::from_text as stack;

    const TWO_GROUPS: &str = "stack: s\nsecurity_groups:\n  db:\n    description: d\n    ingress:\n      - description: APP\n        port: 5432\n        source_group: app\n  app:\n    description: a\n";

    fn group(name: &str, id: &str, owned: bool) -> Found {
        let tags: BTreeMap<String, String> = if owned {
            [("deploy:stack".to_string(), "s".to_string())].into()
        } else {
            BTreeMap::new()
        };
        Found {
            address: format!("security_groups.{name}"),
            key: Key::Group(name.into()),
            observed: Observed::Group(GroupObserved {
                id: id.into(),
                name: name.into(),
                description: if name == "db" { "d" } else { "a" }.into(),
                vpc_id: "vpc-1".into(),
                tags,
                owned,
            }),
        }
    }

    fn rule(group: &str, gid: &str, label: &str, source: &str) -> Found {
        Found {
            address: format!("security_groups.{group}.ingress.{label}"),
            key: Key::Rule {
                group: group.into(),
                description: label.into(),
            },
            observed: Observed::Rule(RuleObserved {
                group_id: gid.into(),
                description: Some(label.into()),
                protocol: "tcp".into(),
                from_port: 5432,
                to_port: 5432,
                cidr: None,
                source_group: Some(source.into()),
            }),
        }
    }

    fn env() -> LiveEnv {
        LiveEnv {
            region: "us-east-1".into(),
            default_vpc: Some("vpc-1".into()),
            default_subnets: vec![],
            ..Default::default()
        }
    }

    /// The plan's changes as (address, action), in the plan's order.
    fn actions(p: &Planned) -> Vec<(&str, Action)> {
        p.plan
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect()
    }

    /// The executor's steps by address, in the order the planner gives them.
    fn step_order(p: &Planned) -> Vec<String> {
        p.steps.iter().map(|s| s.id.to_string()).collect()
    }

    fn run(stack: &Stack, found: &[Found], destroy: bool) -> Planned {
        plan(&Input {
            stack,
            found,
            env: &env(),
            public_ip: None,
            destroy,
            targets: &[],
        })
        .unwrap()
    }

    #[test]
    fn creates_in_dependency_order_with_unknown_ids() {
        let s = stack(TWO_GROUPS);
        let p = run(&s, &[], false);
        let order = step_order(&p);
        let pos = |a: &str| order.iter().position(|x| *x == a).unwrap();
        assert!(pos("security_groups.app") < pos("security_groups.db.ingress.APP"));
        assert!(pos("security_groups.db") < pos("security_groups.db.ingress.APP"));
        let rule = p
            .plan
            .changes
            .iter()
            .find(|c| c.address.ends_with("APP"))
            .unwrap();
        assert_eq!(
            rule.field("source_group").unwrap().after,
            crate::value::Shown::Unknown
        );
        assert_eq!(p.plan.summary().create, 3);
    }

    #[test]
    fn matching_live_state_is_an_empty_plan() {
        let s = stack(TWO_GROUPS);
        let found = vec![
            group("db", "sg-db", true),
            group("app", "sg-app", true),
            rule("db", "sg-db", "APP", "sg-app"),
        ];
        let p = run(&s, &found, false);
        assert!(p.plan.is_empty(), "{:?}", p.plan.changes);
    }

    #[test]
    fn destroy_deletes_only_owned_and_orders_by_live_references() {
        let s = stack(TWO_GROUPS);
        let found = vec![
            group("db", "sg-db", true),
            group("app", "sg-app", true),
            rule("db", "sg-db", "APP", "sg-app"),
            group("stranger", "sg-x", false),
        ];
        let p = run(&s, &found, true);
        let order = step_order(&p);
        // The rule goes with its group, and db (whose rule names app) is deleted before app.
        assert_eq!(order, vec!["security_groups.db", "security_groups.app"]);
        assert!(p.plan.changes.iter().all(|c| c.action == Action::Delete));
    }

    #[test]
    fn an_orphan_is_deleted_with_a_reason_and_untagged_ones_are_left_alone() {
        let s = stack("stack: s\nsecurity_groups:\n  db:\n    description: d\n");
        let found = vec![
            group("db", "sg-db", true),
            group("app", "sg-app", true),
            group("manual", "sg-m", false),
        ];
        let p = run(&s, &found, false);
        assert_eq!(p.plan.changes.len(), 1);
        let c = &p.plan.changes[0];
        assert_eq!(
            (c.address.as_str(), c.action),
            ("security_groups.app", Action::Delete)
        );
        assert_eq!(c.notes, vec!["not in stack.yaml".to_string()]);
    }

    #[test]
    fn untagged_declared_resource_is_adopted() {
        let s = stack(TWO_GROUPS);
        let found = vec![
            group("db", "sg-db", false),
            group("app", "sg-app", true),
            rule("db", "sg-db", "APP", "sg-app"),
        ];
        let p = run(&s, &found, false);
        assert_eq!(p.plan.needs_adopt, vec!["security_groups.db".to_string()]);
    }

    #[test]
    fn a_deleted_role_outlives_the_groups_its_function_used() {
        use crate::resources::function::{Observed as FnObserved, RoleObserved};
        let s = stack("stack: s\n");
        let function = Found {
            address: "functions.f".into(),
            key: Key::Function("f".into()),
            observed: Observed::Function(FnObserved {
                owned: true,
                arn: "arn:fn".into(),
                name: "f".into(),
                runtime: "python3.12".into(),
                handler: "h".into(),
                description: None,
                memory: 128,
                timeout: 3,
                role: "arn:role".into(),
                layers: vec![],
                subnets: vec!["subnet-1".into()],
                security_groups: vec!["sg-app".into()],
                environment: BTreeMap::new(),
                code_sha256: "x".into(),
                tags: BTreeMap::new(),
            }),
        };
        let role = Found {
            address: "functions.f.role".into(),
            key: Key::Role("f".into()),
            observed: Observed::Role(RoleObserved {
                owned: true,
                arn: "arn:role".into(),
                name: "f-role".into(),
                path: "/deploy/s/".into(),
                trust_policy: None,
                tags: BTreeMap::new(),
                policies: vec![],
            }),
        };
        let found = vec![function, role, group("app", "sg-app", true)];
        let p = run(&s, &found, true);
        let order = step_order(&p);
        assert_eq!(
            order,
            vec!["functions.f", "security_groups.app", "functions.f.role"]
        );
    }

    #[test]
    fn adopting_what_would_need_a_replacement_is_a_plan_error() {
        let s = stack(TWO_GROUPS);
        let mut db = group("db", "sg-db", false);
        if let Observed::Group(g) = &mut db.observed {
            g.description = "hand-made".into();
        }
        let found = vec![db, group("app", "sg-app", true)];
        let e = plan(&Input {
            stack: &s,
            found: &found,
            env: &env(),
            public_ip: None,
            destroy: false,
            targets: &[],
        })
        .unwrap_err();
        assert_eq!(e[0].address, "security_groups.db");
        assert!(e[0].message.contains("(description)"), "{}", e[0].message);
    }

    fn targeted(
        stack: &Stack,
        found: &[Found],
        destroy: bool,
        targets: &[&str],
    ) -> Result<Planned, Vec<PlanError>> {
        let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        plan(&Input {
            stack,
            found,
            env: &env(),
            public_ip: None,
            destroy,
            targets: &targets,
        })
    }

    #[test]
    fn a_target_plans_itself_and_what_it_depends_on_with_a_warning() {
        let s = stack(TWO_GROUPS);
        let p = targeted(&s, &[], false, &["security_groups.db.ingress.APP"]).unwrap();
        let addrs: Vec<&str> = p.plan.changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(
            addrs,
            vec![
                "security_groups.app",
                "security_groups.db",
                "security_groups.db.ingress.APP"
            ]
        );
        // A prefix covers what is below it, and nothing else.
        let p = targeted(&s, &[], false, &["security_groups.app"]).unwrap();
        let addrs: Vec<&str> = p.plan.changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(addrs, vec!["security_groups.app"]);
        assert!(
            p.plan.warnings[0].contains("the rest of the stack was not looked at"),
            "{:?}",
            p.plan.warnings
        );
        assert!(run(&s, &[], false).plan.warnings.is_empty());
    }

    #[test]
    fn the_file_scope_of_a_target_is_it_and_what_it_depends_on() {
        let s = stack(TWO_GROUPS);
        let t = |ts: &[&str]| file_scope(&s, &ts.iter().map(|t| t.to_string()).collect::<Vec<_>>());
        assert_eq!(t(&[]), None);
        assert_eq!(
            t(&["security_groups.db.ingress.APP"]),
            Some(
                [
                    "security_groups.app",
                    "security_groups.db",
                    "security_groups.db.ingress.APP"
                ]
                .map(String::from)
                .into()
            )
        );
        assert_eq!(t(&["security_groups.nope"]), Some(BTreeSet::new()));
    }

    #[test]
    fn a_target_that_matches_nothing_names_the_closest_addresses() {
        let s = stack(TWO_GROUPS);
        let e = targeted(&s, &[], false, &["security_groups.dbb"]).unwrap_err();
        assert!(
            e[0].message
                .contains("closest: security_groups.db, security_groups.app"),
            "{}",
            e[0].message
        );
        // `security_groups.d` is not a prefix of `security_groups.db`: addresses match by segment.
        assert!(targeted(&s, &[], false, &["security_groups.d"]).is_err());
    }

    #[test]
    fn a_targeted_destroy_takes_what_depends_on_the_target() {
        let s = stack(TWO_GROUPS);
        let found = vec![
            group("db", "sg-db", true),
            group("app", "sg-app", true),
            rule("db", "sg-db", "APP", "sg-app"),
        ];
        // db's rule names app as its source: destroying app revokes that rule first, and leaves
        // the group db alone.
        let p = targeted(&s, &found, true, &["security_groups.app"]).unwrap();
        let addrs = step_order(&p);
        assert_eq!(
            addrs,
            vec!["security_groups.db.ingress.APP", "security_groups.app"]
        );
        // db alone: nothing depends on it.
        let p = targeted(&s, &found, true, &["security_groups.db"]).unwrap();
        let addrs = step_order(&p);
        assert_eq!(addrs, vec!["security_groups.db"]);
    }

    #[test]
    fn a_rule_naming_a_replaced_group_is_revoked_before_it_and_authorized_after() {
        let s = stack(&TWO_GROUPS.replace("description: a", "description: a2"));
        let found = vec![
            group("db", "sg-db", true),
            group("app", "sg-app", true),
            rule("db", "sg-db", "APP", "sg-app"),
        ];
        let p = run(&s, &found, false);
        let order = step_order(&p);
        assert_eq!(
            order,
            vec![
                "security_groups.db.ingress.APP (old)",
                "security_groups.app",
                "security_groups.db.ingress.APP"
            ]
        );
        // The plan shows one replace of the rule, not the hidden revoke.
        let c = actions(&p);
        assert_eq!(
            c,
            vec![
                ("security_groups.app", Action::Replace),
                ("security_groups.db.ingress.APP", Action::Replace)
            ]
        );
        let rule = &p.plan.changes[1];
        assert!(rule.field("source_group").unwrap().forces_replacement);
        assert!(
            rule.notes[0].contains("revoked before security_groups.app is deleted"),
            "{:?}",
            rule.notes
        );
        // The revoke acts on the live rule; the authorize starts from nothing.
        assert!(p.steps[0].observed.is_some() && p.steps[2].observed.is_none());
    }

    #[test]
    fn a_replaced_groups_own_rules_are_replaced_with_it() {
        let s = stack(&TWO_GROUPS.replace("description: d", "description: d2"));
        let found = vec![
            group("db", "sg-db", true),
            group("app", "sg-app", true),
            rule("db", "sg-db", "APP", "sg-app"),
            rule("db", "sg-db", "STRAY", "sg-app"),
        ];
        let p = run(&s, &found, false);
        let order = step_order(&p);
        // The unlisted rule is revoked while the old group exists; the declared one is
        // authorized in the new group.
        assert_eq!(
            order,
            vec![
                "security_groups.db.ingress.STRAY",
                "security_groups.db",
                "security_groups.db.ingress.APP"
            ]
        );
        let rule = p
            .plan
            .changes
            .iter()
            .find(|c| c.address == "security_groups.db.ingress.APP")
            .unwrap();
        assert_eq!(rule.action, Action::Replace);
        let f = rule.field("group_id").unwrap();
        assert_eq!(
            (f.before.clone(), f.after.clone(), f.forces_replacement),
            (Shown::value("sg-db"), Shown::Unknown, true)
        );
        assert!(rule.notes[0].contains("its group is replaced"));
    }

    #[test]
    fn adopting_a_group_revokes_its_unlisted_rules_in_the_same_plan() {
        let s = stack("stack: s\nsecurity_groups:\n  db:\n    description: d\n");
        let found = vec![
            group("db", "sg-db", false),
            rule("db", "sg-db", "ssh", "sg-x"),
        ];
        let p = run(&s, &found, false);
        let c = actions(&p);
        assert_eq!(
            c,
            vec![
                ("security_groups.db", Action::Adopt),
                ("security_groups.db.ingress.ssh", Action::Delete)
            ]
        );
        assert!(p.plan.changes[1].notes[0].contains("not in stack.yaml"));
        // An untagged group the file does not declare keeps its rules, and destroy leaves an
        // untagged group's rules alone.
        let s = stack("stack: s\n");
        assert!(run(&s, &found, false).plan.is_empty());
        assert!(run(&s, &found, true).plan.is_empty());
        // Another stack's group is an error, not a revoke.
        let mut theirs = group("db", "sg-db", false);
        if let Observed::Group(g) = &mut theirs.observed {
            g.tags.insert("deploy:stack".into(), "other".into());
        }
        let s = stack("stack: s\nsecurity_groups:\n  db:\n    description: d\n");
        let e = plan(&Input {
            stack: &s,
            found: &[theirs, rule("db", "sg-db", "ssh", "sg-x")],
            env: &env(),
            public_ip: None,
            destroy: false,
            targets: &[],
        })
        .unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
    }

    #[test]
    fn outputs_show_what_apply_changes() {
        let src = "stack: s\nsecurity_groups:\n  db:\n    description: d\noutputs:\n  SG: ${security_groups.db.id}\n";
        let s = stack(src);
        let p = run(&s, &[], false);
        assert_eq!(p.plan.outputs.len(), 1);
        assert_eq!(p.plan.outputs[0].before, crate::value::Shown::Absent);
        assert_eq!(p.plan.outputs[0].after, crate::value::Shown::Unknown);
        // Unchanged resource: unchanged output, not listed.
        let p = run(&s, &[group("db", "sg-db", true)], false);
        assert!(p.plan.outputs.is_empty());
        // A replacement changes it.
        let mut g = group("db", "sg-db", true);
        if let Observed::Group(o) = &mut g.observed {
            o.description = "other".into();
        }
        let p = run(&s, &[g], false);
        assert_eq!(
            p.plan.outputs[0].before,
            crate::value::Shown::value("sg-db")
        );
        assert_eq!(p.plan.outputs[0].after, crate::value::Shown::Unknown);
    }

    /// A step for `f` as the passes see it: deleted unless `desired`.
    fn step_of(f: Found, action: Action, desired: bool) -> Step {
        Step {
            id: StepId::node(f.address.clone()),
            change: Change::new(f.address.clone(), action),
            key: f.key,
            after: Vec::new(),
            observed: Some(f.observed),
            desired,
        }
    }

    #[test]
    fn pass_deletes_wait_for_referrers() {
        let mut steps = vec![
            step_of(group("db", "sg-1", true), Action::Delete, false),
            step_of(rule("app", "sg-2", "APP", "sg-1"), Action::Delete, false),
            step_of(rule("app", "sg-2", "OTHER", "sg-3"), Action::Delete, false),
        ];
        let refs = live_refs(&steps, &BTreeMap::new());
        run_pass(deletes_wait_for_referrers, &mut steps, &refs);
        assert_eq!(
            steps[0].after,
            vec![StepId::node("security_groups.app.ingress.APP")]
        );
        assert!(steps[1].after.is_empty() && steps[2].after.is_empty());
    }

    #[test]
    fn pass_replaces_wait_for_referrer_deletes_not_for_referrers_kept() {
        let mut steps = vec![
            step_of(group("db", "sg-1", true), Action::Replace, true),
            step_of(rule("app", "sg-2", "GONE", "sg-1"), Action::Delete, false),
            step_of(rule("app", "sg-2", "KEPT", "sg-1"), Action::Update, true),
        ];
        let refs = live_refs(&steps, &BTreeMap::new());
        run_pass(replaces_wait_for_referrer_deletes, &mut steps, &refs);
        assert_eq!(
            steps[0].after,
            vec![StepId::node("security_groups.app.ingress.GONE")]
        );
    }

    #[test]
    fn pass_updates_keeping_attributes_hold_nothing_up() {
        let group_update = |field: &str| {
            let mut s = step_of(group("db", "sg-1", true), Action::Update, true);
            s.change.fields.push(crate::plan::FieldChange {
                path: field.into(),
                before: Shown::Value("a".into()),
                after: Shown::Value("b".into()),
                forces_replacement: false,
            });
            s
        };
        let user = || {
            let mut s = step_of(rule("db", "sg-1", "APP", "sg-2"), Action::Create, true);
            s.after.push(StepId::node("security_groups.db"));
            s
        };
        // A tag change leaves the group's id as it is: the rule need not wait for it.
        let mut steps = vec![group_update("tags"), user()];
        run_pass(updates_keeping_attributes_hold_nothing_up, &mut steps, &[]);
        assert!(steps[1].after.is_empty(), "{:?}", steps[1].after);
        // A change of the attribute the rule reads holds it up.
        let mut steps = vec![group_update("id"), user()];
        run_pass(updates_keeping_attributes_hold_nothing_up, &mut steps, &[]);
        assert_eq!(steps[1].after, vec![StepId::node("security_groups.db")]);
    }
}

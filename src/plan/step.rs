//! The planner's unit of work: a step (one node's change, or a part of it) with its identity and
//! what it waits for; and the shape of an ordering pass, which kinds contribute from their
//! folders (`resources/<kind>/order.rs`) and [`super::build`] runs in a named list.

use super::PlanError;
use crate::resources::{Found, Key, NodeDef, Observed};
use crate::stack::Stack;

use super::Change;

/// Which part of a node's change a step carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The node's change, as the plan lists it.
    Node,
    /// The revoke of a rule's live self ahead of the replacement of a group it names (see
    /// `security_group::order::let_go_of_replaced_groups`): a step of its own that the plan does not list, since the
    /// plan shows the rule replaced.
    OldRule,
}

/// A step's identity: the node's address and the part of its change.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId {
    pub address: String,
    pub part: Part,
}

impl StepId {
    pub fn node(address: impl Into<String>) -> Self {
        StepId {
            address: address.into(),
            part: Part::Node,
        }
    }

    pub fn old_rule(address: impl Into<String>) -> Self {
        StepId {
            address: address.into(),
            part: Part::OldRule,
        }
    }

    /// Whether this is the step of the node at `address` itself.
    pub fn is(&self, address: &str) -> bool {
        self.part == Part::Node && self.address == address
    }
}

/// As progress lines, reports and saved plans name a step (a saved plan's format is older than
/// the type): the address, and ` (old)` after a rule's early revoke.
impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.part {
            Part::Node => f.write_str(&self.address),
            Part::OldRule => write!(f, "{} (old)", self.address),
        }
    }
}

/// One node with a change, as the executor needs it.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: StepId,
    pub key: Key,
    /// Other steps that must finish first (a node without a step has nothing to wait for).
    pub after: Vec<StepId>,
    pub observed: Option<Observed>,
    /// Whether the node is desired (false: it is being deleted).
    pub desired: bool,
    pub change: Change,
}

/// What an ordering pass reads besides the steps.
pub struct PassInput<'a> {
    pub stack: &'a Stack,
    /// The live nodes the plan is made from.
    pub found: &'a [Found],
    /// The file's nodes (none for destroy).
    pub defs: &'a [NodeDef],
    /// Per step, the physical ids its live state points at (a function's groups, a rule's source).
    pub refs: &'a [(StepId, Vec<String>)],
}

/// An ordering pass: adds (or drops) `after` edges for one reason; it may split a step in parts,
/// or refuse the plan with errors that say how to get there.
pub type Pass = fn(&mut Vec<Step>, &PassInput<'_>) -> Vec<PlanError>;

/// Runs `pass` over `steps` alone (a one-line stack, nothing found, no file nodes, `refs`) and
/// checks that it refused nothing: the tests of a pass, here and in the kinds' `order.rs`.
#[cfg(test)]
pub fn run_pass(pass: Pass, steps: &mut Vec<Step>, refs: &[(StepId, Vec<String>)]) {
    let stack = crate::stack::from_text("stack: s\n");
    let input = PassInput {
        stack: &stack,
        found: &[],
        defs: &[],
        refs,
    };
    let errors = pass(steps, &input);
    assert!(errors.is_empty(), "{errors:?}");
}

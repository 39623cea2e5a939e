//! Which VPC a stack's security groups are in, where RDS and Lambda need it to be the default
//! VPC's.
//!
//! Without a DB subnet group, RDS creates an instance in the default VPC (RDS User Guide,
//! "Working with a DB instance in a VPC": "If you don't specify a DB subnet group when you
//! create a DB instance, Amazon RDS uses the default VPC"), and refuses groups of another VPC
//! ("The DB instance and EC2 security group are in different VPCs"). A function's groups must
//! be in the VPC of its subnets (Lambda CreateFunction, VpcConfig: "security groups and subnets
//! ... in the same VPC"), and `subnets: default` are the default VPC's.

use crate::stack::{GroupRef, Stack, VpcRef};

use super::LiveEnv;

/// Whether the stack has something these checks need the default VPC's id for: a database, or
/// a function with `subnets: default`, naming one of the stack's groups that is in a named VPC.
pub fn needs_default_vpc(stack: &Stack) -> bool {
    let named = |g: &GroupRef| match g {
        GroupRef::Stack(n) => stack
            .security_groups
            .get(n)
            .is_some_and(|sg| matches!(sg.vpc, VpcRef::Id(_))),
        GroupRef::Id(_) => false,
    };
    stack
        .db_instances
        .values()
        .any(|d| d.security_groups.iter().any(named))
        || stack.functions.values().any(|f| {
            f.vpc.as_ref().is_some_and(|v| {
                v.subnets == crate::stack::Subnets::Default && v.security_groups.iter().any(named)
            })
        })
}

/// The first of `groups` (the stack's own, whose `vpc:` the file gives) that is not in the
/// default VPC, as a sentence naming both VPCs; `None` when all are (or cannot be known here:
/// an existing `sg-…` id, whose VPC only EC2 knows).
pub fn outside_default_vpc(stack: &Stack, groups: &[GroupRef], env: &LiveEnv) -> Option<String> {
    groups.iter().find_map(|g| {
        let GroupRef::Stack(name) = g else {
            return None;
        };
        let VpcRef::Id(vpc) = &stack.security_groups.get(name)?.vpc else {
            return None;
        };
        match &env.default_vpc {
            Some(default) if default == vpc => None,
            Some(default) => Some(format!(
                "security group {name} is in {vpc}, not in the default VPC {default}"
            )),
            None => Some(format!(
                "security group {name} is in {vpc}, and region {} has no default VPC",
                env.region
            )),
        }
    })
}

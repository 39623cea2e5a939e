//! Which VPC a stack's security groups are in, where RDS and Lambda need it to be the default
//! VPC's.
//!
//! Without a DB subnet group, RDS creates an instance in the default VPC (RDS User Guide,
//! "Working with a DB instance in a VPC": with no DB subnet group named, the default VPC's
//! default DB subnet group is used), and refuses groups of another VPC ("The DB instance and EC2
//! security group are in different VPCs", the error users meet). A function's groups and
//! subnets must be in one VPC (Lambda API Reference, VpcConfig), and `subnets: default` are the
//! default VPC's.

use crate::stack::{GroupRef, Stack, VpcRef};

use super::LiveEnv;

/// The groups that must be in the default VPC: a database's, and those of a function with
/// `subnets: default`.
fn checked_groups(stack: &Stack) -> impl Iterator<Item = &GroupRef> {
    stack
        .db_instances
        .values()
        .flat_map(|d| d.security_groups.iter())
        .chain(stack.functions.values().flat_map(|f| {
            f.vpc
                .iter()
                .filter(|v| v.subnets == crate::stack::Subnets::Default)
                .flat_map(|v| v.security_groups.iter())
        }))
}

/// Whether the stack has something these checks need the default VPC's id for: one of those
/// groups in a named VPC, or an existing group named by id.
pub fn needs_default_vpc(stack: &Stack) -> bool {
    checked_groups(stack).any(|g| match g {
        GroupRef::Stack(n) => stack
            .security_groups
            .get(n)
            .is_some_and(|sg| matches!(sg.vpc, VpcRef::Id(_))),
        GroupRef::Id(_) => true,
    })
}

/// The existing groups (by `sg-…` id) whose VPC these checks need, sorted.
pub fn external_groups(stack: &Stack) -> Vec<String> {
    let mut ids: Vec<String> = checked_groups(stack)
        .filter_map(|g| match g {
            GroupRef::Id(id) => Some(id.clone()),
            GroupRef::Stack(_) => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The first of `groups` that is not in the default VPC, as a sentence naming both VPCs; `None`
/// when all are, or when it cannot be known (an existing group EC2 did not describe). The
/// stack's own groups are where their `vpc:` says; an existing `sg-…` id where EC2 said.
pub fn outside_default_vpc(stack: &Stack, groups: &[GroupRef], env: &LiveEnv) -> Option<String> {
    groups.iter().find_map(|g| {
        let (name, vpc) = match g {
            GroupRef::Stack(name) => match &stack.security_groups.get(name)?.vpc {
                VpcRef::Id(vpc) => (name, vpc),
                VpcRef::Default => return None,
            },
            GroupRef::Id(id) => (id, env.group_vpcs.get(id)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(src: &str) -> Stack {
        let env = |_: &str| None;
        crate::stack::parse_str(
            src,
            std::path::Path::new("s.yaml"),
            std::path::Path::new("."),
            &env,
        )
        .unwrap()
    }

    const SRC: &str = "stack: s\nsecurity_groups:\n  far:\n    description: d\n    vpc: vpc-0aaa\n  near:\n    description: d\n  here:\n    description: d\n    vpc: vpc-0def\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    manage_master_password: true\n    security_groups: [near, far]\n    final_snapshot: false\n";

    #[test]
    fn a_group_in_a_named_vpc_other_than_the_default_is_named_with_both() {
        let s = stack(SRC);
        assert!(needs_default_vpc(&s));
        let env = LiveEnv {
            region: "us-east-1".into(),
            default_vpc: Some("vpc-0def".into()),
            ..LiveEnv::default()
        };
        let groups = &s.db_instances["db"].security_groups;
        assert_eq!(
            outside_default_vpc(&s, groups, &env).as_deref(),
            Some("security group far is in vpc-0aaa, not in the default VPC vpc-0def")
        );
        // `vpc: default`, the default VPC named by id, or an existing sg- id: nothing to say.
        let fine = [
            GroupRef::Stack("near".into()),
            GroupRef::Stack("here".into()),
            GroupRef::Id("sg-0123".into()),
        ];
        assert_eq!(outside_default_vpc(&s, &fine, &env), None);
        // An existing group named by id is where EC2 said.
        let described = LiveEnv {
            group_vpcs: [("sg-0123".to_string(), "vpc-0bbb".to_string())].into(),
            ..env.clone()
        };
        assert_eq!(
            outside_default_vpc(&s, &fine, &described).as_deref(),
            Some("security group sg-0123 is in vpc-0bbb, not in the default VPC vpc-0def")
        );
        let none = LiveEnv {
            region: "eu-west-3".into(),
            ..LiveEnv::default()
        };
        assert!(
            outside_default_vpc(&s, groups, &none)
                .unwrap()
                .contains("region eu-west-3 has no default VPC")
        );
    }

    #[test]
    fn only_named_vpcs_need_the_default_vpc_read() {
        let s = stack(&SRC.replace("[near, far]", "[near]"));
        assert!(!needs_default_vpc(&s));
        assert!(external_groups(&s).is_empty());
        let s = stack(&SRC.replace("[near, far]", "[near, sg-0123456789abcdef0]"));
        assert!(needs_default_vpc(&s));
        assert_eq!(external_groups(&s), ["sg-0123456789abcdef0"]);
    }
}

//! Security groups and their ingress rules.
//!
//! A rule is identified by its description within its group, so when only its CIDR or ports
//! change (the developer's IP moved) the plan shows one in-place update and apply keeps the rule
//! id (`ModifySecurityGroupRules`), which is what the seed's `rds-update-sg-rule` did by hand.
//! Rules are authoritative: a rule in a managed group that the file does not list is revoked.

pub mod aws;
pub mod decl;
pub mod order;

use crate::resources::core::diff_by;
use std::collections::BTreeMap;

use crate::plan::{Action, Change, Diff, FieldChange, PlanError};
pub use crate::resources::core::group_address;
use crate::resources::core::{
    Attrs, Key, LiveEnv, NodeDef, NodeType, ReplacePolicy, data_tags, group_ref_id, owned_change,
    owner_tag, tag_diff,
};
use crate::stack::{GroupRef, Resolver, RuleSource, Stack, VpcRef};
use crate::value::{Shown, Text};

#[derive(Clone, Debug)]
pub struct GroupSpec {
    pub name: String,
    pub description: String,
    pub vpc_id: Text,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupObserved {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub tags: BTreeMap<String, String>,
    /// Carries this stack's `deploy:stack` tag.
    pub owned: bool,
}

/// Where traffic may come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Cidr(Text),
    /// A security group id (unknown while that group is still to be created).
    Group(Text),
}

#[derive(Clone, Debug)]
pub struct RuleSpec {
    pub group: String,
    pub group_id: Text,
    pub description: String,
    /// EC2's IpProtocol: tcp, udp, icmp or -1.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: Source,
}

/// A live ingress rule as DescribeSecurityGroups lists it. Its `sgr-` id is not part of it: the
/// plan does not need it (the permission says which rule it is), and reading it would cost a
/// second round of reads; apply looks it up for the one call that needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleObserved {
    pub group_id: String,
    pub description: Option<String>,
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub cidr: Option<String>,
    pub source_group: Option<String>,
}

/// A group's name is fixed within its VPC: the old group goes before the new one is created.
pub const GROUP_REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;
/// Every rule change is made in place (or as a revoke and an authorize the plan orders), so a
/// rule is never replaced; were it, the old permission would have to go first (AWS refuses a
/// duplicate).
pub const RULE_REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;

/// The group node type (see [`NodeType`]).
pub struct GroupNode;

impl NodeType for GroupNode {
    type Spec = GroupSpec;
    type Observed = GroupObserved;
    const REPLACE: ReplacePolicy = GROUP_REPLACE;
    const ATTR_NAMES: &'static [&'static str] = &["id"];

    fn spec(stack: &Stack, key: &Key, _r: &Resolver, env: &LiveEnv) -> GroupSpec {
        let Key::Group(name) = key else {
            unreachable!("a group spec asked for {key:?}")
        };
        group_spec(stack, name, env)
    }

    diff_by!(diff_group);

    fn attrs(o: &GroupObserved) -> Attrs {
        vec![("id", Some(o.id.clone()))]
    }

    fn owned(o: &GroupObserved) -> bool {
        o.owned
    }

    fn owner(o: &GroupObserved) -> Option<&str> {
        owner_tag(&o.tags)
    }
}

/// The rule node type (see [`NodeType`]).
pub struct RuleNode;

impl NodeType for RuleNode {
    type Spec = RuleSpec;
    type Observed = RuleObserved;
    const REPLACE: ReplacePolicy = RULE_REPLACE;

    fn spec(stack: &Stack, key: &Key, r: &Resolver, _env: &LiveEnv) -> RuleSpec {
        let Key::Rule { group, description } = key else {
            unreachable!("a rule spec asked for {key:?}")
        };
        rule_spec(stack, group, description, r)
    }

    diff_by!(diff_rule);

    fn refs(o: &RuleObserved) -> Vec<String> {
        o.source_group.iter().cloned().collect()
    }
}

/// Ports databases listen on by default (PostgreSQL, MySQL, SQL Server, Oracle, MongoDB, Redis).
const DB_PORTS: &[i32] = &[5432, 3306, 1433, 1521, 27017, 6379];

/// A warning when a rule opens a database port to the whole internet: one of the usual database
/// ports, or the port of a db instance of the stack that uses the group.
pub fn open_db_port_warning(stack: &Stack, address: &str, s: &RuleSpec) -> Option<String> {
    let Source::Cidr(cidr) = &s.source else {
        return None;
    };
    let cidr = cidr.expose()?;
    if cidr != "0.0.0.0/0" && cidr != "::/0" {
        return None;
    }
    let mut ports: Vec<i32> = DB_PORTS.to_vec();
    for d in stack.db_instances.values() {
        if d.security_groups
            .iter()
            .any(|g| matches!(g, GroupRef::Stack(n) if *n == s.group))
        {
            ports.extend(d.port);
        }
    }
    let all = s.protocol == "-1";
    let open = ports
        .into_iter()
        .filter(|p| all || (s.protocol == "tcp" && s.from_port <= *p && *p <= s.to_port))
        .min()?;
    Some(format!(
        "{address}: opens database port {open} to {cidr} (the whole internet): narrow the cidr (for example ${{public_ip}}/32) or use source_group"
    ))
}

pub fn rule_address(group: &str, label: &str) -> String {
    format!("security_groups.{group}.ingress.{label}")
}

pub fn nodes(stack: &Stack) -> Vec<NodeDef> {
    let mut out = Vec::new();
    for (name, g) in &stack.security_groups {
        out.push(NodeDef {
            address: group_address(name),
            key: Key::Group(name.clone()),
            deps: vec![],
        });
        for r in &g.ingress {
            let mut deps = vec![group_address(name)];
            if let RuleSource::Group(GroupRef::Stack(src)) = &r.source
                && src != name
            {
                deps.push(group_address(src));
            }
            out.push(NodeDef {
                address: rule_address(name, &r.description),
                key: Key::Rule {
                    group: name.clone(),
                    description: r.description.clone(),
                },
                deps,
            });
        }
    }
    out
}

fn group_spec(stack: &Stack, name: &str, env: &LiveEnv) -> GroupSpec {
    let g = &stack.security_groups[name];
    let vpc_id = match &g.vpc {
        VpcRef::Id(id) => Text::known(id.clone()),
        VpcRef::Default => env
            .default_vpc
            .clone()
            .map_or(Text::unknown(false), Text::known),
    };
    GroupSpec {
        name: g.name.clone(),
        description: g.description.clone(),
        vpc_id,
        tags: data_tags(stack, name, &g.name),
    }
}

fn rule_spec(stack: &Stack, group: &str, description: &str, r: &Resolver) -> RuleSpec {
    let rule = stack.security_groups[group]
        .ingress
        .iter()
        .find(|x| x.description == description)
        .expect("rule keys come from the stack");
    let source = match &rule.source {
        RuleSource::Cidr(t) => Source::Cidr(r.resolve(t)),
        RuleSource::Group(g) => Source::Group(group_ref_id(r, g)),
    };
    RuleSpec {
        group: group.to_string(),
        group_id: r.attr(&group_address(group), "id"),
        description: description.to_string(),
        protocol: rule.protocol.as_ec2().to_string(),
        from_port: rule.from_port,
        to_port: rule.to_port,
        source,
    }
}

/// A declared rule's permission, when it is known before apply (no `${public_ip}`, no group
/// still to be created).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub cidr: Option<String>,
    pub source_group: Option<String>,
}

/// The label of a live rule no description identifies (it has none, or another rule of its group
/// has the same one): its permission, which EC2 keeps unique among a group's ingress rules, so
/// the label is the same on every read and says what the rule lets in.
pub fn permission_label(o: &RuleObserved) -> String {
    let protocol = if o.protocol == "-1" {
        "all"
    } else {
        o.protocol.as_str()
    };
    let ports = if o.protocol == "-1" || (o.from_port == -1 && o.to_port == -1) {
        String::new()
    } else if o.from_port == o.to_port {
        format!("-{}", o.from_port)
    } else {
        format!("-{}-{}", o.from_port, o.to_port)
    };
    let source = o
        .cidr
        .as_deref()
        .or(o.source_group.as_deref())
        .unwrap_or("unknown");
    format!("{protocol}{ports}-from-{source}")
}

impl Permission {
    fn matches(&self, o: &RuleObserved) -> bool {
        self.protocol == o.protocol
            && self.from_port == o.from_port
            && self.to_port == o.to_port
            && self.cidr == o.cidr
            && self.source_group == o.source_group
    }
}

/// Rules are identified by description, but a description edited in the file (or the console)
/// should be one in-place update, not a revoke plus an authorize of the same permission, which
/// AWS would also refuse as a duplicate if the authorize came first. So a live rule whose label
/// is not declared takes the label of a declared rule with the same permission that has no live
/// rule of its own.
pub fn relabel(declared: &[(String, Permission)], live: &mut [(String, RuleObserved)]) {
    let live_labels: std::collections::BTreeSet<String> =
        live.iter().map(|(l, _)| l.clone()).collect();
    let declared_labels: std::collections::BTreeSet<&String> =
        declared.iter().map(|(l, _)| l).collect();
    let mut taken = std::collections::BTreeSet::new();
    for (label, obs) in live.iter_mut() {
        if declared_labels.contains(label) {
            continue;
        }
        if let Some((want, _)) = declared
            .iter()
            .find(|(d, p)| !live_labels.contains(d) && !taken.contains(d) && p.matches(obs))
        {
            taken.insert(want.clone());
            *label = want.clone();
        }
    }
}

pub fn diff_group(
    address: &str,
    spec: Option<&GroupSpec>,
    observed: Option<&GroupObserved>,
) -> Result<Option<Change>, PlanError> {
    let Some(s) = spec else {
        return Ok(observed.map(|_| Change::new(address, Action::Delete)));
    };
    let mut d = Diff::new();
    let o = observed;
    // EC2 cannot rename a group: a new `name:` replaces it (its rules go with it).
    d.value(
        "name",
        o.map(|o| o.name.clone()),
        Some(s.name.clone()),
        true,
    );
    d.value(
        "description",
        o.map(|o| o.description.clone()),
        Some(s.description.clone()),
        true,
    );
    d.text("vpc", o.map(|o| o.vpc_id.as_str()), &s.vpc_id, true);
    tag_diff(
        &mut d,
        &o.map(|o| o.tags.clone()).unwrap_or_default(),
        &s.tags,
    );
    match o {
        None => Ok(Some(d.into_create(address))),
        Some(o) => {
            let c = owned_change(address, d, o.owned);
            Ok(c.map(|c| {
                if c.action == Action::Replace {
                    c.note("AWS cannot change a group's description or VPC: the group is deleted and created again, and anything using it must let go of it first")
                } else {
                    c
                }
            }))
        }
    }
}

fn shown_source(s: &Source) -> (Shown, Shown) {
    match s {
        Source::Cidr(t) => (t.shown(), Shown::Absent),
        Source::Group(t) => (Shown::Absent, t.shown()),
    }
}

/// A live rule the file does not declare: what it lets in, since its label alone (often a
/// description of a rule made in the console) does not say what revoking it closes.
fn revoked(address: &str, o: &RuleObserved) -> Change {
    let mut c = Change::new(address, Action::Delete).note("not in stack.yaml: revoked");
    let ports = if o.from_port == o.to_port {
        Shown::value(o.from_port)
    } else {
        Shown::value(format!("{}-{}", o.from_port, o.to_port))
    };
    let source = o
        .cidr
        .clone()
        .or_else(|| o.source_group.clone())
        .map_or(Shown::Absent, Shown::Value);
    for (path, before) in [
        ("protocol", Shown::value(&o.protocol)),
        ("ports", ports),
        ("source", source),
    ] {
        c.fields.push(FieldChange {
            path: path.into(),
            before,
            after: Shown::Absent,
            forces_replacement: false,
        });
    }
    c
}

pub fn diff_rule(
    address: &str,
    spec: Option<&RuleSpec>,
    observed: Option<&RuleObserved>,
) -> Result<Option<Change>, PlanError> {
    let Some(s) = spec else {
        return Ok(observed.map(|o| revoked(address, o)));
    };
    // A rule lives and dies with its group: when the group is replaced, the live rule goes with
    // the old group and the declared one is authorized in the new group. Before apply the new
    // id is unknown (a replace the plan shows); at apply it is known, and the old rule is no
    // longer there to modify or revoke, so it is a create, with no call to the old group.
    let moved = observed.filter(|o| s.group_id.expose() != Some(o.group_id.as_str()));
    if moved.is_some() && s.group_id.is_known() {
        return diff_rule(address, Some(s), None);
    }
    let mut d = Diff::new();
    let o = observed;
    if let Some(o) = moved {
        d.text("group_id", Some(o.group_id.as_str()), &s.group_id, true);
    }
    if let Some(o) = o {
        d.value(
            "description",
            o.description.clone(),
            Some(s.description.clone()),
            false,
        );
    }
    d.value(
        "protocol",
        o.map(|o| o.protocol.clone()),
        Some(s.protocol.clone()),
        false,
    );
    d.value(
        "from_port",
        o.map(|o| o.from_port),
        Some(s.from_port),
        false,
    );
    d.value("to_port", o.map(|o| o.to_port), Some(s.to_port), false);
    let (cidr, group) = shown_source(&s.source);
    match &s.source {
        Source::Cidr(t) => d.text("cidr", o.and_then(|o| o.cidr.as_deref()), t, false),
        Source::Group(_) => d.shown(
            "cidr",
            Shown::opt(o.and_then(|o| o.cidr.clone())),
            cidr,
            false,
        ),
    }
    match &s.source {
        Source::Group(t) => d.text(
            "source_group",
            o.and_then(|o| o.source_group.as_deref()),
            t,
            false,
        ),
        Source::Cidr(_) => d.shown(
            "source_group",
            Shown::opt(o.and_then(|o| o.source_group.clone())),
            group,
            false,
        ),
    }
    Ok(match o {
        None => Some(d.into_create(address)),
        Some(_) if moved.is_some() => d.into_change(address).map(|c| {
            c.note("its group is replaced: the rule goes with the old group and is authorized in the new one")
        }),
        Some(_) => d.into_change(address),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cidr: &str) -> RuleSpec {
        RuleSpec {
            group: "db".into(),
            group_id: Text::known("sg-1"),
            description: "GITPOD".into(),
            protocol: "tcp".into(),
            from_port: 5432,
            to_port: 5432,
            source: Source::Cidr(Text::known(cidr)),
        }
    }

    fn live(cidr: &str) -> RuleObserved {
        RuleObserved {
            group_id: "sg-1".into(),
            description: Some("GITPOD".into()),
            protocol: "tcp".into(),
            from_port: 5432,
            to_port: 5432,
            cidr: Some(cidr.into()),
            source_group: None,
        }
    }

    #[test]
    fn a_moved_ip_is_one_in_place_update() {
        let c = diff_rule("a", Some(&rule("5.6.7.8/32")), Some(&live("1.2.3.4/32")))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1);
        assert_eq!(c.fields[0].path, "cidr");
        assert_eq!(c.fields[0].before, Shown::value("1.2.3.4/32"));
        assert_eq!(c.fields[0].after, Shown::value("5.6.7.8/32"));
    }

    #[test]
    fn same_rule_is_no_change_and_missing_rule_is_create() {
        assert!(
            diff_rule("a", Some(&rule("1.2.3.4/32")), Some(&live("1.2.3.4/32")))
                .unwrap()
                .is_none()
        );
        let c = diff_rule("a", Some(&rule("1.2.3.4/32")), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Create);
    }

    #[test]
    fn unlisted_rule_is_revoked_and_unknown_public_ip_is_a_change() {
        let c = diff_rule("a", None, Some(&live("1.2.3.4/32")))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Delete);
        // What the rule lets in, not only its label.
        let shown: Vec<(&str, String)> = c
            .fields
            .iter()
            .map(|f| (f.path.as_str(), f.before.to_string()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("protocol", "\"tcp\"".to_string()),
                ("ports", "5432".to_string()),
                ("source", "\"1.2.3.4/32\"".to_string())
            ]
        );
        let mut s = rule("x");
        s.source = Source::Cidr(Text::unknown(false));
        let c = diff_rule("a", Some(&s), Some(&live("1.2.3.4/32")))
            .unwrap()
            .unwrap();
        assert_eq!(c.fields[0].after, Shown::Unknown);
    }

    #[test]
    fn an_edited_description_is_an_in_place_update_of_the_same_rule() {
        let perm = Permission {
            protocol: "tcp".into(),
            from_port: 5432,
            to_port: 5432,
            cidr: Some("1.2.3.4/32".into()),
            source_group: None,
        };
        let mut old = live("1.2.3.4/32");
        old.description = Some("OLD".into());
        let mut other = live("9.9.9.9/32");
        other.description = Some("STRAY".into());
        let mut live_rules = vec![("OLD".to_string(), old), ("STRAY".to_string(), other)];
        relabel(&[("GITPOD".to_string(), perm)], &mut live_rules);
        assert_eq!(live_rules[0].0, "GITPOD");
        assert_eq!(
            live_rules[1].0, "STRAY",
            "a different permission keeps its own label"
        );
        let c = diff_rule("a", Some(&rule("1.2.3.4/32")), Some(&live_rules[0].1))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1);
        assert_eq!(c.fields[0].path, "description");
    }

    #[test]
    fn a_rule_without_description_is_labelled_by_what_it_lets_in() {
        let mut o = live("0.0.0.0/0");
        o.description = None;
        assert_eq!(permission_label(&o), "tcp-5432-from-0.0.0.0/0");
        o.from_port = 8000;
        o.to_port = 8080;
        o.cidr = None;
        o.source_group = Some("sg-9".into());
        assert_eq!(permission_label(&o), "tcp-8000-8080-from-sg-9");
        o.protocol = "-1".into();
        o.from_port = -1;
        o.to_port = -1;
        assert_eq!(permission_label(&o), "all-from-sg-9");
    }

    #[test]
    fn switching_cidr_to_group_is_in_place() {
        let mut s = rule("x");
        s.source = Source::Group(Text::known("sg-9"));
        let c = diff_rule("a", Some(&s), Some(&live("1.2.3.4/32")))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 2);
    }

    fn group(desc: &str, owned: bool) -> (GroupSpec, GroupObserved) {
        let tags: BTreeMap<String, String> = [("deploy:stack".to_string(), "s".to_string())].into();
        (
            GroupSpec {
                name: "g".into(),
                description: desc.into(),
                vpc_id: Text::known("vpc-1"),
                tags: tags.clone(),
            },
            GroupObserved {
                id: "sg-1".into(),
                name: "g".into(),
                description: "d".into(),
                vpc_id: "vpc-1".into(),
                tags: if owned { tags } else { BTreeMap::new() },
                owned,
            },
        )
    }

    #[test]
    fn description_change_forces_replacement() {
        let (s, o) = group("new", true);
        let c = diff_group("a", Some(&s), Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Replace);
        assert!(c.fields[0].forces_replacement);
        let (s, o) = group("d", true);
        assert!(diff_group("a", Some(&s), Some(&o)).unwrap().is_none());
    }

    #[test]
    fn untagged_group_is_adopted() {
        let (s, o) = group("d", false);
        let c = diff_group("a", Some(&s), Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Adopt);
        assert_eq!(c.fields[0].path, "tags.deploy:stack");
    }
}

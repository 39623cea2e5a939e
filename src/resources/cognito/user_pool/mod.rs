//! Cognito user pools this stack owns. Every pool write goes through the read-modify-write of
//! [`super`], shared with the triggers.

pub mod aws;
pub mod decl;

use crate::resources::core::{diff_by, spec_by};
use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{Action, Change, Diff, PlanError, list};
use crate::resources::cognito::PoolDescription;
pub use crate::resources::core::pool_address as address;
use crate::resources::core::{
    Attrs, Key, LiveEnv, NodeDef, NodeType, ReplacePolicy, data_tags, owned_change, owner_tag,
    tag_diff,
};
use crate::stack::{Pos, Resolver, STACK_TAG, Stack};

/// A pool's name is its identity here: the old one goes before the new one is created.
pub const REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;

/// The user pool node type (see [`NodeType`]).
pub struct PoolNode;

impl NodeType for PoolNode {
    type Spec = Spec;
    type Observed = Observed;
    const REPLACE: ReplacePolicy = REPLACE;
    const ATTR_NAMES: &'static [&'static str] = &["id", "arn"];

    spec_by!(spec);

    diff_by!(diff);

    fn attrs(o: &Observed) -> Attrs {
        vec![("id", Some(o.id.clone())), ("arn", Some(o.arn.clone()))]
    }

    fn owned(o: &Observed) -> bool {
        o.owned
    }

    fn owner(o: &Observed) -> Option<&str> {
        owner_tag(&o.tags)
    }
}

/// What a stack file asks of a pool. `None` fields are not managed.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub username_attributes: Option<Vec<String>>,
    pub auto_verified_attributes: Option<Vec<String>>,
    pub deletion_protection: Option<bool>,
    pub tags: BTreeMap<String, String>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub arn: String,
    pub name: String,
    /// Sorted.
    pub username_attributes: Vec<String>,
    /// Sorted.
    pub auto_verified_attributes: Vec<String>,
    /// DeletionProtection is ACTIVE.
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    /// Carries this stack's `deploy:stack` tag.
    pub owned: bool,
    /// Trigger slots that are set: (event in the file's spelling, function ARN).
    pub triggers: Vec<(String, String)>,
    /// Ids of other pools that could equally be this one (same name, same ownership): the plan
    /// refuses to guess.
    pub ambiguous: Vec<String>,
}

/// The pool as this kind diffs it.
pub fn observed(p: &PoolDescription, stack: &str) -> Observed {
    let mut username_attributes = p.username_attributes.clone();
    username_attributes.sort();
    let mut auto_verified_attributes = p
        .settings
        .auto_verified_attributes
        .clone()
        .unwrap_or_default();
    auto_verified_attributes.sort();
    Observed {
        id: p.id.clone(),
        arn: p.arn.clone(),
        name: p.name.clone(),
        username_attributes,
        auto_verified_attributes,
        deletion_protection: p.deletion_protection(),
        tags: p.tags(),
        owned: p.owned_by(stack),
        triggers: p.set_triggers(),
        ambiguous: Vec::new(),
    }
}

/// Which live pool each pool name stands for. A pool tagged with this stack wins; an untagged
/// pool counts only under a declared name (to adopt); pools of other stacks never count. When
/// several pools qualify equally, the first (by id) is returned with the others in `ambiguous`,
/// and [`diff`] refuses to plan it.
pub fn select(
    stack: &str,
    declared: &BTreeSet<String>,
    pools: &[PoolDescription],
) -> Vec<Observed> {
    let mut by_name: BTreeMap<&str, Vec<&PoolDescription>> = BTreeMap::new();
    for p in pools {
        by_name.entry(p.name.as_str()).or_default().push(p);
    }
    let mut out = Vec::new();
    for (name, mut candidates) in by_name {
        candidates.sort_by(|a, b| a.id.cmp(&b.id));
        let owned: Vec<_> = candidates.iter().filter(|p| p.owned_by(stack)).collect();
        let untagged: Vec<_> = candidates
            .iter()
            .filter(|p| {
                !p.settings
                    .tags
                    .as_ref()
                    .is_some_and(|t| t.contains_key(STACK_TAG))
            })
            .collect();
        let group = if !owned.is_empty() {
            owned
        } else if declared.contains(name) && !untagged.is_empty() {
            untagged
        } else {
            continue;
        };
        let mut o = observed(group[0], stack);
        o.ambiguous = group[1..].iter().map(|p| p.id.clone()).collect();
        out.push(o);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Nodes, specs, diff.
// ---------------------------------------------------------------------------------------------

pub fn nodes(stack: &Stack) -> Vec<NodeDef> {
    stack
        .user_pools
        .keys()
        .map(|name| NodeDef {
            address: address(name),
            key: Key::UserPool(name.clone()),
            deps: vec![],
        })
        .collect()
}

pub fn spec(stack: &Stack, key: &Key, _r: &Resolver, _env: &LiveEnv) -> Spec {
    let Key::UserPool(name) = key else {
        unreachable!("user_pool::spec called for {key:?}")
    };
    let p = &stack.user_pools[name];
    Spec {
        name: p.name.clone(),
        username_attributes: p.username_attributes.clone(),
        auto_verified_attributes: p.auto_verified_attributes.clone(),
        deletion_protection: p.deletion_protection,
        tags: data_tags(stack, name, &p.name),
        pos: p.pos,
    }
}

const LOSES_USERS: &str = "DELETES THE POOL AND ALL ITS USERS (accounts, passwords, groups, app clients); this cannot be undone";

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

pub fn diff(
    address: &str,
    spec: Option<&Spec>,
    observed: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    let err = |pos: Pos, message: String| PlanError {
        address: address.to_string(),
        pos,
        message,
    };
    if let Some(o) = observed.filter(|o| !o.ambiguous.is_empty()) {
        let ids = std::iter::once(o.id.as_str())
            .chain(o.ambiguous.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ");
        let whose = if o.owned {
            "carry this stack's tag"
        } else {
            "have no owner tag"
        };
        return Err(err(
            spec.map_or(Pos::default(), |s| s.pos),
            format!(
                "several user pools named `{}` {whose} ({ids}); deploy cannot tell which one is meant: delete or rename the extra ones",
                o.name
            ),
        ));
    }
    let Some(s) = spec else {
        let Some(o) = observed.filter(|o| o.owned) else {
            return Ok(None);
        };
        if o.deletion_protection {
            return Err(err(
                Pos::default(),
                format!(
                    "deletion protection is active on user pool {}: put it back in stack.yaml with `deletion_protection: false` and apply, then remove it",
                    o.id
                ),
            ));
        }
        return Ok(Some(Change::new(address, Action::Delete).note(LOSES_USERS)));
    };
    let o = observed;
    // Cognito has no rename (UpdateUserPool takes no PoolName), and a new pool would lose every
    // user: a changed `name:` is refused, never a silent replace.
    if let Some(o) = o.filter(|o| o.name != s.name) {
        return Err(err(
            s.pos,
            format!(
                "name: the pool is `{}` ({}) and Cognito cannot rename a user pool; a new pool `{}` would start without its users: keep `name: {}`, or move the users yourself and remove the old pool from the account first",
                o.name, o.id, s.name, o.name
            ),
        ));
    }
    let mut d = Diff::new();
    d.value(
        "username_attributes",
        o.map(|o| list(&sorted(&o.username_attributes))),
        s.username_attributes.as_ref().map(|v| list(&sorted(v))),
        true,
    );
    d.value(
        "auto_verified_attributes",
        o.map(|o| list(&sorted(&o.auto_verified_attributes))),
        s.auto_verified_attributes
            .as_ref()
            .map(|v| list(&sorted(v))),
        false,
    );
    d.value(
        "deletion_protection",
        o.map(|o| o.deletion_protection),
        s.deletion_protection,
        false,
    );
    tag_diff(
        &mut d,
        &o.map(|o| o.tags.clone()).unwrap_or_default(),
        &s.tags,
    );
    let Some(o) = o else {
        return Ok(Some(d.into_create(address)));
    };
    if d.forces_replacement() {
        if !o.owned {
            return Err(err(
                s.pos,
                format!(
                    "the existing pool {} has username_attributes {} and AWS cannot change them; adopting it with {} would mean deleting it and all its users: write its current value in stack.yaml",
                    o.id,
                    list(&o.username_attributes),
                    list(s.username_attributes.as_deref().unwrap_or_default())
                ),
            ));
        }
        // The file's own protection counts as much as AWS's: a pool the file protects is never
        // replaced, even while protection is not on in AWS yet.
        if s.deletion_protection == Some(true) {
            return Err(err(
                s.pos,
                format!(
                    "username_attributes cannot change in place, so pool {} would be replaced, but stack.yaml protects it (deletion_protection: true): revert username_attributes, or first apply deletion_protection: false on its own (a replace deletes all its users)",
                    o.id
                ),
            ));
        }
        if o.deletion_protection && s.deletion_protection != Some(false) {
            return Err(err(
                s.pos,
                format!(
                    "username_attributes cannot change in place, so pool {} would be replaced, but its deletion protection is active: set `deletion_protection: false` to allow it (this deletes all its users)",
                    o.id
                ),
            ));
        }
    }
    let change = owned_change(address, d, o.owned).map(|c| match c.action {
        Action::Replace => c.note(format!(
            "username_attributes cannot change after creation: the pool is replaced. {LOSES_USERS}. The new pool gets a new id"
        )),
        Action::Adopt if !o.triggers.is_empty() => {
            let events: Vec<&str> = o.triggers.iter().map(|(e, _)| e.as_str()).collect();
            c.note(format!(
                "once adopted, every trigger slot of this pool is managed by this stack: slots set now ({}) that cognito_triggers does not declare will be removed by the next apply",
                events.join(", ")
            ))
        }
        _ => c,
    });
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::cognito::PoolSettings;
    use crate::value::Shown;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn described(id: &str, name: &str, t: &[(&str, &str)]) -> PoolDescription {
        PoolDescription {
            id: id.into(),
            name: name.into(),
            arn: format!("arn:aws:cognito-idp:us-east-1:1:userpool/{id}"),
            settings: PoolSettings {
                tags: Some(tags(t)),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn select_prefers_owned_pools_and_adopts_only_declared_untagged_ones() {
        let pools = vec![
            described("p1", "app", &[]),
            described("p2", "app", &[(STACK_TAG, "s")]),
            described("p3", "other-stack", &[(STACK_TAG, "t")]),
            described("p4", "loose", &[]),
            described("p5", "orphan", &[(STACK_TAG, "s")]),
            described("p6", "twin", &[]),
            described("p7", "twin", &[]),
            described("p8", "other-stack-declared", &[(STACK_TAG, "t")]),
        ];
        let declared: BTreeSet<String> = ["app", "twin", "other-stack-declared"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = select("s", &declared, &pools);
        let summary: Vec<(&str, &str, bool, Vec<String>)> = got
            .iter()
            .map(|o| (o.name.as_str(), o.id.as_str(), o.owned, o.ambiguous.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("app", "p2", true, vec![]),
                ("orphan", "p5", true, vec![]),
                ("twin", "p6", false, vec!["p7".to_string()]),
            ]
        );
    }

    fn pool_spec(username: Option<Vec<&str>>) -> Spec {
        Spec {
            name: "pool".into(),
            username_attributes: username.map(|v| v.into_iter().map(str::to_string).collect()),
            auto_verified_attributes: Some(vec!["email".into()]),
            deletion_protection: None,
            tags: tags(&[(STACK_TAG, "s")]),
            pos: Pos { line: 7, col: 3 },
        }
    }

    fn live(owned: bool) -> Observed {
        Observed {
            id: "us-east-1_abc".into(),
            arn: "arn:p".into(),
            name: "pool".into(),
            username_attributes: vec!["email".into()],
            auto_verified_attributes: vec!["email".into()],
            deletion_protection: false,
            tags: if owned {
                tags(&[(STACK_TAG, "s")])
            } else {
                BTreeMap::new()
            },
            owned,
            triggers: vec![],
            ambiguous: vec![],
        }
    }

    #[test]
    fn create_lists_the_managed_fields() {
        let c = diff(
            "user_pools.pool",
            Some(&pool_spec(Some(vec!["email"]))),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.action, Action::Create);
        let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "username_attributes",
                "auto_verified_attributes",
                "tags.deploy:stack"
            ]
        );
        assert_eq!(c.fields[0].after, Shown::List(vec!["email".into()]));
    }

    #[test]
    fn matching_pool_is_no_change_and_unmanaged_fields_are_not_diffed() {
        assert!(
            diff(
                "a",
                Some(&pool_spec(Some(vec!["email"]))),
                Some(&live(true))
            )
            .unwrap()
            .is_none()
        );
        let mut s = pool_spec(None);
        s.auto_verified_attributes = None;
        let mut o = live(true);
        o.deletion_protection = true;
        o.auto_verified_attributes = vec![];
        o.tags.insert("extra".into(), "kept".into());
        assert!(diff("a", Some(&s), Some(&o)).unwrap().is_none());
    }

    #[test]
    fn verification_protection_and_tags_update_in_place() {
        let mut s = pool_spec(Some(vec!["email"]));
        s.auto_verified_attributes = Some(vec!["email".into(), "phone_number".into()]);
        s.deletion_protection = Some(true);
        s.tags.insert("project".into(), "x".into());
        let mut o = live(true);
        o.tags.insert("project".into(), "drifted".into());
        let c = diff("a", Some(&s), Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Update);
        let f: Vec<(&str, Shown, Shown)> = c
            .fields
            .iter()
            .map(|f| (f.path.as_str(), f.before.clone(), f.after.clone()))
            .collect();
        assert_eq!(
            f,
            vec![
                (
                    "auto_verified_attributes",
                    Shown::List(vec!["email".into()]),
                    Shown::List(vec!["email".into(), "phone_number".into()])
                ),
                (
                    "deletion_protection",
                    Shown::value(false),
                    Shown::value(true)
                ),
                ("tags.project", Shown::value("drifted"), Shown::value("x")),
            ]
        );
    }

    #[test]
    fn username_attributes_force_a_loud_replace() {
        let c = diff(
            "a",
            Some(&pool_spec(Some(vec!["phone_number"]))),
            Some(&live(true)),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.action, Action::Replace);
        let f = c.field("username_attributes").unwrap();
        assert!(f.forces_replacement);
        assert!(
            c.notes.iter().any(|n| n.contains("ALL ITS USERS")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn deletion_protection_blocks_replace_and_delete() {
        let mut o = live(true);
        o.deletion_protection = true;
        let e = diff("a", Some(&pool_spec(Some(vec!["phone_number"]))), Some(&o)).unwrap_err();
        assert_eq!(e.pos, Pos { line: 7, col: 3 });
        assert!(e.message.contains("deletion protection"), "{}", e.message);
        // Turning it off in the file allows the replace (apply turns it off first).
        let mut s = pool_spec(Some(vec!["phone_number"]));
        s.deletion_protection = Some(false);
        assert_eq!(
            diff("a", Some(&s), Some(&o)).unwrap().unwrap().action,
            Action::Replace
        );
        let e = diff("a", None, Some(&o)).unwrap_err();
        assert!(
            e.message.contains("deletion_protection: false"),
            "{}",
            e.message
        );
        // Protection in the file alone (not yet on in AWS) blocks the replace too.
        o.deletion_protection = false;
        let mut s = pool_spec(Some(vec!["phone_number"]));
        s.deletion_protection = Some(true);
        let e = diff("a", Some(&s), Some(&o)).unwrap_err();
        assert_eq!(e.pos, s.pos);
        assert!(
            e.message.contains("stack.yaml protects it"),
            "{}",
            e.message
        );
    }

    #[test]
    fn delete_only_what_is_owned() {
        let c = diff("a", None, Some(&live(true))).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(c.notes[0].contains("ALL ITS USERS"));
        assert!(diff("a", None, Some(&live(false))).unwrap().is_none());
        assert!(diff("a", None, None).unwrap().is_none());
    }

    #[test]
    fn untagged_pool_is_adopted_but_never_replaced() {
        let mut o = live(false);
        o.triggers = vec![("pre_sign_up".into(), "arn:f".into())];
        let c = diff("a", Some(&pool_spec(Some(vec!["email"]))), Some(&o))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Adopt);
        assert_eq!(c.fields[0].path, "tags.deploy:stack");
        assert!(
            c.notes.iter().any(|n| n.contains("pre_sign_up")),
            "{:?}",
            c.notes
        );
        let e = diff("a", Some(&pool_spec(Some(vec!["phone_number"]))), Some(&o)).unwrap_err();
        assert!(
            e.message.contains("write its current value"),
            "{}",
            e.message
        );
    }

    #[test]
    fn ambiguous_pools_are_a_plan_error_naming_every_id() {
        let mut o = live(false);
        o.ambiguous = vec!["us-east-1_def".into()];
        let e = diff("user_pools.pool", Some(&pool_spec(None)), Some(&o)).unwrap_err();
        assert!(
            e.message.contains("us-east-1_abc") && e.message.contains("us-east-1_def"),
            "{}",
            e.message
        );
        assert_eq!(e.pos, Pos { line: 7, col: 3 });
    }
}

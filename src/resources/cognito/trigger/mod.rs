//! Cognito triggers: one LambdaConfig slot of a pool, plus the resource-policy statement that lets
//! Cognito invoke the function (the console adds it by itself, the API does not, and without it
//! sign-up fails with AccessDeniedException).
//!
//! A slot is set by read-modify-write of the whole pool (see `user_pool`). Which slots are ours:
//! on a pool this stack owns, every slot (one set but not declared is cleared); on any other pool,
//! only the events listed in the pool tag `deploy:triggers:<stack>`, which the same write keeps up
//! to date. Nothing else on such a pool is ever changed.

pub mod aws;
pub mod decl;

use crate::resources::core::{diff_by, spec_by};
use std::collections::BTreeSet;

use crate::plan::{Action, Change, Diff, PlanError};
use crate::resources::cognito::{Edits, PoolDescription, Pools, STATEMENT_PREFIX};
use crate::resources::core::{
    Key, LiveEnv, Lookup, NodeDef, NodeType, PoolSummary, ReplacePolicy, function_address,
    owned_change, pool_address,
};
use crate::stack::{FunctionRef, PoolRef, Pos, Resolver, Stack, TRIGGER_EVENTS, Trigger};
use crate::value::{Shown, Text};

pub const PRINCIPAL: &str = "cognito-idp.amazonaws.com";
pub const INVOKE: &str = "lambda:InvokeFunction";

/// The pool a trigger is set on.
#[derive(Clone, Debug)]
pub struct PoolTarget {
    pub id: Text,
    pub arn: Text,
}

#[derive(Clone, Debug)]
pub struct Spec {
    /// The file's spelling, e.g. `post_confirmation`.
    pub event: String,
    /// The pool, or why it cannot be found (an existing pool named by id or name): a plan error.
    pub pool: Result<PoolTarget, String>,
    pub function_arn: Text,
    /// Why the function the file names by ARN cannot be used (AWS says it does not exist): a
    /// plan error at the trigger.
    pub missing_function: Option<String>,
    /// Why it could not be checked (AccessDenied): a plan warning.
    pub unverified_function: Option<String>,
    pub pos: Pos,
}

/// The key of [`LiveEnv::lookups`] for a function a trigger names by ARN.
pub fn function_lookup(arn: &str) -> String {
    format!("function {arn}")
}

/// One statement of the function's resource policy with our statement id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    pub effect: String,
    pub action: String,
    pub principal: String,
    pub source_arn: Option<String>,
}

impl Permission {
    pub fn allows(&self, pool_arn: &str) -> bool {
        self.effect == "Allow"
            && self.action == INVOKE
            && self.principal == PRINCIPAL
            && self.source_arn.as_deref() == Some(pool_arn)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub pool_id: String,
    pub pool_arn: String,
    pub event: String,
    /// What the slot points at now.
    pub function_arn: String,
    /// Set by this stack: the pool is owned, or the event is in the pool's `deploy:triggers:` tag.
    pub owned: bool,
    /// Statements with our statement id on the declared function (read for declared triggers only).
    pub permission: Vec<Permission>,
    /// Another statement (one made in the console, say) already lets this pool invoke the
    /// declared function: it stands for the permission, and none is added beside it.
    pub equivalent: bool,
    /// The other stack that set this slot (it owns the pool, or lists the event in its
    /// `deploy:triggers:` tag on the pool).
    pub owner: Option<String>,
}

/// The LambdaConfig field of an event in the file's spelling.
pub fn field_of(event: &str) -> &'static str {
    TRIGGER_EVENTS
        .iter()
        .find(|(e, _)| *e == event)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| unreachable!("validated event {event}"))
}

/// A slot is set in place (the permission first): a trigger is never replaced; were it, the
/// slot would be cleared first.
pub const REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;

/// The trigger slot node type (see [`NodeType`]).
pub struct TriggerNode;

impl NodeType for TriggerNode {
    type Spec = Spec;
    type Observed = Observed;
    const REPLACE: ReplacePolicy = REPLACE;

    spec_by!(spec);

    diff_by!(diff);

    fn owned(o: &Observed) -> bool {
        o.owned
    }

    /// The stack that set the slot.
    fn owner(o: &Observed) -> Option<&str> {
        o.owner.as_deref()
    }

    fn refs(o: &Observed) -> Vec<String> {
        refs(o)
    }
}

/// The pool tag that lists the events this stack set on a pool it does not own.
pub fn triggers_tag(stack: &str) -> String {
    format!("deploy:triggers:{stack}")
}

pub fn tagged_events(pool: &PoolDescription, stack: &str) -> BTreeSet<String> {
    pool.settings
        .tags
        .as_ref()
        .and_then(|t| t.get(&triggers_tag(stack)))
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The edits that set (`Some`) or clear (`None`) one slot, keeping the ownership tag in step: tag
/// values cannot hold commas, hence a space-separated list.
pub fn trigger_edits(
    pool: &PoolDescription,
    stack: &str,
    event: &str,
    function: Option<&str>,
) -> Edits {
    let mut e = Edits::default();
    e.triggers
        .insert(field_of(event).to_string(), function.map(str::to_string));
    let mut events = tagged_events(pool, stack);
    let changed = match function {
        Some(_) => !pool.owned_by(stack) && events.insert(event.to_string()),
        None => events.remove(event),
    };
    if changed {
        let key = triggers_tag(stack);
        if events.is_empty() {
            e.remove_tags.push(key);
        } else {
            e.set_tags
                .insert(key, events.into_iter().collect::<Vec<_>>().join(" "));
        }
    }
    e
}

/// An existing pool named in the file by id, else by exact name (which must be unique).
pub fn resolve_external(label: &str, pools: &[PoolSummary]) -> Result<PoolSummary, String> {
    if let Some(p) = pools.iter().find(|p| p.id == label) {
        return Ok(p.clone());
    }
    let named: Vec<&PoolSummary> = pools.iter().filter(|p| p.name == label).collect();
    match named.as_slice() {
        [p] => Ok((*p).clone()),
        [] => Err(format!(
            "no user pool has the id or name `{label}` in this account and region: declare it under user_pools, or name an existing pool"
        )),
        many => Err(format!(
            "several user pools are named `{label}` ({}): name the pool by its id",
            many.iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub fn nodes(stack: &Stack) -> Vec<NodeDef> {
    stack
        .cognito_triggers
        .iter()
        .map(|t| {
            let mut deps = Vec::new();
            if let PoolRef::Stack(p) = &t.user_pool {
                deps.push(pool_address(p));
            }
            if let FunctionRef::Stack(f) = &t.function {
                deps.push(function_address(f));
            }
            NodeDef {
                address: t.address(),
                key: Key::Trigger {
                    pool: t.user_pool.label().to_string(),
                    event: t.event.clone(),
                },
                deps,
            }
        })
        .collect()
}

fn declared<'a>(stack: &'a Stack, pool: &str, event: &str) -> &'a Trigger {
    stack
        .cognito_triggers
        .iter()
        .find(|t| t.user_pool.label() == pool && t.event == event)
        .expect("trigger keys come from the stack")
}

pub fn spec(stack: &Stack, key: &Key, r: &Resolver, env: &LiveEnv) -> Spec {
    let Key::Trigger { pool, event } = key else {
        unreachable!("cognito_trigger::spec called for {key:?}")
    };
    let t = declared(stack, pool, event);
    let pool = match &t.user_pool {
        PoolRef::Stack(name) => Ok(PoolTarget {
            id: r.attr(&pool_address(name), "id"),
            arn: r.attr(&pool_address(name), "arn"),
        }),
        PoolRef::External(label) => resolve_external(label, &env.user_pools).map(|p| PoolTarget {
            id: Text::known(p.id),
            arn: Text::known(p.arn),
        }),
    };
    let function_arn = match &t.function {
        FunctionRef::Stack(f) => r.attr(&function_address(f), "arn"),
        FunctionRef::Arn(a) => Text::known(a.clone()),
    };
    let (mut missing_function, mut unverified_function) = (None, None);
    if let FunctionRef::Arn(a) = &t.function {
        match env.lookups.get(&function_lookup(a)) {
            Some(Lookup::Missing) => {
                missing_function = Some(format!(
                    "function: {a} does not exist (Cognito would call nothing, and AddPermission fails): check the ARN (`aws lambda get-function --function-name ARN`), or name a function of this stack"
                ))
            }
            Some(Lookup::Unknown(why)) => {
                unverified_function = Some(format!(
                    "function: could not check that {a} exists ({why}); apply fails if it does not"
                ))
            }
            _ => {}
        }
    }
    Spec {
        event: event.clone(),
        pool,
        function_arn,
        missing_function,
        unverified_function,
        pos: t.pos,
    }
}

fn permission_text(p: &Permission) -> String {
    let mut s = format!(
        "{} from {}",
        p.principal,
        p.source_arn.as_deref().unwrap_or("(any source)")
    );
    if p.action != INVOKE || p.effect != "Allow" {
        s = format!("{} {} for {s}", p.effect, p.action);
    }
    s
}

fn wanted_permission(pool_arn: &Text) -> Shown {
    match pool_arn.expose() {
        Some(arn) => Shown::Value(format!("{PRINCIPAL} from {arn}")),
        None => Shown::Unknown,
    }
}

fn shown_permissions(ps: &[Permission]) -> Shown {
    if ps.is_empty() {
        return Shown::Absent;
    }
    let mut texts: Vec<String> = ps.iter().map(permission_text).collect();
    texts.dedup();
    if texts.len() == 1 && ps.len() > 1 {
        // The same statement twice (moto accepts duplicate ids); apply leaves one.
        texts[0] = format!("{} (×{})", texts[0], ps.len());
    }
    Shown::Value(texts.join("; "))
}

pub fn diff(
    address: &str,
    spec: Option<&Spec>,
    observed: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    let Some(s) = spec else {
        let Some(o) = observed.filter(|o| o.owned) else {
            return Ok(None);
        };
        return Ok(Some(Change::new(address, Action::Delete).note(format!(
            "clears the {} slot of pool {} (was {}), keeping every other setting of the pool, and removes the function's invoke permission for it",
            o.event, o.pool_id, o.function_arn
        ))));
    };
    let target = s.pool.as_ref().map_err(|message| PlanError {
        address: address.to_string(),
        pos: s.pos,
        message: message.clone(),
    })?;
    if let Some(message) = &s.missing_function {
        return Err(PlanError {
            address: address.to_string(),
            pos: s.pos,
            message: message.clone(),
        });
    }
    let o = observed;
    let mut d = Diff::new();
    d.text(
        "user_pool",
        o.map(|o| o.pool_id.as_str()),
        &target.id,
        false,
    );
    d.text(
        "function",
        o.map(|o| o.function_arn.as_str()),
        &s.function_arn,
        false,
    );
    let wanted = wanted_permission(&target.arn);
    d.shown(
        "permission",
        o.map_or(Shown::Absent, |o| {
            if o.permission.is_empty() && o.equivalent {
                wanted.clone()
            } else {
                shown_permissions(&o.permission)
            }
        }),
        wanted,
        false,
    );
    let Some(o) = o else {
        return Ok(Some(d.into_create(address)));
    };
    Ok(owned_change(address, d, o.owned).map(|c| {
        if c.action == Action::Adopt {
            c.note(format!(
                "the {} slot was set outside this stack (to {}); once adopted, removing it from stack.yaml clears it",
                o.event, o.function_arn
            ))
        } else {
            c
        }
    }))
}

/// A set slot that observe reports, before its permission is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub address: String,
    pub key: Key,
    pub observed: Observed,
    /// The declared function (name or ARN) whose resource policy to read; `None` for slots that
    /// are only deleted (their statement is removed without reading).
    pub read_policy_of: Option<String>,
}

/// The slots observe reports: on every pool, each set slot that is ours (to keep or delete) or
/// declared (to update, or adopt when someone else set it). A slot neither ours nor declared is
/// not this stack's business.
pub fn candidates(stack: &Stack, pools: &Pools) -> Vec<Candidate> {
    let summaries = pools.summaries();
    let resolved: Vec<(&Trigger, Option<String>)> = stack
        .cognito_triggers
        .iter()
        .map(|t| {
            let id = match &t.user_pool {
                PoolRef::Stack(name) => pools.stack_pools.get(name).cloned(),
                PoolRef::External(label) => resolve_external(label, &summaries).ok().map(|p| p.id),
            };
            (t, id)
        })
        .collect();
    let mut out = Vec::new();
    for p in &pools.all {
        let pool_owned = p.owned_by(&stack.name);
        let tagged = tagged_events(p, &stack.name);
        let on_pool: Vec<&Trigger> = resolved
            .iter()
            .filter(|(_, id)| id.as_deref() == Some(p.id.as_str()))
            .map(|(t, _)| *t)
            .collect();
        for (event, field) in TRIGGER_EVENTS {
            let Some(arn) = p.trigger(field) else {
                continue;
            };
            let decl = on_pool.iter().find(|t| t.event == *event).copied();
            let owned = pool_owned || tagged.contains(*event);
            if !owned && decl.is_none() {
                continue;
            }
            let owner = if owned {
                None
            } else {
                p.tags()
                    .get(crate::stack::STACK_TAG)
                    .cloned()
                    .or_else(|| other_setter(p, &stack.name, event))
            };
            let label = match decl.or(on_pool.first().copied()) {
                Some(t) => t.user_pool.label().to_string(),
                None => default_label(p, pools),
            };
            out.push(Candidate {
                address: format!("cognito_triggers.{label}.{event}"),
                key: Key::Trigger {
                    pool: label,
                    event: event.to_string(),
                },
                observed: Observed {
                    pool_id: p.id.clone(),
                    pool_arn: p.arn.clone(),
                    event: event.to_string(),
                    function_arn: arn.to_string(),
                    owned,
                    permission: Vec::new(),
                    equivalent: false,
                    owner,
                },
                read_policy_of: decl.map(|t| match &t.function {
                    FunctionRef::Stack(f) => f.clone(),
                    FunctionRef::Arn(a) => a.clone(),
                }),
            });
        }
    }
    out
}

/// The other stack whose `deploy:triggers:<stack>` tag on the pool lists `event`.
fn other_setter(p: &PoolDescription, stack: &str, event: &str) -> Option<String> {
    let prefix = triggers_tag("");
    p.tags().into_iter().find_map(|(k, v)| {
        let other = k.strip_prefix(&prefix)?;
        (other != stack && v.split_whitespace().any(|e| e == event)).then(|| other.to_string())
    })
}

/// How an undeclared pool is named in addresses: as `user_pools` knows it, else by its name when
/// that is unique in the account, else by its id.
fn default_label(p: &PoolDescription, pools: &Pools) -> String {
    // `stack_pools` is keyed by the file's keys, which `name:` may set apart from AWS names.
    if let Some((key, _)) = pools.stack_pools.iter().find(|(_, id)| **id == p.id) {
        key.clone()
    } else if pools.all.iter().filter(|q| q.name == p.name).count() == 1 {
        p.name.clone()
    } else {
        p.id.clone()
    }
}

/// The statements with id `sid` in a Lambda resource policy (GetPolicy's JSON). AWS and moto
/// put the source ARN under `Condition.ArnLike.AWS:SourceArn`; any condition operator is read.
pub fn statements(policy: &str, sid: &str) -> Vec<Permission> {
    all_statements(policy)
        .into_iter()
        .filter(|(s, _)| s.as_deref() == Some(sid))
        .map(|(_, p)| p)
        .collect()
}

/// Whether a statement made outside deploy (in the console, say) already lets this pool invoke
/// the function. Statements deploy made for the pool's other events do not count: each belongs to
/// its own trigger and goes when that trigger goes, so leaning on one would leave this trigger
/// without permission once the other is removed or moved to another event.
pub fn has_equivalent(policy: &str, sid: &str, pool_arn: &str) -> bool {
    all_statements(policy).iter().any(|(s, p)| {
        s.as_deref() != Some(sid)
            && !s
                .as_deref()
                .is_some_and(|s| s.starts_with(STATEMENT_PREFIX))
            && p.allows(pool_arn)
    })
}

/// Every statement of a resource policy, with its id.
fn all_statements(policy: &str) -> Vec<(Option<String>, Permission)> {
    use serde_json::Value;
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return Vec::new();
    };
    let list = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        o @ Value::Object(_) => vec![o.clone()],
        _ => Vec::new(),
    };
    let first = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => a.iter().find_map(|x| x.as_str().map(str::to_string)),
            _ => None,
        }
    };
    list.iter()
        .map(|s| {
            let principal = match &s["Principal"] {
                Value::Object(m) => m.get("Service").and_then(first).unwrap_or_default(),
                other => first(other).unwrap_or_default(),
            };
            let source_arn = s["Condition"].as_object().and_then(|ops| {
                ops.values().find_map(|cond| {
                    cond.as_object()?
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("AWS:SourceArn"))
                        .and_then(|(_, v)| first(v))
                })
            });
            let p = Permission {
                effect: s["Effect"].as_str().unwrap_or("Allow").to_string(),
                action: first(&s["Action"]).unwrap_or_default(),
                principal,
                source_arn,
            };
            (s["Sid"].as_str().map(str::to_string), p)
        })
        .collect()
}

/// A trigger points at its pool and its function: it is removed before either is deleted.
pub fn refs(o: &Observed) -> Vec<String> {
    vec![
        o.pool_id.clone(),
        o.pool_arn.clone(),
        o.function_arn.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::resources::cognito::tests::rich_pool;
    use crate::resources::cognito::{LambdaConfig, PoolSettings, statement_id, update_request};
    use crate::stack::STACK_TAG;

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:mine";
    const POOL_ARN: &str = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc";

    fn stack(src: &str) -> Stack {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("fn")).unwrap();
        crate::stack::parse_str(src, Path::new("stack.yaml"), d.path(), &|_| None).unwrap()
    }

    fn pool(
        id: &str,
        name: &str,
        tags: &[(&str, &str)],
        slots: &[(&str, &str)],
    ) -> PoolDescription {
        PoolDescription {
            id: id.into(),
            name: name.into(),
            arn: format!("arn:aws:cognito-idp:us-east-1:123456789012:userpool/{id}"),
            username_attributes: vec![],
            settings: PoolSettings {
                tags: Some(
                    tags.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                lambda_config: Some(LambdaConfig {
                    triggers: slots
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    #[test]
    fn statement_ids_are_deterministic_valid_and_short() {
        assert_eq!(
            statement_id("post_confirmation", "us-east-1_abc"),
            "deploy-cognito-post_confirmation-us-east-1_abc"
        );
        assert_eq!(
            statement_id("pre_sign_up", "a:b/c"),
            "deploy-cognito-pre_sign_up-a_b_c"
        );
        let long = statement_id(
            "verify_auth_challenge_response",
            &format!("us-east-1_{}", "f".repeat(45)),
        );
        assert_eq!(long.len(), 100);
        assert!(
            long.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }

    #[test]
    fn on_a_foreign_pool_the_tag_records_our_events() {
        let p = pool(
            "p",
            "ext",
            &[("team", "x"), ("deploy:triggers:s", "pre_sign_up")],
            &[],
        );
        let e = trigger_edits(&p, "s", "post_confirmation", Some(FN));
        assert_eq!(e.triggers["PostConfirmation"].as_deref(), Some(FN));
        assert_eq!(
            e.set_tags["deploy:triggers:s"],
            "post_confirmation pre_sign_up"
        );
        let e = trigger_edits(&p, "s", "pre_sign_up", None);
        assert_eq!(e.triggers["PreSignUp"], None);
        assert_eq!(e.remove_tags, vec!["deploy:triggers:s".to_string()]);
        // Setting an event already listed leaves the tag alone.
        assert!(
            trigger_edits(&p, "s", "pre_sign_up", Some(FN))
                .set_tags
                .is_empty()
        );
    }

    #[test]
    fn on_an_owned_pool_no_tag_is_needed() {
        let p = pool("p", "mine", &[(STACK_TAG, "s")], &[]);
        let e = trigger_edits(&p, "s", "post_confirmation", Some(FN));
        assert!(e.set_tags.is_empty() && e.remove_tags.is_empty());
    }

    #[test]
    fn setting_and_removing_our_trigger_keeps_the_pool_and_its_other_tags() {
        let mut p = rich_pool();
        let set = update_request(&p, &trigger_edits(&p, "s", "post_confirmation", Some(FN)));
        let tags = set.settings.tags.clone().unwrap();
        assert_eq!(tags["deploy:triggers:s"], "post_confirmation");
        assert_eq!(tags["team"], "identity");
        assert_eq!(
            set.settings.lambda_config.as_ref().unwrap().triggers["PostConfirmation"],
            FN
        );
        assert_eq!(set.settings.mfa_configuration.as_deref(), Some("OPTIONAL"));
        // Read back as AWS would report it, then removed: the original pool again.
        p.settings = set.settings.clone();
        let cleared = update_request(&p, &trigger_edits(&p, "s", "post_confirmation", None));
        let original = update_request(&rich_pool(), &Edits::default());
        assert_eq!(cleared, original);
    }

    #[test]
    fn external_pools_resolve_by_id_then_unique_name() {
        let pools = vec![
            PoolSummary {
                id: "id1".into(),
                name: "a".into(),
                arn: "arn1".into(),
            },
            PoolSummary {
                id: "id2".into(),
                name: "b".into(),
                arn: "arn2".into(),
            },
            PoolSummary {
                id: "id3".into(),
                name: "b".into(),
                arn: "arn3".into(),
            },
            PoolSummary {
                id: "id4".into(),
                name: "id1".into(),
                arn: "arn4".into(),
            },
        ];
        assert_eq!(resolve_external("id1", &pools).unwrap().arn, "arn1");
        assert_eq!(resolve_external("a", &pools).unwrap().id, "id1");
        let e = resolve_external("b", &pools).unwrap_err();
        assert!(e.contains("id2") && e.contains("id3"), "{e}");
        assert!(
            resolve_external("zzz", &pools)
                .unwrap_err()
                .contains("no user pool")
        );
    }

    const STACK: &str = "stack: s
functions:
  f: { source: fn, runtime: python3.12, handler: a.b }
user_pools:
  mine: {}
cognito_triggers:
  - { user_pool: mine, event: post_confirmation, function: f }
  - { user_pool: ext, event: pre_sign_up, function: arn:aws:lambda:us-east-1:123456789012:function:mine }
  - { user_pool: nowhere, event: custom_message, function: f }
";

    #[test]
    fn nodes_depend_on_the_stack_pool_and_function() {
        let n = nodes(&stack(STACK));
        assert_eq!(n[0].address, "cognito_triggers.mine.post_confirmation");
        assert_eq!(n[0].deps, vec!["user_pools.mine", "functions.f"]);
        assert_eq!(
            n[0].key,
            Key::Trigger {
                pool: "mine".into(),
                event: "post_confirmation".into()
            }
        );
        assert!(n[1].deps.is_empty());
    }

    fn trigger_spec(s: &Stack, pool: &str, event: &str, r: &Resolver, env: &LiveEnv) -> Spec {
        let key = Key::Trigger {
            pool: pool.into(),
            event: event.into(),
        };
        super::spec(s, &key, r, env)
    }

    #[test]
    fn specs_resolve_pools_and_functions() {
        let s = stack(STACK);
        let env = LiveEnv {
            user_pools: vec![PoolSummary {
                id: "us-east-1_ext".into(),
                name: "ext".into(),
                arn: "arn:ext".into(),
            }],
            ..Default::default()
        };
        let mut r = Resolver::default();
        let t = trigger_spec(&s, "mine", "post_confirmation", &r, &env);
        let target = t.pool.as_ref().unwrap();
        assert!(!target.id.is_known() && !t.function_arn.is_known());
        r.set(
            "user_pools.mine",
            vec![
                ("id", Some("us-east-1_m".into())),
                ("arn", Some("arn:m".into())),
            ],
        );
        r.set("functions.f", vec![("arn", Some("arn:f".into()))]);
        let t = trigger_spec(&s, "mine", "post_confirmation", &r, &env);
        assert_eq!(t.pool.as_ref().unwrap().arn.expose(), Some("arn:m"));
        assert_eq!(t.function_arn.expose(), Some("arn:f"));
        let t = trigger_spec(&s, "ext", "pre_sign_up", &r, &env);
        assert_eq!(t.pool.as_ref().unwrap().id.expose(), Some("us-east-1_ext"));
        assert_eq!(t.function_arn.expose(), Some(FN));
        // A pool that does not exist is a plan error at the trigger's line.
        let t = trigger_spec(&s, "nowhere", "custom_message", &r, &env);
        let e = diff("cognito_triggers.nowhere.custom_message", Some(&t), None).unwrap_err();
        assert_eq!(e.pos, t.pos);
        assert!(e.pos.line > 0);
        assert!(e.message.contains("`nowhere`"), "{}", e.message);
    }

    fn pools(all: Vec<PoolDescription>, stack_pools: &[(&str, &str)]) -> Pools {
        Pools {
            all,
            stack_pools: stack_pools
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn observe_reports_every_slot_of_owned_pools_and_only_ours_elsewhere() {
        let s = stack(STACK);
        let p = pools(
            vec![
                pool(
                    "us-east-1_m",
                    "mine",
                    &[(STACK_TAG, "s")],
                    &[
                        ("PostConfirmation", "arn:f"),
                        ("PreAuthentication", "arn:x"),
                    ],
                ),
                pool(
                    "us-east-1_ext",
                    "ext",
                    &[("deploy:triggers:s", "user_migration")],
                    &[
                        ("PreSignUp", "arn:theirs"),
                        ("UserMigration", "arn:old"),
                        ("CustomMessage", "arn:theirs"),
                    ],
                ),
                pool(
                    "us-east-1_d1",
                    "dup",
                    &[("deploy:triggers:s", "custom_message")],
                    &[("CustomMessage", "arn:c")],
                ),
                pool("us-east-1_d2", "dup", &[], &[("CustomMessage", "arn:c")]),
                pool(
                    "us-east-1_o",
                    "other",
                    &[("deploy:triggers:t", "pre_sign_up")],
                    &[("PreSignUp", "arn:t")],
                ),
            ],
            &[("mine", "us-east-1_m")],
        );
        let mut got: Vec<(String, bool, Option<String>)> = candidates(&s, &p)
            .into_iter()
            .map(|c| (c.address, c.observed.owned, c.read_policy_of))
            .collect();
        got.sort();
        let want: Vec<(String, bool, Option<String>)> = vec![
            // Ours by tag; its name is not unique in the account, so it is addressed by id.
            (
                "cognito_triggers.ext.pre_sign_up".into(),
                false,
                Some(FN.into()),
            ),
            ("cognito_triggers.ext.user_migration".into(), true, None),
            (
                "cognito_triggers.mine.post_confirmation".into(),
                true,
                Some("f".into()),
            ),
            (
                "cognito_triggers.mine.pre_authentication".into(),
                true,
                None,
            ),
            (
                "cognito_triggers.us-east-1_d1.custom_message".into(),
                true,
                None,
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn policy_statements_are_read_in_aws_and_moto_shapes() {
        let sid = statement_id("post_confirmation", "us-east-1_abc");
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "other", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction"},
                {"Sid": sid, "Effect": "Allow", "Principal": {"Service": "cognito-idp.amazonaws.com"},
                 "Action": "lambda:InvokeFunction", "Resource": FN,
                 "Condition": {"ArnLike": {"AWS:SourceArn": POOL_ARN}}},
                {"Sid": sid, "Effect": "Allow", "Principal": "cognito-idp.amazonaws.com",
                 "Action": ["lambda:InvokeFunction"], "Condition": {"ArnEquals": {"aws:sourcearn": "arn:other"}}}
            ]
        })
        .to_string();
        let got = statements(&policy, &sid);
        assert_eq!(got.len(), 2);
        assert!(got[0].allows(POOL_ARN));
        assert!(!got[1].allows(POOL_ARN));
        assert_eq!(got[1].source_arn.as_deref(), Some("arn:other"));
        assert!(statements("not json", &sid).is_empty());
        assert!(statements(&policy, "missing").is_empty());
    }

    #[test]
    fn only_a_statement_made_outside_deploy_stands_for_the_permission() {
        let sid = statement_id("post_confirmation", "us-east-1_abc");
        let stmt = |sid: &str| {
            serde_json::json!({"Sid": sid, "Effect": "Allow",
                "Principal": {"Service": "cognito-idp.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Condition": {"ArnLike": {"AWS:SourceArn": POOL_ARN}}})
        };
        let policy = |stmts: Vec<serde_json::Value>| {
            serde_json::json!({"Version": "2012-10-17", "Statement": stmts}).to_string()
        };
        // The statement deploy made for the pool's pre_sign_up trigger is that trigger's: the
        // post_confirmation trigger needs its own, or removing pre_sign_up would take both.
        let ours = policy(vec![stmt(&statement_id("pre_sign_up", "us-east-1_abc"))]);
        assert!(!has_equivalent(&ours, &sid, POOL_ARN));
        let console = policy(vec![stmt("lambda-1234-console")]);
        assert!(has_equivalent(&console, &sid, POOL_ARN));
        // Our own id is never an equivalent of itself.
        assert!(!has_equivalent(&policy(vec![stmt(&sid)]), &sid, POOL_ARN));
    }

    fn spec_for(pool_id: Text, pool_arn: Text, function: Text) -> Spec {
        Spec {
            event: "post_confirmation".into(),
            pool: Ok(PoolTarget {
                id: pool_id,
                arn: pool_arn,
            }),
            function_arn: function,
            missing_function: None,
            unverified_function: None,
            pos: Pos { line: 9, col: 5 },
        }
    }

    fn good() -> Permission {
        Permission {
            effect: "Allow".into(),
            action: INVOKE.into(),
            principal: PRINCIPAL.into(),
            source_arn: Some(POOL_ARN.into()),
        }
    }

    fn live(function: &str, owned: bool, permission: Vec<Permission>) -> Observed {
        Observed {
            pool_id: "us-east-1_abc".into(),
            pool_arn: POOL_ARN.into(),
            event: "post_confirmation".into(),
            function_arn: function.into(),
            owned,
            permission,
            equivalent: false,
            owner: None,
        }
    }

    fn known_spec() -> Spec {
        spec_for(
            Text::known("us-east-1_abc"),
            Text::known(POOL_ARN),
            Text::known(FN),
        )
    }

    #[test]
    fn a_trigger_naming_a_function_that_does_not_exist_is_a_plan_error_at_the_trigger() {
        let mut s = known_spec();
        s.missing_function = Some("function: arn:x does not exist".into());
        let e = diff("a", Some(&s), None).unwrap_err();
        assert_eq!(e.pos, Pos { line: 9, col: 5 });
        assert!(e.message.contains("does not exist"), "{}", e.message);
    }

    #[test]
    fn create_shows_pool_function_and_permission() {
        let c = diff("a", Some(&known_spec()), None).unwrap().unwrap();
        assert_eq!(c.action, Action::Create);
        let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["user_pool", "function", "permission"]);
        assert_eq!(
            c.field("permission").unwrap().after,
            Shown::Value(format!("cognito-idp.amazonaws.com from {POOL_ARN}"))
        );
        // A pool still to be created: its id and the permission's source are known after apply.
        let s = spec_for(
            Text::unknown(false),
            Text::unknown(false),
            Text::unknown(false),
        );
        let c = diff("a", Some(&s), None).unwrap().unwrap();
        assert!(c.fields.iter().all(|f| f.after == Shown::Unknown));
    }

    #[test]
    fn a_matching_trigger_is_no_change() {
        assert!(
            diff(
                "a",
                Some(&known_spec()),
                Some(&live(FN, true, vec![good()]))
            )
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn a_slot_pointing_elsewhere_is_an_update_from_before_to_after() {
        let c = diff(
            "a",
            Some(&known_spec()),
            Some(&live("arn:old", true, vec![good()])),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1);
        let f = c.field("function").unwrap();
        assert_eq!(
            (f.before.clone(), f.after.clone()),
            (Shown::value("arn:old"), Shown::value(FN))
        );
    }

    #[test]
    fn a_missing_or_wrong_permission_is_an_update() {
        let c = diff("a", Some(&known_spec()), Some(&live(FN, true, vec![])))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.field("permission").unwrap().before, Shown::Absent);
        let mut wrong = good();
        wrong.source_arn = Some("arn:elsewhere".into());
        let c = diff("a", Some(&known_spec()), Some(&live(FN, true, vec![wrong])))
            .unwrap()
            .unwrap();
        assert_eq!(
            c.field("permission").unwrap().before,
            Shown::value("cognito-idp.amazonaws.com from arn:elsewhere")
        );
        // A duplicated statement (moto allows it) is cleaned up too.
        let c = diff(
            "a",
            Some(&known_spec()),
            Some(&live(FN, true, vec![good(), good()])),
        )
        .unwrap()
        .unwrap();
        assert!(c.changes("permission"));
    }

    #[test]
    fn a_slot_set_by_someone_else_is_adopted() {
        let c = diff(
            "a",
            Some(&known_spec()),
            Some(&live("arn:theirs", false, vec![])),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.action, Action::Adopt);
        assert!(c.changes("function") && c.changes("permission"));
        assert!(
            c.notes.iter().any(|n| n.contains("set outside this stack")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn only_our_triggers_are_deleted() {
        let c = diff("a", None, Some(&live("arn:old", true, vec![])))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(
            c.notes[0].contains("keeping every other setting"),
            "{:?}",
            c.notes
        );
        assert!(
            diff("a", None, Some(&live("arn:old", false, vec![])))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_trigger_follows_a_replaced_pool() {
        let s = spec_for(Text::unknown(false), Text::unknown(false), Text::known(FN));
        let c = diff("a", Some(&s), Some(&live(FN, true, vec![good()])))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.field("user_pool").unwrap().after, Shown::Unknown);
        assert_eq!(c.field("permission").unwrap().after, Shown::Unknown);
    }

    #[test]
    fn the_tag_map_is_left_alone_when_nothing_changes() {
        let p = pool(
            "p",
            "ext",
            &[("deploy:triggers:s", "post_confirmation")],
            &[("PostConfirmation", FN)],
        );
        let r = update_request(&p, &trigger_edits(&p, "s", "post_confirmation", Some(FN)));
        assert_eq!(r, update_request(&p, &Edits::default()));
        let _: BTreeMap<String, String> = r.settings.tags.unwrap();
    }
}

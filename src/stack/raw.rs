//! The stack file as written: its top level ([`STACK`]) over the entries each kind declares in
//! `resources/<kind>/decl.rs`, decoded from the YAML tree with the [`super::decode`] machinery.

use std::collections::{BTreeMap, BTreeSet};

use super::decode::{Decoder, Kind, Node, Schema, Sp, Str, Ty, field, scalar_text};
use super::pos::Pos;
use crate::resources::cognito::{trigger, user_pool};
use crate::resources::{db_instance, function, security_group};

pub static STACK: Schema = Schema {
    what: "the stack file",
    fields: &[
        field!("stack", Ty::Str, required),
        field!("region", Ty::Str),
        field!("tags", Ty::Names(&Ty::Str)),
        field!(
            "security_groups",
            Ty::Names(&Ty::Struct(&security_group::decl::SECURITY_GROUP))
        ),
        field!(
            "db_instances",
            Ty::Names(&Ty::Struct(&db_instance::decl::DB_INSTANCE))
        ),
        field!(
            "functions",
            Ty::Names(&Ty::Struct(&function::decl::FUNCTION))
        ),
        field!(
            "user_pools",
            Ty::Names(&Ty::Struct(&user_pool::decl::USER_POOL))
        ),
        field!(
            "cognito_triggers",
            Ty::List(&Ty::Struct(&trigger::decl::TRIGGER))
        ),
        field!("outputs", Ty::Names(&Ty::Str)),
    ],
};

/// Every scalar field of the schema as a path (`functions.*.layers[].name`), for tests that must
/// cover them all.
#[cfg(test)]
pub fn scalar_paths() -> BTreeSet<String> {
    fn walk(ty: &Ty, path: String, out: &mut BTreeSet<String>) {
        match ty {
            Ty::Str | Ty::Int | Ty::Bool => {
                out.insert(path);
            }
            Ty::List(t) => walk(t, format!("{path}[]"), out),
            Ty::Names(t) => walk(t, format!("{path}.*"), out),
            Ty::Struct(s) => {
                for f in s.fields {
                    let p = if path.is_empty() {
                        f.key.to_string()
                    } else {
                        format!("{path}.{}", f.key)
                    };
                    walk(&f.ty, p, out);
                }
            }
            Ty::Either(a, b) => {
                walk(a, path.clone(), out);
                walk(b, path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&Ty::Struct(&STACK), String::new(), &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// The raw model.

#[derive(Debug, Default)]
pub struct RawStack {
    pub stack: Option<Str>,
    pub region: Option<Str>,
    pub tags: BTreeMap<String, Str>,
    pub security_groups: BTreeMap<String, Sp<security_group::decl::RawSecurityGroup>>,
    pub db_instances: BTreeMap<String, Sp<db_instance::decl::RawDbInstance>>,
    pub functions: BTreeMap<String, Sp<function::decl::RawFunction>>,
    pub user_pools: BTreeMap<String, Sp<user_pool::decl::RawUserPool>>,
    pub cognito_triggers: Vec<Sp<trigger::decl::RawTrigger>>,
    pub outputs: BTreeMap<String, Str>,
    /// Every name declared per section, entries that failed to decode included, so that a
    /// broken entry does not also make every reference to it "dangling".
    pub declared: BTreeMap<&'static str, BTreeSet<String>>,
}

/// Decodes the whole tree; `None` only when the root itself is unusable.
pub fn decode(root: &Node, d: &mut Decoder) -> Option<RawStack> {
    if root.kind == Kind::Null {
        d.err(
            Pos { line: 1, col: 1 },
            "the file is empty: a stack file needs at least `stack: NAME` (see the README for an example)",
        );
        return None;
    }
    if !matches!(root.kind, Kind::Map(_)) {
        d.err(
            root.pos,
            format!(
                "a stack file is a map of settings starting with `stack: NAME`, not {}",
                root.kind.describe()
            ),
        );
        return None;
    }
    let mut out = RawStack::default();
    let o = d.obj(root, &STACK, "the stack file")?;
    for section in ["security_groups", "db_instances", "functions", "user_pools"] {
        let names = match o.entries.get(section).map(|n| &n.kind) {
            Some(Kind::Map(es)) => es.iter().filter_map(|(k, _)| scalar_text(k)).collect(),
            _ => BTreeSet::new(),
        };
        out.declared.insert(section, names);
    }
    out.stack = o.str(d, "stack");
    out.region = o.str(d, "region");
    out.tags = o
        .names(d, "tags", |d, k, v| d.str(v, &format!("tags.{}", k.value)))
        .unwrap_or_default();
    out.security_groups = o
        .names(d, "security_groups", security_group::decl::decode)
        .unwrap_or_default();
    out.db_instances = o
        .names(d, "db_instances", db_instance::decl::decode)
        .unwrap_or_default();
    out.functions = o
        .names(d, "functions", function::decl::decode)
        .unwrap_or_default();
    out.user_pools = o
        .names(d, "user_pools", user_pool::decl::decode)
        .unwrap_or_default();
    out.cognito_triggers = o
        .list(d, "cognito_triggers", trigger::decl::decode)
        .unwrap_or_default();
    out.outputs = o
        .names(d, "outputs", |d, k, v| {
            d.str(v, &format!("outputs.{}", k.value))
        })
        .unwrap_or_default();
    Some(out)
}

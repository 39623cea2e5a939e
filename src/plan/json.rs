//! The machine-readable plan (`deploy plan --json`, `deploy show FILE --json`), documented field
//! by field in docs/plan-json.md. It is a view of a [`Plan`], built here so the document's shape
//! stays stable when the plan's internal types change: bump [`FORMAT_VERSION`] on any change a
//! reader could trip on (a field removed, renamed or retyped); adding a field keeps the version.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Action, Plan, reason};
use crate::value::Shown;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    stack: &'a str,
    region: &'a str,
    destroy: bool,
    changes: Vec<ChangeDoc<'a>>,
    outputs: Vec<OutputDoc<'a>>,
    summary: SummaryDoc,
    warnings: &'a [String],
    /// Only when there is one, as `waiting`.
    #[serde(skip_serializing_if = "no_notes")]
    notes: &'a [String],
    /// Only when there is something: a plan with nothing still becoming ready keeps the shape
    /// version 1 always had.
    #[serde(skip_serializing_if = "nothing_waits")]
    waiting: &'a [super::Waiting],
}

#[derive(Serialize)]
struct ChangeDoc<'a> {
    address: &'a str,
    action: Action,
    reason: String,
    fields: Vec<FieldDoc<'a>>,
    notes: &'a [String],
    /// A delete or replace of a resource holding users' data (a database, a user pool).
    data_loss: bool,
}

#[derive(Serialize)]
struct FieldDoc<'a> {
    path: &'a str,
    before: Value,
    after: Value,
    forces_replacement: bool,
}

#[derive(Serialize)]
struct OutputDoc<'a> {
    name: &'a str,
    before: Value,
    after: Value,
}

#[derive(Serialize)]
struct SummaryDoc {
    create: usize,
    update: usize,
    replace: usize,
    delete: usize,
    adopt: usize,
    total: usize,
}

fn nothing_waits(w: &&[super::Waiting]) -> bool {
    w.is_empty()
}

fn no_notes(n: &&[String]) -> bool {
    n.is_empty()
}

/// A value as JSON: its own type when known and shown; a marker object when it is secret or not
/// known yet (a string such as "(sensitive)" could be a real value); `null` when absent.
pub fn value(v: &Shown) -> Value {
    match v {
        Shown::Value(s) => Value::String(s.clone()),
        Shown::Number(n) => json!(n),
        Shown::Bool(b) => Value::Bool(*b),
        Shown::List(items) => json!(items),
        Shown::Sensitive => json!({ "sensitive": true }),
        Shown::Unknown => json!({ "unknown": true }),
        Shown::NotRead => json!({ "not_read": true }),
        Shown::Absent => Value::Null,
    }
}

/// The plan as a JSON value: changes sorted by address, fields in the order the kind diffs them,
/// outputs by name, so the same plan always gives the same bytes.
pub fn document(plan: &Plan) -> Value {
    let s = plan.summary();
    let doc = Document {
        format_version: FORMAT_VERSION,
        stack: &plan.stack,
        region: &plan.region,
        destroy: plan.destroy,
        changes: plan
            .changes
            .iter()
            .map(|c| ChangeDoc {
                address: &c.address,
                action: c.action,
                reason: reason(plan, c),
                fields: c
                    .fields
                    .iter()
                    .map(|f| FieldDoc {
                        path: &f.path,
                        before: value(&f.before),
                        after: value(&f.after),
                        forces_replacement: f.forces_replacement,
                    })
                    .collect(),
                notes: &c.notes,
                data_loss: c.data_loss,
            })
            .collect(),
        outputs: plan
            .outputs
            .iter()
            .map(|o| OutputDoc {
                name: &o.name,
                before: value(&o.before),
                after: value(&o.after),
            })
            .collect(),
        summary: SummaryDoc {
            create: s.create,
            update: s.update,
            replace: s.replace,
            delete: s.delete,
            adopt: s.adopt,
            total: plan.changes.len(),
        },
        warnings: &plan.warnings,
        notes: &plan.notes,
        waiting: &plan.waiting,
    };
    serde_json::to_value(doc).expect("the plan document is plain data")
}

/// The document as pretty-printed text with a final newline.
pub fn render(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(&document(plan)).expect("plain data");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, FieldChange};

    fn field(path: &str, before: Shown, after: Shown) -> FieldChange {
        FieldChange {
            path: path.into(),
            before,
            after,
            forces_replacement: false,
        }
    }

    #[test]
    fn values_keep_their_json_types_and_secrets_are_markers() {
        let mut c = Change::new("functions.f", Action::Update);
        c.fields = vec![
            field("memory", Shown::value(128), Shown::value(256)),
            field(
                "vpc.subnets",
                Shown::List(vec![]),
                Shown::List(vec!["s-1".into()]),
            ),
            field("environment.URL", Shown::Sensitive, Shown::Sensitive),
            field("enabled", Shown::Absent, Shown::value(true)),
        ];
        let plan = Plan {
            stack: "s".into(),
            region: "us-east-1".into(),
            changes: vec![c],
            ..Default::default()
        };
        let d = document(&plan);
        assert_eq!(d["format_version"], json!(1));
        let f = &d["changes"][0]["fields"];
        assert_eq!(f[0]["before"], json!(128));
        assert_eq!(f[1]["after"], json!(["s-1"]));
        assert_eq!(f[2]["after"], json!({"sensitive": true}));
        assert_eq!(f[3]["before"], Value::Null);
        assert_eq!(f[3]["after"], json!(true));
        assert_eq!(
            d["changes"][0]["reason"],
            json!("differs from the stack file in: memory, vpc.subnets, environment.URL, enabled")
        );
        assert_eq!(d["summary"]["total"], json!(1));
    }
}

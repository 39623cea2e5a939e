//! The stack file's JSON Schema, for editors (`deploy schema`, `schema/stack.schema.json`).
//!
//! It is generated from the loader's own schema ([`raw::STACK`]): the keys, their nesting, which
//! are required and which forms each accepts come from there, so the two cannot drift. Only the
//! descriptions live here, keyed by the same paths; a test fails when a field has none, or when a
//! description names a field that no longer exists.

use serde_json::{Map, Value, json};

use super::decode::{Schema, Ty};
use super::raw;

/// What every field means, by path: `.` between keys, `*` for a name the author chooses, `[]`
/// for a list item.
const DOCS: &[(&str, &str)] = &[
    (
        "stack",
        "The stack's name, [a-z][a-z0-9-]{0,62}. Everything the stack creates is tagged deploy:stack=<stack>: that tag, not a state file, is what it owns.",
    ),
    (
        "region",
        "AWS region, e.g. us-east-1. Else --region, else the AWS config chain (AWS_REGION, the profile's region).",
    ),
    (
        "tags",
        "Tags added to every resource the stack creates (besides deploy:stack).",
    ),
    (
        "security_groups",
        "Security groups this stack owns, by GroupName.",
    ),
    (
        "security_groups.*.name",
        "The group's GroupName in AWS; default: the key, which stays the address. May use ${stack} and ${env:...} (one file, several environments). A change replaces the group.",
    ),
    (
        "security_groups.*.description",
        "The group's description. AWS cannot change it: a change replaces the group.",
    ),
    (
        "security_groups.*.vpc",
        "`default` (the region's default VPC, the default) or a vpc-... id.",
    ),
    (
        "security_groups.*.ingress",
        "Inbound rules. Authoritative: rules of the group that are not listed here are revoked (the default egress rule is left alone).",
    ),
    (
        "security_groups.*.ingress[].description",
        "Identifies the rule within its group; unique within the group.",
    ),
    (
        "security_groups.*.ingress[].protocol",
        "tcp (the default), udp, icmp or all.",
    ),
    (
        "security_groups.*.ingress[].port",
        "One port, e.g. 5432. Or use `ports`.",
    ),
    (
        "security_groups.*.ingress[].ports",
        "A port range, e.g. 8000-8010. Or use `port`.",
    ),
    (
        "security_groups.*.ingress[].cidr",
        "An IPv4 CIDR the rule allows, e.g. ${public_ip}/32. Either this or `source_group`.",
    ),
    (
        "security_groups.*.ingress[].source_group",
        "A security group the rule allows: a group of this stack (by name) or an sg-... id. Either this or `cidr`.",
    ),
    (
        "db_instances",
        "RDS instances this stack owns, by DBInstanceIdentifier.",
    ),
    (
        "db_instances.*.name",
        "The DB instance identifier in AWS; default: the key, which stays the address. May use ${stack} and ${env:...}. A change renames the instance in place (ModifyDBInstance NewDBInstanceIdentifier).",
    ),
    (
        "db_instances.*.engine",
        "The database engine, e.g. postgres.",
    ),
    (
        "db_instances.*.engine_version",
        "The engine version, e.g. \"16.4\" (quote it: 16.40 is not 16.4).",
    ),
    (
        "db_instances.*.instance_class",
        "The instance class, e.g. db.t3.micro. A change causes a short outage.",
    ),
    (
        "db_instances.*.allocated_storage",
        "Storage in GiB. It can only grow, by at least 10% at a time.",
    ),
    (
        "db_instances.*.storage_type",
        "gp2, gp3 or standard (io1 and io2 need provisioned IOPS, which the file cannot state).",
    ),
    (
        "db_instances.*.storage_encrypted",
        "Encrypt the storage. Fixed at creation: a change replaces the instance (and loses its data).",
    ),
    (
        "db_instances.*.master_username",
        "The master user's name. Fixed at creation.",
    ),
    (
        "db_instances.*.master_password",
        "The master password, from the environment: ${secret:NAME}. A literal password is refused. Or use manage_master_password.",
    ),
    (
        "db_instances.*.password_version",
        "Bump it (default 1) to have apply set master_password again after changing the secret: deploy stores nothing derived from the password, so it cannot notice a new one by itself.",
    ),
    (
        "db_instances.*.manage_master_password",
        "true: RDS generates the master password and keeps it in Secrets Manager (instead of master_password).",
    ),
    (
        "db_instances.*.db_name",
        "The database created with the instance. Fixed at creation.",
    ),
    (
        "db_instances.*.port",
        "The port the database listens on, e.g. 5432.",
    ),
    (
        "db_instances.*.availability_zone",
        "The availability zone, e.g. us-east-1a. Fixed at creation.",
    ),
    (
        "db_instances.*.multi_az",
        "Run a standby in another availability zone.",
    ),
    (
        "db_instances.*.publicly_accessible",
        "Give the instance a public address.",
    ),
    (
        "db_instances.*.backup_retention_days",
        "Days of automated backups; 0 turns them off. Sent explicitly (the API's own default is 1). Switching between 0 and more causes a short outage.",
    ),
    (
        "db_instances.*.performance_insights",
        "Performance Insights.",
    ),
    (
        "db_instances.*.performance_insights.enabled",
        "Turn Performance Insights on or off.",
    ),
    (
        "db_instances.*.performance_insights.retention_days",
        "Days to keep Performance Insights data: 7, or a multiple of 31 up to 731.",
    ),
    (
        "db_instances.*.deletion_protection",
        "Refuse deletion. While true, a plan that would delete or replace the instance is an error.",
    ),
    (
        "db_instances.*.security_groups",
        "Security groups of the instance: groups of this stack (by name) or sg-... ids.",
    ),
    (
        "db_instances.*.running",
        "false: apply stops the instance (to save cost); true (the default): apply starts it again.",
    ),
    (
        "db_instances.*.final_snapshot",
        "On delete: false skips the final snapshot, true takes one with a generated name, a text is the snapshot's name.",
    ),
    (
        "db_instances.*.migrations",
        "A folder of NNNN_name.sql files, applied once each, in order, after the instance is available (recorded in the table deploy_migrations).",
    ),
    (
        "db_instances.*.migrations_baseline",
        "For a database made before deploy (it holds tables but no deploy_migrations): the files numbered up to N, and the seed, are recorded as applied and never run; later files run. 0 records only the seed. Ignored on an empty database and once deploy_migrations exists.",
    ),
    (
        "db_instances.*.seed",
        "A SQL file applied once, after the migrations.",
    ),
    (
        "functions",
        "Lambda functions this stack owns, by FunctionName.",
    ),
    (
        "functions.*.name",
        "The function's name in AWS (and of its auto role, <name>-role); default: the key, which stays the address. May use ${stack} and ${env:...}. A change replaces the function.",
    ),
    (
        "functions.*.source",
        "The folder with the function's code, zipped reproducibly (the same files give the same CodeSha256).",
    ),
    (
        "functions.*.runtime",
        "The Lambda runtime, e.g. python3.12.",
    ),
    (
        "functions.*.handler",
        "The handler, e.g. lambda_function.lambda_handler.",
    ),
    ("functions.*.description", "The function's description."),
    ("functions.*.memory", "Memory in MB (default 128)."),
    ("functions.*.timeout", "Timeout in seconds (default 3)."),
    (
        "functions.*.role",
        "`auto` (a role <function>-role that Lambda can assume, with AWSLambdaVPCAccessExecutionRole attached) or an existing role's ARN.",
    ),
    (
        "functions.*.layers",
        "Layers, in order, at most 5: each a layer version ARN, or { name, source, runtimes } to publish a folder as a new layer version whenever its content changes.",
    ),
    (
        "functions.*.layers[].name",
        "The name of the layer the folder is published as.",
    ),
    ("functions.*.layers[].source", "The folder to publish."),
    (
        "functions.*.layers[].runtimes",
        "Compatible runtimes of the layer, e.g. [python3.12].",
    ),
    ("functions.*.vpc", "Run the function inside a VPC."),
    (
        "functions.*.vpc.subnets",
        "`default` (the default VPC's default subnets) or a list of subnet-... ids.",
    ),
    (
        "functions.*.vpc.security_groups",
        "Security groups of the function's network interfaces: groups of this stack (by name) or sg-... ids.",
    ),
    (
        "functions.*.environment",
        "Environment variables. Values may use ${secret:NAME} and references such as ${db_instances.NAME.address}.",
    ),
    (
        "user_pools",
        "Cognito user pools this stack owns, by PoolName.",
    ),
    (
        "user_pools.*.name",
        "The pool's name in AWS; default: the key, which stays the address. May use ${stack} and ${env:...}. Cognito cannot rename a pool: a change is a plan error.",
    ),
    (
        "user_pools.*.username_attributes",
        "Attributes users may sign in with instead of a user name: email, phone_number. Fixed at creation.",
    ),
    (
        "user_pools.*.auto_verified_attributes",
        "Attributes Cognito verifies: email, phone_number.",
    ),
    (
        "user_pools.*.deletion_protection",
        "Refuse deletion of the pool.",
    ),
    (
        "cognito_triggers",
        "Lambda triggers of Cognito user pools. Other settings of a pool this stack does not own are kept.",
    ),
    (
        "cognito_triggers[].user_pool",
        "A pool of this stack (by name), or an existing pool's id or exact name.",
    ),
    (
        "cognito_triggers[].event",
        "pre_sign_up, post_confirmation, pre_authentication, post_authentication, pre_token_generation, custom_message, define_auth_challenge, create_auth_challenge, verify_auth_challenge_response or user_migration.",
    ),
    (
        "cognito_triggers[].function",
        "A function of this stack (by name) or a function ARN.",
    ),
    (
        "outputs",
        "Values printed after apply and by `deploy output`, by name ([A-Za-z_][A-Za-z0-9_]*). They may use ${...} references and secrets.",
    ),
];

/// What the loader checks of a value beyond its type, where JSON Schema can say it too, so that
/// an editor flags it while typing. Scalars keep accepting text holding `${`, which the loader
/// resolves before it checks (a port from `${env:PORT}`).
fn constraint(path: &str) -> Option<Value> {
    let events: Vec<&str> = super::TRIGGER_EVENTS.iter().map(|(e, _)| *e).collect();
    Some(match path {
        "stack" => json!({ "type": "string", "pattern": "^[a-z][a-z0-9-]{0,62}$" }),
        // EC2's character set for group and rule descriptions (a group rule's also refuses `&`,
        // which only the loader can tell, knowing the rule's source).
        "security_groups.*.description" | "security_groups.*.ingress[].description" => {
            json!({ "type": "string", "pattern": "^[A-Za-z0-9 ._:/()#,@\\[\\]+=&;{}!$*-]{1,255}$" })
        }
        "security_groups.*.ingress[].protocol" => {
            json!({ "enum": ["tcp", "udp", "icmp", "all", "-1"] })
        }
        "security_groups.*.ingress[].port" => {
            json!({ "type": "integer", "minimum": 0, "maximum": 65535 })
        }
        "security_groups.*.ingress[].ports" => {
            json!({ "type": "string", "pattern": "^[0-9]{1,5}-[0-9]{1,5}$" })
        }
        "db_instances.*.port" => json!({ "type": "integer", "minimum": 1150, "maximum": 65535 }),
        "db_instances.*.storage_type" => {
            json!({ "enum": ["gp2", "gp3", "standard"] })
        }
        "functions.*.memory" => json!({ "type": "integer", "minimum": 128, "maximum": 10240 }),
        "functions.*.timeout" => json!({ "type": "integer", "minimum": 1, "maximum": 900 }),
        "cognito_triggers[].event" => json!({ "enum": events }),
        _ => return None,
    })
}

/// Constraints on a whole list or map (its length, its keys), added to its own schema.
fn container_constraint(path: &str) -> Option<Value> {
    Some(match path {
        "functions.*.layers" => json!({ "maxItems": 5 }),
        "tags" => json!({ "propertyNames": { "not": { "pattern": "^(aws:|deploy:stack$)" } } }),
        "outputs" => json!({ "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" } }),
        _ => return None,
    })
}

/// Text that `${...}` interpolation resolves when the stack is loaded.
fn interpolated() -> Value {
    json!({ "type": "string", "pattern": "\\$\\{" })
}

fn doc(path: &str) -> &'static str {
    DOCS.iter().find(|(p, _)| *p == path).map_or("", |(_, d)| d)
}

/// The JSON Schema (draft 2020-12) of the stack file.
pub fn json_schema() -> Value {
    let mut root = ty(&Ty::Struct(&raw::STACK), "");
    let o = root.as_object_mut().expect("an object");
    o.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    o.insert("title".into(), json!("deploy stack file (stack.yaml)"));
    o.insert(
        "description".into(),
        json!("A stack for `deploy`: plan, apply and destroy of AWS resources from one file. Generated by `deploy schema`."),
    );
    root
}

/// The schema of one type at `path`. Scalars accept what the loader accepts: text, numbers and
/// booleans are kept as written for text fields, and a number or boolean may be written as text
/// that `${env:}` resolves.
fn ty(t: &Ty, path: &str) -> Value {
    match t {
        Ty::Str => json!({ "type": ["string", "number", "boolean"] }),
        Ty::Int => json!({ "type": ["integer", "string"] }),
        Ty::Bool => json!({ "type": ["boolean", "string"] }),
        Ty::List(item) => json!({ "type": "array", "items": ty(item, &format!("{path}[]")) }),
        Ty::Names(v) => json!({
            "type": "object",
            "additionalProperties": ty(v, &format!("{path}.*")),
        }),
        Ty::Struct(s) => object(s, path),
        Ty::Either(a, b) => json!({ "anyOf": [ty(a, path), ty(b, path)] }),
    }
}

fn object(s: &Schema, path: &str) -> Value {
    let mut props = Map::new();
    for f in s.fields {
        let p = if path.is_empty() {
            f.key.to_string()
        } else {
            format!("{path}.{}", f.key)
        };
        let mut v = ty(&f.ty, &p);
        if let Some(c) = constraint(&p) {
            v = json!({ "anyOf": [c, interpolated()] });
        }
        if let Some(Value::Object(c)) = container_constraint(&p) {
            v.as_object_mut().expect("an object").extend(c);
        }
        if !f.required {
            allow_null(&mut v);
        }
        v.as_object_mut()
            .expect("an object")
            .insert("description".into(), json!(doc(&p)));
        props.insert(f.key.to_string(), v);
    }
    let required: Vec<&str> = s
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.key)
        .collect();
    let mut o = json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    });
    if path == "security_groups.*.ingress[]" {
        // The loader's "give either port or ports, not both" (and cidr or source_group).
        o["allOf"] = json!([
            { "not": { "required": ["port", "ports"] } },
            { "not": { "required": ["cidr", "source_group"] } },
        ]);
    }
    o
}

/// An optional key left empty (`tags:`) means "not given" to the loader.
fn allow_null(v: &mut Value) {
    let o = v.as_object_mut().expect("an object");
    match o.get_mut("type") {
        Some(Value::Array(types)) => types.push(json!("null")),
        Some(Value::String(one)) => {
            let one = std::mem::take(one);
            o.insert("type".into(), json!([one, "null"]));
        }
        _ => {
            if let Some(Value::Array(any)) = o.get_mut("anyOf") {
                any.push(json!({ "type": "null" }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every key path of the loader's schema (not only scalars: a section needs words too).
    fn field_paths() -> BTreeSet<String> {
        fn walk(t: &Ty, path: &str, out: &mut BTreeSet<String>) {
            match t {
                Ty::Str | Ty::Int | Ty::Bool => {}
                Ty::List(i) => walk(i, &format!("{path}[]"), out),
                Ty::Names(v) => walk(v, &format!("{path}.*"), out),
                Ty::Either(a, b) => {
                    walk(a, path, out);
                    walk(b, path, out);
                }
                Ty::Struct(s) => {
                    for f in s.fields {
                        let p = if path.is_empty() {
                            f.key.to_string()
                        } else {
                            format!("{path}.{}", f.key)
                        };
                        out.insert(p.clone());
                        walk(&f.ty, &p, out);
                    }
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&Ty::Struct(&raw::STACK), "", &mut out);
        out
    }

    #[test]
    fn every_field_has_a_description_and_every_description_a_field() {
        let fields = field_paths();
        let documented: BTreeSet<String> = DOCS.iter().map(|(p, _)| p.to_string()).collect();
        let missing: Vec<_> = fields.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&fields).collect();
        assert!(
            missing.is_empty(),
            "fields without a description: {missing:?}"
        );
        assert!(stale.is_empty(), "descriptions of no field: {stale:?}");
        assert!(DOCS.iter().all(|(_, d)| !d.trim().is_empty()));
        assert_eq!(DOCS.len(), fields.len(), "a path is described twice");
    }

    #[test]
    fn objects_reject_unknown_keys_and_list_required_ones() {
        let s = json_schema();
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(s["required"], json!(["stack"]));
        let rule = &s["properties"]["security_groups"]["additionalProperties"]["properties"]["ingress"]
            ["items"];
        assert_eq!(rule["additionalProperties"], json!(false));
        assert_eq!(rule["required"], json!(["description"]));
        let port = &rule["properties"]["port"]["anyOf"];
        assert_eq!(port[0]["maximum"], json!(65535));
        assert_eq!(port[1]["pattern"], json!("\\$\\{"));
        assert_eq!(port[2], json!({ "type": "null" }));
        let layer = &s["properties"]["functions"]["additionalProperties"]["properties"]["layers"]["items"]
            ["anyOf"][1];
        assert_eq!(layer["additionalProperties"], json!(false));
        assert_eq!(layer["required"], json!(["name", "source"]));
    }
}

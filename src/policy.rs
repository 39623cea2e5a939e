//! `deploy policy`: the least-privilege IAM policy for the stack in the file, and
//! `deploy policy --adopt PLANFILE`: the one-time grant an adopt plan needs.
//!
//! Pure: the stack (as loaded, `${env:}` resolved), an account and a region in, a JSON policy out.
//!
//! The ownership tag `deploy:stack=<stack>` is what lets apply and destroy change a resource, so
//! the policy never lets its holder put that tag on a resource it does not own:
//! - writes are scoped by name where the ARN carries the name (a DB instance identifier, a
//!   function, a layer, a role under `/deploy/<stack>/`), by this stack's tag value where it
//!   carries an id (security groups and their rules, user pools), and to the pools the file names
//!   for a trigger on a pool the stack does not own;
//! - EC2 tells tagging at creation from later tagging (`ec2:CreateAction`), so `ec2:CreateTags`
//!   is allowed only inside CreateSecurityGroup/AuthorizeSecurityGroupIngress, or on groups that
//!   already carry this stack's tag;
//! - RDS authorises tag-on-create with `rds:AddTagsToResource`, the same action as tagging later,
//!   and Lambda and IAM have no condition key that tells creation apart (their service
//!   authorization references list only `aws:RequestTag`/`aws:TagKeys` for TagResource/TagRole):
//!   there the scoping by name is what makes tagging another resource useless: only the names
//!   in the file can be tagged, and those are the stack's by declaration;
//! - Cognito's UpdateUserPool (which carries `UserPoolTags`) is allowed on this stack's pools by
//!   their tag, and on a trigger's foreign pool only when the request does not set this stack's
//!   tag (UpdateUserPool supports `aws:RequestTag`, per the Cognito user pools service
//!   authorization reference).
//!
//! Adopting (tagging an existing untagged resource) is therefore not in the everyday policy:
//! [`for_adopt`] grants it on the exact ARNs a saved adopt plan names, once.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use crate::plan::Action;
use crate::plan::saved::SavedPlan;
use crate::resources::function::{partition, role_name, role_path};
use crate::stack::{
    FinalSnapshot, FunctionRef, LayerRef, Password, PoolRef, RoleRef, STACK_TAG, Stack,
};

/// Where the policy applies: `*` for any account or region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub account: String,
    pub region: String,
}

/// The AWS-managed policies an `auto` role gets (see `resources::function`).
pub const LAMBDA_EXECUTION_POLICIES: [&str; 2] = [
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
];

/// What every run reads, whatever kinds the file uses: plan reads every kind, to find what this
/// stack owns that the file no longer names. Reads only; discovery needs them account-wide.
const READS: &[&str] = &[
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeNetworkInterfaces",
    "rds:DescribeDBInstances",
    "rds:DescribeDBEngineVersions",
    "lambda:ListFunctions",
    "lambda:GetFunctionConfiguration",
    "lambda:ListTags",
    "lambda:GetPolicy",
    "lambda:ListLayers",
    "lambda:ListLayerVersions",
    "lambda:GetLayerVersion",
    "tag:GetResources",
    "iam:ListRoles",
    "iam:GetRole",
    "iam:ListRoleTags",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "cognito-idp:ListUserPools",
    "cognito-idp:DescribeUserPool",
];

/// An IAM policy document, its fields in the order IAM documents write them.
#[derive(Clone, Debug, Serialize)]
pub struct Policy {
    #[serde(rename = "Version")]
    pub version: &'static str,
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: String,
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    #[serde(rename = "Action")]
    pub actions: Vec<String>,
    #[serde(rename = "Resource")]
    pub resources: Vec<String>,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

impl Policy {
    fn new(statements: Vec<Statement>) -> Self {
        Policy {
            version: "2012-10-17",
            statements,
        }
    }

    /// As a JSON value (keys sorted: for reading it, not printing it).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("plain data")
    }

    /// The policy as printed: pretty JSON and a newline.
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data") + "\n"
    }
}

fn statement(
    sid: &str,
    actions: &[&str],
    resources: Vec<String>,
    condition: Option<Value>,
) -> Statement {
    Statement {
        sid: sid.into(),
        effect: "Allow",
        actions: actions.iter().map(|a| a.to_string()).collect(),
        resources,
        condition,
    }
}

/// `{"StringEquals": {"aws:RequestTag/deploy:stack": <stack>}}`: the request sets this stack's tag.
fn request_tag(stack: &str) -> Value {
    json!({ "StringEquals": { format!("aws:RequestTag/{STACK_TAG}"): stack } })
}

/// `{"StringEquals": {"aws:ResourceTag/deploy:stack": <stack>}}`: the resource is this stack's.
fn resource_tag(stack: &str) -> Value {
    json!({ "StringEquals": { format!("aws:ResourceTag/{STACK_TAG}"): stack } })
}

/// Whether a file's `user_pool:` looks like a pool id (`us-east-1_AbC123`), which the ARN
/// carries; a name it does not (Cognito ARNs are `userpool/<id>`).
pub fn is_pool_id(s: &str) -> bool {
    let Some((region, suffix)) = s.split_once('_') else {
        return false;
    };
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && !suffix.is_empty()
        && suffix.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The policy for `stack`, and the warnings to print beside it (on stderr).
pub fn for_stack(stack: &Stack, t: &Target) -> (Policy, Vec<String>) {
    let p = if t.region == "*" {
        "aws"
    } else {
        partition(&t.region)
    };
    let x = Arns {
        p,
        r: &t.region,
        a: &t.account,
        s: &stack.name,
    };
    let mut warnings = Vec::new();
    let mut st = vec![statement("ReadTheAccount", READS, vec!["*".into()], None)];
    security_group_statements(&mut st, stack, x);
    db_instance_statements(&mut st, stack, x);
    function_statements(&mut st, stack, x);
    user_pool_statements(&mut st, stack, x, &mut warnings);
    function_log_statements(&mut st, stack, x);
    run_lock_statement(&mut st, x);
    (Policy::new(st), warnings)
}

/// The parts of the ARNs every statement builds: partition, region, account, and the stack's
/// name (its tag value).
#[derive(Clone, Copy)]
struct Arns<'a> {
    p: &'a str,
    r: &'a str,
    a: &'a str,
    s: &'a str,
}

/// Security groups: ids in their ARNs, so scoped by this stack's tag value; tagging only at
/// creation (ec2:CreateAction), or on groups already this stack's.
fn security_group_statements(
    st: &mut Vec<Statement>,
    stack: &Stack,
    Arns { p, r, a, s }: Arns<'_>,
) {
    let groups = !stack.security_groups.is_empty();
    if groups {
        let sg = format!("arn:{p}:ec2:{r}:{a}:security-group/*");
        let rule = format!("arn:{p}:ec2:{r}:{a}:security-group-rule/*");
        // The VPC is a resource of CreateSecurityGroup too; the request's tag is the same.
        st.push(statement(
            "CreateSecurityGroupsTaggedForThisStack",
            &["ec2:CreateSecurityGroup"],
            vec![sg.clone(), format!("arn:{p}:ec2:{r}:{a}:vpc/*")],
            Some(request_tag(s)),
        ));
        st.push(statement(
            "TagOnlyWhileCreating",
            &["ec2:CreateTags"],
            vec![sg.clone(), rule.clone()],
            Some(json!({ "StringEquals": {
                "ec2:CreateAction": ["CreateSecurityGroup", "AuthorizeSecurityGroupIngress"]
            }})),
        ));
        st.push(statement(
            "ChangeOnlyThisStacksSecurityGroups",
            &[
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:ModifySecurityGroupRules",
                "ec2:DeleteSecurityGroup",
                "ec2:CreateTags",
            ],
            vec![sg, rule.clone()],
            Some(resource_tag(s)),
        ));
        st.push(statement(
            "AuthorizeRulesThatTagThemselves",
            &["ec2:AuthorizeSecurityGroupIngress"],
            vec![rule],
            Some(request_tag(s)),
        ));
        // Lambda's network interfaces outlive a function for a while and hold the group: deleting
        // the group waits for them, and removes the detached ones (they carry no tag to scope by).
        st.push(statement(
            "CleanUpDetachedLambdaNetworkInterfaces",
            &["ec2:DeleteNetworkInterface"],
            vec![format!("arn:{p}:ec2:{r}:{a}:network-interface/*")],
            None,
        ));
    }
}

/// DB instances: the identifier is in the ARN, so by name.
fn db_instance_statements(st: &mut Vec<Statement>, stack: &Stack, Arns { p, r, a, s }: Arns<'_>) {
    if !stack.db_instances.is_empty() {
        let dbs: Vec<String> = stack
            .db_instances
            .values()
            // The AWS identifier (`name:`, else the key), lower-cased as RDS keeps it.
            .map(|d| format!("arn:{p}:rds:{r}:{a}:db:{}", d.name.to_ascii_lowercase()))
            .collect();
        // The groups an instance is created in are resources of CreateDBInstance too; the
        // request's tag is the same.
        let mut create = dbs.clone();
        create
            .extend(["subgrp", "og", "pg", "secgrp"].map(|t| format!("arn:{p}:rds:{r}:{a}:{t}:*")));
        st.push(statement(
            "CreateTheFilesDbInstancesTaggedForThisStack",
            &["rds:CreateDBInstance"],
            create,
            Some(request_tag(s)),
        ));
        // RDS authorises tag-on-create through AddTagsToResource too, so it cannot be limited
        // to creation: the names limit it.
        st.push(statement(
            "ChangeOnlyTheFilesDbInstances",
            &[
                "rds:ModifyDBInstance",
                "rds:DeleteDBInstance",
                "rds:StartDBInstance",
                "rds:StopDBInstance",
                "rds:AddTagsToResource",
                "rds:RemoveTagsFromResource",
            ],
            dbs.clone(),
            None,
        ));
        let snapshots: Vec<String> = stack
            .db_instances
            .values()
            .filter_map(|d| match &d.final_snapshot {
                FinalSnapshot::Skip => None,
                FinalSnapshot::Auto => Some(format!(
                    "arn:{p}:rds:{r}:{a}:snapshot:{}-final-*",
                    d.name.to_ascii_lowercase()
                )),
                FinalSnapshot::Named(n) => Some(format!("arn:{p}:rds:{r}:{a}:snapshot:{n}")),
            })
            .collect();
        if !snapshots.is_empty() {
            // DeleteDBInstance with a final snapshot: CreateDBSnapshot of the instance into the
            // snapshot (both are its resources), tagged as the instance (copied tags).
            let mut resources = snapshots;
            resources.extend(dbs);
            st.push(statement(
                "FinalSnapshotsOfTheFilesDbInstances",
                &["rds:CreateDBSnapshot", "rds:AddTagsToResource"],
                resources,
                None,
            ));
        }
        // `manage_master_password: true`: CreateDBInstance/ModifyDBInstance have RDS create the
        // secret in the caller's name, with these as dependent actions (Service Authorization
        // Reference, Amazon RDS, CreateDBInstance; RDS User Guide "Password management with
        // Amazon RDS and AWS Secrets Manager"). RDS names the secret `rds!db-<uuid>`. The file
        // cannot name a customer KMS key for it (MasterUserSecretKmsKeyId), so the secret uses
        // the AWS managed key aws/secretsmanager and no KMS permission is needed.
        if stack
            .db_instances
            .values()
            .any(|d| matches!(d.password, Password::Managed))
        {
            st.push(statement(
                "SecretsRdsManagesForManageMasterPassword",
                &["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
                vec![format!("arn:{p}:secretsmanager:{r}:{a}:secret:rds!db-*")],
                None,
            ));
        }
    }
}

/// Functions, their layers and their auto roles: by name.
fn function_statements(st: &mut Vec<Statement>, stack: &Stack, Arns { p, r, a, s }: Arns<'_>) {
    let functions = !stack.functions.is_empty();
    if functions {
        let fns: Vec<String> = stack
            .functions
            .values()
            .map(|f| format!("arn:{p}:lambda:{r}:{a}:function:{}", f.name))
            .collect();
        st.push(statement(
            "CreateTheFilesFunctionsTaggedForThisStack",
            &["lambda:CreateFunction"],
            fns.clone(),
            Some(request_tag(s)),
        ));
        st.push(statement(
            "ChangeOnlyTheFilesFunctions",
            &[
                "lambda:UpdateFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:DeleteFunction",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:AddPermission",
                "lambda:RemovePermission",
            ],
            fns.clone(),
            None,
        ));
        // `deploy invoke`: the Invoke API is authorized as lambda:InvokeFunction (Service
        // Authorization Reference, AWS Lambda).
        st.push(statement(
            "InvokeTheFilesFunctions",
            &["lambda:InvokeFunction"],
            fns,
            None,
        ));
        let layers: BTreeSet<&str> = stack
            .functions
            .values()
            .flat_map(|f| &f.layers)
            .filter_map(|l| match l {
                LayerRef::Folder { name, .. } => Some(name.as_str()),
                LayerRef::Arn(_) => None,
            })
            .collect();
        if !layers.is_empty() {
            st.push(statement(
                "PublishAndDeleteTheFilesLayers",
                &["lambda:PublishLayerVersion", "lambda:DeleteLayerVersion"],
                layers
                    .iter()
                    .flat_map(|l| {
                        [
                            format!("arn:{p}:lambda:{r}:{a}:layer:{l}"),
                            format!("arn:{p}:lambda:{r}:{a}:layer:{l}:*"),
                        ]
                    })
                    .collect(),
                None,
            ));
        }
        let roles: Vec<String> = stack
            .functions
            .iter()
            .filter(|(_, f)| f.role == RoleRef::Auto)
            .map(|(_, f)| {
                format!(
                    "arn:{p}:iam::{a}:role{}{}",
                    role_path(s),
                    role_name(&f.name)
                )
            })
            .collect();
        if !roles.is_empty() {
            st.push(statement(
                "ManageOnlyTheFilesAutoRoles",
                &[
                    "iam:CreateRole",
                    "iam:DeleteRole",
                    "iam:TagRole",
                    "iam:UntagRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:DeleteRolePolicy",
                ],
                roles.clone(),
                None,
            ));
            st.push(statement(
                "AttachOnlyTheLambdaExecutionPolicies",
                &["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                roles.clone(),
                Some(json!({ "ArnEquals": { "iam:PolicyARN": LAMBDA_EXECUTION_POLICIES } })),
            ));
        }
        let mut passed = roles;
        passed.extend(stack.functions.values().filter_map(|f| match &f.role {
            RoleRef::Arn(arn) => Some(arn.clone()),
            RoleRef::Auto => None,
        }));
        passed.sort();
        passed.dedup();
        st.push(statement(
            "PassTheFilesRolesToLambdaOnly",
            &["iam:PassRole"],
            passed,
            Some(json!({ "StringEquals": { "iam:PassedToService": "lambda.amazonaws.com" } })),
        ));
    }
}

/// User pools: ids in their ARNs, so by this stack's tag value; tagged only by CreateUserPool.
fn user_pool_statements(
    st: &mut Vec<Statement>,
    stack: &Stack,
    Arns { p, r, a, s }: Arns<'_>,
    warnings: &mut Vec<String>,
) {
    let owned_pools = !stack.user_pools.is_empty()
        || stack
            .cognito_triggers
            .iter()
            .any(|t| matches!(t.user_pool, PoolRef::Stack(_)));
    if !stack.user_pools.is_empty() {
        st.push(statement(
            "CreateUserPoolsTaggedForThisStack",
            &["cognito-idp:CreateUserPool"],
            vec!["*".into()],
            Some(request_tag(s)),
        ));
    }
    if owned_pools {
        st.push(statement(
            "ChangeOnlyThisStacksUserPools",
            &["cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool"],
            vec![format!("arn:{p}:cognito-idp:{r}:{a}:userpool/*")],
            Some(resource_tag(s)),
        ));
    }
    let external: BTreeSet<&str> = stack
        .cognito_triggers
        .iter()
        .filter_map(|t| match &t.user_pool {
            PoolRef::External(x) => Some(x.as_str()),
            PoolRef::Stack(_) => None,
        })
        .collect();
    if !external.is_empty() {
        let mut pools = BTreeSet::new();
        for x in &external {
            if is_pool_id(x) {
                pools.insert(format!("arn:{p}:cognito-idp:{r}:{a}:userpool/{x}"));
            } else {
                warnings.push(format!(
                    "user pool `{x}` is named by name, and a pool's ARN carries its id: the policy allows setting triggers on any pool (never with this stack's tag); give its id (e.g. {}_AbC123) in the file, or through the ${{env:}} variable it is read from, to limit it to that pool",
                    if r == "*" { "us-east-1" } else { r }
                ));
                pools.insert(format!("arn:{p}:cognito-idp:{r}:{a}:userpool/*"));
            }
        }
        // The trigger's read-modify-write sends the pool's tags (and its own
        // `deploy:triggers:<stack>` record); never this stack's ownership tag, which would make
        // the pool deletable by the statement above.
        st.push(statement(
            "SetTriggersOnlyOnTheFilesPoolsNeverTakingThem",
            &["cognito-idp:UpdateUserPool"],
            pools.into_iter().collect(),
            Some(json!({ "StringNotEquals": { format!("aws:RequestTag/{STACK_TAG}"): s } })),
        ));
    }
    // The invoke permission a trigger adds to its function (the file's, or one it names by ARN).
    let trigger_fns: BTreeSet<String> = stack
        .cognito_triggers
        .iter()
        .filter_map(|t| match &t.function {
            FunctionRef::Arn(arn) => Some(arn.clone()),
            FunctionRef::Stack(_) => None,
        })
        .collect();
    if !trigger_fns.is_empty() {
        st.push(statement(
            "LetCognitoInvokeTheFunctionsTheFileNames",
            &["lambda:AddPermission", "lambda:RemovePermission"],
            trigger_fns.into_iter().collect(),
            None,
        ));
    }
}

/// `deploy logs` and `deploy invoke`: the log groups Lambda writes the stack's functions to
/// (/aws/lambda/<name>). The log-group ARN is the resource of FilterLogEvents; the `:*` form
/// is how log-group ARNs read in the CloudWatch Logs docs' policy examples
/// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
fn function_log_statements(st: &mut Vec<Statement>, stack: &Stack, Arns { p, r, a, .. }: Arns<'_>) {
    if !stack.functions.is_empty() {
        st.push(statement(
            "ReadThisStacksFunctionLogs",
            &["logs:FilterLogEvents"],
            stack
                .functions
                .keys()
                .flat_map(|f| {
                    let arn = format!("arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{f}");
                    [arn.clone(), format!("{arn}:*")]
                })
                .collect(),
            None,
        ));
    }
}

/// The run lock: this stack's parameter only.
fn run_lock_statement(st: &mut Vec<Statement>, Arns { p, r, a, s }: Arns<'_>) {
    st.push(statement(
        "ThisStacksRunLockOnly",
        &[
            "ssm:PutParameter",
            "ssm:GetParameter",
            "ssm:DeleteParameter",
        ],
        vec![format!(
            "arn:{p}:ssm:{r}:{a}:parameter{}",
            crate::lock::parameter(s, r)
        )],
        None,
    ));
}

/// The one-time policy `apply` of an adopt plan needs beyond the everyday one: tagging the exact
/// resources the plan adopts, and nothing else.
pub fn for_adopt(saved: &SavedPlan, account: &str) -> Result<Policy, String> {
    if !saved.adopt {
        return Err(
            "is not an adopt plan: make one with `deploy plan --adopt --out FILE`, review it, and generate the grant from it".into(),
        );
    }
    let region = if saved.region.is_empty() {
        "*"
    } else {
        saved.region.as_str()
    };
    let p = partition(region);
    let attr = |address: &str, name: &str| -> Result<String, String> {
        saved
            .attributes
            .get(&format!("{address}.{name}"))
            .cloned()
            .flatten()
            .ok_or_else(|| format!("records no {name} for {address}, which it adopts: plan again"))
    };
    let mut st = Vec::new();
    for c in saved
        .plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Adopt)
    {
        let a = c.address.as_str();
        let sid: String = a
            .split(|ch: char| !ch.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut cs = w.chars();
                cs.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                    .unwrap_or_default()
            })
            .collect();
        let sid = format!("Adopt{sid}");
        let parts: Vec<&str> = a.split('.').collect();
        match parts.as_slice() {
            ["security_groups", _] => {
                let id = attr(a, "id")?;
                st.push(statement(
                    &sid,
                    &["ec2:CreateTags"],
                    vec![format!(
                        "arn:{p}:ec2:{region}:{account}:security-group/{id}"
                    )],
                    Some(request_tag(&saved.stack)),
                ));
            }
            ["db_instances", _] => st.push(statement(
                &sid,
                &["rds:AddTagsToResource"],
                vec![attr(a, "arn")?],
                Some(request_tag(&saved.stack)),
            )),
            ["functions", _] => st.push(statement(
                &sid,
                &["lambda:TagResource"],
                vec![attr(a, "arn")?],
                Some(request_tag(&saved.stack)),
            )),
            ["functions", _, "role"] => st.push(statement(
                &sid,
                &["iam:TagRole"],
                vec![attr(a, "arn")?],
                Some(request_tag(&saved.stack)),
            )),
            // UpdateUserPool carries the pool's tags (UserPoolTags).
            ["user_pools", _] => st.push(statement(
                &sid,
                &["cognito-idp:UpdateUserPool"],
                vec![attr(a, "arn")?],
                Some(request_tag(&saved.stack)),
            )),
            // A trigger's own record (`deploy:triggers:<stack>`) is not the ownership tag: the
            // everyday policy sets it.
            ["cognito_triggers", ..] => {}
            _ => {
                return Err(format!(
                    "adopts {a}, which deploy policy does not know how to grant"
                ));
            }
        }
    }
    if st.is_empty() {
        return Err(
            "adopts nothing that needs tagging: the everyday policy (`deploy policy`) is enough"
                .into(),
        );
    }
    Ok(Policy::new(st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(src: &str) -> Stack {
        let env = |n: &str| match n {
            "DB_PASSWORD" => Some("a-long-secret".to_string()),
            "POOL" => Some("us-west-2_Abc123".to_string()),
            _ => None,
        };
        crate::stack::parse_str(src, Path::new("stack.yaml"), Path::new("."), &env).unwrap()
    }

    fn any() -> Target {
        Target {
            account: "*".into(),
            region: "*".into(),
        }
    }

    fn actions(p: &Value) -> BTreeSet<String> {
        p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }

    fn sid<'a>(p: &'a Value, sid: &str) -> &'a Value {
        p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid}"))
    }

    const DB: &str = "stack: st\ndb_instances:\n  my-db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    PASSWORD\n    final_snapshot: false\n";

    #[test]
    fn names_scope_arns_by_the_aws_name_not_the_key() {
        let src = "stack: st\ndb_instances:\n  my-db:\n    name: ${stack}-Main\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    manage_master_password: true\nfunctions:\n  f:\n    name: ${stack}-fn\n    source: .\n    runtime: python3.12\n    handler: h.h\n";
        let t = Target {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let p = for_stack(&load(src), &t).0.to_value();
        assert_eq!(
            sid(&p, "ChangeOnlyTheFilesDbInstances")["Resource"],
            json!(["arn:aws:rds:eu-west-1:123456789012:db:st-main"])
        );
        assert_eq!(
            sid(&p, "ChangeOnlyTheFilesFunctions")["Resource"],
            json!(["arn:aws:lambda:eu-west-1:123456789012:function:st-fn"])
        );
        assert_eq!(
            sid(&p, "ManageOnlyTheFilesAutoRoles")["Resource"][0],
            json!("arn:aws:iam::123456789012:role/deploy/st/st-fn-role")
        );
        let snapshots = sid(&p, "FinalSnapshotsOfTheFilesDbInstances")["Resource"].to_string();
        assert!(
            snapshots.contains("snapshot:st-main-final-*"),
            "{snapshots}"
        );
    }

    #[test]
    fn db_instances_are_scoped_by_identifier_and_secrets_manager_only_when_managed() {
        let managed = load(&DB.replace("PASSWORD", "manage_master_password: true"));
        let t = Target {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let p = for_stack(&managed, &t).0.to_value();
        assert_eq!(
            sid(&p, "ChangeOnlyTheFilesDbInstances")["Resource"],
            json!(["arn:aws:rds:eu-west-1:123456789012:db:my-db"])
        );
        assert!(actions(&p).contains("secretsmanager:CreateSecret"));
        assert_eq!(
            sid(&p, "SecretsRdsManagesForManageMasterPassword")["Resource"],
            json!(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-*"])
        );
        let plain = load(&DB.replace("PASSWORD", "master_password: ${secret:DB_PASSWORD}"));
        let p = for_stack(&plain, &t).0.to_value();
        assert!(
            !actions(&p)
                .iter()
                .any(|a| a.starts_with("secretsmanager:") || a.starts_with("kms:"))
        );
        // No function, group or pool in the file: none of their writes.
        assert!(!actions(&p).contains("lambda:CreateFunction"));
        assert!(!actions(&p).contains("ec2:CreateSecurityGroup"));
        assert!(!actions(&p).contains("cognito-idp:CreateUserPool"));
        assert_eq!(
            sid(&p, "ThisStacksRunLockOnly")["Resource"],
            json!(["arn:aws:ssm:eu-west-1:123456789012:parameter/deploy/lock/st/eu-west-1"])
        );
    }

    #[test]
    fn functions_roles_and_layers_by_name_and_pools_by_id_or_tag() {
        let src = "stack: st\nfunctions:\n  f:\n    source: .\n    runtime: python3.12\n    handler: h.h\n    role: auto\n    layers:\n      - { name: lib, source: ., runtimes: [python3.12] }\ncognito_triggers:\n  - user_pool: ${env:POOL}\n    event: post_confirmation\n    function: f\n";
        let (p, w) = for_stack(&load(src), &any());
        let p = p.to_value();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            sid(&p, "ChangeOnlyTheFilesFunctions")["Resource"],
            json!(["arn:aws:lambda:*:*:function:f"])
        );
        assert_eq!(
            sid(&p, "ManageOnlyTheFilesAutoRoles")["Resource"],
            json!(["arn:aws:iam::*:role/deploy/st/f-role"])
        );
        assert_eq!(
            sid(&p, "PublishAndDeleteTheFilesLayers")["Resource"],
            json!([
                "arn:aws:lambda:*:*:layer:lib",
                "arn:aws:lambda:*:*:layer:lib:*"
            ])
        );
        let ext = sid(&p, "SetTriggersOnlyOnTheFilesPoolsNeverTakingThem");
        assert_eq!(
            ext["Resource"],
            json!(["arn:aws:cognito-idp:*:*:userpool/us-west-2_Abc123"])
        );
        assert_eq!(
            ext["Condition"]["StringNotEquals"]["aws:RequestTag/deploy:stack"],
            "st"
        );
        // No pool of its own: no pool writes by tag, no CreateUserPool.
        assert!(!actions(&p).contains("cognito-idp:DeleteUserPool"));
        // A pool named by name cannot be limited by ARN: said.
        let (p, w) = for_stack(&load(&src.replace("${env:POOL}", "my-pool")), &any());
        let p = p.to_value();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("my-pool"));
        assert_eq!(
            sid(&p, "SetTriggersOnlyOnTheFilesPoolsNeverTakingThem")["Resource"],
            json!(["arn:aws:cognito-idp:*:*:userpool/*"])
        );
    }

    #[test]
    fn pool_ids_are_told_from_names() {
        assert!(is_pool_id("us-east-1_AbC123"));
        assert!(is_pool_id("eu-central-1_x"));
        assert!(!is_pool_id("cruddur-user-pool"));
        assert!(!is_pool_id("my_pool"));
        assert!(!is_pool_id("us-east-1_"));
    }

    #[test]
    fn regions_of_other_partitions_get_their_partition() {
        let p = for_stack(
            &load(&DB.replace("PASSWORD", "manage_master_password: true")),
            &Target {
                account: "*".into(),
                region: "cn-north-1".into(),
            },
        )
        .0
        .to_value();
        assert_eq!(
            sid(&p, "ChangeOnlyTheFilesDbInstances")["Resource"],
            json!(["arn:aws-cn:rds:cn-north-1:*:db:my-db"])
        );
    }

    fn saved(adopt: bool, changes: &[(&str, &str)], attributes: &[(&str, &str)]) -> SavedPlan {
        let changes: Vec<Value> = changes
            .iter()
            .map(|(address, action)| json!({ "address": address, "action": action, "fields": [], "notes": [] }))
            .collect();
        let attributes: serde_json::Map<String, Value> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        serde_json::from_value(json!({
            "format_version": crate::plan::saved::FORMAT_VERSION,
            "deploy_version": env!("CARGO_PKG_VERSION"),
            "stack": "st",
            "region": "us-east-1",
            "stack_file": "stack.yaml",
            "public_ip": null,
            "targets": [],
            "adopt": adopt,
            "variables": { "env": {}, "secrets": [] },
            "plan": { "stack": "st", "changes": changes },
            "steps": [],
            "attributes": attributes,
            "fingerprint": { "stack_file": "", "files": {}, "live": {}, "account": "" }
        }))
        .unwrap()
    }

    #[test]
    fn adopt_grants_tagging_on_exactly_the_adopted_arns() {
        let plan = saved(
            true,
            &[
                ("security_groups.g", "adopt"),
                ("db_instances.d", "adopt"),
                ("functions.f", "adopt"),
                ("functions.f.role", "adopt"),
                ("user_pools.p", "adopt"),
                ("cognito_triggers.p.post_confirmation", "adopt"),
                ("functions.new", "create"),
            ],
            &[
                ("security_groups.g.id", "sg-0123"),
                ("db_instances.d.arn", "arn:aws:rds:us-east-1:1:db:d"),
                ("functions.f.arn", "arn:aws:lambda:us-east-1:1:function:f"),
                (
                    "functions.f.role.arn",
                    "arn:aws:iam::1:role/deploy/st/f-role",
                ),
                (
                    "user_pools.p.arn",
                    "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_P",
                ),
            ],
        );
        let p = for_adopt(&plan, "1").unwrap().to_value();
        let got: Vec<(String, Value)> = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["Action"][0].as_str().unwrap().to_string(),
                    s["Resource"].clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "ec2:CreateTags".into(),
                    json!(["arn:aws:ec2:us-east-1:1:security-group/sg-0123"])
                ),
                (
                    "rds:AddTagsToResource".into(),
                    json!(["arn:aws:rds:us-east-1:1:db:d"])
                ),
                (
                    "lambda:TagResource".into(),
                    json!(["arn:aws:lambda:us-east-1:1:function:f"])
                ),
                (
                    "iam:TagRole".into(),
                    json!(["arn:aws:iam::1:role/deploy/st/f-role"])
                ),
                (
                    "cognito-idp:UpdateUserPool".into(),
                    json!(["arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_P"])
                ),
            ]
        );
        for s in p["Statement"].as_array().unwrap() {
            assert_eq!(
                s["Condition"]["StringEquals"]["aws:RequestTag/deploy:stack"],
                "st"
            );
        }
    }

    #[test]
    fn adopt_refuses_a_plan_that_is_not_one_or_adopts_nothing_to_tag() {
        let not = saved(
            false,
            &[("security_groups.g", "adopt")],
            &[("security_groups.g.id", "sg-1")],
        );
        assert!(
            for_adopt(&not, "*")
                .unwrap_err()
                .contains("plan --adopt --out")
        );
        let nothing = saved(true, &[("functions.f", "create")], &[]);
        assert!(
            for_adopt(&nothing, "*")
                .unwrap_err()
                .contains("adopts nothing")
        );
        let unknown = saved(true, &[("functions.f", "adopt")], &[]);
        assert!(
            for_adopt(&unknown, "*")
                .unwrap_err()
                .contains("records no arn for functions.f")
        );
    }
}

//! Lambda functions, roles and layers against Lambda, IAM and the Resource Groups Tagging API.
//!
//! Reads are four paginated calls whatever the number of functions: ListFunctions (the whole
//! configuration, code hash included), GetResources (which functions carry this stack's tag,
//! with their tags), ListRoles under this stack's IAM path, and ListLayers (the latest version's
//! description says whose it is and what content it holds). The only per-resource read is
//! ListTags for a declared function that exists without this stack's tag (an adopt candidate),
//! so that the plan shows its real tags; once adopted it costs nothing.
//!
//! Roles are owned by their `deploy:stack` tag, which ListRoles does not return (and the Tagging
//! API does not cover IAM): each role on this stack's path costs one ListRoleTags and one
//! ListAttachedRolePolicies (the execution policy follows the function's `vpc`), run together.
//! Roles elsewhere are never listed: this tool only creates roles on its path. What the file
//! names but does not manage is looked up one by one in the first round (GetLayerVersion per
//! layer ARN, GetRole per role ARN), and the name of each `auto` role still to be created with
//! GetRole in the second, so that a missing layer or role, or a role name taken outside the
//! path, is a plan error rather than a failure halfway through apply.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Environment, FunctionCode, LastUpdateStatus, LayerVersionContentInput, Runtime, State,
    VpcConfig,
};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{
    LayerObserved, LayerSpec, Observed, RoleObserved, RoleSpec, SENSITIVE_TAG, Spec,
    config_changed, function_address, layer_address, layer_description, layer_lookup, layer_owner,
    package, parse_layer_description, pinned_versions, role_address, role_arn_lookup, role_name,
    role_name_lookup, role_name_of, role_path, tags_changed,
};
use crate::aws::Clients;
use crate::error::{AwsKind, Error, Result, code_of, kind_of};
use crate::plan::{Action, Change};
use crate::resources::core::{Adapter, Ctx, Found, Key, Lookup, data_key};
use crate::stack::{STACK_TAG, Stack};
use crate::value::Text;

/// How long IAM may take before Lambda accepts a new role (usually seconds; AWS documents no
/// bound, Terraform retries about two minutes).
const PROPAGATION: Duration = Duration::from_secs(120);
/// How long a function may take to become Active or finish an update (Terraform's 10 minutes;
/// a VPC function waits for its network interface).
const READY: Duration = Duration::from_secs(600);

/// Builds our view of a function from any Lambda response that carries its configuration
/// (ListFunctions items, GetFunctionConfiguration), which share accessor names but not a type.
macro_rules! observed_of {
    ($c:expr, $owned:expr, $tags:expr) => {{
        let c = $c;
        Observed {
            owned: $owned,
            arn: c.function_arn().unwrap_or_default().to_string(),
            name: c.function_name().unwrap_or_default().to_string(),
            runtime: c
                .runtime()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            handler: c.handler().unwrap_or_default().to_string(),
            description: c
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            memory: c.memory_size().unwrap_or_default(),
            timeout: c.timeout().unwrap_or_default(),
            role: c.role().unwrap_or_default().to_string(),
            layers: c
                .layers()
                .iter()
                .filter_map(|l| l.arn().map(str::to_string))
                .collect(),
            subnets: sorted(
                c.vpc_config()
                    .map(|v| v.subnet_ids().to_vec())
                    .unwrap_or_default(),
            ),
            security_groups: sorted(
                c.vpc_config()
                    .map(|v| v.security_group_ids().to_vec())
                    .unwrap_or_default(),
            ),
            environment: c
                .environment()
                .and_then(|e| e.variables())
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            code_sha256: c.code_sha256().unwrap_or_default().to_string(),
            tags: $tags,
        }
    }};
}

/// Everything a plan needs about this stack's functions, roles and layers.
/// What this kind finds: roles, layers and functions.
#[derive(Debug, Default)]
pub struct Live {
    pub roles: Vec<Found<RoleObserved>>,
    pub layers: Vec<Found<LayerObserved>>,
    pub functions: Vec<Found<Observed>>,
    /// For [`crate::resources::core::LiveEnv::lookups`].
    pub lookups: BTreeMap<String, Lookup>,
}

pub async fn observe(clients: &Clients, stack: &Stack) -> Result<Live> {
    // The `auto` roles' names are known from the file: each is read by name (GetRole returns
    // its tags) beside the listing, which is only needed to find the roles the file no longer
    // declares. So a stack with `auto` roles is read in one round.
    let declared: Vec<String> = stack
        .functions
        .iter()
        .filter(|(_, f)| f.role == crate::stack::RoleRef::Auto)
        .map(|(_, f)| role_name(&f.name))
        .collect();
    let (functions, tagged, roles, layers, arn_lookups, by_name) = tokio::try_join!(
        list_functions(clients),
        tagged_functions(clients, stack),
        list_roles(clients, stack),
        list_layers(clients),
        lookup_arns(clients, stack),
        futures::future::try_join_all(declared.iter().map(|n| role_by_name(clients, n))),
    )?;
    let mut found = Live {
        lookups: arn_lookups.into_iter().collect(),
        ..Live::default()
    };

    let mut adopt = Vec::new();
    for c in &functions {
        let Some(name) = c.function_name() else {
            continue;
        };
        match tagged.get(name) {
            Some(tags) => found
                .functions
                .push(function_found(stack, observed_of!(c, true, tags.clone()))),
            // Declared AWS names (`name:`, else the key) are adopted; addresses are keys.
            None if stack.functions.values().any(|f| f.name == name) => adopt.push(c),
            None => {}
        }
    }
    let adopt_tags = futures::future::try_join_all(
        adopt
            .iter()
            .map(|c| list_tags(clients, c.function_name(), c.function_arn())),
    )
    .await?;
    for (c, tags) in adopt.into_iter().zip(adopt_tags) {
        let owned = tags.get(STACK_TAG) == Some(&stack.name);
        found
            .functions
            .push(function_found(stack, observed_of!(c, owned, tags)));
    }

    let path = role_path(&stack.name);
    let mut mine: Vec<(
        aws_sdk_iam::types::Role,
        BTreeMap<String, String>,
        Vec<String>,
    )> = Vec::new();
    for (name, read) in declared.iter().zip(by_name) {
        match read {
            // Read whole in the first round: nothing more to ask.
            ByName::Found(role, Some(policies)) if role.path() == path => {
                let tags = role_tag_map(&role);
                mine.push((*role, tags, policies));
            }
            // A name taken elsewhere in the account (another path): creating it would fail.
            ByName::Found(role, _) if role.path() != path => {
                found.lookups.insert(
                    role_name_lookup(name),
                    Lookup::Found {
                        arn: role.arn().to_string(),
                        path: role.path().to_string(),
                        runtimes: Vec::new(),
                    },
                );
            }
            // Listed on the path but not (yet) readable by name, or its policies unreadable:
            // the listing's second round below reads it as it reads an undeclared one.
            ByName::Found(..) => {}
            ByName::Absent(lookup) => {
                if !roles
                    .iter()
                    .any(|r| r.role_name() == name && r.path() == path)
                {
                    found.lookups.insert(role_name_lookup(name), lookup);
                }
            }
        }
    }
    // PathPrefix also matches deeper paths, which this tool never creates. Only the roles not
    // read by name above (the ones the file no longer declares, normally none) cost a second
    // round: ListRoles returns neither tags nor attached policies.
    let rest: Vec<_> = roles
        .iter()
        .filter(|r| r.path() == path && r.role_name().ends_with("-role"))
        .filter(|r| !mine.iter().any(|(m, _, _)| m.role_name() == r.role_name()))
        .collect();
    let details = futures::future::try_join_all(rest.iter().map(|r| async move {
        tokio::try_join!(
            role_tags(clients, r.role_name()),
            attached_policies(clients, r.role_name())
        )
    }))
    .await?;
    mine.extend(
        rest.into_iter()
            .zip(details)
            .map(|(r, (tags, policies))| (r.clone(), tags, policies)),
    );
    mine.sort_by(|a, b| a.0.role_name().cmp(b.0.role_name()));
    for (r, tags, policies) in mine {
        // The auto role is named after the function's AWS name; its address after the key.
        let aws_function = r.role_name().strip_suffix("-role").unwrap_or_default();
        let owned = tags.get(STACK_TAG) == Some(&stack.name);
        let function = data_key(&stack.functions, |f| &f.name, aws_function, owned, &tags);
        let declared = stack
            .functions
            .get(function)
            .is_some_and(|f| f.role == crate::stack::RoleRef::Auto && f.name == aws_function);
        // An untagged role nobody declares is someone else's, whatever its path says.
        if !owned && !declared {
            continue;
        }
        found.roles.push(Found {
            address: role_address(function),
            key: Key::Role(function.to_string()),
            observed: RoleObserved {
                owned,
                arn: r.arn().to_string(),
                name: r.role_name().to_string(),
                path: r.path().to_string(),
                trust_policy: r.assume_role_policy_document().and_then(parse_policy),
                tags,
                policies,
            },
        });
    }

    for l in layers {
        let (Some(name), Some(latest)) = (l.layer_name(), l.latest_matching_version()) else {
            continue;
        };
        let Some(marker) = latest.description().and_then(parse_layer_description) else {
            continue;
        };
        if marker.stack != stack.name {
            continue;
        }
        let (Some(arn), version) = (latest.layer_version_arn(), latest.version()) else {
            continue;
        };
        let address = layer_owner(stack, name)
            .map(|(f, _)| layer_address(f, name))
            .unwrap_or_else(|| layer_address(&marker.function, name));
        // Which versions a delete would take: read only when the file names one by ARN (rare),
        // so the usual plan makes no call per layer.
        let pinned = pinned_versions(stack, arn);
        let published = if pinned.is_empty() {
            Vec::new()
        } else {
            our_versions(clients, &address, name, &stack.name)
                .await?
                .unwrap_or_default()
        };
        found.layers.push(Found {
            address,
            key: Key::Layer(name.to_string()),
            observed: LayerObserved {
                version_arn: arn.to_string(),
                name: name.to_string(),
                version,
                content: marker.content,
                runtimes: sorted(
                    latest
                        .compatible_runtimes()
                        .iter()
                        .map(|r| r.as_str().to_string()),
                ),
                pinned,
                published,
            },
        });
    }
    Ok(found)
}

fn function_found(stack: &Stack, o: Observed) -> Found<Observed> {
    let key = data_key(&stack.functions, |f| &f.name, &o.name, o.owned, &o.tags).to_string();
    Found {
        address: function_address(&key),
        key: Key::Function(key),
        observed: o,
    }
}

fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

async fn list_functions(
    clients: &Clients,
) -> Result<Vec<aws_sdk_lambda::types::FunctionConfiguration>> {
    let mut out = Vec::new();
    let mut pages = clients.lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("ListFunctions", "functions", e))?;
        out.extend(page.functions().iter().cloned());
    }
    Ok(out)
}

/// Function name -> tags, for the functions carrying this stack's tag.
async fn tagged_functions(
    clients: &Clients,
    stack: &Stack,
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    let mut pages = clients
        .tagging
        .get_resources()
        .tag_filters(
            TagFilter::builder()
                .key(STACK_TAG)
                .values(&stack.name)
                .build(),
        )
        .resource_type_filters("lambda:function")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("GetResources", "functions", e))?;
        for m in page.resource_tag_mapping_list() {
            let Some(name) = m.resource_arn().and_then(function_name_of) else {
                continue;
            };
            let tags: BTreeMap<String, String> = m
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            if tags.get(STACK_TAG) == Some(&stack.name) {
                out.insert(name.to_string(), tags);
            }
        }
    }
    Ok(out)
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` -> NAME.
fn function_name_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.nth(5)? == "function").then_some(())?;
    parts.next()
}

async fn list_tags(
    clients: &Clients,
    name: Option<&str>,
    arn: Option<&str>,
) -> Result<BTreeMap<String, String>> {
    let (Some(name), Some(arn)) = (name, arn) else {
        return Ok(BTreeMap::new());
    };
    let out = clients
        .lambda
        .list_tags()
        .resource(arn)
        .send()
        .await
        .map_err(|e| Error::aws("ListTags", &function_address(name), e))?;
    Ok(out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

/// What reading an `auto` role by name found.
enum ByName {
    /// The role, and its attached policies (`None` when they could not be listed).
    Found(Box<aws_sdk_iam::types::Role>, Option<Vec<String>>),
    Absent(Lookup),
}

/// GetRole (which, unlike ListRoles, returns the role's tags) and ListAttachedRolePolicies at
/// once, for a role that may not exist: then the second answers NoSuchEntity and is ignored.
async fn role_by_name(clients: &Clients, name: &str) -> Result<ByName> {
    let role = async {
        match clients.iam.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role.map_or(ByName::Absent(Lookup::Missing), |r| {
                ByName::Found(Box::new(r), None)
            })),
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(ByName::Absent(Lookup::Missing)),
            Err(e) if kind_of(&e) == Some(AwsKind::Denied) => {
                Ok(ByName::Absent(Lookup::Unknown(format!(
                    "{}: {}",
                    code_of(&e).unwrap_or_default(),
                    e.message().unwrap_or_default()
                ))))
            }
            Err(e) => Err(Error::aws("GetRole", "functions", e)),
        }
    };
    // A role that does not exist (yet) has no policies to list: NoSuchEntity is expected here.
    let policies = async {
        match attached_policies_of(clients, name).await {
            Ok(p) => Ok(Some(p)),
            Err(e)
                if kind_of(&e) == Some(AwsKind::NotFound)
                    || kind_of(&e) == Some(AwsKind::Denied) =>
            {
                Ok(None)
            }
            Err(e) => Err(Error::aws("ListAttachedRolePolicies", "functions", e)),
        }
    };
    let (role, policies) = tokio::try_join!(role, policies)?;
    Ok(match role {
        ByName::Found(r, _) => ByName::Found(r, policies),
        absent => absent,
    })
}

fn role_tag_map(role: &aws_sdk_iam::types::Role) -> BTreeMap<String, String> {
    role.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

async fn list_roles(clients: &Clients, stack: &Stack) -> Result<Vec<aws_sdk_iam::types::Role>> {
    let mut out = Vec::new();
    let mut pages = clients
        .iam
        .list_roles()
        .path_prefix(role_path(&stack.name))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("ListRoles", "functions", e))?;
        out.extend(page.roles().iter().cloned());
    }
    Ok(out)
}

async fn role_tags(clients: &Clients, name: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut marker = None;
    loop {
        let page = clients
            .iam
            .list_role_tags()
            .role_name(name)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| Error::aws("ListRoleTags", "functions", e))?;
        out.extend(
            page.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        );
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}

async fn attached_policies(clients: &Clients, name: &str) -> Result<Vec<String>> {
    attached_policies_of(clients, name)
        .await
        .map_err(|e| Error::aws("ListAttachedRolePolicies", "functions", e))
}

/// Every page of ListAttachedRolePolicies, sorted; the SDK's error as it came.
async fn attached_policies_of(
    clients: &Clients,
    name: &str,
) -> std::result::Result<
    Vec<String>,
    SdkError<
        aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesError,
        HttpResponse,
    >,
> {
    let mut out = Vec::new();
    let mut pages = clients
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        out.extend(
            page?
                .attached_policies()
                .iter()
                .filter_map(|a| a.policy_arn().map(str::to_string)),
        );
    }
    out.sort();
    Ok(out)
}

/// Whether an answer says "you may not ask" rather than "there is no such thing": then nothing
/// is known of existence, and the plan must not call it missing.
/// One GetLayerVersion per distinct layer version ARN and one GetRole per distinct role ARN the
/// file names, all at once: a reference to something missing is a plan error, not a
/// CreateFunction failure after the security groups were created.
async fn lookup_arns(clients: &Clients, stack: &Stack) -> Result<Vec<(String, Lookup)>> {
    let mut layers = std::collections::BTreeSet::new();
    let mut roles = std::collections::BTreeSet::new();
    for f in stack.functions.values() {
        for l in &f.layers {
            if let crate::stack::LayerRef::Arn(a) = l {
                layers.insert(a.clone());
            }
        }
        if let crate::stack::RoleRef::Arn(a) = &f.role {
            roles.insert(a.clone());
        }
    }
    let layer_answers = futures::future::try_join_all(layers.iter().map(|arn| async move {
        Ok::<_, Error>((layer_lookup(arn), get_layer_version(clients, arn).await?))
    }));
    let role_answers = futures::future::try_join_all(roles.iter().map(|arn| async move {
        let found = get_role(clients, role_name_of(arn)).await?;
        Ok::<_, Error>((role_arn_lookup(arn), found))
    }));
    let (mut out, roles) = tokio::try_join!(layer_answers, role_answers)?;
    out.extend(roles);
    Ok(out)
}

async fn get_layer_version(clients: &Clients, arn: &str) -> Result<Lookup> {
    // The loader checked the shape: `…:layer:NAME:VERSION`. GetLayerVersion takes the layer's
    // ARN as its name, which also reaches layers shared from other accounts.
    let (layer, version) = arn.rsplit_once(':').unwrap_or((arn, ""));
    let Ok(version) = version.parse::<i64>() else {
        return Ok(Lookup::Missing);
    };
    match clients
        .lambda
        .get_layer_version()
        .layer_name(layer)
        .version_number(version)
        .send()
        .await
    {
        Ok(out) => Ok(Lookup::Found {
            arn: out.layer_version_arn().unwrap_or(arn).to_string(),
            path: String::new(),
            runtimes: out
                .compatible_runtimes()
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
        }),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(Lookup::Missing),
        Err(e) if kind_of(&e) == Some(AwsKind::Denied) => Ok(Lookup::Unknown(format!(
            "{}: {}",
            code_of(&e).unwrap_or_default(),
            e.message().unwrap_or_default()
        ))),
        Err(e) => Err(Error::aws("GetLayerVersion", "functions", e)),
    }
}

async fn get_role(clients: &Clients, name: &str) -> Result<Lookup> {
    match clients.iam.get_role().role_name(name).send().await {
        Ok(out) => Ok(out.role().map_or(Lookup::Missing, |r| Lookup::Found {
            arn: r.arn().to_string(),
            path: r.path().to_string(),
            runtimes: Vec::new(),
        })),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(Lookup::Missing),
        Err(e) if kind_of(&e) == Some(AwsKind::Denied) => Ok(Lookup::Unknown(format!(
            "{}: {}",
            code_of(&e).unwrap_or_default(),
            e.message().unwrap_or_default()
        ))),
        Err(e) => Err(Error::aws("GetRole", "functions", e)),
    }
}

async fn list_layers(clients: &Clients) -> Result<Vec<aws_sdk_lambda::types::LayersListItem>> {
    let mut out = Vec::new();
    let mut pages = clients.lambda.list_layers().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("ListLayers", "functions", e))?;
        out.extend(page.layers().iter().cloned());
    }
    Ok(out)
}

/// IAM returns policy documents URL-encoded (RFC 3986); some implementations send them plain.
fn parse_policy(doc: &str) -> Option<serde_json::Value> {
    serde_json::from_str(doc)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(doc)?).ok())
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn known<'a>(t: &'a Text, address: &str, what: &str) -> Result<&'a str> {
    t.expose().ok_or_else(|| {
        Error::other(format!(
            "{address}: {what} was still unknown at apply (internal ordering error)"
        ))
    })
}

/// Zips a folder off the async threads: a layer can be tens of megabytes.
async fn zip(dir: PathBuf, address: &str) -> Result<package::Package> {
    let d = dir.clone();
    let p = tokio::task::spawn_blocking(move || package::zip_dir(&d))
        .await
        .map_err(|e| Error::other(format!("zipping {} failed: {e}", dir.display())).at(address))?
        .map_err(|e| Error::user(e.to_string()).at(address))?;
    package::check_size(&dir, p.bytes.len()).map_err(|e| Error::user(e.to_string()).at(address))?;
    Ok(p)
}

/// Calls `call` until it succeeds, fails with an error `retryable` does not name, or `budget`
/// runs out; `retryable` says what the wait is for.
async fn retry<T, E, F, Fut>(
    ctx: &Ctx<'_>,
    address: &str,
    operation: &'static str,
    budget: Duration,
    mut call: F,
    retryable: impl Fn(&SdkError<E, HttpResponse>) -> Option<&'static str>,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata
        + aws_types::request_id::RequestId
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    let started = Instant::now();
    let mut pause = ctx.backoff();
    loop {
        match call().await {
            Ok(v) => {
                ctx.progress.done_waiting(address);
                return Ok(v);
            }
            Err(e) => match retryable(&e) {
                Some(what) if started.elapsed() < budget => {
                    let state = e.message().or(e.code()).unwrap_or("not yet").to_string();
                    ctx.progress.waiting(address, what, &state);
                    pause.pause(address).await?;
                }
                _ => return Err(Error::aws(operation, address, e)),
            },
        }
    }
}

/// Lambda cannot use a role IAM has not finished propagating: "The role defined for the function
/// cannot be assumed by Lambda", or, for a VPC function, "The provided execution role does not
/// have permissions to call CreateNetworkInterface on EC2".
fn iam_propagation<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&'static str> {
    let message = e.message().unwrap_or_default().to_ascii_lowercase();
    (code_of(e) == Some("InvalidParameterValueException")
        && (message.contains("cannot be assumed") || message.contains("does not have permissions")))
    .then_some("to be accepted by Lambda (its new role is still propagating through IAM)")
}

/// Lambda checks a VPC function's groups with EC2, which may not show a group this run just made
/// ("EC2 Error Code: InvalidGroup.NotFound"; see [`crate::resources::core::propagation`]). The
/// retry's own budget bounds the wait.
fn new_group<E: ProvideErrorMetadata, R>(
    ctx: &Ctx<'_>,
    s: &Spec,
    e: &SdkError<E, R>,
) -> Option<&'static str> {
    let groups: Vec<&str> = match &s.vpc {
        Some(v) => v
            .security_groups
            .iter()
            .filter_map(|g| g.expose())
            .collect(),
        None => Vec::new(),
    };
    ctx.new_groups
        .not_yet_visible(&groups, code_of(e), e.message().unwrap_or_default())
        .then_some("for EC2 to show its new security group (EC2 is eventually consistent)")
}

/// Lambda refuses a change while the previous one is still being applied.
fn update_in_progress<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&'static str> {
    (kind_of(e) == Some(AwsKind::Conflict)).then_some("to finish an earlier change")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ready {
    /// `State` is Active (after CreateFunction).
    Active,
    /// `LastUpdateStatus` is Successful (after UpdateFunctionConfiguration/Code).
    Updated,
}

/// Polls GetFunctionConfiguration until the function is ready, failing with Lambda's own reason.
async fn wait_ready(
    ctx: &Ctx<'_>,
    address: &str,
    name: &str,
    ready: Ready,
) -> Result<aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput> {
    let started = Instant::now();
    let what = match ready {
        Ready::Active => "to become Active",
        Ready::Updated => "to finish its update",
    };
    let mut pause = ctx.backoff();
    loop {
        let c = ctx
            .clients
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| Error::aws("GetFunctionConfiguration", address, e))?;
        let state = c.state().cloned().unwrap_or(State::Active);
        if state == State::Failed {
            return Err(Error::wait(
                address,
                format!(
                    "the function failed: {}: {} (Lambda cannot recover a Failed function: fix the cause, then delete it and apply again)",
                    c.state_reason_code()
                        .map(|r| r.as_str())
                        .unwrap_or("Failed"),
                    c.state_reason().unwrap_or("no reason given")
                ),
            ));
        }
        let update = c
            .last_update_status()
            .cloned()
            .unwrap_or(LastUpdateStatus::Successful);
        if update == LastUpdateStatus::Failed {
            return Err(Error::wait(
                address,
                format!(
                    "the update failed: {}: {}",
                    c.last_update_status_reason_code()
                        .map(|r| r.as_str())
                        .unwrap_or("Failed"),
                    c.last_update_status_reason().unwrap_or("no reason given")
                ),
            ));
        }
        let done = match ready {
            Ready::Active => state != State::Pending,
            Ready::Updated => state != State::Pending && update == LastUpdateStatus::Successful,
        };
        if done {
            ctx.progress.done_waiting(address);
            return Ok(c);
        }
        if started.elapsed() > READY {
            return Err(Error::wait(
                address,
                format!(
                    "gave up waiting for the function {what} after {} (state {}, last update {}); run apply again to keep waiting",
                    crate::value::fmt_duration(started.elapsed()),
                    state.as_str(),
                    update.as_str()
                ),
            ));
        }
        ctx.progress.waiting(
            address,
            what,
            &format!("{} / {}", state.as_str(), update.as_str()),
        );
        pause.pause(address).await?;
    }
}

fn hash_map(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn environment(s: &Spec, address: &str) -> Result<Environment> {
    let mut vars = HashMap::new();
    for (k, v) in &s.environment {
        vars.insert(
            k.clone(),
            known(v, address, &format!("environment.{k}"))?.to_string(),
        );
    }
    Ok(Environment::builder().set_variables(Some(vars)).build())
}

fn layers(s: &Spec, address: &str) -> Result<Vec<String>> {
    s.layers
        .iter()
        .map(|l| known(l, address, "a layer ARN").map(str::to_string))
        .collect()
}

fn vpc_config(s: &Spec, address: &str) -> Result<VpcConfig> {
    let (subnets, groups) = match &s.vpc {
        Some(v) => (
            v.subnets.clone(),
            v.security_groups
                .iter()
                .map(|g| known(g, address, "a security group id").map(str::to_string))
                .collect::<Result<Vec<_>>>()?,
        ),
        // Empty lists detach the function from its VPC.
        None => (Vec::new(), Vec::new()),
    };
    Ok(VpcConfig::builder()
        .set_subnet_ids(Some(subnets))
        .set_security_group_ids(Some(groups))
        .build())
}

/// Lambda functions.
pub struct Functions;

impl Adapter for Functions {
    type Spec = Spec;
    type Observed = Observed;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        _existing: Option<&Observed>,
    ) -> Result<Observed> {
        create_function(ctx, address, s).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        o: &Observed,
        change: &Change,
    ) -> Result<Observed> {
        update_function(ctx, address, s, o, change).await
    }

    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        o: &Observed,
        _replacing: Option<&Spec>,
    ) -> Result<()> {
        delete_function(ctx, address, &o.name).await
    }
}

async fn create_function(ctx: &Ctx<'_>, address: &str, s: &Spec) -> Result<Observed> {
    let pkg = zip(s.source.clone(), address).await?;
    let mut req = ctx
        .clients
        .lambda_upload
        .create_function()
        .function_name(&s.name)
        .runtime(Runtime::from(s.runtime.as_str()))
        .role(known(&s.role, address, "the role ARN")?)
        .handler(&s.handler)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(pkg.bytes))
                .build(),
        )
        .memory_size(s.memory)
        .timeout(s.timeout)
        .set_tags(Some(hash_map(&s.tags)));
    if let Some(d) = &s.description {
        req = req.description(d);
    }
    if !s.layers.is_empty() {
        req = req.set_layers(Some(layers(s, address)?));
    }
    if s.vpc.is_some() {
        req = req.vpc_config(vpc_config(s, address)?);
    }
    if !s.environment.is_empty() {
        req = req.environment(environment(s, address)?);
    }
    let created = retry(
        ctx,
        address,
        "CreateFunction",
        PROPAGATION,
        || req.clone().send(),
        |e| iam_propagation(e).or_else(|| new_group(ctx, s, e)),
    )
    .await;
    if let Err(e) = created {
        // The plan found no function of this name: one that carries this stack's tag now was
        // made by an attempt whose answer was lost (the SDK sent the call again).
        if e.aws_kind() != Some(AwsKind::Conflict) || !made_by_lost_attempt(ctx, &s.name).await {
            return Err(e);
        }
    }
    let c = wait_ready(ctx, address, &s.name, Ready::Active).await?;
    Ok(observed_of!(&c, true, s.tags.clone()))
}

/// Whether function `name` exists and carries this stack's tag.
async fn made_by_lost_attempt(ctx: &Ctx<'_>, name: &str) -> bool {
    let lambda = &ctx.clients.lambda;
    let Ok(c) = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
    else {
        return false;
    };
    let Some(arn) = c.function_arn() else {
        return false;
    };
    lambda
        .list_tags()
        .resource(arn)
        .send()
        .await
        .is_ok_and(|t| {
            t.tags()
                .and_then(|m| m.get(crate::stack::STACK_TAG))
                .is_some_and(|v| *v == ctx.stack.name)
        })
}

async fn update_function(
    ctx: &Ctx<'_>,
    address: &str,
    s: &Spec,
    o: &Observed,
    c: &Change,
) -> Result<Observed> {
    let lambda = &ctx.clients.lambda;
    let mut latest = None;
    if config_changed(c) {
        let mut req = lambda
            .update_function_configuration()
            .function_name(&s.name)
            .runtime(Runtime::from(s.runtime.as_str()))
            .role(known(&s.role, address, "the role ARN")?)
            .handler(&s.handler)
            .memory_size(s.memory)
            .timeout(s.timeout)
            .set_layers(Some(layers(s, address)?))
            .environment(environment(s, address)?);
        if let Some(d) = &s.description {
            req = req.description(d);
        }
        // Only when it changed: a VPC update makes Lambda set up network interfaces again.
        if c.changes("vpc.subnets") || c.changes("vpc.security_groups") {
            req = req.vpc_config(vpc_config(s, address)?);
        }
        retry(
            ctx,
            address,
            "UpdateFunctionConfiguration",
            READY,
            || req.clone().send(),
            |e| {
                update_in_progress(e)
                    .or_else(|| iam_propagation(e))
                    .or_else(|| new_group(ctx, s, e))
            },
        )
        .await?;
        latest = Some(wait_ready(ctx, address, &s.name, Ready::Updated).await?);
    }
    if c.changes("code") {
        let pkg = zip(s.source.clone(), address).await?;
        let req = ctx
            .clients
            .lambda_upload
            .update_function_code()
            .function_name(&s.name)
            .zip_file(Blob::new(pkg.bytes));
        retry(
            ctx,
            address,
            "UpdateFunctionCode",
            READY,
            || req.clone().send(),
            update_in_progress,
        )
        .await?;
        latest = Some(wait_ready(ctx, address, &s.name, Ready::Updated).await?);
    }
    let mut tags = o.tags.clone();
    if tags_changed(c) || c.action == Action::Adopt {
        let missing: BTreeMap<String, String> = s
            .tags
            .iter()
            .filter(|(k, v)| o.tags.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !missing.is_empty() {
            lambda
                .tag_resource()
                .resource(&o.arn)
                .set_tags(Some(hash_map(&missing)))
                .send()
                .await
                .map_err(|e| Error::aws("TagResource", address, e))?;
        }
        tags.extend(missing);
        // No value holds a secret any more: the old list would mask values that are not.
        if o.tags.contains_key(SENSITIVE_TAG) && !s.tags.contains_key(SENSITIVE_TAG) {
            lambda
                .untag_resource()
                .resource(&o.arn)
                .tag_keys(SENSITIVE_TAG)
                .send()
                .await
                .map_err(|e| Error::aws("UntagResource", address, e))?;
            tags.remove(SENSITIVE_TAG);
        }
    }
    Ok(match latest {
        Some(latest) => observed_of!(&latest, true, tags),
        None => Observed {
            owned: true,
            tags,
            ..o.clone()
        },
    })
}

async fn delete_function(ctx: &Ctx<'_>, address: &str, name: &str) -> Result<()> {
    let r = retry(
        ctx,
        address,
        "DeleteFunction",
        READY,
        || {
            ctx.clients
                .lambda
                .delete_function()
                .function_name(name)
                .send()
        },
        update_in_progress,
    )
    .await;
    match r {
        Err(e) if e.aws_kind() == Some(AwsKind::NotFound) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// The `auto` execution roles of functions.
pub struct Roles;

impl Adapter for Roles {
    type Spec = RoleSpec;
    type Observed = RoleObserved;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        s: &RoleSpec,
        _existing: Option<&RoleObserved>,
    ) -> Result<RoleObserved> {
        create_role(ctx, address, s).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &RoleSpec,
        o: &RoleObserved,
        change: &Change,
    ) -> Result<RoleObserved> {
        let iam = &ctx.clients.iam;
        if change.changes("assume_role_policy") {
            iam.update_assume_role_policy()
                .role_name(&o.name)
                .policy_document(s.trust_policy.to_string())
                .send()
                .await
                .map_err(|e| Error::aws("UpdateAssumeRolePolicy", address, e))?;
        }
        if change.changes("policies") {
            // Attach before detach: the function is never left without its log permissions.
            let (attach, detach) = super::policy_moves(s, o);
            for arn in &attach {
                iam.attach_role_policy()
                    .role_name(&o.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| Error::aws("AttachRolePolicy", address, e))?;
            }
            for arn in &detach {
                match iam
                    .detach_role_policy()
                    .role_name(&o.name)
                    .policy_arn(arn)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => {}
                    Err(e) => return Err(Error::aws("DetachRolePolicy", address, e)),
                }
            }
        }
        if change.fields.iter().any(|f| f.path.starts_with("tags.")) {
            iam.tag_role()
                .role_name(&o.name)
                .set_tags(Some(iam_tags(address, &s.tags)?))
                .send()
                .await
                .map_err(|e| Error::aws("TagRole", address, e))?;
        }
        let mut policies: Vec<String> = o
            .policies
            .iter()
            .filter(|p| !super::is_execution_policy(p))
            .chain(&s.policies)
            .cloned()
            .collect();
        policies.sort();
        let mut tags = o.tags.clone();
        tags.extend(s.tags.clone());
        Ok(RoleObserved {
            owned: true,
            trust_policy: Some(s.trust_policy.clone()),
            tags,
            policies,
            ..o.clone()
        })
    }

    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        o: &RoleObserved,
        _replacing: Option<&RoleSpec>,
    ) -> Result<()> {
        delete_role(ctx, address, &o.name).await
    }
}

fn iam_tags(
    address: &str,
    tags: &BTreeMap<String, String>,
) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::other(e.to_string()).at(address))
}

async fn create_role(ctx: &Ctx<'_>, address: &str, s: &RoleSpec) -> Result<RoleObserved> {
    let iam = &ctx.clients.iam;
    let tags = iam_tags(address, &s.tags)?;
    let out = iam
        .create_role()
        .role_name(&s.name)
        .path(&s.path)
        .assume_role_policy_document(s.trust_policy.to_string())
        .description("Execution role of a Lambda function, managed by deploy")
        .set_tags(Some(tags))
        .send()
        .await;
    let role = match out {
        Ok(out) => out
            .role
            .ok_or_else(|| Error::other("CreateRole returned no role").at(address))?,
        Err(e) if kind_of(&e) == Some(AwsKind::AlreadyExists) => {
            // The plan found no role of this name that the stack owns: one that is ours now
            // was made by an attempt whose answer was lost (the SDK sent the call again).
            let got = iam.get_role().role_name(&s.name).send().await;
            if let Some(role) = got.ok().and_then(|o| o.role).filter(|r| {
                r.path() == s.path
                    && r.tags()
                        .iter()
                        .any(|t| t.key() == crate::stack::STACK_TAG && t.value() == ctx.stack.name)
            }) {
                role
            } else {
                return Err(Error::user(format!(
                    "{address}: a role named {} already exists outside {} (this stack did not create it): delete or rename it, or set the function's `role:` to its ARN",
                    s.name, s.path
                )));
            }
        }
        Err(e) => return Err(Error::aws("CreateRole", address, e)),
    };
    for policy in &s.policies {
        if let Err(e) = iam
            .attach_role_policy()
            .role_name(&s.name)
            .policy_arn(policy)
            .send()
            .await
        {
            // Without its policy the role would look complete to the next plan (attachments are
            // not read back), so undo the create and let a rerun start over.
            let err = Error::aws("AttachRolePolicy", address, e);
            let _ = iam.delete_role().role_name(&s.name).send().await;
            return Err(err);
        }
    }
    Ok(RoleObserved {
        owned: true,
        arn: role.arn().to_string(),
        name: role.role_name().to_string(),
        path: role.path().to_string(),
        trust_policy: Some(s.trust_policy.clone()),
        tags: s.tags.clone(),
        policies: s.policies.clone(),
    })
}

async fn delete_role(ctx: &Ctx<'_>, address: &str, name: &str) -> Result<()> {
    let iam = &ctx.clients.iam;
    // IAM refuses to delete a role that still has policies: detach the managed ones and delete
    // any inline ones (someone may have added one by hand).
    let mut attached = Vec::new();
    let mut pages = iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => attached.extend(
                p.attached_policies()
                    .iter()
                    .filter_map(|a| a.policy_arn().map(str::to_string)),
            ),
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => return Ok(()),
            Err(e) => return Err(Error::aws("ListAttachedRolePolicies", address, e)),
        }
    }
    for arn in attached {
        match iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(&arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => {}
            Err(e) => return Err(Error::aws("DetachRolePolicy", address, e)),
        }
    }
    let mut inline = Vec::new();
    let mut pages = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => inline.extend(p.policy_names().iter().cloned()),
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => return Ok(()),
            Err(e) => return Err(Error::aws("ListRolePolicies", address, e)),
        }
    }
    for policy in inline {
        match iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => {}
            Err(e) => return Err(Error::aws("DeleteRolePolicy", address, e)),
        }
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(()),
        Err(e) => Err(Error::aws("DeleteRole", address, e)),
    }
}

/// Layers published from a folder. A version is immutable: every change publishes a new one
/// (see [`super::LAYER_REPLACE`]).
pub struct Layers;

impl Adapter for Layers {
    type Spec = LayerSpec;
    type Observed = LayerObserved;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        s: &LayerSpec,
        _existing: Option<&LayerObserved>,
    ) -> Result<LayerObserved> {
        publish_layer(ctx, address, s).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &LayerSpec,
        _o: &LayerObserved,
        _change: &Change,
    ) -> Result<LayerObserved> {
        publish_layer(ctx, address, s).await
    }

    async fn delete(
        ctx: &Ctx<'_>,
        address: &str,
        o: &LayerObserved,
        _replacing: Option<&LayerSpec>,
    ) -> Result<()> {
        delete_layer_versions(ctx, address, &o.name, &o.pinned).await
    }
}

async fn publish_layer(ctx: &Ctx<'_>, address: &str, s: &LayerSpec) -> Result<LayerObserved> {
    let dir = s.source.clone();
    // Hash what is zipped, from the same moment, so the description matches the upload.
    let content = {
        let d = dir.clone();
        tokio::task::spawn_blocking(move || package::content_sha256(&d))
            .await
            .map_err(|e| {
                Error::other(format!("reading {} failed: {e}", dir.display())).at(address)
            })?
            .map_err(|e| Error::user(e.to_string()).at(address))?
    };
    let pkg = zip(dir, address).await?;
    let description = layer_description(&s.stack, &s.function, &content);
    // Every publish is a new version: a resend after a lost answer would make a second one.
    // Sent once; after a lost answer, a version with this exact description (same stack,
    // function and content hash) is what the lost call made.
    let request = ctx
        .clients
        .lambda_upload
        .publish_layer_version()
        .layer_name(&s.name)
        .description(&description)
        .content(
            LayerVersionContentInput::builder()
                .zip_file(Blob::new(pkg.bytes))
                .build(),
        )
        .set_compatible_runtimes((!s.runtimes.is_empty()).then(|| {
            s.runtimes
                .iter()
                .map(|r| Runtime::from(r.as_str()))
                .collect()
        }));
    let (version_arn, version) = crate::resources::core::once::create_once(
        "PublishLayerVersion",
        address,
        || {
            let r = request.clone().customize().config_override(
                aws_sdk_lambda::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            );
            async move {
                let out = r.send().await?;
                Ok((out.layer_version_arn().map(str::to_string), out.version()))
            }
        },
        || async {
            let found = find_layer_version(ctx, address, &s.name, &description).await?;
            Ok(found.map(|(arn, v)| (Some(arn), v)))
        },
    )
    .await?;
    let version_arn = version_arn
        .ok_or_else(|| Error::other("PublishLayerVersion returned no ARN").at(address))?;
    Ok(LayerObserved {
        version_arn,
        name: s.name.clone(),
        version,
        content,
        runtimes: s.runtimes.clone(),
        pinned: Vec::new(),
        published: Vec::new(),
    })
}

/// The newest version of layer `name` with exactly `description`, as (version ARN, version).
async fn find_layer_version(
    ctx: &Ctx<'_>,
    address: &str,
    name: &str,
    description: &str,
) -> Result<Option<(String, i64)>> {
    let mut best: Option<(String, i64)> = None;
    let mut pages = ctx
        .clients
        .lambda
        .list_layer_versions()
        .layer_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => return Ok(None),
            Err(e) => return Err(Error::aws("ListLayerVersions", address, e)),
        };
        for v in page.layer_versions() {
            if v.description() == Some(description)
                && let Some(arn) = v.layer_version_arn()
                && best.as_ref().is_none_or(|(_, b)| v.version() > *b)
            {
                best = Some((arn.to_string(), v.version()));
            }
        }
    }
    Ok(best)
}

/// The versions of layer `name` that carry this stack's marker; `None` when the layer is gone.
async fn our_versions(
    clients: &Clients,
    address: &str,
    name: &str,
    stack: &str,
) -> Result<Option<Vec<i64>>> {
    let mut ours = Vec::new();
    let mut pages = clients
        .lambda
        .list_layer_versions()
        .layer_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => ours.extend(
                p.layer_versions()
                    .iter()
                    .filter(|v| {
                        v.description()
                            .and_then(parse_layer_description)
                            .is_some_and(|m| m.stack == stack)
                    })
                    .map(|v| v.version()),
            ),
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => return Ok(None),
            Err(e) => return Err(Error::aws("ListLayerVersions", address, e)),
        }
    }
    ours.sort_unstable();
    Ok(Some(ours))
}

/// Deletes the versions of a layer that carry this stack's marker, except `pinned` (versions
/// stack.yaml names by ARN, as the plan found them); versions others published under the same
/// name are left alone.
async fn delete_layer_versions(
    ctx: &Ctx<'_>,
    address: &str,
    name: &str,
    pinned: &[i64],
) -> Result<()> {
    let lambda = &ctx.clients.lambda;
    let Some(ours) = our_versions(ctx.clients, address, name, &ctx.stack.name).await? else {
        return Ok(());
    };
    for version in ours.into_iter().filter(|v| !pinned.contains(v)) {
        match lambda
            .delete_layer_version()
            .layer_name(name)
            .version_number(version)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => {}
            Err(e) => return Err(Error::aws("DeleteLayerVersion", address, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::core::LiveEnv;

    #[test]
    fn function_names_come_from_arns() {
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:1:function:f"),
            Some("f")
        );
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
            Some("f")
        );
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:1:layer:f:1"),
            None
        );
        assert_eq!(function_name_of("nonsense"), None);
    }

    type Err = SdkError<
        aws_sdk_lambda::operation::create_function::CreateFunctionError,
        aws_smithy_runtime_api::http::Response,
    >;

    fn service_error(code: &str, message: &str) -> Err {
        let meta = aws_smithy_types::error::ErrorMetadata::builder()
            .code(code)
            .message(message)
            .build();
        SdkError::service_error(
            aws_sdk_lambda::operation::create_function::CreateFunctionError::generic(meta),
            aws_smithy_runtime_api::http::Response::new(
                400u16.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            ),
        )
    }

    #[test]
    fn retryable_errors_are_recognised() {
        let e = service_error(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        );
        assert!(iam_propagation(&e).is_some());
        let e = service_error(
            "InvalidParameterValueException",
            "The provided execution role does not have permissions to call CreateNetworkInterface on EC2",
        );
        assert!(iam_propagation(&e).is_some());
        let e = service_error(
            "InvalidParameterValueException",
            "Unzipped size must be smaller than 262144000 bytes",
        );
        assert!(iam_propagation(&e).is_none());
        let e = service_error(
            "ResourceConflictException",
            "The operation cannot be performed at this time.",
        );
        assert!(update_in_progress(&e).is_some() && iam_propagation(&e).is_none());
    }

    async fn offline_ctx_parts() -> (Clients, Stack) {
        let clients = clients_at("http://127.0.0.1:9").await;
        let stack = crate::stack::parse_str(
            "stack: s\n",
            std::path::Path::new("stack.yaml"),
            std::path::Path::new("."),
            &|_| None,
        )
        .unwrap();
        (clients, stack)
    }

    #[tokio::test]
    async fn retry_waits_out_retryable_errors_and_stops_on_others() {
        let (clients, stack) = offline_ctx_parts().await;
        let env = LiveEnv::default();
        let settings = crate::settings::Settings {
            poll: Duration::from_millis(1),
            ..Default::default()
        };
        let ctx = Ctx {
            clients: &clients,
            stack: &stack,
            env: &env,
            progress: &crate::context::Silent,
            cancel: crate::context::Cancel::Never,
            settings: &settings,
            new_groups: &Default::default(),
            batches: &Default::default(),
        };
        let calls = std::cell::Cell::new(0);
        let out = retry(
            &ctx,
            "a",
            "CreateFunction",
            Duration::from_secs(5),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(service_error(
                            "InvalidParameterValueException",
                            "role cannot be assumed",
                        ))
                    } else {
                        Ok(n)
                    }
                }
            },
            iam_propagation,
        )
        .await
        .unwrap();
        assert_eq!(out, 3);

        calls.set(0);
        let e = retry(
            &ctx,
            "a",
            "CreateFunction",
            Duration::from_secs(5),
            || {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(service_error("AccessDeniedException", "no")) }
            },
            iam_propagation,
        )
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 1);
        assert_eq!(e.aws_code(), Some("AccessDeniedException"));

        // The budget bounds the wait.
        calls.set(0);
        let e = retry(
            &ctx,
            "a",
            "UpdateFunctionCode",
            Duration::from_millis(20),
            || {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(service_error("ResourceConflictException", "busy")) }
            },
            update_in_progress,
        )
        .await
        .unwrap_err();
        assert!(calls.get() > 1);
        assert_eq!(e.aws_code(), Some("ResourceConflictException"));
    }

    /// A one-route HTTP server answering each request with the next of `bodies` (the last one
    /// repeats): enough to walk the Lambda state machine that moto skips (it is always Active).
    async fn fake_lambda(
        bodies: Vec<&'static str>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let bodies = bodies.clone();
                let count = count.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        buf.drain(..end);
                        let i = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let body = bodies[i.min(bodies.len() - 1)];
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, served)
    }

    /// Clients with fixed credentials (no credential chain, no network) sending to `url`.
    async fn clients_at(url: &str) -> Clients {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                "a", "b", None, None, "test",
            ))
            .load()
            .await;
        Clients {
            ec2: aws_sdk_ec2::Client::new(&config),
            rds: aws_sdk_rds::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            lambda_upload: aws_sdk_lambda::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            region: "us-east-1".into(),
            calls: Default::default(),
        }
    }

    #[tokio::test]
    async fn waits_for_pending_then_active_and_reports_failures() {
        let (_, stack) = offline_ctx_parts().await;
        let env = LiveEnv::default();
        let settings = crate::settings::Settings {
            poll: Duration::from_millis(1),
            ..Default::default()
        };

        let (url, served) = fake_lambda(vec![
            r#"{"FunctionName":"f","State":"Pending","LastUpdateStatus":"InProgress"}"#,
            r#"{"FunctionName":"f","State":"Pending","LastUpdateStatus":"InProgress"}"#,
            r#"{"FunctionName":"f","State":"Active","LastUpdateStatus":"Successful","MemorySize":256}"#,
        ])
        .await;
        let clients = clients_at(&url).await;
        let ctx = Ctx {
            clients: &clients,
            stack: &stack,
            env: &env,
            progress: &crate::context::Silent,
            cancel: crate::context::Cancel::Never,
            settings: &settings,
            new_groups: &Default::default(),
            batches: &Default::default(),
        };
        let c = wait_ready(&ctx, "functions.f", "f", Ready::Active)
            .await
            .unwrap();
        assert_eq!(c.memory_size(), Some(256));
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 3);

        let (url, _) = fake_lambda(vec![
            r#"{"FunctionName":"f","State":"Active","LastUpdateStatus":"InProgress"}"#,
            r#"{"FunctionName":"f","State":"Active","LastUpdateStatus":"Failed","LastUpdateStatusReasonCode":"SubnetOutOfIPAddresses","LastUpdateStatusReason":"no free IPs"}"#,
        ])
        .await;
        let clients = clients_at(&url).await;
        let ctx = Ctx {
            clients: &clients,
            ..ctx
        };
        let e = wait_ready(&ctx, "functions.f", "f", Ready::Updated)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("SubnetOutOfIPAddresses: no free IPs"),
            "{e}"
        );

        let (url, _) = fake_lambda(vec![
            r#"{"FunctionName":"f","State":"Failed","StateReasonCode":"InvalidSubnet","StateReason":"subnet-1 does not exist"}"#,
        ])
        .await;
        let clients = clients_at(&url).await;
        let ctx = Ctx {
            clients: &clients,
            ..ctx
        };
        let e = wait_ready(&ctx, "functions.f", "f", Ready::Active)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("InvalidSubnet: subnet-1 does not exist"),
            "{e}"
        );
    }

    #[test]
    fn policies_decode_plain_or_url_encoded() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        let want = serde_json::json!({"Version": "2012-10-17", "Statement": []});
        assert_eq!(parse_policy(plain), Some(want.clone()));
        assert_eq!(parse_policy(encoded), Some(want));
        assert_eq!(parse_policy("%ZZ"), None);
    }
}

//! What the stack file declares of a function, its layers and its VPC: the schema entries, the
//! entry as written, how it is decoded, and the checks that make it a [`Function`].

use std::collections::{BTreeMap, BTreeSet};

use crate::stack::check::{Checker, inside_project, is_aws_id, is_interpolated, pos, shown_dir};
use crate::stack::decode::{Decoder, Kind, Node, Scalar, Schema, Sp, Str, Ty, field, named, sp};
use crate::stack::{Function, FunctionVpc, GroupRef, LayerRef, Pos, RoleRef, Subnets};

pub static FUNCTION: Schema = Schema {
    what: "function",
    fields: &[
        field!("name", Ty::Str),
        field!("source", Ty::Str, required),
        field!("runtime", Ty::Str, required),
        field!("handler", Ty::Str, required),
        field!("description", Ty::Str),
        field!("memory", Ty::Int),
        field!("timeout", Ty::Int),
        field!("role", Ty::Str),
        field!(
            "layers",
            Ty::List(&Ty::Either(&Ty::Str, &Ty::Struct(&LAYER_FOLDER)))
        ),
        field!("vpc", Ty::Struct(&VPC)),
        field!("environment", Ty::Names(&Ty::Str)),
    ],
};

pub static LAYER_FOLDER: Schema = Schema {
    what: "layer",
    fields: &[
        field!("name", Ty::Str, required),
        field!("source", Ty::Str, required),
        field!("runtimes", Ty::List(&Ty::Str)),
    ],
};

pub static VPC: Schema = Schema {
    what: "vpc",
    fields: &[
        field!("subnets", Ty::Either(&Ty::Str, &Ty::List(&Ty::Str))),
        field!("security_groups", Ty::List(&Ty::Str)),
    ],
};

#[derive(Debug)]
pub struct RawFunction {
    pub name: Option<Str>,
    pub source: Option<Str>,
    pub runtime: Option<Str>,
    pub handler: Option<Str>,
    pub description: Option<Str>,
    pub memory: Option<Sp<Scalar>>,
    pub timeout: Option<Sp<Scalar>>,
    pub role: Option<Str>,
    pub layers: Vec<Sp<RawLayer>>,
    pub vpc: Option<Sp<RawVpc>>,
    pub environment: BTreeMap<String, Str>,
}

#[derive(Debug)]
pub enum RawLayer {
    Arn(Str),
    Folder(RawLayerFolder),
}

#[derive(Debug)]
pub struct RawLayerFolder {
    pub name: Option<Str>,
    pub source: Option<Str>,
    pub runtimes: Vec<Str>,
}

#[derive(Debug)]
pub struct RawVpc {
    pub subnets: Option<Sp<RawSubnets>>,
    pub security_groups: Vec<Str>,
}

#[derive(Debug)]
pub enum RawSubnets {
    Keyword(Str),
    Ids(Vec<Str>),
}

/// A `functions` entry, with its layers and VPC.
pub fn decode(d: &mut Decoder, name: &Str, n: &Node) -> Option<Sp<RawFunction>> {
    let o = d.obj(n, &FUNCTION, &format!("function `{}`", name.value))?;
    let layers = o
        .list(d, "layers", |d, l| match &l.kind {
            Kind::Map(_) => {
                let f = d.obj(l, &LAYER_FOLDER, "a layer")?;
                let (name, source) = (f.str(d, "name"), f.str(d, "source"));
                let runtimes = f.strs(d, "runtimes").unwrap_or_default();
                Some(sp(
                    l,
                    RawLayer::Folder(RawLayerFolder {
                        name,
                        source,
                        runtimes,
                    }),
                ))
            }
            Kind::Seq(_) | Kind::Null => {
                d.err(
                    l.pos,
                    "a layer is a layer version ARN, or { name, source, runtimes } to publish a folder",
                );
                None
            }
            _ => Some(sp(l, RawLayer::Arn(d.str(l, "layers")?))),
        })
        .unwrap_or_default();
    let vpc = o.node("vpc").and_then(|v| {
        let vo = d.obj(v, &VPC, "vpc")?;
        let subnets = vo.node("subnets").and_then(|s| match &s.kind {
            Kind::Seq(_) => Some(sp(
                s,
                RawSubnets::Ids(d.list(s, "subnets", |d, i| d.str(i, "subnets"))?),
            )),
            _ => Some(sp(s, RawSubnets::Keyword(d.str(s, "subnets")?))),
        });
        Some(sp(
            v,
            RawVpc {
                subnets,
                security_groups: vo.strs(d, "security_groups").unwrap_or_default(),
            },
        ))
    });
    let (source, runtime, handler) = (o.str(d, "source"), o.str(d, "runtime"), o.str(d, "handler"));
    Some(named(
        name,
        RawFunction {
            name: o.str(d, "name"),
            description: o.str(d, "description"),
            memory: o.int(d, "memory"),
            timeout: o.int(d, "timeout"),
            role: o.str(d, "role"),
            layers,
            vpc,
            environment: o
                .names(d, "environment", |d, k, v| {
                    d.str(v, &format!("environment.{}", k.value))
                })
                .unwrap_or_default(),
            source,
            runtime,
            handler,
        },
    ))
}

pub(crate) fn check(
    c: &mut Checker<'_>,
    name: &str,
    f: &Sp<RawFunction>,
    groups: &BTreeSet<String>,
) -> Option<Function> {
    let at = pos(f);
    let v = &f.value;
    let (aws_name, name_at) = c.physical(name, &v.name, at);
    if !is_interpolated(&aws_name)
        && (aws_name.is_empty()
            || aws_name.len() > 64
            || !aws_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        c.err(
            name_at,
            format!(
                "function name `{aws_name}` must be 1-64 letters, digits, hyphens or underscores"
            ),
        );
    }
    let source = v.source.as_ref().and_then(|x| {
        if c.packages_needed {
            c.path(x, "source", true)
        } else {
            c.plain(x, "source").map(|rel| c.dir.join(rel))
        }
    });
    let runtime = v.runtime.as_ref().and_then(|x| {
        let r = c.plain(x, "runtime")?;
        match runtime_problem(&r) {
            None => Some(r),
            Some(problem) => {
                c.err(pos(x), format!("runtime: {problem}"));
                None
            }
        }
    });
    let handler = v.handler.as_ref().and_then(|x| {
        let h = c.plain(x, "handler")?;
        // Lambda stores any handler, and a Python one without `module.function` only fails
        // when the function is invoked (Runtime.MalformedHandlerName).
        let python = runtime.as_deref().is_some_and(|r| r.starts_with("python"));
        if python
            && !h
                .rsplit_once('.')
                .is_some_and(|(m, f)| !m.is_empty() && !f.is_empty())
        {
            c.err(
                pos(x),
                format!("handler `{h}` must be MODULE.FUNCTION for Python, like lambda_function.lambda_handler"),
            );
            return None;
        }
        Some(h)
    });
    let role = role(c, v, &aws_name, name_at);
    let layers = layers(c, v);
    let vpc = v.vpc.as_ref().map(|vpc| check_vpc(c, vpc, groups));
    let mut environment = BTreeMap::new();
    for (k, val) in &v.environment {
        let key_ok = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok && !is_interpolated(k) {
            c.err(pos(val), format!("environment variable name `{k}` must be letters, digits and underscores, starting with a letter"));
        }
        if let Some(t) = c.template(val, &format!("environment.{k}")) {
            environment.insert(k.clone(), t);
        }
    }
    let description = v
        .description
        .as_ref()
        .and_then(|d| c.plain(d, "description"));
    let memory = v
        .memory
        .as_ref()
        .map_or(Some(128), |m| c.int(m, "memory", 128, 10240));
    let timeout = v
        .timeout
        .as_ref()
        .map_or(Some(3), |t| c.int(t, "timeout", 1, 900));
    Some(Function {
        name: aws_name,
        source: source?,
        source_pos: v.source.as_ref().map_or(at, pos),
        runtime: runtime?,
        handler: handler?,
        description,
        memory: memory?,
        timeout: timeout?,
        role: role?,
        layers,
        vpc,
        environment,
        pos: at,
    })
}

/// `role:`, `auto` (the default) or an existing role's ARN.
fn role(c: &mut Checker<'_>, v: &RawFunction, aws_name: &str, name_at: Pos) -> Option<RoleRef> {
    // The auto role follows the AWS name, so two environments' roles never collide.
    let auto_too_long =
        !is_interpolated(aws_name) && aws_name.len() <= 64 && aws_name.len() + "-role".len() > 64;
    match v.role.as_ref().map(|r| (r, c.plain(r, "role"))) {
        // The auto role is named `<function>-role`, and IAM role names are at most 64
        // characters (CreateRole's RoleName, IAM API reference): a function name that
        // Lambda accepts can still make a role name IAM refuses.
        Some((r, Some(a))) if a == "auto" && auto_too_long => {
            c.err(pos(r), auto_role_too_long(aws_name));
            None
        }
        None if auto_too_long => {
            c.err(name_at, auto_role_too_long(aws_name));
            None
        }
        None => Some(RoleRef::Auto),
        Some((_, Some(r))) if r == "auto" => Some(RoleRef::Auto),
        Some((_, Some(r))) if is_role_arn(&r) => Some(RoleRef::Arn(r)),
        Some((r, Some(other))) => {
            c.err(pos(r), format!("role must be `auto` or a role ARN like arn:aws:iam::123456789012:role/NAME, not `{other}`"));
            None
        }
        Some((_, None)) => None,
    }
}

/// `layers:`, version ARNs and folders to publish, at most five.
fn layers(c: &mut Checker<'_>, v: &RawFunction) -> Vec<LayerRef> {
    if v.layers.len() > 5 {
        c.err(pos(&v.layers[5]), "a function can have at most 5 layers");
    }
    let mut layers = Vec::new();
    for l in &v.layers {
        match &l.value {
            RawLayer::Arn(a) => {
                let Some(arn) = c.plain(a, "layers") else {
                    continue;
                };
                match layer_arn_problem(&arn) {
                    None => layers.push(LayerRef::Arn(arn)),
                    Some(problem) => c.err(pos(a), problem),
                }
            }
            RawLayer::Folder(lf) => layers.extend(layer_folder(c, l, lf)),
        }
    }
    layers
}

/// A layer published from a folder: its name, runtimes and a folder inside the project.
fn layer_folder(c: &mut Checker<'_>, l: &Sp<RawLayer>, lf: &RawLayerFolder) -> Option<LayerRef> {
    let name = lf.name.as_ref().and_then(|x| c.plain(x, "layers.name"));
    let runtimes: Vec<String> = lf
        .runtimes
        .iter()
        .filter_map(|r| {
            let v = c.plain(r, "layers.runtimes")?;
            match runtime_problem(&v) {
                None => Some(v),
                Some(problem) => {
                    c.err(pos(r), format!("layers.runtimes: {problem}"));
                    None
                }
            }
        })
        .collect();
    let source = lf.source.as_ref().and_then(|x| c.plain(x, "layers.source"));
    if let Some(name) = &name
        && (name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        c.err(
            lf.name.as_ref().map_or(Pos::default(), pos),
            format!("layer name `{name}` must be letters, digits, hyphens or underscores"),
        );
    }
    // The folder is checked even when the name is wrong: one run shows both.
    let source = source?;
    let src = c.dir.join(&source);
    if !src.is_dir() && c.packages_needed {
        c.err(
            lf.source.as_ref().map_or(Pos::default(), pos),
            format!(
                "layer `{}`: folder `{source}` not found (build it first, e.g. `make layer`; paths are relative to the stack file's folder, {})",
                name.as_deref().unwrap_or("?"),
                shown_dir(c.dir)
            ),
        );
        return None;
    }
    // A folder this run does not read and that is not there (an unbuilt layer, for
    // `migrate`) has nowhere to lead: nothing to check.
    let absent = !src.exists() && !c.packages_needed;
    if let Err(m) =
        inside_project(c.dir, &src, &source).or_else(|e| if absent { Ok(()) } else { Err(e) })
    {
        c.err(
            lf.source.as_ref().map_or(Pos::default(), pos),
            format!("layer `{}`: {m}", name.as_deref().unwrap_or("?")),
        );
        return None;
    }
    let name = name?;
    Some(LayerRef::Folder {
        name,
        source: src,
        runtimes,
        pos: lf.source.as_ref().map_or(pos(l), pos),
    })
}

/// `vpc:`, its subnets and at least one security group.
fn check_vpc(c: &mut Checker<'_>, vpc: &Sp<RawVpc>, groups: &BTreeSet<String>) -> FunctionVpc {
    let subnets = match vpc.value.subnets.as_ref().map(|s| (&s.value, pos(s))) {
        None => Subnets::Default,
        Some((RawSubnets::Keyword(k), p)) => match c.plain(k, "subnets") {
            Some(k) if k == "default" => Subnets::Default,
            Some(k) => {
                c.err(
                    p,
                    format!("subnets must be `default` or a list of subnet-… ids, not `{k}`"),
                );
                Subnets::Default
            }
            None => Subnets::Default,
        },
        Some((RawSubnets::Ids(ids), p)) => {
            let mut out = Vec::new();
            for id in ids {
                match c.plain(id, "subnets") {
                    Some(i) if is_aws_id(&i, "subnet-") => out.push(i),
                    Some(i) => c.err(
                        pos(id),
                        format!("subnets: `{i}` is not a subnet id like subnet-0123456789abcdef0"),
                    ),
                    None => {}
                }
            }
            if ids.is_empty() {
                c.err(
                    p,
                    "subnets must be `default` or a non-empty list of subnet-… ids",
                );
            }
            Subnets::Ids(out)
        }
    };
    let security_groups: Vec<GroupRef> = vpc
        .value
        .security_groups
        .iter()
        .filter_map(|g| c.group_ref(g, groups, "vpc.security_groups"))
        .collect();
    if vpc.value.security_groups.is_empty() {
        c.err(
            pos(vpc),
            "vpc needs at least one security group: add `security_groups: [NAME]`",
        );
    }
    FunctionVpc {
        subnets,
        security_groups,
    }
}

/// Runtime families Lambda creates functions with, by pattern rather than by a list of today's
/// versions: a version AWS adds later (python3.15, nodejs26.x, java29, dotnet12,
/// provided.al2027) passes without a release of deploy. Versions below a family's floor are
/// deprecated (Lambda refuses new functions with them); the ceilings only catch typos
/// (`nodejs99.x`) and are decades away.
const RUNTIME_FAMILIES: &str = "python3.N (N >= 9), nodejsN.x (even N >= 18), javaN (N >= 11) or java8.al2, dotnetN (N >= 8), rubyN.M (3.2 or later), provided.al2, provided.al2023";

/// What is wrong with a Lambda runtime identifier, if anything.
pub fn runtime_problem(r: &str) -> Option<String> {
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    // (supported, deprecated): a known family with a version outside its range is one or the
    // other; anything else is unknown.
    let verdict: Option<bool> = if let Some(n) = r.strip_prefix("python3.").and_then(num) {
        Some((9..=40).contains(&n))
    } else if r.starts_with("python") {
        Some(false)
    } else if let Some(n) = r
        .strip_prefix("nodejs")
        .and_then(|v| v.strip_suffix(".x"))
        .and_then(num)
    {
        Some((18..=60).contains(&n) && n % 2 == 0)
    } else if r.starts_with("nodejs") {
        Some(false)
    } else if r == "java8.al2" {
        Some(true)
    } else if let Some(n) = r.strip_prefix("java").and_then(num) {
        Some((11..=60).contains(&n))
    } else if r.starts_with("java") {
        Some(false)
    } else if let Some(n) = r.strip_prefix("dotnet").and_then(num) {
        Some((8..=40).contains(&n))
    } else if r.starts_with("dotnet") {
        Some(false)
    } else if let Some((major, minor)) = r
        .strip_prefix("ruby")
        .and_then(|v| v.split_once('.'))
        .and_then(|(a, b)| Some((num(a)?, num(b)?)))
    {
        Some((major, minor) >= (3, 2) && major <= 9)
    } else if r.starts_with("ruby") {
        Some(false)
    } else if r == "provided.al2" {
        Some(true)
    } else if let Some(y) = r.strip_prefix("provided.al").and_then(num) {
        Some((2023..=2060).contains(&y))
    } else if r == "provided" || r.starts_with("go1") || r.starts_with("provided.") {
        Some(false)
    } else {
        None
    };
    match verdict {
        Some(true) => None,
        Some(false) => Some(format!(
            "`{r}` is not a runtime Lambda creates functions with (deprecated, or no such version): use a supported one, such as python3.13 or nodejs22.x (supported: {RUNTIME_FAMILIES})"
        )),
        None => Some(format!(
            "`{r}` is not a Lambda runtime: use one of {RUNTIME_FAMILIES}"
        )),
    }
}

fn auto_role_too_long(function: &str) -> String {
    format!(
        "the auto role of `{function}` would be named `{function}-role`, {} characters, but IAM allows at most 64: shorten the function's name to 59 characters or fewer, or give `role:` an existing role's ARN",
        function.len() + "-role".len()
    )
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`
fn is_role_arn(s: &str) -> bool {
    let p: Vec<&str> = s.splitn(6, ':').collect();
    matches!(p.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty() && !n.ends_with('/')))
}

/// What is wrong with a layer ARN, if anything: Lambda attaches a layer *version*,
/// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`.
fn layer_arn_problem(s: &str) -> Option<String> {
    let p: Vec<&str> = s.split(':').collect();
    let shape_ok = p.len() >= 7
        && p[0] == "arn"
        && p[1].starts_with("aws")
        && p[2] == "lambda"
        && !p[3].is_empty()
        && p[4].len() == 12
        && p[4].chars().all(|c| c.is_ascii_digit())
        && p[5] == "layer"
        && !p[6].is_empty();
    if !shape_ok {
        return Some(format!(
            "layer `{s}` must be a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION), or {{ name, source, runtimes }} to publish a folder"
        ));
    }
    match p.get(7) {
        Some(v) if p.len() == 8 && !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) => None,
        None => Some(format!(
            "layer `{s}` has no version: Lambda attaches a layer version, so add `:N` (the version number) at the end"
        )),
        Some(_) => Some(format!(
            "layer `{s}` must end with a version number, like arn:aws:lambda:REGION:ACCOUNT:layer:NAME:3"
        )),
    }
}

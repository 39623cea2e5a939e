//! The stack file as written, decoded from the YAML tree against [`STACK`], a schema that is
//! data: unknown keys, wrong types, duplicates and missing keys are found entry by entry and all
//! reported, and a test walks the schema to prove every field is covered.
//!
//! Scalars stay text here (numbers and booleans too may come from `${env:}`); `validate`
//! resolves them and checks the resolved value.

use std::collections::{BTreeMap, BTreeSet};

use super::yaml::{Kind, Node};
use super::{Pos, Problem};

/// A value with the position of its node.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub pos: Pos,
}
pub type Str = Sp<String>;

/// A number or boolean field as written: a YAML number/boolean, or text such as `${env:PORT}`
/// that must resolve to one.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Int(i64),
    Bool(bool),
    Text(String),
}

// ---------------------------------------------------------------------------------------------
// The schema.

#[derive(Debug, Clone, Copy)]
// The decoder matches on the variants only; the tests walk what they hold.
#[cfg_attr(not(test), allow(dead_code))]
pub enum Ty {
    Str,
    Int,
    Bool,
    List(&'static Ty),
    /// A map from names the author chooses (a group's name, a tag key) to values.
    Names(&'static Ty),
    Struct(&'static Schema),
    /// Either form, e.g. a layer ARN or a `{ name, source }` folder.
    Either(&'static Ty, &'static Ty),
}

#[derive(Debug)]
pub struct Field {
    pub key: &'static str,
    pub ty: Ty,
    pub required: bool,
}

#[derive(Debug)]
pub struct Schema {
    /// How messages name an entry of this kind: "security group".
    pub what: &'static str,
    pub fields: &'static [Field],
}

macro_rules! field {
    ($key:literal, $ty:expr) => {
        Field {
            key: $key,
            ty: $ty,
            required: false,
        }
    };
    ($key:literal, $ty:expr, required) => {
        Field {
            key: $key,
            ty: $ty,
            required: true,
        }
    };
}

pub static STACK: Schema = Schema {
    what: "the stack file",
    fields: &[
        field!("stack", Ty::Str, required),
        field!("region", Ty::Str),
        field!("tags", Ty::Names(&Ty::Str)),
        field!("security_groups", Ty::Names(&Ty::Struct(&SECURITY_GROUP))),
        field!("db_instances", Ty::Names(&Ty::Struct(&DB_INSTANCE))),
        field!("functions", Ty::Names(&Ty::Struct(&FUNCTION))),
        field!("user_pools", Ty::Names(&Ty::Struct(&USER_POOL))),
        field!("cognito_triggers", Ty::List(&Ty::Struct(&TRIGGER))),
        field!("outputs", Ty::Names(&Ty::Str)),
    ],
};

pub static SECURITY_GROUP: Schema = Schema {
    what: "security group",
    fields: &[
        field!("name", Ty::Str),
        field!("description", Ty::Str, required),
        field!("vpc", Ty::Str),
        field!("ingress", Ty::List(&Ty::Struct(&RULE))),
    ],
};

pub static RULE: Schema = Schema {
    what: "ingress rule",
    fields: &[
        field!("description", Ty::Str, required),
        field!("protocol", Ty::Str),
        field!("port", Ty::Int),
        field!("ports", Ty::Str),
        field!("cidr", Ty::Str),
        field!("source_group", Ty::Str),
    ],
};

pub static DB_INSTANCE: Schema = Schema {
    what: "db instance",
    fields: &[
        field!("name", Ty::Str),
        field!("engine", Ty::Str, required),
        field!("engine_version", Ty::Str),
        field!("instance_class", Ty::Str, required),
        field!("allocated_storage", Ty::Int, required),
        field!("storage_type", Ty::Str),
        field!("storage_encrypted", Ty::Bool),
        field!("master_username", Ty::Str, required),
        field!("master_password", Ty::Str),
        field!("manage_master_password", Ty::Bool),
        field!("password_version", Ty::Int),
        field!("db_name", Ty::Str),
        field!("port", Ty::Int),
        field!("availability_zone", Ty::Str),
        field!("multi_az", Ty::Bool),
        field!("publicly_accessible", Ty::Bool),
        field!("backup_retention_days", Ty::Int),
        field!("performance_insights", Ty::Struct(&PERFORMANCE_INSIGHTS)),
        field!("deletion_protection", Ty::Bool),
        field!("security_groups", Ty::List(&Ty::Str)),
        field!("running", Ty::Bool),
        field!("final_snapshot", Ty::Either(&Ty::Bool, &Ty::Str)),
        field!("migrations", Ty::Str),
        field!("migrations_baseline", Ty::Int),
        field!("seed", Ty::Str),
    ],
};

pub static PERFORMANCE_INSIGHTS: Schema = Schema {
    what: "performance_insights",
    fields: &[
        field!("enabled", Ty::Bool, required),
        field!("retention_days", Ty::Int),
    ],
};

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

pub static USER_POOL: Schema = Schema {
    what: "user pool",
    fields: &[
        field!("name", Ty::Str),
        field!("username_attributes", Ty::List(&Ty::Str)),
        field!("auto_verified_attributes", Ty::List(&Ty::Str)),
        field!("deletion_protection", Ty::Bool),
    ],
};

pub static TRIGGER: Schema = Schema {
    what: "cognito trigger",
    fields: &[
        field!("user_pool", Ty::Str, required),
        field!("event", Ty::Str, required),
        field!("function", Ty::Str, required),
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
    pub security_groups: BTreeMap<String, Sp<RawSecurityGroup>>,
    pub db_instances: BTreeMap<String, Sp<RawDbInstance>>,
    pub functions: BTreeMap<String, Sp<RawFunction>>,
    pub user_pools: BTreeMap<String, Sp<RawUserPool>>,
    pub cognito_triggers: Vec<Sp<RawTrigger>>,
    pub outputs: BTreeMap<String, Str>,
    /// Every name declared per section, entries that failed to decode included, so that a
    /// broken entry does not also make every reference to it "dangling".
    pub declared: BTreeMap<&'static str, BTreeSet<String>>,
}

#[derive(Debug)]
pub struct RawSecurityGroup {
    /// The AWS name, when not the key.
    pub name: Option<Str>,
    pub description: Option<Str>,
    pub vpc: Option<Str>,
    pub ingress: Vec<Sp<RawRule>>,
}

#[derive(Debug)]
pub struct RawRule {
    pub description: Option<Str>,
    pub protocol: Option<Str>,
    pub port: Option<Sp<Scalar>>,
    pub ports: Option<Str>,
    pub cidr: Option<Str>,
    pub source_group: Option<Str>,
}

#[derive(Debug)]
pub struct RawDbInstance {
    pub name: Option<Str>,
    pub engine: Option<Str>,
    pub engine_version: Option<Str>,
    pub instance_class: Option<Str>,
    pub allocated_storage: Option<Sp<Scalar>>,
    pub storage_type: Option<Str>,
    pub storage_encrypted: Option<Sp<Scalar>>,
    pub master_username: Option<Str>,
    pub master_password: Option<Str>,
    pub manage_master_password: Option<Sp<Scalar>>,
    pub password_version: Option<Sp<Scalar>>,
    pub db_name: Option<Str>,
    pub port: Option<Sp<Scalar>>,
    pub availability_zone: Option<Str>,
    pub multi_az: Option<Sp<Scalar>>,
    pub publicly_accessible: Option<Sp<Scalar>>,
    pub backup_retention_days: Option<Sp<Scalar>>,
    pub performance_insights: Option<Sp<RawPerformanceInsights>>,
    pub deletion_protection: Option<Sp<Scalar>>,
    pub security_groups: Vec<Str>,
    pub running: Option<Sp<Scalar>>,
    /// `true`, `false` or a snapshot name.
    pub final_snapshot: Option<Sp<Scalar>>,
    pub migrations: Option<Str>,
    pub migrations_baseline: Option<Sp<Scalar>>,
    pub seed: Option<Str>,
}

#[derive(Debug)]
pub struct RawPerformanceInsights {
    pub enabled: Option<Sp<Scalar>>,
    pub retention_days: Option<Sp<Scalar>>,
}

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

#[derive(Debug)]
pub struct RawUserPool {
    pub name: Option<Str>,
    pub username_attributes: Option<Vec<Str>>,
    pub auto_verified_attributes: Option<Vec<Str>>,
    pub deletion_protection: Option<Sp<Scalar>>,
}

#[derive(Debug)]
pub struct RawTrigger {
    pub user_pool: Option<Str>,
    pub event: Option<Str>,
    pub function: Option<Str>,
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/// Collects every problem while decoding; a broken entry is skipped, its siblings still checked.
#[derive(Default)]
pub struct Decoder {
    pub problems: Vec<Problem>,
    /// The line of the name whose settings are being decoded: "needs `engine:`" points there.
    name_pos: Option<Pos>,
}

/// The known keys of one map, looked up by the decoding code. In debug builds, reading a key the
/// schema does not declare (or with another type) panics: the schema and the model stay one.
pub struct Obj<'n> {
    schema: &'static Schema,
    entries: BTreeMap<&'static str, &'n Node>,
}

fn scalar_text(n: &Node) -> Option<String> {
    match &n.kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Bool(b) => Some(n.text.clone().unwrap_or_else(|| b.to_string())),
        Kind::Int(i) => Some(n.text.clone().unwrap_or_else(|| i.to_string())),
        Kind::Float(f) => Some(n.text.clone().unwrap_or_else(|| f.to_string())),
        _ => None,
    }
}

/// The closest allowed key, for "did you mean".
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 2))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

impl Decoder {
    pub fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            pos,
            message: message.into(),
        });
    }

    /// The keys of a map node checked against `schema`. `label` names the entry in messages
    /// ("security group `db-sg`").
    pub fn obj<'n>(
        &mut self,
        node: &'n Node,
        schema: &'static Schema,
        label: &str,
    ) -> Option<Obj<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.err(
                node.pos,
                format!(
                    "{label} must be a map of settings (`key: value` lines indented below it), not {}",
                    node.kind.describe()
                ),
            );
            return None;
        };
        let mut known: BTreeMap<&'static str, &'n Node> = BTreeMap::new();
        let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in entries {
            let Some(key) = scalar_text(k) else {
                self.err(
                    k.pos,
                    format!(
                        "a key in {label} must be a plain name, not {}",
                        k.kind.describe()
                    ),
                );
                continue;
            };
            if let Some(line) = first_line.get(&key) {
                self.err(
                    k.pos,
                    format!(
                        "`{key}` is given twice in {label} (first on line {line}): keep only one"
                    ),
                );
                continue;
            }
            first_line.insert(key.clone(), k.pos.line);
            match schema.fields.iter().find(|f| f.key == key) {
                Some(f) => {
                    known.insert(f.key, v);
                }
                None => {
                    let allowed = schema.fields.iter().map(|f| f.key);
                    let hint = closest(&key, allowed.clone())
                        .map(|c| format!("did you mean `{c}`? "))
                        .unwrap_or_default();
                    self.err(
                        k.pos,
                        format!(
                            "unknown key `{key}` in {label}: {hint}the keys allowed here are {}",
                            allowed.collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
        }
        let at = self.name_pos.take().unwrap_or(node.pos);
        for f in schema.fields.iter().filter(|f| f.required) {
            match known.get(f.key) {
                None => {
                    self.err(at, format!("{label} needs `{}:`", f.key));
                }
                Some(v) if v.kind == Kind::Null => {
                    self.err(v.pos, format!("`{}` in {label} needs a value", f.key));
                }
                Some(_) => {}
            }
        }
        // Null optional values mean "not given", as an empty `tags:` does.
        known.retain(|_, v| v.kind != Kind::Null);
        // A missing required key reads as `None` (reported here); the checks skip it.
        Some(Obj {
            schema,
            entries: known,
        })
    }

    /// A single value that is text (or a number or boolean, kept as written).
    pub fn str(&mut self, n: &Node, what: &str) -> Option<Str> {
        match scalar_text(n) {
            Some(value) => Some(Sp { value, pos: n.pos }),
            None if n.kind == Kind::Null => {
                self.err(n.pos, format!("`{what}` needs a value"));
                None
            }
            None => {
                self.err(
                    n.pos,
                    format!(
                        "`{what}` must be a single value, not {}{}",
                        n.kind.describe(),
                        if matches!(n.kind, Kind::Seq(_)) {
                            ": write one value, without `-` or brackets"
                        } else {
                            ""
                        }
                    ),
                );
                None
            }
        }
    }

    /// A whole number, or text (`${env:PORT}`) that must resolve to one.
    pub fn int(&mut self, n: &Node, what: &str) -> Option<Sp<Scalar>> {
        let value = match &n.kind {
            Kind::Int(i) => Scalar::Int(*i),
            Kind::Str(s) => Scalar::Text(s.clone()),
            _ => {
                self.err(
                    n.pos,
                    format!(
                        "`{what}` must be a whole number, like 20, not {}",
                        match &n.kind {
                            Kind::Float(_) | Kind::Bool(_) =>
                                format!("`{}`", scalar_text(n).unwrap_or_default()),
                            k => k.describe().to_string(),
                        }
                    ),
                );
                return None;
            }
        };
        Some(Sp { value, pos: n.pos })
    }

    /// `true` or `false`, or text (`${env:MULTI_AZ}`) that must resolve to one.
    pub fn bool(&mut self, n: &Node, what: &str) -> Option<Sp<Scalar>> {
        let value = match &n.kind {
            Kind::Bool(b) => Scalar::Bool(*b),
            Kind::Str(s) => Scalar::Text(s.clone()),
            _ => {
                self.err(
                    n.pos,
                    format!(
                        "`{what}` must be true or false, not {}",
                        match &n.kind {
                            Kind::Int(_) | Kind::Float(_) =>
                                format!("`{}`", scalar_text(n).unwrap_or_default()),
                            k => k.describe().to_string(),
                        }
                    ),
                );
                return None;
            }
        };
        Some(Sp { value, pos: n.pos })
    }

    /// A list; each item decoded by `item`, broken items skipped (and reported).
    pub fn list<T>(
        &mut self,
        n: &Node,
        what: &str,
        mut item: impl FnMut(&mut Decoder, &Node) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Kind::Seq(items) = &n.kind else {
            // `security_groups: a-sg` means a list of one; a list of maps has no short form.
            let example = match (scalar_text(n), matches!(n.kind, Kind::Str(_))) {
                (Some(v), true) => format!("write `{what}: [{v}]`, or "),
                _ => String::new(),
            };
            self.err(
                n.pos,
                format!(
                    "`{what}` must be a list, not {}: {example}put one `- item` per line below it",
                    n.kind.describe()
                ),
            );
            return None;
        };
        Some(items.iter().filter_map(|i| item(self, i)).collect())
    }

    /// A map from names the author chooses to values.
    pub fn names<T>(
        &mut self,
        n: &Node,
        what: &str,
        mut value: impl FnMut(&mut Decoder, &Str, &Node) -> Option<T>,
    ) -> Option<BTreeMap<String, T>> {
        let Kind::Map(entries) = &n.kind else {
            self.err(
                n.pos,
                format!(
                    "`{what}` must be a map from names to values (`name: ...` lines indented below it), not {}",
                    n.kind.describe()
                ),
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in entries {
            let Some(name) = scalar_text(k) else {
                self.err(
                    k.pos,
                    format!(
                        "a name in `{what}` must be plain text, not {}",
                        k.kind.describe()
                    ),
                );
                continue;
            };
            if let Some(line) = first_line.get(&name) {
                self.err(
                    k.pos,
                    format!("`{name}` is declared twice in `{what}` (first on line {line}): keep only one, or rename one"),
                );
                continue;
            }
            first_line.insert(name.clone(), k.pos.line);
            // A name becomes an AWS name or an address as written: `${env:X}` here would create
            // a group literally called `${env:X}`. The entry is still decoded, so that its own
            // problems show in the same run.
            if name.contains("${") {
                self.err(
                    k.pos,
                    format!(
                        "`{name}` in `{what}` is a name, and names are taken as written (only values can use ${{...}}): write the name itself{}",
                        if matches!(what, "security_groups" | "db_instances" | "functions" | "user_pools") {
                            " and put an AWS name that varies in the entry's `name:` (e.g. `name: ${stack}-db`)"
                        } else {
                            ", or generate the file"
                        }
                    ),
                );
            }
            self.name_pos = Some(k.pos);
            let t = value(
                self,
                &Sp {
                    value: name.clone(),
                    pos: k.pos,
                },
                v,
            );
            self.name_pos = None;
            if let Some(t) = t {
                out.insert(name, t);
            }
        }
        Some(out)
    }
}

impl<'n> Obj<'n> {
    fn get(&self, key: &str, ty: fn(&Ty) -> bool) -> Option<&'n Node> {
        debug_assert!(
            self.schema.fields.iter().any(|f| f.key == key && ty(&f.ty)),
            "{key} is not declared with this type in the schema of {}",
            self.schema.what
        );
        self.entries.get(key).copied()
    }
    pub fn str(&self, d: &mut Decoder, key: &str) -> Option<Str> {
        d.str(self.get(key, |t| matches!(t, Ty::Str))?, key)
    }
    pub fn int(&self, d: &mut Decoder, key: &str) -> Option<Sp<Scalar>> {
        d.int(self.get(key, |t| matches!(t, Ty::Int))?, key)
    }
    pub fn bool(&self, d: &mut Decoder, key: &str) -> Option<Sp<Scalar>> {
        d.bool(self.get(key, |t| matches!(t, Ty::Bool))?, key)
    }
    /// A list of single values.
    pub fn strs(&self, d: &mut Decoder, key: &str) -> Option<Vec<Str>> {
        let n = self.get(key, |t| matches!(t, Ty::List(Ty::Str)))?;
        d.list(n, key, |d, i| d.str(i, key))
    }
    pub fn list<T>(
        &self,
        d: &mut Decoder,
        key: &str,
        item: impl FnMut(&mut Decoder, &Node) -> Option<T>,
    ) -> Option<Vec<T>> {
        d.list(self.get(key, |t| matches!(t, Ty::List(_)))?, key, item)
    }
    pub fn names<T>(
        &self,
        d: &mut Decoder,
        key: &str,
        value: impl FnMut(&mut Decoder, &Str, &Node) -> Option<T>,
    ) -> Option<BTreeMap<String, T>> {
        d.names(self.get(key, |t| matches!(t, Ty::Names(_)))?, key, value)
    }
    /// The node itself, for a field with more than one form.
    pub fn node(&self, key: &str) -> Option<&'n Node> {
        self.get(key, |t| matches!(t, Ty::Either(..) | Ty::Struct(_)))
    }
}

fn sp<T>(n: &Node, value: T) -> Sp<T> {
    Sp { value, pos: n.pos }
}

/// A named entry is positioned at its name: that is the line that declares it.
fn named<T>(name: &Str, value: T) -> Sp<T> {
    Sp {
        value,
        pos: name.pos,
    }
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
        .names(d, "security_groups", |d, name, n| {
            let g = d.obj(
                n,
                &SECURITY_GROUP,
                &format!("security group `{}`", name.value),
            )?;
            let (aws_name, description, vpc) =
                (g.str(d, "name"), g.str(d, "description"), g.str(d, "vpc"));
            let ingress = g
                .list(d, "ingress", |d, r| Some(sp(r, rule(d, r, &name.value)?)))
                .unwrap_or_default();
            Some(named(
                name,
                RawSecurityGroup {
                    name: aws_name,
                    description,
                    vpc,
                    ingress,
                },
            ))
        })
        .unwrap_or_default();
    out.db_instances = o
        .names(d, "db_instances", |d, name, n| {
            Some(named(name, db_instance(d, n, &name.value)?))
        })
        .unwrap_or_default();
    out.functions = o
        .names(d, "functions", |d, name, n| {
            Some(named(name, function(d, n, &name.value)?))
        })
        .unwrap_or_default();
    out.user_pools = o
        .names(d, "user_pools", |d, name, n| {
            let p = d.obj(n, &USER_POOL, &format!("user pool `{}`", name.value))?;
            Some(named(
                name,
                RawUserPool {
                    name: p.str(d, "name"),
                    username_attributes: p.strs(d, "username_attributes"),
                    auto_verified_attributes: p.strs(d, "auto_verified_attributes"),
                    deletion_protection: p.bool(d, "deletion_protection"),
                },
            ))
        })
        .unwrap_or_default();
    out.cognito_triggers = o
        .list(d, "cognito_triggers", |d, n| {
            let t = d.obj(n, &TRIGGER, "a cognito trigger")?;
            let (user_pool, event, function) = (
                t.str(d, "user_pool"),
                t.str(d, "event"),
                t.str(d, "function"),
            );
            Some(sp(
                n,
                RawTrigger {
                    user_pool,
                    event,
                    function,
                },
            ))
        })
        .unwrap_or_default();
    out.outputs = o
        .names(d, "outputs", |d, k, v| {
            d.str(v, &format!("outputs.{}", k.value))
        })
        .unwrap_or_default();
    Some(out)
}

fn rule(d: &mut Decoder, n: &Node, group: &str) -> Option<RawRule> {
    let r = d.obj(n, &RULE, &format!("an ingress rule of `{group}`"))?;
    let description = r.str(d, "description");
    Some(RawRule {
        protocol: r.str(d, "protocol"),
        port: r.int(d, "port"),
        ports: r.str(d, "ports"),
        cidr: r.str(d, "cidr"),
        source_group: r.str(d, "source_group"),
        description,
    })
}

fn db_instance(d: &mut Decoder, n: &Node, name: &str) -> Option<RawDbInstance> {
    let o = d.obj(n, &DB_INSTANCE, &format!("db instance `{name}`"))?;
    let performance_insights = o.node("performance_insights").and_then(|pi| {
        let p = d.obj(pi, &PERFORMANCE_INSIGHTS, "performance_insights")?;
        let (enabled, retention_days) = (p.bool(d, "enabled"), p.int(d, "retention_days"));
        Some(sp(
            pi,
            RawPerformanceInsights {
                enabled,
                retention_days,
            },
        ))
    });
    let final_snapshot = o.node("final_snapshot").and_then(|f| match &f.kind {
        Kind::Bool(b) => Some(sp(f, Scalar::Bool(*b))),
        _ => match d.str(f, "final_snapshot") {
            Some(s) => Some(sp(f, Scalar::Text(s.value))),
            None => None,
        },
    });
    // Read every field before giving up on a missing one, so that all problems are reported.
    let engine = o.str(d, "engine");
    let instance_class = o.str(d, "instance_class");
    let allocated_storage = o.int(d, "allocated_storage");
    let master_username = o.str(d, "master_username");
    Some(RawDbInstance {
        name: o.str(d, "name"),
        engine_version: o.str(d, "engine_version"),
        storage_type: o.str(d, "storage_type"),
        storage_encrypted: o.bool(d, "storage_encrypted"),
        master_password: o.str(d, "master_password"),
        manage_master_password: o.bool(d, "manage_master_password"),
        password_version: o.int(d, "password_version"),
        db_name: o.str(d, "db_name"),
        port: o.int(d, "port"),
        availability_zone: o.str(d, "availability_zone"),
        multi_az: o.bool(d, "multi_az"),
        publicly_accessible: o.bool(d, "publicly_accessible"),
        backup_retention_days: o.int(d, "backup_retention_days"),
        performance_insights,
        deletion_protection: o.bool(d, "deletion_protection"),
        security_groups: o.strs(d, "security_groups").unwrap_or_default(),
        running: o.bool(d, "running"),
        final_snapshot,
        migrations: o.str(d, "migrations"),
        migrations_baseline: o.int(d, "migrations_baseline"),
        seed: o.str(d, "seed"),
        engine,
        instance_class,
        allocated_storage,
        master_username,
    })
}

fn function(d: &mut Decoder, n: &Node, name: &str) -> Option<RawFunction> {
    let o = d.obj(n, &FUNCTION, &format!("function `{name}`"))?;
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
    Some(RawFunction {
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
    })
}

//! The decoder every declaration uses: a YAML tree read against a [`Schema`] that is data, so
//! that unknown keys, wrong types, duplicates and missing keys are found entry by entry and all
//! reported, and a test walks the schema to prove every field is covered. Each kind declares its
//! own schema entries, raw model and decode function in `resources/<kind>/decl.rs`; the stack
//! file's top level is in `raw`.
//!
//! Scalars stay text here (numbers and booleans too may come from `${env:}`); the checks resolve
//! them and check the resolved value.

use std::collections::BTreeMap;

use super::pos::{Pos, Problem};
pub(crate) use super::yaml::{Kind, Node};

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
        $crate::stack::decode::Field {
            key: $key,
            ty: $ty,
            required: false,
        }
    };
    ($key:literal, $ty:expr, required) => {
        $crate::stack::decode::Field {
            key: $key,
            ty: $ty,
            required: true,
        }
    };
}

pub(crate) use field;

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
    pub(super) entries: BTreeMap<&'static str, &'n Node>,
}

pub(super) fn scalar_text(n: &Node) -> Option<String> {
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

pub(crate) fn sp<T>(n: &Node, value: T) -> Sp<T> {
    Sp { value, pos: n.pos }
}

/// A named entry is positioned at its name: that is the line that declares it.
pub(crate) fn named<T>(name: &Str, value: T) -> Sp<T> {
    Sp {
        value,
        pos: name.pos,
    }
}

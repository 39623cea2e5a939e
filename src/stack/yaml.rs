//! The one module that knows the YAML parser: text in, a tree of positioned nodes out.
//!
//! Parsing into a tree first (instead of straight into typed structs) lets the checks that
//! follow report every unknown key, wrong type and duplicate of a file in one run: a typed
//! deserializer stops at the first mismatch.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::pos::{Pos, Problem};

/// A YAML node with the position of its first character (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
    /// A plain scalar as written (`16.10`, `0755`, `yes`), so that a number given where text is
    /// expected keeps its spelling instead of being reformatted (`16.10` is not `16.1`).
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order, duplicates kept: the checks report them with both lines.
    Map(Vec<(Node, Node)>),
}

impl Kind {
    /// What the node is, in the words a stack file's author uses.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Null => "nothing",
            Kind::Bool(_) => "true/false",
            Kind::Int(_) => "a number",
            Kind::Float(_) => "a decimal number",
            Kind::Str(_) => "text",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a map of keys",
        }
    }
}

/// Parses `src` into a tree. An empty file (or only comments) is a [`Kind::Null`] root.
pub fn parse(src: &str) -> Result<Node, Problem> {
    let options = serde_saphyr::options! {
        // Duplicates reach the checks, which name both lines and say what to do.
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
    };
    if is_blank(src) {
        return Ok(Node {
            pos: Pos { line: 1, col: 1 },
            kind: Kind::Null,
            text: None,
        });
    }
    let root: Spanned<Tree> = serde_saphyr::from_str_with_options(src, options).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: l.line(),
                col: l.column(),
            })
            .unwrap_or_default();
        Problem {
            pos,
            message: syntax_message(&e),
        }
    })?;
    Ok(to_node(root, src))
}

fn is_blank(src: &str) -> bool {
    src.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

fn to_node(s: Spanned<Tree>, src: &str) -> Node {
    let pos = Pos {
        line: s.referenced.line(),
        col: s.referenced.column(),
    };
    let text = match &s.value.0 {
        RawKind::Bool(_) | RawKind::Int(_) | RawKind::Float(_) => {
            let span = s.referenced.span();
            match (span.byte_offset(), span.byte_len()) {
                (Some(o), Some(l)) => src
                    .get(o as usize..(o + l) as usize)
                    .map(|t| t.trim().to_string()),
                _ => None,
            }
        }
        _ => None,
    };
    let kind = match s.value.0 {
        RawKind::Null => Kind::Null,
        RawKind::Bool(b) => Kind::Bool(b),
        RawKind::Int(i) => Kind::Int(i),
        RawKind::Float(f) => Kind::Float(f),
        RawKind::Str(v) => Kind::Str(v),
        RawKind::Seq(items) => Kind::Seq(items.into_iter().map(|i| to_node(i, src)).collect()),
        RawKind::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| (to_node(k, src), to_node(v, src)))
                .collect(),
        ),
    };
    Node { pos, kind, text }
}

/// What the deserializer builds; [`to_node`] turns it into [`Node`]s once the source is at hand.
struct Tree(RawKind);

enum RawKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Tree>>),
    Map(Vec<(Spanned<Tree>, Spanned<Tree>)>),
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor).map(Tree)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = RawKind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawKind, E> {
        Ok(RawKind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawKind, E> {
        Ok(RawKind::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawKind, E> {
        Ok(RawKind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawKind, E> {
        Ok(RawKind::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawKind, E> {
        Ok(RawKind::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RawKind, E> {
        Ok(RawKind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<RawKind, E> {
        Ok(RawKind::Null)
    }
    fn visit_none<E>(self) -> Result<RawKind, E> {
        Ok(RawKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawKind, D::Error> {
        Tree::deserialize(d).map(|t| t.0)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<RawKind, D::Error> {
        Tree::deserialize(d).map(|t| t.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawKind, A::Error> {
        let mut items = Vec::new();
        while let Some(i) = seq.next_element::<Spanned<Tree>>()? {
            items.push(i);
        }
        Ok(RawKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawKind, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Tree>>()? {
            let v = map.next_value::<Spanned<Tree>>()?;
            entries.push((k, v));
        }
        Ok(RawKind::Map(entries))
    }
}

/// The parser's message without its source snippet (we print `file:line:col:` ourselves),
/// followed by what usually causes it in a stack file.
fn syntax_message(e: &serde_saphyr::Error) -> String {
    let full = e.without_snippet().to_string();
    let first = full.lines().next().unwrap_or("invalid YAML").trim();
    let msg = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    let msg = msg.trim_start_matches("error: ").trim();
    format!(
        "this is not valid YAML ({msg}): check the indentation (spaces, not tabs), the quotes and the brackets on this line or the one before"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Node {
        parse(src).unwrap()
    }

    #[test]
    fn scalars_keep_types_positions_and_spelling() {
        let n = kinds("a: 16.10\nb: \"5432\"\nc: 5432\nd: true\ne:\nf: [x, {g: 1}]\n");
        let Kind::Map(entries) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(entries.len(), 6);
        let (k, v) = &entries[0];
        assert_eq!(k.kind, Kind::Str("a".into()));
        assert!(matches!(v.kind, Kind::Float(_)));
        assert_eq!(v.text.as_deref(), Some("16.10"));
        assert_eq!((v.pos.line, v.pos.col), (1, 4));
        assert_eq!(entries[1].1.kind, Kind::Str("5432".into()));
        assert_eq!(entries[2].1.kind, Kind::Int(5432));
        assert_eq!(entries[3].1.kind, Kind::Bool(true));
        assert_eq!(entries[4].1.kind, Kind::Null);
        let Kind::Seq(items) = &entries[5].1.kind else {
            panic!()
        };
        assert_eq!(items[1].pos.line, 6);
        assert!(matches!(items[1].kind, Kind::Map(_)));
    }

    #[test]
    fn duplicates_are_kept_for_the_checks() {
        let n = kinds("stack: a\nstack: b\n");
        let Kind::Map(entries) = &n.kind else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].0.pos.line, 2);
    }

    #[test]
    fn empty_and_broken_files() {
        assert_eq!(kinds("").kind, Kind::Null);
        assert_eq!(kinds("# only a comment\n\n").kind, Kind::Null);
        let e = parse("stack: a\n  b: [\n").unwrap_err();
        assert!(e.pos.line > 0, "{e:?}");
        assert!(e.message.contains("not valid YAML"), "{e:?}");
    }
}

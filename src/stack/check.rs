//! The checker every kind's declaration runs its decoded values through: `${env:}` resolved,
//! numbers, booleans, paths inside the project and group references checked, each problem
//! collected with its position so that one run shows them all.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::GroupRef;
use super::decode::{Scalar, Sp, Str};
use super::pos::{Pos, Problem};
use super::template::{EnvLookup, Part, Template};

pub(crate) struct Checker<'a> {
    pub(crate) src: &'a str,
    pub(crate) env: EnvLookup<'a>,
    pub(crate) dir: &'a Path,
    /// Whether an unset `${secret:}` is an error (plan, apply) or a value unknown here
    /// (validate, destroy).
    pub(crate) secrets_required: bool,
    /// Whether function and layer folders must exist. Commands that package them (plan, apply,
    /// validate) need them; `migrate`, `psql`, `logs` and `invoke` never read them, so a checkout
    /// whose layer is not built can still migrate its local database.
    pub(crate) packages_needed: bool,
    pub(crate) problems: Vec<Problem>,
}

pub(crate) fn pos<T>(s: &Sp<T>) -> Pos {
    s.pos
}

/// The stack file's folder for messages: absolute, since a file given as `-f stack.yaml` has
/// the folder "" (or "."), which reads as a stray full stop.
pub(crate) fn shown_dir(dir: &Path) -> String {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::path::absolute(dir)
        .map(|d| d.components().collect::<PathBuf>())
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

/// The project a stack file's paths must stay in: the git work tree that holds the stack file's
/// folder `dir` (the nearest folder above it with a `.git`, a folder or, in a linked work tree
/// or submodule, a file), else `dir` itself. Canonical (links resolved).
pub fn project_root(dir: &Path) -> std::io::Result<PathBuf> {
    let dir = std::fs::canonicalize(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })?;
    Ok(dir
        .ancestors()
        .find(|a| a.join(".git").exists())
        .unwrap_or(&dir)
        .to_path_buf())
}

/// Refuses a folder or file (`full`, written `rel`) that resolves outside the project: a link in
/// its path (or the folder itself being one) that leads elsewhere, or `../` climbing out, would
/// package or run whatever is there (a home folder, `/etc`).
pub(crate) fn inside_project(dir: &Path, full: &Path, rel: &str) -> Result<(), String> {
    let (Ok(root), Ok(real)) = (project_root(dir), std::fs::canonicalize(full)) else {
        return Err(format!("cannot resolve `{rel}`"));
    };
    if real.starts_with(&root) {
        return Ok(());
    }
    Err(format!(
        "`{rel}` resolves to {}, outside the project {} ({}): only what is inside it is packaged or run; move it there (a link leading outside does not count)",
        real.display(),
        root.display(),
        if root.join(".git").exists() {
            "the git work tree holding the stack file"
        } else {
            "the stack file's folder, as it is in no git work tree"
        }
    ))
}

impl Checker<'_> {
    pub(crate) fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            pos,
            message: message.into(),
        });
    }

    /// Parses a template, pointing errors at the `${` inside the scalar when we can find it.
    pub(crate) fn template(&mut self, s: &Str, what: &str) -> Option<Template> {
        match Template::parse_with(&s.value, self.env, self.secrets_required) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut p = pos(s);
                p.col += self.quote_shift(p) + e.offset as u64;
                self.err(p, format!("{what}: {}", e.message));
                None
            }
        }
    }

    /// A quoted scalar's position is its quote; the text starts one column later.
    pub(crate) fn quote_shift(&self, p: Pos) -> u64 {
        let line = self
            .src
            .lines()
            .nth(p.line.saturating_sub(1) as usize)
            .unwrap_or("");
        let c = line.chars().nth(p.col.saturating_sub(1) as usize);
        u64::from(matches!(c, Some('"' | '\'')))
    }

    /// The AWS name of a named entry: its `name:` (which may use `${env:}` and `${stack}`), else
    /// its key; with the position its shape problems point at.
    pub(crate) fn physical(&mut self, key: &str, name: &Option<Str>, at: Pos) -> (String, Pos) {
        match name {
            Some(n) => match self.plain(n, "name") {
                Some(v) => (v, pos(n)),
                None => (key.to_string(), pos(n)),
            },
            None => (key.to_string(), at),
        }
    }

    /// A string field that may use `${env:}` but nothing resolved later.
    /// [`Checker::plain`] of the text `t` of a scalar at `pos` (a number or boolean given as
    /// text, which may be interpolated).
    fn plain_at(&mut self, t: &str, pos: Pos, what: &str) -> Option<String> {
        self.plain(
            &Sp {
                value: t.to_string(),
                pos,
            },
            what,
        )
    }

    pub(crate) fn plain(&mut self, s: &Str, what: &str) -> Option<String> {
        let t = self.template(s, what)?;
        let mut out = String::new();
        for p in &t.parts {
            match p {
                Part::Lit(v) | Part::Env(v) => out.push_str(v),
                Part::Secret(_) | Part::SecretUnset(_) => {
                    self.err(pos(s), format!("{what}: a secret cannot be used here"));
                    return None;
                }
                Part::PublicIp | Part::Ref(_) => {
                    self.err(
                        pos(s),
                        format!("{what}: only ${{env:...}} can be used here, not references or ${{public_ip}}"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    pub(crate) fn path(&mut self, s: &Str, what: &str, want_dir: bool) -> Option<PathBuf> {
        let rel = self.plain(s, what)?;
        let full = self.dir.join(&rel);
        let ok = if want_dir {
            full.is_dir()
        } else {
            full.is_file()
        };
        if !ok {
            let kind = if want_dir { "folder" } else { "file" };
            self.err(
                pos(s),
                format!(
                    "{what}: {kind} `{rel}` not found (paths are relative to the stack file's folder, {})",
                    shown_dir(self.dir)
                ),
            );
            return None;
        }
        if let Err(m) = inside_project(self.dir, &full, &rel) {
            self.err(pos(s), format!("{what}: {m}"));
            return None;
        }
        Some(full)
    }

    /// A whole number field, given as a number or as text that resolves to one.
    pub(crate) fn int(&mut self, v: &Sp<Scalar>, what: &str, lo: i64, hi: i64) -> Option<i32> {
        let n = match &v.value {
            Scalar::Int(n) => *n,
            Scalar::Text(t) => {
                let text = self.plain_at(t, v.pos, what)?;
                match text.trim().parse::<i64>() {
                    Ok(n) => n,
                    Err(_) => {
                        self.err(
                            v.pos,
                            format!("`{what}` must be a whole number, like {lo}, not `{text}`"),
                        );
                        return None;
                    }
                }
            }
            Scalar::Bool(b) => {
                self.err(v.pos, format!("`{what}` must be a whole number, not `{b}`"));
                return None;
            }
        };
        if n < lo || n > hi {
            self.err(
                v.pos,
                format!("`{what}` must be between {lo} and {hi}, not {n}"),
            );
            return None;
        }
        Some(n as i32)
    }

    /// A true/false field, given as a boolean or as text that resolves to one.
    pub(crate) fn bool(&mut self, v: &Sp<Scalar>, what: &str) -> Option<bool> {
        match &v.value {
            Scalar::Bool(b) => Some(*b),
            Scalar::Text(t) => {
                let text = self.plain_at(t, v.pos, what)?;
                match text.trim() {
                    "true" => Some(true),
                    "false" => Some(false),
                    other => {
                        self.err(
                            v.pos,
                            format!("`{what}` must be true or false, not `{other}`"),
                        );
                        None
                    }
                }
            }
            Scalar::Int(n) => {
                self.err(v.pos, format!("`{what}` must be true or false, not `{n}`"));
                None
            }
        }
    }

    pub(crate) fn group_ref(
        &mut self,
        s: &Str,
        groups: &BTreeSet<String>,
        what: &str,
    ) -> Option<GroupRef> {
        // `${security_groups.x.id}` is what one writes elsewhere for a group's id; here the
        // group's name is the reference (and gives the same ordering).
        if let Ok(t) = Template::parse_with(&s.value, self.env, false)
            && let [Part::Ref(r)] = t.parts.as_slice()
            && r.section == "security_groups"
        {
            self.err(
                pos(s),
                format!(
                    "{what}: only ${{env:...}} can be used here, not references: write the group's name (`{}`) instead of `{}`",
                    r.name, s.value
                ),
            );
            return None;
        }
        let v = self.plain(s, what)?;
        if groups.contains(&v) {
            Some(GroupRef::Stack(v))
        } else if is_aws_id(&v, "sg-") {
            Some(GroupRef::Id(v))
        } else {
            self.err(
                pos(s),
                format!(
                    "{what}: `{v}` is not a security group of this stack (declared: {}) nor an sg-… id",
                    list_or_none(groups)
                ),
            );
            None
        }
    }
}

pub(crate) fn list_or_none(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// A name (map key) holding `${`: the decoder already refused it, so its shape is not
/// reported a second time.
pub(crate) fn is_interpolated(name: &str) -> bool {
    name.contains("${")
}

/// `prefix` followed by lowercase letters and digits, as EC2 ids are (`subnet-0a1b…`).
pub(crate) fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|id| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    })
}

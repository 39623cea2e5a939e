//! `${...}` interpolation: parsing at load time, resolution at plan and apply time.

use std::collections::BTreeMap;

use crate::value::Text;

/// One piece of a string from `stack.yaml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    /// `${env:NAME}` / `${env:NAME:-default}`, already looked up when the file was loaded.
    Env(String),
    /// `${secret:NAME}`, already looked up; taints the whole string.
    Secret(String),
    /// `${secret:NAME}` loaded without its value (validate, destroy): the variable's name. It
    /// resolves as a secret "known after apply" and is never sent anywhere.
    SecretUnset(String),
    PublicIp,
    Ref(Ref),
}

/// `${<section>.<name>.<attribute>}`: an attribute of another resource of this stack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ref {
    pub section: String,
    pub name: String,
    pub attr: String,
}

impl Ref {
    /// The address of the resource the reference points at (`db_instances.x`).
    pub fn address(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }
    pub fn key(&self) -> String {
        format!("{}.{}.{}", self.section, self.name, self.attr)
    }
}

/// The attributes a reference may name, per section (spec section 2).
pub const ATTRIBUTES: &[(&str, &[&str])] = &[
    ("db_instances", &["address", "port", "arn"]),
    ("security_groups", &["id"]),
    ("functions", &["arn"]),
    ("user_pools", &["id", "arn"]),
];

/// A parsed string value. A template with no `${...}` is a single literal.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
    /// The `${env:}`/`${secret:}` (as written, e.g. `secret:DB_PASSWORD`) whose value lands in a
    /// URL's userinfo (`scheme://USER:PASSWORD@host`) holding a character the URL reserves
    /// there, without `|url`: the URL then parses wrong (or not at all) where it is used.
    pub unencoded_userinfo: Vec<String>,
    /// The names of the `${secret:NAME}` it reads, set or not (a `Part::Secret` holds only the
    /// value): what a saved plan must never record by value.
    pub secret_names: Vec<String>,
}

/// What went wrong in a `${...}`, with the byte offset of the `$` inside the string.
#[derive(Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

/// The lookup key under which [`EnvLookup`] answers `${stack}`: not a variable name, so no
/// environment variable can stand in for it.
pub const STACK_VAR: &str = "${stack}";

/// How `${env:...}` and `${secret:...}` are looked up; a function so tests need no process env.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Template {
    pub fn literal(s: impl Into<String>) -> Self {
        Template {
            parts: vec![Part::Lit(s.into())],
            unencoded_userinfo: Vec::new(),
            secret_names: Vec::new(),
        }
    }

    /// Parses `s`, looking environment variables up at once so that an unset one is a load error.
    /// `$${` is a literal `${`.
    pub fn parse(s: &str, env: EnvLookup<'_>) -> Result<Template, TemplateError> {
        Self::parse_with(s, env, true)
    }

    /// [`Template::parse`]; with `secrets_required` false, an unset `${secret:}` is not an error
    /// but a [`Part::SecretUnset`] (commands that never send a secret need none).
    pub fn parse_with(
        s: &str,
        env: EnvLookup<'_>,
        secrets_required: bool,
    ) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        let mut offset = 0;
        // The text so far, to tell whether a value lands in a URL's userinfo.
        let mut so_far = String::new();
        let mut unencoded_userinfo = Vec::new();
        let mut secret_names = Vec::new();
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix("${") {
                lit.push_str("${");
                rest = tail;
                offset += i + 3;
                continue;
            }
            if !after.starts_with('{') {
                lit.push('$');
                rest = after;
                offset += i + 1;
                continue;
            }
            let at = offset + i;
            let Some(end) = after.find('}') else {
                return Err(TemplateError {
                    offset: at,
                    message:
                        "unterminated `${`: add the closing `}` (write `$${` for a literal `${`)"
                            .into(),
                });
            };
            let inner = after[1..end].trim();
            if !lit.is_empty() {
                so_far.push_str(&lit);
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            let part =
                parse_inner(inner, env, secrets_required).map_err(|message| TemplateError {
                    offset: at,
                    message,
                })?;
            if matches!(part, Part::Secret(_) | Part::SecretUnset(_))
                && let Some(name) = inner.strip_prefix("secret:")
            {
                let name = name.split('|').next().unwrap_or(name).trim();
                secret_names.push(name.to_string());
            }
            if let Part::Env(v) | Part::Secret(v) = &part {
                let encoded = inner
                    .rsplit_once('|')
                    .is_some_and(|(_, f)| f.trim() == "url");
                if in_userinfo(&so_far) && !encoded && v.contains(USERINFO_RESERVED) {
                    unencoded_userinfo.push(inner.to_string());
                }
                so_far.push_str(v);
            } else {
                // A reference or the public IP: a host, never in the userinfo.
                so_far.push('x');
            }
            parts.push(part);
            rest = &after[end + 1..];
            offset = at + 1 + end + 1;
        }
        lit.push_str(rest);
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template {
            parts,
            unencoded_userinfo,
            secret_names,
        })
    }

    pub fn refs(&self) -> impl Iterator<Item = &Ref> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            _ => None,
        })
    }
    pub fn uses_public_ip(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::PublicIp))
    }
    pub fn is_secret(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Secret(_) | Part::SecretUnset(_)))
    }
    /// The literal text when the template has no `${...}` at all.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

/// Characters that end or break a URL's userinfo when written as they are: the delimiters
/// `@ / ? #` and `[ ]` (RFC 3986 section 3.2.1 allows only unreserved characters, sub-delims,
/// `:` and percent-encodings there), and a `%` that may not start a valid percent-encoding.
const USERINFO_RESERVED: &[char] = &['@', '/', '?', '#', '[', ']', '%'];

/// Whether text that follows `so_far` is in a URL's userinfo: after `scheme://`, before the
/// `@` that ends the userinfo and before anything that ends the authority.
fn in_userinfo(so_far: &str) -> bool {
    let Some(i) = so_far.rfind("://") else {
        return false;
    };
    let scheme = &so_far[..i];
    let scheme = scheme
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .next()
        .unwrap_or_default();
    !scheme.is_empty() && !so_far[i + 3..].contains(['@', '/', '?', '#'])
}

/// Percent-encodes all but RFC 3986's unreserved characters: safe in a URL's userinfo, path
/// segment or query value.
pub fn url_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes [`url_encode`] (any `%XX`); other text is kept as is.
pub fn url_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A secret shorter than this could not be scrubbed from output without garbling ordinary words,
/// so it could leak: it is refused at load instead.
pub const MIN_SECRET_LEN: usize = 4;

fn parse_inner(inner: &str, env: EnvLookup<'_>, secrets_required: bool) -> Result<Part, String> {
    // A filter is a word after the last `|` (a default value may hold a `|` of its own).
    if let Some((expr, filter)) = inner.rsplit_once('|').filter(|(_, f)| {
        let f = f.trim();
        f.starts_with(|c: char| c.is_ascii_alphabetic())
            && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }) {
        let (expr, filter) = (expr.trim(), filter.trim());
        if filter != "url" {
            return Err(format!(
                "unknown filter `|{filter}` in `${{{inner}}}`: the only filter is `|url`, which percent-encodes the value for a URL"
            ));
        }
        if !(expr.starts_with("env:") || expr.starts_with("secret:")) {
            return Err(format!(
                "`|url` applies to ${{env:NAME}} and ${{secret:NAME}}, not to `${{{expr}}}`"
            ));
        }
        return Ok(match parse_inner(expr, env, secrets_required)? {
            Part::Env(v) => Part::Env(url_encode(&v)),
            Part::Secret(v) => Part::Secret(url_encode(&v)),
            other => other,
        });
    }
    if inner == "public_ip" {
        return Ok(Part::PublicIp);
    }
    // The stack's name is known once `stack:` is read, so it resolves at load like `${env:}`.
    if inner == "stack" {
        return env(STACK_VAR).map(Part::Env).ok_or_else(|| {
            "`${stack}` is the stack's name, which `stack:` itself sets: there use ${env:NAME}"
                .to_string()
        });
    }
    if let Some(rest) = inner.strip_prefix("env:") {
        let (name, default) = match rest.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (rest, None),
        };
        check_var_name(name)?;
        return match (env(name), default) {
            (Some(v), _) => Ok(Part::Env(v)),
            (None, Some(d)) => Ok(Part::Env(d.to_string())),
            (None, None) => Err(format!(
                "environment variable {name} is not set: export it, or give a default with ${{env:{name}:-value}}"
            )),
        };
    }
    if let Some(name) = inner.strip_prefix("secret:") {
        check_var_name(name)?;
        return match env(name) {
            Some(v) if v.chars().count() >= MIN_SECRET_LEN => Ok(Part::Secret(v)),
            Some(v) if v.is_empty() => Err(format!(
                "secret {name} is set but empty: export a non-empty value"
            )),
            // The value is not echoed, not even its length.
            Some(_) => Err(format!(
                "secret {name} is shorter than {MIN_SECRET_LEN} characters: deploy could not keep so short a value out of its output; use a longer one"
            )),
            None if !secrets_required => Ok(Part::SecretUnset(name.to_string())),
            None => Err(format!(
                "secret {name} is not set: export it in the environment (it is never written anywhere)"
            )),
        };
    }
    let pieces: Vec<&str> = inner.split('.').collect();
    if let [section, name, attr] = pieces.as_slice() {
        let Some((_, attrs)) = ATTRIBUTES.iter().find(|(s, _)| s == section) else {
            return Err(format!(
                "unknown section `{section}` in `${{{inner}}}`: references name one of {}",
                ATTRIBUTES
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if !attrs.contains(attr) {
            return Err(format!(
                "`{section}` has no attribute `{attr}`: use one of {}",
                attrs.join(", ")
            ));
        }
        return Ok(Part::Ref(Ref {
            section: section.to_string(),
            name: name.to_string(),
            attr: attr.to_string(),
        }));
    }
    Err(format!(
        "cannot understand `${{{inner}}}`: use ${{env:NAME}}, ${{env:NAME:-default}}, ${{secret:NAME}}, ${{stack}}, ${{public_ip}} or ${{section.name.attribute}}"
    ))
}

fn check_var_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid environment variable name"))
    }
}

/// Turns templates into values: the public IP (looked up once per run) and the attributes of
/// other resources, which are unknown (`None`) while those resources are still to be created.
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    pub public_ip: Option<String>,
    pub outputs: BTreeMap<String, Option<String>>,
}

impl Resolver {
    pub fn resolve(&self, t: &Template) -> Text {
        let mut out = String::new();
        let mut known = true;
        for p in &t.parts {
            match p {
                Part::Lit(s) | Part::Env(s) | Part::Secret(s) => out.push_str(s),
                Part::SecretUnset(_) => known = false,
                Part::PublicIp => match &self.public_ip {
                    Some(ip) => out.push_str(ip),
                    None => known = false,
                },
                Part::Ref(r) => match self.outputs.get(&r.key()) {
                    Some(Some(v)) => out.push_str(v),
                    _ => known = false,
                },
            }
        }
        match (known, t.is_secret()) {
            (true, true) => Text::secret(out),
            (true, false) => Text::known(out),
            (false, s) => Text::unknown(s),
        }
    }

    /// Another node's attribute, unknown until that node exists.
    pub fn attr(&self, address: &str, attr: &str) -> Text {
        match self.outputs.get(&format!("{address}.{attr}")) {
            Some(Some(v)) => Text::known(v.clone()),
            _ => Text::unknown(false),
        }
    }

    /// Records a resource's attributes; `None` marks them "known after apply".
    pub fn set(&mut self, address: &str, attrs: Vec<(&'static str, Option<String>)>) {
        for (attr, v) in attrs {
            self.outputs.insert(format!("{address}.{attr}"), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME_IP" => Some("1.2.3.4".into()),
            "DB_PASSWORD" => Some("pw-1234".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn parses_every_form() {
        let t = Template::parse(
            "a ${env:HOME_IP} ${env:NOPE:-d} ${secret:DB_PASSWORD} ${public_ip} ${db_instances.db.address} $${x} $5",
            &env,
        )
        .unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Lit("a ".into()),
                Part::Env("1.2.3.4".into()),
                Part::Lit(" ".into()),
                Part::Env("d".into()),
                Part::Lit(" ".into()),
                Part::Secret("pw-1234".into()),
                Part::Lit(" ".into()),
                Part::PublicIp,
                Part::Lit(" ".into()),
                Part::Ref(Ref {
                    section: "db_instances".into(),
                    name: "db".into(),
                    attr: "address".into()
                }),
                Part::Lit(" ${x} $5".into()),
            ]
        );
        assert!(t.is_secret());
        assert!(t.uses_public_ip());
    }

    #[test]
    fn errors_name_the_problem_and_the_offset() {
        let e = Template::parse("x ${env:MISSING}", &env).unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("MISSING is not set"), "{}", e.message);
        let e = Template::parse("${secret:NOPE}", &env).unwrap_err();
        assert!(e.message.contains("secret NOPE is not set"));
        let e = Template::parse("${secret:EMPTY}", &env).unwrap_err();
        assert!(e.message.contains("empty"));
        let e = Template::parse("${functions.f.address}", &env).unwrap_err();
        assert!(
            e.message.contains("has no attribute `address`"),
            "{}",
            e.message
        );
        let e = Template::parse("${nope}", &env).unwrap_err();
        assert!(e.message.contains("cannot understand"));
        let e = Template::parse("ab ${env:X", &env).unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("unterminated"));
    }

    #[test]
    fn resolves_secrets_as_a_whole_and_unknowns() {
        let t =
            Template::parse("u:${secret:DB_PASSWORD}@${db_instances.db.address}", &env).unwrap();
        let mut r = Resolver::default();
        let v = r.resolve(&t);
        assert!(!v.is_known() && v.is_secret());
        r.set("db_instances.db", vec![("address", Some("h".into()))]);
        let v = r.resolve(&t);
        assert_eq!(v.expose(), Some("u:pw-1234@h"));
        assert!(v.is_secret());
        r.set("db_instances.db", vec![("address", None)]);
        assert!(!r.resolve(&t).is_known());
    }

    fn pw(name: &str) -> Option<String> {
        match name {
            "PW" => Some("Ab#12%xy?z:".into()),
            "PLAIN" => Some("Plain-pw_1.x~".into()),
            "USER" => Some("app@corp".into()),
            _ => None,
        }
    }

    #[test]
    fn url_filter_percent_encodes_env_and_secret_values() {
        let t = Template::parse("postgresql://root:${secret:PW|url}@h:5432/db", &pw).unwrap();
        let v = Resolver::default().resolve(&t);
        assert_eq!(
            v.expose(),
            Some("postgresql://root:Ab%2312%25xy%3Fz%3A@h:5432/db")
        );
        assert!(v.is_secret());
        assert!(t.unencoded_userinfo.is_empty());
        // Unreserved characters stay as they are; spaces around the bar are allowed.
        let t = Template::parse("${env:PLAIN | url}", &pw).unwrap();
        assert_eq!(
            Resolver::default().resolve(&t).expose(),
            Some("Plain-pw_1.x~")
        );
        // A default holding a `|` is still a default.
        let t = Template::parse("${env:NOPE:-a|b c}", &pw).unwrap();
        assert_eq!(Resolver::default().resolve(&t).expose(), Some("a|b c"));
    }

    #[test]
    fn url_filter_errors_say_what_is_allowed() {
        let e = Template::parse("${secret:PW|base64}", &pw).unwrap_err();
        assert!(
            e.message.contains("unknown filter `|base64`"),
            "{}",
            e.message
        );
        let e = Template::parse("${public_ip|url}", &pw).unwrap_err();
        assert!(
            e.message
                .contains("applies to ${env:NAME} and ${secret:NAME}"),
            "{}",
            e.message
        );
        let e = Template::parse("${db_instances.db.address|url}", &pw).unwrap_err();
        assert!(e.message.contains("applies to"), "{}", e.message);
    }

    #[test]
    fn a_reserved_character_in_a_urls_userinfo_is_reported_unless_encoded() {
        let flagged = |s: &str| Template::parse(s, &pw).unwrap().unencoded_userinfo;
        assert_eq!(
            flagged("postgresql://root:${secret:PW}@h/db"),
            vec!["secret:PW".to_string()]
        );
        assert_eq!(
            flagged("postgres://${env:USER}:${secret:PLAIN}@h/db"),
            vec!["env:USER".to_string()]
        );
        assert!(flagged("postgresql://root:${secret:PW|url}@h/db").is_empty());
        assert!(flagged("postgresql://root:${secret:PLAIN}@h/db").is_empty());
        // After the userinfo (the host, the path, the query) or outside a URL: not flagged.
        assert!(flagged("postgresql://root@h/db?password=${secret:PW}").is_empty());
        assert!(flagged("postgresql://root:x@${env:USER}/db").is_empty());
        assert!(flagged("${secret:PW}").is_empty());
        assert!(flagged("see ://${secret:PW}").is_empty());
    }
}

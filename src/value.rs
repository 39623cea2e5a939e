//! Values that flow from `stack.yaml` into specs: possibly unknown until apply, possibly secret.

use std::fmt;

/// A resolved string: known or "known after apply", and secret or not.
///
/// A secret taints the whole string it is part of (spec section 2), so the flag lives on the value,
/// not on the template part it came from. `Debug` never prints a secret, so a stray `{:?}` in a log
/// line cannot leak one.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Text {
    value: Option<String>,
    secret: bool,
}

impl Text {
    pub fn known(v: impl Into<String>) -> Self {
        Text {
            value: Some(v.into()),
            secret: false,
        }
    }
    pub fn secret(v: impl Into<String>) -> Self {
        Text {
            value: Some(v.into()),
            secret: true,
        }
    }
    pub fn unknown(secret: bool) -> Self {
        Text {
            value: None,
            secret,
        }
    }
    pub fn is_known(&self) -> bool {
        self.value.is_some()
    }
    pub fn is_secret(&self) -> bool {
        self.secret
    }
    /// The raw value, for adapters that send it to AWS. Never print it.
    pub fn expose(&self) -> Option<&str> {
        self.value.as_deref()
    }
    /// What a plan or a log may show of this value.
    pub fn shown(&self) -> Shown {
        match (&self.value, self.secret) {
            (_, true) => Shown::Sensitive,
            (None, false) => Shown::Unknown,
            (Some(v), false) => Shown::Value(v.clone()),
        }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.shown())
    }
}

/// A display-safe rendering of a value, the only form in which values enter a plan. Numbers,
/// booleans and lists keep their type so the plan shows `128`, `true` and `["a", "b"]`, and the
/// JSON plan has numbers, booleans and arrays, not strings that look like them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Shown {
    Value(String),
    Number(i64),
    Bool(bool),
    List(Vec<String>),
    Sensitive,
    Unknown,
    Absent,
    /// Needs what a partial plan (`plan --partial`) does not read: a secret, a database.
    NotRead,
}

/// A list of strings as a plan shows it (callers sort when order does not matter).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct List(pub Vec<String>);

/// `[a, b]`, for messages.
impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.0.join(", "))
    }
}

/// What a plain value becomes in a plan: its type decides how it is shown.
pub trait IntoShown {
    fn into_shown(self) -> Shown;
}

impl IntoShown for String {
    fn into_shown(self) -> Shown {
        Shown::Value(self)
    }
}
impl IntoShown for &str {
    fn into_shown(self) -> Shown {
        Shown::Value(self.to_string())
    }
}
impl IntoShown for &String {
    fn into_shown(self) -> Shown {
        Shown::Value(self.clone())
    }
}
impl IntoShown for bool {
    fn into_shown(self) -> Shown {
        Shown::Bool(self)
    }
}
impl IntoShown for List {
    fn into_shown(self) -> Shown {
        Shown::List(self.0)
    }
}
macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl IntoShown for $t {
            fn into_shown(self) -> Shown {
                // Every number a stack manages (ports, sizes, days) fits; saturate rather than wrap.
                Shown::Number(i64::try_from(self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
numbers!(i32, i64, u16, u32, u64, usize);

impl Shown {
    pub fn value(v: impl IntoShown) -> Shown {
        v.into_shown()
    }
    pub fn opt<T: IntoShown>(v: Option<T>) -> Shown {
        v.map_or(Shown::Absent, IntoShown::into_shown)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Value(v) => write!(f, "{v:?}"),
            Shown::Number(n) => write!(f, "{n}"),
            Shown::Bool(b) => write!(f, "{b}"),
            Shown::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v:?}")?;
                }
                f.write_str("]")
            }
            Shown::Sensitive => f.write_str("(sensitive)"),
            Shown::Unknown => f.write_str("(known after apply)"),
            Shown::Absent => f.write_str("(none)"),
            Shown::NotRead => f.write_str("(not read)"),
        }
    }
}

/// The (year, month, day) of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`):
/// dates printed without a date crate.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `s` as it may be printed: control characters (a newline, an escape sequence) are shown
/// escaped (`\n`, `\u{1b}`), so text from a file name or from AWS cannot forge or hide lines of
/// deploy's output; everything else is kept as is.
pub fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `s` with the userinfo of every URL in it (`scheme://USER:PASSWORD@host`) shown as
/// `(sensitive)`: a live value may hold a password the stack file no longer says is secret.
pub fn mask_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let scheme_ok = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        let start = i + 3;
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if !scheme_ok {
            continue;
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        // The last `@` of the authority ends the userinfo (RFC 3986 section 3.2).
        if let Some(at) = rest[..authority_end].rfind('@') {
            out.push_str("(sensitive)");
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    out
}

/// A duration as progress lines and messages show it: "4.2s", "12m05s".
pub fn fmt_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}.{}s", s, d.subsec_millis() / 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_userinfo_of_a_url_is_masked() {
        assert_eq!(
            mask_userinfo("postgres://u:hunter22@h:5432/db"),
            "postgres://(sensitive)@h:5432/db"
        );
        assert_eq!(
            mask_userinfo("a=https://tok@x/p?q=b@c and postgres://h/db"),
            "a=https://(sensitive)@x/p?q=b@c and postgres://h/db"
        );
        assert_eq!(mask_userinfo("no url: a@b"), "no url: a@b");
        assert_eq!(mask_userinfo("://x@y"), "://x@y");
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let t = Text::secret("hunter2");
        assert_eq!(format!("{t:?}"), "(sensitive)");
        assert_eq!(t.shown(), Shown::Sensitive);
        assert_eq!(t.expose(), Some("hunter2"));
    }

    #[test]
    fn unknown_and_known_render() {
        assert_eq!(
            Text::unknown(false).shown().to_string(),
            "(known after apply)"
        );
        assert_eq!(Text::known("a").shown().to_string(), "\"a\"");
    }

    #[test]
    fn numbers_booleans_and_lists_keep_their_type() {
        assert_eq!(Shown::value(128).to_string(), "128");
        assert_eq!(Shown::value(true).to_string(), "true");
        assert_eq!(Shown::value("128").to_string(), "\"128\"");
        assert_eq!(
            Shown::value(List(vec!["a".into(), "b".into()])).to_string(),
            "[\"a\", \"b\"]"
        );
        assert_eq!(Shown::value(List(vec![])).to_string(), "[]");
    }
}

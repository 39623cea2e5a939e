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

/// A display-safe rendering of a value, the only form in which values enter a plan.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Shown {
    Value(String),
    Sensitive,
    Unknown,
    Absent,
}

impl Shown {
    pub fn value(v: impl ToString) -> Shown {
        Shown::Value(v.to_string())
    }
    pub fn opt<T: ToString>(v: Option<T>) -> Shown {
        v.map_or(Shown::Absent, |v| Shown::Value(v.to_string()))
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Value(v) => write!(f, "{v:?}"),
            Shown::Sensitive => f.write_str("(sensitive)"),
            Shown::Unknown => f.write_str("(known after apply)"),
            Shown::Absent => f.write_str("(none)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

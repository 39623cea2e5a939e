//! Defence in depth for secrets: every secret value loaded from the environment is registered here,
//! and log lines, progress lines, error messages and the plan pass through [`scrub`] before they
//! are written.
//!
//! A secret rarely comes back verbatim: an AWS error quotes it JSON-escaped, a `{:?}` Debug-escapes
//! it, a URL percent-encodes it, an XML answer entity-escapes it. Each of those forms is
//! registered too.

use std::sync::{OnceLock, RwLock};

use crate::stack::template::MIN_SECRET_LEN;

fn registry() -> &'static RwLock<Vec<String>> {
    static R: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    R.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remembers secret values (and their escaped forms) so that [`scrub`] can mask them wherever
/// they turn up.
pub fn register<I: IntoIterator<Item = String>>(secrets: I) {
    if let Ok(mut r) = registry().write() {
        for s in secrets {
            // The loader refuses shorter secrets: masking 1-3 characters would garble every
            // message without protecting anything.
            if s.chars().count() < MIN_SECRET_LEN {
                continue;
            }
            for form in forms(&s) {
                if !r.contains(&form) {
                    r.push(form);
                }
            }
        }
        // Longest first, so that a form containing another is masked whole.
        r.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// The secret as written and as it reads once escaped for JSON, Rust's Debug, URLs and XML.
pub fn forms(s: &str) -> Vec<String> {
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let debug = format!("{s:?}");
    let mut out = vec![
        s.to_string(),
        json[1..json.len() - 1].to_string(),
        debug[1..debug.len() - 1].to_string(),
        percent(s, false, false),
        percent(s, true, false),
        percent(s, false, true),
        xml(s, "&apos;", "&quot;"),
        xml(s, "&#39;", "&#34;"),
        xml(s, "&#x27;", "&#x22;"),
    ];
    out.sort();
    out.dedup();
    out.retain(|f| !f.is_empty());
    out
}

/// Percent-encoding of everything but RFC 3986's unreserved characters; `form` writes a space
/// as `+` (HTML forms, AWS query requests).
fn percent(s: &str, lower: bool, form: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if form => out.push('+'),
            _ if lower => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn xml(s: &str, apos: &str, quot: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str(apos),
            '"' => out.push_str(quot),
            c => out.push(c),
        }
    }
    out
}

/// Whether `s` holds a registered secret (in any of its forms).
pub fn holds_secret(s: &str) -> bool {
    registry()
        .read()
        .is_ok_and(|r| r.iter().any(|secret| s.contains(secret.as_str())))
}

/// Replaces every registered secret (in any of its forms) in `s` with `(sensitive)`.
pub fn scrub(s: &str) -> String {
    let Ok(r) = registry().read() else {
        return s.to_string();
    };
    let mut out = s.to_string();
    for secret in r.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "(sensitive)");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_registered_values() {
        register(["pa55word-xyz".to_string()]);
        assert_eq!(
            scrub("url postgres://u:pa55word-xyz@h"),
            "url postgres://u:(sensitive)@h"
        );
    }

    #[test]
    fn scrubs_escaped_forms() {
        let pw = r#"a\b"c d&e<f>'g/h%"#;
        register([pw.to_string()]);
        let json =
            serde_json::to_string(&serde_json::json!({ "message": format!("bad {pw}") })).unwrap();
        assert!(!json.contains(pw), "the test needs an escaped form: {json}");
        let cases = [
            json,
            format!("{:?}", format!("x{pw}y")),
            format!(
                "postgresql://u:{}@h/db",
                "a%5Cb%22c%20d%26e%3Cf%3E%27g%2Fh%25"
            ),
            "a%5cb%22c%20d%26e%3cf%3e%27g%2fh%25".to_string(),
            "a%5Cb%22c+d%26e%3Cf%3E%27g%2Fh%25".to_string(),
            "<Message>a\\b&quot;c d&amp;e&lt;f&gt;&apos;g/h%</Message>".to_string(),
            "<Message>a\\b&#34;c d&amp;e&lt;f&gt;&#39;g/h%</Message>".to_string(),
        ];
        for c in cases {
            let s = scrub(&c);
            assert!(s.contains("(sensitive)"), "not scrubbed: {c} -> {s}");
            for leak in ["d&e", "d&amp;e", "d%26e", "c d", "c+d", "c%20d"] {
                assert!(!s.contains(leak), "{leak} left in {s}");
            }
        }
    }

    #[test]
    fn short_values_are_not_registered() {
        register(["abc".to_string()]);
        assert_eq!(scrub("abc abcd"), "abc abcd");
    }
}

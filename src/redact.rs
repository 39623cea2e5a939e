//! Defence in depth for secrets: every secret value loaded from the environment is registered here,
//! and log lines, progress lines and error messages pass through [`scrub`] before they are written.

use std::sync::{OnceLock, RwLock};

fn registry() -> &'static RwLock<Vec<String>> {
    static R: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    R.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remembers secret values so that [`scrub`] can mask them wherever they turn up.
pub fn register<I: IntoIterator<Item = String>>(secrets: I) {
    if let Ok(mut r) = registry().write() {
        for s in secrets {
            // Very short values would mask ordinary words; the loader refuses empty secrets, and
            // a 1-3 character password is not worth hiding at the cost of garbling every message.
            if s.len() >= 4 && !r.contains(&s) {
                r.push(s);
            }
        }
        r.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Replaces every registered secret in `s` with `(sensitive)`.
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
    #[test]
    fn scrubs_registered_values() {
        super::register(["pa55word-xyz".to_string()]);
        assert_eq!(
            super::scrub("url postgres://u:pa55word-xyz@h"),
            "url postgres://u:(sensitive)@h"
        );
    }
}

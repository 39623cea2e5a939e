//! Finds, without a database, the statements of a SQL file that would break "one file, one
//! transaction": transaction control (`COMMIT`, `ROLLBACK`, `BEGIN`, ...) and statements
//! PostgreSQL refuses inside a transaction block (`VACUUM`, `CREATE INDEX CONCURRENTLY`, ...).
//!
//! Only the first words of each top-level statement matter, so the scanner only needs to know
//! where statements end: it skips comments (`--`, nested `/* */`), string literals (`'…'`,
//! `E'…'` with backslash escapes), quoted identifiers and dollar-quoted bodies (`$fn$ … $fn$`),
//! where a `COMMIT` is text, not a statement (PostgreSQL refuses a `COMMIT` inside a function
//! body run within a transaction block, so those fail and roll back as a whole).

/// A statement that cannot be part of deploy's transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// 1-based line of the statement's first word.
    pub line: usize,
    /// The statement's first words, upper-cased, e.g. `COMMIT` or `CREATE INDEX CONCURRENTLY`.
    pub statement: String,
    pub why: &'static str,
}

const ENDS_TX: &str = "it ends deploy's transaction, so part of the file would be committed even if a later statement fails";
const NO_TX: &str =
    "PostgreSQL cannot run it inside a transaction, and deploy runs each file in one";

/// The first refused statement of `sql`, if any.
pub fn refused(sql: &str) -> Option<Refused> {
    statements(sql).into_iter().find_map(|(line, words)| {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let why = match w.as_slice() {
            ["ROLLBACK", "TO", ..] => return None,
            ["BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "ABORT", ..]
            | ["START", "TRANSACTION", ..]
            | ["PREPARE", "TRANSACTION", ..] => ENDS_TX,
            ["VACUUM", ..]
            | [
                "CREATE" | "DROP",
                "DATABASE" | "TABLESPACE" | "SUBSCRIPTION",
                ..,
            ]
            | ["ALTER", "SYSTEM", ..]
            | ["REINDEX", "SYSTEM" | "DATABASE", ..]
            | ["CREATE", "INDEX", "CONCURRENTLY", ..]
            | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY", ..]
            | ["DROP", "INDEX", "CONCURRENTLY", ..] => NO_TX,
            ["REINDEX", ..] if w.contains(&"CONCURRENTLY") => NO_TX,
            _ => return None,
        };
        Some(Refused {
            line,
            statement: w.join(" "),
            why,
        })
    })
}

/// PostgreSQL's lexer (scan.l, "ident_start"/"ident_cont"): a letter, `_` or any byte above 127
/// starts an identifier; digits and `$` may follow.
fn identifier_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn identifier_char(c: char) -> bool {
    identifier_start(c) || c.is_ascii_digit() || c == '$'
}

/// Each statement's line and first few words (upper-cased), outside comments and quotes.
fn statements(sql: &str) -> Vec<(usize, Vec<String>)> {
    const WORDS: usize = 4;
    let c: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let mut current: Option<(usize, Vec<String>)> = None;
    // Whether the statement has had anything but words yet (a quote, a parenthesis): the words
    // that count are the leading ones.
    let mut closed = false;
    let count_lines = |s: &[char]| s.iter().filter(|&&ch| ch == '\n').count();
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        let start = i;
        if ch == '-' && next == Some('-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(&c[start..i.min(c.len())]);
            continue;
        }
        if ch == ';' {
            if let Some(s) = current.take() {
                out.push(s);
            }
            closed = false;
            i += 1;
            continue;
        }
        if ch == '\'' || ch == '"' {
            // E'…' strings take backslash escapes; the `E` was read as a word just before.
            // Only a lone `E` opens one: after an identifier character (`a$E'…'`) the `E` ends
            // the identifier and the quote opens a plain string.
            let backslash = ch == '\''
                && i > 0
                && matches!(c[i - 1], 'e' | 'E')
                && (i < 2 || !identifier_char(c[i - 2]));
            if backslash && let Some((_, words)) = current.as_mut() {
                words.pop();
            }
            i += 1;
            while i < c.len() {
                if backslash && c[i] == '\\' {
                    i += 2;
                } else if c[i] == ch {
                    if c.get(i + 1) == Some(&ch) {
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            current.get_or_insert_with(|| (line, Vec::new()));
            line += count_lines(&c[start..i.min(c.len())]);
            closed = true;
            continue;
        }
        if ch == '$' {
            // A dollar quote: `$tag$` with a tag that is empty or an identifier (`$1` is not).
            let mut j = i + 1;
            while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
                j += 1;
            }
            let tag_ok = c.get(j) == Some(&'$') && c.get(i + 1).is_none_or(|t| !t.is_ascii_digit());
            if tag_ok {
                let tag: Vec<char> = c[i..=j].to_vec();
                let mut k = j + 1;
                while k < c.len() && !c[k..].starts_with(&tag) {
                    k += 1;
                }
                i = (k + tag.len()).min(c.len());
                current.get_or_insert_with(|| (line, Vec::new()));
                line += count_lines(&c[start..i]);
                closed = true;
                continue;
            }
        }
        if identifier_start(ch) {
            while i < c.len() && identifier_char(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect::<String>().to_uppercase();
            let (_, words) = current.get_or_insert_with(|| (line, Vec::new()));
            if !closed && words.len() < WORDS {
                words.push(word);
            }
            continue;
        }
        if ch == '\n' {
            line += 1;
        } else if !ch.is_whitespace() {
            current.get_or_insert_with(|| (line, Vec::new()));
            closed = true;
        }
        i += 1;
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(sql: &str) -> Option<(usize, String)> {
        refused(sql).map(|r| (r.line, r.statement))
    }

    #[test]
    fn transaction_control_is_found_with_its_line() {
        let sql = "CREATE TABLE a (id int);\n\ninsert into a values (1);\ncommit;\nDROP TABLE a;\n";
        assert_eq!(first(sql), Some((4, "COMMIT".into())));
        assert_eq!(first("begin;\nselect 1;"), Some((1, "BEGIN".into())));
        assert_eq!(
            first("select 1;\n  START TRANSACTION ISOLATION LEVEL SERIALIZABLE;"),
            Some((2, "START TRANSACTION ISOLATION LEVEL".into()))
        );
        assert_eq!(first("select 1; END"), Some((1, "END".into())));
        assert_eq!(first("select 1;\nRollback;"), Some((2, "ROLLBACK".into())));
        assert_eq!(
            first("SAVEPOINT s; select 1; ROLLBACK TO SAVEPOINT s; RELEASE s;"),
            None
        );
    }

    #[test]
    fn statements_that_cannot_run_in_a_transaction_are_found() {
        for (sql, want) in [
            ("VACUUM ANALYZE users;", "VACUUM ANALYZE USERS"),
            (
                "create index concurrently i on t (x);",
                "CREATE INDEX CONCURRENTLY I",
            ),
            (
                "CREATE UNIQUE INDEX CONCURRENTLY i ON t (x);",
                "CREATE UNIQUE INDEX CONCURRENTLY",
            ),
            ("DROP INDEX CONCURRENTLY i;", "DROP INDEX CONCURRENTLY I"),
            ("CREATE DATABASE other;", "CREATE DATABASE OTHER"),
            (
                "ALTER SYSTEM SET work_mem = '1MB';",
                "ALTER SYSTEM SET WORK_MEM",
            ),
            (
                "REINDEX TABLE CONCURRENTLY t;",
                "REINDEX TABLE CONCURRENTLY T",
            ),
        ] {
            assert_eq!(first(sql), Some((1, want.into())), "{sql}");
        }
        assert_eq!(first("CREATE INDEX i ON t (x); REINDEX TABLE t;"), None);
    }

    #[test]
    fn comments_strings_and_function_bodies_are_not_statements() {
        let sql = r#"
-- COMMIT;
/* ROLLBACK; /* nested */ COMMIT; */
SELECT 'a;COMMIT;' , E'it\'s; COMMIT', "weird;COMMIT";
CREATE FUNCTION f() RETURNS trigger AS $body$
BEGIN
  NEW.x := 1; -- END;
  RETURN NEW;
END;
$body$ LANGUAGE plpgsql;
DO $$ BEGIN PERFORM 1; END $$;
SELECT $1;
"#;
        assert_eq!(first(sql), None);
        // Lines after a multi-line body are still counted.
        assert_eq!(
            first(&format!("{sql}\nCOMMIT;")),
            Some((14, "COMMIT".into()))
        );
    }

    #[test]
    fn identifiers_are_tokenised_as_postgresql_does() {
        // `a$E` is one identifier, so the quote opens a plain string where `\` is text: the
        // string ends at the second quote and COMMIT is a statement.
        assert_eq!(
            first("SELECT a$E'\\';COMMIT;--'"),
            Some((1, "COMMIT".into()))
        );
        // Likewise after a non-ASCII identifier character.
        assert_eq!(
            first("SELECT \u{e9}E'\\';\nCOMMIT;--'"),
            Some((2, "COMMIT".into()))
        );
        // A lone E still takes backslash escapes.
        assert_eq!(first("SELECT E'\\';COMMIT;--';"), None);
        // A dollar inside an identifier is no dollar quote.
        assert_eq!(
            first("SELECT x$a$ FROM t;\nCOMMIT;"),
            Some((2, "COMMIT".into()))
        );
    }

    #[test]
    fn the_shipped_migrations_pass() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut seen = 0;
        for e in walk(&dir) {
            let sql = std::fs::read_to_string(&e).unwrap();
            assert_eq!(refused(&sql), None, "{}", e.display());
            seen += 1;
        }
        assert!(seen > 0);
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.extension().is_some_and(|x| x == "sql") {
                out.push(p);
            }
        }
        out
    }
}

//! SQL migrations of a db instance (spec section 6): `NNNN_name.sql` files applied once each, in
//! order, each in its own transaction, recorded in `deploy_migrations` with a checksum; then the
//! optional seed file, once.
//!
//! Each pending file is a node `db_instances.<id>.migrations.<file stem>` (and the seed
//! `db_instances.<id>.seed`), so the plan lists them as creates and they run after the instance.

pub mod db;
pub mod scan;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::plan::{Action, Change, FieldChange, PlanError};
use crate::resources::core::{Key, LiveEnv, NodeDef, ReplacePolicy};
use crate::stack::{DbInstance, Password, Pos, Resolver, Stack};
use crate::value::{Shown, Text};

/// One file of the migrations folder, or the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlFile {
    /// `0001_create_users` (the seed: `seed`): what `deploy_migrations.version`/`name` record.
    pub version: String,
    pub name: String,
    pub path: PathBuf,
    /// Hex SHA-256 of the file's bytes.
    pub checksum: String,
    /// Why the file cannot run in one transaction (a `COMMIT` in it, a `VACUUM`), with its line.
    pub refused: Option<String>,
}

/// A path as it may be printed: control characters (a newline, an escape sequence in a file
/// name) are shown escaped, so a file name cannot forge or hide lines of deploy's output.
pub fn shown_path(p: &Path) -> String {
    escape_controls(&p.display().to_string())
}

fn escape_controls(s: &str) -> String {
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

/// Orders versions by number, so that `10000_x` comes after `9999_y`.
fn number_key(version: &str) -> (usize, String) {
    let num = version
        .split('_')
        .next()
        .unwrap_or("")
        .trim_start_matches('0');
    (num.len(), num.to_string())
}

/// Where and how to connect, resolved as far as possible at plan time.
#[derive(Clone, Debug)]
pub struct Conn {
    pub host: Text,
    pub port: Text,
    pub user: String,
    pub password: Option<Text>,
    pub dbname: String,
    /// `--db-endpoint` was given: TLS when offered, plain accepted. Otherwise TLS is required.
    pub local: bool,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub db: String,
    pub file: SqlFile,
    pub seed: bool,
    pub conn: Conn,
    pub pos: Pos,
}

/// A row of `deploy_migrations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub version: String,
    pub checksum: String,
}

/// The migration files of a folder, in version order. Names must be `NNNN_name.sql`.
pub fn files(dir: &Path) -> Result<Vec<SqlFile>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| e.to_string())?;
        let path = e.path();
        let fname = e.file_name().to_string_lossy().to_string();
        if !path.is_file() || fname.starts_with('.') {
            continue;
        }
        // The name becomes an address and a row of deploy_migrations.
        if fname.chars().any(char::is_control) {
            return Err(format!(
                "{}: a migration file name holds control characters ({}): rename it",
                shown_path(dir),
                escape_controls(&fname)
            ));
        }
        let Some(stem) = fname.strip_suffix(".sql") else {
            return Err(format!(
                "{}: migration files must be named NNNN_name.sql (found {fname})",
                shown_path(dir)
            ));
        };
        let (num, rest) = stem.split_once('_').unwrap_or((stem, ""));
        if num.len() < 4 || !num.chars().all(|c| c.is_ascii_digit()) || rest.is_empty() {
            return Err(format!(
                "{}: migration files must be named NNNN_name.sql, e.g. 0001_create_users.sql (found {fname})",
                shown_path(dir)
            ));
        }
        out.push(sql_file(&path, stem.to_string(), stem.to_string())?);
    }
    out.sort_by(|a, b| {
        number_key(&a.version)
            .cmp(&number_key(&b.version))
            .then_with(|| a.version.cmp(&b.version))
    });
    for w in out.windows(2) {
        if number_key(&w[0].version) == number_key(&w[1].version) {
            return Err(format!(
                "{}: two migrations share the number {}: {} and {}",
                shown_path(dir),
                w[0].version.split('_').next().unwrap_or(""),
                w[0].name,
                w[1].name
            ));
        }
    }
    Ok(out)
}

fn sql_file(path: &Path, version: String, name: String) -> Result<SqlFile, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", shown_path(path)))?;
    let refused = scan::refused(&String::from_utf8_lossy(&bytes)).map(|r| {
        format!(
            "{}:{}: `{}`: {}; put it in a file of its own outside deploy, or remove it (deploy runs each file in one transaction and commits it itself)",
            shown_path(path),
            r.line,
            r.statement,
            r.why
        )
    });
    Ok(SqlFile {
        version,
        name,
        path: path.to_path_buf(),
        checksum: crate::stack::hex(&Sha256::digest(&bytes)),
        refused,
    })
}

pub fn seed_file(path: &Path) -> Result<SqlFile, String> {
    sql_file(path, "seed".into(), "seed".into())
}

/// A file that ran is never run again nor undone, so nothing is replaced; the policy is declared
/// like every kind's.
pub const REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;

pub fn migration_address(db: &str, name: &str) -> String {
    format!("db_instances.{db}.migrations.{name}")
}

pub fn seed_address(db: &str) -> String {
    format!("db_instances.{db}.seed")
}

/// Problems with the files themselves (names, an unreadable seed), found without AWS: `nodes`
/// cannot report them, and a folder whose files are skipped would silently plan nothing.
pub fn check(stack: &Stack) -> Vec<PlanError> {
    let mut out = Vec::new();
    for (id, d) in &stack.db_instances {
        if let Some(Err(e)) = d.migrations.as_deref().map(files) {
            out.push(PlanError {
                address: format!("db_instances.{id}.migrations"),
                pos: d.pos,
                message: e,
            });
        }
        if let Some(Err(e)) = d.seed.as_deref().map(seed_file) {
            out.push(PlanError {
                address: seed_address(id),
                pos: d.pos,
                message: e,
            });
        }
    }
    out
}

/// Migration nodes in order, each after the previous one and after its instance; the seed last.
pub fn nodes(stack: &Stack) -> Vec<NodeDef> {
    let mut out = Vec::new();
    for (id, d) in &stack.db_instances {
        let mut prev = format!("db_instances.{id}");
        for f in d
            .migrations
            .as_deref()
            .and_then(|m| files(m).ok())
            .unwrap_or_default()
        {
            let address = migration_address(id, &f.name);
            out.push(NodeDef {
                address: address.clone(),
                key: Key::Migration {
                    db: id.clone(),
                    name: f.name.clone(),
                },
                deps: vec![prev.clone()],
            });
            prev = address;
        }
        if d.seed.is_some() {
            out.push(NodeDef {
                address: seed_address(id),
                key: Key::Seed(id.clone()),
                deps: vec![prev],
            });
        }
    }
    out
}

/// How to reach the database of `id`: `--db-endpoint` if given, else the instance's endpoint.
pub fn conn(id: &str, d: &DbInstance, r: &Resolver, env: &LiveEnv) -> Conn {
    let (host, port, local) = match env.db_endpoints.get(id) {
        Some((h, p)) => (Text::known(h.clone()), Text::known(p.to_string()), true),
        None => (
            r.attr(&format!("db_instances.{id}"), "address"),
            r.attr(&format!("db_instances.{id}"), "port"),
            false,
        ),
    };
    Conn {
        host,
        port,
        user: d.master_username.clone(),
        password: match &d.password {
            Password::Secret(t) => Some(Resolver::default().resolve(t)),
            Password::Managed => None,
        },
        dbname: d.db_name.clone().unwrap_or_else(|| "postgres".into()),
        local,
    }
}

pub fn spec(stack: &Stack, key: &Key, r: &Resolver, env: &LiveEnv) -> Spec {
    let (db, file, seed) = match key {
        Key::Migration { db, name } => {
            let d = &stack.db_instances[db];
            let f = d
                .migrations
                .as_deref()
                .and_then(|m| files(m).ok())
                .and_then(|fs| fs.into_iter().find(|f| &f.name == name))
                .expect("migration keys come from the folder");
            (db, f, false)
        }
        Key::Seed(db) => {
            let d = &stack.db_instances[db];
            let f = seed_file(d.seed.as_deref().expect("seed keys come from the stack"))
                .expect("the seed was readable when loaded");
            (db, f, true)
        }
        _ => unreachable!("migration::spec called for {key:?}"),
    };
    let d = &stack.db_instances[db];
    Spec {
        db: db.clone(),
        file,
        seed,
        conn: conn(db, d, r, env),
        pos: d.pos,
    }
}

pub fn diff(
    address: &str,
    spec: Option<&Spec>,
    observed: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    // Applied migrations are history: a file removed from the folder is not undone, and destroy
    // leaves them to the instance's own deletion.
    let Some(s) = spec else { return Ok(None) };
    if s.conn.password.is_none() {
        return Err(PlanError {
            address: address.into(),
            pos: s.pos,
            message: "migrations need the master password from ${secret:NAME}: with manage_master_password the password stays in Secrets Manager, which deploy does not read".into(),
        });
    }
    match observed {
        None => {
            if let Some(r) = &s.file.refused {
                return Err(PlanError {
                    address: address.into(),
                    pos: s.pos,
                    message: r.clone(),
                });
            }
            let mut c = Change::new(address, Action::Create);
            c.fields.push(FieldChange {
                path: "file".into(),
                before: Shown::Absent,
                after: Shown::value(shown_path(&s.file.path)),
                forces_replacement: false,
            });
            c.fields.push(FieldChange {
                path: "checksum".into(),
                before: Shown::Absent,
                after: Shown::value(&s.file.checksum[..12]),
                forces_replacement: false,
            });
            Ok(Some(c))
        }
        Some(o) if o.checksum == s.file.checksum || s.seed => Ok(None),
        Some(o) => Err(PlanError {
            address: address.into(),
            pos: s.pos,
            message: format!(
                "{} was edited after it was applied (applied checksum {}, file now {}): restore the file and put the change in a new migration",
                shown_path(&s.file.path),
                &o.checksum[..12.min(o.checksum.len())],
                &s.file.checksum[..12]
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(checksum: &str) -> Spec {
        Spec {
            db: "db".into(),
            file: SqlFile {
                version: "0001_init".into(),
                name: "0001_init".into(),
                path: "sql/migrations/0001_init.sql".into(),
                checksum: checksum.into(),
                refused: None,
            },
            seed: false,
            conn: Conn {
                host: Text::unknown(false),
                port: Text::unknown(false),
                user: "root".into(),
                password: Some(Text::secret("pw")),
                dbname: "cruddur".into(),
                local: false,
            },
            pos: Pos { line: 3, col: 3 },
        }
    }

    #[test]
    fn pending_is_a_create_applied_is_nothing_edited_is_an_error() {
        let s = spec("aaaaaaaaaaaaaaaa");
        let c = diff("a", Some(&s), None).unwrap().unwrap();
        assert_eq!(c.action, Action::Create);
        let applied = Observed {
            version: "0001_init".into(),
            checksum: "aaaaaaaaaaaaaaaa".into(),
        };
        assert!(diff("a", Some(&s), Some(&applied)).unwrap().is_none());
        let edited = spec("bbbbbbbbbbbbbbbb");
        let e = diff("a", Some(&edited), Some(&applied)).unwrap_err();
        assert!(
            e.message.contains("0001_init.sql was edited"),
            "{}",
            e.message
        );
        assert!(diff("a", None, Some(&applied)).unwrap().is_none());
    }

    #[test]
    fn files_are_ordered_and_names_checked() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("0002_b.sql"), "select 2;").unwrap();
        std::fs::write(d.path().join("0001_a.sql"), "select 1;").unwrap();
        let fs = files(d.path()).unwrap();
        assert_eq!(
            fs.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            vec!["0001_a", "0002_b"]
        );
        assert_eq!(fs[0].checksum.len(), 64);
        std::fs::write(d.path().join("0002_c.sql"), "select 3;").unwrap();
        assert!(
            files(d.path())
                .unwrap_err()
                .contains("share the number 0002")
        );
        std::fs::remove_file(d.path().join("0002_c.sql")).unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        assert!(files(d.path()).unwrap_err().contains("NNNN_name.sql"));
    }

    #[test]
    fn versions_are_ordered_by_number() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "10000_late.sql",
            "9999_early.sql",
            "0002_b.sql",
            "100001_later.sql",
        ] {
            std::fs::write(d.path().join(f), "select 1;").unwrap();
        }
        let fs = files(d.path()).unwrap();
        assert_eq!(
            fs.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            vec!["0002_b", "9999_early", "10000_late", "100001_later"]
        );
        // The same number written with more zeros is the same number.
        std::fs::write(d.path().join("00002_c.sql"), "select 1;").unwrap();
        assert!(files(d.path()).unwrap_err().contains("share the number"),);
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("0001_a\u{1b}[2K\nok.sql"), "select 1;").unwrap();
        let e = files(d.path()).unwrap_err();
        assert!(e.contains("0001_a\\u{1b}[2K\\nok.sql"), "{e}");
        assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e}");
        assert_eq!(shown_path(Path::new("a\rb/c.sql")), "a\\rb/c.sql");
    }

    #[test]
    fn a_file_that_ends_the_transaction_is_a_plan_error_with_its_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("0001_a.sql"),
            "CREATE TABLE t (id int);\nCOMMIT;\nDROP TABLE nope;\n",
        )
        .unwrap();
        let f = files(d.path()).unwrap().remove(0);
        let mut s = spec("aaaaaaaaaaaaaaaa");
        s.file = f;
        let e = diff("a", Some(&s), None).unwrap_err();
        assert!(
            e.message.contains("0001_a.sql:2: `COMMIT`"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("ends deploy's transaction"),
            "{}",
            e.message
        );
    }
}

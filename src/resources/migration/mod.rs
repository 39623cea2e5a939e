//! SQL migrations of a db instance (spec section 6): `NNNN_name.sql` files applied once each, in
//! order, each in its own transaction, recorded in `deploy_migrations` with a checksum; then the
//! optional seed file, once.
//!
//! Each pending file is a node `db_instances.<id>.migrations.<file stem>` (and the seed
//! `db_instances.<id>.seed`), so the plan lists them as creates and they run after the instance.

pub mod db;
pub mod scan;

use crate::resources::core::{diff_by, spec_by};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::plan::{Action, Change, FieldChange, PlanError};
use crate::resources::core::{Key, LiveEnv, NodeDef, NodeType, ReplacePolicy};
use crate::stack::{DbInstance, Password, Pos, Resolver, Stack};
use crate::value::{Shown, Text, escape_controls};

/// One file of the migrations folder, or the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlFile {
    /// `0001_create_users` (the seed: `seed`): what `deploy_migrations.version`/`name` record.
    pub version: String,
    pub name: String,
    pub path: PathBuf,
    /// Hex SHA-256 of the file's bytes with line endings made `\n` ([`checksum`]): what new rows
    /// of `deploy_migrations` record.
    pub checksum: String,
    /// Hex SHA-256 of the bytes as they are, what releases before line endings were ignored
    /// recorded: a row holding it still matches.
    pub raw_checksum: String,
    /// Why the file cannot run in one transaction (a `COMMIT` in it, a `VACUUM`), with its line.
    pub refused: Option<String>,
}

/// A path as it may be printed: control characters (a newline, an escape sequence in a file
/// name) are shown escaped, so a file name cannot forge or hide lines of deploy's output.
pub fn shown_path(p: &Path) -> String {
    escape_controls(&p.display().to_string())
}

/// A field a create sets: from nothing to `after`.
fn added(path: &str, after: Shown) -> FieldChange {
    FieldChange {
        path: path.into(),
        before: Shown::Absent,
        after,
        forces_replacement: false,
    }
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
    /// Where `migrations:` is written (the instance when there is none).
    pub migrations_pos: Pos,
    /// `migrations_baseline` of the instance, with the files it covers.
    pub baseline: Option<BaselineSpec>,
}

#[derive(Clone, Debug)]
pub struct BaselineSpec {
    pub version: u32,
    /// The files numbered up to `version`, and the seed: on a database made before deploy they
    /// are recorded as applied, all at once, and never run.
    pub covered: Vec<SqlFile>,
}

impl Spec {
    /// This file is recorded, not run, when the database predates deploy.
    pub fn baselined(&self) -> bool {
        self.baseline
            .as_ref()
            .is_some_and(|b| b.covered.iter().any(|f| f.version == self.file.version))
    }
}

/// What a database holds that deploy did not create: relations outside the system schemas, and
/// no `deploy_migrations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preexisting {
    pub relations: i64,
    /// A few of them, as `users (table)`, tables first.
    pub names: Vec<String>,
}

/// Why the plan stops on a database made before deploy, and how to go on: Flyway's "found
/// non-empty schema without schema history table", with its baseline as the way out.
pub fn preexisting_message(db: &str, p: &Preexisting) -> String {
    let more = p.relations - p.names.len() as i64;
    let names = if more > 0 {
        format!("{}, and {more} more", p.names.join(", "))
    } else {
        p.names.join(", ")
    };
    format!(
        "the database of db_instances.{db} already holds {} relation{} deploy did not create ({names}) and no deploy_migrations table, so deploy cannot tell which migrations it reflects; running them over it could destroy its data. If it already matches the files up to version N, declare `migrations_baseline: N` on the instance: files numbered up to N, and the seed, are recorded as applied and never run, later files run (`migrations_baseline: 0` runs every file over the existing data)",
        p.relations,
        if p.relations == 1 { "" } else { "s" },
    )
}
/// A row of `deploy_migrations`; or, with `out_of_order`, a file of the folder that has no row
/// while a later-numbered one has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub version: String,
    pub checksum: String,
    /// Set when this file was not applied but sorts before a version that was: running it now
    /// would run it out of order (a plan error).
    pub out_of_order: Option<OutOfOrder>,
    /// Set on every file and the seed when the database holds relations of its own but no
    /// `deploy_migrations` (made before deploy): a plan error unless a baseline covers it.
    pub preexisting: Option<Preexisting>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfOrder {
    /// The highest version applied.
    pub last_applied: String,
    /// A free file name that sorts after every applied version and every file of the folder.
    pub rename_to: String,
}

/// The folder's files that were never applied but sort before the highest applied version
/// (`applied`: the versions in `deploy_migrations`). The table keeps the file stem
/// (`0001_create_users`) as version, as every release has; the number is read from it.
pub fn out_of_order<'a>(
    files: &'a [SqlFile],
    applied: &[String],
) -> Vec<(&'a SqlFile, OutOfOrder)> {
    let numbered = |v: &&String| {
        let num = v.split('_').next().unwrap_or("");
        !num.is_empty() && num.chars().all(|c| c.is_ascii_digit())
    };
    let Some(last) = applied
        .iter()
        .filter(numbered)
        .max_by(|a, b| number_key(a).cmp(&number_key(b)))
    else {
        return Vec::new();
    };
    // New names start after the last applied version and the last file, whichever is later.
    let top = files
        .iter()
        .map(|f| &f.version)
        .chain([last])
        .max_by(|a, b| number_key(a).cmp(&number_key(b)))
        .unwrap_or(last);
    let num = top.split('_').next().unwrap_or("");
    let mut next = num.parse::<u128>().unwrap_or(0);
    files
        .iter()
        .filter(|f| !applied.contains(&f.version))
        .filter(|f| number_key(&f.version) < number_key(last))
        .map(|f| {
            next += 1;
            let rest = f.version.split_once('_').map_or("", |(_, r)| r);
            let rename_to = format!("{next:0width$}_{rest}.sql", width = num.len());
            (
                f,
                OutOfOrder {
                    last_applied: last.clone(),
                    rename_to,
                },
            )
        })
        .collect()
}

/// The migration files of a folder, in version order. Names must be `NNNN_name.sql`, and the
/// files UTF-8 text. Every problem of the folder is reported, so one run shows them all.
pub fn files(dir: &Path) -> Result<Vec<SqlFile>, Vec<String>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| vec![format!("cannot read {}: {e}", dir.display())])?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| vec![e.to_string()])?;
        let path = e.path();
        let fname = e.file_name().to_string_lossy().to_string();
        if !path.is_file() || fname.starts_with('.') {
            continue;
        }
        names.push((fname, path));
    }
    // read_dir's order is the file system's: sorted, the errors read the same on every run.
    names.sort();
    for (fname, path) in names {
        // The name becomes an address and a row of deploy_migrations.
        if fname.chars().any(char::is_control) {
            errors.push(format!(
                "{}: a migration file name holds control characters ({}): rename it",
                shown_path(dir),
                escape_controls(&fname)
            ));
            continue;
        }
        let Some(stem) = fname.strip_suffix(".sql") else {
            errors.push(format!(
                "{}: migration files must be named NNNN_name.sql (found {fname})",
                shown_path(dir)
            ));
            continue;
        };
        let (num, rest) = stem.split_once('_').unwrap_or((stem, ""));
        if num.len() < 4 || !num.chars().all(|c| c.is_ascii_digit()) || rest.is_empty() {
            errors.push(format!(
                "{}: migration files must be named NNNN_name.sql, e.g. 0001_create_users.sql (found {fname})",
                shown_path(dir)
            ));
            continue;
        }
        match sql_file(&path, stem.to_string(), stem.to_string()) {
            Ok(f) => out.push(f),
            Err(e) => errors.push(e),
        }
    }
    out.sort_by(|a, b| {
        number_key(&a.version)
            .cmp(&number_key(&b.version))
            .then_with(|| a.version.cmp(&b.version))
    });
    for w in out.windows(2) {
        if number_key(&w[0].version) == number_key(&w[1].version) {
            errors.push(format!(
                "{}: two migrations share the number {}: {} and {}",
                shown_path(dir),
                w[0].version.split('_').next().unwrap_or(""),
                w[0].name,
                w[1].name
            ));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Where the first byte that is not UTF-8 is, as `line N, column C (byte offset B)`; `None` for
/// UTF-8 text. PostgreSQL takes deploy's SQL as UTF-8 text, so such a file could not be sent.
fn not_utf8(bytes: &[u8]) -> Option<String> {
    let e = std::str::from_utf8(bytes).err()?;
    let at = e.valid_up_to();
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // Columns count characters: what comes before on the line is valid UTF-8.
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Some(format!(
        "line {line}, column {col} (byte offset {at}, byte 0x{:02x})",
        bytes[at]
    ))
}

fn sql_file(path: &Path, version: String, name: String) -> Result<SqlFile, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", shown_path(path)))?;
    if let Some(at) = not_utf8(&bytes) {
        return Err(format!(
            "{}: not UTF-8 text: the first invalid byte is at {at}. Save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
            shown_path(path)
        ));
    }
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
        checksum: checksum(&bytes),
        raw_checksum: crate::stack::hex(&Sha256::digest(&bytes)),
        refused,
    })
}

/// Hex SHA-256 of the file with every line ending (`\r\n`, a lone `\r`) made `\n`: a checkout
/// that converts line endings (git's `core.autocrlf`) does not make an applied file "edited".
/// Flyway's checksum is per line for the same reason.
pub fn checksum(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == b'\r') {
        h.update(&rest[..i]);
        h.update(b"\n");
        rest = &rest[i + 1..];
        if rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
    }
    h.update(rest);
    crate::stack::hex(&h.finalize())
}

/// The number of a version (`0003_x` -> 3) compared with a baseline's.
fn covered_by(version: &str, baseline: u32) -> bool {
    number_key(version) <= number_key(&baseline.to_string())
}

pub fn seed_file(path: &Path) -> Result<SqlFile, String> {
    sql_file(path, "seed".into(), "seed".into())
}

/// A file that ran is never run again nor undone, so nothing is replaced; the policy is declared
/// like every kind's.
pub const REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;

/// The migration and seed node type (see [`NodeType`]).
pub struct MigrationNode;

impl NodeType for MigrationNode {
    type Spec = Spec;
    type Observed = Observed;
    const REPLACE: ReplacePolicy = REPLACE;

    spec_by!(spec);

    diff_by!(diff);
}

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
        if let Some(Err(es)) = d.migrations.as_deref().map(files) {
            out.extend(es.into_iter().map(|message| PlanError {
                address: format!("db_instances.{id}.migrations"),
                pos: d.pos,
                message,
            }));
        }
        if let Some(Err(e)) = d.seed.as_deref().map(seed_file) {
            out.push(PlanError {
                address: seed_address(id),
                pos: d.pos,
                message: e,
            });
        }
        if let Some(b) = &d.migrations_baseline {
            let fs = d
                .migrations
                .as_deref()
                .and_then(|m| files(m).ok())
                .unwrap_or_default();
            if let Some(message) = baseline_problem(b.version, &fs) {
                out.push(PlanError {
                    address: format!("db_instances.{id}.migrations_baseline"),
                    pos: b.pos,
                    message,
                });
            }
        }
    }
    out
}

/// A baseline names the last file the database already reflects, or 0 for none: a number no
/// file has is most likely a typo (50 for 5 would record files that never ran).
fn baseline_problem(version: u32, files: &[SqlFile]) -> Option<String> {
    if version == 0 {
        return None;
    }
    let key = number_key(&version.to_string());
    if files.iter().any(|f| number_key(&f.version) == key) {
        return None;
    }
    let numbers: Vec<&str> = files
        .iter()
        .map(|f| f.version.split('_').next().unwrap_or(""))
        .collect();
    let have = if numbers.is_empty() {
        "the instance has no migration files".to_string()
    } else {
        format!("the files are numbered {}", numbers.join(", "))
    };
    Some(format!(
        "migrations_baseline: {version} names no migration file ({have}): give the number of the last file the database already reflects, or 0 when it reflects none"
    ))
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
    let baseline = d.migrations_baseline.map(|b| BaselineSpec {
        version: b.version,
        covered: d
            .migrations
            .as_deref()
            .and_then(|m| files(m).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|f| covered_by(&f.version, b.version))
            .chain(d.seed.as_deref().and_then(|s| seed_file(s).ok()))
            .collect(),
    });
    Spec {
        db: db.clone(),
        file,
        seed,
        conn: conn(db, d, r, env),
        pos: d.pos,
        migrations_pos: d.migrations_pos,
        baseline,
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
        Some(Observed {
            preexisting: Some(p),
            ..
        }) => match &s.baseline {
            None => Err(PlanError {
                address: format!("db_instances.{}", s.db),
                pos: s.migrations_pos,
                message: preexisting_message(&s.db, p),
            }),
            Some(b) if s.baselined() => {
                let mut c = Change::new(address, Action::Create);
                c.fields
                    .push(added("file", Shown::value(shown_path(&s.file.path))));
                c.fields.push(added(
                    "baseline",
                    Shown::value(format!(
                        "recorded as applied, not run (migrations_baseline: {})",
                        b.version
                    )),
                ));
                Ok(Some(c))
            }
            Some(_) => pending(address, s),
        },
        None => pending(address, s),
        Some(Observed {
            out_of_order: Some(late),
            ..
        }) if !s.seed => Err(PlanError {
            address: address.into(),
            pos: s.pos,
            message: format!(
                "{} was never applied, but {}, which sorts after it, already was: deploy applies migrations in order and does not run one out of order (later ones may depend on what it would change). Rename it to sort after the others, e.g. {}",
                shown_path(&s.file.path),
                escape_controls(&late.last_applied),
                late.rename_to
            ),
        }),
        // A row written before line endings were ignored holds the raw bytes' checksum.
        Some(o) if o.checksum == s.file.checksum || o.checksum == s.file.raw_checksum || s.seed => {
            Ok(None)
        }
        Some(o) => Err(PlanError {
            address: address.into(),
            pos: s.pos,
            message: format!(
                "{} was edited after it was applied (applied checksum {}, file now {}): restore the file and put the change in a new migration",
                shown_path(&s.file.path),
                escape_controls(&o.checksum)
                    .chars()
                    .take(12)
                    .collect::<String>(),
                &s.file.checksum[..12]
            ),
        }),
    }
}

/// A file that has not run yet: a create, unless it cannot run in one transaction.
fn pending(address: &str, s: &Spec) -> Result<Option<Change>, PlanError> {
    if let Some(r) = &s.file.refused {
        return Err(PlanError {
            address: address.into(),
            pos: s.pos,
            message: r.clone(),
        });
    }
    let mut c = Change::new(address, Action::Create);
    c.fields
        .push(added("file", Shown::value(shown_path(&s.file.path))));
    c.fields
        .push(added("checksum", Shown::value(&s.file.checksum[..12])));
    Ok(Some(c))
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
                raw_checksum: checksum.into(),
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
            migrations_pos: Pos { line: 9, col: 17 },
            baseline: None,
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
            out_of_order: None,
            preexisting: None,
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
    fn a_file_numbered_below_an_applied_one_is_refused_with_a_name_to_take() {
        let d = tempfile::tempdir().unwrap();
        for f in ["0000_zero.sql", "0001_a.sql", "0002_b.sql", "0003_c.sql"] {
            std::fs::write(d.path().join(f), "select 1;").unwrap();
        }
        let fs = files(d.path()).unwrap();
        // Rows as every release wrote them: the stem is the version.
        let applied = vec!["0001_a".to_string(), "0002_b".into(), "seed".into()];
        let late: Vec<(String, OutOfOrder)> = out_of_order(&fs, &applied)
            .into_iter()
            .map(|(f, o)| (f.version.clone(), o))
            .collect();
        // 0003_c is merely pending; 0000_zero would run after 0002_b. The name offered is free.
        let want = OutOfOrder {
            last_applied: "0002_b".into(),
            rename_to: "0004_zero.sql".into(),
        };
        assert_eq!(late, vec![("0000_zero".to_string(), want.clone())]);
        assert!(out_of_order(&fs, &[]).is_empty());
        assert!(out_of_order(&fs, &["seed".into()]).is_empty());
        let mut s = spec("aaaaaaaaaaaaaaaa");
        s.file = fs[0].clone();
        let o = Observed {
            version: "0000_zero".into(),
            checksum: String::new(),
            out_of_order: Some(want),
            preexisting: None,
        };
        let e = diff("a", Some(&s), Some(&o)).unwrap_err();
        assert!(
            e.message
                .contains("0000_zero.sql was never applied, but 0002_b"),
            "{}",
            e.message
        );
        assert!(e.message.contains("e.g. 0004_zero.sql"), "{}", e.message);
        assert_eq!(e.pos, s.pos);
    }

    #[test]
    fn out_of_order_compares_numbers() {
        let d = tempfile::tempdir().unwrap();
        for f in ["0005_w.sql", "9999_y.sql", "10000_x.sql"] {
            std::fs::write(d.path().join(f), "select 1;").unwrap();
        }
        let fs = files(d.path()).unwrap();
        // 10000_x after 9999_y is merely pending (as text it would sort first).
        assert!(out_of_order(&fs, &["0005_w".into(), "9999_y".into()]).is_empty());
        let late = out_of_order(&fs, &["10000_x".into()]);
        let names: Vec<(&str, &str)> = late
            .iter()
            .map(|(f, o)| (f.version.as_str(), o.rename_to.as_str()))
            .collect();
        assert_eq!(
            names,
            [("0005_w", "10001_w.sql"), ("9999_y", "10002_y.sql")]
        );
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
                .concat()
                .contains("share the number 0002")
        );
        std::fs::remove_file(d.path().join("0002_c.sql")).unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        assert!(files(d.path()).unwrap_err()[0].contains("NNNN_name.sql"));
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
        assert!(files(d.path()).unwrap_err()[0].contains("share the number"));
    }

    #[test]
    fn every_bad_name_of_the_folder_is_reported_in_one_run() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "README.md",
            "0003_c.txt",
            "3_d.sql",
            "0004-e.sql",
            "0001_ok.sql",
        ] {
            std::fs::write(d.path().join(f), "select 1;").unwrap();
        }
        let e = files(d.path()).unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        for (msg, name) in e
            .iter()
            .zip(["0003_c.txt", "0004-e.sql", "3_d.sql", "README.md"])
        {
            assert!(msg.contains(&format!("(found {name})")), "{msg}");
        }
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused_with_where_its_first_bad_byte_is() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("0001_a.sql"), "select 1;").unwrap();
        std::fs::write(
            d.path().join("0007_h.sql"),
            b"-- caf\xc3\xa9 ok\n-- caf\xe9\nCREATE TABLE h(id int);\n",
        )
        .unwrap();
        let e = files(d.path()).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("0007_h.sql: not UTF-8"), "{}", e[0]);
        // Line 2 after `-- caf`; the first line is 12 bytes (its `é` takes two).
        assert!(
            e[0].contains("line 2, column 7 (byte offset 18, byte 0xe9)"),
            "{}",
            e[0]
        );
        // The seed is held to the same.
        std::fs::write(d.path().join("seed.sql"), b"\xff").unwrap();
        let e = seed_file(&d.path().join("seed.sql")).unwrap_err();
        assert!(
            e.contains("line 1, column 1 (byte offset 0, byte 0xff)"),
            "{e}"
        );
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("0001_a\u{1b}[2K\nok.sql"), "select 1;").unwrap();
        let e = files(d.path()).unwrap_err().concat();
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

    #[test]
    fn checksums_ignore_line_endings_and_old_raw_rows_still_match() {
        let lf = checksum(b"CREATE TABLE a (id int);\nSELECT 1;\n");
        assert_eq!(lf, checksum(b"CREATE TABLE a (id int);\r\nSELECT 1;\r\n"));
        assert_eq!(lf, checksum(b"CREATE TABLE a (id int);\rSELECT 1;\r"));
        // A text without CR is hashed as it is: rows of earlier releases keep matching.
        assert_eq!(
            lf,
            crate::stack::hex(&Sha256::digest(b"CREATE TABLE a (id int);\nSELECT 1;\n"))
        );
        // What is not a line ending still counts.
        assert_ne!(lf, checksum(b"CREATE TABLE a (id bigint);\nSELECT 1;\n"));
        assert_ne!(checksum(b"a\r\n\nb"), checksum(b"a\nb"));

        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("0001_a.sql"), "select 1;\r\nselect 2;\r\n").unwrap();
        let f = files(d.path()).unwrap().remove(0);
        assert_eq!(f.checksum, checksum(b"select 1;\nselect 2;\n"));
        assert_eq!(
            f.raw_checksum,
            crate::stack::hex(&Sha256::digest(b"select 1;\r\nselect 2;\r\n"))
        );
        let mut s = spec("unused");
        s.file = f.clone();
        // Applied from an LF checkout (the normalised sum), or under the raw sum of this CRLF
        // checkout by an earlier release: both unchanged.
        for sum in [&f.checksum, &f.raw_checksum] {
            let o = Observed {
                version: "0001_a".into(),
                checksum: sum.clone(),
                out_of_order: None,
                preexisting: None,
            };
            assert!(diff("a", Some(&s), Some(&o)).unwrap().is_none(), "{sum}");
        }
        let o = Observed {
            version: "0001_a".into(),
            checksum: checksum(b"select 1;\nselect 3;\n"),
            out_of_order: None,
            preexisting: None,
        };
        assert!(diff("a", Some(&s), Some(&o)).is_err());
    }

    fn preexisting() -> Observed {
        Observed {
            version: "0001_init".into(),
            checksum: String::new(),
            out_of_order: None,
            preexisting: Some(Preexisting {
                relations: 7,
                names: vec!["users (table)".into(), "users_id_seq (sequence)".into()],
            }),
        }
    }

    #[test]
    fn a_database_made_before_deploy_stops_the_plan_at_the_migrations_line() {
        let s = spec("aaaaaaaaaaaaaaaa");
        let e = diff(
            "db_instances.db.migrations.0001_init",
            Some(&s),
            Some(&preexisting()),
        )
        .unwrap_err();
        assert_eq!(e.pos, s.migrations_pos);
        assert_eq!(e.address, "db_instances.db");
        for want in [
            "already holds 7 relations deploy did not create (users (table), users_id_seq (sequence), and 5 more)",
            "no deploy_migrations table",
            "declare `migrations_baseline: N` on the instance",
        ] {
            assert!(e.message.contains(want), "{want}: {}", e.message);
        }
        // The seed says the same, so the errors merge into one.
        let mut seed = spec("aaaaaaaaaaaaaaaa");
        seed.seed = true;
        let e2 = diff("db_instances.db.seed", Some(&seed), Some(&preexisting())).unwrap_err();
        assert_eq!((e2.address, e2.message), (e.address, e.message));
    }

    #[test]
    fn a_baseline_records_the_files_it_covers_and_the_seed_and_runs_the_rest() {
        let d = tempfile::tempdir().unwrap();
        for f in ["0001_a.sql", "0002_b.sql", "0003_c.sql"] {
            std::fs::write(d.path().join(f), "select 1;").unwrap();
        }
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("seed.sql"), "select 1;").unwrap();
        let fs = files(d.path()).unwrap();
        let seed = seed_file(&other.path().join("seed.sql")).unwrap();
        let covered: Vec<SqlFile> = fs
            .iter()
            .filter(|f| covered_by(&f.version, 2))
            .cloned()
            .chain([seed.clone()])
            .collect();
        assert_eq!(
            covered.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["0001_a", "0002_b", "seed"]
        );
        let mut s = spec("x");
        s.baseline = Some(BaselineSpec {
            version: 2,
            covered,
        });
        for (file, recorded) in [
            (&fs[0], true),
            (&fs[1], true),
            (&fs[2], false),
            (&seed, true),
        ] {
            s.file = file.clone();
            s.seed = file.version == "seed";
            let c = diff("a", Some(&s), Some(&preexisting())).unwrap().unwrap();
            assert_eq!(c.action, Action::Create);
            assert_eq!(
                c.field("baseline").map(|f| f.after.to_string()),
                recorded.then(|| {
                    "\"recorded as applied, not run (migrations_baseline: 2)\"".to_string()
                }),
                "{}",
                file.name
            );
            assert_eq!(c.changes("checksum"), !recorded, "{}", file.name);
            // Where the database is empty or already has deploy_migrations, it is a plain file.
            let c = diff("a", Some(&s), None).unwrap().unwrap();
            assert!(c.field("baseline").is_none());
        }
    }

    #[test]
    fn a_baseline_names_a_file_or_zero() {
        let d = tempfile::tempdir().unwrap();
        for f in ["0001_a.sql", "0002_b.sql", "0005_e.sql"] {
            std::fs::write(d.path().join(f), "select 1;").unwrap();
        }
        let fs = files(d.path()).unwrap();
        for ok in [0, 1, 2, 5] {
            assert_eq!(baseline_problem(ok, &fs), None, "{ok}");
        }
        let e = baseline_problem(50, &fs).unwrap();
        assert!(
            e.contains("migrations_baseline: 50 names no migration file (the files are numbered 0001, 0002, 0005)"),
            "{e}"
        );
        assert!(baseline_problem(3, &fs).is_some());
        assert!(
            baseline_problem(1, &[])
                .unwrap()
                .contains("the instance has no migration files")
        );
        assert!(baseline_problem(0, &[]).is_none());
    }
}

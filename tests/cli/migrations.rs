//! SQL migrations through the binary: moto for AWS, a real PostgreSQL (started by `make test`) for
//! the database, reached with `--db-endpoint`.

use std::path::Path;

use super::common::Env;

/// A fresh database on the test PostgreSQL, dropped at the end.
struct Db {
    admin: tokio_postgres::Client,
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Db {
    async fn new() -> Db {
        let url = std::env::var("DEPLOY_TEST_PG_URL").expect(
            "DEPLOY_TEST_PG_URL is not set: run `make test`, which starts a throwaway PostgreSQL",
        );
        let cfg: tokio_postgres::Config = url.parse().unwrap();
        let host = match &cfg.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[allow(unreachable_patterns)]
            _ => panic!("DEPLOY_TEST_PG_URL must use TCP"),
        };
        let port = cfg.get_ports().first().copied().unwrap_or(5432);
        let (admin, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let name = format!(
            "deploy_t_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 1_000_000_000
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Db {
            admin,
            name,
            host,
            port,
        }
    }

    async fn client(&self) -> tokio_postgres::Client {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&self.host)
            .port(self.port)
            .user("postgres")
            .dbname(&self.name);
        let (c, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        c
    }

    fn endpoint(&self) -> String {
        format!("cruddur-db-instance={}:{}", self.host, self.port)
    }

    async fn drop_db(self) {
        let _ = self
            .admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

fn stack(db: &Db) -> String {
    format!(
        r#"
stack: migtest
db_instances:
  cruddur-db-instance:
    engine: postgres
    engine_version: "16.4"
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: postgres
    master_password: ${{secret:DB_PASSWORD}}
    db_name: {}
    backup_retention_days: 0
    final_snapshot: false
    migrations: sql/migrations
    seed: sql/seed.sql
"#,
        db.name
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

async fn tables(c: &tokio_postgres::Client) -> Vec<String> {
    c.query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema='public' ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_project_schema_is_planned_applied_and_then_unchanged() {
    let env = Env::new();
    let db = Db::new().await;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("sql/migrations"), &env.path("sql/migrations"));
    std::fs::copy(repo.join("sql/seed.sql"), env.path("sql/seed.sql")).unwrap();
    env.write_stack(&stack(&db));
    let ep = db.endpoint();
    let files: Vec<String> = std::fs::read_dir(env.path("sql/migrations"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    assert!(!files.is_empty());

    // Pending migrations are listed as creates; nothing is written to the database.
    let r = env.run(&["--db-endpoint", &ep, "plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    for f in &files {
        assert!(
            r.stdout.contains(&format!(
                "+ db_instances.cruddur-db-instance.migrations.{f}"
            )),
            "{f} not planned:\n{}",
            r.stdout
        );
    }
    assert!(
        r.stdout.contains("+ db_instances.cruddur-db-instance.seed"),
        "{}",
        r.stdout
    );
    let c = db.client().await;
    assert!(tables(&c).await.is_empty(), "plan wrote to the database");

    let r = env.ok(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    r.assert_no_secret();
    let t = tables(&c).await;
    for want in ["activities", "deploy_migrations", "users"] {
        assert!(t.contains(&want.to_string()), "{want} missing from {t:?}");
    }
    let recorded: Vec<(String, String)> = c
        .query(
            "SELECT version, checksum FROM deploy_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(recorded.len(), files.len() + 1, "{recorded:?}");
    assert!(recorded.iter().all(|(_, sum)| sum.len() == 64));
    let users: i64 = c
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert!(users > 0, "the seed did not run");

    let r = env.run(&["--db-endpoint", &ep, "plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edited_migrations_are_refused_new_ones_applied_failures_rolled_back() {
    let env = Env::new();
    let db = Db::new().await;
    env.write_file(
        "sql/migrations/0001_a.sql",
        "CREATE TABLE a (id int PRIMARY KEY);",
    );
    env.write_file("sql/seed.sql", "INSERT INTO a VALUES (1);");
    env.write_stack(&stack(&db));
    let ep = db.endpoint();
    env.ok(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    let c = db.client().await;

    // An applied file that was edited is a plan error naming the file, before anything runs.
    env.write_file(
        "sql/migrations/0001_a.sql",
        "CREATE TABLE a (id bigint PRIMARY KEY);",
    );
    for cmd in ["plan", "apply"] {
        let r = env.run(
            &["--db-endpoint", &ep, cmd, "--auto-approve"][..if cmd == "plan" { 3 } else { 4 }],
        );
        assert_eq!(r.code, 1, "{}", r.all());
        assert!(
            r.stderr
                .contains("0001_a.sql was edited after it was applied"),
            "{}",
            r.stderr
        );
    }
    env.write_file(
        "sql/migrations/0001_a.sql",
        "CREATE TABLE a (id int PRIMARY KEY);",
    );

    // A failing migration is rolled back whole and reported; nothing after it runs.
    env.write_file(
        "sql/migrations/0002_b.sql",
        "CREATE TABLE b (id int); INSERT INTO nope VALUES (1);",
    );
    env.write_file("sql/migrations/0003_c.sql", "CREATE TABLE c (id int);");
    let r = env.run(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("0002_b.sql failed and was rolled back"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("not started: db_instances.cruddur-db-instance.migrations.0003_c"),
        "{}",
        r.stderr
    );
    assert_eq!(tables(&c).await, vec!["a", "deploy_migrations"]);

    // Fixed, a rerun continues from there.
    env.write_file("sql/migrations/0002_b.sql", "CREATE TABLE b (id int);");
    let r = env.run(&["--db-endpoint", &ep, "plan"]);
    assert!(r.stdout.contains("Plan: 2 to create"), "{}", r.stdout);
    assert!(!r.stdout.contains("0001_a"), "{}", r.stdout);
    env.ok(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    assert_eq!(tables(&c).await, vec!["a", "b", "c", "deploy_migrations"]);
    let seeded: i64 = c
        .query_one("SELECT count(*) FROM a", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seeded, 1, "the seed ran more than once");
    let r = env.run(&["--db-endpoint", &ep, "plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    db.drop_db().await;
}

/// What validate (offline) finds in a migrations folder: every badly named file in one run, and
/// a file that is not UTF-8 with where its first bad byte is. Plan stops on the same, before
/// anything runs.
#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_every_bad_file_of_the_folder_at_once() {
    let env = Env::new();
    let db = Db::new().await;
    env.write_file("sql/migrations/0001_a.sql", "CREATE TABLE a (id int);");
    env.write_file("sql/seed.sql", "SELECT 1;");
    std::fs::write(
        env.path("sql/migrations/0007_h.sql"),
        b"-- caf\xe9\nCREATE TABLE h(id int);\n",
    )
    .unwrap();
    for bad in ["README.md", "0003_c.txt", "3_d.sql", "0004-e.sql"] {
        env.write_file(&format!("sql/migrations/{bad}"), "SELECT 1;");
    }
    env.write_stack(&stack(&db));
    let r = env.run(&["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    for bad in ["README.md", "0003_c.txt", "3_d.sql", "0004-e.sql"] {
        assert!(r.stderr.contains(&format!("(found {bad})")), "{}", r.stderr);
    }
    assert!(
        r.stderr.contains(
            "0007_h.sql: not UTF-8 text: the first invalid byte is at line 1, column 7 (byte offset 6, byte 0xe9)"
        ),
        "{}",
        r.stderr
    );
    let r = env.run(&["--db-endpoint", &db.endpoint(), "plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("0007_h.sql: not UTF-8"), "{}", r.stderr);
    assert!(r.stderr.contains("(found 3_d.sql)"), "{}", r.stderr);
    db.drop_db().await;
}

/// A migration numbered below one already applied is refused at plan, as Flyway does by
/// default, with the name to give it; nothing runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_migration_added_below_applied_ones_is_refused() {
    let env = Env::new();
    let db = Db::new().await;
    env.write_file("sql/migrations/0001_a.sql", "CREATE TABLE a (id int);");
    env.write_file("sql/migrations/0002_b.sql", "CREATE TABLE b (id int);");
    env.write_file("sql/seed.sql", "SELECT 1;");
    env.write_stack(&stack(&db));
    let ep = db.endpoint();
    env.ok(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    let c = db.client().await;
    // What the table holds, as every release has written it: the file stem as the version.
    let versions: Vec<String> = c
        .query("SELECT version FROM deploy_migrations ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, ["0001_a", "0002_b", "seed"]);

    env.write_file(
        "sql/migrations/0000_zero.sql",
        "CREATE TABLE zero (id int);",
    );
    env.write_file("sql/migrations/0003_c.sql", "CREATE TABLE c (id int);");
    for cmd in ["plan", "apply"] {
        let r = env.run(
            &["--db-endpoint", &ep, cmd, "--auto-approve"][..if cmd == "plan" { 3 } else { 4 }],
        );
        assert_eq!(r.code, 1, "{}", r.all());
        assert!(
            r.stderr.contains(
                "0000_zero.sql was never applied, but 0002_b, which sorts after it, already was"
            ),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains("Rename it to sort after the others, e.g. 0004_zero.sql"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(tables(&c).await, vec!["a", "b", "deploy_migrations"]);

    // Renamed as told (after 0003_c), both run in order and the next plan is empty.
    std::fs::remove_file(env.path("sql/migrations/0000_zero.sql")).unwrap();
    env.write_file(
        "sql/migrations/0004_zero.sql",
        "CREATE TABLE zero (id int);",
    );
    env.ok(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    assert_eq!(
        tables(&c).await,
        vec!["a", "b", "c", "deploy_migrations", "zero"]
    );
    let r = env.run(&["--db-endpoint", &ep, "plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    db.drop_db().await;
}

async fn users(c: &tokio_postgres::Client) -> Vec<String> {
    c.query("SELECT name FROM users ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Issue 14: a database made before deploy (the seed's `schema.sql`, whose first line drops the
/// table, adopted as `0001_schema.sql`) is not migrated over. The plan stops at the instance's
/// `migrations:` line saying why and how to baseline; apply changes nothing. With
/// `migrations_baseline: 1` the covered file and the seed are recorded, not run, the later file
/// runs, and the rows survive throughout; a CRLF checkout of the files then changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_made_before_deploy_is_not_migrated_over_until_baselined() {
    let env = Env::new();
    let db = Db::new().await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
         INSERT INTO users (name) VALUES ('andrew'), ('bayko');",
    )
    .await
    .unwrap();
    let schema = "DROP TABLE IF EXISTS users;\nCREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);\n";
    env.write_file("sql/migrations/0001_schema.sql", schema);
    env.write_file(
        "sql/migrations/0002_email.sql",
        "ALTER TABLE users ADD COLUMN email text;\n",
    );
    env.write_file(
        "sql/seed.sql",
        "INSERT INTO users (name) VALUES ('seeded');\n",
    );
    let plain = stack(&db);
    let line = plain
        .lines()
        .position(|l| l.contains("migrations: sql/migrations"))
        .unwrap()
        + 1;
    env.write_stack(&plain);
    let ep = db.endpoint();

    for cmd in ["plan", "apply"] {
        let r = env.run(
            &["--db-endpoint", &ep, cmd, "--auto-approve"][..if cmd == "plan" { 3 } else { 4 }],
        );
        assert_eq!(r.code, 1, "{}", r.all());
        for want in [
            format!("stack.yaml:{line}:"),
            "already holds 2 relations deploy did not create (users (table), users_id_seq (sequence)) and no deploy_migrations table".into(),
            "declare `migrations_baseline: N` on the instance".into(),
        ] {
            assert!(r.stderr.contains(&want), "{cmd}: {want}:\n{}", r.stderr);
        }
        // Said once, not once per file.
        assert_eq!(r.stderr.matches("already holds").count(), 1, "{}", r.stderr);
        assert!(!r.stdout.contains("0001_schema"), "{}", r.stdout);
    }
    assert_eq!(users(&c).await, ["andrew", "bayko"]);
    assert_eq!(tables(&c).await, ["users"]);

    // A baseline that names no file is refused offline, before any connection.
    env.write_stack(&plain.replace(
        "    migrations: sql/migrations\n",
        "    migrations: sql/migrations\n    migrations_baseline: 10\n",
    ));
    let r = env.run(&["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "stack.yaml:{}:",
            line + 1
        )) && r
            .stderr
            .contains("migrations_baseline: 10 names no migration file (the files are numbered 0001, 0002)"),
        "{}",
        r.stderr
    );

    env.write_stack(&plain.replace(
        "    migrations: sql/migrations\n",
        "    migrations: sql/migrations\n    migrations_baseline: 1\n",
    ));
    let r = env.run(&["--db-endpoint", &ep, "plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    let block = |address: &str| {
        let start = r
            .stdout
            .find(&format!("+ {address}\n"))
            .unwrap_or_else(|| panic!("{address} not planned:\n{}", r.stdout));
        let rest = &r.stdout[start + address.len() + 3..];
        let end = rest.find("\n  + ").or_else(|| rest.find("\n\n"));
        rest[..end.unwrap_or(rest.len())].to_string()
    };
    let recorded = "baseline = \"recorded as applied, not run (migrations_baseline: 1)\"";
    let m = "db_instances.cruddur-db-instance.migrations";
    assert!(
        block(&format!("{m}.0001_schema")).contains(recorded),
        "{}",
        r.stdout
    );
    assert!(
        block("db_instances.cruddur-db-instance.seed").contains(recorded),
        "{}",
        r.stdout
    );
    assert!(
        !block(&format!("{m}.0002_email")).contains("baseline"),
        "{}",
        r.stdout
    );
    assert_eq!(
        users(&c).await,
        ["andrew", "bayko"],
        "plan wrote to the database"
    );

    let r = env.ok(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    assert!(
        r.stderr
            .contains("recording 0001_schema, seed as applied without running them"),
        "{}",
        r.all()
    );
    // 0001 (which drops the table) and the seed did not run; 0002 did.
    assert_eq!(users(&c).await, ["andrew", "bayko"]);
    let emails: i64 = c
        .query_one("SELECT count(*) FROM users WHERE email IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(emails, 2);
    let rows: Vec<(String, String)> = c
        .query(
            "SELECT version, checksum FROM deploy_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let versions: Vec<&str> = rows.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(versions, ["0001_schema", "0002_email", "seed"]);
    use sha2::Digest;
    let sum: String = sha2::Sha256::digest(schema)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(rows[0].1, sum);
    let r = env.run(&["--db-endpoint", &ep, "plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());

    // A checkout that turned every line ending into CRLF: nothing is "edited".
    for f in [
        "sql/migrations/0001_schema.sql",
        "sql/migrations/0002_email.sql",
    ] {
        let text = std::fs::read_to_string(env.path(f)).unwrap();
        std::fs::write(env.path(f), text.replace('\n', "\r\n")).unwrap();
    }
    let r = env.run(&["--db-endpoint", &ep, "plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    db.drop_db().await;
}

/// `deploy ARGS` in `dir` with no AWS credentials, no region, and every AWS call sent to a
/// closed port: a command that succeeds made no AWS call.
fn offline(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> super::common::Run {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deploy"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("none"))
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    super::common::Run::from(out)
}

fn project(dir: &Path, db: &Db) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("sql/migrations"), &dir.join("sql/migrations"));
    std::fs::copy(repo.join("sql/seed.sql"), dir.join("sql/seed.sql")).unwrap();
    std::fs::write(dir.join("stack.yaml"), stack(db)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_url_runs_the_migrations_and_seed_on_a_local_database_without_aws() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::new().await;
    project(dir.path(), &db);
    let url = format!("postgresql://postgres@{}:{}/{}", db.host, db.port, db.name);
    let pw = [("PGPASSWORD", "local-docker-pw")];

    // Neither PGPASSWORD nor the instance's secret: refused before connecting, naming both.
    let r = offline(dir.path(), &["migrate", "--url", &url], &[]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("DB_PASSWORD") && r.stderr.contains("PGPASSWORD"),
        "{}",
        r.all()
    );

    let r = offline(dir.path(), &["migrate", "--url", &url, "--status"], &pw);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("pending  db_instances.cruddur-db-instance.seed"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("applied"), "{}", r.stdout);
    let c = db.client().await;
    assert!(
        tables(&c).await.is_empty(),
        "--status wrote to the database"
    );

    let r = offline(dir.path(), &["migrate", "--url", &url], &pw);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("Migrate complete"), "{}", r.stdout);
    assert!(!r.all().contains("local-docker-pw"), "{}", r.all());
    let t = tables(&c).await;
    for want in ["activities", "deploy_migrations", "users"] {
        assert!(t.contains(&want.to_string()), "{want} missing from {t:?}");
    }
    let users: i64 = c
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert!(users > 0, "the seed did not run");

    // Again: nothing to run. Status: everything applied.
    let r = offline(dir.path(), &["migrate", "--url", &url], &pw);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("Nothing to run"), "{}", r.stdout);
    let r = offline(dir.path(), &["migrate", "--url", &url, "--status"], &pw);
    assert!(!r.stdout.contains("pending"), "{}", r.stdout);
    assert!(r.stdout.contains("applied  db_instances"), "{}", r.stdout);

    // An edited file is flagged by --status and refused by migrate; a new file runs.
    let first = std::fs::read_dir(dir.path().join("sql/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let original = std::fs::read_to_string(&first).unwrap();
    std::fs::write(&first, format!("{original}\n-- edited\n")).unwrap();
    let r = offline(dir.path(), &["migrate", "--url", &url, "--status"], &pw);
    assert!(r.stdout.contains("EDITED"), "{}", r.stdout);
    let r = offline(dir.path(), &["migrate", "--url", &url], &pw);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("was edited after it was applied"),
        "{}",
        r.all()
    );
    std::fs::write(&first, original).unwrap();
    std::fs::write(
        dir.path().join("sql/migrations/9000_notes.sql"),
        "CREATE TABLE notes (id int);",
    )
    .unwrap();
    let r = offline(dir.path(), &["migrate", "--url", &url], &pw);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("1 file"), "{}", r.stdout);
    assert!(tables(&c).await.contains(&"notes".to_string()));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_refuses_a_password_in_the_url_and_needs_instance_among_several() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::new().await;
    project(dir.path(), &db);
    let r = offline(
        dir.path(),
        &[
            "migrate",
            "--url",
            &format!("postgresql://postgres:Hunter2-pw@{}:{}/x", db.host, db.port),
        ],
        &[],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("PGPASSWORD"), "{}", r.all());
    assert!(!r.all().contains("Hunter2-pw"), "{}", r.all());

    let mut two = stack(&db);
    two.push_str(
        &two[two.find("  cruddur-db-instance:").unwrap()..]
            .replace("cruddur-db-instance", "other-db"),
    );
    std::fs::write(dir.path().join("stack.yaml"), two).unwrap();
    let url = format!("postgresql://postgres@{}:{}/{}", db.host, db.port, db.name);
    let r = offline(
        dir.path(),
        &["migrate", "--url", &url],
        &[("PGPASSWORD", "x")],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--instance"), "{}", r.all());
    let r = offline(
        dir.path(),
        &["migrate", "--url", &url, "--instance", "other-db"],
        &[("PGPASSWORD", "x")],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains("db_instances.other-db.seed"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("cruddur-db-instance"), "{}", r.all());
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_db_endpoint_stands_for_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::new().await;
    project(dir.path(), &db);
    // Every instance's endpoint is given: migrate needs nothing from AWS.
    let ep = db.endpoint();
    let r = offline(
        dir.path(),
        &["migrate"],
        &[("DEPLOY_DB_ENDPOINT", &ep), ("DB_PASSWORD", "local-pw")],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("Migrate complete"), "{}", r.stdout);
    let r = offline(
        dir.path(),
        &["migrate", "--status"],
        &[
            ("DEPLOY_DB_ENDPOINT", &format!("nope=h:1,{ep}")),
            ("DB_PASSWORD", "local-pw"),
        ],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("no db instance `nope`"), "{}", r.all());
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_without_url_reads_the_instances_endpoint_from_aws() {
    let env = Env::new();
    let db = Db::new().await;
    project(env.dir.path(), &db);
    // Not created yet: said, nothing run.
    let r = env.run(&["migrate"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("db_instances.cruddur-db-instance does not exist")
            && r.stderr.contains("deploy apply"),
        "{}",
        r.all()
    );
    assert_eq!(env.calls(), ["rds.DescribeDBInstances"]);
    // Created (in the emulator): its reported endpoint is where migrate connects, over TLS.
    let ep = db.endpoint();
    env.ok(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    env.calls();
    let r = env.run(&["migrate", "--status"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("cannot connect to the database at")
            && r.stderr.contains("rds.amazonaws.com"),
        "{}",
        r.all()
    );
    assert!(env.calls().contains(&"rds.DescribeDBInstances".to_string()));
    r.assert_no_secret();
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_needs_no_function_or_layer_folder() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::new().await;
    project(dir.path(), &db);
    let mut yaml = stack(&db);
    yaml.push_str(
        "functions:\n  f:\n    source: lambdas/f\n    runtime: python3.12\n    handler: a.h\n    layers:\n      - { name: deps, source: build/layers/deps, runtimes: [python3.12] }\n",
    );
    std::fs::write(dir.path().join("stack.yaml"), yaml).unwrap();
    let url = format!("postgresql://postgres@{}:{}/{}", db.host, db.port, db.name);
    let pw = [("PGPASSWORD", "local-docker-pw")];
    // A checkout whose layer is not built migrates its local database all the same...
    let r = offline(dir.path(), &["migrate", "--url", &url], &pw);
    assert_eq!(r.code, 0, "{}", r.all());
    // ...while what packages the folders still says they are missing.
    let r = offline(dir.path(), &["validate"], &pw);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("lambdas/f") && r.stderr.contains("build/layers/deps"),
        "{}",
        r.all()
    );
    db.drop_db().await;
}

/// The review's item 11: migration versions (and checksums) read back from `deploy_migrations`
/// are text anyone with the database could have written: control characters in them are shown
/// escaped, as in file names, so a planted row cannot colour or forge deploy's output.
#[tokio::test(flavor = "multi_thread")]
async fn control_characters_in_planted_rows_are_shown_escaped() {
    let env = Env::new();
    let db = Db::new().await;
    env.write_file(
        "sql/migrations/0001_a.sql",
        "CREATE TABLE a (id int PRIMARY KEY);",
    );
    env.write_file("sql/seed.sql", "INSERT INTO a VALUES (1);");
    env.write_stack(&stack(&db));
    let ep = db.endpoint();
    env.ok(&["--db-endpoint", &ep, "apply", "--auto-approve"]);
    let c = db.client().await;
    c.batch_execute(
        "INSERT INTO deploy_migrations (version, name, checksum) VALUES (E'0005_evil\\x1b[31m', 'x', 'abc');
         UPDATE deploy_migrations SET checksum = E'\\x1b[31mforged-checksum' WHERE version = '0001_a';",
    )
    .await
    .unwrap();
    env.write_file("sql/migrations/0002_b.sql", "CREATE TABLE b (id int);");
    let r = env.run(&["--db-endpoint", &ep, "plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!r.all().contains('\x1b'), "{:?}", r.all());
    assert!(
        r.stderr
            .contains("but 0005_evil\\u{1b}[31m, which sorts after it"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("applied checksum \\u{1b}[31mfo,"),
        "{}",
        r.stderr
    );
    db.drop_db().await;
}

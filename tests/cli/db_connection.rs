//! The database connection, through the binary: TLS verified against the RDS CAs (or
//! DEPLOY_DB_CA_FILE) with the host name checked, on a throwaway PostgreSQL with TLS; the
//! password never sent where it could be read, shown with small fake servers on loopback; no
//! connection where none is needed (destroy, `output`, a plan of targets without migrations); and
//! a refused connection named with its host, port and cause.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::common::{Env, PASSWORD, Run};

fn stack(migrations: bool) -> String {
    format!(
        r#"
stack: tlstest
db_instances:
  cruddur-db-instance:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: postgres
    master_password: ${{secret:DB_PASSWORD}}
    db_name: postgres
    final_snapshot: false
{}"#,
        if migrations {
            "    migrations: sql/migrations\n"
        } else {
            ""
        }
    )
}

fn run_with(env: &Env, vars: &[(&str, &Path)], args: &[&str]) -> Run {
    let mut c = env.command(args);
    for (k, v) in vars {
        c.env(k, v);
    }
    Run::from(c.output().unwrap())
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed for this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate it signed, for the name `localhost` only.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=deploy test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// A second throwaway cluster, with `ssl = on`, stopped at the end.
struct TlsCluster {
    dir: PathBuf,
    port: u16,
}

impl TlsCluster {
    fn start(certs: &Path) -> TlsCluster {
        let dir = certs.join("pg");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("bash")
            .arg(repo.join("scripts/pg-start.sh"))
            .arg(&dir)
            .env("PG_TLS_DIR", certs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg-start.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"));
        TlsCluster { dir, port }
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let _ = Command::new("bash")
            .arg(repo.join("scripts/pg-stop.sh"))
            .arg(&self.dir)
            .output();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_is_verified_against_the_rds_cas_or_the_named_bundle_with_the_host_name() {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let pg = TlsCluster::start(certs.path());
    let env = Env::new();
    env.write_file("sql/migrations/0001_a.sql", "CREATE TABLE tls_a (id int);");
    env.write_stack(&stack(true));
    let ep = |host: &str| format!("cruddur-db-instance={host}:{}", pg.port);
    let ca = certs.path().join("ca.pem");

    // The server offers TLS with a certificate the RDS CAs did not sign: refused, not used
    // unverified.
    let r = run_with(&env, &[], &["--db-endpoint", &ep("localhost"), "plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("UnknownIssuer"), "{}", r.all());
    assert!(
        r.stderr.contains("RDS certificate authorities"),
        "{}",
        r.all()
    );
    r.assert_no_secret();

    // The certificate names `localhost`, not 127.0.0.1.
    let vars = [("DEPLOY_DB_CA_FILE", ca.as_path())];
    let r = run_with(&env, &vars, &["--db-endpoint", &ep("127.0.0.1"), "plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("not valid for name"), "{}", r.all());

    // With its CA and its name, it connects, and the migration runs over TLS.
    let r = run_with(&env, &vars, &["--db-endpoint", &ep("localhost"), "plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("+ db_instances.cruddur-db-instance.migrations.0001_a"),
        "{}",
        r.all()
    );
    let r = run_with(
        &env,
        &vars,
        &["--db-endpoint", &ep("localhost"), "apply", "--auto-approve"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
}

/// What a fake PostgreSQL received from deploy after its authentication request, having
/// answered the TLS request with `ssl_answer` (`N`: no TLS here).
fn fake_server_answering(
    ssl_answer: u8,
    auth_request: Vec<u8>,
) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let read_message = |s: &mut std::net::TcpStream| {
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut body).unwrap();
            body
        };
        // SSLRequest (code 80877103): no TLS here. Then the startup message.
        if read_message(&mut s) == 80877103u32.to_be_bytes() {
            s.write_all(&[ssl_answer]).unwrap();
            if ssl_answer == b'N' {
                read_message(&mut s);
            }
        }
        s.write_all(&auth_request).unwrap();
        // Whatever the client sends next, until it hangs up.
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    });
    (port, handle)
}

fn auth(code: u32, extra: &[u8]) -> Vec<u8> {
    let mut m = vec![b'R'];
    m.extend(((8 + extra.len()) as u32).to_be_bytes());
    m.extend(code.to_be_bytes());
    m.extend(extra);
    m
}

/// `deploy plan` with migrations against a fake server answering the TLS request with
/// `ssl_answer` and then asking for `auth_request`: the plan fails, and what the server received
/// holds no password (nor does deploy's output).
fn plan_against(ssl_answer: u8, auth_request: Vec<u8>) -> (Run, Vec<u8>) {
    let env = Env::new();
    env.write_stack(&stack(true));
    env.write_file("sql/migrations/0001_a.sql", "select 1;");
    let (port, server) = fake_server_answering(ssl_answer, auth_request);
    let r = env.run(&[
        "--db-endpoint",
        &format!("cruddur-db-instance=127.0.0.1:{port}"),
        "plan",
    ]);
    let got = server.join().unwrap();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        !got.windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes()),
        "the password reached the server: {}",
        String::from_utf8_lossy(&got)
    );
    r.assert_no_secret();
    (r, got)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_asking_for_the_password_in_clear_text_never_gets_it() {
    let (r, got) = plan_against(b'N', auth(3, b""));
    assert!(r.stderr.contains("in clear text"), "{}", r.all());
    assert!(got.is_empty(), "deploy answered: {got:?}");
}

/// A server answering the TLS request with neither `S` nor `N` (here `X`), then asking for the
/// password in clear text: the client takes `X` for "no TLS", so a guard that read `X` as the
/// start of a message would miss the request. deploy stops at the `X`.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_answering_the_tls_request_with_another_byte_never_gets_the_password() {
    let (r, _) = plan_against(b'X', auth(3, b""));
    assert!(r.stderr.contains("neither `S` nor `N`"), "{}", r.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unverified_server_asking_for_md5_gets_no_answer() {
    let (r, got) = plan_against(b'N', auth(5, b"salt"));
    assert!(r.stderr.contains("MD5"), "{}", r.all());
    assert!(got.is_empty(), "deploy answered: {got:?}");
}

/// Destroy leaves migrations to the instance's deletion: an unreachable database must not stop
/// it, even with the password at hand.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_does_not_connect_to_the_database() {
    let env = Env::new();
    env.write_stack(&stack(true));
    env.write_file("sql/migrations/0001_a.sql", "select 1;");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let ep = format!("cruddur-db-instance=127.0.0.1:{port}");
    let r = env.run(&["--db-endpoint", &ep, "plan"]);
    assert_eq!(r.code, 1, "plan does need the database: {}", r.all());
    let r = env.run(&["--db-endpoint", &ep, "destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// A file that would commit part of itself is refused at plan time, with its line.
#[tokio::test(flavor = "multi_thread")]
async fn a_migration_ending_its_transaction_is_a_plan_error_with_its_line() {
    let env = Env::new();
    env.write_stack(&stack(true));
    env.write_file(
        "sql/migrations/0001_a.sql",
        "CREATE TABLE a (id int);\n-- done\nCOMMIT;\nINSERT INTO nope VALUES (1);\n",
    );
    let r = env.run(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("0001_a.sql:3: `COMMIT`"), "{}", r.all());
    assert!(env.writes().is_empty());
}

/// The shipped Lambda verifies the database: `sslmode=verify-full` with the RDS bundle that
/// `scripts/build-layer.sh` puts at the layer's root (mounted at /opt).
#[test]
fn the_shipped_function_connects_with_verify_full_and_the_layers_bundle() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stack = std::fs::read_to_string(repo.join("stack.yaml")).unwrap();
    let url = stack
        .lines()
        .find_map(|l| l.trim().strip_prefix("CONNECTION_URL:"))
        .expect("the shipped function has a CONNECTION_URL");
    assert!(url.contains("sslmode=verify-full"), "{url}");
    assert!(url.contains("sslrootcert=/opt/rds-ca-bundle.pem"), "{url}");
    assert!(stack.contains("source: build/layers/psycopg2"));
    let script = std::fs::read_to_string(repo.join("scripts/build-layer.sh")).unwrap();
    assert!(
        script.contains(r#"install -m 644 "$CA_BUNDLE" "$stage/rds-ca-bundle.pem""#),
        "build-layer.sh no longer puts the bundle at the layer's root"
    );
    assert!(script.contains("CA_BUNDLE=certs/rds-ca-bundle.pem"));
}

#[test]
fn a_db_endpoint_that_refuses_names_host_port_and_cause() {
    let env = super::common::Env::new();
    let db = "stack: s\ndb_instances:\n  db:\n    engine: postgres\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    master_username: root\n    master_password: ${secret:DB_PASSWORD}\n    final_snapshot: false\n";
    env.write_stack(db);
    env.ok(&["apply", "--auto-approve"]);
    env.write_file("sql/0001_a.sql", "select 1;");
    env.write_stack(&format!("{db}    migrations: sql\n"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = env.run(&["--db-endpoint", &format!("db=127.0.0.1:{port}"), "plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "cannot connect to the database at 127.0.0.1:{port} as root: Connection refused"
        )),
        "{}",
        r.stderr
    );
}

const DB_STACK: &str = r#"
stack: dbreach
db_instances:
  db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    final_snapshot: false
user_pools:
  pool:
    username_attributes: [email]
outputs:
  POOL_ID: ${user_pools.pool.id}
  DB_HOST: ${db_instances.db.address}
"#;

/// The trial's bug 4: with `migrations:`, `output` and a plan targeting the pool connected to
/// the database, and failed where it is unreachable.
#[test]
fn output_and_a_plan_of_targets_without_migrations_do_not_connect_to_the_database() {
    let env = Env::new();
    env.write_stack(DB_STACK);
    env.ok(&["apply", "--auto-approve"]);
    env.write_file("sql/0001_init.sql", "create table t (id int);\n");
    env.write_stack(&DB_STACK.replace(
        "    final_snapshot: false\n",
        "    final_snapshot: false\n    migrations: sql\n",
    ));
    // Port 1 on loopback: nothing listens, so any connection fails at once.
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [args, &["--db-endpoint", "db=127.0.0.1:1"][..]].concat()
    }

    // The database is really unreachable: a plan of everything says so.
    let r = env.run(&with(&["plan"]));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);
    let r = env.run(&with(&["plan", "--target", "db_instances.db"]));
    assert_eq!(r.code, 1, "{}", r.all());

    let r = env.ok(&with(&["output"]));
    assert!(r.stdout.contains("POOL_ID = "), "{}", r.stdout);
    let r = env.ok(&with(&["output", "POOL_ID"]));
    assert!(r.stdout.trim().starts_with("us-east-1_"), "{}", r.stdout);
    env.ok(&with(&["output", "--format", "json"]));
    let r = env.ok(&with(&["plan", "--target", "user_pools.pool"]));
    assert!(r.stdout.contains("No changes"), "{}", r.all());
    assert!(r.stdout.contains("only 1 address ("), "{}", r.stdout);
    // A mistyped target is reported as such, not as the database being unreachable.
    let r = env.run(&with(&["plan", "--target", "user_pools.pol"]));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("--target user_pools.pol matches no address")
            && !r.stderr.contains("cannot connect"),
        "{}",
        r.stderr
    );
}

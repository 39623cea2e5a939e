//! Talking to PostgreSQL: reading `deploy_migrations` and applying files.
//!
//! The connection carries the master password, so it is made as a careful client would:
//!
//! - TLS is verified against the RDS certificate authorities carried in the binary
//!   (`certs/rds-ca-bundle.pem`), or the bundle `DEPLOY_DB_CA_FILE` names, with the host name
//!   checked. A real RDS endpoint always needs TLS (RDS offers it on every instance).
//! - With `--db-endpoint`, a loopback address may be plain TCP (TLS is still used, and verified,
//!   when the server offers it); any other address needs TLS unless `--db-insecure-plaintext`
//!   says otherwise, loudly.
//! - SCRAM uses channel binding when the server offers it over TLS. The password itself never
//!   leaves in clear text: tokio-postgres answers whatever the server asks for, so [`Guard`]
//!   reads the server's authentication request before tokio-postgres does and ends the
//!   connection on a cleartext request (always), or an MD5 one when the server is not verified
//!   (an MD5 answer can be replayed by whoever sits in the middle). RDS's default since
//!   PostgreSQL 14 is `password_encryption = scram-sha-256`, so a default instance connects;
//!   an older instance whose password is still stored as MD5 connects over verified TLS.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::{ChannelBinding, SslMode};
use tokio_postgres::tls::{self, MakeTlsConnect, TlsConnect};

use super::{Conn, Observed, Preexisting, Spec, shown_path};
use crate::context::Events;
use crate::error::{Error, Result};
use crate::plan::Change;
use crate::resources::core::{Adapter, Attrs, Ctx, Found, Key, LiveEnv};
use crate::settings::DbSettings;
use crate::stack::{Resolver, Stack};

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS public.deploy_migrations (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Relations of the database's own: tables (also partitioned and foreign ones), views,
/// materialized views and sequences outside the system schemas (`pg_*` names are reserved to
/// PostgreSQL, so `NOT LIKE 'pg\_%'` covers pg_catalog, pg_toast* and other sessions' pg_temp*).
/// Members of an extension (postgis' `spatial_ref_sys`) are CREATE EXTENSION's, not data of the
/// user's. Tables come first among the few named.
const PREEXISTING: &str = r"
SELECT count(*) OVER (),
       n.nspname::text, c.relname::text,
       CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' ELSE 'table' END
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
   AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY c.relkind NOT IN ('r', 'p', 'f'), n.nspname <> 'public', n.nspname, c.relname
 LIMIT 5";

/// What the database holds of its own, if anything (see [`PREEXISTING`]).
async fn preexisting(
    c: &impl tokio_postgres::GenericClient,
    address: &str,
) -> Result<Option<Preexisting>> {
    let rows = c
        .query(PREEXISTING, &[])
        .await
        .map_err(|e| Error::other(format!("reading what the database holds: {e}")).at(address))?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(Preexisting {
        relations: first.get(0),
        names: rows
            .iter()
            .map(|r| {
                let (schema, name, kind): (String, String, String) = (r.get(1), r.get(2), r.get(3));
                let name = if schema == "public" {
                    name
                } else {
                    format!("{schema}.{name}")
                };
                format!("{} ({kind})", crate::value::escape_controls(&name))
            })
            .collect(),
    }))
}

/// The RDS certificate authorities (see `certs/README.md` for where they come from).
pub const RDS_CA_BUNDLE: &[u8] = include_bytes!("../../../certs/rds-ca-bundle.pem");

/// The plain-TCP warning is said once per process, however many connections follow.
static WARNED: AtomicBool = AtomicBool::new(false);

/// How a connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TLS, verified; the server must offer it.
    Tls,
    /// TLS (verified) when the server offers it, else plain TCP: loopback only.
    TlsIfOffered,
    /// Plain TCP, asked for with `--db-insecure-plaintext`.
    Plain,
}

/// `local`: the address comes from `--db-endpoint`.
pub fn transport(host: &str, local: bool, insecure_plaintext: bool) -> Transport {
    match (local, insecure_plaintext) {
        (false, _) => Transport::Tls,
        (true, true) => Transport::Plain,
        (true, false) if is_loopback(host) => Transport::TlsIfOffered,
        (true, false) => Transport::Tls,
    }
}

/// Decided from the address as written, without DNS: a name that merely resolves to a loopback
/// address is not trusted to stay one.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `ca_file`: `DEPLOY_DB_CA_FILE`, else the bundle built in.
fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore> {
    let (certs, from) = match ca_file {
        Some(path) => {
            let ca = path.display();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| Error::user(format!("DEPLOY_DB_CA_FILE={ca}: {e}")))?
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::user(format!("DEPLOY_DB_CA_FILE={ca}: {e}")))?;
            (certs, format!("DEPLOY_DB_CA_FILE={ca}"))
        }
        None => {
            let certs = CertificateDer::pem_slice_iter(RDS_CA_BUNDLE)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::other(format!("the built-in RDS CA bundle: {e}")))?;
            (certs, "the built-in RDS CA bundle".to_string())
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(Error::user(format!(
            "{from} holds no usable certificate: point DEPLOY_DB_CA_FILE at a CA bundle (PEM)"
        )));
    }
    Ok(roots)
}

/// Verifies the server's chain and that its certificate names the host.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::other(format!("TLS setup: {e}")))?
        .with_root_certificates(roots(ca_file)?)
        .with_no_client_auth())
}

/// What [`Guard`] is reading.
#[derive(Clone, Copy, Debug)]
enum Watch {
    /// The one-byte answer to SSLRequest: `S` (TLS follows, watched inside it) or `N`.
    SslAnswer,
    /// The start of a message: type, length and, for `R`, the authentication code.
    Header,
    /// The rest of a message.
    Skip(usize),
    /// Authenticated (or TLS took over): nothing more to watch.
    Off,
}

/// A stream that watches the server's authentication requests and fails the read that carries
/// one deploy must not answer, so tokio-postgres never sees it and never writes the password.
pub struct Guard<S> {
    inner: S,
    verified: bool,
    watch: Watch,
    head: [u8; 9],
    have: usize,
}

const CLEARTEXT: u32 = 3;
const MD5: u32 = 5;

impl<S> Guard<S> {
    /// `ssl_request`: tokio-postgres sends SSLRequest first, so the first byte back answers it.
    fn new(inner: S, verified: bool, ssl_request: bool) -> Self {
        Guard {
            inner,
            verified,
            watch: if ssl_request {
                Watch::SslAnswer
            } else {
                Watch::Header
            },
            head: [0; 9],
            have: 0,
        }
    }

    fn inspect(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &b in bytes {
            match self.watch {
                Watch::Off => return Ok(()),
                Watch::SslAnswer => {
                    self.watch = match b {
                        b'S' => Watch::Off,
                        b'N' => Watch::Header,
                        // The client reads any other byte as "no TLS" and consumes it, so
                        // reading it as the start of a message would put the guard out of step
                        // with the client, and a cleartext request could pass unseen.
                        _ => {
                            return Err(io::Error::new(
                                io::ErrorKind::PermissionDenied,
                                format!(
                                    "the server answered the TLS request with {:?}, which is neither `S` nor `N`: deploy does not talk to it",
                                    char::from(b).escape_default().to_string()
                                ),
                            ));
                        }
                    }
                }
                Watch::Header => {
                    self.head[self.have] = b;
                    self.have += 1;
                    let need = if self.head[0] == b'R' { 9 } else { 5 };
                    if self.have < need {
                        continue;
                    }
                    self.have = 0;
                    let len = u32::from_be_bytes([
                        self.head[1],
                        self.head[2],
                        self.head[3],
                        self.head[4],
                    ]) as usize;
                    if self.head[0] == b'R' {
                        let code = u32::from_be_bytes([
                            self.head[5],
                            self.head[6],
                            self.head[7],
                            self.head[8],
                        ]);
                        self.check(code)?;
                        if code == 0 {
                            self.watch = Watch::Off;
                            return Ok(());
                        }
                    }
                    let rest = len.saturating_sub(4 + (need - 5));
                    self.watch = if rest == 0 {
                        Watch::Header
                    } else {
                        Watch::Skip(rest)
                    };
                }
                Watch::Skip(n) => {
                    self.watch = if n <= 1 {
                        Watch::Header
                    } else {
                        Watch::Skip(n - 1)
                    };
                }
            }
        }
        Ok(())
    }

    fn check(&self, code: u32) -> io::Result<()> {
        let refuse = |why: &str| {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                why.to_string(),
            ))
        };
        match code {
            CLEARTEXT => refuse(
                "the server asked for the password in clear text, which deploy never sends: configure the server for scram-sha-256 (RDS's default since PostgreSQL 14)",
            ),
            MD5 if !self.verified => refuse(
                "the server asked for an MD5 password hash over a connection whose server is not verified, which deploy refuses (the answer can be replayed): use scram-sha-256, or TLS with a certificate deploy can verify",
            ),
            _ => Ok(()),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if !matches!(self.watch, Watch::Off) {
            self.inspect(&buf.filled()[before..])?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: tls::TlsStream + Unpin> tls::TlsStream for Guard<S> {
    fn channel_binding(&self) -> tls::ChannelBinding {
        self.inner.channel_binding()
    }
}

/// A TLS connector whose stream is watched by a [`Guard`] (the server behind it is verified).
struct GuardedTls<T>(T);

impl<S, T> TlsConnect<S> for GuardedTls<T>
where
    T: TlsConnect<S, Error = io::Error>,
    T::Future: Send + 'static,
{
    type Stream = Guard<T::Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Stream>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let handshake = self.0.connect(stream);
        Box::pin(async move { handshake.await.map(|s| Guard::new(s, true, false)) })
    }
}

/// An error with its causes, in one line (tokio-postgres puts the useful part in the causes).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

async fn connect(db: &DbSettings, address: &str, c: &Conn) -> Result<tokio_postgres::Client> {
    let (Some(host), Some(port)) = (c.host.expose(), c.port.expose()) else {
        return Err(Error::other(format!(
            "{address}: the database endpoint is not known yet"
        )));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| Error::other(format!("bad database port {port}")).at(address))?;
    let transport = transport(host, c.local, db.insecure_plaintext);
    if transport == Transport::Plain && !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "warning: --db-insecure-plaintext: connecting to the database at {host}:{port} without TLS; anyone on the network path can read and change the migrations and their results (the password itself is only sent through SCRAM)"
        );
    }
    let fail = |what: String| {
        let hint = if !c.local {
            " (is the instance reachable from here? publicly_accessible and a rule for your IP are needed; against an emulator, pass --db-endpoint ID=HOST:PORT)".to_string()
        } else if transport == Transport::Tls && !what.contains("certificate") {
            format!(
                " ({host} is not a loopback address, so deploy needs TLS there; if the server has none, --db-insecure-plaintext connects without it)"
            )
        } else {
            String::new()
        };
        let cert_hint = if what.contains("certificate") {
            " (the server's certificate must be signed by the RDS certificate authorities deploy carries, or by those in DEPLOY_DB_CA_FILE, and name the host deploy connects to)"
        } else {
            ""
        };
        Error::other(format!(
            "{address}: cannot connect to the database at {host}:{port} as {}: {what}{cert_hint}{hint}",
            c.user
        ))
    };
    let mut cfg = tokio_postgres::Config::new();
    cfg.user(&c.user)
        .dbname(&c.dbname)
        .application_name("deploy")
        .channel_binding(ChannelBinding::Prefer)
        .ssl_mode(match transport {
            Transport::Tls => SslMode::Require,
            Transport::TlsIfOffered => SslMode::Prefer,
            Transport::Plain => SslMode::Disable,
        });
    if let Some(p) = c.password.as_ref().and_then(|p| p.expose()) {
        cfg.password(p);
    }
    let timeout = Duration::from_secs(15);
    let socket = tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| fail("no answer within 15 s".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let _ = socket.set_nodelay(true);
    let stream = Guard::new(socket, false, transport != Transport::Plain);
    let mut make =
        tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(db.ca_file.as_deref())?);
    let tls = GuardedTls(
        MakeTlsConnect::<Guard<tokio::net::TcpStream>>::make_tls_connect(&mut make, host)
            .map_err(|e| fail(e.to_string()))?,
    );
    let (client, connection) = tokio::time::timeout(timeout, cfg.connect_raw(stream, tls))
        .await
        .map_err(|_| fail("the server did not complete the login within 15 s".into()))?
        .map_err(|e| fail(chain(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("database connection closed: {e}");
        }
    });
    Ok(client)
}

/// Reads `deploy_migrations` of every instance that has migrations or a seed and exists.
/// `dbs`: the instances found, with their attributes.
pub async fn observe(
    db: &DbSettings,
    stack: &Stack,
    env: &LiveEnv,
    dbs: &[Found<Attrs>],
) -> Result<Vec<Found<Observed>>> {
    let mut resolver = Resolver::default();
    for f in dbs {
        resolver.set(&f.address, f.observed.clone());
    }
    let mut out = Vec::new();
    for (id, d) in &stack.db_instances {
        if d.migrations.is_none() && d.seed.is_none() {
            continue;
        }
        let address = format!("db_instances.{id}");
        // An instance that does not exist yet has applied nothing: everything is pending.
        if !env.db_endpoints.contains_key(id) && !dbs.iter().any(|f| f.address == address) {
            continue;
        }
        let conn = super::conn(id, d, &resolver, env);
        if conn.password.is_none() || !conn.host.is_known() {
            continue;
        }
        let client = connect(db, &address, &conn).await?;
        let exists: Option<String> = client
            .query_one("SELECT to_regclass('public.deploy_migrations')::text", &[])
            .await
            .map_err(|e| Error::other(format!("reading deploy_migrations: {e}")).at(&address))?
            .get(0);
        if exists.is_none() {
            // Nothing deploy ran is recorded: a database with relations of its own was made
            // before deploy, and every file and the seed must hear of it.
            if let Some(p) = preexisting(&client, &address).await? {
                let folder = d
                    .migrations
                    .as_deref()
                    .and_then(|m| super::files(m).ok())
                    .unwrap_or_default();
                let seed = d.seed.as_ref().map(|_| {
                    (
                        super::seed_address(id),
                        Key::Seed(id.clone()),
                        "seed".to_string(),
                    )
                });
                for (address, key, version) in folder
                    .iter()
                    .map(|f| {
                        (
                            super::migration_address(id, &f.name),
                            Key::Migration {
                                db: id.clone(),
                                name: f.name.clone(),
                            },
                            f.version.clone(),
                        )
                    })
                    .chain(seed)
                {
                    out.push(Found {
                        address,
                        key,
                        observed: Observed {
                            version,
                            checksum: String::new(),
                            out_of_order: None,
                            preexisting: Some(p.clone()),
                        },
                    });
                }
            }
            continue;
        }
        let rows = client
            .query(
                "SELECT version, checksum FROM public.deploy_migrations",
                &[],
            )
            .await
            .map_err(|e| Error::other(format!("reading deploy_migrations: {e}")).at(&address))?;
        // Rows are text anyone with the database could have written: a version or checksum
        // holding control characters is shown escaped, as file names are (a file name with one
        // is refused, so no file matches such a row either way).
        let escaped = |r: &tokio_postgres::Row, i: usize| {
            crate::value::escape_controls(&r.get::<_, String>(i))
        };
        let applied: Vec<String> = rows.iter().map(|r| escaped(r, 0)).collect();
        let folder = d
            .migrations
            .as_deref()
            .and_then(|m| super::files(m).ok())
            .unwrap_or_default();
        for (f, late) in super::out_of_order(&folder, &applied) {
            out.push(Found {
                address: super::migration_address(id, &f.name),
                key: Key::Migration {
                    db: id.clone(),
                    name: f.name.clone(),
                },
                observed: Observed {
                    version: f.version.clone(),
                    checksum: String::new(),
                    out_of_order: Some(late),
                    preexisting: None,
                },
            });
        }
        for row in rows {
            let version = escaped(&row, 0);
            let checksum = escaped(&row, 1);
            let (address, key) = if version == "seed" {
                (super::seed_address(id), Key::Seed(id.clone()))
            } else {
                (
                    super::migration_address(id, &version),
                    Key::Migration {
                        db: id.clone(),
                        name: version.clone(),
                    },
                )
            };
            out.push(Found {
                address,
                key,
                observed: Observed {
                    version,
                    checksum,
                    out_of_order: None,
                    preexisting: None,
                },
            });
        }
    }
    Ok(out)
}

/// Applies one file in its own transaction and records it; a concurrent apply of the same stack
/// waits on the advisory lock and then sees the row. Needs no AWS: `deploy migrate --url` runs
/// it against any database.
pub async fn run(
    progress: &dyn Events,
    db: &DbSettings,
    address: &str,
    s: &Spec,
) -> Result<Observed> {
    let sql = std::fs::read_to_string(&s.file.path).map_err(|e| {
        Error::other(format!(
            "{address}: cannot read {}: {e}",
            shown_path(&s.file.path)
        ))
    })?;
    let mut client = connect(db, address, &s.conn).await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| Error::other(e.to_string()).at(address))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('deploy_migrations'))",
        &[],
    )
    .await
    .map_err(|e| Error::other(e.to_string()).at(address))?;
    // Checked again under the lock, whatever the plan saw: relations may have appeared since,
    // or the plan could not connect yet. Created in this transaction, the table is there only
    // if the file below commits.
    let exists: Option<String> = tx
        .query_one("SELECT to_regclass('public.deploy_migrations')::text", &[])
        .await
        .map_err(|e| Error::other(format!("reading deploy_migrations: {e}")).at(address))?
        .get(0);
    let first = exists.is_none();
    let preexisting = if first {
        preexisting(&tx, address).await?
    } else {
        None
    };
    tx.batch_execute(CREATE_TABLE)
        .await
        .map_err(|e| Error::other(format!("creating deploy_migrations: {e}")).at(address))?;
    if let Some(p) = &preexisting {
        let Some(b) = &s.baseline else {
            return Err(Error::other(format!(
                "{address}: {}",
                super::preexisting_message(&s.db, p)
            )));
        };
        // Every file the baseline covers is recorded now, at once: the next ones then find
        // their rows and run nothing, even if the plan saw an empty database.
        let names: Vec<&str> = b.covered.iter().map(|f| f.name.as_str()).collect();
        progress.line(
            address,
            &format!(
                "the database predates deploy: recording {} as applied without running {} (migrations_baseline: {})",
                if names.is_empty() { "nothing".to_string() } else { names.join(", ") },
                if names.len() == 1 { "it" } else { "them" },
                b.version
            ),
        );
        for f in &b.covered {
            tx.execute(
                "INSERT INTO public.deploy_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                &[&f.version, &f.name, &f.checksum],
            )
            .await
            .map_err(|e| Error::other(format!("recording the baseline: {e}")).at(address))?;
        }
    }
    let done = tx
        .query_opt(
            "SELECT checksum FROM public.deploy_migrations WHERE version = $1",
            &[&s.file.version],
        )
        .await
        .map_err(|e| Error::other(e.to_string()).at(address))?;
    if done.is_none() {
        progress.line(address, &format!("running {}", shown_path(&s.file.path)));
        let txid = "SELECT txid_current()::text";
        let before: String = tx
            .query_one(txid, &[])
            .await
            .map_err(|e| Error::other(e.to_string()).at(address))?
            .get(0);
        let ran = tx.batch_execute(&sql).await;
        // The plan refuses files that end the transaction; this catches what the scan missed,
        // and says what really happened rather than "rolled back". On failure too: a file that
        // committed half way and then failed is not rolled back. Inside deploy's own (aborted)
        // transaction the query fails; outside it, it answers with another transaction id.
        let after: Option<String> = tx.query_one(txid, &[]).await.ok().map(|r| r.get(0));
        let ended_by_file = match &ran {
            Ok(()) => after.as_deref() != Some(before.as_str()),
            Err(_) => after.is_some_and(|a| a != before),
        };
        if ended_by_file {
            let failed = match &ran {
                Ok(()) => String::new(),
                Err(e) => format!(" and then failed ({})", db_error_detail(e)),
            };
            return Err(Error::other(format!(
                "{address}: {} ended deploy's transaction itself (a COMMIT, ROLLBACK or END in it){failed}: what ran before that point may be committed, and the file was not recorded as applied; check the database by hand, then fix the file",
                shown_path(&s.file.path)
            )));
        }
        ran.map_err(|e| {
            Error::other(format!(
                "{address}: {} failed and was rolled back: {}",
                shown_path(&s.file.path),
                db_error_detail(&e)
            ))
        })?;
        tx.execute(
            "INSERT INTO public.deploy_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&s.file.version, &s.file.name, &s.file.checksum],
        )
        .await
        .map_err(|e| Error::other(format!("recording the migration: {e}")).at(address))?;
    }
    tx.commit()
        .await
        .map_err(|e| Error::other(format!("commit: {e}")).at(address))?;
    Ok(Observed {
        version: s.file.version.clone(),
        checksum: s.file.checksum.clone(),
        out_of_order: None,
        preexisting: None,
    })
}

fn db_error_detail(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string())
}

/// Migration and seed files: each runs once, in its own transaction.
pub struct Migrations;

impl Adapter for Migrations {
    type Spec = Spec;
    type Observed = Observed;

    async fn create(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        _existing: Option<&Observed>,
    ) -> Result<Observed> {
        run(ctx.progress, &ctx.settings.db, address, s).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        _o: &Observed,
        _change: &Change,
    ) -> Result<Observed> {
        run(ctx.progress, &ctx.settings.db, address, s).await
    }

    /// A file that ran stays run: the record of it is the database's, not this stack's to undo.
    async fn delete(
        _ctx: &Ctx<'_>,
        _address: &str,
        _o: &Observed,
        _replacing: Option<&Spec>,
    ) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend(((payload.len() + 4) as u32).to_be_bytes());
        m.extend(payload);
        m
    }

    fn auth(code: u32) -> Vec<u8> {
        message(b'R', &code.to_be_bytes())
    }

    /// Feeds the server's bytes one read at a time, split at every position.
    fn feed(verified: bool, ssl_request: bool, bytes: &[u8]) -> io::Result<()> {
        for split in 0..bytes.len() {
            let mut g = Guard::new((), verified, ssl_request);
            g.inspect(&bytes[..split])?;
            g.inspect(&bytes[split..])?;
        }
        let mut g = Guard::new((), verified, ssl_request);
        g.inspect(bytes)
    }

    #[test]
    fn a_cleartext_request_is_refused_wherever_the_reads_split() {
        let mut plain = b"N".to_vec();
        plain.extend(auth(CLEARTEXT));
        let e = feed(false, true, &plain).unwrap_err();
        assert!(e.to_string().contains("in clear text"), "{e}");
        // Inside verified TLS too.
        assert!(feed(true, false, &auth(CLEARTEXT)).is_err());
        // After a notice the server sent first.
        let mut noticed = message(b'N', b"SNOTICE\0Mhello\0\0");
        noticed.extend(auth(CLEARTEXT));
        assert!(feed(true, false, &noticed).is_err());
    }

    #[test]
    fn an_answer_to_the_tls_request_other_than_s_or_n_is_refused() {
        for answer in [b'X', b'E', b'R', 0] {
            let mut bytes = vec![answer];
            bytes.extend(auth(CLEARTEXT));
            let e = feed(false, true, &bytes).unwrap_err();
            assert!(e.to_string().contains("neither `S` nor `N`"), "{e}");
        }
        let mut n = b"N".to_vec();
        n.extend(auth(10));
        assert!(feed(false, true, &n).is_ok());
    }

    #[test]
    fn md5_only_to_a_verified_server() {
        let mut md5 = auth(MD5);
        md5.extend(b"salt");
        assert!(feed(true, false, &md5).is_ok());
        let e = feed(false, false, &md5).unwrap_err();
        assert!(e.to_string().contains("MD5"), "{e}");
    }

    #[test]
    fn scram_and_what_follows_authentication_pass() {
        let mut ok = auth(10);
        ok.extend(b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
        ok.extend(auth(0));
        // After AuthenticationOk nothing is watched, even bytes that look like a request.
        ok.extend(auth(CLEARTEXT));
        assert!(feed(false, false, &ok).is_ok());
        // TLS accepted: the plain stream stops watching (the TLS layer's guard takes over).
        let mut tls = b"S".to_vec();
        tls.extend(auth(CLEARTEXT));
        assert!(feed(false, true, &tls).is_ok());
    }

    #[test]
    fn plain_tcp_only_for_loopback_or_when_asked() {
        assert_eq!(
            transport("db.x.rds.amazonaws.com", false, false),
            Transport::Tls
        );
        assert_eq!(
            transport("db.x.rds.amazonaws.com", false, true),
            Transport::Tls
        );
        for h in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert_eq!(transport(h, true, false), Transport::TlsIfOffered, "{h}");
        }
        for h in [
            "10.0.0.5",
            "db.internal",
            "localhost.example.com",
            "0.0.0.0",
        ] {
            assert_eq!(transport(h, true, false), Transport::Tls, "{h}");
            assert_eq!(transport(h, true, true), Transport::Plain, "{h}");
        }
    }

    #[test]
    fn the_built_in_bundle_holds_the_rds_authorities() {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(RDS_CA_BUNDLE)
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(certs);
        assert!(
            added >= 100 && ignored == 0,
            "{added} added, {ignored} ignored"
        );
    }
}

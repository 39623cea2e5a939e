//! Talking to PostgreSQL: reading `deploy_migrations` and applying files.
//!
//! TLS: real RDS requires it. The RDS CA bundle cannot be fetched here, so the server certificate
//! is verified against the CA file the user names in `DEPLOY_DB_CA_FILE`; without one the
//! connection is encrypted but the server is not verified, and deploy says so once. With
//! `--db-endpoint` (a local PostgreSQL, usually without TLS) TLS is used when offered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;

use super::{Conn, Observed, Spec};
use crate::error::{Error, Result};
use crate::plan::Change;
use crate::resources::core::{Adapter, Attrs, Ctx, Found, Key, LiveEnv};
use crate::stack::{Resolver, Stack};

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS public.deploy_migrations (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

static WARNED: AtomicBool = AtomicBool::new(false);

/// `warn`: say once that the server is not verified (not for `--db-endpoint`, where TLS is only
/// opportunistic anyway).
fn tls_config(warn: bool) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Other(format!("TLS setup: {e}")))?;
    if let Ok(ca) = std::env::var("DEPLOY_DB_CA_FILE") {
        let mut roots = rustls::RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&ca)
            .map_err(|e| Error::User(format!("DEPLOY_DB_CA_FILE={ca}: {e}")))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::User(format!("DEPLOY_DB_CA_FILE={ca}: {e}")))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::User(format!(
                "DEPLOY_DB_CA_FILE={ca} holds no usable certificate: point it at the RDS CA bundle (PEM)"
            )));
        }
        return Ok(builder.with_root_certificates(roots).with_no_client_auth());
    }
    if warn && !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "warning: database connections are encrypted but the server certificate is not verified; set DEPLOY_DB_CA_FILE to the RDS CA bundle (global-bundle.pem) to verify it"
        );
    }
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth())
}

/// Accepts any server certificate but still checks the handshake signatures, so the channel is
/// encrypted to whoever holds the key of the presented certificate.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

async fn connect(address: &str, c: &Conn) -> Result<tokio_postgres::Client> {
    let (Some(host), Some(port)) = (c.host.expose(), c.port.expose()) else {
        return Err(Error::Other(format!(
            "{address}: the database endpoint is not known yet"
        )));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| Error::Other(format!("{address}: bad database port {port}")))?;
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(host)
        .port(port)
        .user(&c.user)
        .dbname(&c.dbname)
        .application_name("deploy")
        .connect_timeout(Duration::from_secs(15))
        .ssl_mode(if c.local {
            SslMode::Prefer
        } else {
            SslMode::Require
        });
    if let Some(p) = c.password.as_ref().and_then(|p| p.expose()) {
        cfg.password(p);
    }
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(!c.local)?);
    let (client, connection) = cfg.connect(tls).await.map_err(|e| {
        let hint = if c.local {
            String::new()
        } else {
            " (is the instance reachable from here? publicly_accessible and a rule for your IP are needed; against an emulator, pass --db-endpoint ID=HOST:PORT)".into()
        };
        Error::Other(format!("{address}: cannot connect to the database at {host}:{port} as {}: {e}{hint}", c.user))
    })?;
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
        let client = connect(&address, &conn).await?;
        let exists: Option<String> = client
            .query_one("SELECT to_regclass('public.deploy_migrations')::text", &[])
            .await
            .map_err(|e| Error::Other(format!("{address}: reading deploy_migrations: {e}")))?
            .get(0);
        if exists.is_none() {
            continue;
        }
        let rows = client
            .query(
                "SELECT version, checksum FROM public.deploy_migrations",
                &[],
            )
            .await
            .map_err(|e| Error::Other(format!("{address}: reading deploy_migrations: {e}")))?;
        for row in rows {
            let version: String = row.get(0);
            let checksum: String = row.get(1);
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
                observed: Observed { version, checksum },
            });
        }
    }
    Ok(out)
}

/// Applies one file in its own transaction and records it; a concurrent apply of the same stack
/// waits on the advisory lock and then sees the row.
async fn run(ctx: &Ctx<'_>, address: &str, s: &Spec) -> Result<Observed> {
    let sql = std::fs::read_to_string(&s.file.path).map_err(|e| {
        Error::Other(format!(
            "{address}: cannot read {}: {e}",
            s.file.path.display()
        ))
    })?;
    let mut client = connect(address, &s.conn).await?;
    client
        .batch_execute(CREATE_TABLE)
        .await
        .map_err(|e| Error::Other(format!("{address}: creating deploy_migrations: {e}")))?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| Error::Other(format!("{address}: {e}")))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('deploy_migrations'))",
        &[],
    )
    .await
    .map_err(|e| Error::Other(format!("{address}: {e}")))?;
    let done = tx
        .query_opt(
            "SELECT checksum FROM public.deploy_migrations WHERE version = $1",
            &[&s.file.version],
        )
        .await
        .map_err(|e| Error::Other(format!("{address}: {e}")))?;
    if done.is_none() {
        ctx.progress
            .line(address, format!("running {}", s.file.path.display()));
        tx.batch_execute(&sql).await.map_err(|e| {
            let detail = e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string());
            Error::Other(format!(
                "{address}: {} failed and was rolled back: {detail}",
                s.file.path.display()
            ))
        })?;
        tx.execute(
            "INSERT INTO public.deploy_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&s.file.version, &s.file.name, &s.file.checksum],
        )
        .await
        .map_err(|e| Error::Other(format!("{address}: recording the migration: {e}")))?;
    }
    tx.commit()
        .await
        .map_err(|e| Error::Other(format!("{address}: commit: {e}")))?;
    Ok(Observed {
        version: s.file.version.clone(),
        checksum: s.file.checksum.clone(),
    })
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
        run(ctx, address, s).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        address: &str,
        s: &Spec,
        _o: &Observed,
        _change: &Change,
    ) -> Result<Observed> {
        run(ctx, address, s).await
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

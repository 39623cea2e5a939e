//! `deploy psql`: psql on an instance's database, over verified TLS, with the password in
//! psql's environment only (the seed's `db-connect`).
//!
//! libpq's `sslmode=verify-full` checks the chain against `sslrootcert` and that the
//! certificate names the host (https://www.postgresql.org/docs/current/libpq-ssl.html); RDS
//! signs its endpoints' certificates with the CAs of its bundle
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html). PGPASSWORD is
//! read from the environment, which other users cannot see, unlike argv
//! (https://www.postgresql.org/docs/current/libpq-envars.html).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::aws::{AwsOptions, Clients};
use crate::error::{Error, Result};
use crate::ops::dburl;
use crate::resources::core::Key;
use crate::resources::migration::db::{RDS_CA_BUNDLE, Transport, transport};
use crate::settings::DbSettings;
use crate::stack::{Password, Stack};

pub struct Options<'a> {
    pub instance: Option<&'a str>,
    pub url: Option<&'a str>,
    pub psql_args: &'a [String],
    pub aws: &'a AwsOptions,
    pub db_endpoints: &'a BTreeMap<String, (String, u16)>,
    /// `--db-insecure-plaintext` and `DEPLOY_DB_CA_FILE`.
    pub db: &'a DbSettings,
}

/// Where psql connects and how.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub transport: Transport,
}

/// A libpq connection string (keyword=value, values quoted): no password ever goes in it.
pub fn conninfo(t: &Target, rootcert: Option<&std::path::Path>) -> String {
    let q = |v: &str| format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'"));
    let mut parts = vec![
        format!("host={}", q(&t.host)),
        format!("port={}", t.port),
        format!("user={}", q(&t.user)),
        format!("dbname={}", q(&t.dbname)),
        "application_name=deploy-psql".to_string(),
    ];
    match t.transport {
        Transport::Tls => {
            parts.push("sslmode=verify-full".into());
            if let Some(p) = rootcert {
                parts.push(format!("sslrootcert={}", q(&p.display().to_string())));
            }
        }
        Transport::TlsIfOffered => parts.push("sslmode=prefer".into()),
        Transport::Plain => parts.push("sslmode=disable".into()),
    }
    parts.join(" ")
}

pub async fn run(stack: &Stack, o: Options<'_>) -> Result<u8> {
    let id = dburl::instance(stack, o.instance, |_| true, "", "INSTANCE")?;
    let d = &stack.db_instances[&id];
    let url = o.url.map(dburl::parse).transpose()?;
    let (host, port, local) = match (&url, o.db_endpoints.get(&id)) {
        (Some(u), _) => (u.host.clone(), u.port, true),
        (None, Some((h, p))) => (h.clone(), *p, true),
        (None, None) => {
            let clients = Clients::new(o.aws, stack.region.as_deref()).await?;
            let found = crate::resources::db_instance::aws::observe(&clients, stack).await?;
            let f = found
                .iter()
                .find(|f| matches!(&f.key, Key::DbInstance(n) if *n == id))
                .ok_or_else(|| {
                    Error::user(format!(
                        "db_instances.{id} does not exist in {}: run `deploy apply` first",
                        clients.region
                    ))
                })?;
            match (&f.observed.address, f.observed.port) {
                (Some(a), Some(p)) => (a.clone(), p as u16, false),
                _ => {
                    return Err(Error::user(format!(
                        "db_instances.{id} has no endpoint yet (status {}): wait until it is available",
                        f.observed.status
                    )));
                }
            }
        }
    };
    let target = Target {
        transport: transport(&host, local, o.db.insecure_plaintext),
        host,
        port,
        user: url
            .as_ref()
            .and_then(|u| u.user.clone())
            .unwrap_or_else(|| d.master_username.clone()),
        dbname: url
            .as_ref()
            .and_then(|u| u.dbname.clone())
            .or_else(|| d.db_name.clone())
            .unwrap_or_else(|| "postgres".into()),
    };
    // PGPASSWORD as set wins (psql inherits it); else the instance's secret, if loaded.
    let password = match (std::env::var_os("PGPASSWORD"), &d.password) {
        (Some(_), _) => None,
        (None, Password::Secret(t)) => crate::stack::Resolver::default()
            .resolve(t)
            .expose()
            .map(str::to_string),
        (None, Password::Managed) => None,
    };
    let mut ca = CaFile::none();
    let rootcert = match (target.transport, &o.db.ca_file) {
        (Transport::Tls, Some(p)) => Some(p.clone()),
        (Transport::Tls, None) => {
            ca = CaFile::write()?;
            ca.0.clone()
        }
        _ => None,
    };
    if target.transport == Transport::Plain {
        eprintln!(
            "warning: --db-insecure-plaintext: psql connects to {}:{} without TLS",
            target.host, target.port
        );
    }
    let mut cmd = std::process::Command::new("psql");
    cmd.arg("-d")
        .arg(conninfo(&target, rootcert.as_deref()))
        .args(o.psql_args);
    if let Some(p) = &password {
        cmd.env("PGPASSWORD", p);
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::user(format!(
            "cannot start psql: {e} (install the PostgreSQL client, e.g. `apt install postgresql-client`)"
        ))
    })?;
    // Ctrl-C is psql's (it cancels the query): deploy waits for psql to end, then cleans up.
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let status = child
        .wait()
        .map_err(|e| Error::other(format!("waiting for psql: {e}")))?;
    drop(ca);
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Ok(128u8.saturating_add(sig as u8));
        }
    }
    Ok(status.code().unwrap_or(1).clamp(0, 255) as u8)
}

/// The RDS CA bundle written for psql, removed when dropped.
struct CaFile(Option<PathBuf>);

impl CaFile {
    fn none() -> CaFile {
        CaFile(None)
    }

    fn write() -> Result<CaFile> {
        let path = std::env::temp_dir().join(format!("deploy-rds-ca-{}.pem", std::process::id()));
        let _ = std::fs::remove_file(&path);
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| f.write_all(RDS_CA_BUNDLE))
            .map_err(|e| Error::other(format!("cannot write {}: {e}", path.display())))?;
        Ok(CaFile(Some(path)))
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_string_verifies_tls_and_holds_no_password() {
        let t = Target {
            host: "db.abc.eu-west-2.rds.amazonaws.com".into(),
            port: 5432,
            user: "root".into(),
            dbname: "it's".into(),
            transport: Transport::Tls,
        };
        let s = conninfo(&t, Some(std::path::Path::new("/tmp/ca.pem")));
        assert_eq!(
            s,
            r"host='db.abc.eu-west-2.rds.amazonaws.com' port=5432 user='root' dbname='it\'s' application_name=deploy-psql sslmode=verify-full sslrootcert='/tmp/ca.pem'"
        );
        assert!(!s.contains("password"));
        let local = Target {
            transport: Transport::TlsIfOffered,
            ..t
        };
        assert!(conninfo(&local, None).ends_with("sslmode=prefer"));
    }
}

//! The database a command names on its command line: `--url postgresql://USER@HOST:PORT/DB`,
//! which never carries the password, and which instance of the stack it stands for.

use crate::error::{Error, Result};
use crate::stack::Stack;

/// A `--url` without its password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbUrl {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub dbname: Option<String>,
}

/// Parses a libpq connection URL (`postgres://` or `postgresql://`). A password in it is
/// refused: a command line shows in the process list and the shell's history. The error never
/// repeats the URL, which holds that password.
pub fn parse(url: &str) -> Result<DbUrl> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Error::user(
            "--url must be a PostgreSQL URL, postgresql://USER@HOST:PORT/DBNAME",
        ));
    }
    let cfg: tokio_postgres::Config = url.parse().map_err(|e| {
        Error::user(format!(
            "--url is not a PostgreSQL URL ({e}); write postgresql://USER@HOST:PORT/DBNAME"
        ))
    })?;
    if cfg.get_password().is_some() {
        return Err(Error::user(
            "--url holds a password: deploy takes none on the command line (it would show in the process list and the shell's history). Leave it out of the URL and set PGPASSWORD, or the instance's ${secret:NAME} variable",
        ));
    }
    let host = match cfg.get_hosts() {
        [tokio_postgres::config::Host::Tcp(h)] => h.clone(),
        [] => "localhost".to_string(),
        _ => {
            return Err(Error::user(
                "--url must name one TCP host (no Unix socket, no list of hosts)",
            ));
        }
    };
    let port = match cfg.get_ports() {
        [] => 5432,
        [p] => *p,
        _ => return Err(Error::user("--url must name one port")),
    };
    Ok(DbUrl {
        host,
        port,
        user: cfg.get_user().map(str::to_string),
        dbname: cfg.get_dbname().map(str::to_string),
    })
}

/// The instance a command works on: the one named, else the only one among those `eligible`
/// (which `what` describes, for the error).
pub fn instance(
    stack: &Stack,
    named: Option<&str>,
    eligible: impl Fn(&str) -> bool,
    what: &str,
    flag: &str,
) -> Result<String> {
    let ids: Vec<&String> = stack
        .db_instances
        .keys()
        .filter(|id| eligible(id))
        .collect();
    match named {
        Some(n) if ids.iter().any(|id| *id == n) => Ok(n.to_string()),
        Some(n) => Err(Error::user(format!(
            "{} has no db instance `{n}` {what} (it has: {})",
            stack.file.display(),
            list(&ids)
        ))),
        None => match ids.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(Error::user(format!(
                "{} has no db instance {what}",
                stack.file.display()
            ))),
            _ => Err(Error::user(format!(
                "{} has several db instances {what} ({}): name one with {flag}",
                stack.file.display(),
                list(&ids)
            ))),
        },
    }
}

fn list(ids: &[&String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_host_port_user_and_database() {
        let u = parse("postgresql://postgres@localhost:5433/cruddur").unwrap();
        assert_eq!(
            u,
            DbUrl {
                host: "localhost".into(),
                port: 5433,
                user: Some("postgres".into()),
                dbname: Some("cruddur".into()),
            }
        );
        let u = parse("postgres://127.0.0.1").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.user), ("127.0.0.1", 5432, None));
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_repeating_it() {
        let e = parse("postgresql://postgres:hunter2@localhost/cruddur")
            .unwrap_err()
            .to_string();
        assert!(e.contains("PGPASSWORD"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        for bad in ["localhost:5432", "mysql://x@h/db", "postgresql://h1,h2/db"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

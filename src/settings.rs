//! The knobs of one run, read from the environment and the flags once, here, and handed to the
//! adapters and the migration engine through their context: none of them reads the environment
//! or a process-wide flag itself, so a test gives each run the values it wants.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The longest pause of a wait (RDS states, Lambda states, IAM propagation, ENIs):
    /// `DEPLOY_POLL_INTERVAL` seconds (fractions allowed), else 10.
    pub poll: Duration,
    /// The pause between the reads that confirm a change RDS applies lazily:
    /// `DEPLOY_RDS_SETTLE_INTERVAL` seconds (fractions allowed), else 10.
    pub rds_settle_interval: Duration,
    /// How long one RDS wait may take: `DEPLOY_RDS_TIMEOUT` seconds, else an hour (creates take
    /// 5-10 minutes, a class change of a larger instance or a Multi-AZ conversion much longer).
    pub rds_timeout: Duration,
    /// How long to keep retrying the delete of a group still in use: `DEPLOY_SG_DELETE_TIMEOUT`
    /// seconds, else 45 minutes (Lambda's hyperplane ENIs can hold a group that long after the
    /// function is gone; AWS's P99 is ~35 minutes).
    pub sg_delete_timeout: Duration,
    pub db: DbSettings,
}

/// How the database is connected to (migrations, seeds, `deploy migrate`, `deploy psql`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbSettings {
    /// `--db-insecure-plaintext`: `--db-endpoint` and `--url` connections go over plain TCP
    /// whatever the address.
    pub insecure_plaintext: bool,
    /// `DEPLOY_DB_CA_FILE`: the CA bundle (PEM) to verify servers with instead of the RDS one
    /// built in.
    pub ca_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll: Duration::from_secs(10),
            rds_settle_interval: Duration::from_secs(10),
            rds_timeout: Duration::from_secs(60 * 60),
            sg_delete_timeout: Duration::from_secs(45 * 60),
            db: DbSettings::default(),
        }
    }
}

impl Settings {
    /// The process's environment, and the `--db-insecure-plaintext` flag.
    pub fn from_env(insecure_plaintext: bool) -> Settings {
        let mut s = Settings::from_vars(&|name| std::env::var(name).ok());
        s.db.insecure_plaintext = insecure_plaintext;
        // As an OS string: a path need not be UTF-8.
        s.db.ca_file = std::env::var_os("DEPLOY_DB_CA_FILE").map(PathBuf::from);
        s
    }

    /// The settings `var` gives (a value that does not parse is the default, as unset).
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Settings {
        let d = Settings::default();
        let secs_f64 = |name: &str, ok: fn(f64) -> bool, default: Duration| {
            var(name)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| ok(*s))
                .map_or(default, Duration::from_secs_f64)
        };
        let secs = |name: &str, default: Duration| {
            var(name)
                .and_then(|v| v.parse().ok())
                .map_or(default, Duration::from_secs)
        };
        Settings {
            poll: secs_f64("DEPLOY_POLL_INTERVAL", |s| s > 0.0, d.poll),
            rds_settle_interval: secs_f64(
                "DEPLOY_RDS_SETTLE_INTERVAL",
                |s| s >= 0.0,
                d.rds_settle_interval,
            ),
            rds_timeout: secs("DEPLOY_RDS_TIMEOUT", d.rds_timeout),
            sg_delete_timeout: secs("DEPLOY_SG_DELETE_TIMEOUT", d.sg_delete_timeout),
            db: DbSettings {
                insecure_plaintext: false,
                ca_file: var("DEPLOY_DB_CA_FILE").map(PathBuf::from),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_or_unparsable_values_are_the_defaults() {
        assert_eq!(Settings::from_vars(&|_| None), Settings::default());
        let bad = Settings::from_vars(&|_| Some("soon".into()));
        assert_eq!(
            Settings {
                db: DbSettings::default(),
                ..bad
            },
            Settings::default()
        );
    }

    #[test]
    fn values_are_seconds_and_the_intervals_take_fractions() {
        let vars = |name: &str| {
            Some(
                match name {
                    "DEPLOY_POLL_INTERVAL" => "0.25",
                    "DEPLOY_RDS_SETTLE_INTERVAL" => "0",
                    "DEPLOY_RDS_TIMEOUT" => "90",
                    "DEPLOY_SG_DELETE_TIMEOUT" => "60",
                    "DEPLOY_DB_CA_FILE" => "ca.pem",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let s = Settings::from_vars(&vars);
        assert_eq!(s.poll, Duration::from_millis(250));
        assert_eq!(s.rds_settle_interval, Duration::ZERO);
        assert_eq!(s.rds_timeout, Duration::from_secs(90));
        assert_eq!(s.sg_delete_timeout, Duration::from_secs(60));
        assert_eq!(s.db.ca_file, Some(PathBuf::from("ca.pem")));
        // A zero poll interval would spin: it is the default instead.
        let zero = Settings::from_vars(&|n| (n == "DEPLOY_POLL_INTERVAL").then(|| "0".into()));
        assert_eq!(zero.poll, Duration::from_secs(10));
        // A fractional timeout is not seconds as these take them: the default.
        let frac = Settings::from_vars(&|n| (n == "DEPLOY_RDS_TIMEOUT").then(|| "1.5".into()));
        assert_eq!(frac.rds_timeout, Duration::from_secs(3600));
    }
}

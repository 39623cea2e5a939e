//! `deploy migrate`: the migration step of apply on its own, through the same engine
//! (`resources::migration`: order, checksums, baseline, advisory lock), against the stack's
//! instances (their endpoint read from AWS, or `--db-endpoint`) or, with `--url`, against any
//! database (the local docker Postgres of a development setup) without any AWS call.

use std::collections::BTreeMap;

use crate::aws::{AwsOptions, Clients};
use crate::error::{Error, Result};
use crate::ops::dburl::{self, DbUrl};
use crate::plan::PlanError;
use crate::progress::Progress;
use crate::resources::core::{Attrs, Found, Key, LiveEnv};
use crate::resources::migration::{self, Observed, Spec};
use crate::settings::DbSettings;
use crate::stack::template::Part;
use crate::stack::{Password, Resolver, Stack, Template};

pub struct Options<'a> {
    pub url: Option<&'a str>,
    pub instance: Option<&'a str>,
    pub status: bool,
    pub aws: &'a AwsOptions,
    pub db_endpoints: &'a BTreeMap<String, (String, u16)>,
    /// `--db-insecure-plaintext` and `DEPLOY_DB_CA_FILE`.
    pub db: &'a DbSettings,
    /// `PGPASSWORD`, which `--url` uses before the instance's `${secret:}`.
    pub pgpassword: Option<String>,
}

fn has_migrations(stack: &Stack, id: &str) -> bool {
    let d = &stack.db_instances[id];
    d.migrations.is_some() || d.seed.is_some()
}

/// One file's state, for `--status` and before running.
struct Row {
    address: String,
    spec: Spec,
    observed: Option<Observed>,
    /// What would happen: a pending file, a baselined one, or why it cannot run.
    verdict: std::result::Result<Option<crate::plan::Change>, PlanError>,
}

pub async fn run(stack: &Stack, o: Options<'_>) -> Result<u8> {
    let errors = migration::check(stack);
    if !errors.is_empty() {
        return Err(Error::plan(stack.file.display().to_string(), errors));
    }
    let mut work = stack.clone();
    let (ids, env, dbs) = match o.url {
        Some(url) => {
            let url = dburl::parse(url)?;
            let id = dburl::instance(
                stack,
                o.instance,
                |id| has_migrations(stack, id),
                "with migrations or a seed",
                "--instance ID",
            )?;
            point_at(&mut work, &id, &url, o.pgpassword.as_deref())?;
            let env = LiveEnv {
                db_endpoints: BTreeMap::from([(id.clone(), (url.host.clone(), url.port))]),
                ..LiveEnv::default()
            };
            (vec![id], env, Vec::new())
        }
        None => {
            let ids: Vec<String> = match o.instance {
                Some(_) => vec![dburl::instance(
                    stack,
                    o.instance,
                    |id| has_migrations(stack, id),
                    "with migrations or a seed",
                    "--instance ID",
                )?],
                None => stack
                    .db_instances
                    .keys()
                    .filter(|id| has_migrations(stack, id))
                    .cloned()
                    .collect(),
            };
            if ids.is_empty() {
                return Err(Error::user(format!(
                    "{} has no db instance with migrations or a seed",
                    stack.file.display()
                )));
            }
            for id in &ids {
                if let Password::Secret(t) = &stack.db_instances[id].password {
                    require_secret(t, id)?;
                }
            }
            let env = LiveEnv {
                db_endpoints: o.db_endpoints.clone(),
                ..LiveEnv::default()
            };
            // Only the endpoints the flags do not give are read from AWS.
            let dbs = if ids.iter().all(|id| o.db_endpoints.contains_key(id)) {
                Vec::new()
            } else {
                read_endpoints(stack, o.aws, &ids).await?
            };
            (ids, env, dbs)
        }
    };
    for (id, d) in work.db_instances.iter_mut() {
        if !ids.contains(id) {
            (d.migrations, d.seed) = (None, None);
        }
    }
    let found = migration::db::observe(o.db, &work, &env, &dbs).await?;
    let mut resolver = Resolver::default();
    for f in &dbs {
        resolver.set(&f.address, f.observed.clone());
    }
    let rows: Vec<Row> = migration::nodes(&work)
        .into_iter()
        .map(|n| {
            let spec = migration::spec(&work, &n.key, &resolver, &env);
            let observed = found
                .iter()
                .find(|f| f.address == n.address)
                .map(|f| f.observed.clone());
            let verdict = migration::diff(&n.address, Some(&spec), observed.as_ref());
            Row {
                address: n.address,
                spec,
                observed,
                verdict,
            }
        })
        .collect();
    if o.status {
        print_status(&rows);
        return Ok(0);
    }
    let errors: Vec<PlanError> = rows
        .iter()
        .filter_map(|r| r.verdict.as_ref().err().cloned())
        .collect();
    if !errors.is_empty() {
        return Err(Error::plan(stack.file.display().to_string(), errors));
    }
    let pending: Vec<&Row> = rows
        .iter()
        .filter(|r| matches!(r.verdict, Ok(Some(_))))
        .collect();
    if pending.is_empty() {
        println!(
            "Nothing to run: every migration{} already applied.",
            if rows.iter().any(|r| r.spec.seed) {
                " and the seed"
            } else {
                ""
            }
        );
        return Ok(0);
    }
    let progress = Progress::default();
    let mut ran = 0;
    for r in pending {
        migration::db::run(&progress, o.db, &r.address, &r.spec).await?;
        ran += 1;
    }
    println!(
        "\nMigrate complete: {}.",
        crate::plan::render::count(ran, "file")
    );
    Ok(0)
}

/// Points instance `id` at the database of `url`: its user and database name when the URL has
/// them, and the password of `PGPASSWORD`, else of the instance's `${secret:}`.
fn point_at(stack: &mut Stack, id: &str, url: &DbUrl, pgpassword: Option<&str>) -> Result<()> {
    let d = stack.db_instances.get_mut(id).expect("chosen among them");
    if let Some(u) = &url.user {
        d.master_username = u.clone();
    }
    if let Some(db) = &url.dbname {
        d.db_name = Some(db.clone());
    }
    match (pgpassword, &d.password) {
        (Some(p), _) => {
            crate::redact::register(vec![p.to_string()]);
            d.password = Password::Secret(Template {
                parts: vec![Part::Secret(p.to_string())],
                ..Template::default()
            });
        }
        (None, Password::Secret(t)) => require_secret(t, id)?,
        (None, Password::Managed) => {
            return Err(Error::user(format!(
                "db_instances.{id} has manage_master_password, so the stack holds no password for --url: set PGPASSWORD"
            )));
        }
    }
    Ok(())
}

/// The password's `${secret:NAME}` variables must be set to connect.
fn require_secret(t: &Template, id: &str) -> Result<()> {
    let unset: Vec<&str> = t
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::SecretUnset(v) => Some(v.as_str()),
            _ => None,
        })
        .collect();
    if unset.is_empty() {
        Ok(())
    } else {
        Err(Error::user(format!(
            "the password of db_instances.{id} is ${{secret:{}}}, which is not set: set {} (with --url, PGPASSWORD does too)",
            unset.join("}, ${secret:"),
            unset.join(", ")
        )))
    }
}

/// The endpoints of `ids` as RDS reports them (DescribeDBInstances).
async fn read_endpoints(
    stack: &Stack,
    aws: &AwsOptions,
    ids: &[String],
) -> Result<Vec<Found<Attrs>>> {
    let clients = Clients::new(aws, stack.region.as_deref()).await?;
    let found = crate::resources::db_instance::aws::observe(&clients, stack).await?;
    let mut out = Vec::new();
    for id in ids {
        let Some(f) = found
            .iter()
            .find(|f| matches!(&f.key, Key::DbInstance(n) if n == id))
        else {
            return Err(Error::user(format!(
                "db_instances.{id} does not exist in {}: `deploy apply` creates it and runs its migrations (or give its database with --url or --db-endpoint)",
                clients.region
            )));
        };
        if f.observed.address.is_none() {
            return Err(Error::user(format!(
                "db_instances.{id} has no endpoint yet (status {}): wait until it is available",
                f.observed.status
            )));
        }
        out.push(f.clone().map(|o| crate::resources::db_instance::attrs(&o)));
    }
    Ok(out)
}

fn print_status(rows: &[Row]) {
    for r in rows {
        let short = |c: &str| c[..12.min(c.len())].to_string();
        let (state, detail) = match (&r.verdict, &r.observed) {
            (Err(e), _) if e.message.contains("was edited after it was applied") => (
                "EDITED",
                format!(
                    "applied checksum {}, file now {}",
                    short(
                        &r.observed
                            .as_ref()
                            .map_or(String::new(), |o| o.checksum.clone())
                    ),
                    short(&r.spec.file.checksum)
                ),
            ),
            (Err(e), _) => ("BLOCKED", e.message.clone()),
            (Ok(Some(_)), _) if r.spec.baselined() && r.observed.is_some() => (
                "baseline",
                "recorded as applied, not run (migrations_baseline)".to_string(),
            ),
            (Ok(Some(_)), _) => ("pending", short(&r.spec.file.checksum)),
            (Ok(None), Some(o)) => ("applied", short(&o.checksum)),
            (Ok(None), None) => ("applied", String::new()),
        };
        println!(
            "{state:<8} {}  {}  {detail}",
            r.address,
            migration::shown_path(&r.spec.file.path)
        );
    }
}

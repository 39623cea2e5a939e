//! What the stack file declares of a db instance: the schema entries, the entry as written, how it
//! is decoded, and the checks that make it a [`DbInstance`].

use std::collections::BTreeSet;

use crate::stack::check::{Checker, is_interpolated, pos};
use crate::stack::decode::{Decoder, Kind, Node, Scalar, Schema, Sp, Str, Ty, field, named, sp};
use crate::stack::{Baseline, DbInstance, FinalSnapshot, Password, PerformanceInsights, Pos};

pub static DB_INSTANCE: Schema = Schema {
    what: "db instance",
    fields: &[
        field!("name", Ty::Str),
        field!("engine", Ty::Str, required),
        field!("engine_version", Ty::Str),
        field!("instance_class", Ty::Str, required),
        field!("allocated_storage", Ty::Int, required),
        field!("storage_type", Ty::Str),
        field!("storage_encrypted", Ty::Bool),
        field!("master_username", Ty::Str, required),
        field!("master_password", Ty::Str),
        field!("manage_master_password", Ty::Bool),
        field!("password_version", Ty::Int),
        field!("db_name", Ty::Str),
        field!("port", Ty::Int),
        field!("availability_zone", Ty::Str),
        field!("multi_az", Ty::Bool),
        field!("publicly_accessible", Ty::Bool),
        field!("backup_retention_days", Ty::Int),
        field!("performance_insights", Ty::Struct(&PERFORMANCE_INSIGHTS)),
        field!("deletion_protection", Ty::Bool),
        field!("security_groups", Ty::List(&Ty::Str)),
        field!("running", Ty::Bool),
        field!("final_snapshot", Ty::Either(&Ty::Bool, &Ty::Str)),
        field!("migrations", Ty::Str),
        field!("migrations_baseline", Ty::Int),
        field!("seed", Ty::Str),
    ],
};

pub static PERFORMANCE_INSIGHTS: Schema = Schema {
    what: "performance_insights",
    fields: &[
        field!("enabled", Ty::Bool, required),
        field!("retention_days", Ty::Int),
    ],
};

#[derive(Debug)]
pub struct RawDbInstance {
    pub name: Option<Str>,
    pub engine: Option<Str>,
    pub engine_version: Option<Str>,
    pub instance_class: Option<Str>,
    pub allocated_storage: Option<Sp<Scalar>>,
    pub storage_type: Option<Str>,
    pub storage_encrypted: Option<Sp<Scalar>>,
    pub master_username: Option<Str>,
    pub master_password: Option<Str>,
    pub manage_master_password: Option<Sp<Scalar>>,
    pub password_version: Option<Sp<Scalar>>,
    pub db_name: Option<Str>,
    pub port: Option<Sp<Scalar>>,
    pub availability_zone: Option<Str>,
    pub multi_az: Option<Sp<Scalar>>,
    pub publicly_accessible: Option<Sp<Scalar>>,
    pub backup_retention_days: Option<Sp<Scalar>>,
    pub performance_insights: Option<Sp<RawPerformanceInsights>>,
    pub deletion_protection: Option<Sp<Scalar>>,
    pub security_groups: Vec<Str>,
    pub running: Option<Sp<Scalar>>,
    /// `true`, `false` or a snapshot name.
    pub final_snapshot: Option<Sp<Scalar>>,
    pub migrations: Option<Str>,
    pub migrations_baseline: Option<Sp<Scalar>>,
    pub seed: Option<Str>,
}

#[derive(Debug)]
pub struct RawPerformanceInsights {
    pub enabled: Option<Sp<Scalar>>,
    pub retention_days: Option<Sp<Scalar>>,
}

/// A `db_instances` entry.
pub fn decode(d: &mut Decoder, name: &Str, n: &Node) -> Option<Sp<RawDbInstance>> {
    let o = d.obj(n, &DB_INSTANCE, &format!("db instance `{}`", name.value))?;
    let performance_insights = o.node("performance_insights").and_then(|pi| {
        let p = d.obj(pi, &PERFORMANCE_INSIGHTS, "performance_insights")?;
        let (enabled, retention_days) = (p.bool(d, "enabled"), p.int(d, "retention_days"));
        Some(sp(
            pi,
            RawPerformanceInsights {
                enabled,
                retention_days,
            },
        ))
    });
    let final_snapshot = o.node("final_snapshot").and_then(|f| match &f.kind {
        Kind::Bool(b) => Some(sp(f, Scalar::Bool(*b))),
        _ => match d.str(f, "final_snapshot") {
            Some(s) => Some(sp(f, Scalar::Text(s.value))),
            None => None,
        },
    });
    // Read every field before giving up on a missing one, so that all problems are reported.
    let engine = o.str(d, "engine");
    let instance_class = o.str(d, "instance_class");
    let allocated_storage = o.int(d, "allocated_storage");
    let master_username = o.str(d, "master_username");
    Some(named(
        name,
        RawDbInstance {
            name: o.str(d, "name"),
            engine_version: o.str(d, "engine_version"),
            storage_type: o.str(d, "storage_type"),
            storage_encrypted: o.bool(d, "storage_encrypted"),
            master_password: o.str(d, "master_password"),
            manage_master_password: o.bool(d, "manage_master_password"),
            password_version: o.int(d, "password_version"),
            db_name: o.str(d, "db_name"),
            port: o.int(d, "port"),
            availability_zone: o.str(d, "availability_zone"),
            multi_az: o.bool(d, "multi_az"),
            publicly_accessible: o.bool(d, "publicly_accessible"),
            backup_retention_days: o.int(d, "backup_retention_days"),
            performance_insights,
            deletion_protection: o.bool(d, "deletion_protection"),
            security_groups: o.strs(d, "security_groups").unwrap_or_default(),
            running: o.bool(d, "running"),
            final_snapshot,
            migrations: o.str(d, "migrations"),
            migrations_baseline: o.int(d, "migrations_baseline"),
            seed: o.str(d, "seed"),
            engine,
            instance_class,
            allocated_storage,
            master_username,
        },
    ))
}

/// `16`, `16.4`, `9.6.24`, and RDS's extended-support builds (`11.22-rds.20240418`).
fn valid_engine_version(v: &str) -> bool {
    let (numbers, suffix) = match v.split_once("-rds.") {
        Some((n, s)) => (n, Some(s)),
        None => (v, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
        && suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// A PostgreSQL name RDS accepts for the master user and the database: a letter, then up to 62
/// letters, digits or underscores.
fn valid_pg_name(n: &str) -> bool {
    n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && n.len() <= 63
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_db_identifier(n: &str) -> bool {
    let first_letter = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    first_letter
        && n.len() <= 63
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !n.ends_with('-')
        && !n.contains("--")
}

pub(crate) fn check(
    c: &mut Checker<'_>,
    name: &str,
    d: &Sp<RawDbInstance>,
    groups: &BTreeSet<String>,
) -> Option<DbInstance> {
    let at = pos(d);
    let v = &d.value;
    let (aws_name, name_at) = c.physical(name, &v.name, at);
    if !valid_db_identifier(&aws_name) && !is_interpolated(&aws_name) {
        c.err(
            name_at,
            format!("db instance identifier `{aws_name}` must be 1-63 letters, digits or hyphens, start with a letter, with no trailing or double hyphen"),
        );
    }
    let password = password(c, name, v, at);
    let opt = |c: &mut Checker<'_>, s: &Option<Str>, what: &str| {
        s.as_ref().and_then(|s| c.plain(s, what))
    };
    let opt_bool = |c: &mut Checker<'_>, s: &Option<Sp<Scalar>>, what: &str| {
        s.as_ref().and_then(|s| c.bool(s, what))
    };
    let final_snapshot = v
        .final_snapshot
        .as_ref()
        .map_or(FinalSnapshot::Auto, |f| final_snapshot(c, f));
    let performance_insights = v
        .performance_insights
        .as_ref()
        .and_then(|pi| performance_insights(c, pi));
    let engine = v.engine.as_ref().and_then(|x| {
        let e = c.plain(x, "engine")?;
        if e != "postgres" {
            c.err(
                pos(x),
                format!("engine must be `postgres` (the one engine deploy manages), not `{e}`"),
            );
            return None;
        }
        Some(e)
    });
    let instance_class = v
        .instance_class
        .as_ref()
        .and_then(|x| c.plain(x, "instance_class"));
    if let Some(ic) = &instance_class
        && !ic.starts_with("db.")
    {
        c.err(
            v.instance_class.as_ref().map_or(Pos::default(), pos),
            format!("instance_class `{ic}` should look like db.t3.micro"),
        );
    }
    let allocated_storage = v
        .allocated_storage
        .as_ref()
        .and_then(|a| c.int(a, "allocated_storage", 5, 65536));
    let master_username = v.master_username.as_ref().and_then(|x| {
        let u = c.plain(x, "master_username")?;
        if !valid_pg_name(&u) {
            c.err(
                pos(x),
                format!("master_username `{u}` must be 1-63 letters, digits or underscores, starting with a letter (RDS refuses it otherwise)"),
            );
            return None;
        }
        Some(u)
    });
    let storage_type = storage_type(c, v, at, allocated_storage);
    let db_name = opt(c, &v.db_name, "db_name");
    if let Some(n) = &db_name
        && !valid_pg_name(n)
    {
        c.err(
            v.db_name.as_ref().map_or(at, pos),
            format!("db_name `{n}` must be 1-63 letters, digits or underscores, starting with a letter (RDS refuses it otherwise)"),
        );
    }
    let security_groups = v
        .security_groups
        .iter()
        .filter_map(|g| c.group_ref(g, groups, "security_groups"))
        .collect();
    let migrations_baseline = v.migrations_baseline.as_ref().and_then(|b| {
        let version = c.int(b, "migrations_baseline", 0, i32::MAX as i64)?;
        if v.migrations.is_none() && v.seed.is_none() {
            c.err(
                b.pos,
                "migrations_baseline needs `migrations:` (or `seed:`): it says which of their files a database made before deploy already reflects",
            );
            return None;
        }
        Some(Baseline {
            version: version as u32,
            pos: b.pos,
        })
    });
    let engine_version = opt(c, &v.engine_version, "engine_version");
    if let Some(ev) = &engine_version
        && !valid_engine_version(ev)
    {
        c.err(
            v.engine_version.as_ref().map_or(at, pos),
            format!("engine_version `{ev}` should be a major alone, such as \"16\" (RDS creates its current minor, and any minor of it satisfies the file), or a full version such as \"16.11\""),
        );
    }
    Some(DbInstance {
        name: aws_name,
        engine_version,
        engine_version_pos: v.engine_version.as_ref().map_or(at, pos),
        storage_type,
        storage_encrypted: opt_bool(c, &v.storage_encrypted, "storage_encrypted"),
        password_version: v
            .password_version
            .as_ref()
            .and_then(|p| c.int(p, "password_version", 1, 1_000_000_000)),
        db_name,
        port: v.port.as_ref().and_then(|p| c.int(p, "port", 1150, 65535)),
        availability_zone: opt(c, &v.availability_zone, "availability_zone"),
        multi_az: opt_bool(c, &v.multi_az, "multi_az"),
        publicly_accessible: opt_bool(c, &v.publicly_accessible, "publicly_accessible"),
        backup_retention_days: v
            .backup_retention_days
            .as_ref()
            .and_then(|b| c.int(b, "backup_retention_days", 0, 35)),
        performance_insights,
        deletion_protection: opt_bool(c, &v.deletion_protection, "deletion_protection"),
        security_groups,
        running: opt_bool(c, &v.running, "running").unwrap_or(true),
        final_snapshot,
        migrations: v
            .migrations
            .as_ref()
            .and_then(|m| c.path(m, "migrations", true)),
        migrations_pos: v.migrations.as_ref().map_or(at, pos),
        migrations_baseline,
        seed: v.seed.as_ref().and_then(|s| c.path(s, "seed", false)),
        allocated_storage_pos: v.allocated_storage.as_ref().map_or(at, pos),
        engine: engine?,
        instance_class: instance_class?,
        allocated_storage: allocated_storage?,
        master_username: master_username?,
        password: password?,
        pos: at,
    })
}

/// `master_password: ${secret:NAME}`, or `manage_master_password: true` (one of them).
fn password(c: &mut Checker<'_>, name: &str, v: &RawDbInstance, at: Pos) -> Option<Password> {
    let manage = v
        .manage_master_password
        .as_ref()
        .and_then(|m| c.bool(m, "manage_master_password"));
    match (&v.master_password, manage) {
        (Some(p), Some(true)) => {
            c.err(
                pos(p),
                "give master_password or manage_master_password: true, not both",
            );
            None
        }
        (Some(p), _) => master_password(c, p),
        (None, Some(true)) => Some(Password::Managed),
        (None, _) => {
            c.err(at, format!("db instance `{name}` needs master_password: ${{secret:NAME}} or manage_master_password: true"));
            None
        }
    }
}

/// `final_snapshot:`, true, false or the snapshot's name (text that may come from `${env:}`).
fn final_snapshot(c: &mut Checker<'_>, f: &Sp<Scalar>) -> FinalSnapshot {
    match &f.value {
        Scalar::Bool(true) => FinalSnapshot::Auto,
        Scalar::Bool(false) => FinalSnapshot::Skip,
        Scalar::Int(_) | Scalar::Text(_) => {
            let text = match &f.value {
                Scalar::Text(t) => t.clone(),
                other => format!("{other:?}"),
            };
            match c
                .plain(
                    &Sp {
                        value: text,
                        pos: f.pos,
                    },
                    "final_snapshot",
                )
                .as_deref()
            {
                Some("true") | None => FinalSnapshot::Auto,
                Some("false") => FinalSnapshot::Skip,
                Some(s) => {
                    if !valid_db_identifier(s) {
                        c.err(
                            f.pos,
                            format!("final_snapshot `{s}`: give true, false, or a snapshot name (letters, digits and hyphens, starting with a letter)"),
                        );
                    }
                    FinalSnapshot::Named(s.to_string())
                }
            }
        }
    }
}

fn performance_insights(
    c: &mut Checker<'_>,
    pi: &Sp<RawPerformanceInsights>,
) -> Option<PerformanceInsights> {
    let retention_days = pi.value.retention_days.as_ref().and_then(|r| {
        let days = c.int(r, "performance_insights.retention_days", 1, 731)?;
        let ok = days == 7 || days == 731 || (days % 31 == 0 && days <= 713);
        if !ok {
            c.err(pos(r), format!("performance_insights.retention_days must be 7, 731, or a multiple of 31 up to 713, not {days}"));
        }
        Some(days)
    });
    Some(PerformanceInsights {
        enabled: c.bool(pi.value.enabled.as_ref()?, "performance_insights.enabled")?,
        retention_days,
    })
}

/// `storage_type:`, with the storage floor RDS sets for it.
fn storage_type(
    c: &mut Checker<'_>,
    v: &RawDbInstance,
    at: Pos,
    allocated_storage: Option<i32>,
) -> Option<String> {
    let storage_type = v
        .storage_type
        .as_ref()
        .and_then(|s| c.plain(s, "storage_type"));
    if let Some(st) = &storage_type {
        // The floors RDS documents for PostgreSQL storage; checked here so that the refusal
        // comes before any change rather than from CreateDBInstance halfway through apply.
        let floor = match st.as_str() {
            "gp2" | "gp3" => Some(20),
            "standard" => None,
            // CreateDBInstance refuses io1/io2 without Iops ("Provisioned IOPS storage
            // requires the Iops parameter", RDS user guide, "Provisioned IOPS SSD storage"),
            // and the stack file has no field for it: refuse here rather than at apply.
            "io1" | "io2" => {
                c.err(
                    v.storage_type.as_ref().map_or(at, pos),
                    format!("storage_type {st} needs provisioned IOPS, which the stack file cannot state: use gp3 (3,000 IOPS included, more from 400 GiB) or gp2"),
                );
                None
            }
            other => {
                c.err(
                    v.storage_type.as_ref().map_or(at, pos),
                    format!("storage_type must be gp2, gp3 or standard, not `{other}`"),
                );
                None
            }
        };
        if let (Some(floor), Some(size)) = (floor, allocated_storage)
            && size < floor
        {
            c.err(
                v.allocated_storage.as_ref().map_or(at, pos),
                format!("allocated_storage must be at least {floor} GiB for storage_type {st}, not {size}"),
            );
        }
    }
    storage_type
}

/// Only `${secret:NAME}` keeps a password out of git history and out of every printed line.
fn master_password(c: &mut Checker<'_>, p: &Str) -> Option<Password> {
    let t = c.template(p, "master_password")?;
    if t.refs().next().is_some() || t.uses_public_ip() {
        c.err(
            pos(p),
            "master_password may not use references or ${public_ip}: give it as ${secret:NAME}",
        );
        return None;
    }
    if !t.is_secret() {
        let from_env: Vec<&str> = p
            .value
            .split("${env:")
            .skip(1)
            .filter_map(|rest| rest.split([':', '}']).next())
            .collect();
        let message = match from_env.first() {
            Some(var) => format!(
                "master_password comes from ${{env:{var}}}: write ${{secret:{var}}} instead, so that deploy treats it as a secret (masked in plans, scrubbed from logs)"
            ),
            None => "master_password is literal text: a password written in the file ends up in git history. Export it and write ${secret:NAME}, or use manage_master_password: true".to_string(),
        };
        c.err(pos(p), message);
        return None;
    }
    Some(Password::Secret(t))
}

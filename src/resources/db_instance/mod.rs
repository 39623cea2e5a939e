//! RDS DB instances: one node per `db_instances` entry, addressed `db_instances.<identifier>`.
//!
//! What may change in place follows the Terraform AWS provider (ModifyDBInstance) rather than
//! CloudFormation: `port` is modified in place (AWS supports it; CloudFormation replaces). Fields
//! AWS cannot change (engine, storage_encrypted, master_username, db_name, availability_zone)
//! force a replacement, which deletes the instance and its data: the plan says so, and
//! `deletion_protection: true` in the file turns such a plan into an error.
//!
//! The master password is never readable from AWS, and deploy stores nothing derived from it
//! (any derivative in a tag is an offline guessing oracle for whoever can describe the
//! instance). As Terraform's write-only arguments do, the file says when the password changed:
//! `password_version` (default 1), recorded by apply in the tag `deploy:password-version`; a
//! different number sets the password again. Instances tagged by older versions of deploy carry
//! `deploy:password-fingerprint` (salted, iterated SHA-256): the next plan checks the password
//! against it once and replaces it by the version tag.

pub mod aws;
pub mod decl;

use crate::resources::core::{diff_by, spec_by};
use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::plan::{Action, Change, Diff, FieldChange, PlanError, list};
use crate::resources::core::{
    Attrs, Key, LiveEnv, NodeDef, NodeType, ReplacePolicy, data_tags, group_address, group_ref_id,
    owned_change, owner_tag, tag_diff,
};
use crate::stack::{FinalSnapshot, GroupRef, Password, PerformanceInsights, Pos, Resolver, Stack};
use crate::value::{Shown, Text};

/// The tag older versions of deploy kept [`password_fingerprint`] in; only ever read and removed.
pub const FINGERPRINT_TAG: &str = "deploy:password-fingerprint";
/// The tag holding the `password_version` apply last set the password for.
pub const VERSION_TAG: &str = "deploy:password-version";
const FINGERPRINT_ROUNDS: u32 = 100_000;

/// A password fingerprint. Not a secret by itself (it sits in a tag), but it is never shown in a
/// plan either, so even `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint(pub String);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(fingerprint)")
    }
}

/// hex(h[100_000]) where h[0] = password and h[i+1] = SHA-256(salt || h[i]). The rounds make a
/// guess of the password from the tag cost as much as 100k hashes; the salt (stack and
/// identifier) makes a precomputed table useless across instances.
pub fn password_fingerprint(salt: &str, password: &str) -> Fingerprint {
    let mut prev: Vec<u8> = password.as_bytes().to_vec();
    for _ in 0..FINGERPRINT_ROUNDS {
        let mut h = Sha256::new();
        h.update(salt.as_bytes());
        h.update(&prev);
        prev = h.finalize().to_vec();
    }
    Fingerprint(prev.iter().map(|b| format!("{b:02x}")).collect())
}

/// The salt of an instance's fingerprint. AWS lower-cases identifiers, so the salt does too: a
/// change of case in the file is the same instance with the same fingerprint.
pub fn fingerprint_salt(stack: &str, identifier: &str) -> String {
    format!("deploy:{stack}:{}", identifier.to_ascii_lowercase())
}

#[derive(Clone, Debug)]
pub enum PasswordSpec {
    /// From `${secret:}`; `version` is the file's `password_version`.
    Secret {
        value: Text,
        version: i32,
        /// To check the password once against a legacy fingerprint tag.
        legacy_salt: String,
    },
    /// RDS keeps it in Secrets Manager.
    Managed,
}

#[derive(Clone, Debug)]
pub struct Spec {
    /// The name as written in the file (addresses use it).
    pub name: String,
    /// The DBInstanceIdentifier as AWS knows it (lower case).
    pub identifier: String,
    pub engine: String,
    pub engine_version: Option<String>,
    pub engine_version_pos: Pos,
    /// What DescribeDBEngineVersions listed as available for the engine (the versions RDS
    /// creates), or why it could not be read; `None` when it was not read.
    pub available_versions: Option<Result<Vec<String>, String>>,
    /// A group of the file's that is not in the default VPC (see `core::network`), said as a
    /// sentence: RDS cannot create the instance there without a DB subnet group.
    pub network: Option<String>,
    pub instance_class: String,
    pub allocated_storage: i32,
    pub allocated_storage_pos: Pos,
    pub storage_type: Option<String>,
    pub storage_encrypted: Option<bool>,
    pub master_username: String,
    pub password: PasswordSpec,
    pub db_name: Option<String>,
    pub port: Option<i32>,
    pub availability_zone: Option<String>,
    pub multi_az: Option<bool>,
    pub publicly_accessible: Option<bool>,
    pub backup_retention_days: Option<i32>,
    pub performance_insights: Option<PerformanceInsights>,
    pub deletion_protection: Option<bool>,
    /// Security group ids; empty means the file leaves them to AWS (the VPC's default group).
    pub security_groups: Vec<Text>,
    pub running: bool,
    pub final_snapshot: FinalSnapshot,
    pub tags: BTreeMap<String, String>,
    pub pos: Pos,
}

/// What the file says about deleting an instance it declares. `observe` records it so that a
/// delete planned without a spec (destroy) still follows the file's wishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    pub final_snapshot: FinalSnapshot,
    pub deletion_protection: Option<bool>,
    pub pos: Pos,
}

#[derive(Clone, Debug)]
pub struct Observed {
    /// Carries this stack's `deploy:stack` tag.
    pub owned: bool,
    /// As AWS reports it (lower case).
    pub identifier: String,
    pub arn: String,
    pub status: String,
    /// The endpoint, once RDS has one (not while the instance is being created).
    pub address: Option<String>,
    pub port: Option<i32>,
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub allocated_storage: i32,
    pub storage_type: Option<String>,
    pub storage_encrypted: bool,
    pub master_username: String,
    /// `MasterUserSecret` is present: RDS manages the password in Secrets Manager.
    pub managed_password: bool,
    /// A legacy fingerprint tag (see the module notes), to migrate.
    pub password_fingerprint: Option<Fingerprint>,
    /// The `deploy:password-version` tag; `None` when absent or not a number.
    pub password_version: Option<i32>,
    pub db_name: Option<String>,
    pub availability_zone: Option<String>,
    pub multi_az: bool,
    pub publicly_accessible: bool,
    pub backup_retention_days: i32,
    /// `None` when the API did not report it (real RDS always does; moto never does).
    pub performance_insights_enabled: Option<bool>,
    pub performance_insights_retention: Option<i32>,
    pub deletion_protection: bool,
    /// Sorted.
    pub security_groups: Vec<String>,
    /// Without the fingerprint and version tags.
    pub tags: BTreeMap<String, String>,
    /// Fields with a modification RDS has not applied yet (PendingModifiedValues).
    pub pending: Vec<String>,
    /// Set when the file declares this identifier.
    pub declared: Option<Declared>,
}

impl Observed {
    pub fn running(&self) -> bool {
        is_running(&self.status)
    }
}

/// Whether a client can use the instance: not while RDS is still creating it (it reports the
/// address from `backing-up` on, before the first `available`).
pub fn ready(o: &Observed) -> bool {
    !matches!(o.status.as_str(), "creating" | "backing-up")
}

/// A stopped (or stopping) instance is not running; every other state counts as running.
pub fn is_running(status: &str) -> bool {
    !matches!(status, "stopped" | "stopping")
}

/// The identifier is fixed: the old instance goes (with its final snapshot) before the new one
/// can be created.
pub const REPLACE: ReplacePolicy = ReplacePolicy::DeleteBeforeCreate;

/// The db instance node type (see [`NodeType`]).
pub struct InstanceNode;

impl NodeType for InstanceNode {
    type Spec = Spec;
    type Observed = Observed;
    const REPLACE: ReplacePolicy = REPLACE;
    const ATTR_NAMES: &'static [&'static str] = &["address", "port", "arn"];

    spec_by!(spec);

    diff_by!(diff);

    fn attrs(o: &Observed) -> Attrs {
        attrs(o)
    }

    fn owned(o: &Observed) -> bool {
        o.owned
    }

    fn owner(o: &Observed) -> Option<&str> {
        owner_tag(&o.tags)
    }

    fn refs(o: &Observed) -> Vec<String> {
        refs(o)
    }

    fn ready(o: &Observed) -> bool {
        ready(o)
    }
}

pub fn address(name: &str) -> String {
    format!("db_instances.{name}")
}

pub fn nodes(stack: &Stack) -> Vec<NodeDef> {
    stack
        .db_instances
        .iter()
        .map(|(name, d)| {
            let mut deps: Vec<String> = d
                .security_groups
                .iter()
                .filter_map(|g| match g {
                    GroupRef::Stack(s) => Some(group_address(s)),
                    GroupRef::Id(_) => None,
                })
                .collect();
            deps.sort();
            deps.dedup();
            NodeDef {
                address: address(name),
                key: Key::DbInstance(name.clone()),
                deps,
            }
        })
        .collect()
}

/// Safer-default warnings of an instance the file declares.
pub fn warnings(stack: &Stack, name: &str) -> Vec<String> {
    let d = &stack.db_instances[name];
    let mut out = Vec::new();
    if d.storage_encrypted.is_none() {
        out.push(format!(
            "{}: storage_encrypted is not set, and RDS's default is unencrypted storage (it cannot be turned on later without replacing the instance): set storage_encrypted: true, or false to say you mean it",
            address(name)
        ));
    }
    out
}

pub fn spec(stack: &Stack, key: &Key, r: &Resolver, env: &LiveEnv) -> Spec {
    let Key::DbInstance(name) = key else {
        unreachable!("db_instance::spec called for {key:?}")
    };
    let d = &stack.db_instances[name];
    let password = match &d.password {
        Password::Managed => PasswordSpec::Managed,
        Password::Secret(t) => PasswordSpec::Secret {
            value: r.resolve(t),
            version: d.password_version.unwrap_or(1),
            legacy_salt: fingerprint_salt(&stack.name, &d.name),
        },
    };
    Spec {
        name: name.clone(),
        identifier: d.name.to_ascii_lowercase(),
        engine: d.engine.clone(),
        engine_version: d.engine_version.clone(),
        engine_version_pos: d.engine_version_pos,
        available_versions: env.engine_versions.get(&d.engine).cloned(),
        network: crate::resources::core::network::outside_default_vpc(
            stack,
            &d.security_groups,
            env,
        ),
        instance_class: d.instance_class.clone(),
        allocated_storage: d.allocated_storage,
        allocated_storage_pos: d.allocated_storage_pos,
        storage_type: d.storage_type.clone(),
        storage_encrypted: d.storage_encrypted,
        master_username: d.master_username.clone(),
        password,
        db_name: d.db_name.clone(),
        port: d.port,
        availability_zone: d.availability_zone.clone(),
        multi_az: d.multi_az,
        publicly_accessible: d.publicly_accessible,
        backup_retention_days: d.backup_retention_days,
        performance_insights: d.performance_insights,
        deletion_protection: d.deletion_protection,
        security_groups: d
            .security_groups
            .iter()
            .map(|g| group_ref_id(r, g))
            .collect(),
        running: d.running,
        final_snapshot: d.final_snapshot.clone(),
        tags: data_tags(stack, name, &d.name),
        pos: d.pos,
    }
}

/// The attributes references may use; address and port are unknown until RDS has an endpoint.
pub fn attrs(o: &Observed) -> Attrs {
    vec![
        ("address", o.address.clone()),
        ("port", o.port.map(|p| p.to_string())),
        ("arn", Some(o.arn.clone())),
    ]
}

/// The security groups the live instance uses: a group delete waits until the instance lets go.
pub fn refs(o: &Observed) -> Vec<String> {
    o.security_groups.clone()
}

/// How a ModifyDBInstance changes the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordChange {
    /// Send MasterUserPassword (with ManageMasterUserPassword=false when RDS manages it now).
    Set,
    /// ManageMasterUserPassword=true.
    Manage,
}

/// The fields one ModifyDBInstance must send: only those that differ.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Modify {
    pub instance_class: Option<String>,
    pub engine_version: Option<String>,
    pub allow_major_version_upgrade: bool,
    pub allocated_storage: Option<i32>,
    pub storage_type: Option<String>,
    pub port: Option<i32>,
    pub multi_az: Option<bool>,
    pub publicly_accessible: Option<bool>,
    pub backup_retention_days: Option<i32>,
    pub performance_insights: Option<PerformanceInsights>,
    pub deletion_protection: Option<bool>,
    pub security_groups: Option<Vec<Text>>,
    pub password: Option<PasswordChange>,
    /// `name:` changed: ModifyDBInstance NewDBInstanceIdentifier.
    pub new_identifier: Option<String>,
}

impl Modify {
    /// RDS rejects a modify that asks for nothing ("No modifications were requested").
    pub fn is_empty(&self) -> bool {
        *self == Modify::default()
    }
}

/// Everything it takes to bring an existing instance to the file: the fields to show, and the
/// calls apply makes for an in-place update (the replace decision is `diff.forces_replacement()`).
#[derive(Debug, Default)]
pub struct Delta {
    pub diff: Diff,
    pub modify: Modify,
    /// Tags to add or overwrite (AddTagsToResource).
    pub tags: BTreeMap<String, String>,
    /// Tags to remove (RemoveTagsFromResource): the legacy password fingerprint.
    pub remove_tags: Vec<String>,
    /// The running state to reach, when it differs.
    pub running: Option<bool>,
    pub notes: Vec<String>,
}

fn plan_error(address: &str, pos: Pos, message: impl Into<String>) -> PlanError {
    PlanError {
        address: address.into(),
        pos,
        message: message.into(),
    }
}

/// `16` matches `16.4`: a version given as a prefix accepts whatever minor RDS picked.
fn version_matches(live: &str, want: &str) -> bool {
    live == want || live.starts_with(&format!("{want}."))
}

/// The numbers of a version, up to anything that is not one: `16.4` -> [16, 4],
/// `11.22-rds.20240418` -> [11, 22] (RDS's suffix for extended-support builds).
fn version_parts(v: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for p in v.split('.') {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        let Ok(n) = digits.parse() else { break };
        out.push(n);
        if digits.len() != p.len() {
            break;
        }
    }
    out
}

/// The major version: `16` for 16.4, `9.6` for 9.6.24 (PostgreSQL before 10 had two-part majors).
fn major(v: &str) -> Vec<u64> {
    let p = version_parts(v);
    let n = if p.first().is_some_and(|m| *m < 10) {
        2
    } else {
        1
    };
    p.into_iter().take(n).collect()
}

fn major_text(v: &str) -> String {
    major(v)
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// How the running version stands against the file's `engine_version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionFit {
    /// The same, or a minor of the major the file names alone.
    Matches,
    /// A newer minor of the file's major: RDS upgraded it (auto minor version upgrade in the
    /// maintenance window, or a forced upgrade off a retired minor). It satisfies the file.
    NewerMinor,
    /// An older minor of the file's major: an in-place minor upgrade.
    MinorUpgrade,
    /// The file names a newer major: an explicit major upgrade.
    MajorUpgrade,
    /// The file names an older major: RDS cannot downgrade an engine.
    Downgrade,
}

pub fn version_fit(live: &str, want: &str) -> VersionFit {
    if version_matches(live, want) {
        return VersionFit::Matches;
    }
    let (l, w) = (version_parts(live), version_parts(want));
    if l.is_empty() || w.is_empty() {
        // Not versions deploy can compare: send what the file says and let RDS judge.
        return VersionFit::MinorUpgrade;
    }
    let (lm, wm) = (major(live), major(want));
    if lm == wm {
        let n = w.len().min(l.len());
        if w[..n] == l[..n] {
            // The same numbers, one of them with RDS's build suffix (`11.22-rds.20240418`).
            VersionFit::Matches
        } else if w[..n] < l[..n] {
            VersionFit::NewerMinor
        } else {
            VersionFit::MinorUpgrade
        }
    } else if wm > lm {
        VersionFit::MajorUpgrade
    } else {
        VersionFit::Downgrade
    }
}

/// Whether RDS creates an instance of `want`, given the versions DescribeDBEngineVersions lists
/// as available: a major alone when any minor of it is (RDS then picks the major's default).
pub fn creatable(want: &str, available: &[String]) -> bool {
    available.iter().any(|v| version_matches(v, want))
}

/// Sorted by number, without repeats.
fn sorted_versions<'a>(vs: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut out: Vec<&str> = vs.map(String::as_str).collect();
    out.sort_by(|a, b| version_parts(a).cmp(&version_parts(b)).then(a.cmp(b)));
    out.dedup();
    out
}

/// What a create (or the create half of a replace) of `s` must check about its version: a
/// version RDS no longer creates is an error at the file's `engine_version`, naming those it
/// does; when the versions could not be read, a note that says so (the check is advisory).
fn check_version(address: &str, s: &Spec) -> Result<Option<String>, PlanError> {
    let (Some(want), Some(read)) = (&s.engine_version, &s.available_versions) else {
        return Ok(None);
    };
    let available = match read {
        Err(why) => {
            return Ok(Some(format!(
                "engine version not checked: {why}; a version RDS no longer creates fails at CreateDBInstance"
            )));
        }
        Ok(v) => v,
    };
    if creatable(want, available) {
        return Ok(None);
    }
    let m = major_text(want);
    let same_major = sorted_versions(available.iter().filter(|v| major(v) == major(want)));
    let message = if same_major.is_empty() {
        let mut majors: Vec<String> = available.iter().map(|v| major_text(v)).collect();
        majors.sort_by_key(|m| version_parts(m));
        majors.dedup();
        format!(
            "engine_version {want}: RDS creates no {} {m} instance any more; it creates majors {}: set engine_version to one of them (a major alone, such as \"{}\", takes RDS's current minor)",
            s.engine,
            majors.join(", "),
            majors.last().map_or("", String::as_str)
        )
    } else {
        format!(
            "engine_version {want}: RDS no longer creates {} {want} (it retires minors on a schedule); for {m} it creates {}: set engine_version: \"{m}\" to take RDS's current minor of {m}, or one of those",
            s.engine,
            same_major.join(", ")
        )
    };
    Err(plan_error(address, s.engine_version_pos, message))
}

/// One line about an instance whose running version is newer than the file's within its major:
/// not a change, but the reader should know the file and AWS now name different minors.
pub fn version_note(address: &str, s: &Spec, o: &Observed) -> Option<String> {
    let want = s.engine_version.as_ref()?;
    (o.status != "deleting" && version_fit(&o.engine_version, want) == VersionFit::NewerMinor).then(
        || {
            format!(
                "{address} runs {}, newer than the file's {want} (RDS upgraded it); no change",
                o.engine_version
            )
        },
    )
}

/// Compares an existing instance with its spec. Errors are what RDS would reject.
pub fn delta(address: &str, s: &Spec, o: &Observed) -> Result<Delta, PlanError> {
    let mut d = Diff::new();
    let mut m = Modify::default();
    let mut notes = Vec::new();
    // The parts in the order the plan lists the fields.
    identity_delta(&mut d, &mut m, &mut notes, s, o);
    // In place, ModifyDBInstance.
    engine_version_delta(address, &mut d, &mut m, &mut notes, s, o)?;
    class_and_storage_delta(address, &mut d, &mut m, &mut notes, s, o)?;
    settings_delta(&mut d, &mut m, &mut notes, s, o);
    let (remove_tags, version_tag) = password_delta(&mut d, &mut m, &mut notes, s, o);
    let mut tags = BTreeMap::new();
    let before = d.fields.len();
    tag_diff(&mut d, &o.tags, &s.tags);
    if d.fields.len() > before {
        tags = s
            .tags
            .iter()
            .filter(|(k, v)| o.tags.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    tags.extend(version_tag.map(|v| (VERSION_TAG.to_string(), v)));
    let mut running = None;
    if s.running != o.running() {
        d.value("running", Some(o.running()), Some(s.running), false);
        running = Some(s.running);
        notes.push(if s.running {
            "running: apply starts the instance (StartDBInstance)".into()
        } else {
            "running: apply stops the instance (StopDBInstance); storage is still billed, and AWS starts a stopped instance again after 7 days".into()
        });
        if !s.running
            && (o.status == "storage-optimization"
                || m.allocated_storage.is_some()
                || m.storage_type.is_some())
        {
            notes.push("running: RDS stops only an available instance, not one optimizing its storage (status storage-optimization, which can last hours after a storage change): apply waits for that to end before stopping it".into());
        }
    }
    if !m.is_empty() && !o.running() {
        notes.push(if s.running {
            "the instance is stopped and RDS cannot modify a stopped instance: apply starts it first".into()
        } else {
            "the instance is stopped and RDS cannot modify a stopped instance: apply starts it, modifies it, and stops it again".into()
        });
    }
    if !m.is_empty() && !o.pending.is_empty() {
        notes.push(format!(
            "RDS has modifications waiting for the maintenance window ({}); apply uses ApplyImmediately, which applies them now too",
            o.pending.join(", ")
        ));
    }
    Ok(Delta {
        diff: d,
        modify: m,
        tags,
        remove_tags,
        running,
        notes,
    })
}

/// The identifier (renamed in place) and the fields RDS cannot change (a new instance).
fn identity_delta(d: &mut Diff, m: &mut Modify, notes: &mut Vec<String>, s: &Spec, o: &Observed) {
    // A changed `name:` renames the instance in place: an instance holds data, so a new
    // identifier is never a replace.
    if o.identifier != s.identifier {
        d.value(
            "name",
            Some(o.identifier.clone()),
            Some(s.identifier.clone()),
            false,
        );
        m.new_identifier = Some(s.identifier.clone());
        notes.push(
            "name: apply renames the instance in place, keeping its data (ModifyDBInstance NewDBInstanceIdentifier, applied immediately); its endpoint address changes to the new identifier's".to_string(),
        );
    }
    // Fields RDS cannot change: a new instance.
    if !o.engine.eq_ignore_ascii_case(&s.engine) {
        d.value(
            "engine",
            Some(o.engine.clone()),
            Some(s.engine.clone()),
            true,
        );
    }
    d.value(
        "storage_encrypted",
        Some(o.storage_encrypted),
        s.storage_encrypted,
        true,
    );
    d.value(
        "master_username",
        Some(o.master_username.clone()),
        Some(s.master_username.clone()),
        true,
    );
    d.value("db_name", o.db_name.clone(), s.db_name.clone(), true);
    // A Multi-AZ failover moves the primary to the other AZ; diffing it then would plan a replace
    // (losing data) for something AWS did on its own.
    if !o.multi_az {
        d.value(
            "availability_zone",
            o.availability_zone.clone(),
            s.availability_zone.clone(),
            true,
        );
    }
}

/// An engine version upgrade (a downgrade is refused).
fn engine_version_delta(
    address: &str,
    d: &mut Diff,
    m: &mut Modify,
    notes: &mut Vec<String>,
    s: &Spec,
    o: &Observed,
) -> Result<(), PlanError> {
    if let Some(want) = &s.engine_version {
        let fit = version_fit(&o.engine_version, want);
        if fit == VersionFit::Downgrade {
            return Err(plan_error(
                address,
                s.engine_version_pos,
                format!(
                    "engine_version {want} is an older major than the running {}: RDS cannot downgrade an engine; set engine_version to \"{}\" (or a newer major, to upgrade)",
                    o.engine_version,
                    major_text(&o.engine_version),
                ),
            ));
        }
        if matches!(fit, VersionFit::MinorUpgrade | VersionFit::MajorUpgrade) {
            d.value(
                "engine_version",
                Some(o.engine_version.clone()),
                Some(want.clone()),
                false,
            );
            m.engine_version = Some(want.clone());
            if fit == VersionFit::MajorUpgrade {
                m.allow_major_version_upgrade = true;
                notes.push(format!(
                    "engine_version {} -> {want} is a major version upgrade: the database is unavailable while it runs and it cannot be undone (take a snapshot first)",
                    o.engine_version
                ));
            } else {
                notes.push(
                    "engine_version: RDS restarts the database to upgrade it (a short outage)"
                        .into(),
                );
            }
        }
    }
    Ok(())
}

/// The instance class, and the storage's size and type (grown only, one change at a time).
fn class_and_storage_delta(
    address: &str,
    d: &mut Diff,
    m: &mut Modify,
    notes: &mut Vec<String>,
    s: &Spec,
    o: &Observed,
) -> Result<(), PlanError> {
    if o.instance_class != s.instance_class {
        d.value(
            "instance_class",
            Some(o.instance_class.clone()),
            Some(s.instance_class.clone()),
            false,
        );
        m.instance_class = Some(s.instance_class.clone());
        notes.push(
            "instance_class: RDS moves the database to the new class with a short outage".into(),
        );
    }
    if o.allocated_storage != s.allocated_storage {
        let (live, want) = (o.allocated_storage, s.allocated_storage);
        let pos = s.allocated_storage_pos;
        if want < live {
            return Err(plan_error(
                address,
                pos,
                format!(
                    "allocated_storage cannot shrink from {live} to {want} GiB: RDS can only grow storage (to get a smaller disk, dump and restore into a new instance)"
                ),
            ));
        }
        // RDS wants at least 10% more: want >= 1.1 * live, in integers.
        if i64::from(want) * 10 < i64::from(live) * 11 {
            let min = (i64::from(live) * 11 + 9) / 10;
            return Err(plan_error(
                address,
                pos,
                format!(
                    "allocated_storage must grow by at least 10% at a time: from {live} GiB, ask for {min} GiB or more, not {want}"
                ),
            ));
        }
        if o.status == "storage-optimization" {
            return Err(storage_optimizing(address, pos, "allocated_storage"));
        }
        d.value("allocated_storage", Some(live), Some(want), false);
        m.allocated_storage = Some(want);
        notes.push("allocated_storage: grows without an outage; RDS then optimizes the storage for hours and allows no further storage change for at least 6 hours".into());
    }
    if let Some(want) = &s.storage_type
        && o.storage_type.as_ref() != Some(want)
    {
        // A storage type change is a storage modification too (the same 6-hour rule: RDS User
        // Guide, "Working with storage for Amazon RDS DB instances": "You can't make further
        // storage modifications for either six (6) hours or until storage optimization has
        // completed on the instance, whichever is longer").
        if o.status == "storage-optimization" {
            return Err(storage_optimizing(address, s.pos, "storage_type"));
        }
        if m.allocated_storage.is_some() {
            notes.push("storage_type and allocated_storage change in one modification: RDS counts it as one storage change".into());
        } else {
            notes.push("storage_type: RDS then optimizes the storage for hours and allows no further storage change (size or type) for at least 6 hours".into());
        }
        d.value(
            "storage_type",
            o.storage_type.clone(),
            Some(want.clone()),
            false,
        );
        m.storage_type = Some(want.clone());
        notes.push("storage_type: RDS migrates the storage, with a short outage or degraded I/O while it runs".into());
    }
    Ok(())
}

/// The settings ModifyDBInstance changes without conditions: port, Multi-AZ, public access,
/// backups, Performance Insights, deletion protection, security groups.
fn settings_delta(d: &mut Diff, m: &mut Modify, notes: &mut Vec<String>, s: &Spec, o: &Observed) {
    // Without an endpoint yet (still being created) the live port is unknown: nothing to compare.
    if let (Some(want), Some(live)) = (s.port, o.port)
        && want != live
    {
        d.value("port", Some(live), Some(want), false);
        m.port = Some(want);
        notes.push("port: the database restarts to listen on the new port (a short outage); clients must use the new port".into());
    }
    if let Some(want) = s.multi_az
        && want != o.multi_az
    {
        d.value("multi_az", Some(o.multi_az), Some(want), false);
        m.multi_az = Some(want);
        notes.push("multi_az: RDS converts the instance with a short outage or I/O pause".into());
    }
    if let Some(want) = s.publicly_accessible
        && want != o.publicly_accessible
    {
        d.value(
            "publicly_accessible",
            Some(o.publicly_accessible),
            Some(want),
            false,
        );
        m.publicly_accessible = Some(want);
    }
    if let Some(want) = s.backup_retention_days {
        let live = o.backup_retention_days;
        if want != live {
            d.value("backup_retention_days", Some(live), Some(want), false);
            m.backup_retention_days = Some(want);
            if (live == 0) != (want == 0) {
                notes.push("backup_retention_days 0 <-> N: RDS restarts the instance to turn automated backups on or off (a short outage)".into());
            }
        }
    }
    if let Some(pi) = s.performance_insights {
        // Only what the API reported is compared: the fields are optional in DescribeDBInstances'
        // model. Real RDS always reports both, so on AWS this compares them every time; an
        // implementation that omits one (moto does) cannot show drift on it, rather than showing
        // a change that no write could ever make converge.
        let mut changed = false;
        if let Some(live) = o.performance_insights_enabled
            && live != pi.enabled
        {
            d.value(
                "performance_insights.enabled",
                Some(live),
                Some(pi.enabled),
                false,
            );
            changed = true;
        }
        if pi.enabled
            && o.performance_insights_enabled != Some(false)
            && let (Some(want), Some(live)) = (pi.retention_days, o.performance_insights_retention)
            && want != live
        {
            d.value(
                "performance_insights.retention_days",
                Some(live),
                Some(want),
                false,
            );
            changed = true;
        }
        if changed {
            m.performance_insights = Some(pi);
        }
    }
    if let Some(want) = s.deletion_protection
        && want != o.deletion_protection
    {
        d.value(
            "deletion_protection",
            Some(o.deletion_protection),
            Some(want),
            false,
        );
        m.deletion_protection = Some(want);
    }
    if !s.security_groups.is_empty() {
        let live = list(&o.security_groups);
        if s.security_groups.iter().all(Text::is_known) {
            let mut want: Vec<String> = s
                .security_groups
                .iter()
                .filter_map(|t| t.expose().map(str::to_string))
                .collect();
            want.sort();
            want.dedup();
            if want != o.security_groups {
                d.value("security_groups", Some(live), Some(list(&want)), false);
                m.security_groups = Some(s.security_groups.clone());
            }
        } else {
            d.shown("security_groups", Shown::value(live), Shown::Unknown, false);
            m.security_groups = Some(s.security_groups.clone());
        }
    }
}

/// The master password: managed by RDS, or set from the file when its version changed. Returns
/// the tags to remove and the version tag to set.
fn password_delta(
    d: &mut Diff,
    m: &mut Modify,
    notes: &mut Vec<String>,
    s: &Spec,
    o: &Observed,
) -> (Vec<String>, Option<String>) {
    let mut remove_tags = Vec::new();
    let mut version_tag = None;
    match &s.password {
        PasswordSpec::Managed => {
            if !o.managed_password {
                d.value("manage_master_password", Some(false), Some(true), false);
                m.password = Some(PasswordChange::Manage);
            }
        }
        PasswordSpec::Secret {
            value,
            version,
            legacy_salt,
        } => {
            if o.managed_password {
                d.value("manage_master_password", Some(true), Some(false), false);
            }
            let same = match (o.password_version, &o.password_fingerprint) {
                (Some(v), _) => v == *version,
                // Validation forbids references in passwords, so the value is always known.
                (None, Some(fp)) => value
                    .expose()
                    .is_some_and(|p| password_fingerprint(legacy_salt, p) == *fp),
                (None, None) => false,
            };
            if o.password_version.is_none() && o.password_fingerprint.is_some() {
                remove_tags.push(FINGERPRINT_TAG.to_string());
                notes.push(format!(
                    "master_password: the {FINGERPRINT_TAG} tag (a password derivative older versions of deploy stored) is removed; {VERSION_TAG} records password_version instead"
                ));
                if same && !o.managed_password {
                    version_tag = Some(version.to_string());
                    d.value(
                        &format!("tags.{VERSION_TAG}"),
                        None,
                        Some(version.to_string()),
                        false,
                    );
                }
            }
            if let (Some(v), false) = (o.password_version, same || o.managed_password) {
                notes.push(format!(
                    "master_password: password_version {v} -> {version}, so apply sets the password from stack.yaml"
                ));
            }
            if o.managed_password || !same {
                // Pushed by hand: Diff::shown drops a change whose two sides render alike.
                d.fields.push(FieldChange {
                    path: "master_password".into(),
                    before: Shown::Sensitive,
                    after: Shown::Sensitive,
                    forces_replacement: false,
                });
                m.password = Some(PasswordChange::Set);
                if o.password_fingerprint.is_none()
                    && o.password_version.is_none()
                    && !o.managed_password
                {
                    notes.push(format!(
                        "master_password: AWS never returns a password, and this instance has no {VERSION_TAG} tag yet, so apply sets it from stack.yaml"
                    ));
                }
            }
        }
    }
    (remove_tags, version_tag)
}

/// RDS refuses a storage change while it optimizes the previous one.
fn storage_optimizing(address: &str, pos: Pos, field: &str) -> PlanError {
    plan_error(
        address,
        pos,
        format!(
            "{field}: RDS is still optimizing the previous storage change (status storage-optimization); it allows the next storage change (size or type) only after that ends and at least 6 hours after the last one"
        ),
    )
}

/// Turning deletion protection off is a ModifyDBInstance, which RDS refuses on a stopped
/// instance.
const START_TO_UNPROTECT: &str = "the instance is stopped and RDS cannot modify a stopped instance: apply starts it to turn deletion protection off (a few minutes), then deletes it";

fn snapshot_note(identifier: &str, fs: &FinalSnapshot) -> String {
    match fs {
        FinalSnapshot::Skip => "final_snapshot: false: no final snapshot is taken".into(),
        FinalSnapshot::Auto => {
            format!("a final snapshot {identifier}-final-<unix time> is taken first")
        }
        FinalSnapshot::Named(n) => format!("a final snapshot {n} is taken first"),
    }
}

/// What RDS rejects on create, caught at plan time; `Some` is a note for the change (the engine
/// version could not be checked).
fn check_create(address: &str, s: &Spec) -> Result<Option<String>, PlanError> {
    if s.multi_az == Some(true) && s.availability_zone.is_some() {
        return Err(plan_error(
            address,
            s.pos,
            "availability_zone cannot be set together with multi_az: true (RDS picks the zones of a Multi-AZ instance); remove one of them",
        ));
    }
    if let Some(why) = &s.network {
        // CreateDBInstance without DBSubnetGroupName puts the instance in the default VPC (RDS
        // User Guide, "Working with a DB instance in a VPC"; RDS API Reference,
        // CreateDBInstance, DBSubnetGroupName), and refuses groups of another VPC with "The DB
        // instance and EC2 security group are in different VPCs".
        return Err(plan_error(
            address,
            s.pos,
            format!(
                "{why}: without a DB subnet group RDS creates the instance in the default VPC and refuses groups of another VPC (\"The DB instance and EC2 security group are in different VPCs\"); give the group `vpc: default` (deploy cannot make a DB subnet group yet)"
            ),
        ));
    }
    check_version(address, s)
}

/// Every managed field of a new instance.
fn create_change(address: &str, s: &Spec) -> Change {
    let mut d = Diff::new();
    d.value("engine", None, Some(s.engine.clone()), false);
    d.value("engine_version", None, s.engine_version.clone(), false);
    d.value(
        "instance_class",
        None,
        Some(s.instance_class.clone()),
        false,
    );
    d.value("allocated_storage", None, Some(s.allocated_storage), false);
    d.value("storage_type", None, s.storage_type.clone(), false);
    d.value("storage_encrypted", None, s.storage_encrypted, false);
    d.value(
        "master_username",
        None,
        Some(s.master_username.clone()),
        false,
    );
    match &s.password {
        PasswordSpec::Managed => d.value("manage_master_password", None, Some(true), false),
        PasswordSpec::Secret { value, .. } => d.text("master_password", None, value, false),
    }
    d.value("db_name", None, s.db_name.clone(), false);
    d.value("port", None, s.port, false);
    d.value(
        "availability_zone",
        None,
        s.availability_zone.clone(),
        false,
    );
    d.value("multi_az", None, s.multi_az, false);
    d.value("publicly_accessible", None, s.publicly_accessible, false);
    d.value(
        "backup_retention_days",
        None,
        s.backup_retention_days,
        false,
    );
    if let Some(pi) = s.performance_insights {
        d.value(
            "performance_insights.enabled",
            None,
            Some(pi.enabled),
            false,
        );
        if pi.enabled {
            d.value(
                "performance_insights.retention_days",
                None,
                pi.retention_days,
                false,
            );
        }
    }
    d.value("deletion_protection", None, s.deletion_protection, false);
    if !s.security_groups.is_empty() {
        if s.security_groups.iter().all(Text::is_known) {
            let mut ids: Vec<&str> = s.security_groups.iter().filter_map(Text::expose).collect();
            ids.sort();
            ids.dedup();
            d.value("security_groups", None, Some(list(&ids)), false);
        } else {
            d.shown("security_groups", Shown::Absent, Shown::Unknown, false);
        }
    }
    if !s.running {
        d.value("running", None, Some(false), false);
    }
    tag_diff(&mut d, &BTreeMap::new(), &s.tags);
    let mut c = d.into_create(address).note(
        "RDS takes about 5 to 10 minutes to create an instance; apply waits until it is available",
    );
    if s.publicly_accessible.is_none() {
        c = c.note("publicly_accessible is not set: the instance is created private (AWS would make it public in a default VPC)");
    }
    if !s.running {
        c = c.note("running: false: apply creates the instance, then stops it");
    }
    c
}

pub fn diff(
    address: &str,
    spec: Option<&Spec>,
    observed: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    match (spec, observed) {
        (None, None) => Ok(None),
        (None, Some(o)) => diff_delete(address, o).map(Some),
        (Some(s), None) => {
            let version = check_create(address, s)?;
            Ok(Some(create_change(address, s).notes_from(version)))
        }
        (Some(s), Some(o)) if o.status == "deleting" => {
            let version = check_create(address, s)?;
            Ok(Some(create_change(address, s).notes_from(version).note(
                "an instance with this identifier is still being deleted: apply waits until it is gone, then creates this one",
            )))
        }
        (Some(s), Some(o)) => diff_existing(address, s, o),
    }
}

fn diff_existing(address: &str, s: &Spec, o: &Observed) -> Result<Option<Change>, PlanError> {
    let delta = delta(address, s, o)?;
    let forcing: Vec<String> = delta
        .diff
        .fields
        .iter()
        .filter(|f| f.forces_replacement)
        .map(|f| f.path.clone())
        .collect();
    if !o.owned {
        let Some(mut c) = owned_change(address, delta.diff, false) else {
            return Ok(None);
        };
        if !forcing.is_empty() {
            c = c.note(format!(
                "the existing instance differs in {} (only a replace could change that): apply --adopt refuses to take it over; make stack.yaml match it, or delete it yourself",
                forcing.join(", ")
            ));
        }
        c.notes.extend(delta.notes);
        return Ok(Some(c));
    }
    if forcing.is_empty() {
        return Ok(delta.diff.into_change(address).map(|mut c| {
            c.notes.extend(delta.notes);
            c
        }));
    }
    // A replace: delete, then create under the same identifier.
    let fields = forcing.join(", ");
    match (s.deletion_protection, o.deletion_protection) {
        (Some(true), _) => {
            return Err(plan_error(
                address,
                s.pos,
                format!(
                    "changing {fields} replaces this instance, deleting it and its data, but deletion_protection is true: revert {fields}, or first apply deletion_protection: false on its own"
                ),
            ));
        }
        (None, true) => {
            return Err(plan_error(
                address,
                s.pos,
                format!(
                    "changing {fields} replaces this instance, deleting it and its data, but deletion protection is on in AWS: set deletion_protection: false in stack.yaml to allow it, or revert {fields}"
                ),
            ));
        }
        _ => {}
    }
    let version = check_create(address, s)?;
    let mut c = delta
        .diff
        .into_change(address)
        .expect("a forcing field is a change")
        .notes_from(version)
        .note(format!(
            "LOSING DATA: RDS cannot change {fields} in place: the instance and its automated backups are deleted, then created again empty"
        ))
        .note(snapshot_note(&o.identifier, &s.final_snapshot));
    if o.deletion_protection {
        c = c
            .note("deletion protection is on in AWS: apply turns it off first, as stack.yaml says");
        if !o.running() {
            c = c.note(START_TO_UNPROTECT);
        }
    }
    if !s.running {
        c = c.note("running: false: apply stops the new instance after creating it");
    }
    Ok(Some(c))
}

fn diff_delete(address: &str, o: &Observed) -> Result<Change, PlanError> {
    let mut c = Change::new(address, Action::Delete);
    if o.status == "deleting" {
        return Ok(c.note("already being deleted: apply waits until it is gone"));
    }
    let pos = o.declared.as_ref().map_or(Pos::default(), |d| d.pos);
    let file_protection = o.declared.as_ref().and_then(|d| d.deletion_protection);
    if file_protection == Some(true) {
        return Err(plan_error(
            address,
            pos,
            "deletion_protection is true in stack.yaml: set it to false and apply, then destroy",
        ));
    }
    if o.deletion_protection {
        match (&o.declared, file_protection) {
            (Some(_), Some(false)) => {
                c = c.note("deletion protection is on in AWS: apply turns it off first, as stack.yaml says");
                if !o.running() {
                    c = c.note(START_TO_UNPROTECT);
                }
            }
            (Some(_), _) => {
                return Err(plan_error(
                    address,
                    pos,
                    "deletion protection is on in AWS: set deletion_protection: false in stack.yaml and apply, then destroy",
                ));
            }
            (None, _) => {
                return Err(plan_error(
                    address,
                    pos,
                    "this instance is not in stack.yaml any more, but deletion protection is on: to delete it, add it back with deletion_protection: false and apply (or turn protection off in the console), then plan again; to keep it, remove this stack's deploy:stack tag from it",
                ));
            }
        }
    }
    c = c.note("LOSING DATA: deletes the instance and its automated backups");
    c = match &o.declared {
        Some(d) => c.note(snapshot_note(&o.identifier, &d.final_snapshot)),
        None => c.note(format!(
            "not in stack.yaml, so its final_snapshot setting is unknown: to be safe a final snapshot {}-final-<unix time> is taken first",
            o.identifier
        )),
    };
    Ok(c)
}

/// The final snapshot a delete takes: `None` to skip it.
pub fn final_snapshot_id(
    identifier: &str,
    fs: &FinalSnapshot,
    unix_seconds: u64,
) -> Option<String> {
    match fs {
        FinalSnapshot::Skip => None,
        FinalSnapshot::Auto => Some(format!("{identifier}-final-{unix_seconds}")),
        FinalSnapshot::Named(n) => Some(n.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    const SALT: &str = "deploy:cruddur:db";

    /// The fingerprint of "pw" for SALT, computed once (it is deliberately slow).
    fn fp() -> Fingerprint {
        static FP: OnceLock<Fingerprint> = OnceLock::new();
        FP.get_or_init(|| password_fingerprint(SALT, "pw")).clone()
    }

    fn want() -> Spec {
        Spec {
            name: "db".into(),
            identifier: "db".into(),
            engine: "postgres".into(),
            engine_version: Some("16.4".into()),
            engine_version_pos: Pos { line: 6, col: 21 },
            available_versions: None,
            network: None,
            instance_class: "db.t3.micro".into(),
            allocated_storage: 20,
            allocated_storage_pos: Pos { line: 9, col: 24 },
            storage_type: Some("gp3".into()),
            storage_encrypted: Some(true),
            master_username: "root".into(),
            password: PasswordSpec::Secret {
                value: Text::secret("pw"),
                version: 1,
                legacy_salt: SALT.into(),
            },
            db_name: Some("cruddur".into()),
            port: Some(5432),
            availability_zone: Some("us-east-1a".into()),
            multi_az: Some(false),
            publicly_accessible: Some(true),
            backup_retention_days: Some(0),
            performance_insights: Some(PerformanceInsights {
                enabled: true,
                retention_days: Some(7),
            }),
            deletion_protection: Some(false),
            security_groups: vec![Text::known("sg-1")],
            running: true,
            final_snapshot: FinalSnapshot::Skip,
            tags: [("deploy:stack".to_string(), "cruddur".to_string())].into(),
            pos: Pos { line: 3, col: 3 },
        }
    }

    fn live() -> Observed {
        Observed {
            owned: true,
            identifier: "db".into(),
            arn: "arn:aws:rds:us-east-1:123456789012:db:db".into(),
            status: "available".into(),
            address: Some("db.x.rds.amazonaws.com".into()),
            port: Some(5432),
            engine: "postgres".into(),
            engine_version: "16.4".into(),
            instance_class: "db.t3.micro".into(),
            allocated_storage: 20,
            storage_type: Some("gp3".into()),
            storage_encrypted: true,
            master_username: "root".into(),
            managed_password: false,
            password_fingerprint: None,
            password_version: Some(1),
            db_name: Some("cruddur".into()),
            availability_zone: Some("us-east-1a".into()),
            multi_az: false,
            publicly_accessible: true,
            backup_retention_days: 0,
            performance_insights_enabled: Some(true),
            performance_insights_retention: Some(7),
            deletion_protection: false,
            security_groups: vec!["sg-1".into()],
            tags: [("deploy:stack".to_string(), "cruddur".to_string())].into(),
            pending: vec![],
            declared: None,
        }
    }

    fn change(s: &Spec, o: &Observed) -> Option<Change> {
        diff("db_instances.db", Some(s), Some(o)).unwrap()
    }

    fn paths(c: &Change) -> Vec<&str> {
        c.fields.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn fingerprint_is_deterministic_salted_and_iterated() {
        let a = password_fingerprint(SALT, "pw");
        assert_eq!(a.0.len(), 64);
        assert!(a.0.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, fp());
        assert_ne!(password_fingerprint("deploy:other:db", "pw"), a);
        assert_ne!(password_fingerprint(SALT, "pw2"), a);
        // Not a single hash: one round of sha256(salt || pw) differs from the result.
        let one: String = Sha256::digest(format!("{SALT}pw").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(one, a.0);
        assert_eq!(format!("{a:?}"), "(fingerprint)");
        assert_eq!(fingerprint_salt("cruddur", "My-DB"), "deploy:cruddur:my-db");
    }

    #[test]
    fn fingerprint_matches_the_documented_construction() {
        // The construction spelled out, over 3 rounds, to pin it down independently.
        let mut prev = b"pw".to_vec();
        for _ in 0..3 {
            let mut h = Sha256::new();
            h.update(SALT.as_bytes());
            h.update(&prev);
            prev = h.finalize().to_vec();
        }
        let mut again = b"pw".to_vec();
        for _ in 0..3 {
            again = Sha256::digest([SALT.as_bytes(), &again].concat()).to_vec();
        }
        assert_eq!(prev, again);
    }

    #[test]
    fn matching_instance_is_no_change() {
        assert!(change(&want(), &live()).is_none());
    }

    #[test]
    fn create_lists_every_managed_field_and_masks_the_password() {
        let c = diff("db_instances.db", Some(&want()), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Create);
        let p = paths(&c);
        for f in [
            "engine",
            "engine_version",
            "instance_class",
            "allocated_storage",
            "storage_type",
            "storage_encrypted",
            "master_username",
            "master_password",
            "db_name",
            "port",
            "availability_zone",
            "multi_az",
            "publicly_accessible",
            "backup_retention_days",
            "performance_insights.enabled",
            "performance_insights.retention_days",
            "deletion_protection",
            "security_groups",
            "tags.deploy:stack",
        ] {
            assert!(p.contains(&f), "{f} missing from {p:?}");
        }
        assert!(!p.contains(&"running"));
        let pw = c.field("master_password").unwrap();
        assert_eq!((&pw.before, &pw.after), (&Shown::Absent, &Shown::Sensitive));
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("\"pw\""), "{json}");
        assert!(!json.contains(&fp().0));
    }

    #[test]
    fn unmanaged_fields_are_not_sent_or_shown() {
        let mut s = want();
        s.engine_version = None;
        s.storage_type = None;
        s.storage_encrypted = None;
        s.db_name = None;
        s.port = None;
        s.availability_zone = None;
        s.multi_az = None;
        s.publicly_accessible = None;
        s.backup_retention_days = None;
        s.performance_insights = None;
        s.deletion_protection = None;
        s.security_groups = vec![];
        let c = diff("db_instances.db", Some(&s), None).unwrap().unwrap();
        assert_eq!(
            paths(&c),
            vec![
                "engine",
                "instance_class",
                "allocated_storage",
                "master_username",
                "master_password",
                "tags.deploy:stack"
            ]
        );
        assert!(c.notes.iter().any(|n| n.contains("created private")));
        // And live values of those fields, whatever they are, are not drift.
        let mut o = live();
        o.engine_version = "16.8".into();
        o.storage_type = Some("gp2".into());
        o.storage_encrypted = false;
        o.db_name = None;
        o.port = Some(5433);
        o.availability_zone = Some("us-east-1c".into());
        o.multi_az = true;
        o.publicly_accessible = false;
        o.backup_retention_days = 7;
        o.performance_insights_enabled = Some(false);
        o.deletion_protection = true;
        o.security_groups = vec!["sg-default".into()];
        assert!(change(&s, &o).is_none());
    }

    #[test]
    fn create_with_running_false_says_it_stops() {
        let mut s = want();
        s.running = false;
        let c = diff("db_instances.db", Some(&s), None).unwrap().unwrap();
        assert!(c.changes("running"));
        assert!(c.notes.iter().any(|n| n.contains("then stops it")));
    }

    #[test]
    fn managed_password_create_and_switches() {
        let mut s = want();
        s.password = PasswordSpec::Managed;
        let c = diff("db_instances.db", Some(&s), None).unwrap().unwrap();
        assert!(c.changes("manage_master_password") && !c.changes("master_password"));

        // secret -> managed: in place
        let d = delta("a", &s, &live()).unwrap();
        assert_eq!(d.modify.password, Some(PasswordChange::Manage));
        let c = change(&s, &live()).unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(paths(&c), vec!["manage_master_password"]);

        // managed -> managed: nothing
        let mut o = live();
        o.managed_password = true;
        o.password_fingerprint = None;
        assert!(change(&s, &o).is_none());

        // managed -> secret: in place, sends the password
        let c = change(&want(), &o).unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(paths(&c), vec!["manage_master_password", "master_password"]);
        assert_eq!(
            delta("a", &want(), &o).unwrap().modify.password,
            Some(PasswordChange::Set)
        );
    }

    #[test]
    fn a_legacy_fingerprint_is_checked_once_and_replaced_by_the_version_tag() {
        // Matching: only the tags change, the password is not sent.
        let mut o = live();
        o.password_version = None;
        o.password_fingerprint = Some(fp());
        let d = delta("a", &want(), &o).unwrap();
        assert_eq!(d.modify.password, None);
        assert_eq!(d.remove_tags, [FINGERPRINT_TAG]);
        assert_eq!(d.tags.get(VERSION_TAG).map(String::as_str), Some("1"));
        let c = change(&want(), &o).unwrap();
        assert_eq!(paths(&c), vec![format!("tags.{VERSION_TAG}")]);
        // Not matching: the password is set (and the version tag written after it).
        o.password_fingerprint = Some(Fingerprint("0".repeat(64)));
        let d = delta("a", &want(), &o).unwrap();
        assert_eq!(d.modify.password, Some(PasswordChange::Set));
        assert_eq!(d.remove_tags, [FINGERPRINT_TAG]);
    }

    #[test]
    fn a_bumped_password_version_sets_the_password_masked() {
        let mut o = live();
        let mut s = want();
        if let PasswordSpec::Secret { version, .. } = &mut s.password {
            *version = 2;
        }
        let c = change(&s, &o).unwrap();
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("password_version 1 -> 2"))
        );
        assert_eq!(c.action, Action::Update);
        let f = c.field("master_password").unwrap();
        assert_eq!(
            (&f.before, &f.after),
            (&Shown::Sensitive, &Shown::Sensitive)
        );
        assert_eq!(
            delta("a", &s, &o).unwrap().modify.password,
            Some(PasswordChange::Set)
        );

        // No tag at all (created by hand): set it, and say why.
        o.password_version = None;
        let c = change(&want(), &o).unwrap();
        assert!(c.changes("master_password"));
        assert!(c.notes.iter().any(|n| n.contains(VERSION_TAG)));
    }

    #[test]
    fn forcing_fields_replace_and_name_the_field() {
        type Edit = fn(&mut Observed);
        let cases: [(&str, Edit); 5] = [
            ("engine", |o| o.engine = "mysql".into()),
            ("storage_encrypted", |o| o.storage_encrypted = false),
            ("master_username", |o| o.master_username = "admin".into()),
            ("db_name", |o| o.db_name = Some("other".into())),
            ("availability_zone", |o| {
                o.availability_zone = Some("us-east-1b".into())
            }),
        ];
        for (field, edit) in cases {
            let mut o = live();
            edit(&mut o);
            let c = change(&want(), &o).unwrap();
            assert_eq!(c.action, Action::Replace, "{field}");
            let f = c.field(field).unwrap();
            assert!(f.forces_replacement, "{field}");
            assert!(
                c.notes
                    .iter()
                    .any(|n| n.starts_with("LOSING DATA") && n.contains(field)),
                "{:?}",
                c.notes
            );
            assert!(c.notes.iter().any(|n| n.contains("no final snapshot")));
        }
    }

    #[test]
    fn engine_compares_case_insensitively() {
        let mut s = want();
        s.engine = "Postgres".into();
        assert!(change(&s, &live()).is_none());
    }

    #[test]
    fn az_of_a_multi_az_instance_is_not_diffed() {
        let mut o = live();
        o.multi_az = true;
        o.availability_zone = Some("us-east-1b".into());
        let mut s = want();
        s.multi_az = None;
        assert!(change(&s, &o).is_none());
    }

    #[test]
    fn replace_with_deletion_protection_is_an_error_at_the_instance() {
        let mut s = want();
        s.deletion_protection = Some(true);
        let mut o = live();
        o.deletion_protection = true;
        o.db_name = Some("other".into());
        let e = diff("db_instances.db", Some(&s), Some(&o)).unwrap_err();
        assert_eq!(e.pos, s.pos);
        assert!(
            e.message.contains("db_name") && e.message.contains("deletion_protection"),
            "{}",
            e.message
        );

        // Protection on in AWS only, file silent: error too.
        s.deletion_protection = None;
        let e = diff("db_instances.db", Some(&s), Some(&o)).unwrap_err();
        assert!(
            e.message.contains("deletion_protection: false"),
            "{}",
            e.message
        );

        // File says false: allowed, turned off first.
        s.deletion_protection = Some(false);
        let c = diff("db_instances.db", Some(&s), Some(&o))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Replace);
        assert!(c.notes.iter().any(|n| n.contains("turns it off first")));
    }

    #[test]
    fn replace_snapshot_note_follows_the_file() {
        let mut s = want();
        s.final_snapshot = FinalSnapshot::Named("keep-me".into());
        let mut o = live();
        o.master_username = "admin".into();
        let c = change(&s, &o).unwrap();
        assert!(c.notes.iter().any(|n| n.contains("keep-me")));
        s.final_snapshot = FinalSnapshot::Auto;
        let c = change(&s, &o).unwrap();
        assert!(c.notes.iter().any(|n| n.contains("db-final-")));
    }

    #[test]
    fn in_place_fields_are_one_update_with_only_changed_fields_sent() {
        let mut o = live();
        o.instance_class = "db.t3.small".into();
        o.allocated_storage = 18;
        o.storage_type = Some("gp2".into());
        o.port = Some(5433);
        o.multi_az = true;
        o.publicly_accessible = false;
        o.backup_retention_days = 7;
        o.deletion_protection = true;
        o.security_groups = vec!["sg-0".into(), "sg-9".into()];
        let c = change(&want(), &o).unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(
            paths(&c),
            vec![
                "instance_class",
                "allocated_storage",
                "storage_type",
                "port",
                "multi_az",
                "publicly_accessible",
                "backup_retention_days",
                "deletion_protection",
                "security_groups"
            ]
        );
        let sg = c.field("security_groups").unwrap();
        assert_eq!(sg.before, Shown::List(vec!["sg-0".into(), "sg-9".into()]));
        assert_eq!(sg.after, Shown::List(vec!["sg-1".into()]));
        for n in [
            "instance_class",
            "storage_type",
            "port",
            "multi_az",
            "backup_retention_days",
        ] {
            assert!(
                c.notes.iter().any(|x| x.starts_with(n)),
                "no note for {n}: {:?}",
                c.notes
            );
        }
        let m = delta("a", &want(), &o).unwrap().modify;
        assert_eq!(m.instance_class.as_deref(), Some("db.t3.micro"));
        assert_eq!(m.allocated_storage, Some(20));
        assert_eq!(m.port, Some(5432));
        assert_eq!(m.engine_version, None);
        assert_eq!(m.password, None);
        assert_eq!(m.performance_insights, None);

        // Only the class differs: only the class is sent.
        let mut o = live();
        o.instance_class = "db.t3.small".into();
        let m = delta("a", &want(), &o).unwrap().modify;
        assert_eq!(
            m,
            Modify {
                instance_class: Some("db.t3.micro".into()),
                ..Default::default()
            }
        );
        assert!(delta("a", &want(), &live()).unwrap().modify.is_empty());
    }

    #[test]
    fn security_groups_compare_as_sets_and_unknown_ids_show_as_unknown() {
        let mut s = want();
        s.security_groups = vec![
            Text::known("sg-2"),
            Text::known("sg-1"),
            Text::known("sg-2"),
        ];
        let mut o = live();
        o.security_groups = vec!["sg-1".into(), "sg-2".into()];
        assert!(change(&s, &o).is_none());
        s.security_groups = vec![Text::unknown(false)];
        let c = change(&s, &o).unwrap();
        assert_eq!(c.field("security_groups").unwrap().after, Shown::Unknown);
        let c = diff("db_instances.db", Some(&s), None).unwrap().unwrap();
        assert_eq!(c.field("security_groups").unwrap().after, Shown::Unknown);
    }

    #[test]
    fn backup_retention_outage_note_only_between_zero_and_n() {
        let mut s = want();
        s.backup_retention_days = Some(14);
        let mut o = live();
        o.backup_retention_days = 7;
        let c = change(&s, &o).unwrap();
        assert!(!c.notes.iter().any(|n| n.contains("0 <-> N")));
        o.backup_retention_days = 0;
        let c = change(&s, &o).unwrap();
        assert!(c.notes.iter().any(|n| n.contains("0 <-> N")));
    }

    #[test]
    fn storage_can_only_grow_by_ten_percent() {
        let mut s = want();
        s.allocated_storage = 15;
        let e = diff("db_instances.db", Some(&s), Some(&live())).unwrap_err();
        assert_eq!(e.pos, s.allocated_storage_pos);
        assert!(e.message.contains("cannot shrink"));
        s.allocated_storage = 21;
        let e = diff("db_instances.db", Some(&s), Some(&live())).unwrap_err();
        assert_eq!(e.pos, s.allocated_storage_pos);
        assert!(e.message.contains("22 GiB"), "{}", e.message);
        s.allocated_storage = 22;
        let c = change(&s, &live()).unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(
            c.field("allocated_storage").unwrap().after,
            Shown::value(22)
        );
        // 21 -> 23 is 9.5%: refused; 24 is enough.
        let mut o = live();
        o.allocated_storage = 21;
        s.allocated_storage = 23;
        assert!(diff("db_instances.db", Some(&s), Some(&o)).is_err());
        s.allocated_storage = 24;
        assert!(diff("db_instances.db", Some(&s), Some(&o)).is_ok());
        // Still optimizing the last change.
        o.status = "storage-optimization".into();
        let e = diff("db_instances.db", Some(&s), Some(&o)).unwrap_err();
        assert!(e.message.contains("storage-optimization"));
    }

    #[test]
    fn a_storage_type_change_waits_for_storage_optimization_too() {
        let mut s = want();
        let mut o = live();
        o.storage_type = Some("gp2".into());
        s.storage_type = Some("gp3".into());
        let c = change(&s, &o).unwrap();
        assert_eq!(c.field("storage_type").unwrap().after, Shown::value("gp3"));
        assert!(
            c.notes.iter().any(|n| n.contains("at least 6 hours")),
            "{:?}",
            c.notes
        );
        o.status = "storage-optimization".into();
        let e = diff("db_instances.db", Some(&s), Some(&o)).unwrap_err();
        assert_eq!(e.pos, s.pos);
        assert!(
            e.message
                .starts_with("storage_type: RDS is still optimizing"),
            "{}",
            e.message
        );
        // Other changes are allowed while RDS optimizes the storage.
        s.storage_type = Some("gp2".into());
        s.instance_class = "db.t3.small".into();
        assert!(change(&s, &o).is_some());
    }

    #[test]
    fn stopping_an_instance_that_optimizes_its_storage_waits_for_it() {
        let mut s = want();
        let mut o = live();
        s.running = false;
        o.status = "storage-optimization".into();
        let c = change(&s, &o).unwrap();
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("RDS stops only an available instance")),
            "{:?}",
            c.notes
        );
        o.status = "available".into();
        let c = change(&s, &o).unwrap();
        assert!(!c.notes.iter().any(|n| n.contains("RDS stops only")));
    }

    #[test]
    fn engine_versions_prefix_upgrade_major_and_downgrade() {
        let mut s = want();
        s.engine_version = Some("16".into());
        assert!(change(&s, &live()).is_none());
        s.engine_version = Some("16.6".into());
        let d = delta("a", &s, &live()).unwrap();
        assert_eq!(d.modify.engine_version.as_deref(), Some("16.6"));
        assert!(!d.modify.allow_major_version_upgrade);
        assert!(d.notes.iter().any(|n| n.starts_with("engine_version")));
        s.engine_version = Some("17.2".into());
        let d = delta("a", &s, &live()).unwrap();
        assert!(d.modify.allow_major_version_upgrade);
        assert!(d.notes.iter().any(|n| n.contains("major version upgrade")));
        s.engine_version = Some("17".into());
        let d = delta("a", &s, &live()).unwrap();
        assert_eq!(d.modify.engine_version.as_deref(), Some("17"));
        assert!(d.modify.allow_major_version_upgrade);
        // An older major cannot be reached; the error points at engine_version.
        s.engine_version = Some("15.8".into());
        let e = diff("db_instances.db", Some(&s), Some(&live())).unwrap_err();
        assert!(e.message.contains("cannot downgrade"), "{}", e.message);
        assert!(e.message.contains("\"16\""), "{}", e.message);
        assert_eq!(e.pos, s.engine_version_pos);
        assert_eq!(major("9.6.24"), vec![9, 6]);
        assert_eq!(major("16.4"), vec![16]);
    }

    #[test]
    fn version_fit_compares_numbers_not_text() {
        use VersionFit::*;
        for (live, want, fit) in [
            ("16.4", "16.4", Matches),
            ("16.11", "16", Matches),
            ("9.6.24", "9.6", Matches),
            ("16.11", "16.4", NewerMinor),
            ("16.11", "16.10", NewerMinor), // 11 > 10 as numbers, though "16.10" > "16.1" as text
            ("16.10", "16.9", NewerMinor),
            ("16.4", "16.11", MinorUpgrade),
            ("16.9", "16.10", MinorUpgrade),
            ("16.11", "17", MajorUpgrade),
            ("9.6.24", "10.4", MajorUpgrade),
            ("16.11", "15", Downgrade),
            ("16.4", "15.13", Downgrade),
            ("10.4", "9.6", Downgrade),
            ("11.22-rds.20240418", "11.22", Matches),
            ("11.22-rds.20240418", "11.9", NewerMinor),
        ] {
            assert_eq!(version_fit(live, want), fit, "live {live}, file {want}");
        }
        assert_eq!(version_parts("11.22-rds.20240418"), vec![11, 22]);
    }

    #[test]
    fn a_newer_minor_rds_applied_is_no_change_with_a_note() {
        let mut o = live();
        o.engine_version = "16.11".into();
        let s = want(); // 16.4
        assert!(change(&s, &o).is_none());
        assert_eq!(
            version_note("db_instances.db", &s, &o).as_deref(),
            Some(
                "db_instances.db runs 16.11, newer than the file's 16.4 (RDS upgraded it); no change"
            )
        );
        // Another change still goes through, without touching the version.
        let mut bigger = want();
        bigger.instance_class = "db.t3.small".into();
        let d = delta("a", &bigger, &o).unwrap();
        assert_eq!(d.modify.engine_version, None);
        assert_eq!(paths(&change(&bigger, &o).unwrap()), vec!["instance_class"]);
        // Nothing to say when the file names the major alone, or the same minor.
        let mut major_only = want();
        major_only.engine_version = Some("16".into());
        assert_eq!(version_note("db_instances.db", &major_only, &o), None);
        assert_eq!(version_note("db_instances.db", &want(), &live()), None);
    }

    fn listed(vs: &[&str]) -> Option<Result<Vec<String>, String>> {
        Some(Ok(vs.iter().map(|v| v.to_string()).collect()))
    }

    #[test]
    fn a_create_with_a_version_rds_no_longer_creates_is_an_error_at_the_line() {
        let mut s = want(); // 16.4
        s.available_versions = listed(&["15.13", "16.10", "16.9", "16.11", "17.6"]);
        let e = diff("db_instances.db", Some(&s), None).unwrap_err();
        assert_eq!(e.pos, s.engine_version_pos);
        assert!(
            e.message.contains("for 16 it creates 16.9, 16.10, 16.11"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("engine_version: \"16\""),
            "{}",
            e.message
        );
        // A major RDS creates nothing of any more: the majors it does create.
        s.engine_version = Some("12".into());
        let e = diff("db_instances.db", Some(&s), None).unwrap_err();
        assert!(e.message.contains("majors 15, 16, 17"), "{}", e.message);
        // A major alone, or a listed minor, is fine; no version at all is RDS's default.
        for ok in [Some("16"), Some("16.9"), None] {
            s.engine_version = ok.map(str::to_string);
            let c = diff("db_instances.db", Some(&s), None).unwrap().unwrap();
            assert!(!c.notes.iter().any(|n| n.contains("engine version")));
        }
        // Also when the instance is being replaced, or created after one still being deleted.
        s.engine_version = Some("16.4".into());
        let mut o = live();
        o.db_name = Some("other".into());
        assert!(diff("db_instances.db", Some(&s), Some(&o)).is_err());
        o.status = "deleting".into();
        assert!(diff("db_instances.db", Some(&s), Some(&o)).is_err());
        // An existing instance on a retired minor is left alone.
        assert!(change(&s, &live()).is_none());
    }

    #[test]
    fn an_unreadable_version_list_is_a_note_on_the_create() {
        let mut s = want();
        s.available_versions = Some(Err("AccessDenied: not authorized".into()));
        let c = diff("db_instances.db", Some(&s), None).unwrap().unwrap();
        assert!(
            c.notes
                .iter()
                .any(|n| n.starts_with("engine version not checked: AccessDenied: not authorized;")),
            "{:?}",
            c.notes
        );
        // Not read at all (no engine_version anywhere): nothing to say.
        s.available_versions = None;
        let c = diff("db_instances.db", Some(&s), None).unwrap().unwrap();
        assert!(!c.notes.iter().any(|n| n.contains("engine version")));
    }

    #[test]
    fn performance_insights_is_only_diffed_where_aws_reported_it() {
        let mut o = live();
        o.performance_insights_enabled = None;
        o.performance_insights_retention = None;
        assert!(change(&want(), &o).is_none());
        o.performance_insights_retention = Some(31);
        let c = change(&want(), &o).unwrap();
        assert_eq!(paths(&c), vec!["performance_insights.retention_days"]);
        let mut o = live();
        o.performance_insights_enabled = Some(false);
        let c = change(&want(), &o).unwrap();
        assert_eq!(paths(&c), vec!["performance_insights.enabled"]);
        let m = delta("a", &want(), &o).unwrap().modify;
        assert_eq!(
            m.performance_insights,
            Some(PerformanceInsights {
                enabled: true,
                retention_days: Some(7)
            })
        );
    }

    #[test]
    fn stopping_and_starting_are_updates_of_running() {
        let mut s = want();
        s.running = false;
        let c = change(&s, &live()).unwrap();
        assert_eq!(c.action, Action::Update);
        let f = c.field("running").unwrap();
        assert_eq!(
            (&f.before, &f.after),
            (&Shown::value(true), &Shown::value(false))
        );
        assert!(c.notes.iter().any(|n| n.contains("7 days")));
        assert_eq!(delta("a", &s, &live()).unwrap().running, Some(false));

        let mut o = live();
        o.status = "stopped".into();
        let c = change(&want(), &o).unwrap();
        assert_eq!(c.field("running").unwrap().after, Shown::value(true));
        assert!(change(&s, &o).is_none());
        o.status = "stopping".into();
        assert!(change(&s, &o).is_none());

        // Stopped, stays stopped, but modified: start, modify, stop.
        o.status = "stopped".into();
        o.instance_class = "db.t3.small".into();
        let c = change(&s, &o).unwrap();
        assert!(!c.changes("running"));
        assert!(c.notes.iter().any(|n| n.contains("stops it again")));
    }

    #[test]
    fn tag_drift_is_an_update_of_the_tag() {
        let mut s = want();
        s.tags.insert("project".into(), "cruddur".into());
        let c = change(&s, &live()).unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(paths(&c), vec!["tags.project"]);
        let d = delta("a", &s, &live()).unwrap();
        assert_eq!(d.tags.len(), 1);
        assert!(d.modify.is_empty());
    }

    #[test]
    fn untagged_instance_with_the_declared_name_is_adopted() {
        let mut o = live();
        o.owned = false;
        o.tags.clear();
        o.password_version = None;
        let c = change(&want(), &o).unwrap();
        assert_eq!(c.action, Action::Adopt);
        assert_eq!(paths(&c), vec!["master_password", "tags.deploy:stack"]);
        // A field only a replace could change: still adopt, and the note says apply refuses.
        o.db_name = Some("x".into());
        let c = change(&want(), &o).unwrap();
        assert_eq!(c.action, Action::Adopt);
        assert!(c.notes.iter().any(|n| n.contains("refuses")));
    }

    #[test]
    fn orphan_delete_takes_a_snapshot_and_loses_data() {
        let c = diff("db_instances.db", None, Some(&live()))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(c.notes.iter().any(|n| n.starts_with("LOSING DATA")));
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("final snapshot db-final-"))
        );
    }

    #[test]
    fn orphan_with_deletion_protection_is_an_error() {
        let mut o = live();
        o.deletion_protection = true;
        let e = diff("db_instances.db", None, Some(&o)).unwrap_err();
        assert!(
            e.message.contains("deletion_protection: false"),
            "{}",
            e.message
        );
    }

    #[test]
    fn destroy_of_a_declared_instance_follows_the_file() {
        let mut o = live();
        o.declared = Some(Declared {
            final_snapshot: FinalSnapshot::Skip,
            deletion_protection: Some(false),
            pos: Pos { line: 3, col: 3 },
        });
        let c = diff("db_instances.db", None, Some(&o)).unwrap().unwrap();
        assert!(c.notes.iter().any(|n| n.contains("no final snapshot")));
        o.deletion_protection = true;
        let c = diff("db_instances.db", None, Some(&o)).unwrap().unwrap();
        assert!(c.notes.iter().any(|n| n.contains("turns it off first")));
        assert!(!c.notes.iter().any(|n| n.contains("apply starts it")));
        // Stopped: RDS cannot modify it, so apply starts it to turn the protection off.
        o.status = "stopped".into();
        let c = diff("db_instances.db", None, Some(&o)).unwrap().unwrap();
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("apply starts it to turn deletion protection off")),
            "{:?}",
            c.notes
        );
        o.status = "available".into();
        o.declared.as_mut().unwrap().deletion_protection = Some(true);
        let e = diff("db_instances.db", None, Some(&o)).unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, col: 3 });
        o.declared.as_mut().unwrap().deletion_protection = None;
        assert!(diff("db_instances.db", None, Some(&o)).is_err());
    }

    #[test]
    fn instances_being_deleted() {
        let mut o = live();
        o.status = "deleting".into();
        o.deletion_protection = true;
        let c = diff("db_instances.db", None, Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
        let c = change(&want(), &o).unwrap();
        assert_eq!(c.action, Action::Create);
        assert!(c.notes.iter().any(|n| n.contains("still being deleted")));
    }

    #[test]
    fn multi_az_with_an_az_is_refused_on_create() {
        let mut s = want();
        s.multi_az = Some(true);
        let e = diff("db_instances.db", Some(&s), None).unwrap_err();
        assert_eq!(e.pos, s.pos);
    }

    #[test]
    fn no_endpoint_yet_means_unknown_address_and_port() {
        let mut o = live();
        o.address = None;
        o.port = None;
        let a = attrs(&o);
        assert_eq!(a[0], ("address", None));
        assert_eq!(a[1], ("port", None));
        assert_eq!(a[2].1.as_deref(), Some(o.arn.as_str()));
        // and no port diff against an unknown live port
        assert!(change(&want(), &o).is_none());
        assert_eq!(attrs(&live())[1], ("port", Some("5432".into())));
    }

    #[test]
    fn pending_modifications_are_mentioned_when_modifying() {
        let mut o = live();
        o.pending = vec!["instance_class".into()];
        assert!(change(&want(), &o).is_none());
        o.instance_class = "db.t3.small".into();
        let c = change(&want(), &o).unwrap();
        assert!(c.notes.iter().any(|n| n.contains("maintenance window")));
    }

    #[test]
    fn final_snapshot_names() {
        assert_eq!(final_snapshot_id("db", &FinalSnapshot::Skip, 5), None);
        assert_eq!(
            final_snapshot_id("db", &FinalSnapshot::Auto, 5).as_deref(),
            Some("db-final-5")
        );
        assert_eq!(
            final_snapshot_id("db", &FinalSnapshot::Named("n".into()), 5).as_deref(),
            Some("n")
        );
    }

    #[test]
    fn nodes_and_specs_from_a_stack_file() {
        let src = r#"
stack: cruddur
security_groups:
  db-sg:
    description: d
db_instances:
  My-DB:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [db-sg, sg-0123, db-sg]
"#;
        let env = |n: &str| (n == "DB_PASSWORD").then(|| "pw-1234".to_string());
        let stack = crate::stack::parse_str(
            src,
            std::path::Path::new("stack.yaml"),
            std::path::Path::new("."),
            &env,
        )
        .unwrap();
        let n = nodes(&stack);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].address, "db_instances.My-DB");
        assert_eq!(n[0].deps, vec!["security_groups.db-sg".to_string()]);
        let mut r = Resolver::default();
        let s = spec(&stack, &n[0].key, &r, &LiveEnv::default());
        assert_eq!(s.identifier, "my-db");
        assert!(!s.security_groups[0].is_known());
        assert_eq!(s.security_groups[1], Text::known("sg-0123"));
        let PasswordSpec::Secret {
            value,
            version,
            legacy_salt,
        } = &s.password
        else {
            panic!()
        };
        assert!(value.is_secret());
        assert_eq!(
            (*version, legacy_salt.as_str()),
            (1, "deploy:cruddur:my-db")
        );
        assert_eq!(s.final_snapshot, FinalSnapshot::Auto);
        r.set("security_groups.db-sg", vec![("id", Some("sg-1".into()))]);
        let s = spec(&stack, &n[0].key, &r, &LiveEnv::default());
        assert_eq!(s.security_groups[0], Text::known("sg-1"));
    }
}

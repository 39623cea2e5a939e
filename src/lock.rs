//! One `apply` or `destroy` at a time per stack and region, with nothing to set up: the lock is
//! the SSM parameter `/deploy/lock/<stack>/<region>`, created with `PutParameter` without
//! overwrite. SSM refuses that atomically with `ParameterAlreadyExists` when the parameter is
//! there, so of two runs exactly one gets it. The value says who holds it (user, host, command,
//! pid, since when, a lock id). The run deletes it on every way out (see [`release_held`]); a
//! run killed with kill -9 cannot, and `deploy unlock [LOCK_ID]` breaks what it left.
//!
//! A lock left by a run of this same machine is taken over when its holder is provably dead
//! (see [`liveness`]): the value also records the holder's boot id, pid namespace and process
//! start time, which together name one process of one boot. A holder that may be alive, or that
//! ran elsewhere, is waited for (`--lock-timeout`) or reported.
//!
//! Release reads the parameter and deletes it only when it still carries this run's id (SSM has
//! no conditional delete: a lock broken and retaken in the few milliseconds between the two
//! calls would be deleted; that needs two people breaking locks at once).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_ssm::types::ParameterType;
use serde::{Deserialize, Serialize};

use crate::error::{AwsKind, Error, Result, kind_of};
use crate::value::escape_controls;
use crate::value::fmt_duration;

/// Longer than any run can take (the RDS wait alone is bounded by an hour by default, and a
/// run waits for at most a few such in a row): a lock this old was left by a killed run.
pub const STALE_AFTER: Duration = Duration::from_secs(6 * 60 * 60);

/// Who holds a lock, as stored in the parameter (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub id: String,
    pub who: String,
    pub host: String,
    pub command: String,
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub since: u64,
    /// `/proc/sys/kernel/random/boot_id` of the holder's machine: a new one at every boot, and
    /// shared by the containers of one host (hence [`Holder::pid_ns`]). Absent in locks written
    /// before it was recorded, and off Linux: such a lock is never taken over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// The holder's pid namespace (`readlink /proc/self/ns/pid`, `pid:[4026531836]`): a pid
    /// means a process only within its namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_ns: Option<String>,
    /// When the holder's process started, in clock ticks after boot (`/proc/<pid>/stat`
    /// field 22): with the boot id, it tells the holder from a later process given its pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
}

/// The parameter holding the lock of `stack` in `region`.
pub fn parameter(stack: &str, region: &str) -> String {
    format!("/deploy/lock/{stack}/{region}")
}

/// The ids deploy writes: hexadecimal digits (16 of them today).
fn is_lock_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Holder {
    /// This process, about to run `command`.
    pub fn me(command: &str) -> Holder {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let host = hostname();
        let pid = std::process::id();
        let id = {
            use sha2::Digest;
            let h = sha2::Sha256::digest(format!("{host}/{pid}/{}", now.as_nanos()));
            h.iter().take(8).map(|b| format!("{b:02x}")).collect()
        };
        Holder {
            id,
            who: ["USER", "USERNAME", "LOGNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
                .unwrap_or_else(|| "unknown user".into()),
            host,
            command: command.to_string(),
            pid,
            since: now.as_secs(),
            boot_id: here::boot_id(),
            pid_ns: here::pid_ns(),
            start: here::process(pid).map(|p| p.start),
        }
    }

    /// "alice on build-7 (pid 4242) running `deploy apply` since 2025-01-02 03:04:05 UTC
    /// (12m00s ago), lock id 0123…", and whether it is stale, as of `now` (epoch seconds).
    pub fn describe(&self, now: u64) -> String {
        let age = Duration::from_secs(now.saturating_sub(self.since));
        // Whoever can write the parameter chooses these texts: control characters are shown
        // escaped, so they cannot move the cursor or forge lines on the terminal.
        let mut s = format!(
            "{} on {} (pid {}) running `deploy {}` since {} ({} ago), lock id {}",
            escape_controls(&self.who),
            escape_controls(&self.host),
            self.pid,
            escape_controls(&self.command),
            utc(self.since),
            fmt_duration(age),
            escape_controls(&self.id)
        );
        if age >= STALE_AFTER {
            s.push_str(&format!(
                ". The lock is stale: no run takes {}, so that run was killed",
                fmt_duration(STALE_AFTER)
            ));
        }
        s
    }
}

/// The lock this process holds, released by [`release_held`].
struct Held {
    ssm: aws_sdk_ssm::Client,
    name: String,
    id: String,
}

static HELD: Mutex<Option<Held>> = Mutex::new(None);

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A process as `/proc/<pid>/stat` shows it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Process {
    /// Start time in clock ticks after boot (field 22).
    pub start: u64,
    /// State `Z`: it has exited and only waits for its parent to read its status.
    pub zombie: bool,
}

/// Whether the run holding a lock can still be running, as seen from here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// It ran on this machine, in this boot and pid namespace, and its process is gone: why.
    Dead(String),
    /// It ran here and its process is still there.
    Alive,
    /// It ran on another machine, another boot or another pid namespace, or the lock does not
    /// say (written before these fields, or off Linux): nothing here can tell.
    Unknown,
}

/// The pure decision: `boot_id` and `pid_ns` are this process's, `process` what this machine
/// shows now under the holder's pid (`None`: no such process). Only a lock that names this boot
/// and pid namespace can be judged; then its pid gone, a zombie, or a process that started after
/// the holder (the pid was reused; start times of one boot are comparable) means dead.
pub fn liveness(
    holder: &Holder,
    boot_id: Option<&str>,
    pid_ns: Option<&str>,
    process: Option<Process>,
) -> Liveness {
    let (Some(hb), Some(hn), Some(hs)) = (&holder.boot_id, &holder.pid_ns, holder.start) else {
        return Liveness::Unknown;
    };
    if boot_id != Some(hb.as_str()) || pid_ns != Some(hn.as_str()) || holder.pid == 0 {
        return Liveness::Unknown;
    }
    let pid = holder.pid;
    match process {
        None => Liveness::Dead(format!("pid {pid} is gone")),
        Some(p) if p.start > hs => Liveness::Dead(format!(
            "pid {pid} is now another process, started after that run"
        )),
        Some(p) if p.start == hs && p.zombie => {
            Liveness::Dead(format!("pid {pid} has exited (a zombie)"))
        }
        // The same process, or (an earlier start) something this cannot explain: assume alive.
        Some(_) => Liveness::Alive,
    }
}

/// How often a run waiting for the lock looks again: soon at first (an apply with little to
/// change holds it for seconds), then less often: Parameter Store's default throughput quota is shared by
/// GetParameter and PutParameter across the account and Region, so waiting runs must not eat
/// into the application's reads
/// (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html, note).
const FIRST_POLL: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_secs(5);

/// Takes the lock of `stack` in `region` for `command`. A holder provably dead on this machine
/// is taken over with a notice; any other holder is waited for up to `timeout` (polling with
/// backoff, saying whom it waits for), then [`Error::locked`].
pub async fn acquire(
    ssm: &aws_sdk_ssm::Client,
    stack: &str,
    region: &str,
    command: &str,
    timeout: Duration,
) -> Result<()> {
    let name = parameter(stack, region);
    let me = Holder::me(command);
    let started = Instant::now();
    let mut delay = FIRST_POLL;
    let mut waiting_for: Option<String> = None;
    loop {
        let holder = match attempt(ssm, &name, &me).await? {
            Attempt::Taken => break,
            Attempt::TookOver(dead, why) => {
                eprintln!(
                    "note: took over the lock of stack `{stack}` in {region} from a run that is no longer running ({why}): {}",
                    dead.describe(now_secs())
                );
                break;
            }
            Attempt::Held(h) => h,
        };
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(Error::locked(locked_message(
                stack, region, &holder, timeout, waited,
            )));
        }
        if waiting_for.as_deref() != Some(holder.id.as_str()) {
            eprintln!(
                "waiting for the lock held by {} (up to {} in all)",
                holder.describe(now_secs()),
                fmt_timeout(timeout)
            );
            waiting_for = Some(holder.id.clone());
        }
        tokio::time::sleep(delay.min(timeout - waited)).await;
        delay = (delay * 2).min(MAX_POLL);
    }
    if waiting_for.is_some() {
        eprintln!(
            "took the lock of stack `{stack}` in {region} after waiting {}",
            fmt_duration(started.elapsed())
        );
    }
    tracing::debug!("took the lock {name} ({})", me.id);
    *HELD.lock().unwrap_or_else(|p| p.into_inner()) = Some(Held {
        ssm: aws_sdk_ssm::Client::clone(ssm),
        name,
        id: me.id,
    });
    Ok(())
}

/// A timeout as the user likely wrote it: `30s`, else as progress shows durations (`5m00s`).
fn fmt_timeout(d: Duration) -> String {
    if d.subsec_nanos() == 0 && d.as_secs() < 60 {
        format!("{}s", d.as_secs())
    } else {
        fmt_duration(d)
    }
}

fn locked_message(
    stack: &str,
    region: &str,
    h: &Holder,
    timeout: Duration,
    waited: Duration,
) -> String {
    let here = liveness(
        h,
        here::boot_id().as_deref(),
        here::pid_ns().as_deref(),
        here::process(h.pid),
    );
    let head = if timeout.is_zero() {
        format!(
            "stack `{stack}` in {region} is locked: {}",
            h.describe(now_secs())
        )
    } else {
        format!(
            "stack `{stack}` in {region} is still locked after waiting {} (--lock-timeout {}): {}",
            fmt_duration(waited),
            fmt_timeout(timeout),
            h.describe(now_secs())
        )
    };
    let advice = if here == Liveness::Alive {
        format!(
            "That run is still running on this machine (pid {}). Wait for it to finish (`--lock-timeout 10m` waits for it)",
            h.pid
        )
    } else if is_lock_id(&h.id) {
        format!(
            "Wait for that run to finish (`--lock-timeout 10m` waits for it). If it was killed (no deploy is running), break the lock with `deploy unlock {}`",
            h.id
        )
    } else {
        // Not an id deploy writes: never paste it into a command the user may copy.
        "Wait for that run to finish (`--lock-timeout 10m` waits for it). Its lock id is not one deploy writes: check who wrote the parameter; if no deploy is running, `deploy unlock` (without an id) breaks it".to_string()
    };
    format!("{head}.\n{advice}")
}

enum Attempt {
    Taken,
    /// Taken after deleting the lock of a dead run: that run, and why it is known dead.
    TookOver(Holder, String),
    Held(Holder),
}

/// One try: put the lock, or learn who holds it, taking over a dead holder's.
async fn attempt(ssm: &aws_sdk_ssm::Client, name: &str, me: &Holder) -> Result<Attempt> {
    // Each turn follows a change of hands (released, taken over by another run): a few at most.
    for _ in 0..10 {
        if put(ssm, name, me).await? {
            return Ok(Attempt::Taken);
        }
        let Some(h) = read(ssm, name).await? else {
            // Released between the two calls: try again.
            continue;
        };
        // Our own write, whose answer was lost and which the SDK sent again.
        if h.id == me.id {
            return Ok(Attempt::Taken);
        }
        let verdict = liveness(
            &h,
            me.boot_id.as_deref(),
            me.pid_ns.as_deref(),
            here::process(h.pid),
        );
        let Liveness::Dead(why) = verdict else {
            return Ok(Attempt::Held(h));
        };
        if take_over(ssm, name, me, &h).await? {
            return Ok(Attempt::TookOver(h, why));
        }
    }
    Err(Error::other(format!(
        "the lock {name} kept changing hands; try again"
    )))
}

/// Deletes `dead`'s lock and puts ours, true when ours is in. SSM has no conditional delete or
/// compare-and-swap (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html:
/// `Overwrite` is all or nothing), so the lock is read again right before the delete, and the
/// runs of this machine, the only ones that take this lock over, do this one at a time under a
/// local file lock: two of them must not each delete the other's fresh lock.
async fn take_over(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    me: &Holder,
    dead: &Holder,
) -> Result<bool> {
    let _guard = local_guard(name).await;
    match read(ssm, name).await? {
        Some(h) if h.id == dead.id => {}
        // Changed hands meanwhile: look again.
        _ => return Ok(false),
    }
    delete(ssm, name).await?;
    put(ssm, name, me).await
}

/// An exclusive `flock` on a file named after the lock, held while the value is dropped; best
/// effort (a file another user made and this one cannot open is no guard, and not an error).
async fn local_guard(name: &str) -> Option<std::fs::File> {
    let path = std::env::temp_dir().join(format!(
        "deploy-lock-{}.lock",
        name.trim_start_matches('/').replace('/', "_")
    ));
    tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .or_else(|_| std::fs::File::open(&path))
            .ok()?;
        f.lock().ok()?;
        Some(f)
    })
    .await
    .ok()
    .flatten()
}

/// PutParameter without overwrite: true when this run's value went in, false when a lock is
/// there.
async fn put(ssm: &aws_sdk_ssm::Client, name: &str, me: &Holder) -> Result<bool> {
    let value = serde_json::to_string(me).map_err(|e| Error::other(e.to_string()))?;
    let put = ssm
        .put_parameter()
        .name(name)
        .value(&value)
        .r#type(ParameterType::String)
        .overwrite(false)
        .description("deploy: held while an apply or destroy runs; `deploy unlock` breaks it")
        .send()
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(e) if kind_of(&e) == Some(AwsKind::AlreadyExists) => Ok(false),
        Err(e) => Err(lock_error("PutParameter", name, e)),
    }
}

/// What this machine says about itself and its processes (Linux's /proc; `None` elsewhere).
mod here {
    use super::Process;

    pub fn boot_id() -> Option<String> {
        let s = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(s.trim().to_string()).filter(|s| !s.is_empty())
    }

    pub fn pid_ns() -> Option<String> {
        let p = std::fs::read_link("/proc/self/ns/pid").ok()?;
        Some(p.to_string_lossy().into_owned())
    }

    /// `None` when there is no process `pid` (or no /proc).
    pub fn process(pid: u32) -> Option<Process> {
        if pid == 0 {
            return None;
        }
        parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// `pid (comm) S ppid ...`: the command may hold spaces and parentheses, so the fields are
    /// counted from the last `)` (proc(5): state is field 3, starttime field 22).
    pub fn parse_stat(stat: &str) -> Option<Process> {
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(Process {
            zombie: *fields.first()? == "Z",
            start: fields.get(19)?.parse().ok()?,
        })
    }
}

/// Releases the lock this process holds, if any. Never fails the run: a lock that cannot be
/// released is reported with how to break it.
pub async fn release_held() {
    let held = HELD.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(h) = held else { return };
    let r = async {
        match read(&h.ssm, &h.name).await? {
            Some(now) if now.id == h.id => delete(&h.ssm, &h.name).await,
            // Broken by `deploy unlock` meanwhile (and maybe taken by another run): not ours.
            _ => Ok(()),
        }
    }
    .await;
    match r {
        Ok(()) => tracing::debug!("released the lock {}", h.name),
        Err(e) => eprintln!(
            "warning: could not release the lock {}: {}; break it with `deploy unlock {}`",
            h.name,
            crate::redact::scrub(&e.to_string()),
            h.id
        ),
    }
}

/// Breaks the lock of `stack` in `region` (only if its id is `id`, when given); returns who
/// held it, or `None` when there was no lock.
pub async fn unlock(
    ssm: &aws_sdk_ssm::Client,
    stack: &str,
    region: &str,
    id: Option<&str>,
) -> Result<Option<Holder>> {
    let name = parameter(stack, region);
    let Some(h) = read(ssm, &name).await? else {
        return Ok(None);
    };
    if let Some(id) = id.filter(|id| *id != h.id) {
        return Err(Error::user(format!(
            "the lock of stack `{stack}` in {region} has id {}, not {id}: it is held by {}. Nothing was changed",
            h.id,
            h.describe(now_secs())
        )));
    }
    delete(ssm, &name).await?;
    Ok(Some(h))
}

async fn read(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<Option<Holder>> {
    match ssm.get_parameter().name(name).send().await {
        Ok(out) => {
            let value = out.parameter().and_then(|p| p.value()).unwrap_or_default();
            // A value not written by deploy is still a lock: show it as it is.
            Ok(Some(serde_json::from_str(value).unwrap_or_else(|_| {
                Holder {
                    id: String::new(),
                    who: format!("unknown (the parameter holds {value:?})"),
                    host: "unknown host".into(),
                    command: "?".into(),
                    pid: 0,
                    since: 0,
                    boot_id: None,
                    pid_ns: None,
                    start: None,
                }
            })))
        }
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(None),
        Err(e) => Err(lock_error("GetParameter", name, e)),
    }
}

async fn delete(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<()> {
    match ssm.delete_parameter().name(name).send().await {
        Ok(_) => Ok(()),
        // Deleted by a retry whose first answer was lost, or by someone else: gone either way.
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(()),
        Err(e) => Err(lock_error("DeleteParameter", name, e)),
    }
}

fn lock_error<E>(
    operation: &'static str,
    name: &str,
    e: aws_sdk_ssm::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> Error
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata
        + aws_types::request_id::RequestId
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    let e = Error::aws(operation, &format!("lock {name}"), e);
    if e.aws_kind() == Some(AwsKind::Denied) {
        return Error::user(format!(
            "{e}\nthe lock needs ssm:PutParameter, ssm:GetParameter and ssm:DeleteParameter on parameter/deploy/lock/<stack>/<region> (`deploy policy` prints the policy that has them)"
        ));
    }
    e
}

fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; the result is NUL-terminated or truncated.
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            if let Ok(s) = std::str::from_utf8(&buf[..end])
                && !s.is_empty()
            {
                return s.to_string();
            }
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown host".into())
}

/// `2025-01-02 03:04:05 UTC` from epoch seconds (the civil-from-days algorithm).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = crate::value::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_735_787_045), "2025-01-02 03:04:05 UTC");
    }

    fn holder(since: u64) -> Holder {
        Holder {
            id: "abc123".into(),
            who: "alice".into(),
            host: "build-7".into(),
            command: "apply".into(),
            pid: 42,
            since,
            boot_id: None,
            pid_ns: None,
            start: None,
        }
    }

    #[test]
    fn text_from_the_parameter_cannot_forge_terminal_output() {
        let mut h = holder(1_735_787_045);
        h.who = "mallory\n\u{1b}[2Kdeploy: lock released".into();
        h.id = "x; rm -rf ~".into();
        let d = h.describe(h.since);
        assert!(!d.contains('\n') && !d.contains('\u{1b}'), "{d}");
        assert!(d.contains("mallory\\n\\u{1b}[2K"), "{d}");
        assert!(is_lock_id("0123abcd0123abcd"));
        assert!(!is_lock_id("x; rm -rf ~") && !is_lock_id(""));
    }

    #[test]
    fn a_lock_says_who_where_what_and_since_when() {
        let d = holder(1_735_787_045).describe(1_735_787_045 + 125);
        assert_eq!(
            d,
            "alice on build-7 (pid 42) running `deploy apply` since 2025-01-02 03:04:05 UTC (2m05s ago), lock id abc123"
        );
        assert!(!d.contains("stale"));
    }

    #[test]
    fn a_lock_older_than_any_run_is_stale() {
        let since = 1_735_787_045;
        let d = holder(since).describe(since + STALE_AFTER.as_secs());
        assert!(d.contains("The lock is stale"), "{d}");
        let d = holder(since).describe(since + STALE_AFTER.as_secs() - 1);
        assert!(!d.contains("stale"), "{d}");
    }

    #[test]
    fn ids_differ_between_runs_and_the_value_round_trips() {
        let a = Holder::me("apply");
        std::thread::sleep(Duration::from_millis(2));
        let b = Holder::me("apply");
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 16);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Holder>(&json).unwrap(), a);
    }

    const BOOT: &str = "3eef76ae-cd2f-4292-bccb-493d576edc72";
    const NS: &str = "pid:[4026531836]";

    /// A lock written by a run of this boot and namespace, started at tick 5000.
    fn here_holder() -> Holder {
        Holder {
            boot_id: Some(BOOT.into()),
            pid_ns: Some(NS.into()),
            start: Some(5000),
            ..holder(1_735_787_045)
        }
    }

    fn running(start: u64) -> Option<Process> {
        Some(Process {
            start,
            zombie: false,
        })
    }

    #[test]
    fn a_holder_of_this_boot_and_namespace_whose_pid_is_gone_is_dead() {
        let v = liveness(&here_holder(), Some(BOOT), Some(NS), None);
        assert_eq!(v, Liveness::Dead("pid 42 is gone".into()));
    }

    #[test]
    fn a_pid_reused_by_a_later_process_or_left_as_a_zombie_is_dead() {
        let v = liveness(&here_holder(), Some(BOOT), Some(NS), running(5001));
        assert!(
            matches!(&v, Liveness::Dead(why) if why.contains("started after")),
            "{v:?}"
        );
        let zombie = Some(Process {
            start: 5000,
            zombie: true,
        });
        let v = liveness(&here_holder(), Some(BOOT), Some(NS), zombie);
        assert!(
            matches!(&v, Liveness::Dead(why) if why.contains("zombie")),
            "{v:?}"
        );
    }

    #[test]
    fn the_same_process_still_there_is_alive() {
        let v = liveness(&here_holder(), Some(BOOT), Some(NS), running(5000));
        assert_eq!(v, Liveness::Alive);
        // Started before the holder under its pid: nothing explains that; never taken over.
        let v = liveness(&here_holder(), Some(BOOT), Some(NS), running(4999));
        assert_eq!(v, Liveness::Alive);
    }

    #[test]
    fn another_boot_another_namespace_or_an_old_lock_cannot_be_judged() {
        let h = here_holder();
        // Another machine, or this one rebooted: its pids mean nothing here.
        let other_boot = "0d5a2c9e-0000-4000-8000-000000000000";
        assert_eq!(
            liveness(&h, Some(other_boot), Some(NS), None),
            Liveness::Unknown
        );
        // Another container of this host: same boot id, other pids.
        assert_eq!(
            liveness(&h, Some(BOOT), Some("pid:[4026532999]"), None),
            Liveness::Unknown
        );
        // This machine cannot tell its own boot or namespace (no /proc).
        assert_eq!(liveness(&h, None, None, None), Liveness::Unknown);
        // Written before the fields existed (or off Linux): today's behaviour.
        for old in [
            Holder {
                boot_id: None,
                ..here_holder()
            },
            Holder {
                pid_ns: None,
                ..here_holder()
            },
            Holder {
                start: None,
                ..here_holder()
            },
            Holder {
                pid: 0,
                ..here_holder()
            },
        ] {
            assert_eq!(
                liveness(&old, Some(BOOT), Some(NS), None),
                Liveness::Unknown,
                "{old:?}"
            );
        }
    }

    #[test]
    fn an_older_lock_value_without_the_new_fields_still_reads() {
        let old = r#"{"id":"abc123","who":"alice","host":"build-7","command":"apply","pid":42,"since":1735787045}"#;
        let h: Holder = serde_json::from_str(old).unwrap();
        assert_eq!(h, holder(1_735_787_045));
        // And such a value is written the same way when the fields are unknown.
        assert_eq!(serde_json::to_string(&h).unwrap(), old);
    }

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 511353 2998272 415";
        assert_eq!(
            here::parse_stat(stat),
            Some(Process {
                start: 511_353,
                zombie: false
            })
        );
        let z = "7 (x) Z 1 7 7 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 12 0 0";
        assert_eq!(here::parse_stat(z).map(|p| p.zombie), Some(true));
        assert_eq!(here::parse_stat("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_recorded_and_judged_alive() {
        let me = Holder::me("apply");
        assert!(
            me.boot_id.is_some() && me.pid_ns.is_some() && me.start.is_some(),
            "{me:?}"
        );
        let v = liveness(
            &me,
            here::boot_id().as_deref(),
            here::pid_ns().as_deref(),
            here::process(me.pid),
        );
        assert_eq!(v, Liveness::Alive);
    }
}

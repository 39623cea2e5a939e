//! One `apply` or `destroy` at a time per stack and region, with nothing to set up: the lock is
//! the SSM parameter `/deploy/lock/<stack>/<region>`, created with `PutParameter` without
//! overwrite. SSM refuses that atomically with `ParameterAlreadyExists` when the parameter is
//! there, so of two runs exactly one gets it. The value says who holds it (user, host, command,
//! pid, since when, a lock id). The run deletes it on every way out (see [`release_held`]); a
//! run killed with kill -9 cannot, and `deploy unlock [LOCK_ID]` breaks what it left.
//!
//! Release reads the parameter and deletes it only when it still carries this run's id (SSM has
//! no conditional delete: a lock broken and retaken in the few milliseconds between the two
//! calls would be deleted; that needs two people breaking locks at once).

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_ssm::types::ParameterType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, code_of};
use crate::progress::fmt_duration;

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
}

/// The parameter holding the lock of `stack` in `region`.
pub fn parameter(stack: &str, region: &str) -> String {
    format!("/deploy/lock/{stack}/{region}")
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
        }
    }

    /// "alice on build-7 (pid 4242) running `deploy apply` since 2025-01-02 03:04:05 UTC
    /// (12m00s ago), lock id 0123…", and whether it is stale, as of `now` (epoch seconds).
    pub fn describe(&self, now: u64) -> String {
        let age = Duration::from_secs(now.saturating_sub(self.since));
        let mut s = format!(
            "{} on {} (pid {}) running `deploy {}` since {} ({} ago), lock id {}",
            self.who,
            self.host,
            self.pid,
            self.command,
            utc(self.since),
            fmt_duration(age),
            self.id
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

/// Takes the lock of `stack` in `region` for `command`, or stops with who holds it.
pub async fn acquire(
    ssm: &aws_sdk_ssm::Client,
    stack: &str,
    region: &str,
    command: &str,
) -> Result<()> {
    let name = parameter(stack, region);
    let me = Holder::me(command);
    let value = serde_json::to_string(&me).map_err(|e| Error::Other(e.to_string()))?;
    let put = ssm
        .put_parameter()
        .name(&name)
        .value(&value)
        .r#type(ParameterType::String)
        .overwrite(false)
        .description("deploy: held while an apply or destroy runs; `deploy unlock` breaks it")
        .send()
        .await;
    match put {
        Ok(_) => {}
        Err(e) if code_of(&e) == Some("ParameterAlreadyExists") => {
            match read(ssm, &name).await? {
                // Our own write, whose answer was lost and which the SDK sent again.
                Some(h) if h.id == me.id => {}
                Some(h) => {
                    return Err(Error::User(format!(
                        "stack `{stack}` in {region} is locked: {}.\nWait for that run to finish. If it was killed (no deploy is running), break the lock with `deploy unlock {}`",
                        h.describe(now_secs()),
                        h.id
                    )));
                }
                // Released between the two calls: try once more.
                None => return Box::pin(acquire(ssm, stack, region, command)).await,
            }
        }
        Err(e) => return Err(lock_error("PutParameter", &name, e)),
    }
    tracing::debug!("took the lock {name} ({})", me.id);
    *HELD.lock().unwrap_or_else(|p| p.into_inner()) = Some(Held {
        ssm: aws_sdk_ssm::Client::clone(ssm),
        name,
        id: me.id,
    });
    Ok(())
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
        return Err(Error::User(format!(
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
                }
            })))
        }
        Err(e) if code_of(&e) == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(lock_error("GetParameter", name, e)),
    }
}

async fn delete(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<()> {
    match ssm.delete_parameter().name(name).send().await {
        Ok(_) => Ok(()),
        // Deleted by a retry whose first answer was lost, or by someone else: gone either way.
        Err(e) if code_of(&e) == Some("ParameterNotFound") => Ok(()),
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
    if e.aws_code() == Some("AccessDeniedException") {
        return Error::User(format!(
            "{e}\nthe lock needs ssm:PutParameter, ssm:GetParameter and ssm:DeleteParameter on parameter/deploy/lock/* (see docs/iam-policy.json)"
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
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
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
        }
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
}

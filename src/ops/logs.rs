//! `deploy logs`: a function's CloudWatch Logs, as `sam logs` prints them.
//!
//! Lambda writes a function's output to the log group `/aws/lambda/<function name>`
//! (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html), created on
//! its first invocation. FilterLogEvents reads every stream of a group between two times, in
//! pages (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html).
//! `--follow` polls it: StartLiveTail streams from a `streaming.` host that an emulator endpoint
//! does not serve.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::aws::{AwsOptions, Clients};
use crate::error::{Error, Result};
use crate::stack::Stack;

/// How often `--follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// How far back each `--follow` poll looks before the newest line printed.
const LOOKBACK_MS: i64 = 10_000;

pub fn group_name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// One line as printed: its time (UTC, milliseconds), its stream, its message.
pub fn line(timestamp_ms: i64, stream: &str, message: &str) -> String {
    format!(
        "{}  {stream}  {}",
        rfc3339_ms(timestamp_ms),
        crate::redact::scrub(message.trim_end_matches(['\n', '\r']))
    )
}

/// `2026-12-07T04:15:58.123Z` (the civil date from days since the epoch: H. Hinnant's
/// `civil_from_days`).
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::value::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub async fn run(
    stack: &Stack,
    aws: &AwsOptions,
    function: &str,
    since: Duration,
    follow: bool,
) -> Result<u8> {
    super::function_of_stack(stack, function)?;
    let clients = Clients::new(aws, stack.region.as_deref()).await?;
    let group = group_name(function);
    let first = now_ms() - since.as_millis() as i64;
    let mut start = first;
    // Each poll asks again from LOOKBACK before the newest line printed: an event reaches
    // CloudWatch some time after its timestamp, so one stamped earlier can still arrive. Ids say
    // which were printed (only those within the window are kept, so a long --follow does not
    // grow).
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut missing_said = false;
    loop {
        let from = (start - LOOKBACK_MS).max(first);
        match page_all(&clients, &group, from).await? {
            Some(events) => {
                for (id, ts, stream, message) in events {
                    if seen.contains_key(&id) {
                        continue;
                    }
                    println!("{}", line(ts, &stream, &message));
                    start = start.max(ts);
                    seen.insert(id, ts);
                }
                seen.retain(|_, ts| *ts >= start - LOOKBACK_MS);
            }
            None if follow => {
                if !missing_said {
                    eprintln!(
                        "{group} does not exist yet (Lambda creates it on the function's first run); waiting for it"
                    );
                    missing_said = true;
                }
            }
            None => {
                return Err(Error::user(format!(
                    "no log group {group} in {}: the function has not run yet (Lambda creates the group on its first invocation)",
                    clients.region
                )));
            }
        }
        if !follow {
            return Ok(0);
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

type Event = (String, i64, String, String);

/// Every event from `start` on, all pages, in time order; None when the group does not exist.
async fn page_all(clients: &Clients, group: &str, start: i64) -> Result<Option<Vec<Event>>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = clients
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start)
            .set_next_token(token.take())
            .send()
            .await;
        let page = match r {
            Ok(p) => p,
            Err(e) => {
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception())
                {
                    return Ok(None);
                }
                return Err(Error::aws("FilterLogEvents", group, e));
            }
        };
        for ev in page.events() {
            out.push((
                ev.event_id().unwrap_or_default().to_string(),
                ev.timestamp().unwrap_or_default(),
                ev.log_stream_name().unwrap_or_default().to_string(),
                ev.message().unwrap_or_default().to_string(),
            ));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    out.sort_by_key(|e| e.1);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_796_444_158_123), "2026-12-05T04:15:58.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn a_line_has_time_stream_and_message_without_its_newline() {
        assert_eq!(
            line(0, "2026/12/07/[$LATEST]abc", "START RequestId: 1\n"),
            "1970-01-01T00:00:00.000Z  2026/12/07/[$LATEST]abc  START RequestId: 1"
        );
    }
}

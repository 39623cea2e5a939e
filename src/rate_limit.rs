//! Client-side rate limiting that learns from throttling, per service and action class.
//!
//! AWS meters calls per account with token buckets: a capacity and a refill rate per action class
//! (the EC2 API reference's "Request throttling": all mutating actions share one bucket; IAM,
//! Lambda and Cognito do the same). A busy account has little left in the bucket, and tasks that
//! each retry with exponential backoff fight for the tokens: measured, 30 tasks against a 20-token,
//! 5-a-second EC2 bucket ran out of retries after minutes. The SDK's adaptive retry mode has a
//! client-side limiter (it does classify EC2's `RequestLimitExceeded` as throttling), but its
//! cubic rate falls to a fraction of the refill after a burst of throttles and climbs back slowly:
//! measured, 19-27 s for writes whose floor is 9 s. This limiter instead measures the refill.
//!
//! Nothing is limited until a class is throttled. Then the bucket is empty, and from then on the
//! writes AWS accepted divided by the time since is the rate the account grants us (a lower bound
//! of the refill that reaches it while we keep the bucket drained): each later throttle sets the
//! pace to that measure. Between throttles the pace creeps up, to find tokens others stopped
//! using. Calls of the class are then spaced at the pace (reserved slots, so concurrent tasks take
//! turns instead of colliding), and a throttled attempt costs a retry, not a backoff of minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The slowest pace: AWS's refill rates are several a second (EC2's smallest, 1 a second for a
/// few actions); below this the measure is noise.
const MIN_RATE: f64 = 0.5;
/// How long the measure must run before it is trusted; until then a throttle slows the pace by
/// [`DECREASE`], at most once per [`COOLDOWN`] (the answers of calls sent at the old pace).
const MIN_WINDOW: f64 = 1.0;
const DECREASE: f64 = 0.7;
const COOLDOWN: f64 = 0.5;
/// The measure restarts after this long, so the pace follows others' use of the bucket.
const MAX_WINDOW: f64 = 20.0;
/// The pace grows by this much a second while nothing is throttled.
const PROBE: f64 = 0.5;

/// The state of one class (e.g. EC2's mutating actions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pace {
    /// Calls a second, once throttled; `None`: not limited.
    pub rate: Option<f64>,
    /// The next free slot (seconds, the caller's clock).
    next: f64,
    /// The measure: accepted answers since `since`.
    since: f64,
    accepted: u64,
    last_decrease: f64,
    last_update: f64,
    /// Accepted answers in the current and the previous second, before any throttle: the first
    /// pace.
    recent: (f64, u64, u64),
}

impl Pace {
    /// How long a call about to be sent at `now` must wait; reserves its slot.
    pub fn reserve(&mut self, now: f64) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        let slot = self.next.max(now);
        self.next = slot + 1.0 / rate;
        Duration::from_secs_f64((slot - now).max(0.0))
    }

    /// The answer to a call sent at `sent` arrived at `now`: `throttled`, or accepted (it took a
    /// token). Only calls sent since the measure started count in it: those sent before took
    /// tokens the bucket had then.
    pub fn answer(&mut self, sent: f64, now: f64, throttled: bool) {
        if !throttled {
            if sent >= self.since {
                self.accepted += 1;
            }
            let (second, this, _) = self.recent;
            if now.floor() == second {
                self.recent.1 += 1;
            } else {
                let previous = if now.floor() == second + 1.0 { this } else { 0 };
                self.recent = (now.floor(), 1, previous);
            }
            if let Some(rate) = self.rate {
                let dt = (now - self.last_update).max(0.0);
                self.rate = Some(rate + PROBE * dt);
                self.last_update = now;
            }
            return;
        }
        let Some(rate) = self.rate else {
            // The first throttle: the bucket is empty now. Start at what got through lately (a
            // burst drained the bucket: more than the refill), and measure from here.
            let (_, this, previous) = self.recent;
            self.rate = Some(((this + previous) as f64 / 2.0).max(1.0));
            self.since = now;
            self.accepted = 0;
            self.last_decrease = now;
            self.last_update = now;
            return;
        };
        let window = now - self.since;
        let new = if window >= MIN_WINDOW {
            // The bucket was empty at `since` and is empty again: what was accepted in between is
            // what refilled (or less, had it overflowed).
            self.accepted as f64 / window
        } else if now - self.last_decrease >= COOLDOWN {
            self.last_decrease = now;
            rate * DECREASE
        } else {
            rate
        };
        self.rate = Some(new.max(MIN_RATE));
        self.last_update = now;
        if window >= MAX_WINDOW {
            self.since = now;
            self.accepted = 0;
        }
    }
}

/// The paces of every class a run has met, shared by its clients.
#[derive(Debug, Default)]
pub struct Limits(Mutex<HashMap<String, Pace>>);

impl Limits {
    pub fn reserve(&self, class: &str, now: f64) -> Duration {
        self.0
            .lock()
            .map(|mut m| m.entry(class.to_string()).or_default().reserve(now))
            .unwrap_or_default()
    }

    pub fn answer(&self, class: &str, sent: f64, now: f64, throttled: bool) {
        if let Ok(mut m) = self.0.lock() {
            m.entry(class.to_string())
                .or_default()
                .answer(sent, now, throttled);
        }
    }

    /// The pace of `class` (calls a second), once it has been throttled.
    pub fn rate(&self, class: &str) -> Option<f64> {
        self.0.lock().ok()?.get(class)?.rate
    }
}

/// The class a call is metered in: its service, and whether it changes anything (EC2 meters
/// Describe* apart from the mutating actions; other services' read limits are separate too).
pub fn class_of(service: &str, operation: &str) -> String {
    let read = ["Describe", "List", "Get"]
        .iter()
        .any(|p| operation.starts_with(p));
    format!(
        "{}/{}",
        service.to_ascii_lowercase(),
        if read { "read" } else { "write" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AWS-like bucket: `capacity` tokens, `refill` a second; a throttled call takes none.
    struct Bucket {
        tokens: f64,
        capacity: f64,
        refill: f64,
        at: f64,
    }

    impl Bucket {
        fn take(&mut self, now: f64) -> bool {
            self.tokens = (self.tokens + (now - self.at) * self.refill).min(self.capacity);
            self.at = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                true
            } else {
                false
            }
        }
    }

    /// `tasks` workers each sending calls one after the other (a call takes `latency`), a
    /// throttled one retried after `retry` s, until `writes` are accepted; returns the time taken
    /// and the throttles.
    fn simulate(writes: u64, tasks: usize, latency: f64, retry: f64) -> (f64, u64) {
        let mut bucket = Bucket {
            tokens: 20.0,
            capacity: 20.0,
            refill: 5.0,
            at: 0.0,
        };
        let mut pace = Pace::default();
        // Each task: the time it is next free to send.
        let mut free = vec![0.0f64; tasks];
        let (mut done, mut throttles, mut end) = (0u64, 0u64, 0.0f64);
        while done < writes {
            let (i, t) = free
                .iter()
                .copied()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            let send = t + pace.reserve(t).as_secs_f64();
            let ok = bucket.take(send);
            pace.answer(send, send + latency, !ok);
            if ok {
                done += 1;
                end = end.max(send + latency);
                free[i] = send + latency;
            } else {
                throttles += 1;
                free[i] = send + latency + retry;
            }
        }
        (end, throttles)
    }

    #[test]
    fn unthrottled_calls_are_never_delayed() {
        let mut p = Pace::default();
        for i in 0..100 {
            assert_eq!(p.reserve(i as f64 * 0.01), Duration::ZERO);
            p.answer(i as f64 * 0.01, i as f64 * 0.01 + 0.005, false);
        }
        assert_eq!(p.rate, None);
    }

    #[test]
    fn a_throttled_run_converges_close_to_the_buckets_floor() {
        // 65 writes against 20 tokens refilled at 5 a second: the floor is (65 - 20) / 5 = 9 s.
        let (took, throttles) = simulate(65, 8, 0.02, 0.5);
        assert!(took <= 1.25 * 9.0 + 1.0, "took {took:.2} s");
        assert!(throttles < 40, "{throttles} throttles");
        // Many writes: the pace settles near the refill, with few throttles after the first.
        let (took, throttles) = simulate(500, 8, 0.02, 0.5);
        let floor = (500.0 - 20.0) / 5.0;
        assert!(took <= 1.1 * floor, "took {took:.2} s against {floor} s");
        assert!(throttles < 120, "{throttles} throttles");
    }

    #[test]
    fn the_pace_is_measured_from_what_was_accepted_between_throttles() {
        let mut p = Pace::default();
        for i in 0..20 {
            p.answer(0.01 * i as f64, 0.01 * i as f64, false);
        }
        p.answer(0.3, 0.3, true);
        assert_eq!(
            p.rate,
            Some(10.0),
            "half of the burst's second: 20 over two seconds"
        );
        // Sent before the throttle, answered after: not in the measure.
        p.answer(0.29, 0.31, false);
        // Accepted: 10 in the next two seconds, then throttled: 5 a second.
        for i in 0..10 {
            let at = 0.3 + 0.2 * (i + 1) as f64;
            p.answer(at - 0.1, at, false);
        }
        p.answer(2.3, 2.3, true);
        let rate = p.rate.unwrap();
        assert!((rate - 5.0).abs() < 0.01, "{rate}");
        // Calls are then spaced at the pace.
        let a = p.reserve(3.0);
        let b = p.reserve(3.0);
        assert_eq!(a, Duration::ZERO);
        assert!((b.as_secs_f64() - 0.2).abs() < 0.01, "{b:?}");
        // Never below the floor of the pace.
        p.answer(100.0, 100.0, true);
        p.answer(100.1, 100.1, true);
        assert!(p.rate.unwrap() >= MIN_RATE);
    }

    #[test]
    fn classes_split_reads_from_writes_per_service() {
        assert_eq!(
            class_of("EC2", "AuthorizeSecurityGroupIngress"),
            "ec2/write"
        );
        assert_eq!(class_of("ec2", "DescribeSecurityGroups"), "ec2/read");
        assert_eq!(class_of("Lambda", "GetFunction"), "lambda/read");
        let l = Limits::default();
        l.answer("ec2/write", 0.0, 0.0, false);
        l.answer("ec2/write", 0.1, 0.1, true);
        assert!(l.rate("ec2/write").is_some());
        assert_eq!(l.rate("ec2/read"), None);
        assert_eq!(l.reserve("ec2/read", 0.2), Duration::ZERO);
    }
}

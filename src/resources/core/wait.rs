//! The pauses of a wait: soon at first, then less often.
//!
//! A fixed interval makes every wait last at least one interval: a Lambda update that takes 4 s
//! was waited on for 10. Pauses start near a second and grow by half each time up to the poll
//! interval, so short waits end soon after the resource is ready and long ones (an RDS create,
//! minutes) still cost one read per interval.

use std::time::Duration;

use crate::context::Cancel;
use crate::error::Result;

/// The first pause (or the poll interval, when that is shorter, as in the tests).
pub const FIRST_PAUSE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    cancel: Cancel,
}

impl Backoff {
    pub fn new(poll: Duration, cancel: Cancel) -> Self {
        Backoff {
            next: FIRST_PAUSE.min(poll),
            max: poll,
            cancel,
        }
    }

    /// The pause to make now; the next one is half as long again, up to the poll interval.
    pub fn next_pause(&mut self) -> Duration {
        let now = self.next;
        self.next = now.mul_f64(1.5).min(self.max);
        now
    }

    /// Pauses (interruptibly: cancelling the run ends the wait and names `address`).
    pub async fn pause(&mut self, address: &str) -> Result<()> {
        let pause = self.next_pause();
        self.cancel.sleep(address, pause).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_start_near_a_second_and_grow_to_the_poll_interval() {
        let mut b = Backoff::new(Duration::from_secs(10), Cancel::Never);
        let pauses: Vec<f64> = (0..8).map(|_| b.next_pause().as_secs_f64()).collect();
        assert_eq!(pauses, [1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0, 10.0]);
        // A 4 s Lambda update is seen done after the third pause (4.75 s), not after 10 s.
        assert!(pauses[..3].iter().sum::<f64>() < 5.0);
        let mut fast = Backoff::new(Duration::from_millis(50), Cancel::Never);
        assert_eq!(fast.next_pause(), Duration::from_millis(50));
        assert_eq!(fast.next_pause(), Duration::from_millis(50));
    }
}

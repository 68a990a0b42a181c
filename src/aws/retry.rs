//! Backoff for transient AWS errors: capped exponential with full jitter, the scheme AWS recommends
//! ("Exponential Backoff And Jitter"), so that many callers throttled at once do not retry in step.

use std::time::Duration;

/// How often and how patiently to retry a transient error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The ceiling of the first wait; it doubles each attempt.
    pub base: Duration,
    /// No wait is longer than this.
    pub cap: Duration,
}

impl RetryPolicy {
    /// For the function: a few seconds of patience, well inside its timeout.
    pub const FUNCTION: Self = Self {
        max_attempts: 8,
        base: Duration::from_millis(100),
        cap: Duration::from_secs(5),
    };

    /// For backfill: patient, since a run lasts minutes and throttling is expected at the ceiling.
    pub const BACKFILL: Self = Self {
        max_attempts: 10,
        base: Duration::from_millis(250),
        cap: Duration::from_secs(20),
    };

    /// The wait before retry number `attempt` (1 for the first retry): uniform in
    /// `0..=min(cap, base * 2^(attempt-1))`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.cap);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=ceiling_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_stay_jittered() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for attempt in 1..=10u32 {
            let ceiling = (100u64 << (attempt - 1).min(20)).min(1000);
            let samples: Vec<u64> = (0..200)
                .map(|_| p.delay(attempt).as_millis() as u64)
                .collect();
            assert!(
                samples.iter().all(|d| *d <= ceiling),
                "attempt {attempt}: {samples:?}"
            );
            // Jittered: 200 draws from a range of at least 100 values are not all equal.
            assert!(
                samples.iter().any(|d| *d != samples[0]),
                "attempt {attempt} is not jittered"
            );
        }
        assert!(p.delay(u32::MAX) <= Duration::from_secs(1));
    }
}

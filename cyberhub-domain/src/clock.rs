//! Time as a parameter: library code asks a [`Clock`], never the system directly.

use chrono::{DateTime, Duration, DurationRound, Utc};
use std::sync::{Arc, Mutex};

/// A source of the current time.
///
/// Timestamps are truncated to whole microseconds, the precision PostgreSQL stores, so a
/// value survives a round trip through any store unchanged.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in UTC, truncated to microseconds.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock shared across components.
pub type SharedClock = Arc<dyn Clock>;

fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::microseconds(1)).unwrap_or(t)
}

/// The real clock (system time).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
        let t =
            DateTime::<Utc>::from_timestamp(secs, since_epoch.subsec_nanos()).unwrap_or_default();
        truncate_micros(t)
    }
}

/// A clock that only moves when told to: for tests of expiry, lock-out and rotation.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(truncate_micros(start))))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = truncate_micros(*t + by);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = truncate_micros(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let c = ManualClock::new(start);
        assert_eq!(c.now().timestamp_subsec_nanos(), 123_456_000);
        c.advance(Duration::seconds(90));
        assert_eq!(c.now().timestamp(), 1_700_000_090);
    }

    #[test]
    fn system_clock_is_micro_precise() {
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1000, 0);
    }
}

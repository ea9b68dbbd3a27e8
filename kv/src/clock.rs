//! Time, behind a small trait so tests can move it: write timestamps (µs, strictly increasing
//! per node when the client gives none) and the local time TTLs and `gc_grace_seconds` count
//! in (seconds).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Microseconds since the epoch.
    fn now_micros(&self) -> i64;

    /// Seconds since the epoch.
    fn now_seconds(&self) -> i64 {
        self.now_micros().div_euclid(1_000_000)
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests of TTL expiry and gc_grace).
#[derive(Debug, Default)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    /// A clock at `micros` since the epoch.
    pub fn new(micros: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            micros: AtomicI64::new(micros),
        })
    }

    /// Move the clock forward by `seconds`.
    pub fn advance_seconds(&self, seconds: i64) {
        self.micros.fetch_add(seconds * 1_000_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.micros.load(Ordering::SeqCst)
    }
}

/// The node's write timestamps: the clock in µs, but strictly greater than the last one given,
/// so two writes of one node never tie.
#[derive(Debug)]
pub struct Timestamps {
    clock: Arc<dyn Clock>,
    last: AtomicI64,
}

impl Timestamps {
    pub fn new(clock: Arc<dyn Clock>) -> Timestamps {
        Timestamps {
            clock,
            last: AtomicI64::new(i64::MIN),
        }
    }

    /// The next write timestamp.
    pub fn next(&self) -> i64 {
        let now = self.clock.now_micros();
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = now.max(last.saturating_add(1));
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// The clock these timestamps follow.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_strictly_increase_even_when_the_clock_stands_still() {
        let clock = ManualClock::new(1_000);
        let ts = Timestamps::new(clock.clone());
        let a = ts.next();
        let b = ts.next();
        assert_eq!(a, 1_000);
        assert_eq!(b, 1_001);
        clock.advance_seconds(1);
        assert_eq!(ts.next(), 1_001_000);
        assert_eq!(clock.now_seconds(), 1);
    }
}

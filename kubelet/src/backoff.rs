//! Upstream's crash-loop and image-pull back-off: no delay before the first
//! restart, then 10 s doubling to 5 min; reset once a container ran 10 min.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);
pub const RESET_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Entry {
    next: Duration,
    /// (the exit this wait is for, when the wait ends)
    pending: Option<(u64, Instant)>,
}

#[derive(Default)]
pub struct Backoff {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Backoff {
    /// May `key` restart now after its failure number `event`? Err(until) if not.
    /// `ran_for` is how long the failed run lasted (long runs reset the back-off).
    pub fn check(&self, key: &str, event: u64, ran_for: Duration, now: Instant) -> Result<(), Instant> {
        let mut m = self.entries.lock();
        if ran_for >= RESET_AFTER {
            m.remove(key);
        }
        let Some(e) = m.get_mut(key) else {
            m.insert(key.to_string(), Entry { next: INITIAL, pending: None });
            return Ok(());
        };
        if e.pending.map(|p| p.0) != Some(event) {
            e.pending = Some((event, now + e.next));
        }
        let until = e.pending.unwrap().1;
        if now >= until {
            e.next = (e.next * 2).min(MAX);
            e.pending = None;
            Ok(())
        } else {
            Err(until)
        }
    }

    /// The delay a pending wait of `key` is using (for messages).
    pub fn current(&self, key: &str) -> Option<Duration> {
        self.entries.lock().get(key).map(|e| e.next)
    }

    pub fn forget_prefix(&self, prefix: &str) {
        self.entries.lock().retain(|k, _| !k.starts_with(prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_ten_seconds_to_five_minutes() {
        let b = Backoff::default();
        let t0 = Instant::now();
        let short = Duration::from_secs(1);
        assert!(b.check("k", 1, short, t0).is_ok(), "first restart is immediate");
        let mut now = t0;
        let mut delays = Vec::new();
        for ev in 2..10 {
            let until = b.check("k", ev, short, now).unwrap_err();
            delays.push((until - now).as_secs());
            assert_eq!(b.check("k", ev, short, until - Duration::from_millis(1)), Err(until));
            assert!(b.check("k", ev, short, until).is_ok());
            now = until;
        }
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 300, 300, 300]);
        // A run of ten minutes resets it.
        assert!(b.check("k", 11, RESET_AFTER, now).is_ok());
        assert_eq!(b.check("k", 12, short, now).unwrap_err() - now, INITIAL);
    }
}

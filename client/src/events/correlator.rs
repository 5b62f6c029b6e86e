//! Upstream's EventCorrelator (client-go tools/record/events_cache.go),
//! without I/O: decides whether an event is written, under which
//! de-duplication key, and with which message.
//!
//! - Similar events: once an object has had 10 distinct messages for the
//!   same type and reason within 10 minutes, further ones are folded into one
//!   Event whose message is "(combined from similar events): <latest>".
//! - Spam filter: per object and type, a token bucket of 25 events refilled
//!   at one per 5 minutes; events beyond it are dropped.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use tokio::time::Instant;

use super::EventType;

const SIMILAR_MAX: usize = 10;
const SIMILAR_INTERVAL: Duration = Duration::from_secs(600);
const SPAM_BURST: f64 = 25.0;
const SPAM_QPS: f64 = 1.0 / 300.0;
/// Entries kept per table before idle ones are pruned.
const MAX_ENTRIES: usize = 4096;

/// Which object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ObjectKey {
    kind: String,
    api_version: String,
    namespace: String,
    name: String,
    uid: String,
    field_path: String,
}

impl ObjectKey {
    pub(super) fn of(r: &ObjectReference) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        ObjectKey {
            kind: s(&r.kind),
            api_version: s(&r.api_version),
            namespace: s(&r.namespace),
            name: s(&r.name),
            uid: s(&r.uid),
            field_path: s(&r.field_path),
        }
    }
}

/// What identifies "the same Event" to update instead of creating one.
/// `message` is None for a combined ("similar events") Event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct DedupKey {
    object: ObjectKey,
    type_: EventType,
    reason: String,
    message: Option<String>,
}

struct Similar {
    messages: HashSet<String>,
    last: Instant,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Default)]
pub(super) struct Correlator {
    similar: HashMap<(ObjectKey, EventType, String), Similar>,
    spam: HashMap<(ObjectKey, EventType), Bucket>,
}

impl Correlator {
    /// The dedup key and message to write, or None to drop the event (spam).
    pub(super) fn correlate(
        &mut self,
        object: &ObjectKey,
        type_: EventType,
        reason: &str,
        message: &str,
        now: Instant,
    ) -> Option<(DedupKey, String)> {
        let (key, message) = self.aggregate(object, type_, reason, message, now);
        self.allow(object, type_, now).then_some((key, message))
    }

    fn aggregate(&mut self, object: &ObjectKey, type_: EventType, reason: &str, message: &str, now: Instant) -> (DedupKey, String) {
        if self.similar.len() > MAX_ENTRIES {
            self.similar.retain(|_, s| now.duration_since(s.last) <= SIMILAR_INTERVAL);
        }
        let rec = self
            .similar
            .entry((object.clone(), type_, reason.to_string()))
            .or_insert_with(|| Similar { messages: HashSet::new(), last: now });
        if now.duration_since(rec.last) > SIMILAR_INTERVAL {
            rec.messages.clear();
        }
        rec.messages.insert(message.to_string());
        rec.last = now;
        let key = DedupKey { object: object.clone(), type_, reason: reason.to_string(), message: Some(message.to_string()) };
        if rec.messages.len() < SIMILAR_MAX {
            return (key, message.to_string());
        }
        // Do not grow the set beyond the threshold (upstream pops any one).
        if let Some(any) = rec.messages.iter().next().cloned() {
            rec.messages.remove(&any);
        }
        (DedupKey { message: None, ..key }, format!("(combined from similar events): {message}"))
    }

    fn allow(&mut self, object: &ObjectKey, type_: EventType, now: Instant) -> bool {
        if self.spam.len() > MAX_ENTRIES {
            // A bucket idle long enough to be full again carries no state.
            let refill = Duration::from_secs_f64(SPAM_BURST / SPAM_QPS);
            self.spam.retain(|_, b| now.duration_since(b.last) < refill);
        }
        let b = self.spam.entry((object.clone(), type_)).or_insert(Bucket { tokens: SPAM_BURST, last: now });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * SPAM_QPS).min(SPAM_BURST);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> ObjectKey {
        ObjectKey::of(&ObjectReference { kind: Some("Pod".into()), name: Some(name.into()), namespace: Some("default".into()), ..Default::default() })
    }

    #[tokio::test(start_paused = true)]
    async fn ten_distinct_messages_fold_into_one_combined_event() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let mut keys = HashSet::new();
        for i in 0..9 {
            let (key, msg) = c.correlate(&pod("p"), EventType::Warning, "Failed", &format!("error {i}"), now).unwrap();
            assert_eq!(msg, format!("error {i}"));
            keys.insert(key);
        }
        assert_eq!(keys.len(), 9, "each distinct message is its own event");
        let (k10, m10) = c.correlate(&pod("p"), EventType::Warning, "Failed", "error 9", now).unwrap();
        let (k11, m11) = c.correlate(&pod("p"), EventType::Warning, "Failed", "error 10", now).unwrap();
        assert_eq!(m10, "(combined from similar events): error 9");
        assert_eq!(m11, "(combined from similar events): error 10");
        assert_eq!(k10, k11, "combined events share one Event");
        assert!(!keys.contains(&k10));
        // Another reason, or another object, is counted separately.
        let (_, m) = c.correlate(&pod("p"), EventType::Warning, "Other", "error 11", now).unwrap();
        assert_eq!(m, "error 11");
        let (_, m) = c.correlate(&pod("q"), EventType::Warning, "Failed", "error 12", now).unwrap();
        assert_eq!(m, "error 12");
    }

    #[tokio::test(start_paused = true)]
    async fn similar_count_resets_after_ten_quiet_minutes() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        for i in 0..9 {
            c.correlate(&pod("p"), EventType::Normal, "R", &format!("m{i}"), t0);
        }
        let later = t0 + SIMILAR_INTERVAL + Duration::from_secs(1);
        let (_, msg) = c.correlate(&pod("p"), EventType::Normal, "R", "m9", later).unwrap();
        assert_eq!(msg, "m9");
    }

    #[tokio::test(start_paused = true)]
    async fn spam_filter_allows_a_burst_of_25_then_one_per_five_minutes() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        let allowed = (0..30).filter(|_| c.correlate(&pod("p"), EventType::Normal, "R", "same", t0).is_some()).count();
        assert_eq!(allowed, 25);
        assert!(c.correlate(&pod("q"), EventType::Normal, "R", "same", t0).is_some(), "per object");
        assert!(c.correlate(&pod("p"), EventType::Warning, "R", "same", t0).is_some(), "per type");
        assert!(c.correlate(&pod("p"), EventType::Normal, "R", "same", t0 + Duration::from_secs(299)).is_none());
        assert!(c.correlate(&pod("p"), EventType::Normal, "R", "same", t0 + Duration::from_secs(301)).is_some());
    }
}

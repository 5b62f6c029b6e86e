//! Request metrics in Prometheus text format
//! (`apiserver_request_total`, `apiserver_request_duration_seconds`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use parking_lot::Mutex;

const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, String), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    watchers: Mutex<BTreeMap<String, i64>>,
}

impl Metrics {
    pub fn observe(&self, verb: &str, resource: &str, code: &str, took: Duration) {
        *self.requests.lock().entry((verb.into(), resource.into(), code.into())).or_default() += 1;
        let mut lat = self.latency.lock();
        let h = lat.entry((verb.into(), resource.into())).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn watchers(&self, resource: &str, delta: i64) {
        *self.watchers.lock().entry(resource.into()).or_default() += delta;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Requests by verb, resource and response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((verb, res, code), n) in self.requests.lock().iter() {
            let _ = writeln!(out, "apiserver_request_total{{verb=\"{verb}\",resource=\"{res}\",code=\"{code}\"}} {n}");
        }
        out.push_str("# HELP apiserver_request_duration_seconds Request latency by verb and resource.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, res), h) in self.latency.lock().iter() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{verb=\"{verb}\",resource=\"{res}\",le=\"{b}\"}} {}", h.counts[i]);
            }
            let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{verb=\"{verb}\",resource=\"{res}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "apiserver_request_duration_seconds_sum{{verb=\"{verb}\",resource=\"{res}\"}} {}", h.sum);
            let _ = writeln!(out, "apiserver_request_duration_seconds_count{{verb=\"{verb}\",resource=\"{res}\"}} {}", h.count);
        }
        out.push_str("# HELP apiserver_registered_watchers Open watches by resource.\n");
        out.push_str("# TYPE apiserver_registered_watchers gauge\n");
        for (res, n) in self.watchers.lock().iter() {
            let _ = writeln!(out, "apiserver_registered_watchers{{resource=\"{res}\"}} {n}");
        }
        out
    }
}

//! kube-proxy's metrics, named as upstream's `pkg/proxy/metrics`.

use daemon::metrics::{exponential_buckets, Counter, Family, Gauge, Histogram, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub sync_duration: Histogram,
    pub full_sync_duration: Histogram,
    pub partial_sync_duration: Histogram,
    pub last_sync_timestamp: Gauge,
    /// Rules in our chains, by table.
    pub rules_total: Family<Gauge>,
    /// Rules written by the last restore, by table.
    pub rules_last_sync: Family<Gauge>,
    pub restore_failures: Counter,
    pub partial_restore_failures: Counter,
    pub services: Gauge,
}

impl Metrics {
    pub fn new(r: &Registry) -> Self {
        let buckets = exponential_buckets(0.001, 2.0, 15);
        Metrics {
            sync_duration: r.histogram("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", &buckets),
            full_sync_duration: r.histogram("kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs", &buckets),
            partial_sync_duration: r.histogram("kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs", &buckets),
            last_sync_timestamp: r.gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced"),
            rules_total: r.gauge_vec("kubeproxy_sync_proxy_rules_iptables_total", "Total number of iptables rules owned by kube-proxy", &["table"]),
            rules_last_sync: r.gauge_vec("kubeproxy_sync_proxy_rules_iptables_last", "Number of iptables rules written by kube-proxy in last sync", &["table"]),
            restore_failures: r.counter("kubeproxy_sync_proxy_rules_iptables_restore_failures_total", "Cumulative proxy iptables restore failures"),
            partial_restore_failures: r.counter(
                "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
                "Cumulative proxy iptables partial restore failures",
            ),
            services: r.gauge("kubeproxy_services", "Services known to the proxier"),
        }
    }
}

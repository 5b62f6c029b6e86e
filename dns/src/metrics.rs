//! The server's metrics (CoreDNS' names where they have one).

use std::sync::Arc;

use daemon::metrics::{Counter, Family, Gauge, Registry};

pub struct DnsMetrics {
    /// coredns_dns_responses_total by rcode.
    pub responses: Family<Counter>,
    pub cache_hits: Counter,
    pub forwarded: Counter,
    pub services: Gauge,
}

impl DnsMetrics {
    pub fn new(r: &Registry) -> Arc<Self> {
        Arc::new(DnsMetrics {
            responses: r.counter_vec("coredns_dns_responses_total", "Counter of response status codes.", &["rcode"]),
            cache_hits: r.counter("coredns_cache_hits_total", "The count of cache hits."),
            forwarded: r.counter("coredns_forward_requests_total", "Counter of requests made per upstream."),
            services: r.gauge("kube_dns_services", "Services with names in the cluster zone."),
        })
    }
}

//! The connection to the apiserver.

use proto::v1::api_client::ApiClient;
use proto::v1::{DiscoveryRequest, DiscoveryResponse};
use tonic::transport::{Channel, Endpoint};

use crate::workqueue::{BucketRateLimiter, RateLimiter};
use crate::Result;

/// Bodies of large lists (10k pods) exceed tonic's 4 MiB default.
const MAX_MESSAGE: usize = 512 * 1024 * 1024;

/// A cheap-to-clone handle on one apiserver connection (HTTP/2, multiplexed).
/// Clones share the connection and the rate limit, if one is set.
#[derive(Clone)]
pub struct Client {
    grpc: ApiClient<Channel>,
    channel: Channel,
    /// client-go's token bucket (rest.Config QPS/Burst): every call of [`Api`](crate::Api) takes a token.
    limiter: Option<std::sync::Arc<parking_lot::Mutex<BucketRateLimiter>>>,
}

impl Client {
    /// Connects to `addr` ("127.0.0.1:6443" or "http://127.0.0.1:6443").
    pub async fn connect(addr: &str) -> Result<Self> {
        let uri = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
        let channel = Endpoint::from_shared(uri)
            .map_err(|e| crate::Error::InvalidArgument(format!("server address {addr:?}: {e}")))?
            .tcp_nodelay(true)
            .http2_keep_alive_interval(std::time::Duration::from_secs(30))
            .connect()
            .await?;
        Ok(Self::from_channel(channel))
    }

    /// Like [`connect`](Self::connect) but connects on first use, so a client
    /// can be made before the apiserver is up.
    pub fn connect_lazy(addr: &str) -> Result<Self> {
        let uri = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
        let channel = Endpoint::from_shared(uri)
            .map_err(|e| crate::Error::InvalidArgument(format!("server address {addr:?}: {e}")))?
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Self::from_channel(channel))
    }

    pub fn from_channel(channel: Channel) -> Self {
        let grpc = ApiClient::new(channel.clone()).max_decoding_message_size(MAX_MESSAGE).max_encoding_message_size(MAX_MESSAGE);
        Client { grpc, channel, limiter: None }
    }

    /// Limits this client (and its clones) to `qps` calls per second with
    /// bursts of `burst`, as client-go's `rest.Config{QPS, Burst}`
    /// (kube-controller-manager's `--kube-api-qps/--kube-api-burst`).
    /// `qps <= 0` means no limit. Calls wait for a token; none is refused.
    pub fn with_rate_limit(mut self, qps: f32, burst: u32) -> Self {
        self.limiter = (qps > 0.0).then(|| std::sync::Arc::new(parking_lot::Mutex::new(BucketRateLimiter::new(qps as f64, burst.max(1)))));
        self
    }

    /// The gRPC stub after waiting for the rate limit (every typed call goes through here).
    pub(crate) async fn throttled(&self) -> ApiClient<Channel> {
        if let Some(l) = &self.limiter {
            let wait = RateLimiter::<()>::when(&mut *l.lock(), &());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        self.grpc.clone()
    }

    /// The raw gRPC stub, for calls the typed API does not cover.
    pub fn grpc(&self) -> ApiClient<Channel> {
        self.grpc.clone()
    }

    /// The Streaming service (pods/log, exec, attach, port-forward) on the same connection.
    pub fn streaming(&self) -> proto::v1::streaming_client::StreamingClient<Channel> {
        proto::v1::streaming_client::StreamingClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    /// The resources the server serves, with their short names and verbs.
    pub async fn discovery(&self) -> Result<DiscoveryResponse> {
        Ok(self.grpc().discovery(DiscoveryRequest {}).await?.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn rate_limit_allows_the_burst_then_qps() {
        let client = Client::connect_lazy("127.0.0.1:1").unwrap().with_rate_limit(10.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            client.throttled().await;
        }
        assert_eq!(Instant::now() - start, Duration::ZERO, "the burst goes at once");
        let shared = client.clone();
        shared.throttled().await;
        client.throttled().await;
        let waited = Instant::now() - start;
        assert!(waited >= Duration::from_millis(199) && waited <= Duration::from_millis(201), "two more at 10 qps: {waited:?}");
        let free = Client::connect_lazy("127.0.0.1:1").unwrap().with_rate_limit(0.0, 0);
        let t = Instant::now();
        for _ in 0..100 {
            free.throttled().await;
        }
        assert_eq!(Instant::now() - t, Duration::ZERO);
    }
}

//! The connection to the apiserver.

use proto::v1::api_client::ApiClient;
use proto::v1::{DiscoveryRequest, DiscoveryResponse};
use tonic::transport::{Channel, Endpoint};

use crate::Result;

/// Bodies of large lists (10k pods) exceed tonic's 4 MiB default.
const MAX_MESSAGE: usize = 512 * 1024 * 1024;

/// A cheap-to-clone handle on one apiserver connection (HTTP/2, multiplexed).
#[derive(Clone)]
pub struct Client {
    grpc: ApiClient<Channel>,
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
        let grpc = ApiClient::new(channel).max_decoding_message_size(MAX_MESSAGE).max_encoding_message_size(MAX_MESSAGE);
        Client { grpc }
    }

    /// The raw gRPC stub, for calls the typed API does not cover.
    pub fn grpc(&self) -> ApiClient<Channel> {
        self.grpc.clone()
    }

    /// The resources the server serves, with their short names and verbs.
    pub async fn discovery(&self) -> Result<DiscoveryResponse> {
        Ok(self.grpc().discovery(DiscoveryRequest {}).await?.into_inner())
    }
}

//! Binding: pods/binding calls issued concurrently, off the scheduling loop.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::Semaphore;

use client::{Api, Client};

/// At most this many binds in flight; more wait for a slot.
pub const MAX_CONCURRENT_BINDS: usize = 256;

#[derive(Clone)]
pub struct Binder {
    client: Client,
    slots: Arc<Semaphore>,
}

impl Binder {
    pub fn new(client: Client) -> Self {
        Binder { client, slots: Arc::new(Semaphore::new(MAX_CONCURRENT_BINDS)) }
    }

    /// Binds `namespace/name` to `node`.
    pub async fn bind(&self, namespace: &str, name: &str, node: &str) -> client::Result<()> {
        let _slot = self.slots.acquire().await.expect("never closed");
        Api::<Pod>::namespaced(self.client.clone(), namespace).bind(name, node).await
    }
}

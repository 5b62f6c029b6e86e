//! What every command needs: the resolved kubeconfig, a connection made on
//! first use, discovery fetched on first use, and stdout/stderr writers
//! that never panic on a closed pipe.

use std::io::Write;

use client::proto::v1::ApiResource;
use client::{Api, Client};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::config::{ConfigFiles, Overrides, Resolved};
use crate::error::{CmdError, CmdResult};
use crate::resources::{self, Discovery};

pub struct Ctx {
    pub overrides: Overrides,
    pub files: ConfigFiles,
    resolved: std::sync::OnceLock<Resolved>,
    client: OnceCell<Client>,
    discovery: OnceCell<Discovery>,
}

impl Ctx {
    pub fn new(overrides: Overrides) -> Self {
        let files = ConfigFiles::locate(overrides.kubeconfig.as_deref());
        Ctx { overrides, files, resolved: Default::default(), client: OnceCell::new(), discovery: OnceCell::new() }
    }

    pub fn resolved(&self) -> CmdResult<&Resolved> {
        if let Some(r) = self.resolved.get() {
            return Ok(r);
        }
        // The files, else (in a pod, when they name no server) the in-cluster config.
        let r = self.overrides.load(&self.files)?;
        crate::error::set_server_for_messages(&r.address);
        Ok(self.resolved.get_or_init(|| r))
    }

    /// The namespace of `-n`, else of the context, else "default".
    pub fn namespace(&self) -> CmdResult<String> {
        Ok(self.resolved()?.namespace.clone())
    }

    pub async fn client(&self) -> CmdResult<&Client> {
        let addr = self.resolved()?.address.clone();
        self.client
            .get_or_try_init(|| async move { Client::connect(&addr).await.map_err(CmdError::from) })
            .await
    }

    pub async fn discovery(&self) -> CmdResult<&Discovery> {
        let client = self.client().await?;
        self.discovery.get_or_try_init(|| Discovery::fetch(client)).await
    }

    /// An untyped Api for `r` in namespace `ns` (None: all namespaces / cluster scope).
    pub async fn api(&self, r: &ApiResource, ns: Option<&str>) -> CmdResult<Api<Value>> {
        let client = self.client().await?.clone();
        Ok(Api::dynamic(client, resources::to_ref(r), if r.namespaced { ns } else { None }))
    }
}

/// Writes to stdout; a closed pipe ends the output quietly.
pub fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

pub fn err(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
    let _ = e.flush();
}

//! etcd storage: keys, compare-and-swap writes, lists at one revision, watches.
//!
//! Keys are `/registry/<resource>/<namespace>/<name>` (cluster-scoped:
//! `/registry/<resource>/<name>`); values are the object's JSON without
//! `metadata.resourceVersion`, which is the key's etcd mod revision.

mod keys;

use etcd_client::{
    Compare, CompareOp, DeleteOptions, GetOptions, KvClient, Txn, TxnOp, WatchClient, WatchOptions,
};

pub use keys::{key_for, prefix_for, RESOURCE_PREFIX};

/// etcd's default request limit is 1.5 MiB; large lists need a bigger decode limit.
const MAX_DECODE: usize = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("key not found")]
    NotFound,
    #[error("key exists")]
    AlreadyExists,
    /// The compare-and-swap failed: the key changed (or vanished) meanwhile.
    #[error("revision mismatch")]
    Conflict,
    /// One of the side keys of a write (e.g. an allocated IP) exists already.
    #[error("side key {0} exists")]
    SideKeyExists(String),
    #[error("revision {requested} is compacted (oldest available {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
}

/// A stored value and its revisions.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: String,
    pub value: Vec<u8>,
    pub mod_revision: i64,
    pub create_revision: i64,
}

impl From<&etcd_client::KeyValue> for Stored {
    fn from(kv: &etcd_client::KeyValue) -> Self {
        Stored {
            key: String::from_utf8_lossy(kv.key()).into_owned(),
            value: kv.value().to_vec(),
            mod_revision: kv.mod_revision(),
            create_revision: kv.create_revision(),
        }
    }
}

/// Extra keys written in the same transaction as an object, e.g. the
/// allocation record of a Service's ClusterIP.
#[derive(Debug, Clone)]
pub enum SideOp {
    /// Create the key; the whole write fails if it exists.
    Create { key: String, value: Vec<u8> },
    /// Delete the key if present.
    Delete { key: String },
}

/// A page of a list.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Stored>,
    /// The revision the list was read at.
    pub revision: i64,
    /// More keys follow the last one returned.
    pub more: bool,
    /// Keys in the range from the start key (when limited).
    pub count: i64,
}

#[derive(Clone)]
pub struct Storage {
    kv: KvClient,
    watch: WatchClient,
}

impl Storage {
    pub async fn connect(endpoints: &[String]) -> Result<Self, StorageError> {
        let opts = etcd_client::ConnectOptions::new()
            .with_keep_alive(std::time::Duration::from_secs(10), std::time::Duration::from_secs(5))
            .with_connect_timeout(std::time::Duration::from_secs(5));
        let client = etcd_client::Client::connect(endpoints, Some(opts)).await?;
        Ok(Storage {
            kv: client.kv_client().max_decoding_message_size(MAX_DECODE),
            watch: client.watch_client().max_decoding_message_size(MAX_DECODE),
        })
    }

    /// The current revision of the store.
    pub async fn current_revision(&self) -> Result<i64, StorageError> {
        let resp = self.kv.clone().get("/registry/!revision", Some(GetOptions::new().with_count_only())).await?;
        Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
    }

    pub async fn get(&self, key: &str) -> Result<Stored, StorageError> {
        let resp = self.kv.clone().get(key, None).await?;
        resp.kvs().first().map(Stored::from).ok_or(StorageError::NotFound)
    }

    /// Creates `key` (and the side keys) if none exists; returns the new revision.
    pub async fn create(&self, key: &str, value: Vec<u8>, side: &[SideOp]) -> Result<i64, StorageError> {
        let mut compares = vec![Compare::create_revision(key, CompareOp::Equal, 0)];
        let mut ops = vec![TxnOp::put(key, value, None)];
        add_side(&mut compares, &mut ops, side);
        let resp = self.kv.clone().txn(Txn::new().when(compares).and_then(ops)).await?;
        if resp.succeeded() {
            return Ok(resp.header().map(|h| h.revision()).unwrap_or(0));
        }
        if self.exists(key).await? {
            return Err(StorageError::AlreadyExists);
        }
        Err(self.which_side_exists(side).await)
    }

    /// Replaces `key` if its mod revision is still `expected`; returns the new revision.
    pub async fn update(&self, key: &str, value: Vec<u8>, expected: i64, side: &[SideOp]) -> Result<i64, StorageError> {
        let mut compares = vec![Compare::mod_revision(key, CompareOp::Equal, expected)];
        let mut ops = vec![TxnOp::put(key, value, None)];
        add_side(&mut compares, &mut ops, side);
        let resp = self.kv.clone().txn(Txn::new().when(compares).and_then(ops)).await?;
        if resp.succeeded() {
            return Ok(resp.header().map(|h| h.revision()).unwrap_or(0));
        }
        match self.get(key).await {
            Ok(cur) if cur.mod_revision == expected => Err(self.which_side_exists(side).await),
            Ok(_) => Err(StorageError::Conflict),
            Err(StorageError::NotFound) => Err(StorageError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Deletes `key` if its mod revision is still `expected`; returns the deletion revision.
    pub async fn delete(&self, key: &str, expected: i64, side: &[SideOp]) -> Result<i64, StorageError> {
        let mut compares = vec![Compare::mod_revision(key, CompareOp::Equal, expected)];
        let mut ops = vec![TxnOp::delete(key, None)];
        add_side(&mut compares, &mut ops, side);
        let resp = self.kv.clone().txn(Txn::new().when(compares).and_then(ops)).await?;
        if resp.succeeded() {
            return Ok(resp.header().map(|h| h.revision()).unwrap_or(0));
        }
        match self.exists(key).await? {
            true => Err(StorageError::Conflict),
            false => Err(StorageError::NotFound),
        }
    }

    /// Keys under `prefix` from `start` (inclusive), at `revision` (0 = now),
    /// at most `limit` (0 = all).
    pub async fn list(&self, prefix: &str, start: Option<&str>, revision: i64, limit: i64) -> Result<Page, StorageError> {
        let end = prefix_end(prefix);
        let from = start.unwrap_or(prefix);
        let mut opts = GetOptions::new().with_range(end).with_revision(revision);
        if limit > 0 {
            opts = opts.with_limit(limit);
        }
        let resp = match self.kv.clone().get(from, Some(opts)).await {
            Ok(r) => r,
            Err(e) => return Err(compacted_or(e, revision)),
        };
        Ok(Page {
            items: resp.kvs().iter().map(Stored::from).collect(),
            revision: resp.header().map(|h| h.revision()).unwrap_or(revision),
            more: resp.more(),
            count: resp.count(),
        })
    }

    /// Compacts history before `revision`.
    pub async fn compact(&self, revision: i64) -> Result<(), StorageError> {
        self.kv.clone().compact(revision, None).await?;
        Ok(())
    }

    /// Opens an etcd watch on `prefix` from `start_revision`, with previous
    /// values if `prev` (etcd reads each previous value for that: the watch
    /// cache, which has them, does without).
    pub async fn watch(&self, prefix: &str, start_revision: i64, prev: bool) -> Result<etcd_client::WatchStream, StorageError> {
        let mut opts = WatchOptions::new().with_range(prefix_end(prefix)).with_start_revision(start_revision).with_progress_notify();
        if prev {
            opts = opts.with_prev_key();
        }
        Ok(self.watch.clone().watch(prefix, Some(opts)).await?)
    }

    async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        let resp = self.kv.clone().get(key, Some(GetOptions::new().with_count_only())).await?;
        Ok(resp.count() > 0)
    }

    async fn which_side_exists(&self, side: &[SideOp]) -> StorageError {
        for op in side {
            if let SideOp::Create { key, .. } = op {
                match self.exists(key).await {
                    Ok(true) => return StorageError::SideKeyExists(key.clone()),
                    Ok(false) => {}
                    Err(e) => return e,
                }
            }
        }
        StorageError::Conflict
    }
}

fn add_side(compares: &mut Vec<Compare>, ops: &mut Vec<TxnOp>, side: &[SideOp]) {
    for op in side {
        match op {
            SideOp::Create { key, value } => {
                compares.push(Compare::create_revision(key.as_str(), CompareOp::Equal, 0));
                ops.push(TxnOp::put(key.as_str(), value.clone(), None));
            }
            SideOp::Delete { key } => ops.push(TxnOp::delete(key.as_str(), Some(DeleteOptions::new()))),
        }
    }
}

fn compacted_or(e: etcd_client::Error, revision: i64) -> StorageError {
    if let etcd_client::Error::GRpcStatus(st) = &e {
        if st.message().contains("compacted") {
            return StorageError::Compacted { requested: revision, compacted: 0 };
        }
    }
    StorageError::Etcd(e)
}

/// The first key after every key starting with `prefix`.
pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}


//! namespaces/<name>/finalize: the one way to change a namespace's
//! spec.finalizers (upstream's FinalizeREST). The namespace controller
//! removes `kubernetes` here once the namespace is empty; a terminating
//! namespace whose spec and metadata finalizers are all gone is deleted by
//! the same write (upstream's ShouldDeleteNamespaceDuringUpdate).

use api::status::StatusError;
use serde_json::Value;

use super::errors::*;
use super::meta::*;
use super::{Store, Target, MAX_RETRIES};
use crate::registry::{FieldError, Path};
use crate::storage::StorageError;

impl Store {
    /// Replaces spec.finalizers with the body's; everything else stays as
    /// stored. A resourceVersion in the body must be current.
    pub(super) async fn finalize_namespace(&self, t: &Target, raw: &[u8], dry_run: bool) -> Result<Vec<u8>, StatusError> {
        let info = *t.info();
        let body = parse_body(raw, &info)?;
        let wanted: Vec<Value> = body.pointer("/spec/finalizers").and_then(|f| f.as_array()).cloned().unwrap_or_default();
        let mut errs = Vec::new();
        for (i, f) in wanted.iter().enumerate() {
            let s = f.as_str().unwrap_or_default();
            for e in crate::registry::validation::qualified_name(s) {
                errs.push(FieldError::invalid(&Path::new("spec").child("finalizers").index(i), s, &e));
            }
        }
        if !errs.is_empty() {
            return Err(crate::registry::invalid(&info, &t.name, errs));
        }
        let wanted_rv = meta_str(&body, "resourceVersion").map(str::to_string);
        let key = crate::storage::key_for(info.plural, None, &t.name);
        for attempt in 0..MAX_RETRIES {
            let (cur, fresh) = self.read_for_write(t, attempt).await?;
            if wanted_rv.as_ref().is_some_and(|rv| rv != &cur.mod_revision.to_string()) {
                if !fresh {
                    continue;
                }
                return Err(conflict(&info, &t.name, MODIFIED));
            }
            let mut obj: Value = serde_json::from_slice(&cur.value).map_err(internal)?;
            meta_mut(&mut obj).remove("resourceVersion");
            if wanted.is_empty() {
                obj.get_mut("spec").and_then(|s| s.as_object_mut()).map(|s| s.remove("finalizers"));
            } else {
                obj["spec"]["finalizers"] = Value::Array(wanted.clone());
            }
            let terminating = meta(&obj).contains_key("deletionTimestamp");
            let gone = terminating && finalizers(&obj).is_empty() && !t.kind.finalizing(&obj);
            if dry_run {
                return Ok(to_served(obj, cur.mod_revision));
            }
            let res = if gone {
                self.storage.delete(&key, cur.mod_revision, &[]).await
            } else {
                self.storage.update(&key, to_stored(&obj), cur.mod_revision, &[]).await
            };
            match res {
                Ok(rev) => return Ok(to_served(obj, rev)),
                Err(StorageError::Conflict) if wanted_rv.is_none() || !fresh => continue,
                Err(StorageError::Conflict) => return Err(conflict(&info, &t.name, MODIFIED)),
                Err(StorageError::NotFound) => return Err(not_found(&info, &t.name)),
                Err(e) => return Err(storage(e)),
            }
        }
        Err(conflict(&info, &t.name, MODIFIED))
    }
}

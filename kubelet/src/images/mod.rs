//! Images (references are `api::image`'s): the node-local OCI store, layer unpacking,
//! the offline-built test images, and pulls from OCI distribution registries.

pub mod layer;
pub mod pull;
pub mod store;
pub mod testimages;

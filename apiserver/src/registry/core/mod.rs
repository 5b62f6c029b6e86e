//! Strategies of the core/v1 (the legacy "" group) API group.

pub mod configmap;
pub mod endpoints;
pub mod event;
pub mod limitrange;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod podtemplate;
pub mod pv;
pub mod pvc;
pub mod replicationcontroller;
pub mod resourcequota;
pub mod secret;
pub mod service;
pub mod serviceaccount;

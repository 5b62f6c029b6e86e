//! Strategies of the discovery.k8s.io/v1 API group.

pub mod endpointslice;

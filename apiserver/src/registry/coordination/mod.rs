//! Strategies of the coordination.k8s.io/v1 API group.

pub mod lease;

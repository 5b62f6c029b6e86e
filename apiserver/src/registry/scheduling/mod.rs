//! Strategies of the scheduling.k8s.io/v1 API group.

pub mod priorityclass;

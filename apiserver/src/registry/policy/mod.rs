//! Strategies of the policy/v1 API group.

pub mod poddisruptionbudget;

//! Strategies of the batch/v1 API group.

pub mod cronjob;
pub mod job;

//! Admission: checks and mutations that need more than the object itself.

pub mod namespace;
pub mod services;

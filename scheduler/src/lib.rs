//! scheduler: work in progress, see its issue.

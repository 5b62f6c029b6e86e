//! kubectl: work in progress, see its issue.

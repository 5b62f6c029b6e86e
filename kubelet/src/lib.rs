//! kubelet: work in progress, see its issue.

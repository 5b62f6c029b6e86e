//! ferrokube's kubelet: registers its node, keeps it alive, and runs the pods bound
//! to it as containers through youki's libcontainer, one shim process per container.

pub mod images;
pub mod runtime;

//! kubelet-shim: the per-container helper that calls libcontainer (see
//! `kubelet::runtime::shim`). Kept separate from the multi-threaded kubelet.

fn main() {
    std::process::exit(kubelet::runtime::shim::main());
}

//! kubelet-monitor: the long-lived half of a container's shim (see the crate doc).
//! Built by the kubelet's build script as a static executable and embedded in
//! kubelet-shim, which writes it out and execs it.

fn main() {
    std::process::exit(kubelet_monitor::main());
}

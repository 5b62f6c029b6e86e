//! A real kubelet process for integration tests, with its own root dir, log dir
//! and cgroup root; everything it leaves is removed on drop.

use super::*;
use std::process::{Child, Command, Stdio};

pub const KUBELET: &str = env!("CARGO_BIN_EXE_kubelet");

pub struct TestNode {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub cg: CgroupParent,
    pub apiserver: String,
    pub extra: Vec<String>,
    /// Run the kubelet in this network namespace (a path such as /run/netns/x).
    pub netns: Option<PathBuf>,
    child: Option<Child>,
}

impl TestNode {
    pub fn start(apiserver: &str, name: &str, extra: &[&str]) -> TestNode {
        Self::start_in(apiserver, name, extra, None)
    }

    /// [`TestNode::start`] with the kubelet in the network namespace `netns`.
    pub fn start_in(apiserver: &str, name: &str, extra: &[&str], netns: Option<PathBuf>) -> TestNode {
        let mut n = TestNode {
            name: name.to_string(),
            dir: tempfile::Builder::new().prefix("kubelet-test-").tempdir().unwrap(),
            cg: CgroupParent::new(),
            apiserver: apiserver.to_string(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            netns,
            child: None,
        };
        n.spawn();
        n
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    pub fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("kubelet.log")).unwrap();
        let mut cmd = Command::new(KUBELET);
        // Open until the child has exec'd (dropped at the end of spawn).
        let ns_file = self.netns.as_ref().map(|ns| std::fs::File::open(ns).unwrap());
        if let Some(f) = &ns_file {
            use std::os::fd::AsRawFd;
            use std::os::unix::process::CommandExt;
            let fd = f.as_raw_fd();
            // SAFETY: setns is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || if libc::setns(fd, libc::CLONE_NEWNET) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) });
            }
        }
        let child = cmd
            .args(["--apiserver", &self.apiserver, "--hostname-override", &self.name])
            .arg("--root-dir")
            .arg(self.root())
            .arg("--pod-logs-dir")
            .arg(self.logs())
            .args(["--cgroup-root", &self.cg.name, "--healthz-bind-address", "127.0.0.1:0", "--load-test-images"])
            // Tests run kubelets side by side: the kubelet API on a free port
            // unless the test picks one (the default 10250 would be taken by the first).
            .args(if self.extra.iter().any(|a| a == "--port") { &[][..] } else { &["--port", "0"][..] })
            .args(&self.extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL the kubelet (its shims and containers keep running).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn kubelet_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kubelet.log")).unwrap_or_default()
    }

    /// Every shim state file under the root dir.
    pub fn shim_states(&self) -> Vec<(PathBuf, kubelet::runtime::shim_state::ShimState)> {
        let mut out = Vec::new();
        let pods = self.root().join("pods");
        for pod in std::fs::read_dir(&pods).into_iter().flatten().flatten() {
            for c in std::fs::read_dir(pod.path().join("containers")).into_iter().flatten().flatten() {
                for a in std::fs::read_dir(c.path()).into_iter().flatten().flatten() {
                    let p = a.path().join("state.json");
                    if let Ok(s) = kubelet::runtime::shim_state::ShimState::load(&p) {
                        out.push((p, s));
                    }
                }
            }
        }
        out
    }
}

impl TestNode {
    /// The pause processes of the pods on disk.
    pub fn sandboxes(&self) -> Vec<kubelet::runtime::shim_state::SandboxState> {
        let pods = std::fs::read_dir(self.root().join("pods")).into_iter().flatten().flatten();
        pods.filter_map(|p| kubelet::runtime::shim_state::SandboxState::load(&p.path().join("sandbox.json")).ok()).collect()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
        // Stop every container still running, then remove mounts and cgroups.
        for (_, s) in self.shim_states() {
            if kubelet::runtime::manager::shim_alive(&s) {
                unsafe { libc::kill(s.shim_pid, libc::SIGUSR1) };
            }
        }
        for _ in 0..250 {
            if !self.shim_states().iter().any(|(_, s)| kubelet::runtime::manager::shim_alive(s)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for s in self.sandboxes() {
            if s.alive() {
                unsafe { libc::kill(s.pid, libc::SIGKILL) };
            }
        }
        unmount_all_under(self.dir.path());
        if std::env::var("KEEP_KUBELET_LOG").is_ok() {
            eprintln!("---- kubelet log ----\n{}", self.kubelet_log());
        }
    }
}

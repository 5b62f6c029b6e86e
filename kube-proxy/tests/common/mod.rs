//! Network namespaces for kube-proxy tests: a "node" namespace that routes
//! between a client namespace and backend namespaces running busybox httpd.
//! Nothing is created in the root namespace; everything is deleted on drop.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A named network namespace (/run/netns/<name>), deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: &str) -> Netns {
        // Unique per test in this process: tests run in parallel.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("kp{}-{n}-{name}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh(&format!("ip netns add {name} && ip -n {name} link set lo up"));
        Netns { name }
    }
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }
    /// Runs a shell command inside the namespace.
    pub fn sh(&self, cmd: &str) -> String {
        sh(&format!("ip netns exec {} sh -c '{}'", self.name, cmd.replace('\'', "'\\''")))
    }
    pub fn iptables_save(&self) -> String {
        iptables_save(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// iptables-save of both backends in namespace `ns` (the proxier picks one).
pub fn iptables_save(ns: &str) -> String {
    sh(&format!("ip netns exec {ns} sh -c 'iptables-nft-save 2>/dev/null; iptables-legacy-save 2>/dev/null; true'"))
}

/// Runs `f` on a thread inside `ns`'s network namespace.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("netns file");
        // SAFETY: setns on this thread only; the fd is valid.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("netns thread")
}

/// One HTTP GET; the body (trimmed).
pub fn http_get(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.split_once("\r\n\r\n").map(|(_, b)| b.trim().to_string()).unwrap_or_default())
}

/// `n` GETs from inside `ns`; each result.
pub fn gets(ns: &str, addr: SocketAddr, n: usize) -> Vec<std::io::Result<String>> {
    in_netns(ns, move || (0..n).map(|_| http_get(addr)).collect())
}

/// node + client + N backends. The node has a default route, as real nodes
/// do (without one, packets to a cluster IP with no rule are answered
/// "network unreachable" before the FORWARD chain), and sends no ICMP
/// redirects (its gateway is on the client's link: a redirect would use up
/// the ICMP rate limit that REJECT's port-unreachable needs) (10.244.<i>.2, httpd on :8080 answering "b<i>").
pub struct Topology {
    pub node: Netns,
    pub client: Netns,
    pub backends: Vec<Netns>,
    servers: Vec<Child>,
    _dirs: Vec<tempfile::TempDir>,
}

/// The node's address on the client link.
pub const NODE_IP: &str = "192.168.10.1";
pub const CLIENT_IP: &str = "192.168.10.2";

pub fn backend_ip(i: usize) -> String {
    format!("10.244.{i}.2")
}

impl Topology {
    pub fn new(backends: usize) -> Topology {
        let node = Netns::new("node");
        let client = Netns::new("client");
        let (n, c) = (&node.name, &client.name);
        sh(&format!(
            "ip link add kpc0 netns {n} type veth peer name eth0 netns {c} && \
             ip -n {n} addr add {NODE_IP}/24 dev kpc0 && ip -n {n} link set kpc0 up && \
             ip -n {c} addr add {CLIENT_IP}/24 dev eth0 && ip -n {c} link set eth0 up && \
             ip -n {c} route add default via {NODE_IP} && \
             ip -n {n} route add default via 192.168.10.254 && \
             ip netns exec {n} sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.kpc0.send_redirects=0"
        ));
        let mut t = Topology { node, client, backends: Vec::new(), servers: Vec::new(), _dirs: Vec::new() };
        for i in 1..=backends {
            let b = Netns::new(&format!("b{i}"));
            let (n, bn) = (&t.node.name, &b.name);
            sh(&format!(
                "ip link add kpb{i} netns {n} type veth peer name eth0 netns {bn} && \
                 ip -n {n} addr add 10.244.{i}.1/24 dev kpb{i} && ip -n {n} link set kpb{i} up && \
                 ip -n {bn} addr add {}/24 dev eth0 && ip -n {bn} link set eth0 up && \
                 ip -n {bn} route add default via 10.244.{i}.1",
                backend_ip(i)
            ));
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("index.html"), format!("b{i}\n")).unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", bn, "busybox", "httpd", "-f", "-p", "8080", "-h"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("busybox httpd");
            t.servers.push(child);
            t._dirs.push(dir);
            t.backends.push(b);
        }
        // Backends answer directly before any Service exists.
        for i in 1..=backends {
            let addr: SocketAddr = format!("{}:8080", backend_ip(i)).parse().unwrap();
            let ns = t.client.name.clone();
            wait_for(&format!("backend b{i} answering"), Duration::from_secs(10), || {
                let ns = ns.clone();
                in_netns(&ns, move || http_get(addr)).ok().filter(|b| *b == format!("b{i}"))
            });
        }
        t
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` until it returns Some, or panics naming `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

//! Logs, exec, attach and port-forward end to end: a real apiserver proxying to a
//! real kubelet (bearer token) running real containers, through the Streaming
//! gRPC calls and through the kubectl binary (`cargo build -p kubectl` first).
//! Needs root.

mod common;

use client::proto::v1::*;
use client::{Api, PostParams};
use common::node::TestNode;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testing::TestCluster;

const LONG: Duration = Duration::from_secs(90);

struct Env {
    tc: TestCluster,
    node: TestNode,
    _token_dir: tempfile::TempDir,
}

async fn env() -> Env {
    let token = format!("{:032x}", rand::random::<u128>());
    let tc = TestCluster::start_with(|c| c.kubelet_client_token = Some(token.clone())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("token");
    std::fs::write(&f, &token).unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &["--address", "127.0.0.1", "--port", "0", "--streaming-token-file", f.to_str().unwrap()]);
    Env { tc, node, _token_dir: dir }
}

impl Env {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.tc.client.clone(), "default")
    }

    async fn create(&self, name: &str, spec: Value) {
        let mut spec = spec;
        spec["nodeName"] = json!(self.node.name);
        spec["terminationGracePeriodSeconds"] = json!(1);
        let p: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})).unwrap();
        self.pods().create(&PostParams::default(), &p).await.unwrap();
    }

    async fn wait(&self, name: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        let mut last = Value::Null;
        loop {
            if let Ok(Some(p)) = self.pods().get_opt(name).await {
                last = serde_json::to_value(&p).unwrap();
                if f(&last) {
                    return last;
                }
            }
            assert!(start.elapsed() < LONG, "timed out waiting for {what}; last: {}\n{}", last["status"], self.node.kubelet_log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn running(&self, name: &str) -> Value {
        self.wait(name, "Running", |p| p["status"]["phase"] == "Running" && p["status"]["containerStatuses"].as_array().is_some_and(|c| c.iter().all(|c| c["state"]["running"].is_object()))).await
    }

    async fn logs(&self, req: LogRequest) -> Result<String, client::Error> {
        let mut s = self.tc.client.streaming().logs(req).await?.into_inner();
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend(c?.data);
        }
        Ok(String::from_utf8_lossy(&out).to_string())
    }

    /// Runs kubectl against the test apiserver.
    fn kubectl(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("kubectl"));
        c.args(["-s", &self.tc.addr.to_string(), "-n", "default"]).args(args).env("KUBECONFIG", "/nonexistent");
        c
    }
}

fn bin(name: &str) -> PathBuf {
    // Integration tests run from target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().and_then(|d| d.parent()).unwrap().join(name);
    assert!(p.exists(), "{} not built: run `cargo build -p kubectl` first", p.display());
    p
}

fn target(name: &str, container: &str) -> Option<PodTarget> {
    Some(PodTarget { namespace: "default".into(), name: name.into(), container: container.into(), uid: String::new() })
}

fn log_req(name: &str, container: &str) -> LogRequest {
    LogRequest { target: target(name, container), ..Default::default() }
}

fn api_message(e: client::Error) -> String {
    match e {
        client::Error::Api(a) => a.0.message,
        other => panic!("not a Status: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_of_running_and_previous_containers_and_follow() {
    let e = env().await;
    // Each run counts itself in an emptyDir (kept across restarts); the first run fails.
    e.create("counter", json!({"restartPolicy": "OnFailure", "volumes": [{"name": "d", "emptyDir": {}}],
        "containers": [{"name": "c", "image": "busybox", "volumeMounts": [{"name": "d", "mountPath": "/d"}], "command": ["sh", "-c",
        "n=$(cat /d/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /d/n; echo run $n; echo tail-a; echo tail-b; [ $n -ge 2 ] || exit 1; exec sleep 600"]}]})).await;
    e.wait("counter", "the second run", |p| p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(1) && p["status"]["containerStatuses"][0]["state"]["running"].is_object()).await;
    // The current run's lines are written right after it starts.
    let start = Instant::now();
    let current = loop {
        let l = e.logs(log_req("counter", "")).await.unwrap();
        if l.contains("tail-b") || start.elapsed() > LONG {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(current, "run 2\ntail-a\ntail-b\n");
    let previous = e.logs(LogRequest { previous: true, ..log_req("counter", "c") }).await.unwrap();
    assert_eq!(previous, "run 1\ntail-a\ntail-b\n");
    assert_eq!(e.logs(LogRequest { tail_lines: Some(2), ..log_req("counter", "c") }).await.unwrap(), "tail-a\ntail-b\n");
    assert_eq!(e.logs(LogRequest { tail_lines: Some(0), ..log_req("counter", "c") }).await.unwrap(), "");
    assert_eq!(e.logs(LogRequest { limit_bytes: Some(8), ..log_req("counter", "c") }).await.unwrap(), "run 2\nta");
    let stamped = e.logs(LogRequest { timestamps: true, tail_lines: Some(1), ..log_req("counter", "c") }).await.unwrap();
    let (ts, rest) = stamped.split_once(' ').unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{stamped}");
    assert_eq!(rest, "tail-b\n");
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    assert_eq!(e.logs(LogRequest { since_time: future, ..log_req("counter", "c") }).await.unwrap(), "");
    assert_eq!(e.logs(LogRequest { since_seconds: Some(3600), ..log_req("counter", "c") }).await.unwrap(), current);

    // Upstream's messages.
    e.create("two", json!({"containers": [{"name": "a", "image": "busybox", "command": ["sleep", "600"]}, {"name": "b", "image": "busybox", "command": ["sleep", "600"]}]})).await;
    e.running("two").await;
    let err = e.logs(log_req("two", "")).await.unwrap_err();
    assert_eq!(api_message(err), "a container name must be specified for pod two, choose one of: [a b]");
    let err = e.logs(LogRequest { previous: true, ..log_req("two", "a") }).await.unwrap_err();
    assert_eq!(api_message(err), "previous terminated container \"a\" in pod \"two\" not found");
    let err = e.logs(log_req("two", "nope")).await.unwrap_err();
    assert_eq!(api_message(err), "container nope is not valid for pod two");

    // -f: lines as they come, and the end when the container ends.
    e.create("ticker", json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "for i in 1 2 3 4 5; do echo tick $i; sleep 0.3; done"]}]})).await;
    e.running("ticker").await;
    let followed = tokio::time::timeout(LONG, e.logs(LogRequest { follow: true, ..log_req("ticker", "c") })).await.expect("follow ends with the container").unwrap();
    assert_eq!(followed, "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n");

    // kubectl logs, with a prefix and for the previous run.
    let out = e.node_kubectl_ok(&["logs", "counter", "--prefix", "--tail", "1"]);
    assert_eq!(out, "[pod/counter/c] tail-b\n");
    let out = e.node_kubectl_ok(&["logs", "-p", "pod/counter"]);
    assert_eq!(out, "run 1\ntail-a\ntail-b\n");
    let o = e.kubectl(&["logs", "two", "-c", "a", "--previous"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "Error from server (BadRequest): previous terminated container \"a\" in pod \"two\" not found\n");
}

impl Env {
    fn node_kubectl_ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args).output().unwrap();
        assert!(o.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
}

async fn exec(e: &Env, start: ExecStart, stdin: &[u8]) -> (String, String, ExitStatus) {
    let mut frames = vec![ExecInput { frame: Some(exec_input::Frame::Start(start)) }];
    if !stdin.is_empty() {
        frames.push(ExecInput { frame: Some(exec_input::Frame::Stdin(stdin.to_vec())) });
    }
    frames.push(ExecInput { frame: Some(exec_input::Frame::StdinClose(true)) });
    let mut s = e.tc.client.streaming().exec(futures::stream::iter(frames)).await.map_err(client::Error::from).unwrap().into_inner();
    let (mut out, mut err, mut st) = (Vec::new(), Vec::new(), None);
    while let Some(f) = s.next().await {
        match f.unwrap().frame.unwrap() {
            exec_output::Frame::Stdout(d) => out.extend(d),
            exec_output::Frame::Stderr(d) => err.extend(d),
            exec_output::Frame::Status(x) => st = Some(x),
        }
    }
    (String::from_utf8_lossy(&out).into(), String::from_utf8_lossy(&err).into(), st.expect("a final status"))
}

fn start(pod: &str, cmd: &[&str], stdin: bool) -> ExecStart {
    ExecStart { target: target(pod, ""), command: cmd.iter().map(|s| s.to_string()).collect(), stdin, stdout: true, stderr: true, tty: false, size: None }
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_with_stdin_tty_and_exit_codes_and_attach() {
    let e = env().await;
    e.create("sh", json!({"shareProcessNamespace": true, "containers": [
        {"name": "main", "image": "busybox", "command": ["sh", "-c", "echo hello from main; i=0; while true; do i=$((i+1)); echo beat $i; sleep 0.2; done"]},
        {"name": "side", "image": "busybox", "command": ["sleep", "600"]}]})).await;
    e.running("sh").await;
    let mut s = start("sh", &["sh", "-c", "cat; echo oops >&2; exit 3"], true);
    s.target = target("sh", "main");
    let (out, err, st) = exec(&e, s, b"hello\nworld\n").await;
    assert_eq!((out.as_str(), err.as_str(), st.exit_code, st.error.as_str()), ("hello\nworld\n", "oops\n", 3, ""));
    // The exec'd process is in the container's namespaces: it sees the neighbour's sleep.
    let mut s = start("sh", &["ps", "-o", "args"], false);
    s.target = target("sh", "main");
    let (out, _, st) = exec(&e, s, b"").await;
    assert_eq!(st.exit_code, 0);
    assert!(out.contains("sleep 600"), "{out}");
    let mut s = start("sh", &["nonexistent-binary"], false);
    s.target = target("sh", "side");
    let (_, _, st) = exec(&e, s, b"").await;
    assert!(st.error.contains("executable file not found"), "{st:?}");

    // kubectl exec -i with pipes: stdout, the remote exit code and upstream's message.
    let mut child = e.kubectl(&["exec", "-i", "sh", "-c", "side", "--", "sh", "-c", "tr a-z A-Z; exit 7"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"shout\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "SHOUT\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "command terminated with exit code 7\n");
    assert_eq!(o.status.code(), Some(7));
    // Without -c on a two-container pod: the first, said on stderr.
    let o = e.kubectl(&["exec", "sh", "--", "true"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stderr), "Defaulted container \"main\" out of: main, side\n");
    assert!(o.status.success());

    // kubectl exec -it through a pty: the window size, a resize, the exit code.
    let (master, slave) = openpty(24, 80);
    let fd = |f: &OwnedFd| Stdio::from(f.try_clone().unwrap());
    let mut cmd = e.kubectl(&["exec", "-it", "sh", "-c", "side", "--", "sh"]);
    cmd.stdin(fd(&slave)).stdout(fd(&slave)).stderr(fd(&slave));
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(slave);
    let mut term = Term::new(master);
    term.until("stty size\n", "24 80");
    set_winsize(&term.master, 50, 132);
    term.until("stty size\n", "50 132");
    term.write(b"exit 5\n");
    let status = child.wait().unwrap();
    let rest = term.drain();
    assert_eq!(status.code(), Some(5), "{rest}");
    assert!(rest.contains("command terminated with exit code 5"), "{rest}");

    // Attach: the main process's output from now on.
    let frames = vec![ExecInput { frame: Some(exec_input::Frame::Start(ExecStart { target: target("sh", "main"), stdout: true, stderr: true, ..Default::default() })) }];
    let mut s = e.tc.client.streaming().attach(futures::stream::iter(frames).chain(futures::stream::pending())).await.unwrap().into_inner();
    let mut seen = String::new();
    while !seen.matches("beat").count().ge(&3) {
        match tokio::time::timeout(LONG, s.next()).await.unwrap().unwrap().unwrap().frame.unwrap() {
            exec_output::Frame::Stdout(d) => seen.push_str(&String::from_utf8_lossy(&d)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(!seen.contains("hello from main"), "attach starts at the current end: {seen}");
}

fn openpty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (0, 0);
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    assert_eq!(unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) }, 0);
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

fn set_winsize(fd: &OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// The test's side of a pty kubectl runs in.
struct Term {
    master: OwnedFd,
    seen: String,
}

impl Term {
    fn new(master: OwnedFd) -> Term {
        unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        Term { master, seen: String::new() }
    }

    fn write(&self, b: &[u8]) {
        let mut f = std::fs::File::from(self.master.try_clone().unwrap());
        f.write_all(b).unwrap();
    }

    fn read_some(&mut self) -> bool {
        let mut p = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        unsafe { libc::poll(&mut p, 1, 200) };
        let mut buf = [0u8; 4096];
        let mut f = std::fs::File::from(self.master.try_clone().unwrap());
        match f.read(&mut buf) {
            Ok(n) if n > 0 => {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
            Ok(_) => false,
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }

    /// Sends `input` (again each second) until `want` shows up in the output.
    fn until(&mut self, input: &str, want: &str) {
        let start = Instant::now();
        let mut sent = Instant::now() - Duration::from_secs(10);
        while !self.seen.contains(want) {
            assert!(start.elapsed() < LONG, "never saw {want:?}; terminal: {:?}", self.seen);
            if sent.elapsed() > Duration::from_secs(1) {
                self.write(input.as_bytes());
                sent = Instant::now();
            }
            if !self.read_some() {
                break;
            }
        }
        assert!(self.seen.contains(want), "{:?}", self.seen);
        self.seen.clear();
    }

    fn drain(&mut self) -> String {
        while self.read_some() && !self.seen.contains("exit code") {}
        std::mem::take(&mut self.seen)
    }
}

/// One HTTP/1.0 GET over a fresh connection; the body.
fn http_get(port: u16) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn port_forward_to_the_kubia_app() {
    let e = env().await;
    // The kubia look-alike serves one connection at a time (busybox nc, listen
    // backlog 1), so the 50-at-once part goes to busybox httpd beside it.
    e.create("kubia", json!({"containers": [{"name": "kubia", "image": "luksa/kubia", "ports": [{"containerPort": 8080}]},
        {"name": "web", "image": "busybox", "ports": [{"name": "http", "containerPort": 8081}],
         "command": ["sh", "-c", "mkdir -p /www && echo hello-httpd > /www/index.html && exec httpd -f -p 8081 -h /www"]}]})).await;
    e.running("kubia").await;
    let mut pf = Killed(e.kubectl(&["port-forward", "pod/kubia", ":8080", ":http", ":9999", "--address", "127.0.0.1"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    // "Forwarding from 127.0.0.1:<port> -> 8080", one line per mapping.
    let mut lines = std::io::BufReader::new(pf.0.stdout.take().unwrap());
    let mut ports = Vec::new();
    while ports.len() < 3 {
        let mut l = String::new();
        assert!(std::io::BufRead::read_line(&mut lines, &mut l).unwrap() > 0, "port-forward ended");
        let p: u16 = l.trim().strip_prefix("Forwarding from 127.0.0.1:").and_then(|r| r.split(' ').next()).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{l}"));
        ports.push(p);
    }
    // Keep draining "Handling connection" lines so kubectl never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let (web, named, dead) = (ports[0], ports[1], ports[2]);
    let results = tokio::task::spawn_blocking(move || {
        let mut bodies = Vec::new();
        for _ in 0..200 {
            bodies.push(http_get(web));
        }
        bodies
    })
    .await
    .unwrap();
    let failed: Vec<(usize, String)> = results.iter().enumerate().filter(|(_, r)| !r.as_ref().is_ok_and(|b| b.contains("You've hit kubia"))).map(|(i, r)| (i, format!("{r:?}"))).collect();
    if !failed.is_empty() {
        let _ = pf.0.kill();
        let mut stderr = String::new();
        pf.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        panic!("{} of 200 failed: {failed:?}\nkubectl: {stderr}\nkubelet: {}", failed.len(), e.node.kubelet_log());
    }
    // A refused remote port fails that connection only.
    let refused = http_get(dead).unwrap_or_default();
    assert_eq!(refused, "");
    let concurrent: Vec<_> = (0..50).map(|_| tokio::task::spawn_blocking(move || http_get(named))).collect();
    for j in concurrent {
        let r = j.await.unwrap();
        assert!(r.as_ref().is_ok_and(|b| b.contains("hello-httpd")), "{r:?}");
    }
    assert!(pf.0.try_wait().unwrap().is_none(), "port-forward is still running");
    let _ = pf.0.kill();
    let mut stderr = String::new();
    pf.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("an error occurred forwarding") && stderr.contains("-> 9999") && stderr.contains("connection refused"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_cp_both_ways() {
    let e = env().await;
    e.create("box", json!({"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]})).await;
    e.running("box").await;
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(src.join("sub/b.txt"), "beta\n").unwrap();
    e.node_kubectl_ok(&["cp", src.to_str().unwrap(), "box:/tmp/copied"]);
    let (out, _, st) = exec(&e, start("box", &["cat", "/tmp/copied/a.txt", "/tmp/copied/sub/b.txt"], false), b"").await;
    assert_eq!((out.as_str(), st.exit_code), ("alpha\nbeta\n", 0));
    exec(&e, start("box", &["sh", "-c", "echo gamma > /tmp/copied/sub/c.txt"], false), b"").await;
    let back = local.path().join("back");
    e.node_kubectl_ok(&["cp", "box:/tmp/copied", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(back.join("a.txt")).unwrap(), "alpha\n");
    assert_eq!(std::fs::read_to_string(back.join("sub/c.txt")).unwrap(), "gamma\n");
    let o = e.kubectl(&["cp", "box:/nonexistent", back.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nonexistent"), "{}", String::from_utf8_lossy(&o.stderr));
}

//! A real apiserver on a real etcd (testing::TestCluster), a
//! kubeconfig pointing at it, and the built kubectl binary.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;

use testing::TestCluster;
use tokio::io::AsyncWriteExt;

pub struct Kube {
    pub cluster: TestCluster,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

/// What one kubectl run printed, and its exit code.
#[derive(Debug)]
pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Out {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "kubectl failed: stdout={:?} stderr={:?}", self.stdout, self.stderr);
        &self.stdout
    }
    /// Asserts exit code 1 and returns stderr.
    pub fn fails(&self) -> &str {
        assert_eq!(self.code, 1, "kubectl should fail: stdout={:?} stderr={:?}", self.stdout, self.stderr);
        &self.stderr
    }
}

impl Kube {
    /// Starts etcd + apiserver and writes a kubeconfig (context "test",
    /// namespace "default") in upstream's format.
    pub async fn start() -> Kube {
        let cluster = TestCluster::start().await.expect("test cluster starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: http://{}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: admin\n    namespace: default\ncurrent-context: test\nusers:\n- name: admin\n  user:\n    token: secret\n",
                cluster.addr
            ),
        )
        .unwrap();
        Kube { cluster, dir, kubeconfig }
    }

    pub async fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None, &[]).await
    }

    pub async fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        self.run_with(args, Some(stdin), &[]).await
    }

    /// Runs kubectl with KUBECONFIG set to the test kubeconfig.
    pub async fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Out {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl"));
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            // Files kubectl keeps (e.g. a cancelled edit) stay in the test's directory.
            .env("TMPDIR", self.dir.path())
            .env_remove("EDITOR")
            .env_remove("KUBE_EDITOR")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("kubectl runs");
        if let Some(input) = stdin {
            let mut si = child.stdin.take().unwrap();
            si.write_all(input.as_bytes()).await.unwrap();
            drop(si);
        }
        let out = child.wait_with_output().await.unwrap();
        Out {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    /// Writes a file in the test's directory and returns its path.
    pub fn file(&self, name: &str, content: &str) -> String {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p.to_string_lossy().into_owned()
    }
}

/// Replaces AGE cells ("0s", "12s", "3m2s") with "AG" so that tables can be
/// compared with golden files however long the test took; the cell keeps its
/// width (extra spaces are added after it) so columns stay aligned as in the
/// golden file, where every age is "AG".
pub fn mask_ages(text: &str) -> String {
    let is_age = |t: &str| {
        t.chars().next().is_some_and(|c| c.is_ascii_digit())
            && t.chars().all(|c| c.is_ascii_digit() || "smhdy".contains(c))
            && t.chars().any(|c| "smhdy".contains(c))
    };
    let mut out = String::new();
    for line in text.lines() {
        let mut rest = line;
        while !rest.is_empty() {
            let word_end = rest.find(' ').unwrap_or(rest.len());
            let (word, after) = rest.split_at(word_end);
            let spaces = after.len() - after.trim_start_matches(' ').len();
            if is_age(word) {
                out.push_str("AG");
                if spaces > 0 {
                    out.push_str(&" ".repeat(spaces + word.len() - 2));
                }
            } else {
                out.push_str(word);
                out.push_str(&" ".repeat(spaces));
            }
            rest = &after[spaces..];
        }
        out.push('\n');
    }
    out
}

pub fn golden(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

//! `bench-up`: how long `up` (to every node Ready) and `down` take, and what
//! the idle cluster costs in memory.

use std::time::{Duration, Instant};

use crate::cluster::{self, UpOptions};
use crate::process;

pub fn run(nodes: u32, runs: u32, idle: Duration, bin_dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let (mut ups, mut downs) = (vec![], vec![]);
    let mut idle_rss_mb = 0.0;
    println!("{:<5} {:>8} {:>8} {:>12}", "RUN", "UP_S", "DOWN_S", "IDLE_RSS_MB");
    for r in 1..=runs.max(1) {
        let workdir = std::env::temp_dir().join(format!("ferrokube-bench-{}-{r}", std::process::id()));
        let opts = UpOptions { nodes, apiserver_port: 0, bin_dir: bin_dir.clone(), ready_timeout: Duration::from_secs(120), quiet: true };
        let t = Instant::now();
        let st = cluster::up(&workdir, opts)?;
        let up = t.elapsed().as_secs_f64();
        // Idle memory once (the first run), after the cluster has settled.
        let rss = if r == 1 {
            std::thread::sleep(idle);
            let kib: u64 = st.components.iter().flat_map(|c| process::tree(c.pid)).map(process::rss_kib).sum();
            idle_rss_mb = kib as f64 / 1024.0;
            format!("{idle_rss_mb:.0}")
        } else {
            "-".into()
        };
        let t = Instant::now();
        cluster::down(&workdir, true)?;
        let down = t.elapsed().as_secs_f64();
        println!("{r:<5} {up:>8.2} {down:>8.2} {rss:>12}");
        ups.push(up);
        downs.push(down);
    }
    println!("targets: up <= 3 s, idle <= 250 MB (anchors: kind 12-17 s to create; k3s ~50 s to ready, ~500 MB idle; minikube ~60 s)");
    println!("up-bench nodes={nodes} up_p50_s={:.2} down_p50_s={:.2} idle_rss_mb={idle_rss_mb:.0}", p50(&mut ups), p50(&mut downs));
    Ok(())
}

fn p50(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

//! Builds `kubelet-monitor` (the kubelet-monitor crate's binary) as a static
//! executable, for kubelet-shim to embed (`KUBELET_MONITOR_BIN`).
//!
//! Why static: one monitor lives beside every container for the container's
//! whole life. Dynamically linked, libc.so, ld.so and libgcc_s alone map about
//! 1.7 MB into each one (measured: ~2.1 MB RSS per monitor); linked statically
//! against glibc it is ~1.3 MB. Cargo has no per-binary rustflags, so a nested
//! cargo builds it with `-C target-feature=+crt-static` into a target directory of
//! its own (under OUT_DIR, so it never contends for the outer build's lock).

use std::path::PathBuf;
use std::process::Command;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("build script: {name} is not set"))
}

/// FNV-1a: names the written-out binary by its content.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let monitor = manifest_dir.join("monitor");
    for p in ["src", "Cargo.toml"] {
        println!("cargo::rerun-if-changed={}", monitor.join(p).display());
    }
    println!("cargo::rerun-if-changed=build.rs");

    let target = env("TARGET");
    let target_dir = PathBuf::from(env("OUT_DIR")).join("monitor-target");
    let status = Command::new(env("CARGO"))
        .args(["build", "--release", "--locked", "--bin", "kubelet-monitor", "--features", "static-bin"])
        .args(["--target", &target])
        .arg("--manifest-path")
        .arg(monitor.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Only this build gets crt-static; the outer build's flags do not apply.
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("build script: running cargo for kubelet-monitor");
    assert!(status.success(), "build script: building the static kubelet-monitor failed");

    let bin = target_dir.join(&target).join("release").join("kubelet-monitor");
    let bytes = std::fs::read(&bin).unwrap_or_else(|e| panic!("build script: reading {}: {e}", bin.display()));
    println!("cargo::rustc-env=KUBELET_MONITOR_BIN={}", bin.display());
    println!("cargo::rustc-env=KUBELET_MONITOR_ID={:016x}", fnv1a(&bytes));
}

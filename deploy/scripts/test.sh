#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, and integration tests that
# start a real etcd, real apiservers, real containers and real iptables in
# their own network namespaces. Needs root for the kubelet's tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/scripts/prereqs.sh
cargo build --workspace --bins
cargo test --workspace --no-fail-fast

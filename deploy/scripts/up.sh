#!/usr/bin/env bash
# Installs what is missing, builds ferrokube (release) and brings up a local
# cluster with `ferrokube up`. Stop it with: target/release/ferrokube down
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/scripts/prereqs.sh
cargo build --release --bins
exec target/release/ferrokube up "$@"

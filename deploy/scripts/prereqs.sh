#!/usr/bin/env bash
# Installs what ferrokube needs to build, test and run on Debian, skipping
# packages already present. Safe to run again.
set -euo pipefail

PACKAGES=(
  etcd-server etcd-client          # the cluster's store (tests start their own)
  protobuf-compiler libprotobuf-dev # protoc for the gRPC code (ours and etcd-client's)
  libseccomp-dev pkg-config        # youki's libcontainer (kubelet)
  libc6-dev                        # libc.a: kubelet-monitor is linked statically
  busybox-static                   # test images are built from it, offline
  iptables iproute2                # kube-proxy and pod networking, in network namespaces
  conntrack                        # kube-proxy deletes stale UDP flows after endpoint changes
  docker-registry skopeo           # a real local OCI registry for image pull tests
  apache2-utils                    # htpasswd: basic auth for the registry in the pull-secret test
  dnsperf                          # dns-bench's load generator against kube-dns
  iperf3                           # net-bench: TCP throughput pod to pod and over a bare veth
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "error: cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }

#!/usr/bin/env bash
# Installs the system packages rdesk and its tests need (Debian 12 / Ubuntu), as root.
# Rust itself comes from rustup (Rust >= 1.88); this script does not install it.
set -euo pipefail
PACKAGES=(
  build-essential pkg-config libseccomp-dev   # building (libcontainer's seccomp)
  libelf-dev zlib1g-dev                        # libbpf (cgroup v2 device rules)
  busybox-static                               # the test images are built from it
  docker-registry                              # the real local registry the tests start
  openssl                                      # TLS for the registry tests
  tmux iproute2 tini runc                      # TUI end-to-end tests, networking, --init, a peer runtime
  nftables                                     # networks: rdesk's NAT/isolation table (nft)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "rdesk needs these packages: ${missing[*]}; run this script as root (sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
# The Debian package starts a registry service on :5000; the tests start their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi

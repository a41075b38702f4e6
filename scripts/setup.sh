#!/usr/bin/env bash
# Installs what rdesk needs, builds it and installs /usr/local/bin/rdesk. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --bin rdesk --bin rdesk-shim
install -m 0755 target/release/rdesk target/release/rdesk-shim /usr/local/bin/
echo "rdesk installed: /usr/local/bin/rdesk"

#!/usr/bin/env bash
# Installs what rdesk needs, builds it and installs /usr/local/bin/rdesk. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --bin rdesk
install -m 0755 target/release/rdesk /usr/local/bin/rdesk
echo "rdesk installed: /usr/local/bin/rdesk"

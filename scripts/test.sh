#!/usr/bin/env bash
# The whole test suite: system packages, formatting, lints, unit and integration tests.
# Integration tests need root (namespaces, overlayfs, devices); CI runs this as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --all-targets --quiet
cargo test --workspace --quiet

#!/usr/bin/env bash
# Runs the benchmarks in bench/ (each prints one JSON object). Usage: scripts/bench.sh [name ...]
set -euo pipefail
cd "$(dirname "$0")/.."
SHOAL_DATA_DIR=${SHOAL_BENCH_DATA_DIR:-$(mktemp -d /tmp/shoal-bench-XXXXXX)} .venv/bin/python -m bench.run "$@"

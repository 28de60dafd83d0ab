#!/usr/bin/env bash
# Runs the benchmarks in bench/ (each prints one JSON object). Usage: scripts/bench.sh [name ...]
set -euo pipefail
cd "$(dirname "$0")/.."
# the optional group "bench" (the product does not need it): numpy for the hand-written reference of bench_tags,
# django-import-export for the peer of bench_import
.venv/bin/python -c "import numpy, import_export" 2>/dev/null || .venv/bin/pip install -q -e '.[bench]'
SHOAL_DATA_DIR=${SHOAL_BENCH_DATA_DIR:-$(mktemp -d /tmp/shoal-bench-XXXXXX)} .venv/bin/python -m bench.run "$@"

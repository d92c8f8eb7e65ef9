#!/usr/bin/env bash
# Full quality + speed run of the generic path against bare trafilatura (issue 3; docs/EVAL.md).
#   benchmarks/eval_full.sh [OUT_DIR] [extra kirinuki eval args, e.g. --repeat 3]
# Reads ../shared/benchmarks/{fundus,article-extraction}/gold.jsonl beside the repository and
# writes per-page predictions (pred-*.jsonl) and summaries (summary-*.json) to OUT_DIR.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bench="${KIRINUKI_BENCHMARKS:-$repo/../shared/benchmarks}"
out="${1:-$repo/benchmarks/out}"
shift || true
kirinuki="${KIRINUKI:-kirinuki}"
command -v "$kirinuki" >/dev/null || kirinuki="$repo/../venv/bin/kirinuki"
mkdir -p "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(python3 --version 2>&1)"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit: $(git -C "$repo" rev-parse --short HEAD)"
for name in fundus article-extraction; do
  "$kirinuki" --log-level ERROR eval "$bench/$name/gold.jsonl" --generic-only \
    --out "$out/pred-$name.jsonl" --json "$out/summary-$name.json" "$@"
  echo
done

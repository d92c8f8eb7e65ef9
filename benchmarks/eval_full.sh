#!/usr/bin/env bash
# Full quality + speed run of the generic path against bare trafilatura and readability-lxml
# (issues 3 and 10; docs/EVAL.md), all five benchmark sets in one table (per set, pooled, CJK).
#   benchmarks/eval_full.sh [OUT_DIR] [extra kirinuki eval args, e.g. --repeat 3]
# Reads ../shared/benchmarks/<set>/gold.jsonl beside the repository (or $KIRINUKI_BENCHMARKS) and
# writes per-page predictions (pred-all.jsonl) and the summary (summary-all.json) to OUT_DIR.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bench="${KIRINUKI_BENCHMARKS:-$repo/../shared/benchmarks}"
out="${1:-$repo/benchmarks/out}"
shift || true
kirinuki="${KIRINUKI:-kirinuki}"
command -v "$kirinuki" >/dev/null || kirinuki="$repo/.venv/bin/kirinuki"
mkdir -p "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(python3 --version 2>&1)"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit: $(git -C "$repo" rev-parse --short HEAD)"
manifests=()
for name in fundus article-extraction readability chinese-wce newspaper4k; do
  manifests+=("$bench/$name/gold.jsonl")
done
"$kirinuki" --log-level ERROR eval "${manifests[@]}" --generic-only \
  --out "$out/pred-all.jsonl" --json "$out/summary-all.json" "$@"

"""`kirinuki clean` against bare `trafilatura.extract` on the same files, in the same run.

    python benchmarks/clean_vs_trafilatura.py [DIR] [--jobs N] [--rounds R]

DIR defaults to ../shared/benchmarks/fundus/html. Each system runs in its own child process
over every `.html`/`.html.gz` file (reading and gunzipping included for both); rounds alternate
the order so a noisy shared machine hurts both alike. kirinuki's modules are byte-compiled first,
as an installed wheel's are (trafilatura's are). Prints the best wall seconds, pages/s and
the ratio (the issue's measure), the best CPU seconds of each whole process tree and their ratio
(steadier on a shared machine), each child's peak RSS (ru_maxrss of the child), and the CPU
ratio of each round's back-to-back pair (median and range): on a host whose speed drifts, the
best runs of the two systems may come from different minutes, a pair's two runs do not.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO.parent / "shared" / "benchmarks" / "fundus" / "html"

TRAFILATURA = r"""
import gzip, sys
from pathlib import Path
import trafilatura
n = 0
for p in sorted(Path(sys.argv[1]).rglob("*")):
    if not p.name.endswith((".html", ".htm", ".html.gz", ".htm.gz")):
        continue
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    trafilatura.extract(raw, include_comments=False)
    n += 1
print(n)
"""


def child(cmd: list[str]) -> tuple[float, float]:
    """Run one child; return its wall seconds and the CPU seconds (user + system) of it and of
    the processes it waited for (kirinuki's worker). On a machine shared with other work, CPU
    time moves far less from run to run than wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def byte_compile() -> None:
    """Write kirinuki's bytecode once, as `pip install` does for trafilatura's wheel. An editable
    install on a machine that sets PYTHONDONTWRITEBYTECODE (this one does) would otherwise compile
    our modules from source in every process of every round (about 0.1 s of CPU a run), a cost
    no installed copy pays. Both systems then start from bytecode."""
    import kirinuki.pipelines

    import kirinuki

    dirs = sorted({str(Path(m.__file__).parent) for m in (kirinuki, kirinuki.pipelines)})
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=False,
                   stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", default=str(DEFAULT))
    ap.add_argument("--jobs", type=int, default=1, help="kirinuki clean -j (default 1: same as trafilatura)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    files = [p for p in Path(args.dir).rglob("*") if p.name.endswith((".html", ".htm", ".html.gz", ".htm.gz"))]
    if not files:
        print(f"no HTML files under {args.dir}", file=sys.stderr)
        return 2
    byte_compile()
    # Output goes to a real temp file (never a device path): writing is part of the measured work.
    out = Path(tempfile.mkdtemp(prefix="kirinuki-bench-")) / "records.jsonl"
    ours_cmd = [sys.executable, "-m", "kirinuki.cli", "clean", args.dir, "-o", str(out), "-q", "-j", str(args.jobs)]
    traf_cmd = [sys.executable, "-c", TRAFILATURA, args.dir]
    ours, traf, peaks = [], [], {}
    for r in range(args.rounds):
        order = [("kirinuki", ours_cmd, ours), ("trafilatura", traf_cmd, traf)]
        for _name, cmd, acc in (order if r % 2 == 0 else order[::-1]):
            acc.append(child(cmd))
    # Peak memory: one more run of each, in a fresh parent so ru_maxrss is that child's alone.
    for name, cmd in (("kirinuki", ours_cmd), ("trafilatura", traf_cmd)):
        proc = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True, text=True, check=False)
        peaks[name] = proc.stdout.strip() or "?"
    n = len(files)
    best_o, best_t = min(w for w, _ in ours), min(w for w, _ in traf)
    cpu_o, cpu_t = min(c for _, c in ours), min(c for _, c in traf)
    print(f"pages: {n} ({args.dir})")
    print(f"{'system':<14}{'best s':>9}{'pages/s':>10}{'best CPU s':>12}{'peak RSS MiB':>14}   all rounds (wall s / CPU s)")
    for name, runs, best, cpu in (("kirinuki", ours, best_o, cpu_o), ("trafilatura", traf, best_t, cpu_t)):
        rounds = ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs)
        print(f"{name:<14}{best:>9.2f}{n / best:>10.1f}{cpu:>12.2f}{peaks[name]:>14}   {rounds}")
    print(f"ratio kirinuki/trafilatura pages/s: {best_t / best_o:.2f} wall, {cpu_t / cpu_o:.2f} CPU "
          f"(kirinuki clean -j {args.jobs}: decode, profile or generic extraction, metadata, language, "
          f"normalization, schema, JSON)")
    paired = sorted(t[1] / o[1] for o, t in zip(ours, traf, strict=True))
    print(f"paired CPU ratio per round (the two runs of a round are back to back): "
          f"median {statistics.median(paired):.2f}, range {paired[0]:.2f}-{paired[-1]:.2f}")
    return 0


_PEAK = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""

if __name__ == "__main__":
    sys.exit(main())

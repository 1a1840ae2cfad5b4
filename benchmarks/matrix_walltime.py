"""`mailspec matrix` wall time against the sum of its single runs (same peers, same run).

Runs ``mailspec matrix --peers ...`` once; the matrix records the wall time of
the whole and of each peer's run (``matrix.json``: ``wall_s`` and each column's
``duration_s``). Prints the figures and the ratio matrix / sum: 1.0 means no
gain from running peers side by side, 1/N the most N parallel runs can give.
Peers that cannot run here are listed, with the reason, and left out of both.

The single runs' times are measured inside the matrix, while other peers run
beside them, so on a loaded machine each is longer than it would be alone.
``--sequential`` also runs the same matrix one peer at a time (-j 1) and prints
that wall time too: the sum of the single runs, measured alone.

Usage: python benchmarks/matrix_walltime.py [--peers embedded,postfix,exim,aiosmtpd]
       [-k EXPR] [-j JOBS] [--sequential] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default="embedded,postfix,exim,aiosmtpd", help="comma-separated peers")
    ap.add_argument("-k", dest="keyword", default=None, help="only cases matching this -k expression")
    ap.add_argument("-j", dest="jobs", default=None, help="peers at a time (default: one per core)")
    ap.add_argument("--sequential", action="store_true", help="also time the same matrix with -j 1")
    ap.add_argument("--keep", default=None, help="write the matrix here and keep it (default: a temporary dir)")
    ns = ap.parse_args()

    out = Path(ns.keep) if ns.keep else Path(tempfile.mkdtemp(prefix="mailspec-bench-matrix-"))
    outer, data = run_matrix(ns, out, ns.jobs)
    cols = data["columns"]
    total = sum(c["duration_s"] or 0.0 for c in cols)
    wall = data["wall_s"] or 0.0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {data['machine']}")
    print(f"command: {data['command']}")
    print(f"{'peer':<12} {'implementation':<34} {'cases':>6} {'wall s':>8}")
    for c in cols:
        print(f"{c['peer']:<12} {c['label']:<34} {c['cases']:>6} {c['duration_s']:>8.1f}")
    for u in data["unavailable"]:
        print(f"not run: {u['peer']}: {u['reason']}")
    print(f"sum of single runs:       {total:8.1f} s")
    print(f"matrix (runs, in parallel): {wall:6.1f} s  ({cores} cores)")
    print(f"matrix command, end to end: {outer:6.1f} s  (with joining and writing the reports)")
    if total:
        print(
            f"ratio matrix / sum:         {wall / total:6.2f}  (best possible with {cores} at a time: {max(1 / max(cores or 1, 1), max(c['duration_s'] for c in cols) / total):.2f})"
        )
    if ns.sequential:
        seq_dir = Path(tempfile.mkdtemp(prefix="mailspec-bench-matrix-seq-"))
        _, seq = run_matrix(ns, seq_dir, "1")
        seq_wall = seq["wall_s"] or 0.0
        print(f"same matrix with -j 1:      {seq_wall:6.1f} s  (the single runs one after another)")
        if seq_wall:
            print(f"ratio matrix / sequential:  {wall / seq_wall:6.2f}")
        shutil.rmtree(seq_dir, ignore_errors=True)
    if not ns.keep:
        shutil.rmtree(out, ignore_errors=True)
    return 0


def run_matrix(ns: argparse.Namespace, out: Path, jobs: str | None) -> tuple[float, dict[str, Any]]:
    cmd = [sys.executable, "-m", "conformance.cli", "matrix", "--peers", ns.peers, "--report-dir", str(out)]
    if ns.keyword:
        cmd += ["-k", ns.keyword]
    if jobs:
        cmd += ["-j", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    outer = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"matrix failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    data: dict[str, Any] = json.loads((out / "matrix.json").read_text())
    return outer, data


if __name__ == "__main__":
    sys.exit(main())

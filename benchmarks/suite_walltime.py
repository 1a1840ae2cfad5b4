"""Suite wall time against the embedded peers, and median time per case.

Prints figures, plus ratios against two baselines measured in the same run:
- "pytest floor": the same number of empty pytest tests (what pytest itself costs);
- "smtplib sessions": as many stdlib smtplib sessions (connect, EHLO, NOOP, QUIT)
  against the same embedded server (what the protocol exchange itself costs).

Usage: python benchmarks/suite_walltime.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}")
    return elapsed


def count_cases() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios", "--collect-only", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return sum(1 for line in out.splitlines() if "::" in line)


def pytest_floor(n: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "test_floor.py"
        p.write_text("".join(f"def test_{i}():\n    pass\n" for i in range(n)))
        return timed([sys.executable, "-m", "pytest", str(p), "-q", "-p", "no:cacheprovider", "-p", "no:mailspec"])


def smtplib_sessions(n: int) -> float:
    sys.path.insert(0, str(ROOT))
    from conformance.peers.embedded import EmbeddedPeer

    peer = EmbeddedPeer(mirror=False)
    target = next(t for t in peer.start() if t.protocol == "smtp")
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            with smtplib.SMTP(target.host, target.port, timeout=10) as s:
                s.ehlo()
                s.noop()
        return time.perf_counter() - t0
    finally:
        peer.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ns = ap.parse_args()
    n = count_cases()
    suite, suite_n2, floors, sessions = [], [], [], []
    per_case: list[float] = []
    for i in range(ns.repeat):
        with tempfile.TemporaryDirectory() as d:
            suite.append(
                timed([sys.executable, "-m", "pytest", "scenarios", "-q", "-p", "no:cacheprovider", "--report-dir", d])
            )
            if i == 0:
                per_case = [
                    json.loads(line)["duration_s"] for line in (Path(d) / "results.jsonl").read_text().splitlines()
                ]
        suite_n2.append(
            timed(
                [sys.executable, "-m", "pytest", "scenarios", "-q", "-p", "no:cacheprovider", "--no-report", "-n", "2"]
            )
        )
        floors.append(pytest_floor(n))
        sessions.append(smtplib_sessions(n))
    med = statistics.median
    print(f"cases: {n} (embedded peer), repeats: {ns.repeat}")
    print(f"suite wall time, 1 process:      {med(suite):7.2f} s")
    print(f"suite wall time, -n 2:            {med(suite_n2):7.2f} s")
    print(
        f"median time per case (call):     {med(per_case) * 1000:7.1f} ms   (p90 {statistics.quantiles(per_case, n=10)[-1] * 1000:.1f} ms, max {max(per_case) * 1000:.0f} ms)"
    )
    print(
        f"baseline pytest floor ({n} empty tests): {med(floors):7.2f} s   -> suite is {med(suite) / med(floors):.1f}x the pytest floor"
    )
    print(
        f"baseline {n} smtplib sessions:   {med(sessions):7.2f} s   -> suite is {med(suite) / med(sessions):.1f}x plain smtplib sessions"
    )
    slow = sorted(per_case, reverse=True)[:5]
    print(f"slowest cases (s): {', '.join(f'{x:.2f}' for x in slow)}")


if __name__ == "__main__":
    main()

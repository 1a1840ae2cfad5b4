"""Wall time of the IMAP scenarios against the embedded peer and against real servers.

Prints, per peer, the median wall time of ``pytest scenarios/imap`` over the
repeats, the number of cases and the median time per case (from the durations
in results.jsonl), and ratios against a baseline measured in the same run:
"imaplib sessions", as many stdlib imaplib sessions (connect, LOGIN, SELECT,
LOGOUT) against the embedded server as there are cases — what the IMAP
exchange itself costs, without any checking.

Usage: python benchmarks/imap_walltime.py [--repeat 3] [--peers embedded,dovecot,cyrus]
"""

from __future__ import annotations

import argparse
import imaplib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_suite(peer: str) -> tuple[float, list[float], int]:
    """(wall seconds, per-case durations, exit code) of one run of the IMAP scenarios against ``peer``."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "pytest", "scenarios/imap", "-q", "-p", "no:cacheprovider", "--report-dir", d]
        if peer != "embedded":
            cmd += ["--peer", peer]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        elapsed = time.perf_counter() - t0
        results = Path(d) / "results.jsonl"
        durations = (
            [float(json.loads(line).get("duration_s", 0.0)) for line in results.read_text().splitlines()]
            if results.exists()
            else []
        )
        return elapsed, durations, proc.returncode


def imaplib_sessions(n: int) -> float:
    sys.path.insert(0, str(ROOT))
    from conformance.peers.embedded import EmbeddedPeer

    peer = EmbeddedPeer(mirror=False)
    target = next(t for t in peer.start() if t.protocol == "imap" and t.implicit_tls)
    user = target.accounts[0]
    import ssl

    ctx = ssl.create_default_context(cafile=target.cafile)
    ctx.check_hostname = False
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            with imaplib.IMAP4_SSL(target.host, target.port, ssl_context=ctx, timeout=10) as c:
                c.login(user.user, user.password)
                c.select("INBOX")
                c.logout()
        return time.perf_counter() - t0
    finally:
        peer.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peers", default="embedded,dovecot")
    ns = ap.parse_args()
    peers = [p for p in ns.peers.split(",") if p]
    walls: dict[str, list[float]] = {p: [] for p in peers}
    per_case: dict[str, list[float]] = {p: [] for p in peers}
    cases: dict[str, int] = {}
    for _ in range(ns.repeat):
        for p in peers:
            wall, durations, code = run_suite(p)
            if code not in (0, 1) or not durations:
                print(f"{p}: the run failed (exit {code}); left out")
                continue
            walls[p].append(wall)
            per_case[p] += durations
            cases[p] = len(durations)
    n = max(cases.values(), default=0)
    base = statistics.median(imaplib_sessions(n) for _ in range(ns.repeat)) if n else 0.0
    print(f"IMAP scenarios, {ns.repeat} repeats, medians (this machine)")
    print(f"baseline: {n} imaplib sessions (IMAPS, LOGIN, SELECT, LOGOUT) against the embedded server: {base:.2f} s")
    ref = statistics.median(walls["embedded"]) if walls.get("embedded") else None
    for p in peers:
        if not walls[p]:
            continue
        wall = statistics.median(walls[p])
        pc = statistics.median(per_case[p]) * 1000
        line = f"{p:<10} {cases[p]:>4} cases  {wall:6.1f} s  median {pc:5.1f} ms/case  {wall / base:5.1f}x baseline"
        if ref and p != "embedded":
            line += f"  {wall / ref:4.2f}x embedded"
        print(line)


if __name__ == "__main__":
    main()

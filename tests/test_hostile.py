"""A hostile target never hangs the suite: every case ends in time with ERROR/TIMEOUT/FAIL and the report is complete."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import HostileServer

ROOT = Path(__file__).resolve().parent.parent
CASE_TIMEOUT = 0.3


def run_suite(
    url: str, report: Path, *extra: str, limit: float = 300
) -> tuple[subprocess.CompletedProcess[str], float]:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "scenarios"),
        "--target",
        url,
        f"--case-timeout={CASE_TIMEOUT}",
        "--report-dir",
        str(report),
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
        *extra,
    ]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, cwd=ROOT)
    return proc, time.monotonic() - t0


def collected(url: str, *extra: str) -> int:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "scenarios"),
            "--target",
            url,
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    ).stdout
    return sum(1 for line in out.splitlines() if "::" in line)


@pytest.fixture
def hostile(request: pytest.FixtureRequest) -> Iterator[HostileServer]:
    server = HostileServer(request.param)
    yield server
    server.close()


@pytest.mark.parametrize(
    "hostile", ["silent", "garbage", "endless-line", "reset-mid-reply", "greet-then-silent"], indirect=True
)
def test_whole_suite_against_hostile_target(hostile: HostileServer, tmp_path: Path) -> None:
    expected = collected(hostile.url)
    assert expected > 0
    proc, _elapsed = run_suite(hostile.url, tmp_path)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == expected  # every case has its verdict in the report
    verdicts = Counter(json.loads(line)["verdict"] for line in lines)
    allowed = {"ERROR", "TIMEOUT", "FAIL", "UNSUPPORTED"}
    if hostile.mode == "greet-then-silent":
        allowed.add("PASS")  # its greeting is fine: cases that only judge the greeting may pass
    assert set(verdicts) <= allowed, verdicts
    sample = [(o["verdict"], o["message"][:120]) for o in map(json.loads, lines[:3])]
    assert verdicts["ERROR"] + verdicts["TIMEOUT"] + verdicts["FAIL"] > 0, (verdicts, sample)
    assert (tmp_path / "junit.xml").exists() and (tmp_path / "run.json").exists()
    # No case waits longer than its bounded reads allow.
    durations = [json.loads(line)["duration_s"] for line in lines]
    assert max(durations) < 30 * CASE_TIMEOUT + 5, max(durations)


@pytest.mark.parametrize("hostile", ["drip"], indirect=True)
def test_drip_feeding_target_times_out(hostile: HostileServer, tmp_path: Path) -> None:
    # A byte every 0.1 s never stalls a read, only the per-reply deadline stops it.
    proc, _ = run_suite(hostile.url, tmp_path, "-k", "greeting or quit or noop")
    assert proc.returncode == 1, proc.stdout[-2000:]
    verdicts = Counter(json.loads(line)["verdict"] for line in (tmp_path / "results.jsonl").read_text().splitlines())
    assert verdicts and set(verdicts) <= {"TIMEOUT", "UNSUPPORTED"}, verdicts

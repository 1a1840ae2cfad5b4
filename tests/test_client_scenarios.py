"""The client scenarios against real clients: every non-PASS verdict is explained in docs/clients/<name>.md.

Runs ``pytest scenarios/clients --client NAME --known-failures fixtures/clients/NAME/known-failures.txt -n 2``
for each client (ci/install-clients installs the Debian ones, the dev extra the PyPI ones) and requires
exit status 0 (every FAIL is a known failure), results with direction "client" that name the client and
its version, and every requirement id that is not PASS mentioned in the client's document (with the RFC
text and whether it is a real finding or ours).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.agents import catalog
from tests.conftest import ROOT
from tests.peer_helpers import judge_run

CLIENTS = [
    "curl", "msmtp", "fetchmail", "getmail6", "smtplib", "poplib", "aiosmtplib", "mbsync", "imaplib", "imapclient",
    "jmapc",
]  # fmt: skip
RUN_TIMEOUT = 240


@pytest.mark.realpeer
@pytest.mark.slow
@pytest.mark.parametrize("name", CLIENTS)
def test_client_scenarios(name: str, tmp_path: Path) -> None:
    agent = catalog.get(name)
    if why := catalog.available(agent):
        pytest.skip(why)
    known = ROOT / "fixtures" / "clients" / name / "known-failures.txt"
    doc = ROOT / "docs" / "clients" / f"{name}.md"

    def run(paths: list[str], report: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", *paths, "--client", name, "--known-failures", str(known),
             "--report-dir", str(report), "-p", "no:cacheprovider", "-q", "-n", "2"],
            capture_output=True, text=True, cwd=ROOT, timeout=RUN_TIMEOUT,
        )  # fmt: skip

    proc, results, problems = judge_run(run, ROOT / "scenarios" / "clients", tmp_path, [doc], lambda r: True)
    assert proc.returncode in (0, 1) and results, proc.stdout[-5000:] + proc.stderr[-2000:]
    version = catalog.version(agent)
    assert version, f"no version for {name}"
    assert all(r["direction"] == "client" and r["agent"] == f"{name} {version}" for r in results)
    assert {r["protocol"] for r in results} <= set(agent.protocols)
    assert not problems, f"{name}: unknown failures or verdicts not explained in docs/clients/{name}.md: {problems}"
    judged = [r for r in results if r["verdict"] in ("PASS", "FAIL", "WARN")]
    passed = sum(r["verdict"] == "PASS" for r in judged)
    assert passed > len(judged) // 2, f"only {passed} of {len(judged)} judged cases PASS for {name}"


def test_selftest_covers_the_client_direction(tmp_path: Path) -> None:
    """Every client case: the clean "mailspec" agent PASSes, the agent with the case's client defect FAILs."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "scenarios" / "clients"), "--selftest",
         "--report-dir", str(tmp_path), "-p", "no:cacheprovider", "-q", "-n", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("selftest:")]
    assert line and line[-1].endswith(" 0 missed"), proc.stdout[-4000:]
    assert proc.returncode == 0
    results = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert results and all(r["direction"] == "client" and r["agent"].startswith("mailspec ") for r in results)

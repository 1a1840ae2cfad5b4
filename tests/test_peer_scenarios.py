"""The scenarios against each real peer: every non-PASS verdict is explained in docs/peers/<peer>*.md.

Runs ``pytest scenarios --peer NAME --known-failures fixtures/peers/NAME/known-failures.txt -n 2``
and requires exit status 0 (every FAIL is a known failure), results that name
the implementation, and every requirement id that is not PASS mentioned in the
peer's document (with the RFC text and whether it is a real finding or ours).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.peers.catalog import CATALOG
from conformance.target import FAMILY
from tests.conftest import ROOT
from tests.peer_helpers import judge_run, missing

PEERS = ["postfix", "exim", "aiosmtpd", "dovecot", "cyrus", "postfix-dovecot"]
NO_TESTS = 5  # pytest's exit status when nothing was collected
RUN_TIMEOUT = 300


@pytest.mark.realpeer
@pytest.mark.slow
@pytest.mark.parametrize("name", PEERS)
def test_scenarios_against_peer(name: str, tmp_path: Path) -> None:
    if why := missing(name):
        pytest.skip(why)
    known = ROOT / "fixtures" / "peers" / name / "known-failures.txt"
    doc = ROOT / "docs" / "peers" / f"{name}.md"
    families = {FAMILY[p] for p in CATALOG[name].protocols}
    # docs/peers/<peer>.md, and docs/peers/<peer>-<area>.md per protocol area (dovecot-imap-mailbox.md...);
    # a stack (postfix-dovecot) is also explained by its components' documents.
    parts = [name, *(p for p in name.split("-") if p in CATALOG and p != name)]
    docs = [d for p in parts for d in [doc.parent / f"{p}.md", *sorted(doc.parent.glob(f"{p}-*.md"))]]

    def run(paths: list[str], report: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", *paths, "--peer", name, "--known-failures", str(known),
             "--report-dir", str(report), "-p", "no:cacheprovider", "-q", "-n", "2"],
            capture_output=True, text=True, cwd=ROOT, timeout=RUN_TIMEOUT,
        )  # fmt: skip

    # Cases for protocols the peer does not serve are recorded as UNSUPPORTED with no
    # target ("no target of this protocol in this run"): they say nothing about it.
    proc, ours, problems = judge_run(
        run,
        ROOT / "scenarios",
        tmp_path,
        docs,
        lambda r: bool(r["target"]) and FAMILY.get(r["protocol"], r["protocol"]) in families,
    )
    if proc.returncode == NO_TESTS or (not ours and proc.returncode == 0):
        pytest.skip(f"no scenario case exists for {name}'s protocols ({', '.join(sorted(families))}) yet")
    assert proc.returncode in (0, 1) and ours, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert all(r["implementation"].startswith(tuple(parts)) for r in ours)
    assert not problems, (
        f"against {name}, unknown failures or verdicts not explained in docs/peers/{name}*.md: {problems}"
    )
    judged = [r for r in ours if r["verdict"] in ("PASS", "FAIL", "WARN")]
    passed = sum(r["verdict"] == "PASS" for r in judged)
    assert passed > len(judged) // 2, f"only {passed} of {len(judged)} judged cases PASS against {name}"

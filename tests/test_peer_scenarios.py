"""The scenarios against each real peer: every non-PASS verdict is explained in docs/peers/<peer>*.md.

Runs ``pytest scenarios --peer NAME --known-failures fixtures/peers/NAME/known-failures.txt -n 2``
and requires exit status 0 (every FAIL is a known failure), results that name
the implementation, and every requirement id that is not PASS mentioned in the
peer's document (with the RFC text and whether it is a real finding or ours).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.peers.catalog import CATALOG
from conformance.target import FAMILY
from tests.conftest import ROOT
from tests.peer_helpers import missing

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
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "scenarios"), "--peer", name, "--known-failures", str(known),
         "--report-dir", str(tmp_path), "-p", "no:cacheprovider", "-q", "-n", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    families = {FAMILY[p] for p in CATALOG[name].protocols}
    if proc.returncode == NO_TESTS:
        pytest.skip(f"no scenario case exists for {name}'s protocols ({', '.join(sorted(families))}) yet")
    results_file = tmp_path / "results.jsonl"
    results = [json.loads(line) for line in results_file.read_text().splitlines()] if results_file.exists() else []
    # Cases for protocols the peer does not serve are recorded as UNSUPPORTED with no
    # target ("no target of this protocol in this run"): they say nothing about it.
    ours = [r for r in results if r["target"] and FAMILY.get(r["protocol"], r["protocol"]) in families]
    if not ours and proc.returncode == 0:
        pytest.skip(f"no scenario case exists for {name}'s protocols ({', '.join(sorted(families))}) yet")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert ours and all(r["implementation"].startswith(name) for r in ours)
    # docs/peers/<peer>.md, and docs/peers/<peer>-<area>.md per protocol area (dovecot-imap-mailbox.md...);
    # a stack (postfix-dovecot) is also explained by its components' documents.
    parts = [name, *(p for p in name.split("-") if p in CATALOG and p != name)]
    docs = [d for p in parts for d in [doc.parent / f"{p}.md", *sorted(doc.parent.glob(f"{p}-*.md"))] if d.exists()]
    explained = {i for d in docs for i in re.findall(r"`([a-z0-9.\-]+)`", d.read_text())}
    unexplained = sorted(
        {
            f"{r['verdict']} {r['requirements'][0]}"
            for r in ours
            if r["verdict"] != "PASS" and r["requirements"][0] not in explained
        }
    )
    assert not unexplained, f"non-PASS verdicts against {name} not explained in docs/peers/{name}*.md: {unexplained}"
    judged = [r for r in ours if r["verdict"] in ("PASS", "FAIL", "WARN")]
    passed = sum(r["verdict"] == "PASS" for r in judged)
    assert passed > len(judged) // 2, f"only {passed} of {len(judged)} judged cases PASS against {name}"

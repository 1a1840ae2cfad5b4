"""The SMTP scenarios against a real Postfix: every non-PASS verdict is explained in docs/peers/postfix.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

KNOWN = ROOT / "fixtures" / "peers" / "postfix" / "known-failures.txt"
DOC = ROOT / "docs" / "peers" / "postfix.md"


@pytest.mark.skipif(shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin") is None, reason="postfix is not installed (make test installs it: ci/install-peers)")
def test_scenarios_against_postfix(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "scenarios"), "--peer", "postfix", "--known-failures", str(KNOWN),
         "--report-dir", str(tmp_path), "-p", "no:cacheprovider", "-q", "-n", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert results and all(r["implementation"].startswith("postfix") for r in results)
    assert proc.returncode == 0, proc.stdout[-5000:]
    explained = set(re.findall(r"`([a-z0-9.\-]+)`", DOC.read_text()))
    unexplained = sorted({f"{r['verdict']} {req}" for r in results if r["verdict"] != "PASS" for req in r["requirements"][:1] if req not in explained})
    assert not unexplained, f"non-PASS verdicts against Postfix not explained in {DOC.name}: {unexplained}"
    passed = sum(r["verdict"] == "PASS" for r in results)
    assert passed > len(results) // 2

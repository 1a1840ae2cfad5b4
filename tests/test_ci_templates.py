"""ci/templates: run-conformance.sh against the embedded peer, and the two CI templates that call it.

The script runs as a server implementer's CI would run it: a server already
listening on loopback (here the embedded peer, started by the test), the
`mailspec` command on PATH, the target in MAILSPEC_TARGET. Its exit code must
follow the verdicts (0 clean, 1 a FAIL, 0 again once that FAIL is a known
failure, 2 when nothing listens), and junit.xml and report.html must be there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from conformance.peers.catalog import make_peer
from conformance.peers.embedded import ACCOUNTS
from tests.conftest import ROOT

TEMPLATES = ROOT / "ci" / "templates"
SCRIPT = TEMPLATES / "run-conformance.sh"
SCHEMA = ROOT / "tests" / "data" / "junit.xsd"
KEYWORD = "test_session_capability"


def imap_url(peer: Any) -> str:
    t = next(t for t in peer.start() if t.protocol == "imap" and not t.implicit_tls)
    return f"imap://127.0.0.1:{t.port}"


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `mailspec` command on PATH that is this checkout (as `pip install` would give)."""
    d = tmp_path_factory.mktemp("bin")
    exe = d / "mailspec"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m conformance.cli "$@"\n')
    exe.chmod(0o755)
    return d


@pytest.fixture(scope="module")
def clean_url() -> Iterator[str]:
    peer = make_peer("embedded")
    try:
        yield imap_url(peer)
    finally:
        peer.stop()


@pytest.fixture(scope="module")
def defect_url() -> Iterator[str]:
    peer = make_peer("embedded", behaviours=("imap.capability-split",))
    try:
        yield imap_url(peer)
    finally:
        peer.stop()


def run_script(cwd: Path, shim: Path | None, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{shim}:/usr/bin:/bin" if shim else "/usr/bin:/bin"
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAILSPEC_")}
    full = {
        **base,
        "PATH": path,
        "MAILSPEC_USER": ACCOUNTS[0].user,
        "MAILSPEC_PASSWORD": ACCOUNTS[0].password,
        "MAILSPEC_ARGS": f"-k {KEYWORD}",
        **env,
    }
    return subprocess.run(["bash", str(SCRIPT)], cwd=cwd, env=full, capture_output=True, text=True, timeout=300)


def outputs(d: Path) -> tuple[str, str]:
    junit, report = d / "junit.xml", d / "report.html"
    assert junit.exists() and report.exists(), sorted(p.name for p in d.iterdir()) if d.exists() else "no report dir"
    xmlschema.XMLSchema(str(SCHEMA)).validate(str(junit))
    return junit.read_text(encoding="utf-8"), report.read_text(encoding="utf-8")


def test_clean_server_exits_0_with_junit_and_report(tmp_path: Path, shim: Path, clean_url: str) -> None:
    proc = run_script(tmp_path, shim, MAILSPEC_TARGET=clean_url)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    junit, report = outputs(tmp_path / "mailspec-report")
    assert 'classname="imap.rfc' in junit and "<failure" not in junit
    assert "mailspec report" in report and 'data-verdict="PASS"' in report
    assert "run-conformance: mailspec-report/junit.xml" in proc.stdout
    assert ACCOUNTS[0].password not in proc.stderr and "<password>" in proc.stderr


def test_failing_server_exits_1_and_known_failures_make_it_0(tmp_path: Path, shim: Path, defect_url: str) -> None:
    proc = run_script(tmp_path, shim, MAILSPEC_TARGET=defect_url, MAILSPEC_REPORT_DIR="first")
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    junit, report = outputs(tmp_path / "first")
    assert "<failure" in junit and 'data-verdict="FAIL"' in report
    failing = sorted(
        {
            json.loads(line)["requirements"][0]
            for line in (tmp_path / "first" / "results.jsonl").read_text().splitlines()
            if json.loads(line)["verdict"] == "FAIL"
        }
    )
    assert failing
    # known-failures.txt in the working directory is picked up without MAILSPEC_KNOWN_FAILURES.
    (tmp_path / "known-failures.txt").write_text(
        "".join(f"{r} splits CAPABILITY (tracked upstream)\n" for r in failing)
    )
    again = run_script(tmp_path, shim, MAILSPEC_TARGET=defect_url, MAILSPEC_REPORT_DIR="second")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    junit, report = outputs(tmp_path / "second")
    assert "known failure" in junit and "<failure" not in junit and "FAIL (known)" in report
    assert "--known-failures known-failures.txt" in again.stderr


def test_nothing_listening_exits_2(tmp_path: Path, shim: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    proc = run_script(tmp_path, shim, MAILSPEC_TARGET=f"imap://127.0.0.1:{port}", MAILSPEC_WAIT="1")
    assert proc.returncode == 2 and f"nothing listens on 127.0.0.1:{port}" in proc.stderr
    assert not (tmp_path / "mailspec-report").exists()


def test_missing_mailspec_without_pip_spec_exits_2(tmp_path: Path) -> None:
    if shutil.which("mailspec", path="/usr/bin:/bin"):
        pytest.skip("a mailspec command is installed system-wide")
    proc = run_script(tmp_path, None, MAILSPEC_TARGET="imap://127.0.0.1:1143")
    assert proc.returncode == 2 and "MAILSPEC_PIP_SPEC is not set" in proc.stderr


def test_script_is_valid_bash() -> None:
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    if shutil.which("shellcheck"):
        proc = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


# --- the YAML templates -------------------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any] | None:
    """The parsed template with PyYAML when it is installed; None otherwise."""
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def structural_check(text: str) -> None:
    """Without PyYAML: no tabs, consistent indentation, balanced quotes, keys as `key:`."""
    assert "\t" not in text
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"line {n}: odd indentation"
        body = line.strip()
        assert body.count('"') % 2 == 0, f"line {n}: unbalanced quotes"
        assert body.startswith(("- ", "|")) or re.match(r"^[A-Za-z0-9_.\-]+:( |$)", body) or indent > 0, f"line {n}"


def test_github_actions_template() -> None:
    path = TEMPLATES / "github-actions.yml"
    text = path.read_text()
    data = load_yaml(path)
    if data is None:
        structural_check(text)
        assert re.search(r"^jobs:\n  conformance:\n", text, re.M) and "runs-on:" in text
    else:
        job = data["jobs"]["conformance"]
        steps = job["steps"]
        runs = [s.get("run", "") for s in steps]
        assert any("run-conformance.sh" in r for r in runs)
        upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
        assert upload["if"] == "always()" and "junit.xml" in upload["with"]["path"]
        assert "report.html" in upload["with"]["path"]
        assert job["env"]["MAILSPEC_TARGET"].startswith("imap://127.0.0.1:")
    assert "bash ci/run-conformance.sh" in text and "placeholder" in text
    assert "MAILSPEC_KNOWN_FAILURES: known-failures.txt" in text
    assert "mailspec-report/junit.xml" in text and "mailspec-report/report.html" in text


def test_gitlab_template() -> None:
    path = TEMPLATES / "gitlab-ci.yml"
    text = path.read_text()
    data = load_yaml(path)
    if data is None:
        structural_check(text)
        assert re.search(r"^mailspec-conformance:\n", text, re.M)
        assert re.search(r"^    reports:\n      junit: mailspec-report/junit.xml$", text, re.M)
    else:
        job = data["mailspec-conformance"]
        assert any("run-conformance.sh" in line for line in job["script"])
        assert job["artifacts"]["when"] == "always"
        assert job["artifacts"]["reports"]["junit"] == "mailspec-report/junit.xml"
        assert "mailspec-report/report.html" in job["artifacts"]["paths"]
        assert job["variables"]["MAILSPEC_TARGET"].startswith("imap://127.0.0.1:")
    assert "bash ci/run-conformance.sh" in text and "placeholder" in text

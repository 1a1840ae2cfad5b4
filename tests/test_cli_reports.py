"""`mailspec run` end to end on the embedded peer, its reports, and its one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import xmlschema

from conformance.report.results import read_results
from conformance.requirements import catalog
from tests.conftest import MAILSPEC, ROOT, mailspec
from tests.hostile import HostileServer

REQUIRED_FIELDS = {
    "case",
    "requirements",
    "protocol",
    "direction",
    "level",
    "verdict",
    "target",
    "implementation",
    "duration_s",
    "message",
}


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    cwd = tmp_path_factory.mktemp("run")
    proc = mailspec("run", cwd=cwd)
    return proc, cwd


def test_run_on_embedded_peer_passes_and_shows_progress(
    embedded_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, _ = embedded_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    progress = [ln for ln in proc.stderr.splitlines() if ln.startswith("[")]
    assert progress and "/" in progress[-1]
    done, total = progress[-1][1:].split("]")[0].split("/")
    assert int(done) == int(total) > 100
    assert "PASS" in proc.stdout and "report: reports/" in proc.stdout


def test_reports_are_complete_and_valid(embedded_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, cwd = embedded_run
    latest = cwd / "reports" / "latest"
    assert latest.is_symlink() and latest.resolve().parent == (cwd / "reports").resolve()
    lines = (latest / "results.jsonl").read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    assert objs and all(o.keys() >= REQUIRED_FIELDS for o in objs)
    assert all(o["direction"] == "server" and o["verdict"] in ("PASS", "UNSUPPORTED") for o in objs)
    assert all(o["implementation"] == "mailspec-embedded" for o in objs)
    assert all(set(o["requirements"]) <= catalog().keys() for o in objs)
    run = json.loads((latest / "run.json").read_text())
    assert {"version", "command", "start", "end", "targets"} <= run.keys() and run["targets"]
    schema = xmlschema.XMLSchema(str(ROOT / "tests" / "data" / "junit.xsd"))
    schema.validate(str(latest / "junit.xml"))
    junit = (latest / "junit.xml").read_text()
    assert 'classname="smtp.rfc5321.' in junit and f'tests="{len(objs)}"' in junit
    assert "PASS" in (latest / "summary.md").read_text()


def test_passwords_never_reach_reports(tmp_path: Path) -> None:
    from conformance.peers.embedded import ACCOUNTS

    proc = mailspec("run", "--report-dir", str(tmp_path), "-k", "auth", timeout=300)
    assert proc.returncode in (0, 1)
    text = "".join(p.read_text(errors="replace") for p in tmp_path.iterdir() if p.is_file())
    assert "AUTH" in text  # the AUTH cases ran and their transcripts are there
    import base64

    for acct in ACCOUNTS:
        assert acct.password not in text
        assert base64.b64encode(f"\0{acct.user}\0{acct.password}".encode()).decode() not in text
        assert base64.b64encode(acct.password.encode()).decode() not in text


def test_junit_is_valid_with_failures_and_hostile_bytes(tmp_path: Path) -> None:
    server = HostileServer("garbage")
    try:
        proc = mailspec("run", "--target", server.url, "--report-dir", str(tmp_path), "--timeout", "0.3", "-n", "2")
    finally:
        server.close()
    assert proc.returncode == 1
    xmlschema.XMLSchema(str(ROOT / "tests" / "data" / "junit.xsd")).validate(str(tmp_path / "junit.xml"))
    assert all(r.verdict in ("ERROR", "UNSUPPORTED") for r in read_results(tmp_path / "results.jsonl"))


def test_killed_run_keeps_finished_results(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [*MAILSPEC, "run", "--report-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results = tmp_path / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not results.exists() or len(results.read_text().splitlines()) < 5):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    lines = results.read_text().splitlines()
    assert len(lines) >= 5
    assert all(json.loads(line)["verdict"] for line in lines if line)  # every finished case is a whole JSON object


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "--target", "gopher://example"], "unknown scheme"),
        (["run", "--target", "smtp://127.0.0.1:1"], "cannot connect to 127.0.0.1:1"),
        (["run", "--target", "127.0.0.1:1"], "cannot connect"),
        (["run", "--target", "127.0.0.1:notaport"], "not a number"),
        (["run", "--peer", "nonesuch"], "unknown peer"),
        (["run", "--known-failures", "/nonexistent/known.txt"], "known-failures"),
        (["report", "/nonexistent"], "no results.jsonl"),
    ],
)
def test_usage_and_connection_errors_are_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    proc = mailspec(*args, timeout=120, cwd=tmp_path)
    assert not (tmp_path / "reports").exists()  # nothing is written for a run that never started
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and err[0].startswith("mailspec: error:"), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_garbage_speaker_on_bare_hostport_is_one_line() -> None:
    server = HostileServer("garbage")
    try:
        proc = mailspec("run", "--target", f"127.0.0.1:{server.port}", timeout=60)
    finally:
        server.close()
    assert proc.returncode == 2 and "not SMTP, POP3, IMAP or HTTP" in proc.stderr and "Traceback" not in proc.stderr


def test_peers_list_names_backends() -> None:
    proc = mailspec("peers", "list")
    assert proc.returncode == 0
    assert "embedded" in proc.stdout and "postfix" in proc.stdout and "local:" in proc.stdout


def test_report_command_prints_summary(embedded_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, cwd = embedded_run
    proc = mailspec("report", cwd=cwd)
    assert proc.returncode == 0 and "PASS" in proc.stdout

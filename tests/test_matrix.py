"""`mailspec matrix`: joining runs (--from, fast), running peers in parallel, and matrix.html in Chromium."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from conformance import cli
from conformance.report import matrix as mx
from conformance.report.html import write_html
from conformance.report.results import CaseResult
from tests.conftest import mailspec
from tests.test_report_html import (
    RUN,
    browser,  # noqa: F401  (the fixture)
    click_filter,
    console_errors,
    hostile_results,
    load,
    screenshot,
    visible_rows,
)


def write_run(d: Path, results: list[CaseResult], run: dict[str, Any]) -> Path:
    d.mkdir(parents=True)
    # ensure_ascii: the lone surrogate of the hostile bytes survives as \\ud800, as JSON allows.
    (d / "results.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in results), encoding="utf-8")
    (d / "run.json").write_text(json.dumps(run), encoding="utf-8")
    write_html(results, d / "report.html", run)
    return d


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A real run on the embedded peer and a made-up one with every verdict and hostile bytes."""
    base = tmp_path_factory.mktemp("matrix-runs")
    real = base / "embedded"
    proc = mailspec("run", "--report-dir", str(real), "-k", "rfc1939_session or rfc5321_ehlo", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    hostile = write_run(base / "hostile", hostile_results(), RUN)
    return [real, hostile]


@pytest.fixture(scope="module")
def joined(runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("matrix-out") / "m"
    proc = mailspec("matrix", "--from", *map(str, runs), "--report-dir", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


def test_from_writes_json_html_md(joined: Path, runs: list[Path]) -> None:
    data = json.loads((joined / "matrix.json").read_text())
    labels = [c["label"] for c in data["columns"]]
    assert labels[0].startswith("mailspec-embedded@") and labels[1] == "hostile@6.6.6"
    assert data["command"].startswith("mailspec matrix --from ") and str(runs[1]) in data["command"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", data["generated"])
    assert data["columns"][0]["command"] and data["unavailable"] == []
    rows = data["rows"]
    keys = [(r["protocol"], int(r["rfc"])) for r in rows]
    assert keys == sorted(keys), "rows are grouped by protocol, then RFC"
    hostile_ids = {r.requirements[0] for r in hostile_results()}
    for row in rows:
        assert row["text"] and row["level"]
        for label, cell in row["cells"].items():
            assert cell["verdict"] in ("PASS", "FAIL", "WARN", "INFO", "UNSUPPORTED", "ERROR", "TIMEOUT")
            page, _, anchor = cell["href"].partition("#")
            html = (joined / page).resolve().read_text(encoding="utf-8")
            assert f'id="{anchor}"' in html, f"{label}: {cell['href']} has no anchor"
        if row["requirement"] in hostile_ids:
            assert "hostile@6.6.6" in row["cells"]
    fails = [r for r in rows if r["cells"].get("hostile@6.6.6", {}).get("verdict") == "FAIL"]
    assert len(fails) == 2 and any(r["cells"]["hostile@6.6.6"]["known_failure"] for r in fails)
    md = (joined / "matrix.md").read_text()
    assert "| requirement | mailspec-embedded@" in md and "| **SMTP · RFC 5321** |" in md
    assert re.search(r"\[FAIL\]\([^)]*report\.html#req-smtp\.[^)]*\)\[\^\d+\]", md)
    assert re.search(r"^\[\^1\]: hostile@6\.6\.6, ", md, re.M)
    html = (joined / "matrix.html").read_text()
    assert html.count("<script") == 1 and "<img src=x" not in html


def test_same_implementation_twice_gets_two_columns(runs: list[Path], tmp_path: Path) -> None:
    m = mx.build_matrix([runs[1], runs[1]], tmp_path, command="x")
    assert [c.label for c in m.columns] == ["hostile@6.6.6", f"hostile@6.6.6 ({runs[1].name})"]


def test_bundle_stands_alone(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "published"
    proc = mailspec(
        "matrix", "--from", *map(str, runs), "--report-dir", str(out), "--bundle", "--transcript-cap", "300"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "matrix.json").read_text())
    for col in data["columns"]:
        page = (out / col["report"]).resolve()
        assert page.is_relative_to(out.resolve()) and page.exists(), col["report"]
        assert "Transcripts are capped at 300 characters" in page.read_text(encoding="utf-8")
        assert (page.parent / "run.json").exists()
    assert not list(out.rglob("results.jsonl"))


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    for args, fragment in (
        (["matrix", "--from", str(tmp_path / "nope")], "no results.jsonl"),
        (["matrix", "--peers", "nonesuch"], "unknown peer nonesuch"),
    ):
        proc = mailspec(*args, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2 and proc.stderr.startswith("mailspec: error:") and fragment in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_run_mode_runs_peers_and_lists_the_ones_that_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = mx.peer_unavailable
    monkeypatch.setattr(
        mx, "peer_unavailable", lambda name, backend=None: "missing postfix (test)" if name == "postfix" else real(name)
    )
    out = tmp_path / "m"
    code = cli.main(["matrix", "--peers", "embedded,postfix", "--report-dir", str(out), "-k", "rfc5321_ehlo"])
    assert code == 0, capsys.readouterr()
    data = json.loads((out / "matrix.json").read_text())
    assert [c["peer"] for c in data["columns"]] == ["embedded"]
    assert data["unavailable"] == [{"peer": "postfix", "reason": "missing postfix (test)"}]
    col = data["columns"][0]
    assert (
        col["command"] == f"mailspec run --peer embedded --report-dir {out / 'runs' / 'embedded'} -n 1 -k rfc5321_ehlo"
    )
    assert col["duration_s"] > 0 and data["wall_s"] >= col["duration_s"] * 0.9
    assert data["command"] == f"mailspec matrix --peers embedded,postfix --report-dir {out} -n 1 -k rfc5321_ehlo"
    assert (out / "runs" / "embedded" / "report.html").exists()
    for name in ("matrix.md", "matrix.html"):
        text = (out / name).read_text()
        assert "postfix" in text and "missing postfix (test)" in text


def test_parallelism_follows_the_cores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import threading
    import time

    running, peak = [0], [0]
    lock = threading.Lock()

    def fake_run(argv: list[str], **kw: Any) -> Any:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        d = Path(argv[argv.index("--report-dir") + 1])
        d.mkdir(parents=True)
        (d / "results.jsonl").write_text("")
        return type("P", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(mx.subprocess, "run", fake_run)
    monkeypatch.setattr(mx, "peer_unavailable", lambda name, backend=None: "")
    monkeypatch.setattr(mx, "cores", lambda: 2)
    runs, _ = mx.run_matrix(["embedded", "postfix", "exim", "aiosmtpd", "dovecot"], tmp_path)
    assert peak[0] == 2 and all(not r.reason for r in runs)
    assert all("-n 1" in r.command for r in runs)


def test_matrix_in_chromium(browser: Any, joined: Path, tmp_path: Path) -> None:  # noqa: F811
    logs = load(browser, joined / "matrix.html")
    data = json.loads((joined / "matrix.json").read_text())
    rows = visible_rows(browser, "table.matrix tbody tr:not(.grp)")
    assert len(rows) == len(data["rows"])
    headers = [th.text for th in browser.find_elements("css selector", "table.matrix thead th")]
    assert headers[1].startswith("mailspec-embedded@") and headers[2] == "hostile@6.6.6"
    click_filter(browser, "verdict", "FAIL")
    rows = visible_rows(browser, "table.matrix tbody tr:not(.grp)")
    assert len(rows) == 2 and all("FAIL" in r.get_attribute("data-verdicts").split() for r in rows)
    groups = visible_rows(browser, "table.matrix tbody tr.grp")
    assert groups and "SMTP" in [g.text.strip() for g in groups] and all("POP3" not in g.text for g in groups)
    screenshot(browser, tmp_path, "matrix-html.png")
    assert console_errors(browser, logs) == []
    # A cell leads to the requirement in that run's report, its transcripts open.
    link = rows[0].find_element("css selector", "td:nth-child(3) a")
    req = link.get_attribute("href").rsplit("#", 1)[1]
    link.click()
    assert browser.current_url.endswith(f"report.html#{req}")
    section = browser.find_element("id", req)
    assert section.is_displayed() and section.find_elements("css selector", "details[open]")
    assert console_errors(browser) == []

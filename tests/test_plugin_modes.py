"""Plugin behaviour: xdist with one shared peer, --strict, known failures, --defect."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import requirements
from tests.conftest import ROOT


def pytest_run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "scenarios"), "-p", "no:cacheprovider", "-q", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


def results(d: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (d / "results.jsonl").read_text().splitlines()]


def test_xdist_workers_share_one_peer(tmp_path: Path) -> None:
    proc = pytest_run("-n", "2", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    rs = results(tmp_path)
    # Both workers used the controller's peer: one target per protocol (smtp, submission, lmtp...).
    assert len({r["target"] for r in rs}) == len({r["protocol"] for r in rs})
    assert len(rs) > 100


def _a_case(strength: str) -> tuple[str, str]:
    """A (test node name, defect) of a scenario whose first requirement has this strength."""
    from tests.test_selftest_catalog import scenario_cases

    for name, reqs, defect in scenario_cases():
        if defect.split(".")[0].endswith("-client"):
            continue  # a client case: --defect seeds server defects, --selftest client ones
        if requirements.get(reqs[0]).strength == strength:
            return name.split("::")[1], defect
    raise AssertionError(f"no {strength} scenario")


def test_warn_fails_only_with_strict(tmp_path: Path) -> None:
    test, defect = _a_case("should")
    plain = pytest_run("--defect", defect, "-k", test, "--report-dir", str(tmp_path / "a"))
    assert plain.returncode == 0, plain.stdout[-2000:]
    assert {r["verdict"] for r in results(tmp_path / "a")} == {"WARN"}
    strict = pytest_run("--defect", defect, "-k", test, "--strict", "--report-dir", str(tmp_path / "b"))
    assert strict.returncode == 1


def test_known_failures_are_accepted_and_fixed_ones_reported(tmp_path: Path) -> None:
    test, defect = _a_case("must")
    failing = pytest_run("--defect", defect, "-k", test, "--no-report")
    assert failing.returncode == 1
    req = next(r for r in results_of(test, defect, tmp_path))
    known = tmp_path / "known.txt"
    known.write_text(f"# accepted\n{req}  vendor will not fix\n")
    accepted = pytest_run(
        "--defect", defect, "-k", test, "--known-failures", str(known), "--report-dir", str(tmp_path / "k")
    )
    assert accepted.returncode == 0, accepted.stdout[-2000:]
    assert all(r["known_failure"] for r in results(tmp_path / "k") if r["verdict"] == "FAIL")
    clean = pytest_run("-k", test, "--known-failures", str(known), "--report-dir", str(tmp_path / "c"))
    assert clean.returncode == 0
    assert f"known failure now passes: {req}" in clean.stdout


def results_of(test: str, defect: str, tmp_path: Path) -> list[str]:
    d = tmp_path / "probe"
    pytest_run("--defect", defect, "-k", test, "--report-dir", str(d))
    return [str(r["requirements"][0]) for r in results(d) if r["verdict"] == "FAIL"]  # type: ignore[index]


def test_defect_option_makes_its_case_fail(tmp_path: Path) -> None:
    test, defect = _a_case("must")
    proc = pytest_run("--defect", defect, "-k", test, "--report-dir", str(tmp_path))
    assert proc.returncode == 1
    assert "FAIL" in {r["verdict"] for r in results(tmp_path)}


def test_external_targets_smtps_and_submission_with_credentials(tmp_path: Path) -> None:
    """The path users take: --target URLs with credentials, no mailbox probe (some cases UNSUPPORTED)."""
    from conformance.peers.embedded import ACCOUNTS, EmbeddedPeer

    peer = EmbeddedPeer()
    targets = peer.start()
    try:
        for t in targets:
            if t.protocol == "lmtp":
                continue
            d = tmp_path / f"{t.protocol}-{t.port}"
            proc = pytest_run(
                "--target",
                t.url,
                "--user",
                ACCOUNTS[0].user,
                "--password",
                ACCOUNTS[0].password,
                "--recipient",
                ACCOUNTS[1].address,
                "--report-dir",
                str(d),
                "-n",
                "2",
            )
            rs = results(d)
            verdicts = {str(r["verdict"]) for r in rs}
            assert proc.returncode == 0, (t.url, proc.stdout[-3000:])
            assert verdicts <= {"PASS", "UNSUPPORTED"} and "PASS" in verdicts, (t.url, verdicts)
            assert all(r["target"] == t.url for r in rs)
            text = (d / "results.jsonl").read_text() + (d / "junit.xml").read_text()
            assert ACCOUNTS[0].password not in text
    finally:
        peer.stop()


def test_target_config_file_and_protocol_filter(tmp_path: Path) -> None:
    """A TOML target file carries the URL, accounts and addresses; --protocol narrows the run."""
    from conformance.peers.embedded import ACCOUNTS, EmbeddedPeer

    peer = EmbeddedPeer()
    smtp_target = next(t for t in peer.start() if t.protocol == "smtp" and not t.implicit_tls)
    try:
        config = tmp_path / "target.toml"
        config.write_text(
            f'[target]\nurl = "{smtp_target.url}"\nrecipient = "{ACCOUNTS[1].address}"\n'
            f'unknown_recipient = "no-such-user@mailspec.test"\n\n'
            f'[[account]]\nuser = "{ACCOUNTS[0].user}"\npassword = "{ACCOUNTS[0].password}"\n'
        )
        proc = pytest_run(
            "--target-config",
            str(config),
            "--protocol",
            "smtp",
            "-k",
            "rcpt or auth",
            "--report-dir",
            str(tmp_path / "r"),
        )
        rs = results(tmp_path / "r")
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert rs and all(r["target"] == smtp_target.url and r["protocol"] == "smtp" for r in rs)
        verdicts = {str(r["verdict"]) for r in rs}
        assert "PASS" in verdicts
        # the unknown recipient from the file is used: the RCPT-refusal cases ran rather than UNSUPPORTED
        assert any(r["verdict"] == "PASS" and "rcpt-unknown" in str(r["requirements"]) for r in rs)
        bad = pytest_run("--target-config", str(tmp_path / "missing.toml"), "--no-report")
        assert bad.returncode == 4 and "cannot read --target-config" in bad.stderr
    finally:
        peer.stop()


def test_markers_select_by_protocol_rfc_and_level() -> None:
    def collected(expr: str) -> list[str]:
        out = pytest_run("--collect-only", "-m", expr).stdout
        return [line for line in out.splitlines() if "::" in line]

    starttls = collected("rfc3207")
    assert starttls and all("test_rfc3207_" in n for n in starttls)
    should = collected("smtp and should")
    must = collected("smtp and must")
    assert should and must and not set(should) & set(must)


def test_known_failures_include_other_files(tmp_path: Path) -> None:
    """A stack's file lists its components' files: ``include`` (relative path) merges them; a loop is an error."""
    from conformance.report.results import read_known_failures

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "known-failures.txt").write_text("smtp.rfc5321.2.3.8.crlf-only  bare LF\n")
    (tmp_path / "stack.txt").write_text("# both\ninclude a/known-failures.txt\nimap.rfc9051.7.3.1.x  other\n")
    assert read_known_failures(tmp_path / "stack.txt") == {
        "smtp.rfc5321.2.3.8.crlf-only": "bare LF",
        "imap.rfc9051.7.3.1.x": "other",
    }
    (tmp_path / "loop.txt").write_text("include loop.txt\n")
    with pytest.raises(ValueError, match="nested too deep"):
        read_known_failures(tmp_path / "loop.txt")

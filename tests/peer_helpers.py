"""What the real-peer tests share: why a peer cannot run here, proof that stop() left nothing, and
the judging of a whole scenario run against a real server or client (every non-PASS explained)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.peers.catalog import backends
from conformance.peers.local import LocalPeer
from tests.conftest import ROOT

NEEDS_ROOT = {"postfix", "exim", "dovecot", "cyrus", "postfix-dovecot"}


def missing(name: str) -> str:
    """Why the local backend of peer ``name`` cannot run on this machine ("" when it can)."""
    local = backends(name)["local"]
    if local != "yes":
        return f"{name}: {local}"
    if name in NEEDS_ROOT and os.geteuid() != 0:
        return f"the {name} peer needs root"
    return ""


def skip_unless_available(name: str) -> None:
    if why := missing(name):
        pytest.skip(why)


def live(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a reaped or zombie process has stopped)."""
    alive = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "\nState:\tZ" not in status:
            alive.append(pid)
    return alive


def assert_stops_cleanly(peer: LocalPeer, ports: list[int], log_mark: str) -> None:
    """stop() ends every process, frees every port, removes the directory and keeps the log."""
    base = peer.dir
    assert base is not None and base.is_dir()
    pids = peer.instance_pids()
    assert pids, "no processes found for the instance"
    peer.stop()
    assert not live(pids), f"instance processes survived stop(): {live(pids)}"
    assert not peer.instance_pids()
    assert not base.exists(), f"{base} was not removed"
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    assert log_mark in peer.logs(), "the log should outlive the directory"
    peer.stop()  # a second stop is harmless


Run = Callable[[list[str], Path], "subprocess.CompletedProcess[str]"]


def read_results(report: Path) -> list[dict[str, Any]]:
    path = report / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def explained_ids(docs: list[Path]) -> set[str]:
    """The requirement ids the documents mention (in backticks)."""
    return {i for d in docs if d.exists() for i in re.findall(r"`([a-z0-9.\-]+)`", d.read_text())}


def judge_run(
    run: Run, scenarios: Path, report: Path, docs: list[Path], keep: Callable[[dict[str, Any]], bool]
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]], list[str]]:
    """Run the scenarios (``run(paths, report_dir)``) and judge the run: (the run, its results that
    ``keep`` selects, what is wrong with them).

    Wrong: a FAIL, ERROR or TIMEOUT that is not a known failure, or a non-PASS whose requirement
    the documents do not explain. A busy machine can make a real server or client slow (a login
    past the read timeout, a pipelined group split in two packets): such cases run once more,
    alone, and their second verdict is the one judged.
    """
    proc = run([str(scenarios)], report / "run")
    results = [r for r in read_results(report / "run") if keep(r)]
    explained = explained_ids(docs)

    def wrong(r: dict[str, Any]) -> bool:
        unknown_failure = r["verdict"] in ("FAIL", "ERROR", "TIMEOUT") and not r.get("known_failure")
        return unknown_failure or (r["verdict"] != "PASS" and r["requirements"][0] not in explained)

    if any(wrong(r) for r in results):
        cases = sorted({str(ROOT / "scenarios" / r["case"].split("[")[0]) for r in results if wrong(r)})
        run(cases, report / "again")
        again = {r["case"]: r for r in read_results(report / "again") if keep(r)}
        results = [again.get(r["case"], r) if wrong(r) else r for r in results]
    problems = sorted({f"{r['verdict']} {r['requirements'][0]} ({r['message'][:150]})" for r in results if wrong(r)})
    return proc, results, problems

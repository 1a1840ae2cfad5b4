"""What the real-peer tests share: why a peer cannot run here, and proof that stop() left nothing."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from conformance.peers.catalog import backends
from conformance.peers.local import LocalPeer

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

"""The local Exim peer: unpacked beside Postfix, a private instance delivers to its Maildir and leaves nothing behind."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.clients.smtp import SMTPClient
from conformance.context import MailboxProbe, make_message
from conformance.peers import PeerError, exim
from conformance.peers.exim import EximPeer
from conformance.target import Target
from tests.peer_helpers import assert_stops_cleanly, skip_unless_available

pytestmark = [pytest.mark.realpeer, pytest.mark.slow]


@pytest.fixture
def exim_peer() -> Iterator[tuple[EximPeer, Target]]:
    skip_unless_available("exim")
    peer = EximPeer()
    started = time.monotonic()
    targets = peer.start()
    try:
        assert len(targets) == 1
        assert time.monotonic() - started < 10
        yield peer, targets[0]
    finally:
        peer.stop()


SYSTEM_DIRS = (Path("/var/spool/exim4"), Path("/var/log/exim4"), Path("/run/exim4"))


def test_exim_delivers_and_cleans_up(exim_peer: tuple[EximPeer, Target]) -> None:
    peer, target = exim_peer
    assert target.protocol == "smtp" and target.host == "127.0.0.1"
    assert target.implementation.startswith("exim 4.")
    assert target.extra == {"role": "primary"}
    with SMTPClient(target.host, target.port) as client:
        greeting = client.connect()
        assert greeting.code == 220 and "Exim 4." in greeting.text, greeting
        assert client.ehlo().code == 250
        message, token = make_message("exim peer test")
        replies = client.send_message("mailspec-sender@mailspec.test", [target.recipient], message)
        assert [r.code for r in replies] == [250, 250, 354, 250], replies
        client.quit()
    found = MailboxProbe(Path(target.maildir) / "bob").wait_for(token, timeout=20)
    assert len(found) == 1, f"not delivered to bob's Maildir; log:\n{peer.logs()[-3000:]}"
    assert b"Received: from" in found[0]
    assert "Completed" in peer.logs()
    assert_stops_cleanly(peer, [target.port], "Completed")


def test_exim_makes_no_system_directory() -> None:
    """Everything lives in the instance's directory: Exim's build-time spool and log stay untouched."""
    skip_unless_available("exim")
    absent = [d for d in SYSTEM_DIRS if not d.exists()]
    peer = EximPeer()
    peer.start()
    peer.stop()
    assert [d for d in absent if d.exists()] == []


def test_exim_refuses_unknown_recipient_and_relay(exim_peer: tuple[EximPeer, Target]) -> None:
    _, target = exim_peer
    with SMTPClient(target.host, target.port) as client:
        client.connect()
        client.ehlo()
        assert client.mail("mailspec-sender@mailspec.test").code == 250
        assert client.rcpt(target.unknown_recipient).code == 550
        assert client.rcpt("someone@example.net").code == 550
        assert client.rcpt("postmaster@mailspec.test").code == 250
        client.quit()


def test_exim_failed_start_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    skip_unless_available("exim")
    real = exim.render

    def broken(template: Path, values: dict[str, str]) -> str:
        return real(template, values).replace("daemon_smtp_ports", "no_such_option")

    monkeypatch.setattr(exim, "render", broken)
    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        path = real_mkdtemp(*args, **kwargs)
        if Path(path).name.startswith("mailspec-exim-"):  # not the run's TLS material
            made.append(path)
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    peer = EximPeer()
    with pytest.raises(PeerError, match=r"(?s)exim exited with status 1.*no_such_option"):
        peer.start()
    assert len(made) == 1 and not Path(made[0]).exists() and peer.dir is None
    assert not peer.instance_pids()


def test_exim_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(exim, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(PeerError, match=r"exim is not unpacked.*ci/install-peers exim"):
        EximPeer().start()

"""The aiosmtpd peer: its own command line on loopback, one Maildir per recipient, nothing left behind."""

from __future__ import annotations

import importlib.util
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.clients.smtp import SMTPClient
from conformance.context import MailboxProbe, make_message
from conformance.peers import PeerError
from conformance.peers import aiosmtpd_peer as peer_module
from conformance.peers.aiosmtpd_maildir import PerUserMaildir
from conformance.peers.aiosmtpd_peer import AiosmtpdPeer
from conformance.peers.local import free_port
from conformance.target import Target
from tests.peer_helpers import assert_stops_cleanly, skip_unless_available

pytestmark = [pytest.mark.realpeer]


@pytest.fixture
def aiosmtpd_peer() -> Iterator[tuple[AiosmtpdPeer, Target]]:
    skip_unless_available("aiosmtpd")
    peer = AiosmtpdPeer()
    started = time.monotonic()
    targets = peer.start()
    try:
        assert len(targets) == 1
        assert time.monotonic() - started < 10
        yield peer, targets[0]
    finally:
        peer.stop()


def test_aiosmtpd_delivers_and_cleans_up(aiosmtpd_peer: tuple[AiosmtpdPeer, Target]) -> None:
    peer, target = aiosmtpd_peer
    assert target.protocol == "smtp" and target.host == "127.0.0.1"
    assert target.implementation == "aiosmtpd 1.4.6"
    assert target.unknown_recipient == "" and target.accounts == ()
    with SMTPClient(target.host, target.port) as client:
        greeting = client.connect()
        # aiosmtpd names itself "Python SMTP <version>" in its greeting.
        assert greeting.code == 220 and "Python SMTP 1.4.6" in greeting.text, greeting
        assert client.ehlo().code == 250
        assert "STARTTLS" in client.extensions
        message, token = make_message("aiosmtpd peer test")
        replies = client.send_message(
            "mailspec-sender@mailspec.test", [target.recipient, "alice@mailspec.test"], message
        )
        assert [r.code for r in replies] == [250, 250, 250, 354, 250], replies
        client.quit()
    for user in ("bob", "alice"):
        found = MailboxProbe(Path(target.maildir) / user).wait_for(token, timeout=10)
        assert len(found) == 1, f"not delivered to {user}'s Maildir; log:\n{peer.logs()[-3000:]}"
    # The log is aiosmtpd's stderr: nothing is written unless something goes wrong; mark it to check it is kept.
    assert peer.dir is not None
    with open(peer.dir / "stdout.log", "a") as log:
        log.write("mailspec-log-mark\n")
    assert_stops_cleanly(peer, [target.port], "mailspec-log-mark")


def test_per_user_maildir_folder_names() -> None:
    assert PerUserMaildir.folder("Bob@mailspec.test") == "bob"
    assert PerUserMaildir.folder("../../etc@x") == "_.._etc"
    assert PerUserMaildir.folder("postmaster") == "postmaster"


def test_aiosmtpd_missing_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(PeerError, match="aiosmtpd is not installed: pip install aiosmtpd"):
        AiosmtpdPeer().start()


def test_aiosmtpd_that_exits_reports_its_log(tmp_path: Path) -> None:
    skip_unless_available("aiosmtpd")
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'mailspec: no such interpreter' >&2\nexit 3\n")
    fake.chmod(0o755)
    peer = AiosmtpdPeer(python=str(fake))
    with pytest.raises(PeerError, match=r"(?s)aiosmtpd exited with status 3.*no such interpreter"):
        peer.start()
    assert peer.dir is None and not peer.instance_pids()


def test_aiosmtpd_retries_when_its_port_was_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port that another process took between free_port() and the server's bind costs one more try."""
    skip_unless_available("aiosmtpd")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        ports = [squatter.getsockname()[1]]
        monkeypatch.setattr(peer_module, "free_port", lambda: ports.pop() if ports else free_port())
        peer = AiosmtpdPeer()
        try:
            [target] = peer.start()
            assert target.port != squatter.getsockname()[1]
        finally:
            peer.stop()

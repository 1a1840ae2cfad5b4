"""The local Cyrus peer: greetings on LMTP, POP3, IMAP and HTTP, LMTP delivery read back over POP3 and IMAP, cleanup."""

from __future__ import annotations

import imaplib
import os
import poplib
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.clients.smtp import SMTPClient
from conformance.context import make_message
from conformance.peers import PeerError, cyrus, local
from conformance.peers.cyrus import CyrusPeer
from conformance.target import Target
from tests.peer_helpers import assert_stops_cleanly, skip_unless_available

pytestmark = [pytest.mark.realpeer, pytest.mark.slow]


def _skip_unless_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the cyrus peer needs root")


@pytest.fixture
def cyrus_peer() -> Iterator[tuple[CyrusPeer, dict[str, Target]]]:
    skip_unless_available("cyrus")
    _skip_unless_root()
    peer = CyrusPeer()
    started = time.monotonic()
    targets = peer.start()
    try:
        assert time.monotonic() - started < 10
        yield peer, {t.protocol: t for t in targets}
    finally:
        peer.stop()


def _wait_for_messages(count: Any, expected: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = int(count())
        if n >= expected or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def test_cyrus_delivers_over_lmtp_and_cleans_up(cyrus_peer: tuple[CyrusPeer, dict[str, Target]]) -> None:
    peer, targets = cyrus_peer
    assert sorted(targets) == ["imap", "jmap", "lmtp", "pop3"]
    for t in targets.values():
        assert t.host == "127.0.0.1" and t.implementation.startswith("cyrus 3.6")
        assert t.extra["role"] == "primary" and Path(t.cafile).is_file()
        assert t.recipient == "bob@mailspec.test" and t.unknown_recipient == "no-such-user@mailspec.test"
    lmtp = targets["lmtp"]
    for proto in ("pop3", "imap", "jmap"):
        assert targets[proto].extra["lmtp"] == f"127.0.0.1:{lmtp.port}"

    with SMTPClient(lmtp.host, lmtp.port, lmtp=True) as client:
        greeting = client.connect()
        assert greeting.code == 220 and "Cyrus LMTP" in greeting.text, greeting
        assert client.command("LHLO client.mailspec.test").code == 250
        assert client.mail("mailspec-sender@mailspec.test").code == 250
        refused = client.rcpt(lmtp.unknown_recipient)
        assert refused.code == 550 and "5.1.1" in refused.text, refused
        assert client.rcpt(lmtp.accounts[0].address).code == 250  # alice
        assert client.rcpt(lmtp.recipient).code == 250  # bob
        message, token = make_message("cyrus peer test")
        replies = client.data(message, recipients=2)
        # LMTP: one reply per accepted recipient after the data.
        assert [r.code for r in replies] == [354, 250, 250], replies
        client.quit()
    assert "Delivered:" in peer.logs() and "to mailbox: user.alice" in peer.logs()

    for account in lmtp.accounts:
        pop = poplib.POP3(targets["pop3"].host, targets["pop3"].port, timeout=10)
        try:
            assert b"Cyrus POP3" in pop.getwelcome()
            pop.user(account.user)
            pop.pass_(account.password)
            assert pop.stat()[0] == 1
            assert token.encode() in b"\r\n".join(pop.retr(1)[1])
        finally:
            pop.quit()
        imap = imaplib.IMAP4(targets["imap"].host, targets["imap"].port, timeout=10)
        try:
            assert b"Cyrus IMAP" in imap.welcome
            assert imap.login(account.user, account.password)[0] == "OK"
            assert imap.select("INBOX")[1] == [b"1"]
            typ, data = imap.search(None, "HEADER", "X-Mailspec-Token", token)
            assert typ == "OK" and data == [b"1"], data
        finally:
            imap.logout()

    # STARTTLS with the run's certificate, trusted through the target's CA file.
    ctx = ssl.create_default_context(cafile=targets["imap"].cafile)
    ctx.check_hostname = False
    imap = imaplib.IMAP4(targets["imap"].host, targets["imap"].port, timeout=10)
    try:
        imap.starttls(ctx)
        assert imap.login(lmtp.accounts[0].user, lmtp.accounts[0].password)[0] == "OK"
    finally:
        imap.logout()

    # JMAP over HTTP: the well-known session URL redirects to /jmap.
    jmap = targets["jmap"]
    with socket.create_connection((jmap.host, jmap.port), timeout=10) as s:
        s.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        status = s.makefile("rb").readline()
    assert status.startswith(b"HTTP/1.1 301"), status

    assert_stops_cleanly(peer, [t.port for t in targets.values()], "to mailbox: user.bob")


def test_cyrus_failed_start_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    skip_unless_available("cyrus")
    _skip_unless_root()
    real = local.render  # what cyrus.py imported as render

    def broken(template: Path, values: dict[str, str]) -> str:
        text = real(template, values)
        # A service whose program does not exist: the master refuses to start and says why.
        return text.replace(f"{values['bin']}/lmtpd", f"{values['bin']}/mailspec-no-such-lmtpd")

    monkeypatch.setattr(cyrus, "render", broken)
    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        path: str = real_mkdtemp(*args, **kwargs)
        if Path(path).name.startswith("mailspec-cyrus-"):  # not the run's TLS material
            made.append(path)
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    peer = CyrusPeer(start_timeout=3.0)
    with pytest.raises(PeerError, match=r"(?s)cyrus exited with status \d+.*cannot find executable for service 'lmtp'"):
        peer.start()
    assert len(made) == 1 and not Path(made[0]).exists() and peer.dir is None
    assert not peer.instance_pids()


def test_cyrus_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cyrus, "CACHE_DIR", tmp_path)
    with pytest.raises(PeerError, match=r"cyrus is not unpacked: .*master is missing; run ci/install-peers cyrus"):
        CyrusPeer().start()

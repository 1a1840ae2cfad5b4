"""The local Dovecot peer: LMTP delivery into its Maildir, POP3 and IMAP logins, nothing left behind."""

from __future__ import annotations

import imaplib
import os
import poplib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.clients.smtp import SMTPClient
from conformance.context import MailboxProbe, make_message
from conformance.peers import PeerError, dovecot
from conformance.peers.dovecot import DovecotPeer
from conformance.target import Target
from tests.peer_helpers import assert_stops_cleanly, skip_unless_available

pytestmark = [pytest.mark.realpeer, pytest.mark.slow]


@pytest.fixture
def dovecot_peer() -> Iterator[tuple[DovecotPeer, dict[str, Target]]]:
    skip_unless_available("dovecot")
    peer = DovecotPeer()
    started = time.monotonic()
    targets = peer.start()
    try:
        assert time.monotonic() - started < 10
        yield peer, {t.protocol: t for t in targets}
    finally:
        peer.stop()


def test_dovecot_delivers_over_lmtp_and_cleans_up(dovecot_peer: tuple[DovecotPeer, dict[str, Target]]) -> None:
    peer, targets = dovecot_peer
    assert sorted(targets) == ["imap", "lmtp", "pop3"]
    for t in targets.values():
        assert t.host == "127.0.0.1" and t.implementation.startswith("dovecot 2.3")
        assert t.extra["role"] == "primary" and Path(t.cafile).is_file()
        assert t.recipient == "bob@mailspec.test" and t.unknown_recipient == "no-such-user@mailspec.test"
    lmtp = targets["lmtp"]
    assert targets["pop3"].extra["lmtp"] == targets["imap"].extra["lmtp"] == f"127.0.0.1:{lmtp.port}"
    with SMTPClient(lmtp.host, lmtp.port, lmtp=True) as client:
        greeting = client.connect()
        assert greeting.code == 220 and "Dovecot" in greeting.text, greeting
        assert client.command("LHLO client.mailspec.test").code == 250
        assert client.mail("mailspec-sender@mailspec.test").code == 250
        assert client.rcpt(lmtp.unknown_recipient).code == 550
        assert client.rcpt(lmtp.recipient).code == 250
        message, token = make_message("dovecot peer test")
        replies = client.data(message)
        assert [r.code for r in replies] == [354, 250], replies
        client.quit()
    found = MailboxProbe(Path(lmtp.maildir) / "bob").wait_for(token, timeout=20)
    assert len(found) == 1, f"not delivered to bob's Maildir; log:\n{peer.logs()[-3000:]}"
    assert "saved mail to INBOX" in peer.logs()

    bob = lmtp.accounts[1]
    pop = poplib.POP3(targets["pop3"].host, targets["pop3"].port, timeout=10)
    try:
        assert b"Dovecot" in pop.getwelcome()
        pop.user(bob.user)
        pop.pass_(bob.password)
        assert pop.stat()[0] == 1
    finally:
        pop.quit()
    imap = imaplib.IMAP4(targets["imap"].host, targets["imap"].port, timeout=10)
    try:
        assert b"Dovecot" in imap.welcome
        assert imap.login(bob.user, bob.password)[0] == "OK"
        assert imap.select("INBOX")[1] == [b"1"]
    finally:
        imap.logout()
    assert_stops_cleanly(peer, [t.port for t in targets.values()], "saved mail to INBOX")


def test_dovecot_failed_start_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    skip_unless_available("dovecot")
    real = dovecot.render

    def broken(template: Path, values: dict[str, str]) -> str:
        return real(template, values) + "mailspec_no_such_setting = 1\n"

    monkeypatch.setattr(dovecot, "render", broken)
    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        path = real_mkdtemp(*args, **kwargs)
        if Path(path).name.startswith("mailspec-dovecot-"):  # not the run's TLS material
            made.append(path)
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    peer = DovecotPeer()
    with pytest.raises(PeerError, match=r"(?s)dovecot exited with status \d+.*mailspec_no_such_setting"):
        peer.start()
    assert len(made) == 1 and not Path(made[0]).exists() and peer.dir is None
    assert not peer.instance_pids()


def test_dovecot_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dovecot, "_which", lambda name: None)
    with pytest.raises(PeerError, match="dovecot is not installed: apt-get install dovecot-core dovecot-lmtpd"):
        DovecotPeer().start()
    monkeypatch.setattr(dovecot, "_which", lambda name: "/usr/sbin/dovecot")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    if all((dovecot.LIBEXEC / s).is_file() for s in dovecot.SERVICES):
        with pytest.raises(PeerError, match="must run as root"):
            DovecotPeer().start()

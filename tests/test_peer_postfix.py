"""The local Postfix peer: a private instance starts, delivers to its Maildir, and leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.clients.smtp import SMTPClient
from conformance.context import MailboxProbe, make_message
from conformance.peers import PeerError, local
from conformance.peers.local import SBIN_PATH, PostfixPeer
from conformance.target import Target

pytestmark = [pytest.mark.realpeer, pytest.mark.slow]


def _missing() -> str:
    if shutil.which("postfix", path=SBIN_PATH) is None:
        return "postfix is not installed (ci/install-peers installs it)"
    if shutil.which("unshare", path=SBIN_PATH) is None:
        return "unshare is not installed (apt-get install util-linux)"
    if os.geteuid() != 0:
        return "the postfix peer needs root (unshare -m and a bind mount over /etc/postfix)"
    return ""


@pytest.fixture
def postfix() -> Iterator[tuple[PostfixPeer, Target]]:
    if why := _missing():
        pytest.skip(why)
    peer = PostfixPeer()
    targets = peer.start()
    try:
        assert len(targets) == 1
        yield peer, targets[0]
    finally:
        peer.stop()


def _live(pids: list[int]) -> list[int]:
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


def test_postfix_delivers_and_cleans_up(postfix: tuple[PostfixPeer, Target]) -> None:
    peer, target = postfix
    assert target.protocol == "smtp" and target.host == "127.0.0.1"
    assert target.implementation.startswith("postfix 3.")
    assert target.extra == {"role": "primary"} and Path(target.cafile).is_file()
    base = peer.dir
    assert base is not None and base.is_dir()
    pids = peer.instance_pids()
    assert pids, "no processes found for the instance"

    with SMTPClient(target.host, target.port) as client:
        greeting = client.connect()
        assert greeting.code == 220, greeting
        assert "postfix" in greeting.text.lower(), greeting
        assert client.ehlo().code == 250
        assert "STARTTLS" in client.extensions
        message, token = make_message("postfix peer test")
        replies = client.send_message("mailspec-sender@mailspec.test", [target.recipient], message)
        assert [r.code for r in replies] == [250, 250, 354, 250], replies
        client.quit()
    found = MailboxProbe(Path(target.maildir) / "bob").wait_for(token, timeout=20)
    assert len(found) == 1, f"not delivered to bob's Maildir; log:\n{peer.logs()[-3000:]}"
    assert "status=sent" in peer.logs()

    peer.stop()
    assert not _live(pids), f"instance processes survived stop(): {_live(pids)}"
    assert not peer.instance_pids()
    assert not base.exists(), f"{base} was not removed"
    with pytest.raises(OSError), socket.create_connection((target.host, target.port), timeout=2):
        pass
    assert "status=sent" in peer.logs(), "the log should outlive the directory"
    peer.stop()  # a second stop is harmless


def test_postfix_refuses_unknown_recipient(postfix: tuple[PostfixPeer, Target]) -> None:
    _, target = postfix
    with SMTPClient(target.host, target.port) as client:
        client.connect()
        client.ehlo()
        assert client.mail("mailspec-sender@mailspec.test").code == 250
        assert client.rcpt(target.unknown_recipient).code == 550
        assert client.rcpt("postmaster@mailspec.test").code == 250
        client.quit()


def test_postfix_failed_start_leaves_nothing() -> None:
    if why := _missing():
        pytest.skip(why)
    before = set(Path("/tmp").glob("mailspec-postfix-*"))
    peer = PostfixPeer(start_timeout=0.05)  # far too short for postfix's start-up checks
    with pytest.raises(PeerError, match="no SMTP greeting"):
        peer.start()
    assert peer.dir is None and set(Path("/tmp").glob("mailspec-postfix-*")) <= before
    assert not peer.instance_pids()


def test_postfix_that_exits_reports_its_log(monkeypatch: pytest.MonkeyPatch) -> None:
    if why := _missing():
        pytest.skip(why)
    real = local.render

    def broken(template: Path, values: dict[str, str]) -> str:
        text = real(template, values)
        return text + "queue_directory = /nonexistent/mailspec\n" if template.name == "main.cf.in" else text

    monkeypatch.setattr(local, "render", broken)
    peer = PostfixPeer()
    with pytest.raises(PeerError, match=r"(?s)postfix exited with status 1.*chdir\(/nonexistent/mailspec\)"):
        peer.start()
    assert peer.dir is None and not peer.instance_pids()


@pytest.mark.parametrize(
    ("missing", "message"),
    [("postfix", "postfix is not installed: apt-get install postfix"), ("unshare", "unshare is not installed")],
)
def test_postfix_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, missing: str, message: str) -> None:
    real = local._which
    monkeypatch.setattr(local, "_which", lambda name: None if name == missing else (real(name) or f"/usr/sbin/{name}"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(PeerError, match=message):
        PostfixPeer().start()


def test_postfix_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(PeerError, match="must run as root"):
        PostfixPeer().start()

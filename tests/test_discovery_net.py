"""Target discovery from greetings and standard ports; the network layer's timeouts and redaction."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from conformance.discovery import TargetError, identify, parse_target
from conformance.net import Connection, ConnectionClosed, NetTimeout, Transcript
from conformance.peers.embedded import EmbeddedPeer


class Greeter:
    """Accepts connections and sends a fixed greeting (or waits for a request first, like HTTP)."""

    def __init__(self, greeting: bytes, host: str = "127.0.0.1", port: int = 0, wait_for_request: bool = False) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.greeting, self.wait = greeting, wait_for_request
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                if self.wait:
                    c.recv(4096)
                c.sendall(self.greeting)
                time.sleep(0.2)
            except OSError:
                pass
            c.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def embedded() -> Iterator[EmbeddedPeer]:
    p = EmbeddedPeer()
    p.start()
    yield p
    p.stop()


@pytest.mark.parametrize(
    ("greeting", "wait", "protocol"),
    [
        (b"220 mx ESMTP\r\n", False, "smtp"),
        (b"+OK POP3 ready\r\n", False, "pop3"),
        (b"* OK IMAP4rev1 ready\r\n", False, "imap"),
        (b"HTTP/1.1 401 Unauthorized\r\n\r\n", True, "jmap"),
    ],
)
def test_identify_by_greeting(greeting: bytes, wait: bool, protocol: str) -> None:
    g = Greeter(greeting, wait_for_request=wait)
    try:
        targets, notes = parse_target(f"127.0.0.1:{g.port}")
    finally:
        g.close()
    assert [t.protocol for t in targets] == [protocol]
    assert notes and protocol in notes[0]


def test_identify_implicit_tls(embedded: EmbeddedPeer) -> None:
    smtps = next(t for t in embedded.start_targets if t.implicit_tls) if hasattr(embedded, "start_targets") else None
    del smtps
    p = EmbeddedPeer()
    targets = p.start()
    try:
        tls_target = next(t for t in targets if t.implicit_tls)
        found = identify("127.0.0.1", tls_target.port, timeout=3)
        assert found.protocol == "smtp" and found.implicit_tls
        assert "mailspec" in found.banner
    finally:
        p.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="binding the standard mail ports needs root")
def test_bare_host_probes_standard_ports() -> None:
    host = "127.0.0.77"
    servers = [
        Greeter(b"220 mx ESMTP Postfix\r\n", host, 25),
        Greeter(b"+OK ready\r\n", host, 110),
        Greeter(b"* OK ready\r\n", host, 143),
    ]
    try:
        targets, notes = parse_target(host)
    finally:
        for s in servers:
            s.close()
    assert sorted((t.protocol, t.port) for t in targets) == [("imap", 143), ("pop3", 110), ("smtp", 25)]
    assert next(t for t in targets if t.protocol == "smtp").implementation == "postfix"
    assert len(notes) == 3


def test_bare_host_with_nothing_listening() -> None:
    with pytest.raises(TargetError, match="nothing answered"):
        parse_target("127.0.0.78", probe_timeout=1)


def test_url_targets_carry_credentials_and_default_ports(embedded: EmbeddedPeer) -> None:
    t = next(t for t in embedded.start() if t.protocol == "smtp")  # a second set of listeners is fine
    targets, _ = parse_target(f"smtp://u%40x:p%3Aw@127.0.0.1:{t.port}")
    assert targets[0].accounts[0].user == "u@x" and targets[0].accounts[0].password == "p:w"
    with pytest.raises(TargetError, match=r"bad port|out of range|not a number"):
        parse_target("smtp://127.0.0.1:99999")


def test_read_timeout_and_closed_connection() -> None:
    g = Greeter(b"")  # accepts, sends nothing, closes after 0.2 s
    try:
        conn = Connection.open("127.0.0.1", g.port, timeout=0.05)
        with pytest.raises(NetTimeout):
            conn.recv()
        conn.timeout = 2
        with pytest.raises(ConnectionClosed):
            conn.recv()
    finally:
        g.close()


def test_connect_timeout_is_bounded() -> None:
    # 192.0.2.0/24 is never routed... but tests must stay on loopback: use a full backlog instead.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    t0 = time.monotonic()
    try:
        for _ in range(8):
            try:
                fillers.append(Connection.open("127.0.0.1", port, timeout=0.2))
            except NetTimeout:
                break
    finally:
        for f in fillers:
            f.close()
        s.close()
    assert time.monotonic() - t0 < 8 * 0.2 + 2


def test_transcript_redacts_secrets_and_their_base64() -> None:
    import base64

    tr = Transcript()
    tr.add_secret("hunter2")
    tr.record("send", b"AUTH PLAIN " + base64.b64encode(b"\0alice\0hunter2") + b"\r\n")
    tr.record("send", base64.b64encode(b"hunter2") + b"\r\n")
    tr.record("recv", b"hunter2 echoed\r\n")
    text = tr.render()
    assert "hunter2" not in text and base64.b64encode(b"hunter2").decode() not in text
    assert text.count("<redacted>") == 2  # the PLAIN token is registered by the client, not here


def test_cli_tells_what_it_found_and_runs_its_scenarios() -> None:
    """A bare HOST:PORT greeting "* OK" is IMAP: the CLI says so and runs the IMAP cases against it.

    This greeter hangs up after its greeting, so the cases end as failures or errors, in a
    complete report, with exit 1 and no traceback.
    """
    from tests.conftest import mailspec

    g = Greeter(b"* OK IMAP4rev1 ready\r\n")
    try:
        proc = mailspec("run", "--target", f"127.0.0.1:{g.port}", "-k", "capability", "--timeout", "1", timeout=120)
    finally:
        g.close()
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "speaks imap" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout

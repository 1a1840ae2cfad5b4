"""The reference IMAP client against a scripted server: tags, literals, continuations, unsolicited data."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from conformance.clients.imap import IMAPClient
from conformance.wire import imap as wire

Script = Callable[[socket.socket], None]


class Scripted:
    def __init__(self, script: Script) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        threading.Thread(target=self._run, args=(script,), daemon=True).start()

    def _run(self, script: Script) -> None:
        conn, _ = self.sock.accept()
        try:
            script(conn)
        finally:
            conn.close()
            self.sock.close()


def recv_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def client_for() -> Iterator[Callable[[Script], IMAPClient]]:
    clients: list[IMAPClient] = []

    def make(script: Script) -> IMAPClient:
        server = Scripted(script)
        c = IMAPClient("127.0.0.1", server.port, timeout=3)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def test_login_with_synchronizing_literal_and_capabilities(client_for: Callable[[Script], IMAPClient]) -> None:
    seen: list[bytes] = []

    def script(conn: socket.socket) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n")
        line = recv_line(conn)
        seen.append(line)
        conn.sendall(b"+ go ahead\r\n")
        rest = recv_line(conn)
        seen.append(rest)
        conn.sendall(b"* 3 EXISTS\r\nM0001 OK [CAPABILITY IMAP4rev1 IDLE] logged in\r\n")

    c = client_for(script)
    c.connect()
    assert c.has("AUTH=PLAIN")
    res = c.login("alice", "p\u00e4ss")  # non-ASCII: must go as a literal
    assert res.ok and c.has("IDLE") and not c.has("AUTH=PLAIN")
    assert seen[0] == b'M0001 LOGIN "alice" {5}\r\n' and seen[1] == "p\u00e4ss\r\n".encode()
    assert [u.name for u in res.untagged] == ["EXISTS"] and res.continuations
    assert "p\u00e4ss" not in c.transcript.render()


def test_literal_refused_before_continuation(client_for: Callable[[Script], IMAPClient]) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(b"* OK hi\r\n")
        recv_line(conn)
        conn.sendall(b"M0001 NO [TOOBIG] no thanks\r\n")

    c = client_for(script)
    c.connect()
    res = c.command("APPEND", "INBOX", b"x" * 10)
    assert res.status == "NO" and res.tagged.code is not None and res.tagged.code.name == "TOOBIG"


def test_wrong_tag_is_a_protocol_error(client_for: Callable[[Script], IMAPClient]) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(b"* OK hi\r\n")
        recv_line(conn)
        conn.sendall(b"X999 OK what\r\n")

    c = client_for(script)
    c.connect()
    with pytest.raises(wire.RemoteProtocolError):
        c.noop()


def test_bad_greeting_is_a_protocol_error(client_for: Callable[[Script], IMAPClient]) -> None:
    c = client_for(lambda conn: conn.sendall(b"A1 OK not a greeting\r\n"))
    with pytest.raises(wire.RemoteProtocolError):
        c.connect()

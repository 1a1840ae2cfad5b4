"""Reference IMAP client on the sans-IO codec.

``command()`` sends one tagged command (waiting for ``+`` before each
synchronizing literal, unless LITERAL+ is used) and returns every response up
to and including its tagged completion. Like the SMTP client it never raises on
NO or BAD: scenarios judge the responses. Untagged responses that arrive
while no command is running (EXISTS, EXPUNGE, FETCH from other sessions) are
kept in ``unsolicited``.
"""

from __future__ import annotations

import base64
import ssl
import time
from dataclasses import dataclass, field

from ..net import Connection, Transcript
from ..wire import imap as wire
from ..wire.errors import Deviation, RemoteProtocolError


@dataclass
class Result:
    """What one command got: its untagged responses and its tagged completion."""

    tagged: wire.Tagged
    untagged: list[wire.Untagged] = field(default_factory=list)
    continuations: list[wire.Continuation] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.tagged.status

    @property
    def ok(self) -> bool:
        return self.tagged.status == "OK"

    def named(self, name: str) -> list[wire.Untagged]:
        return [u for u in self.untagged if u.name == name.upper()]

    @property
    def deviations(self) -> list[Deviation]:
        responses: list[wire.Response] = [*self.untagged, *self.continuations, self.tagged]
        return [d for r in responses for d in r.deviations]

    def __str__(self) -> str:
        code = f"[{self.tagged.code.raw}] " if self.tagged.code else ""
        return f"{self.tagged.tag} {self.tagged.status} {code}{self.tagged.text}"


class IMAPClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        implicit_tls: ssl.SSLContext | None = None,
        transcript: Transcript | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.transcript = transcript or Transcript(f"imap {host}:{port}")
        self._implicit_tls = implicit_tls
        self._conn: Connection | None = None
        self._parser = wire.ResponseParser()
        self._tag = 0
        self.greeting: wire.Untagged | None = None
        self.capabilities: set[str] = set()
        self.unsolicited: list[wire.Untagged] = []

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    def connect(self) -> wire.Untagged:
        self._conn = Connection.open(
            self.host, self.port, timeout=self.timeout, tls=self._implicit_tls, transcript=self.transcript
        )
        first = self.read_response()
        if not isinstance(first, wire.Untagged) or first.name not in ("OK", "PREAUTH", "BYE"):
            raise RemoteProtocolError(
                Deviation(f"greeting is not * OK/PREAUTH/BYE: {first.raw[:60]!r}", 0, "RFC 9051", "7.1")
            )
        self.greeting = first
        self._learn_capabilities(first)
        return first

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def read_response(self, timeout: float | None = None) -> wire.Response:
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout * 3)
        while True:
            r = self._parser.next_response()
            if r is not None:
                return r
            self._parser.feed(self.conn.recv(deadline))

    def send(self, data: bytes) -> None:
        self.conn.send(data)

    def next_tag(self) -> str:
        self._tag += 1
        return f"M{self._tag:04d}"

    def command(
        self, name: str, *args: wire.Arg, literal_plus: bool | None = None, timeout: float | None = None
    ) -> Result:
        tag = self.next_tag()
        plus = ("LITERAL+" in self.capabilities) if literal_plus is None else literal_plus
        chunks = wire.encode_command(tag, name, *args, literal_plus=plus)
        result_untagged: list[wire.Untagged] = []
        continuations: list[wire.Continuation] = []
        self.send(chunks[0])
        for chunk in chunks[1:]:
            # A synchronizing literal: the server must say "+" (or refuse with a tagged reply).
            while True:
                r = self.read_response(timeout)
                if isinstance(r, wire.Continuation):
                    continuations.append(r)
                    break
                if isinstance(r, wire.Tagged) and r.tag == tag:
                    return Result(r, result_untagged, continuations)
                if isinstance(r, wire.Untagged):
                    result_untagged.append(r)
            self.send(chunk)
        return self._collect(tag, result_untagged, continuations, timeout)

    def _collect(
        self, tag: str, untagged: list[wire.Untagged], continuations: list[wire.Continuation], timeout: float | None
    ) -> Result:
        while True:
            r = self.read_response(timeout)
            if isinstance(r, wire.Tagged):
                if r.tag != tag:
                    raise RemoteProtocolError(
                        Deviation(f"tagged response for {r.tag!r} while {tag!r} was running", 0, "RFC 9051", "2.2.2")
                    )
                res = Result(r, untagged, continuations)
                for u in untagged:
                    self._learn_capabilities(u)
                if r.code is not None and r.code.name == "CAPABILITY":
                    self.capabilities = {str(a).upper() for a in r.code.args}
                return res
            if isinstance(r, wire.Continuation):
                continuations.append(r)
                continue
            untagged.append(r)

    def _learn_capabilities(self, r: wire.Untagged) -> None:
        if r.name == "CAPABILITY":
            self.capabilities = {str(v).upper() for v in r.values}
        elif r.code is not None and r.code.name == "CAPABILITY":
            self.capabilities = {str(a).upper() for a in r.code.args}

    # --- operations ----------------------------------------------------------

    def capability(self) -> Result:
        return self.command("CAPABILITY")

    def noop(self) -> Result:
        return self.command("NOOP")

    def login(self, user: str, password: str) -> Result:
        self.transcript.add_secret(password)
        return self.command("LOGIN", user, password)

    def authenticate_plain(self, user: str, password: str, *, initial_response: bool | None = None) -> Result:
        self.transcript.add_secret(password)
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.transcript.add_secret(token)
        ir = ("SASL-IR" in self.capabilities) if initial_response is None else initial_response
        tag = self.next_tag()
        if ir:
            self.send(f"{tag} AUTHENTICATE PLAIN {token}\r\n".encode())
            return self._collect(tag, [], [], None)
        self.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
        untagged: list[wire.Untagged] = []
        while True:
            r = self.read_response()
            if isinstance(r, wire.Continuation):
                self.send(token.encode() + b"\r\n")
                return self._collect(tag, untagged, [r], None)
            if isinstance(r, wire.Tagged):
                return Result(r, untagged)
            untagged.append(r)

    def starttls(self, ctx: ssl.SSLContext, server_hostname: str | None = None) -> Result:
        res = self.command("STARTTLS")
        if res.ok:
            self.conn.start_tls(ctx, server_hostname or self.host)
            self._parser = wire.ResponseParser()
            self.capabilities = set()
        return res

    def select(self, mailbox: str = "INBOX", *, readonly: bool = False) -> Result:
        return self.command("EXAMINE" if readonly else "SELECT", wire.encode_mailbox(mailbox))

    def logout(self) -> Result:
        return self.command("LOGOUT")

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    def __enter__(self) -> IMAPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

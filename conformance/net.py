"""The one place that touches client sockets.

TCP, implicit TLS and in-band TLS upgrades (STARTTLS/STLS); a timeout on every
connect and every read, an overall deadline per operation so a peer dripping
one byte a second cannot stall a case; a transcript of every byte with its
direction and time, with registered secrets redacted before they are stored.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["send", "recv", "note"]
REDACTED = b"<redacted>"


class NetError(Exception):
    """The network failed us: refused, reset, closed, too slow or too big."""


class NetTimeout(NetError):
    pass


class ConnectionClosed(NetError):
    pass


class LimitExceeded(NetError):
    pass


@dataclass(frozen=True)
class Chunk:
    t: float  # seconds since the transcript started
    direction: Direction
    data: bytes


@dataclass
class Transcript:
    label: str = ""
    chunks: list[Chunk] = field(default_factory=list)
    secrets: list[bytes] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add_secret(self, secret: str | bytes) -> None:
        """Never store this value, nor its base64 forms, in the transcript."""
        raw = secret.encode() if isinstance(secret, str) else secret
        if not raw:
            return
        forms = {raw, base64.b64encode(raw)}
        for s in list(self.secrets):
            forms.add(base64.b64encode(s + b"\0" + raw))
        self.secrets.extend(sorted(forms - set(self.secrets), key=len, reverse=True))

    def redact(self, data: bytes) -> bytes:
        for s in self.secrets:
            data = data.replace(s, REDACTED)
        return data

    def record(self, direction: Direction, data: bytes) -> None:
        self.chunks.append(Chunk(time.monotonic() - self.started, direction, self.redact(data)))

    def note(self, text: str) -> None:
        self.record("note", text.encode())

    def render(self, limit: int = 64 * 1024) -> str:
        arrows = {"send": "C:", "recv": "S:", "note": "--"}
        out: list[str] = []
        size = 0
        for c in self.chunks:
            text = c.data.decode("utf-8", "backslashreplace")
            for ln in text.splitlines() or [""]:
                line = f"{c.t:7.3f} {arrows[c.direction]} {ln}"
                size += len(line)
                if size > limit:
                    out.append("... (transcript cut)")
                    return "\n".join(out)
                out.append(line)
        return "\n".join(out)


def client_tls_context(*, verify: bool, cafile: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Connection:
    """A blocking client connection where every wait is bounded."""

    def __init__(self, sock: socket.socket, transcript: Transcript, timeout: float) -> None:
        self._sock: socket.socket = sock
        self.transcript = transcript
        self.timeout = timeout
        self.closed = False
        sock.settimeout(timeout)

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        *,
        timeout: float,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        transcript: Transcript | None = None,
    ) -> Connection:
        tr = transcript or Transcript(f"{host}:{port}")
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as e:
            raise NetTimeout(f"connect to {host}:{port} timed out after {timeout:g}s") from e
        except OSError as e:
            raise NetError(f"cannot connect to {host}:{port}: {e.strerror or e}") from e
        tr.note(f"connected to {host}:{port}")
        conn = cls(sock, tr, timeout)
        if tls is not None:
            conn.start_tls(tls, server_hostname or host)
        return conn

    @property
    def is_tls(self) -> bool:
        return isinstance(self._sock, ssl.SSLSocket)

    def start_tls(self, ctx: ssl.SSLContext, server_hostname: str) -> None:
        self._sock.settimeout(self.timeout)
        try:
            self._sock = ctx.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as e:
            raise NetTimeout(f"TLS handshake timed out after {self.timeout:g}s") from e
        except (ssl.SSLError, OSError) as e:
            raise NetError(f"TLS handshake failed: {e}") from e
        self.transcript.note(f"TLS established ({self._sock.version()})")

    def send(self, data: bytes) -> None:
        self.transcript.record("send", data)
        try:
            self._sock.sendall(data)
        except TimeoutError as e:
            raise NetTimeout(f"send timed out after {self.timeout:g}s") from e
        except OSError as e:
            self.closed = True
            raise ConnectionClosed(f"connection lost while sending: {e.strerror or e}") from e

    def recv(self, deadline: float | None = None, size: int = 65536) -> bytes:
        """At least one byte, or ConnectionClosed / NetTimeout. Never blocks past the deadline."""
        wait = self.timeout
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                raise NetTimeout("the reply did not complete in time")
        self._sock.settimeout(wait)
        try:
            data = self._sock.recv(size)
        except TimeoutError as e:
            raise NetTimeout(f"no data from the peer for {wait:.3g}s") from e
        except OSError as e:
            self.closed = True
            raise ConnectionClosed(f"connection lost: {e.strerror or e}") from e
        if not data:
            self.closed = True
            self.transcript.note("connection closed by peer")
            raise ConnectionClosed("connection closed by the peer")
        self.transcript.record("recv", data)
        return data

    def wait_closed(self, timeout: float) -> bool:
        """True if the peer closes (EOF or reset) within ``timeout``; data received meanwhile is recorded."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.recv(deadline)
        except ConnectionClosed:
            return True
        except NetTimeout:
            return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self._sock.close()

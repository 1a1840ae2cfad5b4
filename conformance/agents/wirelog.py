"""What a client under test did on the wire, as the reference server saw it.

``record(handler, log)`` wraps a reference server's connection handler so that
every byte the client sends and every byte the server writes is kept, in
order, with the TLS state it travelled under; the TLS handshake, a failed
handshake and the client's end of stream are events too. The judges below
turn one connection's events into the client's *units* (a command line, an
SMTP message transfer, a SASL response...) and say what the client did
before each: how many server writes it had seen, whether under TLS.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..net import Transcript

Side = Literal["client", "server", "note"]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class Event:
    t: float
    side: Side
    data: bytes
    tls: bool
    # Server writes: how many octets of the client's stream had arrived when the server wrote
    # (read by the server, or waiting unread in its buffer); client events: where they start.
    offset: int = 0


@dataclass
class WireLog:
    """One connection: its events in order, and a redacted transcript for the report."""

    number: int
    transcript: Transcript
    events: list[Event] = field(default_factory=list)
    tls: bool = False
    closed_by_client: bool = False
    started: float = field(default_factory=time.monotonic)

    client_total: int = 0  # octets of the client's stream read by the server so far

    def add(self, side: Side, data: bytes, arrived: int = 0) -> None:
        offset = arrived if side == "server" else self.client_total
        self.events.append(Event(time.monotonic() - self.started, side, data, self.tls, offset))
        if side == "client":
            self.client_total += len(data)
            self.transcript.record("send", data)
        elif side == "server":
            self.transcript.record("recv", data)
        else:
            self.transcript.note(data.decode("utf-8", "replace"))

    def client_bytes(self, *, tls: bool | None = None) -> bytes:
        return b"".join(e.data for e in self.events if e.side == "client" and (tls is None or e.tls == tls))

    def server_bytes(self, *, tls: bool | None = None) -> bytes:
        return b"".join(e.data for e in self.events if e.side == "server" and (tls is None or e.tls == tls))

    def noted(self, text: str) -> bool:
        return any(e.side == "note" and e.data.startswith(text.encode()) for e in self.events)

    @property
    def handshake_done(self) -> bool:
        return self.noted("TLS established")


class _Reader:
    def __init__(self, inner: asyncio.StreamReader, log: WireLog) -> None:
        self._r = inner
        self._log = log

    def _seen(self, data: bytes) -> bytes:
        if data:
            self._log.add("client", data)
        elif not self._log.closed_by_client:
            self._log.closed_by_client = True
            self._log.add("note", b"client closed the connection")
        return data

    async def read(self, n: int = -1) -> bytes:
        return self._seen(await self._r.read(n))

    async def readexactly(self, n: int) -> bytes:
        try:
            return self._seen(await self._r.readexactly(n))
        except asyncio.IncompleteReadError as e:
            self._seen(e.partial)
            self._seen(b"")
            raise

    async def readline(self) -> bytes:
        return self._seen(await self._r.readline())

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        return self._seen(await self._r.readuntil(separator))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._r, name)


class _Writer:
    def __init__(self, inner: asyncio.StreamWriter, log: WireLog, reader: asyncio.StreamReader) -> None:
        self._w = inner
        self._log = log
        self._reader = reader

    def write(self, data: bytes) -> None:
        if data:
            # What the client sent before this write: read already, or arrived and waiting unread.
            waiting = len(getattr(self._reader, "_buffer", b""))
            self._log.add("server", bytes(data), self._log.client_total + waiting)
        self._w.write(data)

    def writelines(self, data: Any) -> None:
        for d in data:
            self.write(d)

    async def start_tls(self, sslcontext: Any, **kw: Any) -> None:
        self._log.add("note", b"TLS handshake starts")
        try:
            await self._w.start_tls(sslcontext, **kw)
        except BaseException as e:
            self._log.add("note", f"TLS handshake failed: {type(e).__name__}: {e}".encode())
            raise
        self._log.tls = True
        self._log.add("note", b"TLS established")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._w, name)


def record(handler: Handler, logs: list[WireLog], transcript: Callable[[str], Transcript]) -> Handler:
    """``handler`` with every connection's bytes kept in a new ``WireLog`` appended to ``logs``."""

    async def recorded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log = WireLog(len(logs) + 1, transcript(f"connection {len(logs) + 1} (C: the client under test)"))
        logs.append(log)
        peer = writer.get_extra_info("peername")
        log.add("note", f"client connected from {peer[0] if peer else '?'}".encode())
        await handler(_Reader(reader, log), _Writer(writer, log, reader))  # type: ignore[arg-type]

    return recorded


# --- units: what the client sent, one command (or message) at a time -------------------


@dataclass(frozen=True)
class Unit:
    kind: Literal["command", "data", "bdat"]
    data: bytes  # a command line with its line end; a message transfer as sent (stuffed, ending .CRLF)
    tls: bool
    writes_before: int  # server writes made before its first octet arrived
    t: float

    @property
    def line(self) -> str:
        return self.data.rstrip(b"\r\n").decode("utf-8", "replace")

    @property
    def verb(self) -> str:
        return self.line.split(" ", 1)[0].upper() if self.kind == "command" else ""


def _server_writes_before(log: WireLog, offset: int) -> int:
    """How many server writes were made before the client octet at ``offset`` arrived."""
    return sum(1 for e in log.events if e.side == "server" and e.offset <= offset)


_REPLY_354 = re.compile(rb"(?:^|\r\n)354[ \r]")


def smtp_units(log: WireLog) -> list[Unit]:
    """The client's SMTP commands, message transfers (after a 354) and BDAT chunks, in order."""
    units: list[Unit] = []
    buf = b""
    start: tuple[int, bool, float] | None = None  # stream offset, tls, t of the first octet in buf
    mode = "command"
    awaiting_354 = False
    bdat_left = 0
    for _i, e in enumerate(log.events):
        if e.side == "server":
            if awaiting_354:
                awaiting_354 = False
                if _REPLY_354.search(e.data):
                    mode = "data"
            continue
        if e.side != "client":
            continue
        if not buf:
            start = (e.offset, e.tls, e.t)
        buf += e.data
        while buf:
            assert start is not None
            idx, tls, t = start
            if mode == "bdat":
                if len(buf) < bdat_left:
                    break
                units.append(Unit("bdat", buf[:bdat_left], tls, _server_writes_before(log, idx), t))
                buf, mode, idx = buf[bdat_left:], "command", idx + bdat_left
            elif mode == "data":
                end = buf.find(b"\r\n.\r\n")
                if buf.startswith(b".\r\n"):
                    end, cut = 0, 3
                else:
                    cut = end + 5
                if end < 0:
                    break
                units.append(Unit("data", buf[:cut], tls, _server_writes_before(log, idx), t))
                buf, mode, idx = buf[cut:], "command", idx + cut
            else:
                nl = buf.find(b"\n")
                if nl < 0:
                    break
                line, buf = buf[: nl + 1], buf[nl + 1 :]
                unit = Unit("command", line, tls, _server_writes_before(log, idx), t)
                idx += nl + 1
                units.append(unit)
                if unit.verb == "DATA" and not unit.line[4:].strip():
                    awaiting_354 = True
                m = re.match(r"^BDAT ([0-9]+)", unit.line, re.I)
                if m:
                    bdat_left, mode = int(m.group(1)), "bdat"
            start = (idx, tls, t)
    return units


def line_units(log: WireLog) -> list[Unit]:
    """The client's lines (POP3 commands and SASL responses), in order."""
    units: list[Unit] = []
    buf = b""
    start: tuple[int, bool, float] | None = None
    for _i, e in enumerate(log.events):
        if e.side != "client":
            continue
        if not buf:
            start = (e.offset, e.tls, e.t)
        buf += e.data
        while b"\n" in buf:
            assert start is not None
            nl = buf.find(b"\n")
            units.append(Unit("command", buf[: nl + 1], start[1], _server_writes_before(log, start[0]), start[2]))
            buf = buf[nl + 1 :]
            start = (start[0] + nl + 1, start[1], start[2])
    return units


def sent_before_reply(units: list[Unit]) -> list[tuple[Unit, Unit]]:
    """Pairs (previous, unit) where ``unit`` was sent with no server write since ``previous``:
    the client did not wait for the answer to ``previous``."""
    return [(a, b) for a, b in itertools.pairwise(units) if b.writes_before == a.writes_before]

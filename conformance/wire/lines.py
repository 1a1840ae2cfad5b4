"""CRLF line framing shared by the line-based protocols (SMTP, LMTP, POP3, IMAP).

Lines end at LF. A line whose LF is not preceded by CR is returned with
terminator ``b"\\n"`` so the codec above can report the bare LF; a CR inside a
line is kept as data so the codec can report a bare CR. A hard size limit
protects memory; the RFC's own line limits are the codec's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Deviation, RemoteProtocolError


@dataclass(frozen=True)
class Line:
    content: bytes  # without terminator
    terminator: bytes  # b"\r\n" or b"\n"
    offset: int  # stream offset of the first octet

    @property
    def wire_length(self) -> int:
        return len(self.content) + len(self.terminator)


class LineBuffer:
    def __init__(self, *, hard_limit: int, rfc: str, section: str) -> None:
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]
        self._hard_limit = hard_limit
        self._rfc = rfc
        self._section = section

    @property
    def offset(self) -> int:
        return self._offset

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_line(self) -> Line | None:
        lf = self._buf.find(b"\n")
        if lf < 0:
            if len(self._buf) > self._hard_limit:
                raise RemoteProtocolError(
                    Deviation(
                        f"line longer than {self._hard_limit} octets without LF",
                        self._offset,
                        self._rfc,
                        self._section,
                    )
                )
            return None
        raw = bytes(self._buf[: lf + 1])
        del self._buf[: lf + 1]
        start = self._offset
        self._offset += len(raw)
        if raw.endswith(b"\r\n"):
            return Line(raw[:-2], b"\r\n", start)
        return Line(raw[:-1], b"\n", start)

    def take(self, n: int) -> bytes | None:
        """Take exactly n raw octets (literals, octet counts), or None if not there yet."""
        if len(self._buf) < n:
            return None
        out = bytes(self._buf[:n])
        del self._buf[:n]
        self._offset += n
        return out

    def pending(self) -> bytes:
        return bytes(self._buf)

    def drain(self) -> bytes:
        out = bytes(self._buf)
        self._offset += len(out)
        self._buf.clear()
        return out


# --- command lines (the server side of SMTP, LMTP and POP3) --------------------


@dataclass(frozen=True)
class CommandLine:
    verb: str  # upper-cased
    argument: str  # everything after the first SP, as sent
    raw: bytes
    deviations: tuple[Deviation, ...] = ()

    @property
    def args(self) -> tuple[str, ...]:
        """The argument split at single spaces (POP3's arguments)."""
        return tuple(self.argument.split(" ")) if self.argument else ()


@dataclass(frozen=True)
class CommandRules:
    """Where each protocol states its line rules, for the deviations reported."""

    rfc: str  # the RFC that says lines end in CRLF
    crlf_section: str
    max_line: int  # octets, CRLF included
    limit_rfc: str
    limit_section: str
    report_bare_cr: bool = False


class CommandParser:
    """Client-to-server command lines -> ``CommandLine`` events, deviations recorded."""

    def __init__(self, rules: CommandRules, *, hard_limit: int = 64 * 1024) -> None:
        self.rules = rules
        self._lines = LineBuffer(hard_limit=hard_limit, rfc=rules.limit_rfc, section=rules.limit_section)

    def feed(self, data: bytes) -> None:
        self._lines.feed(data)

    def next_command(self) -> CommandLine | None:
        line = self._lines.next_line()
        if line is None:
            return None
        r = self.rules
        devs: list[Deviation] = []
        if line.terminator != b"\r\n":
            devs.append(Deviation("command line ends in bare LF", line.offset, r.rfc, r.crlf_section))
        if r.report_bare_cr and b"\r" in line.content:
            devs.append(Deviation("bare CR inside a command line", line.offset, r.rfc, r.crlf_section))
        if line.wire_length > r.max_line:
            devs.append(
                Deviation(
                    f"command line of {line.wire_length} octets (limit {r.max_line})",
                    line.offset,
                    r.limit_rfc,
                    r.limit_section,
                )
            )
        verb, _, arg = line.content.decode("utf-8", "replace").partition(" ")
        return CommandLine(verb.upper(), arg, line.content + line.terminator, tuple(devs))

    def take_pending(self) -> bytes:
        """Hand the bytes received after the last command to someone else (DATA, TLS: injection)."""
        return self._lines.drain()

    def pending(self) -> bytes:
        return self._lines.pending()

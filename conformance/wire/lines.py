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

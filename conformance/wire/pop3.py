"""Sans-IO POP3 codec (RFC 1939, RFC 2449 response codes and lengths, RFC 5034 continuations).

Client side: ``ResponseParser`` turns server bytes into ``Response`` events; a
multi-line response (RFC 1939 section 3) is read up to its ``.CRLF`` line with
byte-stuffing removed. POP3 cannot tell a multi-line response from its first
line, so the caller says which one it expects. ``encode_command`` builds
command lines. Server side: ``CommandParser`` turns client bytes into
``Command`` events and ``byte_stuff`` / ``format_response`` build responses.

Grammar quoted from RFC 2449 section 3::

    single-line  =  status [SP text] CRLF       ;512 octets maximum
    status       =  "+OK" / "-ERR"
    text         =  *schar / resp-code *CHAR
    resp-code    =  "[" resp-level *("/" resp-level) "]"
    resp-level   =  1*rchar
    multi-line   =  single-line *dot-stuffed "." CRLF
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import Deviation, LocalProtocolError, RemoteProtocolError
from .lines import CommandLine, CommandRules, Line, LineBuffer
from .lines import CommandParser as SharedCommandParser

RFC = "RFC 1939"
RFC_EXT = "RFC 2449"
MAX_RESPONSE_LINE = 512  # RFC 1939 section 3, RFC 2449 section 4 (first line, with CRLF)
MAX_COMMAND_LINE = 255  # RFC 2449 section 4 (with CRLF)
HARD_LINE_LIMIT = 64 * 1024
HARD_MULTILINE = 64 * 1024 * 1024

Status = Literal["+OK", "-ERR", "+"]
_RESP_CODE = re.compile(r"^\[([^\]]*)\]")
_RESP_LEVEL = re.compile(r"^[\x21-\x2e\x30-\x5c\x5e-\x7f]+$")


@dataclass(frozen=True)
class Response:
    status: Status  # "+" is a SASL continuation (RFC 5034 section 4)
    text: str  # after the status and its SP
    raw: bytes  # the first line, as received
    deviations: tuple[Deviation, ...] = ()
    lines: tuple[bytes, ...] | None = None  # multi-line body lines, stuffing removed, no CRLF
    sep: str = " "  # what followed the status: " " or ""

    @property
    def ok(self) -> bool:
        return self.status == "+OK"

    @property
    def err(self) -> bool:
        return self.status == "-ERR"

    @property
    def continuation(self) -> bool:
        return self.status == "+"

    @property
    def code(self) -> str | None:
        """The RFC 2449 response code (``IN-USE``, ``SYS/TEMP``...), upper-cased, if any."""
        m = _RESP_CODE.match(self.text)
        return m.group(1).upper() if m else None

    @property
    def body(self) -> bytes:
        """The multi-line content with CRLF line ends, byte-stuffing removed."""
        if not self.lines:
            return b""
        return b"".join(ln + b"\r\n" for ln in self.lines)

    def __str__(self) -> str:
        first = f"{self.status}{self.sep}{self.text}".rstrip()
        if self.lines is None:
            return first
        return f"{first} (+{len(self.lines)} lines)"


def resp_code_valid(code: str) -> bool:
    """Whether ``code`` (between the brackets) follows RFC 2449 section 3's resp-code grammar."""
    return all(_RESP_LEVEL.match(level) for level in code.split("/"))


class ResponseParser:
    """Server-to-client byte stream -> ``Response`` events."""

    def __init__(self) -> None:
        self._lines = LineBuffer(hard_limit=HARD_LINE_LIMIT, rfc=RFC_EXT, section="4")
        self._first: Response | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._body_devs: list[Deviation] = []

    def feed(self, data: bytes) -> None:
        self._lines.feed(data)

    @property
    def buffered(self) -> bytes:
        return self._lines.pending()

    def next_response(self, *, multiline: bool = False) -> Response | None:
        """The next response, or None when more bytes are needed.

        With ``multiline``, a +OK response is read up to its terminating line.
        """
        while True:
            if self._first is None:
                line = self._lines.next_line()
                if line is None:
                    return None
                first = self._parse_first(line)
                if not (multiline and first.ok):
                    return first
                self._first = first
                continue
            line = self._lines.next_line()
            if line is None:
                return None
            if line.terminator != b"\r\n":
                self._body_devs.append(Deviation("multi-line response line ends in bare LF", line.offset, RFC, "3"))
            if line.content == b".":
                head, self._first = self._first, None
                body, self._body = self._body, []
                devs, self._body_devs = self._body_devs, []
                self._body_size = 0
                return Response(head.status, head.text, head.raw, head.deviations + tuple(devs), tuple(body), head.sep)
            content = line.content[1:] if line.content.startswith(b".") else line.content
            self._body.append(content)
            self._body_size += len(content) + 2
            if self._body_size > HARD_MULTILINE:
                raise RemoteProtocolError(
                    Deviation(f"multi-line response over {HARD_MULTILINE} octets", line.offset, RFC, "3")
                )

    @staticmethod
    def _parse_first(line: Line) -> Response:
        devs: list[Deviation] = []
        content = line.content
        upper = content[:4].upper()
        status: Status
        if upper.startswith(b"+OK"):
            status, rest = "+OK", content[3:]
        elif upper == b"-ERR":
            status, rest = "-ERR", content[4:]
        elif content == b"+" or content.startswith(b"+ "):
            status, rest = "+", content[1:]
        else:
            raise RemoteProtocolError(
                Deviation(f"response does not start with +OK or -ERR: {content[:40]!r}", line.offset, RFC, "3")
            )
        if status != "+" and content[: len(status)] != status.encode():
            devs.append(Deviation(f"status {content[: len(status)]!r} is not in upper case", line.offset, RFC, "3"))
        sep = ""
        if rest.startswith(b" "):
            sep, rest = " ", rest[1:]
        elif rest:
            devs.append(Deviation("status not followed by SP", line.offset, RFC_EXT, "3"))
        if line.terminator != b"\r\n":
            devs.append(Deviation("response line ends in bare LF, not CRLF", line.offset, RFC, "3"))
        if line.wire_length > MAX_RESPONSE_LINE:
            devs.append(
                Deviation(
                    f"response line of {line.wire_length} octets (limit {MAX_RESPONSE_LINE})",
                    line.offset,
                    RFC_EXT,
                    "4",
                )
            )
        text = rest.decode("utf-8", "replace")
        m = _RESP_CODE.match(text)
        if text.startswith("[") and (m is None or not resp_code_valid(m.group(1))):
            devs.append(Deviation(f"malformed response code in {text[:40]!r}", line.offset, RFC_EXT, "3"))
        return Response(status, text, content + line.terminator, tuple(devs), None, sep)


def encode_command(verb: str, *args: str, check_length: bool = True) -> bytes:
    """One command line. Raises LocalProtocolError past 255 octets unless told not to."""
    line = " ".join([verb, *args]).encode("utf-8") + b"\r\n"
    if check_length and len(line) > MAX_COMMAND_LINE:
        raise LocalProtocolError(
            Deviation(f"command line of {len(line)} octets (limit {MAX_COMMAND_LINE})", 0, RFC_EXT, "4")
        )
    if b"\r" in line[:-2] or b"\n" in line[:-2]:
        raise LocalProtocolError(Deviation("CR or LF inside a command line", 0, RFC, "3"))
    return line


def byte_stuff(message: bytes) -> bytes:
    """A multi-line body for ``message`` with byte-stuffing and the final ``.CRLF`` (RFC 1939 section 3).

    Line ends are made CRLF first (a bare LF counts as a line end, as RFC 1939
    section 11 counts local end-of-line conventions as two octets).
    """
    if not message:
        return b".\r\n"
    text = normalize_crlf(message)
    lines = text[:-2].split(b"\r\n")
    return b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in lines) + b".\r\n"


def normalize_crlf(message: bytes) -> bytes:
    """The message with every line ending in CRLF, as POP3 transmits and counts it."""
    text = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if text and not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text


def format_response(ok: bool, text: str = "", code: str | None = None) -> bytes:
    status = "+OK" if ok else "-ERR"
    words = " ".join(w for w in (f"[{code}]" if code else "", text) if w)
    return f"{status} {words}".rstrip(" ").encode("utf-8") + b"\r\n"


# --- server side -----------------------------------------------------------


# Command lines are framed by the shared parser in lines.py (``Command.args`` splits at single SP).
Command = CommandLine
RULES = CommandRules(RFC, "3", MAX_COMMAND_LINE, RFC_EXT, "4")


class CommandParser(SharedCommandParser):
    def __init__(self) -> None:
        super().__init__(RULES, hard_limit=HARD_LINE_LIMIT)

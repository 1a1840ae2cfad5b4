"""Sans-IO IMAP codec (RFC 3501 and RFC 9051 grammar, RFC 7888 literals, RFC 3516 literal8).

Server side of the wire, read by the client: ``ResponseParser`` turns bytes
into ``Tagged``, ``Untagged`` and ``Continuation`` events. Values inside a
response are decoded to Python types:

- an atom (``FLAGS``, ``\\Seen``, ``42``)  -> ``Atom`` (a ``str``)
- a quoted string or a literal            -> ``bytes`` (IMAP strings are octets)
- a literal8 ``~{n}``                     -> ``Binary`` (a ``bytes``)
- ``NIL``                                 -> ``None``
- a parenthesised list                    -> ``list``
- ``[...]`` inside a value (BODY[1.2])    -> kept in the atom, as the grammar does

Client side of the wire, read by a server: ``CommandParser`` yields
``Command`` events, and ``NeedContinuation`` when a synchronizing literal
must be acknowledged with ``+`` before its octets come. ``encode_command``
splits a command into the chunks a client may send before each ``+``.

Sequence sets (RFC 9051 9: ``seq-number``, ``seq-range``, ``*``) and mailbox
names in modified UTF-7 (RFC 3501 5.1.3) are here too.

ABNF quoted from RFC 9051 section 9::

    literal  = "{" number64 ["+"] "}" CRLF *CHAR8
    literal8 = "~{" number64 "}" CRLF *OCTET
    quoted   = DQUOTE *QUOTED-CHAR DQUOTE
    QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\\" quoted-specials / UTF8-2 / UTF8-3 / UTF8-4
    atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import TypeAlias

from .errors import Deviation, LocalProtocolError, RemoteProtocolError

RFC = "RFC 9051"
HARD_LINE_LIMIT = 64 * 1024  # one line of a response, literals excluded
HARD_LITERAL_LIMIT = 64 * 1024 * 1024


class Atom(str):
    """An IMAP atom (also numbers, flags, and section specs like ``BODY[1.2]<0>``)."""

    __slots__ = ()


class Binary(bytes):
    """The octets of a literal8 (``~{n}``, RFC 3516)."""

    __slots__ = ()


Value: TypeAlias = Atom | bytes | list["Value"] | None


@dataclass(frozen=True)
class ResponseCode:
    name: str  # upper-cased: "UIDVALIDITY", "CAPABILITY", "READ-ONLY"...
    args: tuple[Value, ...] = ()
    raw: str = ""


@dataclass(frozen=True)
class Tagged:
    tag: str
    status: str  # OK / NO / BAD
    code: ResponseCode | None
    text: str
    raw: bytes = b""
    deviations: tuple[Deviation, ...] = ()


@dataclass(frozen=True)
class Untagged:
    """``* [number] NAME values...`` or ``* OK/NO/BAD/BYE/PREAUTH [code] text``."""

    name: str  # upper-cased: "EXISTS", "FETCH", "OK", "CAPABILITY", "LIST"...
    number: int | None  # the message number of "* 3 FETCH", "* 4 EXPUNGE"...
    values: tuple[Value, ...] = ()
    code: ResponseCode | None = None
    text: str = ""
    raw: bytes = b""
    deviations: tuple[Deviation, ...] = ()


@dataclass(frozen=True)
class Continuation:
    text: str
    raw: bytes = b""
    deviations: tuple[Deviation, ...] = ()

    def sasl_data(self) -> bytes | None:
        """The base64 challenge of a SASL continuation, or None when it is not base64."""
        try:
            return base64.b64decode(self.text, validate=True)
        except ValueError:
            return None


Response = Tagged | Untagged | Continuation
STATUS = ("OK", "NO", "BAD")
UNTAGGED_STATUS = ("OK", "NO", "BAD", "BYE", "PREAUTH")

_STATUS_LINE = re.compile(rb"(?i)^(?:\+|\* (?:OK|NO|BAD|BYE|PREAUTH)|[^ \r\n]+ (?:OK|NO|BAD))(?: |\r?\n)")
_LITERAL_AT_END = re.compile(rb"(~?)\{(\d{1,20})(\+?)\}\r?\n\Z")
# "]" is allowed: astring positions (mailbox names in LIST, STATUS) may hold it (ASTRING-CHAR),
# and a response code's closing "]" is found before its arguments are read.
_ATOM_CHAR = re.compile(rb"[^(){ \x00-\x1f\x7f%*\"\\]")
# Command arguments: sequence sets ("1:*"), LIST patterns ("%", "a/*") and astrings ("]") are bare too.
_ARG_CHAR = re.compile(rb"[^(){ \x00-\x1f\x7f\"\\]")
_TAG = re.compile(r"^[^(){ \x00-\x1f\x7f%*\"\\+]+$")


class _LogicalLines:
    """Assembles one logical line: text lines plus the literals they announce."""

    def __init__(self, hard_line: int = HARD_LINE_LIMIT, *, responses: bool = False) -> None:
        self.responses = responses  # status responses end in text, where "{n}" is not a literal
        self._buf = bytearray()
        self._offset = 0
        self._hard_line = hard_line
        self._scan = 0  # where to look for the next LF
        self._need = 0  # literal octets still expected before the next line
        self._skipping = False  # dropping the rest of a line that broke the limits

    @property
    def offset(self) -> int:
        return self._offset

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next(self) -> tuple[bytes, int] | None:
        """(the logical line including literal octets and the final CRLF, its stream offset)."""
        while True:
            if self._skipping:
                lf = self._buf.find(b"\n")
                cut = len(self._buf) if lf < 0 else lf + 1
                del self._buf[:cut]
                self._offset += cut
                if lf < 0:
                    return None
                self._skipping = False
            if self._need:
                if len(self._buf) - self._scan < self._need:
                    return None
                self._scan += self._need
                self._need = 0
            lf = self._buf.find(b"\n", self._scan)
            if lf < 0:
                if len(self._buf) - self._scan > self._hard_line:
                    raise RemoteProtocolError(
                        Deviation(
                            f"line longer than {self._hard_line} octets without LF", self._offset + self._scan, RFC, "9"
                        )
                    )
                return None
            line_start = self._scan
            self._scan = lf + 1
            m = _LITERAL_AT_END.search(bytes(self._buf[line_start : self._scan]))
            if m is not None and self.responses and _STATUS_LINE.match(self._buf):
                m = None  # "* OK [ALERT] see {5}": resp-text, not a literal announcement
            if m is not None:
                size = int(m.group(2))
                if size > HARD_LITERAL_LIMIT:
                    raise RemoteProtocolError(
                        Deviation(
                            f"literal of {size} octets is beyond the limit", self._offset + line_start, RFC, "4.3"
                        )
                    )
                self._need = size
                continue
            out = bytes(self._buf[: self._scan])
            start = self._offset
            del self._buf[: self._scan]
            self._offset += self._scan
            self._scan = 0
            return out, start

    def recover(self) -> bytes:
        """After a RemoteProtocolError: drop the line that caused it (the rest of it as it
        arrives); returns its first octets, so a server can still name the tag."""
        cut = self._scan if self._scan else len(self._buf)
        head = bytes(self._buf[: min(cut, 200)])
        self._skipping = self._scan == 0 or not self._buf[:cut].endswith(b"\n")
        del self._buf[:cut]
        self._offset += cut
        self._scan = self._need = 0
        return head

    def take_line(self) -> bytes | None:
        """A plain line (no literals), outside any command: SASL responses, IDLE's DONE."""
        if self._scan or self._need:
            return None
        lf = self._buf.find(b"\n")
        if lf < 0:
            return None
        line = bytes(self._buf[: lf + 1])
        del self._buf[: lf + 1]
        self._offset += lf + 1
        return line

    def complete_line_buffered(self) -> bool:
        return b"\n" in self._buf[self._scan :]

    def announced_literal(self) -> tuple[int, bool, int] | None:
        """While a literal's octets are still missing: (size, non-synchronizing, stream position)."""
        if not self._need or len(self._buf) - self._scan >= self._need:
            return None
        prev = self._buf.rfind(b"\n", 0, self._scan - 1) + 1
        m = _LITERAL_AT_END.search(bytes(self._buf[prev : self._scan]))
        if m is None:
            return None
        return int(m.group(2)), m.group(3) == b"+", self._offset + self._scan


class _Reader:
    """Recursive-descent reader over one logical line (RFC 9051 section 9)."""

    def __init__(self, data: bytes, offset: int, devs: list[Deviation], *, command: bool = False) -> None:
        self.data = data
        self.char = _ARG_CHAR if command else _ATOM_CHAR
        self.pos = 0
        self.base = offset
        self.devs = devs

    def error(self, what: str, section: str = "9") -> RemoteProtocolError:
        return RemoteProtocolError(Deviation(what, self.base + self.pos, RFC, section))

    def deviation(self, what: str, section: str = "9") -> None:
        self.devs.append(Deviation(what, self.base + self.pos, RFC, section))

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def at_end(self) -> bool:
        return self.data[self.pos :] in (b"\r\n", b"\n", b"")

    def expect(self, ch: bytes) -> None:
        if not self.data.startswith(ch, self.pos):
            got = self.data[self.pos : self.pos + 10]
            raise self.error(f"expected {ch!r}, found {got!r}")
        self.pos += len(ch)

    def sp(self) -> None:
        self.expect(b" ")

    def atom(self, *, allow_brackets: bool = False) -> Atom:
        """An atom; with ``allow_brackets``, a section spec like ``BODY[HEADER.FIELDS (A B)]<0.10>`` too."""
        start = self.pos
        if self.data.startswith(b"\\", self.pos):
            # flag-extension = "\\" atom, and the "\\*" of PERMANENTFLAGS
            self.pos += 1
            if self.data.startswith(b"*", self.pos):
                self.pos += 1
                return Atom("\\*")
        while self.pos < len(self.data):
            c = self.data[self.pos : self.pos + 1]
            if c == b"[" and allow_brackets:
                end = self.data.find(b"]", self.pos)
                if end < 0:
                    raise self.error("'[' without ']' in a section spec")
                self.pos = end + 1
                continue
            if not self.char.match(c):
                break
            self.pos += 1
        if self.pos == start or self.data[start : self.pos] == b"\\":
            raise self.error(f"expected an atom, found {self.data[start : start + 10]!r}")
        try:
            return Atom(self.data[start : self.pos].decode("utf-8"))
        except UnicodeDecodeError:
            raise self.error("atom is not UTF-8") from None

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        while True:
            c = self.peek()
            if c is None or c in (0x0D, 0x0A):
                raise self.error("unterminated quoted string")
            self.pos += 1
            if c == 0x22:
                return bytes(out)
            if c == 0x5C:
                nxt = self.peek()
                if nxt not in (0x22, 0x5C):
                    raise self.error('backslash in a quoted string escapes only \\ and "')
                self.pos += 1
                out.append(nxt)
                continue
            out.append(c)

    def literal(self) -> bytes:
        binary = self.data.startswith(b"~", self.pos)
        if binary:
            self.pos += 1
        m = re.compile(rb"\{(\d{1,20})(\+?)\}\r?\n").match(self.data, self.pos)
        if m is None:
            raise self.error("malformed literal announcement", "4.3")
        if m.group(2):
            self.deviation("a server sent a non-synchronizing literal {n+}, which only clients may use", "4.3")
        if not m.group(0).endswith(b"\r\n"):
            self.deviation("literal announcement ends in bare LF", "4.3")
        size = int(m.group(1))
        self.pos = m.end()
        if self.pos + size > len(self.data):
            raise self.error("literal shorter than announced", "4.3")
        octets = self.data[self.pos : self.pos + size]
        self.pos += size
        if not binary and b"\x00" in octets:
            self.deviation("NUL in a literal (only literal8 may carry NUL)", "4.3")
        return Binary(octets) if binary else octets

    def value(self) -> Value:
        c = self.peek()
        if c == 0x28:  # (
            return self.paren_list()
        if c == 0x22:
            return self.quoted()
        if c in (0x7B, 0x7E):  # { ~
            return self.literal()
        a = self.atom(allow_brackets=True)
        return None if a.upper() == "NIL" else a

    def paren_list(self) -> list[Value]:
        self.expect(b"(")
        out: list[Value] = []
        depth_guard = 0
        while True:
            c = self.peek()
            if c is None or c in (0x0D, 0x0A):
                raise self.error("unterminated parenthesised list")
            if c == 0x29:
                self.pos += 1
                return out
            if out:
                # body-type-mpart = 1*body SP media-subtype: nested bodies follow each other with no SP.
                if c == 0x28 and isinstance(out[-1], list):
                    depth_guard += 1
                    out.append(self.paren_list())
                    continue
                if c != 0x20:
                    raise self.error("list items must be separated by one SP")
                self.pos += 1
                if self.peek() == 0x29:
                    self.deviation("trailing space before ')'")
                    continue
            depth_guard += 1
            if depth_guard > 100000:
                raise self.error("list too long")
            out.append(self.value())

    def values_to_end(self) -> list[Value]:
        out: list[Value] = []
        while not self.at_end():
            self.sp()
            out.append(self.value())
        return out

    def text_to_end(self) -> str:
        raw = self.data[self.pos :].rstrip(b"\r\n")
        self.pos = len(self.data)
        return raw.decode("utf-8", "replace")

    def _code_end(self) -> int:
        """Where the response code opened at ``pos`` ends: the "]" outside quoted strings and
        nested brackets (``[REFERRAL imap://[::1]/x]``); -1 when the line has none."""
        depth, quoted, i = 0, False, self.pos
        while i < len(self.data) and self.data[i] not in (0x0D, 0x0A):
            c = self.data[i]
            if quoted:
                if c == 0x5C:
                    i += 1
                elif c == 0x22:
                    quoted = False
            elif c == 0x22:
                quoted = True
            elif c == 0x5B:
                depth += 1
            elif c == 0x5D:
                if depth == 0:
                    return i
                depth -= 1
            i += 1
        return -1

    def resp_code(self) -> ResponseCode:
        self.expect(b"[")
        end = self._code_end()
        if end < 0:
            raise self.error("response code without ']'", "7.1")
        raw = self.data[self.pos : end].decode("utf-8", "replace")
        name_end = self.pos
        while name_end < end and self.data[name_end : name_end + 1] != b" ":
            name_end += 1
        name = self.data[self.pos : name_end].decode("utf-8", "replace").upper()
        args: list[Value] = []
        inner = _Reader(self.data[name_end:end], self.base + name_end, self.devs)
        if name in (
            "CAPABILITY",
            "PERMANENTFLAGS",
            "BADCHARSET",
            "UIDVALIDITY",
            "UIDNEXT",
            "UNSEEN",
            "HIGHESTMODSEQ",
            "APPENDUID",
            "COPYUID",
            "MODIFIED",
            "REFERRAL",
        ):
            try:
                args = inner.values_to_end()
            except RemoteProtocolError:
                args = [Atom(raw[len(name) :].strip())]
        elif name_end < end:
            args = [Atom(raw[len(name) :].strip())]
        self.pos = end + 1
        return ResponseCode(name, tuple(args), raw)

    def status_tail(self) -> tuple[ResponseCode | None, str]:
        """After the status word: [SP resp-text] where resp-text = ["[" resp-text-code "]" SP] text."""
        if self.at_end():
            self.deviation("status response without text (resp-text is required)", "7.1")
            return None, ""
        self.sp()
        code = None
        if self.peek() == 0x5B:
            code = self.resp_code()
            if self.peek() == 0x20:
                self.pos += 1
        return code, self.text_to_end()


class ResponseParser:
    """Server bytes -> Tagged / Untagged / Continuation."""

    def __init__(self) -> None:
        self._lines = _LogicalLines(responses=True)

    def feed(self, data: bytes) -> None:
        self._lines.feed(data)

    def next_response(self) -> Response | None:
        got = self._lines.next()
        if got is None:
            return None
        data, offset = got
        devs: list[Deviation] = []
        if not data.endswith(b"\r\n"):
            devs.append(Deviation("response line ends in bare LF", offset + len(data) - 1, RFC, "2.2"))
        r = _Reader(data, offset, devs)
        if data.startswith(b"+"):
            r.pos = 1
            if r.peek() == 0x20:
                r.pos += 1
            else:
                devs.append(Deviation("continuation request without SP after '+'", offset + 1, RFC, "7.5"))
            return Continuation(r.text_to_end(), data, tuple(devs))
        if data.startswith(b"* "):
            r.pos = 2
            return self._untagged(r, data, devs)
        tag = r.atom()
        if not _TAG.match(tag):
            raise r.error(f"bad tag {tag!r}", "2.2.1")
        r.sp()
        status = r.atom().upper()
        if status not in STATUS:
            raise r.error(f"tagged response status {status!r} is not OK, NO or BAD", "7.1")
        code, text = r.status_tail()
        return Tagged(str(tag), status, code, text, data, tuple(devs))

    def _untagged(self, r: _Reader, data: bytes, devs: list[Deviation]) -> Untagged:
        first = r.atom()
        number: int | None = None
        if first.isdigit():
            number = int(first)
            r.sp()
            first = r.atom()
        name = first.upper()
        if name in UNTAGGED_STATUS and number is None:
            code, text = r.status_tail()
            return Untagged(name, None, (), code, text, data, tuple(devs))
        values = (
            r.values_to_end()
            if name not in ("CAPABILITY", "ENABLED", "SEARCH", "SORT", "THREAD", "FLAGS", "ID")
            else self._loose(r)
        )
        return Untagged(name, number, tuple(values), None, "", data, tuple(devs))

    @staticmethod
    def _loose(r: _Reader) -> list[Value]:
        # CAPABILITY/SEARCH/FLAGS...: SP-separated values; tolerate a trailing SP (seen in the wild) as a deviation.
        out: list[Value] = []
        while not r.at_end():
            r.sp()
            if r.at_end():
                r.deviation("trailing space at the end of the response")
                break
            out.append(r.value())
        return out


# --- command side -------------------------------------------------------------


# str: quoted when it can be, a literal otherwise; bytes: always a literal; Atom: as it is.
Arg: TypeAlias = str | bytes | Atom | list["Arg"] | None
_QUOTABLE = re.compile(r"^[\x20-\x7e]*$")


def _encode_arg(arg: Arg, chunks: list[bytearray], literal_plus: bool, binary: bool) -> None:
    cur = chunks[-1]
    if arg is None:
        cur += b"NIL"
    elif isinstance(arg, Atom):
        cur += arg.encode("utf-8")
    elif isinstance(arg, list):
        cur += b"("
        for i, item in enumerate(arg):
            if i:
                chunks[-1] += b" "
            _encode_arg(item, chunks, literal_plus, binary)
        chunks[-1] += b")"
    elif isinstance(arg, str) and len(arg) < 1000 and _QUOTABLE.match(arg):
        cur += b'"' + arg.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    else:
        raw = arg.encode("utf-8") if isinstance(arg, str) else bytes(arg)
        prefix = b"~" if binary and b"\x00" in raw else b""
        cur += prefix + b"{%d%s}\r\n" % (len(raw), b"+" if literal_plus else b"")
        if literal_plus:
            cur += raw
        else:
            chunks.append(bytearray(raw))


def encode_command(tag: str, name: str, *args: Arg, literal_plus: bool = False, binary: bool = False) -> list[bytes]:
    """The command as chunks: send chunk 0, then wait for "+" before each further chunk.

    With ``literal_plus`` (RFC 7888 LITERAL+) literals are non-synchronizing and
    the whole command is one chunk.
    """
    if not _TAG.match(tag):
        raise LocalProtocolError(Deviation(f"bad tag {tag!r}", 0, RFC, "2.2.1"))
    chunks = [bytearray(f"{tag} {name}".encode())]
    for arg in args:
        chunks[-1] += b" "
        _encode_arg(arg, chunks, literal_plus, binary)
    chunks[-1] += b"\r\n"
    return [bytes(c) for c in chunks]


@dataclass(frozen=True)
class Command:
    tag: str
    name: str  # upper-cased; "UID FETCH" style names keep the first word only
    args: tuple[Value, ...]
    raw: bytes
    deviations: tuple[Deviation, ...] = ()


@dataclass(frozen=True)
class NeedContinuation:
    """The client announced a synchronizing literal: answer "+ ..." before it sends the octets."""

    size: int


@dataclass
class CommandParser:
    """Client bytes -> Command (and NeedContinuation for synchronizing literals)."""

    _lines: _LogicalLines = field(default_factory=_LogicalLines)
    _acked: int = -1  # stream position of the literal announcement already acknowledged
    _bad_head: bytes | None = None  # start of the last line that did not parse

    def feed(self, data: bytes) -> None:
        self._lines.feed(data)

    def take_line(self) -> bytes | None:
        """A raw client line between commands (an AUTHENTICATE response, IDLE's DONE), if buffered."""
        return self._lines.take_line()

    def has_pending_line(self) -> bool:
        """Whether the client already sent (part of) another command line: pipelining."""
        return self._lines.complete_line_buffered()

    def recover(self) -> str | None:
        """After ``next_event`` raised: skip the bad line; the tag it started with, if readable."""
        head, self._bad_head = (self._bad_head, None) if self._bad_head is not None else (self._lines.recover(), None)
        m = re.match(rb"([^(){ \x00-\x1f\x7f%*\"\\+]+) ", head)
        return m.group(1).decode("ascii", "replace") if m else None

    def next_event(self) -> Command | NeedContinuation | None:
        got = self._lines.next()
        if got is None:
            announced = self._lines.announced_literal()
            if announced is not None:
                size, plus, marker = announced
                if not plus and marker != self._acked:
                    self._acked = marker
                    return NeedContinuation(size)
            return None
        data, offset = got
        try:
            return self._command(data, offset)
        except RemoteProtocolError:
            self._bad_head = data[:200]  # the line is consumed already: recover() must not drop another
            raise

    @staticmethod
    def _command(data: bytes, offset: int) -> Command:
        devs: list[Deviation] = []
        if not data.endswith(b"\r\n"):
            devs.append(Deviation("command line ends in bare LF", offset, RFC, "2.2"))
        r = _Reader(data, offset, devs, command=True)
        tag = r.atom()
        if not _TAG.match(tag):
            raise r.error(f"bad tag {tag!r}", "2.2.1")
        r.sp()
        name = r.atom().upper()
        args = r.values_to_end()
        return Command(str(tag), name, tuple(args), data, tuple(devs))


# --- sequence sets (RFC 9051 section 9: sequence-set) -------------------------

_SEQ = re.compile(r"^(\d+|\*)(?::(\d+|\*))?$")


def parse_sequence_set(text: str) -> list[tuple[int | None, int | None]]:
    """``1:3,5,7:*`` -> [(1, 3), (5, 5), (7, None)]; None stands for ``*``. Zero is not a number here."""
    out: list[tuple[int | None, int | None]] = []
    if not text:
        raise RemoteProtocolError(Deviation("empty sequence set", 0, RFC, "9"))
    for part in text.split(","):
        m = _SEQ.match(part)
        if m is None:
            raise RemoteProtocolError(Deviation(f"malformed sequence set element {part!r}", 0, RFC, "9"))
        lo = None if m.group(1) == "*" else int(m.group(1))
        hi_text = m.group(2) if m.group(2) is not None else m.group(1)
        hi = None if hi_text == "*" else int(hi_text)
        if lo == 0 or hi == 0:
            raise RemoteProtocolError(Deviation("0 is not a valid message number or UID", 0, RFC, "9"))
        out.append((lo, hi))
    return out


def expand_sequence_set(text: str, largest: int) -> list[int]:
    """The numbers a set names in a mailbox whose largest number (or UID) is ``largest``; ascending, unique.

    RFC 9051 6.4.8 / 9: a range ``a:b`` includes both ends in either order, and
    ``*`` stands for the largest number in use.
    """
    out: set[int] = set()
    for lo, hi in parse_sequence_set(text):
        a = largest if lo is None else lo
        b = largest if hi is None else hi
        if a > b:
            a, b = b, a
        out.update(range(a, min(b, largest) + 1) if a <= largest else ())
    return sorted(out)


def format_sequence_set(numbers: list[int]) -> str:
    """Ascending unique numbers -> the shortest ``a:b,c`` form."""
    nums = sorted(set(numbers))
    if not nums:
        raise LocalProtocolError(Deviation("empty sequence set", 0, RFC, "9"))
    parts: list[str] = []
    start = prev = nums[0]
    for n in [*nums[1:], 0]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = n
    return ",".join(parts)


# --- modified UTF-7 (RFC 3501 5.1.3) ------------------------------------------


def encode_mailbox(name: str) -> str:
    """Unicode mailbox name -> modified UTF-7."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(utf16).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


_MUTF7_RUN = re.compile(r"&([A-Za-z0-9+,]*)-")


def decode_mailbox(name: str) -> str:
    """Modified UTF-7 -> Unicode. Raises RemoteProtocolError for what RFC 3501 5.1.3 forbids."""
    out: list[str] = []
    pos = 0
    while pos < len(name):
        ch = name[pos]
        if not 0x20 <= ord(ch) <= 0x7E:
            raise RemoteProtocolError(
                Deviation(f"octet {ord(ch):#x} outside printable US-ASCII in a mailbox name", pos, "RFC 3501", "5.1.3")
            )
        if ch != "&":
            out.append(ch)
            pos += 1
            continue
        m = _MUTF7_RUN.match(name, pos)
        if m is None:
            raise RemoteProtocolError(
                Deviation("'&' not followed by a base64 run ending in '-'", pos, "RFC 3501", "5.1.3")
            )
        run = m.group(1)
        if run == "":
            out.append("&")
        else:
            b64 = run.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            try:
                text = base64.b64decode(b64, validate=True).decode("utf-16-be")
            except (ValueError, UnicodeDecodeError):
                raise RemoteProtocolError(
                    Deviation(f"bad modified-base64 run {run!r}", pos, "RFC 3501", "5.1.3")
                ) from None
            if any(0x20 <= ord(c) <= 0x7E for c in text):
                raise RemoteProtocolError(
                    Deviation(
                        "printable US-ASCII encoded in modified base64 (must be represented as itself)",
                        pos,
                        "RFC 3501",
                        "5.1.3",
                    )
                )
            if encode_mailbox(text) != "&" + run + "-":
                raise RemoteProtocolError(
                    Deviation(f"non-canonical modified-base64 run {run!r}", pos, "RFC 3501", "5.1.3")
                )
            out.append(text)
            if name.startswith("&", m.end()) and not name.startswith("&-", m.end()):
                raise RemoteProtocolError(
                    Deviation("null shift '-&' between two base64 runs", m.end(), "RFC 3501", "5.1.3")
                )
        pos = m.end()
    return "".join(out)

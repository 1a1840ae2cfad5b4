"""Sans-IO SMTP / LMTP codec (RFC 5321, RFC 2033, RFC 1870, RFC 2034, RFC 3463).

Client side: ``ReplyParser`` turns server bytes into ``Reply`` events and
``encode_command`` builds command lines. Server side: ``CommandParser`` turns
client bytes into ``Command`` events and ``DataReceiver`` reads a DATA body.
``dot_stuff`` applies transparency (RFC 5321 4.5.2) for the sending side.

Grammar quoted from RFC 5321 section 4.2::

    Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
                     Reply-code [ SP textstring ] CRLF
    Reply-code     = %x32-35 %x30-35 %x30-39
    textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import Deviation, LocalProtocolError, RemoteProtocolError
from .lines import CommandLine, CommandRules, Line, LineBuffer
from .lines import CommandParser as SharedCommandParser

RFC = "RFC 5321"
# RFC 5321 4.5.3.1.4 / 4.5.3.1.5 / 4.5.3.1.6, each counting the CRLF.
MAX_COMMAND_LINE = 512
MAX_REPLY_LINE = 512
MAX_TEXT_LINE = 1000
# Memory guards, far above the RFC limits so that overlong lines are still
# seen (and reported) rather than cut.
HARD_LINE_LIMIT = 64 * 1024
HARD_REPLY_LINES = 1000

_REPLY_CODE = re.compile(rb"^([0-9]{3})([ -]?)(.*)$", re.S)
_STRICT_CODE = re.compile(rb"^[2-5][0-5][0-9]$")
# RFC 3463 section 2: class "." subject "." detail; RFC 2034 section 4 puts it first in the text.
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")


@dataclass(frozen=True)
class Reply:
    code: int
    lines: tuple[str, ...]  # the text of each line, after code and separator
    raw: bytes
    deviations: tuple[Deviation, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def klass(self) -> int:
        return self.code // 100

    @property
    def enhanced(self) -> str | None:
        """The RFC 3463 status code that starts the first line, if any."""
        if not self.lines:
            return None
        m = _ENHANCED.match(self.lines[0])
        return ".".join(m.groups()) if m else None

    def enhanced_on_every_line(self) -> bool:
        return all(_ENHANCED.match(line) for line in self.lines)

    def __str__(self) -> str:
        return " / ".join(f"{self.code} {line}" for line in self.lines) or str(self.code)


def parse_enhanced(text: str) -> tuple[int, int, int] | None:
    m = _ENHANCED.match(text)
    if not m:
        return None
    a, b, c = (int(g) for g in m.groups())
    return a, b, c


class ReplyParser:
    """Server-to-client byte stream -> ``Reply`` events (RFC 5321 4.2)."""

    def __init__(self) -> None:
        self._lines = LineBuffer(hard_limit=HARD_LINE_LIMIT, rfc=RFC, section="4.5.3.1.5")
        self._pending: list[tuple[Line, int, bytes, bytes]] = []

    def feed(self, data: bytes) -> None:
        self._lines.feed(data)

    @property
    def buffered(self) -> bytes:
        return self._lines.pending()

    def next_reply(self) -> Reply | None:
        while True:
            line = self._lines.next_line()
            if line is None:
                return None
            m = _REPLY_CODE.match(line.content)
            if m is None:
                raise RemoteProtocolError(
                    Deviation(
                        f"reply line does not start with a 3-digit code: {line.content[:40]!r}",
                        line.offset,
                        RFC,
                        "4.2",
                    )
                )
            code, sep, text = m.group(1), m.group(2), m.group(3)
            self._pending.append((line, int(code), sep, text))
            if len(self._pending) > HARD_REPLY_LINES:
                raise RemoteProtocolError(
                    Deviation(
                        f"multiline reply of more than {HARD_REPLY_LINES} lines",
                        line.offset,
                        RFC,
                        "4.2.1",
                    )
                )
            if sep != b"-":
                return self._finish()

    def _finish(self) -> Reply:
        parts, self._pending = self._pending, []
        devs: list[Deviation] = []
        first_code = parts[0][1]
        texts: list[str] = []
        raw = b""
        for line, code, sep, text in parts:
            raw += line.content + line.terminator
            if line.terminator != b"\r\n":
                devs.append(Deviation("reply line ends in bare LF, not CRLF", line.offset, RFC, "2.3.8"))
            if not _STRICT_CODE.match(b"%03d" % code):
                devs.append(Deviation(f"reply code {code} outside %x32-35 %x30-35 %x30-39", line.offset, RFC, "4.2"))
            if code != first_code:
                devs.append(
                    Deviation(
                        f"multiline reply mixes codes {first_code} and {code}",
                        line.offset,
                        RFC,
                        "4.2.1",
                    )
                )
            if sep == b"" and text:
                devs.append(Deviation("reply code not followed by SP or '-'", line.offset, RFC, "4.2"))
            if line.wire_length > MAX_REPLY_LINE:
                devs.append(
                    Deviation(
                        f"reply line of {line.wire_length} octets (limit {MAX_REPLY_LINE})",
                        line.offset,
                        RFC,
                        "4.5.3.1.5",
                    )
                )
            if any(b not in (9,) and not 32 <= b <= 126 for b in text):
                devs.append(Deviation("reply text outside HT/SP/printable US-ASCII", line.offset, RFC, "4.2"))
            texts.append(text.decode("utf-8", "replace"))
        return Reply(first_code, tuple(texts), raw, tuple(devs))


def encode_command(verb: str, argument: str = "", *, check_length: bool = True) -> bytes:
    """One command line. Raises LocalProtocolError past 512 octets unless told not to."""
    line = (verb + (" " + argument if argument else "")).encode("utf-8") + b"\r\n"
    if check_length and len(line) > MAX_COMMAND_LINE:
        raise LocalProtocolError(
            Deviation(f"command line of {len(line)} octets (limit {MAX_COMMAND_LINE})", 0, RFC, "4.5.3.1.4")
        )
    if b"\r" in line[:-2] or b"\n" in line[:-2]:
        raise LocalProtocolError(Deviation("CR or LF inside a command line", 0, RFC, "2.3.8"))
    return line


# --- server side -----------------------------------------------------------


# Server side: command lines are framed by the shared parser in lines.py.
Command = CommandLine
RULES = CommandRules(RFC, "2.3.8", MAX_COMMAND_LINE, RFC, "4.5.3.1.4", report_bare_cr=True)


class CommandParser(SharedCommandParser):
    def __init__(self) -> None:
        super().__init__(RULES, hard_limit=HARD_LINE_LIMIT)


# RFC 5321 4.1.2 path grammar (ASCII; RFC 6531 widens atext to UTF-8).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010FFFF]"
_DOT_STRING = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010FFFF]|\\[\x20-\x7e])*"'
_SUBDOMAIN = r"[A-Za-z0-9\u0080-\U0010FFFF](?:[A-Za-z0-9\-\u0080-\U0010FFFF]*[A-Za-z0-9\u0080-\U0010FFFF])?"
_DOMAIN = rf"{_SUBDOMAIN}(?:\.{_SUBDOMAIN})*"
_ADDRESS_LITERAL = r"\[[^\[\]\\\s]+\]"
_MAILBOX = rf"(?:{_DOT_STRING}|{_QUOTED})@(?:{_DOMAIN}|{_ADDRESS_LITERAL})"
_ADL = rf"@{_DOMAIN}(?:,@{_DOMAIN})*"
_PATH = re.compile(rf"^<(?:({_ADL}):)?({_MAILBOX})>$")
_ESMTP_KEYWORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]*$")
_ESMTP_VALUE = re.compile(r"^[\x21-\x3c\x3e-\x7e\u0080-\U0010FFFF]+$")


@dataclass(frozen=True)
class Path:
    mailbox: str  # "" for the null reverse-path <>
    source_route: str | None = None

    @property
    def is_null(self) -> bool:
        return self.mailbox == ""

    @property
    def local_part(self) -> str:
        return self.mailbox.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return self.mailbox.rpartition("@")[2]


@dataclass(frozen=True)
class MailArgument:
    path: Path
    params: dict[str, str | None] = field(default_factory=dict)  # keyword upper-cased
    duplicates: tuple[str, ...] = ()  # keywords given more than once (the last value is kept)


def parse_path(text: str, *, allow_null: bool) -> Path:
    if text == "<>":
        if not allow_null:
            raise RemoteProtocolError(Deviation("null path where a forward-path is needed", 0, RFC, "4.1.1.3"))
        return Path("")
    m = _PATH.match(text)
    if m is None:
        raise RemoteProtocolError(Deviation(f"malformed path {text[:80]!r}", 0, RFC, "4.1.2"))
    return Path(m.group(2), m.group(1))


def _path_end(text: str) -> int:
    """Index just past the path's closing ">" (quoted strings may hold spaces and ">")."""
    if not text.startswith("<"):
        return text.find(" ") if " " in text else len(text)
    quoted = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ">" and not quoted:
            return i + 1
    return len(text)


def parse_mail_argument(argument: str, prefix: str) -> MailArgument:
    """Parse ``FROM:<path> params`` (prefix "FROM") or ``TO:<path> params`` (prefix "TO").

    RFC 5321 4.1.1.2: ``mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF``;
    the keyword is case-insensitive and no space is allowed around the colon.
    """
    head = prefix + ":"
    if argument[: len(head)].upper() != head:
        raise RemoteProtocolError(Deviation(f"expected {head} before the path", 0, RFC, "4.1.1.2"))
    rest = argument[len(head) :]
    if rest.startswith(" "):
        raise RemoteProtocolError(Deviation("space between the colon and the path", 0, RFC, "3.3"))
    end = _path_end(rest)
    path_text, param_text = rest[:end], rest[end:].lstrip(" ") if rest[end:].startswith(" ") else rest[end:]
    if param_text and not rest[end:].startswith(" "):
        raise RemoteProtocolError(Deviation("no SP between the path and its parameters", 0, RFC, "4.1.1.2"))
    path = parse_path(path_text, allow_null=(prefix == "FROM"))
    params: dict[str, str | None] = {}
    duplicates: list[str] = []
    for word in param_text.split(" ") if param_text else []:
        key, eq, value = word.partition("=")
        if not _ESMTP_KEYWORD.match(key) or (eq and not _ESMTP_VALUE.match(value)):
            raise RemoteProtocolError(Deviation(f"malformed ESMTP parameter {word!r}", 0, RFC, "4.1.2"))
        if key.upper() in params:
            duplicates.append(key.upper())
        params[key.upper()] = value if eq else None
    return MailArgument(path, params, tuple(duplicates))


def format_reply(code: int, *lines: str) -> bytes:
    """Encode a (possibly multiline) reply, RFC 5321 4.2.1."""
    texts = list(lines) or [""]
    out = b""
    for i, text in enumerate(texts):
        sep = " " if i == len(texts) - 1 else "-"
        out += f"{code}{sep}{text}".rstrip(" ").encode("utf-8") + b"\r\n"
    return out


# --- DATA ------------------------------------------------------------------


def dot_stuff(message: bytes) -> bytes:
    """The DATA section for ``message``, transparency applied, with the final ``.CRLF``.

    RFC 5321 4.5.2: "Before sending a line of mail text, the SMTP client checks
    the first character of the line. If it is a period, one additional period
    is inserted at the beginning of the line." A message that does not end in
    CRLF gets one (4.1.1.4).
    """
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    stuffed = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in message.split(b"\r\n"))
    return stuffed + b".\r\n"


END_OF_DATA = b"\r\n.\r\n"
# The malformed end-of-data sequences of the SMTP smuggling family. A strict
# receiver recognises none of them (RFC 5321 4.1.1.4: the data ends with
# "<CRLF>.<CRLF>"); defect behaviours enable some to prove scenarios can fail.
SMUGGLING_ENDINGS: dict[str, bytes] = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-cr": b"\r.\r",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
    "crlf-dot-cr": b"\r\n.\r",
    "lf-dot-cr": b"\n.\r",
    "cr-dot-lf": b"\r.\n",
    "crlf-nul-dot-crlf": b"\r\n\x00.\r\n",
}


@dataclass(frozen=True)
class DataResult:
    message: bytes  # transparency removed
    deviations: tuple[Deviation, ...]
    longest_line: int  # octets, counting the CRLF


class DataReceiver:
    """Reads one DATA section up to ``<CRLF>.<CRLF>`` and removes transparency.

    ``extra_endings`` exists for seeded defects: a receiver that also accepts
    one of the malformed endings is vulnerable to SMTP smuggling.
    """

    def __init__(self, *, max_size: int, extra_endings: tuple[bytes, ...] = ()) -> None:
        # The DATA command's own CRLF counts as the first CRLF of the ending.
        self._buf = bytearray(b"\r\n")
        self._endings = (END_OF_DATA, *extra_endings)
        self._max_size = max_size
        self.exceeded = False

    def feed(self, data: bytes) -> tuple[DataResult, bytes] | None:
        """Returns (result, bytes after the end) once the end is seen."""
        self._buf += data
        found = -1
        found_len = 0
        for ending in self._endings:
            i = self._buf.find(ending)
            if i >= 0 and (found < 0 or i < found):
                found, found_len = i, len(ending)
        if found < 0:
            if len(self._buf) > self._max_size + 8:
                # Keep reading to the end, but stop storing (RFC 1870 6: the server
                # must still find the end of the data to stay in sync).
                self.exceeded = True
                del self._buf[:-8]  # enough to see an ending that straddles two reads
            return None
        if self.exceeded:
            return DataResult(b"", (), 0), bytes(self._buf[found + found_len :])
        body = bytes(self._buf[2:found]) + b"\r\n" if found >= 2 else b""
        rest = bytes(self._buf[found + found_len :])
        result = self._decode(body)
        if len(result.message) > self._max_size:
            # The whole message came in before the streaming guard saw it (RFC 1870 5: the size
            # counts CRLFs but not the stuffed dots, which is the decoded length).
            self.exceeded = True
            return DataResult(b"", (), 0), rest
        return result, rest

    @staticmethod
    def _decode(body: bytes) -> DataResult:
        devs: list[Deviation] = []
        out: list[bytes] = []
        longest = 0
        offset = 0
        for ln in body.split(b"\r\n")[:-1] if body else []:
            longest = max(longest, len(ln) + 2)
            if b"\n" in ln:
                devs.append(Deviation("bare LF in message data", offset + ln.index(b"\n"), RFC, "2.3.8"))
            if b"\r" in ln:
                devs.append(Deviation("bare CR in message data", offset + ln.index(b"\r"), RFC, "2.3.8"))
            if len(ln) + 2 > MAX_TEXT_LINE:
                devs.append(Deviation(f"text line of {len(ln) + 2} octets (limit 1000)", offset, RFC, "4.5.3.1.6"))
            out.append(ln[1:] if ln.startswith(b".") else ln)
            offset += len(ln) + 2
        message = b"\r\n".join(out) + b"\r\n" if out else b""
        return DataResult(message, tuple(devs), longest)


# --- CHUNKING (RFC 3030) and xtext (RFC 3461 4) -------------------------------

_BDAT = re.compile(r"^([0-9]{1,18})(?: (LAST))?$", re.I)


def parse_bdat(argument: str) -> tuple[int, bool]:
    """``chunk-size [SP "LAST"]`` of a BDAT command (RFC 3030 2: bdat-cmd) -> (size, last)."""
    m = _BDAT.match(argument)
    if m is None:
        raise RemoteProtocolError(Deviation(f"malformed BDAT argument {argument[:40]!r}", 0, "RFC 3030", "2"))
    return int(m.group(1)), m.group(2) is not None


def bdat_chunk(data: bytes, *, last: bool = False) -> bytes:
    """One BDAT command line followed by exactly ``data`` (no transparency, no end marker)."""
    return f"BDAT {len(data)}{' LAST' if last else ''}\r\n".encode() + data


def bdat_chunks(message: bytes, sizes: list[int], *, empty_last: bool = False) -> list[bytes]:
    """``message`` cut into BDAT commands of ``sizes`` (the rest goes in the final chunk).

    With ``empty_last`` every chunk carries data and a ``BDAT 0 LAST`` closes the message.
    """
    out: list[bytes] = []
    pos = 0
    for n in sizes:
        out.append(bdat_chunk(message[pos : pos + n]))
        pos += n
    if empty_last:
        out.append(bdat_chunk(message[pos:]) if pos < len(message) else b"")
        out.append(bdat_chunk(b"", last=True))
    else:
        out.append(bdat_chunk(message[pos:], last=True))
    return [c for c in out if c]


_XTEXT = re.compile(r"^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$")


def xtext_encode(data: str | bytes) -> str:
    """RFC 3461 4: "+" , "=" and octets outside "!".."~" become "+" and two upper-case hex digits."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return "".join(chr(b) if 33 <= b <= 126 and b not in (0x2B, 0x3D) else f"+{b:02X}" for b in raw)


def is_xtext(text: str) -> bool:
    return bool(_XTEXT.match(text))


def xtext_decode(text: str) -> bytes:
    """The octets an xtext stands for; RemoteProtocolError when it is not xtext."""
    if not is_xtext(text):
        raise RemoteProtocolError(Deviation(f"not xtext: {text[:40]!r}", 0, "RFC 3461", "4"))
    return re.sub(r"\+([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), text).encode("latin-1")

"""Message structure for FETCH: ENVELOPE, BODY/BODYSTRUCTURE, BODY[section], BINARY (RFC 9051 6.4.5, 7.5.2).

``parse`` splits a message into a tree of ``Part`` (MIME header, body, media type,
children of a multipart, the encapsulated message of a message/rfc822 part);
the rest renders what FETCH returns from it. Lines end in CRLF on the wire; the
store keeps messages exactly as appended, so sizes and sections are byte-exact.
Behaviours (seeded defects) of this module's output are declared in messages.py
and passed in as ``Quirks``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import quopri
import re
from dataclasses import dataclass, field
from functools import lru_cache

from .core import No


@dataclass(frozen=True)
class Quirks:
    """Deliberate deviations, switched on by the behaviours in messages.py."""

    text_lines_off: bool = False  # text/* line counts one too high
    drop_params: bool = False  # body parameter lists as NIL
    flatten_multipart: bool = False  # nested multiparts' parts hoisted into their parent
    no_default_type: bool = False  # a part without Content-Type is application/octet-stream
    rfc822_as_leaf: bool = False  # message/rfc822 parts are not looked into
    size_decoded: bool = False  # body size after decoding the transfer encoding
    body_extensions: bool = False  # BODY carries extension data
    extension_order: bool = False  # disposition before MD5 / parameters after disposition
    envelope_swap_to_cc: bool = False
    envelope_folded_subject: bool = False  # folding CRLFs kept in the subject
    envelope_no_groups: bool = False  # group syntax dropped: members only
    envelope_empty_for_absent: bool = False  # absent Date/In-Reply-To/Message-ID as ""
    envelope_empty_lists: bool = False  # absent To/Cc/Bcc as ()
    envelope_no_sender_default: bool = False  # absent Sender/Reply-To as NIL


@dataclass
class Part:
    header: bytes  # the part's header with its blank line ("" when the part has none)
    body: bytes
    mtype: str = "text"
    subtype: str = "plain"
    params: list[tuple[str, str]] = field(default_factory=list)
    children: list[Part] = field(default_factory=list)  # of a multipart
    message: Part | None = None  # of a message/rfc822 part: the encapsulated message

    @property
    def multipart(self) -> bool:
        return self.mtype == "multipart"

    def field(self, name: str) -> str | None:
        return header_field(self.header, name)


_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.MULTILINE)


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """(header including the blank line, body). A message without a blank line is all header."""
    if data.startswith(b"\r\n"):
        return b"\r\n", data[2:]
    i = data.find(b"\r\n\r\n")
    if i < 0:
        return data, b""
    return data[: i + 4], data[i + 4 :]


def header_lines(header: bytes) -> list[tuple[str, bytes]]:
    """(lower-case field name, the whole field with its folded lines and CRLF) in order."""
    out = []
    for m in re.finditer(rb"[^\r\n]+\r\n(?:[ \t][^\r\n]*\r\n)*", header):
        line = m.group(0)
        name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower() if b":" in line else ""
        out.append((name, line))
    return out


def header_field(header: bytes, name: str) -> str | None:
    """The unfolded value of the first ``name`` field (RFC 5322 2.2.3: CRLF removed), None if absent."""
    for fname, line in header_lines(header):
        if fname == name.lower():
            value = line.split(b":", 1)[1]
            return value.replace(b"\r\n", b"").strip(b" \t").decode("utf-8", "replace")
    return None


def raw_field(header: bytes, name: str) -> str | None:
    """Like ``header_field`` but the folding CRLFs kept (a defect's subject)."""
    for fname, line in header_lines(header):
        if fname == name.lower():
            return line.split(b":", 1)[1].rstrip(b"\r\n").strip(b" \t").decode("utf-8", "replace")
    return None


# --- Content-Type and friends ------------------------------------------------------------

_TOKEN = re.compile(r'\s*([^\s;="]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]*)')


def _strip_comments(value: str) -> str:
    out, depth, quoted = [], 0, False
    for i, ch in enumerate(value):
        if ch == '"' and depth == 0 and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        if not quoted and ch == "(":
            depth += 1
            continue
        if not quoted and ch == ")" and depth:
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    return "".join(out)


def content_type(value: str | None) -> tuple[str, str, list[tuple[str, str]]] | None:
    """``text/plain; charset="us-ascii"`` -> ("text", "plain", [("charset", "us-ascii")]); None when invalid."""
    if value is None:
        return None
    value = _strip_comments(value)
    head, _, rest = value.partition(";")
    mtype, slash, sub = head.strip().partition("/")
    if not slash or not mtype.strip() or not sub.strip():
        return None
    return mtype.strip().lower(), sub.strip().lower(), parameters(rest)


def parameters(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        out.append((m.group(1).lower(), v))
    return out


def disposition(part: Part) -> tuple[str, list[tuple[str, str]]] | None:
    value = part.field("Content-Disposition")
    if not value:
        return None
    value = _strip_comments(value)
    head, _, rest = value.partition(";")
    return head.strip().lower(), parameters(rest)


def encoding(part: Part) -> str:
    value = part.field("Content-Transfer-Encoding")
    return _strip_comments(value).strip().lower() if value else "7bit"


# --- parsing -------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def parse(data: bytes) -> Part:
    """The part tree of a whole message (its header is the RFC 5322 header)."""
    return _part(data, ("text", "plain"))


def _part(data: bytes, default: tuple[str, str]) -> Part:
    header, body = split_header(data)
    part = Part(header, body)
    ct = content_type(header_field(header, "Content-Type"))
    if ct is None:
        part.mtype, part.subtype = default
        part.params = [("charset", "us-ascii")] if default == ("text", "plain") else []
    else:
        part.mtype, part.subtype, part.params = ct
    boundary = dict(part.params).get("boundary")
    if part.multipart and boundary:
        inner = ("message", "rfc822") if part.subtype == "digest" else ("text", "plain")
        part.children = [_part(chunk, inner) for chunk in split_multipart(body, boundary.encode())]
        if not part.children:
            part.children = [Part(b"", b"")]
    elif (part.mtype, part.subtype) in (("message", "rfc822"), ("message", "global")):
        part.message = _part(body, ("text", "plain"))
    return part


def split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The contents of each body part: between delimiter lines, the CRLF before a delimiter excluded."""
    delim = re.compile(rb"(?:^|\r\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|$)")
    parts: list[bytes] = []
    start: int | None = None
    for m in delim.finditer(body):
        if start is not None:
            parts.append(body[start : m.start()])
        if m.group(1):
            return parts
        start = m.end()
    if start is not None:
        parts.append(body[start:])  # no close delimiter: the last part runs to the end
    return parts


# --- output helpers ----------------------------------------------------------------------


def nstring(value: str | bytes | None) -> bytes:
    if value is None:
        return b"NIL"
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) < 1000 and all(0x20 <= c < 0x7F for c in raw):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(raw) + raw


def plist(pairs: list[tuple[str, str]]) -> bytes:
    if not pairs:
        return b"NIL"
    return b"(" + b" ".join(nstring(k) + b" " + nstring(v) for k, v in pairs) + b")"


# --- ENVELOPE ------------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str]]:
    """RFC 5322 address tokens: ("q", quoted) ("a", atom/dot-atom) ("s", special) ("l", domain-literal)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            depth = 0
            while i < len(text):
                if text[i] == "\\":
                    i += 2
                    continue
                depth += text[i] == "("
                depth -= text[i] == ")"
                i += 1
                if depth == 0:
                    break
        elif ch == '"':
            j, buf = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                buf.append(text[j])
                j += 1
            out.append(("q", "".join(buf)))
            i = j + 1
        elif ch == "[":
            j = text.find("]", i)
            j = len(text) - 1 if j < 0 else j
            out.append(("l", text[i : j + 1]))
            i = j + 1
        elif ch in "<>@,;:":
            out.append(("s", ch))
            i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in '()<>@,;:"[':
                j += 1
            out.append(("a", text[i:j]))
            i = j
    return out


Address = tuple[str | None, str | None, str | None, str | None]


def _mailbox(tokens: list[tuple[str, str]]) -> Address | None:
    """One mailbox: ``phrase <local@domain>`` or ``local@domain``."""
    if not tokens:
        return None
    if ("s", "<") in tokens:
        lt = tokens.index(("s", "<"))
        gt = tokens.index(("s", ">")) if ("s", ">") in tokens else len(tokens)
        phrase = " ".join(v for _, v in tokens[:lt]) or None
        inner = tokens[lt + 1 : gt]
        route = None
        if ":" in [v for k, v in inner if k == "s"]:
            colon = inner.index(("s", ":"))
            route = "".join(v for _, v in inner[:colon])
            inner = inner[colon + 1 :]
        local, domain = _addr_spec(inner)
        return (phrase, route, local, domain)
    local, domain = _addr_spec(tokens)
    return (None, None, local, domain)


def _addr_spec(tokens: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    if ("s", "@") in tokens:
        at = len(tokens) - 1 - tokens[::-1].index(("s", "@"))
        local = "".join(
            f'"{v}"' if k == "q" and not re.fullmatch(r"[\w.!#$%&'*+/=?^`{|}~-]+", v) else v for k, v in tokens[:at]
        )
        return local or None, "".join(v for _, v in tokens[at + 1 :]) or None
    local = "".join(v for _, v in tokens)
    return local or None, None


def addresses(value: str | None, *, groups: bool = True) -> list[Address]:
    """An address-list with group start/end markers (RFC 9051 7.5.2)."""
    if value is None:
        return []
    out: list[Address] = []
    current: list[tuple[str, str]] = []
    in_group = False
    for tok in [*_tokens(value), ("s", ",")]:
        if tok == ("s", ":") and not in_group and ("s", "<") not in current:
            if groups:
                out.append((None, None, " ".join(v for _, v in current), None))
            current, in_group = [], True
        elif tok == ("s", ";") and in_group:
            mb = _mailbox(current)
            if mb is not None:
                out.append(mb)
            if groups:
                out.append((None, None, None, None))
            current, in_group = [], False
        elif tok == ("s", ","):
            mb = _mailbox(current)
            if mb is not None:
                out.append(mb)
            current = []
        else:
            current.append(tok)
    return out


def _alist(addrs: list[Address], q: Quirks) -> bytes:
    if not addrs:
        return b"()" if q.envelope_empty_lists else b"NIL"
    return b"(" + b"".join(b"(" + b" ".join(nstring(x) for x in a) + b")" for a in addrs) + b")"


def envelope(data: bytes, q: Quirks = Quirks()) -> bytes:
    """The ENVELOPE of a message (or of the message a message/rfc822 part holds)."""
    header = split_header(data)[0]

    def text(name: str) -> bytes:
        v = raw_field(header, name) if q.envelope_folded_subject and name == "Subject" else header_field(header, name)
        if v is None and q.envelope_empty_for_absent:
            return b'""'
        return nstring(v)

    def alist(name: str) -> list[Address]:
        return addresses(header_field(header, name), groups=not q.envelope_no_groups)

    frm = alist("From")
    sender = alist("Sender") or ([] if q.envelope_no_sender_default else frm)
    reply = alist("Reply-To") or ([] if q.envelope_no_sender_default else frm)
    to, cc = alist("To"), alist("Cc")
    if q.envelope_swap_to_cc:
        to, cc = cc, to
    fields = [
        text("Date"),
        text("Subject"),
        _alist(frm, q),
        _alist(sender, q),
        _alist(reply, q),
        _alist(to, q),
        _alist(cc, q),
        _alist(alist("Bcc"), q),
        text("In-Reply-To"),
        text("Message-ID"),
    ]
    return b"(" + b" ".join(fields) + b")"


# --- BODY / BODYSTRUCTURE ----------------------------------------------------------------------


def decode(part: Part) -> bytes:
    """The part's body with its transfer encoding removed; No [UNKNOWN-CTE] for an unknown one."""
    enc = encoding(part)
    if enc == "base64":
        try:
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", part.body))
        except (binascii.Error, ValueError):
            raise No("the base64 content cannot be decoded", code="PARSE") from None
    if enc == "quoted-printable":
        return quopri.decodestring(part.body)
    if enc in ("7bit", "8bit", "binary"):
        return part.body
    raise No(f"unknown Content-Transfer-Encoding {enc}", code="UNKNOWN-CTE")


def body_structure(part: Part, *, extensions: bool, q: Quirks = Quirks(), top: bool = True) -> bytes:
    """BODY (``extensions`` False) or BODYSTRUCTURE of a part tree."""
    ext = extensions or q.body_extensions
    if part.multipart:
        kids = part.children
        if q.flatten_multipart:
            kids = [g for k in kids for g in (k.children if k.multipart else [k])]
        out = b"(" + b"".join(body_structure(k, extensions=extensions, q=q, top=False) for k in kids)
        out += b" " + nstring(part.subtype)
        if ext:
            tail = [_disposition(part), _language(part), nstring(part.field("Content-Location"))]
            params = plist(part.params)
            tail = [*tail[:1], params, *tail[1:]] if q.extension_order else [params, *tail]
            out += b" " + b" ".join(tail)
        return out + b")"
    mtype, sub = part.mtype, part.subtype
    if q.no_default_type and part.field("Content-Type") is None:
        mtype, sub = "application", "octet-stream"
    size = len(part.body)
    if q.size_decoded:
        with contextlib.suppress(No):
            size = len(decode(part))
    fields = [
        nstring(mtype),
        nstring(sub),
        b"NIL" if q.drop_params else plist(part.params),
        nstring(part.field("Content-ID")),
        nstring(part.field("Content-Description")),
        nstring(encoding(part)),
        str(size).encode(),
    ]
    if part.message is not None and not q.rfc822_as_leaf:
        inner = body_structure(part.message, extensions=extensions, q=q, top=False)
        fields += [envelope(part.body, q), inner, str(part.body.count(b"\n")).encode()]
    elif mtype == "text":
        fields.append(str(part.body.count(b"\n") + (1 if q.text_lines_off else 0)).encode())
    if ext:
        tail = [
            nstring(part.field("Content-MD5")),
            _disposition(part),
            _language(part),
            nstring(part.field("Content-Location")),
        ]
        if q.extension_order:
            tail[0], tail[1] = tail[1], tail[0]
        fields += tail
    return b"(" + b" ".join(fields) + b")"


def _disposition(part: Part) -> bytes:
    d = disposition(part)
    return b"NIL" if d is None else b"(" + nstring(d[0]) + b" " + plist(d[1]) + b")"


def _language(part: Part) -> bytes:
    value = part.field("Content-Language")
    if not value:
        return b"NIL"
    tags = [t.strip() for t in _strip_comments(value).split(",") if t.strip()]
    return nstring(tags[0]) if len(tags) == 1 else b"(" + b" ".join(nstring(t) for t in tags) + b")"


# --- sections ----------------------------------------------------------------------------------

_SECTION = re.compile(
    r"^((?:\d+\.)*\d+)?(?:\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)(?:\s*\((.*)\))?)?$", re.I
)


@dataclass(frozen=True)
class Section:
    path: tuple[int, ...]
    text: str  # "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: tuple[str, ...] = ()


def parse_section(spec: str) -> Section | None:
    """``1.2.HEADER.FIELDS (From To)`` -> Section((1, 2), "HEADER.FIELDS", ("FROM", "TO")); None if invalid."""
    m = _SECTION.match(spec.strip())
    if m is None:
        return None
    path = tuple(int(n) for n in m.group(1).split(".")) if m.group(1) else ()
    if any(n == 0 for n in path):
        return None
    text = (m.group(2) or "").upper()
    if text == "MIME" and not path:
        return None
    if text.startswith("HEADER.FIELDS") != (m.group(3) is not None):
        return None
    names = tuple(n.strip('"').upper() for n in (m.group(3) or "").split())
    if text.startswith("HEADER.FIELDS") and not names:
        return None
    return Section(path, text, names)


def locate(root: Part, path: tuple[int, ...], *, flatten: bool = False, leaf: bool = False) -> Part | None:
    """The part a part-number path names; None when there is none (``leaf``: message/rfc822 parts
    are not looked into, a defect)."""
    cur = root
    for i, n in enumerate(path):
        if cur.message is not None and i > 0 and not leaf:
            cur = cur.message  # numbers after a message/rfc822 part address its message's parts
        if cur.multipart:
            kids = [g for k in cur.children for g in (k.children if k.multipart else [k])] if flatten else cur.children
            if not 1 <= n <= len(kids):
                return None
            cur = kids[n - 1]
        elif n != 1:
            return None
    return cur


def section_data(root: Part, sec: Section, *, q: Quirks = Quirks(), blank_line: bool = True) -> bytes | None:
    """The octets of ``BODY[sec]``; None when the section does not exist."""
    part = locate(root, sec.path, flatten=q.flatten_multipart, leaf=q.rfc822_as_leaf)
    if part is None:
        return None
    if sec.text == "MIME":
        return part.header if blank_line else part.header.removesuffix(b"\r\n")
    if sec.text == "":
        if not sec.path:
            return part.header + part.body
        return part.body
    msg = part if not sec.path else part.message
    if msg is None or (q.rfc822_as_leaf and sec.path):
        return None
    if sec.text == "TEXT":
        return msg.body
    lines = header_lines(msg.header)
    if sec.text == "HEADER":
        out = b"".join(line for _, line in lines)
    else:
        wanted = {f.lower() for f in sec.fields}
        listed = sec.text == "HEADER.FIELDS"  # HEADER.FIELDS.NOT keeps the fields not listed
        out = b"".join(line for name, line in lines if (name in wanted) == listed)
    if (blank_line and msg.header.endswith(b"\r\n\r\n")) or msg.header == b"\r\n":
        out += b"\r\n"
    return out

"""Seeded interop defects: a store that changes a message, or its flags, between the protocols.

Each is a behaviour of the embedded peer's mail store (``MailStore.hooks``), not of
one server: what SMTP or LMTP delivers is changed on its way into the store
(``on_deliver``), what the POP3 server reads is changed on its way out
(``on_read``), flag changes or expunges are not kept. The interop scenarios
(``scenarios/interop``) prove with them that each cross-protocol case can fail.
"""

from __future__ import annotations

import dataclasses
import re

from ..store import StoredMessage, StoreHooks
from .behaviours import Behaviour, Behaviours, behaviour


def _b(name: str, description: str) -> Behaviour:
    return behaviour("interop", name, description)


# -- on delivery (SMTP/LMTP into the store: every protocol reads the changed message) --
ALTERS_BODY_BYTE = _b("alters-body-byte", "changes one octet in the middle of a delivered message's body")
DOT_LINES = _b("unstuffs-dot-lines-twice", "removes the leading '.' of body lines a second time on delivery")
HIGH_BIT = _b("replaces-8bit-octets", "replaces every 8-bit octet of a delivered message with '?'")
UNFOLDS = _b("unfolds-headers", "unfolds folded header fields of a delivered message")
TRUNCATES = _b("truncates-large", "keeps only the first MiB of a delivered message")
CONTROL = _b("drops-control-chars", "drops control characters (other than CR, LF and HT) from a delivered message")
EXTRA_CRLF = _b("adds-final-crlf", "appends an empty line to a delivered message")
DROPS_RECEIVED = _b("drops-old-received", "keeps only its own Received field, dropping those the message had")
REORDERS = _b("reorders-headers", "sorts the header fields of a delivered message by name")
# -- on the POP3 server's read path --
POP3_DROPS_HEADER = _b("pop3-drops-header", "leaves the Subject field out of messages it serves over POP3")
# -- flags and expunges --
KEYWORDS_LOST = _b("keywords-not-kept", "keeps changes of system flags only: keywords set or cleared are lost")
FLAGS_LOST = _b("flags-not-kept", "loses changes of \\Flagged, \\Answered and \\Draft (kept by the session only)")
EXPUNGE_KEEPS = _b("expunge-keeps", "does not remove expunged or POP3-deleted messages: marks them \\Deleted")

MIB = 1 << 20
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FIELD_START = re.compile(rb"\r\n(?=[^ \t])")
KEPT_FLAGS = ("\\Flagged", "\\Answered", "\\Draft")


def split(data: bytes) -> tuple[bytes, bytes]:
    """(header section without the blank line's CRLF, rest from the blank line's CRLF on)."""
    i = data.find(b"\r\n\r\n")
    return (data, b"") if i < 0 else (data[: i + 2], data[i + 2 :])


def fields(header: bytes) -> list[bytes]:
    """The header fields (each with its folded lines and final CRLF)."""
    parts: list[bytes] = _FIELD_START.split(header.removesuffix(b"\r\n")) if header else []
    return [f + b"\r\n" for f in parts]


def _alter_byte(data: bytes) -> bytes:
    head, _rest = split(data)
    start = len(head) + 2
    for i in range(start + (len(data) - start) // 2, len(data)):
        if data[i] not in b"\r\n":
            new = data[i] ^ 0x01
            if new in b"\r\n.":
                new = data[i] ^ 0x02
            return data[:i] + bytes([new]) + data[i + 1 :]
    return data


def _unfold(data: bytes) -> bytes:
    head, rest = split(data)
    return re.sub(rb"\r\n([ \t])", rb"\1", head) + rest


def _drop_old_received(data: bytes) -> bytes:
    head, rest = split(data)
    out, seen = [], False
    for f in fields(head):
        if f.lower().startswith(b"received:"):
            if seen:
                continue
            seen = True
        out.append(f)
    return b"".join(out) + rest


def _reorder(data: bytes) -> bytes:
    head, rest = split(data)
    fs = fields(head)
    if len(fs) < 3:
        return data
    ordered: list[bytes] = sorted(fs[1:], key=_field_name)
    return fs[0] + b"".join(ordered) + rest


def _field_name(f: bytes) -> bytes:
    return f.split(b":", 1)[0].lower()


def _drop_subject(data: bytes) -> bytes:
    head, rest = split(data)
    return b"".join(f for f in fields(head) if not f.lower().startswith(b"subject:")) + rest


class InteropHooks(StoreHooks):
    """The store hooks of the interop behaviours that are switched on."""

    def __init__(self, behaviours: Behaviours) -> None:
        self.b = behaviours

    def on_deliver(self, data: bytes) -> bytes:
        b = self.b
        if ALTERS_BODY_BYTE in b:
            data = _alter_byte(data)
        if DOT_LINES in b:
            data = data.replace(b"\r\n.", b"\r\n")
        if HIGH_BIT in b:
            data = bytes(c if c < 0x80 else 0x3F for c in data)
        if UNFOLDS in b:
            data = _unfold(data)
        if TRUNCATES in b and len(data) > MIB:
            data = data[:MIB]
        if CONTROL in b:
            data = _CONTROL.sub(b"", data)
        if EXTRA_CRLF in b:
            data += b"\r\n"
        if DROPS_RECEIVED in b:
            data = _drop_old_received(data)
        if REORDERS in b:
            data = _reorder(data)
        return data

    def on_read(self, msg: StoredMessage) -> StoredMessage:
        if POP3_DROPS_HEADER in self.b:
            return dataclasses.replace(msg, data=_drop_subject(msg.data))
        return msg

    def on_set_flags(self, old: set[str], new: set[str]) -> set[str]:
        if KEYWORDS_LOST in self.b:
            new = {f for f in new if f.startswith("\\")} | {f for f in old if not f.startswith("\\")}
        if FLAGS_LOST in self.b:
            new = {f for f in new if f not in KEPT_FLAGS} | {f for f in old if f in KEPT_FLAGS}
        return new

    def removes_on_expunge(self) -> bool:
        return EXPUNGE_KEEPS not in self.b


def hooks_for(behaviours: Behaviours) -> StoreHooks | None:
    """The store hooks for an embedded peer with these behaviours, None when no interop one is on."""
    if any(name.startswith("interop.") for name in behaviours.names):
        return InteropHooks(behaviours)
    return None

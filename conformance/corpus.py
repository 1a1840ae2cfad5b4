"""The fixed corpus of test messages (``fixtures/messages/*.eml``) and what IMAP must say about them.

Each message is stored with CRLF line ends, byte for byte what a case APPENDs.
Beside the bytes, ``EXPECTED_BODY`` gives the non-extensible body structure
(FETCH BODY, RFC 9051 section 7.5.2) each one has, worked out from the MIME
text and cross-checked against Dovecot 2.3 and the embedded server's parser;
``EXPECTED_ENVELOPE`` gives the envelope of the messages whose header
exercises the envelope rules. ``normalize_body`` turns a server's answer into
the same shape, so cases compare structures and not spelling (type names,
parameter names and encodings are case-insensitive in MIME).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .wire import imap as wire

CORPUS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "messages"


@cache
def message(name: str) -> bytes:
    """The octets of ``fixtures/messages/<name>.eml``."""
    return (CORPUS_DIR / f"{name}.eml").read_bytes()


def names() -> list[str]:
    return sorted(p.stem for p in CORPUS_DIR.glob("*.eml"))


def split(data: bytes) -> tuple[bytes, bytes]:
    """(header including the blank line, body) of a CRLF message."""
    head, sep, body = data.partition(b"\r\n\r\n")
    return (head + sep, body) if sep else (data, b"")


# --- body structures ------------------------------------------------------------

# A leaf: (type, subtype, params, id, description, encoding, size[, lines]) with lines for text/*;
# message/rfc822: the same plus (body, lines); a multipart: (tuple of parts, subtype).
Leaf = tuple[object, ...]


@dataclass(frozen=True)
class Multipart:
    parts: tuple[object, ...]
    subtype: str


def _t(sub: str, params: dict[str, str], size: int, lines: int, enc: str = "7bit", **kw: str | None) -> Leaf:
    return ("text", sub, params, kw.get("id"), kw.get("desc"), enc, size, lines)


US = {"charset": "us-ascii"}
UTF8 = {"charset": "utf-8"}
NESTED_ATTACHMENT = Multipart(
    (_t("plain", US, 19, 0), ("application", "octet-stream", {}, None, None, "base64", 36)), "mixed"
)

EXPECTED_BODY: dict[str, object] = {
    "plain-7bit": _t("plain", US, 69, 2),
    "8bit-body": _t("plain", UTF8, 71, 2, "8bit"),
    "encoded-words": _t("plain", US, 35, 1),
    "long-folded-headers": _t("plain", US, 33, 1),
    "minimal-headers": _t("plain", US, 77, 1),
    "multipart-mixed": Multipart(
        (
            _t("plain", US, 69, 2),
            (
                "application",
                "octet-stream",
                {"name": "report.bin"},
                "<report-bin@example.org>",
                "Binary report",
                "base64",
                484,
            ),
        ),
        "mixed",
    ),
    "nested-alternative": Multipart(
        (
            Multipart((_t("plain", UTF8, 40, 0, "quoted-printable"), _t("html", UTF8, 45, 0)), "alternative"),
            _t("csv", {"name": "data.csv"}, 12, 1),
        ),
        "mixed",
    ),
    "rfc822-attached": Multipart(
        (
            _t("plain", US, 32, 0),
            ("message", "rfc822", {}, None, "Forwarded message", "7bit", 490, NESTED_ATTACHMENT, 18),
        ),
        "mixed",
    ),
    "unknown-cte": Multipart(
        (_t("plain", US, 52, 0), ("application", "octet-stream", {}, None, None, "x-mailspec-unknown", 40)), "mixed"
    ),
}


def _s(v: wire.Value) -> str | None:
    if v is None:
        return None
    if isinstance(v, bytes | str):
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    raise ValueError(f"expected a string, got {v!r}")


def _params(v: wire.Value) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, list) or len(v) % 2:
        raise ValueError(f"body parameters are not a list of pairs: {v!r}")
    # Names are case-insensitive (RFC 2045 5.1); so are the values that matter here (charsets).
    return {(_s(v[i]) or "").lower(): (_s(v[i + 1]) or "").lower() for i in range(0, len(v), 2)}


def normalize_body(v: wire.Value) -> object:
    """A server's BODY / BODYSTRUCTURE value in the shape of ``EXPECTED_BODY`` (extension data dropped).

    Raises ValueError when the value does not follow the body grammar.
    """
    if not isinstance(v, list) or not v:
        raise ValueError(f"a body structure is a non-empty list: {v!r}")
    if isinstance(v[0], list):
        parts = []
        i = 0
        while i < len(v) and isinstance(v[i], list):
            parts.append(normalize_body(v[i]))
            i += 1
        if i >= len(v):
            raise ValueError("a multipart body has no subtype after its parts")
        return Multipart(tuple(parts), (_s(v[i]) or "").lower())
    if len(v) < 7:
        raise ValueError(f"a body part has fewer than 7 basic fields: {v!r}")
    mtype, sub = (_s(v[0]) or "").lower(), (_s(v[1]) or "").lower()
    size = v[6]
    if not isinstance(size, str) or not size.isdigit():
        raise ValueError(f"body size is not a number: {size!r}")
    basic: list[object] = [
        mtype,
        sub,
        _params(v[2]),
        _s(v[3]),
        _s(v[4]),
        (_s(v[5]) or "").lower(),
        int(size),
    ]
    if mtype == "text":
        if len(v) < 8 or not isinstance(v[7], str) or not v[7].isdigit():
            raise ValueError(f"a text part has no line count after its basic fields: {v!r}")
        basic.append(int(v[7]))
    elif mtype == "message" and sub == "rfc822":
        if len(v) < 10 or not isinstance(v[7], list) or not isinstance(v[9], str) or not v[9].isdigit():
            raise ValueError(f"a message/rfc822 part lacks envelope, body and lines: {v!r}")
        basic += [normalize_body(v[8]), int(v[9])]
    return tuple(basic)


def extensions(v: wire.Value, path: str = "") -> dict[str, list[wire.Value]]:
    """The extension data after the basic (and type-specific) fields of every part, by part path.

    A multipart's own extension data is under ``path + "multipart"`` (``"multipart"``, ``"1.multipart"``).
    """
    out: dict[str, list[wire.Value]] = {}
    if not isinstance(v, list) or not v:
        return out
    if isinstance(v[0], list):
        i = 0
        while i < len(v) and isinstance(v[i], list):
            out.update(extensions(v[i], f"{path}{i + 1}."))
            i += 1
        out[f"{path}multipart"] = list(v[i + 1 :])
        return out
    mtype, sub = (_s(v[0]) or "").lower(), (_s(v[1]) or "").lower()
    basic = 8 if mtype == "text" else 10 if (mtype, sub) == ("message", "rfc822") else 7
    if basic == 10 and len(v) > 8:
        out.update(extensions(v[8], f"{path}"))
    out[path.rstrip(".") or "1"] = list(v[basic:])
    return out


def same_body(expected: object, got: object) -> bool:
    """Equal, except that a server may state the default charset us-ascii of a text part (RFC 2045 5.2)."""
    if isinstance(expected, Multipart) and isinstance(got, Multipart):
        return (
            expected.subtype == got.subtype
            and len(expected.parts) == len(got.parts)
            and all(same_body(e, g) for e, g in zip(expected.parts, got.parts, strict=True))
        )
    if isinstance(expected, tuple) and isinstance(got, tuple) and len(expected) == len(got):
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            if i == 2 and isinstance(e, dict) and isinstance(g, dict):
                extra = {k: v for k, v in g.items() if k not in e}
                if {k: g.get(k) for k in e} != e or extra not in ({}, US):
                    return False
            elif isinstance(e, Multipart | tuple):
                if not same_body(e, g):
                    return False
            elif e != g:
                return False
        return True
    return False


def show_body(b: object) -> str:
    if isinstance(b, Multipart):
        return "(" + "".join(show_body(p) for p in b.parts) + f" {b.subtype})"
    if isinstance(b, tuple):
        return "(" + " ".join(show_body(x) for x in b) + ")"
    return repr(b)


# --- envelopes --------------------------------------------------------------------

Address = tuple[str | None, str | None, str | None, str | None]


def _addr(name: str | None, mailbox: str | None, host: str | None) -> Address:
    return (name, None, mailbox, host)


MIXED_FROM = (_addr("Alice Example", "alice", "example.org"),)
EXPECTED_ENVELOPE: dict[str, tuple[object, ...]] = {
    "multipart-mixed": (
        "Tue, 14 Jul 2020 10:00:00 +0200",
        "Report with attachment",
        MIXED_FROM,
        (_addr("Secretary", "secretary", "example.org"),),
        (_addr("Replies", "replies", "example.org"),),
        (_addr("Bob", "bob", "example.net"), _addr(None, "carol", "example.net")),
        (_addr("Dave", "dave", "example.com"),),
        (_addr(None, "eve", "example.com"),),
        "<parent-1@example.org>",
        "<mixed-1@example.org>",
    ),
    "plain-7bit": (
        "Mon, 7 Feb 1994 21:52:25 -0800",
        "afternoon meeting",
        (_addr("Fred Foobar", "foobar", "blurdybloop.example"),),
        (_addr("Fred Foobar", "foobar", "blurdybloop.example"),),
        (_addr("Fred Foobar", "foobar", "blurdybloop.example"),),
        (_addr(None, "mooch", "owatagu.example"),),
        None,
        None,
        None,
        "<B27397-0100000@blurdybloop.example>",
    ),
}
# The Cc of long-folded-headers: two groups, one with members, one empty.
GROUP_CC = (
    _addr(None, "Project Team", None),
    _addr(None, "member.one", "example.com"),
    _addr("Member Two", "member.two", "example.com"),
    _addr(None, None, None),
    _addr(None, "Undisclosed recipients", None),
    _addr(None, None, None),
)


def normalize_address_list(v: wire.Value) -> tuple[Address, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list):
        raise ValueError(f"an address list is NIL or a list: {v!r}")
    out = []
    for a in v:
        if not isinstance(a, list) or len(a) != 4:
            raise ValueError(f"an address has 4 fields: {a!r}")
        out.append((_s(a[0]), _s(a[1]), _s(a[2]), _s(a[3])))
    return tuple(out)


def normalize_envelope(v: wire.Value) -> tuple[object, ...]:
    """A server's ENVELOPE value as (date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, message-id)."""
    if not isinstance(v, list) or len(v) != 10:
        raise ValueError(f"an envelope is a list of 10 fields: {v!r}")
    return (
        _s(v[0]),
        _s(v[1]),
        *(normalize_address_list(x) for x in v[2:8]),
        _s(v[8]),
        _s(v[9]),
    )


# --- helpers for the message cases (scenarios/imap/test_message_*.py) ---------------------


def flag_set(v: wire.Value) -> set[str]:
    """A FLAGS value as a set, ``\\Recent`` left out (IMAP4rev1's session flag, not stored)."""
    if not isinstance(v, list):
        return set()
    return {str(f) for f in v if isinstance(f, str) and str(f).lower() != "\\recent"}


def as_bytes(v: wire.Value) -> bytes | None:
    """A string or literal value as octets (None for NIL or a non-string)."""
    return bytes(v) if isinstance(v, bytes) else None


def simple(n: int, subject: str = "mailspec message") -> list[bytes]:
    """``n`` small distinct test messages (make_message), for cases that need some."""
    from .context import make_message

    return [make_message(f"{subject} {i + 1}")[0] for i in range(n)]

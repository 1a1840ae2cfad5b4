"""Mailbox helpers for IMAP scenarios: LIST/STATUS/NAMESPACE/QUOTA responses as data, and private trees.

``Tree`` is a hierarchy of mailboxes only one case uses: a unique top-level
name (under the personal namespace's prefix) with the server's delimiter.
Everything under it is deleted, deepest first, when the ``with`` block ends,
and what the case subscribed to is unsubscribed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..verdict import unsupported
from ..wire import imap as wire
from ..wire.errors import Deviation, RemoteProtocolError
from .imap import IMAPClient, IMAPSessions, Result


def _text(v: wire.Value) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


@dataclass(frozen=True)
class ListEntry:
    """One ``* LIST (attrs) "delim" name [extended]`` (or LSUB) response."""

    attrs: tuple[str, ...]
    delimiter: str | None
    name: str
    extended: tuple[wire.Value, ...] = ()
    raw: bytes = b""

    def has(self, attr: str) -> bool:
        return attr.lower() in (a.lower() for a in self.attrs)

    @property
    def selectable(self) -> bool:
        return not (self.has("\\Noselect") or self.has("\\NonExistent"))

    def childinfo(self) -> list[str] | None:
        """The CHILDINFO extended item's selection criteria, None when there is none."""
        for ext in self.extended:
            if not isinstance(ext, list):
                continue
            for key, val in zip(ext[0::2], ext[1::2], strict=False):
                if _text(key).upper() == "CHILDINFO" and isinstance(val, list):
                    return [_text(x).upper() for x in val]
        return None


def parse_list(u: wire.Untagged) -> ListEntry:
    vals = u.values
    if len(vals) < 3 or not isinstance(vals[0], list):
        raise RemoteProtocolError(Deviation(f"malformed {u.name} response: {u.raw[:100]!r}", 0, "RFC 9051", "7.3.1"))
    return ListEntry(
        tuple(_text(a) for a in vals[0]),
        None if vals[1] is None else _text(vals[1]),
        _text(vals[2]),
        tuple(vals[3:]),
        u.raw,
    )


def entries(res: Result, kind: str = "LIST") -> list[ListEntry]:
    return [parse_list(u) for u in res.named(kind)]


def names(res: Result, kind: str = "LIST") -> list[str]:
    return [e.name for e in entries(res, kind)]


def status_values(u: wire.Untagged) -> tuple[str, dict[str, int]]:
    """``* STATUS name (MESSAGES 2 UIDNEXT 5)`` -> ("name", {"MESSAGES": 2, "UIDNEXT": 5})."""
    if len(u.values) != 2 or not isinstance(u.values[1], list) or len(u.values[1]) % 2:
        raise RemoteProtocolError(Deviation(f"malformed STATUS response: {u.raw[:100]!r}", 0, "RFC 9051", "7.3.3"))
    items = u.values[1]
    out: dict[str, int] = {}
    for i in range(0, len(items), 2):
        val = _text(items[i + 1])
        if not val.isdigit():
            raise RemoteProtocolError(Deviation(f"STATUS item value is not a number: {val!r}", 0, "RFC 9051", "9"))
        out[_text(items[i]).upper()] = int(val)
    return _text(u.values[0]), out


def status(client: IMAPClient, mailbox: str, items: str) -> tuple[Result, dict[str, int] | None]:
    """STATUS ``mailbox`` (items): the result and the values of its STATUS response, if any."""
    res = client.command("STATUS", mailbox, wire.Atom(f"({items})"))
    found = [status_values(u) for u in res.named("STATUS")]
    return res, (found[-1][1] if found else None)


def list_raw(client: IMAPClient, args: str) -> Result:
    """LIST with its arguments as written (extended syntax: selection options, pattern lists, RETURN)."""
    return client.command("LIST", wire.Atom(args))


def quote(name: str) -> str:
    """An IMAP quoted string for an ASCII or UTF-8 name (for raw LIST arguments)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def delimiter(client: IMAPClient) -> str | None:
    """The hierarchy delimiter from ``LIST "" ""`` (None for a flat server)."""
    res = client.command("LIST", "", "")
    got = entries(res)
    if not res.ok or not got:
        unsupported(f'LIST "" "" gave no hierarchy delimiter: {res}')
    return got[0].delimiter


def personal_prefix(client: IMAPClient) -> str:
    """The first personal namespace's prefix ("" when NAMESPACE is not offered)."""
    if "NAMESPACE" not in client.capabilities and "IMAP4REV2" not in client.capabilities:
        return ""
    res = client.command("NAMESPACE")
    for u in res.named("NAMESPACE"):
        personal = u.values[0] if u.values else None
        if isinstance(personal, list) and personal and isinstance(personal[0], list) and personal[0]:
            return _text(personal[0][0])
    return ""


@dataclass
class Tree:
    """A private mailbox hierarchy: ``root`` and the names under it."""

    client: IMAPClient
    root: str
    delim: str
    subscribed: list[str] = field(default_factory=list)

    def name(self, *parts: str) -> str:
        return self.delim.join([self.root, *parts])

    def create(self, *parts: str) -> str:
        """CREATE root/parts...; UNSUPPORTED when the server refuses (the case needs it)."""
        name = self.name(*parts)
        res = self.client.command("CREATE", name)
        if not res.ok:
            unsupported(f"cannot create the case's mailbox {name}: {res}")
        return name

    def subscribe(self, name: str) -> None:
        res = self.client.command("SUBSCRIBE", name)
        if not res.ok:
            unsupported(f"cannot subscribe to {name}: {res}")
        self.subscribed.append(name)

    def append(self, name: str, count: int = 1, flags: tuple[str, ...] | None = None) -> None:
        from ..context import make_message

        for i in range(count):
            res = self.client.append(name, make_message(f"mailspec {i}")[0], flags)
            if not res.ok:
                unsupported(f"cannot APPEND a test message to {name}: {res}")


@contextmanager
def tree(imap: IMAPSessions, client: IMAPClient, account: int = 0) -> Iterator[Tree]:
    """A ``Tree`` for the case (of test ``account``, as ``client`` is); removed (deepest first) and unsubscribed at the end."""
    delim = delimiter(client)
    if delim is None:
        unsupported("the server has no mailbox hierarchy (LIST gave a NIL delimiter)")
    root = f"{personal_prefix(client)}mailspec-{uuid.uuid4().hex[:10]}"
    t = Tree(client, root, delim)
    try:
        yield t
    finally:
        _remove(imap, t, account)


def _remove(imap: IMAPSessions, t: Tree, account: int) -> None:
    try:
        c = imap.login(profile=False, account=account)
        for name in t.subscribed:
            c.command("UNSUBSCRIBE", name)
        found = names(c.command("LIST", "", t.root + "*"))
        for name in sorted(set(found) | {t.root}, key=lambda n: (-n.count(t.delim), n)):
            c.command("DELETE", name)
        c.logout()
    except Exception:  # cleanup must not turn a verdict into an error
        pass

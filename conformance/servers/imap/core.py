"""Embedded reference IMAP server: sessions, states, dispatch, output, the selected view.

The server is strict where RFC 9051 (and RFC 3501 for IMAP4rev1 sessions) is, on
the shared ``MailStore``: mail delivered over SMTP or LMTP shows up in INBOX.
It announces IMAP4rev1 and IMAP4rev2 and acts as IMAP4rev1 until a client
ENABLEs IMAP4rev2 (RFC 9051 section 2.1 / appendix E).

Layout (one module per area, each declaring the behaviours it implements):

- ``core.py``      this file: the session loop, states, command registry, output helpers,
                   argument helpers, the selected mailbox's view and the change notifications
- ``auth.py``      CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ENABLE, ID...
- ``mailboxes.py`` SELECT, EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS...
- ``messages.py``  APPEND, CHECK, CLOSE, UNSELECT, EXPUNGE, FETCH, STORE, COPY, MOVE (and UID forms)
- ``search.py``    SEARCH, IDLE, CONDSTORE/QRESYNC
- ``mime.py``      message structure: ENVELOPE, BODYSTRUCTURE, sections

A command handler::

    @command("FETCH", states=SELECTED, uid=True)       # also registers "UID FETCH"
    async def fetch(s: Session, cmd: Cmd) -> None:
        s.untagged(b"1 FETCH (FLAGS ())")              # "* " and CRLF are added
        # return -> "<tag> OK FETCH completed"; raise No("...") / Bad("...", code="...");
        # or s.tagged("OK", "text", code="...") to complete with another text or code.

A behaviour (seeded defect), declared in the module that implements it, one line::

    NO_BYE = defect("logout-no-bye", "closes at LOGOUT without an untagged BYE")
    ... if NO_BYE in s.b: ...

Capabilities: a module calls ``offer("IDLE")`` for what it implements; auth.py
builds the CAPABILITY list from ``OFFERED`` and the session's state.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ...store import Mailbox, MailStore, StoredMessage
from ...wire import imap as wire
from ...wire.errors import RemoteProtocolError
from ..behaviours import Behaviour, Behaviours, behaviour

NOT_AUTH, AUTH, SELECTED, LOGOUT = "not authenticated", "authenticated", "selected", "logout"
ANY = (NOT_AUTH, AUTH, SELECTED)
NO_EXPUNGE_DURING = ("FETCH", "STORE", "SEARCH")
AUTHED = (AUTH, SELECTED)


def defect(name: str, description: str) -> Behaviour:
    return behaviour("imap", name, description)


SEARCHRES_EMPTY_BAD = defect("searchres-empty-bad", "answers $ with BAD while no search result is saved")
SEARCHRES_KEPT_ON_SELECT = defect("searchres-kept-on-select", "keeps the saved search result across SELECT")

OFFERED: list[str] = []
# What tells a session about other sessions' changes (search.py's notify); Session.sync runs it.
NOTIFY: list[Callable[[Session, bool], None]] = []


def offer(*capabilities: str) -> None:
    """Announce capabilities this server implements (in CAPABILITY, after login)."""
    for c in capabilities:
        if c not in OFFERED:
            OFFERED.append(c)


class Bad(Exception):
    """Complete the command with BAD (syntax, wrong state)."""

    def __init__(self, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


class No(Exception):
    """Complete the command with NO (well-formed but refused)."""

    def __init__(self, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


class Close(Exception):
    """End the session after flushing what is queued."""


@dataclass(frozen=True)
class Cmd:
    tag: str
    name: str  # "FETCH" for both FETCH and UID FETCH
    args: tuple[wire.Value, ...]
    uid: bool
    raw: bytes


Handler = Callable[["Session", Cmd], Awaitable[None]]


@dataclass(frozen=True)
class _Entry:
    handler: Handler
    states: tuple[str, ...]
    uid: bool


COMMANDS: dict[str, _Entry] = {}


def command(*names: str, states: tuple[str, ...] = ANY, uid: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler for ``names`` in ``states``; ``uid`` also registers the UID form."""

    def deco(fn: Handler) -> Handler:
        for n in names:
            COMMANDS[n.upper()] = _Entry(fn, states, uid)
        return fn

    return deco


# --- argument helpers -----------------------------------------------------------------


def astring(v: wire.Value, what: str = "argument") -> str:
    """An atom or string argument as text (UTF-8)."""
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise Bad(f"{what} is not UTF-8") from None
    if isinstance(v, str):
        return str(v)
    raise Bad(f"{what} must be an atom or a string")


def nargs(cmd: Cmd, *counts: int) -> None:
    if len(cmd.args) not in counts:
        raise Bad(f"{cmd.name} takes {' or '.join(map(str, counts))} argument(s), got {len(cmd.args)}")


_INBOX = re.compile(r"^inbox(?=/|$)", re.IGNORECASE)


# --- the selected mailbox as one session sees it ----------------------------------------


@dataclass
class View:
    """What the session has been told: the UIDs in message-number order and their flags.

    Other sessions change the store at any time; ``Session.sync`` tells this session
    about it (EXISTS, EXPUNGE, FETCH FLAGS) only where RFC 9051 5.2 / 7.5.1 allow.
    """

    name: str
    readonly: bool
    uidvalidity: int
    uids: list[int] = field(default_factory=list)
    flags: dict[int, frozenset[str]] = field(default_factory=dict)
    recent: set[int] = field(default_factory=set)  # IMAP4rev1 \\Recent for this session
    modseqs: dict[int, int] = field(default_factory=dict)

    def seq(self, uid: int) -> int | None:
        try:
            return self.uids.index(uid) + 1
        except ValueError:
            return None


@dataclass
class IMAPConfig:
    hostname: str = "imap.mailspec.test"
    tls: ssl.SSLContext | None = None  # offered via STARTTLS when set
    implicit_tls: bool = False
    idle_timeout: float = 1800.0  # RFC 9051 5.4: an autologout timer of at least 30 minutes
    behaviours: Behaviours = field(default_factory=Behaviours)
    recent_claims: dict[tuple[str, str, int], set[int]] = field(default_factory=dict)  # rev1 \\Recent owners


class Session:
    def __init__(
        self, cfg: IMAPConfig, store: MailStore, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.cfg = cfg
        self.b = cfg.behaviours
        self.store = store
        self.reader = reader
        self.writer = writer
        self.parser = wire.CommandParser()
        self.out: list[bytes] = []
        self.tls = cfg.implicit_tls
        self.state = NOT_AUTH
        self.user: str | None = None
        self.view: View | None = None
        self.enabled: set[str] = set()  # ENABLEd extensions, upper-case
        self.current: Cmd | None = None
        self.completed = False
        self.pending_idle = False
        self.extra: dict[str, object] = {}  # per-session state of the area modules

    # --- output -----------------------------------------------------------------------

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    @property
    def utf8(self) -> bool:
        return "UTF8=ACCEPT" in self.enabled

    def emit(self, data: bytes) -> None:
        self.out.append(data)

    def untagged(self, data: str | bytes) -> None:
        self.emit(b"* " + (data.encode() if isinstance(data, str) else data) + b"\r\n")

    def continuation(self, text: str = "") -> None:
        self.emit(b"+ " + text.encode() + b"\r\n")

    def tagged(self, status: str, text: str, code: str | None = None) -> None:
        assert self.current is not None
        self.completed = True
        head = f"{self.current.tag} {status} " + (f"[{code}] " if code else "")
        self.emit(head.encode() + text.encode() + b"\r\n")

    async def flush(self) -> None:
        if self.out:
            self.writer.write(b"".join(self.out))
            self.out.clear()
            await self.writer.drain()

    async def read_line(self) -> bytes:
        """One raw client line (AUTHENTICATE responses, IDLE's DONE), taken from the parser's buffer first."""
        await self.flush()
        while True:
            line = self.parser.take_line()
            if line is not None:
                return line
            data = await asyncio.wait_for(self.reader.read(65536), self.cfg.idle_timeout)
            if not data:
                raise Close
            self.parser.feed(data)

    async def start_tls(self) -> None:
        """Switch the connection to TLS (after the tagged OK to STARTTLS has been flushed)."""
        assert self.cfg.tls is not None
        await self.flush()
        await self.writer.start_tls(self.cfg.tls)
        self.tls = True
        self.parser = wire.CommandParser()

    # --- helpers for handlers ---------------------------------------------------------

    def mailbox_name(self, v: wire.Value) -> str:
        """A mailbox argument as the store names it: modified UTF-7 decoded (UTF-8 as is
        once UTF8=ACCEPT is enabled), INBOX in any case is INBOX."""
        name = astring(v, "mailbox name")
        if not self.utf8 or name.isascii():
            try:
                name = wire.decode_mailbox(name)
            except RemoteProtocolError as e:
                raise Bad(f"mailbox name is not valid modified UTF-7: {e}") from None
        return _INBOX.sub("INBOX", name)

    @staticmethod
    def encode_name(name: str, utf8: bool = False) -> bytes:
        """A store mailbox name as a quoted string for a response."""
        text = name if utf8 else wire.encode_mailbox(name)
        return b'"' + text.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'

    def box(self) -> Mailbox:
        """The selected mailbox in the store (No when another session deleted it)."""
        assert self.user is not None and self.view is not None
        box = self.store.mailbox(self.user, self.view.name)
        if box is None or box.uidvalidity != self.view.uidvalidity:
            raise No("the selected mailbox no longer exists")
        return box

    def messages(self, seqset: wire.Value, uid: bool) -> list[tuple[int, StoredMessage]]:
        """``resolve_messages``, through ``HOOKS.messages`` when messages.py sets it (its seeded defects)."""
        if HOOKS.messages is not None:
            return HOOKS.messages(self, seqset, uid)
        return self.resolve_messages(seqset, uid)

    def resolve_messages(self, seqset: wire.Value, uid: bool) -> list[tuple[int, StoredMessage]]:
        """(message number, message) named by a sequence set or UID set, in the session's view.

        Messages expunged by another session that this session has not been told about
        yet are still named by their numbers but have no data: they are left out.
        """
        v = self.view
        assert v is not None
        nums = self.view_numbers(seqset, uid)
        current = {m.uid: m for m in self.box().messages}
        return [(n, current[v.uids[n - 1]]) for n in nums if v.uids[n - 1] in current]

    def view_numbers(self, seqset: wire.Value, uid: bool) -> list[int]:
        """The message numbers, in the session's view, that a sequence set, UID set or ``$`` names."""
        assert self.view is not None
        text = astring(seqset, "sequence set")
        v = self.view
        if text == "$":
            # SEARCHRES (RFC 9051 6.4.4.1): the saved result, as UIDs of this selection; empty
            # (valid, matching nothing) until a SEARCH SAVE in it. UIDs map to numbers here.
            saved = self.extra.get("search_result")
            mine = isinstance(saved, tuple) and (saved[0] is v or SEARCHRES_KEPT_ON_SELECT in self.b)
            if not mine and SEARCHRES_EMPTY_BAD in self.b:
                raise Bad("no saved search result")
            uids = saved[1] if isinstance(saved, tuple) and mine else ()
            return [v.uids.index(u) + 1 for u in sorted(uids) if u in v.uids]
        try:
            if uid:
                largest = v.uids[-1] if v.uids else 0
                ranges = wire.parse_sequence_set(text)
                wanted: set[int] = set()
                for lo, hi in ranges:
                    a = largest if lo is None else lo
                    b = largest if hi is None else hi
                    a, b = min(a, b), max(a, b)
                    wanted.update(u for u in v.uids if a <= u <= b)
                nums = [v.uids.index(u) + 1 for u in sorted(wanted)]
            else:
                if not v.uids:
                    raise Bad("no messages: a sequence set cannot name any")
                ranges = wire.parse_sequence_set(text)
                for lo, hi in ranges:
                    for n in (lo, hi):
                        if n is not None and n > len(v.uids):
                            raise Bad(f"no message {n}: the mailbox has {len(v.uids)}")
                nums = wire.expand_sequence_set(text, len(v.uids))
        except RemoteProtocolError as e:
            raise Bad(f"malformed sequence set: {e}") from None
        return nums

    # --- notifications about other sessions' changes (RFC 9051 5.2, 7.4.1, 7.5.1) -----

    def sync(self, *, expunges: bool = True) -> None:
        """Tell the session what changed in its selected mailbox since it was last told.

        New messages (EXISTS) and flag changes (FETCH) are always sent; EXPUNGE only when
        ``expunges``, since it must not be sent while FETCH, STORE or SEARCH run (7.5.1).
        The notifier lives in search.py (with IDLE and QRESYNC's VANISHED): see ``NOTIFY``.
        """
        for notifier in NOTIFY:
            notifier(self, expunges)

    def claim_recent(self, uids: list[int]) -> None:
        """IMAP4rev1 \\Recent: the first session to see a message gets it (RFC 3501 2.3.2)."""
        v = self.view
        assert v is not None and self.user is not None
        box = self.store.mailbox(self.user, v.name)
        assert box is not None
        claimed = self.cfg.recent_claims.setdefault((self.user, v.name, box.uidvalidity), set())
        for uid in uids:
            if uid not in claimed:
                claimed.add(uid)
                v.recent.add(uid)

    def flag_list(self, m: StoredMessage) -> str:
        """The message's flags for a FLAGS item, \\Recent added for IMAP4rev1 sessions."""
        flags = sorted(m.flags)
        if not self.rev2 and self.view is not None and m.uid in self.view.recent:
            flags.append("\\Recent")
        return " ".join(flags)

    # --- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            self.untagged(HOOKS.greeting(self))
            await self.flush()
            while True:
                ev = await self._next_event()
                if ev is None:
                    return
                await self.dispatch(ev)
                if not self.parser.has_pending_line():
                    await self.flush()
        except (Close, TimeoutError):
            await self.flush()

    async def _next_event(self) -> wire.Command | None:
        while True:
            try:
                ev = self.parser.next_event()
            except RemoteProtocolError as e:
                # A line the grammar cannot read (or a literal beyond our limit): BAD, with its tag when
                # it has one, and the session goes on with the next line.
                HOOKS.unreadable(self, self.parser.recover(), e.deviation.what)
                await self.flush()
                continue
            if isinstance(ev, wire.NeedContinuation):
                self.continuation("Ready for literal data")
                await self.flush()
                continue
            if ev is not None:
                return ev
            await self.flush()
            try:
                data = await asyncio.wait_for(self.reader.read(65536), self.cfg.idle_timeout)
            except TimeoutError:
                self.untagged("BYE autologout: idle for too long")
                raise Close from None
            if not data:
                return None
            self.parser.feed(data)

    async def dispatch(self, raw: wire.Command) -> None:
        name, args, uid = raw.name, raw.args, False
        if name == "UID" and args and isinstance(args[0], str):
            name, args, uid = str(args[0]).upper(), args[1:], True
        cmd = Cmd(raw.tag, name, args, uid, raw.raw)
        self.current = cmd
        self.completed = False
        entry = COMMANDS.get(name)
        try:
            if entry is None or (uid and not entry.uid):
                HOOKS.unknown_command(self, cmd)
            elif self.state not in entry.states:
                if not HOOKS.wrong_state(self, cmd):
                    raise Bad(f"{name} is not allowed in the {self.state} state")
            else:
                await entry.handler(self, HOOKS.before_command(self, cmd))
            if not self.completed:
                # Other sessions' changes ride on the completion; EXPUNGE not during FETCH,
                # STORE or SEARCH (RFC 9051 7.5.1), which may name messages by number.
                self.sync(expunges=name not in NO_EXPUNGE_DURING)
                self.tagged("OK", f"{'UID ' if uid else ''}{name} completed")
        except Bad as e:
            self.tagged("BAD", e.text, e.code)
        except No as e:
            self.tagged("NO", e.text, e.code)
        finally:
            self.current = None


def capabilities(s: Session) -> list[str]:
    return HOOKS.capabilities(s)


def _unknown(s: Session, cmd: Cmd) -> None:
    raise Bad(f"unknown command {'UID ' if cmd.uid else ''}{cmd.name}")


def _unreadable(s: Session, tag: str | None, what: str) -> None:
    s.emit(f"{tag or '*'} BAD {what}\r\n".encode())


@dataclass
class Hooks:
    """Session-level checks around dispatch; auth.py sets them (with its seeded defects)."""

    capabilities: Callable[[Session], list[str]] = lambda s: ["IMAP4rev1", "IMAP4rev2"]
    greeting: Callable[[Session], str] = lambda s: "OK mailspec IMAP ready"
    before_command: Callable[[Session, Cmd], Cmd] = lambda s, cmd: cmd  # may raise Bad/No
    wrong_state: Callable[[Session, Cmd], bool] = lambda s, cmd: False  # True: complete with OK anyway
    unknown_command: Callable[[Session, Cmd], None] = _unknown
    unreadable: Callable[[Session, str | None, str], None] = _unreadable  # a line the grammar cannot read
    # sequence set -> messages; messages.py wraps Session.resolve_messages with its seeded defects
    messages: Callable[[Session, wire.Value, bool], list[tuple[int, StoredMessage]]] | None = None


HOOKS = Hooks()


def date_time(ts: float, tz_minutes: int = 0) -> str:
    """An IMAP date-time: ``"17-Jul-1996 02:44:25 -0700"`` (RFC 9051 section 9)."""
    t = time.gmtime(ts + tz_minutes * 60)
    sign = "-" if tz_minutes < 0 else "+"
    off = abs(tz_minutes)
    return time.strftime("%d-%b-%Y %H:%M:%S", t) + f" {sign}{off // 60:02d}{off % 60:02d}"


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def nstring(data: bytes | str | None) -> bytes:
    """NIL, a quoted string when it can be one, else a literal."""
    if data is None:
        return b"NIL"
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) < 1000 and all(0x20 <= c < 0x7F for c in raw):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(raw)


class IMAPServer:
    """One listener's handler: ``ServerThread.listen(IMAPServer(store, cfg).handle)``."""

    def __init__(self, store: MailStore, cfg: IMAPConfig) -> None:
        self.store = store
        self.cfg = cfg

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await Session(self.cfg, self.store, reader, writer).run()

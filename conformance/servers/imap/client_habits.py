"""Legal but unusual IMAP server habits, to test clients (scenarios/clients/test_imap_*.py).

None of these is a defect of the server: each is something RFC 9051 (or RFC 3501) lets a
server do, or something an attacker on the path does (STARTTLS stripping, injection), that
a client must cope with. They plug into the embedded server without touching the area
modules: through ``core.HOOKS`` (greeting, capabilities), wrappers around the handlers in
``core.COMMANDS`` (as search.py does), and ``handler()``, which puts an output filter between
the session and the connection (it sees whole protocol lines, literal data passed through).

``handler(store, cfg, notes)`` is the connection handler client cases use; ``notes`` collects
what a habit observed about the client (data sent before a continuation request...).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...store import MailStore
from . import auth, core
from .core import COMMANDS, NO_EXPUNGE_DURING, Bad, Cmd, IMAPConfig, No, Session, _Entry, defect

# --- the habits ---------------------------------------------------------------------------------
UNTAGGED_NOISE = defect("habit-untagged-noise", "sends unrelated untagged OK responses before every completion")
UNTAGGED_NO = defect("habit-untagged-no", "sends an untagged NO warning before every completion")
UNSOLICITED_FLAGS = defect("habit-unsolicited-flags", "follows every FETCH response with an unsolicited FETCH FLAGS")
NEW_MAIL = defect("habit-new-mail", "delivers a new message during the first FETCH and announces it with EXISTS")
UNKNOWN_CODES = defect("habit-unknown-codes", "puts response codes no client knows into untagged and tagged OKs")
UNKNOWN_CAPS = defect("habit-unknown-caps", "announces capabilities no client knows")
MINIMAL_CAPS = defect("habit-minimal-caps", "announces IMAP4rev1 and nothing else it need not (no extensions)")
NO_GREETING_CAPS = defect("habit-no-greeting-caps", "greets without a CAPABILITY response code")
LOWERCASE = defect("habit-lowercase", "writes status and response names in lower case (ok, exists, fetch)")
EXISTS_TWICE = defect("habit-exists-twice", "answers SELECT with an EXISTS one short, then the right one")
EXPUNGE_IN_SELECT = defect("habit-expunge-in-select", "expunges the first message during SELECT and says so")
FETCH_REORDERED = defect("habit-fetch-reordered", "puts UID and FLAGS after the message text in FETCH responses")
LITERAL_CHUNKS = defect("habit-literal-chunks", "writes literals in small pieces with pauses between them")
LITERAL_NAMES = defect("habit-literal-names", "sends mailbox names in LIST, LSUB and STATUS as literals")
NEW_UIDVALIDITY = defect(
    "habit-new-uidvalidity", "gives INBOX a new UIDVALIDITY and renumbers its UIDs from 1 at each session's SELECT"
)
NO_NONSYNC = defect("habit-no-nonsync", "announces neither LITERAL+ nor LITERAL- (synchronizing literals only)")
SLOW_CONTINUATION = defect("habit-slow-continuation", "waits before each continuation request ('+')")
SLOW_LOGOUT = defect("habit-slow-logout", "waits before answering LOGOUT")
LOGINDISABLED_ALWAYS = defect(
    "habit-logindisabled", "announces LOGINDISABLED (and refuses LOGIN) at all times; AUTHENTICATE PLAIN works"
)
# What an attacker on the path does to STARTTLS.
STARTTLS_STRIPPED = defect("habit-starttls-stripped", "hides STARTTLS and LOGINDISABLED, refuses STARTTLS with BAD")
STARTTLS_NO = defect("habit-starttls-no", "announces STARTTLS and refuses it with NO")
STARTTLS_INJECTION = defect(
    "habit-starttls-injection", "sends a CAPABILITY and a BYE in clear right after the OK to STARTTLS"
)

INJECTED = b"* CAPABILITY IMAP4rev1 LOGINDISABLED X-MAILSPEC-INJECTED\r\n* BYE injected before the TLS handshake\r\n"
UNKNOWN_CAP_NAMES = ["X-MAILSPEC-FUTURE", "XYZZY=42", "AUTH=X-MAILSPEC-UNKNOWN", "COMPRESS=X-UNKNOWN"]
NOISE = b"* OK [X-MAILSPEC-NOISE] still here\r\n"
WARNING = b"* NO [X-MAILSPEC-WARNING] disk almost full (a warning, not a failure)\r\n"
NEW_MESSAGE = b"From: late@mailspec.test\r\nTo: alice@mailspec.test\r\nSubject: arrived during FETCH\r\n\r\nlate\r\n"

Notes = list[str]


# --- capabilities and greeting (core.HOOKS and auth's capability_list) -------------------------

_caps_inner = auth.capability_list


@dataclass
class ClientCaseConfig(IMAPConfig):
    """The server of a client case: no COMPRESS, so that the wire log shows what the client sent;
    ``notes`` collects what the habits observed about the client."""

    notes: list[str] = field(default_factory=list)


def _capability_list(s: Session, *, before_login: bool = False) -> list[str]:
    caps = _caps_inner(s, before_login=before_login)
    if isinstance(s.cfg, ClientCaseConfig):
        caps = [c for c in caps if not c.upper().startswith("COMPRESS=")]
    if MINIMAL_CAPS in s.b:
        keep = {"IMAP4REV1", "STARTTLS", "LOGINDISABLED", "AUTH=PLAIN"}
        caps = [c for c in caps if c.upper() in keep]
    if NO_NONSYNC in s.b:
        caps = [c for c in caps if c.upper() not in ("LITERAL+", "LITERAL-")]
    if UNKNOWN_CAPS in s.b:
        caps = caps[:1] + UNKNOWN_CAP_NAMES[:2] + caps[1:] + UNKNOWN_CAP_NAMES[2:]
    if STARTTLS_STRIPPED in s.b:
        caps = [c for c in caps if c.upper() not in ("STARTTLS", "LOGINDISABLED")]
    if LOGINDISABLED_ALWAYS in s.b and "LOGINDISABLED" not in caps:
        caps.append("LOGINDISABLED")
        if "AUTH=PLAIN" not in caps and (s.tls or s.cfg.tls is None):
            caps.append("AUTH=PLAIN")
    return caps


auth.capability_list = _capability_list
core.HOOKS.capabilities = _capability_list
_greeting_inner = core.HOOKS.greeting


def _greeting(s: Session) -> str:
    text = _greeting_inner(s)
    if NO_GREETING_CAPS in s.b:
        text = re.sub(r"\[CAPABILITY [^\]]*\] ", "", text)
    return text


core.HOOKS.greeting = _greeting


# --- command wrappers --------------------------------------------------------------------------

Wrapped = Callable[[Session, Cmd], Awaitable[None]]


def _wrap(name: str, make: Callable[[Wrapped], Wrapped]) -> None:
    entry = COMMANDS[name]
    COMMANDS[name] = _Entry(make(entry.handler), entry.states, entry.uid)


def _complete(s: Session, cmd: Cmd) -> None:
    """Complete the command the way core's dispatch does (what a wrapper must do to add after it)."""
    if not s.completed:
        s.sync(expunges=cmd.name not in NO_EXPUNGE_DURING)
        s.tagged("OK", f"{'UID ' if cmd.uid else ''}{cmd.name} completed")


def _select(inner: Wrapped) -> Wrapped:
    async def select(s: Session, cmd: Cmd) -> None:
        if NEW_UIDVALIDITY in s.b and s.user is not None and cmd.args:
            box = s.store.mailbox(s.user, s.mailbox_name(cmd.args[0]))
            if box is not None and box.name == "INBOX":
                with s.store.lock:
                    box.uidvalidity += 1000
                    for i, m in enumerate(box.messages, 1):
                        m.uid = i
                    box.uidnext = len(box.messages) + 1
        await inner(s, cmd)
        if s.view is None or not s.completed:
            return
        tagged = s.out.pop()
        if EXISTS_TWICE in s.b and s.view.uids:
            for i, chunk in enumerate(s.out):
                hit = re.match(rb"^\* (\d+) EXISTS\r\n$", chunk)
                if hit:
                    s.out[i] = b"* %d EXISTS\r\n" % (int(hit.group(1)) - 1)
            s.untagged(f"{len(s.view.uids)} EXISTS")
        if EXPUNGE_IN_SELECT in s.b and s.view.uids and s.user is not None:
            first = s.view.uids[0]
            s.store.expunge(s.user, {first}, s.view.name)
            s.view.uids.pop(0)
            s.view.flags.pop(first, None)
            s.untagged("1 EXPUNGE")
        s.out.append(tagged)

    return select


_FETCH_HEAD = re.compile(
    rb"^(\* \d+ FETCH \()((?:(?:UID \d+|FLAGS \([^)]*\)|RFC822\.SIZE \d+|INTERNALDATE \"[^\"]*\"|MODSEQ \(\d+\)) )+)(.+)\)\r\n$",
    re.S,
)


def _fetch(inner: Wrapped) -> Wrapped:
    async def fetch(s: Session, cmd: Cmd) -> None:
        mark = len(s.out)
        await inner(s, cmd)
        if FETCH_REORDERED in s.b:
            for i in range(mark, len(s.out)):
                m = _FETCH_HEAD.match(s.out[i])
                if m and b"{" in m.group(3):
                    s.out[i] = m.group(1) + m.group(3) + b" " + m.group(2).strip() + b")\r\n"
        if UNSOLICITED_FLAGS in s.b and s.view is not None:
            seqs = [re.match(rb"^\* (\d+) FETCH", c) for c in s.out[mark:]]
            current = {m.uid: m for m in s.box().messages}
            for hit in seqs:
                if hit is None:
                    continue
                n = int(hit.group(1))
                msg = current.get(s.view.uids[n - 1]) if n <= len(s.view.uids) else None
                if msg is not None:
                    s.untagged(f"{n} FETCH (FLAGS ({s.flag_list(msg)}))")
        if NEW_MAIL in s.b and s.view is not None and s.user is not None and not s.extra.get("habit-new-mail"):
            s.extra["habit-new-mail"] = True
            acct = s.store.account(s.user)
            if acct is not None:
                s.store.deliver(acct, NEW_MESSAGE, "late@mailspec.test", s.view.name)
                s.sync(expunges=False)  # the EXISTS (allowed during FETCH)

    return fetch


def _starttls(inner: Wrapped) -> Wrapped:
    async def starttls(s: Session, cmd: Cmd) -> None:
        if STARTTLS_STRIPPED in s.b:
            raise Bad("unknown command STARTTLS")
        if STARTTLS_NO in s.b:
            raise No("TLS is not available right now")
        await inner(s, cmd)

    return starttls


def _login(inner: Wrapped) -> Wrapped:
    async def login(s: Session, cmd: Cmd) -> None:
        if LOGINDISABLED_ALWAYS in s.b:
            raise No("LOGIN is disabled: use AUTHENTICATE", code="PRIVACYREQUIRED")
        await inner(s, cmd)

    return login


def _logout(inner: Wrapped) -> Wrapped:
    async def logout(s: Session, cmd: Cmd) -> None:
        if SLOW_LOGOUT in s.b:
            await s.flush()
            await asyncio.sleep(0.5)
            if s.reader.at_eof() and isinstance(s.cfg, ClientCaseConfig):
                s.cfg.notes.append("the client closed the connection before the answer to LOGOUT")
        await inner(s, cmd)

    return logout


_wrap("SELECT", _select)
_wrap("EXAMINE", _select)
_wrap("FETCH", _fetch)
_wrap("STARTTLS", _starttls)
_wrap("LOGIN", _login)
_wrap("LOGOUT", _logout)


# --- the output filter: whole protocol lines, literal data passed through ---------------------

_TAGGED_OK = re.compile(rb"^([^*+ ][^ ]*) (OK|NO|BAD) ", re.I)
_LOWER = re.compile(
    rb"^(\* |[^*+ ][^ ]* )(?:(\d+) )?(OK|NO|BAD|BYE|PREAUTH|CAPABILITY|FLAGS|LIST|LSUB|STATUS|SEARCH|ESEARCH|"
    rb"ENABLED|ID|EXISTS|RECENT|EXPUNGE|FETCH)\b"
)
_NAME_LINE = re.compile(rb'^(\* (?:LIST|LSUB) \([^)]*\) (?:"[^"]*"|NIL) )"((?:[^"\\]|\\.)*)"(.*)$', re.S)
_STATUS_LINE = re.compile(rb'^(\* STATUS )"((?:[^"\\]|\\.)*)"(.*)$', re.S)
_LITERAL_END = re.compile(rb"\{(\d+)\}\r\n$")


class _Filter:
    """A writer that rewrites the server's protocol lines for the habits that change their form."""

    def __init__(self, inner: Any, reader: Any, cfg: IMAPConfig, notes: Notes) -> None:
        self._w = inner
        self._reader = reader
        self._b = cfg.behaviours
        self._notes = notes
        self._pending = b""  # an incomplete line
        self._literal = 0  # literal octets still to pass through
        self._out: list[bytes] = []
        self._greeted = False

    def write(self, data: bytes) -> None:
        buf = self._pending + bytes(data)
        self._pending = b""
        while buf:
            if self._literal:
                take = buf[: self._literal]
                self._literal -= len(take)
                self._out.append(take)
                buf = buf[len(take) :]
                continue
            nl = buf.find(b"\n")
            if nl < 0:
                self._pending = buf
                break
            line, buf = buf[: nl + 1], buf[nl + 1 :]
            self._out.extend(self._line(line))
            m = _LITERAL_END.search(line)
            if m:
                self._literal = int(m.group(1))

    def _line(self, line: bytes) -> list[bytes]:
        b = self._b
        out: list[bytes] = []
        first = not self._greeted
        self._greeted = True
        tagged = _TAGGED_OK.match(line)
        if tagged and not first:
            if UNTAGGED_NOISE in b:
                out.append(NOISE)
            if UNTAGGED_NO in b:
                out.append(WARNING)
            if UNKNOWN_CODES in b and not line[tagged.end() :].startswith(b"["):
                line = line[: tagged.end()] + b"[X-MAILSPEC-FUTURE 1 (a b)] " + line[tagged.end() :]
        if LITERAL_NAMES in b:
            m = _NAME_LINE.match(line) or _STATUS_LINE.match(line)
            if m:
                name = re.sub(rb"\\(.)", rb"\1", m.group(2))
                line = m.group(1) + b"{%d}\r\n" % len(name) + name + m.group(3)
        if LOWERCASE in b:
            line = _LOWER.sub(lambda m: m.group(0)[: m.start(3) - m.start(0)] + m.group(3).lower(), line)
        out.append(line)
        if first and UNKNOWN_CODES in b:
            out.append(b"* OK [X-MAILSPEC-GREETING-EXTRA some (thing)] an unknown response code\r\n")
        if tagged and STARTTLS_INJECTION in b and line.rstrip().endswith(b"Begin TLS negotiation now"):
            out.append(INJECTED)
        return out

    async def drain(self) -> None:
        data, self._out = b"".join(self._out), []
        if not data:
            return
        if data.startswith(b"+") and SLOW_CONTINUATION in self._b:
            await asyncio.sleep(0.4)
            if len(getattr(self._reader, "_buffer", b"")):
                self._notes.append("the client sent data before the continuation request")
        if LITERAL_CHUNKS in self._b and b"}\r\n" in data:
            step = max(len(data) // 40, 7)
            for i in range(0, len(data), step):
                self._w.write(data[i : i + step])
                await self._w.drain()
                await asyncio.sleep(0.005)
            return
        self._w.write(data)
        await self._w.drain()

    async def start_tls(self, ctx: Any, **kw: Any) -> None:
        await self.drain()
        await self._w.start_tls(ctx, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._w, name)


def handler(store: MailStore, cfg: ClientCaseConfig) -> Callable[[Any, Any], Awaitable[None]]:
    """The IMAP connection handler for client cases: the session behind the habits' output filter."""
    kept: Notes = cfg.notes

    async def handle(reader: Any, writer: Any) -> None:
        await Session(cfg, store, reader, _Filter(writer, reader, cfg, kept)).run()  # type: ignore[arg-type]

    return handle


__all__ = ["ClientCaseConfig", "handler"]

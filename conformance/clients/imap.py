"""Reference IMAP client on the sans-IO codec.

``command()`` sends one tagged command (waiting for ``+`` before each
synchronizing literal, unless LITERAL+ is used) and returns every response up
to and including its tagged completion. Like the SMTP client it never raises on
NO or BAD: scenarios judge the responses. Untagged responses that arrive
while no command is running (EXISTS, EXPUNGE, FETCH from other sessions) are
kept in ``unsolicited``.
"""

from __future__ import annotations

import base64
import itertools
import ssl
import time
import uuid
from dataclasses import dataclass, field

from ..context import CaseContext
from ..net import Connection, NetTimeout, Transcript
from ..verdict import Violation, unsupported
from ..wire import imap as wire
from ..wire.errors import Deviation, RemoteProtocolError
from .base import Sessions

GREETING_REQ = "imap.rfc9051.3.greeting-state"
PROFILES = ("imap4rev1", "imap4rev2")


@dataclass
class Result:
    """What one command got: its untagged responses and its tagged completion."""

    tagged: wire.Tagged
    untagged: list[wire.Untagged] = field(default_factory=list)
    continuations: list[wire.Continuation] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.tagged.status

    @property
    def ok(self) -> bool:
        return self.tagged.status == "OK"

    def named(self, name: str) -> list[wire.Untagged]:
        return [u for u in self.untagged if u.name == name.upper()]

    @property
    def deviations(self) -> list[Deviation]:
        responses: list[wire.Response] = [*self.untagged, *self.continuations, self.tagged]
        return [d for r in responses for d in r.deviations]

    def __str__(self) -> str:
        code = f"[{self.tagged.code.raw}] " if self.tagged.code else ""
        return f"{self.tagged.tag} {self.tagged.status} {code}{self.tagged.text}"


class IMAPClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        implicit_tls: ssl.SSLContext | None = None,
        transcript: Transcript | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.transcript = transcript or Transcript(f"imap {host}:{port}")
        self._implicit_tls = implicit_tls
        self._conn: Connection | None = None
        self._parser = wire.ResponseParser()
        self._tag = 0
        self.greeting: wire.Untagged | None = None
        self.capabilities: set[str] = set()
        self.unsolicited: list[wire.Untagged] = []
        self.enabled: set[str] = set()  # what ENABLED responses said is on (upper-case)

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    def connect(self) -> wire.Untagged:
        self._conn = Connection.open(
            self.host, self.port, timeout=self.timeout, tls=self._implicit_tls, transcript=self.transcript
        )
        first = self.read_response()
        if not isinstance(first, wire.Untagged) or first.name not in ("OK", "PREAUTH", "BYE"):
            raise RemoteProtocolError(
                Deviation(f"greeting is not * OK/PREAUTH/BYE: {first.raw[:60]!r}", 0, "RFC 9051", "7.1")
            )
        self.greeting = first
        self._learn_capabilities(first)
        return first

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def read_response(self, timeout: float | None = None) -> wire.Response:
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout * 3)
        while True:
            r = self._parser.next_response()
            if r is not None:
                return r
            self._parser.feed(self.conn.recv(deadline))

    def send(self, data: bytes) -> None:
        self.conn.send(data)

    def next_tag(self) -> str:
        self._tag += 1
        return f"M{self._tag:04d}"

    def command(
        self,
        name: str,
        *args: wire.Arg,
        literal_plus: bool | None = None,
        timeout: float | None = None,
        binary: bool = False,
    ) -> Result:
        """``binary``: literals holding NUL go as literal8 ``~{n}`` (RFC 3516 BINARY)."""
        tag = self.next_tag()
        plus = ("LITERAL+" in self.capabilities) if literal_plus is None else literal_plus
        chunks = wire.encode_command(tag, name, *args, literal_plus=plus, binary=binary)
        result_untagged: list[wire.Untagged] = []
        continuations: list[wire.Continuation] = []
        self.send(chunks[0])
        for chunk in chunks[1:]:
            # A synchronizing literal: the server must say "+" (or refuse with a tagged reply).
            while True:
                r = self.read_response(timeout)
                if isinstance(r, wire.Continuation):
                    continuations.append(r)
                    break
                if isinstance(r, wire.Tagged) and r.tag == tag:
                    return self._completed(r, result_untagged, continuations)
                if isinstance(r, wire.Untagged):
                    result_untagged.append(r)
            self.send(chunk)
        return self._collect(tag, result_untagged, continuations, timeout)

    def _collect(
        self, tag: str, untagged: list[wire.Untagged], continuations: list[wire.Continuation], timeout: float | None
    ) -> Result:
        while True:
            r = self.read_response(timeout)
            if isinstance(r, wire.Tagged):
                if r.tag != tag:
                    raise RemoteProtocolError(
                        Deviation(f"tagged response for {r.tag!r} while {tag!r} was running", 0, "RFC 9051", "2.2.2")
                    )
                return self._completed(r, untagged, continuations)
            if isinstance(r, wire.Continuation):
                continuations.append(r)
                continue
            untagged.append(r)

    def _completed(
        self, tagged: wire.Tagged, untagged: list[wire.Untagged], continuations: list[wire.Continuation]
    ) -> Result:
        """The command's result; what its responses say of capabilities and ENABLE is learnt on every
        path, a command refused before its literal included (review F5)."""
        for u in untagged:
            self._learn_capabilities(u)
        if tagged.code is not None and tagged.code.name == "CAPABILITY":
            self.capabilities = {str(a).upper() for a in tagged.code.args}
        return Result(tagged, untagged, continuations)

    def _learn_capabilities(self, r: wire.Untagged) -> None:
        if r.name == "ENABLED":
            self.enabled |= {str(v).upper() for v in r.values}
        if r.name == "CAPABILITY":
            self.capabilities = {str(v).upper() for v in r.values}
        elif r.code is not None and r.code.name == "CAPABILITY":
            self.capabilities = {str(a).upper() for a in r.code.args}

    # --- operations ----------------------------------------------------------

    def capability(self) -> Result:
        return self.command("CAPABILITY")

    def noop(self) -> Result:
        return self.command("NOOP")

    def login(self, user: str, password: str) -> Result:
        self.transcript.add_secret(password)
        return self.command("LOGIN", user, password)

    def authenticate_plain(self, user: str, password: str, *, initial_response: bool | None = None) -> Result:
        self.transcript.add_secret(password)
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.transcript.add_secret(token)
        ir = ("SASL-IR" in self.capabilities) if initial_response is None else initial_response
        tag = self.next_tag()
        if ir:
            self.send(f"{tag} AUTHENTICATE PLAIN {token}\r\n".encode())
            return self._collect(tag, [], [], None)
        self.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
        untagged: list[wire.Untagged] = []
        while True:
            r = self.read_response()
            if isinstance(r, wire.Continuation):
                self.send(token.encode() + b"\r\n")
                return self._collect(tag, untagged, [r], None)
            if isinstance(r, wire.Tagged):
                return self._completed(r, untagged, [])
            untagged.append(r)

    def collect(self, tag: str, timeout: float | None = None, *, seen: tuple[wire.Response, ...] = ()) -> Result:
        """Every response up to ``tag``'s completion, for a command sent by hand with ``send``
        (``seen``: responses to it the caller has read already)."""
        untagged = [r for r in seen if isinstance(r, wire.Untagged)]
        continuations = [r for r in seen if isinstance(r, wire.Continuation)]
        return self._collect(tag, untagged, continuations, timeout)

    def start_tls(self, ctx: ssl.SSLContext, server_hostname: str | None = None) -> None:
        """The TLS handshake (after an OK to STARTTLS); what was known of the server is dropped."""
        self.conn.start_tls(ctx, server_hostname or self.host)
        self._parser = wire.ResponseParser()
        self.capabilities = set()

    def starttls(self, ctx: ssl.SSLContext, server_hostname: str | None = None) -> Result:
        res = self.command("STARTTLS")
        if res.ok:
            self.start_tls(ctx, server_hostname)
        return res

    def select(self, mailbox: str = "INBOX", *, readonly: bool = False) -> Result:
        return self.command("EXAMINE" if readonly else "SELECT", wire.encode_mailbox(mailbox))

    def logout(self) -> Result:
        return self.command("LOGOUT")

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    def try_read_response(self, timeout: float) -> wire.Response | None:
        """A response if one arrives within ``timeout``, else None (connection still open)."""
        try:
            return self.read_response(timeout)
        except NetTimeout:
            return None

    @property
    def quiet(self) -> float:
        """How long to listen for a response that must not come: a share of the read timeout (1 s at
        the default 10 s). What must come is waited for the whole ``timeout``, so that a busy host
        does not turn a late answer into a FAIL (review D2)."""
        return self.timeout / 10

    def closed_by_peer(self, timeout: float | None = None) -> bool:
        """The server closed the connection, or does within ``timeout`` (default: the read timeout)."""
        return self.conn.closed or self.conn.wait_closed(self.timeout if timeout is None else timeout)

    # --- commands scenarios use all the time ---------------------------------

    def create(self, mailbox: str) -> Result:
        return self.command("CREATE", wire.encode_mailbox(mailbox))

    def delete(self, mailbox: str) -> Result:
        return self.command("DELETE", wire.encode_mailbox(mailbox))

    def append(
        self, mailbox: str, message: bytes, flags: tuple[str, ...] | None = None, date: str | None = None
    ) -> Result:
        args: list[wire.Arg] = [wire.encode_mailbox(mailbox)]
        if flags is not None:
            args.append([wire.Atom(f) for f in flags])
        if date is not None:
            args.append(date)
        args.append(message)
        return self.command("APPEND", *args)

    def fetch(self, seqset: str, items: str, *, uid: bool = False) -> tuple[Result, dict[int, dict[str, wire.Value]]]:
        """FETCH (or UID FETCH): the result and the items of each ``* n FETCH``, by message number."""
        name = "UID FETCH" if uid else "FETCH"
        res = self.command(name, wire.Atom(seqset), wire.Atom(items))
        out: dict[int, dict[str, wire.Value]] = {}
        for u in res.named("FETCH"):
            if u.number is not None:
                out.setdefault(u.number, {}).update(fetch_items(u))
        return res, out

    def store(self, seqset: str, item: str, flags: tuple[str, ...], *, uid: bool = False) -> Result:
        name = "UID STORE" if uid else "STORE"
        return self.command(name, wire.Atom(seqset), wire.Atom(item), [wire.Atom(f) for f in flags])

    def search(self, *criteria: wire.Arg, uid: bool = False) -> tuple[Result, list[int]]:
        """SEARCH (or UID SEARCH): the result and the numbers of every ``* SEARCH`` (ESEARCH ALL too)."""
        res = self.command("UID SEARCH" if uid else "SEARCH", *criteria)
        found: list[int] = []
        for u in res.named("SEARCH"):
            found += [int(v) for v in u.values if isinstance(v, str) and v.isdigit()]
        for u in res.named("ESEARCH"):
            vals = list(u.values)
            for key, val in itertools.pairwise(vals):
                if isinstance(key, str) and key.upper() == "ALL" and isinstance(val, str):
                    found += wire.expand_sequence_set(val, max(int(x) for x in val.replace(":", ",").split(",")))
        return res, found

    def __enter__(self) -> IMAPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fetch_items(u: wire.Untagged) -> dict[str, wire.Value]:
    """``* n FETCH (FLAGS (..) UID 4 BODY[] {..})`` -> {"FLAGS": [...], "UID": "4", "BODY[]": b"..."}.

    Item names are upper-cased; a section spec keeps its brackets (``BODY[HEADER]``, ``BODY[]<0>``).
    """
    if len(u.values) != 1 or not isinstance(u.values[0], list):
        raise RemoteProtocolError(
            Deviation(f"FETCH data is not one parenthesised list: {u.raw[:80]!r}", 0, "RFC 9051", "7.5.2")
        )
    items = u.values[0]
    if len(items) % 2:
        raise RemoteProtocolError(
            Deviation(f"FETCH data has an item without a value: {u.raw[:80]!r}", 0, "RFC 9051", "7.5.2")
        )
    out: dict[str, wire.Value] = {}
    for i in range(0, len(items), 2):
        key = items[i]
        if not isinstance(key, str):
            raise RemoteProtocolError(Deviation(f"FETCH item name is not an atom: {key!r}", 0, "RFC 9051", "7.5.2"))
        out[key.upper()] = items[i + 1]
    return out


def code_arg(res: Result | wire.Untagged | wire.Tagged, name: str) -> str | None:
    """The first argument of response code ``name`` in a tagged or untagged response (``UIDVALIDITY 3`` -> "3");
    for a Result, in any of its responses."""
    responses: list[wire.Tagged | wire.Untagged] = [res] if not isinstance(res, Result) else [*res.untagged, res.tagged]
    for r in responses:
        if r.code is not None and r.code.name == name.upper():
            return " ".join(str(a) for a in r.code.args) if r.code.args else ""
    return None


class IMAPSessions(Sessions[IMAPClient]):
    """The ``imap`` fixture: reference-client sessions to the case's target, and scratch mailboxes.

    Cases that need messages get a mailbox of their own (``scratch``), so cases running in
    parallel on one account never see each other's messages; it is deleted at teardown.
    """

    def __init__(self, ctx: CaseContext, profile: str | None = None) -> None:
        super().__init__(ctx)
        self.profile_option = profile
        self._scratch: list[str] = []

    def _client(self, port: int, tls: ssl.SSLContext | None, transcript: Transcript) -> IMAPClient:
        return IMAPClient(self.target.host, port, timeout=self.ctx.timeout, implicit_tls=tls, transcript=transcript)

    def ready(self) -> IMAPClient:
        """Connected and greeted with ``* OK`` (not authenticated state)."""
        client = self.open()
        assert client.greeting is not None
        if client.greeting.name == "PREAUTH":
            unsupported("the server greets with PREAUTH: the not authenticated state cannot be tested")
        if client.greeting.name != "OK":
            raise Violation(f"the greeting was not * OK: {client.greeting.raw[:200]!r}", req=GREETING_REQ)
        return client

    def capabilities(self, client: IMAPClient) -> set[str]:
        """The capabilities in force now (asks CAPABILITY when none were announced yet)."""
        if not client.capabilities:
            client.capability()
        return client.capabilities

    def require(self, client: IMAPClient, capability: str) -> None:
        """UNSUPPORTED unless CAPABILITY announces ``capability`` (e.g. "IDLE", "AUTH=PLAIN")."""
        if capability.upper() not in self.capabilities(client):
            unsupported(f"the server does not announce {capability} in CAPABILITY")

    def require_uidplus(self, client: IMAPClient) -> None:
        """UNSUPPORTED unless UID EXPUNGE, APPENDUID and COPYUID are there: UIDPLUS (RFC 4315), or IMAP4rev2."""
        if self.profile(client) != "imap4rev2":
            self.require(client, "UIDPLUS")

    def secure(self, client: IMAPClient) -> None:
        """STARTTLS when offered and the session is not yet under TLS."""
        if not client.conn.is_tls and "STARTTLS" in self.capabilities(client):
            res = client.starttls(self.ctx.tls_context())
            if not res.ok:
                unsupported(f"STARTTLS was refused: {res}")

    def attempt_login(self, client: IMAPClient, account: int = 0) -> Result:
        """LOGIN with the target's credentials, or AUTHENTICATE PLAIN while LOGINDISABLED is announced.

        ``account`` 1 is the second test account, for cases that must not disturb the first one's INBOX.
        """
        user, password = self.ctx.credentials()
        if account:
            if len(self.target.accounts) <= account:
                unsupported("the case needs a second test account (give it in --target-config)")
            user, password = self.target.accounts[account].user, self.target.accounts[account].password
        caps = self.capabilities(client)
        if "LOGINDISABLED" in caps and "AUTH=PLAIN" in caps:
            return client.authenticate_plain(user, password)
        return client.login(user, password)

    def login(
        self,
        client: IMAPClient | None = None,
        *,
        secure: bool = True,
        profile: bool = True,
        rev: str | None = None,
        account: int = 0,
    ) -> IMAPClient:
        """A session in the authenticated state (after STARTTLS when offered); UNSUPPORTED if refused.

        The session's revision: ``rev`` ("imap4rev1" or "imap4rev2") for a case about one
        revision's rules, else --profile, else the highest the server announces. A server
        announcing both acts as IMAP4rev1 until the client ENABLEs IMAP4rev2 (RFC 9051 2.1),
        which this does for an imap4rev2 session. ``profile=False`` leaves the session as the
        server starts it.
        """
        if rev is not None and self.profile_option and rev != self.profile_option:
            unsupported(f"this rule applies to {rev}; the run holds the server to --profile {self.profile_option}")
        c = client or self.ready()
        if secure:
            self.secure(c)
        res = self.attempt_login(c, account)
        if not res.ok:
            unsupported(f"could not log in as test account {account + 1}: {res}")
        if not profile:
            return c
        caps = self.capabilities(c)
        wanted = rev or self.profile(c)
        if wanted.upper() not in caps:
            unsupported(f"this rule applies to {wanted}; the server does not announce {wanted.upper()}")
        if wanted == "imap4rev2" and "IMAP4REV1" in caps:
            if "ENABLE" not in caps:
                unsupported("the server announces IMAP4rev1 and IMAP4rev2 but not ENABLE: IMAP4rev2 cannot be enabled")
            res = c.command("ENABLE", wire.Atom("IMAP4rev2"))
            if "IMAP4REV2" not in c.enabled:
                # Judging IMAP4rev2 rules on a session that stayed IMAP4rev1 would be wrong.
                unsupported(f"ENABLE IMAP4rev2 did not enable it: {res}")
        return c

    def profile(self, client: IMAPClient) -> str:
        """imap4rev1 or imap4rev2: --profile when given, else the highest revision CAPABILITY announces."""
        caps = self.capabilities(client)
        if self.profile_option:
            wanted = self.profile_option.upper()
            if wanted not in caps:
                unsupported(f"--profile {self.profile_option}: the server does not announce {wanted}")
            return self.profile_option
        return "imap4rev2" if "IMAP4REV2" in caps else "imap4rev1"

    def mode(self, client: IMAPClient) -> str:
        """The revision the session runs now: IMAP4rev2 once ENABLEd, or on a server that offers only it."""
        caps = self.capabilities(client)
        if "IMAP4REV2" in client.enabled or ("IMAP4REV2" in caps and "IMAP4REV1" not in caps):
            return "imap4rev2"
        return "imap4rev1"

    def by_revision(self, client: IMAPClient, rev2: str, rev1: str) -> str:
        """The requirement id of a rule both revisions state: ``rev2`` (RFC 9051) on an IMAP4rev2 session,
        else ``rev1`` (RFC 3501 or the extension's RFC)."""
        return rev2 if self.mode(client) == "imap4rev2" else rev1

    def require_profile(self, client: IMAPClient, profile: str) -> None:
        """UNSUPPORTED unless the session runs under ``profile`` (rules of one revision only).

        Cases about one revision's rules should log in with ``login(rev=...)``, so that a
        server offering both revisions is judged on each.
        """
        if self.profile_option and self.profile_option != profile:
            unsupported(f"this rule applies to {profile}; the run holds the server to --profile {self.profile_option}")
        if self.mode(client) != profile:
            unsupported(f"this rule applies to {profile}; the session runs {self.mode(client)}")

    # --- scratch mailboxes -----------------------------------------------------

    def scratch(
        self,
        client: IMAPClient,
        messages: list[bytes] | tuple[bytes, ...] = (),
        *,
        flags: tuple[str, ...] | None = None,
        select: bool = True,
        prefix: str = "mailspec",
    ) -> str:
        """A new empty mailbox only this case uses, filled by APPEND, selected; its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        res = client.create(name)
        if not res.ok:
            unsupported(f"cannot create a scratch mailbox for the case: {res}")
        self._scratch.append(name)
        for data in messages:
            res = client.append(name, data, flags)
            if not res.ok:
                unsupported(f"cannot APPEND the case's test message: {res}")
        if select:
            res = client.select(name)
            if not res.ok:
                unsupported(f"cannot SELECT the case's scratch mailbox: {res}")
        return name

    def selected(
        self, messages: int = 0, *, flags: tuple[str, ...] | None = None, rev: str | None = None
    ) -> IMAPClient:
        """Logged in (as ``login(rev=...)``) with a scratch mailbox of ``messages`` test messages selected."""
        from ..context import make_message

        client = self.login(rev=rev)
        self.scratch(client, [make_message(f"mailspec imap test {i + 1}")[0] for i in range(messages)], flags=flags)
        return client

    def uids(self, client: IMAPClient) -> list[int]:
        """The UIDs of the selected mailbox in message-number order."""
        res, items = client.fetch("1:*", "(UID)")
        if not res.ok and items == {}:
            return []
        return [int(str(items[n]["UID"])) for n in sorted(items) if "UID" in items[n]]

    def close_all(self) -> None:
        super().close_all()
        if not self._scratch:
            return
        try:
            client = self.login(profile=False)
            for name in self._scratch:
                client.delete(name)
            client.logout()
        except Exception:  # cleanup must not turn a verdict into an error
            pass
        finally:
            super().close_all()

"""Embedded reference POP3 server on the shared store (RFC 1939, 2449, 2595, 5034).

The maildrop is the account's INBOX. The clean server follows the RFCs
strictly: AUTHORIZATION / TRANSACTION / UPDATE states, deletions applied only
at QUIT from TRANSACTION, an exclusive maildrop lock (``-ERR [IN-USE]`` for a
second session), UIDLs derived from the mailbox uidvalidity and the message
uid, exact CRLF octet counts, byte-stuffing, CAPA, STLS, SASL PLAIN and APOP.
Each behaviour switches on one deliberate deviation (a seeded defect).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import itertools
import os
import re
import ssl
import time
from dataclasses import dataclass, field

from ..store import MailStore, StoredMessage
from ..wire import pop3 as wire
from ..wire.errors import RemoteProtocolError
from .behaviours import Behaviour, Behaviours, behaviour


def _b(name: str, description: str) -> Behaviour:
    return behaviour("pop3", name, description)


# Seeded defects. One line each: what the server does wrong.
GREET_ERR = _b("greet-err", "greets with -ERR")
STATUS_LOWER = _b("status-lower", "sends +ok / -err in lower case")
BARE_LF = _b("bare-lf", "ends response lines with a bare LF")
LONG_GREETING = _b("long-greeting", "sends a 600-octet greeting")
NO_BYTE_STUFF = _b("no-byte-stuff", "does not byte-stuff lines that begin with '.'")
UNKNOWN_OK = _b("unknown-ok", "answers unknown commands and malformed arguments with +OK")
WRONG_STATE_OK = _b("wrong-state-ok", "accepts TRANSACTION commands in AUTHORIZATION and USER/PASS after login")
NUMBERS_FROM_0 = _b("numbers-from-0", "numbers messages from 0")
NO_LOCK = _b("no-lock", "does not lock the maildrop; another session's removals show at once")
IN_USE_NO_CODE = _b("in-use-no-code", "refuses a locked maildrop without the [IN-USE] response code")
BAD_RESP_CODE = _b("bad-resp-code", "sends a malformed response code ([AUTH/])")
QUIT_AUTH_ERR = _b("quit-auth-err", "answers QUIT in AUTHORIZATION with -ERR")
STAT_FORMAT = _b("stat-format", "writes the drop listing as '+OK 2 messages, 320 octets'")
STAT_COUNTS_DELETED = _b("stat-counts-deleted", "counts messages marked as deleted in STAT")
SCAN_FORMAT = _b("scan-format", "writes scan listings with two spaces")
SIZE_LF = _b("size-lf", "counts line ends as one octet in LIST and STAT sizes")
LIST_SHOWS_DELETED = _b("list-shows-deleted", "lists messages marked as deleted")
NO_SUCH_OK = _b("no-such-ok", "answers LIST/RETR of a message that does not exist with +OK")
RETR_TRUNCATES = _b("retr-truncates", "leaves out the last line of the message in RETR")
DELE_NOT_MARKED = _b("dele-not-marked", "still serves a message marked as deleted")
DELE_IMMEDIATE = _b("dele-immediate", "removes a message from the maildrop at DELE, not at QUIT")
NOOP_ERR = _b("noop-err", "answers NOOP with -ERR")
RSET_KEEPS = _b("rset-keeps", "RSET does not unmark deleted messages")
QUIT_KEEPS_DELETED = _b("quit-keeps-deleted", "does not remove deleted messages at QUIT")
QUIT_REMOVES_ALL = _b("quit-removes-all", "removes every message that was retrieved at QUIT")
QUIT_STAYS_OPEN = _b("quit-stays-open", "does not close the connection after QUIT")
TOP_EXTRA_LINE = _b("top-extra-line", "sends one body line more than TOP asked for")
TOP_BIG_ERR = _b("top-big-err", "answers TOP with more lines than the body has with -ERR")
UIDL_FORMAT = _b("uidl-format", "separates number and unique-id with a tab")
UIDL_TRAILING = _b("uidl-trailing", "appends the size after the unique-id")
UIDL_LONG = _b("uidl-long", "uses 80-character unique-ids")
UIDL_PER_SESSION = _b("uidl-per-session", "derives unique-ids from a per-session counter")
UIDL_DUPLICATE = _b("uidl-duplicate", "gives every message the same unique-id")
UIDL_REUSE = _b("uidl-reuse", "derives unique-ids from the position in the maildrop (reused)")
PASS_ACCEPTS_ANY = _b("pass-accepts-any", "accepts any password")
PASS_WITHOUT_USER = _b("pass-without-user", "accepts PASS without a USER first")
APOP_SAME_TIMESTAMP = _b("apop-same-timestamp", "uses the same APOP timestamp in every greeting")
APOP_ACCEPTS_ANY = _b("apop-accepts-any", "accepts any APOP digest")
CAPA_DROPS_AFTER_LOGIN = _b("capa-drops-after-login", "leaves TOP and UIDL out of CAPA in TRANSACTION")
CAPA_BAD_TAG = _b("capa-bad-tag", "announces a capability tag with a '.' in it")
CAPA_LONG_LINE = _b("capa-long-line", "sends a 600-octet capability line")
CAPA_AUTH_ONLY = _b("capa-auth-only", "answers CAPA in TRANSACTION with -ERR")
SHORT_COMMANDS = _b("short-commands", "drops the connection on commands over 100 octets")
PIPELINING_DROPS = _b("pipelining-drops", "discards commands that arrive in the same packet")
STLS_EXTRA_LINE = _b("stls-extra-line", "sends another line after the STLS +OK before TLS")
STLS_INJECTION = _b("stls-injection", "executes commands sent before the TLS handshake")
STLS_IN_TRANSACTION = _b("stls-in-transaction", "accepts STLS in TRANSACTION")
STLS_TWICE_OK = _b("stls-twice-ok", "answers a second STLS with +OK")
STLS_STILL_ADVERTISED = _b("stls-still-advertised", "still announces STLS in CAPA under TLS")
AUTH_NO_CANCEL = _b("auth-no-cancel", "treats '*' as a credential and keeps the exchange open")
AUTH_CHALLENGE_TEXT = _b("auth-challenge-text", "sends '+ go ahead' as the empty challenge")
AUTH_NEEDS_INITIAL = _b("auth-needs-initial", "answers AUTH PLAIN without an initial response with -ERR")
AUTH_ACCEPTS_ANY = _b("auth-accepts-any", "accepts any SASL PLAIN password")
AUTH_BAD_B64_OK = _b("auth-bad-base64", "does not reject undecodable base64 (pad in the middle)")
AUTH_B64_LENIENT = _b("auth-base64-lenient", "skips characters outside the base64 alphabet")
AUTH_SECOND_OK = _b("auth-second-ok", "answers a second AUTH after success with +OK")
AUTH_UNKNOWN_MECH = _b("auth-unknown-mech", "answers an unknown mechanism with a challenge")
SASL_DROPPED = _b("sasl-dropped", "leaves SASL out of CAPA after a successful AUTH")
SASL_NO_PLAIN = _b("sasl-no-plain", "does not offer PLAIN")
AUTH_FAIL_STICKY = _b("auth-fail-sticky", "refuses USER after a failed AUTH")
UTF8_AS_IS = _b("utf8-as-is", "sends UTF-8 header fields as is to clients not in UTF-8 mode")
UTF8_NO_CODE = _b("utf8-no-code", "refuses UTF-8 messages outside UTF-8 mode without the [UTF8] code")
UTF8_MODE_REFUSES = _b("utf8-mode-refuses", "still refuses UTF-8 messages after the UTF8 command")
UTF8_SIZE_CHARS = _b("utf8-size-chars", "counts characters, not octets, in LIST sizes of UTF-8 messages")
UTF8_STLS_OK = _b("utf8-stls-ok", "accepts STLS after UTF8")
AUTH_NO_SUCCESS_STATE = _b("auth-no-transaction", "stays in AUTHORIZATION after a successful AUTH")
# -- legal but unusual habits, for client cases (scenarios/clients) --
GREET_NO_TIMESTAMP = _b("greet-no-timestamp", "greets without an APOP timestamp")
CAPA_UNSUPPORTED = _b("capa-unsupported", "does not implement CAPA (answers -ERR)")
NO_UIDL_TOP = _b("no-uidl-top", "does not implement the optional UIDL and TOP")
RESP_CODES_ODD = _b("resp-codes-odd", "starts every +OK text with an unknown response code [X-MAILSPEC/ODD/DETAIL]")
CAPA_NO_SASL = _b("capa-no-sasl", "leaves SASL out of CAPA")
CAPS_CHANGE_AFTER_TLS = _b("caps-change-after-tls", "announces neither USER nor SASL PLAIN before STLS, both after it")
STLS_STRIPPED = _b("stls-stripped", "does not announce STLS (as a man in the middle would strip it)")
STLS_ERR = _b("stls-err", "answers STLS with -ERR")
SLOW_AFTER_TLS = _b("slow-after-tls", "waits 0.3 s before each response once TLS is active")
STLS_INJECTS = _b(
    "stls-injects-capa", "sends a fake CAPA response behind the STLS +OK, before TLS; slow responses after TLS"
)

_NUMBER = re.compile(r"^[0-9]{1,9}$")
_timestamps = itertools.count(1)


@dataclass
class POP3Config:
    hostname: str = "pop.mailspec.test"
    tls: ssl.SSLContext | None = None  # offered via STLS when set
    implicit_tls: bool = False
    idle_timeout: float = 600.0  # RFC 1939 section 3: at least 10 minutes
    behaviours: Behaviours = field(default_factory=Behaviours)
    locks: set[str] = field(default_factory=set)  # users whose maildrop is locked, shared by listeners


class _Close(Exception):
    pass


@dataclass
class _Msg:
    stored: StoredMessage
    data: bytes  # CRLF line ends

    @property
    def size(self) -> int:
        return len(self.data)


class POP3Session:
    def __init__(self, cfg: POP3Config, store: MailStore, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.cfg = cfg
        self.b = cfg.behaviours
        self.store = store
        self.reader = reader
        self.writer = writer
        self.parser = wire.CommandParser()
        self.out: list[bytes] = []
        self.tls = cfg.implicit_tls
        self.state = "AUTHORIZATION"
        self.user_arg: str | None = None  # after a successful USER
        self.user: str | None = None  # the locked maildrop's owner
        self.authed_by_sasl = False
        self._auth_failed = False
        self.utf8 = False  # RFC 6856 UTF-8 mode
        self.msgs: list[_Msg] = []
        self.deleted: set[int] = set()  # message numbers (1-based)
        self.retrieved: set[int] = set()
        self.uidvalidity = 0
        self.session_no = next(_timestamps)
        if APOP_SAME_TIMESTAMP in self.b:
            self.timestamp = f"<1.1@{cfg.hostname}>"
        else:
            self.timestamp = f"<{os.getpid()}.{self.session_no}.{time.time_ns()}@{cfg.hostname}>"

    # --- output ------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        if BARE_LF in self.b:
            data = data.replace(b"\r\n", b"\n")
        self.out.append(data)

    def ok(self, text: str = "", code: str | None = None) -> None:
        if RESP_CODES_ODD in self.b and code is None and not text[:1].isdigit():
            code = "X-MAILSPEC/ODD/DETAIL"
        data = wire.format_response(True, text, code)
        if STATUS_LOWER in self.b:
            data = b"+ok" + data[3:]
        self._emit(data)

    def err(self, text: str, code: str | None = None) -> None:
        if BAD_RESP_CODE in self.b and code is None:
            code = "AUTH/"
        data = wire.format_response(False, text, code)
        if STATUS_LOWER in self.b:
            data = b"-err" + data[4:]
        self._emit(data)

    def multiline(self, text: str, body: bytes) -> None:
        self.ok(text)
        if NO_BYTE_STUFF in self.b:
            self._emit(wire.normalize_crlf(body) + b".\r\n" if body else b".\r\n")
        else:
            self._emit(wire.byte_stuff(body))

    def lines(self, text: str, rows: list[str]) -> None:
        self.multiline(text, "".join(r + "\r\n" for r in rows).encode())

    async def flush(self) -> None:
        if (SLOW_AFTER_TLS in self.b or STLS_INJECTS in self.b) and self.tls and self.out:
            await asyncio.sleep(0.3)
        if self.out:
            self.writer.write(b"".join(self.out))
            self.out.clear()
            await self.writer.drain()

    # --- main loop ---------------------------------------------------------

    async def run(self) -> None:
        try:
            if GREET_ERR in self.b:
                self.err("POP3 server not ready")
            elif LONG_GREETING in self.b:
                self.ok(f"mailspec POP3 ready {'x' * 600} {self.timestamp}")
            elif GREET_NO_TIMESTAMP in self.b:
                self.ok("mailspec POP3 ready")
            else:
                self.ok(f"mailspec POP3 ready {self.timestamp}")
            await self.flush()
            while True:
                cmd = await self._next_command()
                if cmd is None:
                    return
                await self.dispatch(cmd)
                if PIPELINING_DROPS in self.b:
                    self.parser.take_pending()
                if not self.parser.pending() or b"\n" not in self.parser.pending():
                    await self.flush()
        except _Close:
            await self.flush()
        finally:
            self.release()

    def release(self) -> None:
        if self.user is not None:
            self.cfg.locks.discard(self.user)
            self.user = None

    async def _next_command(self) -> wire.Command | None:
        while True:
            try:
                cmd = self.parser.next_command()
            except RemoteProtocolError:
                self.err("line too long")
                raise _Close from None
            if cmd is not None:
                if SHORT_COMMANDS in self.b and len(cmd.raw) > 100:
                    raise _Close
                return cmd
            await self.flush()
            try:
                data = await asyncio.wait_for(self.reader.read(65536), self.cfg.idle_timeout)
            except TimeoutError:
                # RFC 1939 section 3: close without UPDATE and without a response.
                return None
            if not data:
                return None
            self.parser.feed(data)

    AUTH_VERBS = ("USER", "PASS", "APOP", "AUTH", "STLS", "UTF8")
    TRANS_VERBS = ("STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL")

    async def dispatch(self, cmd: wire.Command) -> None:
        verb = cmd.verb
        handler = getattr(self, f"do_{verb}", None)
        if handler is None or not verb.isalnum():
            if UNKNOWN_OK in self.b:
                self.ok()
            else:
                self.err("unknown command")
            return
        if verb in self.TRANS_VERBS and self.state != "TRANSACTION":
            if WRONG_STATE_OK in self.b:
                if not self.msgs:
                    self.msgs = self._snapshot(self.user_arg or "alice")
            else:
                self.err("not in TRANSACTION state; log in first")
                return
        allowed_late = (
            (WRONG_STATE_OK in self.b and verb in ("USER", "PASS"))
            or (verb == "STLS" and STLS_IN_TRANSACTION in self.b)
            or (verb == "AUTH" and AUTH_SECOND_OK in self.b)
        )
        if verb in self.AUTH_VERBS and self.state != "AUTHORIZATION" and not allowed_late:
            self.err("already authenticated")
            return
        await handler(cmd)

    def syntax(self, what: str) -> None:
        if UNKNOWN_OK in self.b:
            self.ok()
        else:
            self.err(what)

    # --- AUTHORIZATION -----------------------------------------------------

    def capabilities(self) -> list[str]:
        caps = ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "USER", "UTF8"]
        if CAPA_BAD_TAG in self.b:
            caps.append("X-MAILSPEC.ODD")
        if CAPA_LONG_LINE in self.b:
            caps.append("X-MAILSPEC-LONG " + "x" * 600)
        if self.state == "TRANSACTION" and CAPA_DROPS_AFTER_LOGIN in self.b:
            caps = [c for c in caps if c not in ("TOP", "UIDL")]
        if (
            self.state == "AUTHORIZATION"
            and self.cfg.tls is not None
            and (not self.tls or STLS_STILL_ADVERTISED in self.b)
        ):
            caps.append("STLS")
        if not (self.authed_by_sasl and SASL_DROPPED in self.b):
            caps.append("SASL " + ("X-MAILSPEC-NONE" if SASL_NO_PLAIN in self.b else "PLAIN"))
        caps.append("IMPLEMENTATION mailspec-embedded")
        if NO_UIDL_TOP in self.b:
            caps = [c for c in caps if c not in ("UIDL", "TOP")]
        if CAPA_NO_SASL in self.b:
            caps = [c for c in caps if not c.startswith("SASL")]
        if STLS_STRIPPED in self.b:
            caps = [c for c in caps if c != "STLS"]
        if CAPS_CHANGE_AFTER_TLS in self.b and not self.tls:
            caps = [("SASL X-MAILSPEC-NONE" if c.startswith("SASL") else c) for c in caps if c != "USER"]
        return caps

    async def do_CAPA(self, cmd: wire.Command) -> None:
        if cmd.args:
            self.syntax("CAPA takes no arguments")
            return
        if CAPA_UNSUPPORTED in self.b:
            self.err("unknown command")
            return
        if self.state == "TRANSACTION" and CAPA_AUTH_ONLY in self.b:
            self.err("not now")
            return
        self.lines("Capability list follows", self.capabilities())

    async def do_QUIT(self, cmd: wire.Command) -> None:
        if self.state == "AUTHORIZATION":
            if QUIT_AUTH_ERR in self.b:
                self.err("not logged in")
                return
            self.ok("mailspec POP3 signing off")
            raise _Close
        self.state = "UPDATE"
        assert self.user is not None
        gone = {self.msgs[n - 1].stored.uid for n in self.deleted}
        if QUIT_KEEPS_DELETED in self.b:
            gone = set()
        if QUIT_REMOVES_ALL in self.b:
            gone |= {self.msgs[n - 1].stored.uid for n in self.retrieved}
        if gone and DELE_IMMEDIATE not in self.b:
            self.store.expunge(self.user, gone)
        self.ok(f"mailspec POP3 signing off ({len(self.msgs) - len(self.deleted)} messages left)")
        self.release()
        if QUIT_STAYS_OPEN in self.b:
            await self.flush()
            self.state = "AUTHORIZATION"
            return
        raise _Close

    async def do_USER(self, cmd: wire.Command) -> None:
        if len(cmd.args) != 1 or not cmd.args[0]:
            self.syntax("USER takes one argument")
            return
        self.user_arg = cmd.args[0]
        self.ok("send PASS")

    async def do_PASS(self, cmd: wire.Command) -> None:
        user, self.user_arg = self.user_arg, None
        if self.state == "TRANSACTION":  # WRONG_STATE_OK: a second login in the same session
            self.release()
        if user is None:
            if PASS_WITHOUT_USER not in self.b:
                self.err("send USER first")
                return
            user = "alice"
        if not cmd.argument:
            self.syntax("PASS takes one argument")
            return
        acct = self.store.account(user)
        good = acct is not None and (acct.password == cmd.argument or PASS_ACCEPTS_ANY in self.b)
        if not good:
            self.err("invalid user name or password", "AUTH")
            return
        await self.open_maildrop(user)

    async def do_APOP(self, cmd: wire.Command) -> None:
        if len(cmd.args) != 2:
            self.syntax("APOP takes a name and a digest")
            return
        self.user_arg = None
        name, digest = cmd.args
        acct = self.store.account(name)
        expected = hashlib.md5((self.timestamp + acct.password).encode()).hexdigest() if acct else None
        if expected is None or (digest != expected and APOP_ACCEPTS_ANY not in self.b):
            self.err("permission denied", "AUTH")
            return
        await self.open_maildrop(name)

    async def open_maildrop(self, user: str) -> bool:
        # A session that just ended may not have released its lock yet: give it a moment.
        for _ in range(10):
            if user not in self.cfg.locks:
                break
            await asyncio.sleep(0.05)
        if user in self.cfg.locks and NO_LOCK not in self.b:
            if IN_USE_NO_CODE in self.b:
                self.err("maildrop already locked")
            else:
                self.err("maildrop already locked by another session", "IN-USE")
            return False
        if NO_LOCK not in self.b:
            self.cfg.locks.add(user)
        self.user = user
        acct = self.store.account(user)
        assert acct is not None
        self.uidvalidity = acct.mailboxes["INBOX"].uidvalidity
        self.msgs = self._snapshot(user)
        self.deleted = set()
        self.state = "TRANSACTION"
        self.ok(f"maildrop has {len(self.msgs)} messages ({sum(m.size for m in self.msgs)} octets)")
        return True

    def _snapshot(self, user: str) -> list[_Msg]:
        if self.store.account(user) is None:
            return []
        return [_Msg(m, wire.normalize_crlf(m.data)) for m in self.store.messages(user)]

    async def do_STLS(self, cmd: wire.Command) -> None:
        if cmd.args:
            self.syntax("STLS takes no arguments")
            return
        if self.cfg.tls is None:
            self.err("STLS not available")
            return
        if self.utf8 and UTF8_STLS_OK not in self.b:
            self.err("STLS not allowed after UTF8")
            return
        if STLS_ERR in self.b:
            self.err("TLS not available now")
            return
        if self.tls:
            if STLS_TWICE_OK in self.b:
                self.ok("again")
            else:
                self.err("TLS already active")
            return
        self.ok("Begin TLS negotiation")
        if STLS_EXTRA_LINE in self.b:
            self.ok("really, begin now")
        if STLS_INJECTS in self.b:
            self._emit(b"+OK injected capabilities\r\nUSER\r\nPIPELINING\r\n.\r\n")
        await self.flush()
        injected = self.parser.take_pending()
        try:
            await self.writer.start_tls(self.cfg.tls)
        except (ssl.SSLError, ConnectionError, OSError):
            raise _Close from None
        self.tls = True
        if STLS_INJECTION in self.b and injected:
            self.parser.feed(injected)

    async def do_UTF8(self, cmd: wire.Command) -> None:
        if cmd.args:
            self.syntax("UTF8 takes no arguments")
            return
        self.utf8 = True
        self.ok("UTF-8 mode enabled")

    def _utf8_refused(self, m: _Msg) -> bool:
        """RFC 6856 2.1: a message with UTF-8 header fields is refused outside UTF-8 mode (queues -ERR)."""
        head = m.data.partition(b"\r\n\r\n")[0]
        if all(b < 0x80 for b in head):
            return False
        if self.utf8 and UTF8_MODE_REFUSES not in self.b:
            return False
        if not self.utf8 and UTF8_AS_IS in self.b:
            return False
        self.err("message has UTF-8 header fields: send UTF8 first", None if UTF8_NO_CODE in self.b else "UTF8")
        return True

    async def do_AUTH(self, cmd: wire.Command) -> None:
        if not cmd.args:
            self.syntax("AUTH needs a mechanism")
            return
        if self._auth_failed and AUTH_FAIL_STICKY in self.b:
            self.err("too many failures")
            return
        if self.authed_by_sasl and AUTH_SECOND_OK in self.b:
            self.ok("already")
            return
        mech = cmd.args[0].upper()
        if mech != "PLAIN" or SASL_NO_PLAIN in self.b:
            if AUTH_UNKNOWN_MECH in self.b:
                self._emit(b"+ \r\n")
                await self.flush()
                await self._next_command()
            self.err("unsupported mechanism")
            return
        if len(cmd.args) > 2:
            self.syntax("AUTH PLAIN [initial-response]")
            return
        if len(cmd.args) == 2:
            token = cmd.args[1]
        else:
            if AUTH_NEEDS_INITIAL in self.b:
                self.err("initial response required")
                return
            self._emit(b"+ go ahead\r\n" if AUTH_CHALLENGE_TEXT in self.b else b"+ \r\n")
            await self.flush()
            nxt = await self._next_command()
            if nxt is None:
                raise _Close
            token = nxt.raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if token == "*":
                if AUTH_NO_CANCEL in self.b:
                    self._emit(b"+ \r\n")
                    await self.flush()
                    await self._next_command()
                self.err("authentication cancelled")
                self._auth_failed = True
                return
        creds = self._decode_plain(token)
        if creds is None:
            self.err("malformed SASL response")
            self._auth_failed = True
            return
        authzid, user, password = creds
        acct = self.store.account(user)
        good = acct is not None and (acct.password == password or AUTH_ACCEPTS_ANY in self.b)
        if not good or authzid not in ("", user):
            self.err("authentication failed", "AUTH")
            self._auth_failed = True
            return
        if AUTH_NO_SUCCESS_STATE in self.b:
            self.ok("welcome")
            return
        if await self.open_maildrop(user):
            self.authed_by_sasl = True

    def _decode_plain(self, token: str) -> tuple[str, str, str] | None:
        if token == "=":
            return None
        if AUTH_B64_LENIENT in self.b:
            token = re.sub(r"[^A-Za-z0-9+/=]", "", token)
        if AUTH_BAD_B64_OK in self.b:
            token = token.replace("=", "")
            token += "=" * (-len(token) % 4)
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return None
        parts = raw.split(b"\0")
        if len(parts) != 3:
            return None
        try:
            a, u, p = (x.decode("utf-8") for x in parts)
        except UnicodeDecodeError:
            return None
        return a, u, p

    # --- TRANSACTION -------------------------------------------------------

    def _visible(self) -> list[tuple[int, _Msg]]:
        shown = []
        for i, m in enumerate(self.msgs, 1):
            if i in self.deleted and LIST_SHOWS_DELETED not in self.b:
                continue
            shown.append((i, m))
        return shown

    def _label(self, n: int) -> int:
        return n - 1 if NUMBERS_FROM_0 in self.b else n

    def _size(self, m: _Msg) -> int:
        if UTF8_SIZE_CHARS in self.b:
            return len(m.data.decode("utf-8", "replace"))
        return len(m.data.replace(b"\r\n", b"\n")) if SIZE_LF in self.b else m.size

    def _gone_from_store(self, m: _Msg) -> bool:
        """NO_LOCK: a message another session removed is gone here too."""
        if NO_LOCK not in self.b or self.user is None:
            return False
        return all(s.uid != m.stored.uid for s in self.store.messages(self.user))

    def _message(self, arg: str) -> tuple[int, _Msg] | None:
        """The message an argument names, or None after queueing -ERR."""
        if not _NUMBER.match(arg):
            self.syntax("invalid message number")
            return None
        n = int(arg) + (1 if NUMBERS_FROM_0 in self.b else 0)
        if not 1 <= n <= len(self.msgs):
            if NO_SUCH_OK in self.b:
                self.ok(f"{arg} 0")
            else:
                self.err(f"no such message, only {len(self.msgs)} messages in maildrop")
            return None
        if n in self.deleted and DELE_NOT_MARKED not in self.b:
            self.err(f"message {arg} already deleted")
            return None
        m = self.msgs[n - 1]
        if self._gone_from_store(m):
            self.err(f"message {arg} was removed by another session")
            return None
        return n, m

    async def do_STAT(self, cmd: wire.Command) -> None:
        if cmd.args:
            self.syntax("STAT takes no arguments")
            return
        counted = [m for i, m in enumerate(self.msgs, 1) if i not in self.deleted or STAT_COUNTS_DELETED in self.b]
        count, size = len(counted), sum(self._size(m) for m in counted)
        if STAT_FORMAT in self.b:
            self.ok(f"{count} messages, {size} octets")
        else:
            self.ok(f"{count} {size}")

    def _scan(self, n: int, m: _Msg) -> str:
        sep = "  " if SCAN_FORMAT in self.b else " "
        return f"{self._label(n)}{sep}{self._size(m)}"

    async def do_LIST(self, cmd: wire.Command) -> None:
        if len(cmd.args) > 1:
            self.syntax("LIST [msg]")
            return
        if cmd.args:
            found = self._message(cmd.args[0])
            if found:
                self.ok(self._scan(*found))
            return
        shown = self._visible()
        self.lines(f"{len(shown)} messages", [self._scan(n, m) for n, m in shown])

    async def do_RETR(self, cmd: wire.Command) -> None:
        if len(cmd.args) != 1:
            self.syntax("RETR msg")
            return
        found = self._message(cmd.args[0])
        if found and not self._utf8_refused(found[1]):
            n, m = found
            self.retrieved.add(n)
            data = m.data
            if RETR_TRUNCATES in self.b:
                data = b"".join(data.splitlines(keepends=True)[:-1])
            self.multiline(f"{self._size(m)} octets", data)

    async def do_TOP(self, cmd: wire.Command) -> None:
        if NO_UIDL_TOP in self.b:
            self.err("unknown command")
            return
        if len(cmd.args) != 2 or not _NUMBER.match(cmd.args[1]):
            self.syntax("TOP msg n")
            return
        found = self._message(cmd.args[0])
        if not found or self._utf8_refused(found[1]):
            return
        _, m = found
        want = int(cmd.args[1]) + (1 if TOP_EXTRA_LINE in self.b else 0)
        head, sep, body = m.data.partition(b"\r\n\r\n")
        body_lines = body.splitlines(keepends=True) if sep else []
        if TOP_BIG_ERR in self.b and int(cmd.args[1]) > len(body_lines):
            self.err("not that many lines")
            return
        out = head + sep + b"".join(body_lines[:want]) if sep else m.data
        self.multiline("top of message follows", out)

    async def do_DELE(self, cmd: wire.Command) -> None:
        if len(cmd.args) != 1:
            self.syntax("DELE msg")
            return
        found = self._message(cmd.args[0])
        if found:
            n, m = found
            self.deleted.add(n)
            if DELE_IMMEDIATE in self.b and self.user is not None:
                self.store.expunge(self.user, {m.stored.uid})
            self.ok(f"message {cmd.args[0]} deleted")

    async def do_NOOP(self, cmd: wire.Command) -> None:
        if cmd.args:
            self.syntax("NOOP takes no arguments")
        elif NOOP_ERR in self.b:
            self.err("no")
        else:
            self.ok()

    async def do_RSET(self, cmd: wire.Command) -> None:
        if cmd.args:
            self.syntax("RSET takes no arguments")
            return
        if RSET_KEEPS not in self.b:
            self.deleted.clear()
        self.ok(f"maildrop has {len(self.msgs) - len(self.deleted)} messages")

    def _uid(self, n: int, m: _Msg) -> str:
        if UIDL_PER_SESSION in self.b:
            return f"s{self.session_no}-{n}"
        if UIDL_DUPLICATE in self.b:
            return "same-id"
        if UIDL_REUSE in self.b:
            return f"m{n}"
        uid = f"{self.uidvalidity}.{m.stored.uid}"
        if UIDL_LONG in self.b:
            uid = uid.rjust(80, "0")
        return uid

    def _uidl_line(self, n: int, m: _Msg) -> str:
        sep = "\t" if UIDL_FORMAT in self.b else " "
        tail = f" {m.size}" if UIDL_TRAILING in self.b else ""
        return f"{self._label(n)}{sep}{self._uid(n, m)}{tail}"

    async def do_UIDL(self, cmd: wire.Command) -> None:
        if NO_UIDL_TOP in self.b:
            self.err("unknown command")
            return
        if len(cmd.args) > 1:
            self.syntax("UIDL [msg]")
            return
        if cmd.args:
            found = self._message(cmd.args[0])
            if found:
                self.ok(self._uidl_line(*found))
            return
        self.lines("unique-id listing follows", [self._uidl_line(n, m) for n, m in self._visible()])


class POP3Server:
    """One listener's handler: ``ServerThread.listen(POP3Server(store, cfg).handle)``."""

    def __init__(self, store: MailStore, cfg: POP3Config) -> None:
        self.store = store
        self.cfg = cfg

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await POP3Session(self.cfg, self.store, reader, writer).run()

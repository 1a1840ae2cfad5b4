"""The session: greeting, CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ENABLE, ID,
literal limits and the per-command checks (RFC 9051 2.2, 3, 6.1-6.3.1; RFC 4959, 5161, 2971,
7888, 6855).

The clean server greets with ``* OK [CAPABILITY ...]``, offers STARTTLS with LOGINDISABLED
and no AUTH= mechanism before TLS on the cleartext port, AUTH=PLAIN (with SASL-IR) after it,
announces LITERAL- (non-synchronizing literals up to 4096 octets; bigger ones are refused with
BAD, ``[TOOBIG]`` for APPEND), and UTF8=ACCEPT for ENABLE. The hooks at the end plug the
session-level checks (wrong state, unknown command, unreadable line) into core's dispatch.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import zlib
from typing import cast

from ...wire import imap as wire
from . import core
from .core import ANY, AUTH, AUTHED, LOGOUT, NOT_AUTH, Bad, Close, Cmd, No, Session, astring, command, defect, offer

# Seeded defects. One line each: what the server does wrong.
GREETING_NOT_STATUS = defect("greeting-not-status", "greets with '* HELLO' instead of OK, PREAUTH or BYE")
GREETING_PREAUTH = defect("greeting-preauth", "greets with PREAUTH on the cleartext port")
NO_LOGIN_NEEDED = defect("no-login-needed", "answers authenticated and selected state commands with OK before login")
NO_SELECTION_NEEDED = defect("no-selection-needed", "answers selected state commands with OK when nothing is selected")
REAUTH_ALLOWED = defect("reauth-allowed", "answers LOGIN and AUTHENTICATE with OK in the authenticated state")
BAD_LOGIN_AUTHENTICATES = defect("bad-login-authenticates", "logs in on a LOGIN it rejects with BAD (extra argument)")
NOOP_FAILS = defect("noop-fails", "answers NOOP with NO")
LOGOUT_NO_BYE = defect("logout-no-bye", "closes at LOGOUT without sending an untagged BYE first")
LOGOUT_STAYS_OPEN = defect("logout-stays-open", "keeps the connection open after LOGOUT")
LOGOUT_NO_OK = defect("logout-no-ok", "closes after the BYE to LOGOUT without the tagged OK")
UNKNOWN_NO = defect("unknown-no", "answers unknown commands with NO")
LAX_SYNTAX = defect("lax-syntax", "ignores extra arguments to NOOP and CAPABILITY; missing LOGIN arguments get NO")
TAG_UPPER = defect("tag-upper", "upper-cases the tag in the completion of NOOP and of unknown commands")
DOUBLE_COMPLETION = defect("double-completion", "completes NOOP twice")
TAG_REUSE_BAD = defect("tag-reuse-bad", "refuses a tag the session used before with BAD")
PIPELINING_DROPS = defect("pipelining-drops", "discards commands that arrive in the same packet as the one before")
CAPABILITY_SPLIT = defect("capability-split", "splits CAPABILITY over two untagged responses")
NO_REVISION = defect("no-revision", "leaves IMAP4rev1 and IMAP4rev2 out of CAPABILITY")
REV2_DROPPED = defect("rev2-dropped", "leaves IMAP4rev2 out of CAPABILITY after login")
GREETING_CAPS_STALE = defect("greeting-caps-stale", "lists X-MAILSPEC in the greeting's CAPABILITY code only")
LOGIN_CAPS_STALE = defect("login-caps-stale", "sends the list from before login in the CAPABILITY code of LOGIN")
NO_STARTTLS = defect("no-starttls", "does not announce STARTTLS on the cleartext port")
NO_AUTH_PLAIN = defect("no-auth-plain", "announces no AUTH= mechanism")
LITERAL_BOTH = defect("literal-both", "announces LITERAL+ and LITERAL- together")
STARTTLS_EXTRA_LINE = defect("starttls-extra-line", "sends an untagged OK in clear after the OK to STARTTLS")
STARTTLS_INJECTION = defect("starttls-injection", "runs the commands pipelined after STARTTLS under TLS")
STARTTLS_AUTHENTICATES = defect("starttls-authenticates", "logs the session in at STARTTLS")
STARTTLS_STILL_ADVERTISED = defect("starttls-still-advertised", "announces STARTTLS under TLS")
STARTTLS_TWICE_OK = defect("starttls-twice-ok", "answers STARTTLS under TLS with OK")
LOGINDISABLED_ACCEPTS = defect("logindisabled-accepts", "accepts LOGIN while it announces LOGINDISABLED")
AUTH_NEEDS_IR = defect("auth-needs-ir", "answers AUTHENTICATE PLAIN without an initial response with NO")
SASL_IR_BAD = defect("sasl-ir-bad", "answers AUTHENTICATE with an initial response with BAD")
AUTH_CANCEL_NO = defect("auth-cancel-no", "answers an AUTHENTICATE cancelled with '*' with NO")
AUTH_BASE64_LAX = defect("auth-base64-lax", "skips non-base64 characters and inner pads (then NO, not BAD)")
AUTH_ACCEPTS_ANY = defect("auth-accepts-any", "accepts any AUTHENTICATE PLAIN password")
UNKNOWN_MECH_BAD = defect("unknown-mech-bad", "answers an unknown SASL mechanism with BAD")
LOGIN_NO_LITERALS = defect("login-no-literals", "refuses LOGIN arguments sent as literals")
LOGIN_NO_QUOTED = defect("login-no-quoted", "refuses LOGIN arguments sent as quoted strings")
LOGIN_ACCEPTS_ANY = defect("login-accepts-any", "accepts any LOGIN user name and password")
AUTH_FAIL_NO_CODE = defect("auth-fail-no-code", "refuses wrong credentials without the AUTHENTICATIONFAILED code")
LOGIN_NAMES_USER = defect("login-names-user", "says 'no such user' when LOGIN names an unknown user")
ENABLE_UNKNOWN_LISTED = defect("enable-unknown-listed", "lists unknown extensions in ENABLED")
ENABLE_KNOWN_LISTED = defect("enable-known-listed", "lists announced extensions that ENABLE cannot enable in ENABLED")
ENABLE_IGNORED = defect("enable-ignored", "enables nothing")
ENABLE_NO_ENABLED = defect("enable-no-enabled", "sends no ENABLED response when nothing was enabled")
ENABLE_NOT_LISTED = defect("enable-not-listed", "leaves the extensions it enabled out of ENABLED")
ENABLE_CUMULATIVE = defect("enable-cumulative", "lists every extension enabled so far in each ENABLED")
ENABLE_CHANGES_CAPS = defect("enable-changes-caps", "leaves enabled extensions out of CAPABILITY")
ENABLE_CASE_SENSITIVE = defect("enable-case-sensitive", "knows extension names in ENABLE in upper case only")
UTF8_QUOTED_BAD = defect("utf8-quoted-bad", "refuses UTF-8 in quoted strings after ENABLE UTF8=ACCEPT")
UTF8_INVALID_ACCEPTED = defect("utf8-invalid-accepted", "reads invalid UTF-8 in quoted strings as Latin-1")
ID_NO_RESPONSE = defect("id-no-response", "completes ID without an untagged ID response")
ID_AUTH_ONLY = defect("id-auth-only", "refuses ID before login")
ID_LONG_FIELD = defect("id-long-field", "sends a 40-octet field name in its ID response")
ID_REPEATED_FIELD = defect("id-repeated-field", "sends the field 'name' twice in its ID response")
NONSYNC_REFUSED = defect("nonsync-refused", "refuses commands with non-synchronizing literals with BAD")
NONSYNC_CONTINUATION = defect("nonsync-continuation", "sends '+' for non-synchronizing literals too")
LITERAL_MINUS_UNLIMITED = defect("literal-minus-unlimited", "accepts non-synchronizing literals over 4096 octets")
LITERAL_MINUS_NO_TOOBIG = defect("literal-minus-no-toobig", "refuses a big non-synchronizing APPEND without TOOBIG")
HUGE_LITERAL_RESYNC = defect(
    "huge-literal-resync", "after a literal beyond its limit, reads the octets that follow as commands"
)
COMPRESS_NOT_ACTIVE = defect("compress-not-active", "answers COMPRESS DEFLATE with OK but goes on uncompressed")
COMPRESS_ON_REFUSAL = defect(
    "compress-on-refusal", "turns DEFLATE on after refusing COMPRESS with an unknown mechanism"
)
COMPRESS_UNKNOWN_NO = defect("compress-unknown-no", "answers COMPRESS with an unknown mechanism with NO")
COMPRESS_TWICE_OK = defect("compress-twice-ok", "answers COMPRESS with OK while DEFLATE is active already")
CLOSE_WITHOUT_BYE = defect("close-without-bye", "closes without BYE on a line or literal beyond its limits")

offer("IMAP4rev1", "IMAP4rev2", "SASL-IR", "ENABLE", "LITERAL-", "ID", "UTF8=ACCEPT", "COMPRESS=DEFLATE")

NONSYNC_LIMIT = 4096  # RFC 7888 section 5 (LITERAL-), RFC 9051 section 4.3
ENABLEABLE = {"IMAP4REV2", "UTF8=ACCEPT", "CONDSTORE", "QRESYNC"}  # extensions ENABLE can turn on
ID_FIELDS = (("name", "mailspec"), ("vendor", "mailspec"), ("support-url", "https://mailspec.test/"))


def capability_list(s: Session, *, before_login: bool = False) -> list[str]:
    """The capabilities in force for the session (RFC 9051 6.1.1, 7.2.2)."""
    caps = list(core.OFFERED)
    if NO_REVISION in s.b:
        caps = [c for c in caps if c.upper() not in ("IMAP4REV1", "IMAP4REV2")]
    if REV2_DROPPED in s.b and s.state in AUTHED:
        caps = [c for c in caps if c.upper() != "IMAP4REV2"]
    if LITERAL_BOTH in s.b:
        caps.append("LITERAL+")
    if ENABLE_CHANGES_CAPS in s.b:
        caps = [c for c in caps if c.upper() not in s.enabled]
    if s.state == NOT_AUTH or before_login:
        cleartext = s.cfg.tls is not None and not s.tls
        if cleartext and NO_STARTTLS not in s.b:
            caps.append("STARTTLS")
        if s.tls and s.cfg.tls is not None and STARTTLS_STILL_ADVERTISED in s.b:
            caps.append("STARTTLS")
        if cleartext:
            caps.append("LOGINDISABLED")  # and no plaintext mechanism before TLS (RFC 9051 11.7)
        elif NO_AUTH_PLAIN not in s.b:
            caps.append("AUTH=PLAIN")
    return caps


def greeting(s: Session) -> str:
    caps = capability_list(s)
    if GREETING_CAPS_STALE in s.b:
        caps.append("X-MAILSPEC")
    status = "HELLO" if GREETING_NOT_STATUS in s.b else "OK"
    if GREETING_PREAUTH in s.b and not s.tls:
        status = "PREAUTH"
    return f"{status} [CAPABILITY {' '.join(caps)}] mailspec IMAP ready"


# --- any state -----------------------------------------------------------------------


def _no_args(s: Session, cmd: Cmd) -> None:
    if cmd.args and LAX_SYNTAX not in s.b:
        raise Bad(f"{cmd.name} takes no arguments")


@command("CAPABILITY", states=ANY)
async def capability(s: Session, cmd: Cmd) -> None:
    _no_args(s, cmd)
    caps = capability_list(s)
    if CAPABILITY_SPLIT in s.b:
        half = len(caps) // 2
        s.untagged("CAPABILITY " + " ".join(caps[:half]))
        s.untagged("CAPABILITY " + " ".join(caps[half:]))
    else:
        s.untagged("CAPABILITY " + " ".join(caps))


@command("NOOP", states=ANY)
async def noop(s: Session, cmd: Cmd) -> None:
    _no_args(s, cmd)
    if NOOP_FAILS in s.b:
        raise No("NOOP failed")
    s.sync()
    if TAG_UPPER in s.b:
        s.emit(f"{cmd.tag.upper()} OK NOOP completed\r\n".encode())
        s.completed = True
    elif DOUBLE_COMPLETION in s.b:
        s.tagged("OK", "NOOP completed")
        s.tagged("OK", "NOOP completed")


@command("LOGOUT", states=ANY)
async def logout(s: Session, cmd: Cmd) -> None:
    _no_args(s, cmd)
    if LOGOUT_NO_BYE not in s.b:
        s.untagged("BYE mailspec IMAP signing off")
    if LOGOUT_NO_OK in s.b:
        s.completed = True
        raise Close
    s.tagged("OK", "LOGOUT completed")
    if LOGOUT_STAYS_OPEN in s.b:
        return
    s.state = LOGOUT
    raise Close


@command("ID", states=ANY)
async def id_(s: Session, cmd: Cmd) -> None:
    """RFC 2971: the client's list (or NIL) is read and ignored; ours is answered."""
    if len(cmd.args) != 1 or not (cmd.args[0] is None or isinstance(cmd.args[0], list)):
        raise Bad("ID takes a parenthesised list of field/value pairs, or NIL")
    if ID_AUTH_ONLY in s.b and s.state == NOT_AUTH:
        raise Bad("ID is not allowed before login")
    fields = list(ID_FIELDS)
    if ID_LONG_FIELD in s.b:
        fields.append(("x-" + "f" * 38, "long"))
    if ID_REPEATED_FIELD in s.b:
        fields.append(("name", "mailspec-again"))
    if ID_NO_RESPONSE not in s.b:
        s.untagged("ID (" + " ".join(f'"{k}" "{v}"' for k, v in fields) + ")")


# --- not authenticated state -----------------------------------------------------------


@command("STARTTLS", states=(NOT_AUTH,))
async def starttls(s: Session, cmd: Cmd) -> None:
    _no_args(s, cmd)
    under_tls = s.tls and STARTTLS_TWICE_OK not in s.b
    if s.cfg.tls is None or under_tls:
        # RFC 9051 6.2.1: BAD on an Implicit TLS port and after TLS negotiation.
        raise Bad("TLS is active already" if s.tls else "TLS is not available")
    s.tagged("OK", "Begin TLS negotiation now")
    if s.tls:
        return
    if STARTTLS_EXTRA_LINE in s.b:
        s.untagged("OK TLS next")
    clear = s.parser
    # Anything else pipelined after STARTTLS arrived in clear: start_tls drops it (RFC 9051 6.2.1).
    await s.start_tls()
    if STARTTLS_INJECTION in s.b:
        s.parser = clear  # the commands that came in clear run under TLS
    if STARTTLS_AUTHENTICATES in s.b:
        s.user, s.state = s.store.users()[0], AUTH


def _authenticated(s: Session, user: str) -> None:
    before = capability_list(s, before_login=True)
    s.user = user
    s.state = AUTH
    caps = before if LOGIN_CAPS_STALE in s.b else capability_list(s)
    s.tagged("OK", "logged in", code="CAPABILITY " + " ".join(caps))


def _failed_code(s: Session) -> str | None:
    return None if AUTH_FAIL_NO_CODE in s.b else "AUTHENTICATIONFAILED"


def _cleartext(s: Session) -> bool:
    return s.cfg.tls is not None and not s.tls


@command("LOGIN", states=(NOT_AUTH,))
async def login(s: Session, cmd: Cmd) -> None:
    if len(cmd.args) != 2:
        if LAX_SYNTAX in s.b and len(cmd.args) < 2:
            raise No("user name or password missing")
        if BAD_LOGIN_AUTHENTICATES in s.b and len(cmd.args) > 2:
            user = astring(cmd.args[0], "user name")
            if s.store.check_password(user, astring(cmd.args[1], "password")):
                s.user, s.state = user, AUTH
        raise Bad(f"LOGIN takes a user name and a password, got {len(cmd.args)} argument(s)")
    user, password = astring(cmd.args[0], "user name"), astring(cmd.args[1], "password")
    if _cleartext(s) and LOGINDISABLED_ACCEPTS not in s.b:
        # RFC 9051 7.2.2: NO while LOGINDISABLED is announced, the credentials not even checked.
        raise No("LOGIN is disabled before STARTTLS", code="PRIVACYREQUIRED")
    head = _outside_literals(cmd.raw)
    if LOGIN_NO_LITERALS in s.b and b"{" in head:
        raise No("literals are not accepted in LOGIN")
    if LOGIN_NO_QUOTED in s.b and b'"' in head:
        raise No("quoted strings are not accepted in LOGIN")
    if LOGIN_NAMES_USER in s.b and s.store.account(user) is None:
        raise No(f"no such user: {user}")
    if LOGIN_ACCEPTS_ANY in s.b:
        user = user if s.store.account(user) is not None else s.store.users()[0]
    elif not s.store.check_password(user, password):
        raise No("authentication failed", code=_failed_code(s))
    _authenticated(s, user)


_B64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")


def _sasl_decode(s: Session, token: bytes) -> bytes:
    """RFC 9051 6.2.2: a response outside the base64 alphabet, or with a pad inside, is a BAD."""
    if AUTH_BASE64_LAX in s.b:
        kept = re.sub(rb"[^A-Za-z0-9+/]", b"", token)
        return base64.b64decode(kept + b"=" * (-len(kept) % 4))
    if not _B64.match(token) or len(token) % 4:
        raise Bad("the response is not base64")
    try:
        return base64.b64decode(token, validate=True)
    except binascii.Error:
        raise Bad("the response is not base64") from None


@command("AUTHENTICATE", states=(NOT_AUTH,))
async def authenticate(s: Session, cmd: Cmd) -> None:
    if len(cmd.args) not in (1, 2):
        raise Bad("AUTHENTICATE takes a mechanism and an optional initial response")
    mech = astring(cmd.args[0], "mechanism").upper()
    if mech != "PLAIN" or NO_AUTH_PLAIN in s.b:
        if UNKNOWN_MECH_BAD in s.b:
            raise Bad(f"mechanism {mech} is not supported")
        raise No(f"mechanism {mech} is not supported")
    if _cleartext(s):
        raise No("authentication is disabled before STARTTLS", code="PRIVACYREQUIRED")
    if len(cmd.args) == 2:
        if SASL_IR_BAD in s.b:
            raise Bad("initial responses are not supported")
        token = astring(cmd.args[1], "initial response").encode()
        token = b"" if token == b"=" else token
    else:
        if AUTH_NEEDS_IR in s.b:
            raise No("PLAIN needs an initial response")
        s.continuation("")
        token = (await s.read_line()).rstrip(b"\r\n")
    if token == b"*":
        if AUTH_CANCEL_NO in s.b:
            raise No("authentication cancelled")
        raise Bad("authentication cancelled")
    parts = _sasl_decode(s, token).split(b"\0")
    if len(parts) != 3:
        if AUTH_BASE64_LAX in s.b:
            raise No("authentication failed", code=_failed_code(s))
        raise Bad("a PLAIN response is authzid NUL authcid NUL passwd")
    authz, user, password = (p.decode("utf-8", "replace") for p in parts)
    good = AUTH_ACCEPTS_ANY in s.b or s.store.check_password(user, password)
    if (authz and authz != user) or not good or s.store.account(user) is None:
        raise No("authentication failed", code=_failed_code(s))
    _authenticated(s, user)


# --- authenticated state ----------------------------------------------------------------


@command("ENABLE", states=AUTHED)
async def enable(s: Session, cmd: Cmd) -> None:
    """RFC 9051 6.3.1 / RFC 5161: enable what is offered and enable-able; ignore the rest."""
    if not cmd.args:
        raise Bad("ENABLE needs at least one capability")
    offered = {c.upper() for c in core.OFFERED}
    newly: list[str] = []
    for arg in cmd.args:
        given = astring(arg, "capability")
        name = given if ENABLE_CASE_SENSITIVE in s.b else given.upper()
        if ENABLE_IGNORED in s.b:
            continue
        listed = (name in offered and ENABLE_KNOWN_LISTED in s.b) or (
            name not in offered and ENABLE_UNKNOWN_LISTED in s.b
        )
        if name in offered and name in ENABLEABLE and name not in s.enabled:
            s.enabled.add(name)
            newly.append(name)
        elif listed and name not in newly:
            newly.append(name)
    if ENABLE_CUMULATIVE in s.b:
        newly = sorted(s.enabled)
    if ENABLE_NOT_LISTED in s.b:
        newly = [n for n in newly if n not in s.enabled]
    if newly or ENABLE_NO_ENABLED not in s.b:
        s.untagged("ENABLED" + "".join(f" {wire.Atom(n)}" for n in newly))


# --- COMPRESS=DEFLATE (RFC 4978) -----------------------------------------------------------


class _Inflating:
    """The session's reader once DEFLATE is on: raw deflate (RFC 1951) in, commands out."""

    def __init__(self, inner: asyncio.StreamReader) -> None:
        self.inner = inner
        self.z = zlib.decompressobj(-15)

    async def read(self, n: int = -1) -> bytes:
        while True:
            data = await self.inner.read(n)
            if not data:
                return b""
            try:
                out = self.z.decompress(data)
            except zlib.error:
                return b""  # not DEFLATE: nothing more can be read from this client
            if out:
                return out


class _Deflating:
    """The session's writer once DEFLATE is on: each flush ends with a sync flush so the client can read it."""

    def __init__(self, inner: asyncio.StreamWriter) -> None:
        self.inner = inner
        self.z = zlib.compressobj(wbits=-15)

    def write(self, data: bytes) -> None:
        self.inner.write(self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH))

    async def drain(self) -> None:
        await self.inner.drain()


def _deflate(s: Session) -> None:
    s.extra["compress"] = True
    s.reader = cast(asyncio.StreamReader, _Inflating(s.reader))
    s.writer = cast(asyncio.StreamWriter, _Deflating(s.writer))


@command("COMPRESS", states=AUTHED)
async def compress(s: Session, cmd: Cmd) -> None:
    if len(cmd.args) != 1:
        raise Bad("COMPRESS takes one mechanism name")
    mech = astring(cmd.args[0], "mechanism").upper()
    if mech != "DEFLATE":
        if COMPRESS_ON_REFUSAL in s.b:
            s.tagged("BAD", f"unknown compression mechanism {mech}")
            await s.flush()
            _deflate(s)
            return
        if COMPRESS_UNKNOWN_NO in s.b:
            raise No(f"unknown compression mechanism {mech}")
        raise Bad(f"unknown compression mechanism {mech}")
    if s.extra.get("compress"):
        if COMPRESS_TWICE_OK in s.b:
            return
        raise Bad("DEFLATE is active already")
    s.tagged("OK", "DEFLATE active")
    await s.flush()  # the OK goes uncompressed; everything after it is compressed (RFC 4978 section 3)
    if COMPRESS_NOT_ACTIVE not in s.b:
        _deflate(s)


# --- literals and the per-command checks (hooks core's dispatch calls) -----------------------

_LITERAL_END = re.compile(rb"\{(\d+)(\+?)\}\r?\n\Z")


def _literals(raw: bytes) -> list[tuple[int, bool]]:
    """The literals of a command as sent: (size, non-synchronizing), walking line by line."""
    out: list[tuple[int, bool]] = []
    pos = 0
    while True:
        lf = raw.find(b"\n", pos)
        if lf < 0:
            return out
        m = _LITERAL_END.search(raw[pos : lf + 1])
        pos = lf + 1
        if m is not None:
            out.append((int(m.group(1)), m.group(2) == b"+"))
            pos += int(m.group(1))


def _outside_literals(raw: bytes) -> bytes:
    """The command's text without the octets of its literals."""
    out = bytearray()
    pos = 0
    while pos < len(raw):
        lf = raw.find(b"\n", pos)
        end = len(raw) if lf < 0 else lf + 1
        line = raw[pos:end]
        out += line
        m = _LITERAL_END.search(line)
        pos = end + (int(m.group(1)) if m else 0)
    return bytes(out)


def before_command(s: Session, cmd: Cmd) -> Cmd:
    """Checks on every command before its handler: tags, literal limits, UTF-8 in quoted strings."""
    tags: set[str] = s.extra.setdefault("tags", set())  # type: ignore[assignment]
    if TAG_REUSE_BAD in s.b and cmd.tag in tags:
        raise Bad(f"tag {cmd.tag} was used before")
    tags.add(cmd.tag)
    if PIPELINING_DROPS in s.b and s.parser.has_pending_line():
        s.parser = wire.CommandParser()  # what is buffered is thrown away
    literals = _literals(cmd.raw)
    if any(plus for _, plus in literals):
        if NONSYNC_REFUSED in s.b:
            raise Bad("non-synchronizing literals are not supported")
        if NONSYNC_CONTINUATION in s.b:
            s.continuation("Ready for literal data")
    big = [n for n, plus in literals if plus and n > NONSYNC_LIMIT]
    if big and LITERAL_MINUS_UNLIMITED not in s.b:
        # RFC 7888 section 5: LITERAL- refuses them, with TOOBIG for APPEND.
        code = "TOOBIG" if cmd.name == "APPEND" and LITERAL_MINUS_NO_TOOBIG not in s.b else None
        raise Bad(f"non-synchronizing literals are limited to {NONSYNC_LIMIT} octets", code=code)
    head = _outside_literals(cmd.raw)
    if not head.isascii():
        if not s.utf8 and not s.rev2:
            # IMAP4rev1 quoted strings are 7-bit (RFC 3501 9); RFC 9051 and UTF8=ACCEPT allow UTF-8.
            raise Bad("8-bit characters outside literals need ENABLE UTF8=ACCEPT")
        if UTF8_QUOTED_BAD in s.b:
            raise Bad("UTF-8 in quoted strings is not supported")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            if UTF8_INVALID_ACCEPTED not in s.b:
                raise Bad("a quoted string is not valid UTF-8 (RFC 6855 section 3)") from None
            return Cmd(cmd.tag, cmd.name, tuple(_latin1(a) for a in cmd.args), cmd.uid, cmd.raw)
    return cmd


def _latin1(v: wire.Value) -> wire.Value:
    if isinstance(v, bytes):
        try:
            v.decode("utf-8")
        except UnicodeDecodeError:
            return v.decode("latin-1").encode("utf-8")
    return v


def wrong_state(s: Session, cmd: Cmd) -> bool:
    """A command not allowed in the session's state: True to answer OK all the same (a seeded defect)."""
    if s.state == NOT_AUTH:
        return NO_LOGIN_NEEDED in s.b
    if cmd.name in ("LOGIN", "AUTHENTICATE"):
        return REAUTH_ALLOWED in s.b
    return s.state == AUTH and NO_SELECTION_NEEDED in s.b and cmd.name != "STARTTLS"


def unknown_command(s: Session, cmd: Cmd) -> None:
    text = f"unknown command {cmd.name}"
    if TAG_UPPER in s.b:
        s.emit(f"{cmd.tag.upper()} BAD {text}\r\n".encode())
        s.completed = True
        return
    if UNKNOWN_NO in s.b:
        raise No(text)
    raise Bad(text)


def unreadable(s: Session, tag: str | None, what: str) -> None:
    """A line the grammar cannot read: BAD, and the session goes on with the next line.

    A literal beyond the limit ends the session with BYE (RFC 7888 section 4, choice 2): the
    octets the client may send next are data of that literal, never commands to run.
    """
    too_big = "beyond the limit" in what
    if CLOSE_WITHOUT_BYE in s.b and (too_big or "longer than" in what):
        raise Close
    if too_big and HUGE_LITERAL_RESYNC not in s.b:
        s.untagged(f"BYE [TOOBIG] {what}")
        raise Close
    s.emit(f"{tag or '*'} BAD {what}\r\n".encode())


core.HOOKS.capabilities = capability_list
core.HOOKS.greeting = greeting
core.HOOKS.before_command = before_command
core.HOOKS.wrong_state = wrong_state
core.HOOKS.unknown_command = unknown_command
core.HOOKS.unreadable = unreadable

"""The "mailspec" agent's IMAP client: ``python -m conformance.agents.mailspec_imap imap OPERATION [options]``.

Operations: fetch-all (every message of the mailbox), fetch-one (UID --msgnum), delete
(fetch all, then \\Deleted and EXPUNGE), fetch-folder (--mailbox, found with LIST), sync and
fetch-new (only what is new since the last run: UIDs kept per UIDVALIDITY in --state).
Messages go into --maildir as fetched (byte-exact BODY[]).

Clean, it does what RFC 9051 (and RFC 3501, RFC 2595) ask of a client. Its client
behaviours (protocol "imap-client", switched on by MAILSPEC_CLIENT_BEHAVIOURS) are the
seeded defects of the IMAP client cases, each breaking one requirement.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import ssl
import sys
import time
from pathlib import Path

from ..servers.behaviours import Behaviour, behaviour
from ..wire.imap import decode_mailbox, encode_mailbox
from . import runner
from .mailspec import Failure, Wire, _on
from .runner import EX_ERROR, EX_TEMPFAIL, EX_UNAVAILABLE


def _i(name: str, description: str) -> Behaviour:
    return behaviour("imap-client", name, description)


STRICT_RESPONSES = _i("strict-responses", "fails on untagged responses it did not ask for")
UNKNOWN_CODE_FAILS = _i("unknown-code-fails", "fails on response codes it does not know")
UNKNOWN_CAPS_FAIL = _i("unknown-caps-fail", "fails when the server announces a capability it does not know")
REQUIRES_CAPS = _i("requires-caps", "gives up unless the server announces IDLE, UIDPLUS and LITERAL+ or LITERAL-")
CASE_SENSITIVE = _i("case-sensitive", "knows status and response names in upper case only")
FIRST_EXISTS_ONLY = _i("first-exists-only", "keeps the first EXISTS of a SELECT response and ignores later ones")
IGNORES_EXPUNGE = _i("ignores-expunge", "does not decrement its message count on EXPUNGE")
FIXED_FETCH_ORDER = _i("fixed-fetch-order", "reads UID only when it comes before the message text in FETCH")
LITERAL_BY_LINES = _i("literal-by-lines", "reads a literal line by line up to a line ')' instead of counting octets")
SHORT_READ = _i("short-read", "takes a literal from what one read returns")
DECODES_TEXT = _i("decodes-text", "decodes message text as ASCII (replacing 8-bit octets)")
QUOTED_NAMES_ONLY = _i("quoted-names-only", "reads mailbox names in LIST only as quoted strings or atoms")
UTF8_MAILBOX = _i("utf8-mailbox", "sends non-ASCII mailbox names as raw UTF-8, not modified UTF-7")
IGNORES_UIDVALIDITY = _i("ignores-uidvalidity", "keeps the UIDs it has seen when UIDVALIDITY changes")
NO_LOGOUT = _i("no-logout", "closes the connection without LOGOUT")
LOGOUT_NO_WAIT = _i("logout-no-wait", "closes the connection right after sending LOGOUT")
LOGIN_DESPITE_DISABLED = _i("login-despite-logindisabled", "uses LOGIN though the server announces LOGINDISABLED")
KEEPS_PRE_TLS_CAPS = _i("keeps-pre-tls-caps", "issues no CAPABILITY after STARTTLS and keeps the list from before")
ACTS_ON_INJECTED = _i("acts-on-injected", "reads responses received before the TLS handshake as responses after it")
PIPELINES_STARTTLS = _i("pipelines-starttls", "sends CAPABILITY right behind STARTTLS, before the TLS handshake")
TLS_OPTIONAL = _i("tls-optional", "logs in in cleartext when STARTTLS is not offered or refused")
NO_CERT_CHECK = _i("no-cert-check", "accepts any server certificate (no chain or name check)")
LITERAL_NO_WAIT = _i("literal-no-wait", "sends synchronizing literal data without waiting for '+'")
PIPELINES_SEQNUMS = _i("pipelines-seqnums", "sends FETCH with message numbers right behind SELECT, without waiting")

KNOWN_CODES = {
    "ALERT", "BADCHARSET", "CAPABILITY", "PARSE", "PERMANENTFLAGS", "READ-ONLY", "READ-WRITE", "TRYCREATE",
    "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "NOMODSEQ", "APPENDUID", "COPYUID", "CLOSED",
    "AUTHENTICATIONFAILED", "PRIVACYREQUIRED", "NONEXISTENT", "ALREADYEXISTS", "UIDNOTSTICKY",
}  # fmt: skip
KNOWN_CAPS = {
    "IMAP4REV1", "IMAP4REV2", "STARTTLS", "LOGINDISABLED", "AUTH=PLAIN", "SASL-IR", "ENABLE", "LITERAL+",
    "LITERAL-", "ID", "UTF8=ACCEPT", "COMPRESS=DEFLATE", "IDLE", "UIDPLUS", "MOVE", "UNSELECT", "NAMESPACE",
    "CONDSTORE", "QRESYNC", "ESEARCH", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "BINARY",
    "STATUS=SIZE", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "QUOTASET", "SEARCHRES", "CREATE-SPECIAL-USE",
    "WITHIN", "SORT", "THREAD=REFERENCES", "ESORT", "APPENDLIMIT", "OBJECTID", "SAVEDATE", "PREVIEW",
}  # fmt: skip


class Response:
    """One server response: its text parts with the literals between them."""

    def __init__(self, parts: list[bytes], literals: list[bytes]) -> None:
        self.parts, self.literals = parts, literals

    @property
    def head(self) -> str:
        return self.parts[0].decode("utf-8", "replace").rstrip("\r\n")

    @property
    def text(self) -> str:
        return " ".join(p.decode("utf-8", "replace").rstrip("\r\n") for p in self.parts)


class IMAP:
    def __init__(self, w: Wire) -> None:
        self.w = w
        self.n = 0
        self.caps: set[str] = set()
        self.exists: int | None = None
        self.uidvalidity = 0
        self.messages: dict[int, tuple[int | None, bytes]] = {}  # seq -> (uid, text)
        self.listed: list[tuple[str, str | bytes]] = []  # (decoded name, name as sent)
        self.bye = False

    # --- reading ---------------------------------------------------------------------------

    def _literal(self, n: int) -> bytes:
        w = self.w
        if _on(LITERAL_BY_LINES):
            got = b""
            while True:
                line = w.line()
                if line == b")\r\n":
                    w.buf = line + w.buf
                    return got
                got += line
        if _on(SHORT_READ):
            if len(w.buf) < n:
                data = w.sock.recv(65536)
                w.buf += data
            got, w.buf = w.buf[:n], w.buf[n:]
            return got
        while len(w.buf) < n:
            data = w.sock.recv(65536)
            if not data:
                raise Failure(EX_ERROR, "connection closed inside a literal")
            w.buf += data
        got, w.buf = w.buf[:n], w.buf[n:]
        return got

    def response(self) -> Response:
        parts: list[bytes] = []
        literals: list[bytes] = []
        while True:
            line = self.w.line()
            parts.append(line)
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                return Response(parts, literals)
            literals.append(self._literal(int(m.group(1))))

    def _word(self, word: str, expected: str) -> bool:
        return word == expected if _on(CASE_SENSITIVE) else word.upper() == expected

    def _codes(self, text: str) -> None:
        m = re.match(r"\[([^\]\s]+)(?: ([^\]]*))?\]", text)
        if not m:
            return
        code, arg = m.group(1).upper(), m.group(2) or ""
        if code not in KNOWN_CODES:
            if _on(UNKNOWN_CODE_FAILS):
                raise Failure(EX_ERROR, f"unknown response code [{m.group(1)}]")
            return
        if code == "CAPABILITY":
            self.set_caps(arg)
        elif code == "UIDVALIDITY" and arg.isdigit():
            self.uidvalidity = int(arg)

    def set_caps(self, text: str) -> None:
        self.caps = {c.upper() for c in text.split()}
        unknown = sorted(c for c in self.caps if c not in KNOWN_CAPS)
        if unknown and _on(UNKNOWN_CAPS_FAIL):
            raise Failure(EX_ERROR, f"unknown capabilities: {' '.join(unknown)}")

    def untagged(self, r: Response, asked: str) -> None:
        words = r.head.split(" ")
        kind = words[1] if len(words) > 1 else ""
        rest = r.head.split(" ", 2)[2] if len(words) > 2 else ""
        if kind.isdigit() and len(words) > 2:
            n, what = int(kind), words[2]
            if self._word(what, "EXISTS"):
                if asked != "SELECT" and _on(STRICT_RESPONSES):
                    raise Failure(EX_ERROR, f"unexpected {r.head}")
                if not (_on(FIRST_EXISTS_ONLY) and self.exists is not None and asked == "SELECT"):
                    self.exists = n
            elif self._word(what, "EXPUNGE"):
                if self.exists and not _on(IGNORES_EXPUNGE):
                    self.exists -= 1
                    self.messages = {(k - 1 if k > n else k): v for k, v in self.messages.items() if k != n}
            elif self._word(what, "FETCH"):
                self._fetch(n, r, asked)
            elif self._word(what, "RECENT"):
                pass
            else:
                raise Failure(EX_ERROR, f"not a response: {r.head[:60]!r}")
            return
        if self._word(kind, "OK") or self._word(kind, "NO") or self._word(kind, "BAD"):
            if (
                asked not in ("greeting", "SELECT")
                and _on(STRICT_RESPONSES)
                and not rest.upper().startswith("[CAPABILITY")
            ):
                raise Failure(EX_ERROR, f"unexpected {r.head}")
            self._codes(rest)
        elif self._word(kind, "BYE"):
            self.bye = True
            if asked not in ("LOGOUT",):
                raise Failure(EX_TEMPFAIL, f"the server said {r.head}")
        elif self._word(kind, "CAPABILITY"):
            self.set_caps(rest)
        elif self._word(kind, "PREAUTH"):
            self._codes(rest)
        elif self._word(kind, "LIST") or self._word(kind, "LSUB"):
            self._list(r)
        elif kind.upper() in ("FLAGS", "SEARCH", "ESEARCH", "ENABLED", "ID", "STATUS", "NAMESPACE", "VANISHED"):
            pass
        else:
            raise Failure(EX_ERROR, f"not a response: {r.head[:60]!r}")

    def _fetch(self, n: int, r: Response, asked: str) -> None:
        texts = [p.decode("utf-8", "replace") for p in r.parts]
        scope = texts[:1] if _on(FIXED_FETCH_ORDER) else texts
        uid = None
        for t in scope:
            m = re.search(r"\bUID (\d+)", t, re.I)
            if m:
                uid = int(m.group(1))
        body = None
        for i, lit in enumerate(r.literals):
            if re.search(r"(BODY(\.PEEK)?\[\]|RFC822)(<0>)? \{\d+\}\r\n$", texts[i], re.I):
                body = lit
        if body is None:
            if _on(STRICT_RESPONSES):
                raise Failure(EX_ERROR, f"unexpected {r.head}")
            return
        if _on(DECODES_TEXT):
            body = body.decode("ascii", "replace").encode("ascii", "replace")
        self.messages[n] = (uid, body)

    def _list(self, r: Response) -> None:
        m = re.match(r'\* \S+ \([^)]*\) (?:"(?:[^"\\]|\\.)*"|NIL) ', r.head, re.I)
        if not m:
            return
        rest = r.head[m.end() :]
        if r.literals and re.fullmatch(r"\{\d+\}", rest):
            if _on(QUOTED_NAMES_ONLY):
                raise Failure(EX_ERROR, f"cannot read the mailbox name in {r.head!r}")
            raw = r.literals[0].decode("utf-8", "replace")
        elif rest.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", rest[1:-1])
        else:
            raw = rest
        try:
            name = decode_mailbox(raw)
        except Exception:
            name = raw
        self.listed.append((name, raw))

    # --- commands --------------------------------------------------------------------------

    def tag(self) -> str:
        self.n += 1
        return f"A{self.n:03d}"

    def send(self, data: bytes) -> None:
        self.w.send(data)

    def complete(self, tag: str, asked: str) -> tuple[str, str]:
        """Read responses up to the tagged completion of ``tag``: (status, text)."""
        while True:
            r = self.response()
            head = r.head
            if head.startswith("* "):
                self.untagged(r, asked)
                continue
            if head.startswith("+"):
                continue
            t, _, rest = head.partition(" ")
            status, _, text = rest.partition(" ")
            if t != tag:
                if t.startswith("A") and t[1:].isdigit():
                    continue  # the completion of an earlier pipelined command
                raise Failure(EX_ERROR, f"not a response: {head[:60]!r}")
            for s in ("OK", "NO", "BAD"):
                if self._word(status, s):
                    self._codes(text)
                    return s, text
            raise Failure(EX_ERROR, f"not a response: {head[:60]!r}")

    def cmd(self, line: str, asked: str = "") -> tuple[str, str]:
        tag = self.tag()
        self.send(f"{tag} {line}\r\n".encode())
        return self.complete(tag, asked or line.split(" ", 1)[0].upper())

    def wait_continuation(self, tag: str) -> bool:
        """Read until "+" (True) or the command's completion (False)."""
        while True:
            r = self.response()
            if r.head.startswith("+"):
                return True
            if r.head.startswith("* "):
                self.untagged(r, "LOGIN")
                continue
            return False

    def quit(self) -> None:
        if _on(NO_LOGOUT):
            return
        tag = self.tag()
        try:
            self.send(f"{tag} LOGOUT\r\n".encode())
            if _on(LOGOUT_NO_WAIT):
                return
            self.complete(tag, "LOGOUT")
        except (Failure, OSError):
            pass


def astring(value: str) -> str | None:
    """A quoted string for ``value``, or None when it needs a literal (8-bit, CR, LF)."""
    if value.isascii() and "\r" not in value and "\n" not in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def mailbox_arg(name: str) -> str:
    return name if _on(UTF8_MAILBOX) else encode_mailbox(name)


# --- the session -----------------------------------------------------------------------------


def _start_tls(a: argparse.Namespace, c: IMAP) -> None:
    if "STARTTLS" not in c.caps:
        if _on(TLS_OPTIONAL):
            return
        raise Failure(EX_UNAVAILABLE, "TLS is required and the server does not announce STARTTLS")
    tag = c.tag()
    if _on(PIPELINES_STARTTLS):
        c.send(f"{tag} STARTTLS\r\nA{c.n + 1:03d} CAPABILITY\r\n".encode())
        c.n += 1
    else:
        c.send(f"{tag} STARTTLS\r\n".encode())
    status, text = c.complete(tag, "STARTTLS")
    if status != "OK":
        if _on(TLS_OPTIONAL):
            return
        raise Failure(EX_UNAVAILABLE, f"STARTTLS refused: {status} {text}")
    if _on(ACTS_ON_INJECTED) and not c.w.buf:
        c.w.drain_more(0.3)
    keep = c.w.buf
    if _on(NO_CERT_CHECK):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=a.cafile or None)
    try:
        c.w.sock = ctx.wrap_socket(c.w.sock, server_hostname=c.w.host)
    except (ssl.SSLError, OSError) as e:
        raise Failure(EX_ERROR, f"TLS handshake failed: {e}") from None
    c.w.tls = True
    # RFC 9051 6.2.1 / RFC 2595 9: nothing from before the handshake counts after it.
    c.w.buf = keep if _on(ACTS_ON_INJECTED) else b""
    if _on(ACTS_ON_INJECTED):
        while b"\n" in c.w.buf:
            c.untagged(c.response(), "CAPABILITY")
    if _on(KEEPS_PRE_TLS_CAPS):
        return
    c.caps = set()
    c.cmd("CAPABILITY")


def _login(a: argparse.Namespace, c: IMAP) -> None:
    if a.starttls and not c.w.tls and not _on(TLS_OPTIONAL):
        raise Failure(EX_UNAVAILABLE, "TLS is required")
    fell_back = _on(TLS_OPTIONAL) and a.starttls and not c.w.tls  # the defect goes on as if TLS were not needed
    if "LOGINDISABLED" in c.caps and not _on(LOGIN_DESPITE_DISABLED) and not fell_back:
        if "AUTH=PLAIN" not in c.caps:
            raise Failure(EX_UNAVAILABLE, "the server announces LOGINDISABLED and no AUTH=PLAIN")
        token = base64.b64encode(f"\0{a.user}\0{a.password}".encode()).decode()
        if "SASL-IR" in c.caps:
            status, text = c.cmd(f"AUTHENTICATE PLAIN {token}", "LOGIN")
        else:
            tag = c.tag()
            c.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
            if c.wait_continuation(tag):
                c.send(token.encode() + b"\r\n")
            status, text = c.complete(tag, "LOGIN")
    else:
        user, password = astring(a.user), astring(a.password)
        if user is not None and password is not None:
            status, text = c.cmd(f"LOGIN {user} {password}", "LOGIN")
        else:
            status, text = _login_literals(a, c)
    if status != "OK":
        raise Failure(EX_UNAVAILABLE, f"login failed: {status} {text}")
    if not any(k in c.caps for k in ("IMAP4REV1", "IMAP4REV2")) or not c.caps:
        c.cmd("CAPABILITY")


def _login_literals(a: argparse.Namespace, c: IMAP) -> tuple[str, str]:
    """LOGIN with literals: RFC 9051 4.3, wait for "+" before each synchronizing literal."""
    tag = c.tag()
    values = [a.user.encode(), a.password.encode()]
    nonsync = "LITERAL+" in c.caps or ("LITERAL-" in c.caps and all(len(v) <= 4096 for v in values))
    head = f"{tag} LOGIN".encode()
    for v in values:
        marker = b"{%d+}" % len(v) if nonsync else b"{%d}" % len(v)
        c.send(head + b" " + marker + b"\r\n" if not _on(LITERAL_NO_WAIT) else head + b" " + marker + b"\r\n" + v)
        if not nonsync and not _on(LITERAL_NO_WAIT) and not c.wait_continuation(tag):
            return "NO", "the server refused the literal"
        if not _on(LITERAL_NO_WAIT):
            c.send(v)
        head = b""
    c.send(b"\r\n")
    return c.complete(tag, "LOGIN")


def session(a: argparse.Namespace) -> int:
    w = Wire(a.host, a.port, a.timeout)
    c = IMAP(w)
    try:
        return _session(a, c)
    except Failure as f:
        print(f"mailspec: {f}", file=sys.stderr)
        if not c.bye and f.status in (EX_TEMPFAIL, EX_UNAVAILABLE):
            c.quit()
        return f.status
    finally:
        w.close()


def _session(a: argparse.Namespace, c: IMAP) -> int:
    greeting = c.response()
    if not greeting.head.startswith("* "):
        raise Failure(EX_ERROR, f"not a greeting: {greeting.head[:60]!r}")
    c.untagged(greeting, "greeting")
    if not c.caps:
        c.cmd("CAPABILITY")
    if a.starttls:
        _start_tls(a, c)
    if _on(REQUIRES_CAPS) and not ({"IDLE", "UIDPLUS"} <= c.caps and c.caps & {"LITERAL+", "LITERAL-"}):
        raise Failure(EX_UNAVAILABLE, "the server lacks IDLE, UIDPLUS or LITERAL+")
    _login(a, c)
    if _on(REQUIRES_CAPS) and not ({"IDLE", "UIDPLUS"} <= c.caps):
        raise Failure(EX_UNAVAILABLE, "the server lacks IDLE or UIDPLUS")
    mailbox = "INBOX"
    if a.operation == "fetch-folder":
        status, text = c.cmd('LIST "" "*"')
        found = [raw for name, raw in c.listed if name == a.mailbox]
        if not found:
            raise Failure(EX_UNAVAILABLE, f"no mailbox {a.mailbox!r} in LIST")
        mailbox = a.mailbox
    arg = mailbox_arg(mailbox)
    quoted = astring(arg)
    select = f"SELECT {quoted}" if quoted is not None else None
    if select is None:
        raise Failure(EX_ERROR, "cannot send the mailbox name")
    fetch_items = "(UID BODY.PEEK[])"
    if _on(PIPELINES_SEQNUMS):
        t1, t2 = c.tag(), c.tag()
        c.send(f"{t1} {select}\r\n{t2} FETCH 1:* {fetch_items}\r\n".encode())
        status, text = c.complete(t1, "SELECT")
        c.complete(t2, "FETCH")
    else:
        status, text = c.cmd(select, "SELECT")
    if status != "OK":
        raise Failure(EX_UNAVAILABLE, f"SELECT failed: {status} {text}")
    count = c.exists or 0
    state_file = Path(a.state) if a.state else None
    if a.operation == "fetch-one":
        c.cmd(f"UID FETCH {a.msgnum} {fetch_items}", "FETCH")
    elif a.operation in ("sync", "fetch-new"):
        known: dict[str, int] = {}
        if state_file is not None and state_file.exists():
            known = json.loads(state_file.read_text())
        last = 0
        if known.get("uidvalidity") == c.uidvalidity or _on(IGNORES_UIDVALIDITY):
            last = int(known.get("last", 0))
        if count:
            c.cmd(f"UID FETCH {last + 1}:* {fetch_items}", "FETCH")
        c.messages = {k: v for k, v in c.messages.items() if (v[0] or 0) > last}
        top = max([last, *(v[0] or 0 for v in c.messages.values())])
        if state_file is not None:
            state_file.write_text(json.dumps({"uidvalidity": c.uidvalidity, "last": top}))
    elif count:
        c.cmd(f"FETCH 1:{count} {fetch_items}", "FETCH")
    base = Path(a.maildir)
    for n in sorted(c.messages):
        name = f"{time.time_ns()}.{n}.mailspec"
        (base / "tmp" / name).write_bytes(c.messages[n][1])
        (base / "tmp" / name).rename(base / "new" / name)
    if a.operation == "delete" and count:
        status, text = c.cmd(f"STORE 1:{count} +FLAGS.SILENT (\\Deleted)", "STORE")
        if status != "OK":
            raise Failure(EX_ERROR, f"STORE failed: {status} {text}")
        c.cmd("EXPUNGE")
    c.quit()
    return 0


def parser() -> argparse.ArgumentParser:
    p = runner.parser("mailspec-imap")
    p.add_argument("--mailbox", default="INBOX")
    p.add_argument("--state", default="")
    return p


OPERATIONS = ("fetch-all", "fetch-one", "delete", "fetch-folder", "sync", "fetch-new")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        return runner.print_version()
    if len(argv) < 2 or argv[0] != "imap" or argv[1] not in OPERATIONS:
        print(
            f"usage: python -m conformance.agents.mailspec_imap imap {'|'.join(OPERATIONS)} [options]", file=sys.stderr
        )
        return 64
    a = parser().parse_args(argv[2:])
    a.operation = argv[1]
    try:
        return session(a)
    except OSError as e:
        print(f"mailspec: {type(e).__name__}: {e}", file=sys.stderr)
        return EX_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

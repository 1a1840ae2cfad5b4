"""The "mailspec" agent: the suite's own reference SMTP and POP3 client, run as a process.

``python -m conformance.agents.mailspec smtp send --host H --port P ... -- RCPT...``
``python -m conformance.agents.mailspec pop3 fetch-all|fetch-one|delete --host H --port P --maildir D ...``

Clean, it does what the RFCs ask of a client (and is what the client cases must
PASS). Its *client behaviours* are the seeded defects of the client cases:
registered here like the servers' behaviours (protocols "smtp-client" and
"pop3-client") and switched on by ``MAILSPEC_CLIENT_BEHAVIOURS`` (comma-separated
names), each breaking exactly one requirement, so every client case can be
shown to FAIL. Exit status: 0 done; 75 temporary failure; 69 permanent
failure; 1 anything else (error on stderr).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import re
import socket
import ssl
import sys
import time
from pathlib import Path

from ..servers.behaviours import Behaviour, behaviour
from . import runner
from .runner import EX_ERROR, EX_TEMPFAIL, EX_UNAVAILABLE


def _s(name: str, description: str) -> Behaviour:
    return behaviour("smtp-client", name, description)


def _p(name: str, description: str) -> Behaviour:
    return behaviour("pop3-client", name, description)


# --- SMTP client behaviours (seeded defects) ---
NO_DOT_STUFFING = _s("no-dot-stuffing", "does not double a leading period of a message line")
BARE_LF = _s("bare-lf", "sends the message's bare LF line ends as they are")
NO_FINAL_CRLF = _s("no-final-crlf", "sends .CRLF straight after a last line that has no line end")
NO_EHLO = _s("no-ehlo", "sends MAIL without EHLO or HELO")
HELO_FIRST = _s("helo-first", "starts with HELO instead of EHLO")
NO_HELO_FALLBACK = _s("no-helo-fallback", "gives up when EHLO is not recognized instead of trying HELO")
BAD_EHLO_NAME = _s("bad-ehlo-name", "sends EHLO with a name that is neither a domain nor an address literal")
SPACE_AFTER_COLON = _s("space-after-colon", "writes MAIL FROM: <path> and RCPT TO: <path> with a space")
READS_REPLY_TEXT = _s("reads-reply-text", "judges replies by their text: no text or words like 'rejected' fail")
EXACT_CODES = _s("exact-codes", "takes only 250 (251 for RCPT) as success")
UNKNOWN_CODES_OK = _s("unknown-codes-ok", "takes any code that is not a listed 4yz/5yz as success")
DATA_REGARDLESS = _s("data-regardless", "sends the message whatever the reply to DATA")
NO_QUIT = _s("no-quit", "closes the connection without QUIT")
QUIT_NO_WAIT = _s("quit-no-wait", "closes the connection right after sending QUIT")
RETRY_5YZ = _s("retry-5yz", "repeats a command that got a 5yz reply")
TEMPFAIL_OK = _s("tempfail-ok", "ends with exit status 0 after a 4yz reply, as if sent")
PARAMS_ALWAYS = _s("params-always", "always sends SIZE= and BODY=8BITMIME, and 8-bit data to any server")
KEEPS_PRE_TLS_EHLO = _s("keeps-pre-tls-ehlo", "sends no EHLO after STARTTLS and keeps the extensions seen before")
ACTS_ON_INJECTED = _s("acts-on-injected", "reads replies received before the TLS handshake as replies after it")
PIPELINES_STARTTLS = _s("pipelines-starttls", "sends EHLO right behind STARTTLS, before the TLS handshake")
TLS_OPTIONAL = _s("tls-optional", "goes on in cleartext when STARTTLS is not offered or refused")
NO_CERT_CHECK = _s("no-cert-check", "accepts any server certificate (no chain or name check)")
LONG_INITIAL_RESPONSE = _s(
    "long-initial-response", "sends the AUTH initial response even when the line exceeds 512 octets"
)
IGNORES_CHALLENGE = _s("ignores-challenge", "answers AUTH LOGIN challenges without decoding them")
ALWAYS_PIPELINE = _s("always-pipeline", "pipelines MAIL, RCPT and DATA even when PIPELINING is not offered")
PIPELINING_IGNORES_RCPT = _s("pipelining-ignores-rcpt", "sends the message after 354 though every RCPT was refused")
COUNTS_LINES = _s("counts-lines", "takes each reply line for a whole reply")
DATA_NO_WAIT = _s("data-no-wait", "pipelines the message right behind DATA without waiting for 354")
SHORT_TIMEOUTS = _s("short-timeouts", "waits at most one second for any reply")

# --- POP3 client behaviours (seeded defects) ---
NO_UNSTUFFING = _p("no-unstuffing", "keeps the termination octet that byte-stuffs a line")
KEEPS_TERMINATOR = _p("keeps-terminator", "keeps the final '.' line as part of the message")
P_NO_QUIT = _p("no-quit", "closes the connection without QUIT")
APOP_NO_BRACKETS = _p("apop-no-brackets", "computes the APOP digest over the timestamp without its angle brackets")
REQUIRES_CAPA = _p("requires-capa", "gives up when CAPA fails or does not list UIDL and TOP")
PIPELINING_MISMATCH = _p(
    "pipelining-mismatch", "pipelines RETR and files the second response for the first message too"
)
RESPONSE_CODE_FAILS = _p("response-code-fails", "takes a response with a response code it does not know for a failure")
KEEPS_PRE_TLS_CAPA = _p("keeps-pre-tls-capa", "issues no CAPA after STLS and keeps the capabilities seen before")
P_ACTS_ON_INJECTED = _p("acts-on-injected", "reads responses received before the TLS handshake as responses after it")
PIPELINES_STLS = _p("pipelines-stls", "sends CAPA right behind STLS, before the TLS handshake")
P_TLS_OPTIONAL = _p("tls-optional", "logs in in cleartext when STLS is not offered or refused")
P_NO_CERT_CHECK = _p("no-cert-check", "accepts any server certificate (no chain or name check)")
P_LONG_INITIAL = _p("long-initial-response", "sends the AUTH initial response even when the command exceeds 255 octets")
AUTH_ALWAYS = _p("auth-always", "uses AUTH PLAIN with an initial response though SASL is not announced")


class Failure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _on(b: Behaviour) -> bool:
    return b.name in set(filter(None, os.environ.get("MAILSPEC_CLIENT_BEHAVIOURS", "").split(",")))


class Wire:
    """A blocking connection with a line buffer; TLS upgrade in place."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.timeout = 1.0 if _on(SHORT_TIMEOUTS) else timeout
        self.sock: socket.socket = socket.create_connection((host, port), timeout=self.timeout)
        self.buf = b""
        self.tls = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise Failure(EX_ERROR, f"no answer in {self.timeout:g}s") from None
            if not data:
                raise Failure(EX_ERROR, "connection closed by the server")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def drain_more(self, wait: float) -> None:
        """Read what else arrives within ``wait`` seconds into the buffer."""
        self.sock.settimeout(wait)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buf += data
        except (TimeoutError, BlockingIOError):
            pass
        self.sock.settimeout(self.timeout)

    def start_tls(self, cafile: str) -> None:
        if _on(NO_CERT_CHECK) or _on(P_NO_CERT_CHECK):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=cafile or None)
        keep = self.buf
        try:
            self.sock = ctx.wrap_socket(self.sock, server_hostname=self.host)
        except (ssl.SSLError, OSError) as e:
            raise Failure(EX_ERROR, f"TLS handshake failed: {e}") from None
        self.tls = True
        # RFC 3207 4.2 / RFC 2595 4: nothing received before the handshake counts after it.
        self.buf = keep if (_on(ACTS_ON_INJECTED) or _on(P_ACTS_ON_INJECTED)) else b""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# --- SMTP ----------------------------------------------------------------------------------

KNOWN_FAILURES = {421, 450, 451, 452, 455, 500, 501, 502, 503, 504, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555}
_DOMAIN = "client.mailspec.test"


class Reply:
    def __init__(self, code: int, lines: list[str]) -> None:
        self.code, self.lines = code, lines

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class SMTP:
    def __init__(self, w: Wire) -> None:
        self.w = w
        self.ext: dict[str, str] = {}

    def reply(self) -> Reply:
        lines: list[str] = []
        while True:
            raw = self.w.line().rstrip(b"\r\n").decode("utf-8", "replace")
            if len(raw) < 3 or not raw[:3].isdigit():
                raise Failure(EX_ERROR, f"not a reply line: {raw[:60]!r}")
            code, sep, text = int(raw[:3]), raw[3:4], raw[4:]
            lines.append(text)
            if sep != "-" or _on(COUNTS_LINES):
                r = Reply(code, lines)
                if _on(READS_REPLY_TEXT) and (
                    not r.lines[-1].strip() or re.search(r"reject|fail|error|denied", r.text, re.I)
                ):
                    raise Failure(EX_UNAVAILABLE, f"the server said: {r}")
                return r

    def cmd(self, line: str) -> Reply:
        self.w.send(line.encode() + b"\r\n")
        return self.reply()

    def ehlo(self) -> Reply:
        name = "client_mailspec!" if _on(BAD_EHLO_NAME) else _DOMAIN
        if _on(HELO_FIRST):
            r = self.cmd(f"HELO {name}")
            self.ext = {}
            return r
        r = self.cmd(f"EHLO {name}")
        if r.code // 100 == 2:
            self.ext = {}
            for line in r.lines[1:]:
                key, _, value = line.partition(" ")
                self.ext[key.upper()] = value
            return r
        if _on(NO_HELO_FALLBACK):
            raise Failure(EX_UNAVAILABLE, f"EHLO refused: {r}")
        r = self.cmd(f"HELO {name}")  # RFC 5321 3.2
        self.ext = {}
        return r

    def quit(self) -> None:
        if _on(NO_QUIT):
            return
        self.w.send(b"QUIT\r\n")
        if _on(QUIT_NO_WAIT):
            return
        with contextlib.suppress(Failure):
            self.reply()


def ok(r: Reply, success: tuple[int, ...] = (250,)) -> bool:
    if _on(EXACT_CODES):
        return r.code in success
    if _on(UNKNOWN_CODES_OK):
        return r.code not in KNOWN_FAILURES
    return r.code // 100 == 2


def status_of(r: Reply) -> int:
    if r.code // 100 == 4 and not (_on(UNKNOWN_CODES_OK) and r.code not in KNOWN_FAILURES):
        return 0 if _on(TEMPFAIL_OK) else EX_TEMPFAIL
    return EX_UNAVAILABLE


def prepare(data: bytes) -> bytes:
    """The message as CRLF lines, dot-stuffed, with the end-of-data line (RFC 5321 2.3.8, 4.5.2, 4.1.1.4)."""
    if not _on(BARE_LF):
        data = re.sub(rb"\r?\n", b"\r\n", data)
        data = re.sub(rb"\r(?!\n)", b"\r\n", data)
    if data and not data.endswith(b"\n") and not _on(NO_FINAL_CRLF):
        data += b"\r\n"
    if not _on(NO_DOT_STUFFING):
        data = re.sub(rb"(?m)^\.", b"..", data)
    return data + b".\r\n"


def smtp_send(a: argparse.Namespace) -> int:
    data = Path(a.message_file).read_bytes()
    w = Wire(a.host, a.port, a.timeout)
    s = SMTP(w)
    try:
        return _smtp_session(a, s, data)
    except Failure as f:
        print(f"mailspec: {f}", file=sys.stderr)
        s.quit() if f.status in (EX_TEMPFAIL, EX_UNAVAILABLE) else None
        return f.status
    finally:
        w.close()


def _smtp_session(a: argparse.Namespace, s: SMTP, data: bytes) -> int:
    w = s.w
    greeting = s.reply()
    if not ok(greeting, (220,)) and greeting.code != 220:
        raise Failure(status_of(greeting), f"greeting: {greeting}")
    if not _on(NO_EHLO):
        r = s.ehlo()
        if r.code // 100 != 2:
            raise Failure(status_of(r), f"EHLO/HELO refused: {r}")
    if a.starttls:
        _smtp_starttls(a, s)
    if a.user:
        _smtp_auth(a, s)
    eight_bit = any(b > 127 for b in data)
    params = []
    if _on(PARAMS_ALWAYS):
        params = [f"SIZE={len(data)}", "BODY=8BITMIME"]
    else:
        if "SIZE" in s.ext:
            params.append(f"SIZE={len(data)}")
        if eight_bit:
            if "8BITMIME" not in s.ext:
                raise Failure(EX_UNAVAILABLE, "the message has 8-bit octets and the server does not offer 8BITMIME")
            params.append("BODY=8BITMIME")
    colon = ": " if _on(SPACE_AFTER_COLON) else ":"
    mail = " ".join([f"MAIL FROM{colon}<{a.sender}>", *params])
    rcpts = [f"RCPT TO{colon}<{r}>" for r in a.rcpts]
    pipelining = "PIPELINING" in s.ext or _on(ALWAYS_PIPELINE)
    if pipelining:
        group = b"".join(c.encode() + b"\r\n" for c in [mail, *rcpts, "DATA"])
        w.send(group + (prepare(data) if _on(DATA_NO_WAIT) else b""))
        replies = [s.reply() for _ in range(len(rcpts) + 2)]
        if _on(DATA_NO_WAIT):
            final = s.reply()
            s.quit()
            return 0 if ok(final) else status_of(final)
    else:
        replies = [s.cmd(mail)]
        if ok(replies[0]) or _on(DATA_REGARDLESS):
            for c in rcpts:
                replies.append(s.cmd(c))
    mail_r, rcpt_rs = replies[0], replies[1 : 1 + len(rcpts)]
    if not ok(mail_r) and not _on(DATA_REGARDLESS):
        if mail_r.code // 100 == 5 and _on(RETRY_5YZ):
            s.cmd(mail)
        if pipelining and replies[-1].code == 354:
            w.send(b".\r\n")
            s.reply()
        s.quit()
        return status_of(mail_r) if mail_r.code // 100 in (4, 5) else EX_ERROR
    accepted = [r for r in rcpt_rs if ok(r, (250, 251))]
    if _on(RETRY_5YZ):
        for c, r in zip(rcpts, rcpt_rs, strict=False):
            if r.code // 100 == 5:
                s.cmd(c)
    data_r = replies[-1] if pipelining else None
    if not accepted and not _on(DATA_REGARDLESS):
        if pipelining and data_r is not None and data_r.code == 354:
            if _on(PIPELINING_IGNORES_RCPT):
                w.send(prepare(data))
                s.reply()
                s.quit()
                return 0
            w.send(b".\r\n")  # RFC 2920 3.1: a single dot after an accepted DATA
            s.reply()
        s.quit()
        failed = rcpt_rs[-1] if rcpt_rs else mail_r
        return status_of(failed) if failed.code // 100 in (4, 5) else EX_ERROR
    if data_r is None:
        data_r = s.cmd("DATA")
    if data_r.code != 354 and not _on(DATA_REGARDLESS):
        s.quit()
        return status_of(data_r) if data_r.code // 100 in (4, 5) else EX_ERROR
    w.send(prepare(data))
    final = s.reply()
    if not ok(final):
        if final.code // 100 == 5 and _on(RETRY_5YZ):
            s.cmd("RSET")
            s.cmd(mail)
        s.quit()
        return status_of(final) if final.code // 100 in (4, 5) else EX_ERROR
    s.quit()
    return 0


def _smtp_starttls(a: argparse.Namespace, s: SMTP) -> None:
    if "STARTTLS" not in s.ext:
        if _on(TLS_OPTIONAL):
            return
        raise Failure(EX_UNAVAILABLE, "TLS is required and the server does not offer STARTTLS")
    if _on(PIPELINES_STARTTLS):
        s.w.send(f"STARTTLS\r\nEHLO {_DOMAIN}\r\n".encode())
        r = s.reply()
    else:
        r = s.cmd("STARTTLS")
    if r.code != 220:
        if _on(TLS_OPTIONAL):
            return
        raise Failure(EX_UNAVAILABLE, f"STARTTLS refused: {r}")
    if _on(ACTS_ON_INJECTED) and not s.w.buf:
        s.w.drain_more(0.3)
    s.w.start_tls(a.cafile)
    if _on(KEEPS_PRE_TLS_EHLO):
        return
    r = s.ehlo()  # RFC 3207 4.2: the extensions are asked for again
    if r.code // 100 != 2:
        raise Failure(status_of(r), f"EHLO after TLS refused: {r}")


def _smtp_auth(a: argparse.Namespace, s: SMTP) -> None:
    mechs = s.ext.get("AUTH", "").upper().split()
    if "PLAIN" in mechs:
        token = base64.b64encode(f"\0{a.user}\0{a.password}".encode()).decode()
        line = f"AUTH PLAIN {token}"
        if len(line) + 2 <= 512 or _on(LONG_INITIAL_RESPONSE):  # RFC 4954 4
            r = s.cmd(line)
        else:
            r = s.cmd("AUTH PLAIN")
            if r.code == 334:
                r = s.cmd(token)
    elif "LOGIN" in mechs:
        r = s.cmd("AUTH LOGIN")
        for value in (a.user, a.password):
            if r.code != 334:
                break
            if not _on(IGNORES_CHALLENGE):
                try:
                    base64.b64decode(r.text.strip(), validate=True)
                except ValueError:
                    s.cmd("*")  # RFC 4954 4: cancel on a challenge that is not base64
                    raise Failure(EX_UNAVAILABLE, "the server's AUTH LOGIN challenge is not base64") from None
            r = s.cmd(base64.b64encode(value.encode()).decode())
    else:
        raise Failure(EX_UNAVAILABLE, "the server offers no AUTH mechanism this client has (PLAIN, LOGIN)")
    if r.code != 235:
        raise Failure(status_of(r), f"authentication failed: {r}")


# --- POP3 ----------------------------------------------------------------------------------


class POP3:
    def __init__(self, w: Wire) -> None:
        self.w = w
        self.caps: dict[str, str] | None = None

    def status(self) -> tuple[bool, str]:
        line = self.w.line().rstrip(b"\r\n").decode("utf-8", "replace")
        if line.startswith("+OK"):
            text = line[3:].strip()
            if (
                _on(RESPONSE_CODE_FAILS)
                and text.startswith("[")
                and not re.match(r"\[(IN-USE|LOGIN-DELAY|SYS|AUTH)", text)
            ):
                raise Failure(EX_ERROR, f"unknown response code: {line}")
            return True, text
        if line.startswith("-ERR"):
            return False, line[4:].strip()
        if line.startswith("+ ") or line == "+":
            return True, line[1:].strip()
        raise Failure(EX_ERROR, f"not a POP3 response: {line[:60]!r}")

    def body(self) -> bytes:
        out = []
        while True:
            line = self.w.line()
            if line in (b".\r\n", b".\n"):
                if _on(KEEPS_TERMINATOR):
                    out.append(line)
                return b"".join(out)
            if line.startswith(b".") and not _on(NO_UNSTUFFING):
                line = line[1:]  # RFC 1939 3
            out.append(line)

    def cmd(self, line: str) -> tuple[bool, str]:
        self.w.send(line.encode() + b"\r\n")
        return self.status()

    def capa(self) -> None:
        good, _ = self.cmd("CAPA")
        self.caps = {}
        if good:
            for row in self.body().decode("utf-8", "replace").splitlines():
                tag, _, params = row.partition(" ")
                self.caps[tag.upper()] = params
        if _on(REQUIRES_CAPA) and (not good or "UIDL" not in self.caps or "TOP" not in self.caps):
            raise Failure(EX_ERROR, "the server does not announce CAPA with UIDL and TOP")

    def quit(self) -> None:
        if _on(P_NO_QUIT):
            return
        with contextlib.suppress(Failure):
            self.cmd("QUIT")


def pop3_fetch(a: argparse.Namespace) -> int:
    w = Wire(a.host, a.port, a.timeout)
    p = POP3(w)
    try:
        return _pop3_session(a, p)
    except Failure as f:
        print(f"mailspec: {f}", file=sys.stderr)
        return f.status
    finally:
        w.close()


def _pop3_session(a: argparse.Namespace, p: POP3) -> int:
    w = p.w
    good, greeting = p.status()
    if not good:
        raise Failure(EX_TEMPFAIL, f"greeting: -ERR {greeting}")
    p.capa()
    caps = p.caps or {}
    if a.starttls:
        if "STLS" not in caps:
            if not _on(P_TLS_OPTIONAL):
                p.quit()
                raise Failure(EX_UNAVAILABLE, "TLS is required and the server does not announce STLS")
        else:
            if _on(PIPELINES_STLS):
                w.send(b"STLS\r\nCAPA\r\n")
                good, text = p.status()
            else:
                good, text = p.cmd("STLS")
            if not good and not _on(P_TLS_OPTIONAL):
                p.quit()
                raise Failure(EX_UNAVAILABLE, f"STLS refused: {text}")
            if good:
                if _on(P_ACTS_ON_INJECTED) and not w.buf:
                    w.drain_more(0.3)
                w.start_tls(a.cafile)
                if not _on(KEEPS_PRE_TLS_CAPA):
                    p.capa()  # RFC 2595 4: forget what was announced before TLS
                    caps = p.caps or {}
    _pop3_login(a, p, caps, greeting)
    good, text = p.cmd("STAT")
    if not good:
        raise Failure(EX_ERROR, f"STAT: -ERR {text}")
    count = int(text.split()[0])
    wanted = [a.msgnum] if a.operation == "fetch-one" else list(range(1, count + 1))
    messages: dict[int, bytes] = {}
    if "PIPELINING" in caps and len(wanted) > 1:
        w.send(b"".join(f"RETR {n}\r\n".encode() for n in wanted))
        for n in wanted:
            good, text = p.status()
            if not good:
                raise Failure(EX_ERROR, f"RETR {n}: -ERR {text}")
            messages[n] = p.body()
        if _on(PIPELINING_MISMATCH):
            bodies = list(messages.values())
            messages = dict(zip(wanted, [bodies[1], *bodies[1:]], strict=True))
    else:
        for n in wanted:
            good, text = p.cmd(f"RETR {n}")
            if not good:
                raise Failure(EX_ERROR, f"RETR {n}: -ERR {text}")
            messages[n] = p.body()
    base = Path(a.maildir)
    for n in wanted:
        name = f"{time.time_ns()}.{n}.mailspec"
        (base / "tmp" / name).write_bytes(messages[n])
        (base / "tmp" / name).rename(base / "new" / name)
    if a.operation == "delete":
        for n in wanted:
            good, text = p.cmd(f"DELE {n}")
            if not good:
                raise Failure(EX_ERROR, f"DELE {n}: -ERR {text}")
    p.quit()
    return 0


def _pop3_login(a: argparse.Namespace, p: POP3, caps: dict[str, str], greeting: str) -> None:
    if a.starttls and not p.w.tls and not _on(P_TLS_OPTIONAL):
        raise Failure(EX_UNAVAILABLE, "TLS is required")
    mechs = caps.get("SASL", "").upper().split()
    stamp = re.search(r"<[^<>]*@[^<>]*>", greeting)
    if "PLAIN" in mechs or (_on(AUTH_ALWAYS) and not mechs):
        token = base64.b64encode(f"\0{a.user}\0{a.password}".encode()).decode()
        if len(f"AUTH PLAIN {token}\r\n") <= 255 or _on(P_LONG_INITIAL) or _on(AUTH_ALWAYS):  # RFC 5034 4
            good, text = p.cmd(f"AUTH PLAIN {token}")
        else:
            good, text = p.cmd("AUTH PLAIN")
            if good:
                good, text = p.cmd(token)
    elif stamp:
        value = stamp.group(0)
        if _on(APOP_NO_BRACKETS):
            value = value[1:-1]
        digest = hashlib.md5((value + a.password).encode()).hexdigest()
        good, text = p.cmd(f"APOP {a.user} {digest}")
    elif caps and "USER" not in caps:
        p.quit()
        raise Failure(EX_UNAVAILABLE, "the server announces no login method this client has (SASL PLAIN, APOP, USER)")
    else:
        good, text = p.cmd(f"USER {a.user}")
        if good:
            good, text = p.cmd(f"PASS {a.password}")
    if not good:
        p.quit()
        raise Failure(EX_UNAVAILABLE, f"login failed: -ERR {text}")


# --- command line ----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = runner.parser("mailspec-agent")
    p.add_argument("--from", dest="sender", default="")
    p.add_argument("--message-file", default="")
    p.add_argument("rcpts", nargs="*")
    return p


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        return runner.print_version()
    if len(argv) < 2:
        print("usage: python -m conformance.agents.mailspec smtp send|pop3 fetch-all ... [options]", file=sys.stderr)
        return 64
    proto, operation = argv[0], argv[1]
    a = parser().parse_args(argv[2:])
    a.operation = operation
    try:
        if (proto, operation) == ("smtp", "send"):
            return smtp_send(a)
        if proto == "pop3" and operation in ("fetch-all", "fetch-one", "delete"):
            return pop3_fetch(a)
    except OSError as e:
        print(f"mailspec: {type(e).__name__}: {e}", file=sys.stderr)
        return EX_ERROR
    print(f"mailspec: no operation {proto} {operation}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Cross-protocol interop: put a message in over SMTP or LMTP, read it back over IMAP, POP3 and JMAP.

An interop case runs on a peer's IMAP target and reaches the other endpoints of
the same store through the target's ``extra``: ``smtp`` or ``lmtp`` (the way in,
as ``Sessions.deliver`` uses it), ``pop3`` and ``jmap`` ("host:port" of the read
paths; ``jmap_session_path`` where the Session is not at /.well-known/jmap).

Messages are compared byte for byte. A server may add trace header fields at the
top of the message (RFC 5321 4.4: Received, Return-Path; delivery agents add
Delivered-To and X- fields there too), so what is read back must be *the sent
message with a prefix of whole header fields*, never the sent message with
differences ignored. Test messages come from the fixed corpus
(``fixtures/messages``) and from the ``hypothesis`` strategies below.
"""

from __future__ import annotations

import base64
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .clients.imap import IMAPClient, IMAPSessions
from .clients.pop3 import POP3Client, POP3Sessions
from .clients.smtp import SMTPClient
from .context import CaseContext
from .net import NetError
from .verdict import check, info, unsupported
from .wire import imap as wire
from .wire.smtp import bdat_chunk

TOKEN_FIELD = "X-Mailspec-Token"
TRACE = re.compile(rb"(?:[!-9;-~]+:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)*")
WAIT = 20.0  # seconds a delivery may take to show up (a relay such as Postfix delivers after its 250)


# --- messages ----------------------------------------------------------------------


def new_token() -> str:
    return uuid.uuid4().hex


def header_of(data: bytes) -> bytes:
    i = data.find(b"\r\n\r\n")
    return data if i < 0 else data[: i + 2]


def token_of(data: bytes) -> str:
    """The token of a test message (its X-Mailspec-Token field)."""
    m = re.search(rb"(?im)^" + TOKEN_FIELD.encode() + rb": ([0-9a-f]+)\r$", header_of(data))
    if m is None:
        raise ValueError("the test message has no token field")
    return m.group(1).decode()


def with_token(data: bytes, token: str) -> bytes:
    """A corpus message with the token field put in front, so that it can be found in the mailbox,
    and its Message-ID made unique (delivery agents such as Cyrus's lmtpd drop a second message
    with the same Message-ID to the same mailbox: duplicate suppression)."""
    data = re.sub(rb"(?im)^(Message-ID:\s*<)", rb"\g<1>" + token.encode() + b".", data, count=1)
    return f"{TOKEN_FIELD}: {token}\r\n".encode() + data


@dataclass(frozen=True)
class Draft:
    """A generated message without its token: extra header fields, MIME header fields and the body."""

    fields: tuple[bytes, ...] = ()  # whole header fields, each ending in CRLF (folded ones included)
    mime: tuple[bytes, ...] = (b"Content-Type: text/plain; charset=us-ascii\r\n",)
    body: bytes = b"Hello.\r\n"
    subject: bytes = b"mailspec interop"

    def message(self, token: str) -> bytes:
        head = [
            b"From: mailspec <mailspec-sender@mailspec.test>\r\n",
            b"To: recipient <recipient@mailspec.test>\r\n",
            b"Subject: " + self.subject + b"\r\n",
            f"Date: {formatdate(time.time())}\r\n".encode(),
            f"Message-ID: <{token}@mailspec.test>\r\n".encode(),
            f"{TOKEN_FIELD}: {token}\r\n".encode(),
            *self.fields,
            b"MIME-Version: 1.0\r\n",
            *self.mime,
        ]
        return b"".join(head) + b"\r\n" + self.body


def lines(parts: list[bytes]) -> bytes:
    return b"".join(p + b"\r\n" for p in parts)


ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
NO_EQUALS = ASCII.replace("=", "").replace("-", "")  # cannot contain a multipart boundary
_ascii_line = st.text(alphabet=ASCII, max_size=100).map(str.encode)
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


def plain_drafts() -> st.SearchStrategy[Draft]:
    """7-bit text messages: short and empty lines, trailing spaces, tabs."""
    body = st.lists(_ascii_line | st.just(b"") | st.just(b"\ttabbed line  "), min_size=1, max_size=25)
    subject = st.text(alphabet=ASCII, min_size=1, max_size=60).map(lambda s: s.strip().encode() or b"x")
    return st.builds(lambda b, s: Draft(body=lines(b), subject=s), body, subject)


def dot_drafts() -> st.SearchStrategy[Draft]:
    """Bodies with lines that start with one or more dots, and a line of a single dot."""
    dotted = st.builds(lambda n, rest: b"." * n + rest, st.integers(1, 3), _ascii_line)
    body = st.lists(dotted | _ascii_line | st.just(b"."), min_size=1, max_size=20).map(
        lambda ls: [b".", b"..", b".x", *ls]
    )
    return st.builds(lambda b: Draft(body=lines(b), subject=b"dot-leading lines"), body)


def folded_drafts() -> st.SearchStrategy[Draft]:
    """Folded header fields (SP and HTAB continuations), long header lines and 998-octet body lines."""

    def fold(name: str, words: list[str], wsp: list[str]) -> bytes:
        out = f"{name}:"
        for i, w in enumerate(words):
            out += ("\r\n" + wsp[i % len(wsp)] if i % 3 == 2 else " ") + w
        return out.encode() + b"\r\n"

    folded = st.builds(
        fold,
        st.sampled_from(["X-Folded", "Comments", "Keywords", "References"]),
        st.lists(_word, min_size=3, max_size=30),
        st.lists(st.sampled_from([" ", "\t", "    ", " \t"]), min_size=1, max_size=3),
    )
    long_field = st.integers(100, 990).map(lambda n: b"X-Long: " + b"y" * (n - 8) + b"\r\n")
    long_line = st.integers(200, 998).map(lambda n: b"z" * n)
    body = st.lists(long_line | _ascii_line, min_size=1, max_size=8)
    subject_words = st.lists(_word, min_size=8, max_size=30)
    return st.builds(
        lambda f, lf, b, sw: Draft(
            fields=(*f, lf), body=lines(b), subject=" ".join(sw[:5]).encode() + b"\r\n " + " ".join(sw[5:]).encode()
        ),
        st.lists(folded, min_size=1, max_size=3),
        long_field,
        body,
        subject_words,
    )


EIGHT_BIT = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))


def eightbit_drafts() -> st.SearchStrategy[Draft]:
    """8-bit bodies (BODY=8BITMIME): Latin-1 octets, and UTF-8 text, in lines of legal length."""
    latin = st.lists(st.sampled_from(EIGHT_BIT), max_size=200).map(bytes)
    utf8 = st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_categories=("Cs", "Cc", "Zl", "Zp")),
        max_size=80,
    ).map(str.encode)
    charset = st.sampled_from([b"iso-8859-1", b"utf-8"])

    def make(cs: bytes, ls: list[bytes]) -> Draft:
        mime = (b"Content-Type: text/plain; charset=" + cs + b"\r\n", b"Content-Transfer-Encoding: 8bit\r\n")
        body = lines(ls) + "\u00e9t\u00e9 \u00fcber \u00e6\u00f8\u00e5\r\n".encode(
            "latin-1" if cs == b"iso-8859-1" else "utf-8"
        )
        return Draft(mime=mime, body=body, subject=b"8-bit body")

    return st.builds(make, charset, st.lists(latin | utf8, min_size=1, max_size=15))


BINARY = bytes(b for b in range(1, 0x100) if b not in (0x0A, 0x0D))


def binary_drafts() -> st.SearchStrategy[Draft]:
    """Binary bodies (BODY=BINARYMIME over BDAT): any octet but NUL, CR and LF, lines beyond 998 octets."""
    line = st.binary(min_size=0, max_size=400).map(lambda b: bytes(BINARY[c % len(BINARY)] for c in b))
    long = st.integers(999, 3000).map(lambda n: bytes(BINARY[(i * 7) % len(BINARY)] for i in range(n)))
    mime = (b"Content-Type: application/octet-stream\r\n", b"Content-Transfer-Encoding: binary\r\n")
    return st.builds(
        lambda ls, lg: Draft(mime=mime, body=lines([*ls, lg]), subject=b"binary body"),
        st.lists(line, min_size=1, max_size=6),
        long,
    )


def _leaf() -> st.SearchStrategy[tuple[bytes, bytes]]:
    text = st.lists(st.text(alphabet=NO_EQUALS, max_size=70).map(str.encode), min_size=1, max_size=6)
    kinds = st.sampled_from(
        [
            b"Content-Type: text/plain; charset=us-ascii\r\n",
            b"Content-Type: text/html; charset=us-ascii\r\n",
            b'Content-Type: application/octet-stream; name="a.bin"\r\nContent-Transfer-Encoding: base64\r\n',
        ]
    )

    def make(kind: bytes, ls: list[bytes]) -> tuple[bytes, bytes]:
        if b"base64" in kind:
            raw = b"".join(ls)
            enc = base64.encodebytes(raw).replace(b"\n", b"\r\n") or b"\r\n"
            return kind, enc
        return kind, lines(ls)

    return st.builds(make, kinds, text)


def _multipart(children: st.SearchStrategy[tuple[bytes, bytes]]) -> st.SearchStrategy[tuple[bytes, bytes]]:
    def make(sub: str, parts: list[tuple[bytes, bytes]], preamble: bool, n: int) -> tuple[bytes, bytes]:
        boundary = f"=_mailspec_{sub}_{n}_{len(parts)}".encode()
        body = b"This is a multi-part message in MIME format.\r\n" if preamble else b""
        for head, content in parts:
            body += b"--" + boundary + b"\r\n" + head + b"\r\n" + content
        body += b"--" + boundary + b"--\r\n"
        return b"Content-Type: multipart/" + sub.encode() + b'; boundary="' + boundary + b'"\r\n', body

    return st.builds(
        make,
        st.sampled_from(["mixed", "alternative", "related"]),
        st.lists(children, min_size=1, max_size=3),
        st.booleans(),
        st.integers(0, 10**6),
    )


def multipart_drafts() -> st.SearchStrategy[Draft]:
    """Nested multiparts (up to three levels), with text, HTML and base64 leaves, preambles."""
    tree = st.recursive(_leaf(), lambda children: _multipart(children), max_leaves=6)
    top = _multipart(tree)
    return top.map(lambda hb: Draft(mime=(hb[0],), body=hb[1], subject=b"nested multipart"))


def utf8_drafts() -> st.SearchStrategy[Draft]:
    """UTF-8 header fields (RFC 6532, SMTPUTF8) and an 8-bit UTF-8 body."""
    text = st.text(
        st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF, exclude_categories=("Cs", "Cc", "Zl", "Zp", "Zs")),
        min_size=1,
        max_size=20,
    )

    def make(subject: str, name: str, body: str) -> Draft:
        return Draft(
            fields=(f"X-Mailspec-Name: {name} <{name[:3]}@mailspec.test>\r\n".encode(),),
            mime=(b"Content-Type: text/plain; charset=utf-8\r\n", b"Content-Transfer-Encoding: 8bit\r\n"),
            body=f"{body}\r\nGr\u00fc\u00dfe\r\n".encode(),
            subject=f"caf\u00e9 {subject}".encode(),
        )

    return st.builds(make, text, text, text)


def large_draft(megabytes: float = 3.0) -> Draft:
    """A message with a base64 attachment of ``megabytes`` MiB (fixed, seeded octets)."""
    raw = random.Random(5322).randbytes(int(megabytes * (1 << 20)))
    enc = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    body = (
        b"--=_mailspec_large\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nA large attachment follows.\r\n"
        b'--=_mailspec_large\r\nContent-Type: application/octet-stream; name="large.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + enc + b"--=_mailspec_large--\r\n"
    )
    return Draft(mime=(b'Content-Type: multipart/mixed; boundary="=_mailspec_large"\r\n',), body=body, subject=b"large")


def explore(strategy: st.SearchStrategy[Draft], run: Callable[[Draft], object], *, examples: int = 6) -> None:
    """Run ``run`` on ``examples`` drafts drawn from ``strategy``: the same ones on every run
    (derandomized), no shrinking (a failure is reported as found), no example database."""
    # The first outcome is the verdict: a failure is not replayed (hypothesis would call a
    # failure that a second try does not repeat, a slow server say, "flaky" and hide it).
    first: list[Exception] = []

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def drafts(draft: Draft) -> None:
        if first:
            return
        try:
            run(draft)
        except Exception as e:
            first.append(e)

    drafts()
    if first:
        raise first[0]


# --- judging ------------------------------------------------------------------------


def trace_prefix(sent: bytes, got: bytes) -> bytes | None:
    """The header fields a server put in front of ``sent``, if ``got`` is exactly that; else None."""
    if not got.endswith(sent):
        return None
    prefix = got[: len(got) - len(sent)]
    return prefix if TRACE.fullmatch(prefix) else None


ADDED = ("Date", "Message-ID")


def _field_re(name: str) -> re.Pattern[bytes]:
    return re.compile(rb"(?im)^" + name.encode() + rb":[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*")


def originator_fixes(sent: bytes, got: bytes) -> tuple[bytes, bytes, list[str]] | None:
    """(sent, got, what) with the changes an originating MTA makes taken out: Date and Message-ID
    fields added where ``sent`` had none (RFC 5321 6.4), a Bcc field removed (RFC 5322 3.6.3);
    None when there is none of them."""
    what = []
    head_sent = header_of(sent)
    n = len(header_of(got))
    head, rest = got[:n], got[n:]
    for name in ADDED:
        if _field_re(name).search(head_sent) is None and _field_re(name).search(head) is not None:
            head = _field_re(name).sub(b"", head, count=1)
            what.append(f"a {name} field added")
    bcc = _field_re("Bcc")
    if bcc.search(head_sent) is not None and bcc.search(head) is None:
        sent = bcc.sub(b"", head_sent, count=1) + sent[len(head_sent) :]
        what.append("the Bcc field removed")
    return (sent, head + rest, what) if what else None


def first_difference(sent: bytes, got: bytes) -> str:
    """Where ``got`` departs from ``sent`` (aligned on the sent message's first line), for the report."""
    first = sent.split(b"\r\n", 1)[0] + b"\r\n"
    start = got.find(first)
    start = max(start, 0)
    body = got[start:]
    n = next((i for i, (a, b) in enumerate(zip(sent, body, strict=False)) if a != b), min(len(sent), len(body)))
    return (
        f"at octet {n} of the sent message ({len(sent)} octets; read back {len(body)} after "
        f"{start} octets of added fields): sent {sent[max(n - 30, 0) : n + 40]!r}, read {body[max(n - 30, 0) : n + 40]!r}"
    )


def expect_same(sent: bytes, got: bytes | None, how: str, *, req: str | None = None) -> bytes:
    """``got`` must be ``sent`` with nothing but added trace fields on top; returns those fields."""
    check(got is not None, f"the message was not found {how}", req=req)
    assert got is not None
    prefix = trace_prefix(sent, got)
    if prefix is None:
        fixed = originator_fixes(sent, got)
        if fixed is not None and trace_prefix(fixed[0], fixed[1]) is not None:
            info(
                f"the message read {how} is the message delivered with {' and '.join(fixed[2])}: what an "
                "originating MTA does (RFC 5321 6.4 lets originating and submission servers add Date and "
                "Message-ID; RFC 5322 3.6.3 has the sender's system remove Bcc), noted, not judged"
            )
    check(
        prefix is not None,
        f"the message read {how} is not the message delivered (apart from trace fields added on top)",
        req=req,
        expected=f"{len(sent)} octets, as sent",
        observed=first_difference(sent, got),
    )
    assert prefix is not None
    return prefix


# --- the interop fixture ------------------------------------------------------------


class Interop:
    """The ``interop`` fixture: one peer's ways in (SMTP/LMTP) and read paths (IMAP, POP3, JMAP)."""

    def __init__(self, imap: IMAPSessions) -> None:
        self.imap = imap
        self.ctx = imap.ctx
        self.target = imap.target
        self.tokens: list[str] = []
        self._imap: dict[bool, IMAPClient] = {}
        self._ehlo: dict[str, str] | None = None
        self._pop3: list[POP3Sessions] = []
        self._jmap: list[Any] = []

    # --- in -----------------------------------------------------------------------

    @property
    def address(self) -> str:
        if not self.target.accounts or not self.target.accounts[0].address:
            unsupported("the account's mail address is not known")
        return self.target.accounts[0].address

    def _way_in(self) -> tuple[str, int, bool]:
        smtp, lmtp = self.target.extra.get("smtp"), self.target.extra.get("lmtp")
        where = smtp or lmtp
        if not where:
            unsupported("no SMTP or LMTP endpoint delivers into this IMAP target's mailboxes (extra smtp/lmtp)")
        host, _, port = str(where).rpartition(":")
        return host, int(port), not smtp

    def extensions(self) -> dict[str, str]:
        """The EHLO (LHLO) extensions of the way in."""
        if self._ehlo is None:
            host, port, lmtp = self._way_in()
            with SMTPClient(
                host, port, timeout=self.ctx.timeout, transcript=self.ctx.transcript("ehlo"), lmtp=lmtp
            ) as s:
                try:
                    s.connect()
                    s.ehlo()
                    s.quit()
                except NetError as e:
                    unsupported(f"cannot reach the way in at {host}:{port}: {e}")
                self._ehlo = dict(s.extensions)
        return self._ehlo

    def require_in(self, *extensions: str) -> None:
        ext = self.extensions()
        for e in extensions:
            if e.upper() not in ext:
                unsupported(f"the way in ({'LMTP' if self._way_in()[2] else 'SMTP'}) does not announce {e}")

    def send(self, data: bytes, *, binary: bool = False) -> None:
        """Submit ``data`` for the first account over SMTP (or LMTP): BODY=8BITMIME for 8-bit
        content, SMTPUTF8 for UTF-8 header fields, BODY=BINARYMIME over BDAT for ``binary``.
        What the way in does not announce is UNSUPPORTED."""
        head = header_of(data)
        params = []
        if binary:
            self.require_in("CHUNKING", "BINARYMIME")
            params.append("BODY=BINARYMIME")
        elif not data.isascii():
            self.require_in("8BITMIME")
            params.append("BODY=8BITMIME")
        if not head.isascii():
            self.require_in("SMTPUTF8")
            params.append("SMTPUTF8")
        limit = self.extensions().get("SIZE", "").strip()
        if limit.isdigit() and int(limit) and len(data) > int(limit):
            unsupported(f"the message ({len(data)} octets) is larger than the announced SIZE {limit}")
        host, port, lmtp = self._way_in()
        label = "lmtp delivery" if lmtp else "smtp delivery"
        with SMTPClient(host, port, timeout=self.ctx.timeout, transcript=self.ctx.transcript(label), lmtp=lmtp) as s:
            try:
                s.connect()
                s.ehlo()
                mail = s.mail(self.ctx.sender, *params)
                if mail.code != 250:
                    unsupported(f"MAIL {' '.join(params)} was refused: {mail}")
                rcpt = s.rcpt(self.address)
                if rcpt.code not in (250, 251):
                    unsupported(f"the recipient {self.address} was refused: {rcpt}")
                if binary:
                    s.send(bdat_chunk(data, last=True))
                    final = s.read_reply(timeout=self.ctx.timeout * 6)
                else:
                    final = s.data(data)[-1]
                if final.code != 250:
                    unsupported(f"the test message was not accepted: {final}")
                s.quit()
            except NetError as e:
                unsupported(f"cannot deliver the test message at {host}:{port}: {e}")

    # --- IMAP -----------------------------------------------------------------------

    def imap_session(self, *, utf8: bool = False) -> IMAPClient:
        """A logged-in session with INBOX selected (after ENABLE UTF8=ACCEPT for ``utf8``)."""
        if utf8 not in self._imap:
            c = self.imap.login()
            if utf8:
                self.imap.require(c, "UTF8=ACCEPT")
                res = c.command("ENABLE", wire.Atom("UTF8=ACCEPT"))
                if "UTF8=ACCEPT" not in c.enabled:
                    unsupported(f"ENABLE UTF8=ACCEPT did not enable it: {res}")
            res = c.select("INBOX")
            if not res.ok:
                unsupported(f"cannot SELECT INBOX: {res}")
            self._imap[utf8] = c
        return self._imap[utf8]

    def fresh_imap(self) -> IMAPClient:
        """A new logged-in session with INBOX selected, for what another session must see."""
        c = self.imap.login()
        res = c.select("INBOX")
        if not res.ok:
            unsupported(f"cannot SELECT INBOX: {res}")
        return c

    def find_uid(self, token: str, client: IMAPClient | None = None, *, wait: float = WAIT) -> int | None:
        """The UID of the message with this token in INBOX, waiting up to ``wait`` seconds for it."""
        c = client or self.imap_session()
        deadline = time.monotonic() + wait
        while True:
            _res, uids = c.search(wire.Atom("HEADER"), TOKEN_FIELD, token, uid=True)
            if uids:
                return uids[-1]
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)
            c.noop()

    def fetch(self, uid: int, items: str, client: IMAPClient | None = None) -> dict[str, wire.Value]:
        c = client or self.imap_session()
        res, got = c.fetch(str(uid), items, uid=True)
        check(res.ok and len(got) == 1, f"UID FETCH {uid} {items} gave no data", observed=str(res))
        return next(iter(got.values()))

    def imap_message(self, token: str, *, utf8: bool = False, client: IMAPClient | None = None) -> bytes | None:
        """BODY[] of the message with this token (None when it is not in INBOX)."""
        c = client or self.imap_session(utf8=utf8)
        uid = self.find_uid(token, c)
        if uid is None:
            return None
        body = self.fetch(uid, "(BODY.PEEK[])", c).get("BODY[]")
        check(isinstance(body, bytes), "FETCH BODY[] gave no string", observed=repr(body)[:200])
        assert isinstance(body, bytes)
        return body

    def deliver(self, data: bytes, token: str, *, binary: bool = False) -> int:
        """Send ``data`` (which carries ``token``) and wait for it in INBOX; its UID."""
        self.tokens.append(token)
        self.send(data, binary=binary)
        uid = self.find_uid(token)
        check(uid is not None, f"the delivered message did not show up in INBOX over IMAP within {WAIT:.0f} s")
        assert uid is not None
        return uid

    # --- POP3 -----------------------------------------------------------------------

    def pop3_sessions(self) -> POP3Sessions:
        where = self.target.extra.get("pop3")
        if not where:
            unsupported("this peer names no POP3 endpoint on the same mailboxes (extra pop3)")
        host, _, port = str(where).rpartition(":")
        t = self.target.with_(protocol="pop3", host=host, port=int(port), implicit_tls=False)
        ctx = CaseContext(t, timeout=self.ctx.timeout, transcripts=self.ctx.transcripts)
        sessions = POP3Sessions(ctx)
        self._pop3.append(sessions)
        return sessions

    def pop3_login(self, *, utf8: bool = False) -> tuple[POP3Sessions, POP3Client]:
        """A POP3 session in the TRANSACTION state (after the UTF8 command for ``utf8``)."""
        sessions = self.pop3_sessions()
        c = sessions.ready()
        sessions.secure(c)
        if utf8:
            sessions.require(c, "UTF8")
            resp = c.command("UTF8")
            if not resp.ok:
                unsupported(f"the UTF8 command was refused: {resp}")
        return sessions, sessions.login(c)

    def pop3_number(self, client: POP3Client, token: str) -> int | None:
        for num in sorted(client.scan_listing(), reverse=True):
            resp = client.top(num, 0) if client.has("TOP") else client.retr(num)
            if resp.ok and token.encode() in resp.body:
                return num
        return None

    def pop3_message(self, token: str, *, utf8: bool = False) -> bytes | None:
        """RETR of the message with this token (None when it is not in the maildrop); QUIT after."""
        _, c = self.pop3_login(utf8=utf8)
        num = self.pop3_number(c, token)
        if num is None:
            c.quit()
            return None
        resp = c.retr(num)
        check(resp.ok, f"RETR {num} was refused", observed=str(resp))
        c.quit()
        return resp.body

    # --- JMAP -----------------------------------------------------------------------

    def jmap_sessions(self) -> Any:
        from .clients.jmap import JMAPSessions

        where = self.target.extra.get("jmap")
        if not where:
            unsupported("this peer names no JMAP endpoint on the same mailboxes (extra jmap)")
        host, _, port = str(where).rpartition(":")
        extra = {k: v for k, v in self.target.extra.items() if k in ("token",)}
        if self.target.extra.get("jmap_session_path"):
            extra["session_path"] = self.target.extra["jmap_session_path"]
        t = self.target.with_(protocol="jmap", host=host, port=int(port), implicit_tls=False, extra=extra)
        ctx = CaseContext(t, timeout=self.ctx.timeout, transcripts=self.ctx.transcripts)
        sessions = JMAPSessions(ctx)
        self._jmap.append(sessions)
        return sessions

    # --- round trips ------------------------------------------------------------------

    def put(self, data: bytes, token: str, *, binary: bool = False) -> int:
        """Deliver ``data`` and wait for it in INBOX (``deliver``); its UID."""
        return self.deliver(data, token, binary=binary)

    def via_imap(self, data: bytes, *, binary: bool = False, req: str | None = None) -> bytes:
        """Deliver ``data`` (a message with a token field), read it back with FETCH BODY[]
        (ENABLE UTF8=ACCEPT first when its header is UTF-8): it must be what was sent."""
        token = token_of(data)
        self.deliver(data, token, binary=binary)
        got = self.imap_message(token, utf8=not header_of(data).isascii())
        return expect_same(data, got, "over IMAP (FETCH BODY[])", req=req)

    def via_pop3(self, data: bytes, *, req: str | None = None) -> bytes:
        """Deliver ``data``, read it back with RETR (in UTF-8 mode when its header is UTF-8)."""
        token = token_of(data)
        self.deliver(data, token)
        got = self.pop3_message(token, utf8=not header_of(data).isascii())
        return expect_same(data, got, "over POP3 (RETR)", req=req)

    def jmap_email(self, token: str, properties: list[str], *, wait: float = WAIT) -> tuple[Any, str, dict[str, Any]]:
        """(JMAP sessions, account id, the Email with this token): Email/query on the token header,
        else the newest Emails' messageId; ERROR-free UNSUPPORTED without the mail capability."""
        jm = self._jmap[0] if self._jmap else self.jmap_sessions()
        acc = jm.account()
        props = sorted({"id", "messageId", *properties})
        deadline = time.monotonic() + wait
        while True:
            calls = [
                ["Email/query", {"accountId": acc, "filter": {"header": [TOKEN_FIELD, token]}}, "q"],
                [
                    "Email/get",
                    {
                        "accountId": acc,
                        "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                        "properties": props,
                    },
                    "g",
                ],
                [
                    "Email/query",
                    {"accountId": acc, "sort": [{"property": "receivedAt", "isAscending": False}], "limit": 30},
                    "q2",
                ],
                [
                    "Email/get",
                    {
                        "accountId": acc,
                        "#ids": {"resultOf": "q2", "name": "Email/query", "path": "/ids"},
                        "properties": props,
                    },
                    "g2",
                ],
            ]
            reply = jm.call(calls)
            for call_id in ("g", "g2"):
                args = reply.args(call_id, "Email/get") or {}
                for email in args.get("list") or []:
                    if isinstance(email, dict) and f"{token}@mailspec.test" in (email.get("messageId") or []):
                        return jm, acc, email
            if reply.args("g2", "Email/get") is None:
                unsupported(f"Email/query and Email/get did not succeed: {reply.summary(300)}")
            if time.monotonic() > deadline:
                check(False, "the delivered message was not found over JMAP (Email/query, Email/get)")
            time.sleep(0.2)

    def jmap_blob(self, jm: Any, acc: str, blob_id: str) -> bytes:
        resp = jm.main.download(acc, blob_id, "message.eml", "message/rfc822")
        check(resp.status_code == 200, f"the Email's blob could not be downloaded: HTTP {resp.status_code}")
        return bytes(resp.content)

    # --- teardown -------------------------------------------------------------------

    def close(self) -> None:
        """Remove the case's messages (\\Deleted and EXPUNGE over IMAP), close every session."""
        try:
            if self.tokens:
                c = self.fresh_imap()
                uids = [u for t in self.tokens if (u := self.find_uid(t, c, wait=0)) is not None]
                if uids:
                    seq = ",".join(map(str, uids))
                    c.store(seq, "+FLAGS.SILENT", ("\\Deleted",), uid=True)
                    if "UIDPLUS" in self.imap.capabilities(c):
                        c.command("UID EXPUNGE", wire.Atom(seq))
                    else:
                        c.command("EXPUNGE")
                c.logout()
        except Exception:  # cleanup must not turn a verdict into an error
            pass
        for s in self._pop3:
            s.close_all()
        for j in self._jmap:
            j.close_all()

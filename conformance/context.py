"""What a case has at hand besides its client: the target, TLS, test messages, mailbox probe."""

from __future__ import annotations

import base64
import ssl
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from .net import Transcript
from .target import Target
from .verdict import unsupported


@dataclass
class CaseContext:
    target: Target
    timeout: float = 10.0
    transcripts: list[Transcript] = field(default_factory=list)
    destructive: bool = True
    banner: str = ""  # the first greeting seen, to name the implementation

    def transcript(self, label: str) -> Transcript:
        tr = Transcript(label)
        for acct in self.target.accounts:
            tr.add_secret(acct.password)
            # SASL PLAIN tokens hide the password inside base64 of "authzid\0user\0password".
            for authzid in ("", acct.user):
                tr.add_secret(base64.b64encode(f"{authzid}\0{acct.user}\0{acct.password}".encode()))
        self.transcripts.append(tr)
        return tr

    def tls_context(self) -> ssl.SSLContext:
        """Trust the target's CA when we know it; otherwise do not verify (we test the protocol, not the PKI)."""
        if self.target.cafile:
            ctx = ssl.create_default_context(cafile=self.target.cafile)
            ctx.check_hostname = False
            return ctx
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    @property
    def sender(self) -> str:
        return f"mailspec-sender@{self.target.domain or 'mailspec.test'}"

    @property
    def recipient(self) -> str:
        if not self.target.recipient:
            unsupported("no deliverable recipient is known for this target (give --recipient)")
        return self.target.recipient

    @property
    def unknown_recipient(self) -> str:
        if not self.target.unknown_recipient:
            unsupported("no address known to be refused by this target (set unknown_recipient in --target-config)")
        return self.target.unknown_recipient

    def credentials(self) -> tuple[str, str]:
        if not self.target.accounts:
            unsupported("no credentials for this target (give --user and --password)")
        a = self.target.accounts[0]
        return a.user, a.password

    def mailbox(self, address: str | None = None) -> MailboxProbe | IMAPProbe:
        """What reads delivered mail back for ``address`` (default: the test recipient): its
        Maildir, or its INBOX over IMAP (``extra["imap"]``, for a server keeping its own
        mailbox format, as Cyrus does)."""
        user = (address or self.recipient).partition("@")[0]
        if self.target.maildir:
            return MailboxProbe(Path(self.target.maildir) / user)
        where = str(self.target.extra.get("imap", ""))
        acct = next((a for a in self.target.accounts if a.user == user and a.password), None)
        if not where or acct is None:
            unsupported("this target's delivered mail cannot be read back (no mailbox probe)")
        host, _, port = where.rpartition(":")
        return IMAPProbe(self, host, int(port), acct.user, acct.password)


def make_message(
    subject: str = "mailspec test", body: bytes = b"Hello from mailspec.\r\n", *, headers: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """A small RFC 5322 message with a unique token header; returns (bytes, token)."""
    token = uuid.uuid4().hex
    head = {
        "From": "mailspec <mailspec-sender@mailspec.test>",
        "To": "mailspec <recipient@mailspec.test>",
        "Subject": subject,
        "Date": formatdate(time.time()),
        "Message-ID": f"<{token}@mailspec.test>",
        "X-Mailspec-Token": token,
        **(headers or {}),
    }
    text = "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode()
    return text + b"\r\n" + body, token


class _Probe:
    """What reads delivered mail back: ``find`` once; ``wait_for`` polls it."""

    poll = 0.05  # seconds between two looks

    def find(self, token: str) -> list[bytes]:
        raise NotImplementedError

    def wait_for(self, token: str, timeout: float = 15.0, count: int = 1) -> list[bytes]:
        """Messages containing ``token`` once ``count`` are there, or what arrived by the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(token)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(self.poll)


class MailboxProbe(_Probe):
    """Reads a Maildir (the target's delivery store) to see what really arrived."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def find(self, token: str) -> list[bytes]:
        found = []
        for sub in ("new", "cur"):
            d = self.path / sub
            if not d.is_dir():
                continue
            for f in d.iterdir():
                try:
                    data = f.read_bytes()
                except OSError:
                    continue
                if token.encode() in data:
                    found.append(data)
        return found


class IMAPProbe(_Probe):
    """Reads the recipient's INBOX over IMAP (LOGIN after STARTTLS when offered) to see what arrived."""

    poll = 0.2  # each look is a whole IMAP session

    def __init__(self, ctx: CaseContext, host: str, port: int, user: str, password: str) -> None:
        self.ctx = ctx
        self.host, self.port, self.user, self.password = host, port, user, password

    def find(self, token: str) -> list[bytes]:
        from .clients.imap import IMAPClient
        from .wire.imap import Atom

        with IMAPClient(
            self.host, self.port, timeout=self.ctx.timeout, transcript=self.ctx.transcript("imap probe")
        ) as c:
            c.connect()
            if not c.capabilities:
                c.capability()
            if c.has("STARTTLS"):
                c.starttls(self.ctx.tls_context())
            if not c.login(self.user, self.password).ok or not c.select("INBOX", readonly=True).ok:
                unsupported(f"the IMAP mailbox probe could not open {self.user}'s INBOX")
            _, nums = c.search(Atom("HEADER"), "X-Mailspec-Token", token)
            found = []
            for n in nums:
                _, items = c.fetch(str(n), "BODY.PEEK[]")
                body = items.get(n, {}).get("BODY[]")
                if isinstance(body, bytes) and token.encode() in body:
                    found.append(body)
            c.logout()
            return found

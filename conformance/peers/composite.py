"""Composite peers: several real servers wired together, started and stopped as one peer.

``postfix-dovecot``: Postfix (SMTP in) delivering every virtual mailbox to
Dovecot's LMTP listener (``virtual_transport = lmtp:inet:127.0.0.1:PORT``,
``fixtures/peers/postfix-dovecot/main.cf.in`` appended to the postfix peer's
main.cf), and Dovecot serving the same mailboxes over IMAP and POP3. Each
server is the local peer of its own (DovecotPeer, PostfixPeer: the same
templates, directories and stop), so the stack runs wherever both run, locally
or in one container (``--backend docker``). The IMAP and POP3 targets name
Postfix in ``extra["smtp"]``, so the scenarios that need mail in a mailbox
deliver it through Postfix, end to end.
"""

from __future__ import annotations

import atexit
from pathlib import Path

from ..target import Target
from .dovecot import DovecotPeer
from .local import FIXTURES, PostfixPeer, render


class LmtpPostfixPeer(PostfixPeer):
    """The postfix peer, its virtual mailboxes delivered over LMTP to ``lmtp`` (host:port)."""

    def __init__(self, lmtp: str, *, start_timeout: float = 20.0) -> None:
        super().__init__(start_timeout=start_timeout)
        self.lmtp = lmtp

    def prepare(self, base: Path) -> None:
        super().prepare(base)
        extra = render(FIXTURES / "postfix-dovecot" / "main.cf.in", {"lmtp": self.lmtp})
        with open(base / "etc" / "main.cf", "a", encoding="utf-8") as f:
            f.write("\n" + extra)


class PostfixDovecotPeer:
    name = "postfix-dovecot"

    def __init__(self, *, start_timeout: float = 20.0) -> None:
        self.start_timeout = start_timeout
        self.dovecot = DovecotPeer(start_timeout=start_timeout)
        self.postfix: LmtpPostfixPeer | None = None
        self.version = ""

    def start(self) -> list[Target]:
        try:
            inner = {t.protocol: t for t in self.dovecot.start()}
            lmtp = inner["lmtp"]
            self.postfix = LmtpPostfixPeer(f"{lmtp.host}:{lmtp.port}", start_timeout=self.start_timeout)
            smtp = self.postfix.start()[0]
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        self.version = f"postfix {self.postfix.version} + dovecot {self.dovecot.version}"
        common = {"implementation": self.version, "peer": self.name}
        # Mail for the test accounts goes through Postfix into Dovecot's Maildirs: the probe reads those.
        out = [smtp.with_(maildir=lmtp.maildir, **common)]
        for protocol in ("lmtp", "pop3", "imap"):
            t = inner[protocol]
            extra = dict(t.extra)
            if protocol != "lmtp":
                extra["smtp"] = f"{smtp.host}:{smtp.port}"
            out.append(t.with_(extra=extra, **common))
        return out

    def stop(self) -> None:
        atexit.unregister(self.stop)
        try:
            if self.postfix is not None:
                self.postfix.stop()
        finally:
            self.dovecot.stop()

    def logs(self) -> str:
        parts = []
        if self.postfix is not None:
            parts.append(f"--- postfix ---\n{self.postfix.logs()}")
        parts.append(f"--- dovecot ---\n{self.dovecot.logs()}")
        return "\n".join(parts)

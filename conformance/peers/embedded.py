"""The embedded reference peer: SMTP, submission, implicit-TLS SMTP, LMTP, POP3, IMAP and JMAP in process."""

from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path

from ..servers.base import Handler, ServerThread
from ..servers.behaviours import Behaviours
from ..servers.imap import IMAPConfig, IMAPServer
from ..servers.interop import hooks_for
from ..servers.jmap import JMAPConfig, JMAPServer
from ..servers.pop3 import POP3Config, POP3Server
from ..servers.smtp import Mode, SMTPConfig, SMTPServer
from ..store import MailStore
from ..target import Credentials, Target
from ..tlsutil import loopback_material

ACCOUNTS = (
    Credentials("alice", "alice-Secret-1", "alice@mailspec.test"),
    Credentials("bob", "bob-Secret-2", "bob@mailspec.test"),
)
DOMAIN = "mailspec.test"
# A mailbox that is full (a configuration, not a defect): LMTP accepts its RCPT and
# fails its delivery after DATA, for that recipient only (RFC 2033 4.2).
FULL_ACCOUNT = Credentials("carol", "carol-Secret-3", "carol@mailspec.test")


class EmbeddedPeer:
    name = "embedded"

    def __init__(self, behaviours: tuple[str, ...] = (), *, mirror: bool = True) -> None:
        self.behaviours = Behaviours(behaviours)
        self._dir = Path(tempfile.mkdtemp(prefix="mailspec-embedded-"))
        self.store = MailStore(DOMAIN, maildir_root=(self._dir / "mail") if mirror else None)
        for i, acct in enumerate(ACCOUNTS):
            aliases = ("postmaster",) if i == 0 else ()
            self.store.add_account(acct.user, acct.password, *aliases)
        self.store.add_account(FULL_ACCOUNT.user, FULL_ACCOUNT.password)
        hooks = hooks_for(self.behaviours)  # seeded interop defects live in the store
        if hooks is not None:
            self.store.hooks = hooks
        self._thread: ServerThread | None = None

    def start(self) -> list[Target]:
        tls = loopback_material()
        ctx = tls.server_context()
        self._thread = ServerThread()
        defect = ",".join(sorted(self.behaviours.names))
        base = Target(
            protocol="smtp",
            host="127.0.0.1",
            port=0,
            accounts=ACCOUNTS,
            domain=DOMAIN,
            recipient=ACCOUNTS[1].address,
            unknown_recipient=f"no-such-user@{DOMAIN}",
            implementation="mailspec-embedded",
            peer=self.name,
            maildir=str(self._dir / "mail"),
            cafile=tls.cafile,
            defect=defect,
        )
        targets = []
        modes: tuple[tuple[Mode, bool], ...] = (("smtp", False), ("submission", False), ("smtp", True), ("lmtp", False))
        for mode, implicit in modes:
            cfg = SMTPConfig(
                mode=mode,
                tls=None if implicit else ctx,
                implicit_tls=implicit,
                behaviours=self.behaviours,
                full_mailboxes=frozenset({FULL_ACCOUNT.user}),
            )
            port = self._thread.listen(SMTPServer(self.store, cfg).handle, tls=ctx if implicit else None)
            # SMTP, submission and LMTP each get their scenarios; implicit-TLS SMTP is reached from the
            # plain SMTP target's "smtps_port" (docs/decisions.md), so the core cases do not run twice.
            role = "secondary" if implicit else "primary"
            extra = {"role": role, **({"full_recipient": FULL_ACCOUNT.address} if mode == "lmtp" else {})}
            targets.append(base.with_(protocol=mode, port=port, implicit_tls=implicit, extra=extra))
        smtps = next(t.port for t in targets if t.implicit_tls)
        targets = [t.with_(extra={**t.extra, "smtps_port": smtps}) if t.protocol == "smtp" else t for t in targets]
        smtp = next(t for t in targets if t.protocol == "smtp" and not t.implicit_tls)
        # POP3 and IMAP: plain (STLS/STARTTLS offered, primary) and implicit TLS (secondary);
        # JMAP on plain HTTP. All read the same store; "smtp" is how their cases put mail in.
        locks: set[str] = set()  # one set of POP3 maildrop locks for both listeners
        recent: dict[tuple[str, str, int], set[int]] = {}  # one \\Recent owner per message (IMAP4rev1)
        pop3 = [
            self._listen(base, smtp, "pop3", implicit, POP3Server(self.store, POP3Config(
                tls=None if implicit else ctx, implicit_tls=implicit, behaviours=self.behaviours, locks=locks
            )).handle, ctx)
            for implicit in (False, True)
        ]  # fmt: skip
        imap = [
            self._listen(base, smtp, "imap", implicit, IMAPServer(self.store, IMAPConfig(
                tls=None if implicit else ctx, implicit_tls=implicit, behaviours=self.behaviours, recent_claims=recent
            )).handle, ctx)
            for implicit in (False, True)
        ]  # fmt: skip
        jmap = self._listen(
            base, smtp, "jmap", False, JMAPServer(self.store, JMAPConfig(behaviours=self.behaviours)).handle, ctx
        )
        out = [*targets, *pop3, *imap, jmap]
        return with_read_paths(out)

    def _listen(
        self, base: Target, smtp: Target, protocol: str, implicit: bool, handler: Handler, ctx: ssl.SSLContext
    ) -> Target:
        """A mailbox-access listener on the store: its target, mail for alice put in over ``smtp``."""
        assert self._thread is not None
        port = self._thread.listen(handler, tls=ctx if implicit else None)
        return base.with_(
            protocol=protocol,
            port=port,
            implicit_tls=implicit,
            recipient=ACCOUNTS[0].address,
            unknown_recipient="",
            extra={"role": "secondary" if implicit else "primary", "smtp": f"{smtp.host}:{smtp.port}"},
        )

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def logs(self) -> str:
        return ""


def with_read_paths(targets: list[Target]) -> list[Target]:
    """The IMAP targets name the POP3 and JMAP endpoints of the same store (``extra["pop3"]``,
    ``extra["jmap"]``: "host:port"), for the interop scenarios that read one message both ways."""
    pop3 = next((t for t in targets if t.protocol == "pop3" and not t.implicit_tls), None)
    jmap = next((t for t in targets if t.protocol == "jmap"), None)
    paths = {
        **({"pop3": f"{pop3.host}:{pop3.port}"} if pop3 else {}),
        **({"jmap": f"{jmap.host}:{jmap.port}"} if jmap else {}),
    }
    return [t.with_(extra={**t.extra, **paths}) if t.protocol == "imap" else t for t in targets]

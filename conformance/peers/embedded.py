"""The embedded reference peer: SMTP, submission, implicit-TLS SMTP and LMTP in process."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..servers.base import ServerThread
from ..servers.behaviours import Behaviours
from ..servers.smtp import Mode, SMTPConfig, SMTPServer
from ..store import MailStore
from ..target import Credentials, Target
from ..tlsutil import loopback_material

ACCOUNTS = (
    Credentials("alice", "alice-Secret-1", "alice@mailspec.test"),
    Credentials("bob", "bob-Secret-2", "bob@mailspec.test"),
)
DOMAIN = "mailspec.test"


class EmbeddedPeer:
    name = "embedded"

    def __init__(self, behaviours: tuple[str, ...] = (), *, mirror: bool = True) -> None:
        self.behaviours = Behaviours(behaviours)
        self._dir = Path(tempfile.mkdtemp(prefix="mailspec-embedded-"))
        self.store = MailStore(DOMAIN, maildir_root=(self._dir / "mail") if mirror else None)
        for i, acct in enumerate(ACCOUNTS):
            aliases = ("postmaster",) if i == 0 else ()
            self.store.add_account(acct.user, acct.password, *aliases)
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
            cfg = SMTPConfig(mode=mode, tls=None if implicit else ctx, implicit_tls=implicit, behaviours=self.behaviours)
            port = self._thread.listen(SMTPServer(self.store, cfg).handle, tls=ctx if implicit else None)
            # The SMTP scenarios run against the plain SMTP listener; the others serve their own cases.
            role = "primary" if (mode, implicit) in (("smtp", False), ("lmtp", False)) else "secondary"
            targets.append(base.with_(protocol=mode, port=port, implicit_tls=implicit, extra={"role": role}))
        return targets

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def logs(self) -> str:
        return ""

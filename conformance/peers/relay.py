"""A loopback MTA for peers that hand outgoing mail to SMTP (Cyrus's JMAP EmailSubmission).

The embedded SMTP server takes the mail (so the peer talks to a real SMTP
implementation, with its replies and its refusal of unknown recipients), and a
store that forwards every delivery over LMTP to the peer's own delivery agent:
mail submitted over JMAP to alice@mailspec.test comes back into alice's INBOX,
as it would through a site's MTA.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..clients.smtp import SMTPClient
from ..net import NetError
from ..servers.base import ServerThread
from ..servers.smtp import SMTPConfig, SMTPServer
from ..store import Account, MailStore, StoredMessage
from ..target import Credentials


class _ForwardingStore(MailStore):
    def __init__(self, domain: str, lmtp: tuple[str, int]) -> None:
        super().__init__(domain)
        self.lmtp = lmtp
        self.failures: list[str] = []
        self._queue = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailspec-relay")

    def deliver(self, acct: Account, data: bytes, envelope_from: str, mailbox: str = "INBOX") -> StoredMessage:
        msg = super().deliver(acct, data, envelope_from, mailbox)
        # Queued, as an MTA does: the 250 goes back at once, delivery follows. (Delivering
        # before answering deadlocks Cyrus, whose submitting process holds the user's locks.)
        self._queue.submit(self._forward, acct, data, envelope_from)
        return msg

    def _forward(self, acct: Account, data: bytes, envelope_from: str) -> None:
        try:
            with SMTPClient(*self.lmtp, timeout=10, lmtp=True) as c:
                c.connect()
                c.ehlo()
                replies = c.send_message(envelope_from, [acct.addresses[0]], data)
                c.quit()
            if replies[-1].code != 250:
                self.failures.append(f"LMTP refused the relayed message: {replies[-1]}")
        except NetError as e:
            self.failures.append(f"LMTP relay to {self.lmtp}: {e}")


class LoopbackRelay:
    """``start()`` -> the SMTP port; mail for ``accounts`` goes on to ``lmtp`` (host, port)."""

    def __init__(self, domain: str, accounts: tuple[Credentials, ...], lmtp: tuple[str, int]) -> None:
        self.store = _ForwardingStore(domain, lmtp)
        for a in accounts:
            self.store.add_account(a.user, a.password)
        self._thread: ServerThread | None = None

    def start(self) -> int:
        self._thread = ServerThread()
        return self._thread.listen(SMTPServer(self.store, SMTPConfig(mode="smtp")).handle)

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        self.store._queue.shutdown(wait=True, cancel_futures=True)

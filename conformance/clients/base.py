"""What every protocol's session fixture shares (``smtp``, ``pop3``, later ``imap``)."""

from __future__ import annotations

import ssl
from typing import Generic, Protocol, TypeVar

from ..context import CaseContext, make_message
from ..net import NetError, Transcript
from ..verdict import unsupported


class _Greeting(Protocol):
    @property
    def text(self) -> str: ...


class _Client(Protocol):
    def connect(self) -> _Greeting: ...

    def close(self) -> None: ...


C = TypeVar("C", bound=_Client)


class Sessions(Generic[C]):
    """Opens reference-client sessions to the case's target: each with its own
    transcript (secrets registered), TLS from the case context, all closed at teardown."""

    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx
        self.target = ctx.target
        self._clients: list[C] = []

    def _client(self, port: int, tls: ssl.SSLContext | None, transcript: Transcript) -> C:
        raise NotImplementedError

    def open(
        self, *, connect: bool = True, port: int | None = None, implicit_tls: bool | None = None, label: str = ""
    ) -> C:
        t = self.target
        tls = t.implicit_tls if implicit_tls is None else implicit_tls
        transcript = self.ctx.transcript(f"{label or t.protocol} session {len(self._clients) + 1}")
        client = self._client(port or t.port, self.ctx.tls_context() if tls else None, transcript)
        self._clients.append(client)
        if connect:
            greeting = client.connect()
            self.ctx.banner = self.ctx.banner or greeting.text
        return client

    def close_all(self) -> None:
        for c in self._clients:
            c.close()

    # --- test mail into the account's INBOX, the way mail really arrives -----

    def can_deliver(self) -> bool:
        where = self.target.extra.get("smtp") or self.target.extra.get("lmtp")
        return bool(where) and bool(self.target.accounts and self.target.accounts[0].address)

    def deliver(
        self, n: int = 1, *, bodies: list[bytes] | None = None, headers: dict[str, str] | None = None
    ) -> list[str]:
        """Deliver ``n`` small test messages to the first account's INBOX; their tokens.

        Mail goes over SMTP to ``target.extra["smtp"]`` (the embedded peer's SMTP
        listener on the same store), or over LMTP to ``target.extra["lmtp"]`` (a local
        peer's delivery agent for the same mailboxes). A target with no such way in is
        UNSUPPORTED: fill its mailbox before the run and the cases work with what is there.
        """
        from .smtp import SMTPClient

        lmtp = not self.target.extra.get("smtp") and bool(self.target.extra.get("lmtp"))
        where = self.target.extra.get("smtp") or self.target.extra.get("lmtp")
        if not where:
            unsupported(f"no way to deliver test mail to this {self.target.protocol} target: pre-fill the mailbox")
        host, _, port = str(where).rpartition(":")
        address = self.target.accounts[0].address if self.target.accounts else ""
        if not address:
            unsupported("the account's mail address is not known")
        tokens = []
        label = "lmtp delivery" if lmtp else "smtp delivery"
        with SMTPClient(
            host, int(port), timeout=self.ctx.timeout, transcript=self.ctx.transcript(label), lmtp=lmtp
        ) as s:
            try:
                s.connect()
                s.ehlo()
                for i in range(n):
                    body = bodies[i % len(bodies)] if bodies else b"Hello from mailspec.\r\n"
                    data, token = make_message(f"mailspec {self.target.protocol} test {i + 1}", body, headers=headers)
                    replies = s.send_message(self.ctx.sender, [address], data)
                    if replies[-1].code != 250:
                        unsupported(f"the test message was not accepted over SMTP: {replies[-1]}")
                    tokens.append(token)
                s.quit()
            except NetError as e:
                unsupported(f"cannot deliver test mail over SMTP at {where}: {e}")
        return tokens

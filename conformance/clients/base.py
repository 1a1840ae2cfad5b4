"""What every protocol's session fixture shares (``smtp``, ``pop3``, later ``imap``)."""

from __future__ import annotations

import ssl
from typing import Generic, Protocol, TypeVar

from ..context import CaseContext
from ..net import Transcript


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

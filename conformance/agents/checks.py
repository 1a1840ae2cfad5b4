"""What client cases share: test messages, running the usual operations, and judging the wire."""

from __future__ import annotations

import re

from ..context import make_message
from ..verdict import check, unsupported
from .harness import RECIPIENT, SENDER, ClientCase, RefServer, RunResult, lf
from .wirelog import Unit, WireLog, line_units, smtp_units

__all__ = [
    "RECIPIENT",
    "SENDER",
    "ClientCase",
    "RefServer",
    "RunResult",
    "Unit",
    "WireLog",
    "check_delivered",
    "client_commands",
    "crlf",
    "fetch",
    "line_units",
    "message",
    "retrieved",
    "send",
    "smtp_units",
    "stored_with",
]


def crlf(text: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", text)


def message(
    body: bytes = b"Hello from mailspec.\r\n", subject: str = "mailspec client test", **headers: str
) -> tuple[bytes, str]:
    """A small RFC 5322 message (CRLF) with a unique token; (bytes, token)."""
    return make_message(subject, crlf(body), headers=headers or None)


def send(client: ClientCase, srv: RefServer, data: bytes, **opts: object) -> RunResult:
    return client.run("smtp.send", srv, message=data, **opts)


def fetch(client: ClientCase, srv: RefServer, *, delete: bool = False, **opts: object) -> RunResult:
    """Retrieve alice's maildrop: fetch-all (or delete) when the client has it, else fetch-one of message 1."""
    if delete:
        return client.run("pop3.delete", srv, **opts)
    if client.supports("pop3.fetch-all"):
        return client.run("pop3.fetch-all", srv, **opts)
    if client.supports("pop3.fetch-one"):
        return client.run("pop3.fetch-one", srv, msgnum=1, **opts)
    unsupported(f"{client.agent.name} cannot retrieve POP3 mail")


def stored_with(srv: RefServer, token: str, user: str = "bob") -> list[bytes]:
    return [m for m in srv.stored(user) if token.encode() in m]


def check_delivered(
    srv: RefServer, run: RunResult, data: bytes, token: str, *, user: str = "bob", what: str = "the message"
) -> None:
    """The server stored ``data`` exactly (after its own trace fields) for ``user``."""
    got = stored_with(srv, token, user)
    check(
        got,
        f"{what} was not delivered",
        expected="the message accepted by the server",
        observed=f"nothing stored; {run.summary()}",
    )
    check(
        got[-1].endswith(data),
        f"{what} arrived altered",
        expected=repr(data[-300:]),
        observed=repr(got[-1][-300:]),
    )


def retrieved(
    client: ClientCase, messages: list[bytes], *behaviours: object, delete: bool = False, **opts: object
) -> tuple[RefServer, RunResult]:
    """Serve ``messages`` to the client and require each back exactly (header fields the client adds on top allowed)."""
    srv = client.server("pop3", behaviours=behaviours, messages=messages)
    run = fetch(client, srv, delete=delete, **opts)
    got = run.produced()
    wanted = messages if client.supports("pop3.fetch-all") or delete else messages[:1]
    check(len(got) >= len(wanted), "the client did not retrieve every message", expected=f"{len(wanted)} messages",
          observed=f"{len(got)} in its Maildir; {run.summary()}")  # fmt: skip
    for m in wanted:
        same = [g for g in got if lf(g).endswith(lf(m))]
        check(
            same,
            "a retrieved message differs from the message on the server",
            expected=repr(m[-200:]),
            observed=repr(min(got, key=lambda g: abs(len(g) - len(m)))[-200:]) if got else "",
        )
    return srv, run


def client_commands(srv: RefServer, *, tls: bool | None = None) -> list[Unit]:
    """Every SMTP command the client sent, over every connection."""
    return [
        u for log in srv.connections for u in smtp_units(log) if u.kind == "command" and (tls is None or u.tls == tls)
    ]

"""Reference SMTP / submission / LMTP client.

High-level operations (``ehlo``, ``mail``, ``rcpt``, ``data``...) return the
server's ``Reply`` whatever its code: scenarios judge replies, the client
never raises on a 4xx or 5xx. Raw ``send`` / ``read_reply`` exist for cases
that must misbehave on purpose.
"""

from __future__ import annotations

import base64
import ssl
import time

from ..net import Connection, ConnectionClosed, NetTimeout, Transcript
from ..verdict import Violation, unsupported
from ..wire import smtp as wire
from .base import Sessions

# RCPT success replies: 251 "user not local; will forward" accepts the recipient too (RFC 5321 3.4).
RCPT_ACCEPTED = (250, 251)


class SMTPClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        implicit_tls: ssl.SSLContext | None = None,
        transcript: Transcript | None = None,
        lmtp: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.lmtp = lmtp
        self.transcript = transcript or Transcript(f"smtp {host}:{port}")
        self._implicit_tls = implicit_tls
        self._conn: Connection | None = None
        self._parser = wire.ReplyParser()
        self.greeting: wire.Reply | None = None
        self.ehlo_reply: wire.Reply | None = None
        self.extensions: dict[str, str] = {}

    # --- connection --------------------------------------------------------

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    def connect(self) -> wire.Reply:
        self._conn = Connection.open(
            self.host, self.port, timeout=self.timeout, tls=self._implicit_tls, transcript=self.transcript
        )
        self.greeting = self.read_reply()
        return self.greeting

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def send(self, data: bytes) -> None:
        self.conn.send(data)

    def read_reply(self, timeout: float | None = None) -> wire.Reply:
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout * 3)
        while True:
            reply = self._parser.next_reply()
            if reply is not None:
                return reply
            self._parser.feed(self.conn.recv(deadline))

    def read_replies(self, n: int, timeout: float | None = None) -> list[wire.Reply]:
        return [self.read_reply(timeout) for _ in range(n)]

    def try_read_reply(self, timeout: float) -> wire.Reply | None:
        """A reply if one arrives within ``timeout``, else None (connection still open)."""
        try:
            return self.read_reply(timeout)
        except NetTimeout:
            return None

    def closed_by_peer(self, timeout: float = 2.0) -> bool:
        if self._parser.buffered:
            return False
        return self.conn.closed or self.conn.wait_closed(timeout)

    def command(self, line: str, *, check_length: bool = True) -> wire.Reply:
        verb, _, arg = line.partition(" ")
        self.send(wire.encode_command(verb, arg, check_length=check_length))
        return self.read_reply()

    # --- operations ----------------------------------------------------------

    def ehlo(self, name: str = "client.mailspec.test") -> wire.Reply:
        reply = self.command(f"{'LHLO' if self.lmtp else 'EHLO'} {name}")
        self.ehlo_reply = reply
        self.extensions = {}
        if reply.code == 250:
            for line in reply.lines[1:]:
                key, _, value = line.partition(" ")
                self.extensions[key.upper()] = value
        return reply

    def has(self, extension: str) -> bool:
        return extension.upper() in self.extensions

    def helo(self, name: str = "client.mailspec.test") -> wire.Reply:
        return self.command(f"HELO {name}")

    def mail(self, sender: str, *params: str) -> wire.Reply:
        return self.command(" ".join([f"MAIL FROM:<{sender}>", *params]))

    def rcpt(self, recipient: str, *params: str) -> wire.Reply:
        return self.command(" ".join([f"RCPT TO:<{recipient}>", *params]))

    def data(self, message: bytes, *, recipients: int = 1) -> list[wire.Reply]:
        """DATA, then the message with transparency. Returns [354-or-error, final...].

        For LMTP, one final reply per accepted recipient (RFC 2033 4.2).
        """
        first = self.command("DATA")
        if first.code != 354:
            return [first]
        self.send(wire.dot_stuff(message))
        count = recipients if self.lmtp else 1
        return [first, *self.read_replies(count, timeout=self.timeout * 6)]

    def send_message(self, sender: str, recipients: list[str], message: bytes) -> list[wire.Reply]:
        """A whole transaction; stops at the first refused step and returns every reply."""
        replies = [self.mail(sender)]
        if replies[0].code != 250:
            return replies
        accepted = 0
        for r in recipients:
            reply = self.rcpt(r)
            replies.append(reply)
            accepted += reply.code in RCPT_ACCEPTED
        if not accepted:
            return replies
        return replies + self.data(message, recipients=accepted)

    def rset(self) -> wire.Reply:
        return self.command("RSET")

    def noop(self) -> wire.Reply:
        return self.command("NOOP")

    def vrfy(self, what: str) -> wire.Reply:
        return self.command(f"VRFY {what}")

    def quit(self) -> wire.Reply:
        return self.command("QUIT")

    def starttls(self, ctx: ssl.SSLContext, server_hostname: str | None = None) -> wire.Reply:
        reply = self.command("STARTTLS")
        if reply.code == 220:
            self.conn.start_tls(ctx, server_hostname or self.host)
            self._parser = wire.ReplyParser()
            self.extensions = {}
        return reply

    def auth_plain(self, user: str, password: str, *, initial: bool = True) -> wire.Reply:
        self.transcript.add_secret(password)
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.transcript.add_secret(token)
        if initial:
            return self.command(f"AUTH PLAIN {token}")
        reply = self.command("AUTH PLAIN")
        if reply.code != 334:
            return reply
        return self.command(token)

    def auth_login(self, user: str, password: str) -> wire.Reply:
        self.transcript.add_secret(password)
        reply = self.command("AUTH LOGIN")
        if reply.code != 334:
            return reply
        reply = self.command(base64.b64encode(user.encode()).decode())
        if reply.code != 334:
            return reply
        return self.command(base64.b64encode(password.encode()).decode())

    def __enter__(self) -> SMTPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SMTPSessions(Sessions[SMTPClient]):
    """The ``smtp`` fixture: opens reference-client sessions to the case's target."""

    def _client(self, port: int, tls: ssl.SSLContext | None, transcript: Transcript) -> SMTPClient:
        lmtp = self.target.protocol == "lmtp" and port == self.target.port
        return SMTPClient(
            self.target.host, port, timeout=self.ctx.timeout, implicit_tls=tls, transcript=transcript, lmtp=lmtp
        )

    def open_implicit_tls(self) -> SMTPClient:
        """A connected session to the target's implicit-TLS endpoint (smtps://, or the "smtps_port" a peer names)."""
        t = self.target
        port = t.port if t.implicit_tls else t.extra.get("smtps_port")
        if not port:
            unsupported("no implicit-TLS (smtps) endpoint is known for this target")
        return self.open(port=int(port), implicit_tls=True, label="smtps")

    def ready(self, *, auth: bool | None = None) -> SMTPClient:
        """Connected, greeted (220 required) and after EHLO; authenticated on submission targets.

        A server that refuses this client (554 greeting, RFC 5321 3.1; or 421) makes
        the case UNSUPPORTED; any other greeting, or an EHLO that is not accepted,
        breaks the precondition of every case that needs a session.
        """
        client = self.open()
        assert client.greeting is not None
        if client.greeting.code in (421, 554):
            unsupported(f"the server refuses service to this client: {client.greeting}")
        if client.greeting.code != 220:
            raise Violation(f"greeting was {client.greeting.code}, not 220", req="smtp.rfc5321.4.3.2.greeting-220")
        reply = client.ehlo()
        if reply.code == 421:
            unsupported(f"the server refuses service to this client: {reply}")
        if reply.code != 250:
            raise Violation(f"EHLO was answered {reply}", req="smtp.rfc5321.4.5.1.minimum-commands")
        if auth or (auth is None and self.target.protocol == "submission"):
            self.authenticate(client)
        return client

    def authenticate(self, client: SMTPClient) -> None:
        user, password = self.ctx.credentials()
        if not client.has("AUTH"):
            if client.has("STARTTLS") and not client.conn.is_tls:
                client.starttls(self.ctx.tls_context())
                client.ehlo()
            if not client.has("AUTH"):
                unsupported("the server does not offer AUTH")
        mechs = client.extensions.get("AUTH", "").upper().split()
        reply = client.auth_plain(user, password) if "PLAIN" in mechs else client.auth_login(user, password)
        if reply.code != 235:
            unsupported(f"could not authenticate as {user}: {reply}")

    def in_transaction(self, sender: str | None = None) -> SMTPClient:
        """A ready session after an accepted MAIL; UNSUPPORTED when MAIL is refused."""
        client = self.ready()
        reply = client.mail(self.ctx.sender if sender is None else sender)
        if reply.code != 250:
            unsupported(f"MAIL was refused: {reply}")
        return client

    def with_recipient(self, sender: str | None = None) -> SMTPClient:
        """``in_transaction`` plus one accepted RCPT of the target's deliverable recipient."""
        client = self.in_transaction(sender)
        reply = client.rcpt(self.ctx.recipient)
        if reply.code not in RCPT_ACCEPTED:
            unsupported(f"the recipient {self.ctx.recipient} was refused: {reply}")
        return client

    def require(self, client: SMTPClient, extension: str) -> str:
        """The extension's EHLO parameters, or UNSUPPORTED when it is not advertised."""
        if not client.has(extension):
            unsupported(f"the server does not advertise {extension}")
        return client.extensions[extension.upper()]


__all__ = ["RCPT_ACCEPTED", "ConnectionClosed", "NetTimeout", "SMTPClient", "SMTPSessions"]

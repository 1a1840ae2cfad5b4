"""Reference POP3 client and the ``pop3`` fixture's sessions.

Operations return the server's ``Response`` whatever its status: scenarios
judge responses, the client never raises on -ERR. Commands whose positive
response is multi-line (CAPA, LIST and UIDL without argument, RETR, TOP) read
the whole response. Raw ``send`` / ``read_response`` exist for cases that must
misbehave on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import time
from collections.abc import Callable

from ..net import Connection, ConnectionClosed, NetTimeout, Transcript
from ..verdict import Violation, unsupported
from ..wire import pop3 as wire
from .base import Sessions

GREETING_REQ = "pop3.rfc1939.4.greeting-positive"
_TIMESTAMP = re.compile(r"<[^<>]*>")


class POP3Client:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        implicit_tls: ssl.SSLContext | None = None,
        transcript: Transcript | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.transcript = transcript or Transcript(f"pop3 {host}:{port}")
        self._implicit_tls = implicit_tls
        self._conn: Connection | None = None
        self._parser = wire.ResponseParser()
        self.greeting: wire.Response | None = None
        self.capabilities: dict[str, str] | None = None  # tag (upper) -> parameters, from the last CAPA

    # --- connection --------------------------------------------------------

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    def connect(self) -> wire.Response:
        self._conn = Connection.open(
            self.host, self.port, timeout=self.timeout, tls=self._implicit_tls, transcript=self.transcript
        )
        self.greeting = self.read_response()
        return self.greeting

    @property
    def timestamp(self) -> str | None:
        """The APOP timestamp of the greeting (RFC 1939 section 7), if there is one."""
        if self.greeting is None:
            return None
        m = _TIMESTAMP.search(self.greeting.text)
        return m.group(0) if m else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def send(self, data: bytes) -> None:
        self.conn.send(data)

    def read_response(self, timeout: float | None = None, *, multiline: bool = False) -> wire.Response:
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout * 3)
        while True:
            resp = self._parser.next_response(multiline=multiline)
            if resp is not None:
                return resp
            self._parser.feed(self.conn.recv(deadline))

    def read_multiline(self, timeout: float | None = None) -> wire.Response:
        return self.read_response(timeout, multiline=True)

    def try_read_response(self, timeout: float, *, multiline: bool = False) -> wire.Response | None:
        """A response if one arrives within ``timeout``, else None (connection still open)."""
        try:
            return self.read_response(timeout, multiline=multiline)
        except NetTimeout:
            return None

    def closed_by_peer(self, timeout: float = 2.0) -> bool:
        if self._parser.buffered:
            return False
        return self.conn.closed or self.conn.wait_closed(timeout)

    def command(self, verb: str, *args: str, multiline: bool = False, check_length: bool = True) -> wire.Response:
        self.send(wire.encode_command(verb, *args, check_length=check_length))
        return self.read_response(multiline=multiline)

    # --- AUTHORIZATION -------------------------------------------------------

    def capa(self) -> wire.Response:
        resp = self.command("CAPA", multiline=True)
        self.capabilities = {}
        if resp.ok:
            for line in resp.lines or ():
                tag, _, params = line.decode("utf-8", "replace").partition(" ")
                self.capabilities[tag.upper()] = params
        return resp

    def has(self, tag: str) -> bool:
        if self.capabilities is None:
            self.capa()
        return tag.upper() in (self.capabilities or {})

    def user(self, name: str) -> wire.Response:
        return self.command("USER", name)

    def pass_(self, password: str) -> wire.Response:
        self.transcript.add_secret(password)
        return self.command("PASS", password)

    def login(self, name: str, password: str) -> wire.Response:
        resp = self.user(name)
        return self.pass_(password) if resp.ok else resp

    def apop(self, name: str, password: str, timestamp: str | None = None) -> wire.Response:
        self.transcript.add_secret(password)
        stamp = timestamp or self.timestamp or ""
        return self.command("APOP", name, hashlib.md5((stamp + password).encode()).hexdigest())

    @property
    def buffered(self) -> bytes:
        """Bytes received but not yet parsed into a response."""
        return self._parser.buffered

    def start_tls(self, ctx: ssl.SSLContext, server_hostname: str | None = None) -> None:
        """The TLS handshake (after a +OK to STLS); what was cached about the server is dropped."""
        self.conn.start_tls(ctx, server_hostname or self.host)
        self._parser = wire.ResponseParser()
        self.capabilities = None

    def stls(self, ctx: ssl.SSLContext, server_hostname: str | None = None) -> wire.Response:
        resp = self.command("STLS")
        if resp.ok:
            self.start_tls(ctx, server_hostname)
        return resp

    def auth_plain(self, user: str, password: str, *, initial: bool = True, authzid: str = "") -> wire.Response:
        self.transcript.add_secret(password)
        token = base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()
        self.transcript.add_secret(token)
        if initial:
            return self.command("AUTH", "PLAIN", token)
        resp = self.command("AUTH", "PLAIN")
        if not resp.continuation:
            return resp
        self.send(token.encode() + b"\r\n")
        return self.read_response()

    def quit(self) -> wire.Response:
        return self.command("QUIT")

    # --- TRANSACTION -------------------------------------------------------

    def stat(self) -> wire.Response:
        return self.command("STAT")

    def list(self, msg: int | None = None) -> wire.Response:
        if msg is None:
            return self.command("LIST", multiline=True)
        return self.command("LIST", str(msg))

    def uidl(self, msg: int | None = None) -> wire.Response:
        if msg is None:
            return self.command("UIDL", multiline=True)
        return self.command("UIDL", str(msg))

    def retr(self, msg: int) -> wire.Response:
        return self.command("RETR", str(msg), multiline=True)

    def top(self, msg: int, lines: int) -> wire.Response:
        return self.command("TOP", str(msg), str(lines), multiline=True)

    def dele(self, msg: int) -> wire.Response:
        return self.command("DELE", str(msg))

    def noop(self) -> wire.Response:
        return self.command("NOOP")

    def rset(self) -> wire.Response:
        return self.command("RSET")

    def scan_listing(self) -> dict[int, int]:
        """LIST as {message-number: size}; lines that do not parse are left out."""
        resp = self.list()
        out: dict[int, int] = {}
        for line in resp.lines or ():
            parts = line.split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                out[int(parts[0])] = int(parts[1])
        return out

    def uid_listing(self) -> dict[int, str]:
        """UIDL as {message-number: unique-id}, or {} when UIDL is refused."""
        resp = self.uidl()
        out: dict[int, str] = {}
        for line in resp.lines or () if resp.ok else ():
            parts = line.decode("utf-8", "replace").split()
            if len(parts) >= 2 and parts[0].isdigit():
                out[int(parts[0])] = parts[1]
        return out

    def __enter__(self) -> POP3Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stat_counts(resp: wire.Response) -> tuple[int, int] | None:
    """(messages, octets) of a drop listing ``+OK nn mm``, or None when it does not have that form."""
    m = re.match(r"^([0-9]+) ([0-9]+)(?: |$)", resp.text) if resp.ok and resp.sep == " " else None
    return (int(m.group(1)), int(m.group(2))) if m else None


class POP3Sessions(Sessions[POP3Client]):
    """The ``pop3`` fixture: opens reference-client sessions to the case's target."""

    def _client(self, port: int, tls: ssl.SSLContext | None, transcript: Transcript) -> POP3Client:
        return POP3Client(self.target.host, port, timeout=self.ctx.timeout, implicit_tls=tls, transcript=transcript)

    def ready(self) -> POP3Client:
        """Connected and greeted with +OK (RFC 1939 section 4), in AUTHORIZATION state."""
        client = self.open()
        assert client.greeting is not None
        if not client.greeting.ok:
            raise Violation(f"the greeting was not +OK: {client.greeting}", req=GREETING_REQ)
        return client

    def secure(self, client: POP3Client) -> None:
        """Upgrade with STLS when the server offers it and the session is not yet under TLS."""
        if not client.conn.is_tls and client.has("STLS"):
            resp = client.stls(self.ctx.tls_context())
            if not resp.ok:
                unsupported(f"STLS was refused: {resp}")

    def attempt_login(self, client: POP3Client) -> wire.Response:
        """USER/PASS with the target's credentials; the response to the last command sent."""
        user, password = self.ctx.credentials()
        resp = client.user(user)
        return client.pass_(password) if resp.ok else resp

    def login(self, client: POP3Client | None = None, *, wait_lock: float = 15.0, secure: bool = True) -> POP3Client:
        """A session in TRANSACTION state by USER/PASS (after STLS when offered); UNSUPPORTED if refused.

        A maildrop locked by another session (``[IN-USE]``, e.g. a parallel case) is retried
        until ``wait_lock`` seconds have passed.
        """
        user, _ = self.ctx.credentials()
        deadline = time.monotonic() + wait_lock
        while True:
            c = client or self.ready()
            if secure:
                self.secure(c)
            resp = self.attempt_login(c)
            if resp.ok:
                return c
            if resp.code == "IN-USE" and time.monotonic() < deadline and client is None:
                c.close()
                time.sleep(0.2)
                continue
            unsupported(f"could not log in as {user} with USER/PASS: {resp}")

    def until_unlocked(
        self, attempt: Callable[[], tuple[POP3Client, wire.Response]], wait_lock: float = 15.0
    ) -> tuple[POP3Client, wire.Response]:
        """Run ``attempt`` (fresh session, ends with a login) again while it ends in ``[IN-USE]``."""
        deadline = time.monotonic() + wait_lock
        while True:
            client, resp = attempt()
            if resp.code != "IN-USE" or time.monotonic() > deadline:
                return client, resp
            client.close()
            time.sleep(0.2)

    def require(self, client: POP3Client, tag: str) -> str:
        """The capability's parameters, or UNSUPPORTED when CAPA does not announce it."""
        resp = client.capa() if client.capabilities is None else None
        if resp is not None and not resp.ok:
            unsupported(f"the server does not implement CAPA: {resp}")
        if not client.has(tag):
            unsupported(f"the server does not announce {tag} in CAPA")
        return (client.capabilities or {})[tag.upper()]

    def seed(
        self, n: int = 1, *, bodies: list[bytes] | None = None, headers: dict[str, str] | None = None
    ) -> list[str]:
        """Deliver ``n`` small test messages to the account's maildrop; their tokens (``Sessions.deliver``)."""
        return self.deliver(n, bodies=bodies, headers=headers)

    def find(self, client: POP3Client, token: str) -> int | None:
        """The message-number whose TOP/RETR holds ``token``, searching from the newest."""
        for num in sorted(client.scan_listing(), reverse=True):
            resp = client.top(num, 0) if client.has("TOP") else client.retr(num)
            if resp.ok and token.encode() in resp.body:
                return num
        return None

    def can_seed(self) -> bool:
        return self.can_deliver()

    def ensure(self, n: int = 1) -> None:
        """Deliver ``n`` test messages when the target can take them; otherwise use what the maildrop holds."""
        if self.can_seed():
            self.seed(n)

    def seeded(
        self, client: POP3Client | None = None, *, count: int = 1, body: bytes | None = None
    ) -> tuple[POP3Client, list[int]]:
        """Seed ``count`` messages, log in, and return the session and their message-numbers.

        Without a way to deliver mail, cases that need no particular content (``body`` None)
        use the last ``count`` messages already in the maildrop.
        """
        if body is None and not self.can_seed():
            c = self.login(client)
            nums = sorted(c.scan_listing())[-count:] if count else []
            if len(nums) < count:
                unsupported(f"the maildrop holds fewer than {count} messages and test mail cannot be delivered")
            return c, nums
        tokens = self.seed(count, bodies=[body] if body else None)
        c = self.login(client)
        nums = []
        for token in tokens:
            num = self.find(c, token)
            if num is None:
                unsupported("a delivered test message did not show up in the maildrop")
            nums.append(num)
        return c, nums


__all__ = ["ConnectionClosed", "NetTimeout", "POP3Client", "POP3Sessions", "stat_counts"]

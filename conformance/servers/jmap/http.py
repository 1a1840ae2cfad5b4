"""HTTP/1.1 for the embedded JMAP server: h11 (sans-IO) on asyncio streams, routes, authentication, push.

Routes (the Session resource names them, so clients never guess):

- ``GET /.well-known/jmap``: 307 to ``/jmap/session`` (RFC 8620 2.2: clients follow redirects)
- ``GET /jmap/session``: the Session object
- ``POST /jmap/api/``: API requests
- ``POST /jmap/upload/{accountId}/``, ``GET /jmap/download/{accountId}/{blobId}/{name}?accept={type}``
- ``GET /jmap/eventsource/?types=&closeafter=&ping=``: text/event-stream (RFC 8620 7.3)

Every resource but the well-known redirect needs HTTP Basic credentials of a
store account (or a bearer token from the config); 401 carries
``WWW-Authenticate``. URLs in the Session are built from the request's Host.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import h11

from ...store import MailStore
from ..behaviours import Behaviour, behaviour
from . import core as c
from .core import HTTPAnswer, JMAPConfig, JMAPCore

IDLE_TIMEOUT = 120.0
MAX_BODY = 64 * 1024 * 1024
PUSH_POLL = 0.2
PUSH_MAX_SECONDS = 600.0
PING_MIN, PING_MAX = 1, 300  # RFC 8620 7.3: a minimum no higher than 30, a maximum no lower than 300


def _b(name: str, description: str) -> Behaviour:
    return behaviour("jmap", name, description)


SESSION_CACHEABLE = _b("session-cacheable", "lets the Session resource be cached (Cache-Control: max-age=3600)")


class JMAPServer:
    """One listener's handler: ``ServerThread.listen(JMAPServer(store, cfg).handle)``."""

    def __init__(self, store: MailStore, cfg: JMAPConfig | None = None) -> None:
        self.cfg = cfg or JMAPConfig()
        self.store = store
        self.core = JMAPCore(store, self.cfg)
        self.scheme = "http"  # what the Session's URLs start with; "https" behind a TLS listener

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        while True:
            try:
                event = await self._next(conn, reader)
            except h11.RemoteProtocolError:
                await self._send(conn, writer, HTTPAnswer(400, [("Content-Type", "text/plain")], b"bad request\n"))
                return
            if not isinstance(event, h11.Request):
                return
            body = b""
            too_big = False
            while True:
                ev = await self._next(conn, reader)
                if isinstance(ev, h11.Data):
                    if len(body) + len(ev.data) > MAX_BODY:
                        too_big = True
                    else:
                        body += bytes(ev.data)
                elif isinstance(ev, h11.EndOfMessage):
                    break
                else:
                    return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
            target = event.target.decode("latin-1")
            method = event.method.decode("ascii")
            if too_big:
                answer = self.core.problem("limit", "the request body is too large", status=413, limit="maxSizeRequest")
            elif method == "GET" and urlsplit(target).path.startswith("/jmap/eventsource"):
                user = self._user(headers)
                if user is None:
                    answer = self._unauthorized()
                else:
                    await self._event_source(conn, reader, writer, user, target)
                    return
            else:
                answer = self.route(method, target, headers, body)
            await self._send(conn, writer, answer)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _next(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT)
            conn.receive_data(data)

    @staticmethod
    async def _send(conn: h11.Connection, writer: asyncio.StreamWriter, answer: HTTPAnswer) -> None:
        headers = [*answer.headers, ("Content-Length", str(len(answer.body)))]
        try:
            writer.write(conn.send(h11.Response(status_code=answer.status, headers=headers)) or b"")
            writer.write(conn.send(h11.Data(data=answer.body)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:
            return
        await writer.drain()

    # --- authentication ----------------------------------------------------------------

    def _user(self, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if not auth:
            if c.NO_AUTH in self.cfg.behaviours:
                return self.store.users()[0]
            return None
        if scheme.lower() == "bearer":
            return self.cfg.tokens.get(value.strip())
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if self.store.account(user) is None:
            return None
        if self.store.check_password(user, password) or c.ANY_PASSWORD in self.cfg.behaviours:
            return user
        return None

    def _unauthorized(self) -> HTTPAnswer:
        headers = [
            ("Content-Type", "application/problem+json"),
            ("WWW-Authenticate", 'Basic realm="mailspec", charset="UTF-8"'),
        ]
        body = {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "credentials are required"}
        return HTTPAnswer(401, headers, json.dumps(body).encode())

    # --- routes --------------------------------------------------------------------------

    def route(self, method: str, target: str, headers: dict[str, str], body: bytes) -> HTTPAnswer:
        parts = urlsplit(target)
        path = parts.path
        b = self.cfg.behaviours
        if path == "/.well-known/jmap" and method in ("GET", "HEAD"):
            if c.WELLKNOWN_404 in b:
                return HTTPAnswer(404, [("Content-Type", "text/plain")], b"not found\n")
            return HTTPAnswer(307, [("Location", "/jmap/session"), ("Cache-Control", "no-cache")], b"")
        known = ("/jmap/session", "/jmap/api/", "/jmap/upload/", "/jmap/download/")
        if not any(path == k or path.startswith(k) for k in known):
            return HTTPAnswer(404, [("Content-Type", "text/plain")], b"not found\n")
        user = self._user(headers)
        if user is None:
            return self._unauthorized()
        base = f"{self.scheme}://{headers.get('host', '127.0.0.1')}"
        if path == "/jmap/session" and method == "GET":
            self.core.cfg.base_url = base
            answer = c.JMAPCore._json(200, self.core.session(user))
            cache = "max-age=3600" if SESSION_CACHEABLE in b else "no-cache, no-store, must-revalidate"
            answer.headers.append(("Cache-Control", cache))
            if c.SESSION_TEXT_TYPE in b:
                answer.headers[0] = ("Content-Type", "text/plain")
            return answer
        if path == "/jmap/api/" and method == "POST":
            if not self.core.begin(user):
                return self.core.problem(
                    "limit", "too many concurrent requests", status=429, limit="maxConcurrentRequests"
                )
            try:
                return self.core.api(user, headers.get("content-type", ""), body)
            finally:
                self.core.end(user)
        segments = [unquote(s) for s in path.split("/")[3:]]
        if path.startswith("/jmap/upload/") and method == "POST" and segments:
            return self.core.upload(user, segments[0], headers.get("content-type", ""), body)
        if path.startswith("/jmap/download/") and method == "GET" and len(segments) >= 3:
            accept = parse_qs(parts.query).get("accept", [""])[0]
            return self.core.download(user, segments[0], segments[1], segments[2], accept)
        return HTTPAnswer(405, [("Content-Type", "text/plain")], b"method not allowed\n")

    # --- push: the event source (RFC 8620 7.3) ----------------------------------------

    async def _event_source(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        user: str,
        target: str,
    ) -> None:
        b = self.cfg.behaviours
        query = parse_qs(urlsplit(target).query)
        types_arg = query.get("types", ["*"])[0]
        types = None if types_arg == "*" else {t for t in types_arg.split(",") if t}
        close_after = query.get("closeafter", ["no"])[0] == "state"
        try:
            ping = int(query.get("ping", ["0"])[0])
        except ValueError:
            ping = 0
        interval = 0 if ping <= 0 else min(max(ping, PING_MIN), PING_MAX)
        # The states to compare with are taken before the client sees the response start.
        loop = asyncio.get_running_loop()
        last = await loop.run_in_executor(None, self.core.type_states, user, types)
        ctype = "application/json" if c.PUSH_WRONG_TYPE in b else "text/event-stream"
        headers = [("Content-Type", ctype), ("Cache-Control", "no-cache")]
        writer.write(conn.send(h11.Response(status_code=200, headers=headers)) or b"")
        await writer.drain()
        account = c.account_id_for(user, self.cfg)
        gone = asyncio.ensure_future(reader.read(1))  # the client closing its side ends the stream
        started = last_event = time.monotonic()
        try:
            while time.monotonic() - started < PUSH_MAX_SECONDS:
                done, _ = await asyncio.wait({gone}, timeout=PUSH_POLL)
                if done:
                    return
                now_states = await loop.run_in_executor(None, self.core.type_states, user, types)
                changed = {t: s for t, s in now_states.items() if last.get(t) != s}
                if changed and c.PUSH_NO_STATE not in b:
                    last = now_states
                    change = {
                        "@type": "stateChange" if c.PUSH_BAD_TYPE in b else "StateChange",
                        "changed": {account: changed},
                    }
                    event_id = c.digest(now_states)[:16]
                    await self._emit(conn, writer, f"event: state\nid: {event_id}\ndata: {json.dumps(change)}\n\n")
                    last_event = time.monotonic()
                    if close_after and c.PUSH_NO_CLOSE not in b:
                        break
                if interval and time.monotonic() - last_event >= interval and c.PUSH_NO_PING not in b:
                    data = "{}" if c.PUSH_PING_NO_INTERVAL in b else json.dumps({"interval": interval})
                    await self._emit(conn, writer, f"event: ping\ndata: {data}\n\n")
                    last_event = time.monotonic()
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
        finally:
            gone.cancel()

    @staticmethod
    async def _emit(conn: h11.Connection, writer: asyncio.StreamWriter, text: str) -> None:
        writer.write(conn.send(h11.Data(data=text.encode())) or b"")
        await writer.drain()

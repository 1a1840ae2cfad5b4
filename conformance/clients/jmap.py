"""Reference JMAP client (RFC 8620) on httpx, and the ``jmap`` fixture's sessions.

Every request and response goes into the case's transcript (credentials
redacted: the password, ``user:password`` and its base64 form, a bearer
token are registered secrets). Every request has a timeout. Discovery: the
target's ``extra["session_url"]`` (or ``extra["session_path"]``), else
``/.well-known/jmap`` on the target, redirects followed.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx

from ..context import CaseContext
from ..net import Transcript
from ..verdict import check, unsupported
from ..wire import jmap as wire
from .base import Sessions

CORE = wire.CORE
MAIL = "urn:ietf:params:jmap:mail"
JSON_TYPES = ("application/json",)


class JMAPClientError(Exception):
    """The server could not be reached or did not answer in time (an ERROR, not a verdict)."""


@dataclass
class Reply:
    """One HTTP answer to an API request, its JSON (if any) and the parsed Response."""

    status: int
    headers: httpx.Headers
    body: bytes
    json: Any = None
    response: wire.Response | None = None

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    def responses(self) -> list[wire.Invocation]:
        return list(self.response.method_responses) if self.response else []

    def by_id(self, call_id: str) -> list[wire.Invocation]:
        return [r for r in self.responses() if r.call_id == call_id]

    def one(self, call_id: str) -> wire.Invocation | None:
        found = self.by_id(call_id)
        return found[0] if found else None

    def args(self, call_id: str, name: str | None = None) -> dict[str, Any] | None:
        """The arguments of the response to ``call_id`` (None when it is missing or an error)."""
        r = self.one(call_id)
        if r is None or r.name == "error" or (name is not None and r.name != name):
            return None
        return r.arguments

    def error_type(self, call_id: str) -> str | None:
        r = self.one(call_id)
        return wire.method_error(r) if r is not None else None

    def summary(self, limit: int = 600) -> str:
        return f"HTTP {self.status} {self.content_type}: {self.body[:limit].decode('utf-8', 'replace')}"


@dataclass(frozen=True)
class Greeting:
    text: str


@dataclass
class Event:
    """A server-sent event (the text/event-stream format)."""

    event: str = "message"
    data: str = ""
    id: str | None = None

    def json(self) -> Any:
        try:
            return json.loads(self.data)
        except ValueError:
            return None


@dataclass
class Session:
    raw: dict[str, Any]
    url: str  # where it was fetched from (after redirects): relative URLs resolve against it

    @property
    def capabilities(self) -> dict[str, Any]:
        caps = self.raw.get("capabilities")
        return caps if isinstance(caps, dict) else {}

    @property
    def core(self) -> dict[str, Any]:
        core = self.capabilities.get(CORE)
        return core if isinstance(core, dict) else {}

    def url_of(self, key: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str) or not value:
            unsupported(f"the Session has no {key}")
        return urljoin(self.url, value)

    def limit(self, name: str, default: int) -> int:
        v = self.core.get(name)
        return v if isinstance(v, int) and wire.is_unsigned_int(v) else default

    def state(self) -> str:
        s = self.raw.get("state")
        return s if isinstance(s, str) else ""


@dataclass
class JMAPClient:
    session_url: str
    transcript: Transcript
    timeout: float = 10.0
    user: str = ""
    password: str = ""
    token: str = ""
    verify: ssl.SSLContext | bool = False
    _http: httpx.Client | None = field(default=None, repr=False)
    session: Session | None = None

    def __post_init__(self) -> None:
        if self.password:
            self.transcript.add_secret(f"{self.user}:{self.password}")
        if self.token:
            self.transcript.add_secret(self.token)

    # --- HTTP ---------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=httpx.Timeout(self.timeout),
                verify=self.verify,
                follow_redirects=False,
                event_hooks={"request": [self._log_request], "response": [self._log_response]},
            )
        return self._http

    def _log_request(self, request: httpx.Request) -> None:
        head = f"{request.method} {request.url}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = b""
        self.transcript.record("send", head.encode() + b"\r\n" + _cut(body))

    def _log_response(self, response: httpx.Response) -> None:
        head = f"HTTP {response.status_code}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
        if response.request.headers.get("accept") == "text/event-stream":  # read as it comes, by EventStream
            self.transcript.record("recv", head.encode() + b"\r\n(event stream)")
            return
        response.read()
        self.transcript.record("recv", head.encode() + b"\r\n" + _cut(response.content))

    def auth_headers(self, auth: bool = True) -> dict[str, str]:
        if not auth:
            return {}
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        import base64

        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        follow: bool = False,
    ) -> httpx.Response:
        """One raw HTTP exchange (redirects followed when ``follow``, at most 5)."""
        hdrs = {**self.auth_headers(auth), **(headers or {})}
        try:
            for _ in range(6):
                resp = self.http.request(method, url, content=body, headers=hdrs)
                if not (follow and resp.is_redirect and "location" in resp.headers):
                    return resp
                url = urljoin(str(resp.url), resp.headers["location"])
                if resp.status_code in (301, 302, 303):
                    method, body = ("GET", None) if method != "GET" else (method, body)
        except httpx.TimeoutException as e:
            raise JMAPClientError(f"{method} {url}: no answer within {self.timeout} s") from e
        except httpx.HTTPError as e:
            raise JMAPClientError(f"{method} {url}: {e}") from e
        return resp

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def connect(self) -> Greeting:
        """The Session stands in for a greeting (``Sessions.open``)."""
        s = self.load_session()
        return Greeting(f"JMAP session {s.url}")

    # --- session and API -------------------------------------------------------------

    def fetch_session(self, *, auth: bool = True) -> httpx.Response:
        return self.request("GET", self.session_url, auth=auth, follow=True)

    def load_session(self) -> Session:
        resp = self.fetch_session()
        try:
            obj = resp.json()
        except ValueError:
            obj = None
        if resp.status_code != 200 or not isinstance(obj, dict):
            unsupported(f"no Session resource at {self.session_url}: HTTP {resp.status_code}")
        self.session = Session(obj, str(resp.url))
        return self.session

    def api_url(self) -> str:
        return (self.session or self.load_session()).url_of("apiUrl")

    def post(self, body: bytes, *, content_type: str = "application/json", auth: bool = True) -> Reply:
        """A raw POST to the API resource: any bytes, any content type (malformed-input cases)."""
        resp = self.request("POST", self.api_url(), body=body, headers={"Content-Type": content_type}, auth=auth)
        return _reply(resp)

    def call(
        self,
        calls: list[tuple[str, dict[str, Any], str]] | list[list[Any]],
        using: list[str] | tuple[str, ...] = (CORE,),
        *,
        created_ids: dict[str, str] | None = None,
    ) -> Reply:
        request: dict[str, Any] = {"using": list(using), "methodCalls": [list(c) for c in calls]}
        if created_ids is not None:
            request["createdIds"] = created_ids
        return self.post(json.dumps(request).encode())

    def upload(self, account_id: str, data: bytes, content_type: str) -> Reply:
        url = wire.expand((self.session or self.load_session()).url_of("uploadUrl"), accountId=account_id)
        return _reply(self.request("POST", url, body=data, headers={"Content-Type": content_type}))

    def download_url(self, account_id: str, blob_id: str, name: str, type_: str) -> str:
        template = (self.session or self.load_session()).url_of("downloadUrl")
        return wire.expand(template, accountId=account_id, blobId=blob_id, name=name, type=type_)

    def download(self, account_id: str, blob_id: str, name: str, type_: str) -> httpx.Response:
        return self.request("GET", self.download_url(account_id, blob_id, name, type_), follow=True)

    def events(self, types: str, closeafter: str, ping: int, *, seconds: float) -> EventStream:
        template = (self.session or self.load_session()).url_of("eventSourceUrl")
        url = wire.expand(template, types=types, closeafter=closeafter, ping=str(ping))
        return EventStream(self, url, seconds)


class EventStream:
    """An open event-source response read for at most ``seconds`` (each read bounded too)."""

    def __init__(self, client: JMAPClient, url: str, seconds: float) -> None:
        self.client = client
        self.url = url
        self.deadline = time.monotonic() + seconds
        self.ended = False  # the server ended the response
        self._cm = client.http.stream(
            "GET",
            url,
            headers={**client.auth_headers(), "Accept": "text/event-stream"},
            timeout=httpx.Timeout(client.timeout, read=seconds),  # silence is bounded by the stream deadline
        )
        try:
            self.response = self._cm.__enter__()
        except httpx.HTTPError as e:
            raise JMAPClientError(f"GET {url}: {e}") from e

    @property
    def content_type(self) -> str:
        return str(self.response.headers.get("content-type", "")).split(";")[0].strip().lower()

    def __iter__(self) -> Iterator[Event]:
        """Events until the server ends the response, or the deadline (then stops quietly)."""
        ev = Event()
        data: list[str] = []
        try:
            for line in self.response.iter_lines():
                self.client.transcript.record("recv", line.encode())
                if line == "":
                    if data or ev.event != "message" or ev.id is not None:
                        ev.data = "\n".join(data)
                        yield ev
                    ev, data = Event(), []
                elif line.startswith(":"):
                    pass
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "event":
                        ev.event = value
                    elif name == "data":
                        data.append(value)
                    elif name == "id":
                        ev.id = value
                if time.monotonic() > self.deadline:
                    return
            self.ended = True
        except httpx.TimeoutException:
            return
        except httpx.HTTPError:
            self.ended = True

    def close(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            self._cm.__exit__(None, None, None)


def too_large(reply: Reply, limit: str) -> None:
    """A call over maxObjectsInGet/Set: the method error requestTooLarge (RFC 8620 5.1, 5.3), or the
    request refused as a whole with the "limit" problem naming that limit (3.6.1 covers the limits
    "defined on the capability object", which these are)."""
    problem = reply.json if 400 <= reply.status < 500 and isinstance(reply.json, dict) else {}
    as_limit = problem.get("type") == wire.ERROR_PREFIX + "limit" and problem.get("limit") == limit
    check(
        reply.error_type("c") == "requestTooLarge" or as_limit,
        f"a call over {limit} was not refused",
        expected=f'["error", {{"type": "requestTooLarge"}}, "c"] or a "limit" problem naming {limit}',
        observed=reply.summary(300),
    )


def _cut(data: bytes, limit: int = 16 * 1024) -> bytes:
    return data if len(data) <= limit else data[:limit] + b"... (cut)"


def _reply(resp: httpx.Response) -> Reply:
    body = resp.content
    reply = Reply(resp.status_code, resp.headers, body)
    try:
        reply.json = json.loads(body) if body else None
    except ValueError:
        reply.json = None
    if resp.status_code == 200 and isinstance(reply.json, dict) and "methodResponses" in reply.json:
        reply.response = wire.parse_response(reply.json)
    return reply


def session_url(ctx: CaseContext) -> str:
    t = ctx.target
    if t.extra.get("session_url"):
        return str(t.extra["session_url"])
    scheme = "https" if t.implicit_tls else "http"
    host = f"[{t.host}]" if ":" in t.host else t.host
    return f"{scheme}://{host}:{t.port}{t.extra.get('session_path') or '/.well-known/jmap'}"


class JMAPSessions(Sessions[JMAPClient]):
    """The ``jmap`` fixture: authenticated clients, the Session, scratch records destroyed at teardown."""

    def __init__(self, ctx: CaseContext) -> None:
        super().__init__(ctx)
        self._main: JMAPClient | None = None
        self._scratch: list[tuple[str, str, str]] = []  # (type, account, id) to destroy

    def client(self, *, label: str = "", user: str | None = None, password: str | None = None) -> JMAPClient:
        """A new client with the target's credentials (or the given ones)."""
        t = self.ctx.target
        token = str(t.extra.get("token", ""))
        u, p = ("", "")
        if user is not None:
            u, p = user, password or ""
        elif not token:
            u, p = self.ctx.credentials()
        tr = self.ctx.transcript(f"{label or 'jmap'} session {len(self._clients) + 1}")
        verify: ssl.SSLContext | bool = self.ctx.tls_context() if t.implicit_tls else False
        client = JMAPClient(session_url(self.ctx), tr, self.ctx.timeout, u, p, token if user is None else "", verify)
        self._clients.append(client)
        return client

    @property
    def main(self) -> JMAPClient:
        if self._main is None:
            self._main = self.client()
        return self._main

    def session(self) -> Session:
        return self.main.session or self.main.load_session()

    def require(self, capability: str) -> None:
        if capability not in self.session().capabilities:
            unsupported(f"the server does not offer {capability}")

    def account(self, capability: str = MAIL) -> str:
        """The primary account for ``capability`` (or the first account that has it)."""
        s = self.session()
        self.require(capability)
        primary = s.raw.get("primaryAccounts") or {}
        acc = primary.get(capability) if isinstance(primary, dict) else None
        accounts = s.raw.get("accounts") or {}
        if isinstance(acc, str) and acc in accounts:
            return acc
        for acc_id, a in accounts.items() if isinstance(accounts, dict) else ():
            if isinstance(a, dict) and capability in (a.get("accountCapabilities") or {}):
                return str(acc_id)
        unsupported(f"no account offers {capability}")

    def call(
        self,
        calls: list[tuple[str, dict[str, Any], str]] | list[list[Any]],
        using: list[str] | tuple[str, ...] = (CORE, MAIL),
        *,
        created_ids: dict[str, str] | None = None,
    ) -> Reply:
        return self.main.call(calls, using, created_ids=created_ids)

    def ok(self, reply: Reply, call_id: str, name: str) -> dict[str, Any]:
        """The arguments of a response the case needs to go on; UNSUPPORTED when the server refused."""
        args = reply.args(call_id, name)
        if args is None:
            unsupported(f"{name} ({call_id}) did not succeed: {reply.summary(300)}")
        return args

    def one(self, name: str, args: dict[str, Any], using: tuple[str, ...] = (CORE, MAIL)) -> Reply:
        """A request with one method call, call id "c"."""
        return self.call([[name, args, "c"]], using)

    def state(self, type_name: str, account: str) -> str:
        """The current state of ``type_name`` (Foo/get with no ids)."""
        args = self.ok(self.one(f"{type_name}/get", {"accountId": account, "ids": []}), "c", f"{type_name}/get")
        state = args.get("state")
        if not isinstance(state, str):
            unsupported(f"{type_name}/get gave no state string")
        return state

    def mail_account(self) -> str:
        """The mail account: Mailbox is the standard-method type the core cases use (UNSUPPORTED without mail)."""
        return self.account(MAIL)

    # --- scratch records ---------------------------------------------------------------

    @staticmethod
    def unique(prefix: str = "mailspec") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    def mailboxes(self, *names: str, parent: str | None = None) -> list[str]:
        """Create top-level (or ``parent``'s child) mailboxes with these names; their ids (destroyed at teardown)."""
        acc = self.account(MAIL)
        create = {f"k{i}": {"name": n, "parentId": parent} for i, n in enumerate(names)}
        reply = self.call([["Mailbox/set", {"accountId": acc, "create": create}, "mk"]])
        args = self.ok(reply, "mk", "Mailbox/set")
        created = args.get("created") or {}
        ids = []
        for k in create:
            rec = created.get(k)
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                unsupported(f"Mailbox/set could not create a scratch mailbox: {reply.summary(300)}")
            ids.append(rec["id"])
            self.track("Mailbox", acc, rec["id"])
        return ids

    def track(self, type_name: str, account: str, record_id: str) -> None:
        self._scratch.append((type_name, account, record_id))

    def close_all(self) -> None:
        # Children before parents: destroy in reverse order of creation, one call per record.
        if self._scratch and self._main is not None:
            calls = [
                [f"{t}/set", {"accountId": a, "destroy": [i], "onDestroyRemoveEmails": True}, f"d{n}"]
                if t == "Mailbox"
                else [f"{t}/set", {"accountId": a, "destroy": [i]}, f"d{n}"]
                for n, (t, a, i) in enumerate(reversed(self._scratch))
            ]
            try:
                for start in range(0, len(calls), 16):
                    self._main.call(calls[start : start + 16], (CORE, MAIL))
            except (JMAPClientError, Exception):  # cleanup must never hide the verdict
                pass
        for c in self._clients:
            c.close()

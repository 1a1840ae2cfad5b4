"""Legal but unusual JMAP server habits, to test clients (scenarios/clients/test_jmap_*.py).

None of these is a defect of the server: each is something RFC 8620 or RFC 8621 lets a
server do (unknown properties, URLs of its own choosing, a shared account, small limits,
clamped query pages, changes in steps, errors a client must cope with, concurrent changes
by other clients, compressed downloads). ``HabitServer`` puts them around the embedded
server without touching its modules: it rewrites URLs, adjusts the arguments of the
client's method calls before the core sees them, wraps the core's Email/query and
Email/get handlers where a change must land between two calls of one request, and adds to
the JSON of Session and API responses. Every HTTP request of the client is kept, with its
status and (for API requests) the parsed response, in ``ClientCaseConfig.requests``.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ...store import MailStore
from ..behaviours import Behaviour, Behaviours, behaviour
from .core import MAIL, USING_CORE, Call, Handler, HTTPAnswer, JMAPConfig, Limits, account_id_for
from .http import JMAPServer


def _h(name: str, description: str) -> Behaviour:
    return behaviour("jmap", f"habit-{name}", description)


SESSION_EXTRAS = _h("session-extras", "adds Session and account properties no client knows")
CAPABILITY_EXTRAS = _h("capability-extras", "announces unknown capabilities and unknown properties in known ones")
SORT_OPTION_EXTRAS = _h("sort-option-extras", "lists vendor sort properties in emailQuerySortOptions")
ODD_API_URL = _h("odd-api-url", "serves the API at a URL of its own (with a query string); /jmap/api/ answers 404")
ODD_DOWNLOAD_URL = _h(
    "odd-download-url", "serves downloads at a URL of its own with the variables in the query; /jmap/download/ 404"
)
PATH_DOWNLOAD_URL = _h(
    "path-download-url", "puts every variable of downloadUrl, type too, in path segments (percent-encoded there)"
)
SHARED_ACCOUNT = _h("shared-account", "lists a read-only shared account (other mail) before the user's own")
REDIRECT_CHAIN = _h("redirect-chain", "redirects /.well-known/jmap twice (301, then 308) before the Session")
SMALL_GET = _h("small-get", "announces maxObjectsInGet 2 and refuses larger /get calls with requestTooLarge")
QUERY_CLAMP = _h("query-clamp", "clamps every Email/query limit to 2 and returns the clamped limit")
CHANGES_CLAMP = _h("changes-clamp", "returns one change per Email/changes call (hasMoreChanges true until done)")
CANNOT_CALCULATE = _h("cannot-calculate", "answers every Email/changes with cannotCalculateChanges")
VANISHING = _h("vanishing", "destroys a queried message just before the client's first Email/get of it (notFound)")
NEW_MAIL_DURING_GET = _h("new-mail-during-get", "delivers a new message while answering the client's first Email/get")
QUERY_SHIFT = _h("query-shift", "after the first Email/query page, another client destroys the page's first message")
UNKNOWN_ERROR = _h("unknown-error", "answers the first Email/query with a method error type no client knows")
GZIP_DOWNLOADS = _h("gzip-downloads", "compresses downloads (Content-Encoding: gzip) for clients that accept gzip")
SESSION_CHANGE = _h("session-change", "changes the Session (a new capability, a new state) after the first API request")

ODD_API = "/rpc/v1/call?format=jmap"
ODD_DOWNLOAD = "/files/fetch?blob={blobId}&acct={accountId}&as={type}&filename={name}"
PATH_DOWNLOAD = "/blobs/{accountId}/{blobId}/{type}/{name}"
ODD_UPLOAD = "/files/store?acct={accountId}"
SHARED_USER = "archive"  # the store account behind the shared account
NEW_CAPABILITY = "https://mailspec.test/jmap/new-feature"
UNKNOWN_ERROR_TYPE = "x-mailspec-busy-elsewhere"
QUERY_LIMIT = 2
NEW_MAIL = (
    b"From: sender@mailspec.test\r\nTo: alice@mailspec.test\r\nSubject: arrived during the fetch\r\n"
    b"Message-ID: <jmap-client-during-get@mailspec.test>\r\nDate: Mon, 2 Mar 2026 11:00:00 +0000\r\n\r\n"
    b"Delivered while the client was fetching.\r\n"
)
SHARED_MAIL = [
    f"From: archive@mailspec.test\r\nTo: archive@mailspec.test\r\nSubject: archived {n}\r\n"
    f"Message-ID: <jmap-archive-{n}@mailspec.test>\r\nDate: Sun, 1 Mar 2026 09:00:0{n} +0000\r\n\r\n"
    f"Archived message {n}, not alice's.\r\n".encode()
    for n in (1, 2)
]


@dataclass
class Seen:
    """One HTTP request of the client under test, with what it was answered."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    reply: Any = None  # the parsed JSON of an API response

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def calls(self) -> list[list[Any]]:
        """The method calls of an API request ([name, arguments, call id] each)."""
        body = self.json
        calls = body.get("methodCalls") if isinstance(body, dict) else None
        return [c for c in calls if isinstance(c, list) and len(c) == 3] if isinstance(calls, list) else []

    def responses(self) -> list[list[Any]]:
        """The method responses the client was given ([name, arguments, call id] each)."""
        out = self.reply.get("methodResponses") if isinstance(self.reply, dict) else None
        return [r for r in out if isinstance(r, list) and len(r) == 3] if isinstance(out, list) else []


@dataclass
class ClientCaseConfig:
    behaviours: Behaviours = field(default_factory=Behaviours)
    requests: list[Seen] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # what the habits did ("vanished E...", "new mail")


class HabitServer(JMAPServer):
    """The embedded JMAP server behind TLS, with the habits of ``cfg`` switched on."""

    def __init__(self, store: MailStore, cfg: ClientCaseConfig) -> None:
        self.habits = cfg.behaviours
        limits = Limits(max_objects_in_get=2) if SMALL_GET in cfg.behaviours else Limits()
        super().__init__(store, JMAPConfig(limits=limits))
        self.scheme = "https"
        self.requests = cfg.requests
        self.events = cfg.events
        self.api_calls = 0
        self.queried: list[str] = []  # Email ids an Email/query returned (VANISHING)
        self.errored = False  # UNKNOWN_ERROR: the first Email/query failed
        self.shared_auth = ""
        if SHARED_ACCOUNT in self.habits:
            # A real second account: its mail is served under the shared account's id.
            password = "archive-" + base64.b16encode(SHARED_USER.encode()).decode()
            acct = store.add_account(SHARED_USER, password)
            for m in SHARED_MAIL:
                store.deliver(acct, m, "archive@mailspec.test")
            self.shared_auth = "Basic " + base64.b64encode(f"{SHARED_USER}:{password}".encode()).decode()
        self.shared_id = account_id_for(SHARED_USER, self.cfg)
        if VANISHING in self.habits or NEW_MAIL_DURING_GET in self.habits or QUERY_SHIFT in self.habits:
            self._wrap("Email/query", self._on_query)
            self._wrap("Email/get", self._on_get)

    # --- routing -------------------------------------------------------------------------

    def route(self, method: str, target: str, headers: dict[str, str], body: bytes) -> HTTPAnswer:
        parts = urlsplit(target)
        seen = Seen(method, parts.path, parts.query, headers, body)
        self.requests.append(seen)
        answer = self._route(seen, target, dict(headers), body)
        seen.status = answer.status
        return answer

    def _route(self, seen: Seen, target: str, headers: dict[str, str], body: bytes) -> HTTPAnswer:
        h = self.habits
        method, path, query = seen.method, seen.path, seen.query
        if REDIRECT_CHAIN in h and path in ("/.well-known/jmap", "/discovery/next"):
            step = ("/discovery/next", 301) if path == "/.well-known/jmap" else ("/jmap/session", 308)
            return HTTPAnswer(step[1], [("Location", step[0]), ("Cache-Control", "no-cache")], b"")
        moved = [("/jmap/api/", ODD_API_URL), ("/jmap/upload/", ODD_API_URL), ("/jmap/download/", ODD_DOWNLOAD_URL)]
        if PATH_DOWNLOAD_URL in h:
            moved.append(("/jmap/download/", PATH_DOWNLOAD_URL))
        if any(path.startswith(p) and b in h for p, b in moved):
            return HTTPAnswer(404, [("Content-Type", "text/plain")], b"not found here: read the Session\n")
        target = self._usual(path, query) or target
        usual = urlsplit(target).path
        is_api = usual == "/jmap/api/" and method == "POST"
        if is_api:
            body = self._before(body, self._user(headers))
        if self.shared_auth and self._for_shared(usual, body if is_api else b""):
            headers["authorization"] = self.shared_auth  # the shared account's mail, as the user may read it
        answer = super().route(method, target, headers, body)
        if answer.status != 200:
            return answer
        if usual.startswith("/jmap/download/"):
            if GZIP_DOWNLOADS in h and _accepts_gzip(headers.get("accept-encoding", "")):
                answer.body = gzip.compress(answer.body)
                answer.headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
            return answer
        if usual == "/jmap/session":
            answer.body = json.dumps(self._session(json.loads(answer.body))).encode()
        elif is_api:
            seen.reply = self._after(json.loads(answer.body))
            answer.body = json.dumps(seen.reply).encode()
        return answer

    def _usual(self, path: str, query: str) -> str:
        """The embedded server's own URL for one of the habits' URLs ("" when it is not one)."""
        q = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        api_path, _, api_query = ODD_API.partition("?")
        if ODD_API_URL in self.habits and path == api_path and query == api_query:
            return "/jmap/api/"
        if ODD_API_URL in self.habits and path == "/files/store" and "acct" in q:
            return f"/jmap/upload/{q['acct']}/"
        if ODD_DOWNLOAD_URL in self.habits and path == "/files/fetch" and {"blob", "acct", "filename"} <= q.keys():
            name = quote(q["filename"], safe="")
            return f"/jmap/download/{q['acct']}/{q['blob']}/{name}?accept={quote(q.get('as', ''), safe='')}"
        segments = path.split("/")
        if PATH_DOWNLOAD_URL in self.habits and len(segments) == 6 and segments[1] == "blobs":
            # /blobs/{accountId}/{blobId}/{type}/{name}: a type sent with a bare "/" has one segment too many.
            acct, blob, type_, name = segments[2:]
            return f"/jmap/download/{acct}/{blob}/{name}?accept={quote(unquote(type_), safe='')}"
        return ""

    def _for_shared(self, path: str, body: bytes) -> bool:
        """Whether a request is for the shared account (every call of an API request, or the URL)."""
        if path.startswith(("/jmap/download/", "/jmap/upload/")):
            return path.split("/")[3] == self.shared_id
        try:
            calls = json.loads(body)["methodCalls"]
            ids = {c[1].get("accountId") for c in calls}
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            return False
        return ids == {self.shared_id}

    # --- the Session -------------------------------------------------------------------

    def _session(self, s: dict[str, Any]) -> dict[str, Any]:
        h = self.habits
        base = s["apiUrl"].split("/jmap/")[0]
        if ODD_API_URL in h:
            s["apiUrl"], s["uploadUrl"] = base + ODD_API, base + ODD_UPLOAD
        if ODD_DOWNLOAD_URL in h:
            s["downloadUrl"] = base + ODD_DOWNLOAD
        if PATH_DOWNLOAD_URL in h:
            s["downloadUrl"] = base + PATH_DOWNLOAD
        if SESSION_EXTRAS in h:
            s["x-mailspec-motd"] = {"text": "maintenance on Sunday", "until": "2027-01-01T00:00:00Z"}
            s["https://mailspec.test/session/quota"] = [1, 2, 3]
            for acct in s["accounts"].values():
                acct["x-mailspec-colour"] = "#8844ff"
                acct["storageClass"] = None
        if CAPABILITY_EXTRAS in h:
            s["capabilities"]["https://mailspec.test/jmap/future"] = {"version": 3, "modes": ["a", "b"]}
            s["capabilities"][USING_CORE]["x-mailspec-maxWidgets"] = 7
            for acct in s["accounts"].values():
                caps = acct["accountCapabilities"]
                caps["https://mailspec.test/jmap/future"] = {"enabled": True}
                if MAIL in caps:
                    caps[MAIL]["x-mailspec-colourTags"] = True
        if SORT_OPTION_EXTRAS in h:
            for acct in s["accounts"].values():
                mail = acct["accountCapabilities"].get(MAIL)
                if mail is not None:
                    mail["emailQuerySortOptions"] = [*mail.get("emailQuerySortOptions", []), "x-relevance", "x-spam"]
        if SHARED_ACCOUNT in h:
            own = s["accounts"]
            mine = next(iter(own.values()))
            shared = {
                "name": f"{SHARED_USER}@mailspec.test (shared)", "isPersonal": False, "isReadOnly": True,
                "accountCapabilities": {k: v for k, v in mine["accountCapabilities"].items() if k in (USING_CORE, MAIL)},
            }  # fmt: skip
            s["accounts"] = {self.shared_id: shared, **own}
        if SESSION_CHANGE in h and self.api_calls:
            s["capabilities"][NEW_CAPABILITY] = {}
            for acct in s["accounts"].values():
                acct["accountCapabilities"][NEW_CAPABILITY] = {}
            s["state"] = self._session_state(s["state"])
        return s

    def _session_state(self, state: str) -> str:
        return state + "-2" if SESSION_CHANGE in self.habits and self.api_calls else state

    # --- API requests and responses ------------------------------------------------------

    def _before(self, body: bytes, user: str | None) -> bytes:
        """Adjust the arguments of the client's method calls the way a habit answers them."""
        try:
            request = json.loads(body)
            calls = request["methodCalls"]
        except (ValueError, KeyError, TypeError):
            return body
        h = self.habits
        for call in calls if isinstance(calls, list) else []:
            if not (isinstance(call, list) and len(call) == 3 and isinstance(call[1], dict)):
                continue
            name, args = call[0], call[1]
            if name == "Email/query" and QUERY_CLAMP in h:
                limit = args.get("limit")
                if not isinstance(limit, int) or limit > QUERY_LIMIT:
                    args["limit"] = QUERY_LIMIT
            if name == "Email/changes":
                if CHANGES_CLAMP in h:
                    args["maxChanges"] = 1  # RFC 8620 5.2: "The server MAY choose to return fewer than this value"
                if CANNOT_CALCULATE in h:
                    args["sinceState"] = "x-forgotten-" + str(args.get("sinceState"))
        return json.dumps(request).encode()

    def _after(self, data: dict[str, Any]) -> dict[str, Any]:
        h = self.habits
        self.api_calls += 1
        out = []
        for resp in data.get("methodResponses", []):
            name, args = resp[0], resp[1]
            if name == "Email/query":
                if UNKNOWN_ERROR in h and not self.errored:
                    self.errored = True
                    self.events.append(f"Email/query answered with {UNKNOWN_ERROR_TYPE}")
                    resp = ["error", {"type": UNKNOWN_ERROR_TYPE, "description": "try again later"}, resp[2]]
                elif QUERY_CLAMP in h:
                    args["limit"] = QUERY_LIMIT  # RFC 8620 5.5: "the new limit is returned with the response"
            out.append(resp)
        data["methodResponses"] = out
        if "sessionState" in data:
            data["sessionState"] = self._session_state(data["sessionState"])
        return data

    # --- changes between two calls -----------------------------------------------------

    def _wrap(self, name: str, around: Any) -> None:
        method = self.core.methods[name]
        inner: Handler = method.handler
        self.core.methods[name] = dataclasses.replace(method, handler=lambda call: around(call, inner))

    def _on_query(self, call: Call, inner: Handler) -> list[tuple[str, dict[str, Any]]]:
        out = inner(call)
        if out and out[0][1].get("ids") and not self.queried:
            self.queried = list(out[0][1]["ids"])
            if QUERY_SHIFT in self.habits:
                # The results move up by one under the client: its next page by position skips one.
                self._destroy(call, self.queried[0])
                self.events.append(f"shifted {self.queried[0]}")
        return out

    def _destroy(self, call: Call, email_id: str) -> None:
        """Destroy ``email_id`` through the core, as another client of the account would."""
        destroy = ["Email/set", {"accountId": call.account_id, "destroy": [email_id]}, "other-client"]
        request = {"using": [USING_CORE, MAIL], "methodCalls": [destroy]}
        self.core.api(call.user, "application/json", json.dumps(request).encode())

    def _on_get(self, call: Call, inner: Handler) -> list[tuple[str, dict[str, Any]]]:
        """Before the first Email/get of queried messages, another client destroys one of them
        (VANISHING) or a message arrives (NEW_MAIL_DURING_GET): in the same request as the
        query or a later one, the client sees the change only in this answer."""
        ids = call.args.get("ids")
        wanted = [i for i in ids if i in self.queried] if isinstance(ids, list) else []
        if wanted and not self.events:
            if VANISHING in self.habits:
                self._destroy(call, wanted[0])
                self.events.append(f"vanished {wanted[0]}")
            if NEW_MAIL_DURING_GET in self.habits:
                acct = self.store.account(call.user)
                if acct is not None:
                    self.store.deliver(acct, NEW_MAIL, "sender@mailspec.test")
                    self.events.append("new mail")
        return inner(call)


def _accepts_gzip(header: str) -> bool:
    """Accept-Encoding names gzip (or *) with a q-value above 0 (RFC 9110 12.5.3)."""
    for item in header.lower().split(","):
        coding, _, params = item.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if coding.strip() in ("gzip", "x-gzip", "*") and q > 0:
            return True
    return False

"""Legal but unusual JMAP server habits, to test clients (scenarios/clients/test_jmap_*.py).

None of these is a defect of the server: each is something RFC 8620 or RFC 8621 lets a
server do (unknown properties, URLs of its own choosing, small limits, clamped query
pages, changes in steps, errors a client must cope with). ``HabitServer`` puts them
around the embedded server without touching it: it rewrites the URLs, adjusts the
arguments of API requests before the core sees them, and adds to the JSON it answers.
Every HTTP request the client makes is kept in ``ClientCaseConfig.requests`` for the case
to judge.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from ...store import MailStore
from ..behaviours import Behaviour, Behaviours, behaviour
from .core import MAIL, USING_CORE, HTTPAnswer, JMAPConfig, Limits, account_id_for
from .http import JMAPServer


def _h(name: str, description: str) -> Behaviour:
    return behaviour("jmap", f"habit-{name}", description)


SESSION_EXTRAS = _h("session-extras", "adds Session and account properties no client knows")
CAPABILITY_EXTRAS = _h(
    "capability-extras", "announces unknown capabilities and unknown properties and sort options in known ones"
)
ODD_URLS = _h("odd-urls", "serves the API, downloads and uploads at URLs of its own (the usual paths answer 404)")
SHARED_ACCOUNT = _h("shared-account", "lists a shared account before the user's own (primaryAccounts names the own)")
REDIRECT_CHAIN = _h("redirect-chain", "redirects /.well-known/jmap twice (301, then 308) before the Session")
SMALL_GET = _h("small-get", "announces maxObjectsInGet 2 and refuses larger /get calls with requestTooLarge")
QUERY_CLAMP = _h("query-clamp", "clamps every Email/query limit to 2 and returns the clamped limit")
CHANGES_CLAMP = _h("changes-clamp", "returns one change per Email/changes call (hasMoreChanges true until done)")
CANNOT_CALCULATE = _h("cannot-calculate", "answers every Email/changes with cannotCalculateChanges")
VANISHING = _h("vanishing", "destroys a message between the client's Email/query and its Email/get (notFound)")
UNKNOWN_ERROR = _h("unknown-error", "answers the first Email/query with a method error type no client knows")
GZIP_DOWNLOADS = _h("gzip-downloads", "compresses downloads (Content-Encoding: gzip) for clients that accept gzip")
SESSION_CHANGE = _h(
    "session-change", "changes the Session (a new account capability, a new state) after the first API request"
)

ODD_API = "/rpc/v1/call?format=jmap"
ODD_DOWNLOAD = "/files/fetch?blob={blobId}&acct={accountId}&as={type}&filename={name}"
ODD_UPLOAD = "/files/store?acct={accountId}"
SHARED_ID = "Ashared-archive"
UNKNOWN_ERROR_TYPE = "x-mailspec-busy-elsewhere"
QUERY_LIMIT = 2


@dataclass
class Seen:
    """One HTTP request of the client under test."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

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


@dataclass
class ClientCaseConfig:
    behaviours: Behaviours = field(default_factory=Behaviours)
    requests: list[Seen] = field(default_factory=list)


class HabitServer(JMAPServer):
    """The embedded JMAP server behind TLS, with the habits of ``cfg`` switched on."""

    def __init__(self, store: MailStore, cfg: ClientCaseConfig) -> None:
        self.habits = cfg.behaviours
        limits = Limits(max_objects_in_get=2) if SMALL_GET in cfg.behaviours else Limits()
        super().__init__(store, JMAPConfig(limits=limits))
        self.scheme = "https"
        self.requests = cfg.requests
        self.api_calls = 0
        self.queried: list[str] = []  # Email ids the last Email/query returned (VANISHING)
        self.vanished = False
        self.errored = False  # UNKNOWN_ERROR: the first Email/query failed

    def route(self, method: str, target: str, headers: dict[str, str], body: bytes) -> HTTPAnswer:
        parts = urlsplit(target)
        seen = Seen(method, parts.path, parts.query, headers, body)
        self.requests.append(seen)
        answer = self._route(method, parts.path, parts.query, target, headers, body)
        seen.status = answer.status
        return answer

    def _route(
        self, method: str, path: str, query: str, target: str, headers: dict[str, str], body: bytes
    ) -> HTTPAnswer:
        h = self.habits
        if REDIRECT_CHAIN in h and path in ("/.well-known/jmap", "/discovery/next"):
            step = ("/discovery/next", 301) if path == "/.well-known/jmap" else ("/jmap/session", 308)
            return HTTPAnswer(step[1], [("Location", step[0]), ("Cache-Control", "no-cache")], b"")
        if ODD_URLS in h:
            usual = ("/jmap/api/", "/jmap/download/", "/jmap/upload/")
            if any(path.startswith(u) for u in usual):
                return HTTPAnswer(404, [("Content-Type", "text/plain")], b"not found here: read the Session\n")
            target = self._usual(path, query) or target
        if urlsplit(target).path == "/jmap/api/" and method == "POST":
            body = self._before(body, self._user(headers))
        answer = super().route(method, target, headers, body)
        accepts = [c.split(";")[0].strip() for c in headers.get("accept-encoding", "").lower().split(",")]
        if GZIP_DOWNLOADS in h and answer.status == 200 and "/jmap/download/" in target and "gzip" in accepts:
            answer.body = gzip.compress(answer.body)
            answer.headers.append(("Content-Encoding", "gzip"))
        ctype = dict((k.lower(), v) for k, v in answer.headers).get("content-type", "")
        if answer.status == 200 and ctype.startswith("application/json"):
            data = json.loads(answer.body)
            data = self._session(data) if "apiUrl" in data else self._after(data) if "methodResponses" in data else data
            answer.body = json.dumps(data).encode()
        return answer

    @staticmethod
    def _usual(path: str, query: str) -> str:
        """The embedded server's own URL for one of ODD_URLS (None when it is not one)."""
        q = {k: v[0] for k, v in parse_qs(query).items()}
        if path == urlsplit(ODD_API).path:
            return "/jmap/api/"
        if path == "/files/fetch" and {"blob", "acct", "filename"} <= q.keys():
            name = quote(q["filename"], safe="")
            return f"/jmap/download/{q['acct']}/{q['blob']}/{name}?accept={quote(q.get('as', ''), safe='')}"
        if path == "/files/store" and "acct" in q:
            return f"/jmap/upload/{q['acct']}/"
        return ""

    # --- the Session -------------------------------------------------------------------

    def _session(self, s: dict[str, Any]) -> dict[str, Any]:
        h = self.habits
        base = s["apiUrl"].split("/jmap/")[0]
        if ODD_URLS in h:
            s["apiUrl"], s["downloadUrl"], s["uploadUrl"] = base + ODD_API, base + ODD_DOWNLOAD, base + ODD_UPLOAD
        if SESSION_EXTRAS in h:
            s["x-mailspec-motd"] = {"text": "maintenance on Sunday", "until": "2027-01-01T00:00:00Z"}
            s["https://mailspec.test/session/quota"] = [1, 2, 3]
            for acct in s["accounts"].values():
                acct["x-mailspec-colour"] = "#8844ff"
                acct["storageClass"] = None
        if CAPABILITY_EXTRAS in h:
            s["capabilities"]["https://mailspec.test/jmap/future"] = {"version": 3, "modes": ["a", "b"]}
            s["capabilities"]["urn:ietf:params:jmap:core"]["x-mailspec-maxWidgets"] = 7
            for acct in s["accounts"].values():
                caps = acct["accountCapabilities"]
                caps["https://mailspec.test/jmap/future"] = {"enabled": True}
                if MAIL in caps:
                    caps[MAIL]["x-mailspec-colourTags"] = True
                    caps[MAIL]["emailQuerySortOptions"] = [*caps[MAIL].get("emailQuerySortOptions", []), "x-relevance"]
        if SHARED_ACCOUNT in h:
            own = s["accounts"]
            shared = {
                "name": "archive@mailspec.test (shared)", "isPersonal": False, "isReadOnly": True,
                "accountCapabilities": {MAIL: dict(next(iter(own.values()))["accountCapabilities"].get(MAIL, {}))},
            }  # fmt: skip
            s["accounts"] = {SHARED_ID: shared, **own}
        if SESSION_CHANGE in h and self.api_calls:
            for acct in s["accounts"].values():
                acct["accountCapabilities"]["https://mailspec.test/jmap/new-feature"] = {}
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
            if name == "Email/get" and VANISHING in h and not self.vanished and self.queried and user:
                self._vanish(user, self.queried[0])
        return json.dumps(request).encode()

    def _vanish(self, user: str, email_id: str) -> None:
        """Destroy ``email_id`` through the core, as another client of the account would."""
        call = ["Email/set", {"accountId": account_id_for(user, self.cfg), "destroy": [email_id]}, "vanish"]
        request = {"using": [USING_CORE, MAIL], "methodCalls": [call]}
        self.core.api(user, "application/json", json.dumps(request).encode())
        self.vanished = True

    def _after(self, data: dict[str, Any]) -> dict[str, Any]:
        h = self.habits
        self.api_calls += 1
        out = []
        for resp in data.get("methodResponses", []):
            name, args = resp[0], resp[1]
            if name == "Email/query":
                if UNKNOWN_ERROR in h and not self.errored:
                    self.errored = True
                    resp = ["error", {"type": UNKNOWN_ERROR_TYPE, "description": "try again later"}, resp[2]]
                elif QUERY_CLAMP in h:
                    args["limit"] = QUERY_LIMIT  # RFC 8620 5.5: "the new limit is returned with the response"
                if VANISHING in h and not self.vanished and args.get("ids"):
                    self.queried = list(args["ids"])
            out.append(resp)
        data["methodResponses"] = out
        if "sessionState" in data:
            data["sessionState"] = self._session_state(data["sessionState"])
        return data

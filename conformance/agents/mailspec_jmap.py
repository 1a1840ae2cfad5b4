"""The "mailspec" agent's JMAP client: ``python -m conformance.agents.mailspec_jmap OPERATION [options]``.

Operations: fetch-all (every Email of the mailbox with role inbox, downloaded as its raw
blob into --maildir) and sync (the first run as fetch-all; later runs only what
Email/changes reports as created since the state kept in --state). It finds everything
through the Session at https://HOST:PORT/.well-known/jmap (following redirects).

Clean, it does what RFC 8620 and RFC 8621 ask of a client. Its client behaviours
(protocol "jmap-client", switched on by MAILSPEC_CLIENT_BEHAVIOURS) are the seeded
defects of the JMAP client cases, each breaking one requirement.
"""

from __future__ import annotations

import json
import ssl
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..servers.behaviours import Behaviour, behaviour
from ..wire import jmap as wire
from . import runner
from .mailspec import Failure, _on
from .pylib import write_maildir
from .runner import EX_ERROR, EX_TEMPFAIL, EX_UNAVAILABLE

CORE, MAIL = "urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"


def _j(name: str, description: str) -> Behaviour:
    return behaviour("jmap-client", name, description)


STRICT_SESSION = _j("strict-session", "fails on Session and account properties it does not know")
STRICT_CAPABILITIES = _j("strict-capabilities", "fails on capabilities, or capability properties, it does not know")
STRICT_SORT_OPTIONS = _j("strict-sort-options", "fails on emailQuerySortOptions it does not know")
FIXED_API_PATH = _j("fixed-api-path", "posts API requests to /jmap/api/ instead of the Session's apiUrl")
FIXED_DOWNLOAD_PATH = _j(
    "fixed-download-path", "downloads from /jmap/download/... instead of the Session's downloadUrl"
)
NO_PERCENT_ENCODING = _j("no-percent-encoding", "fills the downloadUrl template with the values as they are")
FIRST_ACCOUNT = _j("first-account", "uses the first account of the Session instead of primaryAccounts")
ONE_REDIRECT = _j("one-redirect", "follows one redirect at most")
NO_MAIL_USING = _j("no-mail-using", "declares only urn:ietf:params:jmap:core in using")
TEXT_CONTENT_TYPE = _j("text-content-type", "sends API requests as text/plain")
IGNORES_MAX_GET = _j("ignores-max-get", "asks for every Email in one /get, whatever maxObjectsInGet says")
ONE_PAGE = _j("one-page", "reads one Email/query page and takes it for the whole result")
IGNORES_QUERY_STATE = _j("ignores-query-state", "goes on paging by position when the queryState changes between pages")
ONE_CHANGES_CALL = _j(
    "one-changes-call", "ignores hasMoreChanges: one Email/changes call, then takes the current state as reached"
)
LATE_STATE = _j("late-state", "keeps the Email state of its last Email/get, not the one from before its query")
IGNORES_CANNOT_CALCULATE = _j("ignores-cannot-calculate", "takes cannotCalculateChanges for 'nothing new'")
FAILS_ON_NOT_FOUND = _j("fails-on-not-found", "gives up when Email/get reports ids in notFound")
NO_CERT_CHECK = _j("no-cert-check", "accepts any server certificate (no chain or name check)")
TEXT_DOWNLOAD = _j(
    "text-download", "reads a downloaded message as text (UTF-8, newlines normalised) and writes it back"
)
RAW_WIRE_DOWNLOAD = _j("raw-wire-download", "stores a download as it came off the wire, content coding (gzip) and all")
UNKNOWN_ERROR_EMPTY = _j("unknown-error-empty", "takes a method error of a type it does not know for an empty result")
STALE_SESSION = _j("stale-session", "never fetches the Session again, whatever sessionState says")

SESSION_KEYS = set(wire.SESSION_MEMBERS)
ACCOUNT_KEYS = {"name", "isPersonal", "isReadOnly", "accountCapabilities"}
CORE_KEYS = {*wire.CORE_LIMITS, "collationAlgorithms"}
KNOWN_ERRORS = wire.METHOD_ERRORS
SORT_OPTIONS = set(wire.EMAIL_SORTS)
PAGE = 50


class MethodError(Failure):
    def __init__(self, kind: str, description: str) -> None:
        super().__init__(EX_TEMPFAIL, f"method error {kind}: {description}")
        self.kind = kind


class Session:
    def __init__(self, a: Any) -> None:
        self.a = a
        verify: ssl.SSLContext | bool = False if _on(NO_CERT_CHECK) else ssl.create_default_context(cafile=a.cafile)
        self.http = httpx.Client(
            verify=verify,
            auth=(a.user, a.password),
            timeout=a.timeout,
            follow_redirects=True,
            max_redirects=1 if _on(ONE_REDIRECT) else 10,
        )
        self.base = f"https://{a.host}:{a.port}"
        self.session: dict[str, Any] = {}
        self.fetch_session()

    def fetch_session(self) -> None:
        r = self.http.get(self.base + "/.well-known/jmap")
        if r.status_code != 200:
            raise Failure(EX_UNAVAILABLE, f"Session: HTTP {r.status_code}")
        s = r.json()
        if not isinstance(s, dict) or not {"apiUrl", "downloadUrl", "accounts", "primaryAccounts"} <= s.keys():
            raise Failure(EX_ERROR, "Session: not a JMAP Session object")
        if _on(STRICT_SESSION):
            unknown = set(s) - SESSION_KEYS | {k for acct in s["accounts"].values() for k in set(acct) - ACCOUNT_KEYS}
            if unknown:
                raise Failure(EX_ERROR, f"Session: unexpected properties {sorted(unknown)}")
        caps = s.get("capabilities", {})
        if _on(STRICT_CAPABILITIES):
            unknown = set(caps) - {
                CORE,
                MAIL,
                "urn:ietf:params:jmap:submission",
                "urn:ietf:params:jmap:vacationresponse",
            }
            unknown |= set(caps.get(CORE, {})) - CORE_KEYS
            if unknown:
                raise Failure(EX_ERROR, f"Session: unexpected capabilities or properties {sorted(unknown)}")
        if _on(STRICT_SORT_OPTIONS):
            for acct in s["accounts"].values():
                sorts = acct.get("accountCapabilities", {}).get(MAIL, {}).get("emailQuerySortOptions", [])
                if set(sorts) - SORT_OPTIONS:
                    raise Failure(EX_ERROR, f"Session: unknown sort options {sorted(set(sorts) - SORT_OPTIONS)}")
        self.session = s
        self.account = next(iter(s["accounts"])) if _on(FIRST_ACCOUNT) else s["primaryAccounts"].get(MAIL, "")
        if not self.account:
            raise Failure(EX_UNAVAILABLE, "Session: no primary account for mail")
        self.max_get = int(caps.get(CORE, {}).get("maxObjectsInGet", 500))

    def api(self, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """One API request; each call's response arguments (a method error raises MethodError)."""
        url = self.base + "/jmap/api/" if _on(FIXED_API_PATH) else self.session["apiUrl"]
        using = [CORE] if _on(NO_MAIL_USING) else [CORE, MAIL]
        body = {
            "using": using,
            "methodCalls": [
                [name, {"accountId": self.account, **args}, f"c{i}"] for i, (name, args) in enumerate(calls)
            ],
        }
        ctype = "text/plain" if _on(TEXT_CONTENT_TYPE) else "application/json"
        r = self.http.post(url, content=json.dumps(body).encode(), headers={"Content-Type": ctype})
        if r.status_code != 200:
            raise Failure(EX_UNAVAILABLE, f"API request: HTTP {r.status_code} {r.text[:200]}")
        data = r.json()
        if data.get("sessionState") != self.session.get("state") and not _on(STALE_SESSION):
            self.fetch_session()  # RFC 8620 2: the Session changed; fetch it again
        out: list[dict[str, Any]] = []
        for name, args, _cid in data.get("methodResponses", []):
            if name == "error":
                kind = str(args.get("type", ""))
                if kind not in KNOWN_ERRORS and _on(UNKNOWN_ERROR_EMPTY):
                    out.append({"ids": [], "list": [], "notFound": []})
                    continue
                # RFC 8620 3.6.2: an error type it does not understand counts as serverFail.
                raise MethodError(kind if kind in KNOWN_ERRORS else "serverFail", str(args.get("description", kind)))
            out.append(args)
        return out

    # --- operations --------------------------------------------------------------------

    def inbox(self) -> str:
        (res,) = self.api(("Mailbox/query", {"filter": {"role": "inbox"}}))
        if not res.get("ids"):
            raise Failure(EX_UNAVAILABLE, "no mailbox with role inbox")
        return str(res["ids"][0])

    def email_ids(self, inbox: str) -> list[str]:
        """The ids of the inbox, page by page; the listing starts over when the queryState changes
        between pages (RFC 8620 5.5: the results moved under the client)."""
        for _attempt in range(5):
            ids: list[str] = []
            state = None
            while True:
                (res,) = self.api(
                    ("Email/query", {"filter": {"inMailbox": inbox}, "sort": [{"property": "receivedAt"}],
                                     "position": len(ids), "limit": PAGE}),
                )  # fmt: skip
                if state is not None and res.get("queryState") != state and not _on(IGNORES_QUERY_STATE):
                    break
                state = res.get("queryState")
                page = [str(i) for i in res.get("ids", [])]
                ids += page
                if not page or _on(ONE_PAGE) or len(ids) > 100_000:
                    return ids
        raise Failure(EX_TEMPFAIL, "Email/query: the results kept changing")

    def email_state(self) -> str:
        (res,) = self.api(("Email/get", {"ids": [], "properties": ["id"]}))
        return str(res.get("state", ""))

    def download(self, ids: list[str], seen: set[str], mailbox: str = "") -> None:
        """Download the messages of ``ids`` not seen yet (only those in ``mailbox`` when given)."""
        size = (len(ids) or 1) if _on(IGNORES_MAX_GET) else max(1, self.max_get)
        for start in range(0, len(ids), size):
            props = ["id", "blobId", "mailboxIds"]
            (res,) = self.api(("Email/get", {"ids": ids[start : start + size], "properties": props}))
            if res.get("notFound") and _on(FAILS_ON_NOT_FOUND):
                raise Failure(EX_ERROR, f"Email/get: not found {res['notFound']}")
            for email in res.get("list", []):
                blob = str(email["blobId"])
                if blob in seen or (mailbox and mailbox not in email.get("mailboxIds", {})):
                    continue
                write_maildir(self.a.maildir, self.blob(blob))
                seen.add(blob)

    def blob(self, blob_id: str) -> bytes:
        values = {"accountId": self.account, "blobId": blob_id, "type": "message/rfc822", "name": "message.eml"}
        if _on(FIXED_DOWNLOAD_PATH):
            url = f"{self.base}/jmap/download/{self.account}/{blob_id}/message.eml?accept=message/rfc822"
        elif _on(NO_PERCENT_ENCODING):
            url = self.session["downloadUrl"].format(**values)
        else:
            url = wire.expand(self.session["downloadUrl"], **values)
        with self.http.stream("GET", url) as r:
            data = b"".join(r.iter_raw()) if _on(RAW_WIRE_DOWNLOAD) else r.read()
        if r.status_code != 200:
            raise Failure(EX_UNAVAILABLE, f"download {urlsplit(url).path}: HTTP {r.status_code}")
        if _on(TEXT_DOWNLOAD):
            return "\n".join(data.decode("utf-8", "replace").splitlines()).encode() + b"\n"
        return data

    def fetch_all(self, seen: set[str]) -> str:
        """Fetch the inbox; the Email state from before the query (RFC 8620 5.1: what came later
        is for Email/changes to tell)."""
        state = self.email_state()
        self.download(self.email_ids(self.inbox()), seen)
        return self.email_state() if _on(LATE_STATE) else state

    def sync(self, state_file: Path) -> None:
        saved = json.loads(state_file.read_text()) if state_file.exists() else {}
        seen = set(saved.get("seen", []))
        if saved.get("account") != self.account or not saved.get("state"):
            state = self.fetch_all(seen)
        else:
            state = saved["state"]
            inbox = self.inbox()
            try:
                while True:
                    (res,) = self.api(("Email/changes", {"sinceState": state, "maxChanges": 100}))
                    self.download([str(i) for i in res.get("created", [])], seen, inbox)
                    state = str(res["newState"])
                    if res.get("hasMoreChanges") and _on(ONE_CHANGES_CALL):
                        state = self.email_state()
                    if not res.get("hasMoreChanges") or _on(ONE_CHANGES_CALL):
                        break
            except MethodError as e:
                if e.kind != "cannotCalculateChanges":
                    raise
                if not _on(IGNORES_CANNOT_CALCULATE):
                    state = self.fetch_all(seen)  # RFC 8620 5.2: the cache is invalid; start again
        state_file.write_text(json.dumps({"account": self.account, "state": state, "seen": sorted(seen)}))


OPERATIONS = ("fetch-all", "sync")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        return runner.print_version()
    if not argv or argv[0] not in OPERATIONS:
        print(f"usage: python -m conformance.agents.mailspec_jmap {'|'.join(OPERATIONS)} [options]", file=sys.stderr)
        return 64
    p = runner.parser("mailspec-jmap")
    p.add_argument("--state", default="")
    a = p.parse_args(argv[1:])
    try:
        s = Session(a)
        try:
            if argv[0] == "sync":
                s.sync(Path(a.state))
            else:
                s.fetch_all(set())
        finally:
            s.http.close()
    except Failure as e:
        print(f"mailspec: {e}", file=sys.stderr)
        return e.status
    except (httpx.HTTPError, OSError, ValueError, KeyError) as e:
        print(f"mailspec: {type(e).__name__}: {e}", file=sys.stderr)
        return EX_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The embedded reference JMAP server's core (RFC 8620): Session, API requests, standard methods, blobs.

Sans-IO towards HTTP: ``JMAPCore`` takes an authenticated user and request
bytes and returns (status, headers, body); ``http.py`` puts it on the wire.

Data types plug into a registry (``DataType`` subclasses, see READY): the
core implements /get, /changes, /set, /query and /queryChanges over any type
generically, from four hooks (``records``, ``create``, ``update``,
``destroy``; ``match``/``sort_value`` for /query). States are content
addressed: a type's state is a digest of every record, and every state handed
out is remembered with its snapshot, so /changes diffs two snapshots (changes
made over IMAP, POP3 or SMTP show up too) and an intermediate state for
maxChanges is a synthetic snapshot of its own.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import itertools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...store import MailStore
from ...wire import jmap as wire
from ..behaviours import Behaviour, Behaviours, behaviour


def _b(name: str, description: str) -> Behaviour:
    return behaviour("jmap", name, description)


# Seeded defects. One line each: what the server does wrong.
SESSION_NO_CORE = _b("session-no-core", "leaves urn:ietf:params:jmap:core out of the Session capabilities")
SESSION_LIMIT_STRING = _b("session-limit-string", 'gives maxObjectsInGet as the string "500"')
SESSION_NO_COLLATIONS = _b("session-no-collations", "leaves collationAlgorithms out of the core capability")
ACCOUNT_NO_NAME = _b("account-no-name", "leaves name out of the Account objects")
ACCOUNT_FLAGS_STRINGS = _b("account-flags-strings", 'gives isPersonal/isReadOnly as "true"/"false" strings')
ACCOUNT_ID_BAD = _b("account-id-bad", "uses account ids with '@' and '.' (not an Id)")
ACCOUNT_NO_MAIL_CAP = _b("account-no-mail-cap", "leaves urn:ietf:params:jmap:mail out of accountCapabilities")
PRIMARY_UNKNOWN = _b("primary-unknown", "names an account id in primaryAccounts that is not in accounts")
PRIMARY_CORE = _b("primary-core", "lists urn:ietf:params:jmap:core in primaryAccounts")
USERNAME_MISSING = _b("username-missing", "leaves username out of the Session")
API_URL_MISSING = _b("api-url-missing", "leaves apiUrl out of the Session")
DOWNLOAD_URL_NO_NAME = _b("download-url-no-name", "omits the {name} variable from downloadUrl")
UPLOAD_URL_NO_ACCOUNT = _b("upload-url-no-account", "omits the {accountId} variable from uploadUrl")
EVENTSOURCE_URL_NO_PING = _b("eventsource-url-no-ping", "omits the {ping} variable from eventSourceUrl")
SESSION_NO_STATE = _b("session-no-state", "leaves state out of the Session")
SESSION_STATE_MISMATCH = _b("session-state-mismatch", "sends a sessionState that is not the Session's state")
SESSION_TEXT_TYPE = _b("session-text-type", "serves the Session resource as text/plain")
WELLKNOWN_404 = _b("wellknown-404", "answers /.well-known/jmap with 404")
NO_AUTH = _b("no-auth", "serves the Session and the API without credentials")
ANY_PASSWORD = _b("any-password", "accepts any password")
API_TEXT_TYPE = _b("api-text-type", "answers API requests as text/plain")
ECHO_DROPS = _b("echo-drops", "Core/echo leaves out the last argument")
PROCESS_REVERSED = _b("process-reversed", "processes the method calls last to first (responses in request order)")
STRICT_REQUEST = _b("strict-request", "rejects Request objects with unknown properties as notRequest")
SAME_CALL_NAIVE = _b("same-call-naive", "creates records in map order, before the records they reference")
SERVER_SET_SAME_REJECTED = _b("server-set-same-rejected", "rejects updates that repeat a server-set property's value")
RESPONSES_REVERSED = _b("responses-reversed", "puts the method responses in reverse order")
CALL_ID_CHANGED = _b("call-id-changed", "answers with its own method call ids")
IGNORE_UNKNOWN_CAPABILITY = _b("ignore-unknown-capability", "processes requests that use an unknown capability")
NOTJSON_AS_NOTREQUEST = _b("notjson-as-notrequest", "answers unparsable JSON with the notRequest type")
NOTREQUEST_200 = _b("notrequest-200", "answers a JSON body that is not a Request with 200 and no responses")
PROBLEM_PLAIN = _b("problem-plain", "sends request-level errors as plain text, not problem details")
PROBLEM_STATUS_MISMATCH = _b("problem-status-mismatch", "puts status 500 in problem details sent with HTTP 400")
LIMIT_NO_PROPERTY = _b("limit-no-property", "leaves the limit property out of limit errors")
NO_CALLS_LIMIT = _b("no-calls-limit", "does not enforce maxCallsInRequest")
NO_SIZE_LIMIT = _b("no-size-limit", "does not enforce maxSizeRequest")
NOTJSON_CONTENT_TYPE = _b("notjson-content-type", "accepts API requests sent as text/plain")
UNKNOWN_METHOD_FAIL = _b("unknown-method-fail", "answers unknown methods with serverFail")
IGNORE_USING = _b("ignore-using", "runs methods whose capability is not in using")
IGNORE_UNKNOWN_ARGS = _b("ignore-unknown-args", "ignores unknown method arguments")
NO_ARG_TYPES = _b("no-arg-types", "does not check the type of method arguments")
ACCOUNT_NOT_FOUND_INVALID = _b("account-not-found-invalid", "answers an unknown accountId with invalidArguments")
ERROR_NO_TYPE = _b("error-no-type", "sends method errors without a type")
ERROR_HTTP = _b("error-http", "turns a method error into an HTTP 400")
STOP_AFTER_ERROR = _b("stop-after-error", "stops processing the request after a method error")
ERROR_CHANGES_STATE = _b("error-changes-state", "applies the creates of a /set rejected with a method error")
DROP_CREATED_IDS = _b("drop-created-ids", "leaves createdIds out of the response")
CREATED_IDS_STALE = _b("created-ids-stale", "returns createdIds without the records created by the request")
NO_BACKREFS = _b("no-backrefs", "does not resolve result references (#arguments)")
BACKREF_IGNORES_NAME = _b("backref-ignores-name", "resolves a result reference whatever its name")
BACKREF_WRONG_ERROR = _b("backref-wrong-error", "answers unresolvable result references with invalidArguments")
BACKREF_NO_FLATTEN = _b("backref-no-flatten", "does not flatten arrays of arrays for '*' in result paths")
BACKREF_BOTH_OK = _b("backref-both-ok", "accepts an argument in both plain and # form")
GET_NULL_EMPTY = _b("get-null-empty", "returns an empty list for ids null")
GET_NOT_FOUND_MISSING = _b("get-notfound-missing", "leaves unknown ids out of notFound")
GET_IGNORES_PROPERTIES = _b("get-ignores-properties", "returns every property whatever properties asks")
GET_NO_ID = _b("get-no-id", "leaves id out when properties does not name it")
GET_STATE_STATIC = _b("get-state-static", "returns the same /get state after a change")
GET_NO_LIMIT = _b("get-no-limit", "does not enforce maxObjectsInGet")
GET_DUPLICATES = _b("get-duplicates", "returns a record once per time its id is asked")
GET_BAD_PROPERTY_OK = _b("get-bad-property-ok", "ignores unknown names in properties")
CHANGES_PHANTOM = _b("changes-phantom", "reports every record as updated when nothing changed")
CHANGES_CREATED_AS_UPDATED = _b("changes-created-as-updated", "reports created records as updated")
CHANGES_NO_UPDATED = _b("changes-no-updated", "leaves updated records out of /changes")
CHANGES_NO_DESTROYED = _b("changes-no-destroyed", "leaves destroyed records out of /changes")
CHANGES_IGNORE_MAX = _b("changes-ignore-max", "returns more changes than maxChanges")
CHANGES_ANY_STATE = _b("changes-any-state", "answers /changes from an unknown state with no changes")
CHANGES_MAX_ZERO_OK = _b("changes-max-zero-ok", "accepts maxChanges 0")
CHANGES_NO_MORE_FLAG = _b("changes-no-more-flag", "says hasMoreChanges false when it cut the changes at maxChanges")
SET_CREATED_NO_ID = _b("set-created-no-id", "leaves id out of the created objects")
CREATION_REF_UNRESOLVED = _b("creation-ref-unresolved", "does not resolve #creation-id references")
UPDATE_NOT_APPLIED = _b("update-not-applied", "reports updates as done without applying them")
PATCH_NO_CHECK = _b("patch-no-check", "applies patches whose pointers overlap")
DESTROY_NOT_APPLIED = _b("destroy-not-applied", "reports records as destroyed but keeps them")
SET_NOTFOUND_OK = _b("set-notfound-ok", "reports update/destroy of unknown ids as done")
IGNORE_IF_IN_STATE = _b("ignore-if-in-state", "ignores ifInState")
INVALID_PROPERTIES_NO_LIST = _b("invalid-properties-no-list", "leaves properties out of invalidProperties SetErrors")
SERVER_SET_WRITABLE = _b("server-set-writable", "lets clients set server-set properties")
SET_SAME_STATE = _b("set-same-state", "returns newState equal to oldState after a change")
SET_NO_LIMIT = _b("set-no-limit", "does not enforce maxObjectsInSet")
SET_STOPS_AT_ERROR = _b("set-stops-at-error", "stops at the first rejected create")
SET_ERROR_TYPE_CASE = _b("set-error-type-case", "spells SetError types in upper case (NotFound)")
QUERY_SORT_IGNORED = _b("query-sort-ignored", "ignores the sort argument")
QUERY_FILTER_IGNORED = _b("query-filter-ignored", "ignores the filter argument")
QUERY_OPERATOR_AND = _b("query-operator-and", "treats every FilterOperator as AND")
QUERY_POSITION_IGNORED = _b("query-position-ignored", "ignores position")
QUERY_NEGATIVE_POSITION = _b("query-negative-position", "treats a negative position as 0")
QUERY_ANCHOR_IGNORED = _b("query-anchor-ignored", "ignores anchor")
QUERY_ANCHOR_NOT_FOUND_OK = _b("query-anchor-not-found-ok", "answers an unknown anchor with results from 0")
QUERY_NO_TOTAL = _b("query-no-total", "leaves total out when calculateTotal is true")
QUERY_TOTAL_ALWAYS = _b("query-total-always", "sends total although calculateTotal is not true")
QUERY_LIMIT_IGNORED = _b("query-limit-ignored", "ignores limit")
QUERY_NEGATIVE_LIMIT_OK = _b("query-negative-limit-ok", "accepts a negative limit")
QUERY_BAD_SORT_OK = _b("query-bad-sort-ok", "ignores sort comparators on unknown properties")
QUERY_BAD_FILTER_OK = _b("query-bad-filter-ok", "ignores filter conditions on unknown properties")
QUERY_STATE_STATIC = _b("query-state-static", "returns the same queryState after the results changed")
QUERY_CHANGES_NO_ADDED = _b("query-changes-no-added", "leaves added records out of /queryChanges")
QUERY_CHANGES_NO_REMOVED = _b("query-changes-no-removed", "leaves removed records out of /queryChanges")
QUERY_CHANGES_ANY_STATE = _b("query-changes-any-state", "answers /queryChanges from an unknown state with no changes")
UPLOAD_NO_SIZE = _b("upload-no-size", "leaves size out of the upload response")
UPLOAD_SIZE_WRONG = _b("upload-size-wrong", "reports the upload size one octet short")
UPLOAD_TYPE_WRONG = _b("upload-type-wrong", "reports every upload as application/octet-stream")
DOWNLOAD_TRUNCATES = _b("download-truncates", "leaves the last octet out of downloads")
DOWNLOAD_WRONG_TYPE = _b("download-wrong-type", "ignores {type}: sends application/octet-stream")
DOWNLOAD_FILENAME_WRONG = _b("download-filename-wrong", "puts the blob id as filename in Content-Disposition")
PUSH_WRONG_TYPE = _b("push-wrong-type", "serves the event source as application/json")
PUSH_NO_STATE = _b("push-no-state", "sends no state event after a change")
PUSH_BAD_TYPE = _b("push-bad-at-type", 'sends StateChange objects with @type "stateChange"')
PUSH_NO_PING = _b("push-no-ping", "never sends ping events")
PUSH_PING_NO_INTERVAL = _b("push-ping-no-interval", "sends ping events with empty data")
PUSH_NO_CLOSE = _b("push-no-close", "keeps the response open after a state event with closeafter=state")
PUSH_IGNORES_TYPES = _b("push-ignores-types", "pushes changes of types not in the types list")

USING_CORE = wire.CORE
MAIL = "urn:ietf:params:jmap:mail"
_ID_SAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class Limits:
    max_size_upload: int = 50_000_000
    max_concurrent_upload: int = 4
    max_size_request: int = 10_000_000
    max_concurrent_requests: int = 8
    max_calls_in_request: int = 32
    max_objects_in_get: int = 500
    max_objects_in_set: int = 500

    def to_json(self) -> dict[str, int]:
        return {
            "maxSizeUpload": self.max_size_upload,
            "maxConcurrentUpload": self.max_concurrent_upload,
            "maxSizeRequest": self.max_size_request,
            "maxConcurrentRequests": self.max_concurrent_requests,
            "maxCallsInRequest": self.max_calls_in_request,
            "maxObjectsInGet": self.max_objects_in_get,
            "maxObjectsInSet": self.max_objects_in_set,
        }


@dataclass
class JMAPConfig:
    behaviours: Behaviours = field(default_factory=Behaviours)
    limits: Limits = field(default_factory=Limits)
    base_url: str = ""  # scheme://host:port, filled in when the listener is bound
    tokens: dict[str, str] = field(default_factory=dict)  # bearer token -> user


class SetError(Exception):
    """One create/update/destroy rejected (RFC 8620 5.3): ``type`` plus extra SetError members."""

    def __init__(self, type_: str, description: str = "", **extra: Any) -> None:
        super().__init__(description or type_)
        self.type = type_
        self.description = description
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, **self.extra}
        if self.description:
            out["description"] = self.description
        return out


MethodError = wire.JMAPError


# --- data types ------------------------------------------------------------------------


@dataclass
class Call:
    """One method call being processed: who, which account, its arguments, the request around it."""

    core: JMAPCore
    user: str
    account_id: str
    args: dict[str, Any]
    created_ids: dict[str, str]
    method: str = ""

    @property
    def store(self) -> MailStore:
        return self.core.store

    @property
    def behaviours(self) -> Behaviours:
        return self.core.cfg.behaviours

    def resolve_id(self, value: Any) -> Any:
        """A ``#creationId`` reference (RFC 8620 5.3) becomes the id it created; other values stay."""
        if CREATION_REF_UNRESOLVED in self.behaviours:
            return value
        if isinstance(value, str) and value.startswith("#"):
            return self.created_ids.get(value[1:], value)
        return value


class DataType:
    """A JMAP data type served by the standard methods. Subclass and register with ``JMAPCore.register``.

    ``records`` gives every record as its full JSON object (with ``id``); the
    state and /changes are derived from it. ``create``/``update``/``destroy``
    change the store or raise SetError; ``match``/``sort_value`` serve /query.
    """

    name = ""
    capability = USING_CORE
    properties: frozenset[str] = frozenset({"id"})
    server_set: frozenset[str] = frozenset({"id"})  # the client may not set these (5.3)
    id_refs: frozenset[str] = frozenset()  # properties holding ids: '#creationId' allowed
    filters: frozenset[str] = frozenset()
    sorts: frozenset[str] = frozenset()
    methods: frozenset[str] = frozenset({"get", "changes", "set", "query", "queryChanges"})
    extra_args: ClassVar[
        dict[str, frozenset[str]]
    ] = {}  # method -> further arguments it accepts (e.g. set: onDestroy...)

    def records(self, call: Call) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def create(self, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        """Create from the client's object; return the server-set and defaulted properties (with id)."""
        raise SetError("forbidden", f"{self.name} objects cannot be created")

    def update(self, call: Call, record_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
        """Make the record ``new`` (the patched ``old``); return changed server-set properties or None."""
        raise SetError("forbidden", f"{self.name} objects cannot be updated")

    def destroy(self, call: Call, record_id: str, old: dict[str, Any]) -> None:
        raise SetError("forbidden", f"{self.name} objects cannot be destroyed")

    def match(self, call: Call, record: dict[str, Any], condition: dict[str, Any]) -> bool:
        """Whether the record meets a FilterCondition (only keys in ``filters`` reach here)."""
        return all(record.get(k) == v for k, v in condition.items())

    def sort_value(self, record: dict[str, Any], prop: str, collation: str | None) -> Any:
        v = record.get(prop)
        if isinstance(v, str):
            return v.casefold()
        return (v is None, v if v is not None else 0)

    def sort_key(self, call: Call, record: dict[str, Any], comparator: dict[str, Any]) -> Any:
        """The key a Comparator sorts by; types whose comparators carry more (Email's keyword) override."""
        return self.sort_value(record, str(comparator["property"]), comparator.get("collation"))

    def refine(self, call: Call, ids: list[str]) -> list[str]:
        """The sorted, filtered ids before position/anchor/limit apply (Email/query's collapseThreads)."""
        return ids

    def changes_extra(self, call: Call, old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
        """Further /changes response arguments (Mailbox/changes: updatedProperties)."""
        return {}

    def query_extra(self, call: Call) -> dict[str, Any]:
        """Further /query response arguments."""
        return {}


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class States:
    """Every state string handed out, with its snapshot (record id -> record digest), per user and type."""

    KEEP = 2000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str, str], dict[str, str]] = OrderedDict()
        self._queries: OrderedDict[tuple[str, str, str], tuple[list[str], dict[str, str]]] = OrderedDict()
        self._static: dict[tuple[str, str], str] = {}

    def remember(self, user: str, type_name: str, snap: dict[str, str]) -> str:
        state = "s" + digest(snap)[:20]
        with self._lock:
            self._seen[(user, type_name, state)] = snap
            self._seen.move_to_end((user, type_name, state))
            while len(self._seen) > self.KEEP:
                self._seen.popitem(last=False)
        return state

    def snapshot(self, user: str, type_name: str, state: str) -> dict[str, str] | None:
        with self._lock:
            return self._seen.get((user, type_name, state))

    def remember_query(self, user: str, type_name: str, key: Any, ids: list[str], snap: dict[str, str]) -> str:
        state = "q" + digest([key, ids])[:20]
        with self._lock:
            self._queries[(user, type_name, state)] = (ids, snap)
            while len(self._queries) > self.KEEP:
                self._queries.popitem(last=False)
        return state

    def query(self, user: str, type_name: str, state: str) -> tuple[list[str], dict[str, str]] | None:
        with self._lock:
            return self._queries.get((user, type_name, state))

    def static(self, user: str, type_name: str, state: str) -> str:
        """GET_STATE_STATIC: the first state ever handed out, forever."""
        with self._lock:
            return self._static.setdefault((user, type_name), state)


@dataclass
class Blob:
    data: bytes
    type: str


class Blobs:
    """Uploaded blobs per account; types may add resolvers for blobs they hold (Email's raw message)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[tuple[str, str], Blob] = {}
        self.resolvers: list[Callable[[str, str], bytes | None]] = []

    def put(self, user: str, data: bytes, type_: str) -> str:
        blob_id = "G" + hashlib.sha1(data).hexdigest()
        with self._lock:
            self._blobs[(user, blob_id)] = Blob(data, type_)
        return blob_id

    def get(self, user: str, blob_id: str) -> bytes | None:
        with self._lock:
            blob = self._blobs.get((user, blob_id))
        if blob is not None:
            return blob.data
        for resolve in self.resolvers:
            data = resolve(user, blob_id)
            if data is not None:
                return data
        return None


Handler = Callable[[Call], list[tuple[str, dict[str, Any]]]]


@dataclass(frozen=True)
class Method:
    capability: str
    handler: Handler
    arguments: frozenset[str] | None  # None: the handler checks its own arguments


@dataclass
class HTTPAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def account_id_for(user: str, cfg: JMAPConfig) -> str:
    if ACCOUNT_ID_BAD in cfg.behaviours:
        return f"{user}@mailspec.test"
    return "A" + _ID_SAFE.sub("_", user)


class JMAPCore:
    """Session, API processing, the standard methods and blobs, on the shared store."""

    def __init__(self, store: MailStore, cfg: JMAPConfig) -> None:
        self.store = store
        self.cfg = cfg
        self.b = cfg.behaviours
        self.types: dict[str, DataType] = {}
        self.methods: dict[str, Method] = {}
        self.capabilities: dict[str, dict[str, Any]] = {USING_CORE: {}}
        self.account_capabilities: dict[str, dict[str, Any]] = {}
        self.states = States()
        self.blobs = Blobs()
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self.methods["Core/echo"] = Method(USING_CORE, lambda c: [("Core/echo", self._echo(c.args))], None)
        self._load_types()

    # --- registration ---------------------------------------------------------------

    def add_capability(self, uri: str, session_value: dict[str, Any], account_value: dict[str, Any]) -> None:
        self.capabilities[uri] = session_value
        self.account_capabilities[uri] = account_value

    def register(self, dtype: DataType) -> None:
        """Serve ``dtype`` with the standard methods it lists (replacing an earlier type of that name)."""
        self.types[dtype.name] = dtype
        standard: dict[str, tuple[Handler, frozenset[str]]] = {
            "get": (self._get, frozenset({"accountId", "ids", "properties"})),
            "changes": (self._changes, frozenset({"accountId", "sinceState", "maxChanges"})),
            "set": (self._set, frozenset({"accountId", "ifInState", "create", "update", "destroy"})),
            "query": (
                self._query,
                frozenset(
                    {"accountId", "filter", "sort", "position", "anchor", "anchorOffset", "limit", "calculateTotal"}
                ),
            ),
            "queryChanges": (
                self._query_changes,
                frozenset({"accountId", "filter", "sort", "sinceQueryState", "maxChanges", "upToId", "calculateTotal"}),
            ),
        }
        for m, (fn, args) in standard.items():
            name = f"{dtype.name}/{m}"
            self.methods.pop(name, None)
            if m in dtype.methods:
                self.methods[name] = Method(dtype.capability, fn, args | dtype.extra_args.get(m, frozenset()))

    def register_method(
        self, name: str, capability: str, handler: Handler, arguments: frozenset[str] | None = None
    ) -> None:
        """A method outside the standard five (Email/import, Thread/get...)."""
        self.methods[name] = Method(capability, handler, arguments)

    def _load_types(self) -> None:
        # The minimal Mailbox type serves the core methods; mail.py (RFC 8621), when present, replaces it.
        from . import mailbox

        mailbox.register(self)
        import importlib

        try:
            mail = importlib.import_module(f"{__package__}.mail")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.mail":
                raise
            return
        mail.register(self)

    # --- session --------------------------------------------------------------------

    def users(self) -> list[str]:
        return [u for u in self.store.users() if self.store.account(u) is not None]

    def account_of(self, user: str, account_id: str) -> str | None:
        """The user whose account this is, if ``user`` may use it (own account only)."""
        return user if account_id == account_id_for(user, self.cfg) else None

    def session(self, user: str) -> dict[str, Any]:
        base = self.cfg.base_url
        limits: dict[str, Any] = self.cfg.limits.to_json()
        if SESSION_LIMIT_STRING in self.b:
            limits["maxObjectsInGet"] = str(limits["maxObjectsInGet"])
        core: dict[str, Any] = {
            **limits,
            "collationAlgorithms": ["i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap"],
        }
        if SESSION_NO_COLLATIONS in self.b:
            del core["collationAlgorithms"]
        caps = {**self.capabilities, USING_CORE: core}
        if SESSION_NO_CORE in self.b:
            del caps[USING_CORE]
        acc_id = account_id_for(user, self.cfg)
        acc_caps = dict(self.account_capabilities)
        if ACCOUNT_NO_MAIL_CAP in self.b:
            acc_caps.pop(MAIL, None)
        account: dict[str, Any] = {
            "name": f"{user}@{self.store.domain}",
            "isPersonal": True,
            "isReadOnly": False,
            "accountCapabilities": acc_caps,
        }
        if ACCOUNT_NO_NAME in self.b:
            del account["name"]
        if ACCOUNT_FLAGS_STRINGS in self.b:
            account["isPersonal"], account["isReadOnly"] = "true", "false"
        primary = {uri: acc_id for uri in acc_caps}
        if PRIMARY_UNKNOWN in self.b:
            primary = dict.fromkeys(primary, "Anobody")
        if PRIMARY_CORE in self.b:
            primary[USING_CORE] = acc_id
        out: dict[str, Any] = {
            "capabilities": caps,
            "accounts": {acc_id: account},
            "primaryAccounts": primary,
            "username": user,
            "apiUrl": f"{base}/jmap/api/",
            "downloadUrl": f"{base}/jmap/download/{{accountId}}/{{blobId}}/{{name}}?accept={{type}}",
            "uploadUrl": f"{base}/jmap/upload/{{accountId}}/",
            "eventSourceUrl": f"{base}/jmap/eventsource/?types={{types}}&closeafter={{closeafter}}&ping={{ping}}",
        }
        if USERNAME_MISSING in self.b:
            del out["username"]
        if API_URL_MISSING in self.b:
            del out["apiUrl"]
        if DOWNLOAD_URL_NO_NAME in self.b:
            out["downloadUrl"] = out["downloadUrl"].replace("/{name}", "")
        if UPLOAD_URL_NO_ACCOUNT in self.b:
            out["uploadUrl"] = f"{base}/jmap/upload/"
        if EVENTSOURCE_URL_NO_PING in self.b:
            out["eventSourceUrl"] = out["eventSourceUrl"].replace("&ping={ping}", "")
        if SESSION_NO_STATE not in self.b:
            out["state"] = self.session_state(user)
        return out

    def session_state(self, user: str) -> str:
        return "S" + digest([sorted(self.capabilities), account_id_for(user, self.cfg)])[:12]

    # --- API requests -----------------------------------------------------------------

    def problem(self, kind: str, detail: str, status: int = 400, **extra: Any) -> HTTPAnswer:
        """A request-level error as RFC 7807 problem details (RFC 8620 3.6.1)."""
        if PROBLEM_PLAIN in self.b:
            return HTTPAnswer(status, [("Content-Type", "text/plain")], f"{kind}: {detail}\n".encode())
        body = {"type": wire.ERROR_PREFIX + kind, "status": status, "detail": detail, **extra}
        if PROBLEM_STATUS_MISMATCH in self.b:
            body["status"] = 500
        return HTTPAnswer(status, [("Content-Type", "application/problem+json")], json.dumps(body).encode())

    def begin(self, user: str) -> bool:
        """Count one API request in flight; False when maxConcurrentRequests is reached."""
        with self._lock:
            n = self._in_flight.get(user, 0)
            if n >= self.cfg.limits.max_concurrent_requests:
                return False
            self._in_flight[user] = n + 1
            return True

    def end(self, user: str) -> None:
        with self._lock:
            self._in_flight[user] = max(0, self._in_flight.get(user, 1) - 1)

    def api(self, user: str, content_type: str, body: bytes) -> HTTPAnswer:
        limits = self.cfg.limits
        if len(body) > limits.max_size_request and NO_SIZE_LIMIT not in self.b:
            return self._limit("maxSizeRequest", "the request is larger than maxSizeRequest")
        ctype = content_type.split(";")[0].strip().lower()
        if ctype != "application/json" and NOTJSON_CONTENT_TYPE not in self.b:
            return self.problem("notJSON", f"the content type is {ctype or 'missing'}, not application/json")
        try:
            request = wire.parse_request(body)
        except wire.JMAPError as e:
            if e.kind == "notJSON" and NOTJSON_AS_NOTREQUEST in self.b:
                return self.problem("notRequest", e.detail)
            if e.kind == "notRequest" and NOTREQUEST_200 in self.b:
                return self._json(200, {"methodResponses": [], "sessionState": self.session_state(user)})
            return self.problem(e.kind, e.detail)
        if STRICT_REQUEST in self.b and set(json.loads(body)) - {"using", "methodCalls", "createdIds"}:
            return self.problem("notRequest", "unknown Request properties")
        unknown = [u for u in request.using if u not in self.capabilities]
        if unknown and IGNORE_UNKNOWN_CAPABILITY not in self.b:
            return self.problem("unknownCapability", f"the server does not support {', '.join(unknown)}")
        if len(request.method_calls) > limits.max_calls_in_request and NO_CALLS_LIMIT not in self.b:
            return self._limit("maxCallsInRequest", "the request has more method calls than maxCallsInRequest")
        created = dict(request.created_ids or {})
        responses: list[wire.Invocation] = []
        calls = list(request.method_calls)
        if PROCESS_REVERSED in self.b:
            calls.reverse()
        for inv in calls:
            out = self._call(user, set(request.using), inv, responses, created)
            responses.extend(out)
            errors = [r for r in out if r.name == "error"]
            if errors and ERROR_HTTP in self.b:
                return self.problem("serverFail", "a method failed")
            if errors and STOP_AFTER_ERROR in self.b:
                break
        if PROCESS_REVERSED in self.b:
            order = {inv.call_id: n for n, inv in enumerate(request.method_calls)}
            responses.sort(key=lambda r: order.get(r.call_id, 0))
        if CALL_ID_CHANGED in self.b:
            responses = [wire.Invocation(r.name, r.arguments, f"r{i}") for i, r in enumerate(responses)]
        if RESPONSES_REVERSED in self.b:
            responses.reverse()
        state = self.session_state(user)
        if SESSION_STATE_MISMATCH in self.b:
            state = "X" + state
        resp: dict[str, Any] = {"methodResponses": [r.to_json() for r in responses], "sessionState": state}
        if request.created_ids is not None and DROP_CREATED_IDS not in self.b:
            resp["createdIds"] = dict(request.created_ids) if CREATED_IDS_STALE in self.b else created
        answer = self._json(200, resp)
        if API_TEXT_TYPE in self.b:
            answer.headers = [("Content-Type", "text/plain")]
        return answer

    def _limit(self, limit: str, detail: str) -> HTTPAnswer:
        extra: dict[str, Any] = {} if LIMIT_NO_PROPERTY in self.b else {"limit": limit}
        return self.problem("limit", detail, **extra)

    @staticmethod
    def _json(status: int, obj: Any) -> HTTPAnswer:
        return HTTPAnswer(status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(obj).encode())

    def _call(
        self,
        user: str,
        using: set[str],
        inv: wire.Invocation,
        earlier: list[wire.Invocation],
        created: dict[str, str],
    ) -> list[wire.Invocation]:
        def error(kind: str, description: str = "", **extra: Any) -> list[wire.Invocation]:
            args: dict[str, Any] = {"type": kind, **extra}
            if description:
                args["description"] = description
            if ERROR_NO_TYPE in self.b:
                del args["type"]
            return [wire.Invocation("error", args, inv.call_id)]

        method = self.methods.get(inv.name)
        if method is None or (method.capability not in using and IGNORE_USING not in self.b):
            kind = "serverFail" if UNKNOWN_METHOD_FAIL in self.b else "unknownMethod"
            return error(kind, f"unknown method {inv.name} (or its capability is not in using)")
        try:
            args = dict(inv.arguments) if NO_BACKREFS in self.b else self._resolve(inv.arguments, earlier)
            if method.arguments is not None:
                unknown = set(args) - method.arguments
                if unknown and IGNORE_UNKNOWN_ARGS not in self.b:
                    raise MethodError("invalidArguments", f"unknown arguments: {sorted(unknown)}")
            account_id = args.get("accountId")
            if inv.name != "Core/echo":
                if not isinstance(account_id, str) and NO_ARG_TYPES not in self.b:
                    raise MethodError("invalidArguments", "accountId is not an Id")
                if self.account_of(user, str(account_id)) is None:
                    if ACCOUNT_NOT_FOUND_INVALID in self.b:
                        raise MethodError("invalidArguments", "bad accountId")
                    raise MethodError("accountNotFound", f"no account {account_id}")
            call = Call(self, user, str(account_id), args, created, inv.name)
            snapshot = dict(created)
            try:
                out = method.handler(call)
            except MethodError:
                created.clear()
                created.update(snapshot)
                raise
        except MethodError as e:
            return error(e.kind, e.detail, **e.extra)
        return [wire.Invocation(name, a, inv.call_id) for name, a in out]

    def _resolve(self, args: dict[str, Any], earlier: list[wire.Invocation]) -> dict[str, Any]:
        if BACKREF_BOTH_OK in self.b:
            args = {k: v for k, v in args.items() if "#" + k not in args}
        if BACKREF_IGNORES_NAME in self.b:
            earlier = [
                wire.Invocation(
                    next((str(v["name"]) for v in args.values() if isinstance(v, dict) and "name" in v), r.name),
                    r.arguments,
                    r.call_id,
                )
                for r in earlier
            ]
        try:
            resolved = wire.resolve_references(args, earlier)
        except MethodError as e:
            if e.kind == "invalidResultReference" and BACKREF_WRONG_ERROR in self.b:
                raise MethodError("invalidArguments", e.detail) from None
            raise
        if BACKREF_NO_FLATTEN in self.b:
            for k, v in args.items():
                if k.startswith("#") and isinstance(v, dict) and "*" in str(v.get("path", "")):
                    resolved[k[1:]] = _unflattened(earlier, v)
        return resolved

    def _echo(self, args: dict[str, Any]) -> dict[str, Any]:
        out = dict(args)
        if ECHO_DROPS in self.b and out:
            out.pop(list(out)[-1])
        return out

    # --- the standard methods (RFC 8620 section 5) ------------------------------------

    def _state(self, call: Call, dtype: DataType, records: dict[str, dict[str, Any]] | None = None) -> str:
        recs = dtype.records(call) if records is None else records
        state = self.states.remember(call.user, dtype.name, {i: digest(r) for i, r in recs.items()})
        if GET_STATE_STATIC in self.b:
            return self.states.static(call.user, dtype.name, state)
        return state

    @staticmethod
    def _arg(call: Call, name: str, check: Callable[[Any], bool], what: str, default: Any = None) -> Any:
        value = call.args.get(name, default)
        if value is not None and not check(value) and NO_ARG_TYPES not in call.behaviours:
            raise MethodError("invalidArguments", f"{name} is not {what}")
        return value

    def _ids_arg(self, call: Call, name: str) -> list[str] | None:
        ids = self._arg(call, name, lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v), "an Id[]")
        return None if ids is None else [call.resolve_id(i) for i in ids]

    def _get(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        dtype = self.types[_type_name(call)]
        ids = self._ids_arg(call, "ids")
        props = self._arg(
            call, "properties", lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v), "a String[]"
        )
        if props is not None and GET_BAD_PROPERTY_OK not in self.b:
            bad = set(props) - dtype.properties
            if bad:
                raise MethodError("invalidArguments", f"unknown properties {sorted(bad)}")
        records = dtype.records(call)
        limit = self.cfg.limits.max_objects_in_get
        if GET_NO_LIMIT not in self.b and len(ids if ids is not None else records) > limit:
            raise MethodError("requestTooLarge", f"more than maxObjectsInGet ({limit}) ids")
        if ids is None:
            wanted = [] if GET_NULL_EMPTY in self.b else list(records)
        else:
            wanted = list(ids) if GET_DUPLICATES in self.b else list(dict.fromkeys(ids))
        keep = None
        if props is not None and GET_IGNORES_PROPERTIES not in self.b:
            keep = set(props) if GET_NO_ID in self.b else {*props, "id"}
        found = []
        not_found = []
        for i in wanted:
            rec = records.get(i)
            if rec is None:
                not_found.append(i)
            else:
                found.append({k: v for k, v in rec.items() if keep is None or k in keep})
        if GET_NOT_FOUND_MISSING in self.b:
            not_found = []
        state = self._state(call, dtype, records)
        return [
            (f"{dtype.name}/get", {"accountId": call.account_id, "state": state, "list": found, "notFound": not_found})
        ]

    def _changes(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        dtype = self.types[_type_name(call)]
        since = self._arg(call, "sinceState", lambda v: isinstance(v, str), "a String")
        if since is None:
            raise MethodError("invalidArguments", "sinceState is required")
        max_changes = self._arg(call, "maxChanges", wire.is_unsigned_int, "an UnsignedInt")
        if max_changes is not None and max_changes < 1 and CHANGES_MAX_ZERO_OK not in self.b:
            raise MethodError("invalidArguments", "maxChanges must be a positive integer")
        records = dtype.records(call)
        current = {i: digest(r) for i, r in records.items()}
        new_state = self._state(call, dtype, records)
        old = self.states.snapshot(call.user, dtype.name, since)
        if old is None:
            if CHANGES_ANY_STATE in self.b:
                old = current
            else:
                raise MethodError("cannotCalculateChanges", "the server does not know that state")
        created = [i for i in current if i not in old]
        destroyed = [i for i in old if i not in current]
        updated = [i for i in current if i in old and old[i] != current[i]]
        if CHANGES_PHANTOM in self.b:
            updated = [i for i in current if i in old]
        if CHANGES_CREATED_AS_UPDATED in self.b:
            updated, created = updated + created, []
        if CHANGES_NO_UPDATED in self.b:
            updated = []
        if CHANGES_NO_DESTROYED in self.b:
            destroyed = []
        more = False
        if (
            max_changes
            and len(created) + len(updated) + len(destroyed) > max_changes
            and CHANGES_IGNORE_MAX not in self.b
        ):
            # An intermediate state: the old snapshot with the first maxChanges changes applied.
            more = CHANGES_NO_MORE_FLAG not in self.b
            steps = [("c", i) for i in created] + [("u", i) for i in updated] + [("d", i) for i in destroyed]
            steps = steps[:max_changes]
            mid = dict(old)
            for kind, i in steps:
                if kind == "d":
                    del mid[i]
                else:
                    mid[i] = current[i]
            created = [i for k, i in steps if k == "c"]
            updated = [i for k, i in steps if k == "u"]
            destroyed = [i for k, i in steps if k == "d"]
            new_state = self.states.remember(call.user, dtype.name, mid)
        elif old == current and CHANGES_PHANTOM not in self.b:
            new_state = since
        return [
            (
                f"{dtype.name}/changes",
                {
                    "accountId": call.account_id,
                    "oldState": since,
                    "newState": new_state,
                    "hasMoreChanges": more,
                    "created": created,
                    "updated": updated,
                    "destroyed": destroyed,
                    **dtype.changes_extra(call, old, current),
                },
            )
        ]

    def _set(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        dtype = self.types[_type_name(call)]
        is_map = lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values())  # noqa: E731
        create = self._arg(call, "create", is_map, "an Id[Foo] map")
        update = self._arg(call, "update", is_map, "an Id[PatchObject] map")
        destroy = self._ids_arg(call, "destroy")
        if_in_state = self._arg(call, "ifInState", lambda v: isinstance(v, str), "a String")
        create, update, destroy = create or {}, update or {}, destroy or []
        total = len(create) + len(update) + len(destroy)
        if total > self.cfg.limits.max_objects_in_set and SET_NO_LIMIT not in self.b:
            raise MethodError("requestTooLarge", f"more than maxObjectsInSet ({self.cfg.limits.max_objects_in_set})")
        with self.store.lock:
            old_state = self._state(call, dtype)
            if if_in_state is not None and if_in_state != old_state and IGNORE_IF_IN_STATE not in self.b:
                if ERROR_CHANGES_STATE in self.b:
                    for obj in create.values():
                        with contextlib.suppress(SetError):
                            self._create_one(call, dtype, obj)
                raise MethodError("stateMismatch", f"the state is {old_state}, not {if_in_state}")
            created: dict[str, Any] = {}
            not_created: dict[str, Any] = {}
            for cid, obj in self._create_order(dtype, create):
                try:
                    result = self._create_one(call, dtype, obj)
                except SetError as e:
                    not_created[cid] = self._set_error(e)
                    if SET_STOPS_AT_ERROR in self.b:
                        break
                    continue
                created[cid] = result
                if "id" in result:
                    call.created_ids[cid] = result["id"]
                if SET_CREATED_NO_ID in self.b:
                    result.pop("id", None)
            updated: dict[str, Any] = {}
            not_updated: dict[str, Any] = {}
            for raw_id, patch in update.items():
                rid = call.resolve_id(raw_id)
                try:
                    updated[rid] = self._update_one(call, dtype, rid, patch)
                except SetError as e:
                    not_updated[rid] = self._set_error(e)
            destroyed: list[str] = []
            not_destroyed: dict[str, Any] = {}
            for rid in destroy:
                try:
                    self._destroy_one(call, dtype, rid)
                    destroyed.append(rid)
                except SetError as e:
                    not_destroyed[rid] = self._set_error(e)
            new_state = self._state(call, dtype)
        if SET_SAME_STATE in self.b:
            new_state = old_state
        return [
            (
                f"{dtype.name}/set",
                {
                    "accountId": call.account_id,
                    "oldState": old_state,
                    "newState": new_state,
                    "created": created or None,
                    "updated": updated or None,
                    "destroyed": destroyed or None,
                    "notCreated": not_created or None,
                    "notUpdated": not_updated or None,
                    "notDestroyed": not_destroyed or None,
                },
            )
        ]

    def _create_order(self, dtype: DataType, create: dict[str, Any]) -> list[tuple[str, Any]]:
        """Creates that reference another creation id of this call come after it (RFC 8620 5.3)."""
        items = list(create.items())
        if SAME_CALL_NAIVE in self.b:
            return items
        done: list[tuple[str, Any]] = []
        pending = items
        while pending:
            waiting = {cid for cid, _ in pending}
            ready = [
                (cid, obj)
                for cid, obj in pending
                if not any(
                    isinstance(obj.get(p), str) and obj[p].startswith("#") and obj[p][1:] in waiting - {cid}
                    for p in dtype.id_refs
                )
            ]
            if not ready:  # a cycle: the references cannot all resolve
                return done + pending
            done += ready
            pending = [x for x in pending if x not in ready]
        return done

    def _set_error(self, e: SetError) -> dict[str, Any]:
        out = e.to_json()
        if INVALID_PROPERTIES_NO_LIST in self.b:
            out.pop("properties", None)
        if SET_ERROR_TYPE_CASE in self.b:
            out["type"] = out["type"][:1].upper() + out["type"][1:]
        return out

    def _check_props(self, dtype: DataType, touched: set[str], new: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Unknown properties, and server-set ones given with a value other than the current (5.3)."""
        unknown = sorted(touched - dtype.properties)
        if unknown:
            raise SetError("invalidProperties", f"unknown properties {unknown}", properties=unknown)
        if SERVER_SET_WRITABLE in self.b:
            return
        strict = SERVER_SET_SAME_REJECTED in self.b
        bad = sorted(p for p in dtype.server_set & touched if old is None or strict or new.get(p) != old.get(p))
        if bad:
            raise SetError("invalidProperties", f"server-set properties {bad}", properties=bad)

    def _create_one(self, call: Call, dtype: DataType, obj: dict[str, Any]) -> dict[str, Any]:
        self._check_props(dtype, set(obj), obj, None)
        obj = {k: (call.resolve_id(v) if k in dtype.id_refs else v) for k, v in obj.items()}
        if SERVER_SET_WRITABLE in self.b:
            obj = {k: v for k, v in obj.items() if k not in dtype.server_set}
        return dtype.create(call, obj)

    def _update_one(self, call: Call, dtype: DataType, rid: str, patch: dict[str, Any]) -> dict[str, Any] | None:
        records = dtype.records(call)
        old = records.get(rid)
        if old is None:
            if SET_NOTFOUND_OK in self.b:
                return None
            raise SetError("notFound", f"no record {rid}")
        new = apply_patch(old, patch, check=PATCH_NO_CHECK not in self.b)
        self._check_props(dtype, {k.split("/")[0] for k in patch}, new, old)
        new = {k: (call.resolve_id(v) if k in dtype.id_refs else v) for k, v in new.items()}
        if UPDATE_NOT_APPLIED in self.b:
            return None
        return dtype.update(call, rid, old, new)

    def _destroy_one(self, call: Call, dtype: DataType, rid: str) -> None:
        old = dtype.records(call).get(rid)
        if old is None:
            if SET_NOTFOUND_OK in self.b:
                return
            raise SetError("notFound", f"no record {rid}")
        if DESTROY_NOT_APPLIED in self.b:
            return
        dtype.destroy(call, rid, old)

    # --- /query and /queryChanges -------------------------------------------------------

    def _filter_ok(self, dtype: DataType, f: Any) -> None:
        if f is None:
            return
        if not isinstance(f, dict):
            raise MethodError("invalidArguments", "filter is not a FilterOperator or FilterCondition")
        if "operator" in f:
            if f["operator"] not in ("AND", "OR", "NOT") or not isinstance(f.get("conditions"), list):
                raise MethodError("invalidArguments", "bad FilterOperator")
            for c in f["conditions"]:
                self._filter_ok(dtype, c)
            return
        unknown = set(f) - dtype.filters
        if unknown and QUERY_BAD_FILTER_OK not in self.b:
            raise MethodError("unsupportedFilter", f"cannot filter on {sorted(unknown)}")

    def _matches(self, call: Call, dtype: DataType, rec: dict[str, Any], f: Any) -> bool:
        if f is None:
            return True
        if "operator" in f:
            results = [self._matches(call, dtype, rec, c) for c in f["conditions"]]
            op = "AND" if QUERY_OPERATOR_AND in self.b else f["operator"]
            if op == "AND":
                return all(results)
            if op == "OR":
                return any(results)
            return not any(results)
        return dtype.match(call, rec, {k: v for k, v in f.items() if k in dtype.filters})

    def _sorted(self, call: Call, dtype: DataType, recs: list[dict[str, Any]], sort: Any) -> list[dict[str, Any]]:
        if sort is None:
            sort = []
        if not (
            isinstance(sort, list) and all(isinstance(c, dict) and isinstance(c.get("property"), str) for c in sort)
        ):
            raise MethodError("invalidArguments", "sort is not a Comparator[]")
        for c in sort:
            if c["property"] not in dtype.sorts and QUERY_BAD_SORT_OK not in self.b:
                raise MethodError("unsupportedSort", f"cannot sort on {c['property']}")
            if "isAscending" in c and not isinstance(c["isAscending"], bool):
                raise MethodError("invalidArguments", "isAscending is not a Boolean")
        out = sorted(recs, key=lambda r: r["id"])  # stable tie-break (5.5: stable between calls)
        if QUERY_SORT_IGNORED in self.b:
            return out
        for comp in reversed([c for c in sort if c["property"] in dtype.sorts]):

            def key(r: dict[str, Any], comp: dict[str, Any] = comp) -> Any:
                return dtype.sort_key(call, r, comp)

            out.sort(key=key, reverse=not comp.get("isAscending", True))
        return out

    def _results(self, call: Call, dtype: DataType) -> tuple[list[str], dict[str, str]]:
        f = call.args.get("filter")
        self._filter_ok(dtype, f)
        records = dtype.records(call)
        matching = [r for r in records.values() if QUERY_FILTER_IGNORED in self.b or self._matches(call, dtype, r, f)]
        ids = dtype.refine(call, [r["id"] for r in self._sorted(call, dtype, matching, call.args.get("sort"))])
        return ids, {i: digest(r) for i, r in records.items()}

    def _query_state(self, call: Call, dtype: DataType, ids: list[str], snap: dict[str, str]) -> str:
        key = [call.args.get("filter"), call.args.get("sort")]
        if QUERY_STATE_STATIC in self.b:
            ids_for_state: list[str] = []
            key = [key]
            state = self.states.remember_query(call.user, dtype.name, key, ids_for_state, snap)
            self.states.remember_query(call.user, dtype.name, key, ids, snap)
            return state
        return self.states.remember_query(call.user, dtype.name, key, ids, snap)

    def _query(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        dtype = self.types[_type_name(call)]
        position = self._arg(call, "position", wire.is_int, "an Int", 0)
        anchor = self._arg(call, "anchor", lambda v: isinstance(v, str), "an Id")
        anchor_offset = self._arg(call, "anchorOffset", wire.is_int, "an Int", 0)
        limit = self._arg(call, "limit", wire.is_int, "an UnsignedInt")
        if limit is not None and limit < 0 and QUERY_NEGATIVE_LIMIT_OK not in self.b:
            raise MethodError("invalidArguments", "limit is negative")
        total_wanted = self._arg(call, "calculateTotal", lambda v: isinstance(v, bool), "a Boolean", False)
        ids, snap = self._results(call, dtype)
        if QUERY_ANCHOR_IGNORED in self.b:
            anchor = None
        if anchor is not None:
            anchor = call.resolve_id(anchor)
            if anchor not in ids:
                if QUERY_ANCHOR_NOT_FOUND_OK not in self.b:
                    raise MethodError("anchorNotFound", f"{anchor} is not in the results")
                start = 0
            else:
                start = max(0, ids.index(anchor) + anchor_offset)
        else:
            start = position
            if start < 0:
                start = 0 if QUERY_NEGATIVE_POSITION in self.b else max(0, len(ids) + start)
            if QUERY_POSITION_IGNORED in self.b:
                start = 0
        window = ids[start:]
        if limit is not None and limit >= 0 and QUERY_LIMIT_IGNORED not in self.b:
            window = window[:limit]
        out: dict[str, Any] = {
            "accountId": call.account_id,
            "queryState": self._query_state(call, dtype, ids, snap),
            "canCalculateChanges": True,
            "position": min(start, len(ids)),
            "ids": window,
        }
        if (total_wanted and QUERY_NO_TOTAL not in self.b) or QUERY_TOTAL_ALWAYS in self.b:
            out["total"] = len(ids)
        out.update(dtype.query_extra(call))
        return [(f"{dtype.name}/query", out)]

    def _query_changes(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        dtype = self.types[_type_name(call)]
        since = self._arg(call, "sinceQueryState", lambda v: isinstance(v, str), "a String")
        if since is None:
            raise MethodError("invalidArguments", "sinceQueryState is required")
        max_changes = self._arg(call, "maxChanges", wire.is_unsigned_int, "an UnsignedInt")
        total_wanted = self._arg(call, "calculateTotal", lambda v: isinstance(v, bool), "a Boolean", False)
        ids, snap = self._results(call, dtype)
        new_state = self._query_state(call, dtype, ids, snap)
        old = self.states.query(call.user, dtype.name, since)
        if old is None:
            if QUERY_CHANGES_ANY_STATE not in self.b:
                raise MethodError("cannotCalculateChanges", "the server does not know that query state")
            old = (ids, snap)
        old_ids, old_snap = old
        # Records whose data changed may have moved: they are removed and added again (5.6).
        moved = {i for i in ids if i in old_snap and snap.get(i) != old_snap[i]}
        current = set(ids)
        removed = [i for i in old_ids if i not in current or i in moved]
        kept_old = [i for i in old_ids if i not in set(removed)]
        kept_new = [i for i in ids if i in set(kept_old)]
        if kept_old != kept_new:  # relative order changed: report everything as moved
            removed, kept_old = list(old_ids), []
        added = [{"id": i, "index": n} for n, i in enumerate(ids) if i not in set(kept_old)]
        if max_changes and len(removed) + len(added) > max_changes:
            raise MethodError("tooManyChanges", f"more than {max_changes} changes")
        if QUERY_CHANGES_NO_ADDED in self.b:
            added = []
        if QUERY_CHANGES_NO_REMOVED in self.b:
            removed = [i for i in removed if i in current]
        out: dict[str, Any] = {
            "accountId": call.account_id,
            "oldQueryState": since,
            "newQueryState": new_state,
            "removed": removed,
            "added": added,
        }
        if total_wanted:
            out["total"] = len(ids)
        return [(f"{dtype.name}/queryChanges", out)]

    # --- blobs (RFC 8620 section 6) -------------------------------------------------------

    def upload(self, user: str, account_id: str, content_type: str, data: bytes) -> HTTPAnswer:
        if self.account_of(user, account_id) is None:
            return self.problem("notFound", f"no account {account_id}", status=404)
        if len(data) > self.cfg.limits.max_size_upload:
            return self.problem("limit", "larger than maxSizeUpload", status=413, limit="maxSizeUpload")
        ctype = content_type or "application/octet-stream"
        blob_id = self.blobs.put(user, data, ctype)
        out: dict[str, Any] = {"accountId": account_id, "blobId": blob_id, "type": ctype, "size": len(data)}
        if UPLOAD_NO_SIZE in self.b:
            del out["size"]
        if UPLOAD_SIZE_WRONG in self.b:
            out["size"] = max(0, len(data) - 1)
        if UPLOAD_TYPE_WRONG in self.b:
            out["type"] = "application/octet-stream"
        return self._json(201, out)

    def download(self, user: str, account_id: str, blob_id: str, name: str, type_: str) -> HTTPAnswer:
        data = self.blobs.get(user, blob_id) if self.account_of(user, account_id) is not None else None
        if data is None:
            return self.problem("notFound", f"no blob {blob_id}", status=404)
        if DOWNLOAD_TRUNCATES in self.b:
            data = data[:-1]
        ctype = "application/octet-stream" if DOWNLOAD_WRONG_TYPE in self.b else (type_ or "application/octet-stream")
        filename = blob_id if DOWNLOAD_FILENAME_WRONG in self.b else name
        safe = filename.replace("\\", "\\\\").replace('"', '\\"')
        headers = [
            ("Content-Type", ctype),
            ("Content-Disposition", f'attachment; filename="{safe}"'),
            ("Cache-Control", "private, immutable, max-age=31536000"),
        ]
        return HTTPAnswer(200, headers, data)

    # --- push (RFC 8620 7.3) ----------------------------------------------------------------

    def type_states(self, user: str, types: set[str] | None) -> dict[str, str]:
        """The current state of each type (all of them when ``types`` is None), for StateChange events."""
        acc = account_id_for(user, self.cfg)
        out = {}
        for name, dtype in self.types.items():
            if types is not None and name not in types and PUSH_IGNORES_TYPES not in self.b:
                continue
            if "get" not in dtype.methods:
                continue
            call = Call(self, user, acc, {}, {})
            with self.store.lock:
                out[name] = self._state(call, dtype)
        return out


def _type_name(call: Call) -> str:
    """The data type of the method being processed: "Mailbox" for Mailbox/get."""
    return call.method.partition("/")[0]


def _unflattened(earlier: list[wire.Invocation], ref: dict[str, Any]) -> Any:
    """BACKREF_NO_FLATTEN: '*' keeps arrays of arrays."""
    source = next((r for r in earlier if r.call_id == ref.get("resultOf")), None)
    if source is None:
        return None

    def walk(node: Any, tokens: list[str]) -> Any:
        if not tokens:
            return node
        if tokens[0] == "*" and isinstance(node, list):
            return [walk(x, tokens[1:]) for x in node]
        if isinstance(node, list):
            return walk(node[int(tokens[0])], tokens[1:])
        return walk(node.get(tokens[0]) if isinstance(node, dict) else None, tokens[1:])

    return walk(source.arguments, str(ref["path"])[1:].split("/"))


def apply_patch(old: dict[str, Any], patch: dict[str, Any], *, check: bool = True) -> dict[str, Any]:
    """A PatchObject applied to a copy of ``old`` (RFC 8620 5.3); SetError invalidPatch when malformed."""
    keys = list(patch)
    if check:
        for a in keys:
            for b2 in keys:
                if a != b2 and b2.startswith(a + "/"):
                    raise SetError("invalidPatch", f"{a} is a prefix of {b2}")
    new = copy.deepcopy(old)
    for key in sorted(keys, key=len):
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in key.split("/")]
        node: Any = new
        for t in tokens[:-1]:
            if isinstance(node, list) and check:
                raise SetError("invalidPatch", f"{key} points inside an array")
            if not isinstance(node, dict) or t not in node:
                if check:
                    raise SetError("invalidPatch", f"{key}: {t} does not exist")
                node = None
                break
            node = node[t]
        if node is None or (not check and not isinstance(node, dict)):
            continue
        if isinstance(node, list):
            raise SetError("invalidPatch", f"{key} points inside an array")
        if not isinstance(node, dict):
            raise SetError("invalidPatch", f"{key} does not point into an object")
        if patch[key] is None:
            node.pop(tokens[-1], None)
        else:
            node[tokens[-1]] = patch[key]
    return new


_counter = itertools.count(1)


def new_id(prefix: str) -> str:
    """A fresh record id: the prefix, a counter and random letters (URL-safe base64 alphabet)."""
    import os

    return f"{prefix}{next(_counter)}{base64.urlsafe_b64encode(os.urandom(6)).decode().rstrip('=')}"

"""Sans-IO JMAP codec (RFC 8620): request and response objects, result references, data types.

JMAP rides on JSON over HTTP; this module never touches a socket. It checks
the shapes RFC 8620 fixes and reports each deviation with where it is (a
JSON Pointer into the document) and the RFC section, never repairing it:

- the data types of section 1.2-1.4: ``Id`` (1-255 octets of the URL-safe
  base64 alphabet), ``Int``/``UnsignedInt`` (within -2^53+1..2^53-1),
  ``Date`` and ``UTCDate`` (RFC 3339 ``date-time``; UTCDate with ``Z``);
- the Request (3.3: ``using``, ``methodCalls``, ``createdIds``), the
  Invocation triple (3.2) and the Response (3.4: ``methodResponses``,
  ``sessionState``, ``createdIds``);
- result references (3.7): ``#name`` arguments with ``resultOf``/``name``/
  ``path``, and the JSON Pointer evaluation (RFC 6901) with JMAP's ``*``
  extension (map over an array, flattening arrays of arrays);
- problem details (RFC 7807) for request-level errors (3.6.1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

RFC = "RFC 8620"
MAX_SAFE = 2**53 - 1
CORE = "urn:ietf:params:jmap:core"
ERROR_PREFIX = "urn:ietf:params:jmap:error:"
REQUEST_ERRORS = ("unknownCapability", "notJSON", "notRequest", "limit")
# Method-level error types of section 3.6.2 (plus those the standard methods of section 5 add).
METHOD_ERRORS = frozenset(
    {
        "serverUnavailable",
        "serverFail",
        "serverPartialFail",
        "unknownMethod",
        "invalidArguments",
        "invalidResultReference",
        "forbidden",
        "accountNotFound",
        "accountNotSupportedByMethod",
        "accountReadOnly",
        "requestTooLarge",
        "stateMismatch",
        "cannotCalculateChanges",
        "anchorNotFound",
        "unsupportedSort",
        "unsupportedFilter",
        "tooManyChanges",
        "fromAccountNotFound",
        "fromAccountNotSupportedByMethod",
    }
)
SET_ERRORS = frozenset(
    {
        "forbidden",
        "overQuota",
        "tooLarge",
        "rateLimit",
        "notFound",
        "invalidPatch",
        "willDestroy",
        "invalidProperties",
        "singleton",
        "alreadyExists",
    }
)

_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# RFC 3339 date-time; section 1.4 adds: time-secfrac omitted if zero, letters upper-case.
_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d*[1-9])?(Z|[+-](\d{2}):(\d{2}))$",
)
_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z$")


@dataclass(frozen=True)
class Deviation:
    """What is wrong, where in the JSON document (a JSON Pointer), and which section says so."""

    what: str
    where: str
    section: str

    def __str__(self) -> str:
        at = f" at {self.where}" if self.where else ""
        return f"{self.what}{at} ({RFC} section {self.section})"


class JMAPError(Exception):
    """A request the server must refuse: ``kind`` is a request-level or method-level error type."""

    def __init__(self, kind: str, detail: str = "", **extra: Any) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
        self.extra = extra


# --- data types (section 1.2-1.4) ---------------------------------------------------


def is_id(value: object) -> bool:
    """Section 1.2: 1-255 octets of "A-Za-z0-9", "-" and "_"."""
    return isinstance(value, str) and bool(_ID.match(value))


def is_int(value: object) -> bool:
    """Section 1.3: an integer in the range -2^53+1 <= value <= 2^53-1 (JSON numbers, not bool)."""
    return type(value) is int and -MAX_SAFE <= value <= MAX_SAFE


def is_unsigned_int(value: object) -> bool:
    """Section 1.3: an Int where the value MUST be in the range 0 <= value <= 2^53-1."""
    return is_int(value) and value >= 0  # type: ignore[operator]


def _valid_date_fields(m: re.Match[str]) -> bool:
    year, month, day, hour, minute, sec = (int(m.group(i)) for i in range(1, 7))
    del year
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and sec <= 60):
        return False
    return not (m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59))


def is_date(value: object) -> bool:
    """Section 1.4: an RFC 3339 date-time, letters upper-case, time-secfrac omitted if zero."""
    if not isinstance(value, str):
        return False
    m = _DATE.match(value)
    return m is not None and _valid_date_fields(m)


def is_utc_date(value: object) -> bool:
    """Section 1.4: a Date whose time-offset component MUST be "Z"."""
    return isinstance(value, str) and is_date(value) and bool(_UTC.match(value))


def type_deviation(value: object, kind: str, where: str) -> Deviation | None:
    """A deviation when ``value`` is not of JMAP ``kind`` (Id, Int, UnsignedInt, Date, UTCDate, String, Boolean)."""
    checks = {
        "Id": (is_id, "1.2"),
        "Int": (is_int, "1.3"),
        "UnsignedInt": (is_unsigned_int, "1.3"),
        "Date": (is_date, "1.4"),
        "UTCDate": (is_utc_date, "1.4"),
        "String": (lambda v: isinstance(v, str), "1.1"),
        "Boolean": (lambda v: isinstance(v, bool), "1.1"),
    }
    fn, section = checks[kind]
    if fn(value):
        return None
    return Deviation(f"{json.dumps(value)[:80]} is not a JMAP {kind}", where, section)


# --- invocations, requests, responses (section 3.2-3.4) -------------------------------


@dataclass(frozen=True)
class Invocation:
    """Section 3.2: [name, arguments, method call id]."""

    name: str
    arguments: dict[str, Any]
    call_id: str

    def to_json(self) -> list[Any]:
        return [self.name, self.arguments, self.call_id]


@dataclass(frozen=True)
class Request:
    using: tuple[str, ...]
    method_calls: tuple[Invocation, ...]
    created_ids: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"using": list(self.using), "methodCalls": [c.to_json() for c in self.method_calls]}
        if self.created_ids is not None:
            out["createdIds"] = dict(self.created_ids)
        return out

    def encode(self) -> bytes:
        return json.dumps(self.to_json()).encode()


@dataclass(frozen=True)
class Response:
    method_responses: tuple[Invocation, ...]
    session_state: str
    created_ids: dict[str, str] | None = None
    deviations: tuple[Deviation, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "methodResponses": [r.to_json() for r in self.method_responses],
            "sessionState": self.session_state,
        }
        if self.created_ids is not None:
            out["createdIds"] = dict(self.created_ids)
        return out


def _invocation(value: object, where: str, devs: list[Deviation]) -> Invocation | None:
    if not (isinstance(value, list) and len(value) == 3):
        devs.append(Deviation("an Invocation is not an array of 3 elements", where, "3.2"))
        return None
    name, args, call_id = value
    ok = True
    if not isinstance(name, str):
        devs.append(Deviation("the method name is not a String", f"{where}/0", "3.2"))
        ok = False
    if not isinstance(args, dict):
        devs.append(Deviation("the arguments are not a String[*] object", f"{where}/1", "3.2"))
        ok = False
    if not isinstance(call_id, str):
        devs.append(Deviation("the method call id is not a String", f"{where}/2", "3.2"))
        ok = False
    return Invocation(name, args, call_id) if ok else None


def parse_request(data: bytes) -> Request:
    """A server reading a request body: raises JMAPError notJSON / notRequest (section 3.6.1)."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise JMAPError("notJSON", f"the body is not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise JMAPError("notRequest", "the request is not a JSON object")
    using, calls, created = obj.get("using"), obj.get("methodCalls"), obj.get("createdIds")
    if not (isinstance(using, list) and all(isinstance(u, str) for u in using)):
        raise JMAPError("notRequest", "using is not a String[]")
    if not isinstance(calls, list):
        raise JMAPError("notRequest", "methodCalls is not an Invocation[]")
    devs: list[Deviation] = []
    invocations = [_invocation(c, f"/methodCalls/{i}", devs) for i, c in enumerate(calls)]
    if devs:
        raise JMAPError("notRequest", str(devs[0]))
    if created is not None and not (
        isinstance(created, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in created.items())
    ):
        raise JMAPError("notRequest", "createdIds is not an Id[Id] map")
    return Request(tuple(using), tuple(i for i in invocations if i is not None), created)


def parse_response(obj: object) -> Response:
    """A client reading a response: keeps what it can and lists every deviation (section 3.4)."""
    devs: list[Deviation] = []
    if not isinstance(obj, dict):
        return Response((), "", None, (Deviation("the response is not a JSON object", "", "3.4"),))
    raw = obj.get("methodResponses")
    calls: list[Invocation] = []
    if not isinstance(raw, list):
        devs.append(Deviation("methodResponses is missing or not an array", "/methodResponses", "3.4"))
    else:
        for i, r in enumerate(raw):
            inv = _invocation(r, f"/methodResponses/{i}", devs)
            if inv is not None:
                calls.append(inv)
    state = obj.get("sessionState")
    if not isinstance(state, str):
        devs.append(Deviation("sessionState is missing or not a String", "/sessionState", "3.4"))
        state = ""
    created = obj.get("createdIds")
    if created is not None and not (
        isinstance(created, dict) and all(is_id(k) and is_id(v) for k, v in created.items())
    ):
        devs.append(Deviation("createdIds is not an Id[Id] map", "/createdIds", "3.4"))
        created = None
    return Response(tuple(calls), state, created, tuple(devs))


def problem_deviations(obj: object, status: int | None = None) -> list[Deviation]:
    """Section 3.6.1: a request-level error is an RFC 7807 problem details object with a JMAP ``type``."""
    if not isinstance(obj, dict):
        return [Deviation("the error body is not a problem details JSON object", "", "3.6.1")]
    devs = []
    t = obj.get("type")
    if not isinstance(t, str):
        devs.append(Deviation("the problem details have no type URI", "/type", "3.6.1"))
    if "status" in obj:
        if not is_int(obj["status"]):
            devs.append(Deviation("status is not a number", "/status", "3.6.1"))
        elif status is not None and obj["status"] != status:
            devs.append(Deviation(f"status {obj['status']} differs from the HTTP status {status}", "/status", "3.6.1"))
    for key in ("title", "detail"):
        if key in obj and not isinstance(obj[key], str):
            devs.append(Deviation(f"{key} is not a String", f"/{key}", "3.6.1"))
    return devs


def method_error(inv: Invocation) -> str | None:
    """The error ``type`` when this response is an ``error`` invocation (section 3.6.2), else None."""
    if inv.name != "error":
        return None
    t = inv.arguments.get("type")
    return t if isinstance(t, str) else ""


# --- result references and JSON Pointer (section 3.7) ------------------------------


class PointerError(Exception):
    """The path does not resolve against the document."""


@dataclass(frozen=True)
class ResultReference:
    result_of: str
    name: str
    path: str

    def to_json(self) -> dict[str, str]:
        return {"resultOf": self.result_of, "name": self.name, "path": self.path}

    @classmethod
    def from_json(cls, obj: object) -> ResultReference:
        if not (isinstance(obj, dict) and set(obj) == {"resultOf", "name", "path"}):
            raise JMAPError("invalidArguments", "a ResultReference has exactly resultOf, name and path")
        if not all(isinstance(obj[k], str) for k in ("resultOf", "name", "path")):
            raise JMAPError("invalidArguments", "ResultReference members are Strings")
        return cls(obj["resultOf"], obj["name"], obj["path"])


def _unescape(token: str) -> str:
    if re.search(r"~(?![01])", token):
        raise PointerError(f"bad escape in {token!r}")
    return token.replace("~1", "/").replace("~0", "~")


def evaluate_pointer(doc: Any, path: str) -> Any:
    """RFC 6901 evaluation with JMAP's ``*`` (section 3.7).

    ``*`` on an array applies the rest of the pointer to every item and gives
    the array of results; results that are arrays themselves are flattened
    into the output (one level).
    """
    if path == "":
        return doc
    if not path.startswith("/"):
        raise PointerError(f"a JSON Pointer starts with '/': {path!r}")
    return _walk(doc, [_unescape(t) for t in path[1:].split("/")], path)


def _walk(node: Any, tokens: list[str], path: str) -> Any:
    if not tokens:
        return node
    tok, rest = tokens[0], tokens[1:]
    if isinstance(node, list):
        if tok == "*":
            out: list[Any] = []
            for item in node:
                value = _walk(item, rest, path)
                if isinstance(value, list):
                    out.extend(value)
                else:
                    out.append(value)
            return out
        if not re.fullmatch(r"0|[1-9][0-9]*", tok) or int(tok) >= len(node):
            raise PointerError(f"{path}: no array index {tok!r}")
        return _walk(node[int(tok)], rest, path)
    if isinstance(node, dict):
        if tok not in node:
            raise PointerError(f"{path}: no member {tok!r}")
        return _walk(node[tok], rest, path)
    raise PointerError(f"{path}: {tok!r} applied to a {type(node).__name__}")


def resolve_references(arguments: dict[str, Any], earlier: list[Invocation]) -> dict[str, Any]:
    """Section 3.7: replace every ``#name`` argument by the value its ResultReference points at.

    Raises JMAPError("invalidArguments") when both ``name`` and ``#name`` are given, and
    JMAPError("invalidResultReference") when the reference cannot be resolved.
    """
    out = {}
    for key, value in arguments.items():
        if not key.startswith("#"):
            out[key] = value
            continue
        plain = key[1:]
        if plain in arguments:
            raise JMAPError("invalidArguments", f"both {plain} and {key} are given")
        try:
            ref = ResultReference.from_json(value)
        except JMAPError as e:
            raise JMAPError("invalidResultReference", e.detail) from None
        source = next((r for r in earlier if r.call_id == ref.result_of), None)
        if source is None:
            raise JMAPError("invalidResultReference", f"no earlier response with call id {ref.result_of!r}")
        if source.name != ref.name:
            raise JMAPError(
                "invalidResultReference", f"the response to {ref.result_of} is {source.name}, not {ref.name}"
            )
        try:
            out[plain] = evaluate_pointer(source.arguments, ref.path)
        except PointerError as e:
            raise JMAPError("invalidResultReference", str(e)) from None
    return out


# --- the Session resource (section 2) ------------------------------------------------

SESSION_MEMBERS = {
    "capabilities": dict,
    "accounts": dict,
    "primaryAccounts": dict,
    "username": str,
    "apiUrl": str,
    "downloadUrl": str,
    "uploadUrl": str,
    "eventSourceUrl": str,
    "state": str,
}
CORE_LIMITS = (
    "maxSizeUpload",
    "maxConcurrentUpload",
    "maxSizeRequest",
    "maxConcurrentRequests",
    "maxCallsInRequest",
    "maxObjectsInGet",
    "maxObjectsInSet",
)
# Email/query sort properties of RFC 8621 4.4.2.
EMAIL_SORTS = (
    "receivedAt",
    "size",
    "from",
    "to",
    "subject",
    "sentAt",
    "hasKeyword",
    "allInThreadHaveKeyword",
    "someInThreadHaveKeyword",
)
URL_VARIABLES = {
    "downloadUrl": ("accountId", "blobId", "type", "name"),
    "uploadUrl": ("accountId",),
    "eventSourceUrl": ("types", "closeafter", "ping"),
}


def template_variables(template: str) -> set[str]:
    """The variables of an RFC 6570 level 1 template: ``{name}``."""
    return set(re.findall(r"\{([A-Za-z0-9_]+)\}", template))


def expand(template: str, **values: str) -> str:
    """RFC 6570 level 1 expansion: every ``{var}`` by its value, percent-encoded (unreserved kept)."""
    from urllib.parse import quote

    return re.sub(r"\{([A-Za-z0-9_]+)\}", lambda m: quote(values.get(m.group(1), ""), safe="-._~"), template)


def session_deviations(obj: object) -> list[Deviation]:
    """Everything section 2 fixes about the Session object's shape."""
    if not isinstance(obj, dict):
        return [Deviation("the Session resource is not a JSON object", "", "2")]
    devs = []
    for key, pytype in SESSION_MEMBERS.items():
        if not isinstance(obj.get(key), pytype):
            devs.append(Deviation(f"{key} is missing or not a {pytype.__name__}", f"/{key}", "2"))
    core = obj.get("capabilities", {}).get(CORE) if isinstance(obj.get("capabilities"), dict) else None
    if not isinstance(core, dict):
        devs.append(Deviation(f"capabilities has no {CORE} object", "/capabilities", "2"))
    else:
        for lim in CORE_LIMITS:
            d = type_deviation(core.get(lim), "UnsignedInt", f"/capabilities/{CORE}/{lim}")
            if d:
                devs.append(d)
        if not (isinstance(core.get("collationAlgorithms"), list)):
            devs.append(
                Deviation("collationAlgorithms is not a String[]", f"/capabilities/{CORE}/collationAlgorithms", "2")
            )
    for acc_id, acc in (obj.get("accounts") or {}).items() if isinstance(obj.get("accounts"), dict) else ():
        where = f"/accounts/{acc_id}"
        if not is_id(acc_id):
            devs.append(Deviation("an account id is not an Id", where, "2"))
        if not isinstance(acc, dict):
            devs.append(Deviation("an Account is not an object", where, "2"))
            continue
        for key, kind in (("name", "String"), ("isPersonal", "Boolean"), ("isReadOnly", "Boolean")):
            d = type_deviation(acc.get(key), kind, f"{where}/{key}")
            if d:
                devs.append(d)
        if not isinstance(acc.get("accountCapabilities"), dict):
            devs.append(Deviation("accountCapabilities is not an object", f"{where}/accountCapabilities", "2"))
    for url, variables in URL_VARIABLES.items():
        if isinstance(obj.get(url), str):
            missing = set(variables) - template_variables(obj[url])
            if missing:
                devs.append(Deviation(f"the template lacks {sorted(missing)}", f"/{url}", "2"))
    return devs

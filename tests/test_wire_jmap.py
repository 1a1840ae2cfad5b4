"""The sans-IO JMAP codec: data type validators, requests and responses, JSON Pointer with '*', references."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.wire import jmap as wire

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.text(alphabet=ID_ALPHABET, min_size=1, max_size=255))
def test_ids_of_the_alphabet_are_ids(value: str) -> None:
    assert wire.is_id(value)


@given(st.text(min_size=1, max_size=40).filter(lambda s: any(c not in ID_ALPHABET for c in s)))
def test_other_characters_are_not_ids(value: str) -> None:
    assert not wire.is_id(value)


def test_id_length_bounds() -> None:
    assert not wire.is_id("")
    assert wire.is_id("a" * 255)
    assert not wire.is_id("a" * 256)
    assert not wire.is_id("abc=")  # the pad character is excluded
    assert not wire.is_id(42)


@given(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1))
def test_ints_in_range(value: int) -> None:
    assert wire.is_int(value)
    assert wire.is_unsigned_int(value) == (value >= 0)


@given(st.one_of(st.integers(min_value=2**53), st.integers(max_value=-(2**53))))
def test_ints_out_of_range(value: int) -> None:
    assert not wire.is_int(value)
    assert not wire.is_unsigned_int(value)


def test_ints_are_not_bools_floats_or_strings() -> None:
    for value in (True, False, 1.0, "1", None):
        assert not wire.is_int(value)
        assert not wire.is_unsigned_int(value)


@given(
    st.datetimes(timezones=st.just(None)).map(lambda d: d.replace(microsecond=0)),
)
def test_utc_dates(moment: Any) -> None:
    text = moment.isoformat() + "Z"
    assert wire.is_utc_date(text)
    assert wire.is_date(text)


@pytest.mark.parametrize(
    ("text", "date", "utc"),
    [
        ("2014-10-30T14:12:00+08:00", True, False),
        ("2014-10-30T06:12:00Z", True, True),
        ("2014-10-30t06:12:00z", False, False),  # letters must be upper-case
        ("2014-10-30T06:12:00.000Z", False, False),  # a zero time-secfrac must be omitted
        ("2014-10-30T06:12:00.25Z", True, True),
        ("2014-10-30 06:12:00Z", False, False),
        ("2014-13-30T06:12:00Z", False, False),
        ("2014-10-30T06:12:00", False, False),
    ],
)
def test_date_forms(text: str, date: bool, utc: bool) -> None:
    assert wire.is_date(text) is date
    assert wire.is_utc_date(text) is utc


def test_type_deviation_names_the_section() -> None:
    d = wire.type_deviation("x y", "Id", "/accounts/x y")
    assert d is not None and d.section == "1.2" and d.where == "/accounts/x y"
    assert wire.type_deviation("A1", "Id", "/") is None


# --- requests and responses -------------------------------------------------------------


def test_request_round_trip() -> None:
    req = wire.Request(("urn:ietf:params:jmap:core",), (wire.Invocation("Core/echo", {"a": 1}, "c1"),), {"k": "M1"})
    parsed = wire.parse_request(req.encode())
    assert parsed == req


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"{not json", "notJSON"),
        (b"\xff\xfe", "notJSON"),
        (b"[]", "notRequest"),
        (b'{"using": "x", "methodCalls": []}', "notRequest"),
        (b'{"using": [], "methodCalls": [["a", {}]]}', "notRequest"),
        (b'{"using": [], "methodCalls": [["a", [], "c"]]}', "notRequest"),
        (b'{"using": [], "methodCalls": [], "createdIds": []}', "notRequest"),
    ],
)
def test_bad_requests(body: bytes, kind: str) -> None:
    with pytest.raises(wire.JMAPError) as e:
        wire.parse_request(body)
    assert e.value.kind == kind


def test_unknown_request_properties_are_ignored() -> None:
    assert wire.parse_request(b'{"using": [], "methodCalls": [], "x": 1}').method_calls == ()


def test_response_deviations() -> None:
    ok = wire.parse_response({"methodResponses": [["Core/echo", {}, "c"]], "sessionState": "s"})
    assert not ok.deviations and ok.method_responses[0].call_id == "c"
    bad = wire.parse_response({"methodResponses": [["x", {}]], "createdIds": {"k": "a b"}})
    where = {d.where for d in bad.deviations}
    assert where == {"/methodResponses/0", "/sessionState", "/createdIds"}


def test_problem_details() -> None:
    good = {"type": "urn:ietf:params:jmap:error:notJSON", "status": 400, "detail": "x"}
    assert wire.problem_deviations(good, 400) == []
    assert wire.problem_deviations({"type": good["type"], "status": 500}, 400)
    assert wire.problem_deviations("text", 400)
    assert wire.problem_deviations({"status": 400}, 400)


def test_method_error() -> None:
    assert wire.method_error(wire.Invocation("error", {"type": "unknownMethod"}, "c")) == "unknownMethod"
    assert wire.method_error(wire.Invocation("error", {}, "c")) == ""
    assert wire.method_error(wire.Invocation("Core/echo", {}, "c")) is None


# --- JSON Pointer and result references (section 3.7) -------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@given(st.dictionaries(st.text(max_size=6), json_values, min_size=1, max_size=5))
def test_pointer_finds_every_member(doc: dict[str, Any]) -> None:
    for key, value in doc.items():
        assert wire.evaluate_pointer(doc, "/" + _escape(key)) == value


@given(st.lists(st.dictionaries(st.just("v"), st.lists(st.integers(), max_size=3), min_size=1), max_size=5))
def test_star_maps_and_flattens(items: list[dict[str, list[int]]]) -> None:
    flat = [x for item in items for x in item["v"]]
    assert wire.evaluate_pointer({"items": items}, "/items/*/v") == flat


def test_star_keeps_scalars() -> None:
    doc = {"list": [{"id": "a"}, {"id": "b"}]}
    assert wire.evaluate_pointer(doc, "/list/*/id") == ["a", "b"]


@pytest.mark.parametrize("path", ["/missing", "/list/2", "/list/01", "/list/x", "no-slash", "/n/x", "/a~2"])
def test_pointer_failures(path: str) -> None:
    doc = {"list": [1, 2], "n": 5, "a~": 1}
    with pytest.raises(wire.PointerError):
        wire.evaluate_pointer(doc, path)


def test_pointer_escapes() -> None:
    assert wire.evaluate_pointer({"a/b": 1, "m~n": 2}, "/a~1b") == 1
    assert wire.evaluate_pointer({"a/b": 1, "m~n": 2}, "/m~0n") == 2
    assert wire.evaluate_pointer([1], "") == [1]


def _earlier() -> list[wire.Invocation]:
    return [wire.Invocation("Foo/query", {"ids": ["f1", "f4"]}, "t0")]


def test_references_resolve() -> None:
    args = {"accountId": "A", "#ids": {"resultOf": "t0", "name": "Foo/query", "path": "/ids"}}
    assert wire.resolve_references(args, _earlier()) == {"accountId": "A", "ids": ["f1", "f4"]}


@pytest.mark.parametrize(
    ("ref", "kind"),
    [
        ({"resultOf": "nope", "name": "Foo/query", "path": "/ids"}, "invalidResultReference"),
        ({"resultOf": "t0", "name": "Foo/get", "path": "/ids"}, "invalidResultReference"),
        ({"resultOf": "t0", "name": "Foo/query", "path": "/nothing"}, "invalidResultReference"),
        ({"resultOf": "t0", "name": "Foo/query"}, "invalidResultReference"),
    ],
)
def test_references_that_fail(ref: dict[str, str], kind: str) -> None:
    with pytest.raises(wire.JMAPError) as e:
        wire.resolve_references({"#ids": ref}, _earlier())
    assert e.value.kind == kind


def test_both_forms_are_invalid_arguments() -> None:
    args = {"ids": [], "#ids": {"resultOf": "t0", "name": "Foo/query", "path": "/ids"}}
    with pytest.raises(wire.JMAPError) as e:
        wire.resolve_references(args, _earlier())
    assert e.value.kind == "invalidArguments"


# --- the Session ----------------------------------------------------------------------


def _session() -> dict[str, Any]:
    return {
        "capabilities": {wire.CORE: {**dict.fromkeys(wire.CORE_LIMITS, 10), "collationAlgorithms": []}},
        "accounts": {"A1": {"name": "a", "isPersonal": True, "isReadOnly": False, "accountCapabilities": {}}},
        "primaryAccounts": {},
        "username": "a",
        "apiUrl": "/api/",
        "downloadUrl": "/d/{accountId}/{blobId}/{name}?accept={type}",
        "uploadUrl": "/u/{accountId}/",
        "eventSourceUrl": "/e?types={types}&closeafter={closeafter}&ping={ping}",
        "state": "s",
    }


def test_session_deviations() -> None:
    assert wire.session_deviations(_session()) == []
    broken = _session()
    broken["uploadUrl"] = "/u/"
    broken["accounts"]["A1"]["isReadOnly"] = "false"
    del broken["state"]
    where = {d.where for d in wire.session_deviations(broken)}
    assert where == {"/uploadUrl", "/accounts/A1/isReadOnly", "/state"}


def test_expand_level_one() -> None:
    url = wire.expand(
        "/d/{accountId}/{blobId}/{name}?accept={type}", accountId="A", blobId="B", name="a b", type="text/plain"
    )
    assert url == "/d/A/B/a%20b?accept=text%2Fplain"
    assert wire.template_variables(_session()["downloadUrl"]) == {"accountId", "blobId", "name", "type"}


def test_invocation_json() -> None:
    assert json.loads(json.dumps(wire.Invocation("a", {}, "c").to_json())) == ["a", {}, "c"]

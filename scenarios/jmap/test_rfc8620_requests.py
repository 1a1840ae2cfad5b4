"""RFC 8620 sections 1.8, 3.1-3.6 and 4: API requests, responses, request- and method-level errors."""

import json
from typing import Any

from conformance.clients.jmap import CORE, JMAPSessions, Reply
from conformance.scenario import case
from conformance.servers.jmap import core as srv
from conformance.verdict import check, info, unsupported
from conformance.wire import jmap as wire

ECHO = {"mailspec": True, "n": 5, "list": [1, "two", None], "nested": {"k": "v"}}


def _request_error(reply: Reply, kind: str) -> None:
    """A request-level error: any 4xx; its problem details, when there are any, have the JMAP type."""
    check(
        400 <= reply.status < 500,
        f"the request was not rejected with a 4xx status ({kind} expected)",
        expected=f"4xx with type {wire.ERROR_PREFIX}{kind}",
        observed=reply.summary(300),
    )
    body = reply.json
    if not (isinstance(body, dict) and "type" in body):
        info(f"rejected with HTTP {reply.status}, but without problem details to check the type")
    check(
        body["type"] == wire.ERROR_PREFIX + kind,
        "the problem details have the wrong type",
        expected=wire.ERROR_PREFIX + kind,
        observed=str(body["type"]),
    )


def _method_error(reply: Reply, call_id: str, *kinds: str) -> None:
    check(
        reply.status == 200 and reply.response is not None,
        "the request got no JMAP Response",
        observed=reply.summary(300),
    )
    got = reply.error_type(call_id)
    check(
        got in kinds,
        f"the method was not rejected with {' or '.join(kinds)}",
        expected=f'["error", {{"type": "{kinds[0]}"}}, "{call_id}"]',
        observed=json.dumps([r.to_json() for r in reply.by_id(call_id)])[:400] or reply.summary(300),
    )


def _echo_request(n: int) -> bytes:
    calls = [["Core/echo", {"i": i}, f"e{i}"] for i in range(n)]
    return json.dumps({"using": [CORE], "methodCalls": calls}).encode()


@case("jmap.rfc8620.3.1.json-response", defect=srv.API_TEXT_TYPE)
def test_api_response_is_json(jmap: JMAPSessions) -> None:
    reply = jmap.main.post(_echo_request(1))
    check(reply.status == 200, "a valid request was not answered with 200", observed=reply.summary(200))
    check(
        reply.content_type == "application/json",
        "the API response is not application/json",
        expected="application/json",
        observed=reply.content_type,
    )
    check(
        reply.response is not None and not reply.response.deviations,
        "the body is not a Response object",
        observed=reply.summary(300),
    )


@case("jmap.rfc8620.4.echo", defect=srv.ECHO_DROPS)
def test_core_echo(jmap: JMAPSessions) -> None:
    reply = jmap.main.call([["Core/echo", ECHO, "e"]], (CORE,))
    r = reply.one("e")
    check(
        r is not None and r.name == "Core/echo",
        "Core/echo was not answered with Core/echo",
        observed=reply.summary(300),
    )
    assert r is not None
    check(
        r.arguments == ECHO,
        "Core/echo did not return exactly its arguments",
        expected=json.dumps(ECHO),
        observed=json.dumps(r.arguments),
    )


@case("jmap.rfc8620.3.4.response-order", defect=srv.RESPONSES_REVERSED)
def test_responses_in_request_order(jmap: JMAPSessions) -> None:
    reply = jmap.main.post(_echo_request(4))
    ids = [r.call_id for r in reply.responses()]
    check(
        ids == ["e0", "e1", "e2", "e3"],
        "the method responses are not in the order the calls were made",
        expected="e0 e1 e2 e3",
        observed=" ".join(ids),
    )


@case("jmap.rfc8620.3.2.call-id-echoed", defect=srv.CALL_ID_CHANGED)
def test_call_ids_echoed(jmap: JMAPSessions) -> None:
    calls = [["Core/echo", {}, "mailspec-a"], ["Core/echo", {}, "x y z"], ["Core/echo", {}, "#3"]]
    reply = jmap.main.call(calls, (CORE,))
    ids = [r.call_id for r in reply.responses()]
    check(
        ids == ["mailspec-a", "x y z", "#3"],
        "the method call ids were not echoed",
        expected="mailspec-a, 'x y z', #3",
        observed=json.dumps(ids),
    )


@case("jmap.rfc8620.3.3.sequential", defect=srv.PROCESS_REVERSED)
def test_calls_processed_in_order(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    name = jmap.unique()
    calls = [
        ["Mailbox/set", {"accountId": acc, "create": {"k": {"name": name}}}, "s"],
        ["Mailbox/query", {"accountId": acc, "filter": {"name": name}}, "q"],
    ]
    reply = jmap.call(calls)
    created = (jmap.ok(reply, "s", "Mailbox/set").get("created") or {}).get("k") or {}
    if isinstance(created.get("id"), str):
        jmap.track("Mailbox", acc, created["id"])
    else:
        unsupported(f"Mailbox/set did not create the mailbox: {reply.summary(300)}")
    found = (reply.args("q", "Mailbox/query") or {}).get("ids")
    check(
        isinstance(found, list) and created["id"] in found,
        "a Mailbox/query after the Mailbox/set in the same request does not see the created mailbox",
        expected=f"ids containing {created['id']}",
        observed=json.dumps(found),
    )


@case("jmap.rfc8620.3.3.ignore-unknown-properties", defect=srv.STRICT_REQUEST)
def test_unknown_request_property_ignored(jmap: JMAPSessions) -> None:
    body = json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {"a": 1}, "e"]], "mailspecExtension": {"x": 1}})
    reply = jmap.main.post(body.encode())
    check(
        reply.status == 200 and reply.args("e", "Core/echo") == {"a": 1},
        "a Request object with an unknown property was not processed",
        expected="200 with the Core/echo response",
        observed=reply.summary(300),
    )


@case("jmap.rfc8620.3.6.1.unknown-capability", defect=srv.IGNORE_UNKNOWN_CAPABILITY)
def test_unknown_capability(jmap: JMAPSessions) -> None:
    reply = jmap.main.call([["Core/echo", {}, "e"]], (CORE, "https://mailspec.invalid/no-such-capability"))
    _request_error(reply, "unknownCapability")


@case("jmap.rfc8620.3.6.1.not-json", defect=srv.NOTJSON_AS_NOTREQUEST)
def test_not_json(jmap: JMAPSessions) -> None:
    _request_error(jmap.main.post(b'{"using": ["urn:ietf:params:jmap:core"], "methodCalls": [}'), "notJSON")


@case("jmap.rfc8620.3.6.1.not-json", defect=srv.NOTJSON_CONTENT_TYPE)
def test_not_json_content_type(jmap: JMAPSessions) -> None:
    _request_error(jmap.main.post(_echo_request(1), content_type="text/plain"), "notJSON")


@case("jmap.rfc8620.3.6.1.not-request", defect=srv.NOTREQUEST_200)
def test_not_request(jmap: JMAPSessions) -> None:
    _request_error(jmap.main.post(b'{"using": "urn:ietf:params:jmap:core", "calls": []}'), "notRequest")


@case("jmap.rfc8620.3.6.1.problem-details", defect=srv.PROBLEM_PLAIN)
def test_problem_details_json(jmap: JMAPSessions) -> None:
    reply = jmap.main.post(b"this is not JSON")
    if not 400 <= reply.status < 500:
        unsupported(f"the malformed request was not rejected: {reply.summary(200)}")
    devs = wire.problem_deviations(reply.json, reply.status)
    check(
        isinstance(reply.json, dict) and not devs,
        "the request-level error is not an RFC 7807 problem details object",
        expected='{"type": "urn:ietf:params:jmap:error:notJSON", "status": 400, ...}',
        observed="; ".join(map(str, devs)) or reply.summary(200),
    )


@case("jmap.rfc8620.3.6.1.problem-details", defect=srv.PROBLEM_STATUS_MISMATCH)
def test_problem_details_status(jmap: JMAPSessions) -> None:
    reply = jmap.main.call([["Core/echo", {}, "e"]], (CORE, "https://mailspec.invalid/no-such-capability"))
    if not (400 <= reply.status < 500 and isinstance(reply.json, dict)):
        unsupported(f"no problem details to inspect: {reply.summary(200)}")
    status = reply.json.get("status", reply.status)
    check(
        status == reply.status,
        "the problem details' status differs from the HTTP status",
        expected=str(reply.status),
        observed=str(status),
    )


def _limit(jmap: JMAPSessions, name: str, ceiling: int) -> int:
    jmap.require(CORE)
    value = jmap.session().core.get(name)
    if not (isinstance(value, int) and wire.is_unsigned_int(value) and 0 < value <= ceiling):
        unsupported(f"{name} is {value!r}: too large to exceed in a test")
    return value


@case("jmap.rfc8620.3.6.1.limit", defect=srv.NO_CALLS_LIMIT)
def test_max_calls_in_request(jmap: JMAPSessions) -> None:
    n = _limit(jmap, "maxCallsInRequest", 2000)
    _request_error(jmap.main.post(_echo_request(n + 1)), "limit")


@case("jmap.rfc8620.3.6.1.limit-property", defect=srv.LIMIT_NO_PROPERTY)
def test_limit_names_the_limit(jmap: JMAPSessions) -> None:
    n = _limit(jmap, "maxCallsInRequest", 2000)
    reply = jmap.main.post(_echo_request(n + 1))
    if not (400 <= reply.status < 500 and isinstance(reply.json, dict)):
        unsupported(f"the request over maxCallsInRequest got no problem details: {reply.summary(200)}")
    check(
        reply.json.get("limit") == "maxCallsInRequest",
        "the limit error does not name the limit",
        expected='"limit": "maxCallsInRequest"',
        observed=reply.summary(300),
    )


@case("jmap.rfc8620.3.6.1.limit", defect=srv.NO_SIZE_LIMIT)
def test_max_size_request(jmap: JMAPSessions) -> None:
    size = _limit(jmap, "maxSizeRequest", 64_000_000)
    body = json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {"pad": "x" * size}, "e"]]}).encode()
    _request_error(jmap.main.post(body), "limit")


@case("jmap.rfc8620.3.6.2.unknown-method", defect=srv.UNKNOWN_METHOD_FAIL)
def test_unknown_method(jmap: JMAPSessions) -> None:
    _method_error(jmap.main.call([["Mailspec/noSuchMethod", {}, "u"]], (CORE,)), "u", "unknownMethod")


@case("jmap.rfc8620.1.8.opt-in", defect=srv.IGNORE_USING)
def test_method_needs_its_capability_in_using(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    reply = jmap.main.call([["Mailbox/get", {"accountId": acc, "ids": []}, "g"]], (CORE,))
    _method_error(reply, "g", "unknownMethod")


@case("jmap.rfc8620.3.6.2.error-type", defect=srv.ERROR_NO_TYPE)
def test_error_has_type(jmap: JMAPSessions) -> None:
    reply = jmap.main.call([["Mailspec/noSuchMethod", {}, "u"]], (CORE,))
    r = reply.one("u")
    check(r is not None and r.name == "error", "the failed method has no error response", observed=reply.summary(300))
    assert r is not None
    check(isinstance(r.arguments.get("type"), str), "the error response has no type", observed=json.dumps(r.to_json()))


@case("jmap.rfc8620.3.6.2.no-http-error", defect=srv.ERROR_HTTP)
def test_method_error_is_not_http_error(jmap: JMAPSessions) -> None:
    reply = jmap.main.call([["Core/echo", {}, "a"], ["Mailspec/noSuchMethod", {}, "u"]], (CORE,))
    check(
        reply.status == 200 and reply.response is not None,
        "a method-level error turned into an HTTP error",
        expected="200 with an error response",
        observed=reply.summary(300),
    )


@case("jmap.rfc8620.3.6.2.continue-after-error", defect=srv.STOP_AFTER_ERROR)
def test_calls_after_error_processed(jmap: JMAPSessions) -> None:
    calls = [["Core/echo", {"a": 1}, "a"], ["Mailspec/noSuchMethod", {}, "u"], ["Core/echo", {"c": 3}, "c"]]
    reply = jmap.main.call(calls, (CORE,))
    check(
        reply.args("c", "Core/echo") == {"c": 3},
        "the call after a failed method was not processed",
        expected="a Core/echo response for c",
        observed=reply.summary(400),
    )


@case("jmap.rfc8620.3.6.2.account-not-found", defect=srv.ACCOUNT_NOT_FOUND_INVALID)
def test_account_not_found(jmap: JMAPSessions) -> None:
    jmap.mail_account()
    reply = jmap.one("Mailbox/get", {"accountId": "mailspec-no-such-account", "ids": []})
    _method_error(reply, "c", "accountNotFound")


@case("jmap.rfc8620.5.invalid-arguments", defect=srv.IGNORE_UNKNOWN_ARGS)
def test_unknown_argument(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    _method_error(
        jmap.one("Mailbox/get", {"accountId": acc, "ids": [], "mailspecNoSuchArgument": 1}), "c", "invalidArguments"
    )


@case("jmap.rfc8620.5.invalid-arguments", defect=srv.NO_ARG_TYPES)
def test_argument_of_wrong_type(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    _method_error(jmap.one("Mailbox/get", {"accountId": acc, "ids": "not-a-list"}), "c", "invalidArguments")


@case("jmap.rfc8620.3.6.2.no-state-change", defect=srv.ERROR_CHANGES_STATE)
def test_failed_method_changes_nothing(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    name = jmap.unique()
    args: dict[str, Any] = {"accountId": acc, "ifInState": "mailspec-stale-state", "create": {"k": {"name": name}}}
    reply = jmap.call(
        [["Mailbox/set", args, "s"], ["Mailbox/query", {"accountId": acc, "filter": {"name": name}}, "q"]]
    )
    if reply.error_type("s") != "stateMismatch":
        unsupported(f"Mailbox/set with a stale ifInState was not rejected with stateMismatch: {reply.summary(300)}")
    found = (reply.args("q", "Mailbox/query") or {}).get("ids") or []
    for i in found:
        jmap.track("Mailbox", acc, i)
    check(not found, "a Mailbox/set rejected with a method error still created the mailbox", observed=json.dumps(found))

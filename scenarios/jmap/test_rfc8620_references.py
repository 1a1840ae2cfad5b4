"""RFC 8620 sections 3.3, 3.4, 3.7 and 5.3: result references, createdIds and creation id references."""

import json
from typing import Any

from conformance.clients.jmap import CORE, JMAPSessions
from conformance.scenario import case
from conformance.servers.jmap import core as srv
from conformance.verdict import check, unsupported


def _ref(result_of: str, name: str, path: str) -> dict[str, str]:
    return {"resultOf": result_of, "name": name, "path": path}


def _error(
    jmap: JMAPSessions, calls: list[list[Any]], call_id: str, kind: str, using: tuple[str, ...] = (CORE,)
) -> None:
    reply = jmap.main.call(calls, using)
    got = reply.error_type(call_id)
    check(
        got == kind,
        f"the call was not rejected with {kind}",
        expected=f'["error", {{"type": "{kind}"}}, "{call_id}"]',
        observed=json.dumps([r.to_json() for r in reply.by_id(call_id)])[:400] or reply.summary(300),
    )


@case("jmap.rfc8620.3.7.result-reference", defect=srv.NO_BACKREFS)
def test_result_reference_resolved(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    calls = [
        ["Mailbox/query", {"accountId": acc}, "q"],
        ["Mailbox/get", {"accountId": acc, "#ids": _ref("q", "Mailbox/query", "/ids"), "properties": ["id"]}, "g"],
    ]
    reply = jmap.call(calls)
    ids = jmap.ok(reply, "q", "Mailbox/query").get("ids")
    got = reply.args("g", "Mailbox/get")
    check(got is not None, "the Mailbox/get with #ids was not processed", observed=reply.summary(400))
    assert got is not None
    listed = sorted(m.get("id") for m in got.get("list") or [])
    check(
        listed == sorted(ids or []),
        "#ids did not resolve to the ids of the query",
        expected=json.dumps(sorted(ids or [])),
        observed=json.dumps(listed),
    )


@case("jmap.rfc8620.3.7.star-flatten", defect=srv.BACKREF_NO_FLATTEN)
def test_star_flattens_arrays(jmap: JMAPSessions) -> None:
    data = {"items": [{"v": ["a", "b"]}, {"v": ["c"]}, {"v": []}]}
    reply = jmap.main.call(
        [["Core/echo", data, "e1"], ["Core/echo", {"#out": _ref("e1", "Core/echo", "/items/*/v")}, "e2"]], (CORE,)
    )
    got = reply.args("e2", "Core/echo")
    check(
        got == {"out": ["a", "b", "c"]},
        "'*' did not map through the array and flatten it",
        expected='{"out": ["a", "b", "c"]}',
        observed=json.dumps(got) if got else reply.summary(300),
    )


@case("jmap.rfc8620.3.7.invalid-result-reference", defect=srv.BACKREF_WRONG_ERROR)
def test_unknown_result_of(jmap: JMAPSessions) -> None:
    _error(jmap, [["Core/echo", {"#x": _ref("mailspec-none", "Core/echo", "/a")}, "e"]], "e", "invalidResultReference")


@case("jmap.rfc8620.3.7.invalid-result-reference", defect=srv.BACKREF_WRONG_ERROR)
def test_bad_path(jmap: JMAPSessions) -> None:
    calls = [["Core/echo", {"a": 1}, "e1"], ["Core/echo", {"#x": _ref("e1", "Core/echo", "/no/such/member")}, "e2"]]
    _error(jmap, calls, "e2", "invalidResultReference")


@case("jmap.rfc8620.3.7.name-mismatch", defect=srv.BACKREF_IGNORES_NAME)
def test_reference_name_mismatch(jmap: JMAPSessions) -> None:
    calls = [["Core/echo", {"a": [1]}, "e1"], ["Core/echo", {"#x": _ref("e1", "Mailbox/get", "/a")}, "e2"]]
    _error(jmap, calls, "e2", "invalidResultReference")


@case("jmap.rfc8620.3.7.both-forms", defect=srv.BACKREF_BOTH_OK)
def test_plain_and_referenced_argument(jmap: JMAPSessions) -> None:
    calls = [["Core/echo", {"a": 1}, "e1"], ["Core/echo", {"x": 2, "#x": _ref("e1", "Core/echo", "/a")}, "e2"]]
    _error(jmap, calls, "e2", "invalidArguments")


@case("jmap.rfc8620.3.3.created-ids-returned", defect=srv.DROP_CREATED_IDS)
def test_created_ids_returned(jmap: JMAPSessions) -> None:
    reply = jmap.main.call([["Core/echo", {}, "e"]], (CORE,), created_ids={})
    check(
        isinstance(reply.json, dict) and isinstance(reply.json.get("createdIds"), dict),
        "the Response has no createdIds although the Request gave one",
        observed=reply.summary(300),
    )


@case("jmap.rfc8620.3.4.created-ids", defect=srv.CREATED_IDS_STALE)
def test_created_ids_include_new_records(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    reply = jmap.call(
        [["Mailbox/set", {"accountId": acc, "create": {"mk": {"name": jmap.unique()}}}, "s"]],
        created_ids={"earlier": "Mmailspec1"},
    )
    created = (jmap.ok(reply, "s", "Mailbox/set").get("created") or {}).get("mk") or {}
    if not isinstance(created.get("id"), str):
        unsupported(f"the mailbox was not created: {reply.summary(300)}")
    jmap.track("Mailbox", acc, created["id"])
    got = reply.json.get("createdIds") if isinstance(reply.json, dict) else None
    want = {"earlier": "Mmailspec1", "mk": created["id"]}
    check(
        got == want,
        "createdIds does not hold the given and the new creation ids",
        expected=json.dumps(want),
        observed=json.dumps(got),
    )


def _created(jmap: JMAPSessions, acc: str, reply_args: dict[str, Any], *keys: str) -> dict[str, str]:
    created = reply_args.get("created") or {}
    out = {}
    for k in keys:
        rec = created.get(k)
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            out[k] = rec["id"]
            jmap.track("Mailbox", acc, rec["id"])
    return out


def _parent_of(jmap: JMAPSessions, acc: str, mailbox_id: str) -> object:
    got = jmap.ok(
        jmap.one("Mailbox/get", {"accountId": acc, "ids": [mailbox_id], "properties": ["parentId"]}), "c", "Mailbox/get"
    )
    return next((m.get("parentId") for m in got.get("list") or []), "(not found)")


@case("jmap.rfc8620.5.3.creation-id-map", defect=srv.CREATION_REF_UNRESOLVED)
def test_creation_id_across_calls(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    calls = [
        ["Mailbox/set", {"accountId": acc, "create": {"p": {"name": jmap.unique()}}}, "s1"],
        ["Mailbox/set", {"accountId": acc, "create": {"c": {"name": "child", "parentId": "#p"}}}, "s2"],
    ]
    reply = jmap.call(calls)
    parent = _created(jmap, acc, jmap.ok(reply, "s1", "Mailbox/set"), "p")
    if "p" not in parent:
        unsupported(f"the parent mailbox was not created: {reply.summary(300)}")
    child = _created(jmap, acc, reply.args("s2", "Mailbox/set") or {}, "c")
    check("c" in child, "a create referencing #p (created by an earlier call) failed", observed=reply.summary(500))
    got = _parent_of(jmap, acc, child["c"])
    check(got == parent["p"], "#p was not replaced by the id created for p", expected=parent["p"], observed=str(got))


@case("jmap.rfc8620.5.3.same-call-reference", defect=srv.SAME_CALL_NAIVE)
def test_creation_id_in_same_call(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    # The child comes first in the map: the server has to create the parent before it.
    create = {"c": {"name": "child", "parentId": "#p"}, "p": {"name": jmap.unique()}}
    reply = jmap.call([["Mailbox/set", {"accountId": acc, "create": create}, "s"]])
    ids = _created(jmap, acc, jmap.ok(reply, "s", "Mailbox/set"), "p", "c")
    if "p" not in ids:
        unsupported(f"the parent mailbox was not created: {reply.summary(300)}")
    check("c" in ids, "a create referencing a creation id of the same call failed", observed=reply.summary(500))
    got = _parent_of(jmap, acc, ids["c"])
    check(got == ids["p"], "#p was not replaced by the id created for p", expected=ids["p"], observed=str(got))

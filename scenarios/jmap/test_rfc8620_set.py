"""RFC 8620 section 5.3: Foo/set (create, update with PatchObjects, destroy, ifInState, SetErrors), on Mailbox."""

import json
from typing import Any

from conformance.clients.jmap import JMAPSessions, too_large
from conformance.scenario import case
from conformance.servers.jmap import core as srv
from conformance.verdict import check, unsupported
from conformance.wire import jmap as wire

MISSING = "Mmailspec-no-such-mailbox"


def _set(jmap: JMAPSessions, acc: str, **args: Any) -> dict[str, Any]:
    reply = jmap.one("Mailbox/set", {"accountId": acc, **args})
    got = reply.args("c", "Mailbox/set")
    check(got is not None, "Mailbox/set failed as a whole", observed=reply.summary(400))
    assert got is not None
    for rec in (got.get("created") or {}).values():
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            jmap.track("Mailbox", acc, rec["id"])
    return got


def _set_error(got: dict[str, Any], where: str, key: str, *kinds: str) -> dict[str, Any]:
    err = (got.get(where) or {}).get(key)
    check(
        isinstance(err, dict) and err.get("type") in kinds,
        f"{key} is not in {where} with a {' or '.join(kinds)} SetError",
        expected=f'{where}: {{"{key}": {{"type": "{kinds[0]}"}}}}',
        observed=json.dumps(got)[:500],
    )
    assert isinstance(err, dict)
    return err


def _name_of(jmap: JMAPSessions, acc: str, mailbox_id: str) -> object:
    got = jmap.ok(
        jmap.one("Mailbox/get", {"accountId": acc, "ids": [mailbox_id], "properties": ["name"]}), "c", "Mailbox/get"
    )
    return next((m.get("name") for m in got.get("list") or []), None)


@case("jmap.rfc8620.5.3.created", defect=srv.SET_CREATED_NO_ID)
def test_create_returns_id(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    got = _set(jmap, acc, create={"k": {"name": jmap.unique()}})
    rec = (got.get("created") or {}).get("k")
    check(
        isinstance(rec, dict) and wire.is_id(rec.get("id")),
        "created has no Id for the creation id",
        expected='created: {"k": {"id": ...}}',
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8620.5.3.new-state", defect=srv.SET_SAME_STATE)
def test_set_new_state(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    got = _set(jmap, acc, create={"k": {"name": jmap.unique()}})
    check(
        isinstance(got.get("newState"), str) and got.get("newState") != got.get("oldState"),
        "newState is the old state although a mailbox was created",
        observed=f"oldState {got.get('oldState')}, newState {got.get('newState')}",
    )


@case("jmap.rfc8620.5.3.patch-set", defect=srv.UPDATE_NOT_APPLIED)
def test_update_applies_patch(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    new = jmap.unique("renamed")
    got = _set(jmap, acc, update={mine: {"name": new}})
    check(mine in (got.get("updated") or {}), "the update is not in updated", observed=json.dumps(got)[:400])
    name = _name_of(jmap, acc, mine)
    check(name == new, "the patched property did not take the new value", expected=new, observed=str(name))


@case("jmap.rfc8620.5.3.patch-prefix", defect=srv.PATCH_NO_CHECK)
def test_patch_prefix_rejected(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    got = _set(jmap, acc, update={mine: {"name": jmap.unique(), "name/sub": "x"}})
    _set_error(got, "notUpdated", mine, "invalidPatch")


@case("jmap.rfc8620.5.3.server-set-update", defect=srv.SERVER_SET_WRITABLE)
def test_update_server_set_property(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    got = _set(jmap, acc, update={mine: {"totalEmails": 4242}})
    _set_error(got, "notUpdated", mine, "invalidProperties")


@case("jmap.rfc8620.5.3.server-set-update", defect=srv.SERVER_SET_SAME_REJECTED)
def test_update_server_set_same_value(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    current = jmap.ok(jmap.one("Mailbox/get", {"accountId": acc, "ids": [mine]}), "c", "Mailbox/get").get("list") or []
    if not current:
        unsupported("the new mailbox cannot be read back")
    # The whole object is a valid PatchObject: server-set values equal to the current ones are allowed.
    whole = {k: v for k, v in current[0].items() if k != "id"}
    got = _set(jmap, acc, update={mine: whole})
    check(
        mine in (got.get("updated") or {}),
        "an update repeating the current server-set values was rejected",
        observed=json.dumps(got)[:500],
    )


@case("jmap.rfc8620.5.3.server-set-create", defect=srv.SERVER_SET_WRITABLE)
def test_create_with_id(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    got = _set(jmap, acc, create={"k": {"id": "Mmailspecchosen", "name": jmap.unique()}})
    _set_error(got, "notCreated", "k", "invalidProperties")


@case("jmap.rfc8620.5.3.properties-listed", defect=srv.INVALID_PROPERTIES_NO_LIST)
def test_invalid_properties_listed(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    got = _set(jmap, acc, create={"k": {"name": jmap.unique(), "mailspecNoSuchProperty": 1}})
    err = _set_error(got, "notCreated", "k", "invalidProperties")
    props = err.get("properties")
    check(
        isinstance(props, list) and "mailspecNoSuchProperty" in props,
        "the invalidProperties SetError does not list the property",
        expected='properties: ["mailspecNoSuchProperty"]',
        observed=json.dumps(err),
    )


@case("jmap.rfc8620.5.3.continue-after-set-error", defect=srv.SET_STOPS_AT_ERROR)
def test_set_continues_after_rejection(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    create = {"bad": {"name": jmap.unique(), "mailspecNoSuchProperty": 1}, "good": {"name": jmap.unique()}}
    got = _set(jmap, acc, create=create)
    _set_error(got, "notCreated", "bad", "invalidProperties")
    check(
        "good" in (got.get("created") or {}),
        "the create after a rejected one was not made",
        observed=json.dumps(got)[:500],
    )


@case("jmap.rfc8620.5.3.not-found", defect=srv.SET_NOTFOUND_OK)
def test_destroy_unknown(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    _set_error(_set(jmap, acc, destroy=[MISSING]), "notDestroyed", MISSING, "notFound")


@case("jmap.rfc8620.5.3.not-found", defect=srv.SET_ERROR_TYPE_CASE)
def test_update_unknown(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    _set_error(_set(jmap, acc, update={MISSING: {"name": jmap.unique()}}), "notUpdated", MISSING, "notFound")


@case("jmap.rfc8620.5.3.destroy", defect=srv.DESTROY_NOT_APPLIED)
def test_destroy(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    got = _set(jmap, acc, destroy=[mine])
    check(mine in (got.get("destroyed") or []), "the mailbox is not in destroyed", observed=json.dumps(got)[:400])
    after = jmap.ok(jmap.one("Mailbox/get", {"accountId": acc, "ids": [mine]}), "c", "Mailbox/get")
    check(
        after.get("notFound") == [mine],
        "a destroyed mailbox can still be fetched",
        expected=f"notFound [{mine}]",
        observed=json.dumps(after)[:300],
    )


@case("jmap.rfc8620.5.3.if-in-state", defect=srv.IGNORE_IF_IN_STATE)
def test_if_in_state_mismatch(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    reply = jmap.one(
        "Mailbox/set",
        {"accountId": acc, "ifInState": "mailspec-stale-state", "update": {mine: {"name": jmap.unique()}}},
    )
    check(
        reply.error_type("c") == "stateMismatch",
        "a stale ifInState did not abort the call with stateMismatch",
        expected="stateMismatch",
        observed=reply.summary(400),
    )


@case("jmap.rfc8620.5.3.request-too-large", defect=srv.SET_NO_LIMIT)
def test_set_too_many(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    limit = jmap.session().core.get("maxObjectsInSet")
    if not (wire.is_unsigned_int(limit) and isinstance(limit, int) and limit <= 20000):
        unsupported(f"maxObjectsInSet is {limit!r}")
    destroy = [f"Mmailspec{i}" for i in range(limit + 1)]
    too_large(jmap.one("Mailbox/set", {"accountId": acc, "destroy": destroy}), "maxObjectsInSet")

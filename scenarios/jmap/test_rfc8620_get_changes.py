"""RFC 8620 sections 5.1 and 5.2: Foo/get and Foo/changes, on Mailbox (RFC 8621) when the server has mail."""

import json
from typing import Any

from conformance.clients.jmap import JMAPSessions, Reply, too_large
from conformance.scenario import case
from conformance.servers.jmap import core as srv
from conformance.verdict import check, unsupported
from conformance.wire import jmap as wire

MISSING = "Mmailspec-no-such-mailbox"


def _get(jmap: JMAPSessions, acc: str, **args: Any) -> dict[str, Any]:
    reply = jmap.one("Mailbox/get", {"accountId": acc, **args})
    got = reply.args("c", "Mailbox/get")
    check(got is not None, "Mailbox/get failed", observed=reply.summary(400))
    assert got is not None
    return got


def _changes(jmap: JMAPSessions, acc: str, since: str, **args: Any) -> Reply:
    return jmap.one("Mailbox/changes", {"accountId": acc, "sinceState": since, **args})


def _changes_ok(jmap: JMAPSessions, acc: str, since: str, **args: Any) -> dict[str, Any]:
    reply = _changes(jmap, acc, since, **args)
    if reply.error_type("c") == "cannotCalculateChanges":
        unsupported("Mailbox/changes answers cannotCalculateChanges for a state it just gave")
    got = reply.args("c", "Mailbox/changes")
    check(got is not None, "Mailbox/changes failed", observed=reply.summary(400))
    assert got is not None
    return got


def _error(reply: Reply, *kinds: str) -> None:
    check(
        reply.error_type("c") in kinds,
        f"the call was not rejected with {kinds[0]}",
        expected=" or ".join(kinds),
        observed=reply.summary(400),
    )


@case("jmap.rfc8620.5.1.ids-null", defect=srv.GET_NULL_EMPTY)
def test_get_all(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    listed = [m.get("id") for m in _get(jmap, acc, ids=None)["list"]]
    check(
        mine in listed,
        "Mailbox/get with ids null did not return every mailbox",
        expected=f"a list containing {mine}",
        observed=json.dumps(listed)[:300],
    )


@case("jmap.rfc8620.5.1.not-found", defect=srv.GET_NOT_FOUND_MISSING)
def test_get_not_found(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    got = _get(jmap, acc, ids=[MISSING])
    check(
        got.get("notFound") == [MISSING] and not got.get("list"),
        "an unknown id is not in notFound",
        expected=f'notFound: ["{MISSING}"]',
        observed=json.dumps(got)[:300],
    )


@case("jmap.rfc8620.5.1.properties", defect=srv.GET_IGNORES_PROPERTIES)
def test_get_properties(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    got = _get(jmap, acc, ids=[mine], properties=["name"])["list"]
    keys = sorted(got[0]) if got else []
    check(
        keys in (["id", "name"], ["name"]),
        "Mailbox/get returned properties that were not asked for",
        expected='["id", "name"]',
        observed=json.dumps(keys),
    )


@case("jmap.rfc8620.5.1.id-always", defect=srv.GET_NO_ID)
def test_get_id_always(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    got = _get(jmap, acc, ids=[mine], properties=["name"])["list"]
    check(
        got and got[0].get("id") == mine,
        "the id was not returned when properties did not name it",
        expected=mine,
        observed=json.dumps(got)[:300],
    )


@case("jmap.rfc8620.5.1.invalid-property", defect=srv.GET_BAD_PROPERTY_OK)
def test_get_invalid_property(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    _error(
        jmap.one("Mailbox/get", {"accountId": acc, "ids": [], "properties": ["mailspecNoSuchProperty"]}),
        "invalidArguments",
    )


@case("jmap.rfc8620.5.1.state-changes", defect=srv.GET_STATE_STATIC)
def test_get_state_changes(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    before = _get(jmap, acc, ids=[]).get("state")
    jmap.mailboxes(jmap.unique())
    after = _get(jmap, acc, ids=[]).get("state")
    check(
        isinstance(after, str) and after != before,
        "the Mailbox state did not change when a mailbox was created",
        expected=f"a state other than {before}",
        observed=str(after),
    )


@case("jmap.rfc8620.5.1.duplicate-ids", defect=srv.GET_DUPLICATES)
def test_get_duplicate_ids(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    got = _get(jmap, acc, ids=[mine, mine, MISSING, MISSING], properties=["id"])
    listed = [m.get("id") for m in got.get("list") or []]
    check(
        listed == [mine] and got.get("notFound") == [MISSING],
        "an id asked twice is returned twice",
        expected=f"list [{mine}], notFound [{MISSING}]",
        observed=json.dumps(got)[:300],
    )


@case("jmap.rfc8620.5.1.request-too-large", defect=srv.GET_NO_LIMIT)
def test_get_too_many_ids(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    limit = jmap.session().core.get("maxObjectsInGet")
    if not (wire.is_unsigned_int(limit) and isinstance(limit, int) and limit <= 20000):
        unsupported(f"maxObjectsInGet is {limit!r}")
    ids = [f"Mmailspec{i}" for i in range(limit + 1)]
    too_large(jmap.one("Mailbox/get", {"accountId": acc, "ids": ids, "properties": ["id"]}), "maxObjectsInGet")


@case("jmap.rfc8620.5.2.created", defect=srv.CHANGES_CREATED_AS_UPDATED)
def test_changes_created(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    since = jmap.state("Mailbox", acc)
    (mine,) = jmap.mailboxes(jmap.unique())
    got = _changes_ok(jmap, acc, since)
    check(
        mine in (got.get("created") or []) and mine not in (got.get("destroyed") or []),
        "a new mailbox is not in created",
        expected=mine,
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8620.5.2.updated", defect=srv.CHANGES_NO_UPDATED)
def test_changes_updated(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    since = jmap.state("Mailbox", acc)
    jmap.ok(
        jmap.one("Mailbox/set", {"accountId": acc, "update": {mine: {"name": jmap.unique("renamed")}}}),
        "c",
        "Mailbox/set",
    )
    got = _changes_ok(jmap, acc, since)
    check(
        mine in (got.get("updated") or []),
        "a renamed mailbox is not in updated",
        expected=mine,
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8620.5.2.updated", defect=srv.CHANGES_PHANTOM)
def test_changes_none(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    since = jmap.state("Mailbox", acc)
    got = _changes_ok(jmap, acc, since)
    check(
        mine not in (got.get("updated") or []),
        "a mailbox nobody touched is reported as updated",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8620.5.2.destroyed", defect=srv.CHANGES_NO_DESTROYED)
def test_changes_destroyed(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    (mine,) = jmap.mailboxes(jmap.unique())
    since = jmap.state("Mailbox", acc)
    jmap.ok(jmap.one("Mailbox/set", {"accountId": acc, "destroy": [mine]}), "c", "Mailbox/set")
    got = _changes_ok(jmap, acc, since)
    check(
        mine in (got.get("destroyed") or []),
        "a destroyed mailbox is not in destroyed",
        expected=mine,
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8620.5.2.max-changes", defect=srv.CHANGES_IGNORE_MAX)
def test_changes_max(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    since = jmap.state("Mailbox", acc)
    jmap.mailboxes(jmap.unique("a"), jmap.unique("b"), jmap.unique("c"))
    reply = _changes(jmap, acc, since, maxChanges=1)
    if reply.error_type("c") == "cannotCalculateChanges":
        unsupported("the server cannot calculate an intermediate state (cannotCalculateChanges, as allowed)")
    got = reply.args("c", "Mailbox/changes") or {}
    n = sum(len(got.get(k) or []) for k in ("created", "updated", "destroyed"))
    check(
        got and n <= 1,
        "Mailbox/changes returned more ids than maxChanges",
        expected="at most 1",
        observed=json.dumps(got)[:400] or reply.summary(300),
    )


@case("jmap.rfc8620.5.2.has-more-changes", defect=srv.CHANGES_NO_MORE_FLAG)
def test_changes_paging(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    since = jmap.state("Mailbox", acc)
    mine = jmap.mailboxes(jmap.unique("a"), jmap.unique("b"))
    seen: set[str] = set()
    for _ in range(50):
        reply = _changes(jmap, acc, since, maxChanges=1)
        if reply.error_type("c") == "cannotCalculateChanges":
            unsupported("the server cannot calculate an intermediate state (cannotCalculateChanges, as allowed)")
        got = reply.args("c", "Mailbox/changes")
        check(got is not None, "Mailbox/changes failed", observed=reply.summary(300))
        assert got is not None
        seen.update(got.get("created") or [])
        if not got.get("hasMoreChanges"):
            break
        since = str(got.get("newState"))
    check(
        set(mine) <= seen,
        "hasMoreChanges was false before every change was returned",
        expected=" ".join(mine),
        observed=" ".join(sorted(seen)),
    )


@case("jmap.rfc8620.5.2.max-changes-positive", defect=srv.CHANGES_MAX_ZERO_OK)
def test_changes_max_zero(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    _error(_changes(jmap, acc, jmap.state("Mailbox", acc), maxChanges=0), "invalidArguments")


@case("jmap.rfc8620.5.2.cannot-calculate", defect=srv.CHANGES_ANY_STATE)
def test_changes_unknown_state(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    # A state the server never issued may also be refused as malformed (invalidArguments).
    _error(_changes(jmap, acc, "mailspec-never-issued-state"), "cannotCalculateChanges", "invalidArguments")

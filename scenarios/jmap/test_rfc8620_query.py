"""RFC 8620 sections 5.5 and 5.6: Foo/query and Foo/queryChanges, on Mailbox (children of a scratch mailbox)."""

import json
from typing import Any

from conformance.clients.jmap import JMAPSessions, Reply
from conformance.scenario import case
from conformance.servers.jmap import core as srv
from conformance.verdict import check, unsupported

# Created in this order, so creation order is not name order.
NAMES = ("charlie", "alpha", "bravo")


class Tree:
    """A scratch parent with children named NAMES; queries filter on the parent."""

    def __init__(self, jmap: JMAPSessions) -> None:
        self.jmap = jmap
        self.acc = jmap.mail_account()
        (self.parent,) = jmap.mailboxes(jmap.unique())
        ids = jmap.mailboxes(*NAMES, parent=self.parent)
        self.ids = dict(zip(NAMES, ids, strict=True))
        self.sorted = [self.ids[n] for n in sorted(NAMES)]  # alpha, bravo, charlie

    def query(self, **args: Any) -> Reply:
        args.setdefault("filter", {"parentId": self.parent})
        args.setdefault("sort", [{"property": "name", "isAscending": True}])
        return self.jmap.one("Mailbox/query", {"accountId": self.acc, **args})

    def ids_of(self, **args: Any) -> list[str]:
        return list(self.result(**args).get("ids") or [])

    def result(self, **args: Any) -> dict[str, Any]:
        reply = self.query(**args)
        got = reply.args("c", "Mailbox/query")
        if got is None and reply.error_type("c") in ("unsupportedSort", "unsupportedFilter"):
            unsupported(f"the server cannot run this Mailbox/query: {reply.summary(200)}")
        check(got is not None, "Mailbox/query failed", observed=reply.summary(400))
        assert got is not None
        return got

    def names(self, ids: list[str]) -> str:
        back = {v: k for k, v in self.ids.items()}
        return json.dumps([back.get(i, i) for i in ids])


def _expect(tree: Tree, got: list[str], want: list[str], message: str) -> None:
    check(got == want, message, expected=tree.names(want), observed=tree.names(got))


def _error(reply: Reply, *kinds: str) -> None:
    check(
        reply.error_type("c") in kinds,
        f"the query was not rejected with {kinds[0]}",
        expected=" or ".join(kinds),
        observed=reply.summary(400),
    )


@case("jmap.rfc8620.5.5.sort", defect=srv.QUERY_SORT_IGNORED)
def test_sort_ascending(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _expect(t, t.ids_of(), t.sorted, "the results are not sorted by name")


@case("jmap.rfc8620.5.5.descending", defect=srv.QUERY_SORT_IGNORED)
def test_sort_descending(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _expect(
        t,
        t.ids_of(sort=[{"property": "name", "isAscending": False}]),
        t.sorted[::-1],
        "isAscending false did not reverse the order",
    )


@case("jmap.rfc8620.5.5.filter", defect=srv.QUERY_FILTER_IGNORED)
def test_filter(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _expect(t, t.ids_of(), t.sorted, "the filter on parentId did not select exactly the children")


@case("jmap.rfc8620.5.5.filter-or", defect=srv.QUERY_OPERATOR_AND)
def test_filter_or(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    either = {"operator": "OR", "conditions": [{"name": "alpha"}, {"name": "charlie"}]}
    f = {"operator": "AND", "conditions": [{"parentId": t.parent}, either]}
    _expect(
        t, t.ids_of(filter=f), [t.ids["alpha"], t.ids["charlie"]], "OR did not match records meeting either condition"
    )


@case("jmap.rfc8620.5.5.filter-not", defect=srv.QUERY_OPERATOR_AND)
def test_filter_not(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    f = {
        "operator": "AND",
        "conditions": [{"parentId": t.parent}, {"operator": "NOT", "conditions": [{"name": "alpha"}]}],
    }
    _expect(
        t,
        t.ids_of(filter=f),
        [t.ids["bravo"], t.ids["charlie"]],
        "NOT did not exclude the records meeting the condition",
    )


@case("jmap.rfc8620.5.5.position", defect=srv.QUERY_POSITION_IGNORED)
def test_position(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    got = t.result(position=1)
    _expect(t, list(got.get("ids") or []), t.sorted[1:], "position 1 did not skip the first result")
    check(got.get("position") == 1, "the response position is not 1", observed=str(got.get("position")))


@case("jmap.rfc8620.5.5.past-the-end", defect=srv.QUERY_POSITION_IGNORED)
def test_position_past_the_end(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _expect(t, t.ids_of(position=10), [], "a position past the end did not give an empty list")


@case("jmap.rfc8620.5.5.negative-position", defect=srv.QUERY_NEGATIVE_POSITION)
def test_negative_position(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _expect(t, t.ids_of(position=-1), t.sorted[-1:], "position -1 did not give the last result")


@case("jmap.rfc8620.5.5.anchor", defect=srv.QUERY_ANCHOR_IGNORED)
def test_anchor(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _expect(
        t,
        t.ids_of(anchor=t.ids["bravo"], position=0),
        t.sorted[1:],
        "the anchor did not set the first result (position must be ignored)",
    )


@case("jmap.rfc8620.5.5.anchor-offset", defect=srv.QUERY_ANCHOR_IGNORED)
def test_anchor_offset(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _expect(
        t,
        t.ids_of(anchor=t.ids["charlie"], anchorOffset=-1),
        t.sorted[1:],
        "anchorOffset -1 did not start one before the anchor",
    )


@case("jmap.rfc8620.5.5.anchor-not-found", defect=srv.QUERY_ANCHOR_NOT_FOUND_OK)
def test_anchor_not_found(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _error(t.query(anchor="Mmailspec-no-such-mailbox"), "anchorNotFound")


@case("jmap.rfc8620.5.5.total", defect=srv.QUERY_NO_TOTAL)
def test_total(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    got = t.result(calculateTotal=True, limit=1)
    check(
        got.get("total") == len(NAMES),
        "total is not the number of results",
        expected=str(len(NAMES)),
        observed=str(got.get("total")),
    )


@case("jmap.rfc8620.5.5.total-omitted", defect=srv.QUERY_TOTAL_ALWAYS)
def test_total_omitted(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    got = t.result()
    check("total" not in got, "total was sent although calculateTotal was not true", observed=json.dumps(got)[:300])


@case("jmap.rfc8620.5.5.limit", defect=srv.QUERY_LIMIT_IGNORED)
def test_limit(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _expect(t, t.ids_of(limit=2), t.sorted[:2], "limit 2 did not cut the results to two")


@case("jmap.rfc8620.5.5.negative-limit", defect=srv.QUERY_NEGATIVE_LIMIT_OK)
def test_negative_limit(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _error(t.query(limit=-1), "invalidArguments")


@case("jmap.rfc8620.5.5.query-state", defect=srv.QUERY_STATE_STATIC)
def test_query_state_changes(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    before = t.result().get("queryState")
    jmap.mailboxes("delta", parent=t.parent)
    after = t.result().get("queryState")
    check(
        isinstance(after, str) and after != before,
        "queryState did not change when the results changed",
        expected=f"not {before}",
        observed=str(after),
    )


@case("jmap.rfc8620.5.5.unsupported-sort", defect=srv.QUERY_BAD_SORT_OK)
def test_unsupported_sort(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    _error(t.query(sort=[{"property": "mailspecNoSuchProperty"}]), "unsupportedSort")


@case("jmap.rfc8620.5.5.unsupported-filter", defect=srv.QUERY_BAD_FILTER_OK)
def test_unsupported_filter(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    # A condition on a property the type does not define; some servers call that invalidArguments.
    _error(t.query(filter={"mailspecNoSuchProperty": "x"}), "unsupportedFilter", "invalidArguments")


def _query_changes(t: Tree, since: str) -> dict[str, Any]:
    reply = t.jmap.one(
        "Mailbox/queryChanges",
        {
            "accountId": t.acc,
            "filter": {"parentId": t.parent},
            "sort": [{"property": "name"}],
            "sinceQueryState": since,
        },
    )
    if reply.error_type("c") == "cannotCalculateChanges":
        unsupported("Mailbox/queryChanges answers cannotCalculateChanges (as allowed)")
    got = reply.args("c", "Mailbox/queryChanges")
    check(got is not None, "Mailbox/queryChanges failed", observed=reply.summary(400))
    assert got is not None
    return got


@case("jmap.rfc8620.5.6.added", defect=srv.QUERY_CHANGES_NO_ADDED)
def test_query_changes_added(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    since = str(t.result(sort=[{"property": "name"}]).get("queryState"))
    (new,) = jmap.mailboxes("delta", parent=t.parent)
    got = _query_changes(t, since)
    added = {a.get("id"): a.get("index") for a in got.get("added") or [] if isinstance(a, dict)}
    check(
        added.get(new) == 3,
        "the new record is not in added at its index",
        expected=f'{{"id": "{new}", "index": 3}}',
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8620.5.6.removed", defect=srv.QUERY_CHANGES_NO_REMOVED)
def test_query_changes_removed(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    since = str(t.result(sort=[{"property": "name"}]).get("queryState"))
    gone = t.ids["bravo"]
    jmap.ok(jmap.one("Mailbox/set", {"accountId": t.acc, "destroy": [gone]}), "c", "Mailbox/set")
    got = _query_changes(t, since)
    check(
        gone in (got.get("removed") or []),
        "the destroyed record is not in removed",
        expected=gone,
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8620.5.6.cannot-calculate", defect=srv.QUERY_CHANGES_ANY_STATE)
def test_query_changes_unknown_state(jmap: JMAPSessions) -> None:
    t = Tree(jmap)
    reply = jmap.one(
        "Mailbox/queryChanges",
        {
            "accountId": t.acc,
            "filter": {"parentId": t.parent},
            "sort": [{"property": "name"}],
            "sinceQueryState": "mailspec-never-issued",
        },
    )
    _error(reply, "cannotCalculateChanges", "invalidArguments")

"""RFC 8620 5.5, 5.1 and 5.2: paging through clamped query results, and keeping up to date with
/changes (from the state before a fetch that new mail overtook, changes handed out in steps,
and a state the server can no longer calculate from)."""

from conformance.agents import mailspec_jmap as agent
from conformance.agents.harness import USER, ClientCase, RunResult
from conformance.agents.jmap import Served, check_exact, fetch_all, jmap_message, jmap_server
from conformance.scenario import case
from conformance.servers.jmap import client_habits as habit
from conformance.verdict import check, unsupported


@case("jmap.rfc8620.5.5.client-clamped-limit", defect=agent.ONE_PAGE)
def test_pages_through_clamped_query_results(client: ClientCase) -> None:
    msgs = [jmap_message(i) for i in range(1, 6)]
    fetch_all(client, jmap_server(client, habit.QUERY_CLAMP, messages=msgs).srv, msgs)


@case("jmap.rfc8620.5.5.client-query-state-changed", defect=agent.IGNORES_QUERY_STATE)
def test_results_that_move_between_pages(client: ClientCase) -> None:
    """Pages of 2; right after the first page another client destroys its first message, so the
    queryState changes and every later message moves up one place: paging on by position skips one."""
    msgs = [jmap_message(i) for i in range(1, 6)]
    served = jmap_server(client, habit.QUERY_CLAMP, habit.QUERY_SHIFT, messages=msgs)
    run = client.run("jmap.fetch-all", served.srv)
    if not served.events:
        unsupported(f"the client made no Email/query ({run.summary()})")
    left = [m.data for m in served.srv.store.messages(USER)]
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, left)


def _sync_twice(client: ClientCase, served: Served, first: list[bytes], new: list[bytes]) -> RunResult:
    """Sync, deliver ``new``, sync again with the client's own state; the second run must bring
    ``new`` and must have used Email/changes (a full refetch says nothing about these rules)."""
    srv = served.srv
    run1 = client.run("jmap.sync", srv)
    check(run1.ok, "the first sync failed", observed=run1.summary())
    check_exact(run1, first)
    acct = srv.store.account(USER)
    assert acct is not None
    for m in new:
        srv.store.deliver(acct, m, "sender@mailspec.test")
    mark = len(served.seen)
    run2 = client.run("jmap.sync", srv, workdir=str(run1.maildir.parent), maildir=str(run1.maildir))
    changes = [c for s in served.seen[mark:] for c in s.calls() if c[0] == "Email/changes"]
    if not changes:
        unsupported(f"the client's second sync did not call Email/changes ({run2.summary()})")
    check(run2.ok, "the second sync failed", observed=run2.summary())
    check_exact(run2, first + new, maildir=run1.maildir)
    return run2


@case("jmap.rfc8620.5.1.client-state-changed", defect=agent.LATE_STATE)
def test_mail_that_arrives_during_a_fetch(client: ClientCase) -> None:
    """A message arrives while the client fetches (the Email state moves on under it): the next
    sync must bring it, so the state the client keeps is the one from before its query."""
    first = [jmap_message(1), jmap_message(2)]
    served = jmap_server(client, habit.NEW_MAIL_DURING_GET, messages=first)
    run1 = client.run("jmap.sync", served.srv)
    check(run1.ok, "the first sync failed", observed=run1.summary())
    if "new mail" not in served.events:
        unsupported(f"the client never asked Email/get for the messages its query returned ({run1.summary()})")
    run2 = client.run("jmap.sync", served.srv, workdir=str(run1.maildir.parent), maildir=str(run1.maildir))
    check(run2.ok, "the second sync failed", observed=run2.summary())
    check_exact(run2, [*first, habit.NEW_MAIL], maildir=run1.maildir)


@case("jmap.rfc8620.5.2.client-has-more-changes", defect=agent.ONE_CHANGES_CALL)
def test_follows_has_more_changes(client: ClientCase) -> None:
    first = [jmap_message(1), jmap_message(2)]
    served = jmap_server(client, habit.CHANGES_CLAMP, messages=first)
    _sync_twice(client, served, first, [jmap_message(i) for i in (3, 4, 5)])


@case("jmap.rfc8620.5.2.client-cannot-calculate-changes", defect=agent.IGNORES_CANNOT_CALCULATE)
def test_resyncs_when_changes_cannot_be_calculated(client: ClientCase) -> None:
    first = [jmap_message(1), jmap_message(2)]
    served = jmap_server(client, habit.CANNOT_CALCULATE, messages=first)
    _sync_twice(client, served, first, [jmap_message(i) for i in (3, 4)])

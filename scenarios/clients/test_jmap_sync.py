"""RFC 8620 5.5 and 5.2: paging through clamped query results, and keeping up to date with
/changes (changes handed out in steps, and a state the server can no longer calculate from)."""

from conformance.agents import mailspec_jmap as agent
from conformance.agents.harness import USER, ClientCase, RefServer, RunResult
from conformance.agents.jmap import check_exact, fetch_all, jmap_message, jmap_server
from conformance.scenario import case
from conformance.servers.jmap import client_habits as habit
from conformance.verdict import check


@case("jmap.rfc8620.5.5.client-clamped-limit", defect=agent.ONE_PAGE)
def test_pages_through_clamped_query_results(client: ClientCase) -> None:
    msgs = [jmap_message(i) for i in range(1, 6)]
    srv, _ = jmap_server(client, habit.QUERY_CLAMP, messages=msgs)
    fetch_all(client, srv, msgs)


def _sync_twice(client: ClientCase, srv: RefServer, first: list[bytes], new: list[bytes]) -> RunResult:
    """Sync, deliver ``new``, sync again with the client's own state; the second run must bring ``new``."""
    run1 = client.run("jmap.sync", srv)
    check(run1.ok, "the first sync failed", observed=run1.summary())
    check_exact(run1, first)
    acct = srv.store.account(USER)
    assert acct is not None
    for m in new:
        srv.store.deliver(acct, m, "sender@mailspec.test")
    run2 = client.run("jmap.sync", srv, workdir=str(run1.maildir.parent), maildir=str(run1.maildir))
    check(run2.ok, "the second sync failed", observed=run2.summary())
    check_exact(run2, first + new, maildir=run1.maildir)
    return run2


@case("jmap.rfc8620.5.2.client-has-more-changes", defect=agent.ONE_CHANGES_CALL)
def test_follows_has_more_changes(client: ClientCase) -> None:
    first = [jmap_message(1), jmap_message(2)]
    srv, _ = jmap_server(client, habit.CHANGES_CLAMP, messages=first)
    _sync_twice(client, srv, first, [jmap_message(i) for i in (3, 4, 5)])


@case("jmap.rfc8620.5.2.client-cannot-calculate-changes", defect=agent.IGNORES_CANNOT_CALCULATE)
def test_resyncs_when_changes_cannot_be_calculated(client: ClientCase) -> None:
    first = [jmap_message(1), jmap_message(2)]
    srv, _ = jmap_server(client, habit.CANNOT_CALCULATE, messages=first)
    _sync_twice(client, srv, first, [jmap_message(i) for i in (3, 4)])

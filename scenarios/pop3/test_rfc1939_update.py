"""RFC 1939 section 6: QUIT from TRANSACTION and the UPDATE state."""

from conformance.clients.pop3 import POP3Sessions
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported


@case("pop3.rfc1939.6.quit-removes-deleted", defect=srv.QUIT_KEEPS_DELETED)
def test_quit_removes_deleted(pop3: POP3Sessions) -> None:
    (token,) = pop3.seed(1)
    client = pop3.login()
    num = pop3.find(client, token)
    if num is None:
        unsupported("the delivered test message did not show up")
    check(client.dele(num).ok, "DELE of an existing message was refused")
    resp = client.quit()
    if not resp.ok:
        unsupported(f"QUIT reported that deleted messages were not removed: {resp}")
    again = pop3.login()
    check(
        pop3.find(again, token) is None,
        "a message marked as deleted is still in the maildrop after QUIT",
        expected="message removed",
    )


@case("pop3.rfc1939.6.quit-keeps-unmarked", defect=srv.QUIT_REMOVES_ALL)
def test_quit_keeps_retrieved_messages(pop3: POP3Sessions) -> None:
    tokens = pop3.seed(2)
    client = pop3.login()
    nums = [pop3.find(client, t) for t in tokens]
    if None in nums:
        unsupported("a delivered test message did not show up")
    first, second = nums
    assert first is not None and second is not None
    client.retr(first)
    client.retr(second)
    check(client.dele(first).ok, "DELE of an existing message was refused")
    client.quit()
    again = pop3.login()
    check(
        pop3.find(again, tokens[1]) is not None,
        "QUIT removed a retrieved message that was not marked as deleted",
        expected="the undeleted message is still there",
    )


@case("pop3.rfc1939.6.quit-closes", defect=srv.QUIT_STAYS_OPEN)
def test_quit_closes_connection(pop3: POP3Sessions) -> None:
    client = pop3.login()
    resp = client.quit()
    check(resp.ok, "QUIT in TRANSACTION state was refused", observed=str(resp))
    check(
        client.closed_by_peer(timeout=5.0),
        "the server kept the connection open after QUIT",
        expected="connection closed",
    )

"""RFC 9051 section 9 sequence sets and 6.4.9 UID ranges: order, zero, numbers beyond the mailbox, UID edges."""

from conformance import corpus
from conformance.clients.imap import IMAPSessions
from conformance.scenario import case
from conformance.servers.imap import messages as srv
from conformance.verdict import check
from conformance.wire.imap import Atom


@case("imap.rfc9051.9.seq-beyond-bad", defect=srv.SEQ_BEYOND_OK)
def test_star_in_an_empty_mailbox(imap: IMAPSessions) -> None:
    client = imap.selected(0)
    res = client.command("FETCH", Atom("*"), Atom("(FLAGS)"))
    check(res.status == "BAD", "FETCH * in an empty mailbox was not answered BAD", expected="BAD", observed=str(res))


@case("imap.rfc9051.9.seq-beyond-bad", defect=srv.SEQ_BEYOND_OK)
def test_number_beyond_the_mailbox(imap: IMAPSessions) -> None:
    client = imap.selected(2)
    res = client.command("FETCH", Atom("5"), Atom("(FLAGS)"))
    check(
        res.status == "BAD",
        "FETCH of a message number beyond the mailbox was not answered BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc9051.9.seq-number-nonzero", "imap.rfc9051.2.2.2.syntax-error-bad", defect=srv.SEQ_ZERO_OK)
def test_message_number_zero(imap: IMAPSessions) -> None:
    """0 is outside the grammar: the command must be refused; BAD is what 2.2.2 asks (a SHOULD)."""
    client = imap.selected(1)
    for seqset in ("0", "0:1"):
        res = client.command("FETCH", Atom(seqset), Atom("(FLAGS)"))
        check(
            res.status in ("NO", "BAD") and not res.named("FETCH"),
            f"FETCH {seqset} was carried out (0 is not a message number)",
            expected="NO or BAD, no FETCH data",
            observed=str(res),
        )
        check(
            res.status == "BAD",
            f"FETCH {seqset} (a syntax error) was answered {res.status}, not BAD",
            req="imap.rfc9051.2.2.2.syntax-error-bad",
            expected="BAD",
            observed=str(res),
        )


@case("imap.rfc9051.9.seq-range-order", defect=srv.SEQ_REVERSED_EMPTY)
def test_reversed_range(imap: IMAPSessions) -> None:
    client = imap.selected(3)
    res, items = client.fetch("3:1", "(FLAGS)")
    check(
        res.ok and sorted(items) == [1, 2, 3],
        "FETCH 3:1 did not return messages 1 to 3",
        expected="1, 2, 3",
        observed=f"{res}; {sorted(items)}",
    )


@case("imap.rfc9051.6.4.9.uid-star-range", defect=srv.UID_STAR_RANGE_EMPTY)
def test_uid_range_past_the_last_uid(imap: IMAPSessions) -> None:
    client = imap.selected(2)
    uids = imap.uids(client)
    res, items = client.fetch(f"{uids[-1] + 100}:*", "(UID)", uid=True)
    got = [int(str(v.get("UID"))) for v in items.values()]
    check(
        res.ok and got == [uids[-1]],
        "UID FETCH n:* with n above every UID did not return the last message",
        expected=f"UID {uids[-1]}",
        observed=f"{res}; UIDs {got}",
    )


@case("imap.rfc9051.6.4.9.uid-nonexistent-ignored", defect=srv.UID_MISSING_NO)
def test_uid_fetch_of_missing_uid(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    uids = imap.uids(client)
    res, items = client.fetch(str(uids[-1] + 50), "(FLAGS)", uid=True)
    check(
        res.ok and not items,
        "UID FETCH of a UID that does not exist was not OK without data",
        expected="OK, no FETCH",
        observed=f"{res}; {sorted(items)}",
    )


@case("imap.rfc9051.6.4.9.uid-nonexistent-ignored", defect=srv.UID_MISSING_NO)
def test_uid_store_of_missing_uid(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    uids = imap.uids(client)
    res = client.store(f"{uids[-1] + 50}", "+FLAGS", ("\\Flagged",), uid=True)
    check(
        res.ok and not res.named("FETCH"),
        "UID STORE of a UID that does not exist was not OK without effect",
        expected="OK",
        observed=str(res),
    )


@case("imap.rfc9051.6.4.9.uid-numbers", defect=srv.UID_AS_SEQUENCE)
def test_uid_fetch_by_uid(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.scratch(client, corpus.simple(3))
    check(
        client.store("1:2", "+FLAGS.SILENT", ("\\Deleted",)).ok and client.command("EXPUNGE").ok,
        "cannot expunge messages 1 and 2",
    )
    uids = imap.uids(client)
    res, items = client.fetch(str(uids[0]), "(UID FLAGS)", uid=True)
    check(
        res.ok and list(items) == [1] and items[1].get("UID") == str(uids[0]),
        "UID FETCH did not return the message with that UID",
        expected=f"* 1 FETCH (UID {uids[0]} ...)",
        observed=f"{res}; {items}",
    )


@case("imap.rfc9051.6.4.9.uid-numbers", defect=srv.UID_AS_SEQUENCE)
def test_uid_store_by_uid(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.scratch(client, corpus.simple(3))
    check(
        client.store("1", "+FLAGS.SILENT", ("\\Deleted",)).ok and client.command("EXPUNGE").ok,
        "cannot expunge message 1",
    )
    uids = imap.uids(client)
    check(client.store(str(uids[1]), "+FLAGS.SILENT", ("\\Flagged",), uid=True).ok, "UID STORE failed")
    _, items = client.fetch("1:2", "(FLAGS)")
    got = {n: corpus.flag_set(v.get("FLAGS")) for n, v in items.items()}
    check(
        got == {1: set(), 2: {"\\Flagged"}},
        "UID STORE did not change the message with that UID",
        expected="message 2 flagged",
        observed=str(got),
    )

"""RFC 9051 6.4.1 CLOSE, 6.4.2 / RFC 3691 UNSELECT, 6.4.3 EXPUNGE, 7.5.1 EXPUNGE responses, 6.4.9 UID
EXPUNGE, and the UID rules of 2.3.1 that expunging puts to the test."""

import itertools

from conformance import corpus
from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import messages as srv
from conformance.servers.imap import search as sync
from conformance.verdict import check, unsupported
from conformance.wire.imap import Atom


def mark_deleted(client: IMAPClient, seqset: str, *, uid: bool = False) -> None:
    res = client.store(seqset, "+FLAGS.SILENT", ("\\Deleted",), uid=uid)
    if not res.ok:
        unsupported(f"cannot set \\Deleted: {res}")


def expunged(res: Result) -> list[int]:
    return [u.number for u in res.named("EXPUNGE") if u.number is not None]


def reselect(imap: IMAPSessions, client: IMAPClient, box: str) -> list[int]:
    """SELECT ``box`` again: the UIDs of its messages."""
    res = client.select(box)
    if not res.ok:
        unsupported(f"cannot SELECT {box} again: {res}")
    return imap.uids(client)


def with_deleted(imap: IMAPSessions, n: int, deleted: str) -> tuple[IMAPClient, str, list[int]]:
    """A scratch mailbox of ``n`` messages, ``deleted`` (a sequence set) marked \\Deleted: (client, name, UIDs)."""
    client = imap.login()
    box = imap.scratch(client, corpus.simple(n))
    uids = imap.uids(client)
    if len(uids) != n:
        unsupported(f"the scratch mailbox does not hold {n} messages: UIDs {uids}")
    mark_deleted(client, deleted)
    return client, box, uids


@case("imap.rfc9051.6.4.1.close-expunges", defect=srv.CLOSE_KEEPS_DELETED)
def test_close_removes_deleted_messages(imap: IMAPSessions) -> None:
    client, box, uids = with_deleted(imap, 3, "2")
    res = client.command("CLOSE")
    check(res.ok, "CLOSE failed", expected="OK", observed=str(res))
    after = reselect(imap, client, box)
    check(
        after == [uids[0], uids[2]],
        "CLOSE did not remove exactly the \\Deleted message",
        expected=str([uids[0], uids[2]]),
        observed=str(after),
    )


@case("imap.rfc9051.6.4.1.close-expunges", defect=srv.CLOSE_STAYS_SELECTED)
def test_close_returns_to_authenticated_state(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.scratch(client, corpus.simple(1))
    check(client.command("CLOSE").ok, "CLOSE failed")
    res = client.command("FETCH", Atom("1"), Atom("(FLAGS)"))
    check(
        not res.ok,
        "FETCH succeeded after CLOSE: the session is still in the selected state",
        expected="BAD (no mailbox selected)",
        observed=str(res),
    )


@case("imap.rfc9051.6.4.1.close-silent", defect=srv.CLOSE_SENDS_EXPUNGE)
def test_close_sends_no_expunge_responses(imap: IMAPSessions) -> None:
    client, _, _ = with_deleted(imap, 3, "1:2")
    res = client.command("CLOSE")
    check(res.ok, "CLOSE failed", observed=str(res))
    check(not expunged(res), "CLOSE sent untagged EXPUNGE responses", expected="none", observed=str(expunged(res)))


CLOSE_READ_ONLY = ("imap.rfc9051.6.4.1.close-read-only", "imap.rfc3501.6.4.2.close-read-only")


@case(*CLOSE_READ_ONLY, defect=srv.CLOSE_EXPUNGES_READ_ONLY)
def test_close_after_examine_removes_nothing(imap: IMAPSessions) -> None:
    client, box, uids = with_deleted(imap, 2, "1")
    req = imap.by_revision(client, *CLOSE_READ_ONLY)
    # \Deleted set under SELECT, then the same mailbox opened again by EXAMINE: the CLOSE below is
    # the one of a read-only selection (review E5).
    ex = client.select(box, readonly=True)
    check(ex.ok, "EXAMINE failed", req=req, observed=str(ex))
    res = client.command("CLOSE")
    check(res.ok, "CLOSE of a mailbox selected by EXAMINE gave an error", req=req, expected="OK", observed=str(res))
    after = reselect(imap, client, box)
    check(
        after == uids,
        "CLOSE removed messages from a mailbox selected read-only",
        req=req,
        expected=str(uids),
        observed=str(after),
    )


@case("imap.rfc9051.6.4.1.select-no-expunge", defect=srv.SELECT_EXPUNGES)
def test_select_elsewhere_does_not_expunge(imap: IMAPSessions) -> None:
    client, box, uids = with_deleted(imap, 2, "2")
    other = imap.scratch(client, select=False)
    check(client.select(other).ok, "SELECT of another mailbox failed")
    after = reselect(imap, client, box)
    check(
        after == uids,
        "selecting another mailbox expunged the \\Deleted message",
        expected=str(uids),
        observed=str(after),
    )


@case("imap.rfc3691.3.unselect-no-expunge", defect=srv.UNSELECT_EXPUNGES)
def test_unselect_keeps_deleted_messages(imap: IMAPSessions) -> None:
    client, box, uids = with_deleted(imap, 2, "1")
    if imap.profile(client) != "imap4rev2":
        imap.require(client, "UNSELECT")
    res = client.command("UNSELECT")
    check(res.ok, "UNSELECT failed", expected="OK", observed=str(res))
    check(not expunged(res), "UNSELECT sent EXPUNGE responses", observed=str(expunged(res)))
    after = reselect(imap, client, box)
    check(after == uids, "UNSELECT removed the \\Deleted message", expected=str(uids), observed=str(after))


@case("imap.rfc3691.3.unselect-no-expunge", defect=srv.CLOSE_STAYS_SELECTED)
def test_unselect_returns_to_authenticated_state(imap: IMAPSessions) -> None:
    client = imap.login()
    if imap.profile(client) != "imap4rev2":
        imap.require(client, "UNSELECT")
    imap.scratch(client, corpus.simple(1))
    check(client.command("UNSELECT").ok, "UNSELECT failed")
    res = client.command("FETCH", Atom("1"), Atom("(FLAGS)"))
    check(
        not res.ok,
        "FETCH succeeded after UNSELECT: the session is still in the selected state",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc9051.6.4.3.expunge-removes-deleted", defect=srv.EXPUNGE_ALL)
def test_expunge_removes_only_deleted(imap: IMAPSessions) -> None:
    client, _, uids = with_deleted(imap, 5, "2,4")
    res = client.command("EXPUNGE")
    check(res.ok, "EXPUNGE failed", observed=str(res))
    after = imap.uids(client)
    want = [uids[0], uids[2], uids[4]]
    check(
        after == want, "EXPUNGE did not remove exactly the \\Deleted messages", expected=str(want), observed=str(after)
    )


@case("imap.rfc9051.6.4.3.expunge-responses", defect=srv.EXPUNGE_SILENT)
def test_expunge_sends_a_response_per_message(imap: IMAPSessions) -> None:
    client, _, _ = with_deleted(imap, 4, "1,3")
    res = client.command("EXPUNGE")
    check(res.ok, "EXPUNGE failed", observed=str(res))
    check(
        len(expunged(res)) == 2,
        "EXPUNGE did not send one untagged EXPUNGE per removed message",
        expected="2 EXPUNGE responses",
        observed=str(expunged(res)),
    )


@case("imap.rfc9051.7.5.1.expunge-decrement", defect=srv.EXPUNGE_ORIGINAL_NUMBERS)
def test_expunge_numbers_count_earlier_removals(imap: IMAPSessions) -> None:
    client, _, uids = with_deleted(imap, 6, "2,3,5")
    res = client.command("EXPUNGE")
    check(res.ok, "EXPUNGE failed", observed=str(res))
    view = list(uids)
    for n in expunged(res):
        # Each number is relative to the mailbox after the previous EXPUNGE responses.
        check(
            1 <= n <= len(view),
            "an EXPUNGE names a message number that no longer exists",
            expected=f"1..{len(view)}",
            observed=str(expunged(res)),
        )
        view.pop(n - 1)
    want = [uids[0], uids[3], uids[5]]
    check(
        view == want,
        "applying the EXPUNGE responses in order does not leave the kept messages",
        expected=str(want),
        observed=f"{view} from {expunged(res)}",
    )


@case("imap.rfc9051.2.3.1.1.uid-not-reused", defect=srv.UID_REUSED)
def test_uid_not_reused_after_expunge(imap: IMAPSessions) -> None:
    client, box, uids = with_deleted(imap, 2, "2")
    check(client.command("EXPUNGE").ok, "EXPUNGE failed")
    check(client.append(box, make_message("after expunge")[0]).ok, "APPEND failed")
    client.noop()
    after = imap.uids(client)
    check(
        len(after) == 2 and after[1] > uids[1],
        "the UID of an expunged message was given to a new one",
        expected=f"a UID above {uids[1]}",
        observed=str(after),
    )


@case("imap.rfc9051.2.3.1.1.uid-ascending", defect=srv.UID_DESCENDING)
def test_uids_strictly_ascending(imap: IMAPSessions) -> None:
    client = imap.login()
    box = imap.scratch(client, corpus.simple(3))
    check(client.append(box, make_message("fourth")[0]).ok, "APPEND failed")
    client.noop()
    uids = imap.uids(client)
    check(
        len(uids) == 4 and all(a < b for a, b in itertools.pairwise(uids)),
        "UIDs are not strictly ascending in message-number order",
        observed=str(uids),
    )


@case("imap.rfc9051.2.3.1.1.uid-stable-in-session", defect=srv.UID_RENUMBERED)
def test_uids_unchanged_by_expunge(imap: IMAPSessions) -> None:
    client, _, uids = with_deleted(imap, 3, "1")
    check(client.command("EXPUNGE").ok, "EXPUNGE failed")
    after = imap.uids(client)
    check(
        after == uids[1:],
        "the UIDs of the remaining messages changed after EXPUNGE",
        expected=str(uids[1:]),
        observed=str(after),
    )


@case("imap.rfc9051.2.3.1.2.seq-by-uid", defect=srv.UID_DESCENDING)
def test_message_numbers_follow_uids(imap: IMAPSessions) -> None:
    client, _, _ = with_deleted(imap, 4, "2")
    check(client.command("EXPUNGE").ok, "EXPUNGE failed")
    _res, items = client.fetch("1:*", "(UID)")
    pairs = sorted((n, int(str(v["UID"]))) for n, v in items.items() if "UID" in v)
    nums = [n for n, _ in pairs]
    by_seq = [u for _, u in pairs]
    check(
        nums == [1, 2, 3] and by_seq == sorted(by_seq),
        "message numbers are not 1..n in ascending UID order",
        expected="1..3, UIDs ascending",
        observed=str(pairs),
    )


@case("imap.rfc9051.6.4.9.uid-expunge", defect=srv.UID_EXPUNGE_ALL)
def test_uid_expunge_removes_only_listed(imap: IMAPSessions) -> None:
    client, _, uids = with_deleted(imap, 3, "1:3")
    imap.require_uidplus(client)
    res = client.command("UID EXPUNGE", Atom(str(uids[1])))
    check(res.ok, "UID EXPUNGE failed", observed=str(res))
    after = imap.uids(client)
    check(
        after == [uids[0], uids[2]],
        "UID EXPUNGE removed \\Deleted messages outside its UID set",
        expected=str([uids[0], uids[2]]),
        observed=str(after),
    )


@case("imap.rfc9051.6.4.9.uid-expunge", defect=srv.UID_EXPUNGE_IGNORES_FLAG)
def test_uid_expunge_needs_deleted_flag(imap: IMAPSessions) -> None:
    client, _, uids = with_deleted(imap, 3, "3")
    imap.require_uidplus(client)
    res = client.command("UID EXPUNGE", Atom(f"{uids[0]}:{uids[2]}"))
    check(res.ok, "UID EXPUNGE failed", observed=str(res))
    after = imap.uids(client)
    check(
        after == uids[:2], "UID EXPUNGE removed messages without \\Deleted", expected=str(uids[:2]), observed=str(after)
    )


def _expunged_elsewhere(imap: IMAPSessions) -> IMAPClient:
    """Session A has a 3-message mailbox selected; session B has expunged message 1 of it."""
    a = imap.login()
    box = imap.scratch(a, corpus.simple(3))
    b = imap.login()
    check(b.select(box).ok, "a second session cannot SELECT the mailbox")
    mark_deleted(b, "1")
    check(b.command("EXPUNGE").ok, "EXPUNGE in the second session failed")
    return a


@case("imap.rfc9051.7.5.1.no-expunge-during-fetch", defect=sync.EXPUNGE_DURING_FETCH)
def test_no_expunge_response_during_fetch(imap: IMAPSessions) -> None:
    a = _expunged_elsewhere(imap)
    res, _ = a.fetch("1:3", "(FLAGS)")
    check(
        not expunged(res),
        "an EXPUNGE response was sent while responding to FETCH",
        expected="EXPUNGE only after FETCH, e.g. at NOOP",
        observed=str(expunged(res)),
    )
    noop = a.noop()
    check(
        expunged(noop) == [1],
        "the expunge by another session was not reported at NOOP",
        expected="* 1 EXPUNGE",
        observed=str(expunged(noop)),
    )


@case("imap.rfc9051.7.5.1.no-expunge-during-fetch", defect=sync.EXPUNGE_DURING_STORE)
def test_no_expunge_response_during_store(imap: IMAPSessions) -> None:
    a = _expunged_elsewhere(imap)
    res = a.store("2", "+FLAGS", ("\\Flagged",))
    check(
        not expunged(res),
        "an EXPUNGE response was sent while responding to STORE",
        expected="none",
        observed=str(expunged(res)),
    )

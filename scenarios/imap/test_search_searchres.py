"""RFC 9051 6.4.4.1 (RFC 5182 SEARCHRES for IMAP4rev1 servers): SEARCH RETURN (SAVE) and "$"."""

from conformance.clients.imap import IMAPClient, IMAPSessions
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import core
from conformance.servers.imap import search as srv
from conformance.verdict import check, unsupported
from conformance.wire.imap import Atom


def _saving(imap: IMAPSessions) -> IMAPClient:
    """Five messages, 2 and 4 \\Flagged, selected, on a server that offers "$" (SEARCHRES or IMAP4rev2)."""
    client = imap.login()
    if imap.mode(client) != "imap4rev2":
        imap.require(client, "SEARCHRES")
    imap.scratch(client, [make_message(f"searchres {i + 1}")[0] for i in range(5)])
    if not client.store("2,4", "+FLAGS", ("\\Flagged",)).ok:
        unsupported("cannot set \\Flagged on the case's messages")
    return client


def _save(client: IMAPClient, *criteria: str | Atom, uid: bool = False) -> None:
    res = client.command("UID SEARCH" if uid else "SEARCH", Atom("RETURN"), [Atom("SAVE")], *criteria)
    if not res.ok:
        unsupported(f"SEARCH RETURN (SAVE) was refused: {res}")


def _fetched(client: IMAPClient, seqset: str, *, uid: bool = False) -> tuple[str, list[int]]:
    """(status, message numbers) of FETCH (or UID FETCH) ``seqset`` (FLAGS)."""
    res, items = client.fetch(seqset, "(FLAGS)", uid=uid)
    return res.status, sorted(items)


@case("imap.rfc9051.6.4.4.1.save-sets-result", defect=srv.SEARCHRES_SAVE_IGNORED)
def test_fetch_dollar_gives_saved_messages(imap: IMAPSessions) -> None:
    client = _saving(imap)
    _save(client, Atom("FLAGGED"))
    status, nums = _fetched(client, "$")
    check(
        status == "OK" and nums == [2, 4],
        "FETCH $ did not name the messages SEARCH SAVE found",
        expected="2 and 4",
        observed=f"{status} {nums}",
    )


@case("imap.rfc9051.6.4.4.1.marker-mapped", defect=srv.SEARCHRES_NUMBERS)
def test_uid_search_save_then_fetch_by_number(imap: IMAPSessions) -> None:
    """UIDs saved by UID SEARCH, used by FETCH (numbers): the server maps them. The scratch
    mailbox's first message is expunged so that numbers and UIDs differ."""
    client = _saving(imap)
    client.store("1", "+FLAGS", ("\\Deleted",))
    if not client.command("EXPUNGE").ok:
        unsupported("cannot expunge the case's first message")
    _save(client, Atom("FLAGGED"), uid=True)  # the former 2 and 4, now messages 1 and 3
    status, nums = _fetched(client, "$")
    check(
        status == "OK" and nums == [1, 3],
        "FETCH $ after UID SEARCH SAVE did not map UIDs to message numbers",
        expected="1 and 3",
        observed=f"{status} {nums}",
    )
    status, nums = _fetched(client, "$", uid=True)
    check(
        status == "OK" and nums == [1, 3],
        "UID FETCH $ did not name the saved messages",
        expected="1 and 3",
        observed=f"{status} {nums}",
    )


@case("imap.rfc9051.6.4.4.1.empty-marker-valid", defect=core.SEARCHRES_EMPTY_BAD)
def test_dollar_before_any_save_is_empty_not_an_error(imap: IMAPSessions) -> None:
    client = _saving(imap)
    status, nums = _fetched(client, "$")
    check(
        status == "OK" and not nums,
        "FETCH $ with no saved result was not an OK with no FETCH data",
        expected="OK, nothing",
        observed=f"{status} {nums}",
    )


@case("imap.rfc9051.6.4.4.1.reset-on-select", defect=core.SEARCHRES_KEPT_ON_SELECT)
def test_select_resets_the_saved_result(imap: IMAPSessions) -> None:
    client = _saving(imap)
    _save(client, Atom("FLAGGED"))
    # As many messages as the first mailbox: a result kept across SELECT would name some of them.
    box = imap.scratch(client, [make_message(f"searchres other {i}")[0] for i in range(5)])
    if not client.select(box).ok:
        unsupported("cannot select a second mailbox")
    status, nums = _fetched(client, "$")
    check(
        status == "OK" and not nums,
        "$ still named messages after SELECT of another mailbox",
        expected="OK, nothing",
        observed=f"{status} {nums}",
    )


@case("imap.rfc9051.9.seq-last-command", defect=srv.SEARCHRES_KEY_BAD)
def test_dollar_as_search_key(imap: IMAPSessions) -> None:
    client = _saving(imap)
    _save(client, Atom("FLAGGED"))
    res, found = client.search(Atom("$"), Atom("UNSEEN"))
    check(
        res.ok and sorted(found) == [2, 4],
        "SEARCH $ UNSEEN did not search within the saved result",
        expected="2 4",
        observed=f"{res} {found}",
    )

"""RFC 9051 6.3.2, 6.3.3, 2.3.1.1 (RFC 3501 6.3.1): SELECT and EXAMINE, UIDVALIDITY and UIDNEXT."""

import uuid

from conformance.clients.imap import IMAPClient, IMAPSessions, Result, code_arg
from conformance.clients.imap_mailbox import entries, status
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import mailboxes as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire


def _messages(n: int) -> list[bytes]:
    return [make_message(f"mailspec select {i + 1}")[0] for i in range(n)]


def _selected(imap: IMAPSessions, n: int = 2, *, readonly: bool = False) -> tuple[IMAPClient, str, Result]:
    """A scratch mailbox of ``n`` messages, SELECTed (or EXAMINEd): the client, its name, the result."""
    client = imap.login()
    name = imap.scratch(client, _messages(n), select=False)
    res = client.select(name, readonly=readonly)
    check(res.ok, f"{'EXAMINE' if readonly else 'SELECT'} of an existing mailbox was refused", observed=str(res))
    return client, name, res


def _code_value(res: Result, name: str) -> int | None:
    """The number a response code carries in an untagged OK (``* OK [UIDNEXT 5]``), None when absent."""
    for u in res.untagged:
        if u.name == "OK" and u.code is not None and u.code.name == name and u.code.args:
            arg = str(u.code.args[0])
            return int(arg) if arg.isdigit() else None
    return None


REQUIRED_DATA = ("imap.rfc9051.6.3.2.select-required-data", "imap.rfc3501.6.3.1.select-required-data")


def _required_data(res: Result, count: int) -> list[str]:
    """What RFC 9051 6.3.2 requires before the OK that ``res`` lacks (both revisions)."""
    missing = []
    if not res.named("FLAGS"):
        missing.append("FLAGS")
    exists = [u.number for u in res.named("EXISTS")]
    if exists != [count]:
        missing.append(f"{count} EXISTS (got {exists})")
    for code in ("UIDVALIDITY", "UIDNEXT"):
        value = _code_value(res, code)
        if value is None or value <= 0:
            missing.append(f"OK [{code} n] with n > 0")
    if not any(u.name == "OK" and u.code is not None and u.code.name == "PERMANENTFLAGS" for u in res.untagged):
        missing.append("OK [PERMANENTFLAGS (...)]")
    return missing


@case(*REQUIRED_DATA, defect=srv.SELECT_NO_FLAGS)
def test_select_sends_flags(imap: IMAPSessions) -> None:
    client, _, res = _selected(imap)
    check(
        res.named("FLAGS"),
        "SELECT completed without an untagged FLAGS response",
        req=imap.by_revision(client, *REQUIRED_DATA),
        expected="* FLAGS (...)",
    )


@case(*REQUIRED_DATA, defect=srv.EXISTS_OFF_BY_ONE)
def test_select_sends_exists(imap: IMAPSessions) -> None:
    client, _, res = _selected(imap, 2)
    exists = [u.number for u in res.named("EXISTS")]
    check(
        exists == [2],
        "SELECT did not send the number of messages as EXISTS",
        req=imap.by_revision(client, *REQUIRED_DATA),
        expected="* 2 EXISTS",
        observed=str(exists),
    )


@case(*REQUIRED_DATA, defect=srv.SELECT_NO_UIDVALIDITY)
def test_select_sends_uidvalidity(imap: IMAPSessions) -> None:
    client, _, res = _selected(imap)
    value = _code_value(res, "UIDVALIDITY")
    check(
        value is not None and value > 0,
        "SELECT completed without an untagged OK [UIDVALIDITY n] (a non-zero 32-bit number)",
        req=imap.by_revision(client, *REQUIRED_DATA),
        expected="* OK [UIDVALIDITY n]",
        observed=str(value),
    )


@case(*REQUIRED_DATA, defect=srv.SELECT_NO_UIDNEXT)
def test_select_sends_uidnext(imap: IMAPSessions) -> None:
    client, _, res = _selected(imap)
    value = _code_value(res, "UIDNEXT")
    check(
        value is not None and value > 0,
        "SELECT completed without an untagged OK [UIDNEXT n]",
        req=imap.by_revision(client, *REQUIRED_DATA),
        expected="* OK [UIDNEXT n]",
        observed=str(value),
    )


@case(*REQUIRED_DATA, defect=srv.SELECT_NO_PERMANENTFLAGS)
def test_select_sends_permanentflags(imap: IMAPSessions) -> None:
    client, _, res = _selected(imap)
    check(
        code_arg(res, "PERMANENTFLAGS") is not None,
        "SELECT completed without an untagged OK [PERMANENTFLAGS (...)]",
        req=imap.by_revision(client, *REQUIRED_DATA),
        expected="* OK [PERMANENTFLAGS (...)]",
    )


@case(*REQUIRED_DATA, defect=srv.EXAMINE_NO_UIDNEXT)
def test_examine_sends_required_data(imap: IMAPSessions) -> None:
    client, _, res = _selected(imap, 1, readonly=True)
    missing = _required_data(res, 1)
    check(
        not missing,
        "EXAMINE completed without data SELECT must send",
        req=imap.by_revision(client, *REQUIRED_DATA),
        expected="all of it",
        observed=", ".join(missing),
    )


@case("imap.rfc9051.6.3.2.select-list-response", defect=srv.SELECT_NO_LIST)
def test_select_sends_list_rev2(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev2")
    imap.require_profile(client, "imap4rev2")
    name = imap.scratch(client, select=False)
    res = client.select(name)
    check(res.ok, "SELECT of an existing mailbox was refused", observed=str(res))
    listed = [e for e in entries(res) if e.name == name]
    check(
        listed, "SELECT under IMAP4rev2 sent no LIST response with the mailbox name", expected=f'* LIST () "/" {name}'
    )
    check(
        listed[0].selectable,
        "the LIST response of SELECT says the selected mailbox cannot be selected",
        observed=listed[0].raw.decode(errors="replace"),
    )


@case("imap.rfc3501.6.3.1.select-recent", defect=srv.SELECT_NO_RECENT)
def test_select_sends_recent_rev1(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    name = imap.scratch(client, _messages(1), select=False)
    res = client.select(name)
    check(res.ok, "SELECT of an existing mailbox was refused", observed=str(res))
    check(res.named("RECENT"), "SELECT under IMAP4rev1 sent no untagged RECENT response", expected="* n RECENT")


@case("imap.rfc3501.6.3.1.select-required-data", defect=srv.SELECT_NO_UNSEEN)
def test_select_sends_unseen_rev1(imap: IMAPSessions) -> None:
    """OK [UNSEEN n] is REQUIRED data under IMAP4rev1 when there is an unseen message (IMAP4rev2 dropped it)."""
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    name = imap.scratch(client, _messages(1), flags=("\\Seen",), select=False)
    for data in _messages(2):
        if not client.append(name, data).ok:
            unsupported("cannot APPEND the case's unseen messages")
    res = client.select(name)
    check(res.ok, "SELECT of an existing mailbox was refused", observed=str(res))
    check(
        _code_value(res, "UNSEEN") == 2,
        "SELECT under IMAP4rev1 did not send OK [UNSEEN n] with the first unseen message",
        expected="* OK [UNSEEN 2]",
        observed=str(code_arg(res, "UNSEEN")),
    )


@case("imap.rfc9051.6.3.2.read-write-code", defect=srv.NO_READ_WRITE)
def test_select_read_write_code(imap: IMAPSessions) -> None:
    _, _, res = _selected(imap, 0)
    code = res.tagged.code.name if res.tagged.code else None
    check(code in ("READ-WRITE", "READ-ONLY"), "the tagged OK of SELECT has no [READ-WRITE]", observed=str(res))
    if code == "READ-ONLY":
        unsupported("the account's own mailbox was selected read-only: it cannot be modified here")


@case("imap.rfc9051.6.3.3.examine-read-only-code", defect=srv.EXAMINE_NO_READ_ONLY)
def test_examine_read_only_code(imap: IMAPSessions) -> None:
    _, _, res = _selected(imap, 0, readonly=True)
    code = res.tagged.code.name if res.tagged.code else None
    check(code == "READ-ONLY", "the tagged OK of EXAMINE does not begin with [READ-ONLY]", observed=str(res))


def _flags_elsewhere(imap: IMAPSessions, name: str) -> list[set[str]]:
    """The flags of each message of ``name`` as another session sees them (EXAMINE, FETCH FLAGS)."""
    other = imap.login()
    res = other.select(name, readonly=True)
    check(res.ok, "EXAMINE of an existing mailbox was refused", observed=str(res))
    _, items = other.fetch("1:*", "(FLAGS)")
    return [{str(f).lower() for f in flags} for n in sorted(items) if isinstance(flags := items[n].get("FLAGS"), list)]


@case("imap.rfc9051.6.3.3.examine-no-changes", defect=srv.EXAMINE_WRITABLE)
def test_examine_store_changes_nothing(imap: IMAPSessions) -> None:
    client, name, _ = _selected(imap, 1, readonly=True)
    res = client.store("1", "+FLAGS", ("\\Flagged",))
    flags = _flags_elsewhere(imap, name)
    check(
        flags and "\\flagged" not in flags[0],
        f"STORE in a mailbox opened with EXAMINE changed the message's flags (STORE answered {res.status})",
        expected="NO, or OK without a change",
        observed=str(flags),
    )


@case("imap.rfc9051.6.3.3.examine-no-changes", defect=srv.EXAMINE_WRITABLE)
def test_examine_fetch_body_does_not_set_seen(imap: IMAPSessions) -> None:
    client, name, _ = _selected(imap, 1, readonly=True)
    res, items = client.fetch("1", "(BODY[])")
    check(res.ok and 1 in items, "FETCH BODY[] in a mailbox opened with EXAMINE was refused", observed=str(res))
    flags = _flags_elsewhere(imap, name)
    check(
        flags and "\\seen" not in flags[0],
        "FETCH BODY[] in a mailbox opened with EXAMINE set \\Seen",
        expected="no \\Seen",
        observed=str(flags),
    )


@case("imap.rfc9051.6.3.3.examine-no-changes", defect=srv.EXAMINE_WRITABLE)
def test_examine_expunge_removes_nothing(imap: IMAPSessions) -> None:
    client = imap.login()
    name = imap.scratch(client, _messages(1), flags=("\\Deleted",), select=False)
    res = client.select(name, readonly=True)
    check(res.ok, "EXAMINE of an existing mailbox was refused", observed=str(res))
    expunge = client.command("EXPUNGE")
    _, values = status(imap.login(), name, "MESSAGES")
    check(
        values is not None and values.get("MESSAGES") == 1,
        f"EXPUNGE in a mailbox opened with EXAMINE removed a \\Deleted message (EXPUNGE answered {expunge.status})",
        expected="MESSAGES 1",
        observed=str(values),
    )


def _missing() -> str:
    """A mailbox name no case creates: unique, so that no parallel run or leftover can make it exist."""
    return f"mailspec-missing-{uuid.uuid4().hex[:12]}"


@case("imap.rfc9051.6.3.2.select-nonexistent-no", defect=srv.SELECT_MISSING_BAD)
def test_select_nonexistent_no(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.select(_missing())
    check(res.status == "NO", "SELECT of a mailbox that does not exist did not fail with NO", observed=str(res))


@case("imap.rfc9051.6.3.2.select-nonexistent-no", defect=srv.SELECT_MISSING_BAD)
def test_examine_nonexistent_no(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.select(_missing(), readonly=True)
    check(res.status == "NO", "EXAMINE of a mailbox that does not exist did not fail with NO", observed=str(res))


def _still_selected(client: IMAPClient) -> Result:
    # FETCH is a selected-state command: outside the selected state it must fail (BAD or NO).
    return client.command("FETCH", wire.Atom("1"), wire.Atom("(UID)"))


@case("imap.rfc9051.6.3.2.failed-select-deselects", defect=srv.FAILED_SELECT_KEEPS)
def test_failed_select_deselects(imap: IMAPSessions) -> None:
    client, _, _ = _selected(imap, 1)
    res = client.select(_missing())
    if res.ok:
        unsupported(f"SELECT of a mailbox that does not exist succeeded: {res}")
    after = _still_selected(client)
    check(not after.ok, "after a failed SELECT the previous mailbox is still selected", observed=str(after))


@case("imap.rfc9051.6.3.2.failed-select-deselects", defect=srv.FAILED_SELECT_KEEPS)
def test_failed_examine_deselects(imap: IMAPSessions) -> None:
    client, _, _ = _selected(imap, 1)
    res = client.select(_missing(), readonly=True)
    if res.ok:
        unsupported(f"EXAMINE of a mailbox that does not exist succeeded: {res}")
    after = _still_selected(client)
    check(not after.ok, "after a failed EXAMINE the previous mailbox is still selected", observed=str(after))


@case("imap.rfc9051.6.3.2.closed-code", defect=srv.NO_CLOSED)
def test_select_closes_previous_with_closed_code(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev2")
    imap.require_profile(client, "imap4rev2")
    first = imap.scratch(client)
    second = imap.scratch(client, select=False)
    check(bool(first), "no first mailbox")
    res = client.select(second)
    check(res.ok, "SELECT of an existing mailbox was refused", observed=str(res))
    check(
        code_arg(res, "CLOSED") is not None,
        "SELECT while a mailbox was selected sent no untagged OK [CLOSED]",
        expected="* OK [CLOSED]",
        observed=" | ".join(u.raw.decode(errors="replace").strip() for u in res.untagged if u.name == "OK"),
    )


# --- UIDVALIDITY and UIDNEXT ---------------------------------------------------------------------


def _uid_state(imap: IMAPSessions, name: str) -> tuple[int | None, list[int]]:
    """(UIDVALIDITY, UIDs) of ``name`` as a new session sees it."""
    c = imap.login()
    res = c.select(name, readonly=True)
    check(res.ok, "EXAMINE of an existing mailbox was refused", observed=str(res))
    return _code_value(res, "UIDVALIDITY"), imap.uids(c)


@case("imap.rfc9051.2.3.1.1.uidvalidity-across-sessions", defect=srv.UIDVALIDITY_SHRINKS)
def test_uids_persist_or_uidvalidity_grows(imap: IMAPSessions) -> None:
    client = imap.login()
    name = imap.scratch(client, _messages(2), select=False)
    v1, uids1 = _uid_state(imap, name)
    v2, uids2 = _uid_state(imap, name)
    if v1 is None or v2 is None:
        unsupported("EXAMINE sent no UIDVALIDITY")
    check(
        (v1 == v2 and uids1 == uids2) or v2 > v1,
        "the UIDs changed between sessions but UIDVALIDITY did not grow",
        expected=f"UIDVALIDITY {v1} and UIDs {uids1}, or a greater UIDVALIDITY",
        observed=f"UIDVALIDITY {v2} and UIDs {uids2}",
    )


@case("imap.rfc9051.2.3.1.1.uidnext-above-uids", defect=srv.UIDNEXT_IS_LAST_UID)
def test_uidnext_above_every_uid(imap: IMAPSessions) -> None:
    client, _, res = _selected(imap, 3)
    uidnext = _code_value(res, "UIDNEXT")
    uids = imap.uids(client)
    if uidnext is None or not uids:
        unsupported("SELECT sent no UIDNEXT, or FETCH UID gave nothing")
    check(
        uidnext > max(uids),
        "UIDNEXT is not above every UID in the mailbox",
        expected=f"> {max(uids)}",
        observed=str(uidnext),
    )


@case("imap.rfc9051.2.3.1.1.uidnext-above-uids", defect=srv.UIDNEXT_AHEAD)
def test_uidnext_predicts_next_uid(imap: IMAPSessions) -> None:
    client, name, res = _selected(imap, 1)
    uidnext = _code_value(res, "UIDNEXT")
    if uidnext is None:
        unsupported("SELECT sent no UIDNEXT")
    check(client.append(name, _messages(1)[0]).ok, "APPEND to an existing mailbox was refused")
    client.noop()
    uids = imap.uids(client)
    check(
        bool(uids) and uids[-1] >= uidnext,
        "a message added after SELECT got a UID below the UIDNEXT SELECT announced",
        expected=f">= {uidnext}",
        observed=str(uids),
    )


@case("imap.rfc9051.2.3.1.1.uidnext-changes", defect=srv.UIDNEXT_DRIFTS)
def test_uidnext_stays_without_new_messages(imap: IMAPSessions) -> None:
    client = imap.login()
    name = imap.scratch(client, _messages(1))
    _, before = status(imap.login(), name, "UIDNEXT")
    client.store("1", "+FLAGS", ("\\Seen",))
    client.noop()
    _, after = status(imap.login(), name, "UIDNEXT")
    if before is None or after is None:
        unsupported("STATUS UIDNEXT gave no value")
    check(before == after, "UIDNEXT changed although no message was added", expected=str(before), observed=str(after))


@case("imap.rfc9051.2.3.1.1.uidnext-changes", defect=srv.UIDNEXT_FROM_LAST)
def test_uidnext_grows_after_append_and_expunge(imap: IMAPSessions) -> None:
    client = imap.login()
    name = imap.scratch(client, _messages(1))
    _, before = status(client, name, "UIDNEXT")
    check(client.append(name, _messages(1)[0], ("\\Deleted",)).ok, "APPEND to an existing mailbox was refused")
    client.noop()
    check(client.command("EXPUNGE").ok, "EXPUNGE was refused")
    _, after = status(client, name, "UIDNEXT")
    if before is None or after is None:
        unsupported("STATUS UIDNEXT gave no value")
    check(
        after["UIDNEXT"] > before["UIDNEXT"],
        "UIDNEXT did not change after a message was added (and expunged)",
        expected=f"> {before['UIDNEXT']}",
        observed=str(after["UIDNEXT"]),
    )


@case("imap.rfc9051.5.1.inbox-case-insensitive", defect=srv.INBOX_CASE_SENSITIVE)
def test_inbox_name_case_insensitive(imap: IMAPSessions) -> None:
    client = imap.login()
    upper = client.select("INBOX", readonly=True)
    check(upper.ok, "EXAMINE INBOX was refused", observed=str(upper))
    lower = client.select("inbox", readonly=True)
    check(lower.ok, "EXAMINE inbox (lower case) was refused", observed=str(lower))
    check(
        _code_value(upper, "UIDVALIDITY") == _code_value(lower, "UIDVALIDITY"),
        "'inbox' and 'INBOX' open different mailboxes",
        expected=str(_code_value(upper, "UIDVALIDITY")),
        observed=str(_code_value(lower, "UIDVALIDITY")),
    )

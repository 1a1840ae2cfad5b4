"""Two sessions on one mailbox: what the second is told about the first's changes, and when
(RFC 9051 2.3.1.1, 2.3.1.2, 5.2, 7, 7.5.1; RFC 3501 2.3.2 \\Recent), and IDLE (RFC 9051 6.3.13)."""

import time

from conformance.clients.imap import IMAPClient, IMAPSessions, Result, fetch_items
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import messages as msgs
from conformance.servers.imap import search as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire


def _pair(imap: IMAPSessions, n: int, *, rev: str | None = None) -> tuple[IMAPClient, IMAPClient, str]:
    """Sessions A and B (of revision ``rev``, as ``login``) with the same scratch mailbox of ``n`` messages
    selected; and its name."""
    a = imap.login(rev=rev)
    name = imap.scratch(a, [make_message(f"sync {i + 1}")[0] for i in range(n)])
    b = imap.login(rev=rev)
    res = b.select(name)
    if not res.ok:
        unsupported(f"a second session cannot SELECT the mailbox: {res}")
    return a, b, name


def _expunge(client: IMAPClient, seqset: str) -> None:
    """Session A removes messages ``seqset`` for good."""
    if not client.store(seqset, "+FLAGS", ("\\Deleted",)).ok or not client.command("EXPUNGE").ok:
        unsupported(f"session A could not expunge messages {seqset}")


def _removals(untagged: list[wire.Untagged]) -> list[str]:
    return [u.raw.decode(errors="replace").strip() for u in untagged if u.name in ("EXPUNGE", "VANISHED")]


def _shown(res: Result | list[wire.Untagged]) -> str:
    untagged = res.untagged if isinstance(res, Result) else res
    return " | ".join(u.raw.decode(errors="replace").strip() for u in untagged) or "(no untagged response)"


# --- updates at the next command -----------------------------------------------------------

# The 5.2 rules, in RFC 9051 for IMAP4rev2 sessions and in RFC 3501 for IMAP4rev1 ones (IDLE cites them too).
SIZE_UPDATES = ("imap.rfc9051.5.2.size-updates", "imap.rfc3501.5.2.size-updates")
FLAG_UPDATES = ("imap.rfc9051.5.2.flag-updates", "imap.rfc3501.5.2.flag-updates")


@case(*SIZE_UPDATES, defect=srv.NO_SIZE_UPDATE)
def test_append_by_other_session_exists(imap: IMAPSessions) -> None:
    a, b, name = _pair(imap, 2)
    a.append(name, make_message("added by session A")[0])
    res = b.noop()
    counts = [u.number for u in res.named("EXISTS")]
    check(
        3 in counts,
        "session B was not told of the new message at NOOP",
        req=imap.by_revision(b, *SIZE_UPDATES),
        expected="* 3 EXISTS",
        observed=_shown(res),
    )


def _flagged_by_other(imap: IMAPSessions, rev: str | None = None) -> tuple[IMAPClient, list[wire.Untagged], Result]:
    """Session A sets \\Flagged on message 1, session B sends NOOP: (B, the FETCH responses for message 1, NOOP)."""
    a, b, _ = _pair(imap, 2, rev=rev)
    a.store("1", "+FLAGS", ("\\Flagged",))
    res = b.noop()
    return b, [u for u in res.named("FETCH") if u.number == 1], res


@case(*FLAG_UPDATES, defect=srv.NO_FLAG_UPDATE)
def test_flag_change_by_other_session_fetch(imap: IMAPSessions) -> None:
    b, told, res = _flagged_by_other(imap)
    flags = [fetch_items(u).get("FLAGS") for u in told]
    check(
        any(isinstance(f, list) and "\\Flagged" in f for f in flags),
        "session B was not told that session A set \\Flagged",
        req=imap.by_revision(b, *FLAG_UPDATES),
        expected="* 1 FETCH (FLAGS (\\Flagged))",
        observed=_shown(res),
    )


@case("imap.rfc9051.7.5.2.unsolicited-fetch-uid", defect=srv.IDLE_FETCH_NO_UID)
def test_noop_fetch_has_uid(imap: IMAPSessions) -> None:
    # Outside IDLE (review E7): the flag update a tagged NOOP carries is unsolicited too.
    _, told, res = _flagged_by_other(imap, rev="imap4rev2")
    if not told:
        unsupported(f"the server sent no unsolicited FETCH at NOOP (a SHOULD, checked on its own): {_shown(res)}")
    check(
        all("UID" in fetch_items(u) for u in told),
        "an unsolicited FETCH carried by NOOP in an IMAP4rev2 session has no UID item",
        expected="* 1 FETCH (FLAGS (..) UID n)",
        observed=_shown(res),
    )


@case("imap.rfc9051.2.3.1.2.exists-before-use", defect=srv.EXISTS_AFTER_FETCH)
def test_exists_before_new_message_number(imap: IMAPSessions) -> None:
    a, b, name = _pair(imap, 2)
    a.append(name, make_message("added by session A")[0])
    res = b.command("FETCH", wire.Atom("1:*"), [wire.Atom("UID")])
    known = 2
    for u in res.untagged:
        if u.name == "EXISTS" and u.number is not None:
            known = u.number
        elif u.name == "FETCH" and u.number is not None:
            check(
                u.number <= known,
                "a FETCH response named a message number that no EXISTS had announced yet",
                expected=f"* {u.number} EXISTS before * {u.number} FETCH",
                observed=_shown(res),
            )


# --- EXPUNGE rules (RFC 9051 7.5.1) ---------------------------------------------------------------


@case("imap.rfc9051.7.5.1.no-expunge-during-fetch-store-search", defect=srv.EXPUNGE_DURING_FETCH)
def test_no_expunge_during_fetch(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 3)
    _expunge(a, "1")
    res = b.command("FETCH", wire.Atom("1:*"), [wire.Atom("FLAGS")])
    check(not _removals(res.untagged), "EXPUNGE was sent during FETCH", expected="no EXPUNGE", observed=_shown(res))


@case("imap.rfc9051.7.5.1.no-expunge-during-fetch-store-search", defect=srv.EXPUNGE_DURING_STORE)
def test_no_expunge_during_store(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 3)
    _expunge(a, "1")
    res = b.store("2", "+FLAGS", ("\\Seen",))
    check(not _removals(res.untagged), "EXPUNGE was sent during STORE", expected="no EXPUNGE", observed=_shown(res))


@case("imap.rfc9051.7.5.1.no-expunge-during-fetch-store-search", defect=srv.EXPUNGE_DURING_SEARCH)
def test_no_expunge_during_search(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 3)
    _expunge(a, "1")
    res = b.command("SEARCH", wire.Atom("ALL"))
    check(not _removals(res.untagged), "EXPUNGE was sent during SEARCH", expected="no EXPUNGE", observed=_shown(res))


@case("imap.rfc9051.7.5.1.no-expunge-during-fetch-store-search", defect=srv.RENUMBER_SILENTLY)
def test_numbers_stay_until_told(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 3)
    uids = imap.uids(b)
    if len(uids) != 3:
        unsupported(f"session B could not FETCH the UIDs: {uids}")
    _expunge(a, "1")
    res, items = b.fetch("3", "(UID)")
    got = items.get(3, {}).get("UID")
    check(
        str(got) == str(uids[2]),
        "message 3 of session B is no longer the message B knows as 3, and B was not told",
        expected=f"* 3 FETCH (UID {uids[2]})",
        observed=_shown(res),
    )


# --- a message another session expunged, before this one is told (RFC 9051 7.5.1, 2.3.1.1) -------------
# NO, or OK with the data the server still has, are both fine; data of another message is not.

SEQ_KEPT = {
    "imap4rev1": "imap.rfc3501.7.4.1.expunged-number-kept",
    "imap4rev2": "imap.rfc9051.7.5.1.expunged-number-kept",
}
UID_ONE = {
    "imap4rev1": "imap.rfc3501.2.3.1.1.expunged-uid-one-message",
    "imap4rev2": "imap.rfc9051.2.3.1.1.expunged-uid-one-message",
}
SUBJECT_ITEM = "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])"


def _expunged_elsewhere(imap: IMAPSessions) -> tuple[IMAPClient, IMAPClient, list[int]]:
    """Session A has expunged message 1 of 3 ("sync 1".."sync 3"); B has not been told. B's UIDs before."""
    a, b, _ = _pair(imap, 3)
    uids = imap.uids(b)
    if len(uids) != 3:
        unsupported(f"session B could not FETCH the UIDs: {uids}")
    _expunge(a, "1")
    return a, b, uids


def _foreign_data(res: Result, uids: list[int]) -> list[str]:
    """FETCH responses in ``res`` that give, under a number of B's view, another message's UID or Subject.

    B's view is ``uids`` as B was last told, less any EXPUNGE that came before the FETCH (allowed
    during UID commands only; the EXPUNGE rule is checked apart).
    """
    view = list(uids)
    wrong: list[str] = []
    for u in res.untagged:
        if u.name == "EXPUNGE" and u.number is not None and 1 <= u.number <= len(view):
            view.pop(u.number - 1)
        elif u.name == "FETCH" and u.number is not None:
            if not 1 <= u.number <= len(view):
                wrong.append(f"{_shown([u])} (B knows {len(view)} messages)")
                continue
            mine = view[u.number - 1]
            items = fetch_items(u)
            uid = items.get("UID")
            header = next((v for k, v in items.items() if k.startswith("BODY[")), None)
            others = [f"Subject: sync {i + 1}".encode() for i in range(len(uids)) if uids[i] != mine]
            if (uid is not None and str(uid) != str(mine)) or (
                isinstance(header, bytes) and any(o in header for o in others)
            ):
                wrong.append(_shown([u]))
    return wrong


def _flags_of(items: dict[str, wire.Value]) -> list[wire.Value]:
    flags = items.get("FLAGS")
    return flags if isinstance(flags, list) else []


def _judge_expunged(
    imap: IMAPSessions, a: IMAPClient, b: IMAPClient, res: Result, uids: list[int], *, uid: bool, stored: bool
) -> None:
    """What B's FETCH or STORE (``stored``) on the message A expunged may and may not have done."""
    mode = imap.mode(b)
    req = UID_ONE[mode] if uid else SEQ_KEPT[mode]
    if not uid:
        check(
            not _removals(res.untagged),
            "EXPUNGE was sent during FETCH or STORE",
            req="imap.rfc9051.7.5.1.no-expunge-during-fetch-store-search",
            expected="no EXPUNGE",
            observed=_shown(res),
        )
    wrong = _foreign_data(res, uids)
    check(
        not wrong,
        f"the answer about the expunged message {'UID ' + str(uids[0]) if uid else '1'} carries another message's data",
        req=req,
        expected=f"NO, or OK with no data or the data of UID {uids[0]} (Subject: sync 1)",
        observed=" | ".join(wrong),
    )
    if stored:
        _, items = a.fetch("1:*", "(UID FLAGS)")
        hit = [str(f.get("UID")) for f in items.values() if _flags_of(f) and "\\Flagged" in _flags_of(f)]
        check(
            not hit,
            "STORE on the expunged message set \\Flagged on another message",
            req=req,
            expected="no remaining message \\Flagged",
            observed=f"\\Flagged on UIDs {', '.join(hit)}",
        )
    if not uid:
        # Numbers B was not told to change still name B's messages (7.5.1: no silent renumbering).
        after, _ = b.fetch("2:3", "(UID)")
        moved = _foreign_data(after, uids)
        check(not moved, "message numbers of session B changed without an EXPUNGE", req=req, observed=" | ".join(moved))


@case(
    "imap.rfc9051.7.5.1.expunged-number-kept",
    "imap.rfc3501.7.4.1.expunged-number-kept",
    "imap.rfc9051.7.5.1.no-expunge-during-fetch-store-search",
    defect=msgs.EXPUNGED_SLOT_REUSED,
)
def test_fetch_message_expunged_elsewhere(imap: IMAPSessions) -> None:
    a, b, uids = _expunged_elsewhere(imap)
    res, _ = b.fetch("1", SUBJECT_ITEM)
    _judge_expunged(imap, a, b, res, uids, uid=False, stored=False)


@case(
    "imap.rfc9051.7.5.1.expunged-number-kept",
    "imap.rfc3501.7.4.1.expunged-number-kept",
    "imap.rfc9051.7.5.1.no-expunge-during-fetch-store-search",
    defect=msgs.EXPUNGED_SLOT_REUSED,
)
def test_store_message_expunged_elsewhere(imap: IMAPSessions) -> None:
    a, b, uids = _expunged_elsewhere(imap)
    res = b.store("1", "+FLAGS", ("\\Flagged",))
    _judge_expunged(imap, a, b, res, uids, uid=False, stored=True)


@case(
    "imap.rfc9051.2.3.1.1.expunged-uid-one-message",
    "imap.rfc3501.2.3.1.1.expunged-uid-one-message",
    defect=msgs.EXPUNGED_SLOT_REUSED,
)
def test_uid_fetch_message_expunged_elsewhere(imap: IMAPSessions) -> None:
    a, b, uids = _expunged_elsewhere(imap)
    res, _ = b.fetch(str(uids[0]), SUBJECT_ITEM, uid=True)
    _judge_expunged(imap, a, b, res, uids, uid=True, stored=False)


@case(
    "imap.rfc9051.2.3.1.1.expunged-uid-one-message",
    "imap.rfc3501.2.3.1.1.expunged-uid-one-message",
    defect=msgs.EXPUNGED_SLOT_REUSED,
)
def test_uid_store_message_expunged_elsewhere(imap: IMAPSessions) -> None:
    a, b, uids = _expunged_elsewhere(imap)
    res = b.store(str(uids[0]), "+FLAGS", ("\\Flagged",), uid=True)
    _judge_expunged(imap, a, b, res, uids, uid=True, stored=True)


@case("imap.rfc9051.7.unilateral-expunge", defect=srv.NO_UNILATERAL_EXPUNGE)
def test_expunge_told_at_noop(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 3)
    _expunge(a, "1")
    res = b.noop()
    check(
        _removals(res.untagged),
        "session B was not told of the expunge at NOOP",
        expected="* 1 EXPUNGE",
        observed=_shown(res),
    )


@case("imap.rfc9051.5.2.no-exists-decrease", defect=srv.EXISTS_DECREASE)
def test_no_exists_decrease(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 3)
    _expunge(a, "1:2")
    res = b.noop()
    count = 3
    for u in res.untagged:
        if u.name == "EXPUNGE":
            count -= 1
        elif u.name == "EXISTS" and u.number is not None:
            check(
                u.number >= count,
                "an EXISTS reduced the number of messages (only EXPUNGE may)",
                expected=f"EXPUNGE responses, EXISTS >= {count}",
                observed=_shown(res),
            )


@case("imap.rfc9051.7.5.1.decrement", defect=srv.NO_DECREMENT)
def test_expunge_numbers_decrement(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 4)
    uids = imap.uids(b)
    if len(uids) != 4:
        unsupported(f"session B could not FETCH the UIDs: {uids}")
    _expunge(a, "2:3")
    res = b.noop()
    told = [u.number for u in res.named("EXPUNGE") if u.number is not None]
    if len(told) != 2:
        unsupported(f"session B was not told of both expunges with EXPUNGE at NOOP: {_shown(res)}")
    mine = list(uids)
    for n in told:
        check(1 <= n <= len(mine), f"EXPUNGE {n} names no message of the mailbox", observed=_shown(res))
        mine.pop(n - 1)
    now = imap.uids(b)
    check(
        mine == now,
        "the EXPUNGE numbers, each counting the earlier ones as gone, do not leave the messages that remain",
        expected=f"UIDs {now} after {_shown(res)}",
        observed=f"UIDs {mine}",
    )


# --- IMAP4rev1 \Recent (RFC 3501 2.3.2) --------------------------------------------------------------


def _has_recent(client: IMAPClient) -> bool | None:
    _, items = client.fetch("1", "(FLAGS)")
    flags = items.get(1, {}).get("FLAGS")
    return None if not isinstance(flags, list) else "\\Recent" in flags


@case("imap.rfc3501.2.3.2.recent-one-session", defect=srv.RECENT_LATER_SESSIONS)
def test_recent_for_first_session_only(imap: IMAPSessions) -> None:
    a = imap.login(rev="imap4rev1")
    name = imap.scratch(a, [make_message("recent")[0]], select=False)
    b = imap.login(rev="imap4rev1")
    if not b.select(name).ok:
        unsupported("session B cannot SELECT the mailbox")
    first = _has_recent(b)
    b.logout()
    c = imap.login(rev="imap4rev1")
    if not c.select(name).ok:
        unsupported("session C cannot SELECT the mailbox")
    second = _has_recent(c)
    if first is None or second is None:
        unsupported("FETCH FLAGS gave no flags")
    check(first, "the first session to select the mailbox does not see \\Recent", observed=f"B: {first}")
    check(not second, "a later session still sees \\Recent on the message", expected="no \\Recent", observed="\\Recent")


# --- IDLE (RFC 9051 6.3.13) ----------------------------------------------------------------------------


def _idle(imap: IMAPSessions, client: IMAPClient) -> tuple[str, wire.Response | None]:
    """IDLE sent; its tag and the first response that is not untagged (None after a read timeout of nothing)."""
    imap.require(client, "IDLE")
    tag = client.next_tag()
    client.send(f"{tag} IDLE\r\n".encode())
    while True:
        r = client.try_read_response(client.timeout)
        if not isinstance(r, wire.Untagged):
            return tag, r


def _idling(imap: IMAPSessions, client: IMAPClient) -> str:
    tag, r = _idle(imap, client)
    if not isinstance(r, wire.Continuation):
        unsupported(f"IDLE was not accepted: {r}")
    return tag


def _done(client: IMAPClient, tag: str) -> wire.Tagged | None:
    """DONE sent; the tagged response to IDLE if it comes within the read timeout."""
    client.send(b"DONE\r\n")
    while True:
        r = client.try_read_response(client.timeout)
        if r is None or (isinstance(r, wire.Tagged) and r.tag == tag):
            return r
        if isinstance(r, wire.Tagged):
            return None


def _told(client: IMAPClient, name: str) -> tuple[wire.Untagged | None, list[wire.Untagged]]:
    """The first untagged ``name`` (one of several names: "EXPUNGE|VANISHED") within the read timeout (another
    session's change may take a while on a busy host: review D2); all seen."""
    names = name.split("|")
    seen: list[wire.Untagged] = []
    deadline = time.monotonic() + client.timeout
    while (left := deadline - time.monotonic()) > 0:
        r = client.try_read_response(left)
        if r is None:
            break
        if isinstance(r, wire.Untagged):
            seen.append(r)
            if r.name in names:
                return r, seen
    return None, seen


@case("imap.rfc9051.6.3.13.continuation", defect=srv.IDLE_NO_CONTINUATION)
def test_idle_continuation(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    tag, r = _idle(imap, client)
    check(isinstance(r, wire.Continuation), "IDLE got no continuation request", expected="+ idling", observed=str(r))
    _done(client, tag)


@case("imap.rfc9051.6.3.13.done-tagged", defect=srv.IDLE_DONE_NO_TAGGED)
def test_idle_done_tagged_ok(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    tag = _idling(imap, client)
    r = _done(client, tag)
    check(
        r is not None and r.status == "OK",
        "DONE was not answered with the tagged OK of IDLE",
        expected=f"{tag} OK",
        observed=str(r),
    )


# IDLE is a command in progress until DONE (RFC 2177 3, RFC 9051 6.3.13), so the 5.2 rules on updates
# "during the processing of a command" hold while it is active: MUST for the size (EXISTS, and EXPUNGE,
# which 7.5.1 allows during IDLE), SHOULD for flags. IDLE's own "free to send" is only permission.


@case(*SIZE_UPDATES, "imap.rfc2177.3.idle-active", defect=srv.IDLE_NO_UPDATES)
def test_idle_new_message(imap: IMAPSessions) -> None:
    a, b, name = _pair(imap, 1)
    tag = _idling(imap, b)
    a.append(name, make_message("added during IDLE")[0])
    got, seen = _told(b, "EXISTS")
    _done(b, tag)
    check(
        got is not None,
        f"no EXISTS came during IDLE within {b.timeout:g} s",
        req=imap.by_revision(b, *SIZE_UPDATES),
        expected="* 2 EXISTS",
        observed=_shown(seen),
    )


@case(*FLAG_UPDATES, "imap.rfc2177.3.idle-active", defect=srv.IDLE_NO_UPDATES)
def test_idle_flag_change(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 1)
    tag = _idling(imap, b)
    a.store("1", "+FLAGS", ("\\Flagged",))
    got, seen = _told(b, "FETCH")
    _done(b, tag)
    check(
        got is not None,
        f"no FETCH came during IDLE within {b.timeout:g} s",
        req=imap.by_revision(b, *FLAG_UPDATES),
        expected="* 1 FETCH (FLAGS ..)",
        observed=_shown(seen),
    )


@case(*SIZE_UPDATES, "imap.rfc2177.3.idle-active", defect=srv.IDLE_NO_UPDATES)
def test_idle_expunge(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 2)
    tag = _idling(imap, b)
    _expunge(a, "1")
    got, seen = _told(b, "EXPUNGE|VANISHED")
    _done(b, tag)
    check(
        got is not None,
        f"no EXPUNGE came during IDLE within {b.timeout:g} s",
        req=imap.by_revision(b, *SIZE_UPDATES),
        expected="* 1 EXPUNGE",
        observed=_shown(seen),
    )


@case("imap.rfc9051.6.3.13.fetch-uid", defect=srv.IDLE_FETCH_NO_UID)
def test_idle_fetch_has_uid(imap: IMAPSessions) -> None:
    a, b, _ = _pair(imap, 1)
    imap.require_profile(b, "imap4rev2")
    tag = _idling(imap, b)
    a.store("1", "+FLAGS", ("\\Flagged",))
    got, _ = _told(b, "FETCH")
    _done(b, tag)
    if got is None:
        unsupported("the server sent no unsolicited FETCH during IDLE")
    check("UID" in fetch_items(got), "an unsolicited FETCH during IDLE has no UID item", observed=str(got.raw))

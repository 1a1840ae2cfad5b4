"""RFC 7162: CONDSTORE (mod-sequences, HIGHESTMODSEQ, CHANGEDSINCE, UNCHANGEDSINCE, SEARCH MODSEQ)
and QRESYNC (ENABLE QRESYNC, SELECT (QRESYNC ...), VANISHED). UNSUPPORTED unless announced."""

from conformance.clients.imap import IMAPClient, IMAPSessions, Result, code_arg, fetch_items
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import search as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

A = wire.Atom


def _messages(n: int) -> list[bytes]:
    return [make_message(f"condstore {i + 1}")[0] for i in range(n)]


def _shown(res: Result) -> str:
    return " | ".join(u.raw.decode(errors="replace").strip() for u in res.untagged) + f" | {res}"


def _highest(res: Result) -> int | None:
    value = code_arg(res, "HIGHESTMODSEQ")
    return int(value) if value and value.isdigit() else None


def _condstore(imap: IMAPSessions, n: int, client: IMAPClient | None = None) -> tuple[IMAPClient, str, Result]:
    """A scratch mailbox of ``n`` messages selected with SELECT (CONDSTORE); client, name, SELECT result."""
    client = client or imap.login()
    caps = imap.capabilities(client)
    if "CONDSTORE" not in caps and "QRESYNC" not in caps:
        unsupported("the server does not announce CONDSTORE in CAPABILITY")
    name = imap.scratch(client, _messages(n), select=False)
    res = client.command("SELECT", wire.encode_mailbox(name), [A("CONDSTORE")])
    if not res.ok:
        unsupported(f"SELECT (CONDSTORE) was refused: {res}")
    return client, name, res


def _modseq(items: dict[str, wire.Value]) -> int | None:
    value = items.get("MODSEQ")
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) and value[0].isdigit():
        return int(value[0])
    return None


def _modseqs(client: IMAPClient, seqset: str = "1:*") -> dict[int, int]:
    """FETCH (MODSEQ): the mod-sequence of each message by number (UNSUPPORTED when none comes)."""
    res, items = client.fetch(seqset, "(MODSEQ)")
    out = {n: ms for n, v in items.items() if (ms := _modseq(v)) is not None}
    if not out:
        unsupported(f"FETCH (MODSEQ) gave no mod-sequences: {res}")
    return out


def _flags(client: IMAPClient, num: int) -> list[str]:
    _, items = client.fetch(str(num), "(FLAGS)")
    flags = items.get(num, {}).get("FLAGS")
    return [str(f) for f in flags] if isinstance(flags, list) else []


def _conditional(client: IMAPClient, seqset: str, since: int, item: str, flag: str) -> Result:
    return client.command("STORE", A(seqset), [A("UNCHANGEDSINCE"), A(str(since))], A(item), [A(flag)])


# --- CONDSTORE ----------------------------------------------------------------------------------


@case("imap.rfc7162.3.1.2.select-highestmodseq", defect=srv.NO_HIGHESTMODSEQ)
def test_select_condstore_highestmodseq(imap: IMAPSessions) -> None:
    _, _, res = _condstore(imap, 1)
    check(
        code_arg(res, "HIGHESTMODSEQ") is not None or code_arg(res, "NOMODSEQ") is not None,
        "SELECT (CONDSTORE) gave neither HIGHESTMODSEQ nor NOMODSEQ",
        expected="* OK [HIGHESTMODSEQ n]",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.1.2.select-highestmodseq", defect=srv.NO_HIGHESTMODSEQ)
def test_select_after_enable_condstore_highestmodseq(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "ENABLE")
    imap.require(client, "CONDSTORE")
    enabled = client.command("ENABLE", A("CONDSTORE"))
    if not any("CONDSTORE" in [str(v).upper() for v in u.values] for u in enabled.named("ENABLED")):
        unsupported(f"ENABLE CONDSTORE did not enable it: {_shown(enabled)}")
    name = imap.scratch(client, _messages(1), select=False)
    res = client.select(name)
    check(
        code_arg(res, "HIGHESTMODSEQ") is not None or code_arg(res, "NOMODSEQ") is not None,
        "SELECT after ENABLE CONDSTORE gave neither HIGHESTMODSEQ nor NOMODSEQ",
        expected="* OK [HIGHESTMODSEQ n]",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.1.4.2.fetch-modseq", defect=srv.FETCH_NO_MODSEQ)
def test_fetch_modseq(imap: IMAPSessions) -> None:
    client, _, _ = _condstore(imap, 2)
    res, items = client.fetch("1:*", "(MODSEQ)")
    got = {n: _modseq(v) for n, v in items.items()}
    check(
        res.ok and set(got) == {1, 2} and all(v is not None and v > 0 for v in got.values()),
        "FETCH (MODSEQ) did not give a positive MODSEQ (n) for each message",
        expected="* 1 FETCH (MODSEQ (n)) and * 2 FETCH (MODSEQ (n))",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.1.modseq-flag-change", defect=srv.MODSEQ_STATIC)
def test_flag_change_raises_modseq(imap: IMAPSessions) -> None:
    client, _, _ = _condstore(imap, 1)
    before = _modseqs(client)[1]
    client.store("1", "+FLAGS", ("\\Flagged",))
    after = _modseqs(client)[1]
    check(
        after > before, "setting \\Flagged did not raise the mod-sequence", expected=f"> {before}", observed=str(after)
    )


@case("imap.rfc7162.3.1.modseq-store-order", defect=srv.MODSEQ_STATIC)
def test_later_store_higher_modseq(imap: IMAPSessions) -> None:
    client, _, _ = _condstore(imap, 2)
    # Message 2 first, then message 1: the second STORE's mod-sequence must be the greater one.
    client.store("2", "+FLAGS", ("\\Seen",))
    client.store("1", "+FLAGS", ("\\Seen",))
    ms = _modseqs(client)
    check(
        ms.get(1, 0) > ms.get(2, 0),
        "the later STORE got a mod-sequence that is not greater than the earlier one's",
        expected=f"MODSEQ of 1 > {ms.get(2)}",
        observed=str(ms),
    )


@case("imap.rfc7162.3.1.modseq-noop-store", defect=srv.NOOP_STORE_BUMPS)
def test_store_without_change_keeps_modseq(imap: IMAPSessions) -> None:
    client, _, _ = _condstore(imap, 1)
    client.store("1", "+FLAGS", ("\\Flagged",))
    before = _modseqs(client)[1]
    client.store("1", "+FLAGS", ("\\Flagged",))
    after = _modseqs(client)[1]
    check(
        after == before,
        "setting a flag already set changed the mod-sequence",
        expected=str(before),
        observed=str(after),
    )


@case("imap.rfc7162.3.1.modseq-append", defect=srv.APPEND_LOW_MODSEQ)
def test_appended_message_highest_modseq(imap: IMAPSessions) -> None:
    client, name, _ = _condstore(imap, 2)
    client.store("1", "+FLAGS", ("\\Flagged",))
    highest = max(_modseqs(client).values())
    if not client.append(name, make_message("appended")[0]).ok:
        unsupported("APPEND to the selected mailbox was refused")
    client.noop()
    new = _modseqs(client, "3").get(3)
    check(
        new is not None and new > highest,
        "the appended message's mod-sequence is not above every other message's",
        expected=f"> {highest}",
        observed=str(new),
    )


@case("imap.rfc7162.3.1.2.1.highestmodseq-value", defect=srv.HIGHESTMODSEQ_STALE)
def test_highestmodseq_is_highest(imap: IMAPSessions) -> None:
    client, name, _ = _condstore(imap, 3)
    client.store("2", "+FLAGS", ("\\Flagged",))
    client.command("UNSELECT" if client.has("UNSELECT") else "CLOSE")
    res = client.command("SELECT", wire.encode_mailbox(name), [A("CONDSTORE")])
    highest = _highest(res)
    if highest is None:
        unsupported(f"SELECT (CONDSTORE) gave no HIGHESTMODSEQ: {res}")
    top = max(_modseqs(client).values())
    check(
        highest == top,
        "HIGHESTMODSEQ is not the highest mod-sequence of the messages",
        expected=str(top),
        observed=str(highest),
    )


@case("imap.rfc7162.3.1.3.unchangedsince-fetch", defect=srv.SILENT_NO_MODSEQ)
def test_unchangedsince_silent_still_fetch(imap: IMAPSessions) -> None:
    client, _, _ = _condstore(imap, 1)
    since = _modseqs(client)[1]
    res = _conditional(client, "1", since, "+FLAGS.SILENT", "\\Seen")
    told = [_modseq(fetch_items(u)) for u in res.named("FETCH") if u.number == 1]
    check(res.ok, "the conditional STORE was refused", observed=str(res))
    check(
        any(ms is not None for ms in told),
        "STORE (UNCHANGEDSINCE) .SILENT sent no FETCH with MODSEQ",
        expected="* 1 FETCH (MODSEQ (n))",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.1.3.unchangedsince-refused", defect=srv.UNCHANGEDSINCE_IGNORED)
def test_unchangedsince_older_not_performed(imap: IMAPSessions) -> None:
    client, _, _ = _condstore(imap, 1)
    since = _modseqs(client)[1] - 1
    _conditional(client, "1", since, "+FLAGS", "\\Flagged")
    flags = _flags(client, 1)
    check(
        "\\Flagged" not in flags,
        "STORE was performed although the message changed since UNCHANGEDSINCE",
        observed=str(flags),
    )


@case("imap.rfc7162.3.1.3.modified-code", defect=srv.NO_MODIFIED_CODE)
def test_unchangedsince_modified_code(imap: IMAPSessions) -> None:
    client, _, _ = _condstore(imap, 2)
    # Message 2 changes after message 1's mod-sequence is noted: it fails UNCHANGEDSINCE, message 1 passes.
    since = _modseqs(client)[1]
    client.store("2", "+FLAGS", ("\\Seen",))
    res = _conditional(client, "1:2", since, "+FLAGS", "\\Flagged")
    failed = code_arg(res, "MODIFIED")
    check(failed is not None, "the tagged response has no MODIFIED code", expected="OK [MODIFIED 2]", observed=str(res))
    assert failed is not None
    check(
        2 in wire.expand_sequence_set(failed, 2),
        "MODIFIED does not list message 2",
        expected="[MODIFIED 2]",
        observed=str(res),
    )


def _changed_since(imap: IMAPSessions) -> tuple[Result, dict[int, dict[str, wire.Value]]]:
    """Three messages, message 2 flagged after ``since``; FETCH 1:* (FLAGS) (CHANGEDSINCE since)."""
    client, _, _ = _condstore(imap, 3)
    since = max(_modseqs(client).values())
    client.store("2", "+FLAGS", ("\\Flagged",))
    res = client.command("FETCH", A("1:*"), [A("FLAGS")], [A("CHANGEDSINCE"), A(str(since))])
    items = {u.number: fetch_items(u) for u in res.named("FETCH") if u.number is not None}
    if not res.ok:
        unsupported(f"FETCH (CHANGEDSINCE) was refused: {res}")
    return res, items


@case("imap.rfc7162.3.1.4.1.changedsince", defect=srv.CHANGEDSINCE_IGNORED)
def test_changedsince_only_changed(imap: IMAPSessions) -> None:
    res, items = _changed_since(imap)
    check(
        set(items) == {2},
        "FETCH (CHANGEDSINCE) did not return exactly the changed message",
        expected="2",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.1.4.1.changedsince-modseq", defect=srv.CHANGEDSINCE_NO_MODSEQ)
def test_changedsince_adds_modseq(imap: IMAPSessions) -> None:
    res, items = _changed_since(imap)
    check(
        bool(items) and all(_modseq(v) is not None for v in items.values()),
        "FETCH (CHANGEDSINCE) responses have no MODSEQ",
        expected="* 2 FETCH (FLAGS (..) MODSEQ (n))",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.1.unsolicited-modseq", defect=srv.UNSOLICITED_NO_MODSEQ)
def test_other_session_change_carries_modseq(imap: IMAPSessions) -> None:
    a, name, _ = _condstore(imap, 1)
    b = imap.login()
    if not b.command("SELECT", wire.encode_mailbox(name), [A("CONDSTORE")]).ok:
        unsupported("session B cannot SELECT (CONDSTORE) the mailbox")
    a.store("1", "+FLAGS", ("\\Flagged",))
    res = b.noop()
    told = [fetch_items(u) for u in res.named("FETCH") if u.number == 1]
    if not told:
        unsupported(f"session B was not told of the flag change at NOOP: {_shown(res)}")
    check(
        all(_modseq(t) is not None for t in told),
        "the unsolicited FETCH for another session's change has no MODSEQ",
        expected="* 1 FETCH (FLAGS (\\Flagged) MODSEQ (n))",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.1.5.search-modseq", defect=srv.SEARCH_MODSEQ_GREATER)
def test_search_modseq_at_least(imap: IMAPSessions) -> None:
    client, _, _ = _condstore(imap, 3)
    ms = _modseqs(client)
    floor = ms[2]
    want = {n for n, v in ms.items() if v >= floor}
    res, found = client.search(A("MODSEQ"), A(str(floor)))
    check(res.ok, "SEARCH MODSEQ was refused", observed=str(res))
    check(
        set(found) == want,
        "SEARCH MODSEQ n did not find the messages whose mod-sequence is n or more",
        expected=str(sorted(want)),
        observed=str(found),
    )


# --- QRESYNC --------------------------------------------------------------------------------------


def _enable_qresync(imap: IMAPSessions, client: IMAPClient) -> Result:
    imap.require(client, "QRESYNC")
    return client.command("ENABLE", A("QRESYNC"))


def _enabled(res: Result) -> bool:
    return any("QRESYNC" in [str(v).upper() for v in u.values] for u in res.named("ENABLED"))


def _qresync(imap: IMAPSessions, n: int) -> tuple[IMAPClient, str, int, int]:
    """ENABLE QRESYNC, then a scratch mailbox of ``n`` messages selected: client, name, UIDVALIDITY, HIGHESTMODSEQ."""
    client = imap.login()
    if not _enabled(_enable_qresync(imap, client)):
        unsupported("ENABLE QRESYNC did not enable it")
    name = imap.scratch(client, _messages(n), select=False)
    res = client.select(name)
    uv, highest = code_arg(res, "UIDVALIDITY"), _highest(res)
    if not res.ok or uv is None or not uv.isdigit() or highest is None:
        unsupported(f"SELECT after ENABLE QRESYNC gave no UIDVALIDITY or HIGHESTMODSEQ: {res}")
    return client, name, int(uv), highest


def _vanished(res: Result | list[wire.Untagged]) -> list[tuple[bool, str]]:
    """(EARLIER or not, UID set) of each VANISHED response."""
    out = []
    for u in res.named("VANISHED") if isinstance(res, Result) else [u for u in res if u.name == "VANISHED"]:
        vals = list(u.values)
        earlier = bool(vals) and isinstance(vals[0], list) and [str(v).upper() for v in vals[0]] == ["EARLIER"]
        out.append((earlier, str(vals[-1]) if vals else ""))
    return out


def _changed_elsewhere(imap: IMAPSessions) -> tuple[IMAPClient, str, int, int, list[int]]:
    """Three messages; after HIGHESTMODSEQ was noted, message 2 flagged and message 3 expunged."""
    client, name, uv, highest = _qresync(imap, 3)
    uids = imap.uids(client)
    if len(uids) != 3:
        unsupported(f"FETCH UID did not give the case's UIDs: {uids}")
    client.store("2", "+FLAGS", ("\\Flagged",))
    client.store("3", "+FLAGS", ("\\Deleted",))
    client.command("EXPUNGE")
    return client, name, uv, highest, uids


def _resync(imap: IMAPSessions, name: str, uv: int, since: int, *known: wire.Arg) -> Result:
    """SELECT (QRESYNC (uv since [known-uids] [(seqs uids)])) in a new session."""
    b = imap.login()
    if not _enabled(_enable_qresync(imap, b)):
        unsupported("ENABLE QRESYNC did not enable it")
    return b.command("SELECT", wire.encode_mailbox(name), [A("QRESYNC"), [A(str(uv)), A(str(since)), *known]])


def _changes(res: Result, uids: list[int]) -> tuple[set[int], set[int]]:
    """The UIDs a SELECT (QRESYNC) reported: (in VANISHED (EARLIER), in FETCH responses)."""
    gone = {u for earlier, s in _vanished(res) if earlier for u in wire.expand_sequence_set(s, max(uids))}
    changed = {int(str(f["UID"])) for f in map(fetch_items, res.named("FETCH")) if str(f.get("UID", "")).isdigit()}
    return gone, changed


def _four_changed(imap: IMAPSessions) -> tuple[str, int, int, list[int]]:
    """Four messages; after HIGHESTMODSEQ was noted, messages 1 and 2 flagged, 3 and 4 expunged."""
    client, name, uv, highest = _qresync(imap, 4)
    uids = imap.uids(client)
    if len(uids) != 4:
        unsupported(f"FETCH UID did not give the case's UIDs: {uids}")
    client.store("1:2", "+FLAGS", ("\\Flagged",))
    client.store("3:4", "+FLAGS", ("\\Deleted",))
    client.command("EXPUNGE")
    return name, uv, highest, uids


@case("imap.rfc7162.3.2.3.enable-qresync", defect=srv.ENABLE_QRESYNC_IGNORED)
def test_enable_qresync(imap: IMAPSessions) -> None:
    client = imap.login()
    res = _enable_qresync(imap, client)
    check(
        res.ok and _enabled(res),
        "ENABLE QRESYNC did not answer ENABLED QRESYNC",
        expected="* ENABLED QRESYNC",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.5.select-without-enable-bad", defect=srv.QRESYNC_WITHOUT_ENABLE)
def test_select_qresync_without_enable_bad(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "QRESYNC")
    name = imap.scratch(client, _messages(1))
    uv = code_arg(client.select(name), "UIDVALIDITY") or "1"
    res = client.command("SELECT", wire.encode_mailbox(name), [A("QRESYNC"), [A(uv), A("1")]])
    check(
        res.status == "BAD",
        "SELECT (QRESYNC ...) without ENABLE QRESYNC was not BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc7162.3.2.6.vanished-fetch-bad", defect=srv.VANISHED_WITHOUT_ENABLE)
def test_vanished_fetch_without_enable_bad(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "QRESYNC")
    imap.scratch(client, _messages(1))
    res = client.command("UID FETCH", A("1:*"), [A("FLAGS")], [A("CHANGEDSINCE"), A("1"), A("VANISHED")])
    check(
        res.status == "BAD",
        "UID FETCH (VANISHED) without ENABLE QRESYNC was not BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc7162.3.2.10.2.vanished-not-expunge", defect=srv.EXPUNGE_NOT_VANISHED)
def test_own_expunge_reported_as_vanished(imap: IMAPSessions) -> None:
    client, _, _, _ = _qresync(imap, 3)
    uids = imap.uids(client)
    client.store("2", "+FLAGS", ("\\Deleted",))
    res = client.command("EXPUNGE")
    sets = [s for _, s in _vanished(res)]
    check(
        not res.named("EXPUNGE"),
        "EXPUNGE responses came after ENABLE QRESYNC",
        expected=f"* VANISHED {uids[1]}",
        observed=_shown(res),
    )
    check(
        any(uids[1] in wire.expand_sequence_set(s, max(uids)) for s in sets),
        "no VANISHED response named the expunged UID",
        expected=f"* VANISHED {uids[1]}",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.10.2.vanished-no-earlier", defect=srv.VANISHED_EARLIER_LIVE)
def test_other_session_expunge_vanished_without_earlier(imap: IMAPSessions) -> None:
    b, name, _, _ = _qresync(imap, 2)
    a = imap.login()
    if not a.select(name).ok:
        unsupported("session A cannot SELECT the mailbox")
    a.store("1", "+FLAGS", ("\\Deleted",))
    a.command("EXPUNGE")
    res = b.noop()
    found = _vanished(res)
    if not found:
        unsupported(f"session B was not told of the expunge with VANISHED at NOOP: {_shown(res)}")
    check(
        not any(earlier for earlier, _ in found),
        "the VANISHED for a live expunge has the EARLIER tag",
        expected="* VANISHED uid",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.5.1.select-changes", defect=srv.QRESYNC_NO_VANISHED_EARLIER)
def test_select_qresync_reports_changes(imap: IMAPSessions) -> None:
    _, name, uv, highest, uids = _changed_elsewhere(imap)
    res = _resync(imap, name, uv, highest)
    check(res.ok, "SELECT (QRESYNC ...) was refused", observed=str(res))
    gone = [s for earlier, s in _vanished(res) if earlier]
    check(
        any(uids[2] in wire.expand_sequence_set(s, max(uids)) for s in gone),
        "SELECT (QRESYNC ...) did not report the expunged UID in VANISHED (EARLIER)",
        expected=f"* VANISHED (EARLIER) {uids[2]}",
        observed=_shown(res),
    )
    changed = [fetch_items(u) for u in res.named("FETCH")]
    check(
        any(str(f.get("UID")) == str(uids[1]) for f in changed),
        "SELECT (QRESYNC ...) did not report the flag change in a FETCH with UID",
        expected=f"* 2 FETCH (UID {uids[1]} FLAGS (\\Flagged) MODSEQ (n))",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.5.uidvalidity-mismatch", defect=srv.UIDVALIDITY_MISMATCH_IGNORED)
def test_select_qresync_uidvalidity_mismatch(imap: IMAPSessions) -> None:
    _, name, uv, highest, _ = _changed_elsewhere(imap)
    res = _resync(imap, name, uv + 1, highest)
    check(res.ok, "SELECT (QRESYNC ...) with another UIDVALIDITY was refused", observed=str(res))
    check(
        not res.named("VANISHED") and not res.named("FETCH"),
        "with a UIDVALIDITY that does not match, the server still reported changes",
        expected="no VANISHED, no FETCH",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.6.vanished-earlier-first", defect=srv.VANISHED_AFTER_FETCH)
def test_uid_fetch_vanished_before_fetch(imap: IMAPSessions) -> None:
    client, _, _, highest, uids = _changed_elsewhere(imap)
    # An explicit range: "*" would stop at the highest UID left, below the expunged one.
    res = client.command(
        "UID FETCH", A(f"1:{max(uids)}"), [A("FLAGS")], [A("CHANGEDSINCE"), A(str(highest)), A("VANISHED")]
    )
    order = [u.name for u in res.untagged if u.name in ("VANISHED", "FETCH")]
    if "VANISHED" not in order or "FETCH" not in order:
        unsupported(f"UID FETCH (CHANGEDSINCE VANISHED) gave not both VANISHED and FETCH: {_shown(res)}")
    check(
        order.index("VANISHED") < order.index("FETCH"),
        "VANISHED (EARLIER) came after a FETCH response",
        expected="* VANISHED (EARLIER) .. before * n FETCH",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.4.qresync-uid-modseq", defect=srv.QRESYNC_FETCH_NO_UID)
def test_store_fetch_has_uid_and_modseq(imap: IMAPSessions) -> None:
    client, _, _, _ = _qresync(imap, 1)
    res = client.store("1", "+FLAGS", ("\\Seen",))
    told = [fetch_items(u) for u in res.named("FETCH") if u.number == 1]
    if not told:
        unsupported(f"STORE sent no FETCH response: {_shown(res)}")
    check(
        all("UID" in t and _modseq(t) is not None for t in told),
        "after ENABLE QRESYNC, STORE's FETCH response lacks UID or MODSEQ",
        expected="* 1 FETCH (FLAGS (\\Seen) UID n MODSEQ (m))",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.5.1.select-changes", defect=srv.QRESYNC_KNOWN_UIDS_DROPPED)
def test_select_qresync_known_uids_reports_their_changes(imap: IMAPSessions) -> None:
    name, uv, highest, uids = _four_changed(imap)
    res = _resync(imap, name, uv, highest, A(f"{uids[1]}:{uids[2]}"))
    check(res.ok, "SELECT (QRESYNC ...) with known UIDs was refused", observed=str(res))
    gone, changed = _changes(res, uids)
    check(
        uids[2] in gone and uids[1] in changed,
        "SELECT (QRESYNC ...) with known UIDs did not report the changes to those UIDs",
        expected=f"* VANISHED (EARLIER) {uids[2]} and * 1 FETCH (UID {uids[1]} ..)",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.5.1.known-uids-only", defect=srv.QRESYNC_KNOWN_UIDS_IGNORED)
def test_select_qresync_known_uids_only(imap: IMAPSessions) -> None:
    name, uv, highest, uids = _four_changed(imap)
    res = _resync(imap, name, uv, highest, A(f"{uids[1]}:{uids[2]}"))
    if not res.ok:
        unsupported(f"SELECT (QRESYNC ...) with known UIDs was refused: {res}")
    gone, changed = _changes(res, uids)
    check(
        uids[3] not in gone and uids[0] not in changed,
        "SELECT (QRESYNC ...) reported changes to messages outside the known UIDs",
        expected=f"nothing on UIDs {uids[0]} and {uids[3]}",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.5.2.seq-match-restricts", defect=srv.QRESYNC_SEQ_MATCH_IGNORED)
def test_select_qresync_seq_match_data(imap: IMAPSessions) -> None:
    client, name, uv, highest = _qresync(imap, 3)
    uids = imap.uids(client)
    if len(uids) != 3:
        unsupported(f"FETCH UID did not give the case's UIDs: {uids}")
    client.store("1", "+FLAGS", ("\\Deleted",))
    client.command("EXPUNGE")
    # Message 1 is now the second UID: a pair that matches says the client knows the first UID went.
    res = _resync(imap, name, uv, highest, A(f"{uids[0]}:{uids[2]}"), [A("1"), A(str(uids[1]))])
    if not res.ok:
        unsupported(f"SELECT (QRESYNC ...) with sequence match data was refused: {res}")
    gone, _ = _changes(res, uids)
    check(
        uids[0] not in gone,
        "SELECT (QRESYNC ...) reported an expunge the matching sequence match data said the client knew of",
        expected=f"no VANISHED (EARLIER) {uids[0]}",
        observed=_shown(res),
    )


def _uid_expunged(imap: IMAPSessions) -> tuple[Result, list[int], int]:
    """Three messages after ENABLE QRESYNC, all \\Deleted, UID EXPUNGE of the second: (result, UIDs, HIGHESTMODSEQ before)."""
    client, _, _, _ = _qresync(imap, 3)
    imap.require_uidplus(client)
    uids = imap.uids(client)
    client.store("1:3", "+FLAGS.SILENT", ("\\Deleted",))
    highest = max(_modseqs(client).values())  # no expunge yet: the mailbox's HIGHESTMODSEQ
    return client.command("UID EXPUNGE", A(str(uids[1]))), uids, highest


@case("imap.rfc7162.3.2.10.2.vanished-not-expunge", defect=srv.EXPUNGE_NOT_VANISHED)
def test_uid_expunge_reported_as_vanished(imap: IMAPSessions) -> None:
    res, uids, _ = _uid_expunged(imap)
    check(res.ok, "UID EXPUNGE failed", observed=str(res))
    sets = [s for earlier, s in _vanished(res) if not earlier]
    check(
        not res.named("EXPUNGE") and [u for s in sets for u in wire.expand_sequence_set(s, max(uids))] == [uids[1]],
        "UID EXPUNGE after ENABLE QRESYNC was not reported by one VANISHED of the expunged UID",
        expected=f"* VANISHED {uids[1]}",
        observed=_shown(res),
    )


@case("imap.rfc7162.3.2.9.uid-expunge-highestmodseq", defect=srv.EXPUNGE_NO_HIGHESTMODSEQ)
def test_uid_expunge_tagged_highestmodseq(imap: IMAPSessions) -> None:
    res, _, before = _uid_expunged(imap)
    check(res.ok, "UID EXPUNGE failed", observed=str(res))
    after = code_arg(res.tagged, "HIGHESTMODSEQ")
    check(
        after is not None and after.isdigit() and int(after) > before,
        "the tagged OK to UID EXPUNGE after ENABLE QRESYNC has no HIGHESTMODSEQ above the one before",
        expected=f"OK [HIGHESTMODSEQ n] with n > {before}",
        observed=_shown(res),
    )

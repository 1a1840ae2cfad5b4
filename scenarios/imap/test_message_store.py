"""RFC 9051 6.4.6 STORE: +FLAGS, -FLAGS, FLAGS, .SILENT, changes by other sessions, new keywords."""

import uuid

from conformance import corpus
from conformance.clients.imap import IMAPClient, IMAPSessions, Result, code_arg, fetch_items
from conformance.scenario import case
from conformance.servers.imap import messages as srv
from conformance.verdict import check, info, unsupported


def stored_flags(res: Result) -> dict[int, set[str]]:
    """The FLAGS of each untagged FETCH in a STORE's responses, by message number."""
    out: dict[int, set[str]] = {}
    for u in res.named("FETCH"):
        items = fetch_items(u)
        if u.number is not None and "FLAGS" in items:
            out[u.number] = corpus.flag_set(items["FLAGS"])
    return out


def current(client: IMAPClient, seq: int = 1) -> set[str]:
    _, items = client.fetch(str(seq), "(FLAGS)")
    return corpus.flag_set(items.get(seq, {}).get("FLAGS"))


def flagged(imap: IMAPSessions, flags: tuple[str, ...], n: int = 1) -> IMAPClient:
    client = imap.login()
    imap.scratch(client, corpus.simple(n), flags=flags)
    return client


@case("imap.rfc9051.6.4.6.store-add", defect=srv.STORE_ADD_REPLACES)
def test_store_add_flags(imap: IMAPSessions) -> None:
    client = flagged(imap, ("\\Answered",))
    res = client.store("1", "+FLAGS", ("\\Flagged",))
    check(res.ok, "STORE +FLAGS failed", observed=str(res))
    want = {"\\Answered", "\\Flagged"}
    check(
        stored_flags(res).get(1) == want,
        "the FETCH response to +FLAGS does not give the new flags",
        expected=str(sorted(want)),
        observed=str(stored_flags(res)),
    )
    check(
        current(client) == want,
        "+FLAGS did not add to the message's flags",
        expected=str(sorted(want)),
        observed=str(sorted(current(client))),
    )


@case("imap.rfc9051.6.4.6.store-add", defect=srv.STORE_ONLY_FIRST)
def test_store_add_flags_to_a_range(imap: IMAPSessions) -> None:
    client = flagged(imap, (), 3)
    res = client.store("1:3", "+FLAGS", ("\\Seen",))
    check(res.ok, "STORE 1:3 +FLAGS failed", observed=str(res))
    got = stored_flags(res)
    check(
        sorted(got) == [1, 2, 3] and all("\\Seen" in f for f in got.values()),
        "STORE 1:3 +FLAGS did not answer with the new flags of each message",
        expected="a FETCH for 1, 2 and 3",
        observed=str(got),
    )


@case("imap.rfc9051.6.4.6.store-remove", defect=srv.STORE_REMOVE_IGNORED)
def test_store_remove_flags(imap: IMAPSessions) -> None:
    client = flagged(imap, ("\\Answered", "\\Flagged"))
    res = client.store("1", "-FLAGS", ("\\Flagged",))
    check(res.ok, "STORE -FLAGS failed", observed=str(res))
    check(
        stored_flags(res).get(1) == {"\\Answered"},
        "the FETCH response to -FLAGS does not give the new flags",
        expected="(\\Answered)",
        observed=str(stored_flags(res)),
    )
    check(
        current(client) == {"\\Answered"},
        "-FLAGS did not remove the flag",
        expected="(\\Answered)",
        observed=str(sorted(current(client))),
    )


@case("imap.rfc9051.6.4.6.store-replace", defect=srv.STORE_REPLACE_ADDS)
def test_store_replace_flags(imap: IMAPSessions) -> None:
    client = flagged(imap, ("\\Answered", "\\Flagged"))
    res = client.store("1", "FLAGS", ("\\Draft",))
    check(res.ok, "STORE FLAGS failed", observed=str(res))
    check(
        stored_flags(res).get(1) == {"\\Draft"},
        "the FETCH response to FLAGS does not give the new flags",
        expected="(\\Draft)",
        observed=str(stored_flags(res)),
    )
    check(
        current(client) == {"\\Draft"},
        "STORE FLAGS did not replace the flags",
        expected="(\\Draft)",
        observed=str(sorted(current(client))),
    )


def _flags_seen(res: Result) -> dict[int, set[str]]:
    """The FLAGS of each untagged FETCH in ``res``, lower-cased, \\Recent kept (unlike ``stored_flags``)."""
    out: dict[int, set[str]] = {}
    for u in res.named("FETCH"):
        flags = fetch_items(u).get("FLAGS")
        if u.number is not None and isinstance(flags, list):
            out[u.number] = {str(f).lower() for f in flags if isinstance(f, str)}
    return out


def _after(op: str, before: set[str], flags: set[str]) -> set[str]:
    """The flags a STORE ``op`` (FLAGS, +FLAGS, -FLAGS) leaves; \\Recent is not the client's to change."""
    if op == "+FLAGS":
        return before | flags
    if op == "-FLAGS":
        return before - flags
    return flags | (before & {"\\recent"})


@case("imap.rfc9051.6.4.6.store-silent", defect=srv.SILENT_NOT_SILENT)
def test_store_silent_sends_no_fetch(imap: IMAPSessions) -> None:
    client = flagged(imap, (), 2)
    # What the session knows before. No other session selects the case's scratch mailbox, so a
    # FETCH that says only what the STORE did is the STORE's own result: FAIL. One that says more
    # (\Recent bookkeeping, some other agent) may be an unsolicited update, allowed at any time: INFO.
    known = _flags_seen(client.fetch("1:2", "(FLAGS)")[0])
    if sorted(known) != [1, 2]:
        unsupported(f"FETCH 1:2 (FLAGS) did not give the flags of both messages: {known}")
    unexplained: list[str] = []
    # Each STORE changes the flags, so that its own result differs from what the session knew.
    for item, flag in (("+FLAGS.SILENT", "\\Flagged"), ("FLAGS.SILENT", "\\Seen"), ("-FLAGS.SILENT", "\\Seen")):
        res = client.store("1:2", item, (flag,))
        check(res.ok, f"STORE {item} failed", observed=str(res))
        seen = _flags_seen(res)
        for n in (1, 2):
            after = _after(item.removesuffix(".SILENT"), known[n], {flag.lower()})
            check(
                seen.get(n) != after or after == known[n],
                f"STORE {item} answered with an untagged FETCH of the flags it had just set",
                expected="no FETCH for the stored messages",
                observed=repr([u.raw for u in res.named("FETCH")]),
            )
            known[n] = seen.get(n, after)
        unexplained += [f"{item}: {u.raw!r}" for u in res.named("FETCH")]
    if unexplained:
        info(
            f"untagged FETCH during .SILENT that this STORE does not explain (unsolicited updates are allowed): {unexplained}"
        )


@case("imap.rfc9051.6.4.6.store-silent", defect=srv.SILENT_IGNORED)
def test_store_silent_still_stores(imap: IMAPSessions) -> None:
    client = flagged(imap, ())
    res = client.store("1", "+FLAGS.SILENT", ("\\Answered",))
    check(
        res.ok and current(client) == {"\\Answered"},
        "+FLAGS.SILENT did not set the flag",
        expected="(\\Answered)",
        observed=str(sorted(current(client))),
    )


@case("imap.rfc9051.6.4.6.silent-external", defect=srv.SILENT_HIDES_EXTERNAL)
def test_store_silent_reports_changes_by_others(imap: IMAPSessions) -> None:
    a = imap.login()
    box = imap.scratch(a, corpus.simple(1))
    b = imap.login()
    check(b.select(box).ok, "a second session cannot SELECT the mailbox")
    check(b.store("1", "+FLAGS.SILENT", ("\\Flagged",)).ok, "STORE in the second session failed")
    res = a.store("1", "+FLAGS.SILENT", ("\\Seen",))
    check(res.ok, "STORE +FLAGS.SILENT failed", observed=str(res))
    got = stored_flags(res)
    check(
        "\\Flagged" in got.get(1, set()),
        "a flag change by another session was not reported with the .SILENT STORE",
        expected="* 1 FETCH (FLAGS (\\Flagged \\Seen))",
        observed=str(got),
    )


@case("imap.rfc9051.7.1.permanentflags-keywords", defect=srv.KEYWORDS_SESSION_ONLY)
def test_new_keyword_is_permanent(imap: IMAPSessions) -> None:
    a = imap.login()
    box = imap.scratch(a, corpus.simple(1), select=False)
    sel = a.select(box)
    perm = code_arg(sel, "PERMANENTFLAGS") or ""
    if "\\*" not in perm:
        unsupported(f"PERMANENTFLAGS does not include \\*: ({perm})")
    keyword = f"mailspec{uuid.uuid4().hex[:8]}"
    res = a.store("1", "+FLAGS", (keyword,))
    check(res.ok, "STORE of a new keyword was refused although PERMANENTFLAGS has \\*", observed=str(res))
    b = imap.login()
    check(b.select(box).ok, "a second session cannot SELECT the mailbox")
    got = {f.lower() for f in current(b)}
    check(
        keyword.lower() in got,
        "the new keyword is not seen by another session (not permanent)",
        expected=keyword,
        observed=str(sorted(got)),
    )

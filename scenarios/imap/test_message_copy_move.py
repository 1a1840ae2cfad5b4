"""RFC 9051 6.4.7 COPY and 6.4.8 / RFC 6851 MOVE (with the UID forms and RFC 4315 COPYUID)."""

import uuid

from conformance import corpus
from conformance.clients.imap import IMAPClient, IMAPSessions, Result, code_arg
from conformance.scenario import case
from conformance.servers.imap import messages as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

DATE = "14-Jul-2021 02:44:25 -0700"


def source(
    imap: IMAPSessions, n: int = 2, flags: tuple[str, ...] = (), date: str | None = None
) -> tuple[IMAPClient, str, str]:
    """(client, source mailbox with ``n`` messages selected, an empty destination mailbox)."""
    client = imap.login()
    src = imap.scratch(client, select=False)
    for data in corpus.simple(n):
        if not client.append(src, data, flags, date).ok:
            unsupported("cannot APPEND the case's messages")
    dst = imap.scratch(client, select=False)
    if not client.select(src).ok:
        unsupported("cannot SELECT the source mailbox")
    return client, src, dst


def contents(
    imap: IMAPSessions, client: IMAPClient, box: str, items: str = "(BODY.PEEK[])"
) -> list[dict[str, wire.Value]]:
    """The items of every message of ``box``, in order (``box`` stays selected)."""
    if not client.select(box).ok:
        unsupported(f"cannot SELECT {box}")
    _res, got = client.fetch("1:*", items)
    return [got[n] for n in sorted(got)]


def move(imap: IMAPSessions, client: IMAPClient, seqset: str, dst: str, *, uid: bool = False) -> Result:
    if imap.profile(client) != "imap4rev2":
        imap.require(client, "MOVE")
    return client.command("UID MOVE" if uid else "MOVE", wire.Atom(seqset), wire.encode_mailbox(dst))


def copy(client: IMAPClient, seqset: str, dst: str, *, uid: bool = False) -> Result:
    return client.command("UID COPY" if uid else "COPY", wire.Atom(seqset), wire.encode_mailbox(dst))


def expunge_first(client: IMAPClient) -> None:
    """Expunge message 1, so that the UIDs of the others are not their message numbers."""
    ok = client.store("1", "+FLAGS.SILENT", ("\\Deleted",)).ok and client.command("EXPUNGE").ok
    check(ok, "cannot expunge message 1 to set up the case")


def trycreate(res: Result) -> bool:
    return res.status == "NO" and res.tagged.code is not None and res.tagged.code.name == "TRYCREATE"


def missing() -> str:
    return f"mailspec-missing-{uuid.uuid4().hex[:12]}"


@case("imap.rfc9051.6.4.7.copy", defect=srv.COPY_NOTHING)
def test_copy_puts_messages_in_destination(imap: IMAPSessions) -> None:
    client, src, dst = source(imap, 3)
    before = contents(imap, client, src)
    client.select(src)
    res = copy(client, "2:3", dst)
    check(res.ok, "COPY failed", observed=str(res))
    after = contents(imap, client, dst)
    check(
        [m.get("BODY[]") for m in after] == [m.get("BODY[]") for m in before[1:]],
        "the destination does not hold exact copies of messages 2 and 3 in order",
        observed=f"{len(after)} message(s)",
    )
    check(len(contents(imap, client, src)) == 3, "COPY changed the source mailbox")


@case("imap.rfc9051.6.4.7.copy-preserves", defect=srv.COPY_DROPS_FLAGS)
def test_copy_keeps_flags(imap: IMAPSessions) -> None:
    client, _src, dst = source(imap, 1, ("\\Flagged", "\\Answered"))
    check(copy(client, "1", dst).ok, "COPY failed")
    got = contents(imap, client, dst, "(FLAGS)")
    flags = corpus.flag_set(got[0].get("FLAGS")) if got else set()
    check(
        flags == {"\\Flagged", "\\Answered"},
        "the copy does not have the flags of the original",
        expected="(\\Answered \\Flagged)",
        observed=str(sorted(flags)),
    )


@case("imap.rfc9051.6.4.7.copy-preserves", defect=srv.COPY_NEW_DATE)
def test_copy_keeps_internal_date(imap: IMAPSessions) -> None:
    client, src, dst = source(imap, 1, date=DATE)
    original = contents(imap, client, src, "(INTERNALDATE)")[0].get("INTERNALDATE")
    check(copy(client, "1", dst).ok, "COPY failed")
    got = contents(imap, client, dst, "(INTERNALDATE)")
    check(
        got and got[0].get("INTERNALDATE") == original,
        "the copy does not have the internal date of the original",
        expected=repr(original),
        observed=repr(got[0].get("INTERNALDATE") if got else None),
    )


@case("imap.rfc9051.2.3.2.keywords-preserved", defect=srv.COPY_DROPS_FLAGS)
def test_copy_keeps_keywords(imap: IMAPSessions) -> None:
    client, _src, dst = source(imap, 1, ("$Forwarded",))
    check(copy(client, "1", dst).ok, "COPY failed")
    got = contents(imap, client, dst, "(FLAGS)")
    flags = {f.lower() for f in corpus.flag_set(got[0].get("FLAGS"))} if got else set()
    check("$forwarded" in flags, "COPY did not keep the $Forwarded keyword", observed=str(sorted(flags)))


@case("imap.rfc9051.6.4.7.copy-trycreate", defect=srv.COPY_NO_TRYCREATE)
def test_copy_to_missing_mailbox(imap: IMAPSessions) -> None:
    client, _, _ = source(imap, 1)
    name = missing()
    res = copy(client, "1", name)
    if res.ok:
        client.delete(name)
    check(
        trycreate(res),
        "COPY to a missing mailbox was not refused with NO [TRYCREATE]",
        expected="NO [TRYCREATE]",
        observed=str(res),
    )


@case("imap.rfc4315.3.copyuid", defect=srv.COPYUID_WRONG)
def test_copyuid_maps_source_to_destination(imap: IMAPSessions) -> None:
    client, _src, dst = source(imap, 3)
    if imap.profile(client) != "imap4rev2":
        imap.require(client, "UIDPLUS")
    src_uids = imap.uids(client)
    res = copy(client, "1,3", dst)
    arg = code_arg(res, "COPYUID")
    check(
        res.ok and arg is not None, "COPY did not return COPYUID", expected="OK [COPYUID v src dst]", observed=str(res)
    )
    assert arg is not None
    parts = arg.split()
    sel = client.select(dst)
    dst_uids = imap.uids(client)
    check(
        len(parts) == 3
        and parts[0] == code_arg(sel, "UIDVALIDITY")
        and wire.expand_sequence_set(parts[1], max(src_uids)) == [src_uids[0], src_uids[2]]
        and wire.expand_sequence_set(parts[2], max(dst_uids or [1])) == dst_uids,
        "COPYUID does not map the copied UIDs to the destination's UIDs",
        expected=f"COPYUID {code_arg(sel, 'UIDVALIDITY')} {src_uids[0]},{src_uids[2]} {','.join(map(str, dst_uids))}",
        observed=f"COPYUID {arg}",
    )


@case("imap.rfc9051.6.4.9.uid-numbers", defect=srv.UID_AS_SEQUENCE)
def test_uid_copy_copies_by_uid(imap: IMAPSessions) -> None:
    client, src, dst = source(imap, 3)
    expunge_first(client)
    uids = imap.uids(client)  # two messages whose UIDs are not their numbers
    want = contents(imap, client, src)[1].get("BODY[]")
    check(copy(client, str(uids[1]), dst, uid=True).ok, "UID COPY failed")
    got = contents(imap, client, dst)
    check(
        len(got) == 1 and got[0].get("BODY[]") == want,
        "UID COPY did not copy the message with that UID",
        observed=f"{len(got)} message(s) copied",
    )


@case("imap.rfc9051.2.3.1.1.uid-ascending", defect=srv.COPY_KEEPS_UIDS)
def test_copies_get_higher_uids(imap: IMAPSessions) -> None:
    client, _src, dst = source(imap, 2)
    check(client.append(dst, corpus.simple(1)[0]).ok, "APPEND to the destination failed")
    check(copy(client, "1:2", dst).ok, "COPY failed")
    client.select(dst)
    uids = imap.uids(client)
    check(
        len(uids) == 3 and uids[0] < uids[1] < uids[2],
        "copied messages did not get UIDs above those already in the mailbox",
        observed=str(uids),
    )


@case("imap.rfc6851.3.3.move", defect=srv.MOVE_KEEPS_SOURCE)
def test_move_moves(imap: IMAPSessions) -> None:
    client, src, dst = source(imap, 3)
    before = contents(imap, client, src)
    client.select(src)
    res = move(imap, client, "2", dst)
    check(res.ok, "MOVE failed", observed=str(res))
    check(
        [u.number for u in res.named("EXPUNGE")] == [2],
        "MOVE did not expunge message 2 from the source",
        expected="* 2 EXPUNGE",
        observed=str([u.number for u in res.named("EXPUNGE")]),
    )
    left = contents(imap, client, src)
    moved = contents(imap, client, dst)
    check(
        [m.get("BODY[]") for m in left] == [before[0].get("BODY[]"), before[2].get("BODY[]")]
        and [m.get("BODY[]") for m in moved] == [before[1].get("BODY[]")],
        "after MOVE the message is not in the destination only",
        observed=f"source {len(left)}, destination {len(moved)} message(s)",
    )


@case("imap.rfc6851.3.3.move-no-store", defect=srv.MOVE_SETS_DELETED)
def test_move_sets_no_deleted_flag(imap: IMAPSessions) -> None:
    client, _src, dst = source(imap, 2)
    res = move(imap, client, "1", dst)
    check(res.ok, "MOVE failed", observed=str(res))
    check(
        not res.named("FETCH"),
        "MOVE sent FETCH responses (as a STORE would)",
        observed=repr([u.raw for u in res.named("FETCH")]),
    )
    got = contents(imap, client, dst, "(FLAGS)")
    flags = corpus.flag_set(got[0].get("FLAGS")) if got else set()
    check("\\Deleted" not in flags, "the moved message has \\Deleted set", observed=str(sorted(flags)))


@case("imap.rfc9051.6.4.8.move-preserves", defect=srv.MOVE_DROPS_FLAGS)
def test_move_keeps_flags_and_date(imap: IMAPSessions) -> None:
    client, src, dst = source(imap, 1, ("\\Answered",), date=DATE)
    original = contents(imap, client, src, "(INTERNALDATE)")[0].get("INTERNALDATE")
    check(move(imap, client, "1", dst).ok, "MOVE failed")
    got = contents(imap, client, dst, "(FLAGS INTERNALDATE)")
    check(
        got and corpus.flag_set(got[0].get("FLAGS")) == {"\\Answered"},
        "the moved message lost its flags",
        observed=repr(got),
    )
    check(
        got[0].get("INTERNALDATE") == original,
        "the moved message lost its internal date",
        expected=repr(original),
        observed=repr(got[0].get("INTERNALDATE")),
    )


@case("imap.rfc9051.6.4.8.move-trycreate", defect=srv.COPY_NO_TRYCREATE)
def test_move_to_missing_mailbox(imap: IMAPSessions) -> None:
    client, _, _ = source(imap, 1)
    name = missing()
    res = move(imap, client, "1", name)
    if res.ok:
        client.delete(name)
    check(
        trycreate(res),
        "MOVE to a missing mailbox was not refused with NO [TRYCREATE]",
        expected="NO [TRYCREATE]",
        observed=str(res),
    )


@case("imap.rfc9051.6.4.8.move-copyuid-first", defect=srv.MOVE_COPYUID_TAGGED)
def test_move_sends_copyuid_before_expunge(imap: IMAPSessions) -> None:
    client, _src, dst = source(imap, 2)
    if imap.profile(client) != "imap4rev2":
        imap.require(client, "UIDPLUS")
    res = move(imap, client, "1", dst)
    check(res.ok, "MOVE failed", observed=str(res))
    order = [u.name for u in res.untagged if u.name == "EXPUNGE" or (u.code is not None and u.code.name == "COPYUID")]
    check(
        order[:1] == ["OK"],
        "MOVE did not send COPYUID in an untagged OK before the EXPUNGE",
        expected="* OK [COPYUID ...], then * 1 EXPUNGE",
        observed=f"{order}; tagged {res}",
    )


@case("imap.rfc9051.6.4.9.uid-numbers", defect=srv.UID_AS_SEQUENCE)
def test_uid_move_moves_by_uid(imap: IMAPSessions) -> None:
    client, src, dst = source(imap, 4)
    expunge_first(client)
    uids = imap.uids(client)  # three messages whose UIDs are not their numbers
    res = move(imap, client, str(uids[1]), dst, uid=True)
    check(res.ok, "UID MOVE failed", observed=str(res))
    left = contents(imap, client, src, "(UID)")
    check(
        [int(str(m.get("UID"))) for m in left] == [uids[0], uids[2]],
        "UID MOVE did not move the message with that UID",
        expected=str([uids[0], uids[2]]),
        observed=repr(left),
    )

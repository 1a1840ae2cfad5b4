"""RFC 9051 6.3.11 and 7.3.3 (STATUS), 6.3.10 and RFC 2342 (NAMESPACE), RFC 9208 (QUOTA)."""

from conformance.clients.imap import IMAPClient, IMAPSessions
from conformance.clients.imap_mailbox import status
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import mailboxes as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire


def _mailbox(imap: IMAPSessions, client: IMAPClient, *, seen: int = 1, unseen: int = 2, deleted: int = 1) -> str:
    """A scratch mailbox, not selected: ``seen`` messages with \\Seen, ``unseen`` without, ``deleted`` \\Deleted ones."""
    name = imap.scratch(client, select=False)
    for flags, n in ((("\\Seen",), seen), ((), unseen), (("\\Deleted",), deleted)):
        for i in range(n):
            if not client.append(name, make_message(f"mailspec status {i}")[0], flags).ok:
                unsupported("cannot APPEND the case's messages")
    return name


def _values(client: IMAPClient, name: str, items: str) -> dict[str, int]:
    res, values = status(client, name, items)
    check(
        res.ok and values is not None,
        f"STATUS ({items}) of an existing mailbox gave no STATUS response",
        observed=str(res),
    )
    assert values is not None
    return values


@case("imap.rfc9051.7.3.3.status-response", defect=srv.STATUS_MESSAGES_WRONG)
def test_status_messages(imap: IMAPSessions) -> None:
    client = imap.login()
    name = _mailbox(imap, client)
    got = _values(client, name, "MESSAGES")
    check(got.get("MESSAGES") == 4, "STATUS MESSAGES is not the number of messages", expected="4", observed=str(got))


@case("imap.rfc9051.7.3.3.status-response", defect=srv.STATUS_UNSEEN_WRONG)
def test_status_unseen(imap: IMAPSessions) -> None:
    client = imap.login()
    name = _mailbox(imap, client)
    got = _values(client, name, "UNSEEN")
    check(
        got.get("UNSEEN") == 3,
        "STATUS UNSEEN is not the number of messages without \\Seen",
        expected="3",
        observed=str(got),
    )


@case("imap.rfc9051.7.3.3.status-response", defect=srv.STATUS_UIDS_WRONG)
def test_status_uidnext_uidvalidity_match_select(imap: IMAPSessions) -> None:
    client = imap.login()
    name = _mailbox(imap, client)
    got = _values(client, name, "UIDNEXT UIDVALIDITY")
    res = client.select(name, readonly=True)
    check(res.ok, "EXAMINE of an existing mailbox was refused", observed=str(res))
    seen = {
        c: int(str(u.code.args[0]))
        for u in res.untagged
        if u.code and (c := u.code.name) in ("UIDNEXT", "UIDVALIDITY") and u.code.args
    }
    check(
        got == seen, "STATUS UIDNEXT/UIDVALIDITY disagree with what SELECT says", expected=str(seen), observed=str(got)
    )


@case("imap.rfc9051.7.3.3.status-response", defect=srv.STATUS_DELETED_WRONG)
def test_status_deleted_rev2(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev2")
    imap.require_profile(client, "imap4rev2")
    name = _mailbox(imap, client)
    got = _values(client, name, "DELETED")
    check(
        got.get("DELETED") == 1,
        "STATUS DELETED is not the number of messages with \\Deleted",
        expected="1",
        observed=str(got),
    )


@case("imap.rfc9051.7.3.3.status-response", defect=srv.STATUS_NAME_WRONG)
def test_status_names_the_mailbox(imap: IMAPSessions) -> None:
    client = imap.login()
    name = _mailbox(imap, client, seen=0, unseen=1, deleted=0)
    res = client.command("STATUS", name, wire.Atom("(MESSAGES)"))
    got = [u.values[0] for u in res.named("STATUS") if u.values]
    check(
        got and got[0] in (name, name.encode()),
        "the STATUS response does not name the mailbox asked about",
        expected=name,
        observed=str(got),
    )


@case("imap.rfc9051.6.3.11.status-size", defect=srv.STATUS_SIZE_SMALL)
def test_status_size_at_least_messages(imap: IMAPSessions) -> None:
    client = imap.login()
    if imap.profile(client) != "imap4rev2":
        imap.require(client, "STATUS=SIZE")
    name = _mailbox(imap, client)
    got = _values(client, name, "SIZE")
    client.select(name, readonly=True)
    _, items = client.fetch("1:*", "(RFC822.SIZE)")
    total = sum(int(str(v["RFC822.SIZE"])) for v in items.values() if "RFC822.SIZE" in v)
    check(
        got.get("SIZE", -1) >= total > 0,
        "STATUS SIZE is below the sum of the messages' RFC822.SIZE",
        expected=f">= {total}",
        observed=str(got),
    )


@case("imap.rfc9051.6.3.11.status-selected-mailbox", defect=srv.STATUS_SELECTED_NO)
def test_status_of_selected_mailbox(imap: IMAPSessions) -> None:
    client = imap.selected(2)
    name = imap.scratch(client, [make_message("mailspec status selected")[0]])
    res, values = status(client, name, "MESSAGES")
    check(
        res.ok and values == {"MESSAGES": 1},
        "STATUS of the selected mailbox failed or was wrong",
        expected="MESSAGES 1",
        observed=f"{res} {values}",
    )


@case("imap.rfc9051.6.3.11.status-changes-nothing", defect=srv.STATUS_DESELECTS)
def test_status_keeps_selection(imap: IMAPSessions) -> None:
    client = imap.selected(2)
    other = _mailbox(imap, client, seen=0, unseen=1, deleted=0)
    res, _ = status(client, other, "MESSAGES")
    check(res.ok, "STATUS of another mailbox was refused", observed=str(res))
    _, items = client.fetch("1:*", "(UID)")
    check(
        sorted(items) == [1, 2],
        "STATUS of another mailbox changed the selected mailbox",
        expected="messages 1 and 2",
        observed=str(sorted(items)),
    )


@case("imap.rfc9051.6.3.11.status-changes-nothing", defect=srv.STATUS_SETS_SEEN)
def test_status_changes_no_flags(imap: IMAPSessions) -> None:
    client = imap.login()
    name = _mailbox(imap, client, seen=0, unseen=2, deleted=0)
    _values(client, name, "MESSAGES UNSEEN UIDNEXT")
    got = _values(client, name, "UNSEEN")
    check(
        got.get("UNSEEN") == 2,
        "STATUS changed the state of messages in the queried mailbox",
        expected="UNSEEN 2",
        observed=str(got),
    )


@case("imap.rfc9051.6.3.11.status-nonexistent-no", defect=srv.STATUS_MISSING_OK)
def test_status_nonexistent_no(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.command("STATUS", f"mailspec-missing-{client.next_tag()}-nonexistent", wire.Atom("(MESSAGES)"))
    check(res.status == "NO", "STATUS of a mailbox that does not exist did not fail with NO", observed=str(res))


# --- NAMESPACE ---------------------------------------------------------------------------------


def _namespace(imap: IMAPSessions, client: IMAPClient) -> list[wire.Untagged]:
    if imap.profile(client) != "imap4rev2":
        imap.require(client, "NAMESPACE")
    res = client.command("NAMESPACE")
    check(res.ok, "NAMESPACE was refused", observed=str(res))
    return res.named("NAMESPACE")


def _well_formed(value: wire.Value) -> bool:
    """NIL or a list of (prefix delimiter [extensions]) lists."""
    if value is None:
        return True
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(d, list)
            and len(d) >= 2
            and isinstance(d[0], bytes)
            and (d[1] is None or (isinstance(d[1], bytes) and len(d[1]) == 1))
            for d in value
        )
    )


@case("imap.rfc9051.6.3.10.namespace-response", defect=srv.NAMESPACE_TWO_RESPONSES)
def test_namespace_single_response(imap: IMAPSessions) -> None:
    client = imap.login()
    got = _namespace(imap, client)
    check(len(got) == 1, "NAMESPACE did not return one untagged NAMESPACE response", observed=str(len(got)))


@case("imap.rfc9051.6.3.10.namespace-response", defect=srv.NAMESPACE_MALFORMED)
def test_namespace_three_classes(imap: IMAPSessions) -> None:
    client = imap.login()
    got = _namespace(imap, client)
    if not got:
        unsupported("no NAMESPACE response")
    vals = got[0].values
    check(
        len(vals) == 3 and all(_well_formed(v) for v in vals),
        "the NAMESPACE response is not three NIL or ((prefix delimiter)...) items",
        observed=got[0].raw.decode(errors="replace"),
    )


@case("imap.rfc9051.5.1.2.inbox-in-personal-namespace", defect=srv.NAMESPACE_PERSONAL_ELSEWHERE)
def test_inbox_in_personal_namespace(imap: IMAPSessions) -> None:
    client = imap.login()
    got = _namespace(imap, client)
    personal = got[0].values[0] if got and got[0].values else None
    if not isinstance(personal, list):
        unsupported("the server has no personal namespace")
    prefixes = [
        (d[0].decode(errors="replace"), d[1].decode() if isinstance(d[1], bytes) else "")
        for d in personal
        if isinstance(d, list) and len(d) >= 2 and isinstance(d[0], bytes)
    ]
    inside = any("INBOX".startswith(p.upper()) or p.upper() == "INBOX" + delim.upper() for p, delim in prefixes)
    check(inside, "INBOX is not within the personal namespace", observed=str(prefixes))


# --- QUOTA (RFC 9208) ----------------------------------------------------------------------------


def _quota_roots(imap: IMAPSessions, client: IMAPClient) -> tuple[list[str], list[wire.Untagged]]:
    imap.require(client, "QUOTA")
    res = client.command("GETQUOTAROOT", "INBOX")
    check(res.ok, "GETQUOTAROOT INBOX was refused", observed=str(res))
    roots = res.named("QUOTAROOT")
    check(roots, "GETQUOTAROOT sent no QUOTAROOT response", observed=str(res))
    listed = [v.decode() if isinstance(v, bytes) else str(v) for v in roots[0].values[1:]]
    return listed, res.named("QUOTA")


def _quota_name(u: wire.Untagged) -> str:
    v = u.values[0] if u.values else ""
    return v.decode() if isinstance(v, bytes) else str(v)


@case("imap.rfc9208.4.1.2.getquotaroot", defect=srv.QUOTAROOT_NO_QUOTA)
def test_getquotaroot_quota_for_each_root(imap: IMAPSessions) -> None:
    client = imap.login()
    roots, quotas = _quota_roots(imap, client)
    missing = [r for r in roots if r not in {_quota_name(q) for q in quotas}]
    check(not missing, "GETQUOTAROOT sent no QUOTA response for a quota root it listed", observed=str(missing))


@case("imap.rfc9208.4.1.2.getquotaroot", defect=srv.QUOTAROOT_WRONG_MAILBOX)
def test_getquotaroot_names_mailbox(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "QUOTA")
    res = client.command("GETQUOTAROOT", "INBOX")
    got = [u.values[0] for u in res.named("QUOTAROOT") if u.values]
    check(
        got and str(got[0].decode() if isinstance(got[0], bytes) else got[0]).upper() == "INBOX",
        "the QUOTAROOT response does not name the mailbox",
        expected="INBOX",
        observed=str(got),
    )


@case("imap.rfc9208.4.1.1.getquota", defect=srv.GETQUOTA_NO_QUOTA)
def test_getquota(imap: IMAPSessions) -> None:
    client = imap.login()
    roots, _ = _quota_roots(imap, client)
    if not roots:
        unsupported("INBOX has no quota root")
    res = client.command("GETQUOTA", roots[0])
    check(
        res.ok and [_quota_name(q) for q in res.named("QUOTA")] == [roots[0]],
        "GETQUOTA did not answer with the root's QUOTA response",
        observed=str(res),
    )


@case("imap.rfc9208.3.1.2.resources-advertised", defect=srv.QUOTA_RESOURCE_UNANNOUNCED)
def test_quota_resources_announced(imap: IMAPSessions) -> None:
    client = imap.login()
    _, quotas = _quota_roots(imap, client)
    if not any(c.startswith("QUOTA=RES-") for c in imap.capabilities(client)):
        unsupported("the server implements RFC 2087 QUOTA only (no QUOTA=RES- capability)")
    used = {
        str(r).upper() for q in quotas if len(q.values) > 1 and isinstance(q.values[1], list) for r in q.values[1][0::3]
    }
    missing = [r for r in used if f"QUOTA=RES-{r}" not in imap.capabilities(client)]
    check(not missing, "QUOTA reports resources that CAPABILITY does not announce", observed=str(missing))

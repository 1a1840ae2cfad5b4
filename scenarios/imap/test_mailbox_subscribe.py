"""RFC 9051 6.3.7, 6.3.8 (SUBSCRIBE, UNSUBSCRIBE) and RFC 3501 6.3.9 (LSUB, IMAP4rev1 only)."""

from conformance.clients.imap import IMAPClient, IMAPSessions
from conformance.clients.imap_mailbox import Tree, entries, list_raw, names, quote, tree
from conformance.scenario import case
from conformance.servers.imap import mailboxes as srv
from conformance.verdict import check, unsupported


def _subscribed(imap: IMAPSessions, client: IMAPClient, pattern: str) -> list[str]:
    """The subscribed names matching ``pattern``: LSUB under IMAP4rev1, LIST (SUBSCRIBED) under IMAP4rev2."""
    if imap.profile(client) == "imap4rev1":
        res = client.command("LSUB", "", pattern)
        check(res.ok, "LSUB was refused", observed=str(res))
        return names(res, "LSUB")
    res = list_raw(client, f'(SUBSCRIBED) "" {quote(pattern)}')
    check(res.ok, "LIST (SUBSCRIBED) was refused", observed=str(res))
    return names(res)


@case("imap.rfc9051.6.3.7.subscribe-ok", defect=srv.SUBSCRIBE_NOT_RECORDED)
def test_subscribe_is_recorded(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        name = t.create()
        res = client.command("SUBSCRIBE", name)
        t.subscribed.append(name)
        check(res.ok, "SUBSCRIBE of an existing mailbox was refused", observed=str(res))
        got = _subscribed(imap, client, t.root + "*")
        check(got == [name], "a subscribed name is not in the subscription list", expected=name, observed=str(got))


@case("imap.rfc9051.6.3.7.subscribe-ok", defect=srv.SUBSCRIBE_TWICE_NO)
def test_subscribe_twice_ok(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev2")
    imap.require_profile(client, "imap4rev2")
    with tree(imap, client) as t:
        name = t.create()
        t.subscribe(name)
        res = client.command("SUBSCRIBE", name)
        check(res.ok, "SUBSCRIBE of an already subscribed mailbox was not answered OK", observed=str(res))


@case("imap.rfc9051.6.3.8.unsubscribe-ok", defect=srv.UNSUBSCRIBE_KEEPS)
def test_unsubscribe_removes(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        name = t.create()
        t.subscribe(name)
        res = client.command("UNSUBSCRIBE", name)
        check(res.ok, "UNSUBSCRIBE of a subscribed mailbox was refused", observed=str(res))
        got = _subscribed(imap, client, t.root + "*")
        check(not got, "an unsubscribed name is still in the subscription list", observed=str(got))


@case("imap.rfc9051.6.3.8.unsubscribe-ok", defect=srv.UNSUBSCRIBE_UNKNOWN_NO)
def test_unsubscribe_not_subscribed_ok(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev2")
    imap.require_profile(client, "imap4rev2")
    with tree(imap, client) as t:
        name = t.create()
        res = client.command("UNSUBSCRIBE", name)
        check(res.ok, "UNSUBSCRIBE of a name that is not subscribed was not answered OK", observed=str(res))


def _subscribed_then_deleted(imap: IMAPSessions, client: IMAPClient, t: Tree) -> str:
    """A name ``client`` subscribed to, whose mailbox another session (another agent) deletes:
    removing the name then would be the server's own, unilateral doing."""
    name = t.create("gone")
    t.subscribe(name)
    if not imap.login(profile=False).command("DELETE", name).ok:
        unsupported("DELETE of a mailbox was refused")
    return name


@case("imap.rfc9051.6.3.7.subscription-kept", defect=srv.DELETE_UNSUBSCRIBES)
def test_subscription_kept_after_delete(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        name = _subscribed_then_deleted(imap, client, t)
        got = _subscribed(imap, client, t.root + "*")
        check(name in got, "deleting a mailbox removed its name from the subscription list", observed=str(got))


@case("imap.rfc3501.6.3.9.lsub-keeps-deleted", defect=srv.DELETE_UNSUBSCRIBES)
def test_lsub_keeps_deleted_mailbox(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    with tree(imap, client) as t:
        name = _subscribed_then_deleted(imap, client, t)
        got = names(client.command("LSUB", "", t.root + "*"), "LSUB")
        check(name in got, "LSUB no longer lists a subscribed name whose mailbox was deleted", observed=str(got))


@case("imap.rfc3501.6.3.9.lsub-subscribed-names", defect=srv.LSUB_LISTS_ALL)
def test_lsub_only_subscribed(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    with tree(imap, client) as t:
        t.create()
        a, b = t.create("a"), t.create("b")
        t.subscribe(a)
        res = client.command("LSUB", "", t.root + "*")
        got = names(res, "LSUB")
        check(
            res.ok and got == [a],
            "LSUB did not return exactly the subscribed names",
            expected=a,
            observed=f"{got} (not {b})",
        )


@case("imap.rfc3501.6.3.9.lsub-percent-noselect", defect=srv.LSUB_PERCENT_NO_NOSELECT)
def test_lsub_percent_unsubscribed_parent_noselect(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    with tree(imap, client) as t:
        t.create()
        t.create("p")
        t.subscribe(t.create("p", "c"))
        res = client.command("LSUB", "", t.name("%"))
        got = {e.name: e for e in entries(res, "LSUB")}
        parent = t.name("p")
        check(
            parent in got and t.name("p", "c") not in got,
            "LSUB with '%' did not return the parent of a subscribed name",
            expected=parent,
            observed=str(list(got)),
        )
        check(
            got[parent].has("\\Noselect"),
            "the unsubscribed parent LSUB returns for '%' is not flagged \\Noselect",
            observed=got[parent].raw.decode(errors="replace"),
        )

"""RFC 9051 6.3.4-6.3.6: CREATE, DELETE and RENAME, with hierarchies and INBOX."""

from collections.abc import Iterator
from contextlib import contextmanager

from conformance.clients.imap import IMAPClient, IMAPSessions, Result, code_arg
from conformance.clients.imap_mailbox import Tree, entries, names, status, tree
from conformance.context import make_message
from conformance.net import ConnectionClosed
from conformance.scenario import case
from conformance.servers.imap import mailboxes as srv
from conformance.verdict import Violation, check, unsupported
from conformance.wire import imap as wire


def _exists(client: IMAPClient, name: str) -> bool:
    """Whether ``name`` is an existing, selectable mailbox (STATUS succeeds)."""
    res, values = status(client, name, "MESSAGES")
    return res.ok and values is not None


def _listed(client: IMAPClient, t: Tree) -> dict[str, bool]:
    """Every name LIST gives under the tree's root, with whether it is selectable."""
    res = client.command("LIST", "", t.root + "*")
    return {e.name: e.selectable for e in entries(res)}


def _uid_state(client: IMAPClient, name: str) -> tuple[int, list[int]]:
    """(UIDVALIDITY, UIDs) of ``name``, leaving it selected."""
    res = client.select(name)
    check(res.ok, "SELECT of an existing mailbox was refused", observed=str(res))
    validity = code_arg(res, "UIDVALIDITY")
    if validity is None or not validity.isdigit():
        unsupported("SELECT sent no UIDVALIDITY")
    _, items = client.fetch("1:*", "(UID)")
    return int(validity), sorted(int(str(items[n]["UID"])) for n in items if "UID" in items[n])


# --- CREATE ------------------------------------------------------------------------------------


@case("imap.rfc9051.6.3.4.create-ok-only-if-created", defect=srv.CREATE_NOT_CREATED)
def test_create_ok_means_created(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        res = client.command("CREATE", t.root)
        if not res.ok:
            unsupported(f"CREATE of a new name was refused: {res}")
        check(_exists(client, t.root), "CREATE answered OK but the mailbox does not exist", observed=str(res))


@case("imap.rfc9051.6.3.4.create-extant-error", defect=srv.CREATE_EXISTING_OK)
def test_create_existing_name_no(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        t.create()
        res = client.command("CREATE", t.root)
        check(res.status == "NO", "CREATE of a name that exists did not fail with NO", observed=str(res))


@case("imap.rfc9051.6.3.4.create-extant-error", defect=srv.CREATE_INBOX_OK)
def test_create_inbox_no(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.command("CREATE", "INBOX")
    check(res.status == "NO", "CREATE INBOX did not fail with NO", observed=str(res))


@case("imap.rfc9051.6.3.4.create-extant-error", defect=srv.CREATE_INBOX_OK)
def test_create_inbox_other_case_no(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.command("CREATE", "Inbox")
    if res.ok:
        client.command("DELETE", "Inbox")
    check(res.status == "NO", "CREATE Inbox (INBOX in another case) did not fail with NO", observed=str(res))


@case("imap.rfc9051.6.3.4.create-trailing-delimiter", defect=srv.CREATE_KEEPS_DELIMITER)
def test_create_trailing_delimiter_ignored(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        res = client.command("CREATE", t.root + t.delim)
        if not res.ok:
            unsupported(f"CREATE of a name with a trailing delimiter was refused: {res}")
        listed = _listed(client, t)
        check(
            t.root in listed and not any(n.endswith(t.delim) for n in listed),
            "CREATE name<delimiter> did not create the name without its trailing delimiter",
            expected=t.root,
            observed=str(sorted(listed)),
        )


@case("imap.rfc9051.6.3.4.create-superiors", defect=srv.CREATE_NO_SUPERIORS)
def test_create_makes_superiors(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        t.create("a", "b")
        listed = _listed(client, t)
        check(
            {t.root, t.name("a"), t.name("a", "b")} <= set(listed),
            "CREATE of a hierarchical name did not create its superior names",
            expected=str([t.root, t.name("a"), t.name("a", "b")]),
            observed=str(sorted(listed)),
        )


def _incarnations(imap: IMAPSessions, client: IMAPClient, t: Tree, *, rename: bool) -> None:
    """A mailbox with messages goes away (DELETE or RENAME), one of the same name comes back."""
    name = t.create("box")
    t.append(name, 2)
    v1, uids1 = _uid_state(client, name)
    client.command("UNSELECT") if "UNSELECT" in client.capabilities else client.command("CLOSE")
    gone = client.command("RENAME", name, t.name("moved")) if rename else client.command("DELETE", name)
    if not gone.ok:
        unsupported(f"{'RENAME' if rename else 'DELETE'} of the mailbox was refused: {gone}")
    t.create("box")
    t.append(name, 1)
    v2, uids2 = _uid_state(client, name)
    check(
        v2 != v1 or (bool(uids2) and bool(uids1) and min(uids2) > max(uids1)),
        "a new mailbox of the same name reuses the UIDs of the former one under the same UIDVALIDITY",
        expected=f"UIDVALIDITY other than {v1}, or UIDs above {max(uids1, default=0)}",
        observed=f"UIDVALIDITY {v2}, UIDs {uids2}",
    )


@case("imap.rfc9051.6.3.4.recreated-uids-greater", defect=srv.RECREATE_REUSES_UIDS)
def test_recreated_mailbox_uids(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _incarnations(imap, client, t, rename=False)


# --- DELETE ------------------------------------------------------------------------------------


@case("imap.rfc9051.6.3.5.delete-ok-only-if-deleted", defect=srv.DELETE_NOT_DELETED)
def test_delete_ok_means_deleted(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        t.create()
        res = client.command("DELETE", t.root)
        if not res.ok:
            unsupported(f"DELETE of a mailbox was refused: {res}")
        check(not _exists(client, t.root), "DELETE answered OK but the mailbox still exists", observed=str(res))


@case("imap.rfc9051.6.3.5.delete-error", defect=srv.DELETE_MISSING_OK)
def test_delete_nonexistent_no(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.command("DELETE", f"mailspec-missing-{client.next_tag()}-nonexistent")
    check(res.status == "NO", "DELETE of a mailbox that does not exist did not fail with NO", observed=str(res))


@case("imap.rfc9051.6.3.5.delete-error", defect=srv.DELETE_INBOX_OK)
def test_delete_inbox_no(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.command("DELETE", "INBOX")
    check(res.status == "NO", "DELETE INBOX did not fail with NO", observed=str(res))


@case("imap.rfc9051.6.3.5.delete-keeps-inferiors", defect=srv.DELETE_RECURSIVE)
def test_delete_keeps_inferiors(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        parent = t.create("p")
        child = t.create("p", "c")
        res = client.command("DELETE", parent)
        check(
            _exists(client, child), f"DELETE of a parent (answered {res.status}) removed its inferior", expected=child
        )


@case("imap.rfc9051.6.3.5.delete-noselect-with-inferiors", defect=srv.DELETE_NOSELECT_OK)
def test_delete_noselect_parent_no(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        child = t.create("p", "c")
        parent = t.name("p")
        if client.select(parent, readonly=True).ok:
            # CREATE made the superior a mailbox: DELETE may leave it a \\Noselect level (RFC 9051 6.3.5).
            client.command("DELETE", parent)
        listed = {e.name: e for e in entries(client.command("LIST", "", parent))}
        if parent not in listed or listed[parent].selectable:
            unsupported("the parent is not left as a \\Noselect name with inferiors after its DELETE")
        res = client.command("DELETE", parent)
        check(res.status == "NO", "DELETE of a \\Noselect name with inferiors did not fail with NO", observed=str(res))
        check(_exists(client, child), "DELETE of a \\Noselect parent removed its inferior", expected=child)


@case("imap.rfc9051.6.3.5.delete-removes-messages", defect=srv.DELETE_KEEPS_MESSAGES)
def test_delete_removes_messages(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        name = t.create()
        t.append(name, 2)
        if not client.command("DELETE", name).ok:
            unsupported("DELETE of a mailbox was refused")
        t.create()
        _, values = status(client, name, "MESSAGES")
        check(
            values is not None and values.get("MESSAGES") == 0,
            "the messages of a deleted mailbox are back in a new mailbox of the same name",
            expected="MESSAGES 0",
            observed=str(values),
        )


# --- RENAME ------------------------------------------------------------------------------------


@case("imap.rfc9051.6.3.6.rename-ok-only-if-renamed", defect=srv.RENAME_COPIES)
def test_rename_moves_mailbox(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        old = t.create("old")
        t.append(old, 2)
        res = client.command("RENAME", old, t.name("new"))
        if not res.ok:
            unsupported(f"RENAME was refused: {res}")
        _, values = status(client, t.name("new"), "MESSAGES")
        check(values == {"MESSAGES": 2}, "the renamed mailbox does not have the messages", observed=str(values))
        check(not _exists(client, old), "RENAME answered OK but the old name still exists", expected=f"no {old}")


@case("imap.rfc9051.6.3.6.rename-error", defect=srv.RENAME_MISSING_OK)
def test_rename_nonexistent_no(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        res = client.command("RENAME", t.name("missing"), t.name("new"))
        check(res.status == "NO", "RENAME of a mailbox that does not exist did not fail with NO", observed=str(res))


@case("imap.rfc9051.6.3.6.rename-error", defect=srv.RENAME_OVERWRITES)
def test_rename_onto_existing_no(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        a, b = t.create("a"), t.create("b")
        t.append(b, 1)
        res = client.command("RENAME", a, b)
        check(res.status == "NO", "RENAME to a name that exists did not fail with NO", observed=str(res))
        _, values = status(client, b, "MESSAGES")
        check(values == {"MESSAGES": 1}, "RENAME onto an existing mailbox changed it", observed=str(values))


@case("imap.rfc9051.6.3.6.rename-inferiors", defect=srv.RENAME_LEAVES_INFERIORS)
def test_rename_renames_inferiors(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        t.create("a")
        t.create("a", "c")
        res = client.command("RENAME", t.name("a"), t.name("b"))
        if not res.ok:
            unsupported(f"RENAME of a mailbox with inferiors was refused: {res}")
        listed = _listed(client, t)
        check(
            t.name("b", "c") in listed and t.name("a", "c") not in listed,
            "RENAME did not rename the inferior hierarchical names",
            expected=f"{t.name('b', 'c')}, no {t.name('a', 'c')}",
            observed=str(sorted(listed)),
        )


@case("imap.rfc9051.6.3.6.rename-superiors", defect=srv.RENAME_NO_SUPERIORS)
def test_rename_makes_superiors(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        t.create("a")
        res = client.command("RENAME", t.name("a"), t.name("x", "y", "z"))
        if not res.ok:
            unsupported(f"RENAME to a deeper name was refused: {res}")
        listed = _listed(client, t)
        check(
            {t.name("x"), t.name("x", "y"), t.name("x", "y", "z")} <= set(listed),
            "RENAME to a hierarchical name did not create its superior names",
            expected=str([t.name("x"), t.name("x", "y")]),
            observed=str(sorted(listed)),
        )


@case("imap.rfc9051.6.3.6.rename-uids-preserved", defect=srv.RENAME_REUSES_UIDS)
def test_rename_then_recreate_uids(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _incarnations(imap, client, t, rename=True)


def _search_token(client: IMAPClient, token: str) -> list[int]:
    _, found = client.search(wire.Atom("HEADER"), "X-Mailspec-Token", token)
    return found


@contextmanager
def _renamed_inbox(imap: IMAPSessions) -> Iterator[tuple[IMAPClient, str, str, Result]]:
    """A marker message in INBOX, then RENAME INBOX into a private tree: (client, new name, marker token, result).

    Afterwards what was moved goes back into INBOX (all but the marker) and the tree is removed.
    """
    if not imap.ctx.destructive:
        unsupported("RENAME INBOX changes the account's INBOX (needs --allow-destructive)")
    # The second account: the first one's INBOX is where other cases (POP3, delivery) look.
    client = imap.login(account=1)
    data, token = make_message("mailspec rename INBOX")
    if not client.append("INBOX", data).ok:
        unsupported("cannot APPEND a marker to INBOX")
    with tree(imap, client, account=1) as t:
        moved = t.name("old-inbox")
        t.create()
        try:
            res = client.command("RENAME", "INBOX", moved)
        except ConnectionClosed as e:
            raise Violation(
                f"the server closed the connection instead of answering RENAME INBOX: {e}",
                expected="OK, or NO to refuse",
                observed="connection closed",
            ) from None
        try:
            yield client, moved, token, res
        finally:
            if res.ok:
                _restore_inbox(client, moved, token)
            else:
                _drop_marker(client, "INBOX", token)


def _drop_marker(client: IMAPClient, mailbox: str, token: str) -> None:
    if client.select(mailbox).ok:
        marker = _search_token(client, token)
        if marker:
            client.store(",".join(map(str, marker)), "+FLAGS.SILENT", ("\\Deleted",))
            client.command("EXPUNGE")


def _restore_inbox(client: IMAPClient, moved: str, token: str) -> None:
    """Put what RENAME moved back into INBOX, all but the marker."""
    _drop_marker(client, moved, token)
    _, values = status(client, moved, "MESSAGES")
    if values and values.get("MESSAGES"):
        client.select(moved)
        client.command("COPY", wire.Atom("1:*"), "INBOX")
    client.command("UNSELECT") if "UNSELECT" in client.capabilities else client.command("CLOSE")


@case("imap.rfc9051.6.3.6.rename-inbox", defect=srv.RENAME_INBOX_COPIES)
def test_rename_inbox_moves_messages(imap: IMAPSessions) -> None:
    with _renamed_inbox(imap) as (client, moved, token, res):
        check(res.status != "BAD", "RENAME INBOX was answered BAD", observed=str(res))
        if not res.ok:
            unsupported(f"the server refuses to rename INBOX (allowed): {res}")
        check(client.select(moved).ok, "the mailbox INBOX was renamed to does not exist")
        check(_search_token(client, token), "RENAME INBOX did not move INBOX's messages to the new name")
        check(client.select("INBOX").ok, "INBOX cannot be selected after RENAME INBOX")
        check(not _search_token(client, token), "RENAME INBOX left the messages in INBOX", expected="INBOX emptied")


@case("imap.rfc9051.6.3.6.rename-inbox", defect=srv.RENAME_INBOX_REMOVES)
def test_rename_inbox_keeps_inbox(imap: IMAPSessions) -> None:
    with _renamed_inbox(imap) as (client, _, _, res):
        if not res.ok:
            unsupported(f"the server refuses to rename INBOX: {res}")
        listed = names(client.command("LIST", "", "INBOX"))
        check(
            any(n.upper() == "INBOX" for n in listed) and client.select("INBOX").ok,
            "INBOX is gone after RENAME INBOX (a new, empty INBOX must stay)",
            observed=str(listed),
        )

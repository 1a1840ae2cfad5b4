"""RFC 9051 6.3.9 and 7.3.1: LIST; RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE."""

from conformance.clients.imap import IMAPClient, IMAPSessions
from conformance.clients.imap_mailbox import (
    ListEntry,
    Tree,
    entries,
    list_raw,
    names,
    parse_list,
    quote,
    status,
    status_values,
    tree,
)
from conformance.scenario import case
from conformance.servers.imap import mailboxes as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

SPECIAL_USES = {"\\all", "\\archive", "\\drafts", "\\flagged", "\\junk", "\\sent", "\\trash"}


def _list(client: IMAPClient, ref: str, pattern: str) -> dict[str, ListEntry]:
    res = client.command("LIST", ref, pattern)
    check(res.ok, f"LIST {ref!r} {pattern!r} was refused", observed=str(res))
    return {e.name: e for e in entries(res)}


def _three_levels(t: Tree) -> None:
    """root, root/a, root/a/b and root/c."""
    t.create()
    t.create("a")
    t.create("a", "b")
    t.create("c")


def _placeholder(client: IMAPClient, t: Tree) -> str:
    """root/p, which exists only as the superior of root/p/c (not a mailbox); its name.

    CREATE root/p/c may leave root/p a mere level of hierarchy; where it makes a mailbox,
    DELETE root/p removes the mailbox and keeps the level (RFC 9051 6.3.5).
    """
    client.command("CREATE", t.root)
    t.create("p", "c")
    parent = t.name("p")
    if client.select(parent, readonly=True).ok:
        client.command("DELETE", parent)
    if client.select(parent, readonly=True).ok:
        unsupported("the superior of a created mailbox stays a mailbox even after DELETE: no level to list")
    client.command("UNSELECT") if "UNSELECT" in client.capabilities else None
    return parent


def _extended(imap: IMAPSessions, client: IMAPClient, capability: str = "LIST-EXTENDED") -> None:
    """UNSUPPORTED unless the extended LIST is offered (LIST-EXTENDED, or IMAP4rev2 in force)."""
    if capability == "LIST-EXTENDED" and imap.profile(client) == "imap4rev2":
        return
    imap.require(client, capability)


# --- basic LIST ----------------------------------------------------------------------------------


@case("imap.rfc9051.6.3.9.empty-name-delimiter", defect=srv.LIST_EMPTY_NOTHING)
def test_list_empty_name_gives_delimiter(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.command("LIST", "", "")
    check(res.ok, 'LIST "" "" was refused', observed=str(res))
    got = entries(res)
    check(len(got) == 1, 'LIST "" "" did not return one LIST response with the delimiter', observed=str(len(got)))
    check(
        got[0].delimiter is None or len(got[0].delimiter) == 1,
        'the hierarchy delimiter of LIST "" "" is not one character or NIL',
        observed=got[0].raw.decode(errors="replace"),
    )


@case("imap.rfc9051.6.3.9.names-match-pattern", defect=srv.LIST_IGNORES_PATTERN)
def test_list_names_match_pattern(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _three_levels(t)
        got = _list(client, "", t.name("a") + "*")
        stray = [n for n in got if not n.startswith(t.name("a"))]
        check(got and not stray, "LIST returned names that do not match the pattern", observed=str(stray or got))


@case("imap.rfc9051.6.3.9.star-wildcard", defect=srv.LIST_STAR_ONE_LEVEL)
def test_list_star_matches_every_level(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _three_levels(t)
        got = _list(client, "", t.root + "*")
        want = {t.root, t.name("a"), t.name("a", "b"), t.name("c")}
        check(
            want <= set(got),
            "'*' did not match across hierarchy levels",
            expected=str(sorted(want)),
            observed=str(sorted(got)),
        )


@case("imap.rfc9051.6.3.9.percent-wildcard", defect=srv.LIST_PERCENT_DEEP)
def test_list_percent_one_level(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _three_levels(t)
        got = set(_list(client, "", t.name("%")))
        want = {t.name("a"), t.name("c")}
        check(
            got == want,
            "'%' did not match exactly one hierarchy level",
            expected=str(sorted(want)),
            observed=str(sorted(got)),
        )


@case("imap.rfc9051.6.3.9.percent-levels", defect=srv.LIST_PERCENT_NO_LEVELS)
def test_list_percent_returns_levels(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        parent = _placeholder(client, t)
        got = _list(client, "", t.name("%"))
        check(
            parent in got,
            "'%' did not return a level of hierarchy that has a matching inferior",
            expected=parent,
            observed=str(sorted(got)),
        )


@case("imap.rfc9051.6.3.9.percent-levels", defect=srv.LIST_NOSELECT_MISSING)
def test_list_level_without_mailbox_noselect(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        parent = _placeholder(client, t)
        got = _list(client, "", t.name("%"))
        if parent not in got:
            unsupported("'%' did not return the level of hierarchy")
        check(
            not got[parent].selectable,
            "a level of hierarchy that cannot be selected is listed without \\Noselect",
            observed=got[parent].raw.decode(errors="replace"),
        )


@case("imap.rfc9051.7.3.1.listed-names-selectable", defect=srv.LIST_NOSELECT_MISSING)
def test_listed_names_can_be_selected(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _three_levels(t)
        _placeholder(client, t)
        got = _list(client, "", t.root + "*")
        bad = [n for n, e in got.items() if e.selectable and not client.select(n, readonly=True).ok]
        check(not bad, "names LIST gives without \\Noselect or \\NonExistent cannot be selected", observed=str(bad))


@case("imap.rfc9051.7.3.1.listed-names-selectable", defect=srv.LIST_NOSELECT_MISSING)
def test_deleted_parent_listed_noselect(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        parent = t.create()
        t.create("c")
        if not client.command("DELETE", parent).ok:
            unsupported("DELETE of a mailbox with inferiors was refused (allowed)")
        got = _list(client, "", parent)
        if parent in got and got[parent].selectable:
            res = client.select(parent, readonly=True)
            check(
                res.ok,
                "a deleted parent is listed without \\Noselect but cannot be selected",
                observed=f"{got[parent].raw.decode(errors='replace').strip()} / {res}",
            )


@case("imap.rfc9051.6.3.9.list-inbox", defect=srv.LIST_HIDES_INBOX)
def test_list_star_includes_inbox(imap: IMAPSessions) -> None:
    client = imap.login()
    if not client.select("INBOX", readonly=True).ok:
        unsupported("this user has no INBOX")
    got = _list(client, "", "*")
    check("INBOX" in got, 'LIST "" "*" did not include INBOX', observed=str(sorted(got)[:20]))


@case("imap.rfc9051.6.3.9.unaccepted-pattern-ok", defect=srv.LIST_NOTHING_NO)
def test_list_no_match_ok(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.command("LIST", "", f"mailspec-missing-{client.next_tag()}*")
    check(
        res.ok and not res.named("LIST"),
        "a pattern that matches nothing did not give OK and no LIST",
        observed=str(res),
    )


@case("imap.rfc9051.7.3.1.children-exclusive", defect=srv.LIST_BOTH_CHILDREN)
def test_list_children_attributes_exclusive(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _three_levels(t)
        both = [
            e.name
            for e in _list(client, "", t.root + "*").values()
            if e.has("\\HasChildren") and e.has("\\HasNoChildren")
        ]
        check(not both, "LIST gave both \\HasChildren and \\HasNoChildren for one mailbox", observed=str(both))


@case("imap.rfc9051.7.3.1.marked-unmarked-noselect", defect=srv.LIST_NOSELECT_MARKED)
def test_list_one_of_marked_unmarked_noselect(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _placeholder(client, t)
        t.create("m")
        t.append(t.name("m"), 1)
        got = _list(client, "", t.root + "*")
        bad = [
            e.raw.decode(errors="replace").strip()
            for e in got.values()
            if sum(e.has(a) for a in ("\\Marked", "\\Unmarked", "\\Noselect")) > 1
        ]
        check(not bad, "LIST gave more than one of \\Marked, \\Unmarked and \\Noselect", observed=str(bad))


@case("imap.rfc9051.7.3.1.same-delimiter", defect=srv.LIST_MIXED_DELIMITER)
def test_list_same_delimiter_in_hierarchy(imap: IMAPSessions) -> None:
    client = imap.login()
    with tree(imap, client) as t:
        _three_levels(t)
        delims = {e.name: e.delimiter for e in _list(client, "", t.root + "*").values()}
        check(
            set(delims.values()) == {t.delim},
            "the names of one hierarchy do not all use its delimiter",
            expected=t.delim,
            observed=str(delims),
        )


@case("imap.rfc9051.6.3.9.5.children-return-option", defect=srv.CHILDREN_WRONG)
def test_list_return_children(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        _three_levels(t)
        res = list_raw(client, f'"" {quote(t.root + "*")} RETURN (CHILDREN)')
        check(res.ok, "LIST RETURN (CHILDREN) was refused", observed=str(res))
        got = {e.name: e for e in entries(res)}
        wrong = [
            n
            for n, want in ((t.root, True), (t.name("a"), True), (t.name("a", "b"), False), (t.name("c"), False))
            if n not in got or not got[n].has("\\HasChildren" if want else "\\HasNoChildren")
        ]
        check(not wrong, "LIST RETURN (CHILDREN) gave no or wrong \\HasChildren/\\HasNoChildren", observed=str(wrong))


# --- LIST-EXTENDED (RFC 5258) ----------------------------------------------------------------------


@case("imap.rfc5258.3.multiple-patterns", defect=srv.LIST_FIRST_PATTERN_ONLY)
def test_list_multiple_patterns(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        _three_levels(t)
        res = list_raw(client, f'"" ({quote(t.name("a"))} {quote(t.name("c"))})')
        got = names(res)
        check(
            res.ok and sorted(got) == sorted([t.name("a"), t.name("c")]),
            "LIST with two patterns did not list what each matches",
            observed=f"{res} {got}",
        )


@case("imap.rfc5258.3.multiple-patterns-one-response", defect=srv.LIST_DUPLICATES)
def test_list_overlapping_patterns_once(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        _three_levels(t)
        got = names(list_raw(client, f'"" ({quote(t.name("a"))} {quote(t.name("*"))})'))
        dup = sorted({n for n in got if got.count(n) > 1})
        check(
            t.name("a") in got and not dup,
            "a name matching two patterns was listed more than once",
            observed=str(dup or got),
        )


@case("imap.rfc5258.3.extended-empty-name", defect=srv.EXTENDED_EMPTY_DELIMITER)
def test_extended_list_empty_name_not_special(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    res = list_raw(client, '() "" ""')
    check(
        res.ok and not res.named("LIST"),
        "an extended LIST with an empty name gave the hierarchy delimiter",
        observed=f"{res} {names(res)}",
    )


@case("imap.rfc5258.3.unknown-option-bad", defect=srv.LIST_UNKNOWN_OPTION_OK)
def test_list_unknown_selection_option_bad(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    res = list_raw(client, '(MAILSPEC-UNKNOWN) "" "*"')
    check(res.status == "BAD", "LIST with an unknown selection option was not answered BAD", observed=str(res))


@case("imap.rfc5258.3.unknown-option-bad", defect=srv.LIST_UNKNOWN_OPTION_OK)
def test_list_unknown_return_option_bad(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    res = list_raw(client, '"" "*" RETURN (MAILSPEC-UNKNOWN)')
    check(res.status == "BAD", "LIST with an unknown return option was not answered BAD", observed=str(res))


@case("imap.rfc5258.3.1.subscribed-selection", defect=srv.LIST_SUBSCRIBED_ALL)
def test_list_subscribed_exactly(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        _three_levels(t)
        t.subscribe(t.name("c"))
        got = {e.name: e for e in entries(list_raw(client, f'(SUBSCRIBED) "" {quote(t.root + "*")}'))}
        check(
            list(got) == [t.name("c")],
            "LIST (SUBSCRIBED) did not list exactly the subscribed names",
            expected=t.name("c"),
            observed=str(list(got)),
        )
        check(
            got[t.name("c")].has("\\Subscribed"),
            "LIST (SUBSCRIBED) gave a name without \\Subscribed",
            observed=got[t.name("c")].raw.decode(errors="replace"),
        )


@case("imap.rfc5258.3.nonexistent-accurate", defect=srv.NONEXISTENT_MISSING)
def test_list_subscribed_deleted_nonexistent(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        gone = t.create("gone")
        t.subscribe(gone)
        if not client.command("DELETE", gone).ok:
            unsupported("DELETE of a mailbox was refused")
        got = {e.name: e for e in entries(list_raw(client, f'(SUBSCRIBED) "" {quote(gone)}'))}
        if gone not in got:
            unsupported("the server dropped the subscription of the deleted mailbox")
        check(
            got[gone].has("\\NonExistent"),
            "a subscribed name whose mailbox was deleted is listed without \\NonExistent",
            observed=got[gone].raw.decode(errors="replace"),
        )


@case("imap.rfc5258.3.2.subscribed-return", defect=srv.RETURN_SUBSCRIBED_WRONG)
def test_list_return_subscribed(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        _three_levels(t)
        t.subscribe(t.name("c"))
        got = {e.name: e for e in entries(list_raw(client, f'"" {quote(t.name("%"))} RETURN (SUBSCRIBED)'))}
        check(
            set(got) == {t.name("a"), t.name("c")}
            and got[t.name("c")].has("\\Subscribed")
            and not got[t.name("a")].has("\\Subscribed"),
            "LIST RETURN (SUBSCRIBED) did not mark exactly the subscribed name \\Subscribed",
            observed=str({n: e.attrs for n, e in got.items()}),
        )


@case("imap.rfc5258.3.1.recursivematch-alone-bad", defect=srv.RECURSIVEMATCH_ALONE_OK)
def test_list_recursivematch_alone_bad(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    res = list_raw(client, '(RECURSIVEMATCH) "" "*"')
    check(
        res.status == "BAD",
        "LIST (RECURSIVEMATCH) without another selection option was not answered BAD",
        observed=str(res),
    )


def _subscribed_child(t: Tree) -> str:
    """root/p/c subscribed, root/p not: root/p has a subscribed child only; returns root/p."""
    t.create()
    t.create("p")
    t.subscribe(t.create("p", "c"))
    return t.name("p")


@case("imap.rfc5258.3.5.childinfo-needs-recursivematch", defect=srv.CHILDINFO_ALWAYS)
def test_no_childinfo_without_recursivematch(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        _subscribed_child(t)
        res = list_raw(client, f'(SUBSCRIBED) "" {quote(t.name("%"))}')
        check(res.ok, "LIST (SUBSCRIBED) was refused", observed=str(res))
        bad = [e.name for e in entries(res) if e.childinfo() is not None]
        check(not bad, "LIST without RECURSIVEMATCH returned CHILDINFO", observed=str(bad))


@case("imap.rfc5258.3.1.recursivematch-childinfo", defect=srv.NO_CHILDINFO)
def test_recursivematch_childinfo(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        parent = _subscribed_child(t)
        res = list_raw(client, f'(SUBSCRIBED RECURSIVEMATCH) "" {quote(t.name("%"))}')
        got = {e.name: e for e in entries(res)}
        check(
            res.ok and parent in got,
            "LIST (SUBSCRIBED RECURSIVEMATCH) left out a parent with a subscribed child",
            expected=parent,
            observed=f"{res} {list(got)}",
        )
        check(
            got[parent].childinfo() == ["SUBSCRIBED"],
            'the parent has no CHILDINFO ("SUBSCRIBED")',
            observed=got[parent].raw.decode(errors="replace"),
        )


@case("imap.rfc5258.3.no-extra-names", defect=srv.RETURN_OPTIONS_EXTRA)
def test_return_options_no_extra_names(imap: IMAPSessions) -> None:
    client = imap.login()
    _extended(imap, client)
    with tree(imap, client) as t:
        _three_levels(t)
        plain = set(_list(client, "", t.name("%")))
        extended = set(names(list_raw(client, f'"" {quote(t.name("%"))} RETURN (CHILDREN SUBSCRIBED)')))
        check(
            extended <= plain,
            "return options made LIST report more names",
            expected=str(sorted(plain)),
            observed=str(sorted(extended)),
        )


# --- LIST-STATUS (RFC 5819) ---------------------------------------------------------------------


@case("imap.rfc5819.2.list-status", defect=srv.LIST_STATUS_MISSING)
def test_list_status_after_each_list(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "LIST-STATUS")
    with tree(imap, client) as t:
        _three_levels(t)
        res = list_raw(client, f'"" {quote(t.name("%"))} RETURN (STATUS (MESSAGES))')
        check(res.ok, "LIST RETURN (STATUS ...) was refused", observed=str(res))
        order = [
            (u.name, status_values(u)[0] if u.name == "STATUS" else parse_list(u).name)
            for u in res.untagged
            if u.name in ("LIST", "STATUS")
        ]
        missing = [n for i, (kind, n) in enumerate(order) if kind == "LIST" and order[i + 1 : i + 2] != [("STATUS", n)]]
        check(not missing, "a selectable mailbox's LIST was not followed by its STATUS", observed=str(missing or order))


@case("imap.rfc5819.2.list-status", defect=srv.LIST_STATUS_WRONG)
def test_list_status_values(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "LIST-STATUS")
    with tree(imap, client) as t:
        _three_levels(t)
        t.append(t.name("c"), 2)
        res = list_raw(client, f'"" {quote(t.name("c"))} RETURN (STATUS (MESSAGES UIDNEXT))')
        listed = [status_values(u) for u in res.named("STATUS")]
        _, direct = status(client, t.name("c"), "MESSAGES UIDNEXT")
        check(
            listed == [(t.name("c"), direct)],
            "LIST RETURN (STATUS) disagrees with STATUS",
            expected=str(direct),
            observed=str(listed),
        )


# --- SPECIAL-USE (RFC 6154) ---------------------------------------------------------------------


@case("imap.rfc6154.2.special-use-selection", defect=srv.SPECIAL_USE_SELECTS_ALL)
def test_special_use_selection_option(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "SPECIAL-USE")
    res = list_raw(client, '(SPECIAL-USE) "" "*"')
    check(res.ok, "LIST (SPECIAL-USE) was refused", observed=str(res))
    plain = [e.name for e in entries(res) if not {a.lower() for a in e.attrs} & SPECIAL_USES]
    check(not plain, "LIST (SPECIAL-USE) returned mailboxes without a special-use attribute", observed=str(plain))


@case("imap.rfc6154.2.special-use-return", defect=srv.SPECIAL_USE_RETURN_MISSING)
def test_special_use_return_option(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "SPECIAL-USE")
    special = {
        e.name: {a.lower() for a in e.attrs} & SPECIAL_USES for e in entries(list_raw(client, '(SPECIAL-USE) "" "*"'))
    }
    special = {n: a for n, a in special.items() if a}
    if not special:
        unsupported("this account has no special-use mailbox")
    got = {e.name: {a.lower() for a in e.attrs} for e in entries(list_raw(client, '"" "*" RETURN (SPECIAL-USE)'))}
    wrong = [n for n, attrs in special.items() if not attrs <= got.get(n, set())]
    check(
        not wrong,
        "LIST RETURN (SPECIAL-USE) left out the special-use attributes",
        observed=str({n: got.get(n) for n in wrong}),
    )


@case("imap.rfc6154.3.create-use", defect=srv.CREATE_USE_IGNORED)
def test_create_with_use(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "CREATE-SPECIAL-USE")
    with tree(imap, client) as t:
        res = client.command("CREATE", t.root, [wire.Atom("USE"), [wire.Atom("\\Archive")]])
        if not res.ok:
            unsupported(f"CREATE with USE (\\Archive) was refused (allowed when one exists): {res}")
        got = entries(list_raw(client, f'"" {quote(t.root)} RETURN (SPECIAL-USE)'))
        check(
            got and got[0].has("\\Archive"),
            "a mailbox created with USE (\\Archive) is not listed with \\Archive",
            observed=str([e.attrs for e in got]),
        )


@case("imap.rfc6154.3.create-use-refused", defect=srv.CREATE_USE_UNKNOWN_OK)
def test_create_with_unknown_use_refused(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require(client, "CREATE-SPECIAL-USE")
    with tree(imap, client) as t:
        res = client.command("CREATE", t.root, [wire.Atom("USE"), [wire.Atom("\\MailspecNoSuchUse")]])
        check(res.status == "NO", "CREATE with an unknown special use was not refused with NO", observed=str(res))
        check(not names(client.command("LIST", "", t.root)), "CREATE with an unknown special use created the mailbox")

"""Mailbox names: modified UTF-7 (RFC 3501 5.1.3) and UTF-8 names under UTF8=ACCEPT (RFC 6855 3)."""

from conformance.clients.imap import IMAPClient, IMAPSessions
from conformance.clients.imap_mailbox import names, tree
from conformance.scenario import case
from conformance.servers.imap import mailboxes as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire
from conformance.wire.errors import RemoteProtocolError

ETE_MUTF7 = "&AOk-t&AOk-"  # "été"


@case("imap.rfc3501.5.1.3.mutf7-preserved", defect=srv.MUTF7_CASE_FOLDED)
def test_mutf7_name_round_trips(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    with tree(imap, client) as t:
        name = t.root + "-" + ETE_MUTF7
        res = client.command("CREATE", name)
        check(res.ok, "CREATE of a modified UTF-7 name was refused", observed=str(res))
        got = names(client.command("LIST", "", t.root + "*"))
        check(
            got == [name],
            "LIST does not give the modified UTF-7 name exactly as created",
            expected=name,
            observed=str(got),
        )
        check(client.command("EXAMINE", name).ok, "the modified UTF-7 name cannot be selected")


@case("imap.rfc3501.5.1.3.ampersand-encoding", defect=srv.AMPERSAND_RAW)
def test_ampersand_name_round_trips(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    with tree(imap, client) as t:
        name = t.root + "-a&-b"
        check(client.command("CREATE", name).ok, "CREATE of a name with '&-' was refused")
        got = names(client.command("LIST", "", t.root + "*"))
        check(got == [name], "LIST does not give '&' as '&-'", expected=name, observed=str(got))


@case("imap.rfc3501.5.1.3.mutf7-well-formed", defect=srv.MUTF7_ASCII_ENCODED)
def test_listed_names_well_formed_mutf7(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    with tree(imap, client) as t:
        check(client.command("CREATE", t.root + "-" + ETE_MUTF7).ok, "CREATE of a modified UTF-7 name was refused")
        bad = []
        for name in names(client.command("LIST", "", "*")):
            try:
                wire.decode_mailbox(name)
            except RemoteProtocolError as e:
                bad.append(f"{name!r}: {e}")
        check(not bad, "LIST returned names that are not well-formed modified UTF-7", observed="; ".join(bad[:5]))


@case("imap.rfc3501.5.1.3.create-verifies-mutf7", defect=srv.CREATE_ACCEPTS_BAD_MUTF7)
def test_create_unterminated_mutf7_refused(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    with tree(imap, client) as t:
        res = client.command("CREATE", t.root + "-&AOk")
        check(not res.ok, "CREATE accepted a name with an unterminated modified BASE64 run", observed=str(res))


@case("imap.rfc3501.5.1.3.create-verifies-mutf7", defect=srv.CREATE_ACCEPTS_BAD_MUTF7)
def test_create_encoded_ascii_refused(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.require_profile(client, "imap4rev1")
    with tree(imap, client) as t:
        res = client.command("CREATE", t.root + "-&AGEAYg-")  # "ab" in modified BASE64
        check(not res.ok, "CREATE accepted printable ASCII encoded in modified BASE64", observed=str(res))


def _utf8_client(imap: IMAPSessions) -> IMAPClient:
    client = imap.login()
    imap.require(client, "UTF8=ACCEPT")
    res = client.command("ENABLE", wire.Atom("UTF8=ACCEPT"))
    if not res.ok:
        unsupported(f"ENABLE UTF8=ACCEPT was refused: {res}")
    return client


@case("imap.rfc6855.3.utf8-mailbox-names", defect=srv.UTF8_NAMES_REFUSED)
def test_utf8_quoted_name_accepted(imap: IMAPSessions) -> None:
    client = _utf8_client(imap)
    with tree(imap, client) as t:
        name = t.root + "-été"
        res = client.command("CREATE", wire.Atom(f'"{name}"'))
        check(res.ok, "CREATE of a UTF-8 quoted name was refused after ENABLE UTF8=ACCEPT", observed=str(res))
        sel = client.command("EXAMINE", wire.Atom(f'"{name}"'))
        check(sel.ok, "EXAMINE of the UTF-8 name just created failed", observed=str(sel))


@case("imap.rfc6855.3.utf8-names-only-when-enabled", defect=srv.UTF8_NAMES_ALWAYS)
def test_utf8_name_listed_as_mutf7_without_enable(imap: IMAPSessions) -> None:
    client = _utf8_client(imap)
    with tree(imap, client) as t:
        name = t.root + "-été"
        if not client.command("CREATE", wire.Atom(f'"{name}"')).ok:
            unsupported("CREATE of a UTF-8 name was refused")
        plain = imap.login()
        got = names(plain.command("LIST", "", t.root + "*"))
        check(
            got == [t.root + "-" + ETE_MUTF7],
            "a session without UTF8=ACCEPT got the name in UTF-8",
            expected=t.root + "-" + ETE_MUTF7,
            observed=str(got),
        )

"""RFC 9051 sections 3, 6.1 and 6.2: the greeting, which commands each state allows, NOOP and LOGOUT."""

import uuid

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.net import ConnectionClosed, NetError
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire
from conformance.wire.errors import ProtocolError


def _refused(res: Result) -> bool:
    return res.status in ("NO", "BAD")


def _refused_before_login(imap: IMAPSessions, name: str, *args: wire.Arg) -> None:
    """``name`` in the not authenticated state must be refused."""
    client = imap.ready()
    res = client.command(name, *args)
    check(
        _refused(res),
        f"{name} was accepted in the not authenticated state",
        expected="tagged NO or BAD",
        observed=str(res),
    )


def _refused_without_selection(imap: IMAPSessions, name: str, *args: wire.Arg) -> None:
    """``name`` (a selected state command) in the authenticated state must be refused."""
    client = imap.login()
    res = client.command(name, *args)
    check(
        _refused(res),
        f"{name} was accepted in the authenticated state, with no mailbox selected",
        expected="tagged NO or BAD",
        observed=str(res),
    )


def _logout(client: IMAPClient) -> Result:
    res = client.logout()
    check(res.ok, "LOGOUT was not answered with a tagged OK", expected="OK", observed=str(res))
    return res


# --- the greeting ------------------------------------------------------------------


@case("imap.rfc9051.3.greeting-state", defect=srv.GREETING_NOT_STATUS)
def test_greeting_names_the_state(imap: IMAPSessions) -> None:
    client = imap.open(connect=False)
    try:
        greeting = client.connect()
    except ProtocolError as e:
        check(False, "the greeting is not an untagged OK, PREAUTH or BYE", expected="* OK ...", observed=str(e))
    check(
        greeting.name in ("OK", "PREAUTH", "BYE"),
        "the greeting is not an untagged OK, PREAUTH or BYE",
        expected="* OK / * PREAUTH / * BYE",
        observed=greeting.raw[:120].decode("utf-8", "replace"),
    )


@case("imap.rfc9051.7.1.4.preauth-protected", defect=srv.GREETING_PREAUTH)
def test_preauth_only_on_protected_connections(imap: IMAPSessions) -> None:
    client = imap.open()
    assert client.greeting is not None
    check(
        client.greeting.name != "PREAUTH" or client.conn.is_tls,
        "the server greets with PREAUTH on a connection that TLS does not protect",
        expected="* OK on a cleartext connection",
        observed=client.greeting.raw[:120].decode("utf-8", "replace"),
    )


# --- not authenticated state ---------------------------------------------------------


@case("imap.rfc9051.3.wrong-state", defect=srv.NO_LOGIN_NEEDED)
def test_select_refused_before_login(imap: IMAPSessions) -> None:
    _refused_before_login(imap, "SELECT", "INBOX")


@case("imap.rfc9051.3.wrong-state", defect=srv.NO_LOGIN_NEEDED)
def test_list_refused_before_login(imap: IMAPSessions) -> None:
    _refused_before_login(imap, "LIST", "", "*")


@case("imap.rfc9051.3.wrong-state", defect=srv.NO_LOGIN_NEEDED)
def test_create_refused_before_login(imap: IMAPSessions) -> None:
    _refused_before_login(imap, "CREATE", f"mailspec-{uuid.uuid4().hex[:12]}")


@case("imap.rfc9051.3.wrong-state", defect=srv.NO_LOGIN_NEEDED)
def test_examine_refused_before_login(imap: IMAPSessions) -> None:
    _refused_before_login(imap, "EXAMINE", "INBOX")


@case("imap.rfc9051.3.wrong-state", defect=srv.NO_LOGIN_NEEDED)
def test_fetch_refused_before_login(imap: IMAPSessions) -> None:
    _refused_before_login(imap, "FETCH", wire.Atom("1"), wire.Atom("FLAGS"))


# --- authenticated state -------------------------------------------------------------


@case("imap.rfc9051.3.wrong-state", defect=srv.NO_SELECTION_NEEDED)
def test_fetch_refused_without_selection(imap: IMAPSessions) -> None:
    _refused_without_selection(imap, "FETCH", wire.Atom("1:*"), wire.Atom("FLAGS"))


@case("imap.rfc9051.3.wrong-state", defect=srv.NO_SELECTION_NEEDED)
def test_store_refused_without_selection(imap: IMAPSessions) -> None:
    _refused_without_selection(imap, "STORE", wire.Atom("1"), wire.Atom("+FLAGS"), [wire.Atom("\\Seen")])


@case("imap.rfc9051.3.wrong-state", defect=srv.NO_SELECTION_NEEDED)
def test_search_refused_without_selection(imap: IMAPSessions) -> None:
    _refused_without_selection(imap, "SEARCH", wire.Atom("ALL"))


@case("imap.rfc9051.6.2.no-reauthentication", defect=srv.REAUTH_ALLOWED)
def test_login_refused_after_login(imap: IMAPSessions) -> None:
    client = imap.login()
    user, password = imap.ctx.credentials()
    res = client.login(user, password)
    check(
        _refused(res),
        "a second LOGIN in the authenticated state was accepted",
        expected="tagged NO or BAD",
        observed=str(res),
    )


@case("imap.rfc9051.6.2.no-reauthentication", defect=srv.REAUTH_ALLOWED)
def test_authenticate_refused_after_login(imap: IMAPSessions) -> None:
    client = imap.login()
    user, password = imap.ctx.credentials()
    # With the initial response when announced, so a refused exchange ends on the tagged reply.
    res = client.authenticate_plain(user, password)
    check(
        _refused(res),
        "AUTHENTICATE in the authenticated state was accepted",
        expected="tagged NO or BAD",
        observed=str(res),
    )


@case("imap.rfc9051.6.bad-keeps-state", defect=srv.BAD_LOGIN_AUTHENTICATES)
def test_rejected_login_keeps_not_authenticated(imap: IMAPSessions) -> None:
    client = imap.ready()
    imap.secure(client)
    user, password = imap.ctx.credentials()
    res = client.command("LOGIN", user, password, wire.Atom("extra"))
    if res.status != "BAD":
        unsupported(f"the server did not reject LOGIN with an extraneous argument with BAD: {res}")
    after = client.command("EXAMINE", "INBOX")
    check(
        _refused(after),
        "a LOGIN rejected with BAD authenticated the session all the same",
        expected="SELECT refused (still not authenticated)",
        observed=str(after),
    )


# --- NOOP (any state) ----------------------------------------------------------------


@case("imap.rfc9051.6.1.2.noop-succeeds", defect=srv.NOOP_FAILS)
def test_noop_not_authenticated(imap: IMAPSessions) -> None:
    res = imap.ready().noop()
    check(res.ok, "NOOP in the not authenticated state did not succeed", expected="OK", observed=str(res))


@case("imap.rfc9051.6.1.2.noop-succeeds", defect=srv.NOOP_FAILS)
def test_noop_authenticated(imap: IMAPSessions) -> None:
    res = imap.login().noop()
    check(res.ok, "NOOP in the authenticated state did not succeed", expected="OK", observed=str(res))


@case("imap.rfc9051.6.1.2.noop-succeeds", defect=srv.NOOP_FAILS)
def test_noop_selected(imap: IMAPSessions) -> None:
    res = imap.selected(1).noop()
    check(res.ok, "NOOP in the selected state did not succeed", expected="OK", observed=str(res))


# --- LOGOUT (any state) --------------------------------------------------------------


def _bye_before_ok(client: IMAPClient, state: str) -> None:
    res = _logout(client)
    check(
        bool(res.named("BYE")),
        f"LOGOUT in the {state} state was completed without an untagged BYE before the tagged OK",
        expected="* BYE, then the tagged OK",
        observed=str(res),
    )


@case("imap.rfc9051.6.1.3.logout-bye", defect=srv.LOGOUT_NO_BYE)
def test_logout_bye_not_authenticated(imap: IMAPSessions) -> None:
    _bye_before_ok(imap.ready(), "not authenticated")


@case("imap.rfc9051.6.1.3.logout-bye", defect=srv.LOGOUT_NO_BYE)
def test_logout_bye_selected(imap: IMAPSessions) -> None:
    _bye_before_ok(imap.selected(), "selected")


@case("imap.rfc9051.6.1.3.logout-bye", defect=srv.LOGOUT_STAYS_OPEN)
def test_logout_closes_connection(imap: IMAPSessions) -> None:
    client = imap.login()
    _logout(client)
    check(
        client.closed_by_peer(),
        "the server did not 'then close the network connection' after the tagged OK to LOGOUT (RFC 9051 6.1.3)",
        expected="connection closed",
        observed=f"still open {client.timeout:g} s after the tagged OK",
    )


@case("imap.rfc9051.3.4.logout-ok-before-close", defect=srv.LOGOUT_NO_OK)
def test_logout_ok_before_close(imap: IMAPSessions) -> None:
    client = imap.login()
    tag = client.next_tag()
    client.send(f"{tag} LOGOUT\r\n".encode())
    seen: list[str] = []
    status = ""
    try:
        while not status:
            r = client.read_response()
            seen.append(r.raw[:60].decode("utf-8", "replace").strip())
            if isinstance(r, wire.Tagged) and r.tag == tag:
                status = r.status
    except ConnectionClosed:
        check(
            False,
            "the server closed the connection before the tagged OK to LOGOUT",
            expected="* BYE, tagged OK, then close",
            observed=" | ".join(seen) + " | <closed>",
        )
    except NetError as e:
        check(False, "no tagged response to LOGOUT", expected="tagged OK", observed=str(e))
    check(status == "OK", "LOGOUT was not completed with OK", expected="OK", observed=" | ".join(seen))

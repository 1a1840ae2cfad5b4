"""RFC 9051 6.2.1 and 7.2.2: STARTTLS (command injection included) and LOGINDISABLED."""

from conformance.clients.imap import IMAPClient, IMAPSessions
from conformance.net import ConnectionClosed, NetError
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire


def _cleartext(imap: IMAPSessions) -> IMAPClient:
    client = imap.ready()
    if client.conn.is_tls:
        unsupported("the session is already under TLS (Implicit TLS port)")
    imap.require(client, "STARTTLS")
    return client


def _tls(imap: IMAPSessions) -> IMAPClient:
    client = _cleartext(imap)
    res = client.starttls(imap.ctx.tls_context())
    if not res.ok:
        unsupported(f"STARTTLS was refused: {res}")
    return client


def _upgrade(imap: IMAPSessions, client: IMAPClient) -> None:
    """The TLS handshake after a STARTTLS sent by hand; the parser starts afresh under TLS."""
    client.start_tls(imap.ctx.tls_context())


def _injected(imap: IMAPSessions, extra: str) -> IMAPClient | None:
    """STARTTLS with ``extra`` command lines in the same packet, then the handshake.

    Checks that nothing came back in clear; None when the server closed the connection
    instead (a safe way to refuse the injection).
    """
    client = _cleartext(imap)
    tag = client.next_tag()
    client.send(f"{tag} STARTTLS\r\n{extra}".encode())
    res = client.collect(tag)
    if not res.ok:
        unsupported(f"STARTTLS was refused: {res}")
    try:
        early = client.try_read_response(client.quiet)
    except ConnectionClosed:
        return None
    check(
        early is None,
        "the server answered a command sent after STARTTLS in clear, before the TLS handshake",
        expected="nothing before TLS",
        observed=early.raw[:80].decode("utf-8", "replace") if early else "",
    )
    try:
        _upgrade(imap, client)
    except NetError as e:
        # The pipelined octets read as the start of the handshake (option 1 of 6.2.1) fail it: safe.
        if client.conn.closed or "handshake" in str(e):
            return None
        raise
    return client


def _stray(client: IMAPClient | None) -> str | None:
    """What the server sent under TLS without being asked, if anything."""
    if client is None:
        return None
    try:
        r = client.try_read_response(client.quiet)
    except ConnectionClosed:
        return None
    return r.raw[:100].decode("utf-8", "replace") if r is not None else None


@case("imap.rfc9051.6.2.1.tls-after-ok", defect=srv.STARTTLS_EXTRA_LINE)
def test_tls_begins_after_ok(imap: IMAPSessions) -> None:
    client = _cleartext(imap)
    res = client.command("STARTTLS")
    if not res.ok:
        unsupported(f"STARTTLS was refused: {res}")
    early = client.try_read_response(client.quiet)
    check(
        early is None,
        "the server sent more in clear after the tagged OK to STARTTLS",
        expected="the TLS handshake next",
        observed=early.raw[:80].decode("utf-8", "replace") if early else "",
    )
    try:
        _upgrade(imap, client)
        after = client.capability()
    except NetError as e:
        check(False, "the TLS negotiation did not begin right after the OK", expected="TLS handshake", observed=str(e))
    check(after.ok, "CAPABILITY under TLS after STARTTLS failed", expected="OK", observed=str(after))


@case("imap.rfc9051.6.2.1.starttls-injection", defect=srv.STARTTLS_INJECTION)
def test_injected_capability_not_executed(imap: IMAPSessions) -> None:
    stray = _stray(_injected(imap, "inj1 CAPABILITY\r\n"))
    check(
        stray is None,
        "a CAPABILITY sent in clear right after STARTTLS was answered under TLS (command injection)",
        expected="no response",
        observed=str(stray),
    )


@case("imap.rfc9051.6.2.1.starttls-injection", defect=srv.STARTTLS_INJECTION)
def test_injected_login_not_executed(imap: IMAPSessions) -> None:
    user, password = imap.ctx.credentials()
    login = wire.encode_command("inj2", "LOGIN", user, password)[0].decode()
    client = _injected(imap, login)
    stray = _stray(client)
    check(
        stray is None,
        "a LOGIN sent in clear right after STARTTLS was answered under TLS (command injection)",
        expected="no response",
        observed=str(stray),
    )
    if client is not None:
        res = client.command("EXAMINE", "INBOX")
        check(
            not res.ok,
            "a LOGIN sent in clear right after STARTTLS authenticated the session under TLS",
            expected="SELECT refused: not authenticated",
            observed=str(res),
        )


@case("imap.rfc9051.6.2.1.not-authenticated-after-tls", defect=srv.STARTTLS_AUTHENTICATES)
def test_not_authenticated_after_tls(imap: IMAPSessions) -> None:
    client = _tls(imap)
    res = client.command("EXAMINE", "INBOX")
    check(
        res.status in ("NO", "BAD"),
        "the session was in the authenticated state after STARTTLS, without LOGIN or AUTHENTICATE",
        expected="SELECT refused",
        observed=str(res),
    )


@case("imap.rfc9051.6.2.1.no-starttls-after-tls", defect=srv.STARTTLS_STILL_ADVERTISED)
def test_starttls_not_announced_under_tls(imap: IMAPSessions) -> None:
    client = _tls(imap)
    client.capability()
    check(
        not client.has("STARTTLS"),
        "CAPABILITY after a successful STARTTLS still announces STARTTLS",
        expected="no STARTTLS",
        observed=" ".join(sorted(client.capabilities)),
    )


@case("imap.rfc9051.6.2.1.starttls-bad-under-tls", defect=srv.STARTTLS_TWICE_OK)
def test_second_starttls_bad(imap: IMAPSessions) -> None:
    client = _tls(imap)
    res = client.command("STARTTLS")
    check(res.status == "BAD", "STARTTLS under TLS was not answered with BAD", expected="BAD", observed=str(res))


@case("imap.rfc9051.7.2.2.logindisabled-no", defect=srv.LOGINDISABLED_ACCEPTS)
def test_login_refused_while_logindisabled(imap: IMAPSessions) -> None:
    client = imap.ready()
    if "LOGINDISABLED" not in imap.capabilities(client):
        unsupported("the server does not announce LOGINDISABLED")
    user, password = imap.ctx.credentials()
    res = client.login(user, password)
    check(
        res.status == "NO",
        "LOGIN with valid credentials was not answered with NO while LOGINDISABLED is announced",
        expected="tagged NO",
        observed=str(res),
    )

"""RFC 2595 section 4: STLS, including command injection before the TLS handshake."""

from conformance.clients.pop3 import POP3Client, POP3Sessions
from conformance.net import ConnectionClosed, NetError
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported


def _stls_offered(pop3: POP3Sessions) -> POP3Client:
    client = pop3.ready()
    if client.conn.is_tls:
        unsupported("the session is already under TLS (implicit TLS)")
    pop3.require(client, "STLS")
    return client


def _injected(pop3: POP3Sessions, extra: bytes) -> POP3Client | None:
    """STLS with ``extra`` in the same packet, then the handshake; checks nothing came back in clear.

    None when the server closed the connection instead (a safe answer to injection).
    """
    client = _stls_offered(pop3)
    client.send(b"STLS\r\n" + extra)
    resp = client.read_response()
    if not resp.ok:
        unsupported(f"STLS was refused: {resp}")
    try:
        early = client.try_read_response(1.0)
    except ConnectionClosed:
        return None
    check(
        early is None and not client.buffered,
        "the server answered a command sent after STLS before the TLS handshake",
        expected="nothing before TLS",
        observed=str(early) if early else repr(client.buffered[:80]),
    )
    try:
        client.start_tls(pop3.ctx.tls_context())
    except NetError as e:
        if client.conn.closed:
            return None
        check(False, "the TLS handshake after a pipelined command failed", expected="TLS negotiation", observed=str(e))
    return client


def _stray(client: POP3Client | None, *, multiline: bool = False) -> str | None:
    """What the server sent under TLS without being asked, if anything."""
    if client is None:
        return None
    try:
        resp = client.try_read_response(1.5, multiline=multiline)
    except ConnectionClosed:
        return None
    return str(resp) if resp is not None else None


@case("pop3.rfc2595.4.tls-after-ok", defect=srv.STLS_EXTRA_LINE)
def test_tls_begins_after_ok(pop3: POP3Sessions) -> None:
    client = _stls_offered(pop3)
    resp = client.command("STLS")
    if not resp.ok:
        unsupported(f"STLS was refused: {resp}")
    check(
        not client.buffered,
        "more data followed the +OK to STLS before the TLS negotiation",
        expected="TLS ClientHello next",
        observed=repr(client.buffered[:80]),
    )
    try:
        client.start_tls(pop3.ctx.tls_context())
        after = client.capa()
    except NetError as e:
        check(
            False, "the TLS negotiation did not begin right after the +OK", expected="TLS negotiation", observed=str(e)
        )
    check(after.ok or after.err, "no response under TLS after STLS")


@case("pop3.rfc2595.4.tls-after-ok", defect=srv.STLS_INJECTION)
def test_injected_capa_not_executed(pop3: POP3Sessions) -> None:
    stray = _stray(_injected(pop3, b"CAPA\r\n"), multiline=True)
    check(
        stray is None,
        "a CAPA sent in clear before the TLS handshake was answered under TLS (command injection)",
        expected="no response",
        observed=str(stray),
    )


@case("pop3.rfc2595.4.tls-after-ok", defect=srv.STLS_INJECTION)
def test_injected_user_not_executed(pop3: POP3Sessions) -> None:
    user, _ = pop3.ctx.credentials()
    stray = _stray(_injected(pop3, f"USER {user}\r\n".encode()))
    check(
        stray is None,
        "a USER sent in clear before the TLS handshake was answered under TLS (command injection)",
        expected="no response",
        observed=str(stray),
    )


@case("pop3.rfc2595.4.stls-authorization-only", defect=srv.STLS_IN_TRANSACTION)
def test_stls_refused_in_transaction(pop3: POP3Sessions) -> None:
    probe = _stls_offered(pop3)
    probe.quit()
    client = pop3.login(secure=False)
    resp = client.command("STLS")
    check(resp.err, "STLS in TRANSACTION state was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc2595.4.stls-err-when-active", defect=srv.STLS_TWICE_OK)
def test_second_stls_refused(pop3: POP3Sessions) -> None:
    client = _stls_offered(pop3)
    if not client.stls(pop3.ctx.tls_context()).ok:
        unsupported("STLS was refused")
    resp = client.command("STLS")
    check(resp.err, "a second STLS under TLS was not refused", expected="-ERR", observed=str(resp))


@case("pop3.rfc2595.4.stls-capability", defect=srv.STLS_STILL_ADVERTISED)
def test_stls_announced_only_when_permitted(pop3: POP3Sessions) -> None:
    client = _stls_offered(pop3)
    if not client.stls(pop3.ctx.tls_context()).ok:
        unsupported("STLS was refused")
    if not client.capa().ok or not client.has("STLS"):
        return
    resp = client.command("STLS")
    check(
        resp.ok,
        "CAPA under TLS announces STLS, but STLS is not permitted",
        expected="STLS not announced, or permitted",
        observed=str(resp),
    )

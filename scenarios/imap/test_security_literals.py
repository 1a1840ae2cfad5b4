"""RFC 7888 (LITERAL+ / LITERAL-) and the limits of a server: huge literals, over-long lines.

A server may refuse what is beyond its own limits (BAD, NO, or BYE and close); it must not
take the octets of an announced literal for commands, and should say BYE before it closes.
"""

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.context import make_message
from conformance.net import ConnectionClosed, NetError
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

HUGE = 4294967295  # 2^32 - 1 octets: announced, never sent
OVER = 5000  # over the 4096 octets LITERAL- allows for non-synchronizing literals


def _nonsync(imap: IMAPSessions, *, login: bool) -> IMAPClient:
    client = imap.login(profile=False) if login else imap.ready()
    if not login:
        imap.secure(client)
    caps = imap.capabilities(client)
    if "LITERAL+" not in caps and "LITERAL-" not in caps:
        unsupported("the server announces neither LITERAL+ nor LITERAL-")
    return client


def _literal_minus(imap: IMAPSessions) -> IMAPClient:
    client = imap.login(profile=False)
    imap.require(client, "LITERAL-")
    return client


def _until_done(client: IMAPClient, tag: str) -> tuple[Result | None, list[wire.Untagged], bool]:
    """Responses up to ``tag``'s completion: (its result or None, untagged seen, connection closed)."""
    untagged: list[wire.Untagged] = []
    try:
        while True:
            r = client.read_response()
            if isinstance(r, wire.Tagged) and r.tag == tag:
                return Result(r, untagged), untagged, False
            if isinstance(r, wire.Untagged):
                untagged.append(r)
                if r.name == "BYE":
                    return None, untagged, client.closed_by_peer()
    except ConnectionClosed:
        return None, untagged, True


def _still_serving(imap: IMAPSessions) -> None:
    """Another session is greeted and answered: the probe did not take the server down."""
    other = imap.ready()
    res = other.noop()
    check(res.ok, "another session was not served after the probe", expected="NOOP OK", observed=str(res))


# --- LITERAL+ / LITERAL- ------------------------------------------------------------------------------


@case("imap.rfc7888.3.non-synchronizing-literal", defect=srv.NONSYNC_REFUSED)
def test_login_with_non_synchronizing_literals(imap: IMAPSessions) -> None:
    client = _nonsync(imap, login=False)
    if "LOGINDISABLED" in client.capabilities:
        unsupported("LOGIN is disabled")
    user, password = imap.ctx.credentials()
    client.transcript.add_secret(password)
    res = client.command("LOGIN", user.encode(), password.encode(), literal_plus=True)
    check(res.ok, "LOGIN with non-synchronizing literals failed", expected="OK", observed=str(res))


@case("imap.rfc7888.3.non-synchronizing-literal", defect=srv.NONSYNC_REFUSED)
def test_non_synchronizing_literal_inside_command(imap: IMAPSessions) -> None:
    client = _nonsync(imap, login=True)
    # The reference name as an empty literal, and the command goes on after it on the next line.
    tag = client.next_tag()
    client.send(f'{tag} LIST {{0+}}\r\n "INBOX"\r\n'.encode())
    res = client.collect(tag)
    check(
        res.ok and any(u.name == "LIST" for u in res.untagged),
        "LIST with a non-synchronizing literal followed by more arguments failed",
        expected="* LIST ... INBOX, then OK",
        observed=str(res),
    )


@case("imap.rfc7888.3.no-continuation", defect=srv.NONSYNC_CONTINUATION)
def test_no_continuation_for_non_synchronizing_literal(imap: IMAPSessions) -> None:
    client = _nonsync(imap, login=True)
    tag = client.next_tag()
    client.send(f"{tag} LIST {{0+}}\r\n {{5+}}\r\nINBOX\r\n".encode())
    first = client.read_response()
    check(
        not isinstance(first, wire.Continuation),
        "the server sent a continuation request for a non-synchronizing literal",
        expected="no '+'",
        observed=first.raw[:80].decode("utf-8", "replace"),
    )
    client.collect(tag)


@case("imap.rfc7888.5.literal-minus-limit", defect=srv.LITERAL_MINUS_UNLIMITED)
def test_literal_minus_refuses_big_non_synchronizing(imap: IMAPSessions) -> None:
    client = _literal_minus(imap)
    tag = client.next_tag()
    client.send(f'{tag} LIST "" {{{OVER}+}}\r\n'.encode() + b"%" * OVER + b"\r\n")
    res, _, closed = _until_done(client, tag)
    check(
        closed or (res is not None and not res.ok),
        f"a non-synchronizing literal of {OVER} octets was accepted under LITERAL-",
        expected="BAD (or BYE and close)",
        observed=str(res),
    )


@case("imap.rfc7888.5.append-toobig", "imap.rfc7888.5.literal-minus-limit", defect=srv.LITERAL_MINUS_NO_TOOBIG)
def test_literal_minus_append_toobig(imap: IMAPSessions) -> None:
    client = _literal_minus(imap)
    box = imap.scratch(client, select=False)
    message = make_message("mailspec LITERAL- probe", b"x" * OVER + b"\r\n")[0]
    tag = client.next_tag()
    client.send(f'{tag} APPEND "{box}" {{{len(message)}+}}\r\n'.encode() + message + b"\r\n")
    res, _, closed = _until_done(client, tag)
    if closed:
        return  # BYE and close is the other way RFC 7888 section 4 allows
    assert res is not None
    check(
        not res.ok,
        f"an APPEND with a non-synchronizing literal of {len(message)} octets was accepted under LITERAL-",
        req="imap.rfc7888.5.literal-minus-limit",
        expected="BAD [TOOBIG]",
        observed=str(res),
    )
    check(
        res.status == "BAD" and res.tagged.code is not None and res.tagged.code.name == "TOOBIG",
        "the refusal of a big non-synchronizing APPEND literal is not a BAD with the TOOBIG code",
        expected="BAD [TOOBIG]",
        observed=str(res),
    )


# --- limits: huge literals, long lines --------------------------------------------------------------


@case("imap.rfc7888.3.non-synchronizing-literal", defect=srv.HUGE_LITERAL_RESYNC)
def test_octets_of_huge_literal_not_run(imap: IMAPSessions) -> None:
    client = imap.ready()
    if not {"LITERAL+", "LITERAL-", "IMAP4REV2"} & imap.capabilities(client):
        # To such a server "{n+}" is a syntax error: BAD, then the next line is a new command.
        unsupported("the server announces neither LITERAL+, LITERAL- nor IMAP4rev2")
    tag = client.next_tag()
    # The NOOP line is literal data of the announced literal, not a command.
    client.send(f"{tag} LOGIN {{{HUGE}+}}\r\ninjected NOOP\r\n".encode())
    seen: list[str] = []
    try:
        # What must not come: a server running the injected line (same packet) would answer at once.
        while (r := client.try_read_response(client.quiet)) is not None:
            seen.append(r.raw[:80].decode("utf-8", "replace").strip())
            check(
                not (isinstance(r, wire.Tagged) and r.tag == "injected"),
                "octets inside an announced non-synchronizing literal were run as a command",
                expected="no response to 'injected'",
                observed=" | ".join(seen),
            )
    except ConnectionClosed:
        pass
    _still_serving(imap)


@case("imap.rfc9051.3.4.bye-before-close", defect=srv.CLOSE_WITHOUT_BYE)
def test_huge_synchronizing_literal(imap: IMAPSessions) -> None:
    client = imap.ready()
    tag = client.next_tag()
    client.send(f"{tag} LOGIN {{{HUGE}}}\r\n".encode())
    seen: list[wire.Response] = []
    closed = False
    try:
        while (r := client.try_read_response(client.timeout)) is not None:
            seen.append(r)
            if isinstance(r, wire.Continuation | wire.Tagged):
                break  # ready for the octets, or refused: both are answers
    except ConnectionClosed:
        closed = True
    check(
        not closed or any(isinstance(r, wire.Untagged) and r.name == "BYE" for r in seen),
        "the server closed the connection on a huge literal without an untagged BYE",
        expected="BAD / NO, '+', or BYE before closing",
        observed=" | ".join(r.raw[:80].decode("utf-8", "replace").strip() for r in seen) + " <closed>",
    )
    _still_serving(imap)


@case("imap.rfc9051.3.4.bye-before-close", "imap.rfc9051.2.2.2.syntax-error-bad", defect=srv.CLOSE_WITHOUT_BYE)
def test_overlong_command_line(imap: IMAPSessions) -> None:
    client = imap.ready()
    tag = client.next_tag()
    seen: list[wire.Response] = []
    closed = False
    try:
        client.send(f"{tag} NOOP ".encode())
        # 160 KB in 16 KB pieces, reading between them so a BYE is not lost to a reset.
        for _ in range(10):
            client.send(b"x" * 16384)
            while (r := client.try_read_response(0.05)) is not None:
                seen.append(r)
        client.send(b"\r\n")
        while (r := client.try_read_response(client.timeout)) is not None:
            seen.append(r)
            if isinstance(r, wire.Tagged):
                break
    except ConnectionClosed:
        closed = True
    except NetError:
        closed = True  # a reset while sending: the server dropped the connection
    text = " | ".join(r.raw[:80].decode("utf-8", "replace").strip() for r in seen) or "nothing"
    check(
        not closed or any(isinstance(r, wire.Untagged) and r.name == "BYE" for r in seen),
        "the server closed the connection on an over-long line without an untagged BYE",
        expected="BAD, or BYE before closing",
        observed=text + " <closed>",
    )
    check(
        not any(isinstance(r, wire.Tagged) and r.status == "OK" for r in seen),
        "NOOP with 160 KB of arguments was completed with OK",
        req="imap.rfc9051.2.2.2.syntax-error-bad",
        expected="BAD",
        observed=text,
    )
    _still_serving(imap)

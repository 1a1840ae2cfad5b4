"""RFC 9051 6.2.2 and RFC 4959: AUTHENTICATE PLAIN with and without an initial response, cancel, bad base64."""

import base64

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire


def _plain_ready(imap: IMAPSessions, *, rev2: bool = False) -> IMAPClient:
    """Not authenticated, under TLS when offered, AUTH=PLAIN announced.

    ``rev2``: a rule RFC 9051 added (BAD for invalid base64; RFC 3501 only says it for "*"),
    held against a server that announces IMAP4rev2 (a BAD conforms to RFC 3501 as well).
    """
    client = imap.ready()
    if rev2 and imap.profile(client) != "imap4rev2":
        unsupported("an RFC 9051 rule; the server does not announce IMAP4rev2 (or --profile imap4rev1)")
    imap.secure(client)
    client.capability()
    imap.require(client, "AUTH=PLAIN")
    return client


def _token(imap: IMAPSessions, client: IMAPClient, password: str | None = None) -> str:
    user, real = imap.ctx.credentials()
    client.transcript.add_secret(real)
    return base64.b64encode(f"\0{user}\0{password or real}".encode()).decode()


def _exchange(client: IMAPClient, response: str) -> Result:
    """AUTHENTICATE PLAIN without an initial response; ``response`` is the line sent after the "+"."""
    tag = client.next_tag()
    client.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
    r = client.read_response()
    if isinstance(r, wire.Tagged):
        unsupported(f"AUTHENTICATE PLAIN without an initial response was refused: {r.raw!r}")
    check(
        isinstance(r, wire.Continuation),
        "AUTHENTICATE PLAIN was not answered with a continuation request",
        expected="+ ",
        observed=r.raw[:80].decode("utf-8", "replace"),
    )
    client.send(response.encode() + b"\r\n")
    return client.collect(tag)


def _with_initial_response(client: IMAPClient, ir: str) -> Result:
    tag = client.next_tag()
    client.send(f"{tag} AUTHENTICATE PLAIN {ir}\r\n".encode())
    r = client.read_response()
    if isinstance(r, wire.Continuation):
        client.send(b"*\r\n")  # the server asks for more: cancel, so the command ends
        res = client.collect(tag, seen=(r,))
        check(
            False,
            "AUTHENTICATE with an initial response was answered with a continuation request",
            expected="tagged response",
            observed=f"{r.raw!r}, then {res}",
        )
    if isinstance(r, wire.Tagged) and r.tag == tag:
        return Result(r)
    return client.collect(tag, seen=(r,))


def _authenticated(client: IMAPClient) -> bool:
    return client.command("EXAMINE", "INBOX").ok


# --- success ------------------------------------------------------------------------------------


@case("imap.rfc9051.6.2.2.plain-without-initial-response", defect=srv.AUTH_NEEDS_IR)
def test_plain_without_initial_response(imap: IMAPSessions) -> None:
    client = _plain_ready(imap)
    tag = client.next_tag()
    client.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
    r = client.read_response()
    check(
        isinstance(r, wire.Continuation),
        "AUTHENTICATE PLAIN without an initial response was not answered with a continuation request",
        expected="+ ",
        observed=r.raw[:80].decode("utf-8", "replace"),
    )
    client.send(_token(imap, client).encode() + b"\r\n")
    res = client.collect(tag)
    check(res.ok, "AUTHENTICATE PLAIN without an initial response failed", expected="OK", observed=str(res))
    check(_authenticated(client), "the session is not authenticated after AUTHENTICATE OK", expected="SELECT OK")


@case("imap.rfc4959.3.initial-response", defect=srv.SASL_IR_BAD)
def test_plain_with_initial_response(imap: IMAPSessions) -> None:
    client = _plain_ready(imap)
    imap.require(client, "SASL-IR")
    res = _with_initial_response(client, _token(imap, client))
    check(res.ok, "AUTHENTICATE PLAIN with an initial response failed", expected="OK", observed=str(res))
    check(_authenticated(client), "the session is not authenticated after AUTHENTICATE OK", expected="SELECT OK")


@case("imap.rfc4959.3.omission-supported", defect=srv.AUTH_NEEDS_IR)
def test_sasl_ir_server_takes_omitted_response(imap: IMAPSessions) -> None:
    client = _plain_ready(imap)
    imap.require(client, "SASL-IR")
    tag = client.next_tag()
    client.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
    r = client.read_response()
    # What the challenge says is not RFC 4959's business (review B4): only that one comes.
    check(
        isinstance(r, wire.Continuation),
        "a SASL-IR server did not answer AUTHENTICATE PLAIN without an initial response with a continuation",
        expected="+ ",
        observed=r.raw[:80].decode("utf-8", "replace"),
    )
    client.send(_token(imap, client).encode() + b"\r\n")
    res = client.collect(tag)
    check(res.ok, "AUTHENTICATE PLAIN without an initial response failed", expected="OK", observed=str(res))


# --- failures -----------------------------------------------------------------------------------


@case("imap.rfc9051.6.2.2.credentials-rejected-no", defect=srv.AUTH_ACCEPTS_ANY)
def test_wrong_password_no(imap: IMAPSessions) -> None:
    client = _plain_ready(imap)
    res = _exchange(client, _token(imap, client, "not-the-password-mailspec"))
    check(
        res.status == "NO",
        "AUTHENTICATE with a wrong password was not answered with NO",
        expected="NO",
        observed=str(res),
    )


@case("imap.rfc9051.6.2.2.credentials-rejected-no", defect=srv.AUTH_ACCEPTS_ANY)
def test_wrong_password_leaves_not_authenticated(imap: IMAPSessions) -> None:
    client = _plain_ready(imap)
    _exchange(client, _token(imap, client, "not-the-password-mailspec"))
    check(
        not _authenticated(client),
        "the session is authenticated after AUTHENTICATE with a wrong password",
        expected="SELECT refused",
    )


@case("imap.rfc9051.6.2.2.unknown-mechanism-no", defect=srv.UNKNOWN_MECH_BAD)
def test_unknown_mechanism_no(imap: IMAPSessions) -> None:
    client = _plain_ready(imap)
    res = client.command("AUTHENTICATE", wire.Atom("X-MAILSPEC-UNKNOWN"))
    check(
        res.status == "NO",
        "AUTHENTICATE with an unsupported mechanism was not answered with NO",
        expected="NO",
        observed=str(res),
    )


@case("imap.rfc9051.6.2.2.cancel-bad", defect=srv.AUTH_CANCEL_NO)
def test_cancel_with_star_bad(imap: IMAPSessions) -> None:
    client = _plain_ready(imap)
    res = _exchange(client, "*")
    check(
        res.status == "BAD",
        "an AUTHENTICATE cancelled with '*' was not answered with BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc9051.6.2.2.cancel-bad", defect=srv.AUTH_BASE64_LAX)
def test_response_outside_base64_alphabet_bad(imap: IMAPSessions) -> None:
    client = _plain_ready(imap, rev2=True)
    res = _exchange(client, "AG!h#bGl$jZQB%zZWN*yZXQ=")
    check(
        res.status == "BAD",
        "a SASL response with characters outside the base64 alphabet was not answered with BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc9051.6.2.2.cancel-bad", defect=srv.AUTH_BASE64_LAX)
def test_response_with_inner_pad_bad(imap: IMAPSessions) -> None:
    client = _plain_ready(imap, rev2=True)
    res = _exchange(client, "AGFs=aWNlAHNlY3JldA==")
    check(
        res.status == "BAD",
        "a SASL response with a '=' pad inside was not answered with BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc9051.6.2.2.initial-response-bad-base64", defect=srv.AUTH_BASE64_LAX)
def test_initial_response_leading_pad_bad(imap: IMAPSessions) -> None:
    client = _plain_ready(imap, rev2=True)
    imap.require(client, "SASL-IR")
    res = _with_initial_response(client, "=AAA")
    check(
        res.status == "BAD", "the initial response '=AAA' was not answered with BAD", expected="BAD", observed=str(res)
    )


@case("imap.rfc9051.6.2.2.initial-response-bad-base64", defect=srv.AUTH_BASE64_LAX)
def test_initial_response_inner_pad_bad(imap: IMAPSessions) -> None:
    client = _plain_ready(imap, rev2=True)
    imap.require(client, "SASL-IR")
    res = _with_initial_response(client, "AAA=BBB")
    check(
        res.status == "BAD",
        "the initial response 'AAA=BBB' was not answered with BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc9051.7.1.authenticationfailed", defect=srv.AUTH_FAIL_NO_CODE)
def test_authenticate_failure_code(imap: IMAPSessions) -> None:
    client = _plain_ready(imap)
    res = _exchange(client, _token(imap, client, "not-the-password-mailspec"))
    if res.status != "NO":
        unsupported(f"AUTHENTICATE with a wrong password was not refused with NO: {res}")
    check(
        res.tagged.code is not None and res.tagged.code.name == "AUTHENTICATIONFAILED",
        "AUTHENTICATE with a wrong password was refused without the AUTHENTICATIONFAILED response code",
        expected="NO [AUTHENTICATIONFAILED]",
        observed=str(res),
    )

"""RFC 5034 sections 3 and 4: the SASL capability and AUTH with PLAIN."""

import base64

from conformance.clients.pop3 import POP3Client, POP3Sessions, stat_counts
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported
from conformance.wire import pop3 as wire

WRONG = "mailspec-wrong-password"


def _sasl(pop3: POP3Sessions) -> POP3Client:
    """A session under TLS (when offered) whose CAPA announces SASL with PLAIN."""
    client = pop3.ready()
    pop3.secure(client)
    mechs = pop3.require(client, "SASL").upper().split()
    if "PLAIN" not in mechs:
        unsupported(f"SASL PLAIN is not offered (only {' '.join(mechs)})")
    return client


def _token(pop3: POP3Sessions, password: str | None = None) -> str:
    user, good = pop3.ctx.credentials()
    return base64.b64encode(f"\0{user}\0{password or good}".encode()).decode()


def _auth(pop3: POP3Sessions, *, initial: bool = True) -> tuple[POP3Client, wire.Response]:
    """AUTH PLAIN with good credentials in a fresh session (again while the maildrop is in use)."""
    user, password = pop3.ctx.credentials()

    def attempt() -> tuple[POP3Client, wire.Response]:
        client = _sasl(pop3)
        return client, client.auth_plain(user, password, initial=initial)

    return pop3.until_unlocked(attempt)


def _authed(pop3: POP3Sessions) -> POP3Client:
    client, resp = _auth(pop3)
    if not resp.ok:
        unsupported(f"AUTH PLAIN with the account's credentials was refused: {resp}")
    return client


@case("pop3.rfc5034.4.auth-success", defect=srv.AUTH_NO_SUCCESS_STATE)
def test_auth_plain_initial_response(pop3: POP3Sessions) -> None:
    client, resp = _auth(pop3)
    check(
        resp.ok,
        "AUTH PLAIN with an initial response and good credentials was not answered with +OK",
        expected="+OK",
        observed=str(resp),
    )
    check(
        stat_counts(client.stat()) is not None,
        "after a successful AUTH the session is not in TRANSACTION state (STAT refused)",
        expected="+OK nn mm",
    )


@case("pop3.rfc5034.4.auth-success", defect=srv.AUTH_NO_SUCCESS_STATE)
def test_auth_plain_after_challenge(pop3: POP3Sessions) -> None:
    client, resp = _auth(pop3, initial=False)
    check(
        resp.ok,
        "AUTH PLAIN answered after the empty challenge was not accepted with +OK",
        expected="+OK",
        observed=str(resp),
    )
    check(
        stat_counts(client.stat()) is not None,
        "after a successful AUTH the session is not in TRANSACTION state (STAT refused)",
        expected="+OK nn mm",
    )


@case("pop3.rfc5034.4.empty-challenge", defect=srv.AUTH_NEEDS_INITIAL)
def test_auth_plain_without_initial_response_gets_challenge(pop3: POP3Sessions) -> None:
    client = _sasl(pop3)
    resp = client.command("AUTH", "PLAIN")
    check(
        resp.continuation,
        "AUTH PLAIN without an initial response was not answered with an empty challenge",
        expected='"+ "',
        observed=str(resp),
    )
    client.send(b"*\r\n")


@case("pop3.rfc5034.4.empty-challenge-no-data", defect=srv.AUTH_CHALLENGE_TEXT)
def test_empty_challenge_is_plus_space(pop3: POP3Sessions) -> None:
    client = _sasl(pop3)
    resp = client.command("AUTH", "PLAIN")
    if not resp.continuation:
        unsupported(f"no challenge to AUTH PLAIN: {resp}")
    client.send(b"*\r\n")
    check(
        resp.raw == b"+ \r\n",
        "the empty challenge holds more than '+' and a space",
        expected=repr(b"+ \r\n"),
        observed=repr(resp.raw),
    )


@case("pop3.rfc5034.4.cancel-err", defect=srv.AUTH_NO_CANCEL)
def test_cancel_gets_err(pop3: POP3Sessions) -> None:
    client = _sasl(pop3)
    resp = client.command("AUTH", "PLAIN")
    if not resp.continuation:
        unsupported(f"no challenge to AUTH PLAIN: {resp}")
    client.send(b"*\r\n")
    final = client.read_response()
    check(final.err, "a '*' cancelling the exchange was not answered with -ERR", expected="-ERR", observed=str(final))


@case("pop3.rfc5034.4.auth-failure-err", defect=srv.AUTH_ACCEPTS_ANY)
def test_wrong_password_initial_response(pop3: POP3Sessions) -> None:
    client = _sasl(pop3)
    user, _ = pop3.ctx.credentials()
    resp = client.auth_plain(user, WRONG)
    check(resp.err, "AUTH PLAIN with a wrong password was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc5034.4.auth-failure-err", defect=srv.AUTH_ACCEPTS_ANY)
def test_wrong_password_after_challenge(pop3: POP3Sessions) -> None:
    client = _sasl(pop3)
    user, _ = pop3.ctx.credentials()
    resp = client.auth_plain(user, WRONG, initial=False)
    check(
        resp.err,
        "AUTH PLAIN (after the challenge) with a wrong password was not answered with -ERR",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc5034.4.bad-base64-err", defect=srv.AUTH_BAD_B64_OK)
def test_pad_inside_base64_refused(pop3: POP3Sessions) -> None:
    client = _sasl(pop3)
    token = _token(pop3)
    client.transcript.add_secret(token)
    client.transcript.add_secret(token[4:])  # what follows the inserted octet still encodes the password
    resp = client.command("AUTH", "PLAIN", token[:4] + "=" + token[4:])
    check(
        resp.err, "an initial response with '=' inside the base64 was not rejected", expected="-ERR", observed=str(resp)
    )


@case("pop3.rfc5034.4.base64-alphabet", defect=srv.AUTH_B64_LENIENT)
def test_character_outside_base64_alphabet_refused(pop3: POP3Sessions) -> None:
    client = _sasl(pop3)
    token = _token(pop3)
    client.transcript.add_secret(token)
    client.transcript.add_secret(token[4:])  # what follows the inserted octet still encodes the password
    resp = client.command("AUTH", "PLAIN", token[:4] + "!" + token[4:])
    check(
        resp.err,
        "an initial response with a character outside the base64 alphabet was not rejected",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc5034.4.second-auth-err", defect=srv.AUTH_SECOND_OK)
def test_second_auth_refused(pop3: POP3Sessions) -> None:
    client = _authed(pop3)
    resp = client.command("AUTH", "PLAIN", _token(pop3))
    check(
        resp.err, "a second AUTH after a successful one was not answered with -ERR", expected="-ERR", observed=str(resp)
    )


@case("pop3.rfc5034.4.unknown-mechanism-err", defect=srv.AUTH_UNKNOWN_MECH)
def test_unknown_mechanism_refused(pop3: POP3Sessions) -> None:
    client = _sasl(pop3)
    resp = client.command("AUTH", "X-MAILSPEC-UNKNOWN")
    if resp.continuation:
        client.send(b"*\r\n")
        client.try_read_response(2.0)
    check(
        resp.err, "AUTH with an unsupported mechanism was not answered with -ERR", expected="-ERR", observed=str(resp)
    )


@case("pop3.rfc5034.3.sasl-after-auth", defect=srv.SASL_DROPPED)
def test_sasl_still_announced_after_auth(pop3: POP3Sessions) -> None:
    client = _authed(pop3)
    resp = client.capa()
    if not resp.ok:
        unsupported("CAPA is refused in TRANSACTION state")
    check(
        client.has("SASL"),
        "CAPA after a successful AUTH no longer announces SASL",
        expected="SASL ...",
        observed=" / ".join(client.capabilities or {}),
    )


@case("pop3.rfc5034.4.plain-required", defect=srv.SASL_NO_PLAIN)
def test_plain_offered(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    pop3.secure(client)
    mechs = pop3.require(client, "SASL").upper().split()
    check(
        "PLAIN" in mechs,
        "the SASL capability (under TLS) does not offer PLAIN",
        expected="SASL ... PLAIN ...",
        observed=f"SASL {' '.join(mechs)}",
    )


@case("pop3.rfc5034.4.failed-auth-no-effect", defect=srv.AUTH_FAIL_STICKY)
def test_auth_after_failed_auth(pop3: POP3Sessions) -> None:
    user, password = pop3.ctx.credentials()

    def attempt() -> tuple[POP3Client, wire.Response]:
        client = _sasl(pop3)
        if client.auth_plain(user, WRONG).ok:
            unsupported("the wrong password was accepted")
        return client, client.auth_plain(user, password)

    _, resp = pop3.until_unlocked(attempt)
    check(resp.ok, "after a failed AUTH, AUTH with good credentials was refused", expected="+OK", observed=str(resp))


@case("pop3.rfc5034.4.failed-auth-no-effect", defect=srv.AUTH_FAIL_STICKY)
def test_auth_after_cancelled_auth(pop3: POP3Sessions) -> None:
    user, password = pop3.ctx.credentials()

    def attempt() -> tuple[POP3Client, wire.Response]:
        client = _sasl(pop3)
        if client.command("AUTH", "PLAIN").continuation:
            client.send(b"*\r\n")
            client.read_response()
        return client, client.auth_plain(user, password)

    _, final = pop3.until_unlocked(attempt)
    check(
        final.ok, "after a cancelled AUTH, AUTH with good credentials was refused", expected="+OK", observed=str(final)
    )

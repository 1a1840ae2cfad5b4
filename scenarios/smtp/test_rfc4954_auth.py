"""RFC 4954 4 and 6: AUTH PLAIN and LOGIN - 235/535, one AUTH per session, none in a transaction,
cancelling with "*", strict base64, unknown mechanisms, challenges, mechanisms usable in cleartext."""

import base64
import binascii

import pytest

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.context import CaseContext
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import Reply

BAD_PASSWORD = "mailspec-wrong-password"
UNKNOWN_MECHANISM = "X-MAILSPEC-NO-SUCH"


def _auth_client(smtp: SMTPSessions, ctx: CaseContext, mechanism: str | None = None) -> tuple[SMTPClient, str, str]:
    """A session offering AUTH (after STARTTLS when needed) but not yet authenticated."""
    user, password = ctx.credentials()
    client = smtp.ready(auth=False)
    upgrade = not client.has("AUTH") and client.has("STARTTLS") and not client.conn.is_tls
    if upgrade and client.starttls(ctx.tls_context()).code == 220:
        client.ehlo()

    mechs = smtp.require(client, "AUTH").upper().split()
    if mechanism and mechanism not in mechs:
        unsupported(f"the server does not offer AUTH {mechanism}")
    return client, user, password


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


@case("smtp.rfc4954.4.success-235", defect=srv.AUTH_WRONG_SUCCESS)
def test_plain_with_initial_response_235(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, user, password = _auth_client(smtp, case_context, "PLAIN")
    reply = client.auth_plain(user, password)
    check(
        reply.code == 235, "AUTH PLAIN with good credentials was not answered 235", expected="235", observed=str(reply)
    )


@case("smtp.rfc4954.4.no-initial-response", "smtp.rfc4954.4.success-235", defect=srv.AUTH_PLAIN_NEEDS_INITIAL)
def test_plain_without_initial_response(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, user, password = _auth_client(smtp, case_context, "PLAIN")
    first = client.command("AUTH PLAIN")
    check(
        first.code == 334,
        "AUTH PLAIN without an initial response got no empty 334 challenge",
        expected="334",
        observed=str(first),
    )
    client.transcript.add_secret(_b64(f"\0{user}\0{password}"))
    reply = client.command(_b64(f"\0{user}\0{password}"))
    check(
        reply.code == 235,
        "the credentials sent after the 334 were not accepted",
        req="smtp.rfc4954.4.success-235",
        expected="235",
        observed=str(reply),
    )


@case("smtp.rfc4954.4.success-235", defect=srv.AUTH_WRONG_SUCCESS)
def test_login_235(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, user, password = _auth_client(smtp, case_context, "LOGIN")
    reply = client.auth_login(user, password)
    check(
        reply.code == 235, "AUTH LOGIN with good credentials was not answered 235", expected="235", observed=str(reply)
    )


@case("smtp.rfc4954.4.failure-535", defect=srv.AUTH_ACCEPTS_ANY)
def test_plain_bad_password_535(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, user, _ = _auth_client(smtp, case_context, "PLAIN")
    reply = client.auth_plain(user, BAD_PASSWORD)
    check(
        reply.code == 535,
        "AUTH PLAIN with a wrong password was not refused with 535",
        expected="535",
        observed=str(reply),
    )


@case("smtp.rfc4954.4.failure-535", defect=srv.AUTH_ACCEPTS_ANY)
def test_login_bad_password_535(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, user, _ = _auth_client(smtp, case_context, "LOGIN")
    reply = client.auth_login(user, BAD_PASSWORD)
    check(
        reply.code == 535,
        "AUTH LOGIN with a wrong password was not refused with 535",
        expected="535",
        observed=str(reply),
    )


@case("smtp.rfc4954.4.no-second-auth", defect=srv.AUTH_ALLOWS_SECOND)
def test_second_auth_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, user, password = _auth_client(smtp, case_context, "PLAIN")
    if client.auth_plain(user, password).code != 235:
        unsupported("could not authenticate")
    reply = client.auth_plain(user, password)
    check(
        reply.code == 503,
        "a second AUTH after a successful one was not refused with 503",
        expected="503",
        observed=str(reply),
    )


# Submission refuses MAIL before AUTH, so no transaction can be open before authenticating there.
@case("smtp.rfc4954.4.no-auth-in-transaction", defect=srv.AUTH_IN_TRANSACTION, protocols=("smtp",))
def test_auth_in_transaction_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, user, password = _auth_client(smtp, case_context, "PLAIN")
    mail = client.mail(case_context.sender)
    if mail.code != 250:
        unsupported(f"no mail transaction without authentication here: {mail}")
    reply = client.auth_plain(user, password)
    check(
        reply.code == 503,
        "AUTH inside a mail transaction was not refused with 503",
        expected="503",
        observed=str(reply),
    )


CANCEL_POINTS = {"plain": ("PLAIN", 0), "login-username": ("LOGIN", 0), "login-password": ("LOGIN", 1)}


@pytest.mark.parametrize("mechanism,answered", CANCEL_POINTS.values(), ids=CANCEL_POINTS.keys())
@case("smtp.rfc4954.4.cancel-501", defect=srv.AUTH_NO_CANCEL)
def test_cancel_with_star_501(smtp: SMTPSessions, case_context: CaseContext, mechanism: str, answered: int) -> None:
    client, user, _ = _auth_client(smtp, case_context, mechanism)
    reply = client.command(f"AUTH {mechanism}")
    for _ in range(answered):
        if reply.code != 334:
            break
        reply = client.command(_b64(user))
    if reply.code != 334:
        unsupported(f"no 334 challenge to cancel: {reply}")
    reply = client.command("*")
    check(
        reply.code == 501, "cancelling the exchange with '*' was not answered 501", expected="501", observed=str(reply)
    )


def _judge_undecodable(client: SMTPClient, reply: Reply, what: str) -> None:
    check(reply.code == 501, f"{what} was not refused with 501", expected="501", observed=str(reply))
    # The enhanced code is part of the same sentence; it can only be asked of a server that sends them.
    if client.has("ENHANCEDSTATUSCODES"):
        check(
            reply.enhanced == "5.5.2",
            f"{what} was refused without the enhanced status code 5.5.2",
            expected="501 5.5.2",
            observed=str(reply),
        )


@case("smtp.rfc4954.4.undecodable-501", defect=srv.AUTH_BAD_B64_OK)
def test_plain_undecodable_initial_response_501(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, _, _ = _auth_client(smtp, case_context, "PLAIN")
    _judge_undecodable(client, client.command("AUTH PLAIN ####"), "an initial response that is not base64")


@case("smtp.rfc4954.4.undecodable-501", defect=srv.AUTH_BAD_B64_554)
def test_login_undecodable_response_501(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, _, _ = _auth_client(smtp, case_context, "LOGIN")
    first = client.command("AUTH LOGIN")
    if first.code != 334:
        unsupported(f"no 334 challenge: {first}")
    _judge_undecodable(client, client.command("####"), "a response that is not base64")


@pytest.mark.parametrize("intruder", ["!", "-"], ids=["bang", "base64url-dash"])
@case("smtp.rfc4954.4.reject-non-base64", defect=srv.AUTH_B64_LENIENT)
def test_characters_outside_base64_rejected(smtp: SMTPSessions, case_context: CaseContext, intruder: str) -> None:
    client, user, password = _auth_client(smtp, case_context, "PLAIN")
    token = _b64(f"\0{user}\0{password}")
    mangled = token[:4] + intruder + token[4:]
    client.transcript.add_secret(mangled)
    reply = client.command(f"AUTH PLAIN {mangled}")
    check(
        reply.code != 235,
        f"good credentials with {intruder!r} inside the base64 were accepted: the character was ignored",
        expected="rejected (501)",
        observed=str(reply),
    )


@case("smtp.rfc4954.4.unknown-mechanism-504", defect=srv.AUTH_UNKNOWN_MECH)
def test_unknown_mechanism_504(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, _, _ = _auth_client(smtp, case_context)
    reply = client.command(f"AUTH {UNKNOWN_MECHANISM}")
    check(
        reply.code == 504,
        "AUTH with an unknown mechanism was not refused with 504",
        expected="504",
        observed=str(reply),
    )


@case("smtp.rfc4954.4.unknown-mechanism-5-5-4", defect=srv.AUTH_MECH_ENHANCED)
def test_unknown_mechanism_enhanced_5_5_4(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client, _, _ = _auth_client(smtp, case_context)
    smtp.require(client, "ENHANCEDSTATUSCODES")
    reply = client.command(f"AUTH {UNKNOWN_MECHANISM}")
    if reply.code != 504:
        unsupported(f"not a 504 reply: {reply}")
    check(
        reply.enhanced == "5.5.4",
        "the 504 for an unknown mechanism does not carry 5.5.4",
        expected="504 5.5.4",
        observed=str(reply),
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@case("smtp.rfc4954.4.challenge-base64-only", defect=srv.AUTH_CHALLENGE_TEXT)
def test_challenge_is_base64_only(smtp: SMTPSessions, case_context: CaseContext, mechanism: str) -> None:
    client, _, _ = _auth_client(smtp, case_context, mechanism)
    reply = client.command(f"AUTH {mechanism}")
    if reply.code != 334:
        unsupported(f"no 334 challenge: {reply}")
    client.command("*")
    text = reply.text.strip()
    check(
        text == "" or _is_base64(text),
        "the 334 challenge holds text other than base64",
        expected="334 <base64> (or '334 ' when empty)",
        observed=str(reply),
    )


# Submission offers AUTH only inside TLS (RFC 8314 guidance), so there is no cleartext AUTH to judge.
@case("smtp.rfc4954.6.advertise-only-usable", defect=srv.AUTH_538_CLEARTEXT, protocols=("smtp",))
def test_advertised_mechanism_usable_in_cleartext(smtp: SMTPSessions, case_context: CaseContext) -> None:
    user, password = case_context.credentials()
    client = smtp.ready(auth=False)
    if client.conn.is_tls:
        unsupported("the session is already encrypted")
    mechs = smtp.require(client, "AUTH").upper().split()
    if "PLAIN" in mechs:
        reply = client.auth_plain(user, password)
    elif "LOGIN" in mechs:
        reply = client.auth_login(user, password)
    else:
        unsupported(f"neither PLAIN nor LOGIN offered: {mechs}")
    check(
        reply.code != 538,
        "a mechanism advertised without encryption was refused with 538 (encryption required)",
        expected="mechanisms listed only where they can be used",
        observed=str(reply),
    )


@case("smtp.rfc4954.3.mail-line-plus-500", defect=srv.MAIL_LINE_512_ONLY, protocols=("smtp",))
def test_mail_line_longer_with_auth_parameter(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready(auth=False)
    smtp.require(client, "AUTH")
    # A legal 256-octet path plus BODY and an AUTH= value of 230 octets: over 512, within 512 + 500.
    local = "l" * 64
    domain = ".".join(["d" * 61] * 3) + "." + "e" * (256 - 2 - 65 - 3 * 62)
    auth_value = "a" * 218 + "@example.org"
    line = f"MAIL FROM:<{local}@{domain}> BODY=8BITMIME AUTH={auth_value}"
    assert 512 < len(line) + 2 <= 1012
    reply = client.command(line, check_length=False)
    check(
        reply.code != 500 and not (reply.code == 501 and "long" in reply.text.lower()),
        f"a {len(line) + 2}-octet MAIL line with AUTH= was refused as too long",
        expected="up to 1012 octets accepted (512 + 500 for AUTH)",
        observed=str(reply),
    )


AUTH_PARAMS = {"null": "AUTH=<>", "mailbox": "AUTH=mailspec-submitter@mailspec.test"}


@pytest.mark.parametrize("param", AUTH_PARAMS.values(), ids=AUTH_PARAMS.keys())
@case("smtp.rfc4954.5.auth-param-unauthenticated", defect=srv.MAIL_AUTH_PARAM_REFUSED, protocols=("smtp",))
def test_auth_parameter_before_authentication(smtp: SMTPSessions, case_context: CaseContext, param: str) -> None:
    """A server advertising AUTH takes MAIL FROM:<...> AUTH=... from a client that has not authenticated."""
    client = smtp.ready(auth=False)
    smtp.require(client, "AUTH")
    reply = client.mail(case_context.sender, param)
    if reply.code != 250:
        client.rset()
        control = client.mail(case_context.sender)
        if control.code != 250:
            unsupported(f"MAIL is refused here even without AUTH=: {control}")
    check(
        reply.code == 250,
        f"MAIL with {param} was refused from an unauthenticated client",
        expected="250 (the parameter supported; its value may be ignored)",
        observed=str(reply),
    )

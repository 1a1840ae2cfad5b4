"""RFC 3207 4, 4.2, 6: STARTTLS - 220 then TLS, a fresh session afterwards, nothing kept from before."""

import pytest

from conformance.clients.smtp import ConnectionClosed, SMTPClient, SMTPSessions
from conformance.context import CaseContext
from conformance.net import NetError
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

DISCARD = "smtp.rfc3207.4.2.discard-client-knowledge"
# Submission needs AUTH (after TLS) before MAIL and offers AUTH only inside TLS, so what these cases
# set up before the handshake does not exist there.
SMTP_ONLY = ("smtp",)


def _offering(smtp: SMTPSessions) -> SMTPClient:
    client = smtp.ready(auth=False)
    smtp.require(client, "STARTTLS")
    return client


def _upgrade(client: SMTPClient, ctx: CaseContext) -> None:
    """STARTTLS and the handshake; UNSUPPORTED when the server declines."""
    reply = client.starttls(ctx.tls_context())
    if reply.code != 220:
        unsupported(f"STARTTLS not accepted here: {reply}")


@case("smtp.rfc3207.4.starttls-replies", defect=srv.STARTTLS_WRONG_CODE)
def test_starttls_220_then_tls(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _offering(smtp)
    try:
        reply = client.starttls(case_context.tls_context())
    except NetError as e:
        check(False, "the TLS handshake failed after 220", expected="a TLS session", observed=str(e))
        return
    if reply.code == 454:
        unsupported(f"TLS temporarily unavailable: {reply}")
    check(
        reply.code == 220,
        "STARTTLS was not answered 220 (nor 454/501)",
        expected="220 Ready to start TLS",
        observed=str(reply),
    )
    ehlo = client.ehlo()
    check(
        client.conn.is_tls and ehlo.code == 250,
        "EHLO inside the new TLS session failed",
        expected="250",
        observed=str(ehlo),
    )


@case("smtp.rfc3207.4.starttls-replies", defect=srv.STARTTLS_ARG_OK)
def test_starttls_with_argument_501(smtp: SMTPSessions) -> None:
    client = _offering(smtp)
    reply = client.command("STARTTLS mailspec")
    check(
        reply.code == 501,
        "STARTTLS with a parameter was not refused with 501",
        expected="501 Syntax error (no parameters allowed)",
        observed=str(reply),
    )


@case(DISCARD, defect=srv.STARTTLS_KEEPS_STATE, protocols=SMTP_ONLY)
def test_ehlo_forgotten_after_tls(smtp: SMTPSessions, case_context: CaseContext) -> None:
    control = smtp.open()
    if control.mail(case_context.sender).code == 250:
        unsupported("the server accepts MAIL without EHLO/HELO, so a forgotten EHLO cannot be seen")
    client = _offering(smtp)
    _upgrade(client, case_context)
    reply = client.mail(case_context.sender)
    check(
        reply.code != 250,
        "MAIL right after the TLS handshake, without a new EHLO, was accepted: the pre-TLS EHLO was kept",
        expected="503 (EHLO first)",
        observed=str(reply),
    )


@case(DISCARD, defect=srv.STARTTLS_KEEPS_STATE, protocols=SMTP_ONLY)
def test_transaction_forgotten_after_tls(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _offering(smtp)
    mail = client.mail(case_context.sender)
    if mail.code != 250:
        unsupported(f"MAIL refused before TLS: {mail}")
    _upgrade(client, case_context)
    reply = client.rcpt(case_context.recipient)
    check(
        reply.code != 250,
        "RCPT after the TLS handshake was accepted: the MAIL sent before TLS was kept",
        expected="503",
        observed=str(reply),
    )


@case(DISCARD, defect=srv.STARTTLS_KEEPS_STATE, protocols=SMTP_ONLY)
def test_authentication_forgotten_after_tls(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _offering(smtp)
    user, password = case_context.credentials()
    mechs = client.extensions.get("AUTH", "").upper().split()
    if "PLAIN" not in mechs:
        unsupported("AUTH PLAIN is not offered before TLS")
    if client.auth_plain(user, password).code != 235:
        unsupported("could not authenticate before TLS")
    _upgrade(client, case_context)
    client.ehlo()
    reply = client.auth_plain(user, password)
    check(
        reply.code != 503,
        "AUTH after the TLS handshake was refused as a second AUTH: the pre-TLS login was kept",
        expected="a new authentication (235)",
        observed=str(reply),
    )


@case("smtp.rfc3207.4.2.no-starttls-after-tls", defect=srv.STARTTLS_ADVERTISED_AFTER)
def test_starttls_not_advertised_after_tls(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _offering(smtp)
    _upgrade(client, case_context)
    ehlo = client.ehlo()
    check(
        ehlo.code == 250 and not client.has("STARTTLS"),
        "the EHLO reply inside TLS still lists STARTTLS",
        expected="no STARTTLS keyword",
        observed=str(ehlo),
    )


INJECTED = {
    "noop": b"NOOP\r\n",
    "ehlo": b"EHLO injected.mailspec.test\r\n",
    "mail": b"MAIL FROM:<injected@mailspec.test>\r\n",
}


@pytest.mark.parametrize("injected", INJECTED.values(), ids=INJECTED.keys())
@case("smtp.rfc3207.6.discard-pre-tls-input", DISCARD, defect=srv.STARTTLS_INJECTION)
def test_commands_sent_with_starttls_discarded(smtp: SMTPSessions, case_context: CaseContext, injected: bytes) -> None:
    client = _offering(smtp)
    client.send(b"STARTTLS\r\n" + injected)  # one packet: the command injection of CVE-2011-0411
    try:
        reply = client.read_reply()
    except ConnectionClosed:
        return  # refusing the mixed packet by closing runs nothing
    if reply.code != 220:
        unsupported(f"STARTTLS sent with a following command was declined: {reply}")
    try:
        client.conn.start_tls(case_context.tls_context(), client.host)
    except NetError as e:
        unsupported(f"no TLS session after the 220: {e}")
    try:
        extra = client.try_read_reply(1.5)
    except ConnectionClosed:
        return
    check(
        extra is None,
        f"the server ran {injected.strip().decode()!r}, sent in the clear before the handshake, inside TLS",
        expected="no reply until the client speaks inside TLS",
        observed=str(extra),
    )


@case("smtp.rfc3207.4.no-starttls-required-for-local", defect=srv.STARTTLS_REQUIRED, protocols=SMTP_ONLY)
def test_cleartext_local_delivery_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """On the SMTP (relay, port 25) service, a cleartext transaction to a local user is not refused for want of TLS."""
    client = smtp.ready(auth=False)
    if client.conn.is_tls:
        unsupported("the session is already inside TLS (implicit TLS target)")
    mail = client.mail(case_context.sender)
    rcpt = client.rcpt(case_context.recipient) if mail.code == 250 else mail
    refused = [r for r in (mail, rcpt) if r.code == 530 or (r.klass == 5 and "starttls" in r.text.lower())]
    check(
        not refused,
        "mail for a local recipient was refused until STARTTLS",
        expected="250 for MAIL and RCPT in cleartext",
        observed=f"MAIL {mail} / RCPT {rcpt}",
    )
    if mail.code != 250 or rcpt.code not in (250, 251):
        unsupported(f"the cleartext transaction was refused for another reason: MAIL {mail} / RCPT {rcpt}")

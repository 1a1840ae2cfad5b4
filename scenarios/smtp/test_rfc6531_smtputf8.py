"""RFC 6531: SMTPUTF8 - advertised bare with 8BITMIME, UTF-8 mailboxes accepted with the parameter, refused without."""

import pytest

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import delivered_contains, fetch, has_probe, start_transaction
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, info, unsupported

ACCEPT = "smtp.rfc6531.3.3.accept-utf8-mailbox"
DECLARE = "smtp.rfc6531.3.4.parameter-required"
# UTF-8 in the local-part, in the domain (U-labels), and in both.
SENDERS = {
    "local-part": "émile-mailspec@{domain}",
    "domain": "mailspec@exämple.test",
    "both": "用户@例子.test",
}


def _utf8(smtp: SMTPSessions) -> SMTPClient:
    client = smtp.ready()
    smtp.require(client, "SMTPUTF8")
    return client


@case("smtp.rfc6531.3.1.no-ehlo-parameters", defect=srv.SMTPUTF8_PARAMS)
def test_keyword_has_no_parameters(smtp: SMTPSessions) -> None:
    client = _utf8(smtp)
    value = client.extensions["SMTPUTF8"]
    check(not value.strip(), "the SMTPUTF8 EHLO keyword carries parameters", expected="SMTPUTF8", observed=value)


@case("smtp.rfc6531.3.2.requires-8bitmime", defect=srv.SMTPUTF8_NO_8BITMIME)
def test_8bitmime_announced_too(smtp: SMTPSessions) -> None:
    client = _utf8(smtp)
    check(client.has("8BITMIME"), "SMTPUTF8 is offered without 8BITMIME", expected="8BITMIME in the EHLO reply")


@pytest.mark.parametrize("sender", SENDERS.values(), ids=SENDERS.keys())
@case(ACCEPT, defect=srv.SMTPUTF8_REFUSES_UTF8)
def test_utf8_sender_accepted_with_parameter(smtp: SMTPSessions, case_context: CaseContext, sender: str) -> None:
    client = _utf8(smtp)
    address = sender.format(domain=case_context.target.domain or "mailspec.test")
    reply = client.mail(address, "SMTPUTF8")
    # A policy refusal (e.g. 550 for an unverifiable sender domain) is allowed; a syntax or "not allowed" one is not.
    check(
        reply.code not in (500, 501, 553, 555),
        "a UTF-8 reverse-path with SMTPUTF8 was refused as unacceptable",
        expected="250 (or a policy refusal)",
        observed=str(reply),
    )


@case(ACCEPT, defect=srv.SMTPUTF8_REFUSES_UTF8)
def test_utf8_recipient_parsed_with_parameter(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _utf8(smtp)
    if client.mail(case_context.sender, "SMTPUTF8").code != 250:
        unsupported("MAIL with SMTPUTF8 refused")
    domain = case_context.recipient.rpartition("@")[2]
    reply = client.rcpt(f"ünknown-mailspec@{domain}")
    check(
        reply.code not in (500, 501, 553, 555),
        "a UTF-8 forward-path with SMTPUTF8 was refused as unacceptable rather than looked up",
        expected="250, or 550 for an unknown user",
        observed=str(reply),
    )


@pytest.mark.parametrize("sender", SENDERS.values(), ids=SENDERS.keys())
@case("smtp.rfc6531.3.5.ascii-mail-550", DECLARE, defect=srv.SMTPUTF8_UNDECLARED_OK)
def test_utf8_sender_refused_without_parameter(smtp: SMTPSessions, case_context: CaseContext, sender: str) -> None:
    client = _utf8(smtp)
    reply = client.mail(sender.format(domain=case_context.target.domain or "mailspec.test"))
    check(
        reply.klass == 5,
        "a UTF-8 reverse-path was accepted without the SMTPUTF8 parameter",
        expected="550/553 (or 501)",
        observed=str(reply),
    )


@case("smtp.rfc6531.3.5.ascii-rcpt-553", DECLARE, defect=srv.SMTPUTF8_UNDECLARED_OK)
def test_utf8_recipient_refused_without_parameter(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    smtp.require(client, "SMTPUTF8")
    domain = case_context.recipient.rpartition("@")[2]
    reply = client.rcpt(f"ünknown-mailspec@{domain}")
    # An unknown-user 550 would mean the address was looked up as if SMTPUTF8 had been declared.
    check(
        reply.code in (553, 501, 555),
        "a UTF-8 forward-path in a transaction without SMTPUTF8 was not refused as not allowed",
        expected="553 (or 501/555)",
        observed=str(reply),
    )


@case("smtp.rfc6531.3.4.parameter-no-value", defect=srv.SMTPUTF8_VALUE_OK)
def test_parameter_with_value_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _utf8(smtp)
    reply = client.mail(case_context.sender, "SMTPUTF8=YES")
    check(reply.klass == 5, "SMTPUTF8=YES was accepted", expected="501 or 555", observed=str(reply))


@case("smtp.rfc6531.3.2.fully-compliant", defect=srv.EIGHTBIT_STRIPPED)
def test_utf8_message_delivered_intact(smtp: SMTPSessions, case_context: CaseContext) -> None:
    if not has_probe(case_context):
        unsupported("delivered mail cannot be read back")
    client = _utf8(smtp)
    body = "Grüße aus Köln, 你好.\r\n".encode()
    message, token = make_message("mailspec SMTPUTF8 Grüße", body)
    if start_transaction(client, case_context, "SMTPUTF8").code != 250:
        unsupported("MAIL with SMTPUTF8 refused")
    replies = client.data(message)
    if replies[-1].code != 250:
        unsupported(f"the message was refused: {replies[-1]}")
    got = fetch(case_context, token)
    if got is None:
        # RFC 6531 3.2 lets a relay whose next hop lacks SMTPUTF8 answer with a non-delivery
        # notification after accepting: a message that never arrives is not judged here.
        info("the accepted SMTPUTF8 message did not arrive (a relay may return it with a non-delivery notification)")
    check(delivered_contains(got, body), "the UTF-8 text was not delivered unchanged")


@case("smtp.rfc6531.3.7.4.2.vrfy-252-or-550", defect=srv.VRFY_UTF8_REPLY)
def test_vrfy_utf8_without_parameter(smtp: SMTPSessions) -> None:
    client = _utf8(smtp)
    reply = client.vrfy("émile-mailspec")
    check(
        not (reply.code in (250, 251) and not reply.raw.isascii()),
        "VRFY without SMTPUTF8 was answered with a UTF-8 mailbox",
        expected="252 or 550",
        observed=str(reply),
    )

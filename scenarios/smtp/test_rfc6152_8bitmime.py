"""RFC 6152 2 and 3: 8BITMIME - BODY=8BITMIME and BODY=7BIT accepted, other values refused,
8-bit octets accepted and delivered with every bit intact."""

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import fetch, start_transaction
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

ACCEPTS = "smtp.rfc6152.3.accepts-extended-mail"
HIGH_OCTETS = bytes(range(0x80, 0x100))


def _eightbit(smtp: SMTPSessions) -> SMTPClient:
    client = smtp.ready()
    smtp.require(client, "8BITMIME")
    return client


def _send_8bit(smtp: SMTPSessions, ctx: CaseContext, body: bytes, subject: str) -> tuple[int, str, str]:
    """Send an 8-bit message with BODY=8BITMIME; (final reply code, its text, token)."""
    client = _eightbit(smtp)
    message, token = make_message(
        subject,
        body,
        headers={
            "MIME-Version": "1.0",
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Transfer-Encoding": "8bit",
        },
    )
    mail = start_transaction(client, ctx, "BODY=8BITMIME")
    if mail.code != 250:
        unsupported(f"MAIL BODY=8BITMIME refused: {mail}")
    replies = client.data(message)
    return replies[-1].code, str(replies[-1]), token


@case(ACCEPTS, defect=srv.EIGHTBIT_REJECTED)
def test_body_8bitmime_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _eightbit(smtp)
    reply = client.mail(case_context.sender, "BODY=8BITMIME")
    client.rset()
    check(
        reply.code == 250,
        "MAIL with BODY=8BITMIME was refused although 8BITMIME is advertised",
        expected="250",
        observed=str(reply),
    )


@case(ACCEPTS, "smtp.rfc6152.2.body-value", defect=srv.BODY_7BIT_REJECTED)
def test_body_7bit_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _eightbit(smtp)
    reply = client.mail(case_context.sender, "BODY=7BIT")
    client.rset()
    check(reply.code == 250, "MAIL with BODY=7BIT was refused", expected="250", observed=str(reply))


@case("smtp.rfc6152.2.body-value-keywords", defect=srv.BODY_BAD_VALUE_OK)
def test_unknown_body_value_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _eightbit(smtp)
    reply = client.mail(case_context.sender, "BODY=MAILSPEC-9BIT")
    client.rset()
    # INFO: the grammar lists two values, but no sentence requires refusing a third.
    check(
        reply.klass == 5,
        "observed: MAIL with a BODY value outside the grammar was accepted",
        expected="501 or 555",
        observed=str(reply),
    )


@case(ACCEPTS, defect=srv.EIGHTBIT_DATA_REFUSED)
def test_8bit_message_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    code, seen, _ = _send_8bit(smtp, case_context, "Grüße, naïve café: ☃\r\n".encode(), "mailspec 8-bit accepted")
    check(code == 250, "an 8-bit message sent with BODY=8BITMIME was refused", expected="250", observed=seen)


def _judge_delivered(smtp: SMTPSessions, ctx: CaseContext, body: bytes, subject: str) -> None:
    ctx.mailbox()  # UNSUPPORTED before sending when deliveries cannot be read back
    code, seen, token = _send_8bit(smtp, ctx, body, subject)
    if code != 250:
        unsupported(f"the 8-bit message was refused: {seen}")
    delivered = fetch(ctx, token)
    if delivered is None:
        unsupported("the accepted message never arrived")
    assert delivered is not None
    check(
        body.rstrip(b"\r\n") in delivered,
        "the 8-bit octets were not delivered intact",
        expected=repr(body[:60]),
        observed=repr(delivered[-200:]),
    )


@case("smtp.rfc6152.3.preserve-all-bits", defect=srv.EIGHTBIT_STRIPPED)
def test_every_high_octet_preserved(smtp: SMTPSessions, case_context: CaseContext) -> None:
    _judge_delivered(smtp, case_context, b"octets: " + HIGH_OCTETS + b"\r\n", "mailspec every 8-bit octet")


@case("smtp.rfc6152.3.deliver-8bit-intact", defect=srv.EIGHTBIT_STRIPPED)
def test_utf8_text_delivered_intact(smtp: SMTPSessions, case_context: CaseContext) -> None:
    _judge_delivered(smtp, case_context, "Ünïcödé text: Grüße aus Köln, 東京, ☃\r\n".encode(), "mailspec 8-bit text")

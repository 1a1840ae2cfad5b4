"""RFC 5321 4.1.1.4 and 2.3.8: SMTP smuggling. Only <CRLF>.<CRLF> ends the data; every malformed
end-of-data sequence (conformance.wire.smtp.SMUGGLING_ENDINGS) must stay message text, so the
commands and second message after it are never run or delivered on their own."""

from conformance.clients.smtp import ConnectionClosed, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import has_probe, start_transaction
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import SMUGGLING_ENDINGS, Reply

CRLF_ONLY = "smtp.rfc5321.2.3.8.crlf-only"
END_OF_DATA = "smtp.rfc5321.4.1.1.4.crlf-dot-crlf-ends-data"


def smuggling_payload(ctx: CaseContext, ending: bytes) -> tuple[bytes, str, str]:
    """DATA content: a carrier message, the malformed ``ending``, then a whole second transaction.

    Returns (payload, carrier token, smuggled token). A strict server reads all of it as one message.
    """
    carrier, carrier_token = make_message("mailspec smuggling carrier", b"This message carries a smuggling attempt.")
    smuggled, smuggled_token = make_message(
        "mailspec smuggled message", b"If this arrives alone, the server is vulnerable.\r\n"
    )
    commands = f"MAIL FROM:<{ctx.sender}>\r\nRCPT TO:<{ctx.recipient}>\r\nDATA\r\n".encode()
    return carrier + ending + commands + smuggled + b".\r\n", carrier_token, smuggled_token


def assert_not_smuggled(smtp: SMTPSessions, ctx: CaseContext, name: str) -> None:
    ending = SMUGGLING_ENDINGS[name]
    payload, carrier_token, smuggled_token = smuggling_payload(ctx, ending)
    client = smtp.ready()
    mail = start_transaction(client, ctx)
    if mail.code != 250:
        unsupported(f"MAIL refused: {mail}")
    go = client.command("DATA")
    if go.code != 354:
        unsupported(f"DATA refused: {go}")
    client.send(payload)
    replies: list[Reply] = []
    try:
        replies.append(client.read_reply())
        # QUIT's 221 marks the end: any reply before it answered a smuggled command.
        client.send(b"QUIT\r\n")
        while len(replies) < 8:
            more = client.try_read_reply(ctx.timeout)
            if more is None or more.code == 221:
                break
            replies.append(more)
    except ConnectionClosed:
        pass  # refusing the data and closing is safe

    seen = " | ".join(map(str, replies)) or "connection closed"
    # A lone extra 250 may be a (wrong) answer to QUIT; a 354 or two successes are the smuggled transaction.
    ran = [r for r in replies[1:] if r.code in (250, 354)]
    check(
        len(ran) < 2 and all(r.code != 354 for r in ran),
        f"the server took {ending!r} as the end of the data and ran the commands after it (SMTP smuggling)",
        expected="one reply for the whole data, or a refusal",
        observed=seen,
    )
    if replies and replies[0].code == 250 and has_probe(ctx):
        probe = ctx.mailbox()
        probe.wait_for(carrier_token, timeout=10.0)
        alone = [m for m in probe.find(smuggled_token) if carrier_token.encode() not in m]
        check(
            not alone,
            f"the message after {ending!r} was delivered as a message of its own (SMTP smuggling)",
            expected="the smuggled text inside the carrier message",
            observed=f"{len(alone)} separate message(s)",
        )


@case("smtp.rfc5321.4.1.1.4.lf-dot-lf-not-end", CRLF_ONLY, defect=srv.BARE_LF_DATA_END)
def test_lf_dot_lf_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "lf-dot-lf")


@case(CRLF_ONLY, END_OF_DATA, defect=srv.LF_DOT_CRLF_END)
def test_lf_dot_crlf_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "lf-dot-crlf")


@case(CRLF_ONLY, END_OF_DATA, defect=srv.CR_DOT_CR_END)
def test_cr_dot_cr_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "cr-dot-cr")


@case(CRLF_ONLY, END_OF_DATA, defect=srv.CR_DOT_CRLF_END)
def test_cr_dot_crlf_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "cr-dot-crlf")


@case(CRLF_ONLY, END_OF_DATA, defect=srv.CRLF_DOT_LF_END)
def test_crlf_dot_lf_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "crlf-dot-lf")


@case(CRLF_ONLY, END_OF_DATA, defect=srv.CRLF_DOT_CR_END)
def test_crlf_dot_cr_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "crlf-dot-cr")


@case(CRLF_ONLY, END_OF_DATA, defect=srv.LF_DOT_CR_END)
def test_lf_dot_cr_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "lf-dot-cr")


@case(CRLF_ONLY, END_OF_DATA, defect=srv.CR_DOT_LF_END)
def test_cr_dot_lf_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "cr-dot-lf")


@case(END_OF_DATA, defect=srv.NUL_DOT_END)
def test_nul_dot_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    assert_not_smuggled(smtp, case_context, "crlf-nul-dot-crlf")

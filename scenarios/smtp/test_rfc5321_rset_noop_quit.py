"""RFC 5321 4.1.1, 4.1.1.5, 4.1.1.9, 4.1.1.10, 4.1.4, 4.2, 4.3.2: RSET, NOOP and QUIT."""

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

SMTP_ONLY = ("smtp",)


@case("smtp.rfc5321.4.1.1.5.rset-250", defect=srv.RSET_200, protocols=SMTP_ONLY)
def test_rset_in_transaction_250(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    reply = client.rset()
    check(reply.code == 250, "RSET was not answered with 250", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.1.4.no-ehlo-needed", defect=srv.NEEDS_EHLO)
def test_rset_before_ehlo_250(smtp: SMTPSessions) -> None:
    # 4.1.4: RSET (like NOOP, VRFY, HELP) SHOULD be processed normally before EHLO: not 503.
    client = smtp.open()
    reply = client.rset()
    check(reply.code != 503, "RSET before EHLO was answered with 503", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.1.1.5.rset-discards", defect=srv.RSET_NOOP, protocols=SMTP_ONLY)
def test_rset_discards_recipients(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    client.rset()
    reply = client.command("DATA")
    check(
        reply.code in (503, 554),
        "DATA after RSET was accepted: the recipients were kept",
        expected="503 (or 554)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.1.5.rset-discards", defect=srv.RSET_NOOP, protocols=SMTP_ONLY)
def test_rset_discards_sender(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250:
        unsupported("MAIL was refused")
    client.rset()
    reply = client.mail(case_context.sender)
    check(reply.code == 250, "MAIL after RSET was refused: the sender was kept", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.1.1.5.rset-no-close", defect=srv.RSET_CLOSES)
def test_rset_keeps_connection(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    client.rset()
    check(
        not client.closed_by_peer(timeout=1.0),
        "the server closed the connection after RSET",
        expected="connection open",
    )
    reply = client.noop()
    check(reply.code == 250, "NOOP after RSET was not answered with 250", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.3.2.no-arg-commands-501", defect=srv.ARG_ERRORS_500)
def test_rset_with_argument_501(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("RSET mailspec")
    check(reply.code == 501, "RSET with an argument was not answered with 501", expected="501", observed=str(reply))


@case("smtp.rfc5321.4.1.1.no-param-commands", defect=srv.ARGS_IGNORED)
def test_rset_with_argument_refused(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("RSET mailspec")
    check(reply.code // 100 == 5, "RSET with an argument was not refused", expected="501", observed=str(reply))


@case("smtp.rfc5321.4.1.1.9.noop-arg", defect=srv.NOOP_REJECTS_ARG)
def test_noop_with_string_250(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("NOOP mailspec says hello")
    check(reply.code == 250, "NOOP with a string was not answered with 250", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.1.1.9.noop-250", defect=srv.NOOP_RESETS, protocols=SMTP_ONLY)
def test_noop_keeps_transaction(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    client.noop()
    message, _ = make_message("mailspec after NOOP")
    replies = client.data(message)
    check(
        replies[0].code == 354,
        "DATA after NOOP was refused: NOOP affected the transaction",
        expected="354",
        observed=str(replies[0]),
    )


@case("smtp.rfc5321.4.1.4.no-ehlo-needed", defect=srv.NEEDS_EHLO)
def test_noop_before_ehlo(smtp: SMTPSessions) -> None:
    client = smtp.open()
    reply = client.noop()
    check(reply.code != 503, "NOOP before EHLO was answered with 503", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.2.one-reply", defect=srv.DOUBLE_REPLY)
def test_noop_gets_exactly_one_reply(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    client.noop()
    extra = client.try_read_reply(1.5)
    check(extra is None, "NOOP got more than one reply", expected="one reply", observed=str(extra))


@case("smtp.rfc5321.4.1.1.10.quit-221", defect=srv.QUIT_NO_221, protocols=SMTP_ONLY)
def test_quit_in_transaction_221(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    reply = client.quit()
    check(reply.code == 221, "QUIT during a transaction was not answered with 221", expected="221", observed=str(reply))


@case("smtp.rfc5321.4.3.2.no-arg-commands-501", defect=srv.ARG_ERRORS_500)
def test_quit_with_argument_501(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("QUIT mailspec")
    check(reply.code == 501, "QUIT with an argument was not answered with 501", expected="501", observed=str(reply))


@case("smtp.rfc5321.4.1.1.no-param-commands", defect=srv.ARGS_IGNORED)
def test_quit_with_argument_refused(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("QUIT mailspec")
    check(reply.code // 100 == 5, "QUIT with an argument was not refused", expected="501", observed=str(reply))

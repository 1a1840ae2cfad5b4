"""RFC 5321 2.4, 3.8, 4.1.1.10, 4.1.4: command order, staying connected after errors, case of verbs."""

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire import smtp as wire

SMTP_ONLY = ("smtp",)


def _still_open(client: SMTPClient, after: str, reply: wire.Reply) -> None:
    if reply.code == 421:
        return  # 3.8: a server shutting down (an error limit, say) may answer 421 and close
    check(
        not client.closed_by_peer(timeout=1.0),
        f"the server closed the connection after {after}",
        expected="connection open until QUIT",
    )
    reply = client.noop()
    check(reply.code == 250, f"NOOP after {after} was not answered with 250", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.1.4.out-of-order-503", defect=srv.MAIL_NO_SEQUENCE, protocols=SMTP_ONLY)
def test_nested_mail_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250:
        unsupported("MAIL was refused")
    reply = client.mail(case_context.sender)
    check(reply.code == 503, "a nested MAIL was not answered with 503", expected="503", observed=str(reply))


@case("smtp.rfc5321.4.1.4.out-of-order-503", defect=srv.SEQUENCE_RESETS, protocols=SMTP_ONLY)
def test_nested_mail_keeps_transaction(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250 or client.rcpt(case_context.recipient).code not in (250, 251):
        unsupported("the transaction was refused")
    client.mail(case_context.sender)
    message, _ = make_message("mailspec after nested MAIL")
    replies = client.data(message)
    check(
        replies[0].code == 354,
        "after a refused nested MAIL the open transaction was lost",
        expected="354",
        observed=str(replies[0]),
    )


@case("smtp.rfc5321.4.1.4.out-of-order-503", defect=srv.SEQUENCE_500, protocols=SMTP_ONLY)
def test_mail_before_ehlo_refused_with_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.open()
    reply = client.mail(case_context.sender)
    # A server able to process MAIL without EHLO may accept it; a refusal must be 503.
    check(
        reply.code // 100 == 2 or reply.code == 503,
        "MAIL before EHLO/HELO was refused with another code than 503",
        expected="503 (or 250)",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.8.no-close", defect=srv.CLOSE_AFTER_UNKNOWN)
def test_open_after_unknown_command(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("MAILSPECFROB")
    _still_open(client, "an unknown command", reply)


@case("smtp.rfc5321.4.1.1.10.no-close-before-quit", defect=srv.CLOSE_AFTER_SYNTAX, protocols=SMTP_ONLY)
def test_open_after_syntax_error(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("MAIL FROM:")
    _still_open(client, "a syntax error", reply)


@case("smtp.rfc5321.4.1.1.10.no-close-before-quit", defect=srv.CLOSE_AFTER_REFUSAL, protocols=SMTP_ONLY)
def test_open_after_refused_recipient(smtp: SMTPSessions, case_context: CaseContext) -> None:
    unknown = case_context.unknown_recipient
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250:
        unsupported("MAIL was refused")
    reply = client.rcpt(unknown)
    if reply.code // 100 == 2:
        unsupported("the unknown recipient was accepted")
    _still_open(client, "a refused recipient", reply)


@case("smtp.rfc5321.2.4.case-insensitive", defect=srv.VERBS_CASE_SENSITIVE)
def test_lower_case_ehlo(smtp: SMTPSessions) -> None:
    client = smtp.open()
    reply = client.command("ehlo client.mailspec.test")
    check(reply.code == 250, "a lower-case 'ehlo' was not accepted", expected="250", observed=str(reply))


@case("smtp.rfc5321.2.4.case-insensitive", defect=srv.VERBS_CASE_SENSITIVE, protocols=SMTP_ONLY)
def test_mixed_case_mail_from(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.command(f"Mail From:<{case_context.sender}>")
    check(reply.code == 250, "'Mail From:' in mixed case was not accepted", expected="250", observed=str(reply))


@case("smtp.rfc5321.2.4.case-insensitive", defect=srv.VERBS_CASE_SENSITIVE, protocols=SMTP_ONLY)
def test_lower_case_transaction(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    first = client.command(f"mail from:<{case_context.sender}>")
    check(first.code == 250, "a lower-case 'mail from:' was not accepted", expected="250", observed=str(first))
    reply = client.command(f"rcpt to:<{case_context.recipient}>")
    check(reply.code in (250, 251), "a lower-case 'rcpt to:' was not accepted", expected="250", observed=str(reply))


@case("smtp.rfc5321.2.4.case-insensitive", defect=srv.VERBS_CASE_SENSITIVE)
def test_lower_case_noop_rset(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    for line in ("noop", "Rset"):
        reply = client.command(line)
        check(reply.code == 250, f"'{line}' was not accepted", expected="250", observed=str(reply))

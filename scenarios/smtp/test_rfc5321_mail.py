"""RFC 5321 3.3, 4.1.1.2, 4.1.1.11, 4.1.4, 4.3.2, 6.1: the MAIL command."""

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

SMTP_ONLY = ("smtp",)
# 4.3.2: the MAIL list, plus 421 and 501 that any command may return. Not 500: MAIL is a
# recognised command and these lines are short.
# 4.3.2's list, plus 421/501 (any command), 530 (RFC 4954 6: authentication required), 554 (policy).
MAIL_CODES = (250, 552, 451, 452, 550, 553, 503, 455, 555, 421, 501, 530, 554)


@case("smtp.rfc5321.4.3.2.mail-replies", defect=srv.SEQUENCE_500, protocols=SMTP_ONLY)
def test_mail_reply_codes_are_listed(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    first = client.mail(case_context.sender)
    check(
        first.code in MAIL_CODES,
        "MAIL got a reply code outside the MAIL list",
        expected=str(MAIL_CODES),
        observed=str(first),
    )
    nested = client.mail(case_context.sender)
    check(
        nested.code in MAIL_CODES,
        "a nested MAIL got a reply code outside the MAIL list",
        expected=str(MAIL_CODES),
        observed=str(nested),
    )


@case("smtp.rfc5321.6.1.notification-null-path", defect=srv.MAIL_REJECTS_NULL, protocols=SMTP_ONLY)
def test_null_reverse_path_accepted(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.mail("")
    check(
        reply.code == 250,
        "MAIL FROM:<> (the null reverse-path of notifications) was refused",
        expected="250",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.4.mail-bad-arg-501", defect=srv.MAIL_ACCEPTS_BAD_PATH, protocols=SMTP_ONLY)
def test_mail_without_path_refused(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("MAIL FROM:")
    # 501; 500 from servers that match "MAIL FROM:<" as the command itself; 553 "mailbox syntax incorrect".
    check(
        reply.code in (501, 500, 553),
        "MAIL without a reverse-path was not refused as a syntax error",
        expected="501",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.3.mail-refusal-kind", defect=srv.MAIL_ACCEPTS_BAD_PATH, protocols=SMTP_ONLY)
def test_mail_with_two_paths_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.command(f"MAIL FROM:<{case_context.sender}>,<{case_context.sender}>")
    check(
        reply.code // 100 in (4, 5),
        "a MAIL with two reverse-paths was not refused",
        expected="4yz or 5yz",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.4.mail-bad-arg-501", defect=srv.MAIL_ERROR_KEEPS, protocols=SMTP_ONLY)
def test_refused_mail_opens_no_transaction(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    bad = client.command("MAIL FROM:")
    if bad.code // 100 == 2:
        unsupported(f"MAIL without a path was accepted: {bad}")
    reply = client.rcpt(case_context.recipient)
    check(
        reply.code == 503,
        "RCPT after a refused MAIL was not refused: the refused MAIL opened a transaction",
        expected="503",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.1.11.unknown-param-555", defect=srv.PARAM_504_AS_250, protocols=SMTP_ONLY)
def test_unknown_mail_parameter_555(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.mail(case_context.sender, "XMAILSPEC-UNKNOWN=1")
    check(reply.code == 555, "an unknown MAIL parameter was not answered with 555", expected="555", observed=str(reply))

"""RFC 5321 4.1.1.2, 4.1.1.11, 4.1.2, 4.1.4, 4.3.2, 6.1: the MAIL command."""

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, info, unsupported
from conformance.wire import smtp as wire

SMTP_ONLY = ("smtp",)
# 4.3.2's list, plus 421/501 (any command), 530 (RFC 4954 6: authentication required) and 554
# (policy). Not 500: MAIL is a recognised command and these lines are short.
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


@case(
    "smtp.rfc5321.4.1.2.null-reverse-path",
    "smtp.rfc5321.6.1.notification-null-path",
    defect=srv.MAIL_REJECTS_NULL,
    protocols=SMTP_ONLY,
)
def test_null_reverse_path_accepted(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.mail("")
    check(
        reply.code == 250,
        "MAIL FROM:<> (the null reverse-path of notifications) was refused",
        expected="250",
        observed=str(reply),
    )


def _judge_bad_path(reply: wire.Reply, what: str) -> None:
    # 553 ("mailbox name not allowed ... syntax incorrect", 4.3.2) is a refusal but not the 501 4.1.4 names.
    if reply.code == 553:
        info(f"{what} was refused with 553, not the 501 of 4.1.4: {reply}")
    check(reply.code == 501, f"{what} was not refused as a syntax error", expected="501", observed=str(reply))


@case("smtp.rfc5321.4.1.4.mail-bad-arg-501", defect=srv.MAIL_ACCEPTS_BAD_PATH, protocols=SMTP_ONLY)
def test_mail_without_path_refused(smtp: SMTPSessions) -> None:
    _judge_bad_path(smtp.ready().command("MAIL FROM:"), "MAIL without a reverse-path")


@case("smtp.rfc5321.4.1.4.mail-bad-arg-501", defect=srv.MAIL_ACCEPTS_BAD_PATH, protocols=SMTP_ONLY)
def test_mail_with_two_paths_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.command(f"MAIL FROM:<{case_context.sender}>,<{case_context.sender}>")
    _judge_bad_path(reply, "a MAIL with two reverse-paths")


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

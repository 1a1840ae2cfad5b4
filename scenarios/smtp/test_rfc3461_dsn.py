"""RFC 3461 4-5.1: DSN parameters - valid RET/ENVID/NOTIFY/ORCPT change nothing, malformed or repeated ones get 501."""

import pytest

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.context import CaseContext
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import xtext_encode

VALID_MAIL = {
    "ret-full": ("RET=FULL",),
    "ret-hdrs": ("RET=HDRS",),
    "ret-lower": ("ret=hdrs",),
    "envid": (f"ENVID={xtext_encode('mailspec+id=1')}",),
    "both": ("RET=FULL", "ENVID=mailspec-2"),
}
BAD_MAIL = {
    "ret-unknown": ("RET=NONE",),
    "ret-list": ("RET=FULL,HDRS",),
    "envid-bad-hex": ("ENVID=mailspec+ZZ",),
    "envid-control": ("ENVID=mailspec+0A",),
    "ret-twice": ("RET=FULL", "RET=HDRS"),
    "envid-twice": ("ENVID=a", "ENVID=b"),
}
VALID_RCPT = {
    "never": ("NOTIFY=NEVER",),
    "success-failure": ("NOTIFY=SUCCESS,FAILURE",),
    "all-lower": ("NOTIFY=success,failure,delay",),
    "orcpt": ("ORCPT=rfc822;{rcpt}",),
    "notify-orcpt": ("NOTIFY=DELAY", "ORCPT=rfc822;{rcpt}"),
    "null-element": ("NOTIFY=SUCCESS,,FAILURE",),
}
BAD_RCPT = {
    "never-and-success": ("NOTIFY=NEVER,SUCCESS",),
    "notify-unknown": ("NOTIFY=ALWAYS",),
    "notify-semicolon": ("NOTIFY=SUCCESS;DELAY",),
    "orcpt-no-type": ("ORCPT={rcpt}",),
    "orcpt-bad-xtext": ("ORCPT=rfc822;mailspec+ZZ",),
    "notify-twice": ("NOTIFY=SUCCESS", "NOTIFY=FAILURE"),
}
# RFC 822 "1#element" (the NOTIFY grammar) allows null elements: "SUCCESS,,FAILURE" is valid.


def _dsn(smtp: SMTPSessions) -> SMTPClient:
    client = smtp.ready()
    smtp.require(client, "DSN")
    return client


@pytest.mark.parametrize("params", VALID_MAIL.values(), ids=VALID_MAIL.keys())
@case("smtp.rfc3461.5.1.valid-ret-envid-accepted", defect=srv.DSN_RET_REFUSED)
def test_valid_mail_parameters_accepted(smtp: SMTPSessions, case_context: CaseContext, params: tuple[str, ...]) -> None:
    plain = _dsn(smtp)
    baseline = plain.mail(case_context.sender)
    client = _dsn(smtp)
    reply = client.mail(case_context.sender, *params)
    check(
        reply.code == baseline.code,
        "MAIL with valid DSN parameters got another reply than without them",
        expected=str(baseline),
        observed=str(reply),
    )


@pytest.mark.parametrize("params", BAD_MAIL.values(), ids=BAD_MAIL.keys())
@case("smtp.rfc3461.5.1.bad-ret-envid-501", defect=srv.DSN_MAIL_LENIENT)
def test_bad_mail_parameters_501(smtp: SMTPSessions, case_context: CaseContext, params: tuple[str, ...]) -> None:
    client = _dsn(smtp)
    reply = client.mail(case_context.sender, *params)
    check(
        reply.code == 501,
        "a malformed or repeated RET/ENVID was not refused with 501",
        expected="501",
        observed=str(reply),
    )


def _rcpt_params(params: tuple[str, ...], rcpt: str) -> list[str]:
    return [p.format(rcpt=xtext_encode(rcpt)) for p in params]


@pytest.mark.parametrize("params", VALID_RCPT.values(), ids=VALID_RCPT.keys())
@case("smtp.rfc3461.5.1.valid-notify-orcpt-same-response", defect=srv.DSN_NOTIFY_REFUSED)
def test_valid_rcpt_parameters_same_response(
    smtp: SMTPSessions, case_context: CaseContext, params: tuple[str, ...]
) -> None:
    plain = smtp.in_transaction()
    smtp.require(plain, "DSN")
    baseline = plain.rcpt(case_context.recipient)
    client = smtp.in_transaction()
    reply = client.rcpt(case_context.recipient, *_rcpt_params(params, case_context.recipient))
    check(
        reply.code == baseline.code,
        "RCPT with valid NOTIFY/ORCPT got another reply than without them",
        expected=str(baseline),
        observed=str(reply),
    )


@pytest.mark.parametrize("params", BAD_RCPT.values(), ids=BAD_RCPT.keys())
@case("smtp.rfc3461.5.1.bad-notify-orcpt-501", "smtp.rfc3461.4.1.never-alone", defect=srv.DSN_RCPT_LENIENT)
def test_bad_rcpt_parameters_501(smtp: SMTPSessions, case_context: CaseContext, params: tuple[str, ...]) -> None:
    client = smtp.in_transaction()
    smtp.require(client, "DSN")
    reply = client.rcpt(case_context.recipient, *_rcpt_params(params, case_context.recipient))
    if reply.klass == 5 and reply.code != 501:
        unsupported(f"refused, but not with 501: {reply}")
    check(reply.code == 501, "a malformed or repeated NOTIFY/ORCPT was accepted", expected="501", observed=str(reply))

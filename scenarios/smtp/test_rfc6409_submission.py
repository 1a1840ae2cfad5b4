"""RFC 6409: message submission - AUTH before MAIL (530), null return path allowed, bad envelope syntax refused,
relaying for authenticated submitters."""

import pytest

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.context import CaseContext
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

REQUIRE_AUTH = "submission.rfc6409.4.3.require-auth"


def _unauthenticated(smtp: SMTPSessions, ctx: CaseContext) -> SMTPClient:
    """EHLO, and TLS when offered, but no AUTH: only the missing authentication can explain a refusal."""
    client = smtp.ready(auth=False)
    if client.has("STARTTLS") and not client.conn.is_tls and client.starttls(ctx.tls_context()).code == 220:
        client.ehlo()
    return client


@case(REQUIRE_AUTH, defect=srv.SUBMISSION_NO_AUTH)
def test_mail_before_auth_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _unauthenticated(smtp, case_context)
    reply = client.mail(case_context.sender)
    check(reply.klass in (4, 5), "MAIL without authentication was accepted", expected="530", observed=str(reply))


@case("submission.rfc6409.4.3.reply-530", defect=srv.SUBMISSION_AUTH_550)
def test_mail_before_auth_530(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _unauthenticated(smtp, case_context)
    reply = client.mail(case_context.sender)
    if reply.code == 250:
        unsupported("MAIL is accepted without AUTH here (authorised otherwise)")
    check(reply.code == 530, "MAIL before AUTH was refused, but not with 530", expected="530", observed=str(reply))


@case("submission.rfc6409.3.2.null-return-path", defect=srv.MAIL_REJECTS_NULL)
def test_null_return_path_accepted(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.mail("")
    check(reply.code == 250, "MAIL FROM:<> was refused by the MSA", expected="250", observed=str(reply))


BAD_SENDERS = {"double-at": "a@@mailspec.test", "no-local-part": "@mailspec.test", "space": "a b@mailspec.test"}


@pytest.mark.parametrize("sender", BAD_SENDERS.values(), ids=BAD_SENDERS.keys())
@case("submission.rfc6409.5.1.reject-bad-syntax", defect=srv.MAIL_ACCEPTS_BAD_PATH)
def test_bad_envelope_syntax_refused(smtp: SMTPSessions, sender: str) -> None:
    client = smtp.ready()
    reply = client.command(f"MAIL FROM:<{sender}>")
    check(reply.klass == 5, f"MAIL FROM:<{sender}> was accepted", expected="501", observed=str(reply))


@case("submission.rfc6409.3.1.submissions", defect=srv.SUBMISSION_NO_RELAY)
def test_authenticated_submitter_may_relay(smtp: SMTPSessions) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt("someone@mailspec-submission-probe.example")
    check(reply.klass == 2, "an authenticated submitter cannot send to another domain", observed=str(reply))

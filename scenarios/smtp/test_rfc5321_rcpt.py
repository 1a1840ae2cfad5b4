"""RFC 5321 2.3.5, 2.4, 3.3, 3.6, 4.1.1.3, 4.1.1.11, 4.3.2, 4.5.1: the RCPT command."""

import pytest

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

SMTP_ONLY = ("smtp",)
FOREIGN = "mailspec-relay-probe@example.net"
# 4.3.2: the RCPT list, plus 421/501 (any command), 530 (RFC 4954 6: authentication required), 554 (policy).
RCPT_CODES = (250, 251, 550, 551, 552, 553, 450, 451, 452, 503, 455, 555, 421, 501, 530, 554)


def _domain(ctx: CaseContext) -> str:
    return ctx.recipient.rpartition("@")[2]


@case("smtp.rfc5321.3.3.rcpt-before-mail-503", defect=srv.RCPT_BEFORE_MAIL, protocols=SMTP_ONLY)
def test_rcpt_before_mail_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.rcpt(case_context.recipient)
    check(reply.code == 503, "RCPT without MAIL was not answered with 503", expected="503", observed=str(reply))


@case("smtp.rfc5321.3.3.rcpt-before-mail-503", defect=srv.SEQUENCE_500, protocols=SMTP_ONLY)
def test_rcpt_after_rset_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    client.rset()
    reply = client.rcpt(case_context.recipient)
    check(reply.code == 503, "RCPT after RSET (no MAIL) was not answered with 503", expected="503", observed=str(reply))


@case("smtp.rfc5321.3.3.rcpt-unknown-550", defect=srv.RCPT_ACCEPTS_UNKNOWN, protocols=SMTP_ONLY)
def test_unknown_user_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    unknown = case_context.unknown_recipient
    client = smtp.in_transaction()
    reply = client.rcpt(unknown)
    check(reply.code // 100 != 2, "RCPT of a user known not to exist was accepted", expected="550", observed=str(reply))


@case("smtp.rfc5321.4.3.2.rcpt-replies", defect=srv.RCPT_UNKNOWN_UNLISTED, protocols=SMTP_ONLY)
def test_unknown_user_reply_code_listed(smtp: SMTPSessions, case_context: CaseContext) -> None:
    unknown = case_context.unknown_recipient
    client = smtp.in_transaction()
    reply = client.rcpt(unknown)
    check(
        reply.code in RCPT_CODES,
        "RCPT of an unknown user got a code outside the RCPT list",
        expected="550 (RCPT list)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.5.1.postmaster-domains", defect=srv.RCPT_NO_POSTMASTER, protocols=SMTP_ONLY)
def test_postmaster_at_domain_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(f"postmaster@{_domain(case_context)}")
    check(reply.code in (250, 251), "postmaster@ a served domain was refused", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.5.1.postmaster-domains", defect=srv.RCPT_NO_POSTMASTER, protocols=SMTP_ONLY)
def test_bare_postmaster_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.command("RCPT TO:<Postmaster>")
    check(reply.code in (250, 251), "RCPT TO:<Postmaster> (no domain) was refused", expected="250", observed=str(reply))


@case("smtp.rfc5321.2.3.5.postmaster-unqualified", defect=srv.RCPT_NO_POSTMASTER, protocols=SMTP_ONLY)
def test_bare_lowercase_postmaster_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.command("RCPT TO:<postmaster>")
    check(reply.code in (250, 251), "RCPT TO:<postmaster> (no domain) was refused", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.5.1.postmaster-case-insensitive", defect=srv.POSTMASTER_CASE, protocols=SMTP_ONLY)
def test_mixed_case_postmaster_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(f"PostMaster@{_domain(case_context)}")
    check(
        reply.code in (250, 251),
        "PostMaster@ a served domain was refused: postmaster is case-sensitive",
        expected="250",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.5.1.postmaster-case-insensitive", defect=srv.POSTMASTER_CASE, protocols=SMTP_ONLY)
def test_upper_case_postmaster_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(f"POSTMASTER@{_domain(case_context)}")
    check(
        reply.code in (250, 251),
        "POSTMASTER@ a served domain was refused: postmaster is case-sensitive",
        expected="250",
        observed=str(reply),
    )


@case("smtp.rfc5321.2.4.case-insensitive", defect=srv.RCPT_DOMAIN_CASE, protocols=SMTP_ONLY)
def test_recipient_domain_upper_case(smtp: SMTPSessions, case_context: CaseContext) -> None:
    local, _, domain = case_context.recipient.rpartition("@")
    client = smtp.in_transaction()
    reply = client.rcpt(f"{local}@{domain.upper()}")
    check(
        reply.code in (250, 251),
        "the recipient was refused when its domain was written in upper case",
        expected="250",
        observed=str(reply),
    )


@case("smtp.rfc5321.2.4.case-insensitive", defect=srv.RCPT_DOMAIN_CASE, protocols=SMTP_ONLY)
def test_recipient_domain_mixed_case(smtp: SMTPSessions, case_context: CaseContext) -> None:
    local, _, domain = case_context.recipient.rpartition("@")
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(domain))
    client = smtp.in_transaction()
    reply = client.rcpt(f"{local}@{mixed}")
    check(
        reply.code in (250, 251),
        "the recipient was refused when its domain was written in mixed case",
        expected="250",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.6.1.relay-may-decline", defect=srv.RCPT_OPEN_RELAY, protocols=SMTP_ONLY)
def test_relay_to_foreign_domain_declined(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(FOREIGN)
    # MAY, so INFO: relaying for loopback clients (mynetworks) is a configuration, not a violation.
    check(
        reply.code // 100 != 2,
        "observed: the server relays to a foreign domain for this (unauthenticated) client",
        expected="refused",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.6.2.relay-refusal-550", defect=srv.RELAY_DENIED_554, protocols=SMTP_ONLY)
def test_relay_refusal_is_550(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(FOREIGN)
    if reply.code // 100 == 2:
        unsupported("the server relays for this client")
    check(reply.code == 550, "relaying was declined with another code than 550", expected="550", observed=str(reply))


# One hop, and the list of hops 3.3 says servers must be prepared for.
ROUTES = {"one-hop": "@relay.example.net:", "two-hops": "@relay.example.net,@hop2.example.org:"}


@pytest.mark.parametrize("route", list(ROUTES.values()), ids=list(ROUTES))
@case(
    "smtp.rfc5321.4.1.1.3.source-route-recognized",
    "smtp.rfc5321.3.3.source-route-list",
    defect=srv.RCPT_ROUTE_REJECTED,
    protocols=SMTP_ONLY,
)
def test_source_route_is_not_a_syntax_error(smtp: SMTPSessions, case_context: CaseContext, route: str) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(f"{route}{case_context.recipient}")
    # The route may be refused as relaying (3.6.1), but not as bad syntax.
    check(
        reply.code not in (500, 501),
        "a source-routed forward-path was refused as a syntax error",
        expected="250 or a policy refusal",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.6.1.source-route-ignored", defect=srv.RCPT_ROUTE_REJECTED, protocols=SMTP_ONLY)
def test_source_route_to_local_user_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(f"@relay.example.net:{case_context.recipient}")
    check(
        reply.code in (250, 251),
        "a source route in front of a local recipient was not ignored",
        expected="250",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.1.11.unknown-param-555", defect=srv.PARAM_504_AS_250, protocols=SMTP_ONLY)
def test_unknown_rcpt_parameter_555(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(case_context.recipient, "XMAILSPEC-UNKNOWN=1")
    check(reply.code == 555, "an unknown RCPT parameter was not answered with 555", expected="555", observed=str(reply))

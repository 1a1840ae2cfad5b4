"""RFC 2034 4 and RFC 3463 2: with ENHANCEDSTATUSCODES every 2xx/4xx/5xx reply but the greeting and
the EHLO/HELO reply starts with a status code whose class is the reply's first digit."""

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import Reply, parse_enhanced


def _enhanced(smtp: SMTPSessions) -> SMTPClient:
    client = smtp.ready()
    smtp.require(client, "ENHANCEDSTATUSCODES")
    return client


def _success_replies(client: SMTPClient, ctx: CaseContext) -> list[Reply]:
    """Replies of a whole session: NOOP, RSET, a delivered message, QUIT."""
    replies = [client.noop(), client.rset(), client.mail(ctx.sender)]
    if replies[-1].code == 250:
        replies.append(client.rcpt(ctx.recipient))
        if replies[-1].code == 250:
            message, _ = make_message("mailspec enhanced codes")
            replies += client.data(message)
    replies.append(client.quit())
    return [r for r in replies if r.klass != 3]


def _error_replies(client: SMTPClient, ctx: CaseContext) -> list[Reply]:
    """Refusals: unknown command, RCPT before MAIL, malformed MAIL, DATA without a transaction."""
    client.rset()
    return [
        client.command("XMAILSPEC"),
        client.rcpt(ctx.recipient),
        client.command("MAIL FROM:<mailspec bad address>"),
        client.command("DATA"),
    ]


def _judge_present(replies: list[Reply]) -> None:
    missing = [r for r in replies if r.klass in (2, 4, 5) and r.enhanced is None]
    check(
        not missing,
        "replies without an enhanced status code",
        expected="class.subject.detail first in each reply's text",
        observed=" | ".join(map(str, missing)),
    )


def _judge_class(replies: list[Reply]) -> None:
    coded = [r for r in replies if r.enhanced is not None]
    if not coded:
        unsupported("no reply carried an enhanced status code")
    wrong = [r for r in coded if int(str(r.enhanced)[0]) != r.klass]
    check(
        not wrong,
        "enhanced status codes whose class differs from the reply code",
        expected="2xx with 2.X.X, 4xx with 4.X.X, 5xx with 5.X.X",
        observed=" | ".join(map(str, wrong)),
    )


@case("smtp.rfc2034.4.codes-on-replies", defect=srv.ENHANCED_MISSING)
def test_codes_on_success_replies(smtp: SMTPSessions, case_context: CaseContext) -> None:
    _judge_present(_success_replies(_enhanced(smtp), case_context))


@case("smtp.rfc2034.4.codes-on-replies", defect=srv.ENHANCED_MISSING)
def test_codes_on_error_replies(smtp: SMTPSessions, case_context: CaseContext) -> None:
    _judge_present(_error_replies(_enhanced(smtp), case_context))


@case("smtp.rfc2034.4.class-agrees", defect=srv.ENHANCED_WRONG_CLASS)
def test_class_agrees_on_success_replies(smtp: SMTPSessions, case_context: CaseContext) -> None:
    _judge_class(_success_replies(_enhanced(smtp), case_context))


@case("smtp.rfc2034.4.class-agrees", defect=srv.ENHANCED_WRONG_CLASS)
def test_class_agrees_on_error_replies(smtp: SMTPSessions, case_context: CaseContext) -> None:
    _judge_class(_error_replies(_enhanced(smtp), case_context))


@case("smtp.rfc2034.4.same-code-every-line", defect=srv.ENHANCED_FIRST_LINE_ONLY)
def test_same_code_on_every_line(smtp: SMTPSessions) -> None:
    client = _enhanced(smtp)
    reply = client.command("HELP")
    if len(reply.lines) < 2 or reply.klass == 3:
        unsupported(f"no multiline 2xx/4xx/5xx reply to look at (HELP: {reply})")
    codes = [parse_enhanced(line) for line in reply.lines]
    check(
        codes[0] is not None and all(c == codes[0] for c in codes),
        "the lines of a multiline reply do not all start with the same status code",
        expected=f"{reply.enhanced} on every line",
        observed=reply.raw.decode(errors="replace")[:300],
    )


@case("smtp.rfc2034.4.codes-without-ehlo", defect=srv.ENHANCED_ONLY_AFTER_EHLO)
def test_codes_after_helo(smtp: SMTPSessions, case_context: CaseContext) -> None:
    _enhanced(smtp)  # learn that the extension is offered
    client = smtp.open()
    if client.helo().code != 250:
        unsupported("HELO refused")
    _judge_present([client.noop(), client.rset(), client.command("XMAILSPEC"), client.rcpt(case_context.recipient)])


@case("smtp.rfc3463.2.no-leading-zeros", defect=srv.ENHANCED_LEADING_ZERO)
def test_no_leading_zeros(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _enhanced(smtp)
    replies = _error_replies(client, case_context) + _success_replies(client, case_context)
    codes = [(r, str(r.enhanced)) for r in replies if r.enhanced is not None]
    if not codes:
        unsupported("no reply carried an enhanced status code")
    padded = [r for r, code in codes if any(len(part) > 1 and part.startswith("0") for part in code.split("."))]
    check(
        not padded,
        "enhanced status codes with leading zeros",
        expected="e.g. 2.1.0, not 2.01.00",
        observed=" | ".join(map(str, padded)),
    )

"""RFC 2033 (LMTP): LHLO only, PIPELINING and ENHANCEDSTATUSCODES, one reply per accepted recipient after DATA."""

import pytest

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import Reply, dot_stuff

PER_RCPT = "lmtp.rfc2033.4.2.reply-per-recipient"


@pytest.mark.parametrize("verb", ["EHLO", "HELO"])
@case("lmtp.rfc2033.4.1.no-helo-ehlo", defect=srv.LMTP_ACCEPTS_HELLO)
def test_ehlo_and_helo_refused(smtp: SMTPSessions, verb: str) -> None:
    client = smtp.open()
    reply = client.command(f"{verb} client.mailspec.test")
    check(reply.code != 250, f"the LMTP server accepted {verb}", expected="500 (use LHLO)", observed=str(reply))


@case("lmtp.rfc2033.5.pipelining-enhanced", defect=srv.LMTP_NO_PIPELINING)
def test_pipelining_advertised(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    check(client.has("PIPELINING"), "the LHLO reply does not list PIPELINING", observed=str(client.ehlo_reply))


@case("lmtp.rfc2033.5.pipelining-enhanced", defect=srv.LMTP_NO_ENHANCED)
def test_enhanced_codes_advertised(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    check(client.has("ENHANCEDSTATUSCODES"), "the LHLO reply does not list ENHANCEDSTATUSCODES")


def _transaction(client: SMTPClient, ctx: CaseContext, recipients: list[str]) -> tuple[list[str], list[Reply]]:
    if client.mail(ctx.sender).code != 250:
        unsupported("MAIL refused")
    accepted = [r for r in recipients if client.rcpt(r).code in (250, 251)]
    if not accepted:
        unsupported("no recipient accepted")
    go = client.command("DATA")
    if go.code != 354:
        unsupported(f"DATA refused: {go}")
    message, _ = make_message("mailspec LMTP")
    client.send(dot_stuff(message))
    replies = []
    for _ in accepted:
        reply = client.try_read_reply(ctx.timeout)
        if reply is None:
            break
        replies.append(reply)
    return accepted, replies


@pytest.mark.parametrize("count", [2, 3])
@case(PER_RCPT, defect=srv.LMTP_SINGLE_REPLY)
def test_one_reply_per_recipient(smtp: SMTPSessions, case_context: CaseContext, count: int) -> None:
    client = smtp.ready()
    accepted, replies = _transaction(client, case_context, [case_context.recipient] * count)
    if len(accepted) < count:
        unsupported("the server refused a repeated recipient")
    noop = client.noop()
    check(
        len(replies) == count and noop.code == 250,
        f"after DATA with {count} recipients the server did not send {count} replies before NOOP's",
        observed=" | ".join(map(str, [*replies, noop])),
    )


@case(PER_RCPT, defect=srv.LMTP_REPLY_REFUSED)
def test_no_reply_for_refused_recipient(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    recipients = [case_context.recipient, case_context.unknown_recipient, case_context.recipient]
    accepted, replies = _transaction(client, case_context, recipients)
    if case_context.unknown_recipient in accepted:
        unsupported("the unknown recipient was accepted")
    noop = client.noop()
    extra = client.try_read_reply(1.0)
    check(
        noop.code == 250 and extra is None,
        "a refused recipient got a reply after DATA",
        expected=f"{len(accepted)} replies, then 250 for NOOP",
        observed=" | ".join(map(str, [*replies, noop, extra])),
    )


@case(PER_RCPT, defect=srv.LMTP_REVERSE_ORDER)
def test_replies_in_rcpt_order(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    first = case_context.recipient
    second = next((a.address for a in case_context.target.accounts if a.address and a.address != first), "")
    if not second:
        unsupported("only one deliverable recipient is known")
    accepted, replies = _transaction(client, case_context, [first, second])
    if len(accepted) != 2:
        unsupported("a recipient was refused")
    named = [next((a for a in accepted if a.lower() in r.text.lower()), None) for r in replies]
    if None in named:
        unsupported("the replies do not name their recipients, so their order cannot be seen")
    check(named == accepted, "the post-DATA replies are not in RCPT order", expected=str(accepted), observed=str(named))

"""RFC 2033 (LMTP): LHLO only, PIPELINING and ENHANCEDSTATUSCODES, one reply per accepted recipient after DATA,
each reporting that recipient's own outcome (a full mailbox fails alone)."""

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


# --- a per-recipient failure after DATA (a full mailbox) -------------------------------

POSITIVE = "lmtp.rfc2033.4.2.positive-reply-responsibility"


def _full_recipient(ctx: CaseContext) -> str:
    """An address the server accepts at RCPT but cannot deliver to after DATA (a full mailbox)."""
    full = str(ctx.target.extra.get("full_recipient", ""))
    if not full:
        unsupported(
            "no recipient whose delivery fails after DATA is known for this target (a full or over-quota "
            "mailbox, target extra 'full_recipient'): a per-recipient failure cannot be provoked"
        )
    return full


def _other_recipient(ctx: CaseContext) -> str:
    first = ctx.recipient
    other = next((a.address for a in ctx.target.accounts if a.address and a.address != first), "")
    if not other:
        unsupported("only one deliverable recipient is known")
    return other


def _mixed(client: SMTPClient, ctx: CaseContext, recipients: list[str]) -> tuple[list[Reply], Reply, str]:
    """MAIL, every RCPT accepted (else UNSUPPORTED), DATA; the replies after the final "." and NOOP's."""
    if client.mail(ctx.sender).code != 250:
        unsupported("MAIL refused")
    full = _full_recipient(ctx)
    for r in recipients:
        reply = client.rcpt(r)
        if reply.code not in (250, 251):
            why = (
                "the full mailbox is refused at RCPT (checked before DATA)" if r == full else "a recipient was refused"
            )
            unsupported(f"{why}: {reply}")
    go = client.command("DATA")
    if go.code != 354:
        unsupported(f"DATA refused: {go}")
    message, token = make_message("mailspec LMTP per-recipient outcome")
    client.send(dot_stuff(message))
    replies: list[Reply] = []
    for _ in recipients:
        final = client.try_read_reply(ctx.timeout)
        if final is None:
            break
        replies.append(final)
    if len(replies) == len(recipients) and all(r.klass == 2 for r in replies):
        unsupported(f"the recipient given as full ({full}) accepted the message: its mailbox is not full")
    return replies, client.noop(), token


def _expected(recipients: list[str], full: str) -> list[int]:
    return [4 if r == full else 2 for r in recipients]


def _kinds(replies: list[Reply]) -> list[int]:
    """Reply classes, with 4yz and 5yz both counted as failure (4)."""
    return [4 if r.klass in (4, 5) else r.klass for r in replies]


@case(PER_RCPT, POSITIVE, defect=srv.LMTP_FAIL_ALL)
def test_failure_reported_for_its_recipient_only(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """One full mailbox among three recipients: its reply fails, the two others' replies are 2yz."""
    client = smtp.ready()
    full = _full_recipient(case_context)
    recipients = [case_context.recipient, full, _other_recipient(case_context)]
    replies, noop, _ = _mixed(client, case_context, recipients)
    shown = " | ".join(map(str, [*replies, noop]))
    check(len(replies) == 3 and noop.code == 250, "not one reply per accepted recipient after DATA", observed=shown)
    check(
        _kinds(replies) == _expected(recipients, full),
        "the failed delivery to one recipient was reported for the other recipients too",
        expected="2yz, 4yz/5yz (the full mailbox), 2yz",
        observed=shown,
    )


ORDERS = {"full-first": 0, "full-last": 1}


@pytest.mark.parametrize("position", ORDERS.values(), ids=ORDERS.keys())
@case(PER_RCPT, defect=srv.LMTP_REVERSE_ORDER)
def test_failure_reply_in_rcpt_order(smtp: SMTPSessions, case_context: CaseContext, position: int) -> None:
    """The failure reply stands where the full mailbox's RCPT stood (seen from outcomes, not reply texts)."""
    client = smtp.ready()
    full = _full_recipient(case_context)
    recipients = [case_context.recipient]
    recipients.insert(position, full)
    replies, noop, _ = _mixed(client, case_context, recipients)
    check(
        _kinds(replies) == _expected(recipients, full) and noop.code == 250,
        "the replies after DATA are not in RCPT order (the failure is not where the full mailbox's RCPT was)",
        expected=" ".join("4yz/5yz" if k == 4 else "2yz" for k in _expected(recipients, full)),
        observed=" | ".join(map(str, [*replies, noop])),
    )


@case(PER_RCPT, defect=srv.LMTP_SINGLE_REPLY)
def test_failure_gets_its_own_reply(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """A delivered and a failed recipient: two replies after DATA, then NOOP's 250 and nothing more."""
    client = smtp.ready()
    full = _full_recipient(case_context)
    replies, noop, _ = _mixed(client, case_context, [case_context.recipient, full])
    extra = client.try_read_reply(1.0)
    check(
        len(replies) == 2 and noop.code == 250 and extra is None,
        "the failed recipient did not get a reply of its own after DATA",
        expected="2yz, 4yz/5yz, then 250 for NOOP",
        observed=" | ".join(map(str, [*replies, noop, extra])),
    )


@case(POSITIVE, defect=srv.LMTP_ROLLBACK)
def test_accepted_recipients_get_the_message(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """Each recipient answered 2yz holds the message, though another recipient's delivery failed."""
    case_context.mailbox()  # UNSUPPORTED before sending when deliveries cannot be read back
    client = smtp.ready()
    full = _full_recipient(case_context)
    recipients = [case_context.recipient, full, _other_recipient(case_context)]
    replies, _, token = _mixed(client, case_context, recipients)
    for address, reply in zip(recipients, replies, strict=False):
        if reply.klass != 2:
            continue
        probe = case_context.mailbox(address)
        check(
            probe.wait_for(token, timeout=10.0),
            f"{address} was answered {reply.code} after DATA but the message is not in its mailbox",
            observed=str(reply),
        )

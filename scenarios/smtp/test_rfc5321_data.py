"""RFC 5321 3.3, 4.1.1, 4.1.1.4, 4.1.1.10, 4.1.4, 4.3.2, 4.4, 6.1: DATA, delivery and trace lines."""

import time

from conformance.clients.smtp import RCPT_ACCEPTED, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

SMTP_ONLY = ("smtp",)
# 4.3.2: the replies to the end of data, plus 421.
FINAL_CODES = (250, 552, 554, 451, 452, 450, 550, 421)


def _header_fields(message: bytes) -> list[bytes]:
    """The header fields of a delivered message, unfolded, line endings normalised."""
    head = message.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b" " + line.strip()
        else:
            fields.append(line)
    return fields


def _deliver(smtp: SMTPSessions, ctx: CaseContext, message: bytes, token: str) -> bytes:
    """Send ``message`` and return the delivered copy (UNSUPPORTED without a mailbox probe)."""
    probe = ctx.mailbox()
    client = smtp.with_recipient()
    replies = client.data(message)
    if replies[-1].code != 250:
        unsupported(f"the message was not accepted: {replies[-1]}")
    found = probe.wait_for(token)
    check(found, "the accepted message never reached the mailbox", req="smtp.rfc5321.6.1.no-loss", expected="delivered")
    return found[0]


@case("smtp.rfc5321.4.3.2.data-replies", defect=srv.DATA_WRONG_REPLY, protocols=SMTP_ONLY)
def test_data_answered_354(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    message, _ = make_message("mailspec DATA 354")
    replies = client.data(message)
    check(
        replies[0].code == 354,
        "DATA with an accepted recipient was not answered with 354",
        expected="354",
        observed=str(replies[0]),
    )


@case("smtp.rfc5321.4.1.1.4.data-ok", defect=srv.DATA_FINAL_WRONG, protocols=SMTP_ONLY)
def test_end_of_data_answered_250(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    message, _ = make_message("mailspec end of data")
    replies = client.data(message)
    if replies[0].code != 354:
        unsupported(f"DATA was refused: {replies[0]}")
    final = replies[-1]
    # A refusal (4yz/5yz) is allowed: the processing failed. A success must be 250.
    check(
        final.code == 250 or final.code // 100 in (4, 5),
        "the end of data got a success code other than 250",
        expected="250",
        observed=str(final),
    )


@case("smtp.rfc5321.4.3.2.data-replies", defect=srv.DATA_FINAL_WRONG, protocols=SMTP_ONLY)
def test_end_of_data_code_listed(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    message, _ = make_message("mailspec end of data list")
    replies = client.data(message)
    if replies[0].code != 354:
        unsupported(f"DATA was refused: {replies[0]}")
    check(
        replies[-1].code in FINAL_CODES,
        "the end of data got a code outside the DATA list",
        expected=str(FINAL_CODES),
        observed=str(replies[-1]),
    )


@case(
    "smtp.rfc5321.4.1.4.out-of-order-503",
    "smtp.rfc5321.3.3.data-no-rcpt",
    defect=srv.DATA_NO_RCPT_OK,
    protocols=SMTP_ONLY,
)
def test_data_without_mail_refused(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("DATA")
    check(
        reply.code in (503, 554),
        "DATA without MAIL was not refused with 503 or 554",
        expected="503 (or 554)",
        observed=str(reply),
    )


@case(
    "smtp.rfc5321.4.1.4.out-of-order-503",
    "smtp.rfc5321.3.3.data-no-rcpt",
    defect=srv.DATA_NO_RCPT_OK,
    protocols=SMTP_ONLY,
)
def test_data_without_rcpt_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250:
        unsupported("MAIL was refused")
    reply = client.command("DATA")
    check(
        reply.code in (503, 554),
        "DATA without RCPT was not refused with 503 or 554",
        expected="503 (or 554)",
        observed=str(reply),
    )


@case(
    "smtp.rfc5321.4.1.4.out-of-order-503",
    "smtp.rfc5321.3.3.data-no-rcpt",
    defect=srv.DATA_NO_RCPT_OK,
    protocols=SMTP_ONLY,
)
def test_data_after_refused_rcpt_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    unknown = case_context.unknown_recipient
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250:
        unsupported("MAIL was refused")
    if client.rcpt(unknown).code // 100 == 2:
        unsupported("the unknown recipient was accepted")
    reply = client.command("DATA")
    check(
        reply.code in (503, 554),
        "DATA after every RCPT was refused was not refused with 503 or 554",
        expected="503 (or 554)",
        observed=str(reply),
    )


@case(
    "smtp.rfc5321.4.1.1.4.buffers-cleared",
    "smtp.rfc5321.4.1.4.out-of-order-503",
    defect=srv.DATA_TRANSACTION_KEPT,
    protocols=SMTP_ONLY,
)
def test_recipients_cleared_after_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    message, _ = make_message("mailspec first transaction")
    if client.data(message)[-1].code != 250:
        unsupported("the first message was not accepted")
    if client.mail(case_context.sender).code != 250:
        unsupported("the second MAIL was refused")
    reply = client.command("DATA")
    check(
        reply.code in (503, 554),
        "DATA in a new transaction without RCPT was accepted: old recipients were kept",
        expected="503 (or 554)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.1.no-param-commands", defect=srv.ARGS_IGNORED, protocols=SMTP_ONLY)
def test_data_with_argument_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    reply = client.command("DATA mailspec")
    check(reply.code // 100 == 5, "DATA with an argument was not refused", expected="501", observed=str(reply))


@case("smtp.rfc5321.4.3.2.no-arg-commands-501", defect=srv.ARG_ERRORS_500, protocols=SMTP_ONLY)
def test_data_with_argument_501(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.with_recipient()
    reply = client.command("DATA mailspec")
    check(reply.code == 501, "DATA with an argument was not answered with 501", expected="501", observed=str(reply))


@case("smtp.rfc5321.6.1.no-loss", defect=srv.DATA_DISCARDS, protocols=SMTP_ONLY)
def test_accepted_message_delivered(smtp: SMTPSessions, case_context: CaseContext) -> None:
    message, token = make_message("mailspec delivery", b"mailspec delivery body line\r\n")
    delivered = _deliver(smtp, case_context, message, token)
    check(
        b"mailspec delivery body line" in delivered,
        "the delivered message lost its body",
        expected="the body sent",
        observed=delivered[-200:].decode(errors="replace"),
    )


@case(
    "smtp.rfc5321.4.1.2.null-reverse-path",
    "smtp.rfc5321.6.1.notification-null-path",
    defect=srv.MAIL_REJECTS_NULL,
    protocols=SMTP_ONLY,
)
def test_null_sender_message_delivered(smtp: SMTPSessions, case_context: CaseContext) -> None:
    probe = case_context.mailbox()
    message, token = make_message("mailspec null sender")
    client = smtp.ready()
    reply = client.mail("")
    check(reply.code == 250, "MAIL FROM:<> was refused", expected="250", observed=str(reply))
    if client.rcpt(case_context.recipient).code not in RCPT_ACCEPTED:
        unsupported("the recipient was refused")
    final = client.data(message)[-1]
    check(
        final.code == 250, "a message with the null reverse-path was not accepted", expected="250", observed=str(final)
    )
    check(probe.wait_for(token), "the message with the null reverse-path was not delivered", expected="delivered")


@case("smtp.rfc5321.4.4.received", defect=srv.DATA_NO_RECEIVED, protocols=SMTP_ONLY)
def test_received_line_added(smtp: SMTPSessions, case_context: CaseContext) -> None:
    message, token = make_message("mailspec trace")
    delivered = _deliver(smtp, case_context, message, token)
    added = [f for f in _header_fields(delivered) if f.lower().startswith(b"received:")]
    check(
        added,
        "the delivered message has no Received trace line",
        expected="a Received header field",
        observed=b"\n".join(_header_fields(delivered)[:8]).decode(errors="replace"),
    )


def _with_old_trace(subject: str) -> tuple[bytes, str, list[bytes]]:
    message, token = make_message(subject)
    old = [
        f"Received: from first.mailspec.test by hop1-{token}.mailspec.test; Thu, 1 Jan 2026 00:00:00 +0000".encode(),
        f"Received: from origin.mailspec.test by hop0-{token}.mailspec.test; Thu, 1 Jan 2026 00:00:00 +0000".encode(),
    ]
    return b"\r\n".join(old) + b"\r\n" + message, token, old


@case("smtp.rfc5321.4.4.received-prepend", defect=srv.RECEIVED_APPENDED, protocols=SMTP_ONLY)
def test_received_line_prepended(smtp: SMTPSessions, case_context: CaseContext) -> None:
    message, token, _ = _with_old_trace("mailspec trace order")
    fields = _header_fields(_deliver(smtp, case_context, message, token))
    received = [i for i, f in enumerate(fields) if f.lower().startswith(b"received:")]
    ours = [i for i in received if token.encode() in fields[i]]
    added = [i for i in received if i not in ours]
    if not ours or not added:
        unsupported("the trace lines to compare are not both in the delivered copy")
    check(
        max(added) < min(ours),
        "the server's Received line is not above the existing ones",
        expected="new Received lines first",
        observed=b"\n".join(fields[: max(received) + 1]).decode(errors="replace"),
    )


@case("smtp.rfc5321.4.4.received-unchanged", defect=srv.RECEIVED_DROPPED, protocols=SMTP_ONLY)
def test_existing_received_lines_kept(smtp: SMTPSessions, case_context: CaseContext) -> None:
    message, token, old = _with_old_trace("mailspec trace kept")
    fields = _header_fields(_deliver(smtp, case_context, message, token))
    kept = [f for f in fields if token.encode() in f and f.lower().startswith(b"received:")]
    check(
        kept == old,
        "the Received lines already in the message were changed, dropped or reordered",
        expected=b" | ".join(old).decode(),
        observed=b" | ".join(kept).decode(errors="replace"),
    )


@case("smtp.rfc5321.4.1.1.10.cancel-on-close", defect=srv.DATA_PARTIAL_DELIVERED, protocols=SMTP_ONLY)
def test_interrupted_data_not_delivered(smtp: SMTPSessions, case_context: CaseContext) -> None:
    probe = case_context.mailbox()
    done, done_token = make_message("mailspec completed before the drop")
    cut, cut_token = make_message("mailspec interrupted", b"this message is never finished\r\n")
    client = smtp.with_recipient()
    if client.data(done)[-1].code != 250:
        unsupported("the first message was not accepted")
    if client.mail(case_context.sender).code != 250 or client.rcpt(case_context.recipient).code not in RCPT_ACCEPTED:
        unsupported("the second transaction was refused")
    if client.command("DATA").code != 354:
        unsupported("DATA was refused")
    client.send(cut)  # no end-of-data indication
    client.close()
    time.sleep(0.5)
    # A message sent afterwards shows the queue has moved past the dropped one.
    marker, marker_token = make_message("mailspec marker after the drop")
    after = smtp.with_recipient()
    if after.data(marker)[-1].code != 250:
        unsupported("the marker message was not accepted")
    check(
        probe.wait_for(done_token),
        "the transaction completed before the connection dropped was undone",
        expected="delivered",
    )
    if not probe.wait_for(marker_token):
        unsupported("the marker message did not arrive: the drop cannot be judged")
    # The queue need not deliver in order: give the cut message as long again to show up.
    check(
        not probe.wait_for(cut_token, timeout=5.0),
        "a message whose DATA was cut off by a dropped connection was delivered",
        expected="nothing delivered",
    )

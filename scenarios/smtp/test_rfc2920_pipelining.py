"""RFC 2920 3.2: a PIPELINING server answers every command of a group, in order, and loses no input."""

from conformance.clients.smtp import RCPT_ACCEPTED, ConnectionClosed, SMTPClient, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import Reply, dot_stuff

IN_ORDER = "smtp.rfc2920.3.2.reply-in-order"
NO_LOSS = "smtp.rfc2920.3.2.never-lose-input"
BAD_RCPT = "RCPT TO:<mailspec bad address>"  # a space in the path: refused by every server


def _pipelined(smtp: SMTPSessions) -> SMTPClient:
    client = smtp.ready()
    smtp.require(client, "PIPELINING")
    return client


def _send_group(client: SMTPClient, *lines: str) -> None:
    client.send("".join(f"{ln}\r\n" for ln in lines).encode())


def _collect(client: SMTPClient, n: int, timeout: float) -> list[Reply]:
    """Up to ``n`` replies, stopping at the first that does not come in time.

    Each reply gets the case's read timeout: a server may run slow recipient
    checks (DNS, blocklists) between replies, and a missing reply still shows.
    """
    replies: list[Reply] = []
    try:
        while len(replies) < n:
            reply = client.try_read_reply(timeout)
            if reply is None:
                break
            replies.append(reply)
    except ConnectionClosed:
        pass
    return replies


def _show(replies: list[Reply]) -> str:
    return " | ".join(map(str, replies)) or "no reply"


def _finish_data(client: SMTPClient, replies: list[Reply], subject: str) -> Reply | None:
    """After a 354 in a group, send a message so the session leaves data mode; its final reply."""
    if not replies or replies[-1].code != 354:
        return None
    message, _ = make_message(subject)
    client.send(dot_stuff(message))
    return client.read_reply()


@case(IN_ORDER, NO_LOSS, defect=srv.PIPELINING_DROPS)
def test_transaction_group_one_reply_each(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _pipelined(smtp)
    s, r = case_context.sender, case_context.recipient
    _send_group(client, f"MAIL FROM:<{s}>", f"RCPT TO:<{r}>", f"RCPT TO:<{r}>", "DATA")
    replies = _collect(client, 4, case_context.timeout)
    check(
        len(replies) == 4,
        f"a pipelined MAIL/RCPT/RCPT/DATA group got {len(replies)} replies instead of 4",
        expected="one reply per command",
        observed=_show(replies),
    )
    if replies[0].code != 250 or replies[1].code not in RCPT_ACCEPTED:
        unsupported(f"the transaction itself was refused: {_show(replies)}")
    check(
        replies[2].code in RCPT_ACCEPTED and replies[3].code == 354,
        "the replies do not match the commands in order",
        expected="250 250 250 354",
        observed=_show(replies),
    )
    final = _finish_data(client, replies, "mailspec pipelined group")
    check(
        final is not None and final.code == 250,
        "the message sent after the pipelined group was not accepted",
        expected="250",
        observed=str(final),
    )


@case(IN_ORDER, defect=srv.PIPELINING_REORDER)
def test_replies_in_command_order(smtp: SMTPSessions, case_context: CaseContext) -> None:
    s, r = case_context.sender, case_context.recipient
    group = [f"RCPT TO:<{r}>", f"MAIL FROM:<{s}>", f"RCPT TO:<{r}>", "NOOP", "RSET"]
    control = smtp.ready()
    expected = [control.command(c).code for c in group]
    client = _pipelined(smtp)
    _send_group(client, *group)
    replies = _collect(client, len(group), case_context.timeout)
    check(
        [x.code for x in replies] == expected,
        "the pipelined replies do not come in the order of the commands",
        expected=" ".join(map(str, expected)) + " (as when sent one by one)",
        observed=_show(replies),
    )


@case(NO_LOSS, IN_ORDER, defect=srv.PIPELINING_FLUSH_ON_ERROR)
def test_commands_after_failed_one_processed(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _pipelined(smtp)
    s, r = case_context.sender, case_context.recipient
    _send_group(client, f"MAIL FROM:<{s}>", BAD_RCPT, f"RCPT TO:<{r}>", "DATA")
    replies = _collect(client, 4, case_context.timeout)
    check(
        len(replies) == 4,
        f"after a refused command the rest of the group went unanswered ({len(replies)} replies for 4 commands)",
        expected="one reply per command",
        observed=_show(replies),
    )
    if replies[0].code != 250 or replies[1].klass == 2 or replies[2].code not in RCPT_ACCEPTED:
        _finish_data(client, replies, "mailspec pipelining cleanup")
        unsupported(
            f"the group did not go as planned (MAIL/RCPT refused or the bad address accepted): {_show(replies)}"
        )
    check(
        replies[3].code == 354,
        "DATA after a valid recipient was not answered 354",
        expected="250 5xx 250 354",
        observed=_show(replies),
    )
    _finish_data(client, replies, "mailspec pipelining after error")


@case("smtp.rfc2920.3.2.data-354-only-with-recipients", defect=srv.DATA_NO_RCPT_OK)
def test_data_refused_without_valid_recipient(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _pipelined(smtp)
    _send_group(client, f"MAIL FROM:<{case_context.sender}>", BAD_RCPT, "DATA")
    replies = _collect(client, 3, case_context.timeout)
    if len(replies) < 3 or replies[0].code != 250 or replies[1].klass == 2:
        unsupported(f"the group did not go as planned: {_show(replies)}")
    if replies[2].code == 354:
        client.send(b".\r\n")  # an empty message, which RFC 2920 3.2 (4) says must go nowhere
        client.try_read_reply(case_context.timeout)
    check(
        replies[2].code != 354,
        "DATA was answered 354 although no recipient was accepted",
        expected="DATA refused (503/554)",
        observed=_show(replies),
    )


@case("smtp.rfc2920.3.2.flush-when-input-empty", defect=srv.PIPELINING_HOLDS)
def test_replies_sent_when_input_used_up(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _pipelined(smtp)
    _send_group(client, f"MAIL FROM:<{case_context.sender}>", f"RCPT TO:<{case_context.recipient}>")
    replies = _collect(client, 2, case_context.timeout)
    check(
        len(replies) == 2,
        "the replies to a pipelined MAIL/RCPT were held back although no more input came",
        expected="2 replies without further commands",
        observed=_show(replies),
    )
    client.rset()


@case("smtp.rfc2920.3.2.no-buffering-noop", defect=srv.PIPELINING_BUFFERS_NOOP)
def test_noop_reply_not_buffered(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _pipelined(smtp)
    client.send(f"MAIL FROM:<{case_context.sender}>\r\nNOOP\r\nRS".encode())
    replies = _collect(client, 2, case_context.timeout)
    client.send(b"ET\r\n")
    check(
        len(replies) == 2,
        "the NOOP reply was held back until more input came",
        expected="MAIL and NOOP answered at once",
        observed=_show(replies),
    )
    client.read_reply()


@case(NO_LOSS, defect=srv.PIPELINING_DROPS_AFTER_DATA)
def test_commands_after_message_processed(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _pipelined(smtp)
    s, r = case_context.sender, case_context.recipient
    if client.mail(s).code != 250 or client.rcpt(r).code not in RCPT_ACCEPTED:
        unsupported("the transaction was refused")
    go = client.command("DATA")
    if go.code != 354:
        unsupported(f"DATA refused: {go}")
    message, _ = make_message("mailspec message then commands")
    client.send(dot_stuff(message) + f"MAIL FROM:<{s}>\r\nRCPT TO:<{r}>\r\nRSET\r\n".encode())
    replies = _collect(client, 4, case_context.timeout)
    check(
        len(replies) == 4,
        f"commands pipelined after the end of data went unanswered ({len(replies)} replies for the message and 3 commands)",
        expected="250 250 250 250",
        observed=_show(replies),
    )


@case("smtp.rfc2920.3.2.no-buffering-unrecognized", defect=srv.PIPELINING_BUFFERS_UNKNOWN)
def test_unrecognized_reply_not_buffered(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """MAIL, an unknown command and half of RSET in one packet: MAIL and the unknown command are answered at once."""
    client = _pipelined(smtp)
    client.send(f"MAIL FROM:<{case_context.sender}>\r\nXMAILSPEC-UNKNOWN\r\nRS".encode())
    replies = _collect(client, 2, case_context.timeout)
    client.send(b"ET\r\n")
    if len(replies) == 2 and replies[1].klass != 5:
        unsupported(f"the server recognises the test command: {replies[1]}")
    check(
        len(replies) == 2,
        "the reply to an unrecognized command was held back until more input came",
        expected="MAIL and the unknown command answered at once",
        observed=_show(replies),
    )
    client.read_reply()

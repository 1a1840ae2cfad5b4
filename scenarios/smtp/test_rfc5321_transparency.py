"""RFC 5321 4.5.2 (transparency, every character delivered), 2.3.8 and 4.1.1.4 (only CRLF ends a line)."""

import pytest

from conformance.clients.smtp import ConnectionClosed, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import delivered_contains, fetch, start_transaction
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

CRLF_ONLY = "smtp.rfc5321.2.3.8.crlf-only"


def _deliver(smtp: SMTPSessions, ctx: CaseContext, body: bytes, what: str) -> bytes | None:
    """Send ``body`` in a message; the delivered copy, or None when the server refused it."""
    ctx.mailbox()  # UNSUPPORTED before sending anything when deliveries cannot be read back
    message, token = make_message(f"mailspec {what}", body)
    client = smtp.ready()
    mail = start_transaction(client, ctx)
    if mail.code != 250:
        unsupported(f"MAIL refused: {mail}")
    try:
        replies = client.data(message)
    except ConnectionClosed:
        return None
    if replies[-1].code != 250:
        return None
    delivered = fetch(ctx, token)
    if delivered is None:
        unsupported(f"the message with {what} was accepted but never arrived")
    return delivered


DOT_LINES = {"leading-dot": b".hidden behind a dot", "lone-dot": b".", "two-dots": b"..", "three-dots": b"..."}


@pytest.mark.parametrize("line", DOT_LINES.values(), ids=DOT_LINES.keys())
@case("smtp.rfc5321.4.5.2.remove-stuffed-dot", defect=srv.DATA_NO_DOTS)
def test_dot_lines_delivered_exactly(smtp: SMTPSessions, case_context: CaseContext, line: bytes) -> None:
    body = b"above\r\n" + line + b"\r\nbelow\r\n"
    delivered = _deliver(smtp, case_context, body, f"the line {line!r}")
    check(delivered is not None, f"a message with the line {line!r} (sent dot-stuffed) was refused", expected="250")
    assert delivered is not None
    check(
        delivered_contains(delivered, b"\n" + body),
        f"the line {line!r} was not delivered as sent: the added dot was not removed, or more",
        expected=repr(body),
        observed=repr(delivered[-200:]),
    )


@case("smtp.rfc5321.4.5.2.deliver-all-characters", defect=srv.DATA_STRIPS_CONTROLS)
def test_control_characters_delivered(smtp: SMTPSessions, case_context: CaseContext) -> None:
    controls = b"bel\x07 bs\x08 tab\t vt\x0b ff\x0c soh\x01 esc\x1b del\x7f end"
    delivered = _deliver(smtp, case_context, b"controls: " + controls + b"\r\n", "control characters")
    check(delivered is not None, "a message with control characters was refused", expected="250")
    assert delivered is not None
    check(
        controls in delivered,
        "control characters were not delivered as sent",
        expected=repr(controls),
        observed=repr(delivered[-200:]),
    )


def _judge_split_command(smtp: SMTPSessions, lone: bytes, first: bytes, second: bytes) -> None:
    client = smtp.ready()
    client.send(first + lone + second + b"\r\n")
    try:
        reply = client.read_reply()
        extra = client.try_read_reply(1.5)
    except ConnectionClosed:
        return  # closing on a malformed line is allowed
    both_run = reply.code == 250 and extra is not None and extra.code == 250
    name = "LF" if lone == b"\n" else "CR"
    check(
        not both_run,
        f"a bare {name} ended a command line: both commands ran",
        expected="one reply (an error) for the one line, or the connection closed",
        observed=f"{reply} | {extra}",
    )


SPLIT_COMMANDS = {"noop-noop": (b"NOOP", b"NOOP"), "rset-noop": (b"RSET", b"NOOP")}


@pytest.mark.parametrize("first,second", SPLIT_COMMANDS.values(), ids=SPLIT_COMMANDS.keys())
@case(CRLF_ONLY, defect=srv.BARE_LF_COMMANDS)
def test_bare_lf_does_not_end_command(smtp: SMTPSessions, first: bytes, second: bytes) -> None:
    _judge_split_command(smtp, b"\n", first, second)


@pytest.mark.parametrize("first,second", SPLIT_COMMANDS.values(), ids=SPLIT_COMMANDS.keys())
@case(CRLF_ONLY, defect=srv.BARE_CR_COMMANDS)
def test_bare_cr_does_not_end_command(smtp: SMTPSessions, first: bytes, second: bytes) -> None:
    _judge_split_command(smtp, b"\r", first, second)


def _judge_lone_in_data(smtp: SMTPSessions, ctx: CaseContext, lone: bytes) -> None:
    """A dot after a bare CR/LF is data, not the start of a new (dot-stuffed) line."""
    marker = b".mailspec-dot-after-bare-" + (b"lf" if lone == b"\n" else b"cr")
    delivered = _deliver(smtp, ctx, b"first part" + lone + marker + b" rest\r\nlast line\r\n", "a bare line break")
    if delivered is None:
        return  # refusing the message is allowed
    check(
        marker in delivered,
        "the server took a bare line break in the data as a line end and removed the dot after it",
        expected=repr(marker),
        observed=repr(delivered[-200:]),
    )


@case("smtp.rfc5321.4.1.1.4.no-bare-lf-lines", CRLF_ONLY, defect=srv.BARE_LF_DATA_LINES)
def test_bare_lf_in_data_is_not_a_line_end(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """Judged by one symptom, a dot after the bare LF unstuffed: a server that turns the bare LF
    into CRLF on delivery but leaves the dot alone passes, which is acceptable (nothing is lost)."""
    _judge_lone_in_data(smtp, case_context, b"\n")


@case(CRLF_ONLY, defect=srv.BARE_CR_DATA_LINES)
def test_bare_cr_in_data_is_not_a_line_end(smtp: SMTPSessions, case_context: CaseContext) -> None:
    _judge_lone_in_data(smtp, case_context, b"\r")

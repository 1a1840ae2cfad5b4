"""RFC 5321 2.3.8, 3.8, 4.5.3.1: the object sizes every server must receive, and what happens past them."""

import pytest

from conformance.clients.smtp import RCPT_ACCEPTED, ConnectionClosed, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import delivered_contains, fetch, has_probe, start_transaction
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

MINIMUMS = "smtp.rfc5321.4.5.3.1.receive-minimum-sizes"


def _noop_line(total: int) -> str:
    """A NOOP command line of ``total`` octets, the CRLF included."""
    return "NOOP " + ("mailspec-" * 200)[: total - len("NOOP ") - 2]


def _domain(length: int, base: str) -> str:
    """A domain name of exactly ``length`` octets under ``base``, no label longer than 63 octets."""
    labels: list[str] = []
    need = length - len(base)  # octets to prepend, each label with its dot
    while need > 0:
        take = min(64, need)
        if need - take == 1:
            take -= 1
        labels.append("d" * (take - 1))
        need -= take
    name = ".".join([*labels, base])
    assert len(name) == length, (len(name), length)
    return name


def _base(ctx: CaseContext) -> str:
    return ctx.sender.rpartition("@")[2]


def _judge_sender(smtp: SMTPSessions, address: str, control: str, what: str) -> None:
    """MAIL FROM:<address> must be accepted when the short ``control`` of the same shape is."""
    client = smtp.ready()
    reply = client.mail(control)
    client.rset()
    if reply.code != 250:
        unsupported(f"the target refuses even the short sender <{control}>: {reply}")
    reply = client.mail(address)
    client.rset()
    check(
        reply.code == 250,
        f"MAIL FROM with {what} was refused, although a short address of the same shape was accepted",
        expected="250",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.5.3.1.4.command-line-512", MINIMUMS, defect=srv.COMMAND_LINE_SHORT)
def test_512_octet_command_line_accepted(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    control = client.command(_noop_line(20))
    if control.code != 250:
        unsupported(f"the target refuses NOOP with an argument, so line length cannot be told apart: {control}")
    reply = client.command(_noop_line(512))
    check(
        reply.code == 250,
        "a 512-octet command line (CRLF included) was refused",
        expected="250, as for a short NOOP line",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.8.no-close-on-long-line", defect=srv.LONG_LINE_CRASH)
def test_overlong_command_line_keeps_session(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    try:
        reply = client.command(_noop_line(1000), check_length=False)
    except ConnectionClosed:
        check(
            False,
            "the server closed the connection on a 1000-octet command line",
            expected="a reply (500 Line too long) and the session goes on",
            observed="connection closed without a reply",
        )
        return
    if reply.code == 421:
        return  # announced shutdown: the one reply that may come with a close
    try:
        after = client.noop()
    except ConnectionClosed:
        check(
            False,
            "the server closed the connection after answering an overlong command line",
            expected="the session goes on",
            observed=f"{reply}, then the connection closed",
        )
        return
    check(
        after.code == 250,
        "the session did not continue after an overlong command line",
        expected="NOOP answered 250",
        observed=f"{reply}; then NOOP: {after}",
    )


@case("smtp.rfc5321.2.3.8.line-length-limits", defect=srv.LONG_LINE_OK)
def test_overlong_command_line_refused(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    control = client.command(_noop_line(20))
    if control.code != 250:
        unsupported(f"the target refuses NOOP with an argument: {control}")
    try:
        reply = client.command(_noop_line(1000), check_length=False)
    except ConnectionClosed:
        return  # refused by closing; test_overlong_command_line_keeps_session judges that
    check(
        reply.code >= 500,
        "observed: a 1000-octet command line was accepted (no limit imposed, which the MAY allows)",
        expected="500 Line too long",
        observed=str(reply),
    )


@pytest.mark.parametrize("lead", [b"L", b"."], ids=["plain", "leading-dot"])
@case("smtp.rfc5321.4.5.3.1.6.text-line-1000", MINIMUMS, defect=srv.DATA_TRUNCATE_LONG)
def test_1000_octet_text_line_delivered_intact(smtp: SMTPSessions, case_context: CaseContext, lead: bytes) -> None:
    line = lead + (b"0123456789abcdef" * 70)[: 1000 - 2 - len(lead) - 4] + b"-END"
    message, token = make_message("mailspec 1000-octet text line", b"before\r\n" + line + b"\r\nafter\r\n")
    client = smtp.ready()
    mail = start_transaction(client, case_context)
    if mail.code != 250:
        unsupported(f"MAIL refused: {mail}")
    replies = client.data(message)
    check(
        replies[-1].code == 250,
        "a message with a 1000-octet text line was refused",
        expected="250",
        observed=" / ".join(map(str, replies)),
    )
    if not has_probe(case_context):
        return  # accepted; what was stored cannot be seen
    delivered = fetch(case_context, token)
    check(
        delivered is not None,
        "the accepted message never arrived",
        expected="delivered",
        observed="nothing in the mailbox",
    )
    assert delivered is not None
    check(
        delivered_contains(delivered, b"\nbefore\r\n" + line + b"\r\nafter\r\n"),
        "the 1000-octet text line was not delivered intact",
        expected=f"a line of {len(line) + 2} octets",
        observed=f"{max(map(len, delivered.splitlines()))} octets in the longest delivered line",
    )


@case("smtp.rfc5321.4.5.3.1.1.local-part-64", MINIMUMS, defect=srv.LOCAL_PART_SHORT)
def test_64_octet_local_part_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    base = _base(case_context)
    _judge_sender(smtp, f"{'l' * 64}@{base}", f"mailspec-short@{base}", "a 64-octet local-part")


@case("smtp.rfc5321.4.5.3.1.2.domain-255", MINIMUMS, defect=srv.DOMAIN_SHORT)
def test_255_octet_domain_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    base = _base(case_context)
    _judge_sender(smtp, f"mailspec@{_domain(255, base)}", f"mailspec@short.{base}", "a 255-octet domain")


@case("smtp.rfc5321.4.5.3.1.3.path-256", MINIMUMS, defect=srv.PATH_SHORT)
def test_256_octet_path_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    base = _base(case_context)
    address = f"{'p' * 64}@{_domain(256 - 2 - 64 - 1, base)}"
    assert len(f"<{address}>") == 256
    _judge_sender(smtp, address, f"mailspec@short.{base}", "a 256-octet reverse-path")


@case("smtp.rfc5321.4.5.3.1.8.buffer-100-recipients", defect=srv.RCPT_LIMIT_50)
def test_100_recipients_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    mail = start_transaction(client, case_context)  # the first recipient
    if mail.code != 250:
        unsupported(f"MAIL refused: {mail}")
    for n in range(2, 101):
        reply = client.rcpt(case_context.recipient)
        if reply.code not in RCPT_ACCEPTED:
            check(False, f"recipient number {n} was refused", expected="100 recipients accepted", observed=str(reply))
    client.rset()


@case("smtp.rfc5321.4.5.3.1.10.too-many-recipients-452", defect=srv.RCPT_LIMIT_552)
def test_recipient_limit_answered_452(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    mail = start_transaction(client, case_context)
    if mail.code != 250:
        unsupported(f"MAIL refused: {mail}")
    for n in range(2, 301):
        reply = client.rcpt(case_context.recipient)
        if reply.code not in RCPT_ACCEPTED:
            check(
                reply.code == 452,
                f"recipient number {n}, over the server's limit, was not refused with 452",
                expected="452",
                observed=str(reply),
            )
            client.rset()
            return
    client.rset()
    unsupported("no recipient limit reached with 300 recipients")


@case("smtp.rfc5321.4.5.3.1.7.message-64k", defect=srv.DATA_LIMIT_60K)
def test_64k_message_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """A message of about 70 000 octets (above the 64K minimum, far below any advertised SIZE) gets 250."""
    client = smtp.ready()
    size = client.extensions.get("SIZE", "").strip()
    if size.isdigit() and 0 < int(size) < 65536:
        # The server declares a limit below the minimum: that is the finding, seen without sending.
        check(False, f"the server advertises SIZE {size}, below the 64K minimum", observed=f"SIZE {size}")
    line = b"mailspec 64K line " + b"x" * 80 + b"\r\n"  # 100 octets
    message, token = make_message("mailspec 64K message", line * 700)
    assert len(message) > 70_000
    if start_transaction(client, case_context).code != 250:
        unsupported("MAIL refused")
    replies = client.data(message)
    check(
        replies[-1].code == 250,
        f"a message of {len(message)} octets (over 64K) was refused",
        expected="250",
        observed=str(replies[-1]),
    )
    if has_probe(case_context):
        got = fetch(case_context, token)
        check(got is not None and delivered_contains(got, line * 700), "the 64K message was not delivered intact")

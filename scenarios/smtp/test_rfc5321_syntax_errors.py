"""RFC 5321 4.1.5, 4.2, 4.2.4, 4.3.2: unknown and unimplemented commands, reply code syntax."""

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check
from conformance.wire import smtp as wire


@case("smtp.rfc5321.4.2.4.unrecognized-500", defect=srv.UNKNOWN_VERB_250)
def test_unknown_command_500(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("MAILSPECFROB now")
    check(reply.code == 500, "an unknown command was not answered with 500", expected="500", observed=str(reply))


@case("smtp.rfc5321.4.2.4.unrecognized-500", defect=srv.UNKNOWN_VERB_250)
def test_unknown_private_command_500(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("XMAILSPEC")
    check(
        reply.code == 500,
        "an unknown X- (private-use) command was not answered with 500",
        expected="500",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.2.4.unimplemented-502", "smtp.rfc5321.4.2.4.unrecognized-500", defect=srv.UNKNOWN_VERB_250)
def test_turn_not_implemented(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("TURN")
    # 502 if the server knows TURN, 500 if it does not: only the server knows which applies.
    check(
        reply.code in (502, 500),
        "TURN was not answered as a recognised-but-unimplemented (502) or unknown (500) command",
        expected="502 (or 500)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.2.one-reply", defect=srv.UNKNOWN_VERB_SILENT)
def test_unknown_command_gets_a_reply(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    client.send(wire.encode_command("MAILSPECFROB"))
    reply = client.try_read_reply(client.timeout)
    check(reply is not None, "an unknown command got no reply at all", expected="one reply (500)")


def _codes_seen(client: SMTPClient) -> list[wire.Reply]:
    replies = [r for r in (client.greeting, client.ehlo_reply) if r is not None]
    for line in (
        "NOOP",
        "HELP",
        "RSET",
        "MAILSPECFROB",
        "MAIL FROM:",
        "RCPT TO:<postmaster>",
        "DATA",
        "RSET mailspec",
        "RSET",
    ):
        replies.append(client.command(line))
    replies.append(client.quit())
    return replies


@case("smtp.rfc5321.4.2.reply-first-digit", defect=srv.REPLY_CODE_RANGE)
def test_reply_codes_start_with_2_to_5(smtp: SMTPSessions) -> None:
    bad = [r for r in _codes_seen(smtp.ready()) if str(r.code)[0] not in "2345"]
    check(
        not bad,
        "a reply code starts with a digit other than 2, 3, 4 or 5",
        expected="2yz-5yz",
        observed=" / ".join(map(str, bad)),
    )


@case("smtp.rfc5321.4.3.2.reply-code-range", defect=srv.REPLY_CODE_RANGE)
def test_reply_codes_three_digits(smtp: SMTPSessions) -> None:
    bad = [r for r in _codes_seen(smtp.ready()) if not 200 <= r.code <= 599]
    check(
        not bad,
        "a reply code is not three digits from 200 to 599",
        expected="three digits, first 2-5",
        observed=" / ".join(map(str, bad)),
    )

"""RFC 5321 4.1.5, 4.2, 4.2.4, 4.3.2: unknown and unimplemented commands, reply code syntax."""

import re

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


@case("smtp.rfc5321.4.2.4.unimplemented-502", defect=srv.UNIMPLEMENTED_500)
def test_expn_not_answered_as_unknown(smtp: SMTPSessions) -> None:
    # EXPN is defined by RFC 5321 itself, so a 5321 server recognises it: not implementing it
    # is 502, any EXPN reply (250, 252, 550...) is fine; 500 says "never heard of it".
    client = smtp.ready()
    reply = client.command("EXPN postmaster")
    check(
        reply.code != 500,
        "EXPN, a command RFC 5321 defines, was answered as unrecognised (500) instead of 502",
        expected="502 (or an EXPN reply)",
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


# A reply line starts with three digits, the first 2-5, then SP, "-" or the end of the line.
_THREE_DIGITS = re.compile(rb"[2-5][0-9]{2}(?:[ -]|$)")


@case("smtp.rfc5321.4.3.2.reply-code-range", defect=srv.REPLY_CODE_4_DIGITS)
def test_reply_codes_three_digits(smtp: SMTPSessions) -> None:
    # Judged on the raw lines: the parser reads "2500 OK" as 250 followed by odd text.
    bad = [
        line
        for r in _codes_seen(smtp.ready())
        for line in r.raw.split(b"\r\n")
        if line and not _THREE_DIGITS.match(line)
    ]
    check(
        not bad,
        "a reply code is not three digits from 200 to 599",
        expected="three digits, first 2-5",
        observed=" / ".join(repr(line) for line in bad),
    )

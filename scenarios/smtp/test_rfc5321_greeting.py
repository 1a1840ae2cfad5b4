"""RFC 5321 3.1, 4.2, 4.3.2: the connection greeting and the shape of every reply."""

from conformance.clients.smtp import SMTPSessions
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported


@case("smtp.rfc5321.4.3.2.greeting-220", defect=srv.GREET_250)
def test_greeting_is_220_or_554(smtp: SMTPSessions) -> None:
    client = smtp.open()
    greeting = client.greeting
    assert greeting is not None
    check(
        greeting.code in (220, 554),
        "the greeting is neither 220 nor 554",
        expected="220 (or 554 to refuse)",
        observed=str(greeting),
    )


@case("smtp.rfc5321.2.3.8.crlf-only", defect=srv.GREET_BARE_LF)
def test_replies_end_in_crlf(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    replies = [client.greeting, client.ehlo_reply, client.noop()]
    bad = [d for r in replies if r is not None for d in r.deviations if "bare LF" in d.what]
    check(
        not bad,
        "a reply line ends in a bare LF",
        expected="every reply line ends in CRLF",
        observed="; ".join(map(str, bad)),
    )


@case("smtp.rfc5321.4.2.1.multiline-same-code", defect=srv.EHLO_MIXED_CODES)
def test_multiline_ehlo_uses_one_code(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.ehlo_reply
    assert reply is not None
    mixed = [d for d in reply.deviations if "mixes codes" in d.what]
    check(
        not mixed,
        "the lines of the multiline EHLO reply carry different codes",
        expected="one code on every line",
        observed=reply.raw.decode(errors="replace")[:300],
    )


@case("smtp.rfc5321.4.2.1.multiline-same-code", defect=srv.GREET_MIXED_CODES)
def test_multiline_greeting_uses_one_code(smtp: SMTPSessions) -> None:
    client = smtp.open()
    assert client.greeting is not None
    if len(client.greeting.lines) < 2:
        unsupported("the greeting is a single line: no multiline greeting to judge")
    mixed = [d for d in client.greeting.deviations if "mixes codes" in d.what]
    check(
        not mixed,
        "the lines of the greeting carry different codes",
        observed=client.greeting.raw.decode(errors="replace")[:300],
    )


@case("smtp.rfc5321.4.5.3.1.5.reply-line-512", defect=srv.GREET_LONG_LINE)
def test_reply_lines_at_most_512_octets(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    replies = [client.greeting, client.ehlo_reply, client.command("HELP"), client.noop()]
    long = [d for r in replies if r is not None for d in r.deviations if "octets (limit 512)" in d.what]
    check(
        not long,
        "a reply line is longer than 512 octets",
        expected="<= 512 octets with CRLF",
        observed="; ".join(map(str, long)),
    )


@case("smtp.rfc5321.4.1.1.10.quit-221", defect=srv.QUIT_NO_221)
def test_quit_gets_221(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.quit()
    check(reply.code == 221, "QUIT was not answered with 221", expected="221", observed=str(reply))


@case("smtp.rfc5321.4.1.1.10.quit-221", defect=srv.QUIT_STAYS_OPEN)
def test_quit_closes_connection(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    client.quit()
    check(
        client.closed_by_peer(timeout=5.0),
        "the server kept the connection open after replying to QUIT",
        expected="connection closed",
    )


@case("smtp.rfc5321.4.1.1.9.noop-250", defect=srv.NOOP_WRONG)
def test_noop_gets_250(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.noop()
    check(reply.code == 250, "NOOP was not answered with 250", expected="250", observed=str(reply))

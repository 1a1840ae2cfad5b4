"""RFC 2920 3, 3.1: pipelining only when offered, EHLO/DATA/QUIT last in a group, every status checked, replies counted."""

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, check_delivered, message, send, smtp_units
from conformance.agents.wirelog import sent_before_reply
from conformance.scenario import case
from conformance.servers import smtp as srv_b
from conformance.verdict import check, unsupported

LAST = ("EHLO", "HELO", "DATA", "VRFY", "EXPN", "TURN", "QUIT", "NOOP", "STARTTLS", "AUTH")
RCPTS = ["bob@mailspec.test", "alice@mailspec.test"]


def _pairs(client: ClientCase) -> list[tuple[str, str]]:
    srv = client.servers[-1]
    out = []
    for log in srv.connections:
        for a, b in sent_before_reply(smtp_units(log)):
            out.append(
                (a.line if a.kind == "command" else f"<{a.kind}>", b.line if b.kind == "command" else f"<{b.kind}>")
            )
    return out


def _lockstep(client: ClientCase, recipients: list[str]) -> None:
    srv = client.server("smtp", behaviours=(srv_b.NO_PIPELINING,))
    data, token = message()
    run = send(client, srv, data, recipients=recipients)
    pairs = _pairs(client)
    check(
        not pairs,
        "the client pipelined commands though the server does not offer PIPELINING",
        expected="each command sent after the reply to the one before",
        observed="; ".join(f"{b!r} sent before the reply to {a!r}" for a, b in pairs[:3]),
    )
    check_delivered(srv, run, data, token)


@case("smtp.rfc2920.3.client-pipelining-when-offered", defect=agent.ALWAYS_PIPELINE)
def test_no_pipelining_when_not_offered(client: ClientCase) -> None:
    _lockstep(client, RCPTS[:1])


@case("smtp.rfc2920.3.client-pipelining-when-offered", defect=agent.ALWAYS_PIPELINE)
def test_no_pipelining_two_recipients(client: ClientCase) -> None:
    _lockstep(client, RCPTS)


def _last_in_group(client: ClientCase, recipients: list[str]) -> None:
    srv = client.server("smtp")
    data, token = message()
    run = send(client, srv, data, recipients=recipients)
    bad = [(a, b) for a, b in _pairs(client) if a.split(" ")[0].upper() in LAST]
    check(
        not bad,
        "the client sent more behind a command that must be the last of a pipelined group",
        expected="EHLO, DATA, QUIT, NOOP... each last in its group",
        observed="; ".join(f"{b!r} right behind {a!r}" for a, b in bad[:3]),
    )
    check_delivered(srv, run, data, token)


@case("smtp.rfc2920.3.1.client-last-in-group", defect=agent.DATA_NO_WAIT)
def test_data_last_in_group(client: ClientCase) -> None:
    _last_in_group(client, RCPTS[:1])


@case("smtp.rfc2920.3.1.client-last-in-group", defect=agent.DATA_NO_WAIT)
def test_data_last_in_group_two_recipients(client: ClientCase) -> None:
    _last_in_group(client, RCPTS)


@case("smtp.rfc2920.3.1.client-check-all-statuses", defect=agent.PIPELINING_IGNORES_RCPT)
def test_no_message_when_every_recipient_is_refused(client: ClientCase) -> None:
    srv = client.server("smtp", behaviours=(srv_b.DATA_NO_RCPT_OK,))
    data, token = message()
    run = send(client, srv, data, recipients=["nobody@mailspec.test"])
    if not _pairs(client):
        unsupported("the client does not pipeline")
    sent = b"".join(c.client_bytes() for c in srv.connections)
    check(
        token.encode() not in sent,
        "every RCPT was refused, the pipelined DATA got 354, and the client sent the message",
        expected="a single dot (or nothing) after the 354",
        observed=run.summary(),
    )


def _counted(client: ClientCase, recipients: list[str]) -> None:
    srv = client.server("smtp", behaviours=(srv_b.MULTILINE_REPLIES,))
    data, token = message()
    run = send(client, srv, data, recipients=recipients)
    check_delivered(srv, run, data, token)
    check(run.ok, "the message was accepted but the client reported a failure", observed=run.summary())


@case("smtp.rfc2920.3.1.client-count-responses", defect=agent.COUNTS_LINES)
def test_multiline_replies_counted(client: ClientCase) -> None:
    _counted(client, RCPTS[:1])


@case("smtp.rfc2920.3.1.client-count-responses", defect=agent.COUNTS_LINES)
def test_multiline_replies_two_recipients(client: ClientCase) -> None:
    _counted(client, RCPTS)

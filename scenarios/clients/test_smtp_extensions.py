"""RFC 5321 4.1.1.3, 4.5.3.2, RFC 6152 3: parameters only for offered extensions, no 8-bit without 8BITMIME, patience."""

import re

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, check_delivered, client_commands, message, send, smtp_units
from conformance.scenario import case
from conformance.servers import smtp as srv_b
from conformance.verdict import check

PARAMS = "smtp.rfc5321.4.1.1.3.client-offered-params-only"
EIGHT = "smtp.rfc6152.3.client-no-8bit-without-8bitmime"
TIMEOUTS = "smtp.rfc5321.4.5.3.2.client-minimum-timeouts"
_PARAM = re.compile(r"^(?:MAIL FROM|RCPT TO):\s*<[^>]*>\s*(.*)$", re.I)


def _params(client: ClientCase, behaviour: object, allowed: set[str], body: bytes = b"plain ASCII text\r\n") -> None:
    srv = client.server("smtp", behaviours=(behaviour,))
    data, _ = message(body)
    run = send(client, srv, data)
    cmds = [u.line for u in client_commands(srv) if u.verb in ("MAIL", "RCPT")]
    check(cmds, "the client sent no MAIL command", observed=run.summary())
    for line in cmds:
        m = _PARAM.match(line)
        extra = m.group(1).split() if m else []
        bad = [p for p in extra if p.split("=", 1)[0].upper() not in allowed]
        check(
            not bad,
            "the client sent a MAIL/RCPT parameter of an extension the server did not offer",
            expected="parameters of offered extensions only"
            + (f" ({', '.join(sorted(allowed))})" if allowed else " (none)"),
            observed=line,
        )


@case(PARAMS, defect=agent.PARAMS_ALWAYS)
def test_no_parameters_without_extensions(client: ClientCase) -> None:
    _params(client, srv_b.EHLO_MINIMAL, set())


@case(PARAMS, defect=agent.PARAMS_ALWAYS)
def test_no_parameters_after_helo(client: ClientCase) -> None:
    _params(client, srv_b.EHLO_502, set())


@case(PARAMS, defect=agent.PARAMS_ALWAYS)
def test_no_body_parameter_without_8bitmime(client: ClientCase) -> None:
    _params(client, srv_b.EHLO_NO_8BITMIME, {"SIZE", "AUTH", "RET", "ENVID", "NOTIFY", "ORCPT"})


def _no_8bit(client: ClientCase, behaviour: object) -> None:
    srv = client.server("smtp", behaviours=(behaviour,))
    data, _ = message("Grüße aus Zürich, 8-bit text\r\n".encode())
    data = data.replace(
        b"\r\n\r\n",
        b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        1,
    )
    run = send(client, srv, data)
    sent = [u.data for log in srv.connections for u in smtp_units(log) if u.kind in ("data", "bdat")]
    high = [u for u in sent if any(b > 127 for b in u)]
    check(
        not high,
        "the client sent 8-bit message content to a server that does not offer 8BITMIME",
        expected="7-bit content (converted), or the message not sent",
        observed=f"{sum(b > 127 for b in high[0])} octets above 127" if high else run.summary(),
    )


@case(EIGHT, defect=agent.PARAMS_ALWAYS)
def test_no_8bit_data_without_8bitmime(client: ClientCase) -> None:
    _no_8bit(client, srv_b.EHLO_NO_8BITMIME)


@case(EIGHT, defect=agent.PARAMS_ALWAYS)
def test_no_8bit_data_to_helo_server(client: ClientCase) -> None:
    _no_8bit(client, srv_b.EHLO_502)


def _patient(client: ClientCase, behaviour: object) -> None:
    srv = client.server("smtp", behaviours=(behaviour,))
    data, token = message()
    run = send(client, srv, data)
    check_delivered(srv, run, data, token)
    check(run.ok, "the client gave up on a server that answers after two seconds", observed=run.summary())


@case(TIMEOUTS, defect=agent.SHORT_TIMEOUTS)
def test_waits_for_a_slow_greeting(client: ClientCase) -> None:
    _patient(client, srv_b.SLOW_GREETING)


@case(TIMEOUTS, defect=agent.SHORT_TIMEOUTS)
def test_waits_for_a_slow_end_of_data_reply(client: ClientCase) -> None:
    _patient(client, srv_b.SLOW_FINAL)

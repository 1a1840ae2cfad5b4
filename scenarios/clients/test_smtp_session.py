"""RFC 5321 3.2, 3.3, 4.1.1.1, 4.1.4: greeting the server, HELO fallback, the EHLO name, command syntax."""

import re

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, check_delivered, client_commands, message, send
from conformance.scenario import case
from conformance.servers import smtp as srv_b
from conformance.verdict import check

# RFC 5321 4.1.2: Domain / address-literal
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
DOMAIN = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[^\[\]\\\s]+\])$")


@case("smtp.rfc5321.4.1.1.1.hello-before-mail", defect=agent.NO_EHLO)
def test_hello_before_mail(client: ClientCase) -> None:
    srv = client.server("smtp")
    data, token = message()
    run = send(client, srv, data)
    verbs = [u.verb for u in client_commands(srv)]
    check("MAIL" in verbs, "the client sent no MAIL command", observed=run.summary())
    first_mail = verbs.index("MAIL")
    check(
        any(v in ("EHLO", "HELO") for v in verbs[:first_mail]),
        "the client started a mail transaction without EHLO or HELO",
        expected="EHLO (or HELO) before MAIL",
        observed=" ".join(verbs[: first_mail + 1]),
    )
    check_delivered(srv, run, data, token)


@case("smtp.rfc5321.4.1.1.1.ehlo-first", defect=agent.HELO_FIRST)
def test_session_starts_with_ehlo(client: ClientCase) -> None:
    srv = client.server("smtp")
    data, _ = message()
    run = send(client, srv, data)
    cmds = client_commands(srv)
    check(cmds, "the client sent no command", observed=run.summary())
    check(cmds[0].verb == "EHLO", "the client did not start the session with EHLO", observed=cmds[0].line)


def _fallback(client: ClientCase, behaviour: object) -> None:
    srv = client.server("smtp", behaviours=(behaviour,))
    data, token = message()
    run = send(client, srv, data)
    verbs = [u.verb for u in client_commands(srv)]
    check(
        "HELO" in verbs,
        "EHLO was not recognized and the client did not fall back to HELO",
        expected="EHLO, then HELO",
        observed=" ".join(verbs) or run.summary(),
    )
    check_delivered(srv, run, data, token)


@case("smtp.rfc5321.3.2.helo-fallback", defect=agent.NO_HELO_FALLBACK)
def test_helo_fallback_after_500(client: ClientCase) -> None:
    _fallback(client, srv_b.EHLO_500)


@case("smtp.rfc5321.3.2.helo-fallback", defect=agent.NO_HELO_FALLBACK)
def test_helo_fallback_after_502(client: ClientCase) -> None:
    _fallback(client, srv_b.EHLO_502)


@case("smtp.rfc5321.4.1.4.ehlo-domain", defect=agent.BAD_EHLO_NAME)
def test_ehlo_names_a_domain_or_literal(client: ClientCase) -> None:
    srv = client.server("smtp")
    data, _ = message()
    run = send(client, srv, data)
    hello = [u for u in client_commands(srv) if u.verb in ("EHLO", "HELO")]
    check(hello, "the client sent no EHLO", observed=run.summary())
    for u in hello:
        arg = u.line[5:].strip()
        check(
            DOMAIN.match(arg) is not None,
            "the EHLO argument is neither a domain name nor an address literal",
            expected="EHLO client.example.org or EHLO [192.0.2.1]",
            observed=u.line,
        )


def _colon(client: ClientCase, verb: str) -> None:
    srv = client.server("smtp")
    data, _ = message()
    run = send(client, srv, data)
    lines = [u.line for u in client_commands(srv) if u.verb == verb]
    check(lines, f"the client sent no {verb} command", observed=run.summary())
    word = "FROM" if verb == "MAIL" else "TO"
    pattern = re.compile(rf"^{verb} {word}:<[^ ]*>(?: |$)", re.I)
    for line in lines:
        check(
            pattern.match(line) is not None,
            f"{verb} is not written '{verb} {word}:<path>' (no space around the colon)",
            expected=f"{verb} {word}:<...>",
            observed=line,
        )


@case("smtp.rfc5321.3.3.no-space-around-colon", defect=agent.SPACE_AFTER_COLON)
def test_mail_from_syntax(client: ClientCase) -> None:
    _colon(client, "MAIL")


@case("smtp.rfc5321.3.3.no-space-around-colon", defect=agent.SPACE_AFTER_COLON)
def test_rcpt_to_syntax(client: ClientCase) -> None:
    _colon(client, "RCPT")

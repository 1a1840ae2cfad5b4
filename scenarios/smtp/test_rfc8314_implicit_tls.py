"""RFC 8314 3.3: implicit TLS - the handshake starts at once, the whole SMTP session runs inside it.

The cases run against the SMTP target and reach its implicit-TLS endpoint: the target itself when it is
smtps://, else the "smtps_port" its peer names (docs/decisions.md); UNSUPPORTED when none is known."""

from conformance.clients.smtp import SMTPClient, SMTPSessions
from conformance.net import NetError
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check

IMMEDIATE = "smtp.rfc8314.3.3.handshake-immediately"
INSIDE = "smtp.rfc8314.3.3.protocol-inside-tls"


def _tls_session(smtp: SMTPSessions) -> SMTPClient:
    try:
        return smtp.open_implicit_tls()
    except NetError as e:
        check(False, "no TLS handshake at connection start", req=IMMEDIATE, observed=str(e))
        raise


@case(IMMEDIATE, INSIDE, defect=srv.GREET_250, protocols=("smtp",))
def test_greeting_inside_tls(smtp: SMTPSessions) -> None:
    client = _tls_session(smtp)
    assert client.greeting is not None
    check(client.conn.is_tls, "the session is not encrypted", req=IMMEDIATE)
    check(client.greeting.code == 220, "the greeting inside TLS is not 220", req=INSIDE, observed=str(client.greeting))


@case(INSIDE, defect=srv.IMPLICIT_TLS_STARTTLS, protocols=("smtp",))
def test_no_starttls_offered_inside_tls(smtp: SMTPSessions) -> None:
    client = _tls_session(smtp)
    ehlo = client.ehlo()
    check(
        ehlo.code == 250 and not client.has("STARTTLS"),
        "STARTTLS is offered inside implicit TLS",
        observed=str(ehlo),
    )


@case(INSIDE, defect=srv.IMPLICIT_TLS_STARTTLS, protocols=("smtp",))
def test_starttls_refused_inside_tls(smtp: SMTPSessions) -> None:
    client = _tls_session(smtp)
    client.ehlo()
    reply = client.command("STARTTLS")
    check(
        reply.code != 220, "STARTTLS inside implicit TLS was answered 220", expected="503 or 502", observed=str(reply)
    )

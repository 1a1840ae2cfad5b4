"""Operator policy (RFC 5321 7.3, 7.9; RFC 4954 4): open relay through address tricks, user enumeration,
size limits, AUTH before TLS on submission. The RFCs leave these to the site, so they WARN or INFO, never FAIL."""

import pytest

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

RELAY = "smtp.rfc5321.7.9.relay-filtering"
FOREIGN = "mailspec-relay-probe.invalid"
# Classic ways to smuggle a foreign destination past a relay check that looks at the domain only.
TRICKS = {
    "percent-hack": "relaytest%{foreign}@{local}",
    "bang-path": "{foreign}!relaytest@{local}",
    "quoted-at": '"relaytest@{foreign}"@{local}',
    "source-route": "@{local}:relaytest@{foreign}",
}


def _domain(ctx: CaseContext) -> str:
    return ctx.recipient.rpartition("@")[2]


@pytest.mark.parametrize("trick", TRICKS.values(), ids=TRICKS.keys())
@case(RELAY, defect=srv.RELAY_TRICKS, protocols=("smtp",))
def test_relay_tricks_refused(smtp: SMTPSessions, case_context: CaseContext, trick: str) -> None:
    client = smtp.in_transaction()
    address = trick.format(foreign=FOREIGN, local=_domain(case_context))
    reply = client.rcpt(address)
    check(
        reply.klass != 2,
        f"the unauthenticated RCPT <{address}> was accepted: a route to a foreign domain (possible open relay)",
        expected="550 (relay denied or no such user)",
        observed=str(reply),
    )


@case(RELAY, defect=srv.RCPT_OPEN_RELAY, protocols=("smtp",))
def test_plain_foreign_recipient_refused(smtp: SMTPSessions) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt(f"relaytest@{FOREIGN}")
    check(
        reply.klass != 2,
        "an unauthenticated client may relay to a foreign domain (open relay)",
        expected="550",
        observed=str(reply),
    )


@case("smtp.rfc5321.7.9.site-policy", defect=srv.RCPT_OPEN_RELAY, protocols=("smtp",))
def test_address_literal_recipient(smtp: SMTPSessions) -> None:
    client = smtp.in_transaction()
    reply = client.rcpt("relaytest-unknown@[192.0.2.1]")
    check(
        reply.klass != 2, "a recipient at a foreign address literal was accepted", expected="550", observed=str(reply)
    )


@case("smtp.rfc5321.7.3.enumeration", defect=srv.VRFY_250_BARE)
def test_vrfy_enumeration(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    known = client.vrfy(case_context.recipient.partition("@")[0])
    unknown = client.vrfy(case_context.unknown_recipient.partition("@")[0])
    check(
        known.code == unknown.code,
        "VRFY answers a known and an unknown user differently: users can be enumerated (a site choice)",
        observed=f"{known} / {unknown}",
    )


@case("smtp.rfc5321.7.3.enumeration", defect=srv.EXPN_ENUMERATES)
def test_expn_enumeration(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    known = client.command(f"EXPN {case_context.recipient.partition('@')[0]}")
    unknown = client.command(f"EXPN {case_context.unknown_recipient.partition('@')[0]}")
    check(
        known.code == unknown.code,
        "EXPN answers a known and an unknown name differently: users can be enumerated (a site choice)",
        observed=f"{known} / {unknown}",
    )


@case("smtp.rfc5321.7.9.site-policy", defect=srv.SIZE_UNLIMITED)
def test_size_limit_declared(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    value = smtp.require(client, "SIZE").strip()
    if not value.isdigit():
        unsupported(f"SIZE has no numeric limit: {value!r}")
    check(int(value) > 0, "SIZE 0: the server declares no size limit for messages", observed=f"SIZE {value}")


@case("submission.rfc4954.4.no-plaintext-before-tls", defect=srv.AUTH_PLAIN_NO_TLS)
def test_no_plaintext_auth_before_tls(smtp: SMTPSessions) -> None:
    client = smtp.ready(auth=False)
    if client.conn.is_tls:
        unsupported("the session is already encrypted")
    mechs = client.extensions.get("AUTH", "").upper().split()
    check(
        not {"PLAIN", "LOGIN"} & set(mechs),
        "the submission server offers a plaintext password mechanism before TLS",
        expected="AUTH only after STARTTLS",
        observed=" ".join(mechs),
    )

"""RFC 2449 sections 3-6: CAPA, command lengths and PIPELINING."""

import re

from conformance.clients.pop3 import POP3Client, POP3Sessions, stat_counts
from conformance.net import NetError
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported
from conformance.wire import pop3 as wire

# RFC 2449 section 6: capabilities whose "Announced states" are "both".
BOTH_STATES = ("TOP", "USER", "SASL", "RESP-CODES", "LOGIN-DELAY", "PIPELINING", "EXPIRE", "UIDL", "IMPLEMENTATION")
CAPA_TAG = re.compile(rb"^[\x21-\x2d\x2f-\x7f]+$")


def _capa(client: POP3Client) -> wire.Response:
    resp = client.capa()
    if not resp.ok:
        unsupported(f"CAPA is not implemented: {resp}")
    return resp


@case("pop3.rfc2449.5.capa-both-states", defect=srv.CAPA_AUTH_ONLY)
def test_capa_in_transaction(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    _capa(client)
    pop3.login(client)
    resp = client.capa()
    check(resp.ok, "CAPA in TRANSACTION state was refused", expected="+OK and the capability list", observed=str(resp))


@case("pop3.rfc2449.5.announced-in-both", defect=srv.CAPA_DROPS_AFTER_LOGIN)
def test_capabilities_announced_in_both_states(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    pop3.secure(client)
    _capa(client)
    before = {t for t in (client.capabilities or {}) if t in BOTH_STATES}
    pop3.login(client)
    if not client.capa().ok:
        unsupported("CAPA is refused in TRANSACTION state")
    missing = sorted(before - set(client.capabilities or {}))
    check(
        not missing,
        "capabilities announced in AUTHORIZATION state are missing in TRANSACTION state",
        expected=" ".join(sorted(before)),
        observed=f"missing {' '.join(missing)}",
    )


@case("pop3.rfc2449.5.capa-line-512", defect=srv.CAPA_LONG_LINE)
def test_capability_lines_at_most_512(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    resp = _capa(client)
    long = [ln[:40] for ln in resp.lines or () if len(ln) + 2 > 512]
    check(
        not long,
        "a capability line is longer than 512 octets",
        expected="<= 512 octets with CRLF",
        observed=repr(long[:2]),
    )


@case("pop3.rfc2449.3.capa-tag", defect=srv.CAPA_BAD_TAG)
def test_capability_tags(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    resp = _capa(client)
    bad = [ln for ln in resp.lines or () if not CAPA_TAG.match(ln.split(b" ")[0])]
    check(
        not bad,
        "a capability tag is not 1*cchar (printable ASCII except '.')",
        expected="capa-tag = 1*cchar",
        observed=repr(bad[:3]),
    )


@case("pop3.rfc2449.3.capa-tag", defect=srv.CAPA_BAD_TAG)
def test_capability_tags_in_transaction(pop3: POP3Sessions) -> None:
    client = pop3.login()
    resp = _capa(client)
    bad = [ln for ln in resp.lines or () if not CAPA_TAG.match(ln.split(b" ")[0])]
    check(
        not bad,
        "a capability tag in TRANSACTION state is not 1*cchar",
        expected="capa-tag = 1*cchar",
        observed=repr(bad[:3]),
    )


@case("pop3.rfc2449.4.commands-255", defect=srv.SHORT_COMMANDS)
def test_255_octet_command_in_authorization(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    _capa(client)
    line = wire.encode_command("USER", "x" * 248)
    assert len(line) == 255
    try:
        client.send(line)
        client.read_response()
        resp = str(client.quit())
    except NetError as e:
        resp = f"connection lost: {e}"
    check(
        resp.startswith("+OK"),
        "after a 255-octet command the session did not go on (QUIT not answered +OK)",
        expected="+OK",
        observed=resp,
    )


@case("pop3.rfc2449.4.commands-255", defect=srv.SHORT_COMMANDS)
def test_255_octet_command_in_transaction(pop3: POP3Sessions) -> None:
    client = pop3.login()
    _capa(client)
    line = wire.encode_command("XMAILSPEC", "y" * 243)
    assert len(line) == 255
    try:
        client.send(line)
        first = str(client.read_response())
        resp = str(client.noop())
    except NetError as e:
        first = resp = f"connection lost: {e}"
    check(
        first.startswith("-ERR"),
        "an unknown 255-octet command was not answered with -ERR",
        expected="-ERR",
        observed=first,
    )
    check(
        resp.startswith("+OK"),
        "after a 255-octet command the session did not go on (NOOP not answered +OK)",
        expected="+OK",
        observed=resp,
    )


@case("pop3.rfc2449.6.6.pipelining-in-turn", defect=srv.PIPELINING_DROPS)
def test_pipelined_transaction_commands(pop3: POP3Sessions) -> None:
    client = pop3.login()
    pop3.require(client, "PIPELINING")
    client.send(b"NOOP\r\nSTAT\r\nNOOP\r\n")
    replies = [client.try_read_response(5.0) for _ in range(3)]
    check(
        all(r is not None and r.ok for r in replies) and replies[1] is not None and stat_counts(replies[1]) is not None,
        "pipelined NOOP, STAT, NOOP were not each answered in turn",
        expected="+OK, +OK nn mm, +OK",
        observed=" | ".join(map(str, replies)),
    )


@case("pop3.rfc2449.6.6.pipelining-in-turn", defect=srv.PIPELINING_DROPS)
def test_pipelined_login(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    pop3.secure(client)
    pop3.require(client, "PIPELINING")
    user, password = pop3.ctx.credentials()
    client.transcript.add_secret(password)
    client.send(f"USER {user}\r\nPASS {password}\r\nSTAT\r\n".encode())
    replies = [client.try_read_response(5.0) for _ in range(3)]
    if replies[0] is not None and replies[1] is not None and not (replies[0].ok and replies[1].ok):
        unsupported(f"USER/PASS login was refused: {replies[0]} | {replies[1]}")
    check(
        replies[2] is not None and stat_counts(replies[2]) is not None,
        "a STAT pipelined after USER and PASS was not answered in turn",
        expected="+OK nn mm",
        observed=str(replies[2]),
    )

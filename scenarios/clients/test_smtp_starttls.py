"""RFC 3207 and RFC 4954 14: a client told to require TLS holds to it, checks the certificate, starts afresh after TLS."""

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, RefServer, RunResult, check_delivered, client_commands, message, send
from conformance.agents.wirelog import sent_before_reply, smtp_units
from conformance.scenario import case
from conformance.servers import smtp as srv_b
from conformance.verdict import check

REQUIRE = "smtp.rfc3207.6.client-require-tls"
DECIDE = "smtp.rfc3207.4.1.client-decide-after-handshake"
CLEAR_VERBS = ("MAIL", "RCPT", "DATA", "AUTH", "BDAT")


def _tls_send(
    client: ClientCase, *behaviours: object, cert: str = "good", auth: bool = False
) -> tuple[RefServer, RunResult, str]:
    srv = client.server("smtp", behaviours=behaviours, cert=cert)
    data, token = message()
    run = send(client, srv, data, tls="starttls", **({"auth": "yes"} if auth else {}))
    return srv, run, token


def _nothing_in_clear(srv: RefServer, run: RunResult, token: str) -> None:
    clear = [u.line for u in client_commands(srv, tls=False) if u.verb in CLEAR_VERBS]
    check(
        not clear,
        "the client was told to require TLS, got none, and went on in cleartext",
        expected="no MAIL, RCPT, AUTH or message without TLS; QUIT",
        observed="; ".join(clear[:4]),
    )
    raw = b"".join(c.client_bytes(tls=False) for c in srv.connections)
    check(token.encode() not in raw, "the message went over the wire in cleartext")
    check(srv.password.encode() not in raw, "the password went over the wire in cleartext")
    check(
        not run.ok, "the client reported success though the message could not be sent over TLS", observed=run.summary()
    )


@case(REQUIRE, defect=agent.TLS_OPTIONAL)
def test_starttls_stripped(client: ClientCase) -> None:
    _nothing_in_clear(*_tls_send(client, srv_b.STARTTLS_STRIPPED))


@case(REQUIRE, defect=agent.TLS_OPTIONAL)
def test_starttls_stripped_with_auth(client: ClientCase) -> None:
    _nothing_in_clear(*_tls_send(client, srv_b.STARTTLS_STRIPPED, auth=True))


@case(REQUIRE, defect=agent.TLS_OPTIONAL)
def test_starttls_refused_454(client: ClientCase) -> None:
    _nothing_in_clear(*_tls_send(client, srv_b.STARTTLS_454, auth=True))


def _stopped_after_handshake(srv: RefServer, run: RunResult, token: str, verbs: tuple[str, ...]) -> None:
    done = [u.line for u in client_commands(srv, tls=True) if u.verb in verbs]
    check(
        not done,
        "the client went on over TLS with a server whose certificate it cannot trust",
        expected="the session ended after the handshake (QUIT or close)",
        observed="; ".join(done[:3]),
    )
    check(token.encode() not in b"".join(c.client_bytes() for c in srv.connections), "the message was sent")


@case(DECIDE, defect=agent.NO_CERT_CHECK)
def test_untrusted_certificate(client: ClientCase) -> None:
    _stopped_after_handshake(*_tls_send(client, cert="untrusted"), verbs=CLEAR_VERBS)


@case(DECIDE, defect=agent.NO_CERT_CHECK)
def test_certificate_for_another_name(client: ClientCase) -> None:
    _stopped_after_handshake(*_tls_send(client, cert="wrong-name"), verbs=CLEAR_VERBS)


@case("smtp.rfc4954.14.plain-needs-verified-certificate", defect=agent.NO_CERT_CHECK)
def test_no_auth_after_untrusted_certificate(client: ClientCase) -> None:
    _stopped_after_handshake(*_tls_send(client, cert="untrusted", auth=True), verbs=("AUTH",))


@case("smtp.rfc4954.14.plain-needs-matching-name", defect=agent.NO_CERT_CHECK)
def test_no_auth_after_certificate_for_another_name(client: ClientCase) -> None:
    _stopped_after_handshake(*_tls_send(client, cert="wrong-name", auth=True), verbs=("AUTH",))


@case("smtp.rfc3207.4.client-no-commands-before-handshake", defect=agent.PIPELINES_STARTTLS)
def test_nothing_between_starttls_and_handshake(client: ClientCase) -> None:
    srv, run, token = _tls_send(client)
    for log in srv.connections:
        units = [u for u in smtp_units(log) if not u.tls]
        after = (
            [u.line for u in units[[u.verb for u in units].index("STARTTLS") + 1 :]]
            if any(u.verb == "STARTTLS" for u in units)
            else []
        )
        check(
            not after,
            "the client sent commands after STARTTLS before the TLS handshake",
            expected="nothing between STARTTLS and the handshake",
            observed="; ".join(after[:3]),
        )
    check_delivered(srv, run, *_message_of(client), token)


def _message_of(client: ClientCase) -> tuple[bytes]:
    run = client.runs[-1]
    return ((run.maildir.parent / "message.eml").read_bytes(),)


@case("smtp.rfc3207.4.2.client-ehlo-after-tls", defect=agent.KEEPS_PRE_TLS_EHLO)
def test_ehlo_first_after_tls(client: ClientCase) -> None:
    srv, run, _token = _tls_send(client)
    tls_cmds = client_commands(srv, tls=True)
    check(tls_cmds, "the client sent nothing over TLS", observed=run.summary())
    check(
        tls_cmds[0].verb == "EHLO", "the first command after the TLS handshake was not EHLO", observed=tls_cmds[0].line
    )


@case("smtp.rfc3207.4.2.client-discard-knowledge", defect=agent.KEEPS_PRE_TLS_EHLO)
def test_extensions_asked_again_after_tls(client: ClientCase) -> None:
    srv, run, token = _tls_send(client, srv_b.CAPS_CHANGE_AFTER_TLS, auth=True)
    stale = [
        u.line for u in client_commands(srv, tls=True) if u.verb == "AUTH" and u.line.upper().startswith("AUTH LOGIN")
    ]
    check(
        not stale,
        "after TLS the client used AUTH LOGIN, offered only before TLS (the list after TLS has PLAIN only)",
        expected="AUTH PLAIN",
        observed="; ".join(stale),
    )
    check_delivered(srv, run, *_message_of(client), token)


def _injection(client: ClientCase, auth: bool) -> None:
    srv, _run, _token = _tls_send(client, srv_b.STARTTLS_EXTRA_REPLY, auth=auth)
    for log in srv.connections:
        units = [u for u in smtp_units(log) if u.tls]
        early = sent_before_reply(units[:2])
        check(
            not early,
            "the client took a reply received before the TLS handshake as the answer to its first command after it",
            expected=f"{units[1].line if len(units) > 1 else 'the next command'} only after the reply to {units[0].line if units else 'EHLO'}",
            observed=f"{early[0][1].line!r} sent before any reply over TLS" if early else "",
        )


@case("smtp.rfc3207.6.client-discard-pre-tls", defect=agent.ACTS_ON_INJECTED)
def test_reply_injected_before_tls_is_ignored(client: ClientCase) -> None:
    _injection(client, auth=False)


@case("smtp.rfc3207.6.client-discard-pre-tls", defect=agent.ACTS_ON_INJECTED)
def test_reply_injected_before_tls_is_ignored_with_auth(client: ClientCase) -> None:
    _injection(client, auth=True)

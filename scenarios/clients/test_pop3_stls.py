"""RFC 2595, RFC 5034: a client told to require TLS holds to it, checks the certificate, forgets what it learnt before TLS."""

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, RefServer, RunResult, fetch, line_units, message
from conformance.agents.wirelog import sent_before_reply
from conformance.scenario import case
from conformance.servers import pop3 as srv_b
from conformance.verdict import check, unsupported

CLEAR = "pop3.rfc2595.2.3.client-refuse-cleartext-login"
LOGIN_VERBS = ("USER", "PASS", "APOP", "AUTH")


def _tls_fetch(client: ClientCase, *behaviours: object, cert: str = "good") -> tuple[RefServer, RunResult]:
    srv = client.server("pop3", behaviours=behaviours, cert=cert, messages=[message()[0]])
    return srv, fetch(client, srv, tls="starttls")


def _no_cleartext_login(srv: RefServer, run: RunResult) -> None:
    sent = [u.line for log in srv.connections for u in line_units(log) if not u.tls and u.verb in ("PASS", "AUTH")]
    check(
        not sent,
        "the client was told to require TLS, got none, and logged in in cleartext",
        expected="no PASS or AUTH without TLS",
        observed="; ".join(s.split(" ")[0] + " ..." for s in sent[:3]),
    )
    raw = b"".join(c.client_bytes(tls=False) for c in srv.connections)
    check(srv.password.encode() not in raw, "the password went over the wire in cleartext")


@case(CLEAR, defect=agent.P_TLS_OPTIONAL)
def test_stls_stripped(client: ClientCase) -> None:
    _no_cleartext_login(*_tls_fetch(client, srv_b.STLS_STRIPPED))


@case(CLEAR, defect=agent.P_TLS_OPTIONAL)
def test_stls_refused(client: ClientCase) -> None:
    _no_cleartext_login(*_tls_fetch(client, srv_b.STLS_ERR))


@case(CLEAR, defect=agent.P_TLS_OPTIONAL)
def test_stls_stripped_without_apop_timestamp(client: ClientCase) -> None:
    _no_cleartext_login(*_tls_fetch(client, srv_b.STLS_STRIPPED, srv_b.GREET_NO_TIMESTAMP))


def _no_login_over_bad_tls(srv: RefServer, run: RunResult) -> None:
    sent = [u.verb for log in srv.connections for u in line_units(log) if u.tls and u.verb in LOGIN_VERBS]
    check(
        not sent,
        "the client logged in over TLS to a server whose certificate it cannot trust",
        expected="the session ended after the handshake",
        observed=" ".join(sent),
    )
    check(not run.produced(), "the client retrieved mail", observed=run.summary())


@case("pop3.rfc2595.2.4.client-server-identity", defect=agent.P_NO_CERT_CHECK)
def test_certificate_for_another_name(client: ClientCase) -> None:
    _no_login_over_bad_tls(*_tls_fetch(client, cert="wrong-name"))


@case("pop3.rfc2595.2.5.client-check-tls-result", defect=agent.P_NO_CERT_CHECK)
def test_untrusted_certificate(client: ClientCase) -> None:
    _no_login_over_bad_tls(*_tls_fetch(client, cert="untrusted"))


@case("pop3.rfc2595.4.client-wait-stls", defect=agent.PIPELINES_STLS)
def test_nothing_between_stls_and_handshake(client: ClientCase) -> None:
    srv, run = _tls_fetch(client)
    for log in srv.connections:
        clear = [u for u in line_units(log) if not u.tls]
        verbs = [u.verb for u in clear]
        after = [u.line for u in clear[verbs.index("STLS") + 1 :]] if "STLS" in verbs else []
        check(not after, "the client sent commands after STLS before the TLS handshake",
              expected="nothing between STLS and the handshake", observed="; ".join(after[:3]))  # fmt: skip
    check(run.produced(), "the client retrieved nothing over TLS", observed=run.summary())


@case("pop3.rfc2595.4.client-discard-capabilities", defect=agent.KEEPS_PRE_TLS_CAPA)
def test_capabilities_change_after_tls(client: ClientCase) -> None:
    srv = client.server(
        "pop3", behaviours=(srv_b.CAPS_CHANGE_AFTER_TLS, srv_b.GREET_NO_TIMESTAMP), messages=[message()[0]]
    )
    run = fetch(client, srv, tls="starttls")
    check(
        run.produced(),
        "the client did not log in after TLS though the capabilities announced over TLS offer USER and SASL PLAIN",
        expected="CAPA again after STLS, then USER/PASS or AUTH PLAIN",
        observed=run.summary(),
    )


@case("pop3.rfc2595.4.client-reissue-capa", defect=agent.KEEPS_PRE_TLS_CAPA)
def test_capa_again_after_tls(client: ClientCase) -> None:
    srv, run = _tls_fetch(client)
    tls_verbs = [u.verb for log in srv.connections for u in line_units(log) if u.tls]
    if not any(u.verb == "CAPA" for log in srv.connections for u in line_units(log) if not u.tls):
        unsupported("the client does not use CAPA (nothing cached to issue again)")
    if not tls_verbs:
        unsupported(f"the client sent nothing over TLS: {run.summary()}")
    check("CAPA" in tls_verbs, "the client did not issue CAPA again after STLS", observed=" ".join(tls_verbs[:6]))


@case("pop3.rfc2595.4.client-discard-capabilities", defect=agent.P_ACTS_ON_INJECTED)
def test_response_injected_before_tls_is_ignored(client: ClientCase) -> None:
    srv, _run = _tls_fetch(client, srv_b.STLS_INJECTS)
    for log in srv.connections:
        units = [u for u in line_units(log) if u.tls]
        early = sent_before_reply(units[:2])
        check(
            not early,
            "the client took a response received before the TLS handshake as the answer to its first command after it",
            expected=f"{units[1].verb if len(units) > 1 else 'the next command'} only after the response to {units[0].verb if units else 'CAPA'}",
            observed=f"{early[0][1].verb} sent before any response over TLS" if early else "",
        )
    # Ending the session (data arrived that should not have) is as good a defence as ignoring it.


LONG_PASSWORD = "long-Secret-" + "p" * 300


@case("pop3.rfc5034.4.client-initial-response-255", defect=agent.P_LONG_INITIAL)
def test_no_initial_response_beyond_255_octets(client: ClientCase) -> None:
    srv = client.server("pop3", tls=False, password=LONG_PASSWORD, behaviours=(srv_b.GREET_NO_TIMESTAMP,),
                        messages=[message()[0]])  # fmt: skip
    run = fetch(client, srv)
    auth = [u for log in srv.connections for u in line_units(log) if u.verb == "AUTH"]
    if not auth:
        unsupported(f"the client did not use AUTH: {run.summary()}")
    long = [u for u in auth if len(u.data) > 255]
    check(not long, "the AUTH command with its initial response is longer than 255 octets",
          expected="AUTH PLAIN, then the response after the empty challenge",
          observed=f"an AUTH line of {len(long[0].data)} octets" if long else "")  # fmt: skip
    check(run.produced(), "the client retrieved nothing", observed=run.summary())


def _no_sasl(client: ClientCase, *behaviours: object) -> list[str]:
    srv = client.server("pop3", tls=False, behaviours=(srv_b.CAPA_NO_SASL, *behaviours), messages=[message()[0]])
    fetch(client, srv)
    return [u.line for log in srv.connections for u in line_units(log) if u.verb == "AUTH"]


@case("pop3.rfc5034.6.client-no-auth-without-sasl", defect=agent.AUTH_ALWAYS)
def test_no_auth_without_sasl_capability(client: ClientCase) -> None:
    auth = _no_sasl(client)
    check(not auth, "the client used AUTH though the server does not announce SASL",
          observed="; ".join(a.split(" ")[0] + " " + a.split(" ")[1] for a in auth if " " in a))  # fmt: skip


@case("pop3.rfc5034.6.client-no-initial-response-without-sasl", defect=agent.AUTH_ALWAYS)
def test_no_initial_response_without_sasl_capability(client: ClientCase) -> None:
    auth = _no_sasl(client, srv_b.GREET_NO_TIMESTAMP)
    with_initial = [a for a in auth if len(a.split(" ")) > 2]
    check(not with_initial, "the client sent AUTH with an initial response though the server does not announce SASL",
          expected="no AUTH, or AUTH <mechanism> alone", observed="AUTH " + with_initial[0].split(" ")[1] + " <initial response>" if with_initial else "")  # fmt: skip

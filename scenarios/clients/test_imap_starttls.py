"""RFC 9051 6.2.1, 7.2.2, 11.1 and RFC 2595 (RFC 3501 6.2.1, 7.2.1): a client told to require TLS
holds to it, checks the certificate, forgets what it learnt in clear, and respects LOGINDISABLED."""

from conformance.agents import mailspec_imap as agent
from conformance.agents.harness import ClientCase, RefServer, RunResult
from conformance.agents.imap_jmap import all_commands, check_fetched, commands, fetch, imap_message
from conformance.scenario import case
from conformance.servers.imap import client_habits as habit
from conformance.verdict import check

TLS_RESULT = ("imap.rfc9051.11.1.client-check-tls-result", "imap.rfc2595.9.client-refuse-without-privacy")
HOSTNAME = ("imap.rfc9051.11.1.client-check-hostname", "imap.rfc2595.2.4.client-check-hostname")
NO_COMMANDS = "imap.rfc9051.6.2.1.client-no-commands-before-tls"
DISCARD = ("imap.rfc9051.6.2.1.client-discard-capabilities", "imap.rfc3501.6.2.1.client-discard-capabilities")
REISSUE = "imap.rfc9051.6.2.1.client-reissue-capability"
INJECTED = "imap.rfc2595.9.client-discard-pre-tls"
LOGINDISABLED = ("imap.rfc9051.7.2.2.client-no-login-when-disabled", "imap.rfc3501.7.2.1.client-no-login-when-disabled")
SECRETS = ("LOGIN", "AUTHENTICATE")


def _tls(
    client: ClientCase, *habits: object, cert: str = "good", tls: bool = True
) -> tuple[RefServer, RunResult, list[bytes]]:
    msgs = [imap_message(i) for i in (1, 2)]
    srv = client.server("imap", behaviours=habits, cert=cert, tls=tls, messages=msgs)
    return srv, fetch(client, srv, tls="starttls"), msgs


def _nothing_in_clear(srv: RefServer, run: RunResult) -> None:
    clear = [c.unit.line for c in all_commands(srv, tls=False) if c.verb in SECRETS or c.verb in ("SELECT", "EXAMINE")]
    raw = b"".join(log.client_bytes(tls=False) for log in srv.connections)
    check(
        not clear and srv.password.encode() not in raw,
        "the client was told to require TLS, got none, and logged in in cleartext",
        expected="no LOGIN or AUTHENTICATE without TLS; LOGOUT or close",
        observed="; ".join(clear[:3]) or "the password in cleartext",
    )
    check(not run.ok, "the client reported success though it could not get TLS", observed=run.summary())


@case(*TLS_RESULT, defect=agent.TLS_OPTIONAL)
def test_starttls_stripped(client: ClientCase) -> None:
    srv, run, _ = _tls(client, habit.STARTTLS_STRIPPED)
    _nothing_in_clear(srv, run)


@case(*TLS_RESULT, defect=agent.TLS_OPTIONAL)
def test_starttls_refused_with_no(client: ClientCase) -> None:
    srv, run, _ = _tls(client, habit.STARTTLS_NO)
    _nothing_in_clear(srv, run)


@case(*TLS_RESULT, defect=agent.TLS_OPTIONAL)
def test_starttls_stripped_and_no_greeting_capabilities(client: ClientCase) -> None:
    srv, run, _ = _tls(client, habit.STARTTLS_STRIPPED, habit.NO_GREETING_CAPS)
    _nothing_in_clear(srv, run)


@case(*TLS_RESULT, defect=agent.TLS_OPTIONAL)
def test_no_tls_at_all(client: ClientCase) -> None:
    srv, run, _ = _tls(client, tls=False)
    _nothing_in_clear(srv, run)


def _no_login_after_bad_certificate(srv: RefServer, run: RunResult) -> None:
    done = [c.unit.line for c in all_commands(srv, tls=True) if c.verb in (*SECRETS, "SELECT", "EXAMINE")]
    check(
        not done,
        "the client logged in over TLS with a server whose certificate it cannot trust",
        expected="the session ended after the handshake",
        observed="; ".join(done[:3]),
    )
    check(not run.ok, "the client reported success", observed=run.summary())


@case(*HOSTNAME, defect=agent.NO_CERT_CHECK)
def test_certificate_for_another_name(client: ClientCase) -> None:
    srv, run, _ = _tls(client, cert="wrong-name")
    _no_login_after_bad_certificate(srv, run)


@case(*HOSTNAME, defect=agent.NO_CERT_CHECK)
def test_untrusted_certificate(client: ClientCase) -> None:
    srv, run, _ = _tls(client, cert="untrusted")
    _no_login_after_bad_certificate(srv, run)


def _silent_until_handshake(srv: RefServer, run: RunResult, msgs: list[bytes]) -> None:
    for log in srv.connections:
        clear = [c for c in commands(log) if not c.tls]
        verbs = [c.verb for c in clear]
        after = [c.unit.line for c in clear[verbs.index("STARTTLS") + 1 :]] if "STARTTLS" in verbs else []
        check(
            not after,
            "the client sent commands after STARTTLS before the TLS handshake",
            expected="nothing between STARTTLS and the handshake",
            observed="; ".join(after[:3]),
        )
    check(run.ok, "the client failed", observed=run.summary())
    check_fetched(run, msgs if run.operation != "imap.fetch-one" else msgs[:1])


@case(NO_COMMANDS, defect=agent.PIPELINES_STARTTLS)
def test_nothing_between_starttls_and_handshake(client: ClientCase) -> None:
    _silent_until_handshake(*_tls(client))


@case(NO_COMMANDS, defect=agent.PIPELINES_STARTTLS)
def test_nothing_between_starttls_and_handshake_no_greeting_caps(client: ClientCase) -> None:
    _silent_until_handshake(*_tls(client, habit.NO_GREETING_CAPS))


def _logged_in_over_tls(srv: RefServer, run: RunResult, msgs: list[bytes]) -> None:
    cmds = all_commands(srv, tls=True)
    check(
        any(c.verb in SECRETS for c in cmds),
        "after TLS the client did not log in: it went by what it had learnt in clear",
        expected="CAPABILITY afresh, then LOGIN or AUTHENTICATE as the list after TLS allows",
        observed=" ".join(c.verb for c in cmds) or run.summary(),
    )
    check(run.ok, "the client failed", observed=run.summary())
    check_fetched(run, msgs if run.operation != "imap.fetch-one" else msgs[:1])


@case(*DISCARD, defect=agent.KEEPS_PRE_TLS_CAPS)
def test_logindisabled_forgotten_after_tls(client: ClientCase) -> None:
    _logged_in_over_tls(*_tls(client))


@case(REISSUE, defect=agent.KEEPS_PRE_TLS_CAPS)
def test_capability_asked_again_after_tls(client: ClientCase) -> None:
    srv, _run, _ = _tls(client)
    for log in srv.connections:
        cmds = [c for c in commands(log) if c.tls]
        first_auth = next((i for i, c in enumerate(cmds) if c.verb in SECRETS), len(cmds))
        check(
            any(c.verb == "CAPABILITY" for c in cmds[:first_auth]) or not cmds,
            "the client did not ask for the capabilities again after TLS",
            expected="CAPABILITY before LOGIN/AUTHENTICATE",
            observed=" ".join(c.verb for c in cmds[:4]),
        )


def _injection(srv: RefServer, run: RunResult, msgs: list[bytes]) -> None:
    for log in srv.connections:
        if not log.handshake_done:
            continue  # the injected octets broke the handshake: the client acted on nothing
        tls_cmds = [c.verb for c in commands(log) if c.tls]
        check(
            any(v in SECRETS for v in tls_cmds),
            "after the TLS handshake the client acted on a CAPABILITY or BYE it had received in clear",
            expected="a fresh CAPABILITY and a login under TLS",
            observed=" ".join(tls_cmds) or "nothing sent under TLS; " + run.summary(),
        )
    if any(log.handshake_done for log in srv.connections):
        check_fetched(run, msgs if run.operation != "imap.fetch-one" else msgs[:1])


@case(INJECTED, defect=agent.ACTS_ON_INJECTED)
def test_responses_injected_before_tls_are_ignored(client: ClientCase) -> None:
    _injection(*_tls(client, habit.STARTTLS_INJECTION))


@case(INJECTED, defect=agent.ACTS_ON_INJECTED)
def test_responses_injected_before_tls_are_ignored_no_greeting_caps(client: ClientCase) -> None:
    _injection(*_tls(client, habit.STARTTLS_INJECTION, habit.NO_GREETING_CAPS))


def _no_login(srv: RefServer, run: RunResult, msgs: list[bytes]) -> None:
    logins = [c.unit.line for c in all_commands(srv) if c.verb == "LOGIN"]
    check(
        not logins,
        "the client sent LOGIN though the server announces LOGINDISABLED",
        expected="AUTHENTICATE (AUTH=PLAIN is announced), or give up",
        observed="; ".join(logins[:2]),
    )


@case(*LOGINDISABLED, defect=agent.LOGIN_DESPITE_DISABLED)
def test_no_login_when_disabled(client: ClientCase) -> None:
    msgs = [imap_message(1)]
    srv = client.server("imap", behaviours=(habit.LOGINDISABLED_ALWAYS,), tls=False, messages=msgs)
    _no_login(srv, fetch(client, srv), msgs)


@case(*LOGINDISABLED, defect=agent.LOGIN_DESPITE_DISABLED)
def test_no_login_when_disabled_after_tls(client: ClientCase) -> None:
    _no_login(*_tls(client, habit.LOGINDISABLED_ALWAYS))


@case(*LOGINDISABLED, defect=agent.LOGIN_DESPITE_DISABLED)
def test_no_login_in_clear_before_starttls(client: ClientCase) -> None:
    msgs = [imap_message(1)]
    srv = client.server("imap", tls=True, messages=msgs)
    run = fetch(client, srv)  # the client is not told to use TLS: LOGINDISABLED stands before STARTTLS
    _no_login_clear(srv, run)


def _no_login_clear(srv: RefServer, run: RunResult) -> None:
    logins = [c.unit.line for c in all_commands(srv, tls=False) if c.verb == "LOGIN"]
    check(
        not logins,
        "the client sent LOGIN in clear though the server announces LOGINDISABLED (and STARTTLS)",
        expected="STARTTLS first, or give up",
        observed="; ".join(logins[:2]),
    )

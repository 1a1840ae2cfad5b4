"""RFC 5321 3.3, 4.1.1.10, 4.2.1: refusals and temporary failures: no data without 354, QUIT, no repeats, try again."""

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, RefServer, RunResult, client_commands, message, send, smtp_units
from conformance.scenario import case
from conformance.servers import smtp as srv_b
from conformance.verdict import check

NO_DATA = "smtp.rfc5321.3.3.client-data-after-354"
QUIT = "smtp.rfc5321.4.1.1.10.client-quit"
NO_REPEAT = "smtp.rfc5321.4.2.1.client-no-repeat-5yz"
TRY_AGAIN = "smtp.rfc5321.4.2.1.client-4yz-try-again"
UNKNOWN_RCPT = "nobody@mailspec.test"


def _run(client: ClientCase, *behaviours: object, to: str | None = None) -> tuple[RefServer, RunResult, str]:
    srv = client.server("smtp", behaviours=behaviours)
    data, token = message()
    run = send(client, srv, data, **({"recipients": [to]} if to else {}))
    return srv, run, token


def _no_data(client: ClientCase, *behaviours: object, to: str | None = None) -> None:
    srv, run, token = _run(client, *behaviours, to=to)
    sent = b"".join(c.client_bytes() for c in srv.connections)
    check(
        token.encode() not in sent,
        "the client sent the message data though DATA was not answered 354",
        expected="no message data without a 354 reply",
        observed=" ".join(u.verb for u in client_commands(srv)) + " ... message data",
    )
    check(not run.ok, "the client reported success though the message was refused", observed=run.summary())


@case(NO_DATA, defect=agent.DATA_REGARDLESS)
def test_no_data_after_data_554(client: ClientCase) -> None:
    _no_data(client, srv_b.DATA_554)


@case(NO_DATA, defect=agent.DATA_REGARDLESS)
def test_no_data_after_data_451(client: ClientCase) -> None:
    _no_data(client, srv_b.DATA_451)


@case(NO_DATA, defect=agent.DATA_REGARDLESS)
def test_no_data_when_every_recipient_is_refused(client: ClientCase) -> None:
    _no_data(client, to=UNKNOWN_RCPT)


def _quit(client: ClientCase, *behaviours: object, to: str | None = None) -> None:
    srv, run, _ = _run(client, *behaviours, to=to)
    check(srv.connections, "the client never connected", observed=run.summary())
    for log in srv.connections:
        verbs = [u.verb for u in smtp_units(log) if u.kind == "command"]
        check(
            "QUIT" in verbs,
            f"the client closed connection {log.number} without sending QUIT",
            expected="... QUIT",
            observed=" ".join(verbs[-6:]) or "(no command)",
        )


@case(QUIT, defect=agent.NO_QUIT)
def test_quit_after_delivery(client: ClientCase) -> None:
    _quit(client)


@case(QUIT, defect=agent.NO_QUIT)
def test_quit_after_refused_recipient(client: ClientCase) -> None:
    _quit(client, to=UNKNOWN_RCPT)


@case(QUIT, defect=agent.NO_QUIT)
def test_quit_after_temporary_failure(client: ClientCase) -> None:
    _quit(client, srv_b.MAIL_451)


@case(QUIT, defect=agent.NO_QUIT)
def test_quit_after_refused_message(client: ClientCase) -> None:
    _quit(client, srv_b.FINAL_554)


@case("smtp.rfc5321.4.1.1.10.client-wait-quit-reply", defect=agent.QUIT_NO_WAIT)
def test_waits_for_the_quit_reply(client: ClientCase) -> None:
    srv, run, _ = _run(client, srv_b.SLOW_QUIT)
    for log in srv.connections:
        closed = next(
            (i for i, e in enumerate(log.events) if e.side == "note" and e.data.startswith(b"client closed")), None
        )
        bye = next((i for i, e in enumerate(log.events) if e.side == "server" and e.data.startswith(b"221")), None)
        check(
            closed is None or (bye is not None and bye < closed),
            "the client closed the connection before the reply to QUIT",
            expected="221 before the client closes",
            observed="the client closed first" if closed is not None else run.summary(),
        )


def _no_repeat(client: ClientCase, *behaviours: object, to: str | None = None) -> None:
    srv, _, _ = _run(client, *behaviours, to=to)
    lines = [u.line for u in client_commands(srv) if u.verb in ("MAIL", "RCPT")]
    repeated = sorted({ln for ln in lines if lines.count(ln) > 1})
    transfers = [u for log in srv.connections for u in smtp_units(log) if u.kind == "data"]
    check(
        not repeated and len(transfers) <= 1,
        "the client repeated a request that got a permanent (5yz) failure",
        expected="each refused request sent once",
        observed=", ".join(repeated) or f"{len(transfers)} transfers of the message",
    )


@case(NO_REPEAT, defect=agent.RETRY_5YZ)
def test_no_repeat_after_mail_550(client: ClientCase) -> None:
    _no_repeat(client, srv_b.MAIL_550)


@case(NO_REPEAT, defect=agent.RETRY_5YZ)
def test_no_repeat_after_rcpt_550(client: ClientCase) -> None:
    _no_repeat(client, to=UNKNOWN_RCPT)


@case(NO_REPEAT, defect=agent.RETRY_5YZ)
def test_no_repeat_after_message_554(client: ClientCase) -> None:
    _no_repeat(client, srv_b.FINAL_554)


def _try_again(client: ClientCase, behaviour: object) -> None:
    srv, run, _ = _run(client, behaviour)
    mails = [u for u in client_commands(srv) if u.verb == "MAIL"]
    check(
        len(mails) > 1 or not run.ok,
        "after a temporary (4yz) failure the client neither tried again nor reported the failure",
        expected="another attempt, or a non-zero exit status for the caller to retry",
        observed=run.summary(),
    )


@case(TRY_AGAIN, defect=agent.TEMPFAIL_OK)
def test_temporary_failure_of_mail(client: ClientCase) -> None:
    _try_again(client, srv_b.MAIL_451)


@case(TRY_AGAIN, defect=agent.TEMPFAIL_OK)
def test_temporary_failure_of_rcpt(client: ClientCase) -> None:
    _try_again(client, srv_b.RCPT_450)


@case(TRY_AGAIN, defect=agent.TEMPFAIL_OK)
def test_temporary_failure_of_the_message(client: ClientCase) -> None:
    _try_again(client, srv_b.FINAL_451)

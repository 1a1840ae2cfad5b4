"""RFC 1939 sections 3 and 4 (with RFC 2449 sections 3, 4 and 8): greeting, status indicators,
line ends and lengths, unknown commands, commands in the wrong state, message numbers,
the maildrop lock and QUIT in the AUTHORIZATION state."""

from collections.abc import Sequence

from conformance.clients.pop3 import POP3Sessions
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported
from conformance.wire import pop3 as wire


def _devs(responses: Sequence[wire.Response | None], what: str) -> list[str]:
    return [str(d) for r in responses if r is not None for d in r.deviations if what in d.what]


@case("pop3.rfc1939.4.greeting-positive", defect=srv.GREET_ERR)
def test_greeting_is_positive(pop3: POP3Sessions) -> None:
    client = pop3.open()
    assert client.greeting is not None
    check(
        client.greeting.ok, "the greeting is not a positive response", expected="+OK ...", observed=str(client.greeting)
    )


@case("pop3.rfc1939.3.status-upper-case", defect=srv.STATUS_LOWER)
def test_greeting_status_upper_case(pop3: POP3Sessions) -> None:
    client = pop3.open()
    bad = _devs([client.greeting], "upper case")
    check(not bad, "the greeting's status indicator is not in upper case", expected="+OK", observed="; ".join(bad))


@case("pop3.rfc1939.3.status-upper-case", defect=srv.STATUS_LOWER)
def test_err_status_upper_case(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    resp = client.command("XMAILSPEC")
    check(resp.err, "an unknown command was not refused", expected="-ERR", observed=str(resp))
    bad = _devs([resp], "upper case")
    check(
        not bad,
        "the -ERR status indicator is not in upper case",
        expected="-ERR",
        observed=resp.raw.decode(errors="replace"),
    )


@case("pop3.rfc1939.3.status-upper-case", defect=srv.STATUS_LOWER)
def test_transaction_status_upper_case(pop3: POP3Sessions) -> None:
    client = pop3.login()
    responses = [client.stat(), client.noop(), client.list()]
    bad = _devs(responses, "upper case")
    check(
        not bad, "a status indicator in TRANSACTION state is not in upper case", expected="+OK", observed="; ".join(bad)
    )


@case("pop3.rfc1939.3.crlf", defect=srv.BARE_LF)
def test_status_lines_end_in_crlf(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    responses = [client.greeting, client.command("XMAILSPEC")]
    bad = _devs(responses, "bare LF")
    check(not bad, "a response line ends in a bare LF", expected="CRLF", observed="; ".join(bad))


@case("pop3.rfc1939.3.crlf", defect=srv.BARE_LF)
def test_multiline_lines_end_in_crlf(pop3: POP3Sessions) -> None:
    client = pop3.login()
    responses = [client.list(), client.uidl()]
    bad = _devs(responses, "bare LF")
    check(not bad, "a line of a multi-line response ends in a bare LF", expected="CRLF", observed="; ".join(bad))


@case("pop3.rfc1939.3.response-512", defect=srv.LONG_GREETING)
def test_response_lines_at_most_512(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    responses = [client.greeting, client.command("XMAILSPEC"), client.capa()]
    long = _devs(responses, "octets (limit 512)")
    check(
        not long,
        "a response line is longer than 512 octets",
        expected="<= 512 octets with CRLF",
        observed="; ".join(long),
    )


@case("pop3.rfc1939.3.unknown-command-err", defect=srv.UNKNOWN_OK)
def test_unknown_command_in_authorization(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    resp = client.command("XMAILSPEC", "probe")
    check(
        resp.err,
        "an unrecognized command in AUTHORIZATION state was not answered with -ERR",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc1939.3.unknown-command-err", defect=srv.UNKNOWN_OK)
def test_unknown_command_in_transaction(pop3: POP3Sessions) -> None:
    client = pop3.login()
    resp = client.command("XMAILSPEC")
    check(
        resp.err,
        "an unrecognized command in TRANSACTION state was not answered with -ERR",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc1939.3.unknown-command-err", defect=srv.UNKNOWN_OK)
def test_non_numeric_message_number(pop3: POP3Sessions) -> None:
    client = pop3.login()
    resp = client.command("RETR", "abc")
    check(
        resp.err,
        "RETR with a non-numeric message-number was not answered with -ERR",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc1939.3.unknown-command-err", defect=srv.UNKNOWN_OK)
def test_missing_argument(pop3: POP3Sessions) -> None:
    client = pop3.login()
    resp = client.command("DELE")
    check(
        resp.err,
        "DELE without its required message-number was not answered with -ERR",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc1939.3.wrong-state-err", defect=srv.WRONG_STATE_OK)
def test_stat_before_login(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    resp = client.stat()
    check(resp.err, "STAT in AUTHORIZATION state was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.3.wrong-state-err", defect=srv.WRONG_STATE_OK)
def test_list_before_login(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    resp = client.command("LIST")  # one line: a wrongly accepted LIST is caught at its +OK
    check(resp.err, "LIST in AUTHORIZATION state was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.3.wrong-state-err", defect=srv.WRONG_STATE_OK)
def test_retr_before_login(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.ready()
    resp = client.command("RETR", "1")
    check(resp.err, "RETR in AUTHORIZATION state was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.3.wrong-state-err", defect=srv.WRONG_STATE_OK)
def test_dele_before_login(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.ready()
    resp = client.dele(1)
    check(resp.err, "DELE in AUTHORIZATION state was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.3.wrong-state-err", defect=srv.WRONG_STATE_OK)
def test_uidl_before_login(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    resp = client.command("UIDL")
    check(resp.err, "UIDL in AUTHORIZATION state was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.3.wrong-state-err", defect=srv.WRONG_STATE_OK)
def test_user_after_login(pop3: POP3Sessions) -> None:
    client = pop3.login()
    user, _ = pop3.ctx.credentials()
    resp = client.user(user)
    check(resp.err, "USER in TRANSACTION state was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.4.message-numbers", defect=srv.NUMBERS_FROM_0)
def test_list_numbers_from_one(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.login()
    resp = client.list()
    numbers = [int(ln.split(b" ")[0]) for ln in resp.lines or () if ln.split(b" ")[0].isdigit()]
    if not numbers:
        unsupported("LIST shows no messages")
    check(
        numbers == list(range(1, len(numbers) + 1)),
        "the scan listings are not numbered 1..n",
        expected=f"1..{len(numbers)}",
        observed=str(numbers[:20]),
    )


@case("pop3.rfc1939.4.message-numbers", defect=srv.NUMBERS_FROM_0)
def test_uidl_numbers_from_one(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.login()
    resp = client.uidl()
    if not resp.ok:
        unsupported(f"UIDL is not implemented: {resp}")
    numbers = [int(ln.split(b" ")[0]) for ln in resp.lines or () if ln.split(b" ")[0].isdigit()]
    if not numbers:
        unsupported("UIDL shows no messages")
    check(
        numbers == list(range(1, len(numbers) + 1)),
        "the unique-id listings are not numbered 1..n",
        expected=f"1..{len(numbers)}",
        observed=str(numbers[:20]),
    )


@case("pop3.rfc1939.4.exclusive-lock", defect=srv.NO_LOCK)
def test_second_session_cannot_remove_messages(pop3: POP3Sessions) -> None:
    # A test message of our own (body given): the second session really removes it.
    first, (num,) = pop3.seeded(count=1, body=b"mailspec lock probe\r\n")
    second = pop3.ready()
    pop3.secure(second)
    resp = pop3.attempt_login(second)
    if resp.ok:
        # No lock: then the other session's removals must not reach this one before UPDATE.
        second.dele(num)
        second.quit()
        retr = first.retr(num)
        check(
            retr.ok,
            "a message removed by a concurrent session vanished from a session in TRANSACTION state",
            expected="+OK (maildrop locked or unchanged)",
            observed=str(retr),
        )


@case("pop3.rfc2449.8.1.2.in-use", defect=srv.IN_USE_NO_CODE)
def test_locked_maildrop_in_use_code(pop3: POP3Sessions) -> None:
    first = pop3.login()
    pop3.require(first, "RESP-CODES")
    second = pop3.ready()
    pop3.secure(second)
    resp = pop3.attempt_login(second)
    if resp.ok:
        unsupported("the server lets two sessions open one maildrop (no lock)")
    check(
        resp.code is not None and resp.code.split("/")[0] == "IN-USE",
        "a login refused because the maildrop is in use carries no [IN-USE] response code",
        expected="-ERR [IN-USE] ...",
        observed=str(resp),
    )


@case("pop3.rfc2449.3.resp-code", defect=srv.BAD_RESP_CODE)
def test_response_codes_well_formed(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    responses = [client.greeting, client.command("XMAILSPEC")]
    pop3.secure(client)
    user, _ = pop3.ctx.credentials()
    resp = client.user(user)
    responses.append(resp)
    if resp.ok:
        responses.append(client.pass_("mailspec-wrong-password"))
    bad = _devs(responses, "malformed response code")
    check(
        not bad,
        "a response code does not follow the resp-code grammar",
        expected='"[" resp-level *("/" resp-level) "]"',
        observed="; ".join(bad),
    )


@case("pop3.rfc1939.4.quit-authorization", defect=srv.QUIT_AUTH_ERR)
def test_quit_after_greeting(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    resp = client.quit()
    check(resp.ok, "QUIT in AUTHORIZATION state was not answered with +OK", expected="+OK", observed=str(resp))


@case("pop3.rfc1939.4.quit-authorization", defect=srv.QUIT_AUTH_ERR)
def test_quit_after_user(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    pop3.secure(client)
    user, _ = pop3.ctx.credentials()
    client.user(user)
    resp = client.quit()
    check(
        resp.ok, "QUIT after USER (AUTHORIZATION state) was not answered with +OK", expected="+OK", observed=str(resp)
    )

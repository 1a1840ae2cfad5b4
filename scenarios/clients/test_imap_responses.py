"""RFC 9051 2.2.2, 7.1, 7.2.2, 7.4.1, 7.5.1, 9: a client reads whatever the server may legally send."""

from conformance.agents import mailspec_imap as agent
from conformance.agents.harness import ClientCase, RefServer, RunResult
from conformance.agents.imap_jmap import all_commands, check_fetched, fetch, imap_message
from conformance.scenario import case
from conformance.servers.imap import client_habits as habit
from conformance.verdict import check

ANY = ("imap.rfc9051.2.2.2.client-accept-any-response", "imap.rfc3501.2.2.2.client-accept-any-response")
CODES = "imap.rfc9051.7.1.client-ignore-unknown-codes"
CAPS = "imap.rfc9051.7.2.2.client-ignore-unknown-capabilities"
REQUIRE = "imap.rfc9051.7.2.2.client-require-no-capabilities"
CASE = "imap.rfc9051.9.client-case-insensitive"
EXISTS = ("imap.rfc9051.7.4.1.client-remember-exists", "imap.rfc3501.7.3.1.client-record-exists")
EXPUNGE = ("imap.rfc9051.7.5.1.client-expunge-decrement", "imap.rfc3501.7.4.1.client-expunge-decrement")


def _retrieve(
    client: ClientCase, *habits: object, n: int = 3, tls: bool = False
) -> tuple[RefServer, RunResult, list[bytes]]:
    msgs = [imap_message(i) for i in range(1, n + 1)]
    srv = client.server("imap", behaviours=habits, tls=tls, messages=msgs)
    run = fetch(client, srv, tls="starttls" if tls else "plain")
    return srv, run, msgs


def _all_retrieved(run: RunResult, msgs: list[bytes]) -> None:
    check(run.ok, "the client failed", expected="exit status 0", observed=run.summary())
    check_fetched(run, msgs if run.operation != "imap.fetch-one" else msgs[:1])


@case(*ANY, defect=agent.STRICT_RESPONSES)
def test_unsolicited_untagged_ok(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.UNTAGGED_NOISE)
    _all_retrieved(run, msgs)


@case(*ANY, defect=agent.STRICT_RESPONSES)
def test_unsolicited_untagged_ok_over_tls(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.UNTAGGED_NOISE, tls=True)
    _all_retrieved(run, msgs)


@case(*ANY, defect=agent.STRICT_RESPONSES)
def test_untagged_no_warning(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.UNTAGGED_NO)
    _all_retrieved(run, msgs)


@case(*ANY, defect=agent.STRICT_RESPONSES)
def test_unsolicited_fetch_flags(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.UNSOLICITED_FLAGS)
    _all_retrieved(run, msgs)


@case(*ANY, defect=agent.STRICT_RESPONSES)
def test_new_mail_announced_during_fetch(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.NEW_MAIL)
    _all_retrieved(run, msgs)


@case(CODES, defect=agent.UNKNOWN_CODE_FAILS)
def test_unknown_response_codes(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.UNKNOWN_CODES)
    _all_retrieved(run, msgs)


@case(CODES, defect=agent.UNKNOWN_CODE_FAILS)
def test_unknown_response_codes_over_tls(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.UNKNOWN_CODES, tls=True)
    _all_retrieved(run, msgs)


@case(CAPS, defect=agent.UNKNOWN_CAPS_FAIL)
def test_unknown_capabilities(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.UNKNOWN_CAPS)
    _all_retrieved(run, msgs)


@case(CAPS, defect=agent.UNKNOWN_CAPS_FAIL)
def test_unknown_capabilities_over_tls(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.UNKNOWN_CAPS, tls=True)
    _all_retrieved(run, msgs)


@case(REQUIRE, defect=agent.REQUIRES_CAPS)
def test_minimal_capabilities(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.MINIMAL_CAPS)
    _all_retrieved(run, msgs)


@case(REQUIRE, defect=agent.REQUIRES_CAPS)
def test_minimal_capabilities_over_tls(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.MINIMAL_CAPS, tls=True)
    _all_retrieved(run, msgs)


@case(REQUIRE, defect=agent.REQUIRES_CAPS)
def test_minimal_capabilities_not_in_greeting(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.MINIMAL_CAPS, habit.NO_GREETING_CAPS)
    _all_retrieved(run, msgs)


@case(CASE, defect=agent.CASE_SENSITIVE)
def test_lower_case_responses(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.LOWERCASE)
    _all_retrieved(run, msgs)


@case(CASE, defect=agent.CASE_SENSITIVE)
def test_lower_case_responses_over_tls(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.LOWERCASE, tls=True)
    _all_retrieved(run, msgs)


@case(*EXISTS, defect=agent.FIRST_EXISTS_ONLY)
def test_second_exists_in_select(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.EXISTS_TWICE)
    _all_retrieved(run, msgs)


@case(*EXISTS, defect=agent.FIRST_EXISTS_ONLY)
def test_second_exists_in_select_one_message(client: ClientCase) -> None:
    _, run, msgs = _retrieve(client, habit.EXISTS_TWICE, n=1)
    _all_retrieved(run, msgs)


def _numbers(args: str) -> list[int]:
    first = args.split(" ", 1)[0]
    return [int(x) for x in first.replace(":", ",").split(",") if x.isdigit()]


def _expunged(client: ClientCase, op: str) -> None:
    msgs = [imap_message(i) for i in (1, 2, 3)]
    srv = client.server("imap", behaviours=(habit.EXPUNGE_IN_SELECT,), tls=False, messages=msgs)
    if op == "fetch" and not (client.supports("imap.fetch-all") or client.supports("imap.sync")):
        run = client.run("imap.fetch-one", srv, msgnum=2)
    elif op == "fetch":
        run = fetch(client, srv)
    else:
        run = client.run("imap.delete", srv)
    beyond = [f"{c.verb} {c.args}" for c in all_commands(srv) if c.verb in ("FETCH", "STORE", "COPY", "MOVE")
              and any(n > 2 for n in _numbers(c.args))]  # fmt: skip
    check(
        not beyond,
        "after '* 1 EXPUNGE' the client named a message number the mailbox no longer has",
        expected="message numbers 1 and 2 only (3 EXISTS, then 1 EXPUNGE)",
        observed="; ".join(beyond[:3]),
    )
    check(run.ok, "the client failed", observed=run.summary())
    check_fetched(run, msgs[1:2] if run.operation == "imap.fetch-one" else msgs[1:])


@case(*EXPUNGE, defect=agent.IGNORES_EXPUNGE)
def test_expunge_during_select(client: ClientCase) -> None:
    _expunged(client, "fetch")


@case(*EXPUNGE, defect=agent.IGNORES_EXPUNGE)
def test_expunge_during_select_then_delete(client: ClientCase) -> None:
    _expunged(client, "delete")

"""RFC 5321 4.2, 4.2.1: a client acts on reply codes (first digit), whatever the text, and on codes it does not know."""

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, check_delivered, message, send, smtp_units
from conformance.scenario import case
from conformance.servers import smtp as srv_b
from conformance.verdict import check

TEXT = "smtp.rfc5321.4.2.client-reply-code-only"
UNKNOWN = "smtp.rfc5321.4.2.client-unknown-codes"


def _delivered_with(client: ClientCase, *behaviours: object) -> None:
    srv = client.server("smtp", behaviours=behaviours)
    data, token = message()
    run = send(client, srv, data)
    check_delivered(srv, run, data, token)
    check(run.ok, "the message was accepted but the client reported a failure", observed=run.summary())


@case(TEXT, defect=agent.READS_REPLY_TEXT)
def test_misleading_reply_text(client: ClientCase) -> None:
    _delivered_with(client, srv_b.REPLY_TEXT_ODD)


@case(TEXT, defect=agent.READS_REPLY_TEXT)
def test_bare_reply_codes(client: ClientCase) -> None:
    _delivered_with(client, srv_b.BARE_CODES)


@case("smtp.rfc5321.4.2.1.client-multiline-no-text", defect=agent.READS_REPLY_TEXT)
def test_multiline_greeting_ending_in_bare_code(client: ClientCase) -> None:
    _delivered_with(client, srv_b.GREET_MULTILINE_BARE)


@case(UNKNOWN, defect=agent.EXACT_CODES)
def test_unlisted_2yz_codes_are_success(client: ClientCase) -> None:
    _delivered_with(client, srv_b.CODES_UNLISTED)


def _refused(client: ClientCase, behaviour: object, what: str) -> None:
    srv = client.server("smtp", behaviours=(behaviour,))
    data, _token = message()
    run = send(client, srv, data)
    check(
        any(u.kind == "data" for log in srv.connections for u in smtp_units(log)),
        "the client never sent the message",
        observed=run.summary(),
    )
    check(
        not run.ok,
        f"the client took {what} for success (exit status 0)",
        expected="a failure reported",
        observed=run.summary(),
    )


@case(UNKNOWN, defect=agent.UNKNOWN_CODES_OK)
def test_unlisted_4yz_code_is_a_failure(client: ClientCase) -> None:
    _refused(client, srv_b.FINAL_459, "the unlisted temporary code 459")


@case(UNKNOWN, defect=agent.UNKNOWN_CODES_OK)
def test_unlisted_5yz_code_is_a_failure(client: ClientCase) -> None:
    _refused(client, srv_b.FINAL_559, "the unlisted permanent code 559")


@case("smtp.rfc5321.4.2.client-out-of-range-fatal", defect=agent.UNKNOWN_CODES_OK)
def test_out_of_range_code_is_fatal(client: ClientCase) -> None:
    _refused(client, srv_b.FINAL_650, "the out-of-range code 650")

"""RFC 4954 4: the AUTH line within 512 octets, and a challenge that is not base64 cancelled with "*" (over STARTTLS)."""

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, check_delivered, client_commands, message, send
from conformance.agents.wirelog import line_units
from conformance.scenario import case
from conformance.servers import smtp as srv_b
from conformance.verdict import check, unsupported

LONG_PASSWORD = "long-Secret-" + "p" * 400


@case("smtp.rfc4954.4.client-initial-response-length", defect=agent.LONG_INITIAL_RESPONSE)
def test_no_initial_response_beyond_512_octets(client: ClientCase) -> None:
    srv = client.server("smtp", password=LONG_PASSWORD)
    data, token = message()
    run = send(client, srv, data, auth="yes", tls="starttls")
    auth = [u for u in client_commands(srv) if u.verb == "AUTH"]
    if not auth:
        unsupported(f"the client did not authenticate: {run.summary()}")
    long = [u for u in auth if len(u.data) > 512]
    check(
        not long,
        "the AUTH command with its initial response is longer than 512 octets",
        expected="AUTH PLAIN, then the response after the empty 334 challenge",
        observed=f"an AUTH line of {len(long[0].data)} octets" if long else "",
    )
    check_delivered(srv, run, data, token)


@case("smtp.rfc4954.4.client-cancel-bad-challenge", defect=agent.IGNORES_CHALLENGE)
def test_cancel_on_challenge_that_is_not_base64(client: ClientCase) -> None:
    srv = client.server("smtp", behaviours=(srv_b.AUTH_LOGIN_ONLY, srv_b.AUTH_CHALLENGE_TEXT))
    data, _ = message()
    run = send(client, srv, data, auth="yes", tls="starttls")
    for log in srv.connections:
        units = line_units(log)
        for i, u in enumerate(units):
            if not u.line.upper().startswith("AUTH LOGIN"):
                continue
            # The server answered with "334 Username:", which is not base64.
            answer = units[i + 1].line if i + 1 < len(units) else ""
            check(
                answer == "*",
                "the client answered an AUTH challenge it cannot base64-decode instead of cancelling with '*'",
                expected="*",
                observed=answer or "(nothing)",
            )
            return
    unsupported(f"the client did not use AUTH LOGIN: {run.summary()}")

"""RFC 2449 6.6, 7, 8: no extension required, pipelined responses matched in order, unknown response codes ignored."""

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, message, retrieved
from conformance.scenario import case
from conformance.servers import pop3 as srv_b
from conformance.verdict import check


@case("pop3.rfc2449.7.client-no-required-extension", defect=agent.REQUIRES_CAPA)
def test_server_without_capa(client: ClientCase) -> None:
    retrieved(client, [message()[0]], srv_b.CAPA_UNSUPPORTED)


@case("pop3.rfc2449.7.client-no-required-extension", defect=agent.REQUIRES_CAPA)
def test_server_without_uidl_and_top(client: ClientCase) -> None:
    retrieved(client, [message()[0]], srv_b.NO_UIDL_TOP)


@case("pop3.rfc2449.6.6.client-pipelining-match", defect=agent.PIPELINING_MISMATCH)
def test_pipelined_retrieval_matches_messages(client: ClientCase) -> None:
    msgs = [message(f"message number {i}\r\n".encode())[0] for i in range(1, 4)]
    _, run = retrieved(client, msgs)
    got = run.produced()
    for m in msgs if len(got) >= len(msgs) else []:
        n = sum(1 for g in got if g.replace(b"\r\n", b"\n").endswith(m.replace(b"\r\n", b"\n")))
        check(
            n == 1,
            "a message was retrieved more than once (responses paired with the wrong commands)",
            observed=f"{n} copies",
        )


@case("pop3.rfc2449.8.client-ignore-unknown-detail", defect=agent.RESPONSE_CODE_FAILS)
def test_unknown_response_codes(client: ClientCase) -> None:
    _, run = retrieved(client, [message()[0]], srv_b.RESP_CODES_ODD)
    check(run.ok, "the client reported a failure", observed=run.summary())

"""RFC 1939 3, 6, 7: byte-stuffed responses read back exactly, QUIT to make deletions happen, the APOP digest."""

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, RefServer, RunResult, fetch, line_units, message, retrieved
from conformance.scenario import case
from conformance.servers import pop3 as srv_b
from conformance.verdict import check, unsupported

UNSTUFF = "pop3.rfc1939.3.client-unstuffing"
END = "pop3.rfc1939.3.client-end-of-response"


def _norm(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


@case(UNSTUFF, defect=agent.NO_UNSTUFFING)
def test_leading_dot_unstuffed(client: ClientCase) -> None:
    retrieved(client, [message(b"first\r\n.a line with a leading period\r\nlast\r\n")[0]])


@case(UNSTUFF, defect=agent.NO_UNSTUFFING)
def test_lone_dot_line_unstuffed(client: ClientCase) -> None:
    retrieved(client, [message(b"before\r\n.\r\nafter the lone period\r\n")[0]])


@case(UNSTUFF, defect=agent.NO_UNSTUFFING)
def test_double_dots_unstuffed(client: ClientCase) -> None:
    retrieved(client, [message(b"..two periods\r\n...three periods\r\n")[0]])


@case(UNSTUFF, defect=agent.NO_UNSTUFFING)
def test_last_line_dot_unstuffed(client: ClientCase) -> None:
    retrieved(client, [message(b"text\r\n.the last line starts with a period\r\n")[0]])


@case(UNSTUFF, defect=agent.NO_UNSTUFFING)
def test_large_message_with_dots(client: ClientCase) -> None:
    body = b"".join(b".%06d a line of a large message with a leading period and filler\r\n" % i for i in range(12000))
    retrieved(client, [message(body)[0]])


@case(END, defect=agent.KEEPS_TERMINATOR)
def test_end_of_response_not_in_message(client: ClientCase) -> None:
    data = message(b"a short body\r\n")[0]
    _, run = retrieved(client, [data])
    for got in run.produced():
        check(not _norm(got).endswith(b"\n.\n"), "the final '.' line ended up in the message", observed=repr(got[-40:]))


@case(END, defect=agent.KEEPS_TERMINATOR)
def test_two_messages_end_where_they_should(client: ClientCase) -> None:
    msgs = [message(b"message one\r\n")[0], message(b"message two ends with a period line\r\n..\r\n")[0]]
    _, run = retrieved(client, msgs)
    for got in run.produced():
        check(not _norm(got).endswith(b"\n.\n"), "the final '.' line ended up in the message", observed=repr(got[-40:]))


def _quit(srv: RefServer, run: RunResult) -> None:
    check(srv.connections, "the client never connected", observed=run.summary())
    for log in srv.connections:
        verbs = [u.verb for u in line_units(log)]
        check("QUIT" in verbs, f"the client ended connection {log.number} without QUIT",
              expected="... QUIT", observed=" ".join(verbs[-6:]) or run.summary())  # fmt: skip


@case("pop3.rfc1939.6.client-quit-update", defect=agent.P_NO_QUIT)
def test_delete_takes_effect(client: ClientCase) -> None:
    if not client.supports("pop3.delete"):
        unsupported(f"{client.agent.name} has no fetch-and-delete operation")
    msgs = [message(b"delete me\r\n")[0], message(b"and me\r\n")[0]]
    srv, run = retrieved(client, msgs, delete=True)
    _quit(srv, run)
    left = srv.store.messages("alice")
    check(not left, "the messages the client deleted are still in the maildrop (no UPDATE state: no QUIT)",
          expected="an empty maildrop", observed=f"{len(left)} messages left")  # fmt: skip


@case("pop3.rfc1939.6.client-quit-update", defect=agent.P_NO_QUIT)
def test_quit_after_retrieval(client: ClientCase) -> None:
    srv, run = retrieved(client, [message()[0]])
    _quit(srv, run)


@case("pop3.rfc1939.7.client-apop-digest", defect=agent.APOP_NO_BRACKETS)
def test_apop_digest(client: ClientCase) -> None:
    srv = client.server("pop3", behaviours=(srv_b.CAPA_NO_SASL,), messages=[message()[0]])
    run = fetch(client, srv)
    for log in srv.connections:
        units = line_units(log)
        for _i, u in enumerate(units):
            if u.verb == "APOP":
                answers = log.server_bytes()
                check(b"-ERR [AUTH] permission denied" not in answers,
                      "the server refused the client's APOP digest (not MD5 of the timestamp with its brackets and the secret)",
                      observed=u.line.split(" ")[0] + " " + u.line.split(" ")[1] + " <digest>")  # fmt: skip
                check(run.produced(), "the client retrieved nothing", observed=run.summary())
                return
    unsupported(f"the client did not use APOP: {run.summary()}")

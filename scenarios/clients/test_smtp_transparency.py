"""RFC 5321 4.5.2, 2.3.8, 4.1.1.4: the message goes over the wire dot-stuffed, in CRLF lines, and ends right."""

import re

from conformance.agents import mailspec as agent
from conformance.agents.checks import ClientCase, check_delivered, message, send, smtp_units
from conformance.scenario import case
from conformance.verdict import check

STUFF = "smtp.rfc5321.4.5.2.client-dot-stuffing"


def _data_units(client: ClientCase) -> list[bytes]:
    srv = client.servers[-1]
    return [u.data for log in srv.connections for u in smtp_units(log) if u.kind == "data"]


def _stuffed(client: ClientCase, data: bytes, token: str) -> None:
    srv = client.server("smtp")
    run = send(client, srv, data)
    sent = _data_units(client)
    check(sent, "the client never transferred the message", observed=run.summary())
    body = data.split(b"\r\n")
    wire = sent[-1].split(b"\r\n")
    dotted = [ln for ln in body if ln.startswith(b".")]
    unstuffed = [ln for ln in wire if ln.startswith(b".") and not ln.startswith(b"..") and ln != b"."]
    check(
        not unstuffed,
        "a line of mail text that starts with a period went over the wire without the added period",
        expected=repr([b"." + ln for ln in dotted][:3]),
        observed=repr(unstuffed[:3]),
    )
    check_delivered(srv, run, data, token)


@case(STUFF, defect=agent.NO_DOT_STUFFING)
def test_leading_dot_line_is_stuffed(client: ClientCase) -> None:
    data, token = message(b"first line\r\n.a line with a leading period\r\nlast line\r\n")
    _stuffed(client, data, token)


@case(STUFF, defect=agent.NO_DOT_STUFFING)
def test_lone_dot_line_is_stuffed(client: ClientCase) -> None:
    data, token = message(b"before\r\n.\r\nafter the lone period\r\n")
    _stuffed(client, data, token)


@case(STUFF, defect=agent.NO_DOT_STUFFING)
def test_double_dot_line_is_stuffed(client: ClientCase) -> None:
    data, token = message(b"..two periods\r\n...three\r\n")
    _stuffed(client, data, token)


@case(STUFF, defect=agent.NO_DOT_STUFFING)
def test_last_line_dot_is_stuffed(client: ClientCase) -> None:
    data, token = message(b"text\r\n.last line starts with a period\r\n")
    _stuffed(client, data, token)


@case(STUFF, defect=agent.NO_DOT_STUFFING)
def test_large_message_with_dots(client: ClientCase) -> None:
    lines = b"".join(
        b".%06d line of a large message with a leading period, some filler text\r\n" % i for i in range(12000)
    )
    data, token = message(lines)
    _stuffed(client, data, token)


CRLF_ONLY = "smtp.rfc5321.2.3.8.client-crlf-only"


def _no_bare_line_ends(client: ClientCase, data: bytes) -> None:
    srv = client.server("smtp")
    run = send(client, srv, data)
    sent = _data_units(client)
    check(sent, "the client never transferred the message", observed=run.summary())
    wire = sent[-1]
    bare = [m.start() for m in re.finditer(rb"(?<!\r)\n|\r(?!\n)", wire)]
    check(
        not bare,
        "the message went over the wire with bare LF (or CR) line ends",
        expected="every line ended by CRLF",
        observed=f"{len(bare)} bare line ends, first near {wire[max(0, bare[0] - 20) : bare[0] + 5]!r}" if bare else "",
    )


@case(CRLF_ONLY, defect=agent.BARE_LF)
def test_lf_message_file_sent_as_crlf(client: ClientCase) -> None:
    data, _ = message(b"line one\r\nline two\r\n")
    _no_bare_line_ends(client, data.replace(b"\r\n", b"\n"))


@case(CRLF_ONLY, defect=agent.BARE_LF)
def test_mixed_line_ends_sent_as_crlf(client: ClientCase) -> None:
    data, _ = message(b"crlf line\r\nlf line\nanother crlf line\r\n")
    _no_bare_line_ends(client, data.replace(b"lf line\r\n", b"lf line\n"))


@case("smtp.rfc5321.4.1.1.4.client-end-of-data", defect=agent.NO_FINAL_CRLF)
def test_message_without_final_line_end(client: ClientCase) -> None:
    data, token = message(b"the last line has no line end")
    data = data.rstrip(b"\r\n")
    srv = client.server("smtp")
    run = send(client, srv, data)
    sent = _data_units(client)
    check(
        sent and sent[-1].endswith(b"the last line has no line end\r\n.\r\n"),
        "the message data were not ended by <CRLF>.<CRLF> after the last line",
        expected="...the last line has no line end<CRLF>.<CRLF>",
        observed=repr(sent[-1][-60:]) if sent else f"no complete message transfer; {run.summary()}",
    )
    check_delivered(srv, run, data + b"\r\n", token)

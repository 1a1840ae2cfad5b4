"""The sans-IO POP3 codec: status lines, response codes, multi-line responses, commands, fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.wire import pop3 as wire
from conformance.wire.errors import LocalProtocolError, ProtocolError, RemoteProtocolError


def parse_all(data: bytes, multiline: list[bool], chunk: int | None = None) -> list[wire.Response]:
    p = wire.ResponseParser()
    out: list[wire.Response] = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    wants = iter(multiline)
    want = next(wants, False)
    for piece in pieces:
        p.feed(piece)
        while (r := p.next_response(multiline=want)) is not None:
            out.append(r)
            want = next(wants, False)
    return out


def test_status_lines() -> None:
    ok, err = parse_all(b"+OK POP3 ready <1.2@x>\r\n-ERR no such message\r\n", [False, False])
    assert ok.ok and ok.text == "POP3 ready <1.2@x>" and not ok.deviations
    assert err.err and err.text == "no such message"
    assert ok.lines is None


def test_bare_status_without_text() -> None:
    (r,) = parse_all(b"+OK\r\n", [False])
    assert r.ok and r.text == "" and not r.deviations


def test_response_codes() -> None:
    (r,) = parse_all(b"-ERR [IN-USE] Do you have another POP session running?\r\n", [False])
    assert r.code == "IN-USE"
    (r,) = parse_all(b"-ERR [SYS/TEMP] try later\r\n", [False])
    assert r.code == "SYS/TEMP" and not r.deviations
    (r,) = parse_all(b"-ERR [AUTH/] bad\r\n", [False])
    assert any("malformed response code" in d.what and d.section == "3" for d in r.deviations)
    assert wire.resp_code_valid("LOGIN-DELAY") and not wire.resp_code_valid("A//B")


def test_multiline_removes_stuffing_and_stops_at_dot() -> None:
    data = b"+OK 3 octets\r\nSubject: x\r\n\r\n..leading dot\r\n.\r\n+OK\r\n"
    retr, noop = parse_all(data, [True, False])
    assert retr.lines == (b"Subject: x", b"", b".leading dot")
    assert retr.body == b"Subject: x\r\n\r\n.leading dot\r\n"
    assert noop.ok and noop.lines is None


def test_multiline_err_is_one_line() -> None:
    err, ok = parse_all(b"-ERR no such message\r\n+OK\r\n", [True, False])
    assert err.err and err.lines is None and ok.ok


def test_empty_multiline() -> None:
    (r,) = parse_all(b"+OK 0 messages\r\n.\r\n", [True])
    assert r.lines == () and r.body == b""


def test_split_reads_give_the_same_responses() -> None:
    data = b"+OK\r\n1 120\r\n2 200\r\n.\r\n-ERR nope\r\n+ \r\n"
    assert parse_all(data, [True, False, False]) == parse_all(data, [True, False, False], chunk=1)


def test_continuation() -> None:
    (r,) = parse_all(b"+ \r\n", [False])
    assert r.continuation and r.text == ""
    (r,) = parse_all(b"+ dGVzdA==\r\n", [False])
    assert r.continuation and r.text == "dGVzdA=="


@pytest.mark.parametrize(
    ("data", "what", "section"),
    [
        (b"+OK hi\n", "bare LF", "3"),
        (b"+ok hi\r\n", "upper case", "3"),
        (b"-err hi\r\n", "upper case", "3"),
        (b"+OKhi\r\n", "not followed by SP", "3"),
        (b"+OK " + b"x" * 600 + b"\r\n", "limit 512", "4"),
    ],
)
def test_deviations_are_reported_with_position_and_section(data: bytes, what: str, section: str) -> None:
    (_, r) = parse_all(b"+OK ready\r\n" + data, [False, False])
    matching = [d for d in r.deviations if what in d.what]
    assert matching, r.deviations
    assert matching[0].section == section
    assert matching[0].offset == len(b"+OK ready\r\n")


def test_bare_lf_inside_multiline_is_reported() -> None:
    (r,) = parse_all(b"+OK\r\n1 100\n.\r\n", [True])
    assert any("bare LF" in d.what for d in r.deviations)


def test_missing_status_is_a_remote_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError) as e:
        parse_all(b"HTTP/1.1 400 Bad Request\r\n", [False])
    assert e.value.deviation.section == "3"
    assert "RFC 1939" in str(e.value)


def test_endless_line_hits_the_hard_limit() -> None:
    p = wire.ResponseParser()
    with pytest.raises(RemoteProtocolError):
        for _ in range(100):
            p.feed(b"+" * 1024)
            p.next_response()


def test_encode_command() -> None:
    assert wire.encode_command("USER", "alice") == b"USER alice\r\n"
    assert wire.encode_command("TOP", "1", "10") == b"TOP 1 10\r\n"
    assert wire.encode_command("STAT") == b"STAT\r\n"
    with pytest.raises(LocalProtocolError):
        wire.encode_command("USER", "x" * 300)
    assert len(wire.encode_command("USER", "x" * 300, check_length=False)) == 307
    with pytest.raises(LocalProtocolError):
        wire.encode_command("USER", "a\r\nDELE 1")


def test_byte_stuff_round_trip() -> None:
    message = b"Subject: x\r\n\r\n.dot\r\n..two\r\nend"
    stuffed = wire.byte_stuff(message)
    assert stuffed.endswith(b"end\r\n.\r\n") and b"\r\n..dot\r\n...two\r\n" in stuffed
    (r,) = parse_all(b"+OK\r\n" + stuffed, [True])
    assert r.body == wire.normalize_crlf(message)
    assert wire.byte_stuff(b"") == b".\r\n"


def test_normalize_crlf_counts_lf_as_two_octets() -> None:
    assert wire.normalize_crlf(b"a\nb\r\n") == b"a\r\nb\r\n"


def test_format_response() -> None:
    assert wire.format_response(True) == b"+OK\r\n"
    assert wire.format_response(False, "locked", "IN-USE") == b"-ERR [IN-USE] locked\r\n"


def test_command_parser() -> None:
    p = wire.CommandParser()
    p.feed(b"top 1 10\r\nPASS two words\r\nNOOP\n")
    top = p.next_command()
    assert top is not None and top.verb == "TOP" and top.args == ("1", "10")
    pw = p.next_command()
    assert pw is not None and pw.argument == "two words"
    noop = p.next_command()
    assert noop is not None and any("bare LF" in d.what for d in noop.deviations)
    assert p.next_command() is None
    p.feed(b"USER " + b"x" * 300 + b"\r\nCAPA\r\n")
    long = p.next_command()
    assert long is not None and any("limit 255" in d.what for d in long.deviations)
    assert p.take_pending() == b"CAPA\r\n"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.lists(st.booleans(), max_size=20))
def test_fuzz_response_parser_only_raises_protocol_errors(data: bytes, multiline: list[bool]) -> None:
    with contextlib.suppress(ProtocolError):
        parse_all(data, multiline)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_command_parser_only_raises_protocol_errors(data: bytes) -> None:
    p = wire.CommandParser()
    with contextlib.suppress(ProtocolError):
        p.feed(data)
        while p.next_command() is not None:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80).filter(lambda b: b"\r" not in b and b"\n" not in b), max_size=20))
def test_fuzz_byte_stuffing_round_trips(lines: list[bytes]) -> None:
    message = b"".join(ln + b"\r\n" for ln in lines)
    (r,) = parse_all(b"+OK\r\n" + wire.byte_stuff(message), [True])
    assert r.body == message
